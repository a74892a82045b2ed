/* worker.h - what a worker rank does with one assignment (no MPI here).
 *
 * The worker loads the data shards it needs once, then for each assignment
 * (an ASSIGN event carrying the trial's configuration) restores
 * the trial's last checkpoint if it has one -- or, when it is missing or
 * unusable, an older one (epoch_NNNN.h5, best.h5), else it retrains the trial
 * from scratch and says so in a RESTARTED event -- trains epoch by epoch to
 * to_epoch, writes checkpoints (policy: job output.keep), and reports every
 * epoch through the report callback: over MPI to rank 0, or straight to the
 * coordinator in a one-process run.
 */
#ifndef HPTUNE_WORKER_H
#define HPTUNE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "curves.h"
#include "dataset.h"
#include "event.h"
#include "job.h"
#include "transport.h"

/* Where a worker's events go: over MPI to rank 0, or straight to the
 * coordinator in a one-process run.  0, or -1 (the worker stops). */
typedef int (*hp_report_fn)(void *ctx, const hp_event *e);

typedef struct hp_worker {
    const hp_job *job;       /* not owned */
    const char *study_dir;   /* not owned */
    hp_dataset train, val;   /* owned (train objective) */
    hp_curves *curves;       /* owned (curves objective) */
    hp_report_fn report;
    void *report_ctx;
    int (*should_stop)(void *ctx); /* asked at batch boundaries */
    void *stop_ctx;
    /* asked (with stop_ctx) after each epoch is reported, NULL: never: 0 go
     * on; HP_AFTER_EPOCH_END_TRIAL the coordinator stopped the trial
     * (STOP_TRIAL: say FINISHED); HP_AFTER_EPOCH_CHECKPOINT a budget was
     * reached (checkpoint, say INTERRUPTED) */
    int (*after_epoch)(void *ctx, int trial);
    int verbose;
} hp_worker;

/* Load what the objective needs.  -1 with a message (bad data file/shard). */
int hp_worker_init(hp_worker *w, const hp_job *job, const char *study_dir);
void hp_worker_release(hp_worker *w);

enum { HP_AFTER_EPOCH_GO_ON = 0, HP_AFTER_EPOCH_END_TRIAL = 1, HP_AFTER_EPOCH_CHECKPOINT = 2 };

typedef enum { HP_WORK_DONE = 0, HP_WORK_FAILED, HP_WORK_INTERRUPTED, HP_WORK_FATAL } hp_work_result;
/* Run one assignment, reporting EPOCH events then FINISHED/FAILED/INTERRUPTED
 * (or FATAL with the message, e.g. a corrupt checkpoint). */
hp_work_result hp_worker_run(hp_worker *w, const hp_event *assign);

/* A worker process's whole life under a coordinator: load the data, say
 * READY (or FATAL), run assignments until STOP, and at a local signal
 * (*stop) checkpoint at the next batch boundary and say INTERRUPTED. */
int hp_worker_serve(const hp_job *job, const char *study_dir, const hp_transport *t,
                    const volatile sig_atomic_t *stop, int verbose);

/* The file-system contract of a run on several nodes, checked by every
 * worker before the study starts: the run directory is at the same path as
 * on rank 0 (the worker can read study_dir/probe_name, a file rank 0 wrote
 * there whose first line starts with its own name), and the objective's file
 * (data.path, or the curves file) is readable.  A missing file gets about a
 * second to appear (network file systems).  0, or -1 with one message that
 * names this host, what is missing and the rule. */
int hp_worker_check_files(const hp_job *job, const char *study_dir, const char *probe_name);

#endif
