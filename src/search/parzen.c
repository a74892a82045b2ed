/* parzen.c - Optuna 3.1's Parzen estimator and truncated-normal kernels.
 *
 * The formulas, their Optuna sources and the order of random draws are in
 * include/parzen.h.  This file keeps Optuna's case split of every numerical
 * formula (which tail a mass is computed in, when the asymptotic series takes
 * over) so the numbers agree to rounding, but the code is our own.
 */
#include "parzen.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define LOG_SQRT_2PI 0.91893853320467274178 /* log(sqrt(2 pi)) */
#define SQRT1_2 0.70710678118654752440      /* 1/sqrt(2) */
#define MIN_SIGMA_NO_CLIP 1e-12             /* Optuna's EPS when consider_magic_clip is off */
#define SIGMA0_MAGNITUDE 0.2                /* Optuna's multivariate bandwidth factor */

/* ------------------------------------------------------------ dimensions -- */

static int is_integral(double x) { return isfinite(x) && x == floor(x); }

int hp_tpe_dim_check(const hp_tpe_dim *d, int index)
{
    if (d->n_choices < 0)
        return HP_ERR("TPE dimension %d: n_choices is %d; use > 0 for a categorical, 0 for a number",
                      index, d->n_choices);
    if (d->n_choices > 0)
        return 0;
    if (!isfinite(d->low) || !isfinite(d->high) || d->low > d->high)
        return HP_ERR("TPE dimension %d: bounds [%g, %g] must be finite with low <= high", index,
                      d->low, d->high);
    if (!(d->step >= 0) || !isfinite(d->step))
        return HP_ERR("TPE dimension %d: step %g must be 0 (continuous) or positive", index, d->step);
    if (d->log && !(d->low > 0))
        return HP_ERR("TPE dimension %d: a log-scale dimension needs low > 0 (low is %g)", index, d->low);
    if (d->is_int) {
        if (!is_integral(d->low) || !is_integral(d->high) || !is_integral(d->step))
            return HP_ERR("TPE dimension %d: an integer dimension needs integral low, high and step "
                          "(got %g, %g, %g)", index, d->low, d->high, d->step);
        if (d->log && d->step > 1)
            return HP_ERR("TPE dimension %d: an integer log-scale dimension cannot have step %g "
                          "(Optuna allows only step 1); drop the step or log", index, d->step);
    } else if (d->log && d->step > 0) {
        return HP_ERR("TPE dimension %d: a log-scale float dimension cannot have a step (Optuna "
                      "rejects it too); drop the step or use a linear scale", index);
    }
    return 0;
}

double hp_tpe_dim_step(const hp_tpe_dim *d)
{
    if (d->n_choices > 0)
        return 0;
    if (d->is_int)
        return d->step > 0 ? d->step : 1;
    return d->step;
}

double hp_tpe_dim_high(const hp_tpe_dim *d)
{
    double step = hp_tpe_dim_step(d);
    if (step <= 0 || d->log)
        return d->high;
    /* Slack for decimal steps such as 0.1 (0.3 / 0.1 = 2.9999999999999996). */
    double k = floor((d->high - d->low) / step + 1e-9);
    double top = d->low + k * step;
    return fabs(top - d->high) <= 1e-9 * step ? d->high : top;
}

int hp_tpe_dim_single(const hp_tpe_dim *d)
{
    if (d->n_choices > 0)
        return d->n_choices == 1;
    return d->low == d->high || hp_tpe_dim_high(d) == d->low;
}

/* Parzen bounds [L, H] and estimator step q (Optuna's _calculate_parzen_bounds). */
static void parzen_bounds(const hp_tpe_dim *d, double *low, double *high, double *q)
{
    double step = hp_tpe_dim_step(d);
    if (d->log) {
        *q = 0;
        if (d->is_int) {
            *low = log(d->low - 0.5);
            *high = log(d->high + 0.5);
        } else {
            *low = log(d->low);
            *high = log(d->high);
        }
    } else if (step > 0) {
        *q = step;
        *low = d->low - 0.5 * step;
        *high = hp_tpe_dim_high(d) + 0.5 * step;
    } else {
        *q = 0;
        *low = d->low;
        *high = d->high;
    }
}

