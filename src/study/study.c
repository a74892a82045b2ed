/* study.c - a study's state as the fold of its events (see study.h). */
#include "study.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "h5util.h"
#include "stopping.h"

/* ------------------------------------------------------------ helpers --- */

static hp_trial_record *trial_record(hp_study *s, int trial)
{
    if (trial >= s->capacity) {
        int cap = s->capacity ? s->capacity : 64;
        while (cap <= trial)
            cap *= 2;
        s->trials = hp_xrealloc(s->trials, (size_t)cap * sizeof *s->trials);
        memset(s->trials + s->capacity, 0, (size_t)(cap - s->capacity) * sizeof *s->trials);
        s->capacity = cap;
    }
    if (trial >= s->n_trials)
        s->n_trials = trial + 1;
    return &s->trials[trial];
}

char *hp_study_trial_dir(const hp_study *s, int trial)
{
    return hp_xasprintf("%s/trials/trial_%05d", s->dir, trial);
}

char *hp_study_checkpoint_path(const hp_study *s, int trial, const char *which)
{
    return hp_xasprintf("%s/trials/trial_%05d/%s.h5", s->dir, trial, which);
}

static char *path_join(const char *dir, const char *name) { return hp_xasprintf("%s/%s", dir, name); }

static int mkdir_p(const char *path)
{
    char *copy = hp_xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(copy);
            return HP_ERR("%s: cannot create the directory: %s", path, strerror(e));
        }
        *p = '/';
    }
    int rc = 0;
    if (mkdir(copy, 0777) != 0 && errno != EEXIST)
        rc = HP_ERR("%s: cannot create the directory: %s", path, strerror(errno));
    free(copy);
    return rc;
}

/* Do two configurations hold the same value for every key? */
static int same_config(const hp_config *a, const hp_config *b)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    for (size_t k = 0; k < n_keys; k++)
        if (hp_config_get(a, &keys[k]) != hp_config_get(b, &keys[k]))
            return 0;
    return 1;
}

/* A trial an event may name: one that has been assigned. */
static int known_trial(const hp_study *s, const hp_event *e)
{
    if (e->trial < 0 || e->trial >= s->n_trials || e->trial >= hp_strategy_num_trials(s->strategy))
        return HP_ERR("a %s event for trial %d, which has not been assigned (%d trials)",
                      hp_event_type_name(e->type), e->trial, s->n_trials);
    return 0;
}

/* ---------------------------------------------------------- applying --- */

static int apply_assign(hp_study *s, const hp_event *e)
{
    const hp_assignment *a = &e->assign;
    if (a->trial != e->trial || a->from_epoch < 0 || a->from_epoch >= a->to_epoch)
        return HP_ERR("a malformed assignment: trial %d, epochs [%d, %d)", a->trial, a->from_epoch, a->to_epoch);
    if (s->verify) {
        hp_event want;
        hp_next n = hp_study_next(s, &want);
        if (n != HP_NEXT_START || want.assign.trial != a->trial || want.assign.to_epoch != a->to_epoch ||
            want.assign.rung != a->rung || !same_config(&want.config, &e->config)) {
            char got_text[512], want_text[512];
            hp_study_format_space(s, &e->config, got_text, sizeof got_text);
            hp_study_format_space(s, &want.config, want_text, sizeof want_text);
            if (n != HP_NEXT_START)
                return HP_ERR("trial %d was assigned epochs [%d, %d) (%s), but the strategy has no work to "
                              "give at this point (%s)", a->trial, a->from_epoch, a->to_epoch, got_text,
                              n == HP_NEXT_WAIT ? "it waits for results" : "it is done");
            return HP_ERR("trial %d was assigned epochs [%d, %d) (%s), but the strategy's decision at this "
                          "point is trial %d to epoch %d (%s)", a->trial, a->from_epoch, a->to_epoch, got_text,
                          want.assign.trial, want.assign.to_epoch, want_text);
        }
    }
    int exists = a->trial < s->n_trials;
    if (exists && !same_config(&s->trials[a->trial].config, &e->config))
        return HP_ERR("trial %d is assigned with a configuration other than the one it started with", a->trial);
    if (hp_strategy_assigned(s->strategy, a, &e->config) != 0)
        return -1;
    if (s->n_assignments == s->assignments_capacity) {
        s->assignments_capacity = s->assignments_capacity ? 2 * s->assignments_capacity : 256;
        s->assignments = hp_xrealloc(s->assignments, (size_t)s->assignments_capacity * 5 * sizeof(int32_t));
    }
    int32_t *row = s->assignments + (size_t)s->n_assignments++ * 5;
    row[0] = a->trial;
    row[1] = a->from_epoch;
    row[2] = a->to_epoch;
    row[3] = a->bracket;
    row[4] = a->rung;
    hp_trial_record *r = trial_record(s, a->trial);
    if (!exists) {
        r->config = e->config;
        r->start_time = e->time;
    }
    r->assigned_from = a->from_epoch;
    r->assigned_to = a->to_epoch;
    return 0;
}

