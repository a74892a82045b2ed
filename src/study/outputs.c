/* outputs.c - what a study shows people and scripts: the study.h5 snapshot,
 * best.yaml, the status table and the CSV/JSON exports.  Everything here
 * reads the recorded state (study.h): each trial's configuration is the one
 * it was assigned, never re-derived from the job file.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "build_info.h"
#include "error.h"
#include "h5util.h"
#include "study.h"

static char *path_join(const char *dir, const char *name) { return hp_xasprintf("%s/%s", dir, name); }

/* The shortest decimal text that reads back as exactly v (0.3228, not
 * 0.32279999999999998): the fewest %g digits, 1..17, that round-trip. */
static void shortest_double(double v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ----------------------------------------------------------- snapshot --- */

/* Units and meaning of the /metrics columns (trial, epoch, then the metric row). */
static const char *metric_unit(int column)
{
    switch (column) {
    case HP_COL_TRAIN_LOSS:
    case HP_COL_VAL_LOSS:
        return "nats: mean cross-entropy per image";
    case HP_COL_TRAIN_ACCURACY:
    case HP_COL_VAL_ACCURACY:
        return "fraction of images, 0 to 1";
    case HP_COL_VAL_PRECISION:
    case HP_COL_VAL_RECALL:
    case HP_COL_VAL_F1:
        return "fraction, 0 to 1, macro average over the classes";
    case HP_COL_LR:
        return "the learning rate in effect at the end of the epoch (after schedule and warm-up); the "
               "configured rate is the hyperparameter learning_rate";
    case HP_COL_SECONDS:
        return "seconds of wall time for the epoch (training and validation)";
    default:
        return "";
    }
}

/* Attribute of n strings on the dataset `name` below loc. */
static int dataset_attr_strings(hid_t loc, const char *name, const char *attr, const char *const *strings,
                                size_t n)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return H5U_FAIL(name);
    int bad = h5u_write_attr_strings(ds, attr, strings, n);
    H5U_CLOSE(ds, name, &bad);
    return bad ? -1 : 0;
}

static int dataset_attr_string(hid_t loc, const char *name, const char *attr, const char *value)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return H5U_FAIL(name);
    int bad = h5u_write_attr_string(ds, attr, value);
    H5U_CLOSE(ds, name, &bad);
    return bad ? -1 : 0;
}

/* An absolute version of path (the folder made absolute if the file does not
 * exist); a copy of path if that fails.  Caller frees. */
static char *absolute_path(const char *path)
{
    char *real = realpath(path, NULL);
    if (real)
        return real;
    char cwd[4096];
    if (path[0] != '/' && getcwd(cwd, sizeof cwd))
        return hp_xasprintf("%s/%s", cwd, path);
    return hp_xstrdup(path);
}

/* /trials/config's labels: for each enum or bool key, "<key>_labels" = its
 * names in code order; `columns` names the columns. */
static int write_config_labels(hid_t trials)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    const char **names = hp_xcalloc(n_keys + 1, sizeof *names);
    int bad = 0;
    for (size_t k = 0; k < n_keys; k++)
        names[k] = keys[k].name;
    bad |= dataset_attr_strings(trials, "config", "columns", names, n_keys);
    static const char *const bools[] = {"false", "true"};
    for (size_t k = 0; k < n_keys && !bad; k++) {
        char attr[96];
        snprintf(attr, sizeof attr, "%s_labels", keys[k].name);
        if (keys[k].type == HP_KEY_ENUM) {
            size_t n = 0;
            while (keys[k].enum_names[n])
                n++;
            bad |= dataset_attr_strings(trials, "config", attr, keys[k].enum_names, n);
        } else if (keys[k].type == HP_KEY_BOOL) {
            bad |= dataset_attr_strings(trials, "config", attr, bools, 2);
        }
    }
    free(names);
    return bad ? -1 : 0;
}

static int write_test_group(hid_t f, const hp_study *s)
{
    const hp_study_test *t = &s->test;
    if (!t->recorded)
        return 0;
    hid_t g = h5u_create_group(f, "test");
    if (g < 0)
        return -1;
    int bad = h5u_write_attr_int64(g, "evaluated", t->images > 0) || h5u_write_attr_int64(g, "trial", t->trial) ||
              h5u_write_attr_int64(g, "epoch", t->epoch) || h5u_write_attr_int64(g, "images", t->images) ||
              h5u_write_attr_string(g, "note", t->note ? t->note : "");
    const struct { const char *name; double value; } values[] = {
        {"loss", t->loss}, {"accuracy", t->accuracy}, {"precision", t->precision}, {"recall", t->recall}, {"f1", t->f1}};
    for (size_t i = 0; i < sizeof values / sizeof values[0] && !bad; i++)
        bad = h5u_write_array(g, values[i].name, H5T_NATIVE_DOUBLE, &values[i].value, 1);
    if (!bad)
        bad = h5u_write_attr_string(g, "description",
                                    "the best trial's checkpoint (note) evaluated once on the test set after the "
                                    "study finished; reported apart from the validation metric that selected it");
    H5U_CLOSE(g, "/test", &bad);
    return bad ? -1 : 0;
}