/* ----------------------------------------------- normal distribution ----- */

/* Phi(x) as Optuna's _ndtr_single: erfc in the tails keeps relative precision. */
static double ndtr(double x)
{
    double z = x * SQRT1_2;
    if (z < -SQRT1_2)
        return 0.5 * erfc(-z);
    if (z < SQRT1_2)
        return 0.5 + 0.5 * erf(z);
    return 1.0 - 0.5 * erfc(z);
}

double hp_log_ndtr(double x)
{
    if (isnan(x))
        return NAN;
    if (x > 6)
        return -ndtr(-x); /* log(1 - e) = -e to double precision here */
    if (x > 0) /* Optuna: log(ndtr(x)); log1p keeps the digits of the small tail */
        return log1p(-ndtr(-x));
    if (x > -20)
        return log(ndtr(x));
    if (x == -INFINITY)
        return -INFINITY;
    /* Left tail: Phi(x) = phi(x)/(-x) * (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...),
     * summed until a term no longer changes the total. */
    double log_lead = -0.5 * x * x - log(-x) - LOG_SQRT_2PI;
    double inv_x2 = 1.0 / (x * x), term = 1.0, total = 1.0, previous;
    int i = 0;
    do {
        i++;
        previous = total;
        term *= -(2.0 * i - 1.0) * inv_x2;
        total += term;
    } while (fabs(previous - total) > DBL_EPSILON);
    return log_lead + log(total);
}

/* log(exp(p) - exp(q)) for q <= p. */
static double log_diff(double log_p, double log_q) { return log_p + log1p(-exp(log_q - log_p)); }

static double log_add(double x, double y)
{
    if (x == -INFINITY)
        return y;
    if (y == -INFINITY)
        return x;
    double m = x > y ? x : y;
    return m + log1p(exp(-fabs(x - y)));
}

double hp_log_gauss_mass(double a, double b)
{
    if (b <= 0) /* both in the left tail: subtract the smaller log CDF */
        return log_diff(hp_log_ndtr(b), hp_log_ndtr(a));
    if (a > 0) /* right tail: mirror to the left, where it is accurate */
        return log_diff(hp_log_ndtr(-a), hp_log_ndtr(-b));
    /* Straddling 0: one minus the two tails (no cancellation near mass 1). */
    double left = 0.5 + 0.5 * erf(a * SQRT1_2);
    double right = 0.5 + 0.5 * erf(-b * SQRT1_2);
    return log1p(-left - right);
}

double hp_ndtri_exp(double y)
{
    if (isnan(y) || y > 0)
        return NAN;
    if (y == 0)
        return INFINITY;
    if (y == -INFINITY)
        return -INFINITY;
    /* Start from the tail asymptotics, log Phi(x) ~ -x^2/2 - log(-x sqrt(2 pi)),
     * mirrored for the right tail; near the middle from 0. */
    double x;
    if (y < -2.0) {
        double s = -2.0 * y;
        s = -2.0 * y - log(2.0 * M_PI * s);
        x = s > 1.0 ? -sqrt(s) : -1.0;
    } else {
        double upper_tail = -expm1(y); /* 1 - Phi(x) */
        if (upper_tail < 0.1) {
            double s = -2.0 * log(upper_tail);
            s = s - log(2.0 * M_PI * s);
            x = s > 1.0 ? sqrt(s) : 1.0;
        } else {
            x = 0.0;
        }
    }
    /* Newton on f(x) = log Phi(x) - y (increasing and concave, so the steps
     * settle monotonically), kept inside the bracket found so far. */
    double lo = -INFINITY, hi = INFINITY;
    for (int iter = 0; iter < 100; iter++) {
        double f = hp_log_ndtr(x) - y;
        if (f == 0)
            return x;
        if (f < 0)
            lo = x;
        else
            hi = x;
        /* f'(x) = phi(x) / Phi(x), computed in log space */
        double slope = exp(-0.5 * x * x - LOG_SQRT_2PI - hp_log_ndtr(x));
        double next = x - f / slope;
        if (!isfinite(next) || next <= lo || next >= hi) {
            if (isfinite(lo) && isfinite(hi))
                next = 0.5 * (lo + hi);
            else if (isfinite(lo))
                next = lo + fmax(1.0, fabs(lo));
            else
                next = hi - fmax(1.0, fabs(hi));
        }
        if (fabs(next - x) <= 2 * DBL_EPSILON * fmax(1.0, fabs(x)))
            return next;
        x = next;
    }
    return x;
}

