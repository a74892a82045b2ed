/* curves.c - the learning-curves section (train/validation loss and accuracy
 * of every trial per epoch, rung epochs marked, the best trial highlighted)
 * and the train-vs-validation view of the best few trials (overfitting).
 *
 * Thinning (report.h): all trials with epochs up to HP_REPORT_CURVES_ALL,
 * else the best HP_REPORT_CURVES_BEST by the study metric plus
 * HP_REPORT_CURVES_SPREAD spread evenly over the rest of the ranking, drawn
 * over the 10-90 % quantile band and median of all trials at each epoch.
 * Each drawn trial is one <g data-trial="ID"> holding its four paths, so
 * hovering a curve highlights the trial in all four panels.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define N_CURVE_PANELS 4
static const int panel_column[N_CURVE_PANELS] = {HP_REPORT_COL_TRAIN_LOSS, HP_REPORT_COL_VAL_LOSS,
                                                  HP_REPORT_COL_TRAIN_ACCURACY, HP_REPORT_COL_VAL_ACCURACY};
static const char *const panel_title[N_CURVE_PANELS] = {"Training loss", "Validation loss", "Training accuracy",
                                                         "Validation accuracy"};
static const char *const panel_name[N_CURVE_PANELS] = {"train_loss", "val_loss", "train_accuracy",
                                                        "val_accuracy"};
#define BAND_MIN_TRIALS 5

/* Epochs drawn for a curve of n epochs: every `stride`-th from 1, plus the last. */
static int epoch_stride(int n_epochs)
{
    return n_epochs > HP_REPORT_MAX_POINTS ? (n_epochs + HP_REPORT_MAX_POINTS - 1) / HP_REPORT_MAX_POINTS : 1;
}

static int next_epoch(int e, int stride, int n_epochs)
{
    if (e == n_epochs)
        return n_epochs + 1;
    return e + stride > n_epochs ? n_epochs : e + stride;
}

/* A path of one column of one trial (nothing if no finite value). NaN breaks the line. */
static void curve_path(rp_page *pg, const rp_panel *p, const hp_report_trial *t, int column, const char *extra)
{
    FILE *f = pg->f;
    int stride = epoch_stride(t->n_epochs), open = 0, pen_down = 0;
    for (int e = 1; e <= t->n_epochs; e = next_epoch(e, stride, t->n_epochs)) {
        double v = rp_metric_at(t, e, column);
        if (!isfinite(v)) {
            pen_down = 0;
            continue;
        }
        if (!open) {
            fprintf(f, "<path clip-path=\"url(#clip%d)\"%s d=\"", p->clip, extra ? extra : "");
            open = 1;
        }
        if (!pen_down)
            putc('M', f);
        else
            putc(' ', f);
        /* values far off the axis are pulled to 2 panel heights away: the clip hides them
           and the coordinates stay short and finite */
        double y = rp_map(&p->sy, v);
        if (y < p->y - 2 * p->h)
            y = p->y - 2 * p->h;
        if (y > p->y + 3 * p->h)
            y = p->y + 3 * p->h;
        rp_xy(f, rp_map(&p->sx, e), y);
        pen_down = 1;
    }
    if (open)
        fputs("\"/>", f);
}

/* Small mark at a trial's last point: a dot for stopped, a cross for failed. */
static void end_mark(rp_page *pg, const rp_panel *p, const hp_report_trial *t, int column)
{
    int stopped = t->status && strcmp(t->status, "stopped") == 0;
    int failed = t->status && strcmp(t->status, "failed") == 0;
    if (!stopped && !failed)
        return;
    double v = rp_metric_at(t, t->n_epochs, column);
    if (!isfinite(v))
        return;
    double x = rp_map(&p->sx, t->n_epochs), y = rp_map_clamped(&p->sy, v);
    FILE *f = pg->f;
    fprintf(f, "<path clip-path=\"url(#clip%d)\" d=\"M", p->clip);
    if (stopped) {
        rp_xy(f, x, y);
        fputs("h0\" stroke-width=\"4\"/>", f);
    } else {
        rp_xy(f, x - 3, y - 3);
        fputs("l6,6m0,-6l-6,6\" stroke-width=\"1.6\"/>", f);
    }
}

