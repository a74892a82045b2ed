/* report_page.h - private to src/report/: the page being written, drawing
 * helpers (escaping, number formats, scales, ticks, colours, plot panels) and
 * one function per page section.  The public API is include/report.h.
 *
 * Output goes to one FILE*; write errors are sticky in the stream and checked
 * once, by hp_report_write_html(), before the close and rename.
 * SVG coordinates are always finite: rp_xy()/rp_num() abort on NaN/inf, and
 * callers only map finite values (NaN = "not drawn" is decided before).
 */
#ifndef HPTUNE_REPORT_PAGE_H
#define HPTUNE_REPORT_PAGE_H

#include <stddef.h>
#include <stdio.h>

#include "report.h"

/* ------------------------------------------------------------ the page --- */

typedef struct rp_page {
    FILE *f;
    const hp_report *r;
    int next_id;        /* unique suffix for clipPath/gradient ids in the document */
    /* derived once from the report (owned here, freed by rp_page_release) */
    int *ranked;        /* (n_trials) trial indices: finite value best first, then the
                           rest in index order */
    int n_valued;       /* trials with a finite value = ranked prefix */
    double color_best, color_worst; /* metric values at the ends of the colour scale */
    double *importance; /* (n_params) */
    int importance_epoch, importance_n;
    int heat_a, heat_b; /* param indices for the heat map, -1 if not drawable */
} rp_page;

int rp_page_init(rp_page *pg, FILE *f, const hp_report *r);
void rp_page_release(rp_page *pg);

/* ------------------------------------------------------------- output --- */

/* HTML-escape s (NULL writes nothing): & < > " ' become entities, control
 * characters other than tab/newline become U+FFFD, so s can go anywhere in
 * text or a quoted attribute. */
void rp_esc(FILE *f, const char *s);
/* Like rp_esc but stops after max_chars bytes (adding an ellipsis if cut). */
void rp_esc_max(FILE *f, const char *s, size_t max_chars);
/* A coordinate "%.1f"; aborts on NaN/inf (a programming error). */
void rp_num(FILE *f, double v);
/* "x,y" for polyline/path points. */
void rp_xy(FILE *f, double x, double y);
/* A metric or parameter number for people: "%.4g"; "—" when not finite. */
const char *rp_fmt(char *buf, size_t n, double v);
/* A parameter's value: label for categorical, "%.4g" numbers, "inactive" for NaN. */
const char *rp_fmt_param(char *buf, size_t n, const hp_report_param *p, double v);
/* Seconds as "3 h 12 min", "4 min 05 s", "12.3 s". */
const char *rp_fmt_duration(char *buf, size_t n, double seconds);

/* ------------------------------------------------------------- scales --- */

typedef struct rp_scale {
    hp_report_scale kind;
    double lo, hi;             /* data domain (LOG: lo > 0) */
    int n_cat;                 /* CATEGORICAL: slots 0..n_cat-1 */
    const char *const *labels; /* CATEGORICAL: (n_cat) tick labels, or NULL */
    double r0, r1;             /* output range (pixels); r0 maps lo */
    int integer;               /* LINEAR: ticks only at whole numbers (epochs, trial ids) */
} rp_scale;

void rp_scale_numeric(rp_scale *s, hp_report_scale kind, double lo, double hi, double r0, double r1);
void rp_scale_categorical(rp_scale *s, int n_cat, const char *const *labels, double r0, double r1);
/* Extend a LINEAR domain to round tick values (no-op for other kinds). */
void rp_scale_nice(rp_scale *s, int target_ticks);
/* Position of a finite value (LOG: > 0; CATEGORICAL: slot index). Not clamped. */
double rp_map(const rp_scale *s, double v);
/* Same, clamped to the output range. */
double rp_map_clamped(const rp_scale *s, double v);
/* Tick values in the domain (at most cap); *step = linear step (label precision). */
int rp_ticks(const rp_scale *s, int target, double *ticks, int cap, double *step);
const char *rp_tick_label(const rp_scale *s, double v, double step, char *buf, size_t n);
/* A parameter's scale over the range of its spec and its finite values. */
void rp_scale_for_param(rp_scale *s, const hp_report *r, int p, double r0, double r1);

/* [lo, hi] covering the values except rare far outliers (see draw.c);
 * returns 1 if some values lie outside.  n == 0 gives [0, 1]. */
int rp_robust_domain(const double *values, int n, double *lo, double *hi);
/* q-quantile (linear interpolation) of sorted[0..n-1], n > 0. */
double rp_quantile_sorted(const double *sorted, int n, double q);
void rp_sort_doubles(double *v, int n);

/* ------------------------------------------------------------- colours --- */

/* viridis(t), t clamped to [0, 1], as "#rrggbb" (buf >= 8). */
const char *rp_viridis(double t, char *buf);
/* Colour of a metric value: darker = better, the same mapping in every plot
 * (grey for NaN). */
const char *rp_metric_color(const rp_page *pg, double value, char *buf);
/* Okabe-Ito colour of a status string. */
const char *rp_status_color(const char *status);
/* A horizontal colour bar "worse ... better" with the metric's values at the
 * ends, its top-left corner at (x, y); returns the x where it ends (estimated). */
double rp_colorbar(rp_page *pg, double x, double y, double w);

/* ------------------------------------------------------------- panels --- */

typedef struct rp_panel {
    double x, y, w, h; /* plot area */
    rp_scale sx, sy;
    int clip;          /* id of its clipPath (after rp_panel_frame) */
} rp_panel;

/* Set the output ranges of p->sx/p->sy from the plot area. */
void rp_panel_place(rp_panel *p, double x, double y, double w, double h);
/* Grid lines, axes with ticks and labels, title, and a clipPath for the data. */
void rp_panel_frame(rp_page *pg, rp_panel *p, const char *title, const char *xlabel,
                    const char *ylabel);
/* "No data" text in the middle of a panel. */
void rp_panel_empty(rp_page *pg, const rp_panel *p, const char *text);

/* ---------------------------------------------------- trial selection --- */

/* Thin a set of trials for drawing: `eligible` (n indices, in ranked order,
 * best first) is copied to `out` entirely if n <= all, else its first `best`
 * entries plus `spread` entries evenly spaced over the rest.  Returns the
 * number chosen (<= n); out has room for n. */
int rp_thin(const int *eligible, int n, int all, int best, int spread, int *out);
/* 1 if the trial's value is finite. */
int rp_has_value(const hp_report_trial *t);
/* Compare two values for "better" (1 if a is strictly better than b). */
int rp_better(const hp_report *r, double a, double b);

/* The metric row value (NaN if the epoch or column is missing). */
double rp_metric_at(const hp_report_trial *t, int epoch, int column);

/* Importance internals shared with the page: the group of each trial's value
 * of parameter p (see report.h); returns the number of groups. */
int rp_param_groups(const hp_report *r, int p, const int *trials, int n, int *group);

/* ----------------------------------------------------------- sections --- */

void rp_section_header(rp_page *pg);
void rp_section_history(rp_page *pg);
void rp_section_curves(rp_page *pg);
void rp_section_overfit(rp_page *pg);
void rp_section_importance(rp_page *pg);
void rp_section_parallel(rp_page *pg);
void rp_section_slices(rp_page *pg);
void rp_section_heatmap(rp_page *pg);
void rp_section_confusion(rp_page *pg);
void rp_section_trials(rp_page *pg);

#endif
