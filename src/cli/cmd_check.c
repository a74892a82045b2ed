/* cmd_check.c - `hptune check JOB.yaml`: validate a job file and print the plan.
 *
 * Nothing is trained and no MPI is used: this is what to run on a login node
 * before submitting.  Besides the job file itself it builds the network of
 * every configuration the study can train -- every grid point, or a stated
 * sample of sampled strategies -- as shapes only (hp_net_plan_shapes), and
 * reports those that cannot be built, with parameters, FLOPs per image and
 * a worker's memory, and an epoch time where a measured rate is known.
 * Exit status 0: the job is valid (warnings may be printed); 1: it is not
 * (one message on stderr); 2: bad command line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_options.h"
#include "config.h"
#include "curves.h"
#include "dataset.h"
#include "error.h"
#include "functions.h"
#include "job.h"
#include "net.h"
#include "space.h"
#include "strategy.h"
#include "study.h"

#define PREVIEW_TRIALS 5
#define DEFAULT_SAMPLE 200
#define TABLE_ROWS 20

static const char check_help[] =
    "usage: hptune check JOB.yaml [--sample N] [--gflops RATE] [--list N]\n"
    "\n"
    "Validates the job file (every key, with file:line:column messages), checks the\n"
    "shards against the data file if it exists (they exist and hold images), and\n"
    "prints the plan: strategy, metric, number of trials, asha rungs, worst-case\n"
    "epochs, the first 5 trials' configurations.  Then it builds the network of\n"
    "every configuration the study can train as shapes only -- every grid point, or\n"
    "for random/asha the first N trials' configurations, for tpe/bohb N drawn at\n"
    "random from the space -- and lists those that cannot be built, with each\n"
    "configuration's parameters, forward FLOPs per image and a worker's memory.\n"
    "\n"
    "options:\n"
    "  --sample N      configurations to build for sampled strategies (default 200)\n"
    "  --gflops RATE   training throughput of one worker in GFLOP/s (e.g. from\n"
    "                  'hptune bench'), for an estimated epoch time per configuration;\n"
    "                  without it, a rate measured from the epochs already recorded in\n"
    "                  the job's output folder is used when there are any\n"
    "  --list N        configurations listed in the table (default 20, 0: all)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status 0 if the job is valid, 1 if not, 2 for a usage error.\n";

typedef struct check_options {
    long sample, list;
    double gflops;     /* 0: none given */
} check_options;

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

/* " when optimizer in [sgd, rmsprop] and ... (else <default>)" of a conditional parameter. */
static void print_conditions(const hp_job *job, const hp_param *p)
{
    char buf[64];
    for (int c = 0; c < p->n_conditions; c++) {
        const hp_condition *cond = &p->conditions[c];
        const hp_param *parent = &job->params[cond->parent];
        printf("%s %s %s ", c ? " and" : " when", parent->key->name, cond->n_values == 1 ? "=" : "in");
        if (cond->n_values > 1)
            printf("[");
        for (int i = 0; i < cond->n_values; i++) {
            format_value(parent->key, cond->values[i], buf, sizeof buf);
            printf("%s%s", i ? ", " : "", buf);
        }
        if (cond->n_values > 1)
            printf("]");
    }
    if (p->n_conditions) {
        format_value(p->key, hp_config_get(&job->fixed, p->key), buf, sizeof buf);
        printf(" (else %s)", buf);
    }
}

