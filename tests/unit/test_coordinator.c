/* test_coordinator.c - rank 0's loop without MPI: an in-process transport
 * whose simulated workers answer assignments from a table of learning curves.
 *
 * The simulated network is single-threaded and deterministic: when the
 * coordinator waits and no message is queued for it, the transport lets the
 * next worker with something to do take one step (one epoch, or the answer
 * to a STOP).  Checked: the hand-worked ASHA promotion sequence of
 * tests/integration/test_run.sh with one worker, every trial accounted for
 * with three, configurations travelling in the ASSIGN events, a signal to one
 * worker stopping the whole study and a resume completing it with the same
 * results, a fatal worker error, garbage on the wire, and the journal
 * replaying to the live state.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator.h"
#include "error.h"
#include "event.h"
#include "study.h"
#include "testlib.h"

/* ------------------------------------------------- simulated network ---- */

enum { MAX_ENDPOINTS = 8, MAX_QUEUE = 4096 };

typedef struct message {
    int from;
    uint8_t *bytes;
    size_t size;
} message;

typedef struct queue {
    message m[MAX_QUEUE];
    int head, tail;
} queue;

typedef struct sim_worker {
    int started;       /* said READY */
    int gone;
    hp_event assign;   /* the current assignment (type 0: idle) */
    int epoch;         /* epochs done in it */
    int interrupt_at;  /* simulate a signal when this many epochs were reported in total (0: never) */
    int fatal_at;      /* report FATAL at this total (0: never) */
    int stop_trial_seen; /* a STOP_TRIAL for its trial is queued: it trains one more epoch first */
} sim_worker;

typedef struct network {
    int n_workers;
    queue inbox[MAX_ENDPOINTS]; /* per endpoint */
    sim_worker w[MAX_ENDPOINTS];
    long epochs_sent;           /* by all workers */
    int garbage_after;          /* send garbage to rank 0 after this many epochs (0: never) */
} network;

static void push(network *n, int to, int from, const uint8_t *bytes, size_t size)
{
    queue *q = &n->inbox[to];
    if (q->tail == MAX_QUEUE) {
        printf("simulated queue overflow\n");
        exit(1);
    }
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, bytes, size);
    q->m[q->tail++] = (message){from, copy, size};
}

static void push_event(network *n, int to, int from, const hp_event *e)
{
    uint8_t *bytes;
    size_t size = hp_event_encode(e, &bytes);
    push(n, to, from, bytes, size);
    free(bytes);
}

/* The learning curves of test_run.sh: trial t has learning_rate 0.0(t+1);
 * value after epoch 1 and from epoch 3 on. */
static const double acc1[9] = {.50, .30, .60, .20, .90, .10, .40, .80, .70};
static const double acc3[9] = {.51, .31, .65, .21, .85, .11, .41, .95, .75};

static double curve_value(const hp_config *c, int epoch)
{
    int t = (int)lround(c->learning_rate * 100.0) - 1; /* the configuration says which curve */
    if (t < 0 || t > 8)
        return NAN;
    return epoch >= 3 ? acc3[t] : acc1[t];
}

