/* worker.c - run assignments: train (or replay curves), checkpoint, report;
 * and a worker process's loop around them (hp_worker_serve). */
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
#include "functions.h"
#include "trainer.h"

int hp_worker_init(hp_worker *w, const hp_job *job, const char *study_dir)
{
    /* keep callbacks the caller set, reset the rest */
    hp_report_fn report = w->report;
    void *report_ctx = w->report_ctx, *stop_ctx = w->stop_ctx;
    int (*should_stop)(void *) = w->should_stop;
    int (*after)(void *, int) = w->after_epoch;
    int verbose = w->verbose;
    memset(w, 0, sizeof *w);
    w->report = report;
    w->report_ctx = report_ctx;
    w->should_stop = should_stop;
    w->after_epoch = after;
    w->stop_ctx = stop_ctx;
    w->verbose = verbose;
    w->job = job;
    w->study_dir = study_dir;
    if (job->objective == HP_OBJECTIVE_CURVES)
        return hp_curves_load(&w->curves, job->curves_path, job->params, job->n_params, job->metric, job->path);
    if (job->objective == HP_OBJECTIVE_FUNCTION)
        return 0; /* nothing to load */
    if (hp_job_check_data(job) != 0 ||
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
    hp_event e = hp_event_make(HP_EV_FATAL, -1, 0);
    e.text = (char *)hp_error_message();
    w->report(w->report_ctx, &e);
    return HP_WORK_FATAL;
}

static hp_work_result send_failed(hp_worker *w, int trial, int epoch, const char *reason)
{
    hp_event e = hp_event_make(HP_EV_FAILED, trial, epoch);
    e.text = (char *)reason;
    w->report(w->report_ctx, &e);
    return HP_WORK_FAILED;
}

static void send_done(hp_worker *w, int trial, int epoch)
{
    hp_event e = hp_event_make(HP_EV_FINISHED, trial, epoch);
    w->report(w->report_ctx, &e);
}

static void send_interrupted(hp_worker *w, int trial, int epoch, int batch)
{
    hp_event e = hp_event_make(HP_EV_INTERRUPTED, trial, epoch);
    e.batch = batch;
    w->report(w->report_ctx, &e);
}

static double metric_of(const hp_job *job, const double *values)
{
    return values[hp_metric_column(job->metric)];
}

/* curves and function objectives: objective.sleep_ms per epoch */
static void simulate_training_time(const hp_worker *w)
{
    if (w->job->sleep_ms > 0) {
        struct timespec ts = {w->job->sleep_ms / 1000, (long)(w->job->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* What the coordinator wants after this epoch of the assignment: a budget
 * stop only matters before the assignment's last epoch. */
static int after_epoch(const hp_worker *w, const hp_assignment *a, int epoch)
{
    if (!w->after_epoch)
        return HP_AFTER_EPOCH_GO_ON;
    int after = w->after_epoch(w->stop_ctx, a->trial);
    if (after == HP_AFTER_EPOCH_CHECKPOINT && epoch >= a->to_epoch)
        return HP_AFTER_EPOCH_GO_ON;
    return after;
}

/* The end of a simulated epoch (curves, functions): wait as configured,
 * report it, and follow what the coordinator decided after it.  Returns the
 * work result when the assignment ends here, -1 to go on.  Every simulated
 * epoch counts as checkpointed. */
static int report_simulated_epoch(hp_worker *w, const hp_assignment *a, int epoch, const hp_event *m)
{
    simulate_training_time(w);
    w->report(w->report_ctx, m);
    int after = after_epoch(w, a, epoch);
    if (after == HP_AFTER_EPOCH_END_TRIAL) {
        send_done(w, a->trial, epoch);
        return HP_WORK_DONE;
    }
    if (after == HP_AFTER_EPOCH_CHECKPOINT) {
        send_interrupted(w, a->trial, epoch, 0);
        return HP_WORK_INTERRUPTED;
    }
    return -1;
}

static hp_work_result run_curves(hp_worker *w, const hp_assignment *a, const hp_config *config)
{
    for (int epoch = a->from_epoch + 1; epoch <= a->to_epoch; epoch++) {
        if (w->should_stop && w->should_stop(w->stop_ctx)) {
            send_interrupted(w, a->trial, epoch - 1, 0);
            return HP_WORK_INTERRUPTED;
        }
        hp_event m = hp_event_make(HP_EV_EPOCH, a->trial, epoch);
        m.checkpointed = 1;
        for (int k = 0; k < HP_METRIC_COLS; k++) {
            m.metrics[k] = NAN; /* columns the table does not give */
            if ((k == w->job->metric || hp_curves_has_column(w->curves, k)) &&
                hp_curves_lookup(w->curves, config, epoch, k, &m.metrics[k]) != 0) {
                m.metrics[k] = NAN;
                if (k == w->job->metric)
                    return send_failed(w, a->trial, epoch, hp_error_message());
            }
        }
        int ended = report_simulated_epoch(w, a, epoch, &m);
        if (ended >= 0)
            return (hp_work_result)ended;
    }
    send_done(w, a->trial, a->to_epoch);
    return HP_WORK_DONE;
}

/* The trial's folder, and trials/ above it (a deleted trials/ is recreated). */
static int ensure_dir(const char *path)
{
    char *parent = hp_xstrdup(path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(parent, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(parent);
            return HP_ERR("%s: cannot create the directory: %s", path, strerror(e));
        }
    }
    free(parent);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return HP_ERR("%s: cannot create the directory: %s", path, strerror(errno));
    return 0;
}

/* Load checkpoint path into t if it fits the assignment (at most to_epoch
 * epochs).  -1 with a message otherwise; t is then untouched (checkpoint.h). */
static int load_if_fits(hp_trainer *t, const char *path, const hp_assignment *a)
{
    hp_config config;
    int epoch;
    if (hp_checkpoint_read_config(path, &config, &epoch, NULL) != 0)
        return -1;
    if (epoch > a->to_epoch)
        return HP_ERR("it is at epoch %d, beyond the assignment's epoch %d", epoch, a->to_epoch);
    return hp_checkpoint_load(t, path);
}

/* Where a trial continues from (t is a fresh trainer of its configuration).
 * last.h5 normally.  If the assignment continues an earlier epoch and last.h5
 * is missing, or last.h5 cannot be used (damaged, another configuration,
 * beyond the assignment), the trial falls back to its newest older checkpoint
 * at or before the assignment's end -- epoch_NNNN.h5 (keep: all), then best.h5
 * -- and else is retrained from scratch: training is deterministic, so the
 * epochs in between come out as recorded.  An unusable last.h5 is renamed
 * last.h5.unusable (kept for inspection, never read again).  *restarted:
 * -1 if the trial continues as assigned, else the epoch it continues from,
 * with why in *note (caller frees). */
static int restore_trial(hp_trainer *t, const hp_assignment *a, const char *trial_dir, const char *last,
                         int *restarted, char **note)
{
    *restarted = -1;
    *note = NULL;
    char *why = NULL;
    if (access(last, F_OK) == 0) {
        if (load_if_fits(t, last, a) == 0)
            return 0;
        char *aside = hp_xasprintf("%s.unusable", last);
        why = rename(last, aside) == 0
                  ? hp_xasprintf("%s cannot be used (%s; kept as %s)", last, hp_error_message(), aside)
                  : hp_xasprintf("%s cannot be used (%s)", last, hp_error_message());
        free(aside);
    } else if (a->from_epoch > 0) {
        why = hp_xasprintf("%s is missing (the trial continues from epoch %d)", last, a->from_epoch);
    } else {
        return 0; /* a new trial */
    }
    char *used = NULL;
    for (int k = a->to_epoch; k >= 1 && !used; k--) {
        char *path = hp_xasprintf("%s/epoch_%04d.h5", trial_dir, k);
        if (access(path, F_OK) == 0 && load_if_fits(t, path, a) == 0)
            used = path;
        else
            free(path);
    }
    if (!used) {
        char *path = hp_xasprintf("%s/best.h5", trial_dir);
        if (access(path, F_OK) == 0 && load_if_fits(t, path, a) == 0)
            used = path;
        else
            free(path);
    }
    *restarted = t->epoch; /* 0 when nothing was loaded */
    if (used)
        *note = hp_xasprintf("%s; continued from %s (epoch %d), retraining the epochs after it", why, used,
                             t->epoch);
    else
        *note = hp_xasprintf("%s; no older checkpoint of the trial: retrained from scratch", why);
    free(used);
    free(why);
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

/* objective: function (functions.h): the value at fidelity epoch / budget,
 * as train_loss and val_loss. */
static hp_work_result run_function(hp_worker *w, const hp_assignment *a, const hp_config *config)
{
    const hp_function *f = hp_function_find(w->job->function);
    const float *coords[HP_FUNCTION_MAX_DIMS] = {&config->x1, &config->x2, &config->x3,
                                                 &config->x4, &config->x5, &config->x6};
    double x[HP_FUNCTION_MAX_DIMS];
    for (int d = 0; d < f->n_dims; d++)
        x[d] = *coords[d];
    for (int epoch = a->from_epoch + 1; epoch <= a->to_epoch; epoch++) {
        if (w->should_stop && w->should_stop(w->stop_ctx)) {
            send_interrupted(w, a->trial, epoch - 1, 0);
            return HP_WORK_INTERRUPTED;
        }
        double value = hp_function_eval(f, x, (double)epoch / (double)config->epochs);
        hp_event m = hp_event_make(HP_EV_EPOCH, a->trial, epoch);
        m.checkpointed = 1; /* nothing to checkpoint: any epoch can be recomputed */
        for (int k = 0; k < HP_METRIC_COLS; k++)
            m.metrics[k] = NAN;
        m.metrics[HP_COL_TRAIN_LOSS] = m.metrics[HP_COL_VAL_LOSS] = value;
        int ended = report_simulated_epoch(w, a, epoch, &m);
        if (ended >= 0)
            return (hp_work_result)ended;
    }
    send_done(w, a->trial, a->to_epoch);
    return HP_WORK_DONE;
}

hp_work_result hp_worker_run(hp_worker *w, const hp_event *assign)
{
    const hp_job *job = w->job;
    const hp_assignment *a = &assign->assign;
    const hp_config config = assign->config; /* the trial's recorded configuration */
    if (job->objective == HP_OBJECTIVE_CURVES)
        return run_curves(w, a, &config);
    if (job->objective == HP_OBJECTIVE_FUNCTION)
        return run_function(w, a, &config);

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
    int restarted;
    char *note;
    if (restore_trial(&t, a, trial_dir, last, &restarted, &note) != 0) {
        result = send_fatal(w);
        goto out;
    }
    if (restarted >= 0) {
        hp_event r = hp_event_make(HP_EV_RESTARTED, a->trial, restarted);
        r.text = note;
        w->report(w->report_ctx, &r);
        free(note);
    }
    /* The checkpoint may be ahead of what rank 0 recorded (a worker killed
     * between writing it and reporting the epoch): report those epochs again
     * from the checkpoint's history, so no recorded result is ever missing. */
    for (int e = a->from_epoch; e < t.epoch && e < t.n_history; e++) {
        hp_event msg = hp_event_make(HP_EV_EPOCH, a->trial, e + 1);
        msg.checkpointed = 1;
        hp_epoch_metrics_to_row(&t.history[e], msg.metrics);
        w->report(w->report_ctx, &msg);
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
            send_interrupted(w, a->trial, t.epoch, t.batch_in_epoch);
            result = HP_WORK_INTERRUPTED;
            goto out;
        }
        hp_event msg = hp_event_make(HP_EV_EPOCH, a->trial, m.epoch);
        hp_epoch_metrics_to_row(&m, msg.metrics);
        /* epochs retrained after a lost checkpoint are recorded already */
        int report = m.epoch > a->from_epoch;
        int checkpoint = (t.epoch % job->checkpoint_every == 0) || t.epoch == a->to_epoch || t.epoch == a->from_epoch;
        if (checkpoint) {
            if (hp_checkpoint_save(&t, a->trial, last) != 0) {
                result = send_fatal(w);
                goto out;
            }
            msg.checkpointed = 1;
            /* best so far for this trial? (history holds every epoch) */
            double v = metric_of(job, msg.metrics);
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
        if (report)
            w->report(w->report_ctx, &msg);
        int after = report ? after_epoch(w, a, t.epoch) : HP_AFTER_EPOCH_GO_ON;
        if (after == HP_AFTER_EPOCH_END_TRIAL)
            break;
        if (after == HP_AFTER_EPOCH_CHECKPOINT) {
            if (!checkpoint && hp_checkpoint_save(&t, a->trial, last) != 0) {
                result = send_fatal(w);
                goto out;
            }
            send_interrupted(w, a->trial, t.epoch, 0);
            result = HP_WORK_INTERRUPTED;
            goto out;
        }
    }
    send_done(w, a->trial, t.epoch);
out:
    hp_trainer_release(&t);
    free(trial_dir);
    free(last);
    free(best);
    return result;
}

/* ------------------------------------------------------ worker process --- */

typedef struct serve_ctx {
    const hp_transport *t;
    const volatile sig_atomic_t *stop;
    int stop_received; /* rank 0 said STOP (while training or idle) */
    int epoch_stop_received; /* rank 0 said STOP at the end of the epoch (a budget) */
    int send_failed;
} serve_ctx;

static int serve_report(void *ctx, const hp_event *e)
{
    serve_ctx *sc = ctx;
    uint8_t *bytes;
    size_t size = hp_event_encode(e, &bytes);
    int rc = sc->t->send(sc->t->ctx, 0, e->type, bytes, size);
    free(bytes);
    if (rc != 0)
        sc->send_failed = 1;
    return rc;
}

/* Asked at every batch boundary: a local signal, or a STOP from rank 0. */
static int serve_should_stop(void *ctx)
{
    serve_ctx *sc = ctx;
    if ((sc->stop && *sc->stop) || sc->stop_received)
        return 1;
    int from;
    uint8_t *bytes;
    size_t size;
    if (sc->t->wait(sc->t->ctx, 0, HP_EV_STOP, 0, NULL, &from, &bytes, &size) == 1) {
        hp_event e;
        int at_epoch_end = hp_event_decode(bytes, size, NULL, &e) == 0 && e.flag == HP_STOP_AT_EPOCH_END;
        free(bytes);
        if (at_epoch_end)
            sc->epoch_stop_received = 1;
        else
            sc->stop_received = 1;
    }
    return sc->stop_received;
}

/* After each epoch: a STOP_TRIAL for this trial (older ones are stale), or
 * a STOP at the end of the epoch. */
static int serve_after_epoch(void *ctx, int trial)
{
    serve_ctx *sc = ctx;
    int from, ended = 0;
    uint8_t *bytes;
    size_t size;
    while (sc->t->wait(sc->t->ctx, 0, HP_EV_STOP_TRIAL, 0, NULL, &from, &bytes, &size) == 1) {
        hp_event e;
        if (hp_event_decode(bytes, size, NULL, &e) == 0 && e.trial == trial)
            ended = 1;
        free(bytes);
    }
    serve_should_stop(ctx); /* takes a STOP that came meanwhile */
    if (ended)
        return HP_AFTER_EPOCH_END_TRIAL;
    return sc->epoch_stop_received ? HP_AFTER_EPOCH_CHECKPOINT : HP_AFTER_EPOCH_GO_ON;
}

/* ------------------------------------------ the file-system contract --- */

/* The reason every node must see the same files, for the messages below. */
#define SHARED_FS_RULE                                                                                        \
    "the run directory, the data file and the hptune binary must be on a file system that every node mounts " \
    "at the same path (README: Several nodes)"

/* " (relative to /the/cwd)" for a relative path, "" for an absolute one. */
static char *relative_note(const char *path)
{
    char cwd[4096];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        return hp_xstrdup("");
    return hp_xasprintf(" (relative to %s)", cwd);
}

/* Can this process open `path` for reading?  A file just written on another
 * node may take a moment to appear on a network file system: a few tries
 * over about a second.  0, or -1 with errno's text in why. */
static int readable(const char *path, int tries, char *why, size_t why_size)
{
    for (int i = 0; i < tries; i++) {
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
        snprintf(why, why_size, "%s", strerror(errno));
        if (errno != ENOENT && errno != ESTALE)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* The file-system contract (worker.h): the probe rank 0 wrote into the run
 * directory is here with rank 0's content (the same file system at the same
 * path), and the objective's file is readable. */
int hp_worker_check_files(const hp_job *job, const char *study_dir, const char *probe_name)
{
    char host[256] = "?", why[256] = "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    int rc = 0;
    char *probe = hp_xasprintf("%s/%s", study_dir, probe_name);
    char *note = relative_note(study_dir);
    if (readable(probe, 6, why, sizeof why) != 0) {
        rc = HP_ERR("host %s: cannot see the run directory %s%s: rank 0 wrote %s there, and here it is "
                    "not readable (%s); %s", host, study_dir, note, probe_name, why, SHARED_FS_RULE);
    } else {
        /* the name is unique to this run; the content says who wrote it */
        FILE *f = fopen(probe, "rb");
        char line[512] = "";
        if (!f || !fgets(line, sizeof line, f) || strncmp(line, probe_name, strlen(probe_name)) != 0)
            rc = HP_ERR("host %s: %s%s does not hold what rank 0 wrote into the run directory: another file "
                        "system is mounted at that path here; %s", host, probe, note, SHARED_FS_RULE);
        if (f)
            fclose(f);
    }
    free(note);
    /* the file the objective reads, if any (the function objective reads none) */
    const char *what = job->objective == HP_OBJECTIVE_CURVES ? "curves file" : "data file";
    const char *path = job->objective == HP_OBJECTIVE_CURVES ? job->curves_path
                       : job->objective == HP_OBJECTIVE_TRAIN ? job->data_path
                                                              : NULL;
    if (rc == 0 && path) {
        note = relative_note(path);
        if (readable(path, 1, why, sizeof why) != 0)
            rc = HP_ERR("host %s: cannot read the %s %s%s: %s; %s", host, what, path, note, why, SHARED_FS_RULE);
        free(note);
    }
    free(probe);
    return rc;
}

int hp_worker_serve(const hp_job *job, const char *study_dir, const hp_transport *t,
                    const volatile sig_atomic_t *stop, int verbose)
{
    serve_ctx sc = {.t = t, .stop = stop};
    hp_worker w = {.report = serve_report, .report_ctx = &sc, .should_stop = serve_should_stop,
                   .stop_ctx = &sc, .after_epoch = serve_after_epoch, .verbose = verbose};
    int loaded = hp_worker_init(&w, job, study_dir) == 0;
    if (!loaded)
        send_fatal(&w);
    else
        serve_report(&sc, &(hp_event){.type = HP_EV_READY});
    int rc = 0;
    for (;;) {
        int from;
        uint8_t *bytes;
        size_t size;
        /* after a fatal error only STOP matters, and a signal no longer does:
           rank 0 decides when everyone stops */
        if (sc.epoch_stop_received && loaded) { /* the budget's STOP came while it trained */
            send_interrupted(&w, -1, 0, 0);
            break;
        }
        int got = t->wait(t->ctx, 0, -1, -1, loaded ? stop : NULL, &from, &bytes, &size);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) { /* a signal while idle */
            send_interrupted(&w, -1, 0, 0);
            break;
        }
        hp_event e;
        int decoded = hp_event_decode(bytes, size, NULL, &e) == 0;
        free(bytes);
        if (!decoded) {
            hp_error_prefix("worker: a message from rank 0");
            rc = -1;
            break;
        }
        if (e.type == HP_EV_STOP) {
            if (loaded)
                send_interrupted(&w, -1, 0, 0);
            hp_event_release(&e);
            break;
        }
        if (e.type != HP_EV_ASSIGN || !loaded) {
            hp_event_release(&e);
            continue;
        }
        hp_work_result r = hp_worker_run(&w, &e);
        hp_event_release(&e);
        if (r == HP_WORK_INTERRUPTED || sc.send_failed)
            break;
        if (r == HP_WORK_FATAL) {
            if (sc.stop_received)
                break; /* the STOP this worker waits for has already come */
            loaded = 0;   /* wait for STOP */
        }
        /* FINISHED and FAILED tell rank 0 this worker is idle again */
    }
    hp_worker_release(&w);
    return rc;
}
