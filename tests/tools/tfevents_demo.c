/* tfevents_demo.c - write a small TensorBoard logdir the way `hptune export
 * --format tensorboard` lays one out, and print what it wrote as JSON.
 *
 *     tfevents_demo LOGDIR > expected.json
 *
 * LOGDIR/                 events file with the HParams experiment summary
 *                         (hyperparameters of each type and domain kind, the
 *                         metric tags)
 * LOGDIR/trial_0000N/     one run per trial: session start info (its
 *                         hyperparameter values), per epoch (step = epoch,
 *                         1-based) the scalars train_loss, train_accuracy,
 *                         val_loss, val_accuracy, val_f1, images_per_second,
 *                         lr, flushed after each epoch as a live
 *                         export would, then session end info: trial 0
 *                         succeeds, trial 1 fails (its loss diverges to NaN),
 *                         trial 2 is still running.
 * The JSON (stdout) lists the same data; non-finite numbers appear as the
 * strings "nan", "inf", "-inf".  Everything is deterministic (fixed times).
 * tests/integration/test_tfevents.sh compares it with an independent reader.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tfevents.h"

#define T0 1700000000.0 /* the study's start, unix seconds */
#define N_TRIALS 3
#define N_TAGS 7

/* Scalar tags: hptune's own metric names (job files, `hptune status`, the
 * metric row of job.h), plus the throughput.  The learning-rate schedule is
 * "lr" (the metric row's name), so that it does not share the name of the
 * learning_rate hyperparameter in the HParams table, and it is not declared
 * as an HParams metric (it is a setting, not a result): the experiment's
 * metrics are the first N_METRICS tags. */
#define N_METRICS 6
static const char *const tags[N_TAGS] = {"train_loss", "train_accuracy", "val_loss",
                                         "val_accuracy", "val_f1", "images_per_second", "lr"};

typedef struct trial {
    double learning_rate, filters, dropout;
    const char *optimizer;
    int augment;
    int epochs;
    hp_tb_status status;
} trial;

static const trial trials[N_TRIALS] = {
    {0.01, 32, 0.25, "adam", 1, 4, HP_TB_SUCCESS},
    {0.1, 64, 0.0, "sgd", 0, 2, HP_TB_FAILURE},
    {0.0003, 16, 0.5, "adam", 1, 3, HP_TB_RUNNING},
};

static const char *status_name(hp_tb_status s)
{
    switch (s) {
    case HP_TB_SUCCESS: return "STATUS_SUCCESS";
    case HP_TB_FAILURE: return "STATUS_FAILURE";
    case HP_TB_RUNNING: return "STATUS_RUNNING";
    case HP_TB_UNKNOWN: break;
    }
    return "STATUS_UNKNOWN";
}

