/* worker.h - what a worker rank does with one assignment (no MPI here).
 *
 * The worker loads the data shards it needs once, then for each assignment
 * builds the trial's configuration from the job and the trial id, restores
 * the trial's last checkpoint if it has one, trains epoch by epoch to
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
#include "job.h"
#include "strategy.h"

/* Message tags between coordinator (rank 0) and workers. */
enum hp_tag {
    HP_TAG_READY = 1,       /* W->C  (empty) idle, send work */
    HP_TAG_ASSIGN = 2,      /* C->W  int32[5] trial, from, to, bracket, rung */
    HP_TAG_EPOCH = 3,       /* W->C  hp_epoch_msg */
    HP_TAG_DONE = 4,        /* W->C  int32[2] trial, epoch */
    HP_TAG_FAILED = 5,      /* W->C  int32[2] trial, epoch; reason text */
    HP_TAG_FATAL = 6,       /* W->C  reason text: the job cannot go on */
    HP_TAG_STOP = 7,        /* C->W  int32: 0 study finished, 1 interrupt */
    HP_TAG_INTERRUPTED = 8  /* W->C  int32[3] trial (-1 idle), epoch, batch */
};

typedef struct hp_epoch_msg {
    int32_t trial, epoch, checkpointed, pad;
    double values[HP_METRIC_COLS]; /* the metric row (metric_row.h) */
} hp_epoch_msg;

typedef int (*hp_report_fn)(void *ctx, int tag, const void *data, size_t size);

typedef struct hp_worker {
    const hp_job *job;       /* not owned */
    const char *study_dir;   /* not owned */
    hp_dataset train, val;   /* owned (train objective) */
    hp_curves *curves;       /* owned (curves objective) */
    hp_report_fn report;
    void *report_ctx;
    int (*should_stop)(void *ctx); /* asked at batch boundaries */
    void *stop_ctx;
    int verbose;
} hp_worker;

/* Load what the objective needs.  -1 with a message (bad data file/shard). */
int hp_worker_init(hp_worker *w, const hp_job *job, const char *study_dir);
void hp_worker_release(hp_worker *w);

typedef enum { HP_WORK_DONE = 0, HP_WORK_FAILED, HP_WORK_INTERRUPTED, HP_WORK_FATAL } hp_work_result;
/* Run one assignment, reporting EPOCH then DONE/FAILED/INTERRUPTED (or
 * FATAL with the message, e.g. a corrupt checkpoint). */
hp_work_result hp_worker_run(hp_worker *w, const hp_assignment *a);

#endif