/* One step of worker r: answer its oldest message, or train one epoch. 1 if it did something. */
static int worker_step(network *n, int r)
{
    sim_worker *w = &n->w[r];
    if (w->gone)
        return 0;
    if (!w->started) {
        w->started = 1;
        push_event(n, 0, r, &(hp_event){.type = HP_EV_READY});
        return 1;
    }
    queue *q = &n->inbox[r];
    if (w->assign.type == 0 && q->head < q->tail) {
        message m = q->m[q->head++];
        hp_event e;
        if (hp_event_decode(m.bytes, m.size, NULL, &e) != 0) {
            printf("worker %d: undecodable message: %s\n", r, hp_error_message());
            exit(1);
        }
        free(m.bytes);
        if (e.type == HP_EV_STOP) {
            push_event(n, 0, r, &(hp_event){.type = HP_EV_INTERRUPTED, .trial = -1});
            w->gone = 1;
        } else if (e.type == HP_EV_ASSIGN) {
            w->assign = e;
            w->epoch = e.assign.from_epoch;
            w->stop_trial_seen = 0;
        } /* a STOP_TRIAL for a trial it no longer trains is stale */
        return 1;
    }
    if (w->assign.type != HP_EV_ASSIGN)
        return 0;
    /* a STOP while training: checkpoint at the batch boundary and say so */
    for (int i = q->head; i < q->tail; i++) {
        hp_event e;
        if (hp_event_decode(q->m[i].bytes, q->m[i].size, NULL, &e) == 0 && e.type == HP_EV_STOP) {
            push_event(n, 0, r, &(hp_event){.type = HP_EV_INTERRUPTED, .trial = w->assign.trial, .epoch = w->epoch});
            w->gone = 1;
            return 1;
        }
    }
    /* STOP_TRIAL for this trial: like the real worker, which notices it at an
       epoch boundary after the epoch it was in (whose report rank 0 ignores) */
    for (int i = q->head; i < q->tail; i++) {
        hp_event e;
        if (hp_event_decode(q->m[i].bytes, q->m[i].size, NULL, &e) != 0 || e.type != HP_EV_STOP_TRIAL ||
            e.trial != w->assign.trial)
            continue;
        if (!w->stop_trial_seen) {
            w->stop_trial_seen = 1;
            break;
        }
        push_event(n, 0, r, &(hp_event){.type = HP_EV_FINISHED, .trial = w->assign.trial, .epoch = w->epoch});
        w->assign.type = 0;
        return 1;
    }
    if (w->interrupt_at && n->epochs_sent >= w->interrupt_at) { /* a signal to this worker */
        push_event(n, 0, r, &(hp_event){.type = HP_EV_INTERRUPTED, .trial = w->assign.trial, .epoch = w->epoch});
        w->gone = 1;
        return 1;
    }
    if (w->fatal_at && n->epochs_sent >= w->fatal_at) {
        hp_event f = hp_event_make(HP_EV_FATAL, -1, 0);
        f.text = "simulated: cannot write the checkpoint";
        push_event(n, 0, r, &f);
        w->assign.type = 0;
        w->fatal_at = 0;
        return 1;
    }
    if (n->garbage_after && n->epochs_sent >= n->garbage_after) {
        const uint8_t junk[20] = "definitely not HPE2";
        push(n, 0, r, junk, sizeof junk);
        n->garbage_after = 0;
        return 1;
    }
    hp_event e = hp_event_make(HP_EV_EPOCH, w->assign.trial, ++w->epoch);
    e.checkpointed = 1;
    for (int c = 0; c < HP_METRIC_COLS; c++)
        e.metrics[c] = NAN;
    e.metrics[HP_COL_VAL_ACCURACY] = curve_value(&w->assign.config, w->epoch);
    push_event(n, 0, r, &e);
    n->epochs_sent++;
    if (w->epoch == w->assign.assign.to_epoch) {
        push_event(n, 0, r, &(hp_event){.type = HP_EV_FINISHED, .trial = w->assign.trial, .epoch = w->epoch});
        w->assign.type = 0;
    }
    return 1;
}

static int net_send(void *ctx, int to, int type, const uint8_t *bytes, size_t size)
{
    network *n = ctx;
    if (to < 1 || to > n->n_workers)
        return HP_ERR("send to endpoint %d", to);
    push(n, to, 0, bytes, size);
    return 0;
}

static int net_wait(void *ctx, int from, int type, int timeout_ms, const volatile sig_atomic_t *stop, int *sender,
                    uint8_t **bytes, size_t *size)
{
    network *n = ctx;
    (void)from, (void)type, (void)timeout_ms;
    for (int round = 0; round < 100000; round++) {
        queue *q = &n->inbox[0];
        if (q->head < q->tail) {
            message m = q->m[q->head++];
            *sender = m.from;
            *bytes = m.bytes;
            *size = m.size;
            return 1;
        }
        if (stop && *stop)
            return 0;
        /* let the workers move, lowest rank with something to do first */
        int moved = 0;
        for (int r = 1; r <= n->n_workers && !moved; r++)
            moved = worker_step(n, r);
        if (!moved)
            return 0; /* a timeout: nothing will ever arrive */
    }
    return 0;
}

