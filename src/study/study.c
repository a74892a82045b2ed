/* study.c - journal, replay, trial table, study.h5 snapshot (see study.h).
 *
 * Journal record: header {magic "HPJ1", type, payload size} (3 x uint32),
 * payload, then FNV-1a 64 of header+payload.  Host byte order: a study is
 * resumed on the same kind of machine.  A record is complete only when its
 * checksum is; a torn tail (killed mid-write) is cut off on open.
 */
#include "study.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "h5util.h"

#define JOURNAL_MAGIC 0x314a5048u /* "HPJ1" */

enum record_type {
    REC_JOB = 1,      /* u32 version, u32 path length, path, text */
    REC_ASSIGN = 2,   /* int32 trial, from, to, bracket, rung */
    REC_EPOCH = 3,    /* int32 trial, epoch, checkpointed, pad; double values[9] */
    REC_FINISHED = 4, /* int32 trial, epoch */
    REC_FAILED = 5,   /* int32 trial, pad; reason text */
    REC_RESUME = 6,   /* (none) */
    REC_DONE = 7,     /* double elapsed */
    REC_ELAPSED = 8   /* double elapsed */
};

typedef struct record_header {
    uint32_t magic, type, size;
} record_header;

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

/* ------------------------------------------------------------- journal --- */

static int journal_append(hp_study *s, uint32_t type, const void *a, size_t na, const void *b, size_t nb)
{
    record_header h = {JOURNAL_MAGIC, type, (uint32_t)(na + nb)};
    uint64_t sum = hp_fnv1a64(HP_FNV_INIT, &h, sizeof h);
    sum = hp_fnv1a64(sum, a, na);
    sum = hp_fnv1a64(sum, b, nb);
    size_t total = sizeof h + na + nb + sizeof sum;
    unsigned char stack[512];
    unsigned char *buf = total <= sizeof stack ? stack : hp_xcalloc(total, 1);
    memcpy(buf, &h, sizeof h);
    if (na)
        memcpy(buf + sizeof h, a, na);
    if (nb)
        memcpy(buf + sizeof h + na, b, nb);
    memcpy(buf + sizeof h + na + nb, &sum, sizeof sum);
    /* one write() per record: a killed process leaves at most one torn record */
    ssize_t w = write(s->journal_fd, buf, total);
    int e = errno;
    if (buf != stack)
        free(buf);
    if (w != (ssize_t)total)
        return HP_ERR("%s/study.journal: cannot append: %s", s->dir, w < 0 ? strerror(e) : "short write (disk full?)");
    s->n_events++;
    return 0;
}

int hp_study_sync(hp_study *s)
{
    if (s->journal_fd >= 0 && fsync(s->journal_fd) != 0)
        return HP_ERR("%s/study.journal: fsync failed: %s", s->dir, strerror(errno));
    return 0;
}

/* ---------------------------------------------------------- applying --- */

static void apply_assign(hp_study *s, const hp_assignment *a)
{
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
    r->assigned_from = a->from_epoch;
    r->assigned_to = a->to_epoch;
}

static void apply_epoch(hp_study *s, int trial, int epoch, int checkpointed, const double *values)
{
    hp_trial_record *r = trial_record(s, trial);
    if (epoch > r->capacity) {
        int cap = r->capacity ? r->capacity : 8;
        while (cap < epoch)
            cap *= 2;
        r->epochs = hp_xrealloc(r->epochs, (size_t)cap * sizeof *r->epochs);
        memset(r->epochs + r->capacity, 0, (size_t)(cap - r->capacity) * sizeof *r->epochs);
        r->capacity = cap;
    }
    memcpy(r->epochs[epoch - 1].values, values, sizeof r->epochs[0].values);
    if (epoch > r->n_epochs)
        r->n_epochs = epoch;
    if (checkpointed && epoch > r->checkpoint_epoch)
        r->checkpoint_epoch = epoch;
    hp_strategy_report(s->strategy, trial, epoch, values[hp_metric_column(s->job.metric)]);
}