static int apply_epoch(hp_study *s, const hp_event *e)
{
    if (known_trial(s, e) != 0)
        return -1;
    int epoch = e->epoch;
    if (epoch < 1 || epoch > 10000000)
        return HP_ERR("an epoch report for trial %d with epoch %d", e->trial, epoch);
    hp_trial_record *r = &s->trials[e->trial];
    if (epoch > r->capacity) {
        int cap = r->capacity ? r->capacity : 8;
        while (cap < epoch)
            cap *= 2;
        r->epochs = hp_xrealloc(r->epochs, (size_t)cap * sizeof *r->epochs);
        r->epoch_times = hp_xrealloc(r->epoch_times, (size_t)cap * sizeof *r->epoch_times);
        for (int i = r->capacity; i < cap; i++) {
            for (int c = 0; c < HP_METRIC_COLS; c++)
                r->epochs[i].values[c] = NAN;
            r->epoch_times[i] = 0;
        }
        r->capacity = cap;
    }
    if (epoch > r->n_epochs)
        s->epochs_total += epoch - r->n_epochs;
    memcpy(r->epochs[epoch - 1].values, e->metrics, sizeof r->epochs[0].values);
    r->epoch_times[epoch - 1] = e->time;
    if (epoch > r->n_epochs)
        r->n_epochs = epoch;
    if (e->checkpointed && epoch > r->checkpoint_epoch)
        r->checkpoint_epoch = epoch;
    hp_strategy_report(s->strategy, e->trial, epoch, e->metrics[hp_metric_column(s->job.metric)]);
    return 0;
}

static int apply_end(hp_study *s, const hp_event *e)
{
    s->elapsed_before = e->seconds;
    s->run_open = 0;
    s->budget_reached = e->flag == HP_ENDED_BUDGET;
    if (e->flag != HP_ENDED_FINISHED)
        return 0;
    if (s->verify) {
        hp_event next;
        if (hp_study_next(s, &next) != HP_NEXT_DONE)
            return HP_ERR("the study is recorded as finished but the strategy has work left");
    }
    hp_strategy_end(s->strategy);
    s->finished = 1;
    return 0;
}

static int apply_stop_trial(hp_study *s, const hp_event *e)
{
    if (known_trial(s, e) != 0)
        return -1;
    hp_trial_record *r = &s->trials[e->trial];
    if (e->flag != HP_STOP_EARLY && e->flag != HP_STOP_MEDIAN)
        return HP_ERR("a stop-trial event for trial %d with reason %d", e->trial, e->flag);
    if (hp_strategy_trial_status(s->strategy, e->trial) != HP_TRIAL_RUNNING || e->epoch != r->n_epochs)
        return HP_ERR("trial %d is stopped at epoch %d, but it is %s with %d epochs recorded", e->trial, e->epoch,
                      hp_trial_status_name(hp_strategy_trial_status(s->strategy, e->trial)), r->n_epochs);
    if (s->verify) {
        int want = hp_study_stop_decision(s, e->trial);
        if (want != e->flag)
            return HP_ERR("trial %d was stopped at epoch %d (%s), but the stopping rules decide %s there",
                          e->trial, e->epoch, e->flag == HP_STOP_EARLY ? "early stopping" : "median rule",
                          want == HP_STOP_EARLY ? "early stopping" : want == HP_STOP_MEDIAN ? "the median rule"
                                                                                          : "to go on");
    }
    r->stop_reason = e->flag;
    r->end_time = e->time;
    hp_strategy_stop_trial(s->strategy, e->trial, e->epoch, hp_study_value(s, e->trial, e->epoch),
                           e->flag == HP_STOP_EARLY);
    return 0;
}

