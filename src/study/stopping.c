/* stopping.c - early stopping and the median stopping rule (see stopping.h
 * for both formulas and their sources). */
#include "stopping.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

int hp_early_stop(const double *values, int n, int maximize, int patience, double min_delta)
{
    double delta = fabs(min_delta);
    double best = maximize ? -INFINITY : INFINITY;
    int wait = 0;
    for (int k = 0; k < n; k++) {
        double v = values[k];
        wait++;
        int improved = maximize ? v - delta > best : v + delta < best; /* false for NaN */
        if (improved) {
            best = v;
            wait = 0;
        } else if (wait >= patience && k > 0) {
            return 1; /* at epoch k + 1 (the caller asks after every epoch, so k == n - 1) */
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hp_nan_median(double *x, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]))
            x[m++] = x[i];
    if (m == 0)
        return NAN;
    qsort(x, (size_t)m, sizeof *x, cmp_double);
    /* numpy's linear method: virtual index (m-1)*0.5, and _lerp's formula
       b - (b - a) * (1 - t) for t >= 0.5 */
    int lo = (m - 1) / 2;
    if ((m - 1) % 2 == 0)
        return x[lo];
    double a = x[lo], b = x[lo + 1];
    return b - (b - a) * 0.5;
}

int hp_median_stop(const hp_median_rule *rule, const double *values, int n, const double *at_step, int n_reached,
                   int n_completed, int maximize)
{
    if (n < 1 || n_completed == 0 || n_completed < rule->n_startup_trials)
        return 0;
    int step = n - 1;
    int warmup = rule->n_warmup_steps, interval = rule->interval_steps > 0 ? rule->interval_steps : 1;
    if (step < warmup)
        return 0;
    int nearest_lower = (step - warmup) / interval * interval + warmup; /* step >= warmup: no negative division */
    int second_last = step - 1; /* epochs are reported in order, every one */
    if (!(second_last < nearest_lower))
        return 0;
    double best = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(values[i]) && (isnan(best) || (maximize ? values[i] > best : values[i] < best)))
            best = values[i];
    if (isnan(best))
        return 1;
    if (n_reached < (rule->n_min_trials > 0 ? rule->n_min_trials : 1))
        return 0;
    double *copy = hp_xcalloc((size_t)n_reached, sizeof *copy);
    for (int i = 0; i < n_reached; i++)
        copy[i] = at_step[i];
    double median = hp_nan_median(copy, n_reached);
    free(copy);
    if (isnan(median))
        return 0;
    return maximize ? best < median : best > median;
}
