/* worker.c - run assignments: train (or replay curves), checkpoint, report. */
#include "worker.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "error.h"
#include "study.h"
#include "trainer.h"

int hp_worker_init(hp_worker *w, const hp_job *job, const char *study_dir)
{
    /* keep callbacks the caller set, reset the rest */
    hp_report_fn report = w->report;
    void *report_ctx = w->report_ctx, *stop_ctx = w->stop_ctx;
    int (*should_stop)(void *) = w->should_stop;
    int verbose = w->verbose;
    memset(w, 0, sizeof *w);
    w->report = report;
    w->report_ctx = report_ctx;
    w->should_stop = should_stop;
    w->stop_ctx = stop_ctx;
    w->verbose = verbose;
    w->job = job;
    w->study_dir = study_dir;
    if (job->objective == HP_OBJECTIVE_CURVES)
        return hp_curves_load(&w->curves, job->curves_path, job);
    int n_shards;
    if (hp_dataset_info(job->data_path, &n_shards, NULL, NULL) != 0 ||
        hp_job_check_shards(job, n_shards) != 0 ||
        hp_dataset_load_shards(&w->train, job->data_path, job->train_shards, job->n_train_shards) != 0 ||
        hp_dataset_load_shards(&w->val, job->data_path, job->val_shards, job->n_val_shards) != 0) {
        hp_worker_release(w);
        return -1;
    }
    return 0;
}

void hp_worker_release(hp_worker *w)
{
    hp_dataset_release(&w->train);
    hp_dataset_release(&w->val);
    if (w->curves)
        hp_curves_free(w->curves);
    w->curves = NULL;
}

static int send_fatal(hp_worker *w)
{
    const char *msg = hp_error_message();
    w->report(w->report_ctx, HP_TAG_FATAL, msg, strlen(msg));
    return HP_WORK_FATAL;
}

static hp_work_result send_failed(hp_worker *w, int trial, int epoch, const char *reason)
{
    int32_t head[2] = {trial, epoch};
    size_t n = strlen(reason);
    char *buf = hp_xcalloc(sizeof head + n + 1, 1);
    memcpy(buf, head, sizeof head);
    memcpy(buf + sizeof head, reason, n);
    w->report(w->report_ctx, HP_TAG_FAILED, buf, sizeof head + n);
    free(buf);
    return HP_WORK_FAILED;
}

static void send_done(hp_worker *w, int trial, int epoch)
{
    int32_t msg[2] = {trial, epoch};
    w->report(w->report_ctx, HP_TAG_DONE, msg, sizeof msg);
}

static double metric_of(const hp_job *job, const double *values)
{
    return values[hp_metric_column(job->metric)];
}

