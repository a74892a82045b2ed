/* report_model.c - a study as report.h's data model, and `hptune report`'s page.
 *
 * Everything comes from the recorded state (study.h): trials, their recorded
 * configurations (as the space's vector, space.h), epochs and statuses; the
 * best trial's confusion matrix from its checkpoint when it has one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "checkpoint.h"
#include "error.h"
#include "report.h"
#include "space.h"
#include "report_model.h"

static const char *const cifar10_classes[HP_REPORT_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

_Static_assert(HP_REPORT_METRIC_COLS == HP_METRIC_COLS, "the report's metric row is the study's");

int hp_study_write_report(const hp_study *s, const char *path, const char *heatmap, const char *state,
                          double elapsed)
{
    const hp_job *job = &s->job;
    int n = s->n_trials, d = job->n_params;
    if (!state)
        state = s->finished ? "finished" : s->live && s->run_open ? "running" : "interrupted";

    /* parameters as axes */
    hp_space_dim *dims = hp_xcalloc((size_t)d + 1, sizeof *dims);
    hp_space_dims(job, dims);
    hp_report_param *params = hp_xcalloc((size_t)d + 1, sizeof *params);
    char ***labels = hp_xcalloc((size_t)d + 1, sizeof *labels);
    for (int i = 0; i < d; i++) {
        const hp_param *p = &job->params[i];
        params[i].name = p->key->name;
        if (dims[i].n_choices > 0) {
            params[i].scale = HP_REPORT_CATEGORICAL;
            params[i].n_labels = p->n_values;
            labels[i] = hp_xcalloc((size_t)p->n_values, sizeof **labels);
            for (int k = 0; k < p->n_values; k++) {
                char buf[64];
                hp_config_format_value(p->key, p->values[k], buf, sizeof buf);
                labels[i][k] = hp_xstrdup(buf);
            }
            params[i].labels = (const char *const *)labels[i];
        } else {
            params[i].scale = dims[i].log ? HP_REPORT_LOG : HP_REPORT_LINEAR;
            params[i].low = dims[i].low;
            params[i].high = dims[i].high;
        }
    }

    /* trials */
    hp_report_trial *trials = hp_xcalloc((size_t)n + 1, sizeof *trials);
    double *vectors = hp_xcalloc((size_t)n * (size_t)d + 1, sizeof *vectors);
    char (*stops)[64] = hp_xcalloc((size_t)n + 1, sizeof *stops);
    double core_seconds = 0;
    long total_epochs = 0;
    int rungs = hp_strategy_has_rungs(s->strategy);
    for (int t = 0; t < n; t++) {
        const hp_trial_record *r = &s->trials[t];
        hp_report_trial *rt = &trials[t];
        rt->id = t;
        rt->status = hp_study_state_name(hp_study_trial_state(s, t)); /* as status and export say */
        rt->bracket = rungs ? hp_strategy_trial_bracket(s->strategy, t) : -1;
        rt->rung = rungs ? hp_strategy_trial_rung(s->strategy, t) : -1;
        rt->n_epochs = r->n_epochs;
        rt->metrics = r->n_epochs ? r->epochs[0].values : NULL; /* hp_epoch_record is the bare row */
        hp_space_to_vector(job, &r->config, vectors + (size_t)t * (size_t)d);
        rt->params = vectors + (size_t)t * (size_t)d;
        rt->value = hp_study_value(s, t, r->n_epochs);
        rt->failure = r->failure;
        rt->stop = hp_study_stop_note(s, t, stops[t], sizeof stops[t]);
        total_epochs += r->n_epochs;
        for (int e = 0; e < r->n_epochs; e++)
            if (isfinite(r->epochs[e].values[HP_COL_SECONDS]))
                core_seconds += r->epochs[e].values[HP_COL_SECONDS];
    }

    int best = hp_study_best_trial(s, NULL, NULL);
    /* the best trial's confusion matrix at the epoch that ranks it */
    long long confusion[HP_REPORT_CLASSES * HP_REPORT_CLASSES];
    int have_confusion = 0;
    if (best >= 0 && job->objective == HP_OBJECTIVE_TRAIN) {
        const char *which[2] = {"last", "best"};
        for (int w = 0; w < 2 && !have_confusion; w++) {
            char *ck = hp_study_checkpoint_path(s, best, which[w]);
            int64_t cm[HP_NUM_CLASSES * HP_NUM_CLASSES];
            if (access(ck, F_OK) == 0 && hp_checkpoint_read_confusion(ck, s->trials[best].n_epochs, cm) == 0) {
                for (int i = 0; i < HP_REPORT_CLASSES * HP_REPORT_CLASSES; i++)
                    confusion[i] = cm[i];
                have_confusion = 1;
            }
            hp_error_clear();
            free(ck);
        }
    }
    int rung_epochs[64], n_rungs = 0;
    if (rungs)
        for (int k = 0; k < hp_strategy_num_rungs(s->strategy, 0) && k < 64; k++)
            rung_epochs[n_rungs++] = hp_strategy_rung_epochs(s->strategy, 0, k);

    char strategy_text[512], generated[64];
    hp_strategy_summary(s->strategy, strategy_text, sizeof strategy_text);
    time_t now = time(NULL);
    struct tm tm;
    strftime(generated, sizeof generated, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    char *heat_a = NULL, *heat_b = NULL;
    if (heatmap) {
        heat_a = hp_xstrdup(heatmap);
        char *comma = strchr(heat_a, ',');
        if (comma) {
            *comma = '\0';
            heat_b = comma + 1;
        }
    }
    hp_report r = {
        .study_name = job->name,
        .strategy_text = strategy_text,
        .state = state,
        .metric = hp_metric_name(job->metric),
        .metric_column = hp_metric_column(job->metric),
        .maximize = job->maximize,
        .elapsed_seconds = elapsed >= 0 ? elapsed : s->elapsed_before,
        .core_hours = core_seconds / 3600.0,
        .total_epochs = total_epochs,
        .n_workers = s->n_workers,
        .n_params = d,
        .params = params,
        .n_trials = n,
        .trials = trials,
        .best = best,
        .n_rungs = n_rungs,
        .rung_epochs = rung_epochs,
        .has_test = s->test.recorded && s->test.images > 0,
        .test_accuracy = s->test.accuracy,
        .test_loss = s->test.loss,
        .test_f1 = s->test.f1,
        .test_images = s->test.images,
        .best_confusion = have_confusion ? confusion : NULL,
        .class_names = cifar10_classes,
        .heatmap_a = heat_a,
        .heatmap_b = heat_b,
        .generated_at = generated,
        .version = hp_build_version(),
    };
    int rc = 0;
    if (heat_a && !heat_b)
        rc = HP_ERR("--heatmap takes two parameter names separated by a comma, e.g. --heatmap "
                    "learning_rate,filters; got '%s'", heatmap);
    else
        rc = hp_report_write_html(&r, path);
    free(heat_a);
    for (int i = 0; i < d; i++) {
        for (int k = 0; labels[i] && k < job->params[i].n_values; k++)
            free(labels[i][k]);
        free(labels[i]);
    }
    free(labels);
    free(params);
    free(dims);
    free(trials);
    free(vectors);
    free(stops);
    return rc;
}
