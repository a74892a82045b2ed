/* importance.c - hyperparameter importance as the bias-corrected first-order
 * share of variance (main effect) of each parameter.
 *
 * For parameter p, trials are put into k groups by their value of p; with
 * group sizes n_g, group means m_g, grand mean m and n trials:
 *     SS_total   = sum_i (y_i - m)^2
 *     SS_between = sum_g n_g (m_g - m)^2          SS_within = SS_total - SS_between
 *     eta^2 = SS_between / SS_total   (correlation ratio; the main-effect
 *                                      Sobol index of p under the sampled distribution)
 *     eps^2 = (SS_between - (k - 1) SS_within / (n - k)) / SS_total   (Kelley 1935)
 * eta^2 is biased upwards (about (k-1)/(n-1) for an irrelevant parameter);
 * eps^2 removes that bias.  Negative estimates are set to 0 and the results
 * normalised to sum 1.  Groups and the choice of y are described in report.h.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define DISTINCT_AS_GROUPS 10 /* a numeric parameter with this few distinct values: a group per value */
#define TRIALS_PER_BIN 8
#define MAX_BINS 10

/* The epoch importance compares trials at (0: use `value`). */
static int basis_epoch(const hp_report *r)
{
    int with_epochs = 0, max_epochs = 0;
    for (int i = 0; i < r->n_trials; i++) {
        const hp_report_trial *t = &r->trials[i];
        if (t->n_epochs > 0 && t->metrics) {
            with_epochs++;
            if (t->n_epochs > max_epochs)
                max_epochs = t->n_epochs;
        }
    }
    if (with_epochs == 0)
        return 0;
    /* deepest epoch reached by at least half of the trials with epochs */
    int *reached = hp_xcalloc((size_t)max_epochs + 2, sizeof *reached);
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].n_epochs > 0 && r->trials[i].metrics)
            reached[r->trials[i].n_epochs]++;
    int epoch = max_epochs, count = 0;
    for (; epoch >= 1; epoch--) {
        count += reached[epoch];
        if (2 * count >= with_epochs)
            break;
    }
    free(reached);
    return epoch;
}

static double basis_value(const hp_report *r, const hp_report_trial *t, int epoch)
{
    if (epoch == 0)
        return t->value;
    return rp_metric_at(t, epoch, r->metric_column);
}

/* Trials with a finite y at the basis epoch; returns their number. */
static int usable_trials(const hp_report *r, int epoch, int *idx, double *y)
{
    int n = 0;
    for (int i = 0; i < r->n_trials; i++) {
        double v = basis_value(r, &r->trials[i], epoch);
        if (isfinite(v)) {
            idx[n] = i;
            y[n] = v;
            n++;
        }
    }
    return n;
}

void hp_report_importance_basis(const hp_report *r, int *epoch, int *n_used)
{
    int e = basis_epoch(r), n = 0;
    for (int i = 0; i < r->n_trials; i++)
        n += isfinite(basis_value(r, &r->trials[i], e)) != 0;
    if (epoch)
        *epoch = e;
    if (n_used)
        *n_used = n;
}

typedef struct keyed {
    double v;
    int pos;
} keyed;

