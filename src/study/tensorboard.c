/* tensorboard.c - a study as TensorBoard event files (layout in tensorboard.h),
 * exported whole or kept up to date while the study runs.
 *
 * TensorBoard keeps only the first HParams summary of each kind in a run, so
 * every trial's session start and session end are written exactly once: a
 * live writer ends a session only when the trial is final (completed,
 * failed, or stopped at the study's end).  A resumed study rebuilds the
 * logdir from its journal (hp_tb_live_begin), so no step is ever written
 * twice; epochs re-trained after an interruption (checkpoint_every > 1) are
 * not written again either.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataset.h"
#include "error.h"
#include "space.h"
#include "tensorboard.h"
#include "tfevents.h"

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------- contents --- */

/* Training images per epoch, for images_per_second (0: not a trained network). */
static double images_per_epoch(const hp_study *s)
{
    const hp_job *job = &s->job;
    int n_shards = 0, n_train = 0;
    if (job->objective != HP_OBJECTIVE_TRAIN || !job->data_path ||
        hp_dataset_info(job->data_path, &n_shards, &n_train, NULL) != 0 || n_shards <= 0) {
        hp_error_clear();
        return 0;
    }
    return (double)n_train / n_shards * job->n_train_shards; /* shards are equal in size */
}

static int write_experiment(hp_tfevents *w, const hp_study *s, double when)
{
    const hp_job *job = &s->job;
    int d = job->n_params;
    hp_tb_hparam *hp = hp_xcalloc((size_t)d + 1, sizeof *hp);
    char ***strings = hp_xcalloc((size_t)d + 1, sizeof *strings);
    for (int i = 0; i < d; i++) {
        const hp_param *p = &job->params[i];
        hp[i].name = p->key->name;
        if (p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID) {
            if (p->key->type == HP_KEY_BOOL) {
                hp[i].type = HP_TB_BOOL; /* domain [false, true] */
            } else if (p->key->type == HP_KEY_ENUM) {
                hp[i].type = HP_TB_STRING;
                strings[i] = hp_xcalloc((size_t)p->n_values, sizeof **strings);
                for (int k = 0; k < p->n_values; k++) {
                    char buf[64];
                    hp_config_format_value(p->key, p->values[k], buf, sizeof buf);
                    strings[i][k] = hp_xstrdup(buf);
                }
                hp[i].n_values = p->n_values;
                hp[i].strings = (const char *const *)strings[i];
            } else {
                hp[i].type = HP_TB_FLOAT;
                hp[i].n_values = p->n_values;
                hp[i].values = p->values;
            }
        } else {
            hp[i].type = HP_TB_FLOAT;
            hp[i].is_interval = 1;
            hp[i].min = p->low;
            hp[i].max = p->high;
        }
    }
    const char *metrics[] = {"val_accuracy", "val_loss", "val_f1", "train_accuracy", "train_loss"};
    char description[512];
    hp_strategy_summary(s->strategy, description, sizeof description);
    int rc = hp_tfevents_experiment(w, when, hp, d, metrics, 5, description);
    for (int i = 0; i < d; i++) {
        for (int k = 0; strings[i] && k < job->params[i].n_values; k++)
            free(strings[i][k]);
        free(strings[i]);
    }
    free(strings);
    free(hp);
    return rc;
}

static int write_session_start(hp_tfevents *w, const hp_study *s, int t)
{
    const hp_job *job = &s->job;
    const hp_config *c = &s->trials[t].config;
    int d = job->n_params;
    const char **names = hp_xcalloc((size_t)d + 1, sizeof *names);
    hp_tb_value *values = hp_xcalloc((size_t)d + 1, sizeof *values);
    char (*text)[64] = hp_xcalloc((size_t)d + 1, sizeof *text);
    int n = 0; /* inactive conditional parameters are left out: the dashboard shows them empty */
    for (int i = 0; i < d; i++) {
        const hp_param *p = &job->params[i];
        if (!hp_job_param_active(job, i, c))
            continue;
        double v = hp_config_get(c, p->key);
        names[n] = p->key->name;
        int listed = p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID;
        if (listed && p->key->type == HP_KEY_BOOL) {
            values[n] = (hp_tb_value){.type = HP_TB_BOOL, .boolean = v != 0};
        } else if (listed && p->key->type == HP_KEY_ENUM) {
            hp_config_format_value(p->key, v, text[n], sizeof text[n]);
            values[n] = (hp_tb_value){.type = HP_TB_STRING, .string = text[n]};
        } else {
            values[n] = (hp_tb_value){.type = HP_TB_FLOAT, .number = v};
        }
        n++;
    }
    char group[32];
    snprintf(group, sizeof group, "trial_%05d", t);
    double start = s->trials[t].start_time > 0 ? s->trials[t].start_time : unix_now();
    int rc = hp_tfevents_session_start(w, start, names, values, n, group, start);
    free(text);
    free(values);
    free(names);
    return rc;
}

