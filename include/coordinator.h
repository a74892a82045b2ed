/* coordinator.h - rank 0's loop: hand out work, record what comes back.
 *
 * The coordinator asks the study for the strategy's next decision whenever a
 * worker is idle, records every event in the journal before acting on it
 * (hp_study_record), prints progress, group-commits the journal (fsync at
 * most once a second) and rewrites study.h5 every 30 s.  It talks to workers
 * only through a transport (transport.h), so this file has no MPI and is
 * unit-tested with workers in the same process; with one process the worker
 * runs inline (hp_coordinator_run_serial).
 *
 * Ending a trial early: after recording an epoch, the coordinator asks
 * hp_study_stop_decision (early stopping, the median rule); a decision is
 * recorded as a STOP_TRIAL event and sent to the trial's worker, which ends
 * the trial at its next epoch boundary (reports that still arrive for the
 * trial are not recorded).
 *
 * Budgets (study.max_time, max_epochs_total, raised by BUDGET events): once
 * reached, no new assignment is made; running trials finish the epoch they
 * are in, checkpoint and stop (STOP with flag 2), and the run ends as
 * "budget reached" (ENDED flag 2; hp_coordinator_finish returns 3).
 *
 * Stopping: a signal to rank 0 (*stop), a signal to any worker (it reports
 * INTERRUPTED on its own), a worker's FATAL error, or a journal that cannot
 * be appended to (a full disk: nothing more is recorded) stop the whole study:
 * every worker checkpoints at its next batch boundary and says so, the study
 * records the run's end, and hp_coordinator_finish() says how to resume.
 */
#ifndef HPTUNE_COORDINATOR_H
#define HPTUNE_COORDINATOR_H

#include <signal.h>
#include <stdio.h>

#include "event.h"
#include "study.h"
#include "report_model.h"
#include "tensorboard.h"
#include "transport.h"
#include "worker.h"

/* What a worker endpoint is doing (>= 0: the trial it trains). */
enum {
    HP_WORKER_IDLE = -1,
    HP_WORKER_GONE = -2,     /* interrupted, or exited */
    HP_WORKER_STARTING = -3, /* loading its data */
    HP_WORKER_FATAL = -4     /* reported a fatal error; waits for STOP */
};

typedef struct hp_coordinator {
    hp_study *study;     /* not owned */
    int n_workers;       /* worker endpoints 1..n_workers (0: one-process run) */
    int *worker;         /* (n_workers + 1): trial or HP_WORKER_* per endpoint, owned */
    int running;         /* assignments out */
    int strategy_done;   /* the strategy said DONE */
    int stop;            /* a worker was interrupted: stop the whole study */
    int stopped_by;      /* that worker (for the message) */
    int quiet;
    double progress_every; /* seconds between progress lines at most (default 10) */
    FILE *out;           /* progress and summaries (stdout) */
    double start, last_progress, last_sync, last_snapshot;
    long epochs_reported;
    char *fatal;         /* first FATAL message or recording error, owned */
    hp_tb_live *tb;      /* output.tensorboard: the live event files, owned */
    double last_report;  /* output.report_every: when report.html was last written */
    int journal_failed;  /* an append failed (disk full): stop, record nothing more */
    char *last_state;    /* the last progress line's trial counts and best, owned */
    long last_state_epochs;
    double eta, eta_time; /* the last estimate of the time left, and when it was made */
    int budget_hit;      /* a budget (study.max_time, max_epochs_total) was reached: no new work */
    int budget_stop_sent; /* the workers were told to stop at the end of their epoch */
    const hp_transport *transport; /* while hp_coordinator_run runs: STOP_TRIAL goes to the worker */
} hp_coordinator;

void hp_coordinator_init(hp_coordinator *c, hp_study *s, int n_workers, int quiet, FILE *out);
void hp_coordinator_release(hp_coordinator *c);

/* A run of the study begins: recorded with its workers (on a resume, trials
 * left running are re-issued first). */
int hp_coordinator_begin(hp_coordinator *c, int resume);
/* One event from worker endpoint `from` (0 in a one-process run). */
int hp_coordinator_handle(hp_coordinator *c, int from, const hp_event *e);
/* Give every idle worker an assignment, if the strategy has one. */
int hp_coordinator_dispatch(hp_coordinator *c, const hp_transport *t);
/* The loop over MPI (or any transport): until the strategy is done and
 * nothing runs, *stop is set, a worker is interrupted, or a fatal error. */
int hp_coordinator_run(hp_coordinator *c, const hp_transport *t, const volatile sig_atomic_t *stop);
/* The same study in this one process: the worker trains inline. */
int hp_coordinator_run_serial(hp_coordinator *c, const volatile sig_atomic_t *stop);
/* Record the run's end (finished or not); if finished, evaluate the winner's
 * best checkpoint on the test set and record it (a TEST event); write study.h5
 * and best.yaml; print the summary (or how to resume).
 * rc: the loop's result.  Returns the process's exit status: 0, 1, or 3
 * (a budget was reached; the study is saved and resumable). */
int hp_coordinator_finish(hp_coordinator *c, int rc, int stop_signal, int resumable_with_mpirun);

#endif
