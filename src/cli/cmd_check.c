/* cmd_check.c - `hptune check JOB.yaml`: validate a job file and print the plan.
 *
 * Nothing is trained and no MPI is used: this is what to run on a login node
 * before submitting.  Exit status 0: the job is valid (warnings may be
 * printed); 1: it is not (one message on stderr); 2: bad command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "curves.h"
#include "dataset.h"
#include "error.h"
#include "functions.h"
#include "job.h"
#include "space.h"
#include "strategy.h"

#define PREVIEW_TRIALS 5

static void check_usage(FILE *f)
{
    fprintf(f,
            "usage: hptune check JOB.yaml\n\n"
            "Validates the job file (every key, with file:line:column messages), checks the\n"
            "shard numbers against the data file if it exists, and prints the plan: strategy,\n"
            "metric, number of trials, asha rungs, worst-case epochs and the first %d trial\n"
            "configurations.  Exit status 0 if the job is valid, 1 if not.\n",
            PREVIEW_TRIALS);
}

static const char *keep_name(hp_keep_policy keep)
{
    switch (keep) {
    case HP_KEEP_LAST: return "last";
    case HP_KEEP_LAST_AND_BEST: return "last_and_best";
    case HP_KEEP_ALL: return "all";
    }
    return "?";
}

/* "0-8" or "0, 2, 5-7": runs of consecutive shards collapsed. */
static void print_shards(const int *shards, int n)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && shards[j + 1] == shards[j] + 1)
            j++;
        printf("%s%d", i ? "," : "", shards[i]);
        if (j > i)
            printf("-%d", shards[j]);
        i = j + 1;
    }
}

/* Like hp_config_format_value, but floats in the fewest digits that give the
 * same float back (0.1 rather than 0.100000001). */
static void format_value(const hp_key *k, double value, char *buf, size_t size)
{
    if (k->type != HP_KEY_FLOAT) {
        hp_config_format_value(k, value, buf, size);
        return;
    }
    float target = (float)value;
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)target);
        if (strtof(buf, NULL) == target)
            return;
    }
}

static void print_param(const hp_param *p)
{
    static const char *const dist[] = {"choice", "grid", "uniform", "loguniform", "randint"};
    char buf[64];
    printf("             %-16s %s ", p->key->name, dist[p->dist]);
    if (p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID) {
        printf("[");
        for (int i = 0; i < p->n_values; i++) {
            format_value(p->key, p->values[i], buf, sizeof buf);
            printf("%s%s", i ? ", " : "", buf);
        }
        printf("]\n");
        return;
    }
    printf("[%.9g, %.9g]", p->low, p->high);
    if (p->step > 0)
        printf(" step %.9g", p->step);
    printf("\n");
}

/* The space's values of one trial as "key=value key=value". */
static void print_trial(const hp_job *job, int trial, const hp_config *c)
{
    char buf[64];
    printf("    trial %d:", trial);
    if (job->n_params == 0)
        printf(" (no space parameters; the fixed configuration with seed %d)", c->seed);
    for (int i = 0; i < job->n_params; i++) {
        const hp_key *k = job->params[i].key;
        format_value(k, hp_config_get(c, k), buf, sizeof buf);
        printf(" %s=%s", k->name, buf);
    }
    printf("\n");
}

/* Largest epochs a grid/random trial can get (fixed.epochs or the space's `epochs`). */
static int max_trial_epochs(const hp_job *job)
{
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        if (strcmp(p->key->name, "epochs") != 0)
            continue;
        if (p->dist != HP_DIST_CHOICE && p->dist != HP_DIST_GRID)
            return (int)p->high;
        double most = 0;
        for (int v = 0; v < p->n_values; v++)
            if (p->values[v] > most)
                most = p->values[v];
        return (int)most;
    }
    return job->fixed.epochs;
}

/* The table must hold every trial's configuration up to its last epoch;
 * finding a gap now beats a failed trial hours into the study. */
static int check_curves(const hp_job *job)
{
    hp_curves *curves = NULL;
    if (hp_curves_load(&curves, job->curves_path, job->params, job->n_params, job->metric, job->path) != 0)
        return -1;
    hp_strategy_params params;
    hp_strategy_params_from_job(&params, job);
    hp_strategy *s = hp_strategy_create(&params);
    if (!s) {
        hp_curves_free(curves);
        return -1;
    }
    /* model-based strategies may pick any point of the space: check them all */
    int any_point = hp_strategy_proposes_any_point(s);
    long n_configs = any_point ? hp_space_grid_size(job) : job->max_trials;
    int status = 0;
    for (long t = 0; t < n_configs && status == 0; t++) {
        hp_config c;
        hp_job_trial_config(job, (int)(any_point ? 0 : t), &c); /* fixed values and the epoch budget */
        if (any_point)
            hp_space_grid_point(job, t, &c);
        int last_epoch = hp_strategy_trial_max_epochs(s, &c);
        double value;
        if (hp_curves_lookup(curves, &c, last_epoch, job->metric, &value) != 0) {
            hp_error_prefix(any_point ? "configuration %ld of the space" : "trial %ld", t);
            status = -1;
        }
    }
    hp_strategy_free(s);
    hp_curves_free(curves);
    return status;
}