int hp_study_write_snapshot(const hp_study *s, double elapsed)
{
    h5u_quiet();
    char *path = path_join(s->dir, "study.h5");
    int n = s->n_trials;
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    int32_t *ints = hp_xcalloc((size_t)n * 6 + 1, sizeof(int32_t));
    double *configs = hp_xcalloc((size_t)n * n_keys + 1, sizeof(double));
    double *final_values = hp_xcalloc((size_t)n + 1, sizeof(double));
    const char **status_names = hp_xcalloc((size_t)n + 1, sizeof(char *));
    const char **failures = hp_xcalloc((size_t)n + 1, sizeof(char *));
    const char **notes = hp_xcalloc((size_t)n + 1, sizeof(char *));
    char (*stop_texts)[64] = hp_xcalloc((size_t)n + 1, sizeof *stop_texts);
    const char **stops = hp_xcalloc((size_t)n + 1, sizeof(char *));
    size_t rows = 0;
    for (int i = 0; i < n; i++)
        rows += (size_t)s->trials[i].n_epochs;
    double *metrics = hp_xcalloc(rows * (HP_METRIC_COLS + 2) + 1, sizeof(double));
    size_t row = 0;
    for (int i = 0; i < n; i++) {
        const hp_trial_record *r = &s->trials[i];
        int state = hp_study_trial_state(s, i);
        ints[i * 6 + 0] = i;
        ints[i * 6 + 1] = state;
        ints[i * 6 + 2] = hp_strategy_trial_bracket(s->strategy, i);
        ints[i * 6 + 3] = hp_strategy_trial_rung(s->strategy, i);
        ints[i * 6 + 4] = r->n_epochs;
        ints[i * 6 + 5] = r->checkpoint_epoch;
        status_names[i] = hp_study_state_name(state);
        failures[i] = r->failure ? r->failure : "";
        notes[i] = r->restart_note ? r->restart_note : "";
        stops[i] = hp_study_stop_note(s, i, stop_texts[i], sizeof stop_texts[i]);
        final_values[i] = hp_study_value(s, i, r->n_epochs);
        for (size_t k = 0; k < n_keys; k++)
            configs[(size_t)i * n_keys + k] = hp_config_get(&r->config, &keys[k]);
        for (int e = 0; e < r->n_epochs; e++, row++) {
            double *m = metrics + row * (HP_METRIC_COLS + 2);
            m[0] = i;
            m[1] = e + 1;
            memcpy(m + 2, r->epochs[e].values, sizeof r->epochs[e].values);
        }
    }
    char key_list[4096] = "";
    for (size_t k = 0; k < n_keys; k++) {
        strncat(key_list, keys[k].name, sizeof key_list - strlen(key_list) - 2);
        if (k + 1 < n_keys)
            strcat(key_list, ",");
    }
    const char *metric_columns[HP_METRIC_COLS + 2] = {"trial", "epoch"};
    const char *metric_units[HP_METRIC_COLS + 2] = {"trial id", "epochs completed (1-based)"};
    for (int c = 0; c < HP_METRIC_COLS; c++) {
        metric_columns[c + 2] = hp_metric_name(c);
        metric_units[c + 2] = metric_unit(c);
    }
    static const char *const int_columns[] = {"trial", "status", "bracket", "rung", "epochs", "checkpoint_epoch"};
    const char *state_labels[HP_STUDY_TRIAL_STATE_COUNT];
    for (int k = 0; k < HP_STUDY_TRIAL_STATE_COUNT; k++)
        state_labels[k] = hp_study_state_name(k);
    static const char *const assignment_columns[] = {"trial", "from_epoch", "to_epoch", "bracket", "rung"};
    char *abs_dir = absolute_path(s->dir), *abs_job = absolute_path(s->job.path);
    char *abs_data = s->job.data_path ? absolute_path(s->job.data_path) : hp_xstrdup("");
    uint8_t *state = NULL;
    size_t state_size = 0;
    int rc = -1;
    if (hp_strategy_save(s->strategy, &state, &state_size) != 0)
        goto out;
    /* built in memory and written by h5u_file_commit: a full disk is an
       error message, never a half-written file or a crash in HDF5's close */
    hid_t f = h5u_file_create(path);
    if (f < 0)
        goto out;
    hid_t g = H5Gcreate2(f, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int best_epoch = 0;
    double best_value = NAN;
    int best = hp_study_best_trial(s, &best_value, &best_epoch);
    int bad = g < 0 || h5u_write_attr_string(f, "format", "hptune-study") ||
              h5u_write_attr_int64(f, "format_version", HP_STUDY_FORMAT_VERSION) ||
              h5u_write_attr_string(f, "hptune_version", hp_build_version()) ||
              h5u_write_attr_string(f, "build_flags", hp_build_flags()) ||
              h5u_write_attr_string(f, "git_revision", hp_build_revision()) ||
              h5u_write_attr_string(f, "name", s->job.name) ||
              h5u_write_attr_string(f, "metric", hp_metric_name(s->job.metric)) ||
              h5u_write_attr_string(f, "mode", s->job.maximize ? "max" : "min") ||
              h5u_write_attr_string(f, "study_dir", abs_dir) || h5u_write_attr_string(f, "job_path", abs_job) ||
              h5u_write_attr_string(f, "data_path", abs_data) ||
              h5u_write_attr_int64(f, "finished", s->finished) ||
              h5u_write_attr_int64(f, "journal_events", s->n_events) ||
              h5u_write_attr_int64(f, "resumes", s->n_resumes) ||
              h5u_write_attr_int64(f, "best_trial", best) ||
              h5u_write_string(f, "job_text", s->job.text) ||
              h5u_write_array(f, "strategy_state", H5T_NATIVE_UINT8, state, state_size) ||
              h5u_write_matrix(g, "ids_status_bracket_rung_epochs_ckpt", H5T_NATIVE_INT32, ints, (size_t)n, 6) ||
              dataset_attr_strings(g, "ids_status_bracket_rung_epochs_ckpt", "columns", int_columns, 6) ||
              dataset_attr_strings(g, "ids_status_bracket_rung_epochs_ckpt", "status_labels", state_labels,
                                   HP_STUDY_TRIAL_STATE_COUNT) ||
              dataset_attr_string(g, "ids_status_bracket_rung_epochs_ckpt", "description",
                                  "status: index into status_labels; rung: -1 before the first rung's result; "
                                  "checkpoint_epoch: the newest epoch known to be checkpointed") ||
              h5u_write_string_array(g, "status", status_names, (size_t)n) ||
              h5u_write_string_array(g, "failure", failures, (size_t)n) ||
              h5u_write_string_array(g, "note", notes, (size_t)n) ||
              h5u_write_string_array(g, "stop", stops, (size_t)n) ||
              h5u_write_attr_int64(f, "budget_reached", s->budget_reached) ||
              h5u_write_attr_int64(f, "epochs_total", s->epochs_total) ||
              h5u_write_attr_int64(f, "max_epochs_total", s->max_epochs_total) ||
              h5u_write_attr_int64(f, "max_time", (int64_t)ceil(s->max_time)) ||
              h5u_write_array(g, "final_value", H5T_NATIVE_DOUBLE, final_values, (size_t)n) ||
              dataset_attr_string(g, "final_value", "description",
                                  "the study metric at each trial's last epoch (what ranks the trials)") ||
              h5u_write_matrix(g, "config", H5T_NATIVE_DOUBLE, configs, (size_t)n, n_keys) ||
              h5u_write_attr_string(g, "config_columns", key_list) || write_config_labels(g) ||
              h5u_write_matrix(f, "metrics", H5T_NATIVE_DOUBLE, metrics, rows, HP_METRIC_COLS + 2) ||
              dataset_attr_strings(f, "metrics", "columns", metric_columns, HP_METRIC_COLS + 2) ||
              dataset_attr_strings(f, "metrics", "units", metric_units, HP_METRIC_COLS + 2) ||
              h5u_write_matrix(f, "assignments", H5T_NATIVE_INT32, s->assignments, (size_t)s->n_assignments, 5) ||
              dataset_attr_strings(f, "assignments", "columns", assignment_columns, 5) ||
              write_test_group(f, s);
    if (!bad) {
        int64_t e = (int64_t)elapsed;
        bad = h5u_write_attr_int64(f, "elapsed_seconds", e);
    }
    if (g >= 0)
        H5U_CLOSE(g, "/trials", &bad);
    if (!bad)
        rc = h5u_file_commit(f, path);
    else
        h5u_file_discard(f);
out:
    if (rc)
        hp_error_prefix("%s: cannot write the study snapshot", path);
    free(state);
    free(path);
    free(ints);
    free(configs);
    free(final_values);
    free(status_names);
    free(failures);
    free(notes);
    free(stops);
    free(stop_texts);
    free(metrics);
    free(abs_dir);
    free(abs_job);
    free(abs_data);
    return rc;
}

/* ---------------------------------------------------------- best.yaml --- */

/* libyaml's emitter quotes whatever needs quoting (a path holding " #" or
 * ": ", a value that reads as a number or a boolean): text we did not write
 * ourselves never becomes YAML syntax. */
typedef struct yaml_out {
    yaml_emitter_t emitter;
    int failed;
} yaml_out;

static void emit(yaml_out *y, yaml_event_t *event, int made)
{
    if (!made || !yaml_emitter_emit(&y->emitter, event))
        y->failed = 1; /* the emitter frees the event either way */
}

static void emit_scalar(yaml_out *y, const char *text)
{
    yaml_event_t e;
    int made = yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                            YAML_ANY_SCALAR_STYLE);
    if (!y->failed)
        emit(y, &e, made);
    else if (made)
        yaml_event_delete(&e);
}