/* Metric `k` of trial t after `epoch` epochs: made-up learning curves. */
static double metric(int t, int k, int epoch)
{
    const trial *tr = &trials[t];
    double decay = exp(-0.35 * epoch * (1 + t));
    if (tr->status == HP_TB_FAILURE && epoch == 2 && (k == 0 || k == 2))
        return NAN; /* the diverged loss */
    switch (k) {
    case 0: return 0.3 + 2.0 * decay;
    case 1: return 0.95 - 0.85 * decay;
    case 2: return 0.45 + 1.9 * decay + 0.01 * t;
    case 3: return 0.9 - 0.8 * decay - 0.02 * t;
    case 4: return 0.88 - 0.79 * decay;
    case 5: return 1523.25 + 17.5 * epoch - 100.0 * t;
    default: return tr->learning_rate * pow(0.5, epoch - 1);
    }
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json_number(double x)
{
    if (isnan(x))
        printf("\"nan\"");
    else if (isinf(x))
        printf(x > 0 ? "\"inf\"" : "\"-inf\"");
    else
        printf("%.17g", x);
}

static int fail(const char *what)
{
    fprintf(stderr, "tfevents_demo: %s: %s\n", what, hp_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tfevents_demo LOGDIR\n");
        return 2;
    }
    const char *logdir = argv[1];

    /* The experiment: every type, both domain kinds, a bound of 0 (a proto3
     * default that the encoding leaves out). */
    static const double filters[] = {16, 32, 64};
    static const char *const optimizers[] = {"sgd", "adam"};
    const hp_tb_hparam hparams[] = {
        {.name = "learning_rate", .type = HP_TB_FLOAT, .is_interval = 1, .min = 1e-4, .max = 0.1},
        {.name = "filters", .type = HP_TB_FLOAT, .n_values = 3, .values = filters},
        {.name = "dropout", .type = HP_TB_FLOAT, .is_interval = 1, .min = 0.0, .max = 0.5},
        {.name = "optimizer", .type = HP_TB_STRING, .n_values = 2, .strings = optimizers},
        {.name = "augment", .type = HP_TB_BOOL},
    };
    const int n_hparams = (int)(sizeof hparams / sizeof hparams[0]);
    const char *description = "hptune demo study (tests/tools/tfevents_demo.c)";

    hp_tfevents *w = NULL;
    if (hp_tfevents_open(&w, logdir, T0) != 0 ||
        hp_tfevents_experiment(w, T0, hparams, n_hparams, tags, N_METRICS, description) != 0 ||
        hp_tfevents_close(w) != 0)
        return fail("experiment");

    printf("{\"experiment\": {\"description\": ");
    print_json_string(description);
    printf(", \"time_created\": %.17g, \"metrics\": [", T0);
    for (int k = 0; k < N_METRICS; k++) {
        printf(k ? ", " : "");
        print_json_string(tags[k]);
    }
    printf("], \"hparams\": [");
    for (int i = 0; i < n_hparams; i++) {
        const hp_tb_hparam *h = &hparams[i];
        printf("%s{\"name\": ", i ? ", " : "");
        print_json_string(h->name);
        printf(", \"type\": \"%s\"", h->type == HP_TB_FLOAT    ? "DATA_TYPE_FLOAT64"
                                     : h->type == HP_TB_STRING ? "DATA_TYPE_STRING"
                                                               : "DATA_TYPE_BOOL");
        if (h->is_interval) {
            printf(", \"interval\": [%.17g, %.17g]", h->min, h->max);
        } else {
            printf(", \"discrete\": [");
            if (h->type == HP_TB_BOOL)
                printf("false, true");
            for (int k = 0; k < h->n_values; k++) {
                printf(k ? ", " : "");
                if (h->type == HP_TB_FLOAT)
                    print_json_number(h->values[k]);
                else
                    print_json_string(h->strings[k]);
            }
            printf("]");
        }
        printf("}");
    }
    printf("]},\n \"sessions\": {");

    for (int t = 0; t < N_TRIALS; t++) {
        const trial *tr = &trials[t];
        char run[32];
        snprintf(run, sizeof run, "trial_%05d", t);
        char *dir = hp_xasprintf("%s/%s", logdir, run);
        double start = T0 + 100.0 * t + 0.125;
        const char *names[] = {"learning_rate", "filters", "dropout", "optimizer", "augment"};
        const hp_tb_value values[] = {
            {.type = HP_TB_FLOAT, .number = tr->learning_rate},
            {.type = HP_TB_FLOAT, .number = tr->filters},
            {.type = HP_TB_FLOAT, .number = tr->dropout},
            {.type = HP_TB_STRING, .string = tr->optimizer},
            {.type = HP_TB_BOOL, .boolean = tr->augment},
        };
        if (hp_tfevents_open(&w, dir, start) != 0 ||
            hp_tfevents_session_start(w, start, names, values, 5, run, start) != 0)
            return fail(run);
        printf("%s\n  \"%s\": {\"group_name\": \"%s\", \"start_time\": %.17g, \"hparams\": "
               "{\"learning_rate\": %.17g, \"filters\": %.17g, \"dropout\": %.17g, "
               "\"optimizer\": \"%s\", \"augment\": %s},\n   \"scalars\": {",
               t ? "," : "", run, run, start, tr->learning_rate, tr->filters, tr->dropout,
               tr->optimizer, tr->augment ? "true" : "false");
        double now = start;
        for (int epoch = 1; epoch <= tr->epochs; epoch++) {
            now = start + 30.0 * epoch;
            for (int k = 0; k < N_TAGS; k++)
                if (hp_tfevents_scalar(w, now, epoch, tags[k], metric(t, k, epoch)) != 0)
                    return fail(run);
            if (hp_tfevents_flush(w) != 0)
                return fail(run);
        }
        for (int k = 0; k < N_TAGS; k++) {
            printf("%s\"%s\": [", k ? ", " : "", tags[k]);
            for (int epoch = 1; epoch <= tr->epochs; epoch++) {
                printf("%s[%d, ", epoch > 1 ? ", " : "", epoch);
                print_json_number(metric(t, k, epoch));
                printf("]");
            }
            printf("]");
        }
        double end = now + 1.5;
        if (hp_tfevents_session_end(w, end, tr->status, end) != 0 || hp_tfevents_close(w) != 0)
            return fail(run);
        printf("},\n   \"status\": \"%s\", \"end_time\": %.17g}", status_name(tr->status), end);
        free(dir);
    }
    printf("}}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}
