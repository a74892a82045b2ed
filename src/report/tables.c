/* tables.c - the best trial's confusion matrix with per-class precision,
 * recall and F1, and the table of all trials.
 *
 * Per class c of a confusion matrix C (row = true class, column = predicted):
 *   precision_c = C[c][c] / sum_r C[r][c],  recall_c = C[c][c] / sum_k C[c][k],
 *   F1_c = 2 p r / (p + r)   (undefined, shown as a dash, when a denominator is 0);
 * macro F1 = the mean over classes with a defined F1; accuracy = trace / total.
 * Cells are shaded by the row share (the recall view), from white to dark blue.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define PRINT_ROWS 500 /* the printed trial table keeps the best this many (all on screen) */

static const char *class_name(const hp_report *r, int c, char *buf, size_t n)
{
    if (r->class_names && r->class_names[c])
        return r->class_names[c];
    snprintf(buf, n, "class %d", c);
    return buf;
}

/* White (share 0) to #08306b (share 1), linear in sRGB. */
static void share_color(double share, char *buf)
{
    if (!(share >= 0))
        share = 0;
    if (share > 1)
        share = 1;
    int rr = (int)lround(255 + share * (0x08 - 255)), gg = (int)lround(255 + share * (0x30 - 255)),
        bb = (int)lround(255 + share * (0x6b - 255));
    snprintf(buf, 8, "#%02x%02x%02x", rr, gg, bb);
}