static void emit_int(yaml_out *y, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    emit_scalar(y, buf);
}

static void emit_mapping(yaml_out *y, int start, int flow)
{
    yaml_event_t e;
    int made = start ? yaml_mapping_start_event_initialize(&e, NULL, NULL, 1,
                                                           flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
                     : yaml_mapping_end_event_initialize(&e);
    if (!y->failed)
        emit(y, &e, made);
}

static void emit_int_list(yaml_out *y, const int *values, int n)
{
    yaml_event_t e;
    if (!y->failed)
        emit(y, &e, yaml_sequence_start_event_initialize(&e, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE));
    for (int i = 0; i < n; i++)
        emit_int(y, values[i]);
    if (!y->failed)
        emit(y, &e, yaml_sequence_end_event_initialize(&e));
}

static int write_to_file(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, (FILE *)data) == size;
}

/* A comment line: text without line breaks (a path may hold one). */
static void comment(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void comment(FILE *f, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(f, "# %s\n", line);
}

static void emit_best_job(yaml_out *y, const hp_study *s, const hp_config *c, const char *data_path)
{
    yaml_event_t e;
    emit(y, &e, yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING));
    if (!y->failed)
        emit(y, &e, yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1));
    emit_mapping(y, 1, 0);
    char name[128];
    snprintf(name, sizeof name, "%.95s-best", s->job.name); /* within the 100 characters of a study name */
    emit_scalar(y, "study");
    emit_mapping(y, 1, 1);
    emit_scalar(y, "name");
    emit_scalar(y, name);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->job.seed);
    emit_scalar(y, "seed");
    emit_scalar(y, seed);
    emit_scalar(y, "metric");
    emit_scalar(y, hp_metric_name(s->job.metric));
    emit_scalar(y, "mode");
    emit_scalar(y, s->job.maximize ? "max" : "min");
    emit_mapping(y, 0, 1);
    if (data_path) {
        emit_scalar(y, "data");
        emit_mapping(y, 1, 0);
        emit_scalar(y, "path");
        emit_scalar(y, data_path);
        emit_scalar(y, "train_shards");
        emit_int_list(y, s->job.train_shards, s->job.n_train_shards);
        emit_scalar(y, "val_shards");
        emit_int_list(y, s->job.val_shards, s->job.n_val_shards);
        emit_mapping(y, 0, 0);
    }
    emit_scalar(y, "strategy");
    emit_mapping(y, 1, 1);
    emit_scalar(y, "name");
    emit_scalar(y, "random");
    emit_scalar(y, "max_trials");
    emit_scalar(y, "1");
    emit_mapping(y, 0, 1);
    /* the trial's own configuration, seed and epoch budget included, so
       that `hptune train best.yaml` retrains exactly that trial */
    emit_scalar(y, "fixed");
    emit_mapping(y, 1, 0);
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    for (size_t k = 0; k < n_keys; k++) {
        char value[64];
        hp_config_format_value(&keys[k], hp_config_get(c, &keys[k]), value, sizeof value);
        emit_scalar(y, keys[k].name);
        emit_scalar(y, value);
    }
    emit_mapping(y, 0, 0);
    emit_mapping(y, 0, 0);
    if (!y->failed)
        emit(y, &e, yaml_document_end_event_initialize(&e, 1));
    if (!y->failed)
        emit(y, &e, yaml_stream_end_event_initialize(&e));
}