static int write_epoch(hp_tfevents *w, const hp_study *s, int t, int epoch, double images)
{
    const hp_trial_record *r = &s->trials[t];
    const double *row = r->epochs[epoch - 1].values;
    double when = r->epoch_times && r->epoch_times[epoch - 1] > 0 ? r->epoch_times[epoch - 1] : unix_now();
    for (int c = 0; c < HP_METRIC_COLS; c++)
        if (!isnan(row[c]) && hp_tfevents_scalar(w, when, epoch, hp_metric_name(c), row[c]) != 0)
            return -1;
    double seconds = row[HP_COL_SECONDS];
    if (images > 0 && seconds > 0 && hp_tfevents_scalar(w, when, epoch, "images_per_second", images / seconds) != 0)
        return -1;
    return 0;
}

/* The session end a trial gets: -1 none yet (it may go on). */
static int final_status(const hp_study *s, int t)
{
    switch (hp_strategy_trial_status(s->strategy, t)) {
    case HP_TRIAL_COMPLETED:
    case HP_TRIAL_STOPPED:
        return HP_TB_SUCCESS;
    case HP_TRIAL_FAILED:
        return HP_TB_FAILURE;
    default:
        return -1;
    }
}

static int write_session_end(hp_tfevents *w, const hp_study *s, int t, hp_tb_status status)
{
    double end = s->trials[t].end_time > 0 ? s->trials[t].end_time : unix_now();
    return hp_tfevents_session_end(w, end, status, end);
}

static char *run_dir(const char *logdir, int t) { return hp_xasprintf("%s/trial_%05d", logdir, t); }

/* ------------------------------------------------------------ export --- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int remove_tree(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return HP_ERR("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

static int export_into(const hp_study *s, const char *dir, int live, double images)
{
    hp_tfevents *w = NULL;
    if (hp_tfevents_open(&w, dir, unix_now()) != 0)
        return -1;
    int rc = write_experiment(w, s, unix_now());
    if (hp_tfevents_close(w) != 0)
        rc = -1;
    for (int t = 0; t < s->n_trials && rc == 0; t++) {
        char *run = run_dir(dir, t);
        rc = hp_tfevents_open(&w, run, unix_now());
        free(run);
        if (rc != 0)
            break;
        rc = write_session_start(w, s, t);
        for (int e = 1; e <= s->trials[t].n_epochs && rc == 0; e++)
            rc = write_epoch(w, s, t, e, images);
        int end = final_status(s, t);
        if (rc == 0 && end >= 0)
            rc = write_session_end(w, s, t, (hp_tb_status)end);
        else if (rc == 0 && !live)
            rc = write_session_end(w, s, t, HP_TB_RUNNING); /* a snapshot of a running study */
        if (hp_tfevents_close(w) != 0)
            rc = -1;
    }
    return rc;
}

int hp_study_export_tensorboard(const hp_study *s, const char *logdir, int live)
{
    char *fresh = hp_xasprintf("%s.tmp.%d", logdir, (int)getpid());
    char *old = hp_xasprintf("%s.old.%d", logdir, (int)getpid());
    int rc = remove_tree(fresh);
    if (rc == 0)
        rc = export_into(s, fresh, live, images_per_epoch(s));
    struct stat st;
    int had = stat(logdir, &st) == 0;
    if (rc == 0 && had && !S_ISDIR(st.st_mode))
        rc = HP_ERR("%s exists and is not a folder; choose another --out", logdir);
    if (rc == 0 && had && rename(logdir, old) != 0)
        rc = HP_ERR("%s: cannot move the previous export aside: %s", logdir, strerror(errno));
    if (rc == 0 && rename(fresh, logdir) != 0) {
        rc = HP_ERR("%s: cannot rename into place: %s", logdir, strerror(errno));
        if (had)
            rename(old, logdir); /* put the previous export back */
    }
    if (rc == 0 && had)
        remove_tree(old);
    if (rc != 0) {
        remove_tree(fresh);
        hp_error_prefix("TensorBoard export to %s", logdir);
    }
    free(fresh);
    free(old);
    return rc;
}

/* -------------------------------------------------------------- live --- */

