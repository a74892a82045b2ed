/* job.h - a study described by a YAML job file (see jobs/ for examples), parsed with libyaml.
 *
 *   study:     {name: cifar10-asha, seed: 7, metric: val_accuracy, mode: max}
 *   data:      {path: datasets/cifar10.h5, train_shards: [0,1,2,3,4,5,6,7,8], val_shards: [9],
 *               test_eval: true}
 *   strategy:  {name: asha, max_trials: 81, min_epochs: 1, max_epochs: 27,
 *               reduction_factor: 3, brackets: 1}      # grid: {name: grid, repeats: 1}
 *                                                      # random: {name: random, max_trials: 30, repeats: 1}
 *                                                      # tpe: {name: tpe, max_trials: 50, n_startup_trials: 10, ...}
 *                                                      # bohb: asha's keys + top_n_percent, ...
 *   objective: {type: train}                           # or {type: curves, file: x.csv, sleep_ms: 0}
 *                                                      # or {type: function, name: branin}
 *   space:     {key: {choice: [..]} | {grid: [..]} | {uniform: [lo, hi]} |
 *               {loguniform: [lo, hi]} | {randint: [lo, hi]}   (inclusive),
 *               optional step: q (quantized: lo + k*q),
 *               optional when: {parent: value | [values], ...} (conditional)}
 *   fixed:     {key: value, ...}                       # any hyperparameter of config.h
 *   output:    {dir: runs/<name>, keep: last_and_best, checkpoint_every: 1,
 *               report_every: 0, tensorboard: false}
 *
 * Every error names the file and line:column and says what to do, e.g.
 *   jobs/x.yaml:12:18: space.filters: choice list is empty; give at least one value
 * The parser makes no MPI calls; rank 0 parses and broadcasts the text.
 */
#ifndef HPTUNE_JOB_H
#define HPTUNE_JOB_H

#include <stdint.h>

#include "config.h"
#include "metric_row.h"
#include "param.h"

#define HP_MAX_SHARDS 256

typedef enum {
    HP_STRATEGY_GRID = 0,
    HP_STRATEGY_RANDOM,
    HP_STRATEGY_ASHA,
    HP_STRATEGY_TPE,
    HP_STRATEGY_BOHB
} hp_strategy_kind;
typedef enum { HP_OBJECTIVE_TRAIN = 0, HP_OBJECTIVE_CURVES, HP_OBJECTIVE_FUNCTION } hp_objective_kind;
typedef enum { HP_KEEP_LAST = 0, HP_KEEP_LAST_AND_BEST, HP_KEEP_ALL } hp_keep_policy;


/* TPE's settings (Optuna 3.1's TPESampler; tpe.h). */
typedef struct hp_job_tpe {
    int n_startup_trials;   /* 10 */
    int n_ei_candidates;    /* 24 */
    double prior_weight;    /* 1.0 */
    int consider_magic_clip, consider_endpoints, multivariate, constant_liar; /* 1, 0, 0, 1 */
} hp_job_tpe;

/* BOHB's settings (HpBandSter's config generator; bohb.h). */
typedef struct hp_job_bohb {
    double top_n_percent;   /* 15 */
    int num_samples;        /* 64 */
    double random_fraction; /* 1/3 */
    double bandwidth_factor;/* 3 */
    double min_bandwidth;   /* 1e-3 */
    int min_points_in_model;/* 0: number of space parameters + 1 */
} hp_job_bohb;

/* Ending trials before their last epoch (stopping.h; README: Stopping and budgets). */
typedef struct hp_job_stopping {
    int early;              /* strategy.early_stopping given (grid, random, tpe) */
    int patience;           /* early_stopping.patience (required) */
    double min_delta;       /* early_stopping.min_delta (0) */
    int median;             /* strategy.stopping: median (grid, random) */
    int n_startup_trials;   /* 5: completed trials before any decision */
    int n_warmup_epochs;    /* 0: epochs of a trial with no decision */
    int interval_epochs;    /* 1: epochs between decisions */
    int n_min_trials;       /* 1: completed trials that reached the epoch */
} hp_job_stopping;

/* What hp_job_load_one filled in because the job left it out (hp_job.defaults). */
#define HP_JOB_DEFAULT_NAME 1u     /* study.name from the file's name */
#define HP_JOB_DEFAULT_STRATEGY 2u /* one trial */
#define HP_JOB_DEFAULT_SHARDS 4u   /* every shard but the last trains, the last validates */