int hp_study_write_best_yaml(const hp_study *s)
{
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    if (best < 0)
        return 0;
    const hp_config *c = &s->trials[best].config;
    char *path = path_join(s->dir, "best.yaml");
    char *abs_path = absolute_path(path);
    /* absolute: `hptune train DIR/best.yaml` works from any folder */
    char *data_path = s->job.data_path ? absolute_path(s->job.data_path) : NULL;
    char *temp = hp_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(temp, "w");
    int rc = 0;
    if (!f) {
        rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
    } else {
        char v[40];
        shortest_double(value, v, sizeof v);
        comment(f, "best trial %d of study '%s': %s = %s after %d epochs (%s)", best, s->job.name,
                hp_metric_name(s->job.metric), v, epoch, s->finished ? "the study finished" : "so far");
        const hp_study_test *t = &s->test;
        if (t->recorded && t->images > 0)
            comment(f, "test set (checkpoint at epoch %d, %d images): accuracy %.4f loss %.4f F1 %.4f", t->epoch,
                    t->images, t->accuracy, t->loss, t->f1);
        else if (t->recorded)
            comment(f, "test set: not evaluated: %s", t->note ? t->note : "");
        comment(f, "retrain it with: hptune train %s", abs_path);
        yaml_out y = {0};
        if (!yaml_emitter_initialize(&y.emitter))
            HP_PANIC("libyaml could not initialise an emitter (out of memory)");
        yaml_emitter_set_output(&y.emitter, write_to_file, f);
        yaml_emitter_set_unicode(&y.emitter, 1);
        yaml_emitter_set_width(&y.emitter, -1);
        emit_best_job(&y, s, c, data_path);
        if (!y.failed && !yaml_emitter_flush(&y.emitter))
            y.failed = 1;
        if (y.failed && !ferror(f))
            rc = HP_ERR("%s: libyaml could not write it: %s", path,
                        y.emitter.problem ? y.emitter.problem : "unknown problem");
        yaml_emitter_delete(&y.emitter);
        if (rc == 0 && (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0)) {
            rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
            fclose(f);
        } else if (fclose(f) != 0) {
            rc = rc ? rc : HP_ERR("%s: cannot write: %s", path, strerror(errno));
        } else if (rc == 0 && rename(temp, path) != 0) {
            rc = HP_ERR("%s: cannot rename into place: %s", path, strerror(errno));
        }
        if (rc != 0)
            unlink(temp); /* nothing half-written stays behind */
    }
    free(path);
    free(abs_path);
    free(data_path);
    free(temp);
    return rc;
}

/* ------------------------------------------------------ status / export --- */

/* ------------------------------------------- repeated configurations --- */
/*
 * A configuration is the set of a trial's hyperparameters apart from its
 * seed: trials that differ only in the seed (grid and random repeats, or a
 * searched seed) are runs of one configuration.  Its mean and spread are over
 * its completed runs' final values (the metric at the last epoch, what ranks
 * a trial): mean = sum/n, std = the sample standard deviation
 * sqrt(sum (v - mean)^2 / (n - 1)) (NaN with fewer than 2 runs).
 */