double hp_truncnorm_ppf(double q, double a, double b)
{
    if (a == b || isnan(q))
        return NAN;
    if (q <= 0)
        return a;
    if (q >= 1)
        return b;
    double log_mass = hp_log_gauss_mass(a, b);
    if (a < 0) /* Phi(x) = Phi(a) + q (Phi(b) - Phi(a)) */
        return hp_ndtri_exp(log_add(hp_log_ndtr(a), log(q) + log_mass));
    /* mirrored: Phi(-x) = Phi(-b) + (1 - q) (Phi(b) - Phi(a)) */
    return -hp_ndtri_exp(log_add(hp_log_ndtr(-b), log1p(-q) + log_mass));
}

/* ---------------------------------------------------------- estimator ---- */

void hp_tpe_default_weights(int n, double *w)
{
    if (n < 25) {
        for (int i = 0; i < n; i++)
            w[i] = 1.0;
        return;
    }
    /* numpy.linspace(1/n, 1, n - 25): start + i*step, the last exactly 1 */
    int ramp = n - 25;
    double start = 1.0 / n;
    double step = ramp > 1 ? (1.0 - start) / (ramp - 1) : 0.0;
    for (int i = 0; i < ramp; i++)
        w[i] = (double)i * step + start;
    if (ramp > 1)
        w[ramp - 1] = 1.0;
    for (int i = ramp; i < n; i++)
        w[i] = 1.0;
}

typedef struct keyed {
    double value;
    int index;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->value < b->value)
        return -1;
    if (a->value > b->value)
        return 1;
    return (a->index > b->index) - (a->index < b->index); /* stable: ties keep order */
}

/* Univariate bandwidths (neighbour gaps) of mus (m) with end points low/high into sigmas (m). */
static void neighbour_sigmas(const double *mus, int m, double low, double high,
                             int consider_endpoints, double *sigmas)
{
    keyed *order = hp_xcalloc((size_t)m, sizeof *order);
    double *ends = hp_xcalloc((size_t)m + 2, sizeof *ends); /* low, sorted mus, high */
    for (int i = 0; i < m; i++)
        order[i] = (keyed){mus[i], i};
    qsort(order, (size_t)m, sizeof *order, keyed_cmp);
    ends[0] = low;
    for (int i = 0; i < m; i++)
        ends[i + 1] = order[i].value;
    ends[m + 1] = high;
    for (int i = 0; i < m; i++) {
        double left = ends[i + 1] - ends[i], right = ends[i + 2] - ends[i + 1];
        double sigma = left > right ? left : right;
        if (!consider_endpoints && m >= 2) {
            if (i == 0)
                sigma = ends[2] - ends[1];
            else if (i == m - 1)
                sigma = ends[m] - ends[m - 1];
        }
        sigmas[order[i].index] = sigma;
    }
    free(order);
    free(ends);
}

static double transform(const hp_tpe_dim *d, double x) { return d->log ? log(x) : x; }

static int check_params(const hp_parzen_params *p)
{
    if (!(p->prior_weight > 0) || !isfinite(p->prior_weight))
        return HP_ERR("TPE prior_weight %g must be a positive number", p->prior_weight);
    return 0;
}