void rp_section_confusion(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    fputs("<section id=\"confusion\">\n<h2>Best trial: confusion matrix</h2>\n", f);
    if (!r->best_confusion) {
        fputs("<div class=\"empty\">No confusion matrix was recorded for the best trial.</div>\n</section>\n", f);
        return;
    }
    enum { K = HP_REPORT_CLASSES };
    const long long *cm = r->best_confusion;
    long long row_sum[K] = {0}, col_sum[K] = {0}, total = 0, trace = 0;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            long long v = cm[i * K + j] > 0 ? cm[i * K + j] : 0;
            row_sum[i] += v;
            col_sum[j] += v;
            total += v;
            if (i == j)
                trace += v;
        }
    char buf[64], name[32], col[8];
    if (r->best >= 0)
        fprintf(f, "<p class=\"lead\">Validation set, trial #%d at its best epoch: %lld images, accuracy %.2f %%.</p>\n",
                r->trials[r->best].id, total, total ? 100.0 * (double)trace / (double)total : 0.0);
    fputs("<div class=\"cmwrap\">\n<table class=\"cm\"><thead><tr><th>true \xe2\x86\x93 / predicted \xe2\x86\x92</th>",
          f);
    for (int j = 0; j < K; j++) {
        fputs("<th class=\"rot\">", f);
        rp_esc_max(f, class_name(r, j, name, sizeof name), 12);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (int i = 0; i < K; i++) {
        fputs("<tr><th>", f);
        rp_esc_max(f, class_name(r, i, name, sizeof name), 16);
        fputs("</th>", f);
        for (int j = 0; j < K; j++) {
            long long v = cm[i * K + j];
            double share = row_sum[i] ? (double)(v > 0 ? v : 0) / (double)row_sum[i] : 0;
            share_color(share, col);
            fprintf(f, "<td style=\"background:%s;color:%s\" title=\"%.1f %% of true ", col,
                    share > 0.45 ? "#fff" : "#1d1d1f", 100 * share);
            rp_esc(f, class_name(r, i, name, sizeof name));
            fprintf(f, "\">%lld</td>", v);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n<table class=\"cmstats\"><thead><tr><th>class</th><th class=\"num\">precision</th>"
          "<th class=\"num\">recall</th><th class=\"num\">F1</th><th class=\"num\">images</th></tr></thead><tbody>\n",
          f);
    double f1_sum = 0;
    int f1_n = 0;
    for (int c = 0; c < K; c++) {
        long long tp = cm[c * K + c] > 0 ? cm[c * K + c] : 0;
        double precision = col_sum[c] ? (double)tp / (double)col_sum[c] : NAN;
        double recall = row_sum[c] ? (double)tp / (double)row_sum[c] : NAN;
        double f1 = isfinite(precision) && isfinite(recall) && precision + recall > 0
                        ? 2 * precision * recall / (precision + recall)
                        : (isfinite(precision) && isfinite(recall) ? 0 : NAN);
        if (isfinite(f1)) {
            f1_sum += f1;
            f1_n++;
        }
        fputs("<tr><td>", f);
        rp_esc(f, class_name(r, c, name, sizeof name));
        fprintf(f, "</td><td class=\"num\">%s</td>", isfinite(precision) ? (snprintf(buf, sizeof buf, "%.3f", precision), buf) : "\xe2\x80\x94");
        fprintf(f, "<td class=\"num\">%s</td>", isfinite(recall) ? (snprintf(buf, sizeof buf, "%.3f", recall), buf) : "\xe2\x80\x94");
        fprintf(f, "<td class=\"num\">%s</td>", isfinite(f1) ? (snprintf(buf, sizeof buf, "%.3f", f1), buf) : "\xe2\x80\x94");
        fprintf(f, "<td class=\"num\">%lld</td></tr>\n", row_sum[c]);
    }
    fputs("</tbody><tfoot><tr><th>macro mean F1</th><td></td><td></td>", f);
    fprintf(f, "<td class=\"num\"><b>%s</b></td><td class=\"num\">%lld</td></tr></tfoot></table>\n</div>\n",
            f1_n ? (snprintf(buf, sizeof buf, "%.3f", f1_sum / f1_n), buf) : "\xe2\x80\x94", total);
    fputs("<p class=\"sub\" style=\"font-size:12.5px\">Rows are the true classes, columns the predictions; a "
          "cell's shade is its share of the row (dark = most images of that class), so the diagonal shows the "
          "recall of each class and off-diagonal cells show which classes are confused.</p>\n</section>\n",
          f);
}

void rp_section_trials(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    fputs("<section id=\"trials\">\n<h2>All trials</h2>\n", f);
    if (r->n_trials == 0) {
        fputs("<div class=\"empty\">The study has no trials yet.</div>\n</section>\n", f);
        return;
    }
    /* rows printed when the table is long: the best PRINT_ROWS by the metric */
    char *printed = hp_xcalloc((size_t)r->n_trials, 1);
    for (int k = 0; k < r->n_trials && k < PRINT_ROWS; k++)
        printed[pg->ranked[k]] = 1;
    int long_table = r->n_trials > PRINT_ROWS;
    fprintf(f, "<p class=\"sub\" style=\"font-size:12.5px\">%d trials in trial order%s. ", r->n_trials,
            r->best >= 0 ? "; the best is highlighted" : "");
    fputs("<span class=\"noprint\">Click a column header to sort (the page reads the same without script).</span>", f);
    if (long_table)
        fprintf(f, " A printout lists only the %d best trials.", PRINT_ROWS);
    fputs("</p>\n<div class=\"tablewrap\"><table class=\"sortable\" id=\"trial-table\"><thead><tr>"
          "<th>trial</th><th class=\"l\">status (failure)</th><th>bracket</th><th>rung</th><th>epochs</th><th>",
          f);
    rp_esc(f, r->metric);
    fputs("</th>", f);
    for (int p = 0; p < r->n_params; p++) {
        fputs("<th>", f);
        rp_esc_max(f, r->params[p].name, 40);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    char buf[64];
    /* rows are the bulk of a large page: cells are right-aligned by the style
       sheet (no per-cell class) and their optional end tags are left out */
    for (int i = 0; i < r->n_trials; i++) {
        const hp_report_trial *t = &r->trials[i];
        const char *cls = i == r->best ? "best" : long_table && !printed[i] ? "x" : NULL;
        if (cls)
            fprintf(f, "<tr class=\"%s\">", cls);
        else
            fputs("<tr>", f);
        fprintf(f, "<td>%d<td>", t->id);
        rp_esc(f, t->status);
        if (t->failure && t->failure[0]) {
            fputs("<small>", f);
            rp_esc_max(f, t->failure, 400);
            fputs("</small>", f);
        }
        if (t->stop && t->stop[0]) {
            fputs(" <small>(", f);
            rp_esc(f, t->stop);
            fputs(")</small>", f);
        }
        fputs("<td>", f);
        if (t->bracket >= 0)
            fprintf(f, "%d", t->bracket);
        fputs("<td>", f);
        if (t->rung >= 0)
            fprintf(f, "%d", t->rung);
        fprintf(f, "<td>%d<td>%s", t->n_epochs, rp_fmt(buf, sizeof buf, t->value));
        for (int p = 0; p < r->n_params; p++) {
            fputs("<td>", f);
            if (isnan(t->params[p]))
                fputs("\xe2\x80\x94", f);
            else
                rp_esc_max(f, rp_fmt_param(buf, sizeof buf, &r->params[p], t->params[p]), 40);
        }
        putc('\n', f);
    }
    fputs("</tbody></table></div>\n</section>\n", f);
    free(printed);
}
