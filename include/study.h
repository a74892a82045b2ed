/* study.h - a study's state: the journal of its events, the trial table, the strategy.
 *
 * Run directory (runs/<study name>/ by default):
 *   job.yaml        the job text the study runs
 *   study.lock      held by the one process that writes the journal (study_lock.h)
 *   study.journal   write-ahead log of events (event.h): the job, every
 *                   assignment with the trial's configuration, every epoch
 *                   report, every trial end, every run's start and end; each
 *                   appended BEFORE the coordinator acts on it.  The state is
 *                   the fold of hp_study_apply() over the journal.
 *   study.h5        a snapshot for people and scripts (outputs.c)
 *   trials/trial_NNNNN/last.h5, best.h5   trial checkpoints (checkpoint.h)
 *   best.yaml       the best configuration, accepted by `hptune train`
 * No MPI here: the coordinator (coordinator.h) drives it.
 */
#ifndef HPTUNE_STUDY_H
#define HPTUNE_STUDY_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "event.h"
#include "job.h"
#include "journal.h"
#include "strategy.h"
#include "study_lock.h"

#define HP_STUDY_FORMAT_VERSION HP_JOURNAL_FORMAT_VERSION

typedef struct hp_epoch_record {
    double values[HP_METRIC_COLS];
} hp_epoch_record;

typedef struct hp_trial_record {
    hp_config config;          /* recorded with its first assignment */
    int n_epochs;              /* epochs with metrics (index e-1 holds epoch e) */
    int capacity;
    hp_epoch_record *epochs;   /* owned */
    double *epoch_times;       /* (capacity) unix time each epoch was recorded, owned */
    double start_time, end_time; /* unix times of its first assignment and its last end */
    int checkpoint_epoch;      /* last epoch known to be checkpointed */
    int assigned_from, assigned_to; /* current/last assignment */
    char *failure;             /* owned; NULL unless failed */
    int restarts;              /* times its checkpoint was missing or unusable (RESTARTED) */
    char *restart_note;        /* the last RESTARTED event's reason, owned; NULL if none */
    int stop_reason;           /* HP_STOP_EARLY/HP_STOP_MEDIAN of its STOP_TRIAL event, 0 none */
} hp_trial_record;

/* The winner's test-set evaluation (a TEST event), after a finished run. */
typedef struct hp_study_test {
    int recorded;              /* a TEST event was recorded */
    int trial, epoch, images;  /* images 0: not evaluated (note says why) */
    double loss, accuracy, precision, recall, f1;
    char *note;                /* checkpoint file evaluated, or why not; owned */
} hp_study_test;

typedef struct hp_study {
    hp_job job;                /* owned */
    char *dir;                 /* owned */
    hp_strategy *strategy;     /* owned */
    int n_trials, capacity;
    hp_trial_record *trials;   /* owned, indexed by trial id */
    int n_assignments, assignments_capacity;
    int32_t *assignments;      /* (n_assignments, 5): trial, from, to, bracket, rung, in order; owned */
    hp_journal journal;        /* closed for read-only studies */
    hp_study_lock lock;        /* held while the study is open for writing */
    long n_events;             /* journal records, the JOB record included */
    int finished;
    int n_runs;                /* RUN events: the first run and every resume */
    int n_resumes;
    double elapsed_before;     /* seconds of earlier runs (from the journal) */
    int run_open;              /* a run started and has not recorded its end (running, or killed) */
    int n_workers;             /* workers of the latest run (RUN), 0 unknown */
    int verify;                /* replay: each assignment must equal the strategy's own decision */
    int live;                  /* a coordinator runs this study now: this process (writable), or
                                  the holder of the lock (read-only) */
    hp_study_test test;        /* the last TEST event */
    double max_time;           /* budgets: the job's study.max_time, study.max_epochs_total, */
    long max_epochs_total;     /*   or the last BUDGET event's (0: none) */
    long epochs_total;         /* epochs recorded over all trials (each counted once) */
    int budget_reached;        /* the last run ended on a budget (ENDED flag 2) */
} hp_study;

/* Create a new study directory for job (which the study takes over), and
 * take its lock (study_lock.h) until hp_study_close.  Refuses a directory
 * that already holds a study, or that another process has locked.  On error nothing stays
 * allocated (no hp_study_close needed), and the job is the study's anyway. */
int hp_study_create(hp_study *s, hp_job *job, const char *dir);
/* Open an existing study: read the journal and replay it.  If the job file it
 * was started from changed, refuse unless allow_job_change (then continue with
 * the edited text: recorded trials keep their recorded configurations).
 * read_only: never write and take no lock (status, export, report: they
 * work while a run goes on); a torn last record is ignored instead of cut
 * off.  Otherwise the directory's lock is taken first (refused while another
 * process holds it) and held until hp_study_close.  A resumed (writable) study also checks that
 * every recorded assignment is the one the strategy makes.  On error nothing
 * stays allocated. */
