/* params.c - the hyperparameter sections: importance bars, parallel
 * coordinates, one slice plot per parameter, and the two-parameter heat map.
 *
 * Parallel coordinates and slices draw all trials up to HP_REPORT_LINES_ALL,
 * else the HP_REPORT_LINES_BEST best plus HP_REPORT_LINES_SPREAD spread over
 * the ranking.  Heat map cells: categorical values, or each distinct value of
 * a numeric parameter with at most HEAT_DISTINCT values, else HEAT_BINS
 * equal-width bins (log-spaced for LOG parameters); a cell shows the best
 * metric among its trials and their number.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define HEAT_DISTINCT 12
#define HEAT_BINS 8

static void section_start(FILE *f, const char *id, const char *title)
{
    fprintf(f, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

static void no_params(FILE *f, const char *what)
{
    fprintf(f, "<div class=\"empty\">The search space has no hyperparameters: no %s.</div>\n</section>\n", what);
}

/* --------------------------------------------------------- importance --- */

typedef struct importance_order {
    double v;
    int p;
} importance_order;

static int compare_importance(const void *a, const void *b)
{
    const importance_order *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return (x->p > y->p) - (x->p < y->p);
}

void rp_section_importance(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    section_start(f, "importance", "Hyperparameter importance");
    if (r->n_params == 0) {
        no_params(f, "importances");
        return;
    }
    fputs("<p class=\"note\">Method: the share of the variance of ", f);
    rp_esc(f, r->metric);
    fputs(" that each hyperparameter explains on its own (first-order main effect: the correlation ratio "
          "\xce\xb7\xc2\xb2 = Var(E[y | x]) / Var(y), bias-corrected as \xce\xb5\xc2\xb2 so that an irrelevant "
          "parameter scores about 0), normalised to sum to 100 %. ",
          f);
    if (pg->importance_epoch > 0)
        fprintf(f, "y is the metric at epoch %d, the deepest epoch at least half of the trials reached, so that "
                   "stopped and completed trials are compared at the same budget (%d trials). ",
                pg->importance_epoch, pg->importance_n);
    else
        fprintf(f, "y is each trial's final value (%d trials). ", pg->importance_n);
    fputs("Categorical values and grids of up to 10 values are their own groups, other numeric parameters are "
          "cut into equal-count bins, and \"inactive\" is a group. Interactions between parameters are not "
          "captured, and the numbers describe the configurations the strategy sampled.</p>\n",
          f);
    double total = 0;
    for (int p = 0; p < r->n_params; p++)
        total += pg->importance[p];
    if (!(total > 0)) {
        if (pg->importance_n < 3) {
            fprintf(f, "<div class=\"empty\">Importance cannot be estimated yet: it needs at least 3 trials with a ");
            rp_esc(f, r->metric);
            fputs(" at the same epoch.</div>\n</section>\n", f);
        } else {
            /* eps^2 <= 0 for every parameter: each explains no more than chance would with this few trials */
            fprintf(f, "<div class=\"empty\">No hyperparameter explains more of the variance of ");
            rp_esc(f, r->metric);
            fprintf(f, " than chance would with %d trials (\xce\xb5\xc2\xb2 \xe2\x89\xa4 0 for every one, or the values "
                       "are all equal): more trials are needed to rank them.</div>\n</section>\n",
                    pg->importance_n);
        }
        return;
    }
    importance_order *ord = hp_xcalloc((size_t)r->n_params, sizeof *ord);
    for (int p = 0; p < r->n_params; p++)
        ord[p] = (importance_order){pg->importance[p], p};
    qsort(ord, (size_t)r->n_params, sizeof *ord, compare_importance);
    double row = 26, top = 10, label_w = 210, bar_w = 600;
    double height = top + row * r->n_params + 34;
    fprintf(f, "<figure>\n<svg class=\"plot\" viewBox=\"0 0 960 %.0f\" role=\"img\" aria-label=\"importance\">\n",
            height);
    for (int tick = 0; tick <= 4; tick++) {
        double x = label_w + bar_w * tick / 4.0;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">%d %%</text>",
                x, x, top, top + row * r->n_params, x, top + row * r->n_params + 15, tick * 25);
    }
    for (int k = 0; k < r->n_params; k++) {
        int p = ord[k].p;
        double y = top + row * k;
        fprintf(f, "<g data-importance=\"%.4f\"><text class=\"lg\" text-anchor=\"end\" x=\"%.1f\" y=\"%.1f\">",
                pg->importance[p], label_w - 8, y + 17);
        rp_esc_max(f, r->params[p].name, 30);
        fprintf(f, "</text><rect x=\"%.1f\" y=\"%.1f\" height=\"18\" width=\"", label_w, y + 4);
        rp_num(f, bar_w * pg->importance[p]);
        fprintf(f, "\" fill=\"#0072B2\"/><text class=\"lg\" x=\"");
        rp_num(f, label_w + bar_w * pg->importance[p] + 6);
        fprintf(f, "\" y=\"%.1f\">%.1f %%</text></g>\n", y + 17, 100 * pg->importance[p]);
    }
    fprintf(f, "<text class=\"alabel\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">share of explained variance</text>",
            label_w + bar_w / 2, height - 4);
    fputs("</svg>\n</figure>\n</section>\n", f);
    free(ord);
}