static void trial_tooltip(rp_page *pg, const hp_report_trial *t)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    char buf[64];
    fprintf(f, "<title>trial %d \xc2\xb7 ", t->id);
    rp_esc(f, t->status);
    fprintf(f, " after %d epoch%s", t->n_epochs, t->n_epochs == 1 ? "" : "s");
    if (t->rung >= 0)
        fprintf(f, " (rung %d)", t->rung);
    fputs(" \xc2\xb7 ", f);
    rp_esc(f, r->metric);
    fprintf(f, " %s", rp_fmt(buf, sizeof buf, t->value));
    for (int p = 0; p < r->n_params; p++) {
        fputs(p ? ", " : " \xc2\xb7 ", f);
        rp_esc_max(f, r->params[p].name, 40);
        putc('=', f);
        rp_esc_max(f, rp_fmt_param(buf, sizeof buf, &r->params[p], t->params[p]), 40);
    }
    fputs("</title>", f);
}

/* Quantile band (10-90 %) and median of one column over all trials, per drawn epoch. */
static void draw_band(rp_page *pg, const rp_panel *p, int column, int max_epochs)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    int stride = epoch_stride(max_epochs);
    int n_pts = 0;
    double *ex = hp_xcalloc((size_t)max_epochs + 1, sizeof *ex);
    double *q10 = hp_xcalloc((size_t)max_epochs + 1, sizeof *q10);
    double *q50 = hp_xcalloc((size_t)max_epochs + 1, sizeof *q50);
    double *q90 = hp_xcalloc((size_t)max_epochs + 1, sizeof *q90);
    double *v = hp_xcalloc((size_t)r->n_trials + 1, sizeof *v);
    for (int e = 1; e <= max_epochs; e = next_epoch(e, stride, max_epochs)) {
        int n = 0;
        for (int i = 0; i < r->n_trials; i++) {
            double x = rp_metric_at(&r->trials[i], e, column);
            if (isfinite(x))
                v[n++] = x;
        }
        if (n < BAND_MIN_TRIALS)
            break; /* fewer trials reach later epochs: the band ends here */
        rp_sort_doubles(v, n);
        ex[n_pts] = rp_map(&p->sx, e);
        q10[n_pts] = rp_map_clamped(&p->sy, rp_quantile_sorted(v, n, 0.1));
        q50[n_pts] = rp_map_clamped(&p->sy, rp_quantile_sorted(v, n, 0.5));
        q90[n_pts] = rp_map_clamped(&p->sy, rp_quantile_sorted(v, n, 0.9));
        n_pts++;
    }
    if (n_pts > 0) {
        fputs("<path class=\"band\" fill=\"#c9ccd6\" fill-opacity=\"0.55\" stroke=\"none\" d=\"M", f);
        for (int k = 0; k < n_pts; k++) {
            if (k)
                putc(' ', f);
            rp_xy(f, ex[k], q90[k]);
        }
        for (int k = n_pts - 1; k >= 0; k--) {
            putc(' ', f);
            rp_xy(f, ex[k], q10[k]);
        }
        fputs("Z\"/><path class=\"ln\" stroke=\"#4a4a4f\" stroke-width=\"1.3\" stroke-dasharray=\"5 3\" d=\"M", f);
        for (int k = 0; k < n_pts; k++) {
            if (k)
                putc(' ', f);
            rp_xy(f, ex[k], q50[k]);
        }
        fputs("\"/>\n", f);
    }
    free(ex);
    free(q10);
    free(q50);
    free(q90);
    free(v);
}