typedef struct hp_job {
    char *path;           /* the job file as given */
    unsigned defaults;    /* HP_JOB_DEFAULT_* */
    char *text;           /* its full text (kept in study.h5) */
    /* study */
    char *name;
    uint64_t seed;
    hp_metric metric;
    int maximize;         /* mode: max (1) / min (0); default from the metric */
    /* data */
    char *data_path;
    int n_train_shards, train_shards[HP_MAX_SHARDS];
    int n_val_shards, val_shards[HP_MAX_SHARDS];
    int shards_line, shards_column; /* position of data: (for shard errors) */
    int test_eval;        /* evaluate the best trial on the test set at the end (default true) */
    /* strategy */
    hp_strategy_kind strategy;
    int max_trials;       /* trials: asha/tpe/bohb as given; random: max_trials x repeats; grid: size x repeats */
    int repeats;          /* grid, random: runs of each configuration (different seeds) */
    int min_epochs, max_epochs, reduction_factor, brackets; /* asha, bohb */
    hp_job_tpe tpe;
    hp_job_bohb bohb;
    hp_job_stopping stopping;
    /* budgets (study.max_time, study.max_epochs_total; 0: none) */
    double max_time;       /* seconds of the study's wall clock, over all its runs */
    long max_epochs_total; /* epochs recorded over all trials */
    /* objective */
    hp_objective_kind objective;
    char *curves_path;    /* resolved relative to the job file's folder */
    char *function;       /* objective function's name (functions.h) */
    int sleep_ms;         /* curves, function: simulated training time per epoch */
    /* space and fixed values */
    int n_params;
    hp_param *params;     /* in job-file order, owned */
    hp_config fixed;      /* defaults overridden by fixed: */
    int fixed_seed;       /* fixed.seed was given: every trial uses it (best.yaml retrains exactly) */
    /* output */
    char *out_dir;        /* NULL: runs/<name> */
    hp_keep_policy keep;
    int checkpoint_every; /* epochs between trial checkpoints (default 1) */
    int report_every;     /* rank 0 rewrites DIR/report.html every this many seconds (0: off) */
    int tensorboard;      /* rank 0 keeps DIR/tensorboard/ up to date while the study runs */
} hp_job;

/* Parse text (path is used for messages and relative paths); validates every
 * key and value.  On error: -1 with "path:line:col: what; what to do". */
int hp_job_parse(hp_job *job, const char *text, const char *path);
/* Read the file and parse it. */
int hp_job_load(hp_job *job, const char *path);
/* The same for one configuration (`hptune train`): only data.path and fixed:
 * are needed.  Without study: the name is the file's (jobs/x.yaml: "x");
 * without strategy: one trial; without train_shards and val_shards: the
 * shards are filled in by hp_job_default_shards once the data file's shard
 * count is known.  job->defaults says which were filled in. */
int hp_job_load_one(hp_job *job, const char *path);
/* Every shard but the last for training, the last for validation, if the job
 * left both lists out (HP_JOB_DEFAULT_SHARDS); -1 if there are fewer than 2. */
int hp_job_default_shards(hp_job *job, int n_shards);
void hp_job_release(hp_job *job);
/* Check the shard numbers against a data file with n_shards shards. */
int hp_job_check_shards(const hp_job *job, int n_shards);
/* Open the job's data file and check its shards: they exist and hold images. */
int hp_job_check_data(const hp_job *job);

/* A duration: seconds ("5400", "90.5") or units ("1h30m", "45m", "2h", "30s").
 * 0, or -1 with a message naming `what`. */
int hp_parse_duration(const char *text, const char *what, double *seconds);

/* Does the job's strategy train in ASHA's rungs (asha, bohb): trials get
 * max_epochs as their budget and the space may not hold epochs. */
int hp_job_uses_rungs(const hp_job *job);

/* Size of the grid (product of choice/grid lengths; with conditional
 * parameters the number of points of the conditional tree: an inactive
 * parameter is not enumerated); 0 if the space has a continuous parameter
 * (then grid is not possible). */
long hp_space_grid_size(const hp_job *job);
/* The number of ways to complete params[first..] given c's values of the
 * parameters before `first` (c is restored before returning). */
long hp_job_grid_completions(const hp_job *job, int first, hp_config *c);
/* Is space parameter `index` active in configuration c: every condition of
 * its when: holds (the parent is active and holds one of the listed values)?
 * An inactive parameter holds its default (fixed: value, else config.h's). */
int hp_job_param_active(const hp_job *job, int index, const hp_config *c);
int hp_job_has_conditions(const hp_job *job);
/* Configuration of a trial: fixed values, then the space's values for this
 * trial -- grid: point (trial_id % grid_size) in row-major order of the
 * space's parameters in file order (last parameter varies fastest);
 * random/asha: sampled from a stream seeded by (study seed, trial id,
 * HP_STREAM_SAMPLE), parameters in file order.  config->seed is derived from
 * (study seed, trial id), unless fixed.seed is given.  Deterministic: same job and id, same config. */
void hp_job_trial_config(const hp_job *job, int trial_id, hp_config *config);
/* The configuration index of a trial: random with repeats R runs
 * configuration c as trials c*R .. c*R+R-1 (each with its own seed); else the
 * trial id.  (Grid repeats run the whole grid again: trial t is point t % size.) */
int hp_job_trial_configuration(const hp_job *job, int trial_id);

/* `hptune check JOB.yaml`: validate and print the plan; returns exit status. */
int cmd_check(int argc, char **argv);

#endif