/* Round-robin variant: worker (round % n) first, so three workers interleave. */
static int rr_turn;
static int net_wait_rr(void *ctx, int from, int type, int timeout_ms, const volatile sig_atomic_t *stop,
                       int *sender, uint8_t **bytes, size_t *size)
{
    network *n = ctx;
    queue *q = &n->inbox[0];
    for (int round = 0; round < 100000; round++) {
        if (q->head < q->tail)
            return net_wait(ctx, from, type, timeout_ms, stop, sender, bytes, size);
        int moved = 0;
        for (int k = 0; k < n->n_workers && !moved; k++)
            moved = worker_step(n, 1 + (rr_turn++ % n->n_workers));
        if (!moved)
            return 0;
    }
    return 0;
}

static void network_free(network *n)
{
    for (int e = 0; e < MAX_ENDPOINTS; e++)
        for (int i = n->inbox[e].head; i < n->inbox[e].tail; i++)
            free(n->inbox[e].m[i].bytes);
}

/* ----------------------------------------------------------- studies ---- */

static char temp_root[64];
static int dir_counter;

static const char *asha_job =
    "study: {name: asha-curves, seed: 1, metric: val_accuracy}\n"
    "data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}\n"
    "strategy: {name: asha, max_trials: 9, min_epochs: 1, max_epochs: 9, reduction_factor: 3}\n"
    "objective: {type: curves, file: curves.csv}\n"
    "space:\n"
    "  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]}\n";

static char *new_dir(void)
{
    return hp_xasprintf("%s/study%d", temp_root, dir_counter++);
}

static int create_study(hp_study *s, const char *text, const char *dir)
{
    char *job_path = hp_xasprintf("%s/job%d.yaml", temp_root, dir_counter);
    FILE *f = fopen(job_path, "w");
    fputs(text, f);
    fclose(f);
    hp_job job;
    int rc = hp_job_parse(&job, text, job_path);
    if (rc == 0)
        rc = hp_study_create(s, &job, dir);
    if (rc != 0)
        printf("create: %s\n", hp_error_message());
    free(job_path);
    return rc;
}

/* "[t,from,to] ..." of the study's assignments. */
static void assignment_text(const hp_study *s, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n_assignments && used < size; i++) {
        const int32_t *a = s->assignments + (size_t)i * 5;
        used += (size_t)snprintf(buf + used, size - used, "%s[%d,%d,%d]", i ? " " : "", a[0], a[1], a[2]);
    }
}

/* Run a study with n workers through the simulated network. */
static int run_study(hp_study *s, network *n, int n_workers, int resume, int round_robin, hp_coordinator *c)
{
    n->n_workers = n_workers;
    hp_transport t = {.ctx = n, .n_workers = n_workers, .send = net_send,
                      .wait = round_robin ? net_wait_rr : net_wait};
    FILE *devnull = fopen("/dev/null", "w");
    hp_coordinator_init(c, s, n_workers, 1, devnull);
    int rc = hp_coordinator_begin(c, resume);
    if (rc == 0)
        rc = hp_coordinator_run(c, &t, NULL);
    rc = hp_coordinator_finish(c, rc, 0, 1);
    fclose(devnull);
    return rc;
}

static const char *expected_sequence =
    "[0,0,1] [1,0,1] [2,0,1] [2,1,3] [3,0,1] [4,0,1] [4,1,3] [5,0,1] [6,0,1] [7,0,1] [7,1,3] [7,3,9] "
    "[8,0,1] [8,1,3]";