typedef struct config_group {
    int first;      /* lowest trial id: the configuration's number is its rank by this */
    int n_runs;     /* trials of this configuration */
    int n_done;     /* completed runs with a finite final value */
    double mean, std;
    int *trials;    /* [n_runs] in id order, owned */
} config_group;

/* <0, 0, >0 over every hyperparameter but the seed (0: the same configuration). */
static int compare_but_seed(const hp_study *s, int a, int b)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    for (size_t k = 0; k < n_keys; k++) {
        if (strcmp(keys[k].name, "seed") == 0)
            continue;
        double va = hp_config_get(&s->trials[a].config, &keys[k]), vb = hp_config_get(&s->trials[b].config, &keys[k]);
        if (va != vb)
            return va < vb ? -1 : 1;
    }
    return 0;
}

static int compare_configs_by_value(const void *x, const void *y, void *arg)
{
    int a = *(const int *)x, b = *(const int *)y;
    int c = compare_but_seed(arg, a, b);
    return c ? c : a - b;
}

static int compare_groups_by_first(const void *x, const void *y)
{
    return ((const config_group *)x)->first - ((const config_group *)y)->first;
}

/* The study's configurations in order of their first trial; *n_groups set; caller frees with free_groups. */
static config_group *group_configs(const hp_study *s, int *n_groups)
{
    int n = s->n_trials;
    int *order = hp_xcalloc((size_t)n + 1, sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, compare_configs_by_value, (void *)s);
    config_group *g = hp_xcalloc((size_t)n + 1, sizeof *g);
    int count = 0;
    for (int j = 0; j < n;) {
        int end = j + 1;
        while (end < n && compare_but_seed(s, order[j], order[end]) == 0)
            end++;
        config_group *c = &g[count++];
        c->n_runs = end - j;
        c->trials = hp_xcalloc((size_t)c->n_runs, sizeof *c->trials);
        memcpy(c->trials, order + j, (size_t)c->n_runs * sizeof *c->trials); /* ids ascending (tie order) */
        c->first = c->trials[0];
        double *done = hp_xcalloc((size_t)c->n_runs, sizeof *done); /* completed runs' final values */
        double sum = 0;
        for (int r = 0; r < c->n_runs; r++) {
            int t = c->trials[r];
            double v = hp_study_value(s, t, s->trials[t].n_epochs);
            if (hp_study_trial_state(s, t) == HP_TRIAL_COMPLETED && isfinite(v)) {
                done[c->n_done++] = v;
                sum += v;
            }
        }
        c->mean = c->n_done ? sum / c->n_done : NAN;
        double squares = 0;
        for (int r = 0; r < c->n_done; r++)
            squares += (done[r] - c->mean) * (done[r] - c->mean);
        c->std = c->n_done >= 2 ? sqrt(squares / (c->n_done - 1)) : NAN;
        free(done);
        j = end;
    }
    qsort(g, (size_t)count, sizeof *g, compare_groups_by_first);
    free(order);
    *n_groups = count;
    return g;
}

static void free_groups(config_group *g, int n)
{
    for (int i = 0; i < n; i++)
        free(g[i].trials);
    free(g);
}



static int compare_trials(const hp_study *s, int a, int b)
{
    double va = hp_study_value(s, a, s->trials[a].n_epochs), vb = hp_study_value(s, b, s->trials[b].n_epochs);
    if (hp_study_better(s, va, vb))
        return -1;
    if (hp_study_better(s, vb, va))
        return 1;
    return a - b;
}

static const hp_study *sort_study;
static int sort_cmp(const void *x, const void *y) { return compare_trials(sort_study, *(const int *)x, *(const int *)y); }

/* Configurations run more than once: mean and std over their completed runs, best mean first. */
static void print_repeated_configs(const hp_study *s, FILE *f)
{
    int n_groups;
    config_group *g = group_configs(s, &n_groups);
    int repeated = 0;
    for (int i = 0; i < n_groups; i++)
        repeated |= g[i].n_runs > 1;
    if (repeated) {
        for (int i = 1; i < n_groups; i++) /* insertion sort by mean, best first; no mean last; stable */
            for (int j = i; j > 0; j--) {
                double a = g[j].mean, b = g[j - 1].mean;
                if (!hp_study_better(s, a, b))
                    break;
                config_group tmp = g[j];
                g[j] = g[j - 1];
                g[j - 1] = tmp;
            }
        fprintf(f, "configurations (runs differing only in the seed; mean and std of %s over completed runs):\n",
                hp_metric_name(s->job.metric));
        fprintf(f, "%6s  %4s  %4s  %12s  %12s  %s\n", "config", "runs", "done", "mean", "std", "configuration");
        for (int i = 0; i < n_groups; i++) {
            char config[1024], mean[32], std[32];
            hp_study_format_space(s, &s->trials[g[i].first].config, config, sizeof config);
            snprintf(mean, sizeof mean, isnan(g[i].mean) ? "-" : "%.6g", g[i].mean);
            snprintf(std, sizeof std, isnan(g[i].std) ? "-" : "%.6g", g[i].std);
            fprintf(f, "%6d  %4d  %4d  %12s  %12s  %s  (trials", g[i].first, g[i].n_runs, g[i].n_done, mean, std,
                    config);
            for (int r = 0; r < g[i].n_runs; r++)
                fprintf(f, " %d", g[i].trials[r]);
            fprintf(f, ")\n");
        }
    }
    free_groups(g, n_groups);
}

