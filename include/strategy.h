/* strategy.h - search strategies as deterministic state machines (no MPI, no I/O).
 *
 * The coordinator feeds events in the order it receives them and asks for
 * work whenever a worker is idle:
 *   hp_strategy_next()      -> START an assignment, WAIT, or DONE
 *   hp_strategy_report()    every epoch's objective value of a trial
 *   hp_strategy_finished()  the assignment reached its to_epoch
 *   hp_strategy_failed()    the trial failed (NaN loss, cannot be built)
 * All state lives in one hp_strategy struct; hp_strategy_save()/load() turn it
 * into a flat byte image and back exactly (the resume issue stores it in
 * study.h5).
 *
 * grid/random: trial i trains epochs [0, epochs); trials are issued in id
 * order until max_trials.
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
 */
#ifndef HPTUNE_STRATEGY_H
#define HPTUNE_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

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

typedef struct hp_assignment {
    int trial;       /* trial id, 0-based, dense */
    int from_epoch;  /* 0: new; else continue from the checkpoint at this epoch */
    int to_epoch;    /* train until this many epochs are done */
    int bracket;     /* asha bracket s (0 for grid/random) */
    int rung;        /* asha rung reached at to_epoch (0 for grid/random) */
} hp_assignment;

typedef struct hp_strategy_params {
    hp_strategy_kind kind;
    int max_trials;
    int epochs;            /* grid/random */
    int min_epochs, max_epochs, reduction_factor, brackets; /* asha */
    int maximize;
} hp_strategy_params;

typedef struct hp_strategy hp_strategy; /* opaque; defined in src/search/strategy.c */

/* params from a parsed job (grid max_trials = grid size x repeats). */
void hp_strategy_params_from_job(hp_strategy_params *p, const hp_job *job);
hp_strategy *hp_strategy_create(const hp_strategy_params *p);
void hp_strategy_free(hp_strategy *s);

hp_next hp_strategy_next(hp_strategy *s, hp_assignment *out);
void hp_strategy_report(hp_strategy *s, int trial, int epoch, double value);
void hp_strategy_finished(hp_strategy *s, int trial, int epoch);
void hp_strategy_failed(hp_strategy *s, int trial);
/* After an interruption: every RUNNING assignment is put back to be issued
 * again first (same trial, same to_epoch, in trial-id order); the caller
 * overrides from_epoch with the trial's last checkpointed epoch. */
void hp_strategy_requeue_running(hp_strategy *s);

/* Queries for progress, status tables and tests. */
int hp_strategy_num_trials(const hp_strategy *s);
hp_trial_status hp_strategy_trial_status(const hp_strategy *s, int trial);
int hp_strategy_trial_bracket(const hp_strategy *s, int trial);
int hp_strategy_trial_rung(const hp_strategy *s, int trial);   /* highest rung with a result, -1 none */
int hp_strategy_trial_epochs(const hp_strategy *s, int trial); /* epochs done (last report) */
int hp_strategy_num_rungs(const hp_strategy *s, int bracket);  /* K+1 */
int hp_strategy_rung_epochs(const hp_strategy *s, int bracket, int rung);
/* Worst-case total epochs of the whole study (for `hptune check`). */
long hp_strategy_worst_case_epochs(const hp_strategy_params *p);
const char *hp_trial_status_name(hp_trial_status st);

/* Exact save/restore: a versioned, self-describing byte image. */
int hp_strategy_save(const hp_strategy *s, uint8_t **bytes, size_t *size); /* caller frees */
int hp_strategy_load(hp_strategy **s, const uint8_t *bytes, size_t size); /* -1 + message if corrupt */

#endif
