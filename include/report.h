/* report.h - `hptune report`: one self-contained, offline HTML page of a study.
 *
 * The caller (the command layer) fills an hp_report from a study's journal and
 * trial table; hp_report_write_html() renders it as ONE HTML file: inline CSS
 * (with a print stylesheet), inline SVG plots, a ~1 kB inline script that only
 * makes the trial table sortable (the page is complete without it), a
 * Content-Security-Policy that forbids every network load, and no external
 * fonts, images or libraries.  Sections, top to bottom:
 *   header (study, strategy, state, trials by status, budget, best trial,
 *   test set), optimisation history, learning curves (+ train-vs-validation
 *   view of the best trials), hyperparameter importance, parallel coordinates,
 *   slice plots, heat map, the best trial's confusion matrix, all trials.
 * Every section shows a clear empty state when it has nothing to draw.
 *
 * Large studies (rules stated in the page's captions as well):
 *   - learning curves: every trial with at least one epoch is drawn when there
 *     are at most HP_REPORT_CURVES_ALL of them; otherwise the
 *     HP_REPORT_CURVES_BEST best trials by the study metric plus
 *     HP_REPORT_CURVES_SPREAD trials spread evenly over the rest of the
 *     ranking (trials without a value follow the ranked ones), over a band of
 *     the 10-90 % quantiles and the median of ALL trials per epoch; at most
 *     HP_REPORT_MAX_POINTS points per curve (evenly strided, last epoch kept);
 *   - parallel coordinates and slice plots: all trials up to
 *     HP_REPORT_LINES_ALL, else the HP_REPORT_LINES_BEST best plus
 *     HP_REPORT_LINES_SPREAD spread over the ranking (same rule);
 *   - optimisation history: every trial, as one compact path per status
 *     (per-trial tooltips only up to HP_REPORT_LINES_ALL trials);
 *   - the trial table lists every trial on screen; a printout of a study with
 *     more than 500 trials lists the 500 best (the page says so);
 *   - heat map: a cell per categorical value or per distinct value of a
 *     numeric parameter with at most 12 values, else 8 equal-width bins
 *     (log-spaced for LOG); a cell shows the best metric of its trials;
 *   - axis ranges leave out rare far outliers (diverged losses), see draw.c.
 * Measured (report_demo, -O2, this machine): 10,000 trials x 30 epochs x 6
 * parameters render in ~0.4 s to a 2.1 MB page that Chromium loads in ~2 s.
 * DOM marks for tests: every drawn learning curve is an SVG <g data-trial="ID">
 * (its train/validation loss/accuracy paths inside), the curves <svg> has
 * data-curves="<number drawn>" and data-curves-total="<trials with epochs>";
 * every parallel-coordinates axis is a <g data-axis="<param name>"> (the
 * metric axis is data-metric-axis instead); sections have ids (header,
 * history, curves, overfit, importance, parallel, slices, heatmap,
 * confusion, trials).
 *
 * Every string from the data model is HTML-escaped (& < > " ' and control
 * characters), in text and attributes alike; numbers that are NaN/inf never
 * reach an SVG coordinate.  Colours: viridis for values (darker = better,
 * the same in every plot), the Okabe-Ito palette for statuses; both survive
 * grey-scale printing and common colour-vision deficiencies.
 */
#ifndef HPTUNE_REPORT_H
#define HPTUNE_REPORT_H

/* Columns of a trial's per-epoch metric row (the same order as job.h's
 * HP_METRIC_COLS row): */
#define HP_REPORT_METRIC_COLS 9
enum {
    HP_REPORT_COL_TRAIN_LOSS = 0,
    HP_REPORT_COL_TRAIN_ACCURACY = 1,
    HP_REPORT_COL_VAL_LOSS = 2,
    HP_REPORT_COL_VAL_ACCURACY = 3,
    HP_REPORT_COL_VAL_PRECISION = 4,
    HP_REPORT_COL_VAL_RECALL = 5,
    HP_REPORT_COL_VAL_F1 = 6,
    HP_REPORT_COL_LR = 7,
    HP_REPORT_COL_SECONDS = 8
};
#define HP_REPORT_CLASSES 10 /* CIFAR-10: confusion matrix is 10 x 10 */

/* Thinning limits (see the header comment). */
#define HP_REPORT_CURVES_ALL 200
#define HP_REPORT_CURVES_BEST 100
#define HP_REPORT_CURVES_SPREAD 100
#define HP_REPORT_LINES_ALL 1000
#define HP_REPORT_LINES_BEST 200
#define HP_REPORT_LINES_SPREAD 800
#define HP_REPORT_MAX_POINTS 200

typedef enum { HP_REPORT_LINEAR = 0, HP_REPORT_LOG, HP_REPORT_CATEGORICAL } hp_report_scale;