static void apply_failed(hp_study *s, int trial, const char *reason)
{
    hp_trial_record *r = trial_record(s, trial);
    free(r->failure);
    r->failure = hp_xstrdup(reason);
    hp_strategy_failed(s->strategy, trial);
}

/* ---------------------------------------------------------- live API --- */

hp_next hp_study_next(hp_study *s, hp_assignment *a)
{
    hp_next n = hp_strategy_next(s->strategy, a);
    if (n == HP_NEXT_START && s->job.strategy != HP_STRATEGY_ASHA) {
        hp_config c;
        hp_job_trial_config(&s->job, a->trial, &c);
        a->to_epoch = c.epochs;
    }
    return n;
}

int hp_study_assign(hp_study *s, const hp_assignment *a)
{
    int32_t p[5] = {a->trial, a->from_epoch, a->to_epoch, a->bracket, a->rung};
    if (journal_append(s, REC_ASSIGN, p, sizeof p, NULL, 0) != 0)
        return -1;
    apply_assign(s, a);
    return 0;
}

int hp_study_epoch(hp_study *s, int trial, int epoch, int checkpointed, const double *values)
{
    int32_t p[4] = {trial, epoch, checkpointed, 0};
    if (journal_append(s, REC_EPOCH, p, sizeof p, values, HP_METRIC_COLS * sizeof(double)) != 0)
        return -1;
    apply_epoch(s, trial, epoch, checkpointed, values);
    return 0;
}

int hp_study_finished(hp_study *s, int trial, int epoch)
{
    int32_t p[2] = {trial, epoch};
    if (journal_append(s, REC_FINISHED, p, sizeof p, NULL, 0) != 0)
        return -1;
    hp_strategy_finished(s->strategy, trial, epoch);
    return 0;
}

int hp_study_failed(hp_study *s, int trial, const char *reason)
{
    int32_t p[2] = {trial, 0};
    if (journal_append(s, REC_FAILED, p, sizeof p, reason, strlen(reason)) != 0)
        return -1;
    apply_failed(s, trial, reason);
    return 0;
}

int hp_study_mark_resume(hp_study *s)
{
    if (journal_append(s, REC_RESUME, NULL, 0, NULL, 0) != 0)
        return -1;
    hp_strategy_requeue_running(s->strategy);
    s->n_resumes++;
    return 0;
}

int hp_study_mark_finished(hp_study *s, double elapsed)
{
    if (journal_append(s, REC_DONE, &elapsed, sizeof elapsed, NULL, 0) != 0)
        return -1;
    s->finished = 1;
    s->elapsed_before = elapsed;
    return hp_study_sync(s);
}

int hp_study_mark_elapsed(hp_study *s, double elapsed)
{
    if (journal_append(s, REC_ELAPSED, &elapsed, sizeof elapsed, NULL, 0) != 0)
        return -1;
    s->elapsed_before = elapsed;
    return hp_study_sync(s);
}

/* ------------------------------------------------------ create / open --- */

static int make_strategy(hp_study *s)
{
    hp_strategy_params p;
    hp_strategy_params_from_job(&p, &s->job);
    s->strategy = hp_strategy_create(&p);
    return s->strategy ? 0 : -1;
}