static void rung_lines(rp_page *pg, const rp_panel *p, int label)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    double last_label = -1e9;
    for (int k = 0; k < r->n_rungs; k++) {
        double e = r->rung_epochs[k];
        if (!(e >= p->sx.lo && e <= p->sx.hi))
            continue;
        double x = rp_map(&p->sx, e);
        fputs("<line class=\"rung\" stroke=\"#6b6b70\" stroke-width=\"1\" stroke-dasharray=\"3 3\" x1=\"", f);
        rp_num(f, x);
        fputs("\" x2=\"", f);
        rp_num(f, x);
        fputs("\" y1=\"", f);
        rp_num(f, p->y);
        fputs("\" y2=\"", f);
        rp_num(f, p->y + p->h);
        fputs("\"/>", f);
        if (label && x - last_label >= 46) { /* skip labels that would overlap the previous one */
            /* a rung at the panel's right edge is labelled inside it, not clipped by the next panel */
            int at_right = x > p->x + p->w - 40;
            fputs(at_right ? "<text class=\"small\" text-anchor=\"end\" x=\"" : "<text class=\"small\" text-anchor=\"start\" x=\"", f);
            rp_num(f, at_right ? x - 3 : x + 3);
            fputs("\" y=\"", f);
            rp_num(f, p->y + 10);
            fprintf(f, "\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">rung %d</text>", k);
            last_label = x;
        }
    }
}

static int in_list(const int *list, int n, int value)
{
    for (int i = 0; i < n; i++)
        if (list[i] == value)
            return 1;
    return 0;
}

