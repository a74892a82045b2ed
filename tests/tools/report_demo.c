/* report_demo.c - write an `hptune report` page from synthetic study data.
 *
 *   report_demo --out FILE [--kind grid|random|asha] [--trials N] [--epochs E]
 *               [--failures K] [--running K] [--pending K] [--nasty] [--empty]
 *               [--no-params] [--no-confusion] [--heatmap a,b] [--val-loss] [--seed S]
 *
 * Kinds:
 *   grid    2 parameters, learning_rate (log: 1e-4 .. 1e-1) x optimizer
 *           (sgd, adam, rmsprop) = 12 points, repeated to N trials; all
 *           trials run E epochs.
 *   random  6 parameters: learning_rate (log), optimizer (categorical),
 *           momentum (linear, active only with sgd: NaN otherwise),
 *           batch_size (categorical, no effect), dropout (linear),
 *           weight_decay (log, small effect); all trials run E epochs.
 *   asha    the random space, successive halving with eta 3 and rungs at
 *           E/27, E/9, E/3, E epochs (1, 3, 9, 27 for E = 27): a trial
 *           reaches rung k when its latent quality ranks in the top N/3^k;
 *           the others are "stopped" at their rung.
 * The final validation accuracy of a trial is a smooth function of its
 * parameters (peak at learning_rate 10^-2.5) plus noise; curves approach it
 * exponentially, with training accuracy pulling away (overfitting) when
 * dropout is low.  --failures K makes K trials fail (some before the first
 * epoch, some diverging mid-way with NaN losses); --nasty puts HTML and
 * control characters into every string; --val-loss makes val_loss (lower is
 * better) the study metric instead of val_accuracy.  One line on stdout reports what was
 * written: trials, trials with epochs, parameters, bytes and render seconds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "report.h"
#include "rng.h"

enum { KIND_GRID, KIND_RANDOM, KIND_ASHA };
enum { P_LR, P_OPT, P_MOM, P_BATCH, P_DROPOUT, P_WD, N_RANDOM_PARAMS };

static const char *const optimizers[] = {"sgd", "adam", "rmsprop"};
static const char *const batch_sizes[] = {"32", "64", "128", "256"};
static const char *const plain_classes[HP_REPORT_CLASSES] = {"airplane", "automobile", "bird", "cat", "deer",
                                                            "dog", "frog", "horse", "ship", "truck"};
static const char *const nasty_classes[HP_REPORT_CLASSES] = {"<b>airplane</b>", "auto&mobile", "\"bird\"", "cat's",
                                                            "deer<", "dog>", "frog\x01", "horse", "ship", "truck"};

typedef struct options {
    const char *out, *heatmap;
    int kind, trials, epochs, failures, running, pending, nasty, empty, no_params, no_confusion, val_loss;
    unsigned long long seed;
} options;

static void usage(void)
{
    fprintf(stderr, "usage: report_demo --out FILE [--kind grid|random|asha] [--trials N] [--epochs E] "
                    "[--failures K] [--running K] [--pending K] [--nasty] [--empty] [--no-params] "
                    "[--no-confusion] [--heatmap a,b] [--val-loss] [--seed S]\n");
    exit(2);
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->kind = KIND_RANDOM;
    o->trials = -1;
    o->epochs = -1;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--nasty") == 0)
            o->nasty = 1;
        else if (strcmp(a, "--empty") == 0)
            o->empty = 1;
        else if (strcmp(a, "--no-params") == 0)
            o->no_params = 1;
        else if (strcmp(a, "--no-confusion") == 0)
            o->no_confusion = 1;
        else if (strcmp(a, "--val-loss") == 0)
            o->val_loss = 1;
        else if (!v)
            usage();
        else if (strcmp(a, "--out") == 0)
            o->out = argv[++i];
        else if (strcmp(a, "--heatmap") == 0)
            o->heatmap = argv[++i];
        else if (strcmp(a, "--kind") == 0) {
            i++;
            if (strcmp(v, "grid") == 0)
                o->kind = KIND_GRID;
            else if (strcmp(v, "random") == 0)
                o->kind = KIND_RANDOM;
            else if (strcmp(v, "asha") == 0)
                o->kind = KIND_ASHA;
            else
                usage();
        } else if (strcmp(a, "--trials") == 0)
            o->trials = atoi(argv[++i]);
        else if (strcmp(a, "--epochs") == 0)
            o->epochs = atoi(argv[++i]);
        else if (strcmp(a, "--failures") == 0)
            o->failures = atoi(argv[++i]);
        else if (strcmp(a, "--running") == 0)
            o->running = atoi(argv[++i]);
        else if (strcmp(a, "--pending") == 0)
            o->pending = atoi(argv[++i]);
        else if (strcmp(a, "--seed") == 0)
            o->seed = strtoull(argv[++i], NULL, 10);
        else
            usage();
    }
    if (!o->out)
        usage();
    if (o->trials < 0)
        o->trials = o->kind == KIND_GRID ? 12 : o->kind == KIND_ASHA ? 81 : 40;
    if (o->epochs <= 0)
        o->epochs = o->kind == KIND_ASHA ? 27 : 20;
    if (o->empty)
        o->trials = 0;
    if (o->failures + o->running + o->pending > o->trials) {
        fprintf(stderr, "report_demo: --failures + --running + --pending exceed --trials\n");
        return -1;
    }
    return 0;
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Validation accuracy of a trial at its last epoch. */
static double last_accuracy(const hp_report_trial *t)
{
    return t->n_epochs > 0 ? t->metrics[(size_t)(t->n_epochs - 1) * HP_REPORT_METRIC_COLS + HP_REPORT_COL_VAL_ACCURACY]
                           : NAN;
}