static void print_param(const hp_job *job, const hp_param *p)
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
        printf("]");
    } else {
        printf("[%.9g, %.9g]", p->low, p->high);
        if (p->step > 0)
            printf(" step %.9g", p->step);
    }
    print_conditions(job, p);
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
        if (hp_job_param_active(job, i, c))
            format_value(k, hp_config_get(c, k), buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-"); /* inactive: when: does not hold */
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
    long train_images, val_images; /* in the job's shards */
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
        int sizes[HP_MAX_SHARDS * 4], n = 0;
        if (hp_dataset_info(job->data_path, &data->n_shards, &data->n_train, &data->n_test) != 0 ||
            hp_job_check_data(job) != 0 ||
            hp_dataset_shard_sizes(job->data_path, sizes, HP_MAX_SHARDS * 4, &n) != 0)
            return -1;
        for (int i = 0; i < job->n_train_shards; i++)
            data->train_images += sizes[job->train_shards[i]];
        for (int i = 0; i < job->n_val_shards; i++)
            data->val_images += sizes[job->val_shards[i]];
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
    const hp_job_stopping *st = &job->stopping;
    if (st->early)
        printf("  stopping   early stopping (Keras EarlyStopping): a trial is completed when %s has not improved "
               "by more than %g for %d epoch%s\n", hp_metric_name(job->metric), st->min_delta, st->patience,
               st->patience == 1 ? "" : "s");
    if (st->median)
        printf("  stopping   median rule (Optuna 3.1 MedianPruner): once %d trial%s completed, a trial is stopped "
               "when its best %s is worse than the median of the completed trials at the same epoch; every %d "
               "epoch%s after the first %d, with at least %d completed trial%s at that epoch\n",
               st->n_startup_trials > 1 ? st->n_startup_trials : 1, st->n_startup_trials > 1 ? "s have" : " has",
               hp_metric_name(job->metric), st->interval_epochs, st->interval_epochs == 1 ? "" : "s",
               st->n_warmup_epochs, st->n_min_trials, st->n_min_trials == 1 ? "" : "s");
    if (job->max_time > 0 || job->max_epochs_total > 0) {
        printf("  budget    ");
        if (job->max_epochs_total > 0)
            printf(" %ld epochs in total", job->max_epochs_total);
        if (job->max_time > 0)
            printf("%s %.0f s of wall clock (over all runs; not deterministic)", job->max_epochs_total > 0 ? "," : "",
                   job->max_time);
        printf("; then the study ends as \"budget reached\" (resume with a larger budget)\n");
    }
    printf("  space      %d parameter%s\n", job->n_params, job->n_params == 1 ? "" : "s");
    for (int i = 0; i < job->n_params; i++)
        print_param(job, &job->params[i]);
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

/* ------------------------------------------------------ shapes only --- */

/* Worker memory besides the network: its data shards (images and labels),
 * the epoch's order and one batch of floats. */
static double data_bytes(const data_info *data, int batch)
{
    return (double)(data->train_images + data->val_images) * (HP_IMAGE_BYTES + 1) +
           4.0 * (double)data->train_images + 4.0 * batch * HP_IMAGE_BYTES;
}

/* Training and validating one epoch in floating-point operations: forward
 * and backward (about 3 forwards) on the training shards, a forward on the
 * validation shard. */
static double epoch_flops(const hp_net_plan *p, const data_info *data)
{
    return p->forward_flops * (3.0 * (double)data->train_images + (double)data->val_images);
}

/* A throughput measured on this study's recorded epochs (the job's output
 * folder, if a study is there): FLOPs trained per second of epoch wall time. */
static double measured_rate(const hp_job *job, const data_info *data, char *source, size_t size)
{
    if (!data->found || !data->train_images)
        return 0;
    char *dir = job->out_dir ? hp_xstrdup(job->out_dir) : hp_xasprintf("runs/%s", job->name);
    char *journal = hp_xasprintf("%s/study.journal", dir);
    double flops = 0, seconds = 0;
    long epochs = 0;
    hp_study s;
    if (access(journal, F_OK) == 0 && hp_study_open(&s, dir, 1, 1) == 0) {
        for (int t = 0; t < s.n_trials; t++) {
            hp_net_plan plan;
            if (hp_net_plan_shapes(&plan, &s.trials[t].config, s.trials[t].config.batch_size) != 0)
                continue;
            for (int e = 0; e < s.trials[t].n_epochs; e++) {
                double sec = s.trials[t].epochs[e].values[HP_COL_SECONDS];
                if (isfinite(sec) && sec > 0) {
                    flops += epoch_flops(&plan, data);
                    seconds += sec;
                    epochs++;
                }
            }
        }
        hp_study_close(&s);
    }
    hp_error_clear();
    if (epochs)
        snprintf(source, size, "measured on the %ld epochs recorded in %s", epochs, dir);
    free(dir);
    free(journal);
    return epochs ? flops / seconds : 0;
}

static void format_duration(double seconds, char *buf, size_t size)
{
    if (seconds < 100)
        snprintf(buf, size, "%.1f s", seconds);
    else if (seconds < 6000)
        snprintf(buf, size, "%.1f min", seconds / 60);
    else
        snprintf(buf, size, "%.1f h", seconds / 3600);
}

/* Configuration t of the shapes pass, its network plan; 1 if it builds. */
static int shape_of(const hp_job *sampler, long t, hp_config *config, hp_net_plan *plan)
{
    hp_job_trial_config(sampler, (int)t, config);
    return hp_net_plan_shapes(plan, config, config->batch_size) == 0;
}

/* Build every configuration the study can train (or a sample) as shapes.
 * Returns 0, or -1 if none can be built (every trial would fail). */
static int print_shapes(const hp_job *job, const data_info *data, const check_options *o)
{
    if (job->objective != HP_OBJECTIVE_TRAIN) {
        printf("  shapes     none: the objective trains no network\n");
        return 0;
    }
    hp_job sampler = *job; /* tpe/bohb: draws of random search over the same space */
    const char *what;
    long n;
    char described[256];
    if (job->strategy == HP_STRATEGY_GRID) {
        n = hp_space_grid_size(job);
        what = "grid point";
        snprintf(described, sizeof described, "%ld grid point%s (all)", n, n == 1 ? "" : "s");
    } else if (job->strategy == HP_STRATEGY_RANDOM || job->strategy == HP_STRATEGY_ASHA) {
        n = job->max_trials < o->sample ? job->max_trials : o->sample;
        what = "trial";
        snprintf(described, sizeof described, "the configurations of trials 0-%ld (%s %d trials)", n - 1,
                 n == job->max_trials ? "all" : "a sample of the", job->max_trials);
    } else {
        sampler.strategy = HP_STRATEGY_RANDOM;
        n = o->sample;
        what = "draw";
        snprintf(described, sizeof described, "%ld configurations drawn at random from the space (%s proposes "
                 "within it)", n, hp_strategy_name(job->strategy));
    }
    /* three passes over the configurations (statistics, failures, table), so
       that a grid of a million points needs no memory per point */
    long bad = 0;
    double min_params = INFINITY, max_params = 0, min_flops = INFINITY, max_flops = 0, max_bytes = 0;
    double max_net_bytes = 0, min_epoch = INFINITY, max_epoch = 0;
    char source[512] = "";
    double rate = o->gflops > 0 ? o->gflops * 1e9 : measured_rate(job, data, source, sizeof source);
    if (o->gflops > 0)
        snprintf(source, sizeof source, "given with --gflops");
    for (long t = 0; t < n; t++) {
        hp_config config;
        hp_net_plan plan;
        if (!shape_of(&sampler, t, &config, &plan)) {
            bad++;
            continue;
        }
        double p = (double)plan.n_params, fl = plan.forward_flops;
        double bytes = (double)plan.bytes + (data->found ? data_bytes(data, config.batch_size) : 0);
        min_params = p < min_params ? p : min_params;
        max_params = p > max_params ? p : max_params;
        min_flops = fl < min_flops ? fl : min_flops;
        max_flops = fl > max_flops ? fl : max_flops;
        max_bytes = bytes > max_bytes ? bytes : max_bytes;
        max_net_bytes = (double)plan.bytes > max_net_bytes ? (double)plan.bytes : max_net_bytes;
        if (rate > 0 && data->found) {
            double sec = epoch_flops(&plan, data) / rate;
            min_epoch = sec < min_epoch ? sec : min_epoch;
            max_epoch = sec > max_epoch ? sec : max_epoch;
        }
    }
    printf("  shapes     built %s as shapes only: ", described);
    if (!bad)
        printf("every one can be built\n");
    else
        printf("%ld cannot be built%s\n", bad, bad == n ? " (none can: every trial would fail)" : "");
    long shown = 0, limit = o->list > 0 ? o->list : n;
    for (long t = 0; t < n && shown < limit && bad; t++) {
        hp_config config;
        hp_net_plan plan;
        if (shape_of(&sampler, t, &config, &plan))
            continue;
        char text[512];
        hp_study_format_space(&(hp_study){.job = *job}, &config, text, sizeof text);
        printf("    %s %ld (%s): %s\n", what, t, text[0] ? text : "fixed", hp_error_message());
        shown++;
    }
    if (bad > shown)
        printf("    ... %ld more that cannot be built (--list 0 lists all)\n", bad - shown);
    if (bad < n) {
        printf("  networks   %.0f to %.0f parameters; %.3g to %.3g MFLOP per image forward (training about "
               "3x)\n", min_params, max_params, min_flops / 1e6, max_flops / 1e6);
        if (data->found)
            printf("  memory     a worker needs up to %.0f MB: its network (up to %.0f MB at its batch size) and "
                   "its shards (%ld + %ld images, %.0f MB), plus the program itself (about 30 MB)\n",
                   max_bytes / 1e6, max_net_bytes / 1e6, data->train_images, data->val_images,
                   data_bytes(data, 0) / 1e6);
        else
            printf("  memory     a worker's network needs up to %.0f MB at its batch size, plus its shards "
                   "(3 kB per image) and the program (about 30 MB)\n", max_net_bytes / 1e6);
        if (rate > 0 && data->found) {
            char lo[32], hi[32];
            format_duration(min_epoch, lo, sizeof lo);
            format_duration(max_epoch, hi, sizeof hi);
            printf("  epoch time %s to %s per epoch and worker (an estimate: %.1f GFLOP/s, %s)\n", lo, hi,
                   rate / 1e9, source);
        } else {
            printf("  epoch time unknown: no measured rate (give --gflops from 'hptune bench'%s)\n",
                   data->found ? "" : ", and the data file");
        }
        printf("    %-12s %10s %10s %9s %9s  configuration\n", what, "parameters", "MFLOP/img", "memory", "epoch");
        shown = 0;
        for (long t = 0; t < n && shown < limit; t++) {
            hp_config config;
            hp_net_plan plan;
            if (!shape_of(&sampler, t, &config, &plan))
                continue;
            char text[512], epoch[32] = "-", memory[32];
            hp_study_format_space(&(hp_study){.job = *job}, &config, text, sizeof text);
            double bytes = (double)plan.bytes + (data->found ? data_bytes(data, config.batch_size) : 0);
            snprintf(memory, sizeof memory, "%.0f MB", bytes / 1e6);
            if (rate > 0 && data->found)
                format_duration(epoch_flops(&plan, data) / rate, epoch, sizeof epoch);
            printf("    %-12ld %10zu %10.3g %9s %9s  %s\n", t, plan.n_params, plan.forward_flops / 1e6, memory, epoch,
                   text[0] ? text : "(fixed)");
            shown++;
        }
        if (n - bad > shown)
            printf("    ... %ld more (--list 0 lists all)\n", n - bad - shown);
    }
    hp_error_clear();
    return bad == n && n > 0 ? -1 : 0;
}

int cmd_check(int argc, char **argv)
{
    static const struct option options[] = {
        {"sample", required_argument, NULL, 's'}, {"gflops", required_argument, NULL, 'g'},
        {"list", required_argument, NULL, 'l'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    check_options o = {.sample = DEFAULT_SAMPLE, .list = TABLE_ROWS};
    int c;
    hp_getopt_begin();
    while ((c = hp_getopt(argc, argv, options, check_help)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            hp_print_help(stdout, check_help);
            return 0;
        case 's':
            if (hp_parse_int_option(optarg, 1, 1000000, &o.sample) != 0)
                return hp_usage_error("check", check_help, "--sample '%s': give a whole number from 1 to 1000000",
                                      optarg);
            break;
        case 'l':
            if (hp_parse_int_option(optarg, 0, 100000000, &o.list) != 0)
                return hp_usage_error("check", check_help, "--list '%s': give a whole number >= 0", optarg);
            break;
        case 'g':
            o.gflops = strtod(optarg, &end);
            if (*end || end == optarg || !(o.gflops > 0 && o.gflops < 1e7))
                return hp_usage_error("check", check_help, "--gflops '%s': give a rate in GFLOP/s, e.g. 88", optarg);
            break;
        default:
            return HP_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return hp_usage_error("check", check_help, "give the job file to check");
    if (optind + 1 < argc)
        return hp_usage_error("check", check_help, "give one job file, got '%s' and '%s'", argv[optind],
                              argv[optind + 1]);
    const char *job_path = argv[optind];
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
        if (print_shapes(&job, &data, &o) != 0) {
            hp_errorf("%s: no configuration of the study can be built; every trial would fail", job_path);
            hp_error_print();
            status = 1;
        }
    }
    hp_job_release(&job);
    return status;
}