TEST(asha_one_worker_hand_worked_sequence)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    if (create_study(&s, asha_job, dir) != 0) {
        EXPECT(0, "create");
        free(dir);
        free(n);
        return;
    }
    hp_coordinator c;
    int rc = run_study(&s, n, 1, 0, 0, &c);
    char got[2048];
    assignment_text(&s, got, sizeof got);
    EXPECT(rc == 0 && s.finished, "run rc %d finished %d: %s", rc, s.finished, hp_error_message());
    EXPECT(strcmp(got, expected_sequence) == 0, "got %s", got);
    int counts[HP_TRIAL_STATUS_COUNT];
    hp_study_count_status(&s, counts);
    EXPECT(counts[HP_TRIAL_COMPLETED] == 1 && counts[HP_TRIAL_STOPPED] == 8, "completed %d stopped %d",
           counts[HP_TRIAL_COMPLETED], counts[HP_TRIAL_STOPPED]);
    EXPECT(hp_study_best_trial(&s, NULL, NULL) == 7, "best trial %d", hp_study_best_trial(&s, NULL, NULL));
    /* each trial's recorded configuration is the one its assignment carried */
    for (int t = 0; t < s.n_trials; t++)
        EXPECT(fabs(s.trials[t].config.learning_rate - 0.01 * (t + 1)) < 1e-7, "trial %d lr %g", t,
               s.trials[t].config.learning_rate);
    hp_coordinator_release(&c);
    /* the journal replays to the same state */
    hp_study r;
    EXPECT(hp_study_open(&r, dir, 0, 1) == 0, "reopen: %s", hp_error_message());
    char again[2048];
    assignment_text(&r, again, sizeof again);
    EXPECT(strcmp(again, got) == 0 && r.finished && r.n_trials == s.n_trials, "replay differs: %s", again);
    for (int t = 0; t < r.n_trials; t++) {
        EXPECT(hp_strategy_trial_status(r.strategy, t) == hp_strategy_trial_status(s.strategy, t), "status %d", t);
        EXPECT(r.trials[t].n_epochs == s.trials[t].n_epochs &&
                   memcmp(&r.trials[t].config, &s.trials[t].config, sizeof(hp_config)) == 0,
               "trial %d differs after replay", t);
    }
    hp_study_close(&r);
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(dir);
}

TEST(asha_three_workers_every_trial)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    if (create_study(&s, asha_job, dir) != 0) {
        EXPECT(0, "create");
        free(dir);
        free(n);
        return;
    }
    hp_coordinator c;
    int rc = run_study(&s, n, 3, 0, 1, &c);
    int counts[HP_TRIAL_STATUS_COUNT];
    hp_study_count_status(&s, counts);
    EXPECT(rc == 0 && s.finished && s.n_trials == 9, "rc %d finished %d trials %d", rc, s.finished, s.n_trials);
    EXPECT(counts[HP_TRIAL_RUNNING] == 0 && counts[HP_TRIAL_PAUSED] == 0 && counts[HP_TRIAL_COMPLETED] >= 1 &&
               counts[HP_TRIAL_COMPLETED] + counts[HP_TRIAL_STOPPED] == 9,
           "statuses: %d running %d paused %d completed %d stopped", counts[HP_TRIAL_RUNNING],
           counts[HP_TRIAL_PAUSED], counts[HP_TRIAL_COMPLETED], counts[HP_TRIAL_STOPPED]);
    /* three workers were used at once */
    EXPECT(c.n_workers == 3 && n->w[1].started && n->w[2].started && n->w[3].started, "workers");
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(dir);
}

/* Per-trial values at every epoch, for comparing runs. */
static void results_text(const hp_study *s, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < s->n_trials && used < size; t++)
        for (int e = 1; e <= s->trials[t].n_epochs && used < size; e++)
            used += (size_t)snprintf(buf + used, size - used, "%d:%d:%.17g ", t, e, hp_study_value(s, t, e));
}

