/* study.h - a study's durable state: the journal, the trial table, study.h5.
 *
 * Run directory (runs/<study name>/ by default):
 *   job.yaml        the job text the study runs
 *   study.journal   write-ahead log: one checksummed record per event (the job
 *                   text, every assignment, every epoch report, every trial
 *                   end, every resume), appended BEFORE the coordinator acts
 *                   on the event.  Replaying it through the (deterministic)
 *                   strategy rebuilds the exact state; a torn last record
 *                   (process killed mid-write) is dropped on resume.
 *   study.h5        a complete snapshot for people and scripts (rewritten
 *                   atomically every few seconds and at every stop):
 *                   /job_text, the /trials group, /metrics, /strategy_state, attributes.
 *   trials/trial_NNNNN/last.h5, best.h5   trial checkpoints (checkpoint.h)
 *   best.yaml       the best configuration, accepted by `hptune train`
 * No MPI here: the coordinator (cmd_run.c) calls these functions.
 */
#ifndef HPTUNE_STUDY_H
#define HPTUNE_STUDY_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "job.h"
#include "strategy.h"

#define HP_STUDY_FORMAT_VERSION 1

typedef struct hp_epoch_record {
    double values[HP_METRIC_COLS];
} hp_epoch_record;

typedef struct hp_trial_record {
    int n_epochs;              /* epochs with metrics (index e-1 holds epoch e) */
    int capacity;
    hp_epoch_record *epochs;   /* owned */
    int checkpoint_epoch;      /* last epoch known to be checkpointed */
    int assigned_from, assigned_to; /* current/last assignment */
    char *failure;             /* owned; NULL unless failed */
} hp_trial_record;

typedef struct hp_study {
    hp_job job;                /* owned */
    char *dir;                 /* owned */
    hp_strategy *strategy;     /* owned */
    int n_trials, capacity;
    hp_trial_record *trials;   /* owned, indexed by trial id */
    int n_assignments, assignments_capacity;
    int32_t *assignments;      /* (n_assignments, 5): trial, from, to, bracket, rung, in order; owned */
    int journal_fd;
    long n_events;
    int finished;
    int n_resumes;
    double elapsed_before;     /* seconds of earlier runs (from the journal) */
    double last_flush;
} hp_study;

/* Create a new study directory for job (text already parsed into *job, which
 * the study takes over).  Refuses a directory that already holds a study. */
int hp_study_create(hp_study *s, hp_job *job, const char *dir);
/* Open an existing study: read and verify the journal, replay it.
 * If the job file it was started from changed, refuse unless allow_job_change
 * (then continue with the edited text).  read_only: never write (status,
 * export); a torn last record is ignored instead of cut off. */
int hp_study_open(hp_study *s, const char *dir, int allow_job_change, int read_only);
void hp_study_close(hp_study *s);

/* The strategy's next decision, with a grid/random trial's epoch budget
 * taken from its own configuration (`epochs` may be a searched parameter).
 * The coordinator and the journal replay both decide through this. */
hp_next hp_study_next(hp_study *s, hp_assignment *a);

/* Journaled events (each is written to the journal, then applied). */
int hp_study_assign(hp_study *s, const hp_assignment *a);
int hp_study_epoch(hp_study *s, int trial, int epoch, int checkpointed, const double *values);
int hp_study_finished(hp_study *s, int trial, int epoch);
int hp_study_failed(hp_study *s, int trial, const char *reason);
int hp_study_mark_resume(hp_study *s);   /* requeues running trials */
int hp_study_mark_finished(hp_study *s, double elapsed);
int hp_study_mark_elapsed(hp_study *s, double elapsed);
/* fsync the journal (group commit). */
int hp_study_sync(hp_study *s);

/* Objective value of a trial at an epoch (metric column of the study). */
double hp_study_value(const hp_study *s, int trial, int epoch);
/* Best trial by its latest value at its highest epoch... see study.c; -1 none. */
int hp_study_best_trial(const hp_study *s, double *value, int *epoch);
char *hp_study_trial_dir(const hp_study *s, int trial);   /* caller frees */
char *hp_study_checkpoint_path(const hp_study *s, int trial, const char *which); /* "last"/"best" */

/* study.h5 snapshot, best.yaml. */
int hp_study_write_snapshot(const hp_study *s, double elapsed);
int hp_study_write_best_yaml(const hp_study *s);

/* Tables for `status` / `export`. */
void hp_study_print_status(const hp_study *s, FILE *f);
int hp_study_export(const hp_study *s, FILE *f, int json);

#endif