typedef struct hp_report_param {
    const char *name;
    hp_report_scale scale;
    int n_labels;              /* categorical: number of values (> 0) */
    const char *const *labels; /* categorical: (n_labels) label of value index i */
    double low, high;          /* numeric axis range (from the search space); widened to the
                                  data if a value lies outside; LOG needs low > 0 */
} hp_report_param;

typedef struct hp_report_trial {
    int id;
    const char *status;      /* completed, stopped, failed, running, paused, pending, interrupted */
    int bracket, rung;       /* -1 when the strategy has no rungs */
    int n_epochs;
    const double *metrics;   /* (n_epochs, HP_REPORT_METRIC_COLS); epoch e at row e-1; NaN = not
                                measured (e.g. train metrics of a curves objective) */
    const double *params;    /* (n_params) value of each report param (categorical: index);
                                NaN = inactive; may be NULL only when n_params == 0 */
    double value;            /* the study metric of the trial (at its last epoch); NaN none */
    const char *failure;     /* NULL unless failed */
    const char *stop;        /* why rank 0 ended it early ("early stop at epoch 7",
                                "median rule at epoch 4"); NULL or "" otherwise */
} hp_report_trial;

typedef struct hp_report {
    const char *study_name;
    const char *strategy_text;   /* e.g. "asha: 81 trials, rungs at 1, 3, 9, 27 epochs, eta 3" */
    const char *state;           /* "running", "interrupted", "finished" */
    const char *metric;          /* "val_accuracy", ... */
    int metric_column;           /* its column in the metric rows */
    int maximize;
    double elapsed_seconds, core_hours;
    long total_epochs;
    int n_workers;
    int n_params;
    const hp_report_param *params;  /* (n_params) */
    int n_trials;
    const hp_report_trial *trials;  /* (n_trials), any order; shown in this order as "trial number" */
    int best;                       /* index into trials, -1 none */
    int n_rungs;
    const int *rung_epochs;         /* (n_rungs) ASHA/BOHB rung epochs, for marks; 0 none */
    int has_test;
    double test_accuracy, test_loss, test_f1;
    int test_images;
    const long long *best_confusion; /* (10, 10), row = true class, of the best trial's best
                                        epoch, or NULL */
    const char *const *class_names;  /* (10) names, or NULL (then "class 0" ...) */
    const char *heatmap_a, *heatmap_b; /* param names for the heat map, or NULL (the two most
                                          important); naming an unknown parameter is an error */
    const char *generated_at, *version; /* shown in the footer; may be NULL */
} hp_report;

/* Write the page to `path`: written to "<path>.tmp" and renamed over `path`
 * after a checked close, so a reader never sees a half-written page and a
 * failure leaves an existing file untouched.  Returns 0, or -1 with a message
 * (bad input such as an unknown heat-map parameter, unwritable path). */
int hp_report_write_html(const hp_report *r, const char *path);

/* Importance of each parameter in [0, 1], summing to 1 when any is > 0 (all 0
 * when nothing can be said: fewer than 3 usable trials, or a constant metric).
 *
 * Method: the first-order (main-effect) share of variance of each parameter,
 * i.e. the correlation ratio eta^2 = Var(E[y | x]) / Var(y) (a main-effect
 * Sobol index under the sampled distribution), estimated by grouping the
 * trials by the parameter's value and corrected for the upward bias of
 * grouping with the epsilon-squared estimator (Kelley 1935):
 *     eps^2 = (SS_between - (k - 1) * SS_within / (n - k)) / SS_total,
 * clipped at 0, then normalised so the importances sum to 1.
 * Groups: a categorical value each; a numeric parameter with at most 10
 * distinct values (a grid) one group per value, else k = clamp(n / 8, 2, 10)
 * equal-count bins by rank (so LOG and LINEAR scales give the same answer);
 * inactive (NaN) values form one more group.
 * y: the study metric of each trial at one common epoch, so that trials of a
 * multi-fidelity strategy (ASHA) are compared at equal budget: the deepest
 * epoch that at least half of the trials with epochs reached (grid/random:
 * the last epoch; ASHA: usually the first rung).  Trials without a finite
 * metric there are left out.  If no trial has metric rows, `value` is used.
 * Why this method: closed form, deterministic, O(n log n) for 10,000 trials,
 * handles categorical and conditional parameters, and the bias correction
 * gives irrelevant parameters ~0 even with few trials per group.  It does
 * not see interactions (y = x1 XOR x2 gives both ~0) and describes the
 * distribution the strategy sampled, not the whole space.
 * `importance` has n_params entries.  Returns 0 (or -1 + message on bad input). */
int hp_report_importance(const hp_report *r, double *importance);

/* The basis hp_report_importance() uses: the epoch of y (0 when `value` was
 * used) and the number of trials with a finite y. */
void hp_report_importance_basis(const hp_report *r, int *epoch, int *n_used);

#endif