int hp_study_stop_decision(const hp_study *s, int trial)
{
    const hp_job_stopping *st = &s->job.stopping;
    if ((!st->early && !st->median) || trial < 0 || trial >= s->n_trials ||
        hp_strategy_trial_status(s->strategy, trial) != HP_TRIAL_RUNNING)
        return 0;
    const hp_trial_record *r = &s->trials[trial];
    int n = r->n_epochs;
    if (n < 1)
        return 0;
    double *values = hp_xcalloc((size_t)n, sizeof *values);
    for (int e = 1; e <= n; e++)
        values[e - 1] = hp_study_value(s, trial, e);
    int decision = 0;
    /* early stopping at the trial's last epoch would change nothing */
    if (st->early && n < r->assigned_to && hp_early_stop(values, n, s->job.maximize, st->patience, st->min_delta))
        decision = HP_STOP_EARLY;
    if (!decision && st->median) {
        double *at_step = hp_xcalloc((size_t)s->n_trials + 1, sizeof *at_step);
        int n_completed = 0, n_reached = 0;
        for (int i = 0; i < s->n_trials; i++) {
            if (i == trial || hp_strategy_trial_status(s->strategy, i) != HP_TRIAL_COMPLETED)
                continue;
            n_completed++;
            if (s->trials[i].n_epochs >= n)
                at_step[n_reached++] = hp_study_value(s, i, n);
        }
        hp_median_rule rule = {.n_startup_trials = st->n_startup_trials, .n_warmup_steps = st->n_warmup_epochs,
                               .interval_steps = st->interval_epochs, .n_min_trials = st->n_min_trials};
        if (hp_median_stop(&rule, values, n, at_step, n_reached, n_completed, s->job.maximize))
            decision = HP_STOP_MEDIAN;
        free(at_step);
    }
    free(values);
    return decision;
}

int hp_study_budget_reached(const hp_study *s, double elapsed)
{
    if (s->max_epochs_total > 0 && s->epochs_total >= s->max_epochs_total)
        return 1;
    return s->max_time > 0 && elapsed >= 0 && elapsed >= s->max_time;
}

