/* history.c - the optimisation-history section: every trial's metric against
 * its trial id and against cumulative epochs, with the best-so-far line.
 *
 * Order: trials sorted by id, the order the strategy proposed them (the data
 * model has no completion times).  Cumulative epochs at a trial = the epochs
 * of all trials with a smaller or equal id: the budget spent up to it in that
 * order.  Up to HP_REPORT_LINES_ALL trials every dot is a <circle> with a
 * tooltip; above, one compact path of zero-length round-capped segments per
 * status draws the same dots at ~14 bytes each.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct by_id {
    int id, index;
} by_id;

static int compare_by_id(const void *a, const void *b)
{
    const by_id *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    return (x->index > y->index) - (x->index < y->index);
}

static const char *const dot_statuses[] = {"completed", "stopped", "running", "paused", "interrupted",
                                           "pending", "failed"};
#define N_DOT_STATUSES 7

/* Index into dot_statuses (N_DOT_STATUSES = other). */
static int status_slot(const char *st)
{
    for (int s = 0; s < N_DOT_STATUSES; s++)
        if (st && strcmp(st, dot_statuses[s]) == 0)
            return s;
    return N_DOT_STATUSES;
}

/* Median of the values per bin of HISTORY_BIN consecutive trials (in id
 * order), at the bin's mean x: the trend of a history too dense to read dot by dot. */
#define HISTORY_BINS 50
static void draw_binned_median(rp_page *pg, const rp_panel *p, const by_id *order, const double *xs, int n)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    double *v = hp_xcalloc((size_t)n + 1, sizeof *v);
    int open = 0;
    for (int b = 0; b < HISTORY_BINS; b++) {
        int k0 = (int)((long)b * n / HISTORY_BINS), k1 = (int)((long)(b + 1) * n / HISTORY_BINS), m = 0;
        double xsum = 0;
        for (int k = k0; k < k1; k++) {
            const hp_report_trial *t = &r->trials[order[k].index];
            if (rp_has_value(t)) {
                v[m++] = t->value;
                xsum += xs[k];
            }
        }
        if (m == 0)
            continue;
        rp_sort_doubles(v, m);
        fputs(open ? " " : "<path class=\"ln\" stroke=\"#D55E00\" stroke-width=\"2\" d=\"M", f);
        rp_xy(f, rp_map(&p->sx, xsum / m), rp_map_clamped(&p->sy, rp_quantile_sorted(v, m, 0.5)));
        open = 1;
    }
    if (open)
        fputs("\"/>", f);
    free(v);
}

static void draw_dots(rp_page *pg, const rp_panel *p, const by_id *order, const double *xs, int n, int compact)
{
    FILE *f = pg->f;
    const hp_report *r = pg->r;
    char buf[64];
    fprintf(f, "<g clip-path=\"url(#clip%d)\">", p->clip);
    if (!compact) {
        for (int k = 0; k < n; k++) {
            const hp_report_trial *t = &r->trials[order[k].index];
            if (!rp_has_value(t))
                continue;
            fprintf(f, "<circle r=\"3.2\" fill=\"%s\" fill-opacity=\"0.85\" cx=\"", rp_status_color(t->status));
            rp_num(f, rp_map(&p->sx, xs[k]));
            fprintf(f, "\" cy=\"");
            rp_num(f, rp_map_clamped(&p->sy, t->value));
            fprintf(f, "\"><title>trial %d \xc2\xb7 ", t->id);
            rp_esc(f, t->status);
            fprintf(f, " \xc2\xb7 %d epochs \xc2\xb7 ", t->n_epochs);
            rp_esc(f, r->metric);
            fprintf(f, " %s</title></circle>", rp_fmt(buf, sizeof buf, t->value));
        }
    } else {
        for (int s = 0; s <= N_DOT_STATUSES; s++) {
            int any = 0;
            for (int k = 0; k < n; k++) {
                const hp_report_trial *t = &r->trials[order[k].index];
                if (!rp_has_value(t) || status_slot(t->status) != s)
                    continue;
                if (!any)
                    fprintf(f, "<path class=\"ln\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-opacity=\"%.2f\" d=\"",
                            rp_status_color(s < N_DOT_STATUSES ? dot_statuses[s] : NULL), n > 3000 ? 2.4 : 3.5,
                            n > 3000 ? 0.45 : 0.7);
                any = 1;
                putc('M', f);
                rp_xy(f, rp_map(&p->sx, xs[k]), rp_map_clamped(&p->sy, t->value));
                fputs("h0", f);
            }
            if (any)
                fputs("\"/>", f);
        }
    }
    if (compact)
        draw_binned_median(pg, p, order, xs, n);
    /* best so far: a step line in id order */
    int started = 0;
    double best = NAN, last_x = 0;
    for (int k = 0; k < n; k++) {
        const hp_report_trial *t = &r->trials[order[k].index];
        if (!rp_has_value(t))
            continue;
        double x = rp_map(&p->sx, xs[k]);
        if (!started) {
            fprintf(f, "<path class=\"ln\" stroke=\"#111\" stroke-width=\"1.8\" d=\"M");
            rp_xy(f, x, rp_map_clamped(&p->sy, t->value));
            best = t->value;
            started = 1;
        } else if (rp_better(r, t->value, best)) {
            fputs("H", f);
            rp_num(f, x);
            fputs("V", f);
            rp_num(f, rp_map_clamped(&p->sy, t->value));
            best = t->value;
        }
        last_x = x;
    }
    if (started) {
        fputs("H", f);
        rp_num(f, last_x);
        fputs("\"/>", f);
    }
    fputs("</g>\n", f);
}