void rp_section_curves(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    fputs("<section id=\"curves\">\n<h2>Learning curves</h2>\n", f);
    /* eligible: trials with epochs, in ranked order */
    int *eligible = hp_xcalloc((size_t)r->n_trials + 1, sizeof *eligible);
    int n_eligible = 0, max_epochs = 0;
    for (int k = 0; k < r->n_trials; k++) {
        const hp_report_trial *t = &r->trials[pg->ranked[k]];
        if (t->n_epochs > 0) {
            eligible[n_eligible++] = pg->ranked[k];
            if (t->n_epochs > max_epochs)
                max_epochs = t->n_epochs;
        }
    }
    if (n_eligible == 0) {
        fputs("<div class=\"empty\">No trial has finished an epoch yet: there are no learning curves to "
              "draw.</div>\n</section>\n",
              f);
        free(eligible);
        return;
    }
    int *drawn = hp_xcalloc((size_t)n_eligible + 2, sizeof *drawn);
    int n_drawn = rp_thin(eligible, n_eligible, HP_REPORT_CURVES_ALL, HP_REPORT_CURVES_BEST,
                          HP_REPORT_CURVES_SPREAD, drawn);
    int thinned = n_drawn < n_eligible;
    int best = r->best >= 0 && r->trials[r->best].n_epochs > 0 ? r->best : -1;
    if (best >= 0 && !in_list(drawn, n_drawn, best))
        drawn[n_drawn++] = best;

    /* y ranges: losses share one, accuracies another, from all trials */
    double lo[2], hi[2];
    int clipped[2];
    size_t cap = 0;
    for (int i = 0; i < r->n_trials; i++)
        cap += (size_t)r->trials[i].n_epochs * 2;
    double *vals = hp_xcalloc(cap + 1, sizeof *vals);
    for (int kind = 0; kind < 2; kind++) {
        int n = 0;
        for (int i = 0; i < r->n_trials; i++)
            for (int e = 1; e <= r->trials[i].n_epochs; e++)
                for (int c = 0; c < 2; c++) {
                    double v = rp_metric_at(&r->trials[i], e, panel_column[2 * kind + c]);
                    if (isfinite(v))
                        vals[n++] = v;
                }
        clipped[kind] = rp_robust_domain(vals, n, &lo[kind], &hi[kind]);
    }
    free(vals);

    fprintf(f, "<figure>\n<svg class=\"plot\" viewBox=\"0 0 960 610\" role=\"img\" aria-label=\"learning curves\" "
               "data-curves=\"%d\" data-curves-total=\"%d\">\n",
            n_drawn, n_eligible);
    /* legend */
    double lx = rp_colorbar(pg, 62, 6, 150) + 24;
    if (best >= 0) {
        fputs("<path class=\"ln\" stroke=\"#000\" stroke-width=\"2.6\" d=\"M", f);
        rp_xy(f, lx, 12);
        fprintf(f, "h22\"/><text class=\"lg\" y=\"16\" x=\"");
        rp_num(f, lx + 28);
        fprintf(f, "\">best trial #%d</text>", r->trials[best].id);
        lx += 150;
    }
    if (r->n_rungs > 0) {
        fputs("<path stroke=\"#6b6b70\" stroke-dasharray=\"3 3\" d=\"M", f);
        rp_xy(f, lx + 6, 4);
        fputs("v16\"/><text class=\"lg\" y=\"16\" x=\"", f);
        rp_num(f, lx + 14);
        fputs("\">rung epochs</text>", f);
        lx += 110;
    }
    fputs("<path class=\"ln\" stroke=\"#555\" stroke-width=\"4\" d=\"M", f);
    rp_xy(f, lx + 4, 12);
    fputs("h0\"/><text class=\"lg\" y=\"16\" x=\"", f);
    rp_num(f, lx + 12);
    fputs("\">stopped</text><path class=\"ln\" stroke=\"#555\" stroke-width=\"1.6\" d=\"M", f);
    rp_xy(f, lx + 80, 9);
    fputs("l6,6m0,-6l-6,6\"/><text class=\"lg\" y=\"16\" x=\"", f);
    rp_num(f, lx + 92);
    fputs("\">failed</text>\n", f);
    if (thinned) {
        fputs("<rect x=\"62\" y=\"28\" width=\"22\" height=\"10\" fill=\"#c9ccd6\"/>"
              "<path class=\"ln\" stroke=\"#4a4a4f\" stroke-dasharray=\"5 3\" d=\"M62,33h22\"/>"
              "<text class=\"lg\" x=\"90\" y=\"37\">all trials: 10\xe2\x80\x93" "90 % band and median</text>\n",
              f);
    }

    rp_panel panels[N_CURVE_PANELS];
    int has_data[N_CURVE_PANELS];
    for (int k = 0; k < N_CURVE_PANELS; k++) {
        rp_panel *p = &panels[k];
        memset(p, 0, sizeof *p);
        rp_panel_place(p, k % 2 == 0 ? 62 : 542, k < 2 ? 66 : 352, 390, 200);
        rp_scale_numeric(&p->sx, HP_REPORT_LINEAR, 1, max_epochs, p->sx.r0, p->sx.r1);
        p->sx.integer = 1;
        rp_scale_nice(&p->sx, 8);
        int kind = k / 2;
        rp_scale_numeric(&p->sy, HP_REPORT_LINEAR, lo[kind], hi[kind], p->sy.r0, p->sy.r1);
        rp_scale_nice(&p->sy, 5);
        rp_panel_frame(pg, p, panel_title[k], "epoch", kind == 0 ? "loss" : "accuracy");
        has_data[k] = 0;
        for (int i = 0; i < r->n_trials && !has_data[k]; i++)
            for (int e = 1; e <= r->trials[i].n_epochs && !has_data[k]; e++)
                has_data[k] = isfinite(rp_metric_at(&r->trials[i], e, panel_column[k]));
        if (!has_data[k]) {
            char text[96];
            snprintf(text, sizeof text, "%s was not recorded", panel_name[k]);
            rp_panel_empty(pg, p, text);
            continue;
        }
        if (thinned)
            draw_band(pg, p, panel_column[k], max_epochs);
        rung_lines(pg, p, k < 2);
    }

    /* curves: worst first so that the best end on top; the best trial last, in black */
    double opacity = n_drawn <= 30 ? 0.85 : n_drawn <= 100 ? 0.6 : 0.45;
    fprintf(f, "<g class=\"cv\" stroke-width=\"1.2\" stroke-opacity=\"%.2f\">\n", opacity);
    for (int pass = 0; pass < 2; pass++) {
        for (int k = n_drawn - 1; k >= 0; k--) {
            int i = drawn[k];
            if ((pass == 0) == (i == best))
                continue;
            const hp_report_trial *t = &r->trials[i];
            char col[8];
            if (i == best)
                fprintf(f, "<g data-trial=\"%d\" stroke=\"#000\" stroke-width=\"2.6\" stroke-opacity=\"1\" class=\"best\">",
                        t->id);
            else
                fprintf(f, "<g data-trial=\"%d\" stroke=\"%s\">", t->id, rp_metric_color(pg, t->value, col));
            trial_tooltip(pg, t);
            for (int c = 0; c < N_CURVE_PANELS; c++) {
                if (!has_data[c])
                    continue;
                curve_path(pg, &panels[c], t, panel_column[c], NULL);
                end_mark(pg, &panels[c], t, panel_column[c]);
            }
            fputs("</g>\n", f);
        }
    }
    fputs("</g>\n</svg>\n<figcaption>", f);
    fprintf(f, "One line per trial (hover one to highlight that trial in all four panels), coloured by its ");
    rp_esc(f, r->metric);
    fputs(" (darker is better)", f);
    if (best >= 0)
        fprintf(f, "; black: the best trial #%d", r->trials[best].id);
    fputs(".", f);
    if (r->n_rungs > 0)
        fputs(" Dashed verticals mark the rung epochs, where the strategy promotes or stops trials: stopped "
              "trials (dot) end there.",
              f);
    if (thinned) {
        fprintf(f, " %d trials have epochs; drawn are the %d best by ", n_eligible, HP_REPORT_CURVES_BEST);
        rp_esc(f, r->metric);
        fprintf(f,
                " and %d spread evenly over the rest of the ranking (%d lines). The grey band spans the 10th to "
                "90th percentile and the dashed line is the median of all trials at each epoch, among those that "
                "reached it (while at least %d did).",
                HP_REPORT_CURVES_SPREAD, n_drawn, BAND_MIN_TRIALS);
    }
    if (max_epochs > HP_REPORT_MAX_POINTS)
        fprintf(f, " Curves longer than %d epochs are drawn with one point every %d epochs (and the last).",
                HP_REPORT_MAX_POINTS, epoch_stride(max_epochs));
    for (int kind = 0; kind < 2; kind++)
        if (clipped[kind]) {
            char a[40], b[40];
            fprintf(f, " The %s axes show %s to %s; values beyond (diverging trials) are cut off.",
                    kind == 0 ? "loss" : "accuracy", rp_fmt(a, sizeof a, lo[kind]), rp_fmt(b, sizeof b, hi[kind]));
        }
    fputs("</figcaption>\n</figure>\n</section>\n", f);
    free(eligible);
    free(drawn);
}

