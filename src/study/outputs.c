/* outputs.c - what a study shows people and scripts: the study.h5 snapshot,
 * best.yaml, the status table and the CSV/JSON exports.  Everything here
 * reads the recorded state (study.h): each trial's configuration is the one
 * it was assigned, never re-derived from the job file.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "h5util.h"
#include "study.h"

static char *path_join(const char *dir, const char *name) { return hp_xasprintf("%s/%s", dir, name); }

/* ----------------------------------------------------------- snapshot --- */

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
        for (size_t k = 0; k < n_keys; k++)
            configs[(size_t)i * n_keys + k] = hp_config_get(&r->config, &keys[k]);
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
        H5U_CLOSE(ds, "/metrics", &bad);
    }
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
    const hp_config *c = &s->trials[best].config;
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
        hp_config_write_yaml(f, c, "  ");
        if (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
            rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
            fclose(f);
        } else if (fclose(f) != 0) {
            rc = HP_ERR("%s: cannot write: %s", path, strerror(errno));
        } else if (rename(temp, path) != 0) {
            rc = HP_ERR("%s: cannot rename into place: %s", path, strerror(errno));
        }
        if (rc != 0)
            unlink(temp); /* nothing half-written stays behind */
    }
    free(path);
    free(temp);
    return rc;
}

/* ------------------------------------------------------ status / export --- */

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

void hp_study_print_status(const hp_study *s, FILE *f)
{
    int counts[HP_TRIAL_STATUS_COUNT];
    hp_study_count_status(s, counts);
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
        hp_study_format_space(s, &s->trials[i].config, config, sizeof config);
        if (hp_strategy_has_rungs(s->strategy))
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
        const hp_config *c = &s->trials[i].config;
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
                    hp_config_format_value(&keys[k], hp_config_get(c, &keys[k]), value, sizeof value);
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
            hp_config_format_value(&keys[k], hp_config_get(c, &keys[k]), value, sizeof value);
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
