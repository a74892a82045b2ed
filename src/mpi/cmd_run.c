/* cmd_run.c - `hptune run JOB.yaml` and `hptune resume DIR`.
 *
 * Part of the MPI shell (talks to comm.h, never to <mpi.h> directly).
 * Rank 0 reads and validates the job (or opens the study), broadcasts it, and
 * coordinates: it asks the strategy for work whenever a worker is idle, and
 * records every event in the study journal before acting on it.  Ranks
 * 1..N-1 are workers (worker.h).  With one rank the same study runs in this
 * process: the coordinator calls the worker directly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "comm.h"
#include "error.h"
#include "job.h"
#include "study.h"
#include "trainer.h"
#include "worker.h"

#define WORKER_IDLE (-1)
#define WORKER_GONE (-2)
#define WORKER_STARTING (-3)
#define WORKER_FATAL (-4) /* reported a fatal error; waits for STOP */

typedef struct coordinator {
    hp_study *study;
    int n_workers;       /* MPI workers (0: one-process run) */
    int *worker_trial;   /* (n_workers + 1) by rank: trial, WORKER_IDLE, _GONE, _STARTING */
    int running;
    int strategy_done;
    int quiet;
    double start, last_progress, last_sync, last_snapshot;
    long epochs_reported;
    char *fatal;         /* first FATAL message, owned */
} coordinator;

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double elapsed_total(const coordinator *c) { return c->study->elapsed_before + (wall_seconds() - c->start); }