/* ------------------------------------------------------------ overfit --- */

#define OVERFIT_TRIALS 3

void rp_section_overfit(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    int chosen[OVERFIT_TRIALS], k_n = 0;
    for (int k = 0; k < pg->n_valued && k_n < OVERFIT_TRIALS; k++)
        if (r->trials[pg->ranked[k]].n_epochs > 0)
            chosen[k_n++] = pg->ranked[k];
    fputs("<section id=\"overfit\">\n<h3>Training vs. validation: the best trials</h3>\n", f);
    if (k_n == 0) {
        fputs("<div class=\"empty\">No trial with a value has finished an epoch yet.</div>\n</section>\n", f);
        return;
    }
    double gap = 70, left = 62, width = (960 - left - 20 - gap * (k_n - 1)) / k_n;
    if (width > 400)
        width = 400;
    fputs("<figure>\n<svg class=\"plot\" viewBox=\"0 0 960 500\" role=\"img\" aria-label=\"training versus "
          "validation\">\n",
          f);
    fputs("<path class=\"ln\" stroke=\"#E69F00\" stroke-width=\"2\" stroke-dasharray=\"6 3\" d=\"M62,12h26\"/>"
          "<text class=\"lg\" x=\"94\" y=\"16\">training</text>"
          "<path class=\"ln\" stroke=\"#0072B2\" stroke-width=\"2\" d=\"M170,12h26\"/>"
          "<text class=\"lg\" x=\"202\" y=\"16\">validation</text>"
          "<circle cx=\"296\" cy=\"12\" r=\"4\" fill=\"#0072B2\"/>"
          "<text class=\"lg\" x=\"306\" y=\"16\">best validation epoch</text>\n",
          f);
    for (int c = 0; c < k_n; c++) {
        const hp_report_trial *t = &r->trials[chosen[c]];
        for (int row = 0; row < 2; row++) {
            int train_col = row == 0 ? HP_REPORT_COL_TRAIN_LOSS : HP_REPORT_COL_TRAIN_ACCURACY;
            int val_col = row == 0 ? HP_REPORT_COL_VAL_LOSS : HP_REPORT_COL_VAL_ACCURACY;
            double *v = hp_xcalloc(2 * (size_t)t->n_epochs, sizeof *v);
            int n = 0;
            for (int e = 1; e <= t->n_epochs; e++) {
                double a = rp_metric_at(t, e, train_col), b = rp_metric_at(t, e, val_col);
                if (isfinite(a))
                    v[n++] = a;
                if (isfinite(b))
                    v[n++] = b;
            }
            double lo, hi;
            rp_robust_domain(v, n, &lo, &hi);
            free(v);
            rp_panel p;
            memset(&p, 0, sizeof p);
            rp_panel_place(&p, left + c * (width + gap), row == 0 ? 64 : 292, width, 160);
            rp_scale_numeric(&p.sx, HP_REPORT_LINEAR, 1, t->n_epochs, p.sx.r0, p.sx.r1);
            p.sx.integer = 1;
            rp_scale_nice(&p.sx, 5);
            rp_scale_numeric(&p.sy, HP_REPORT_LINEAR, lo, hi, p.sy.r0, p.sy.r1);
            rp_scale_nice(&p.sy, 4);
            char title[160], buf[40];
            if (row == 0) {
                snprintf(title, sizeof title, "trial #%d \xc2\xb7 %s \xc2\xb7 %.20s", t->id, rp_fmt(buf, sizeof buf, t->value),
                         t->status ? t->status : "?");
            }
            rp_panel_frame(pg, &p, row == 0 ? title : NULL, "epoch", c > 0 ? NULL : row == 0 ? "loss" : "accuracy");
            if (n == 0) {
                rp_panel_empty(pg, &p, "not recorded");
                continue;
            }
            fprintf(f, "<g class=\"cv\" data-overfit-trial=\"%d\">", t->id);
            curve_path(pg, &p, t, train_col,
                       " stroke=\"#E69F00\" stroke-width=\"2\" stroke-dasharray=\"6 3\"");
            curve_path(pg, &p, t, val_col, " stroke=\"#0072B2\" stroke-width=\"2\"");
            /* best validation epoch: min loss / max accuracy */
            int best_e = 0;
            double best_v = NAN;
            for (int e = 1; e <= t->n_epochs; e++) {
                double b = rp_metric_at(t, e, val_col);
                if (isfinite(b) && (best_e == 0 || (row == 0 ? b < best_v : b > best_v))) {
                    best_e = e;
                    best_v = b;
                }
            }
            if (best_e > 0) {
                fputs("<circle r=\"4\" fill=\"#0072B2\" cx=\"", f);
                rp_num(f, rp_map(&p.sx, best_e));
                fputs("\" cy=\"", f);
                rp_num(f, rp_map_clamped(&p.sy, best_v));
                fprintf(f, "\"><title>best validation %s at epoch %d: %s</title></circle>",
                        row == 0 ? "loss" : "accuracy", best_e, rp_fmt(buf, sizeof buf, best_v));
            }
            double a = rp_metric_at(t, t->n_epochs, train_col), b = rp_metric_at(t, t->n_epochs, val_col);
            if (isfinite(a) && isfinite(b)) {
                fputs("<text class=\"small\" text-anchor=\"end\" x=\"", f);
                rp_num(f, p.x + p.w - 4);
                fputs("\" y=\"", f);
                rp_num(f, row == 0 ? p.y + 12 : p.y + p.h - 6);
                fprintf(f, "\">gap at end (val \xe2\x88\x92 train): %+.3g</text>", b - a);
            }
            fputs("</g>\n", f);
        }
    }
    fputs("</svg>\n<figcaption>The best ", f);
    fprintf(f, "%d trial%s by ", k_n, k_n == 1 ? "" : "s");
    rp_esc(f, r->metric);
    fputs(": training (dashed) and validation (solid) loss and accuracy per epoch. A validation loss that "
          "turns upwards while the training loss keeps falling (a widening gap) is overfitting; the dot marks "
          "the epoch with the best validation value.</figcaption>\n</figure>\n</section>\n",
          f);
}