static int check_observation(const hp_tpe_dim *d, int dim, double x, int row)
{
    if (!isfinite(x))
        return HP_ERR("Parzen estimator: observation %d of dimension %d is %g; drop inactive "
                      "values before fitting", row, dim, x);
    if (d->n_choices > 0 && (!is_integral(x) || x < 0 || x >= d->n_choices))
        return HP_ERR("Parzen estimator: observation %d of categorical dimension %d is %g, not "
                      "an index in [0, %d)", row, dim, x, d->n_choices);
    if (d->n_choices == 0 && d->log && !(x > 0))
        return HP_ERR("Parzen estimator: observation %d of log-scale dimension %d is %g <= 0",
                      row, dim, x);
    return 0;
}

int hp_parzen_fit(hp_parzen *pe, const hp_tpe_dim *dims, int n_dims, const double *obs, int n_obs,
                  const hp_parzen_params *params, const double *predetermined)
{
    memset(pe, 0, sizeof *pe);
    if (n_dims <= 0 || n_obs < 0)
        return HP_ERR("Parzen estimator: %d dimensions and %d observations", n_dims, n_obs);
    if (check_params(params) != 0)
        return -1;
    for (int d = 0; d < n_dims; d++) {
        if (hp_tpe_dim_check(&dims[d], d) != 0)
            return -1;
        if (dims[d].n_choices == 0) {
            double low, high, q;
            parzen_bounds(&dims[d], &low, &high, &q);
            if (!(low < high))
                return HP_ERR("Parzen estimator: dimension %d has a single value; sample it "
                              "without the estimator", d);
        }
        for (int i = 0; i < n_obs; i++)
            if (check_observation(&dims[d], d, obs[(long)i * n_dims + d], i) != 0)
                return -1;
    }
    if (predetermined)
        for (int i = 0; i < n_obs; i++)
            if (!(predetermined[i] >= 0) || !isfinite(predetermined[i]))
                return HP_ERR("Parzen estimator: weight %d is %g; weights must be finite and >= 0",
                              i, predetermined[i]);

    int prior = params->consider_prior || n_obs == 0;
    int m = n_obs + prior;
    pe->n_dims = n_dims;
    pe->n_observations = n_obs;
    pe->n_components = m;
    pe->has_prior = prior;
    pe->dims = hp_xcalloc((size_t)n_dims, sizeof *pe->dims);
    memcpy(pe->dims, dims, (size_t)n_dims * sizeof *dims);

    /* weights */
    pe->weights = hp_xcalloc((size_t)m, sizeof *pe->weights);
    if (predetermined)
        memcpy(pe->weights, predetermined, (size_t)n_obs * sizeof(double));
    else
        hp_tpe_default_weights(n_obs, pe->weights);
    if (prior)
        pe->weights[n_obs] = params->prior_weight;
    double total = 0;
    for (int j = 0; j < m; j++)
        total += pe->weights[j];
    if (!(total > 0)) {
        hp_parzen_release(pe);
        return HP_ERR("Parzen estimator: the weights sum to %g; at least one must be positive", total);
    }
    for (int j = 0; j < m; j++)
        pe->weights[j] /= total;

    pe->low = hp_xcalloc((size_t)n_dims, sizeof(double));
    pe->high = hp_xcalloc((size_t)n_dims, sizeof(double));
    pe->q = hp_xcalloc((size_t)n_dims, sizeof(double));
    pe->mus = hp_xcalloc((size_t)n_dims * m, sizeof(double));
    pe->sigmas = hp_xcalloc((size_t)n_dims * m, sizeof(double));
    pe->log_mass = hp_xcalloc((size_t)n_dims * m, sizeof(double));
    pe->categorical = hp_xcalloc((size_t)n_dims, sizeof(double *));

    double sigma0 = SIGMA0_MAGNITUDE * pow((double)(n_obs > 1 ? n_obs : 1), -1.0 / (n_dims + 4));
    for (int d = 0; d < n_dims; d++) {
        const hp_tpe_dim *dim = &dims[d];
        double *mus = pe->mus + (long)d * m, *sigmas = pe->sigmas + (long)d * m;
        double *log_mass = pe->log_mass + (long)d * m;
        if (dim->n_choices > 0) {
            int k = dim->n_choices;
            pe->low[d] = pe->high[d] = NAN;
            pe->q[d] = 0;
            for (int j = 0; j < m; j++)
                mus[j] = sigmas[j] = log_mass[j] = NAN;
            double *table = hp_xcalloc((size_t)m * k, sizeof(double));
            double fill = params->prior_weight / (prior ? n_obs + 1 : n_obs);
            for (int j = 0; j < m * k; j++)
                table[j] = fill;
            for (int i = 0; i < n_obs; i++)
                table[(long)i * k + (int)obs[(long)i * n_dims + d]] += 1.0;
            for (int j = 0; j < m; j++) {
                double row = 0;
                for (int c = 0; c < k; c++)
                    row += table[(long)j * k + c];
                for (int c = 0; c < k; c++)
                    table[(long)j * k + c] /= row;
            }
            pe->categorical[d] = table;
            continue;
        }
        double low, high, q;
        parzen_bounds(dim, &low, &high, &q);
        pe->low[d] = low;
        pe->high[d] = high;
        pe->q[d] = q;
        for (int i = 0; i < n_obs; i++)
            mus[i] = transform(dim, obs[(long)i * n_dims + d]);
        if (prior)
            mus[n_obs] = 0.5 * (low + high);
        if (params->multivariate)
            for (int j = 0; j < m; j++)
                sigmas[j] = sigma0 * (high - low);
        else
            neighbour_sigmas(mus, m, low, high, params->consider_endpoints, sigmas);
        double max_sigma = high - low;
        double min_sigma = params->consider_magic_clip
                               ? (high - low) / (100.0 < 1.0 + m ? 100.0 : 1.0 + m)
                               : MIN_SIGMA_NO_CLIP;
        for (int j = 0; j < m; j++) /* numpy.clip: max(min(s, max_sigma), min_sigma) order-free here */
            sigmas[j] = sigmas[j] < min_sigma ? min_sigma : sigmas[j] > max_sigma ? max_sigma : sigmas[j];
        if (prior)
            sigmas[n_obs] = high - low;
        for (int j = 0; j < m; j++)
            log_mass[j] = hp_log_gauss_mass((low - mus[j]) / sigmas[j], (high - mus[j]) / sigmas[j]);
    }
    return 0;
}

