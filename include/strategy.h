/* strategy.h - search strategies as deterministic state machines (no MPI, no I/O).
 *
 * A strategy decides which trial trains which epochs with which
 * configuration.  Its state changes only through events, so a study's state
 * is the fold of its journal:
 *   hp_strategy_propose()   the next decision -- START an assignment (with the
 *                           trial's configuration), WAIT, or DONE -- without
 *                           changing anything
 *   hp_strategy_assigned()  an assignment was made (live, or replayed)
 *   hp_strategy_report()    every epoch's objective value of a trial
 *   hp_strategy_finished()  the assignment reached its to_epoch
 *   hp_strategy_failed()    the trial failed (NaN loss, cannot be built)
 *   hp_strategy_stop_trial() the coordinator ended a trial early (stopping.h)
 *   hp_strategy_requeue_running()  a new run of an interrupted study began
 *   hp_strategy_end()       the study ended on DONE: paused trials are stopped
 * hp_strategy_next() = propose + assigned (+ end on DONE), for callers that
 * decide and act in one step.  All state lives in one hp_strategy;
 * hp_strategy_save()/load() turn it into a flat byte image and back exactly.
 *
 * The strategies (one row each in the table of src/search/strategy.c):
 *   grid    one rung; trial t is grid point t % size; trains its own epochs
 *   random  one rung; configurations sampled (space.c); trains its own epochs
 *   asha    ASHA's rungs and promotions; configurations sampled
 *   tpe     one rung; configurations from Optuna 3.1's TPE (tpe.h) over the
 *           trials so far, random for the first n_startup_trials
 *   bohb    asha's rungs and promotions; new configurations from HpBandSter's
 *           per-rung density models (bohb.h), random without a model
 * Everything outside src/search asks the strategy (name, rungs, plan,
 * budget) instead of switching on the kind.
 *
 * One rung (grid, random): a new trial trains [0, epochs of its own
 * configuration) and is COMPLETED when it finishes; there is nothing to
 * promote.  Trials are issued in id order until max_trials.
 *
 * asha (Li et al., MLSys 2020, Algorithm 2), per bracket s:
 *   rung k trains to r_k = min_epochs * eta^(s+k), k = 0..K,
 *   K = floor(log_eta(max_epochs/min_epochs)) - s.
 *   A trial's value at rung k is its objective at epoch r_k (not best so far).
 *   When a worker is free: for each bracket (s = 0..B-1), for k = K-1 down to
 *   0: candidates = the best floor(n_k/eta) trials with a result at rung k
 *   (ties: lower trial id first); the best candidate not yet promoted from k is
 *   promoted: it continues from its rung-k checkpoint (from_epoch = r_k) to
 *   r_{k+1}.  If nothing is promotable in any bracket and fewer than
 *   max_trials trials exist, a new trial starts at rung 0 of bracket
 *   (trial_id % B) and trains [0, r_0).  Otherwise WAIT; DONE when nothing runs
 *   and nothing can be promoted.
 * Requeued (interrupted) assignments are issued again before anything else,
 * in trial-id order.
 */
#ifndef HPTUNE_STRATEGY_H
#define HPTUNE_STRATEGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "job.h"

typedef enum { HP_NEXT_START = 0, HP_NEXT_WAIT, HP_NEXT_DONE } hp_next;
typedef enum {
    HP_TRIAL_PENDING = 0, /* created, never assigned */
    HP_TRIAL_RUNNING,     /* an assignment is out */
    HP_TRIAL_PAUSED,      /* between rungs (asha), may be promoted */
    HP_TRIAL_COMPLETED,   /* reached its final epoch */
    HP_TRIAL_STOPPED,     /* asha: not promoted when the study ended */
    HP_TRIAL_FAILED
} hp_trial_status;
#define HP_TRIAL_STATUS_COUNT 6

/* One scheduling decision: which trial trains which epochs. */
typedef struct hp_assignment {
    int trial;       /* trial id, 0-based, dense */
    int from_epoch;  /* 0: new; else continue from the checkpoint at this epoch */
    int to_epoch;    /* train until this many epochs are done */
    int bracket;     /* asha bracket s (0 for one-rung strategies) */
    int rung;        /* asha rung reached at to_epoch (0 for one-rung strategies) */
} hp_assignment;

typedef struct hp_strategy_params {
    hp_strategy_kind kind;
    int max_trials;
    int epochs;            /* one-rung strategies without a job: every trial's epochs */
    int min_epochs, max_epochs, reduction_factor, brackets; /* asha */
    int maximize;
    /* Where new trials' configurations come from: the space, fixed values and
     * seed of this job (not owned).  NULL: every trial gets the defaults with
     * `epochs` (max_epochs under asha) -- enough for scheduling tests. */
    const hp_job *job;
} hp_strategy_params;