/* ------------------------------------------------ parallel coordinates --- */

static int any_nan_param(const hp_report *r, int p)
{
    for (int i = 0; i < r->n_trials; i++)
        if (isnan(r->trials[i].params[p]))
            return 1;
    return 0;
}

/* The trials the per-trial plots draw, in ranked order (all trials, or only those with a value). */
static int line_trials(const rp_page *pg, int only_valued, int *out)
{
    int n = only_valued ? pg->n_valued : pg->r->n_trials;
    return rp_thin(pg->ranked, n, HP_REPORT_LINES_ALL, HP_REPORT_LINES_BEST, HP_REPORT_LINES_SPREAD, out);
}

static void thinning_note(FILE *f, int n_drawn, int n_all)
{
    if (n_drawn < n_all)
        fprintf(f, " %d of the %d trials are drawn: the %d best and %d spread evenly over the rest of the ranking.",
                n_drawn, n_all, HP_REPORT_LINES_BEST, n_drawn - HP_REPORT_LINES_BEST);
}

void rp_section_parallel(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    section_start(f, "parallel", "Parallel coordinates");
    if (r->n_params == 0) {
        no_params(f, "parallel coordinates");
        return;
    }
    if (r->n_trials == 0) {
        fputs("<div class=\"empty\">No trials yet.</div>\n</section>\n", f);
        return;
    }
    int m = r->n_params + 1; /* the metric is the last axis */
    double left = 90, right = 880, top = 78, bottom = 338, na_y = 372;
    double step = (right - left) / (m - 1);
    int rotate = m > 7;
    rp_scale *sc = hp_xcalloc((size_t)m, sizeof *sc);
    int *has_na = hp_xcalloc((size_t)m, sizeof *has_na);
    for (int p = 0; p < r->n_params; p++) {
        rp_scale_for_param(&sc[p], r, p, bottom, top);
        has_na[p] = any_nan_param(r, p);
    }
    double *vals = hp_xcalloc((size_t)pg->n_valued + 1, sizeof *vals);
    for (int k = 0; k < pg->n_valued; k++)
        vals[k] = r->trials[pg->ranked[k]].value;
    double lo, hi;
    int clipped = rp_robust_domain(vals, pg->n_valued, &lo, &hi);
    free(vals);
    rp_scale_numeric(&sc[m - 1], HP_REPORT_LINEAR, lo, hi, bottom, top);
    rp_scale_nice(&sc[m - 1], 6);
    has_na[m - 1] = pg->n_valued < r->n_trials;

    int *drawn = hp_xcalloc((size_t)r->n_trials + 1, sizeof *drawn);
    int n_drawn = line_trials(pg, 0, drawn);
    int best = r->best;
    int best_drawn = 0;
    for (int k = 0; k < n_drawn; k++)
        best_drawn |= drawn[k] == best;
    if (best >= 0 && !best_drawn)
        drawn[n_drawn++] = best;

    fprintf(f, "<figure>\n<svg class=\"plot\" viewBox=\"0 0 960 410\" role=\"img\" aria-label=\"parallel "
               "coordinates\" data-lines=\"%d\">\n",
            n_drawn);
    double lx = rp_colorbar(pg, 62, 6, 150) + 24;
    if (best >= 0) {
        fprintf(f, "<path class=\"ln\" stroke=\"#000\" stroke-width=\"2.6\" d=\"M%.1f,12h22\"/>"
                   "<text class=\"lg\" x=\"%.1f\" y=\"16\">best trial #%d</text>",
                lx, lx + 28, r->trials[best].id);
        lx += 150;
    }
    fprintf(f, "<path class=\"ln\" stroke=\"#9a9a9a\" stroke-width=\"1.4\" d=\"M%.1f,12h22\"/>"
               "<text class=\"lg\" x=\"%.1f\" y=\"16\">no value</text>\n", lx, lx + 28);
    /* lines: trials without a value first, then worst to best, the best trial last */
    fprintf(f, "<g class=\"pcl ln\" stroke-width=\"1.1\" stroke-opacity=\"%.2f\">\n",
            n_drawn <= 50 ? 0.8 : n_drawn <= 300 ? 0.5 : 0.32);
    for (int pass = 0; pass < 2; pass++) {
        for (int k = n_drawn - 1; k >= 0; k--) {
            int i = drawn[k];
            if ((pass == 0) == (i == best))
                continue;
            const hp_report_trial *t = &r->trials[i];
            char col[8], buf[40];
            if (i == best)
                fputs("<path stroke=\"#000\" stroke-width=\"2.6\" stroke-opacity=\"1\" d=\"M", f);
            else
                fprintf(f, "<path stroke=\"%s\" d=\"M", rp_metric_color(pg, t->value, col));
            for (int a = 0; a < m; a++) {
                double v = a < r->n_params ? t->params[a] : t->value;
                double y;
                if (a < r->n_params && r->params[a].scale == HP_REPORT_CATEGORICAL)
                    y = isfinite(v) && v >= 0 && v < sc[a].n_cat ? rp_map(&sc[a], round(v)) : na_y;
                else if (isfinite(v) && !(sc[a].kind == HP_REPORT_LOG && v <= 0))
                    y = rp_map_clamped(&sc[a], v);
                else
                    y = na_y;
                if (a)
                    putc(' ', f);
                rp_xy(f, left + a * step, y);
            }
            fprintf(f, "\"><title>trial %d: %s</title></path>\n", t->id, rp_fmt(buf, sizeof buf, t->value));
        }
    }
    fputs("</g>\n", f);
    /* axes on top of the lines */
    for (int a = 0; a < m; a++) {
        double x = left + a * step;
        double ticks[64], tstep;
        char buf[64];
        if (a < r->n_params) {
            fputs("<g class=\"pc-axis\" data-axis=\"", f);
            rp_esc(f, r->params[a].name);
            fputs("\">", f);
        } else {
            fputs("<g class=\"pc-axis\" data-metric-axis=\"", f);
            rp_esc(f, r->metric);
            fputs("\">", f);
        }
        fprintf(f, "<line class=\"axis\" stroke-width=\"1.3\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x,
                top, bottom);
        int nt = rp_ticks(&sc[a], 5, ticks, 64, &tstep);
        int every = sc[a].kind == HP_REPORT_CATEGORICAL && nt > 12 ? (nt + 11) / 12 : 1;
        for (int k = 0; k < nt; k += every) {
            double y = rp_map(&sc[a], ticks[k]);
            fprintf(f, "<line stroke=\"#333\" x1=\"%.1f\" x2=\"%.1f\" y1=\"", x - 4, x);
            rp_num(f, y);
            fputs("\" y2=\"", f);
            rp_num(f, y);
            fprintf(f, "\"/><text class=\"tick\" text-anchor=\"end\" x=\"%.1f\" y=\"", x - 6);
            rp_num(f, y + 4);
            fputs("\">", f);
            rp_esc_max(f, rp_tick_label(&sc[a], ticks[k], tstep, buf, sizeof buf), 12);
            fputs("</text>", f);
        }
        if (has_na[a])
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#fff\" stroke=\"#333\"/>"
                       "<text class=\"tick\" text-anchor=\"end\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                    x, na_y, x - 6, na_y + 4, a < r->n_params ? "inactive" : "no value");
        const char *name = a < r->n_params ? r->params[a].name : r->metric;
        if (rotate)
            fprintf(f, "<text class=\"ptitle\" transform=\"translate(%.1f,%.1f) rotate(-25)\">", x - 4, top - 12);
        else
            fprintf(f, "<text class=\"ptitle\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">", x, top - 14);
        rp_esc_max(f, name, 22);
        if (a < r->n_params && r->params[a].scale == HP_REPORT_LOG && sc[a].kind == HP_REPORT_LOG)
            fputs(" (log)", f);
        fputs("<title>", f);
        rp_esc(f, name);
        fputs("</title></text></g>\n", f);
    }
    fputs("</svg>\n<figcaption>Each line is one trial, through its value of every hyperparameter to its ", f);
    rp_esc(f, r->metric);
    fputs(" on the last axis; colour = that metric (darker is better), black = the best trial. Log-scale "
          "parameters have log axes and categorical ones a tick per choice. Inactive parameters (a conditional "
          "parameter not used by the trial's configuration) and trials without a value go to the separate "
          "tick below the axis.",
          f);
    thinning_note(f, n_drawn, r->n_trials);
    if (clipped)
        fputs(" The metric axis is cut at the outlier fences; values beyond are drawn at its ends.", f);
    fputs("</figcaption>\n</figure>\n</section>\n", f);
    free(sc);
    free(has_na);
    free(drawn);
}

/* ------------------------------------------------------------- slices --- */

/* Deterministic jitter in [-0.5, 0.5) from a trial id (Knuth's multiplicative hash). */
static double jitter(int id)
{
    unsigned h = (unsigned)id * 2654435761u;
    return (double)(h >> 8) / (double)(1u << 24) - 0.5;
}

void rp_section_slices(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    section_start(f, "slices", "Slice plots");
    if (r->n_params == 0) {
        no_params(f, "slice plots");
        return;
    }
    if (pg->n_valued == 0) {
        fputs("<div class=\"empty\">No trial has a value of ", f);
        rp_esc(f, r->metric);
        fputs(" yet: nothing to plot against the hyperparameters.</div>\n</section>\n", f);
        return;
    }
    double *vals = hp_xcalloc((size_t)pg->n_valued, sizeof *vals);
    for (int k = 0; k < pg->n_valued; k++)
        vals[k] = r->trials[pg->ranked[k]].value;
    double lo, hi;
    int clipped = rp_robust_domain(vals, pg->n_valued, &lo, &hi);
    free(vals);
    int *drawn = hp_xcalloc((size_t)pg->n_valued + 1, sizeof *drawn);
    int n_drawn = line_trials(pg, 1, drawn);
    int compact = n_drawn > 300;
    fputs("<div class=\"slices\">\n", f);
    for (int p = 0; p < r->n_params; p++) {
        const hp_report_param *prm = &r->params[p];
        rp_panel panel;
        memset(&panel, 0, sizeof panel);
        rp_panel_place(&panel, 56, 30, 250, 160);
        rp_scale_for_param(&panel.sx, r, p, panel.sx.r0, panel.sx.r1);
        rp_scale_nice(&panel.sx, 5);
        rp_scale_numeric(&panel.sy, HP_REPORT_LINEAR, lo, hi, panel.sy.r0, panel.sy.r1);
        rp_scale_nice(&panel.sy, 4);
        fputs("<figure>\n<svg class=\"plot\" viewBox=\"0 0 320 235\" role=\"img\" data-slice=\"", f);
        rp_esc(f, prm->name);
        fputs("\">\n", f);
        char title[200], xlabel[160];
        snprintf(title, sizeof title, "%.60s \xe2\x80\x94 importance %.0f %%", prm->name, 100 * pg->importance[p]);
        snprintf(xlabel, sizeof xlabel, "%.60s%s", prm->name,
                 prm->scale == HP_REPORT_LOG && panel.sx.kind == HP_REPORT_LOG ? " (log scale)" : "");
        rp_panel_frame(pg, &panel, title, xlabel, r->metric);
        int inactive = 0;
        fprintf(f, "<g clip-path=\"url(#clip%d)\">", panel.clip);
        for (int pass = 0; pass < 2; pass++) { /* pass 0 stopped/other, pass 1 completed on top */
            int open = 0;
            const char *open_color = NULL;
            for (int k = n_drawn - 1; k >= 0; k--) {
                const hp_report_trial *t = &r->trials[drawn[k]];
                int completed = t->status && strcmp(t->status, "completed") == 0;
                if (completed != pass)
                    continue;
                double v = t->params[p];
                double x;
                if (prm->scale == HP_REPORT_CATEGORICAL) {
                    if (!isfinite(v) || v < 0 || v >= panel.sx.n_cat) {
                        inactive++;
                        continue;
                    }
                    x = rp_map(&panel.sx, round(v)) +
                        jitter(t->id) * 0.5 * (panel.sx.r1 - panel.sx.r0) / panel.sx.n_cat;
                } else {
                    if (!isfinite(v) || (panel.sx.kind == HP_REPORT_LOG && v <= 0)) {
                        inactive++;
                        continue;
                    }
                    x = rp_map(&panel.sx, v);
                }
                double y = rp_map_clamped(&panel.sy, t->value);
                const char *color = rp_status_color(t->status);
                if (compact) {
                    if (!open || open_color != color) {
                        if (open)
                            fputs("\"/>", f);
                        fprintf(f, "<path class=\"ln\" stroke=\"%s\" stroke-width=\"4.5\" stroke-opacity=\"0.6\" d=\"",
                                color);
                        open = 1;
                        open_color = color;
                    }
                    putc('M', f);
                    rp_xy(f, x, y);
                    fputs("h0", f);
                } else {
                    char buf[40], pbuf[64];
                    fprintf(f, "<circle r=\"3\" fill=\"%s\" fill-opacity=\"0.75\" cx=\"", color);
                    rp_num(f, x);
                    fputs("\" cy=\"", f);
                    rp_num(f, y);
                    fprintf(f, "\"><title>trial %d: ", t->id);
                    rp_esc(f, rp_fmt_param(pbuf, sizeof pbuf, prm, v));
                    fprintf(f, " \xe2\x86\x92 %s</title></circle>", rp_fmt(buf, sizeof buf, t->value));
                }
            }
            if (open)
                fputs("\"/>", f);
        }
        fputs("</g>\n", f);
        if (inactive)
            fprintf(f, "<text class=\"small\" text-anchor=\"end\" x=\"304\" y=\"42\" paint-order=\"stroke\" "
                       "stroke=\"#fff\" stroke-width=\"3\">%d inactive not shown</text>",
                    inactive);
        fputs("</svg>\n</figure>\n", f);
    }
    fputs("</div>\n<p class=\"sub\" style=\"font-size:12.5px\">Each dot is one trial: ", f);
    rp_esc(f, r->metric);
    fputs(" (at its last epoch) against the parameter's value; blue: completed, orange: stopped early "
          "(lower-budget values), other colours as in the history. Categorical values are spread sideways a "
          "little so that equal values do not hide each other.",
          f);
    thinning_note(f, n_drawn, pg->n_valued);
    if (clipped)
        fputs(" The metric axis is cut at the outlier fences; values beyond are drawn at its edge.", f);
    fputs("</p>\n</section>\n", f);
    free(drawn);
}

/* ----------------------------------------------------------- heat map --- */

typedef struct heat_axis {
    int n;             /* cells along this axis */
    double *values;    /* distinct values (n) when by_value */
    double lo, hi;     /* bin range (log10 units for LOG) when binned */
    int by_value, binned, is_log;
    const hp_report_param *prm;
} heat_axis;

static void heat_axis_init(heat_axis *ax, const hp_report *r, int p)
{
    memset(ax, 0, sizeof *ax);
    ax->prm = &r->params[p];
    if (ax->prm->scale == HP_REPORT_CATEGORICAL) {
        ax->n = ax->prm->n_labels;
        return;
    }
    ax->is_log = ax->prm->scale == HP_REPORT_LOG;
    double *v = hp_xcalloc((size_t)r->n_trials + 1, sizeof *v);
    int n = 0;
    for (int i = 0; i < r->n_trials; i++) {
        double x = r->trials[i].params[p];
        if (isfinite(x) && !(ax->is_log && x <= 0))
            v[n++] = x;
    }
    rp_sort_doubles(v, n);
    int distinct = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || v[i] != v[distinct - 1])
            v[distinct++] = v[i];
    if (distinct <= HEAT_DISTINCT) {
        ax->by_value = 1;
        ax->n = distinct;
        ax->values = v;
        return;
    }
    ax->binned = 1;
    ax->n = HEAT_BINS;
    ax->lo = ax->is_log ? log10(v[0]) : v[0];
    ax->hi = ax->is_log ? log10(v[distinct - 1]) : v[distinct - 1];
    free(v);
}