static hp_work_result run_curves(hp_worker *w, const hp_assignment *a, const hp_config *config)
{
    for (int epoch = a->from_epoch + 1; epoch <= a->to_epoch; epoch++) {
        if (w->should_stop && w->should_stop(w->stop_ctx)) {
            int32_t msg[3] = {a->trial, epoch - 1, 0};
            w->report(w->report_ctx, HP_TAG_INTERRUPTED, msg, sizeof msg);
            return HP_WORK_INTERRUPTED;
        }
        hp_epoch_msg m = {.trial = a->trial, .epoch = epoch, .checkpointed = 1};
        for (int k = 0; k < HP_METRIC_COLS; k++) {
            m.values[k] = NAN; /* columns the table does not give */
            if ((k == w->job->metric || hp_curves_has_column(w->curves, k)) &&
                hp_curves_lookup(w->curves, config, epoch, k, &m.values[k]) != 0) {
                m.values[k] = NAN;
                if (k == w->job->metric)
                    return send_failed(w, a->trial, epoch, hp_error_message());
            }
        }
        if (w->job->sleep_ms > 0) {
            struct timespec ts = {w->job->sleep_ms / 1000, (long)(w->job->sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        w->report(w->report_ctx, HP_TAG_EPOCH, &m, sizeof m);
    }
    send_done(w, a->trial, a->to_epoch);
    return HP_WORK_DONE;
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return HP_ERR("%s: cannot create the directory: %s", path, strerror(errno));
    return 0;
}

/* Keep "best": hard-link the just-written last.h5 (last.h5 is always
 * replaced by rename, so the link keeps this version alive). */
static int keep_copy(const char *last, const char *target)
{
    char *temp = hp_xasprintf("%s.tmp.%d", target, (int)getpid());
    unlink(temp);
    int rc = 0;
    if (link(last, temp) != 0 || rename(temp, target) != 0) {
        rc = HP_ERR("%s: cannot keep a copy of the checkpoint: %s", target, strerror(errno));
        unlink(temp);
    }
    free(temp);
    return rc;
}

hp_work_result hp_worker_run(hp_worker *w, const hp_assignment *a)
{
    const hp_job *job = w->job;
    hp_config config;
    hp_job_trial_config(job, a->trial, &config);
    if (job->objective == HP_OBJECTIVE_CURVES)
        return run_curves(w, a, &config);

    if (hp_config_validate(&config) != 0)
        return send_failed(w, a->trial, 0, hp_error_message());
    hp_trainer t;
    if (hp_trainer_init(&t, &config, &w->train, &w->val) != 0)
        return send_failed(w, a->trial, 0, hp_error_message());
    t.should_stop = w->should_stop;
    t.stop_ctx = w->stop_ctx;

    hp_work_result result = HP_WORK_DONE;
    char *trial_dir = hp_xasprintf("%s/trials/trial_%05d", w->study_dir, a->trial);
    char *last = hp_xasprintf("%s/last.h5", trial_dir);
    char *best = hp_xasprintf("%s/best.h5", trial_dir);
    if (ensure_dir(trial_dir) != 0) {
        result = send_fatal(w);
        goto out;
    }
    if (access(last, F_OK) == 0) {
        if (hp_checkpoint_load(&t, last) != 0) {
            result = send_fatal(w);
            goto out;
        }
    } else if (a->from_epoch > 0) {
        hp_errorf("%s: trial %d should continue from its checkpoint at epoch %d, but the file is "
                  "missing", last, a->trial, a->from_epoch);
        result = send_fatal(w);
        goto out;
    }
    /* The checkpoint may be ahead of what rank 0 recorded (a worker killed
     * between writing it and reporting the epoch): report those epochs again
     * from the checkpoint's history, so no recorded result is ever missing. */
    for (int e = a->from_epoch; e < t.epoch && e < t.n_history; e++) {
        hp_epoch_msg msg = {.trial = a->trial, .epoch = e + 1, .checkpointed = 1};
        hp_epoch_metrics_to_row(&t.history[e], msg.values);
        w->report(w->report_ctx, HP_TAG_EPOCH, &msg, sizeof msg);
    }
    if (t.epoch > a->to_epoch) {
        hp_errorf("%s: the checkpoint is at epoch %d, beyond the assignment's epoch %d", last, t.epoch, a->to_epoch);
        result = send_fatal(w);
        goto out;
    }
    if (w->verbose)
        fprintf(stderr, "worker: trial %d epochs %d..%d%s\n", a->trial, t.epoch + 1, a->to_epoch,
                t.epoch ? " (from checkpoint)" : "");
    while (t.epoch < a->to_epoch) {
        hp_epoch_metrics m;
        int rc = hp_trainer_run_epoch(&t, &m);
        if (rc < 0) {
            result = send_failed(w, a->trial, t.epoch + 1, hp_error_message());
            goto out;
        }
        if (rc == 1) {
            if (hp_checkpoint_save(&t, a->trial, last) != 0) {
                result = send_fatal(w);
                goto out;
            }
            int32_t msg[3] = {a->trial, t.epoch, t.batch_in_epoch};
            w->report(w->report_ctx, HP_TAG_INTERRUPTED, msg, sizeof msg);
            result = HP_WORK_INTERRUPTED;
            goto out;
        }
        hp_epoch_msg msg = {.trial = a->trial, .epoch = m.epoch};
        hp_epoch_metrics_to_row(&m, msg.values);
        int checkpoint = (t.epoch % job->checkpoint_every == 0) || t.epoch == a->to_epoch;
        if (checkpoint) {
            if (hp_checkpoint_save(&t, a->trial, last) != 0) {
                result = send_fatal(w);
                goto out;
            }
            msg.checkpointed = 1;
            /* best so far for this trial? (history holds every epoch) */
            double v = metric_of(job, msg.values);
            int is_best = 1;
            for (int e = 0; e + 1 < t.n_history; e++) {
                double hv[HP_METRIC_COLS];
                hp_epoch_metrics_to_row(&t.history[e], hv);
                double o = metric_of(job, hv);
                if (job->maximize ? o >= v : o <= v)
                    is_best = 0;
            }
            if (job->keep == HP_KEEP_LAST_AND_BEST && is_best && keep_copy(last, best) != 0) {
                result = send_fatal(w);
                goto out;
            }
            if (job->keep == HP_KEEP_ALL) {
                char *epoch_copy = hp_xasprintf("%s/epoch_%04d.h5", trial_dir, t.epoch);
                int krc = keep_copy(last, epoch_copy);
                free(epoch_copy);
                if (krc != 0) {
                    result = send_fatal(w);
                    goto out;
                }
            }
        }
        w->report(w->report_ctx, HP_TAG_EPOCH, &msg, sizeof msg);
    }
    send_done(w, a->trial, t.epoch);
out:
    hp_trainer_release(&t);
    free(trial_dir);
    free(last);
    free(best);
    return result;
}