void rp_section_history(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    fputs("<section id=\"history\">\n<h2>Optimisation history</h2>\n", f);
    if (pg->n_valued == 0) {
        fputs("<div class=\"empty\">No trial has reported ", f);
        rp_esc(f, r->metric);
        fputs(" yet: there is no history to plot.</div>\n</section>\n", f);
        return;
    }
    int n = r->n_trials;
    by_id *order = hp_xcalloc((size_t)n, sizeof *order);
    double *xid = hp_xcalloc((size_t)n, sizeof *xid), *xep = hp_xcalloc((size_t)n, sizeof *xep);
    double *vals = hp_xcalloc((size_t)n, sizeof *vals);
    for (int i = 0; i < n; i++)
        order[i] = (by_id){r->trials[i].id, i};
    qsort(order, (size_t)n, sizeof *order, compare_by_id);
    double cumulative = 0;
    int nv = 0;
    for (int k = 0; k < n; k++) {
        const hp_report_trial *t = &r->trials[order[k].index];
        cumulative += t->n_epochs > 0 ? t->n_epochs : 0;
        xid[k] = t->id;
        xep[k] = cumulative;
        if (rp_has_value(t))
            vals[nv++] = t->value;
    }
    double lo, hi;
    int clipped = rp_robust_domain(vals, nv, &lo, &hi);
    int compact = r->n_trials > HP_REPORT_LINES_ALL;

    fputs("<figure>\n<svg class=\"plot\" viewBox=\"0 0 960 330\" role=\"img\" aria-label=\"optimisation history\">\n", f);
    /* legend: statuses present among the dots, then the best-so-far line */
    double lx = 62;
    for (int s = 0; s <= N_DOT_STATUSES; s++) {
        int count = 0;
        for (int i = 0; i < n; i++)
            count += rp_has_value(&r->trials[i]) && status_slot(r->trials[i].status) == s;
        if (!count)
            continue;
        const char *name = s < N_DOT_STATUSES ? dot_statuses[s] : "other";
        fprintf(f, "<circle r=\"4\" cy=\"14\" fill=\"%s\" cx=\"", rp_status_color(s < N_DOT_STATUSES ? name : NULL));
        rp_num(f, lx + 4);
        fprintf(f, "\"/><text class=\"lg\" y=\"18\" x=\"");
        rp_num(f, lx + 12);
        fprintf(f, "\">%s (%d)</text>", name, count);
        lx += 12 + 7.2 * (double)(strlen(name) + 4 + (count >= 10) + (count >= 100) + (count >= 1000)) + 18;
    }
    fprintf(f, "<path class=\"ln\" stroke=\"#111\" stroke-width=\"1.8\" d=\"M");
    rp_xy(f, lx, 14);
    fprintf(f, "h22\"/><text class=\"lg\" y=\"18\" x=\"");
    rp_num(f, lx + 28);
    fprintf(f, "\">best so far</text>\n");
    if (compact) {
        fprintf(f, "<path class=\"ln\" stroke=\"#D55E00\" stroke-width=\"2\" d=\"M");
        rp_xy(f, lx + 130, 14);
        fprintf(f, "h22\"/><text class=\"lg\" y=\"18\" x=\"");
        rp_num(f, lx + 158);
        fprintf(f, "\">median of each 1/%d of the trials</text>\n", HISTORY_BINS);
    }

    rp_panel panels[2];
    const char *titles[2] = {"by trial", "by budget"};
    const char *xlabels[2] = {"trial id (order proposed)", "cumulative epochs (trials in id order)"};
    double *xs[2] = {xid, xep};
    for (int k = 0; k < 2; k++) {
        rp_panel *p = &panels[k];
        memset(p, 0, sizeof *p);
        rp_panel_place(p, k == 0 ? 62 : 542, 56, 390, 220);
        double x0 = k == 0 ? xid[0] : 0, x1 = k == 0 ? xid[n - 1] : xep[n - 1];
        rp_scale_numeric(&p->sx, HP_REPORT_LINEAR, x0, x1, p->sx.r0, p->sx.r1);
        p->sx.integer = 1;
        rp_scale_nice(&p->sx, 8);
        rp_scale_numeric(&p->sy, HP_REPORT_LINEAR, lo, hi, p->sy.r0, p->sy.r1);
        rp_scale_nice(&p->sy, 6);
        rp_panel_frame(pg, p, titles[k], xlabels[k], r->metric);
        draw_dots(pg, p, order, xs[k], n, compact);
    }
    fputs("</svg>\n<figcaption>Each dot is one trial: its ", f);
    rp_esc(f, r->metric);
    fputs(" at its last epoch (a stopped trial: at the rung where it stopped), coloured by status. Left: "
          "against the trial id, the order in which the strategy proposed the trials; right: against the "
          "epochs spent by all trials up to it in that order. The black step line is the best value so far.",
          f);
    if (nv < n)
        fprintf(f, " %d trial%s without a value (failed, pending or not started) %s not shown.", n - nv,
                n - nv == 1 ? "" : "s", n - nv == 1 ? "is" : "are");
    if (clipped) {
        char a[40], b[40];
        fprintf(f, " The y-axis shows %s to %s; values beyond (diverged trials) are drawn at its edge.",
                rp_fmt(a, sizeof a, lo), rp_fmt(b, sizeof b, hi));
    }
    if (compact)
        fprintf(f, " With %d trials the dots carry no tooltips, to keep the file small, and the red line gives "
                   "the trend: the median of each successive 1/%d of the trials.", n, HISTORY_BINS);
    fputs("</figcaption>\n</figure>\n</section>\n", f);
    free(order);
    free(xid);
    free(xep);
    free(vals);
}