/* Final validation accuracy of a configuration (before noise). */
static double quality(const double *prm, int n_params)
{
    double lr_term = log10(prm[P_LR]) + 2.5;
    double q = 0.80 - 0.085 * lr_term * lr_term;
    if (n_params > 2) {
        if ((int)prm[P_OPT] == 0)
            q -= 0.06 * (1 - prm[P_MOM]); /* sgd wants momentum */
        q -= 0.10 * (prm[P_DROPOUT] - 0.3) * (prm[P_DROPOUT] - 0.3);
        q -= 0.004 * (log10(prm[P_WD]) + 4) * (log10(prm[P_WD]) + 4);
    } else {
        q -= (int)prm[P_OPT] == 0 ? 0.04 : 0; /* grid: plain sgd a bit worse */
    }
    return clamp(q, 0.12, 0.86);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    hp_rng rng;
    hp_rng_seed_for(&rng, o.seed, 0, HP_STREAM_TEST);
    const int n = o.trials, E = o.epochs;

    /* ------------------------------------------------------ parameters */
    const char *nasty_param = "lr<&>\"'";
    hp_report_param params[N_RANDOM_PARAMS];
    memset(params, 0, sizeof params);
    params[P_LR] = (hp_report_param){o.nasty ? nasty_param : "learning_rate", HP_REPORT_LOG, 0, NULL, 1e-4,
                                     o.kind == KIND_GRID ? 1e-1 : 1.0};
    params[P_OPT] = (hp_report_param){"optimizer", HP_REPORT_CATEGORICAL, 3, optimizers, 0, 0};
    params[P_MOM] = (hp_report_param){"momentum", HP_REPORT_LINEAR, 0, NULL, 0.0, 0.99};
    params[P_BATCH] = (hp_report_param){"batch_size", HP_REPORT_CATEGORICAL, 4, batch_sizes, 0, 0};
    params[P_DROPOUT] = (hp_report_param){"dropout", HP_REPORT_LINEAR, 0, NULL, 0.0, 0.6};
    params[P_WD] = (hp_report_param){"weight_decay", HP_REPORT_LOG, 0, NULL, 1e-6, 1e-2};
    int n_params = o.no_params ? 0 : o.kind == KIND_GRID ? 2 : N_RANDOM_PARAMS;

    /* ------------------------------------------------------ trials */
    hp_report_trial *trials = hp_xcalloc((size_t)n + 1, sizeof *trials);
    double *all_params = hp_xcalloc((size_t)n * N_RANDOM_PARAMS + 1, sizeof *all_params);
    double *all_metrics = hp_xcalloc((size_t)n * (size_t)E * HP_REPORT_METRIC_COLS + 1, sizeof *all_metrics);
    double *q = hp_xcalloc((size_t)n + 1, sizeof *q);
    char **failures = hp_xcalloc((size_t)n + 1, sizeof *failures);
    static const double grid_lr[4] = {1e-4, 1e-3, 1e-2, 1e-1};
    for (int i = 0; i < n; i++) {
        double *prm = &all_params[(size_t)i * N_RANDOM_PARAMS];
        if (o.kind == KIND_GRID) {
            int point = i % 12;
            prm[P_LR] = grid_lr[point / 3];
            prm[P_OPT] = point % 3;
        } else {
            prm[P_LR] = pow(10, -4 + 4 * hp_rng_uniform(&rng));
            prm[P_OPT] = (double)hp_rng_below(&rng, 3);
            prm[P_MOM] = prm[P_OPT] == 0 ? 0.99 * hp_rng_uniform(&rng) : NAN;
            prm[P_BATCH] = (double)hp_rng_below(&rng, 4);
            prm[P_DROPOUT] = 0.6 * hp_rng_uniform(&rng);
            prm[P_WD] = pow(10, -6 + 4 * hp_rng_uniform(&rng));
        }
        q[i] = quality(prm, o.kind == KIND_GRID ? 2 : N_RANDOM_PARAMS) + 0.012 * hp_rng_normal(&rng);
    }
    /* ASHA: rung epochs and how far each trial got (rank of its quality) */
    int rungs[4], n_rungs = 0;
    int *level = hp_xcalloc((size_t)n + 1, sizeof *level);
    if (o.kind == KIND_ASHA) {
        for (int k = 0; k < 4; k++) {
            int e = (int)lround(E / pow(3, 3 - k));
            rungs[n_rungs++] = e < 1 ? 1 : e;
        }
        for (int i = 0; i < n; i++) {
            int rank = 0;
            for (int j = 0; j < n; j++)
                rank += q[j] > q[i] || (q[j] == q[i] && j < i);
            int lv = 0;
            while (lv < 3 && rank < n / pow(3, lv + 1))
                lv++;
            level[i] = lv;
        }
    }
    int with_epochs = 0;
    for (int i = 0; i < n; i++) {
        hp_report_trial *t = &trials[i];
        double *prm = &all_params[(size_t)i * N_RANDOM_PARAMS];
        double *m = &all_metrics[(size_t)i * (size_t)E * HP_REPORT_METRIC_COLS];
        t->id = i;
        t->params = prm;
        t->metrics = m;
        t->bracket = o.kind == KIND_ASHA ? 0 : -1;
        t->rung = o.kind == KIND_ASHA ? level[i] : -1;
        t->status = "completed";
        t->n_epochs = o.kind == KIND_ASHA ? rungs[level[i]] : E;
        if (o.kind == KIND_ASHA && level[i] < 3)
            t->status = "stopped";
        /* the last trials: pending, running; failures spread over the rest */
        int diverged_at = 0;
        if (i >= n - o.pending) {
            t->status = "pending";
            t->n_epochs = 0;
        } else if (i >= n - o.pending - o.running) {
            t->status = "running";
            t->n_epochs = 1 + i % (t->n_epochs > 1 ? t->n_epochs - 1 : 1);
        } else if (o.failures > 0 && (i * 7 + 3) % n < o.failures) {
            t->status = "failed";
            if (i % 2 == 0) {
                t->n_epochs = 0;
                failures[i] = hp_xasprintf(o.nasty ? "worker 3: cannot allocate <buffer> & \"retry\" 'later'\x01"
                                                   : "worker 3: out of memory while building the network");
            } else {
                diverged_at = t->n_epochs > 2 ? 2 + i % (t->n_epochs - 1) : 1;
                t->n_epochs = diverged_at;
                failures[i] = hp_xasprintf(o.nasty ? "diverged: loss = nan at epoch %d <script>alert(\"x\")</script> & 'co'"
                                                   : "diverged: training loss is nan at epoch %d",
                                           diverged_at);
            }
            t->failure = failures[i];
        }
        double acc_max = q[i], overfit = n_params > 2 ? 0.25 * (0.6 - prm[P_DROPOUT]) : 0.08;
        double tau = 2.0 + 3.0 * hp_rng_uniform(&rng);
        for (int e = 1; e <= t->n_epochs; e++) {
            double *row = &m[(size_t)(e - 1) * HP_REPORT_METRIC_COLS];
            double progress = 1 - exp(-e / tau);
            double val_acc = 0.1 + (acc_max - 0.1) * progress + 0.004 * hp_rng_normal(&rng);
            double train_acc = clamp(val_acc + overfit * e / (double)E + 0.004 * hp_rng_normal(&rng), 0, 1);
            double val_loss = 2.30 - (2.30 - (1.9 - 1.6 * acc_max)) * progress + 0.5 * overfit * e * e / ((double)E * E);
            double train_loss = 2.30 - (2.30 - (1.9 - 1.6 * acc_max)) * progress - 0.8 * overfit * e / (double)E;
            row[HP_REPORT_COL_TRAIN_LOSS] = train_loss + 0.01 * hp_rng_normal(&rng);
            row[HP_REPORT_COL_TRAIN_ACCURACY] = train_acc;
            row[HP_REPORT_COL_VAL_LOSS] = val_loss + 0.01 * hp_rng_normal(&rng);
            row[HP_REPORT_COL_VAL_ACCURACY] = clamp(val_acc, 0, 1);
            row[HP_REPORT_COL_VAL_PRECISION] = clamp(val_acc + 0.01, 0, 1);
            row[HP_REPORT_COL_VAL_RECALL] = clamp(val_acc - 0.005, 0, 1);
            row[HP_REPORT_COL_VAL_F1] = clamp(val_acc - 0.01, 0, 1);
            row[HP_REPORT_COL_LR] = prm[P_LR];
            row[HP_REPORT_COL_SECONDS] = 30 + 5 * hp_rng_uniform(&rng);
            if (diverged_at && e == diverged_at) {
                row[HP_REPORT_COL_TRAIN_LOSS] = NAN;
                row[HP_REPORT_COL_VAL_LOSS] = NAN;
                row[HP_REPORT_COL_VAL_ACCURACY] = 0.1;
            }
        }
        int column = o.val_loss ? HP_REPORT_COL_VAL_LOSS : HP_REPORT_COL_VAL_ACCURACY;
        t->value = t->n_epochs > 0 && strcmp(t->status, "failed") != 0
                       ? m[(size_t)(t->n_epochs - 1) * HP_REPORT_METRIC_COLS + (size_t)column]
                       : NAN;
        with_epochs += t->n_epochs > 0;
    }
    int best = -1;
    long total_epochs = 0;
    for (int i = 0; i < n; i++) {
        total_epochs += trials[i].n_epochs;
        if (isfinite(trials[i].value) &&
            (best < 0 || (o.val_loss ? trials[i].value < trials[best].value : trials[i].value > trials[best].value)))
            best = i;
    }
    int valued = 0;
    for (int i = 0; i < n; i++)
        valued += isfinite(trials[i].value) != 0;

    /* ------------------------------------------------------ confusion */
    long long confusion[HP_REPORT_CLASSES * HP_REPORT_CLASSES];
    double acc = best >= 0 ? last_accuracy(&trials[best]) : 0.5;
    for (int i = 0; i < HP_REPORT_CLASSES; i++) {
        int correct = (int)lround(1000 * clamp(acc + 0.08 * (i % 3 - 1), 0, 1));
        for (int j = 0; j < HP_REPORT_CLASSES; j++)
            confusion[i * HP_REPORT_CLASSES + j] = 0;
        confusion[i * HP_REPORT_CLASSES + i] = correct;
        int rest = 1000 - correct;
        /* cat<->dog and automobile<->truck confusions, the rest spread */
        int partner = i == 3 ? 5 : i == 5 ? 3 : i == 1 ? 9 : i == 9 ? 1 : (i + 2) % HP_REPORT_CLASSES;
        confusion[i * HP_REPORT_CLASSES + partner] += rest / 2;
        rest -= rest / 2;
        for (int j = 0; rest > 0; j = (j + 1) % HP_REPORT_CLASSES)
            if (j != i) {
                confusion[i * HP_REPORT_CLASSES + j]++;
                rest--;
            }
    }

    /* ------------------------------------------------------ report */
    char strategy[256], heat_a[128] = "", heat_b[128] = "";
    if (o.kind == KIND_ASHA)
        snprintf(strategy, sizeof strategy, "asha: %d trials, rungs at %d, %d, %d, %d epochs, eta 3%s", n, rungs[0],
                 rungs[1], rungs[2], rungs[3], o.nasty ? " <i>&amp;</i>" : "");
    else if (o.kind == KIND_GRID)
        snprintf(strategy, sizeof strategy, "grid: 12 points x %d repeats, %d epochs each", (n + 11) / 12, E);
    else
        snprintf(strategy, sizeof strategy, "random: %d trials, %d epochs each", n, E);
    if (o.heatmap) {
        const char *comma = strchr(o.heatmap, ',');
        if (!comma) {
            fprintf(stderr, "report_demo: --heatmap wants a,b\n");
            return 2;
        }
        snprintf(heat_a, sizeof heat_a, "%.*s", (int)(comma - o.heatmap), o.heatmap);
        snprintf(heat_b, sizeof heat_b, "%s", comma + 1);
    }
    hp_report r;
    memset(&r, 0, sizeof r);
    r.study_name = o.nasty ? "<img src=x onerror=alert(1)> \"Tom's\" & co" : (o.kind == KIND_ASHA ? "cifar10-asha"
                                                                            : o.kind == KIND_GRID ? "cifar10-grid"
                                                                                                  : "cifar10-random");
    r.strategy_text = strategy;
    r.state = o.running || o.pending ? "running" : "finished";
    r.metric = o.val_loss ? "val_loss" : "val_accuracy";
    r.metric_column = o.val_loss ? HP_REPORT_COL_VAL_LOSS : HP_REPORT_COL_VAL_ACCURACY;
    r.maximize = !o.val_loss;
    r.elapsed_seconds = total_epochs * 32.0 / 4;
    r.core_hours = total_epochs * 32.0 * 2 / 3600;
    r.total_epochs = total_epochs;
    r.n_workers = 4;
    r.n_params = n_params;
    r.params = params;
    r.n_trials = n;
    r.trials = trials;
    r.best = best;
    r.n_rungs = n_rungs;
    r.rung_epochs = rungs;
    r.has_test = best >= 0;
    r.test_accuracy = best >= 0 ? last_accuracy(&trials[best]) - 0.012 : NAN;
    r.test_loss = 0.92;
    r.test_f1 = r.test_accuracy - 0.004;
    r.test_images = 10000;
    r.best_confusion = best >= 0 && !o.no_confusion ? confusion : NULL;
    r.class_names = o.nasty ? nasty_classes : plain_classes;
    r.heatmap_a = o.heatmap ? heat_a : NULL;
    r.heatmap_b = o.heatmap ? heat_b : NULL;
    r.generated_at = "2024-05-01 12:00 UTC";
    r.version = o.nasty ? "0.9 <dev>" : "0.9";

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = hp_report_write_html(&r, o.out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct stat st;
    long bytes = rc == 0 && stat(o.out, &st) == 0 ? (long)st.st_size : -1;
    if (rc != 0)
        hp_error_print();
    else
        printf("report_demo: wrote %s: trials=%d with_epochs=%d valued=%d params=%d best_id=%d bytes=%ld "
               "render_seconds=%.3f\n",
               o.out, n, with_epochs, valued, n_params, best >= 0 ? trials[best].id : -1, bytes,
               (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    for (int i = 0; i < n; i++)
        free(failures[i]);
    free(failures);
    free(trials);
    free(all_params);
    free(all_metrics);
    free(q);
    free(level);
    return rc == 0 ? 0 : 1;
}