void hp_parzen_release(hp_parzen *pe)
{
    if (pe->categorical)
        for (int d = 0; d < pe->n_dims; d++)
            free(pe->categorical[d]);
    free(pe->categorical);
    free(pe->dims);
    free(pe->weights);
    free(pe->low);
    free(pe->high);
    free(pe->q);
    free(pe->mus);
    free(pe->sigmas);
    free(pe->log_mass);
    memset(pe, 0, sizeof *pe);
}

/* log pdf term of component j in numeric dim d at transformed value y */
static double numeric_term(const hp_parzen *pe, int d, int j, double y)
{
    int m = pe->n_components;
    double mu = pe->mus[(long)d * m + j], sigma = pe->sigmas[(long)d * m + j];
    double low = pe->low[d], high = pe->high[d], q = pe->q[d];
    double log_mass = pe->log_mass[(long)d * m + j];
    if (q > 0) {
        double upper = fmin(y + 0.5 * q, high), lower = fmax(y - 0.5 * q, low);
        return hp_log_gauss_mass((lower - mu) / sigma, (upper - mu) / sigma) - log_mass;
    }
    double z = (y - mu) / sigma;
    if (z < (low - mu) / sigma || (high - mu) / sigma < z)
        return -INFINITY;
    return -0.5 * z * z - LOG_SQRT_2PI - log_mass; /* no -log(sigma): as Optuna 3.1 */
}