int hp_study_create(hp_study *s, hp_job *job, const char *dir)
{
    memset(s, 0, sizeof *s);
    s->journal_fd = -1;
    s->dir = hp_xstrdup(dir);
    char *journal = path_join(dir, "study.journal");
    char *job_copy = path_join(dir, "job.yaml");
    char *trials = path_join(dir, "trials");
    int rc = -1;
    if (access(journal, F_OK) == 0) {
        HP_ERR("%s already holds a study; continue it with 'hptune resume %s', or choose another "
               "directory with --out", dir, dir);
        goto out;
    }
    if (mkdir_p(trials) != 0)
        goto out;
    s->job = *job;
    memset(job, 0, sizeof *job);
    if (make_strategy(s) != 0)
        goto out;
    FILE *f = fopen(job_copy, "w");
    if (!f || fputs(s->job.text, f) < 0 || fclose(f) != 0) {
        HP_ERR("%s: cannot write: %s", job_copy, strerror(errno));
        goto out;
    }
    s->journal_fd = open(journal, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0666);
    if (s->journal_fd < 0) {
        HP_ERR("%s: cannot create: %s", journal, strerror(errno));
        goto out;
    }
    uint32_t head[2] = {HP_STUDY_FORMAT_VERSION, (uint32_t)strlen(s->job.path)};
    char *both = hp_xasprintf("%s%s", s->job.path, s->job.text);
    rc = journal_append(s, REC_JOB, head, sizeof head, both, strlen(both));
    free(both);
    if (rc == 0)
        rc = hp_study_sync(s);
out:
    free(journal);
    free(job_copy);
    free(trials);
    return rc;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? 2 * cap : 1 << 20;
            buf = hp_xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *size = n;
    return buf;
}