static void format_duration(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

static void print_progress(coordinator *c, int force)
{
    double now = wall_seconds();
    if (c->quiet || (!force && now - c->last_progress < 10.0))
        return;
    c->last_progress = now;
    hp_study *s = c->study;
    int counts[6] = {0};
    for (int i = 0; i < s->n_trials; i++)
        counts[hp_strategy_trial_status(s->strategy, i)]++;
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    char elapsed[32], left[32] = "?";
    format_duration(elapsed_total(c), elapsed, sizeof elapsed);
    hp_strategy_params p;
    hp_strategy_params_from_job(&p, &s->job);
    long worst = hp_strategy_worst_case_epochs(&p);
    long done = 0;
    for (int i = 0; i < s->n_trials; i++)
        done += s->trials[i].n_epochs;
    double run_seconds = now - c->start;
    if (c->epochs_reported > 0 && worst > done)
        format_duration(run_seconds / (double)c->epochs_reported * (double)(worst - done), left, sizeof left);
    else if (worst <= done)
        snprintf(left, sizeof left, "0:00:00");
    printf("[%s] trials %d/%d: %d running, %d paused, %d completed, %d stopped, %d failed | ",
           elapsed, s->n_trials, p.max_trials, counts[HP_TRIAL_RUNNING], counts[HP_TRIAL_PAUSED],
           counts[HP_TRIAL_COMPLETED], counts[HP_TRIAL_STOPPED], counts[HP_TRIAL_FAILED]);
    if (best >= 0) {
        hp_config cfg;
        hp_job_trial_config(&s->job, best, &cfg);
        printf("best %s %.4f (trial %d, epoch %d:", hp_metric_name(s->job.metric), value, best, epoch);
        for (int k = 0; k < s->job.n_params; k++) {
            char v[64];
            hp_config_format_value(s->job.params[k].key, hp_config_get(&cfg, s->job.params[k].key), v, sizeof v);
            printf(" %s=%s", s->job.params[k].key->name, v);
        }
        printf(")");
    } else {
        printf("no results yet");
    }
    printf(" | at most %s left\n", left);
    fflush(stdout);
}

static void housekeeping(coordinator *c, int force)
{
    double now = wall_seconds();
    /* group commit: fsync the journal at most once a second */
    if (force || now - c->last_sync >= 1.0) {
        if (hp_study_sync(c->study) != 0)
            hp_error_print();
        c->last_sync = now;
    }
    if (force || now - c->last_snapshot >= 30.0) {
        if (hp_study_write_snapshot(c->study, elapsed_total(c)) != 0)
            hp_error_print();
        c->last_snapshot = now;
    }
    print_progress(c, 0);
}

/* Apply one message from a worker (rank `from`; 0 in a one-process run). */
static int coordinator_handle(coordinator *c, int from, int tag, const void *data, size_t size)
{
    hp_study *s = c->study;
    switch (tag) {
    case HP_TAG_READY:
        if (c->n_workers)
            c->worker_trial[from] = WORKER_IDLE;
        return 0;
    case HP_TAG_EPOCH: {
        hp_epoch_msg m;
        if (size != sizeof m)
            return HP_ERR("malformed epoch report from rank %d", from);
        memcpy(&m, data, sizeof m);
        c->epochs_reported++;
        return hp_study_epoch(s, m.trial, m.epoch, m.checkpointed, m.values);
    }
    case HP_TAG_DONE: {
        int32_t v[2];
        memcpy(v, data, sizeof v);
        if (c->n_workers) {
            c->worker_trial[from] = WORKER_IDLE;
            c->running--;
        }
        int rc = hp_study_finished(s, v[0], v[1]);
        print_progress(c, hp_strategy_trial_status(s->strategy, v[0]) == HP_TRIAL_COMPLETED);
        return rc;
    }
    case HP_TAG_FAILED: {
        int32_t v[2];
        memcpy(v, data, sizeof v);
        char *reason = hp_xcalloc(size - sizeof v + 1, 1);
        memcpy(reason, (const char *)data + sizeof v, size - sizeof v);
        if (c->n_workers) {
            c->worker_trial[from] = WORKER_IDLE;
            c->running--;
        }
        if (!c->quiet)
            printf("trial %d failed: %s\n", v[0], reason);
        int rc = hp_study_failed(s, v[0], reason);
        free(reason);
        return rc;
    }
    case HP_TAG_FATAL: {
        char *msg = hp_xcalloc(size + 1, 1);
        memcpy(msg, data, size);
        if (!c->fatal)
            c->fatal = hp_xasprintf("worker rank %d: %s", from, msg);
        free(msg);
        if (c->n_workers) {
            if (c->worker_trial[from] >= 0)
                c->running--;
            c->worker_trial[from] = WORKER_FATAL;
        }
        return 0;
    }
    case HP_TAG_INTERRUPTED:
        if (c->n_workers) {
            if (c->worker_trial[from] >= 0)
                c->running--;
            c->worker_trial[from] = WORKER_GONE;
        }
        return 0;
    default:
        return HP_ERR("unexpected message tag %d from rank %d", tag, from);
    }
}

/* Ask the strategy for the next assignment; journal it. 1 = got one. */
static int next_assignment(coordinator *c, hp_assignment *a)
{
    hp_next n = hp_study_next(c->study, a);
    if (n == HP_NEXT_DONE)
        c->strategy_done = 1;
    if (n != HP_NEXT_START)
        return 0;
    /* continue from the trial's newest checkpoint (after an interruption) */
    int ck = a->trial < c->study->n_trials ? c->study->trials[a->trial].checkpoint_epoch : 0;
    if (ck > a->from_epoch && ck <= a->to_epoch)
        a->from_epoch = ck;
    if (hp_study_assign(c->study, a) != 0)
        return -1;
    return 1;
}

static void print_final(coordinator *c, const char *dir, double elapsed_seconds)
{
    hp_study *s = c->study;
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    char elapsed[32];
    format_duration(elapsed_seconds, elapsed, sizeof elapsed);
    printf("study %s finished in %s: %d trials", s->job.name, elapsed, s->n_trials);
    if (c->n_workers > 0) { /* what the coordinator itself cost: it must not take a core */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                     (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        double wall = wall_seconds() - c->start;
        printf(" (coordinator CPU %.1f s over %.0f s, %.1f%% of a core)", cpu, wall,
               wall > 0 ? 100.0 * cpu / wall : 0.0);
    }
    if (best >= 0) {
        printf("; best trial %d: %s %.4f after %d epochs\n", best, hp_metric_name(s->job.metric), value, epoch);
        printf("results: hptune status %s | hptune export %s --format csv | retrain: hptune train %s/best.yaml\n",
               dir, dir, dir);
    } else {
        printf("; no trial produced a result\n");
    }
}

/* Evaluate the best trial's best (or last) checkpoint on the test set. */
static void evaluate_best_on_test(coordinator *c)
{
    hp_study *s = c->study;
    if (!s->job.test_eval || s->job.objective != HP_OBJECTIVE_TRAIN)
        return;
    int best = hp_study_best_trial(s, NULL, NULL);
    if (best < 0)
        return;
    char *path = hp_study_checkpoint_path(s, best, "best");
    if (access(path, F_OK) != 0) {
        free(path);
        path = hp_study_checkpoint_path(s, best, "last");
    }
    hp_config config;
    int epoch;
    hp_dataset test = {0};
    hp_trainer t;
    int ready = 0;
    if (hp_checkpoint_read_config(path, &config, &epoch, NULL) != 0 ||
        hp_dataset_load_test(&test, s->job.data_path) != 0)
        goto fail;
    if (hp_trainer_init(&t, &config, &test, &test) != 0)
        goto fail;
    ready = 1;
    if (hp_checkpoint_load_weights(&t, path) != 0)
        goto fail;
    hp_eval ev;
    hp_trainer_evaluate(&t, &test, &ev);
    printf("test set (best trial %d, checkpoint at epoch %d; reported apart from the validation metric "
           "that selected it): accuracy %.4f loss %.4f F1 %.4f (%d images)\n",
           best, epoch, ev.accuracy, ev.loss, ev.f1, test.n);
    goto out;
fail:
    fprintf(stderr, "hptune: warning: test-set evaluation skipped: %s\n", hp_error_message());
out:
    if (ready)
        hp_trainer_release(&t);
    hp_dataset_release(&test);
    free(path);
}

/* ------------------------------------------------ one-process run --- */

static int local_report(void *ctx, int tag, const void *data, size_t size)
{
    coordinator *c = ctx;
    if (coordinator_handle(c, 0, tag, data, size) != 0) {
        hp_error_print();
        return -1;
    }
    housekeeping(c, 0);
    return 0;
}

static int local_should_stop(void *ctx) { return hp_stop_requested != 0; }

static int run_serial(coordinator *c)
{
    hp_worker w = {.report = local_report, .report_ctx = c, .should_stop = local_should_stop};
    if (hp_worker_init(&w, &c->study->job, c->study->dir) != 0)
        return -1;
    int rc = 0;
    while (!hp_stop_requested) {
        hp_assignment a;
        int got = next_assignment(c, &a);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (!got)
            break; /* DONE (WAIT cannot happen with nothing running) */
        hp_work_result r = hp_worker_run(&w, &a);
        if (r == HP_WORK_FATAL) {
            c->fatal = hp_xstrdup(hp_error_message());
            break;
        }
        if (r == HP_WORK_INTERRUPTED)
            break;
    }
    hp_worker_release(&w);
    return rc;
}

/* ------------------------------------------------------ MPI roles --- */

static int coordinator_wait_and_handle(coordinator *c, const volatile sig_atomic_t *stop, int timeout_ms)
{
    int from, tag;
    void *data;
    size_t size;
    int got = hp_comm_wait(-1, -1, &from, &tag, &data, &size, stop, timeout_ms);
    if (got < 0)
        return -1;
    if (got == 0)
        return 0;
    int rc = coordinator_handle(c, from, tag, data, size);
    free(data);
    return rc;
}

/* Ask every worker still there to stop; wait (bounded) until each has said
 * it checkpointed, recording the reports that arrive meanwhile. */
static void stop_workers(coordinator *c, int reason, double timeout_s)
{
    int32_t why = reason;
    for (int r = 1; r <= c->n_workers; r++)
        if (c->worker_trial[r] != WORKER_GONE)
            hp_comm_send(r, HP_TAG_STOP, &why, sizeof why);
    if (reason == 0)
        return; /* finished: workers are idle and simply exit */
    double deadline = wall_seconds() + timeout_s;
    for (;;) {
        int left = 0; /* workers that may still send reports */
        for (int r = 1; r <= c->n_workers; r++)
            left += c->worker_trial[r] != WORKER_GONE && c->worker_trial[r] != WORKER_FATAL;
        if (!left || wall_seconds() > deadline)
            break;
        if (coordinator_wait_and_handle(c, NULL, 500) < 0)
            hp_error_print();
    }
}

static int run_coordinator(coordinator *c)
{
    c->worker_trial = hp_xcalloc((size_t)c->n_workers + 1, sizeof(int));
    for (int r = 1; r <= c->n_workers; r++)
        c->worker_trial[r] = WORKER_STARTING;
    int rc = 0;
    for (;;) {
        if (c->fatal || hp_stop_requested)
            break;
        /* hand work to idle workers */
        for (int r = 1; r <= c->n_workers && !c->strategy_done; r++) {
            if (c->worker_trial[r] != WORKER_IDLE)
                continue;
            hp_assignment a;
            int got = next_assignment(c, &a);
            if (got < 0) {
                rc = -1;
                break;
            }
            if (!got)
                break;
            int32_t msg[5] = {a.trial, a.from_epoch, a.to_epoch, a.bracket, a.rung};
            if (hp_comm_send(r, HP_TAG_ASSIGN, msg, sizeof msg) != 0) {
                rc = -1;
                break;
            }
            c->worker_trial[r] = a.trial;
            c->running++;
        }
        if (rc != 0)
            break; /* stop the workers below: they must not wait forever */
        if (c->strategy_done && c->running == 0)
            break;
        int any_worker = 0;
        for (int r = 1; r <= c->n_workers; r++)
            any_worker += c->worker_trial[r] != WORKER_GONE && c->worker_trial[r] != WORKER_FATAL;
        if (!any_worker) {
            rc = HP_ERR("every worker has stopped");
            break;
        }
        if (coordinator_wait_and_handle(c, &hp_stop_requested, 1000) < 0) {
            rc = -1;
            break;
        }
        housekeeping(c, 0);
    }
    if (rc != 0 || c->fatal || hp_stop_requested)
        stop_workers(c, 1, 120.0);
    else
        stop_workers(c, 0, 0);
    return rc;
}

typedef struct worker_ctx {
    int stop_received;
} worker_ctx;

static int mpi_report(void *ctx, int tag, const void *data, size_t size)
{
    return hp_comm_send(0, tag, data, size);
}

/* Asked at every batch boundary: a local signal, or a STOP from rank 0. */
static int worker_should_stop(void *ctx)
{
    worker_ctx *wc = ctx;
    if (hp_stop_requested || wc->stop_received)
        return 1;
    int from, tag;
    void *data;
    size_t size;
    if (hp_comm_wait(0, HP_TAG_STOP, &from, &tag, &data, &size, NULL, 0) == 1) {
        free(data);
        wc->stop_received = 1;
    }
    return wc->stop_received;
}

static int run_worker(const hp_job *job, const char *dir, int verbose)
{
    worker_ctx wc = {0};
    hp_worker w = {.report = mpi_report, .should_stop = worker_should_stop, .stop_ctx = &wc, .verbose = verbose};
    int loaded = hp_worker_init(&w, job, dir) == 0;
    if (!loaded) {
        const char *msg = hp_error_message();
        hp_comm_send(0, HP_TAG_FATAL, msg, strlen(msg));
    } else {
        hp_comm_send(0, HP_TAG_READY, NULL, 0);
    }
    for (;;) {
        int from, tag;
        void *data;
        size_t size;
        int got = hp_comm_wait(0, -1, &from, &tag, &data, &size, loaded ? &hp_stop_requested : NULL, -1);
        if (got < 0)
            break;
        if (got == 0) { /* a signal while idle */
            int32_t msg[3] = {-1, 0, 0};
            hp_comm_send(0, HP_TAG_INTERRUPTED, msg, sizeof msg);
            break;
        }
        if (tag == HP_TAG_STOP) {
            free(data);
            if (loaded) {
                int32_t msg[3] = {-1, 0, 0};
                hp_comm_send(0, HP_TAG_INTERRUPTED, msg, sizeof msg);
            }
            break;
        }
        if (tag != HP_TAG_ASSIGN || size != 5 * sizeof(int32_t) || !loaded) {
            free(data);
            continue;
        }
        int32_t v[5];
        memcpy(v, data, sizeof v);
        free(data);
        hp_assignment a = {.trial = v[0], .from_epoch = v[1], .to_epoch = v[2], .bracket = v[3], .rung = v[4]};
        hp_work_result r = hp_worker_run(&w, &a);
        if (r == HP_WORK_INTERRUPTED)
            break;
        if (r == HP_WORK_FATAL)
            loaded = 0; /* wait for STOP */
        /* DONE and FAILED tell rank 0 this worker is idle again */
    }
    hp_worker_release(&w);
    return 0;
}

/* ------------------------------------------------------------ command --- */

/* For `hptune bench` (which sets HPTUNE_PRINT_RSS): rank 0's peak resident
 * memory, "hptune-rss-kb: <VmHWM>", on stdout at the end of a run. */
static void print_peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    printf("hptune-rss-kb: %ld\n", kb);
    fflush(stdout);
}

static void run_usage(FILE *f, int resume)
{
    if (resume)
        fprintf(f, "usage: [mpirun -np N] hptune resume DIR [--allow-job-change] [--quiet] [--verbose]\n\n"
                   "Continues an interrupted study: running trials restart from their last checkpoint,\n"
                   "finished trials are kept, the strategy continues from its recorded state. N may\n"
                   "differ from the original run.\n");
    else
        fprintf(f, "usage: [mpirun -np N] hptune run JOB.yaml [--out DIR] [--quiet] [--verbose]\n\n"
                   "Runs a study: rank 0 coordinates, ranks 1..N-1 train. Without mpirun the study\n"
                   "runs in this one process. Results go to DIR (default runs/<study name>).\n");
}

int cmd_run(int argc, char **argv)
{
    int resume = !strcmp(argv[0], "resume");
    const char *target = NULL, *out_dir = NULL;
    int quiet = 0, verbose = 0, allow_job_change = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout, resume);
            return 0;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--verbose")) {
            verbose = 1;
        } else if (!resume && !strcmp(argv[i], "--out") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (resume && !strcmp(argv[i], "--allow-job-change")) {
            allow_job_change = 1;
        } else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "hptune: error: %s: unknown option, missing value or extra argument '%s'; "
                            "see 'hptune %s --help'\n", argv[0], argv[i], argv[0]);
            return 2;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        run_usage(stderr, resume);
        return 2;
    }

    int rank = 0, size = 1;
    /* before MPI_Init, so a signal during start-up is a request to stop, not
       death; again after it, in case the MPI library installed its own */
    hp_signals_install();
    if (hp_comm_init(&argc, &argv, &rank, &size) != 0) {
        hp_error_print();
        return 1;
    }
    hp_signals_install();

    /* Rank 0 validates; everyone learns the outcome from one broadcast. */
    hp_study study;
    memset(&study, 0, sizeof study);
    study.journal_fd = -1;
    int status = 0; /* 0 ok, 1 error, 3 already finished */
    char *job_text = NULL, *job_path = NULL, *dir = NULL;
    if (rank == 0) {
        if (resume) {
            if (hp_study_open(&study, target, allow_job_change, 0) != 0)
                status = 1;
            else if (study.finished)
                status = 3;
        } else {
            hp_job job;
            if (hp_job_load(&job, target) != 0) {
                status = 1;
            } else {
                char *d = out_dir ? hp_xstrdup(out_dir) : hp_xasprintf("runs/%s", job.name);
                if (hp_study_create(&study, &job, d) != 0)
                    status = 1;
                free(d);
                if (status)
                    hp_job_release(&job);
            }
        }
        if (status == 1)
            hp_error_print();
        if (status == 0) {
            job_text = hp_xstrdup(study.job.text);
            job_path = hp_xstrdup(study.job.path);
            dir = hp_xstrdup(study.dir);
        }
    }
    status = hp_comm_bcast_text(&job_text, status);
    hp_comm_bcast_text(&job_path, status);
    hp_comm_bcast_text(&dir, status);
    if (status != 0) {
        if (rank == 0 && status == 3) {
            printf("study %s in %s is already finished (%d trials); see 'hptune status %s'\n",
                   study.job.name, study.dir, study.n_trials, study.dir);
            hp_study_close(&study);
        }
        free(job_text);
        free(job_path);
        free(dir);
        hp_comm_finalize();
        return status == 3 ? 0 : 1;
    }

    int rc = 0;
    if (rank == 0) {
        coordinator c = {.study = &study, .n_workers = size - 1, .quiet = quiet};
        c.start = c.last_progress = c.last_sync = c.last_snapshot = wall_seconds();
        if (resume && hp_study_mark_resume(&study) != 0)
            rc = -1;
        if (!quiet) {
            hp_strategy_params p;
            hp_strategy_params_from_job(&p, &study.job);
            printf("hptune %s: study %s, strategy %s, %d trial(s) at most, %d worker%s%s; results in %s\n",
                   resume ? "resume" : "run", study.job.name,
                   study.job.strategy == HP_STRATEGY_GRID ? "grid" : study.job.strategy == HP_STRATEGY_RANDOM ? "random" : "asha",
                   p.max_trials, size > 1 ? size - 1 : 1, size > 1 ? "s" : "",
                   size > 1 ? "" : " (one process)", study.dir);
            fflush(stdout);
        }
        if (rc == 0)
            rc = size > 1 ? run_coordinator(&c) : run_serial(&c);
        if (rc != 0)
            hp_error_print();
        int interrupted = hp_stop_requested || c.fatal || rc != 0;
        double elapsed = elapsed_total(&c);
        if (!interrupted && c.strategy_done) {
            hp_study_mark_finished(&study, elapsed);
        } else {
            hp_study_mark_elapsed(&study, elapsed);
        }
        if (hp_study_write_snapshot(&study, elapsed) != 0 || hp_study_write_best_yaml(&study) != 0) {
            hp_error_print();
            rc = -1;
        }
        if (c.fatal) {
            hp_errorf("%s; the study was saved: fix the problem and continue with 'hptune resume %s' "
                      "(add --allow-job-change if you edit the job file)", c.fatal, study.dir);
            hp_error_print();
            rc = -1;
        } else if (interrupted && rc == 0) {
            printf("interrupted at %d trials (%s); study saved. Resume with: %shptune resume %s\n",
                   study.n_trials, hp_stop_signal ? "signal" : "stopped",
                   size > 1 ? "mpirun -np N " : "", study.dir);
        } else if (rc == 0) {
            print_final(&c, study.dir, elapsed);
            evaluate_best_on_test(&c);
        }
        free(c.fatal);
        free(c.worker_trial);
        if (getenv("HPTUNE_PRINT_RSS"))
            print_peak_rss();
        hp_study_close(&study);
    } else {
        hp_job job;
        if (hp_job_parse(&job, job_text, job_path) != 0) {
            hp_error_print();
            rc = -1;
        } else {
            rc = run_worker(&job, dir, verbose);
            hp_job_release(&job);
        }
    }
    free(job_text);
    free(job_path);
    free(dir);
    hp_comm_finalize();
    return rc == 0 ? 0 : 1;
}