TEST(signal_to_one_worker_stops_everything_and_resumes)
{
    /* straight run for reference */
    hp_study ref;
    network *n = calloc(1, sizeof *n);
    char *ref_dir = new_dir();
    if (create_study(&ref, asha_job, ref_dir) != 0) {
        EXPECT(0, "create");
        return;
    }
    hp_coordinator c;
    run_study(&ref, n, 2, 0, 1, &c);
    hp_coordinator_release(&c);
    char want[8192];
    results_text(&ref, want, sizeof want);
    network_free(n);
    memset(n, 0, sizeof *n);

    /* worker 2 gets a signal after 5 epochs */
    hp_study s;
    char *dir = new_dir();
    create_study(&s, asha_job, dir);
    n->w[2].interrupt_at = 5;
    rr_turn = 0;
    int rc = run_study(&s, n, 2, 0, 1, &c);
    EXPECT(rc == 0 && c.stop && c.stopped_by == 2 && !s.finished, "rc %d stop %d by %d finished %d", rc, c.stop,
           c.stopped_by, s.finished);
    EXPECT(n->w[1].gone && n->w[2].gone, "every worker was stopped");
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    memset(n, 0, sizeof *n);

    /* resume with one worker: same per-trial results as the straight run */
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0, "resume open: %s", hp_error_message());
    rc = run_study(&s, n, 1, 1, 0, &c);
    char got[8192];
    results_text(&s, got, sizeof got);
    EXPECT(rc == 0 && s.finished && s.n_resumes == 1, "resume rc %d finished %d", rc, s.finished);
    EXPECT(strcmp(got, want) == 0, "results differ:\n got  %s\n want %s", got, want);
    hp_coordinator_release(&c);
    hp_study_close(&s);
    hp_study_close(&ref);
    network_free(n);
    free(n);
    free(dir);
    free(ref_dir);
}

TEST(fatal_worker_error_stops_the_study)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    create_study(&s, asha_job, dir);
    n->w[1].fatal_at = 3;
    hp_coordinator c;
    hp_error_clear();
    int rc = run_study(&s, n, 2, 0, 1, &c);
    EXPECT(rc != 0 && c.fatal && strstr(c.fatal, "worker rank 1") && strstr(c.fatal, "cannot write the checkpoint"),
           "rc %d fatal '%s'", rc, c.fatal ? c.fatal : "(none)");
    EXPECT(strstr(hp_error_message(), "hptune resume"), "the message says how to resume: %s", hp_error_message());
    EXPECT(!s.finished && n->w[2].gone, "the other worker was stopped");
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(dir);
}

TEST(garbage_message_is_an_error_not_a_crash)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    create_study(&s, asha_job, dir);
    n->garbage_after = 2;
    hp_coordinator c;
    hp_error_clear();
    int rc = run_study(&s, n, 1, 0, 0, &c);
    EXPECT(rc != 0 && strstr(hp_error_message(), "rank 1"), "rc %d: %s", rc, hp_error_message());
    hp_coordinator_release(&c);
    hp_study_close(&s);
    /* what was recorded before is intact and the study resumes to the end */
    network_free(n);
    memset(n, 0, sizeof *n);
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0, "reopen: %s", hp_error_message());
    rc = run_study(&s, n, 1, 1, 0, &c);
    char got[2048];
    assignment_text(&s, got, sizeof got);
    EXPECT(rc == 0 && s.finished, "resume rc %d", rc);
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(dir);
}

/* The curves above under the median rule (max, n_startup_trials 2, no
 * warm-up), one worker, trials in order, 4 epochs each:
 *   trials 0, 1: fewer than 2 completed: no decision; trial 2: epoch-1 median
 *   of {.5,.3} .4 < .6; trial 3: median of {.5,.3,.6} .5 > .2: stopped at 1;
 *   trial 4 (.9) goes on; trial 5: median of {.5,.3,.6,.9} .55 > .1: stopped;
 *   trial 6: .55 > .4: stopped; trial 7 (.8, then .95) goes on; trial 8:
 *   epochs 1-2 median of {.5,.3,.6,.9,.8} .6 < .7, epochs 3-4 median of
 *   {.51,.31,.65,.85,.95} .65 < best .75: completed.
 * The worker sees each STOP_TRIAL one epoch late: that report is not recorded. */
static const char *median_job =
    "study: {name: median-curves, seed: 1, metric: val_accuracy}\n"
    "data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}\n"
    "strategy: {name: grid, stopping: median, n_startup_trials: 2}\n"
    "objective: {type: curves, file: curves.csv}\n"
    "space:\n"
    "  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]}\n"
    "fixed: {epochs: 4}\n";