static void heat_axis_release(heat_axis *ax) { free(ax->values); }

/* The cell of a value along the axis, -1 if none (inactive). */
static int heat_cell(const heat_axis *ax, double v)
{
    if (!isfinite(v))
        return -1;
    if (ax->prm->scale == HP_REPORT_CATEGORICAL) {
        long c = lround(v);
        return c >= 0 && c < ax->n ? (int)c : -1;
    }
    if (ax->is_log && v <= 0)
        return -1;
    if (ax->by_value) {
        for (int k = 0; k < ax->n; k++)
            if (ax->values[k] == v)
                return k;
        return -1;
    }
    double x = ax->is_log ? log10(v) : v;
    int c = (int)floor((x - ax->lo) / (ax->hi - ax->lo) * ax->n);
    return c < 0 ? 0 : c >= ax->n ? ax->n - 1 : c;
}

static const char *heat_label(const heat_axis *ax, int k, char *buf, size_t n)
{
    if (ax->prm->scale == HP_REPORT_CATEGORICAL)
        return rp_fmt_param(buf, n, ax->prm, k);
    if (ax->by_value)
        return rp_fmt(buf, n, ax->values[k]);
    double a = ax->lo + (ax->hi - ax->lo) * k / ax->n, b = ax->lo + (ax->hi - ax->lo) * (k + 1) / ax->n;
    if (ax->is_log) {
        a = pow(10, a);
        b = pow(10, b);
    }
    snprintf(buf, n, "%.2g\xe2\x80\x93%.2g", a, b);
    return buf;
}

