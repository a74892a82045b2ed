/* coordinator.c - rank 0's loop (see coordinator.h). */
#include "coordinator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "error.h"
#include "trainer.h"

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hp_coordinator_init(hp_coordinator *c, hp_study *s, int n_workers, int quiet, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->study = s;
    c->n_workers = n_workers;
    c->quiet = quiet;
    c->out = out;
    c->progress_every = 10.0;
    c->worker = hp_xcalloc((size_t)n_workers + 1, sizeof *c->worker);
    for (int r = 1; r <= n_workers; r++)
        c->worker[r] = HP_WORKER_STARTING;
    c->start = c->last_progress = c->last_sync = c->last_snapshot = wall_seconds();
}

void hp_coordinator_release(hp_coordinator *c)
{
    if (c->tb)
        hp_tb_live_end(c->tb, c->study);
    c->tb = NULL;
    free(c->worker);
    free(c->fatal);
    free(c->last_state);
    c->worker = NULL;
    c->fatal = NULL;
    c->last_state = NULL;
}

static double elapsed_total(const hp_coordinator *c) { return c->study->elapsed_before + (wall_seconds() - c->start); }

static void format_duration(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

/* Seconds per epoch, measured: the mean wall time of the recorded epochs
 * (worker-side, so several workers do not blur it), or for objectives that
 * record none the coordinator's own clock over this run's reports. */
static double seconds_per_epoch(const hp_coordinator *c, double run_seconds)
{
    const hp_study *s = c->study;
    double sum = 0;
    long n = 0;
    for (int i = 0; i < s->n_trials; i++)
        for (int e = 0; e < s->trials[i].n_epochs; e++) {
            double sec = s->trials[i].epochs[e].values[HP_COL_SECONDS];
            if (isfinite(sec) && sec > 0) {
                sum += sec;
                n++;
            }
        }
    if (n)
        return sum / (double)n;
    int workers = c->n_workers ? c->n_workers : 1;
    return c->epochs_reported ? run_seconds * workers / (double)c->epochs_reported : NAN;
}

/* The time left, as an estimate: the strategy's worst case of epochs still
 * to train, at the measured seconds per epoch, spread over the workers.  It
 * may rise (a slower configuration, a promotion) but only a quarter of the
 * way per line, so consecutive lines do not jump; it falls freely. */
static void estimate_left(hp_coordinator *c, double now, char *buf, size_t size)
{
    hp_study *s = c->study;
    hp_strategy_params p;
    hp_strategy_params_from_job(&p, &s->job);
    long worst = hp_strategy_worst_case_epochs(&p), done = 0;
    for (int i = 0; i < s->n_trials; i++)
        done += s->trials[i].n_epochs;
    long left_epochs = worst > done ? worst - done : 0;
    double per_epoch = seconds_per_epoch(c, now - c->start);
    int workers = c->n_workers ? c->n_workers : 1;
    if (!isfinite(per_epoch)) {
        snprintf(buf, size, "time left: no epoch measured yet");
        return;
    }
    double raw = (double)left_epochs * per_epoch / workers;
    double est = raw;
    if (c->eta_time > 0) {
        double expected = c->eta - (now - c->eta_time);
        if (expected < 0)
            expected = 0;
        if (raw > expected)
            est = expected + 0.25 * (raw - expected);
    }
    c->eta = est;
    c->eta_time = now;
    char left[32];
    format_duration(est, left, sizeof left);
    snprintf(buf, size, "about %s left (estimate: at most %ld epochs to go, %.3g s each, %d worker%s)", left,
             left_epochs, per_epoch, workers, workers == 1 ? "" : "s");
}

static void print_progress(hp_coordinator *c, int force)
{
    double now = wall_seconds();
    if (c->quiet || (!force && now - c->last_progress < c->progress_every))
        return;
    hp_study *s = c->study;
    int counts[HP_TRIAL_STATUS_COUNT];
    hp_study_count_status(s, counts);
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    char state[1536];
    int used = snprintf(state, sizeof state, "trials %d/%d: %d running, %d paused, %d completed, %d stopped, %d failed | ",
                        s->n_trials, hp_strategy_max_trials(s->strategy), counts[HP_TRIAL_RUNNING],
                        counts[HP_TRIAL_PAUSED], counts[HP_TRIAL_COMPLETED], counts[HP_TRIAL_STOPPED],
                        counts[HP_TRIAL_FAILED]);
    if (best >= 0) {
        char config[1024];
        hp_study_format_space(s, &s->trials[best].config, config, sizeof config);
        snprintf(state + used, sizeof state - (size_t)used, "best %s %.4f (trial %d, epoch %d: %s)",
                 hp_metric_name(s->job.metric), value, best, epoch, config);
    } else {
        snprintf(state + used, sizeof state - (size_t)used, "no results yet");
    }
    /* a line only when something changed: trials, their states, the best */
    long epochs_now = c->epochs_reported;
    if (!force && c->last_state && !strcmp(c->last_state, state) && epochs_now == c->last_state_epochs)
        return;
    free(c->last_state);
    c->last_state = hp_xstrdup(state);
    c->last_state_epochs = epochs_now;
    c->last_progress = now;
    char elapsed[32], left[256];
    format_duration(elapsed_total(c), elapsed, sizeof elapsed);
    estimate_left(c, now, left, sizeof left);
    fprintf(c->out, "[%s] %s | %s\n", elapsed, state, left);
    fflush(c->out);
}

/* Journal an event and apply it, then show it in the live views.  A journal
 * that cannot be appended to (a full disk) stops the study like a fatal
 * error: nothing more is recorded, what was recorded stays, and
 * hp_coordinator_finish says how to continue. */
static int record(hp_coordinator *c, const hp_event *e)
{
    if (c->journal_failed)
        return 0; /* stopping; reports that still arrive are redone on resume */
    long before = c->study->n_events;
    if (hp_study_record(c->study, e) != 0) {
        if (c->study->n_events != before)
            return -1; /* recorded, but it does not fit the state */
        c->journal_failed = 1;
        if (!c->fatal)
            c->fatal = hp_xstrdup(hp_error_message());
        return 0;
    }
    if (c->tb && hp_tb_live_event(c->tb, c->study, e) != 0) {
        /* a view, not the record: say so once and go on without it */
        fprintf(stderr, "hptune: warning: %s; TensorBoard files are no longer updated (the study goes on; "
                        "'hptune export %s --format tensorboard' rewrites them)\n", hp_error_message(), c->study->dir);
        hp_tb_live_end(c->tb, c->study);
        c->tb = NULL;
    }
    return 0;
}

static void write_report(hp_coordinator *c, const char *state)
{
    char *path = hp_xasprintf("%s/report.html", c->study->dir);
    if (hp_study_write_report(c->study, path, NULL, state, elapsed_total(c)) != 0)
        fprintf(stderr, "hptune: warning: %s (the study goes on)\n", hp_error_message());
    free(path);
}

static void housekeeping(hp_coordinator *c)
{
    double now = wall_seconds();
    if (!c->budget_hit && hp_study_budget_reached(c->study, elapsed_total(c)))
        c->budget_hit = 1;
    /* group commit: fsync the journal at most once a second */
    if (now - c->last_sync >= 1.0) {
        if (hp_study_sync(c->study) != 0)
            hp_error_print();
        if (c->tb && hp_tb_live_flush(c->tb) != 0)
            hp_error_print();
        c->last_sync = now;
    }
    int every = c->study->job.report_every;
    if (every > 0 && now - c->last_report >= every) {
        write_report(c, "running");
        c->last_report = now;
    }
    if (now - c->last_snapshot >= 30.0) {
        if (hp_study_write_snapshot(c->study, elapsed_total(c)) != 0)
            hp_error_print();
        c->last_snapshot = now;
    }
    print_progress(c, 0);
}

static int decide_stop(hp_coordinator *c, int from, int trial);

int hp_coordinator_begin(hp_coordinator *c, int resume)
{
    (void)resume; /* every run is recorded; the study tells a resume by its earlier runs */
    hp_event e = hp_event_make(HP_EV_RUN, -1, 0);
    e.seconds = (double)time(NULL);
    e.flag = c->n_workers ? c->n_workers : 1;
    if (hp_study_record(c->study, &e) != 0)
        return -1;
    /* a decision the last run did not get to record (killed between the
       epoch's record and its STOP_TRIAL) is made now, on the same state */
    for (int t = 0; t < c->study->n_trials; t++)
        if (decide_stop(c, 0, t) != 0)
            return -1;
    if (c->study->job.tensorboard) {
        /* rebuilt from the journal: a resumed study never writes a step twice */
        char *logdir = hp_xasprintf("%s/tensorboard", c->study->dir);
        c->tb = hp_tb_live_begin(c->study, logdir);
        free(logdir);
        if (!c->tb)
            fprintf(stderr, "hptune: warning: %s; the study runs without live TensorBoard files\n",
                    hp_error_message());
    }
    return 0;
}

/* The endpoint's assignment is over (finished, failed, interrupted). */
static void worker_free(hp_coordinator *c, int from, int state)
{
    if (c->n_workers == 0 || from < 1 || from > c->n_workers)
        return;
    if (c->worker[from] >= 0)
        c->running--;
    c->worker[from] = state;
}

static int send_event(const hp_transport *t, int to, const hp_event *e);

/* Was this trial ended by a STOP_TRIAL event (its later reports are moot)? */
static int stopped_trial(const hp_study *s, int trial)
{
    return trial >= 0 && trial < s->n_trials && s->trials[trial].stop_reason != 0;
}

/* After an epoch of `trial` is recorded: end the trial if a stopping rule
 * says so (recorded first, then the worker is told). */
static int decide_stop(hp_coordinator *c, int from, int trial)
{
    hp_study *s = c->study;
    int why = hp_study_stop_decision(s, trial);
    if (!why || c->journal_failed)
        return 0;
    hp_event e = hp_event_make(HP_EV_STOP_TRIAL, trial, s->trials[trial].n_epochs);
    e.flag = why;
    if (record(c, &e) != 0)
        return -1;
    if (!c->quiet)
        fprintf(c->out, "trial %d: %s at epoch %d\n", trial, why == HP_STOP_EARLY ? "early stop" : "stopped by the median rule",
                e.epoch);
    if (c->transport && from >= 1 && from <= c->n_workers && c->worker[from] == trial &&
        send_event(c->transport, from, &e) != 0)
        return -1;
    return 0;
}

int hp_coordinator_handle(hp_coordinator *c, int from, const hp_event *e)
{
    hp_study *s = c->study;
    switch (e->type) {
    case HP_EV_READY:
        if (c->n_workers && from >= 1 && from <= c->n_workers && c->worker[from] == HP_WORKER_STARTING)
            c->worker[from] = HP_WORKER_IDLE;
        return 0;
    case HP_EV_EPOCH:
        if (stopped_trial(s, e->trial))
            return 0; /* trained before the worker saw its STOP_TRIAL */
        c->epochs_reported++;
        if (record(c, e) != 0)
            return -1;
        if (hp_study_budget_reached(s, elapsed_total(c)))
            c->budget_hit = 1;
        return decide_stop(c, from, e->trial);
    case HP_EV_FINISHED: {
        worker_free(c, from, HP_WORKER_IDLE);
        if (stopped_trial(s, e->trial))
            return 0; /* its end is the STOP_TRIAL already recorded */
        int rc = record(c, e);
        if (rc == 0)
            print_progress(c, hp_strategy_trial_status(s->strategy, e->trial) == HP_TRIAL_COMPLETED);
        return rc;
    }
    case HP_EV_FAILED:
        worker_free(c, from, HP_WORKER_IDLE);
        if (stopped_trial(s, e->trial))
            return 0;
        if (!c->quiet)
            fprintf(c->out, "trial %d failed: %s\n", e->trial, e->text ? e->text : "");
        return record(c, e);
    case HP_EV_RESTARTED:
        if (!c->quiet)
            fprintf(c->out, "trial %d: %s\n", e->trial, e->text ? e->text : "");
        return record(c, e);
    case HP_EV_FATAL:
        if (!c->fatal)
            c->fatal = c->n_workers ? hp_xasprintf("worker rank %d: %s", from, e->text ? e->text : "")
                                    : hp_xstrdup(e->text ? e->text : "");
        worker_free(c, from, HP_WORKER_FATAL);
        return 0;
    case HP_EV_INTERRUPTED:
        /* A worker stops only when told to, or when it got a signal itself:
           then the whole study stops and checkpoints (the README's promise
           for a signal to any rank), rather than waiting for its trial. */
        if (c->n_workers && from >= 1 && from <= c->n_workers && c->worker[from] != HP_WORKER_GONE && !c->stop &&
            !c->budget_stop_sent) {
            c->stop = 1;
            c->stopped_by = from;
        }
        worker_free(c, from, HP_WORKER_GONE);
        return 0;
    default:
        return HP_ERR("unexpected %s message from rank %d", hp_event_type_name(e->type), from);
    }
}

/* The strategy's next assignment, journaled.  1: got one, 0: none, -1 error. */
static int next_assignment(hp_coordinator *c, hp_event *assign)
{
    hp_next n = hp_study_next(c->study, assign);
    if (n == HP_NEXT_DONE)
        c->strategy_done = 1;
    if (n != HP_NEXT_START)
        return 0;
    if (c->budget_hit || hp_study_budget_reached(c->study, elapsed_total(c))) {
        c->budget_hit = 1; /* work is left, but no budget for it */
        return 0;
    }
    if (record(c, assign) != 0)
        return -1;
    return c->journal_failed ? 0 : 1;
}

static int send_event(const hp_transport *t, int to, const hp_event *e)
{
    uint8_t *bytes;
    size_t size = hp_event_encode(e, &bytes);
    int rc = t->send(t->ctx, to, e->type, bytes, size);
    free(bytes);
    return rc;
}

int hp_coordinator_dispatch(hp_coordinator *c, const hp_transport *t)
{
    for (int r = 1; r <= c->n_workers && !c->strategy_done && !c->budget_hit; r++) {
        if (c->worker[r] != HP_WORKER_IDLE)
            continue;
        hp_event a;
        int got = next_assignment(c, &a);
        if (got <= 0)
            return got;
        if (send_event(t, r, &a) != 0)
            return -1;
        c->worker[r] = a.trial;
        c->running++;
    }
    return 0;
}

static int wait_and_handle(hp_coordinator *c, const hp_transport *t, const volatile sig_atomic_t *stop,
                           int timeout_ms)
{
    int from;
    uint8_t *bytes;
    size_t size;
    int got = t->wait(t->ctx, -1, -1, timeout_ms, stop, &from, &bytes, &size);
    if (got <= 0)
        return got;
    hp_event e;
    int rc = hp_event_decode(bytes, size, NULL, &e);
    free(bytes);
    if (rc != 0) {
        hp_error_prefix("a message from rank %d", from);
        return -1;
    }
    rc = hp_coordinator_handle(c, from, &e);
    hp_event_release(&e);
    return rc;
}

/* Ask every worker still there to stop; on an interruption wait (bounded)
 * until each has said it checkpointed, recording the reports that arrive
 * meanwhile. */
static void stop_workers(hp_coordinator *c, const hp_transport *t, int interrupt, double timeout_s)
{
    hp_event stop = hp_event_make(HP_EV_STOP, -1, 0);
    stop.flag = interrupt ? HP_STOP_INTERRUPT : HP_STOP_FINISHED;
    for (int r = 1; r <= c->n_workers; r++)
        if (c->worker[r] != HP_WORKER_GONE)
            send_event(t, r, &stop);
    if (!interrupt)
        return; /* finished: workers are idle and simply exit */
    double deadline = wall_seconds() + timeout_s;
    for (;;) {
        int left = 0; /* workers that may still send reports */
        for (int r = 1; r <= c->n_workers; r++)
            left += c->worker[r] != HP_WORKER_GONE && c->worker[r] != HP_WORKER_FATAL;
        if (!left || wall_seconds() > deadline)
            break;
        if (wait_and_handle(c, t, NULL, 500) < 0)
            hp_error_print();
    }
}

int hp_coordinator_run(hp_coordinator *c, const hp_transport *t, const volatile sig_atomic_t *stop)
{
    int rc = 0;
    c->transport = t;
    for (;;) {
        if (c->fatal || c->stop || (stop && *stop))
            break;
        if (hp_coordinator_dispatch(c, t) != 0) {
            rc = -1;
            break; /* stop the workers below: they must not wait forever */
        }
        if (c->strategy_done && c->running == 0)
            break;
        int any_worker = 0;
        for (int r = 1; r <= c->n_workers; r++)
            any_worker += c->worker[r] != HP_WORKER_GONE && c->worker[r] != HP_WORKER_FATAL;
        if (c->budget_hit && !c->budget_stop_sent) {
            /* every worker finishes the epoch it is in, checkpoints and says INTERRUPTED */
            hp_event budget_stop = hp_event_make(HP_EV_STOP, -1, 0);
            budget_stop.flag = HP_STOP_AT_EPOCH_END;
            for (int r = 1; r <= c->n_workers; r++)
                if (c->worker[r] != HP_WORKER_GONE && send_event(t, r, &budget_stop) != 0)
                    rc = -1;
            c->budget_stop_sent = 1;
            if (rc != 0)
                break;
        }
        if (c->budget_stop_sent && !any_worker)
            break; /* every worker has checkpointed and left */
        if (!any_worker) {
            rc = HP_ERR("every worker has stopped");
            break;
        }
        if (wait_and_handle(c, t, stop, 1000) < 0) {
            rc = -1;
            break;
        }
        housekeeping(c);
    }
    int interrupted = rc != 0 || c->fatal || c->stop || (stop && *stop);
    stop_workers(c, t, interrupted, 120.0);
    c->transport = NULL;
    return rc;
}

/* ------------------------------------------------ one-process run --- */

typedef struct serial_ctx {
    hp_coordinator *c;
    const volatile sig_atomic_t *stop;
} serial_ctx;

static int serial_report(void *ctx, const hp_event *e)
{
    serial_ctx *sc = ctx;
    if (hp_coordinator_handle(sc->c, 0, e) != 0) {
        if (!sc->c->fatal)
            sc->c->fatal = hp_xstrdup(hp_error_message());
        return -1;
    }
    housekeeping(sc->c);
    return 0;
}

static int serial_should_stop(void *ctx)
{
    serial_ctx *sc = ctx;
    return (sc->stop && *sc->stop) || sc->c->fatal;
}

static int serial_after_epoch(void *ctx, int trial)
{
    serial_ctx *sc = ctx;
    if (stopped_trial(sc->c->study, trial))
        return HP_AFTER_EPOCH_END_TRIAL;
    return sc->c->budget_hit ? HP_AFTER_EPOCH_CHECKPOINT : HP_AFTER_EPOCH_GO_ON;
}

int hp_coordinator_run_serial(hp_coordinator *c, const volatile sig_atomic_t *stop)
{
    serial_ctx sc = {c, stop};
    hp_worker w = {.report = serial_report, .report_ctx = &sc, .should_stop = serial_should_stop, .stop_ctx = &sc,
                   .after_epoch = serial_after_epoch};
    if (hp_worker_init(&w, &c->study->job, c->study->dir) != 0)
        return -1;
    int rc = 0;
    while (!(stop && *stop) && !c->fatal) {
        hp_event a;
        int got = next_assignment(c, &a);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (!got)
            break; /* DONE (WAIT cannot happen with nothing running) */
        hp_work_result r = hp_worker_run(&w, &a);
        if (r == HP_WORK_FATAL || r == HP_WORK_INTERRUPTED)
            break;
    }
    hp_worker_release(&w);
    return rc;
}

/* -------------------------------------------------------- the end --- */

static void print_final(hp_coordinator *c, double elapsed_seconds)
{
    hp_study *s = c->study;
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    char elapsed[32];
    format_duration(elapsed_seconds, elapsed, sizeof elapsed);
    fprintf(c->out, "study %s finished in %s: %d trials", s->job.name, elapsed, s->n_trials);
    if (c->n_workers > 0) { /* what the coordinator itself cost: it must not take a core */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                     (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        double wall = wall_seconds() - c->start;
        fprintf(c->out, " (coordinator CPU %.1f s over %.0f s, %.1f%% of a core)", cpu, wall,
                wall > 0 ? 100.0 * cpu / wall : 0.0);
    }
    if (best >= 0) {
        fprintf(c->out, "; best trial %d: %s %.4f after %d epochs\n", best, hp_metric_name(s->job.metric), value,
                epoch);
        fprintf(c->out, "results: hptune status %s | hptune export %s --format csv | retrain: hptune train "
                        "%s/best.yaml\n", s->dir, s->dir, s->dir);
    } else {
        fprintf(c->out, "; no trial produced a result\n");
    }
}

/* The checkpoint of trial `best` to evaluate on the test set: its best
 * epoch's (by the study's metric) among the files kept -- epoch_NNNN.h5
 * (keep: all), best.h5 (keep: last_and_best) -- else last.h5.  Caller frees. */
static char *checkpoint_to_test(const hp_study *s, int best)
{
    char *dir = hp_study_trial_dir(s, best), *chosen = NULL;
    double chosen_value = NAN;
    for (int e = 1; e <= s->trials[best].n_epochs; e++) {
        char *path = hp_xasprintf("%s/epoch_%04d.h5", dir, e);
        double v = hp_study_value(s, best, e);
        if (access(path, F_OK) == 0 && (!chosen || hp_study_better(s, v, chosen_value))) {
            free(chosen);
            chosen = path;
            chosen_value = v;
        } else {
            free(path);
        }
    }
    free(dir);
    if (!chosen)
        chosen = hp_study_checkpoint_path(s, best, "best");
    if (access(chosen, F_OK) != 0) {
        free(chosen);
        chosen = hp_study_checkpoint_path(s, best, "last");
    }
    return chosen;
}

/* Evaluate the best trial's best checkpoint on the test set and record the
 * result (a TEST event: study.h5, status, exports and best.yaml show it), or
 * record why it was not evaluated. */
static void evaluate_best_on_test(hp_coordinator *c)
{
    hp_study *s = c->study;
    if (!s->job.test_eval || s->job.objective != HP_OBJECTIVE_TRAIN)
        return;
    int best = hp_study_best_trial(s, NULL, NULL);
    if (best < 0)
        return;
    char *path = checkpoint_to_test(s, best);
    hp_config config;
    int epoch = 0;
    hp_dataset test = {0};
    hp_trainer t;
    int ready = 0;
    hp_event e = hp_event_make(HP_EV_TEST, best, 0);
    for (int k = 0; k < HP_METRIC_COLS; k++)
        e.metrics[k] = NAN;
    if (hp_checkpoint_read_config(path, &config, &epoch, NULL) != 0 ||
        hp_dataset_load_test(&test, s->job.data_path) != 0)
        goto fail;
    if (test.n == 0) {
        hp_errorf("the test set of %s is empty (0 images): nothing to evaluate", s->job.data_path);
        goto fail;
    }
    if (hp_trainer_init(&t, &config, &test, &test) != 0)
        goto fail;
    ready = 1;
    if (hp_checkpoint_load_weights(&t, path) != 0)
        goto fail;
    hp_eval ev;
    hp_trainer_evaluate(&t, &test, &ev);
    e.epoch = epoch;
    e.batch = test.n;
    e.metrics[HP_COL_VAL_LOSS] = ev.loss;
    e.metrics[HP_COL_VAL_ACCURACY] = ev.accuracy;
    e.metrics[HP_COL_VAL_PRECISION] = ev.precision;
    e.metrics[HP_COL_VAL_RECALL] = ev.recall;
    e.metrics[HP_COL_VAL_F1] = ev.f1;
    char *absolute = realpath(path, NULL); /* study records name files absolutely */
    if (absolute) {
        free(path);
        path = absolute;
    }
    e.text = path;
    goto out;
fail:
    fprintf(stderr, "hptune: warning: test-set evaluation skipped: %s\n", hp_error_message());
    e.text = (char *)hp_error_message();
out:
    if (hp_study_record(s, &e) != 0)
        hp_error_print();
    if (ready)
        hp_trainer_release(&t);
    hp_dataset_release(&test);
    free(path);
}

static void print_test(hp_coordinator *c)
{
    const hp_study_test *t = &c->study->test;
    if (!t->recorded || t->images == 0)
        return;
    fprintf(c->out, "test set (best trial %d, checkpoint at epoch %d; reported apart from the validation metric "
                    "that selected it): accuracy %.4f loss %.4f F1 %.4f (%d images)\n",
            t->trial, t->epoch, t->accuracy, t->loss, t->f1, t->images);
}

int hp_coordinator_finish(hp_coordinator *c, int rc, int stop_signal, int resumable_with_mpirun)
{
    hp_study *s = c->study;
    if (rc != 0)
        hp_error_print();
    int interrupted = stop_signal || c->stop || c->fatal || rc != 0;
    double elapsed = elapsed_total(c);
    hp_event end = hp_event_make(HP_EV_ENDED, -1, 0);
    end.seconds = elapsed;
    int budget = !interrupted && !c->strategy_done && c->budget_hit;
    end.flag = !interrupted && c->strategy_done ? HP_ENDED_FINISHED
               : budget                         ? HP_ENDED_BUDGET
                                                : HP_ENDED_INTERRUPTED;
    if (c->journal_failed) {
        /* nothing more can be recorded; the journal ends with its last
           complete record, which is all a resume needs */
        hp_errorf("%s; the study stopped and keeps everything recorded before: free space on that file "
                  "system, then continue with 'hptune resume %s'", c->fatal, s->dir);
        hp_error_print();
        fflush(c->out);
        return 1;
    }
    if (hp_study_record(s, &end) != 0 || hp_study_sync(s) != 0) {
        hp_error_print();
        rc = -1;
    } else if (end.flag != HP_ENDED_INTERRUPTED) {
        evaluate_best_on_test(c); /* finished or budget reached: before the outputs, which show it */
    }
    char *outputs_error = NULL; /* study.h5/best.yaml: after a fatal error, part of its message */
    if (hp_study_write_snapshot(s, elapsed) != 0 || hp_study_write_best_yaml(s) != 0) {
        if (c->fatal) {
            outputs_error = hp_xstrdup(hp_error_message());
        } else {
            hp_error_print();
            rc = -1;
        }
    }
    if (c->tb) {
        if (hp_tb_live_end(c->tb, s) != 0)
            fprintf(stderr, "hptune: warning: %s\n", hp_error_message());
        c->tb = NULL;
    }
    if (s->job.report_every > 0)
        write_report(c, s->finished ? "finished" : "interrupted");
    if (c->fatal) {
        hp_errorf("%s; the study was saved%s%s%s: fix the problem and continue with 'hptune resume %s' "
                  "(add --allow-job-change if you edit the job file)", c->fatal,
                  outputs_error ? " in its journal (" : "", outputs_error ? outputs_error : "",
                  outputs_error ? ")" : "", s->dir);
        free(outputs_error);
        hp_error_print();
        rc = -1;
    } else if (interrupted && rc == 0) {
        char why[64];
        if (c->stop && !stop_signal)
            snprintf(why, sizeof why, "signal to worker rank %d", c->stopped_by);
        else
            snprintf(why, sizeof why, "%s", stop_signal ? "signal" : "stopped");
        fprintf(c->out, "interrupted at %d trials (%s); study saved. Resume with: %shptune resume %s\n", s->n_trials,
                why, resumable_with_mpirun ? "mpirun -np N " : "", s->dir);
    } else if (rc == 0 && budget) {
        char spent[32];
        format_duration(elapsed, spent, sizeof spent);
        fprintf(c->out, "budget reached at %d trials (%ld epochs", s->n_trials, s->epochs_total);
        if (s->max_epochs_total > 0)
            fprintf(c->out, " of max_epochs_total %ld", s->max_epochs_total);
        fprintf(c->out, ", %s", spent);
        if (s->max_time > 0)
            fprintf(c->out, " of max_time %.0f s", s->max_time);
        fprintf(c->out, "); study saved. Continue with a larger budget: %shptune resume %s --max-epochs-total N "
                        "--max-time DURATION\n", resumable_with_mpirun ? "mpirun -np N " : "", s->dir);
    } else if (rc == 0) {
        print_final(c, elapsed);
        print_test(c);
    }
    fflush(c->out);
    if (rc == 0 && budget)
        return 3;
    return rc == 0 ? 0 : 1;
}