struct hp_tb_live {
    char *logdir;
    double images;
    int cap;
    hp_tfevents **open;      /* (cap) the trial's file of its current assignment, or NULL */
    int *written;            /* (cap) highest epoch written */
    unsigned char *started;  /* (cap) session start written */
    unsigned char *ended;    /* (cap) session end written */
};

static void live_grow(hp_tb_live *l, int n)
{
    if (n <= l->cap)
        return;
    int cap = l->cap ? l->cap : 64;
    while (cap < n)
        cap *= 2;
    l->open = hp_xrealloc(l->open, (size_t)cap * sizeof *l->open);
    l->written = hp_xrealloc(l->written, (size_t)cap * sizeof *l->written);
    l->started = hp_xrealloc(l->started, (size_t)cap);
    l->ended = hp_xrealloc(l->ended, (size_t)cap);
    for (int i = l->cap; i < cap; i++) {
        l->open[i] = NULL;
        l->written[i] = 0;
        l->started[i] = l->ended[i] = 0;
    }
    l->cap = cap;
}

hp_tb_live *hp_tb_live_begin(const hp_study *s, const char *logdir)
{
    if (hp_study_export_tensorboard(s, logdir, 1) != 0)
        return NULL;
    hp_tb_live *l = hp_xcalloc(1, sizeof *l);
    l->logdir = hp_xstrdup(logdir);
    l->images = images_per_epoch(s);
    live_grow(l, s->n_trials);
    for (int t = 0; t < s->n_trials; t++) {
        l->started[t] = 1;
        l->written[t] = s->trials[t].n_epochs;
        l->ended[t] = final_status(s, t) >= 0;
    }
    return l;
}

/* The trial's open file, opening a new one in its run folder if needed. */
static hp_tfevents *trial_file(hp_tb_live *l, int t)
{
    if (!l->open[t]) {
        char *run = run_dir(l->logdir, t);
        if (hp_tfevents_open(&l->open[t], run, unix_now()) != 0)
            l->open[t] = NULL;
        free(run);
    }
    return l->open[t];
}

static int close_trial(hp_tb_live *l, int t)
{
    int rc = hp_tfevents_close(l->open[t]);
    l->open[t] = NULL;
    return rc;
}

static int end_trial(hp_tb_live *l, const hp_study *s, int t)
{
    int end = final_status(s, t);
    if (end < 0 || l->ended[t])
        return 0;
    hp_tfevents *w = trial_file(l, t);
    if (!w || write_session_end(w, s, t, (hp_tb_status)end) != 0)
        return -1;
    l->ended[t] = 1;
    return 0;
}

int hp_tb_live_event(hp_tb_live *l, const hp_study *s, const hp_event *e)
{
    int t = e->trial, rc = 0;
    switch (e->type) {
    case HP_EV_ASSIGN:
        live_grow(l, t + 1);
        if (!l->started[t]) {
            hp_tfevents *w = trial_file(l, t);
            rc = w && write_session_start(w, s, t) == 0 ? 0 : -1;
            l->started[t] = 1;
        }
        break;
    case HP_EV_EPOCH:
        if (t < l->cap && e->epoch > l->written[t]) {
            hp_tfevents *w = trial_file(l, t);
            rc = w && write_epoch(w, s, t, e->epoch, l->images) == 0 ? 0 : -1;
            l->written[t] = e->epoch;
        }
        break;
    case HP_EV_FINISHED:
    case HP_EV_FAILED:
    case HP_EV_STOP_TRIAL: /* ended early by rank 0: final */
        if (t < l->cap) {
            rc = end_trial(l, s, t);
            if (close_trial(l, t) != 0)
                rc = -1;
        }
        break;
    default:
        break;
    }
    if (rc != 0)
        hp_error_prefix("TensorBoard files in %s", l->logdir);
    return rc;
}

int hp_tb_live_flush(hp_tb_live *l)
{
    int rc = 0;
    for (int t = 0; t < l->cap; t++)
        if (l->open[t] && hp_tfevents_flush(l->open[t]) != 0)
            rc = -1;
    return rc;
}

int hp_tb_live_end(hp_tb_live *l, const hp_study *s)
{
    int rc = 0;
    for (int t = 0; t < l->cap && t < s->n_trials; t++) {
        if (end_trial(l, s, t) != 0) /* stopped trials end with the study */
            rc = -1;
        if (l->open[t] && close_trial(l, t) != 0)
            rc = -1;
    }
    free(l->open);
    free(l->written);
    free(l->started);
    free(l->ended);
    free(l->logdir);
    free(l);
    return rc;
}