void rp_section_heatmap(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    section_start(f, "heatmap", "Heat map of two hyperparameters");
    if (pg->heat_a < 0 || pg->heat_b < 0) {
        fprintf(f, "<div class=\"empty\">A heat map needs two hyperparameters; the search space has %d.</div>\n"
                   "</section>\n",
                r->n_params);
        return;
    }
    if (pg->n_valued == 0) {
        fputs("<div class=\"empty\">No trial has a value of ", f);
        rp_esc(f, r->metric);
        fputs(" yet.</div>\n</section>\n", f);
        return;
    }
    heat_axis ax, ay;
    heat_axis_init(&ax, r, pg->heat_a);
    heat_axis_init(&ay, r, pg->heat_b);
    if (ax.n == 0 || ay.n == 0) {
        fputs("<div class=\"empty\">The chosen parameters have no active values in any trial.</div>\n</section>\n", f);
        heat_axis_release(&ax);
        heat_axis_release(&ay);
        return;
    }
    size_t cells = (size_t)ax.n * (size_t)ay.n;
    double *best = hp_xcalloc(cells, sizeof *best), *sum = hp_xcalloc(cells, sizeof *sum);
    int *count = hp_xcalloc(cells, sizeof *count);
    int outside = 0;
    for (int i = 0; i < r->n_trials; i++) {
        const hp_report_trial *t = &r->trials[i];
        if (!rp_has_value(t))
            continue;
        int cx = heat_cell(&ax, t->params[pg->heat_a]), cy = heat_cell(&ay, t->params[pg->heat_b]);
        if (cx < 0 || cy < 0) {
            outside++;
            continue;
        }
        size_t c = (size_t)cy * (size_t)ax.n + (size_t)cx;
        if (count[c] == 0 || rp_better(r, t->value, best[c]))
            best[c] = t->value;
        sum[c] += t->value;
        count[c]++;
    }
    char buf[64], buf2[64];
    double left = 150, top = 30;
    double cw = 720.0 / ax.n, ch = 300.0 / ay.n;
    if (cw > 96)
        cw = 96;
    if (ch > 44)
        ch = 44;
    if (ch < 16)
        ch = 16;
    /* rotate the column labels when the longest would not fit its cell */
    size_t longest = 0;
    for (int x = 0; x < ax.n; x++) {
        size_t len = strlen(heat_label(&ax, x, buf, sizeof buf));
        if (len > longest)
            longest = len;
    }
    int rotate = cw < 6.6 * (double)(longest > 18 ? 18 : longest) + 8;
    double width = left + cw * ax.n + 30, height = top + ch * ay.n + (rotate ? 110 : 84);
    if (width < 560)
        width = 560;
    fprintf(f, "<figure>\n<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" style=\"max-width:%.0fpx\" role=\"img\" "
               "aria-label=\"heat map\" data-heatmap-x=\"",
            width, height, width);
    rp_esc(f, ax.prm->name);
    fputs("\" data-heatmap-y=\"", f);
    rp_esc(f, ay.prm->name);
    fprintf(f, "\" data-cells=\"%d\">\n", ax.n * ay.n);
    int show_text = cw >= 40 && ch >= 22;
    for (int y = 0; y < ay.n; y++) {
        for (int x = 0; x < ax.n; x++) {
            size_t c = (size_t)y * (size_t)ax.n + (size_t)x;
            double px = left + cw * x, py = top + ch * (ay.n - 1 - y); /* first row at the bottom */
            char col[8];
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" stroke=\"#fff\" fill=\"%s\">",
                    px, py, cw, ch, count[c] ? rp_metric_color(pg, best[c], col) : "#f1f1f3");
            fputs("<title>", f);
            rp_esc(f, ax.prm->name);
            fputs(" = ", f);
            rp_esc(f, heat_label(&ax, x, buf, sizeof buf));
            fputs(", ", f);
            rp_esc(f, ay.prm->name);
            fputs(" = ", f);
            rp_esc(f, heat_label(&ay, y, buf, sizeof buf));
            if (count[c])
                fprintf(f, ": best %s, mean %s over %d trial%s", rp_fmt(buf, sizeof buf, best[c]),
                        rp_fmt(buf2, sizeof buf2, sum[c] / count[c]), count[c], count[c] == 1 ? "" : "s");
            else
                fputs(": not sampled", f);
            fputs("</title></rect>", f);
            if (show_text) {
                /* light text on the dark (better) half of the colour scale */
                double span = pg->color_best - pg->color_worst;
                double good = count[c] && span != 0 ? (best[c] - pg->color_worst) / span : 0;
                const char *ink = count[c] && good > 0.45 ? "#fff" : "#1d1d1f";
                fprintf(f, "<text class=\"cell\" text-anchor=\"middle\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                        ink, px + cw / 2, py + ch / 2 + (ch >= 34 ? 0 : 4),
                        count[c] ? rp_fmt(buf, sizeof buf, best[c]) : "\xe2\x80\x93");
                if (count[c] && ch >= 34)
                    fprintf(f, "<text class=\"small\" text-anchor=\"middle\" style=\"fill:%s\" x=\"%.1f\" y=\"%.1f\">n=%d</text>",
                            ink, px + cw / 2, py + ch / 2 + 13, count[c]);
            }
            putc('\n', f);
        }
    }
    /* axis labels */
    for (int y = 0; y < ay.n; y++) {
        fprintf(f, "<text class=\"tick\" text-anchor=\"end\" x=\"%.1f\" y=\"%.1f\">", left - 6,
                top + ch * (ay.n - 1 - y) + ch / 2 + 4);
        rp_esc_max(f, heat_label(&ay, y, buf, sizeof buf), 18);
        fputs("</text>", f);
    }
    for (int x = 0; x < ax.n; x++) {
        double px = left + cw * x + cw / 2, py = top + ch * ay.n + 14;
        if (rotate)
            fprintf(f, "<text class=\"tick\" text-anchor=\"end\" transform=\"translate(%.1f,%.1f) rotate(-35)\">", px + 4,
                    py - 2);
        else
            fprintf(f, "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">", px, py);
        rp_esc_max(f, heat_label(&ax, x, buf, sizeof buf), 18);
        fputs("</text>", f);
    }
    fprintf(f, "<text class=\"alabel\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">", left + cw * ax.n / 2,
            top + ch * ay.n + (rotate ? 58 : 34));
    rp_esc_max(f, ax.prm->name, 50);
    fprintf(f, "</text><text class=\"alabel\" text-anchor=\"middle\" transform=\"translate(%.1f,%.1f) rotate(-90)\">",
            16.0, top + ch * ay.n / 2);
    rp_esc_max(f, ay.prm->name, 40);
    fputs("</text>\n", f);
    rp_colorbar(pg, left, height - 16, 150);
    fputs("</svg>\n<figcaption>", f);
    fputs("Each cell: the best ", f);
    rp_esc(f, r->metric);
    fputs(" among the trials with those two values (the number of trials below it when there is room; hover a "
          "cell for the mean); grey cells were not sampled. ",
          f);
    if (r->heatmap_a || r->heatmap_b)
        fputs("The parameters were chosen with --heatmap.", f);
    else
        fputs("The parameters are the two most important ones (above); choose others with --heatmap a,b.", f);
    if (ax.binned || ay.binned)
        fprintf(f, " Numeric parameters with more than %d values are cut into %d equal-width bins (log-spaced for "
                   "log parameters).",
                HEAT_DISTINCT, HEAT_BINS);
    if (outside)
        fprintf(f, " %d trial%s with an inactive value %s not shown.", outside, outside == 1 ? "" : "s",
                outside == 1 ? "is" : "are");
    fputs(" Trials stopped early count with their lower-budget value.</figcaption>\n</figure>\n</section>\n", f);
    free(best);
    free(sum);
    free(count);
    heat_axis_release(&ax);
    heat_axis_release(&ay);
}