TEST(median_rule_hand_worked_late_reports_ignored)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    if (create_study(&s, median_job, dir) != 0) {
        EXPECT(0, "create");
        free(dir);
        free(n);
        return;
    }
    hp_coordinator c;
    int rc = run_study(&s, n, 1, 0, 0, &c);
    EXPECT(rc == 0 && s.finished && s.n_trials == 9, "rc %d finished %d trials %d", rc, s.finished, s.n_trials);
    char got[256] = "";
    for (int t = 0; t < s.n_trials; t++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d:%s:%d", t ? " " : "", t,
                 hp_trial_status_name(hp_strategy_trial_status(s.strategy, t)), s.trials[t].n_epochs);
    const char *want = "0:completed:4 1:completed:4 2:completed:4 3:stopped:1 4:completed:4 5:stopped:1 "
                       "6:stopped:1 7:completed:4 8:completed:4";
    EXPECT(strcmp(got, want) == 0, "got %s", got);
    EXPECT(s.trials[3].stop_reason == HP_STOP_MEDIAN && s.trials[4].stop_reason == 0, "stop reasons");
    EXPECT(n->epochs_sent == 6 * 4 + 3 * 2, "the worker trained one epoch past each stop (%ld epochs sent)",
           n->epochs_sent);
    hp_coordinator_release(&c);
    hp_study_close(&s);
    /* a resume's replay re-derives every decision (verify) */
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0, "reopen with verification: %s", hp_error_message());
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(dir);
}

/* A budget of 10 epochs, two workers: each finishes the epoch it is in, the
 * run ends as budget reached, and a larger budget completes the study. */
TEST(budget_of_epochs_two_workers)
{
    hp_study s;
    network *n = calloc(1, sizeof *n);
    char *dir = new_dir();
    char *text = hp_xasprintf("study: {name: budget, seed: 1, metric: val_accuracy, max_epochs_total: 10}\n%s",
                        strchr(median_job, '\n') + 1);
    if (create_study(&s, text, dir) != 0) {
        EXPECT(0, "create");
        free(text);
        free(dir);
        free(n);
        return;
    }
    hp_coordinator c;
    rr_turn = 0;
    int rc = run_study(&s, n, 2, 0, 1, &c);
    EXPECT(rc == 3 && s.budget_reached && !s.finished && c.budget_hit, "rc %d budget %d finished %d", rc,
           s.budget_reached, s.finished);
    EXPECT(s.epochs_total >= 10 && s.epochs_total <= 11, "%ld epochs recorded", s.epochs_total);
    EXPECT(n->w[1].gone && n->w[2].gone && !c.stop, "both workers stopped, not as an interruption");
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    memset(n, 0, sizeof *n);
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0 && s.budget_reached, "reopen: %s", hp_error_message());
    hp_event b = hp_event_make(HP_EV_BUDGET, -1, 0);
    EXPECT(hp_study_record(&s, &b) == 0 && s.max_epochs_total == 0, "budget raised");
    rc = run_study(&s, n, 2, 1, 1, &c);
    EXPECT(rc == 0 && s.finished && !s.budget_reached && s.n_trials == 9, "resume rc %d finished %d", rc, s.finished);
    hp_coordinator_release(&c);
    hp_study_close(&s);
    network_free(n);
    free(n);
    free(text);
    free(dir);
}

int main(void)
{
    snprintf(temp_root, sizeof temp_root, "/tmp/hptune-coord.XXXXXX");
    if (!mkdtemp(temp_root)) {
        printf("mkdtemp failed\n");
        return 1;
    }
    RUN(asha_one_worker_hand_worked_sequence);
    RUN(asha_three_workers_every_trial);
    RUN(signal_to_one_worker_stops_everything_and_resumes);
    RUN(fatal_worker_error_stops_the_study);
    RUN(garbage_message_is_an_error_not_a_crash);
    RUN(median_rule_hand_worked_late_reports_ignored);
    RUN(budget_of_epochs_two_workers);
    char *cmd = hp_xasprintf("rm -rf %s", temp_root);
    if (system(cmd) != 0)
        printf("could not remove %s\n", temp_root);
    free(cmd);
    return testlib_finish();
}