typedef struct hp_strategy hp_strategy; /* opaque; defined in src/search/strategy.c */

/* params from a parsed job (grid max_trials = grid size x repeats); keeps a pointer to job. */
void hp_strategy_params_from_job(hp_strategy_params *p, const hp_job *job);
hp_strategy *hp_strategy_create(const hp_strategy_params *p); /* NULL + message if invalid */
void hp_strategy_free(hp_strategy *s);

/* The next decision; *config gets the trial's configuration with START. */
hp_next hp_strategy_propose(const hp_strategy *s, hp_assignment *out, hp_config *config);
/* An assignment was made.  config: the configuration of a new trial (ignored
 * for a trial that exists).  -1 with a message if it contradicts the state
 * (a trial out of order, a promotion of a trial that is not paused at that
 * rung, a re-issue that differs from the interrupted assignment). */
int hp_strategy_assigned(hp_strategy *s, const hp_assignment *a, const hp_config *config);
void hp_strategy_report(hp_strategy *s, int trial, int epoch, double value);
void hp_strategy_finished(hp_strategy *s, int trial, int epoch);
void hp_strategy_failed(hp_strategy *s, int trial);
/* The coordinator ended a running trial after `epoch` (a STOP_TRIAL event,
 * stopping.h): completed, with its value at that epoch as its result (early
 * stopping), or stopped (the median stopping rule).  One-rung strategies
 * only (grid, random, tpe); a trial that is not running is left alone. */
void hp_strategy_stop_trial(hp_strategy *s, int trial, int epoch, double value, int completed);
/* After an interruption: every RUNNING assignment is put back to be issued
 * again first (same trial, same to_epoch, in trial-id order); the caller
 * overrides from_epoch with the trial's last checkpointed epoch. */
void hp_strategy_requeue_running(hp_strategy *s);
void hp_strategy_end(hp_strategy *s);
hp_next hp_strategy_next(hp_strategy *s, hp_assignment *out);

/* Queries for progress, status tables, samplers and tests. */
int hp_strategy_num_trials(const hp_strategy *s);
const hp_job *hp_strategy_job(const hp_strategy *s); /* NULL without a job */
int hp_strategy_max_trials(const hp_strategy *s);
hp_trial_status hp_strategy_trial_status(const hp_strategy *s, int trial);
const hp_config *hp_strategy_trial_config(const hp_strategy *s, int trial);
int hp_strategy_trial_bracket(const hp_strategy *s, int trial);
int hp_strategy_trial_rung(const hp_strategy *s, int trial);   /* highest rung with a result, -1 none */
int hp_strategy_trial_epochs(const hp_strategy *s, int trial); /* epochs done (last report) */
/* Value at rung k (NaN if none yet). */
double hp_strategy_trial_value(const hp_strategy *s, int trial, int rung);
int hp_strategy_num_brackets(const hp_strategy *s);
int hp_strategy_num_rungs(const hp_strategy *s, int bracket);  /* K+1 */
int hp_strategy_rung_epochs(const hp_strategy *s, int bracket, int rung);
/* Does this strategy have rungs and promotions (asha): status tables show bracket/rung. */
int hp_strategy_has_rungs(const hp_strategy *s);
/* Can a proposal be any point of the space (a model's), rather than trial t's
 * grid point or random sample (hp_job_trial_config)? */
int hp_strategy_proposes_any_point(const hp_strategy *s);
const char *hp_strategy_name(hp_strategy_kind kind);
/* One line, e.g. "asha: 81 trials, rungs at 1, 3, 9, 27 epochs, eta 3". */
void hp_strategy_summary(const hp_strategy *s, char *buf, size_t size);
/* The strategy's part of `hptune check`'s plan: lines starting "  strategy   ". */
void hp_strategy_describe(const hp_strategy *s, FILE *f);
/* Most epochs a trial with this configuration can train. */
int hp_strategy_trial_max_epochs(const hp_strategy *s, const hp_config *config);
/* Worst-case total epochs of the whole study (for `hptune check`, progress). */
long hp_strategy_worst_case_epochs(const hp_strategy_params *p);
const char *hp_trial_status_name(hp_trial_status st);

/* Exact save/restore: a versioned, self-describing byte image.  A loaded
 * strategy proposes configurations from `job` (may be NULL, as in params). */
int hp_strategy_save(const hp_strategy *s, uint8_t **bytes, size_t *size); /* caller frees */
int hp_strategy_load(hp_strategy **s, const uint8_t *bytes, size_t size); /* -1 + message if corrupt */
int hp_strategy_load_for_job(hp_strategy **s, const uint8_t *bytes, size_t size, const hp_job *job);

#endif