typedef struct data_info {
    int found;          /* the data file exists here */
    int n_shards, n_train, n_test;
    char why_missing[128];
} data_info;

/* Everything that can fail, before anything is printed: the data file (only
 * if it exists here; it may live on the compute nodes only), the curves
 * table, and the strategy's own parameter check. */
static int validate_resources(const hp_job *job, const hp_strategy_params *params, data_info *data)
{
    struct stat st;
    memset(data, 0, sizeof *data);
    if (!job->data_path) {
        snprintf(data->why_missing, sizeof data->why_missing, "no data section");
    } else if (stat(job->data_path, &st) != 0) {
        snprintf(data->why_missing, sizeof data->why_missing, "%s", strerror(errno));
    } else {
        data->found = 1;
        if (hp_dataset_info(job->data_path, &data->n_shards, &data->n_train, &data->n_test) != 0 ||
            hp_job_check_shards(job, data->n_shards) != 0)
            return -1;
    }
    if (job->objective == HP_OBJECTIVE_CURVES && check_curves(job) != 0)
        return -1;
    hp_strategy *s = hp_strategy_create(params);
    if (!s)
        return -1;
    hp_strategy_free(s);
    return 0;
}

static void print_plan(const hp_job *job, const hp_strategy_params *params, const data_info *data)
{
    printf("%s: valid\n", job->path);
    printf("  study      %s (seed %llu)\n", job->name, (unsigned long long)job->seed);
    printf("  metric     %s (%s)\n", hp_metric_name(job->metric), job->maximize ? "max" : "min");
    if (!job->data_path)
        printf("  data       none (the objective needs no data)\n");
    else if (data->found)
        printf("  data       %s: %d shards, %d training and %d test images\n", job->data_path,
               data->n_shards, data->n_train, data->n_test);
    else
        printf("  data       %s: not found here (%s), shard numbers not checked; create it with "
               "'hptune prepare' or run check where the data is\n", job->data_path, data->why_missing);
    if (job->data_path) {
        printf("  shards     train ");
        print_shards(job->train_shards, job->n_train_shards);
        printf(", validation ");
        print_shards(job->val_shards, job->n_val_shards);
        printf("; test evaluation %s\n", job->test_eval ? "on" : "off");
    }
    if (job->objective == HP_OBJECTIVE_CURVES) {
        printf("  objective  replay curves from %s (%d ms per epoch)\n", job->curves_path, job->sleep_ms);
    } else if (job->objective == HP_OBJECTIVE_FUNCTION) {
        const hp_function *f = hp_function_find(job->function);
        printf("  objective  the test function %s of x1..x%d (minimum %.6g%s), reported as val_loss "
               "(%d ms per epoch)\n", f->name, f->n_dims, f->minimum,
               f->fidelity ? "; fidelity epoch/budget" : "", job->sleep_ms);
    } else {
        printf("  objective  train the CNN of each configuration\n");
    }
    hp_strategy *s = hp_strategy_create(params); /* validated before */
    hp_strategy_describe(s, stdout);
    printf("  space      %d parameter%s\n", job->n_params, job->n_params == 1 ? "" : "s");
    for (int i = 0; i < job->n_params; i++)
        print_param(&job->params[i]);
    if (job->out_dir)
        printf("  output     %s", job->out_dir);
    else
        printf("  output     runs/%s", job->name);
    printf(" (keep %s, checkpoint every %d epoch%s)\n", keep_name(job->keep), job->checkpoint_every,
           job->checkpoint_every == 1 ? "" : "s");
    printf("  worst case %ld training epochs in total\n", hp_strategy_worst_case_epochs(params));

    /* the strategy's own first decisions on an empty study */
    int preview = job->max_trials < PREVIEW_TRIALS ? job->max_trials : PREVIEW_TRIALS;
    printf("  first %d trial%s:\n", preview, preview == 1 ? "" : "s");
    for (int t = 0; t < preview; t++) {
        hp_assignment a;
        if (hp_strategy_next(s, &a) != HP_NEXT_START)
            break;
        const hp_config *c = hp_strategy_trial_config(s, a.trial);
        print_trial(job, a.trial, c);
        if (hp_config_validate(c) != 0)
            printf("    warning: trial %d cannot be built and will fail: %s\n", a.trial, hp_error_message());
    }
    hp_strategy_free(s);
}

int cmd_check(int argc, char **argv)
{
    const char *job_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            check_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "hptune: error: check: unknown option '%s'; see 'hptune check --help'\n", argv[i]);
            return 2;
        }
        if (job_path) {
            fprintf(stderr, "hptune: error: check: give one job file, got '%s' and '%s'\n", job_path, argv[i]);
            return 2;
        }
        job_path = argv[i];
    }
    if (!job_path) {
        check_usage(stderr);
        return 2;
    }
    hp_job job;
    if (hp_job_load(&job, job_path) != 0) {
        hp_error_print();
        return 1;
    }
    hp_strategy_params params;
    hp_strategy_params_from_job(&params, &job);
    params.epochs = max_trial_epochs(&job); /* one-rung strategies: worst case when epochs is searched */
    data_info data;
    int status = 0;
    if (validate_resources(&job, &params, &data) != 0) {
        hp_error_print();
        status = 1;
    } else {
        print_plan(&job, &params, &data);
    }
    hp_job_release(&job);
    return status;
}