/* Replay one record; returns -1 with a message on an inconsistency. */
static int replay(hp_study *s, uint32_t type, const unsigned char *p, uint32_t size, const char *journal)
{
    switch (type) {
    case REC_ASSIGN: {
        int32_t v[5];
        if (size != sizeof v)
            break;
        memcpy(v, p, sizeof v);
        hp_assignment a;
        if (hp_study_next(s, &a) != HP_NEXT_START || a.trial != v[0] || a.to_epoch != v[2])
            return HP_ERR("%s: the journal does not match the strategy's decisions (trial %d); the "
                          "study was written by another hptune version or job", journal, v[0]);
        a.from_epoch = v[1];
        apply_assign(s, &a);
        return 0;
    }
    case REC_EPOCH: {
        int32_t v[4];
        double values[HP_METRIC_COLS];
        if (size != sizeof v + sizeof values)
            break;
        memcpy(v, p, sizeof v);
        memcpy(values, p + sizeof v, sizeof values);
        apply_epoch(s, v[0], v[1], v[2], values);
        return 0;
    }
    case REC_FINISHED: {
        int32_t v[2];
        if (size != sizeof v)
            break;
        memcpy(v, p, sizeof v);
        hp_strategy_finished(s->strategy, v[0], v[1]);
        return 0;
    }
    case REC_FAILED: {
        int32_t v[2];
        if (size < sizeof v)
            break;
        memcpy(v, p, sizeof v);
        char *reason = hp_xcalloc(size - sizeof v + 1, 1);
        memcpy(reason, p + sizeof v, size - sizeof v);
        apply_failed(s, v[0], reason);
        free(reason);
        return 0;
    }
    case REC_RESUME:
        hp_strategy_requeue_running(s->strategy);
        s->n_resumes++;
        return 0;
    case REC_DONE:
    case REC_ELAPSED:
        if (size != sizeof(double))
            break;
        memcpy(&s->elapsed_before, p, sizeof(double));
        if (type == REC_DONE) {
            /* the run ended on the strategy's DONE, which marks paused
               trials stopped; ask it again to reach the same state */
            hp_assignment a;
            if (hp_study_next(s, &a) != HP_NEXT_DONE)
                return HP_ERR("%s: the study is recorded as finished but the strategy has work left", journal);
            s->finished = 1;
        }
        return 0;
    }
    return HP_ERR("%s: corrupt record of type %u (size %u)", journal, type, size);
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

int hp_study_open(hp_study *s, const char *dir, int allow_job_change, int read_only)
{
    memset(s, 0, sizeof *s);
    s->journal_fd = -1;
    s->dir = hp_xstrdup(dir);
    char *journal = path_join(dir, "study.journal");
    size_t size = 0;
    char *data = NULL;
    char *job_path = NULL, *job_text = NULL;
    int rc = -1;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        HP_ERR("%s: no such study directory", dir);
        goto out;
    }
    data = read_file(journal, &size);
    if (!data) {
        HP_ERR("%s is not an hptune study (no study.journal); start one with 'hptune run JOB.yaml --out %s'",
               dir, dir);
        goto out;
    }
    size_t off = 0, good_end = 0;
    long records = 0;
    while (off + sizeof(record_header) + 8 <= size) {
        record_header h;
        memcpy(&h, data + off, sizeof h);
        if (h.magic != JOURNAL_MAGIC)
            break;
        if (off + sizeof h + h.size + 8 > size)
            break; /* torn tail */
        uint64_t sum, expect = hp_fnv1a64(HP_FNV_INIT, data + off, sizeof h + h.size);
        memcpy(&sum, data + off + sizeof h + h.size, 8);
        if (sum != expect) {
            if (off + sizeof h + h.size + 8 == size)
                break; /* torn last record */
            HP_ERR("%s: corrupt record at byte %zu (checksum mismatch); the study cannot be resumed "
                   "safely", journal, off);
            goto out;
        }
        const unsigned char *payload = (const unsigned char *)data + off + sizeof h;
        if (records == 0) {
            uint32_t head[2];
            if (h.type != REC_JOB || h.size < sizeof head) {
                HP_ERR("%s: does not start with the job; not an hptune study journal", journal);
                goto out;
            }
            memcpy(head, payload, sizeof head);
            if (head[0] != HP_STUDY_FORMAT_VERSION) {
                HP_ERR("%s: study format version %u, this hptune reads version %d; resume it with the "
                       "hptune that started it", journal, head[0], HP_STUDY_FORMAT_VERSION);
                goto out;
            }
            if (head[1] > h.size - sizeof head) {
                HP_ERR("%s: corrupt job record", journal);
                goto out;
            }
            job_path = hp_xcalloc(head[1] + 1, 1);
            memcpy(job_path, payload + sizeof head, head[1]);
            size_t text_len = h.size - sizeof head - head[1];
            job_text = hp_xcalloc(text_len + 1, 1);
            memcpy(job_text, payload + sizeof head + head[1], text_len);

            /* The job file the study was started from must not have changed. */
            size_t now_size;
            char *now_text = read_file(job_path, &now_size);
            int changed = now_text && strcmp(now_text, job_text) != 0;
            if (changed && !allow_job_change) {
                free(now_text);
                HP_ERR("%s changed since the study in %s started; restore it, or resume with "
                       "--allow-job-change to continue with the edited file", job_path, dir);
                goto out;
            }
            if (changed) {
                free(job_text);
                job_text = now_text;
            } else {
                free(now_text);
            }
            if (hp_job_parse(&s->job, job_text, job_path) != 0)
                goto out;
            if (make_strategy(s) != 0)
                goto out;
        } else if (replay(s, h.type, payload, h.size, journal) != 0) {
            goto out;
        }
        records++;
        off += sizeof h + h.size + 8;
        good_end = off;
    }
    if (records == 0) {
        HP_ERR("%s: empty or corrupt journal; not a resumable study", journal);
        goto out;
    }
    s->n_events = records;
    if (check_snapshot(dir) != 0)
        goto out;
    if (read_only) {
        rc = 0;
        goto out;
    }
    s->journal_fd = open(journal, O_WRONLY | O_APPEND);
    if (s->journal_fd < 0) {
        HP_ERR("%s: cannot open for writing: %s", journal, strerror(errno));
        goto out;
    }
    if (good_end < size) {
        fprintf(stderr, "hptune: note: %s: dropped a torn last record (%zu bytes) left by a killed run\n",
                journal, size - good_end);
        if (ftruncate(s->journal_fd, (off_t)good_end) != 0) {
            HP_ERR("%s: cannot truncate the torn record: %s", journal, strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    free(journal);
    free(data);
    free(job_path);
    free(job_text);
    return rc;
}

void hp_study_close(hp_study *s)
{
    if (s->journal_fd >= 0) {
        fsync(s->journal_fd);
        close(s->journal_fd);
    }
    for (int i = 0; i < s->n_trials; i++) {
        free(s->trials[i].epochs);
        free(s->trials[i].failure);
    }
    free(s->trials);
    free(s->assignments);
    if (s->strategy)
        hp_strategy_free(s->strategy);
    hp_job_release(&s->job);
    free(s->dir);
    memset(s, 0, sizeof *s);
    s->journal_fd = -1;
}

/* ------------------------------------------------------------- queries --- */

double hp_study_value(const hp_study *s, int trial, int epoch)
{
    if (trial < 0 || trial >= s->n_trials || epoch < 1 || epoch > s->trials[trial].n_epochs)
        return NAN;
    return s->trials[trial].epochs[epoch - 1].values[hp_metric_column(s->job.metric)];
}

/* A trial's score: its value at the last epoch it reached.  The best trial
 * is chosen among completed trials if any, else among all with a value. */
static int better(const hp_study *s, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    if (isnan(a))
        return 0;
    return s->job.maximize ? a > b : a < b;
}

int hp_study_best_trial(const hp_study *s, double *value, int *epoch)
{
    int best = -1;
    double best_value = NAN;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < s->n_trials; i++) {
            if (pass == 0 && hp_strategy_trial_status(s->strategy, i) != HP_TRIAL_COMPLETED)
                continue;
            double v = hp_study_value(s, i, s->trials[i].n_epochs);
            if (better(s, v, best_value)) {
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

static void format_space_config(const hp_study *s, int trial, char *buf, size_t size)
{
    hp_config c;
    hp_job_trial_config(&s->job, trial, &c);
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < s->job.n_params && used < size; p++) {
        char value[64];
        const hp_key *k = s->job.params[p].key;
        hp_config_format_value(k, hp_config_get(&c, k), value, sizeof value);
        int n = snprintf(buf + used, size - used, "%s%s=%s", p ? " " : "", k->name, value);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ----------------------------------------------------------- snapshot --- */

int hp_study_write_snapshot(const hp_study *s, double elapsed)
{
    h5u_quiet();
    char *path = path_join(s->dir, "study.h5");
    char *temp = h5u_temp_name(path);
    int n = s->n_trials;
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    int32_t *ints = hp_xcalloc((size_t)n * 6 + 1, sizeof(int32_t));
    double *configs = hp_xcalloc((size_t)n * n_keys + 1, sizeof(double));
    double *final_values = hp_xcalloc((size_t)n + 1, sizeof(double));
    const char **status_names = hp_xcalloc((size_t)n + 1, sizeof(char *));
    const char **failures = hp_xcalloc((size_t)n + 1, sizeof(char *));
    size_t rows = 0;
    for (int i = 0; i < n; i++)
        rows += (size_t)s->trials[i].n_epochs;
    double *metrics = hp_xcalloc(rows * (HP_METRIC_COLS + 2) + 1, sizeof(double));
    size_t row = 0;
    for (int i = 0; i < n; i++) {
        const hp_trial_record *r = &s->trials[i];
        ints[i * 6 + 0] = i;
        ints[i * 6 + 1] = (int32_t)hp_strategy_trial_status(s->strategy, i);
        ints[i * 6 + 2] = hp_strategy_trial_bracket(s->strategy, i);
        ints[i * 6 + 3] = hp_strategy_trial_rung(s->strategy, i);
        ints[i * 6 + 4] = r->n_epochs;
        ints[i * 6 + 5] = r->checkpoint_epoch;
        status_names[i] = hp_trial_status_name(hp_strategy_trial_status(s->strategy, i));
        failures[i] = r->failure ? r->failure : "";
        final_values[i] = hp_study_value(s, i, r->n_epochs);
        hp_config c;
        hp_job_trial_config(&s->job, i, &c);
        for (size_t k = 0; k < n_keys; k++)
            configs[(size_t)i * n_keys + k] = hp_config_get(&c, &keys[k]);
        for (int e = 0; e < r->n_epochs; e++, row++) {
            double *m = metrics + row * (HP_METRIC_COLS + 2);
            m[0] = i;
            m[1] = e + 1;
            memcpy(m + 2, r->epochs[e].values, sizeof r->epochs[e].values);
        }
    }
    char key_list[4096] = "", metric_list[512] = "trial,epoch";
    for (size_t k = 0; k < n_keys; k++) {
        strncat(key_list, keys[k].name, sizeof key_list - strlen(key_list) - 2);
        if (k + 1 < n_keys)
            strcat(key_list, ",");
    }
    for (int c = 0; c < HP_METRIC_COLS; c++) {
        strcat(metric_list, ",");
        strcat(metric_list, hp_metric_name(c));
    }
    uint8_t *state = NULL;
    size_t state_size = 0;
    int rc = -1;
    if (hp_strategy_save(s->strategy, &state, &state_size) != 0)
        goto out;
    hid_t f = H5Fcreate(temp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        H5U_FAIL("cannot create the file");
        goto out;
    }
    hid_t g = H5Gcreate2(f, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int best_epoch = 0;
    double best_value = NAN;
    int best = hp_study_best_trial(s, &best_value, &best_epoch);
    int bad = g < 0 || h5u_write_attr_string(f, "format", "hptune-study") ||
              h5u_write_attr_int64(f, "format_version", HP_STUDY_FORMAT_VERSION) ||
              h5u_write_attr_string(f, "name", s->job.name) ||
              h5u_write_attr_string(f, "metric", hp_metric_name(s->job.metric)) ||
              h5u_write_attr_string(f, "mode", s->job.maximize ? "max" : "min") ||
              h5u_write_attr_int64(f, "finished", s->finished) ||
              h5u_write_attr_int64(f, "journal_events", s->n_events) ||
              h5u_write_attr_int64(f, "resumes", s->n_resumes) ||
              h5u_write_attr_int64(f, "best_trial", best) ||
              h5u_write_string(f, "job_text", s->job.text) ||
              h5u_write_array(f, "strategy_state", H5T_NATIVE_UINT8, state, state_size) ||
              h5u_write_matrix(g, "ids_status_bracket_rung_epochs_ckpt", H5T_NATIVE_INT32, ints, (size_t)n, 6) ||
              h5u_write_string_array(g, "status", status_names, (size_t)n) ||
              h5u_write_string_array(g, "failure", failures, (size_t)n) ||
              h5u_write_array(g, "final_value", H5T_NATIVE_DOUBLE, final_values, (size_t)n) ||
              h5u_write_matrix(g, "config", H5T_NATIVE_DOUBLE, configs, (size_t)n, n_keys) ||
              h5u_write_attr_string(g, "config_columns", key_list) ||
              h5u_write_matrix(f, "metrics", H5T_NATIVE_DOUBLE, metrics, rows, HP_METRIC_COLS + 2) ||
              h5u_write_matrix(f, "assignments", H5T_NATIVE_INT32, s->assignments, (size_t)s->n_assignments, 5);
    if (!bad) {
        hid_t ds = H5Dopen2(f, "metrics", H5P_DEFAULT);
        bad = ds < 0 || h5u_write_attr_string(ds, "columns", metric_list);
        if (ds >= 0)
            H5Dclose(ds);
    }
    if (!bad) {
        int64_t e = (int64_t)elapsed;
        bad = h5u_write_attr_int64(f, "elapsed_seconds", e);
    }
    if (g >= 0)
        H5Gclose(g);
    if (H5Fclose(f) < 0 && !bad)
        bad = H5U_FAIL("cannot close the file");
    if (!bad)
        rc = h5u_commit_temp(temp, path);
    else
        unlink(temp);
out:
    if (rc)
        hp_error_prefix("%s: cannot write the study snapshot", path);
    free(state);
    free(path);
    free(temp);
    free(ints);
    free(configs);
    free(final_values);
    free(status_names);
    free(failures);
    free(metrics);
    return rc;
}

int hp_study_write_best_yaml(const hp_study *s)
{
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    if (best < 0)
        return 0;
    hp_config c;
    hp_job_trial_config(&s->job, best, &c);
    char *path = path_join(s->dir, "best.yaml");
    char *temp = hp_xasprintf("%s.tmp", path);
    FILE *f = fopen(temp, "w");
    int rc = 0;
    if (!f) {
        rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
    } else {
        fprintf(f, "# best trial %d of study '%s': %s = %.6g after %d epochs\n", best, s->job.name,
                hp_metric_name(s->job.metric), value, epoch);
        fprintf(f, "# retrain it with: hptune train %s\n", path);
        fprintf(f, "study: {name: %s-best, seed: %llu, metric: %s, mode: %s}\n", s->job.name,
                (unsigned long long)s->job.seed, hp_metric_name(s->job.metric), s->job.maximize ? "max" : "min");
        fprintf(f, "data:\n  path: %s\n  train_shards: [", s->job.data_path);
        for (int i = 0; i < s->job.n_train_shards; i++)
            fprintf(f, "%s%d", i ? ", " : "", s->job.train_shards[i]);
        fprintf(f, "]\n  val_shards: [");
        for (int i = 0; i < s->job.n_val_shards; i++)
            fprintf(f, "%s%d", i ? ", " : "", s->job.val_shards[i]);
        fprintf(f, "]\nstrategy: {name: random, max_trials: 1}\nfixed:\n");
        /* the trial's own configuration, seed and epoch budget included, so
           that `hptune train best.yaml` retrains exactly that trial */
        hp_config_write_yaml(f, &c, "  ");
        if (fclose(f) != 0)
            rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
        else if (rename(temp, path) != 0)
            rc = HP_ERR("%s: cannot rename into place: %s", path, strerror(errno));
    }
    free(path);
    free(temp);
    return rc;
}

/* ------------------------------------------------------ status / export --- */

static int compare_trials(const hp_study *s, int a, int b)
{
    double va = hp_study_value(s, a, s->trials[a].n_epochs), vb = hp_study_value(s, b, s->trials[b].n_epochs);
    if (better(s, va, vb))
        return -1;
    if (better(s, vb, va))
        return 1;
    return a - b;
}

static const hp_study *sort_study;
static int sort_cmp(const void *x, const void *y) { return compare_trials(sort_study, *(const int *)x, *(const int *)y); }

void hp_study_print_status(const hp_study *s, FILE *f)
{
    int counts[6] = {0};
    for (int i = 0; i < s->n_trials; i++)
        counts[hp_strategy_trial_status(s->strategy, i)]++;
    fprintf(f, "study %s (%s): %d trials: %d running, %d paused, %d completed, %d stopped, %d failed%s\n",
            s->job.name, s->dir, s->n_trials, counts[HP_TRIAL_RUNNING], counts[HP_TRIAL_PAUSED],
            counts[HP_TRIAL_COMPLETED], counts[HP_TRIAL_STOPPED], counts[HP_TRIAL_FAILED],
            s->finished ? " - finished" : " - not finished");
    int *order = hp_xcalloc((size_t)s->n_trials + 1, sizeof(int));
    for (int i = 0; i < s->n_trials; i++)
        order[i] = i;
    sort_study = s;
    qsort(order, (size_t)s->n_trials, sizeof(int), sort_cmp);
    fprintf(f, "%6s  %-9s  %7s  %6s  %12s  %s\n", "trial", "status", "brk/rung", "epochs",
            hp_metric_name(s->job.metric), "configuration");
    for (int j = 0; j < s->n_trials; j++) {
        int i = order[j];
        char config[1024], br[32];
        format_space_config(s, i, config, sizeof config);
        if (s->job.strategy == HP_STRATEGY_ASHA)
            snprintf(br, sizeof br, "%d/%d", hp_strategy_trial_bracket(s->strategy, i),
                     hp_strategy_trial_rung(s->strategy, i));
        else
            snprintf(br, sizeof br, "-"); /* rungs are an ASHA notion */
        fprintf(f, "%6d  %-9s  %7s  %6d  %12.6g  %s%s%s\n", i,
                hp_trial_status_name(hp_strategy_trial_status(s->strategy, i)), br, s->trials[i].n_epochs,
                hp_study_value(s, i, s->trials[i].n_epochs), config,
                s->trials[i].failure ? "  failed: " : "", s->trials[i].failure ? s->trials[i].failure : "");
    }
    free(order);
}

static void json_string(FILE *f, const char *text)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fprintf(f, "null");
}

/* CSV: one row per (trial, epoch), with the trial's configuration values.
 * JSON: one object per trial with its configuration and epoch list. */
int hp_study_export(const hp_study *s, FILE *f, int json)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    if (!json) {
        fprintf(f, "trial,status,bracket,rung,epoch");
        for (int c = 0; c < HP_METRIC_COLS; c++)
            fprintf(f, ",%s", hp_metric_name(c));
        for (size_t k = 0; k < n_keys; k++)
            fprintf(f, ",%s", keys[k].name);
        fprintf(f, "\n");
    } else {
        fprintf(f, "{\"study\": ");
        json_string(f, s->job.name);
        fprintf(f, ", \"metric\": \"%s\", \"mode\": \"%s\", \"finished\": %s, \"trials\": [",
                hp_metric_name(s->job.metric), s->job.maximize ? "max" : "min", s->finished ? "true" : "false");
    }
    for (int i = 0; i < s->n_trials; i++) {
        hp_config c;
        hp_job_trial_config(&s->job, i, &c);
        const char *status = hp_trial_status_name(hp_strategy_trial_status(s->strategy, i));
        const hp_trial_record *r = &s->trials[i];
        if (!json) {
            for (int e = 0; e < r->n_epochs; e++) {
                fprintf(f, "%d,%s,%d,%d,%d", i, status, hp_strategy_trial_bracket(s->strategy, i),
                        hp_strategy_trial_rung(s->strategy, i), e + 1);
                for (int m = 0; m < HP_METRIC_COLS; m++)
                    fprintf(f, ",%.17g", r->epochs[e].values[m]);
                for (size_t k = 0; k < n_keys; k++) {
                    char value[64];
                    hp_config_format_value(&keys[k], hp_config_get(&c, &keys[k]), value, sizeof value);
                    fprintf(f, ",%s", value);
                }
                fprintf(f, "\n");
            }
            continue;
        }
        fprintf(f, "%s\n  {\"trial\": %d, \"status\": \"%s\", \"bracket\": %d, \"rung\": %d, \"failure\": ",
                i ? "," : "", i, status, hp_strategy_trial_bracket(s->strategy, i), hp_strategy_trial_rung(s->strategy, i));
        if (r->failure)
            json_string(f, r->failure);
        else
            fprintf(f, "null");
        fprintf(f, ", \"config\": {");
        for (size_t k = 0; k < n_keys; k++) {
            char value[64];
            hp_config_format_value(&keys[k], hp_config_get(&c, &keys[k]), value, sizeof value);
            fprintf(f, "%s\"%s\": ", k ? ", " : "", keys[k].name);
            if (keys[k].type == HP_KEY_ENUM)
                json_string(f, value);
            else
                fprintf(f, "%s", value);
        }
        fprintf(f, "}, \"epochs\": [");
        for (int e = 0; e < r->n_epochs; e++) {
            fprintf(f, "%s{\"epoch\": %d", e ? ", " : "", e + 1);
            for (int m = 0; m < HP_METRIC_COLS; m++) {
                fprintf(f, ", \"%s\": ", hp_metric_name(m));
                json_number(f, r->epochs[e].values[m]);
            }
            fprintf(f, "}");
        }
        fprintf(f, "]}");
    }
    if (json) {
        fprintf(f, "\n], \"assignments\": [");
        for (int i = 0; i < s->n_assignments; i++) {
            const int32_t *a = s->assignments + (size_t)i * 5;
            fprintf(f, "%s[%d, %d, %d, %d, %d]", i ? ", " : "", a[0], a[1], a[2], a[3], a[4]);
        }
        fprintf(f, "]}\n");
    }
    return ferror(f) ? HP_ERR("cannot write the export") : 0;
}