int hp_study_open(hp_study *s, const char *dir, int allow_job_change, int read_only);
void hp_study_close(hp_study *s);
/* `hptune resume --truncate-journal-at OFFSET`: cut a damaged journal at a
 * record boundary, keeping the rest in study.journal.damaged-OFFSET (under
 * the directory's lock). */
int hp_study_truncate_journal(const char *dir, size_t offset);

/* Apply one event to the state (no journal).  The live coordinator and the
 * journal replay both go through here.  -1 with a message if the event does
 * not fit the state (unknown trial, an assignment the strategy would not
 * make, a configuration that changed). */
int hp_study_apply(hp_study *s, const hp_event *e);
/* Append the event to the journal, then apply it. */
int hp_study_record(hp_study *s, const hp_event *e);
/* fsync the journal (group commit). */
int hp_study_sync(hp_study *s);

/* The strategy's next decision as an ASSIGN event, continuing from the
 * trial's newest checkpoint when it has one (after an interruption). */
hp_next hp_study_next(const hp_study *s, hp_event *assign);

/* Should the coordinator end this running trial now, after its last
 * recorded epoch (stopping.h)?  0, HP_STOP_EARLY or HP_STOP_MEDIAN (early
 * stopping is asked first).  A pure function of the recorded state, so a
 * replay meets the same decision. */
int hp_study_stop_decision(const hp_study *s, int trial);
/* Has a budget been reached: epochs (deterministic), or elapsed seconds of
 * the study (wall clock) when elapsed >= 0? */
int hp_study_budget_reached(const hp_study *s, double elapsed);

/* Objective value of a trial at an epoch (metric column of the study). */
double hp_study_value(const hp_study *s, int trial, int epoch);
/* Best trial (completed ones first) by its value at its last epoch; -1 none. */
int hp_study_best_trial(const hp_study *s, double *value, int *epoch);
/* Is a better than b under the study's mode (NaN is worst). */
int hp_study_better(const hp_study *s, double a, double b);
char *hp_study_trial_dir(const hp_study *s, int trial);   /* caller frees */
char *hp_study_checkpoint_path(const hp_study *s, int trial, const char *which); /* "last"/"best" */
/* A trial's state for people and files: the strategy's status
 * (hp_trial_status), except that a RUNNING trial of a study no coordinator
 * runs now (the run was interrupted or killed) is HP_STUDY_TRIAL_INTERRUPTED:
 * it continues from its checkpoint on resume. */
#define HP_STUDY_TRIAL_INTERRUPTED HP_TRIAL_STATUS_COUNT
#define HP_STUDY_TRIAL_STATE_COUNT (HP_TRIAL_STATUS_COUNT + 1)
int hp_study_trial_state(const hp_study *s, int trial);
const char *hp_study_state_name(int state); /* "pending" ... "failed", "interrupted" */
/* Why the coordinator ended the trial early, for people and files:
 * "early stop at epoch 7", "median rule at epoch 4", or "" (not stopped). */
const char *hp_study_stop_note(const hp_study *s, int trial, char *buf, size_t size);
/* Trials by status (HP_TRIAL_STATUS_COUNT counts). */
void hp_study_count_status(const hp_study *s, int counts[HP_TRIAL_STATUS_COUNT]);
/* The trial's searched values as "key=value key=value" (floats shortest). */
void hp_study_format_space(const hp_study *s, const hp_config *c, char *buf, size_t size);

/* Outputs (outputs.c): study.h5 snapshot, best.yaml, status table, exports. */
int hp_study_write_snapshot(const hp_study *s, double elapsed);
int hp_study_write_best_yaml(const hp_study *s);
void hp_study_print_status(const hp_study *s, FILE *f);
/* Per (trial, epoch): CSV rows (a trial without epochs gets one row with the
 * epoch empty; failure column last) or a JSON object per trial with its
 * epochs and, at the top, the winner's test-set evaluation ("test"). */
int hp_study_export(const hp_study *s, FILE *f, int json);
/* Per trial (the leaderboard): final and best metric, epochs, status,
 * restarts, failure, test set (the winner's), configuration. */
int hp_study_export_trials(const hp_study *s, FILE *f, int json);
/* One row (object) per configuration: trials that differ only in their seed
 * (repeats, a searched seed) grouped, with the mean and sample std of the
 * metric's final value over the completed runs (outputs.c). */
int hp_study_export_configs(const hp_study *s, FILE *f, int json);

#endif