void hp_parzen_log_pdf(const hp_parzen *pe, const double *samples, int n, double *out)
{
    int m = pe->n_components, nd = pe->n_dims;
    double *acc = hp_xcalloc((size_t)m, sizeof *acc);
    double *log_w = hp_xcalloc((size_t)m, sizeof *log_w);
    for (int j = 0; j < m; j++)
        log_w[j] = log(pe->weights[j]);
    for (int s = 0; s < n; s++) {
        const double *x = samples + (long)s * nd;
        memcpy(acc, log_w, (size_t)m * sizeof *acc);
        for (int d = 0; d < nd; d++) {
            const hp_tpe_dim *dim = &pe->dims[d];
            if (dim->n_choices > 0) {
                int c = (int)x[d];
                const double *table = pe->categorical[d];
                if (c < 0 || c >= dim->n_choices) {
                    for (int j = 0; j < m; j++)
                        acc[j] = -INFINITY;
                    continue;
                }
                for (int j = 0; j < m; j++)
                    acc[j] += log(table[(long)j * dim->n_choices + c]);
            } else {
                double y = transform(dim, x[d]);
                for (int j = 0; j < m; j++)
                    acc[j] += numeric_term(pe, d, j, y);
            }
        }
        double top = -INFINITY;
        for (int j = 0; j < m; j++)
            if (acc[j] > top)
                top = acc[j];
        if (top == -INFINITY) {
            out[s] = -INFINITY;
            continue;
        }
        double sum = 0;
        for (int j = 0; j < m; j++)
            if (acc[j] - top > -746) /* exp() is exactly 0 below that: skip its slow path */
                sum += exp(acc[j] - top);
        out[s] = log(sum) + top;
    }
    free(acc);
    free(log_w);
}

/* Transformed sample y of a numeric dim back to its internal value (Optuna's
 * _transform_from_uniform), kept inside [low, high]. */
static double from_transformed(const hp_tpe_dim *d, double q, double y)
{
    double high = hp_tpe_dim_high(d), x;
    if (d->log) {
        x = exp(y);
        if (d->is_int)
            x = rint(x); /* numpy.round: half to even */
    } else if (q > 0) {
        x = rint((y - d->low) / q) * q + d->low;
    } else {
        x = y;
    }
    return x < d->low ? d->low : x > high ? high : x;
}

void hp_parzen_sample(const hp_parzen *pe, hp_rng *rng, int n, double *out)
{
    int m = pe->n_components, nd = pe->n_dims;
    int *active = hp_xcalloc((size_t)(n > 0 ? n : 1), sizeof *active);
    double *cdf = hp_xcalloc((size_t)m, sizeof *cdf);
    /* numpy RandomState.choice(m, n, p=weights): cdf normalised by its last
     * entry, index = searchsorted(cdf, u, side='right') */
    double run = 0;
    for (int j = 0; j < m; j++)
        cdf[j] = run += pe->weights[j];
    for (int j = 0; j < m; j++)
        cdf[j] /= run;
    for (int s = 0; s < n; s++) {
        double u = hp_rng_uniform(rng);
        int lo = 0, hi = m; /* first index with cdf > u */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (cdf[mid] <= u)
                lo = mid + 1;
            else
                hi = mid;
        }
        active[s] = lo < m ? lo : m - 1;
    }
    for (int d = 0; d < nd; d++) {
        const hp_tpe_dim *dim = &pe->dims[d];
        for (int s = 0; s < n; s++) {
            double u = hp_rng_uniform(rng);
            int j = active[s];
            if (dim->n_choices > 0) {
                /* index = number of cumulative probabilities < u */
                const double *row = pe->categorical[d] + (long)j * dim->n_choices;
                double cum = 0;
                int c = 0;
                for (int k = 0; k < dim->n_choices; k++) {
                    cum += row[k];
                    if (cum < u)
                        c++;
                }
                out[(long)s * nd + d] = c < dim->n_choices ? c : dim->n_choices - 1;
            } else {
                double mu = pe->mus[(long)d * m + j], sigma = pe->sigmas[(long)d * m + j];
                double a = (pe->low[d] - mu) / sigma, b = (pe->high[d] - mu) / sigma;
                double y = hp_truncnorm_ppf(u, a, b) * sigma + mu;
                out[(long)s * nd + d] = from_transformed(dim, pe->q[d], y);
            }
        }
    }
    free(active);
    free(cdf);
}