static int compare_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v != y->v)
        return (x->v > y->v) - (x->v < y->v);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int rp_param_groups(const hp_report *r, int p, const int *trials, int n, int *group)
{
    const hp_report_param *prm = &r->params[p];
    if (prm->scale == HP_REPORT_CATEGORICAL) {
        /* one group per label; inactive and out-of-range indices: group n_labels */
        int used_other = 0;
        for (int i = 0; i < n; i++) {
            double v = r->trials[trials[i]].params[p];
            long c = isfinite(v) ? lround(v) : -1;
            if (c >= 0 && c < prm->n_labels) {
                group[i] = (int)c;
            } else {
                group[i] = prm->n_labels;
                used_other = 1;
            }
        }
        return prm->n_labels + used_other;
    }
    keyed *k = hp_xcalloc((size_t)n + 1, sizeof *k);
    int n_finite = 0;
    for (int i = 0; i < n; i++) {
        double v = r->trials[trials[i]].params[p];
        if (isfinite(v))
            k[n_finite++] = (keyed){v, i};
        else
            group[i] = -1; /* inactive: assigned after the bins */
    }
    qsort(k, (size_t)n_finite, sizeof *k, compare_keyed);
    int distinct = 0;
    for (int i = 0; i < n_finite; i++)
        distinct += i == 0 || k[i].v != k[i - 1].v;
    int n_groups;
    if (distinct <= DISTINCT_AS_GROUPS) {
        int g = -1;
        for (int i = 0; i < n_finite; i++) {
            if (i == 0 || k[i].v != k[i - 1].v)
                g++;
            group[k[i].pos] = g;
        }
        n_groups = distinct;
    } else {
        int bins = n_finite / TRIALS_PER_BIN;
        if (bins < 2)
            bins = 2;
        if (bins > MAX_BINS)
            bins = MAX_BINS;
        /* equal-count bins by rank; ties share the bin of their first rank */
        int first = 0;
        for (int i = 0; i < n_finite; i++) {
            if (i == 0 || k[i].v != k[i - 1].v)
                first = i;
            group[k[i].pos] = (int)((long)first * bins / n_finite);
        }
        n_groups = bins;
    }
    int any_inactive = n_finite < n;
    for (int i = 0; i < n; i++)
        if (group[i] < 0)
            group[i] = n_groups;
    free(k);
    return n_groups + any_inactive;
}

/* eps^2 of y grouped by group[] (groups 0..n_groups-1, some possibly empty). */
static double epsilon_squared(const double *y, const int *group, int n, int n_groups, double mean,
                              double ss_total)
{
    double *sum = hp_xcalloc((size_t)n_groups, sizeof *sum);
    int *count = hp_xcalloc((size_t)n_groups, sizeof *count);
    for (int i = 0; i < n; i++) {
        sum[group[i]] += y[i];
        count[group[i]]++;
    }
    double ss_between = 0;
    int k = 0;
    for (int g = 0; g < n_groups; g++) {
        if (count[g] == 0)
            continue;
        double d = sum[g] / count[g] - mean;
        ss_between += count[g] * d * d;
        k++;
    }
    free(sum);
    free(count);
    if (k < 2 || n <= k)
        return 0;
    double ss_within = ss_total - ss_between;
    if (ss_within < 0)
        ss_within = 0;
    double eps = (ss_between - (k - 1) * ss_within / (n - k)) / ss_total;
    return eps > 0 ? eps : 0;
}

int hp_report_importance(const hp_report *r, double *importance)
{
    if (r->n_params < 0 || r->n_trials < 0)
        return HP_ERR("report: negative number of parameters or trials");
    for (int p = 0; p < r->n_params; p++)
        importance[p] = 0;
    if (r->n_params == 0 || r->n_trials == 0)
        return 0;
    if (r->metric_column < 0 || r->metric_column >= HP_REPORT_METRIC_COLS)
        return HP_ERR("report: metric column %d is not in 0..%d", r->metric_column, HP_REPORT_METRIC_COLS - 1);
    int epoch = basis_epoch(r);
    int *idx = hp_xcalloc((size_t)r->n_trials, sizeof *idx);
    int *group = hp_xcalloc((size_t)r->n_trials, sizeof *group);
    double *y = hp_xcalloc((size_t)r->n_trials, sizeof *y);
    int n = usable_trials(r, epoch, idx, y);
    double mean = 0, ss_total = 0;
    for (int i = 0; i < n; i++)
        mean += y[i];
    mean = n ? mean / n : 0;
    for (int i = 0; i < n; i++)
        ss_total += (y[i] - mean) * (y[i] - mean);
    double total = 0;
    if (n >= 3 && ss_total > 0 && isfinite(ss_total)) {
        for (int p = 0; p < r->n_params; p++) {
            int n_groups = rp_param_groups(r, p, idx, n, group);
            importance[p] = epsilon_squared(y, group, n, n_groups, mean, ss_total);
            total += importance[p];
        }
    }
    if (total > 0)
        for (int p = 0; p < r->n_params; p++)
            importance[p] /= total;
    free(idx);
    free(group);
    free(y);
    return 0;
}