void hp_study_print_status(const hp_study *s, FILE *f)
{
    int counts[HP_STUDY_TRIAL_STATE_COUNT] = {0};
    for (int i = 0; i < s->n_trials; i++)
        counts[hp_study_trial_state(s, i)]++;
    fprintf(f, "study %s (%s): %d trials: %d running, %d paused, %d completed, %d stopped, %d failed", s->job.name,
            s->dir, s->n_trials, counts[HP_TRIAL_RUNNING], counts[HP_TRIAL_PAUSED], counts[HP_TRIAL_COMPLETED],
            counts[HP_TRIAL_STOPPED], counts[HP_TRIAL_FAILED]);
    if (counts[HP_STUDY_TRIAL_INTERRUPTED])
        fprintf(f, ", %d interrupted", counts[HP_STUDY_TRIAL_INTERRUPTED]);
    fprintf(f, "%s\n", s->finished ? " - finished" : s->live && s->run_open ? " - running now"
                      : s->budget_reached ? " - budget reached" : " - not finished");
    if (s->max_time > 0 || s->max_epochs_total > 0) {
        fprintf(f, "budget: %ld epochs", s->epochs_total);
        if (s->max_epochs_total > 0)
            fprintf(f, " of max_epochs_total %ld", s->max_epochs_total);
        fprintf(f, ", %.0f s", s->elapsed_before);
        if (s->max_time > 0)
            fprintf(f, " of max_time %.0f s", s->max_time);
        fprintf(f, "%s\n", s->budget_reached ? "; reached: 'hptune resume DIR --max-epochs-total N --max-time T' "
                                               "continues with a larger budget" : "");
    }
    if (s->test.recorded && s->test.images > 0)
        fprintf(f, "test set (best trial %d, checkpoint at epoch %d; apart from the validation metric that selected "
                   "it): accuracy %.4f loss %.4f F1 %.4f (%d images)\n",
                s->test.trial, s->test.epoch, s->test.accuracy, s->test.loss, s->test.f1, s->test.images);
    else if (s->test.recorded)
        fprintf(f, "test set: not evaluated: %s\n", s->test.note);
    int *order = hp_xcalloc((size_t)s->n_trials + 1, sizeof(int));
    for (int i = 0; i < s->n_trials; i++)
        order[i] = i;
    sort_study = s;
    qsort(order, (size_t)s->n_trials, sizeof(int), sort_cmp);
    fprintf(f, "%6s  %-11s  %8s  %6s  %12s  %s\n", "trial", "status", "brk/rung", "epochs",
            hp_metric_name(s->job.metric), "configuration");
    for (int j = 0; j < s->n_trials; j++) {
        int i = order[j];
        const hp_trial_record *r = &s->trials[i];
        char config[1024], br[32], value[32];
        hp_study_format_space(s, &r->config, config, sizeof config);
        int rung = hp_strategy_trial_rung(s->strategy, i);
        if (!hp_strategy_has_rungs(s->strategy))
            snprintf(br, sizeof br, "-"); /* rungs are an ASHA notion */
        else if (rung < 0)
            snprintf(br, sizeof br, "%d/-", hp_strategy_trial_bracket(s->strategy, i));
        else
            snprintf(br, sizeof br, "%d/%d", hp_strategy_trial_bracket(s->strategy, i), rung);
        if (r->n_epochs > 0)
            snprintf(value, sizeof value, "%.6g", hp_study_value(s, i, r->n_epochs));
        else /* no epoch yet: nothing to show, not a NaN */
            snprintf(value, sizeof value, "%s", r->failure ? "-" : "pending");
        char stop[64];
        hp_study_stop_note(s, i, stop, sizeof stop);
        fprintf(f, "%6d  %-11s  %8s  %6d  %12s  %s%s%s%s%s%s\n", i, hp_study_state_name(hp_study_trial_state(s, i)), br,
                r->n_epochs, value, config, r->failure ? "  failed: " : "", r->failure ? r->failure : "",
                stop[0] ? "  (" : "", stop, stop[0] ? ")" : "");
        if (r->restart_note)
            fprintf(f, "%6s  note: %s\n", "", r->restart_note);
    }
    free(order);
    print_repeated_configs(s, f);
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
    char buf[40];
    if (!isfinite(v)) {
        fprintf(f, "null");
        return;
    }
    shortest_double(v, buf, sizeof buf);
    fputs(buf, f);
}