int hp_study_apply(hp_study *s, const hp_event *e)
{
    switch (e->type) {
    case HP_EV_ASSIGN:
        return apply_assign(s, e);
    case HP_EV_EPOCH:
        return apply_epoch(s, e);
    case HP_EV_FINISHED:
        if (known_trial(s, e) != 0)
            return -1;
        s->trials[e->trial].end_time = e->time;
        hp_strategy_finished(s->strategy, e->trial, e->epoch);
        return 0;
    case HP_EV_FAILED: {
        if (known_trial(s, e) != 0)
            return -1;
        hp_trial_record *r = &s->trials[e->trial];
        r->end_time = e->time;
        free(r->failure);
        r->failure = hp_xstrdup(e->text ? e->text : "");
        hp_strategy_failed(s->strategy, e->trial);
        return 0;
    }
    case HP_EV_RUN:
        /* a run begins; after the first, trials left running are re-issued */
        hp_strategy_requeue_running(s->strategy);
        if (s->n_runs++ > 0)
            s->n_resumes++;
        s->run_open = 1;
        s->n_workers = e->flag;
        s->budget_reached = 0;
        return 0;
    case HP_EV_STOP_TRIAL:
        return apply_stop_trial(s, e);
    case HP_EV_BUDGET:
        if (e->seconds < 0 || !(e->seconds == e->seconds) || e->epoch < 0)
            return HP_ERR("a budget event with max_time %g and max_epochs_total %d", e->seconds, e->epoch);
        s->max_time = e->seconds;
        s->max_epochs_total = e->epoch;
        return 0;
    case HP_EV_ENDED:
        return apply_end(s, e);
    case HP_EV_RESTARTED: {
        if (known_trial(s, e) != 0)
            return -1;
        hp_trial_record *r = &s->trials[e->trial];
        r->restarts++;
        free(r->restart_note);
        r->restart_note = hp_xstrdup(e->text ? e->text : "");
        return 0;
    }
    case HP_EV_TEST: {
        if (known_trial(s, e) != 0)
            return -1;
        hp_study_test *t = &s->test;
        free(t->note);
        *t = (hp_study_test){.recorded = 1, .trial = e->trial, .epoch = e->epoch, .images = e->batch,
                             .loss = e->metrics[HP_COL_VAL_LOSS], .accuracy = e->metrics[HP_COL_VAL_ACCURACY],
                             .precision = e->metrics[HP_COL_VAL_PRECISION],
                             .recall = e->metrics[HP_COL_VAL_RECALL], .f1 = e->metrics[HP_COL_VAL_F1],
                             .note = hp_xstrdup(e->text ? e->text : "")};
        return 0;
    }
    default:
        return HP_ERR("a %s event is not part of a study's record", hp_event_type_name(e->type));
    }
}

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int hp_study_record(hp_study *s, const hp_event *event)
{
    hp_event stamped = *event;
    if (stamped.time == 0)
        stamped.time = unix_now();
    const hp_event *e = &stamped;
    uint8_t *bytes;
    size_t size = hp_event_encode(e, &bytes);
    int rc = hp_journal_append(&s->journal, bytes, size);
    free(bytes);
    if (rc != 0)
        return -1;
    s->n_events++;
    if (hp_study_apply(s, e) != 0) {
        hp_error_prefix("%s/study.journal: event %ld", s->dir, s->n_events - 1);
        return -1;
    }
    return 0;
}

int hp_study_sync(hp_study *s) { return hp_journal_sync(&s->journal); }

hp_next hp_study_next(const hp_study *s, hp_event *assign)
{
    *assign = hp_event_make(HP_EV_ASSIGN, -1, 0);
    hp_next n = hp_strategy_propose(s->strategy, &assign->assign, &assign->config);
    if (n != HP_NEXT_START)
        return n;
    hp_assignment *a = &assign->assign;
    assign->trial = a->trial;
    /* continue from the trial's newest checkpoint (after an interruption) */
    int ck = a->trial < s->n_trials ? s->trials[a->trial].checkpoint_epoch : 0;
    if (ck > a->from_epoch && ck < a->to_epoch)
        a->from_epoch = ck;
    return n;
}

/* ------------------------------------------------------ create / open --- */

static int make_strategy(hp_study *s)
{
    hp_strategy_params p;
    hp_strategy_params_from_job(&p, &s->job);
    s->strategy = hp_strategy_create(&p);
    s->max_time = s->job.max_time;
    s->max_epochs_total = s->job.max_epochs_total;
    return s->strategy ? 0 : -1;
}

static void study_init(hp_study *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    s->journal.fd = -1;
    s->lock.fd = -1;
    s->dir = hp_xstrdup(dir);
}

/* Write `text` to path under a temporary name and rename it into place. */
static int write_text_file(const char *path, const char *text)
{
    char *temp = hp_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(temp, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
        if (f)
            fclose(f);
    } else if (fclose(f) != 0) {
        rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
    } else if (rename(temp, path) != 0) {
        rc = HP_ERR("%s: cannot rename into place: %s", path, strerror(errno));
    }
    if (rc)
        unlink(temp);
    free(temp);
    return rc;
}

int hp_study_create(hp_study *s, hp_job *job, const char *dir)
{
    study_init(s, dir);
    char *journal = path_join(dir, "study.journal");
    char *job_copy = path_join(dir, "job.yaml");
    char *trials = path_join(dir, "trials");
    uint8_t *record = NULL;
    int rc = -1;
    if (dir[0] == '\0') {
        HP_ERR("the output directory is empty; give a directory with --out DIR (or output.dir)");
        goto out;
    }
    /* the lock first: of two runs started at once on one directory, one
       creates the study and the other is refused with who holds it */
    if (mkdir_p(trials) != 0 || hp_study_lock_acquire(&s->lock, dir) != 0)
        goto out;
    if (access(journal, F_OK) == 0) {
        HP_ERR("%s already holds a study; continue it with 'hptune resume %s', or choose another "
               "directory with --out", dir, dir);
        goto out;
    }
    s->job = *job;
    memset(job, 0, sizeof *job);
    if (make_strategy(s) != 0 || write_text_file(job_copy, s->job.text) != 0)
        goto out;
    /* the job file's absolute path: a resume from another folder still
       finds it (to notice edits) and resolves data.path the same way */
    char *abs_job = realpath(s->job.path, NULL);
    if (abs_job) {
        free(s->job.path);
        s->job.path = abs_job;
    }
    size_t size = hp_event_encode_job(s->job.path, s->job.text, &record);
    if (hp_journal_create(&s->journal, journal, record, size) != 0)
        goto out;
    s->n_events = 1;
    s->live = 1;
    rc = 0;
out:
    if (rc != 0)
        hp_study_close(s); /* a failed create leaves nothing allocated */
    free(record);
    free(journal);
    free(job_copy);
    free(trials);
    return rc;
}

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = hp_xcalloc(cap, 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = hp_xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* study.h5 is rebuilt from the journal, but a damaged one means something
 * went wrong on this file system: say so instead of silently replacing it. */
static int check_snapshot(const char *dir)
{
    char *path = path_join(dir, "study.h5");
    int rc = 0;
    if (access(path, F_OK) == 0) {
        h5u_quiet();
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        char format[64] = "";
        if (f < 0 || h5u_read_attr_string(f, "format", format, sizeof format) != 0 ||
            strcmp(format, "hptune-study") != 0)
            rc = HP_ERR("%s is corrupt or truncated (%s); it is a snapshot of study.journal: move it "
                        "away and run the command again to rebuild it", path,
                        f < 0 ? "not a readable HDF5 file" : "not an hptune study snapshot");
        if (f >= 0)
            H5Fclose(f);
    }
    free(path);
    return rc;
}

/* The first record: the job, in this journal format. */
static int open_job_record(hp_study *s, const hp_journal_contents *c, const char *journal, int allow_job_change,
                           hp_event *job_event, int *job_changed)
{
    static const uint8_t old_magic[4] = {'H', 'P', 'J', '1'};
    if (c->size >= 4 && memcmp(c->data, old_magic, 4) == 0)
        return HP_ERR("%s was written by hptune 0.1 (journal format version 1); this hptune reads format "
                      "version %d, whose records carry each trial's configuration: finish that study with "
                      "hptune 0.1, or start it again with this version in a new directory",
                      journal, HP_JOURNAL_FORMAT_VERSION);
    if (c->n_records == 0)
        return HP_ERR("%s: empty or corrupt journal (%zu bytes, no complete record); not a resumable study: "
                      "remove the directory and start the study again", journal, c->size);
    if (hp_event_decode(c->data, c->offsets[1], NULL, job_event) != 0 || job_event->type != HP_EV_JOB)
        return HP_ERR("%s: does not start with the job; not an hptune study journal", journal);
    if (job_event->version != HP_JOURNAL_FORMAT_VERSION)
        return HP_ERR("%s: study format version %d, this hptune reads version %d; resume it with the hptune "
                      "that started it", journal, job_event->version, HP_JOURNAL_FORMAT_VERSION);
    if (!job_event->path || !job_event->text || job_event->n_keys <= 0)
        return HP_ERR("%s: corrupt job record", journal);
    /* The job file the study was started from must not have changed. */
    char *now_text = read_text_file(job_event->path);
    *job_changed = now_text && strcmp(now_text, job_event->text) != 0;
    if (*job_changed && !allow_job_change) {
        free(now_text);
        return HP_ERR("%s changed since the study in %s started; restore it, or resume with "
                      "--allow-job-change to continue with the edited file", job_event->path, s->dir);
    }
    int rc = hp_job_parse(&s->job, *job_changed ? now_text : job_event->text, job_event->path);
    free(now_text);
    if (rc != 0 || make_strategy(s) != 0)
        return -1;
    return 0;
}

int hp_study_open(hp_study *s, const char *dir, int allow_job_change, int read_only)
{
    study_init(s, dir);
    char *journal = path_join(dir, "study.journal");
    hp_journal_contents c = {0};
    hp_event job_event = {0};
    hp_event_keymap keymap = {0};
    int rc = -1, job_changed = 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        HP_ERR("%s: no such study directory", dir);
        goto out;
    }
    if (access(journal, F_OK) != 0) {
        HP_ERR("%s is not an hptune study (no study.journal); start one with 'hptune run JOB.yaml --out %s'",
               dir, dir);
        goto out;
    }
    /* one writer: the lock before reading, so nobody appends meanwhile */
    if (!read_only && hp_study_lock_acquire(&s->lock, dir) != 0)
        goto out;
    if (hp_journal_read(&c, journal) != 0 ||
        open_job_record(s, &c, journal, allow_job_change, &job_event, &job_changed) != 0)
        goto out;
    hp_event_keymap_init(&keymap, &job_event);
    /* Decisions recorded under another job text are facts, not to be re-made. */
    s->verify = !read_only && !job_changed;
    for (long i = 1; i < c.n_records; i++) {
        hp_event e;
        size_t off = c.offsets[i];
        if (hp_event_decode(c.data + off, c.offsets[i + 1] - off, &keymap, &e) != 0 || hp_study_apply(s, &e) != 0) {
            hp_error_prefix("%s: record %ld at byte %zu", journal, i, off);
            char *msg = hp_xstrdup(hp_error_message());
            hp_errorf("%s; the journal disagrees with itself from here on. To continue with every event "
                      "before it, run 'hptune resume %s --truncate-journal-at %zu' (the rest is kept in "
                      "study.journal.damaged-%zu)", msg, dir, off, off);
            free(msg);
            hp_event_release(&e);
            goto out;
        }
        hp_event_release(&e);
    }
    s->verify = 0;
    s->n_events = c.n_records;
    /* a reader asks the lock whether a coordinator runs the study now */
    s->live = read_only ? hp_study_lock_probe(dir, NULL, 0) == 1 : 1;
    if (check_snapshot(dir) != 0)
        goto out;
    if (!read_only && hp_journal_open_append(&s->journal, journal, c.good_end) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        hp_study_close(s); /* a failed open leaves nothing allocated */
    hp_event_keymap_release(&keymap);
    hp_event_release(&job_event);
    hp_journal_contents_release(&c);
    free(journal);
    return rc;
}

int hp_study_truncate_journal(const char *dir, size_t offset)
{
    char *journal = path_join(dir, "study.journal");
    hp_study_lock lock = {.fd = -1};
    FILE *f = NULL;
    struct stat st;
    uint8_t *data = NULL;
    int rc = -1;
    if (hp_study_lock_acquire(&lock, dir) != 0)
        goto out;
    f = fopen(journal, "rb");
    if (!f || fstat(fileno(f), &st) != 0) {
        HP_ERR("%s: cannot read: %s", journal, strerror(errno));
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = hp_xcalloc(size + 1, 1);
    if (fread(data, 1, size, f) != size) {
        HP_ERR("%s: cannot read", journal);
        goto out;
    }
    /* the offset must start a record that follows intact ones (the job record at least) */
    size_t pos = 0, frame;
    while (pos < offset && hp_event_frame(data + pos, size - pos, &frame) == 0)
        pos += frame;
    if (pos != offset || offset == 0) {
        HP_ERR("%s: byte %zu is not the start of a record after intact ones%s; use the offset the error "
               "message gave", journal, offset, offset == 0 ? " (0 would remove the job record)" : "");
        goto out;
    }
    rc = hp_journal_truncate_at(journal, offset);
out:
    hp_study_lock_release(&lock);
    if (f)
        fclose(f);
    free(data);
    free(journal);
    return rc;
}

void hp_study_close(hp_study *s)
{
    hp_journal_close(&s->journal);
    hp_study_lock_release(&s->lock);
    for (int i = 0; i < s->n_trials; i++) {
        free(s->trials[i].epochs);
        free(s->trials[i].epoch_times);
        free(s->trials[i].failure);
        free(s->trials[i].restart_note);
    }
    free(s->test.note);
    free(s->trials);
    free(s->assignments);
    if (s->strategy)
        hp_strategy_free(s->strategy);
    hp_job_release(&s->job);
    free(s->dir);
    memset(s, 0, sizeof *s);
    s->journal.fd = -1;
    s->lock.fd = -1;
}

/* ------------------------------------------------------------- queries --- */

double hp_study_value(const hp_study *s, int trial, int epoch)
{
    if (trial < 0 || trial >= s->n_trials || epoch < 1 || epoch > s->trials[trial].n_epochs)
        return NAN;
    return s->trials[trial].epochs[epoch - 1].values[hp_metric_column(s->job.metric)];
}

int hp_study_better(const hp_study *s, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    if (isnan(a))
        return 0;
    return s->job.maximize ? a > b : a < b;
}

/* A trial's score: its value at the last epoch it reached.  The best trial
 * is chosen among completed trials if any, else among all with a value. */
int hp_study_best_trial(const hp_study *s, double *value, int *epoch)
{
    int best = -1;
    double best_value = NAN;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < s->n_trials; i++) {
            if (pass == 0 && hp_strategy_trial_status(s->strategy, i) != HP_TRIAL_COMPLETED)
                continue;
            double v = hp_study_value(s, i, s->trials[i].n_epochs);
            if (hp_study_better(s, v, best_value)) {
                best = i;
                best_value = v;
            }
        }
    if (value)
        *value = best_value;
    if (epoch)
        *epoch = best >= 0 ? s->trials[best].n_epochs : 0;
    return best;
}

int hp_study_trial_state(const hp_study *s, int trial)
{
    hp_trial_status st = hp_strategy_trial_status(s->strategy, trial);
    if (st == HP_TRIAL_RUNNING && (!s->live || !s->run_open))
        return HP_STUDY_TRIAL_INTERRUPTED;
    return (int)st;
}

const char *hp_study_state_name(int state)
{
    return state == HP_STUDY_TRIAL_INTERRUPTED ? "interrupted" : hp_trial_status_name((hp_trial_status)state);
}

const char *hp_study_stop_note(const hp_study *s, int trial, char *buf, size_t size)
{
    const hp_trial_record *r = &s->trials[trial];
    if (r->stop_reason == HP_STOP_EARLY)
        snprintf(buf, size, "early stop at epoch %d", r->n_epochs);
    else if (r->stop_reason == HP_STOP_MEDIAN)
        snprintf(buf, size, "median rule at epoch %d", r->n_epochs);
    else if (size)
        buf[0] = '\0';
    return buf;
}

void hp_study_count_status(const hp_study *s, int counts[HP_TRIAL_STATUS_COUNT])
{
    for (int k = 0; k < HP_TRIAL_STATUS_COUNT; k++)
        counts[k] = 0;
    for (int i = 0; i < s->n_trials; i++)
        counts[hp_strategy_trial_status(s->strategy, i)]++;
}

void hp_study_format_space(const hp_study *s, const hp_config *c, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < s->job.n_params && used < size; p++) {
        char value[64];
        const hp_key *k = s->job.params[p].key;
        if (hp_job_param_active(&s->job, p, c))
            hp_config_format_value(k, hp_config_get(c, k), value, sizeof value);
        else
            snprintf(value, sizeof value, "-"); /* inactive (when: does not hold): its default is not searched */
        int n = snprintf(buf + used, size - used, "%s%s=%s", p ? " " : "", k->name, value);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