/* CSV numbers: shortest round trip; nan/inf as pandas reads them. */
static void csv_number(FILE *f, double v)
{
    char buf[40];
    if (isnan(v))
        fputs("nan", f);
    else if (isinf(v))
        fputs(v > 0 ? "inf" : "-inf", f);
    else {
        shortest_double(v, buf, sizeof buf);
        fputs(buf, f);
    }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
static void csv_text(FILE *f, const char *text)
{
    if (!text[strcspn(text, ",\"\r\n")]) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Is key k an inactive conditional space parameter of c (shown empty in
 * CSV, null in JSON, "-" in status)? */
static int inactive_key(const hp_job *job, const hp_key *k, const hp_config *c)
{
    for (int i = 0; i < job->n_params; i++)
        if (job->params[i].key == k)
            return !hp_job_param_active(job, i, c);
    return 0;
}

static void csv_config(FILE *f, const hp_job *job, const hp_config *c, int skip_seed)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    for (size_t k = 0; k < n_keys; k++) {
        char value[64];
        if (skip_seed && strcmp(keys[k].name, "seed") == 0)
            continue;
        if (inactive_key(job, &keys[k], c)) {
            fputc(',', f);
            continue;
        }
        hp_config_format_value(&keys[k], hp_config_get(c, &keys[k]), value, sizeof value);
        fprintf(f, ",%s", value);
    }
}

static void json_config(FILE *f, const hp_job *job, const hp_config *c, int skip_seed)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    fprintf(f, "{");
    int first = 1;
    for (size_t k = 0; k < n_keys; k++) {
        char value[64];
        if (skip_seed && strcmp(keys[k].name, "seed") == 0)
            continue;
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", keys[k].name);
        first = 0;
        if (inactive_key(job, &keys[k], c)) {
            fprintf(f, "null");
            continue;
        }
        hp_config_format_value(&keys[k], hp_config_get(c, &keys[k]), value, sizeof value);
        if (keys[k].type == HP_KEY_ENUM)
            json_string(f, value);
        else
            fprintf(f, "%s", value);
    }
    fprintf(f, "}");
}

/* The trial's best epoch under the study's metric and mode (0: none). */
static int best_epoch_of(const hp_study *s, int trial)
{
    int best = 0;
    for (int e = 1; e <= s->trials[trial].n_epochs; e++)
        if (hp_study_better(s, hp_study_value(s, trial, e), best ? hp_study_value(s, trial, best) : NAN))
            best = e;
    return best;
}

/* The test-set evaluation as a JSON object (null if none was recorded). */
static void json_test(FILE *f, const hp_study *s)
{
    const hp_study_test *t = &s->test;
    if (!t->recorded) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"trial\": %d, \"epoch\": %d, \"images\": %d, \"evaluated\": %s, \"loss\": ", t->trial, t->epoch,
            t->images, t->images > 0 ? "true" : "false");
    json_number(f, t->loss);
    fprintf(f, ", \"accuracy\": ");
    json_number(f, t->accuracy);
    fprintf(f, ", \"precision\": ");
    json_number(f, t->precision);
    fprintf(f, ", \"recall\": ");
    json_number(f, t->recall);
    fprintf(f, ", \"f1\": ");
    json_number(f, t->f1);
    fprintf(f, ", \"note\": ");
    json_string(f, t->note ? t->note : "");
    fprintf(f, "}");
}

static void json_header(FILE *f, const hp_study *s)
{
    fprintf(f, "{\"study\": ");
    json_string(f, s->job.name);
    fprintf(f, ", \"metric\": \"%s\", \"mode\": \"%s\", \"finished\": %s, \"test\": ", hp_metric_name(s->job.metric),
            s->job.maximize ? "max" : "min", s->finished ? "true" : "false");
    json_test(f, s);
    fprintf(f, ", \"trials\": [");
}

static void json_trial_head(FILE *f, const hp_study *s, int i)
{
    const hp_trial_record *r = &s->trials[i];
    fprintf(f, "%s\n  {\"trial\": %d, \"status\": \"%s\", \"bracket\": %d, \"rung\": %d, \"failure\": ", i ? "," : "",
            i, hp_study_state_name(hp_study_trial_state(s, i)), hp_strategy_trial_bracket(s->strategy, i),
            hp_strategy_trial_rung(s->strategy, i));
    if (r->failure)
        json_string(f, r->failure);
    else
        fprintf(f, "null");
    char stop[64];
    fprintf(f, ", \"stop\": ");
    if (hp_study_stop_note(s, i, stop, sizeof stop)[0])
        json_string(f, stop);
    else
        fprintf(f, "null");
    fprintf(f, ", \"restarts\": %d, \"restart_note\": ", r->restarts);
    if (r->restart_note)
        json_string(f, r->restart_note);
    else
        fprintf(f, "null");
    fprintf(f, ", \"config\": ");
    json_config(f, &s->job, &r->config, 0);
}

/* CSV: one row per (trial, epoch) with the trial's configuration and its
 * failure reason; a trial without an epoch (pending, or failed before its
 * first) has one row with the epoch and metrics empty.
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
        fprintf(f, ",failure,stop\n");
    } else {
        json_header(f, s);
    }
    for (int i = 0; i < s->n_trials; i++) {
        const hp_trial_record *r = &s->trials[i];
        const char *status = hp_study_state_name(hp_study_trial_state(s, i));
        char stop[64];
        hp_study_stop_note(s, i, stop, sizeof stop);
        if (!json) {
            for (int e = 0; e < (r->n_epochs ? r->n_epochs : 1); e++) {
                fprintf(f, "%d,%s,%d,%d,", i, status, hp_strategy_trial_bracket(s->strategy, i),
                        hp_strategy_trial_rung(s->strategy, i));
                if (r->n_epochs)
                    fprintf(f, "%d", e + 1);
                for (int m = 0; m < HP_METRIC_COLS; m++) {
                    fputc(',', f);
                    if (r->n_epochs)
                        csv_number(f, r->epochs[e].values[m]);
                }
                csv_config(f, &s->job, &r->config, 0);
                fputc(',', f);
                csv_text(f, r->failure ? r->failure : "");
                fputc(',', f);
                csv_text(f, stop);
                fputc('\n', f);
            }
            continue;
        }
        json_trial_head(f, s, i);
        fprintf(f, ", \"epochs\": [");
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

/* One row (object) per trial: the leaderboard.  Columns: trial, status,
 * bracket, rung, epochs_done, final_<metric> (at its last epoch: what ranks it),
 * best_<metric> and best_epoch, restarts, test_accuracy, test_loss, test_f1
 * (the winner's test set, empty for the others), failure, configuration. */
int hp_study_export_trials(const hp_study *s, FILE *f, int json)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    const char *metric = hp_metric_name(s->job.metric);
    const hp_study_test *t = &s->test;
    if (!json) {
        fprintf(f, "trial,status,bracket,rung,epochs_done,final_%s,best_%s,best_epoch,restarts,test_accuracy,test_loss,"
                   "test_f1,failure,stop", metric, metric);
        for (size_t k = 0; k < n_keys; k++)
            fprintf(f, ",%s", keys[k].name);
        fprintf(f, "\n");
    } else {
        json_header(f, s);
    }
    for (int i = 0; i < s->n_trials; i++) {
        const hp_trial_record *r = &s->trials[i];
        int best = best_epoch_of(s, i);
        int tested = t->recorded && t->images > 0 && t->trial == i;
        if (json) {
            json_trial_head(f, s, i);
            fprintf(f, ", \"epochs_done\": %d, \"final\": ", r->n_epochs);
            json_number(f, hp_study_value(s, i, r->n_epochs));
            fprintf(f, ", \"best\": ");
            json_number(f, best ? hp_study_value(s, i, best) : NAN);
            fprintf(f, ", \"best_epoch\": %d}", best);
            continue;
        }
        fprintf(f, "%d,%s,%d,%d,%d,", i, hp_study_state_name(hp_study_trial_state(s, i)),
                hp_strategy_trial_bracket(s->strategy, i), hp_strategy_trial_rung(s->strategy, i), r->n_epochs);
        if (r->n_epochs)
            csv_number(f, hp_study_value(s, i, r->n_epochs));
        fputc(',', f);
        if (best)
            csv_number(f, hp_study_value(s, i, best));
        fprintf(f, ",%d,%d,", best, r->restarts);
        if (tested) {
            csv_number(f, t->accuracy);
            fputc(',', f);
            csv_number(f, t->loss);
            fputc(',', f);
            csv_number(f, t->f1);
        } else {
            fputs(",,", f);
        }
        fputc(',', f);
        csv_text(f, r->failure ? r->failure : "");
        char stop[64];
        fputc(',', f);
        csv_text(f, hp_study_stop_note(s, i, stop, sizeof stop));
        csv_config(f, &s->job, &r->config, 0);
        fputc('\n', f);
    }
    if (json)
        fprintf(f, "\n]}\n");
    return ferror(f) ? HP_ERR("cannot write the export") : 0;
}

/* One row (object) per configuration (trials differing only in the seed):
 * config (its first trial's id), runs, completed, mean_<metric>, std_<metric>
 * (over the completed runs' final values; empty / null when there are none,
 * std with fewer than 2), trials (the ids, space-separated in CSV), then the
 * configuration without the seed. */
int hp_study_export_configs(const hp_study *s, FILE *f, int json)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    const char *metric = hp_metric_name(s->job.metric);
    int n_groups;
    config_group *g = group_configs(s, &n_groups);
    if (!json) {
        fprintf(f, "config,runs,completed,mean_%s,std_%s,trials", metric, metric);
        for (size_t k = 0; k < n_keys; k++)
            if (strcmp(keys[k].name, "seed") != 0)
                fprintf(f, ",%s", keys[k].name);
        fprintf(f, "\n");
    } else {
        fprintf(f, "{\"study\": ");
        json_string(f, s->job.name);
        fprintf(f, ", \"metric\": \"%s\", \"mode\": \"%s\", \"finished\": %s, \"configurations\": [", metric,
                s->job.maximize ? "max" : "min", s->finished ? "true" : "false");
    }
    for (int i = 0; i < n_groups; i++) {
        const config_group *c = &g[i];
        const hp_config *config = &s->trials[c->first].config;
        if (json) {
            fprintf(f, "%s\n  {\"config\": %d, \"runs\": %d, \"completed\": %d, \"mean\": ", i ? "," : "", c->first,
                    c->n_runs, c->n_done);
            json_number(f, c->mean);
            fprintf(f, ", \"std\": ");
            json_number(f, c->std);
            fprintf(f, ", \"trials\": [");
            for (int r = 0; r < c->n_runs; r++)
                fprintf(f, "%s%d", r ? ", " : "", c->trials[r]);
            fprintf(f, "], \"params\": ");
            json_config(f, &s->job, config, 1);
            fprintf(f, "}");
            continue;
        }
        fprintf(f, "%d,%d,%d,", c->first, c->n_runs, c->n_done);
        if (c->n_done)
            csv_number(f, c->mean);
        fputc(',', f);
        if (c->n_done >= 2)
            csv_number(f, c->std);
        fputc(',', f);
        for (int r = 0; r < c->n_runs; r++)
            fprintf(f, "%s%d", r ? " " : "", c->trials[r]);
        csv_config(f, &s->job, config, 1);
        fputc('\n', f);
    }
    if (json)
        fprintf(f, "\n]}\n");
    free_groups(g, n_groups);
    return ferror(f) ? HP_ERR("cannot write the export") : 0;
}
