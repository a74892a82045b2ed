/* bohb_kde.c - BOHB's configuration generator (HpBandSter's config_generators/
 * bohb.py with statsmodels' KDEMultivariate, bw='normal_reference').
 *
 * The algorithm, its defaults and the deliberate differences are documented in
 * include/bohb.h.  This file keeps, per budget, the results in vector form
 * (arrival order) and the last fitted pair of KDEs; every model is refitted
 * from scratch on each stored result, so the object's state is a function of
 * the sequence of hp_bohb_add_result() calls.
 */
#include "bohb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Seed of the imputation stream: hp_rng_seed_for(seed, budget, n results). */
#define IMPUTE_SEED 0x424f48424b444555ull
#define LATTICE_WIDEN 0.49999     /* ConfigSpace 0.4 UniformInteger: lower-0.49999, upper+0.49999 */
#define SCORE_FLOOR 1e-32         /* HpBandSter's max(1e-32, g)/max(l, 1e-32) */
#define TRUNCNORM_MAX_TRIES 10000 /* acceptance >= 0.135 per try: never reached in practice */

typedef struct dim_map { /* precomputed vector <-> value map of one numeric dim */
    int lattice;         /* is_int or step > 0 */
    double s;            /* lattice step */
    double k_max;        /* lattice points k = 0..k_max */
    double a, b;         /* range mapped onto [0,1], in log space for log dims */
} dim_map;

typedef struct kde {
    int n;          /* rows */
    int *rows;      /* [n] index among the budget's results */
    double *data;   /* [n x d] row-major, vector form, imputed */
    double *bw;     /* [d] clipped bandwidths */
    int *levels;    /* [d] distinct values per 'u' column (statsmodels' num_levels) */
    double bw_prod; /* product of the 'c' bandwidths (statsmodels divides each row by it) */
} kde;

typedef struct budget_data {
    int n, cap;
    double *vectors; /* [n x d] results in vector form, arrival order */
    double *losses;  /* [n] +inf for failed */
    int has_model;
    kde good, bad;
} budget_data;

struct hp_bohb {
    int d;
    hp_bohb_dim *dims; /* [d] */
    dim_map *maps;     /* [d] */
    hp_bohb_settings s;
    int min_points;
    int n_budgets;
    budget_data *budgets; /* [n_budgets] */
};

hp_bohb_settings hp_bohb_settings_default(void)
{
    hp_bohb_settings s = {.top_n_percent = 15,
                          .num_samples = 64,
                          .random_fraction = 1.0 / 3.0,
                          .bandwidth_factor = 3,
                          .min_bandwidth = 1e-3,
                          .min_points_in_model = 0};
    return s;
}

/* ---- representation ----------------------------------------------------- */

static int is_cat(const hp_bohb_dim *dim) { return dim->n_choices > 0; }

static int check_dim(const hp_bohb_dim *dim, int j)
{
    if (is_cat(dim))
        return 0;
    if (dim->n_choices < 0)
        return HP_ERR("bohb: dimension %d: n_choices %d is negative; use 0 for numeric", j,
                      dim->n_choices);
    if (!isfinite(dim->low) || !isfinite(dim->high) || !(dim->low < dim->high))
        return HP_ERR("bohb: dimension %d: bounds [%g, %g] must be finite with low < high", j,
                      dim->low, dim->high);
    if (dim->log && dim->low <= 0)
        return HP_ERR("bohb: dimension %d: log scale needs low > 0 (got %g)", j, dim->low);
    if (!isfinite(dim->step) || dim->step < 0)
        return HP_ERR("bohb: dimension %d: step %g must be >= 0", j, dim->step);
    if (dim->is_int && (dim->low != floor(dim->low) || dim->step != floor(dim->step)))
        return HP_ERR("bohb: dimension %d: an integer dimension needs an integral low and step "
                      "(got low %g, step %g)", j, dim->low, dim->step);
    return 0;
}

static double scale_of(const hp_bohb_dim *dim, double x) { return dim->log ? log(x) : x; }
static double unscale_of(const hp_bohb_dim *dim, double t) { return dim->log ? exp(t) : t; }

static dim_map make_map(const hp_bohb_dim *dim)
{
    dim_map m = {0};
    m.lattice = dim->is_int || dim->step > 0;
    if (!m.lattice) {
        m.a = scale_of(dim, dim->low);
        m.b = scale_of(dim, dim->high);
        return m;
    }
    m.s = dim->step > 0 ? dim->step : 1.0;
    m.k_max = floor((dim->high - dim->low) / m.s + 1e-9);
    double w = LATTICE_WIDEN * m.s;
    double lower_widen = dim->log && w > 0.5 * dim->low ? 0.5 * dim->low : w;
    m.a = scale_of(dim, dim->low - lower_widen);
    m.b = scale_of(dim, dim->low + m.k_max * m.s + w);
    return m;
}

static double lattice_point(const hp_bohb_dim *dim, const dim_map *m, double y)
{
    double k = round((y - dim->low) / m->s);
    k = k < 0 ? 0 : k > m->k_max ? m->k_max : k;
    double x = dim->low + k * m->s;
    return x > dim->high ? dim->high : x; /* decimal steps: stay <= high */
}

/* External value -> vector value of one dim; -1 after HP_ERR. */
static int value_to_vector(const hp_bohb_dim *dim, const dim_map *m, int j, double x, double *v)
{
    if (isnan(x)) { /* inactive */
        *v = NAN;
        return 0;
    }
    if (is_cat(dim)) {
        if (!(x >= 0 && x < dim->n_choices) || x != floor(x))
            return HP_ERR("bohb: dimension %d: category index %g is not an integer in [0, %d)",
                          j, x, dim->n_choices);
        *v = x;
        return 0;
    }
    double slack = 1e-9 * (dim->high - dim->low);
    if (!(x >= dim->low - slack && x <= dim->high + slack))
        return HP_ERR("bohb: dimension %d: value %g is outside [%g, %g]", j, x, dim->low,
                      dim->high);
    x = x < dim->low ? dim->low : x > dim->high ? dim->high : x;
    if (m->lattice)
        x = lattice_point(dim, m, x);
    double t = (scale_of(dim, x) - m->a) / (m->b - m->a);
    *v = t < 0 ? 0 : t > 1 ? 1 : t;
    return 0;
}

static double vector_to_value(const hp_bohb_dim *dim, const dim_map *m, double v)
{
    if (is_cat(dim)) {
        double k = round(v);
        return k < 0 ? 0 : k > dim->n_choices - 1 ? dim->n_choices - 1 : k;
    }
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double y = unscale_of(dim, m->a + v * (m->b - m->a));
    if (m->lattice)
        return lattice_point(dim, m, y);
    return y < dim->low ? dim->low : y > dim->high ? dim->high : y;
}

int hp_bohb_num_dims(const hp_bohb *b) { return b->d; }

int hp_bohb_to_vector(const hp_bohb *b, const double *x, double *v)
{
    for (int j = 0; j < b->d; j++)
        if (value_to_vector(&b->dims[j], &b->maps[j], j, x[j], &v[j]) != 0)
            return -1;
    return 0;
}

void hp_bohb_from_vector(const hp_bohb *b, const double *v, double *x)
{
    for (int j = 0; j < b->d; j++)
        x[j] = vector_to_value(&b->dims[j], &b->maps[j], v[j]);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int check_settings(const hp_bohb_settings *s)
{
    if (!(s->top_n_percent > 0 && s->top_n_percent < 100))
        return HP_ERR("bohb: top_n_percent %g must be in (0, 100)", s->top_n_percent);
    if (s->num_samples < 1)
        return HP_ERR("bohb: num_samples %d must be >= 1", s->num_samples);
    if (!(s->random_fraction >= 0 && s->random_fraction <= 1))
        return HP_ERR("bohb: random_fraction %g must be in [0, 1]", s->random_fraction);
    if (!(s->bandwidth_factor > 0) || !isfinite(s->bandwidth_factor))
        return HP_ERR("bohb: bandwidth_factor %g must be > 0", s->bandwidth_factor);
    if (!(s->min_bandwidth > 0) || !isfinite(s->min_bandwidth))
        return HP_ERR("bohb: min_bandwidth %g must be > 0", s->min_bandwidth);
    if (s->min_points_in_model < 0)
        return HP_ERR("bohb: min_points_in_model %d must be >= 0 (0: number of dims + 1)",
                      s->min_points_in_model);
    return 0;
}

hp_bohb *hp_bohb_create(const hp_bohb_dim *dims, int n_dims, const hp_bohb_settings *s,
                        int n_budgets)
{
    if (n_dims < 1) {
        HP_ERR("bohb: the search space needs at least one dimension (got %d)", n_dims);
        return NULL;
    }
    if (n_budgets < 1) {
        HP_ERR("bohb: need at least one budget (got %d)", n_budgets);
        return NULL;
    }
    if (check_settings(s) != 0)
        return NULL;
    for (int j = 0; j < n_dims; j++)
        if (check_dim(&dims[j], j) != 0)
            return NULL;
    hp_bohb *b = hp_xcalloc(1, sizeof *b);
    b->d = n_dims;
    b->s = *s;
    b->min_points = s->min_points_in_model < n_dims + 1 ? n_dims + 1 : s->min_points_in_model;
    b->dims = hp_xcalloc((size_t)n_dims, sizeof *b->dims);
    memcpy(b->dims, dims, (size_t)n_dims * sizeof *dims);
    b->maps = hp_xcalloc((size_t)n_dims, sizeof *b->maps);
    for (int j = 0; j < n_dims; j++)
        if (!is_cat(&dims[j]))
            b->maps[j] = make_map(&dims[j]);
    b->n_budgets = n_budgets;
    b->budgets = hp_xcalloc((size_t)n_budgets, sizeof *b->budgets);
    return b;
}

static void kde_release(kde *k)
{
    free(k->rows);
    free(k->data);
    free(k->bw);
    free(k->levels);
    memset(k, 0, sizeof *k);
}

void hp_bohb_free(hp_bohb *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n_budgets; i++) {
        free(b->budgets[i].vectors);
        free(b->budgets[i].losses);
        kde_release(&b->budgets[i].good);
        kde_release(&b->budgets[i].bad);
    }
    free(b->budgets);
    free(b->maps);
    free(b->dims);
    free(b);
}

/* ---- fitting ------------------------------------------------------------ */

typedef struct loss_index {
    double loss;
    int index;
} loss_index;

static int by_loss_then_arrival(const void *pa, const void *pb)
{
    const loss_index *a = pa, *b = pb;
    if (a->loss < b->loss)
        return -1;
    if (a->loss > b->loss)
        return 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* HpBandSter's impute_conditional_data on rows[n] of the budget's results,
 * writing out[n x d]; the donors come from the same set (its original rows). */
static void impute_set(const hp_bohb *b, const budget_data *bd, const int *rows, int n,
                       hp_rng *rng, double *out, int *valid /* [n] scratch */)
{
    int d = b->d;
    for (int i = 0; i < n; i++) {
        const double *src = bd->vectors + (size_t)rows[i] * d;
        double *datum = out + (size_t)i * d;
        memcpy(datum, src, (size_t)d * sizeof *datum);
        for (;;) {
            int j = 0;
            while (j < d && !isnan(datum[j]))
                j++;
            if (j == d)
                break;
            int n_valid = 0;
            for (int r = 0; r < n; r++)
                if (isfinite(bd->vectors[(size_t)rows[r] * d + j]))
                    valid[n_valid++] = r;
            if (n_valid > 0) {
                const double *donor = bd->vectors + (size_t)rows[valid[hp_rng_below(rng, (uint64_t)n_valid)]] * d;
                for (int c = j; c < d; c++)
                    if (isnan(datum[c]))
                        datum[c] = donor[c];
            } else if (is_cat(&b->dims[j])) {
                datum[j] = (double)hp_rng_below(rng, (uint64_t)b->dims[j].n_choices);
            } else {
                datum[j] = hp_rng_uniform(rng);
            }
        }
    }
}

/* statsmodels' normal_reference bandwidths (population std), clipped below at
 * min_bandwidth as HpBandSter does; also the level counts of 'u' columns. */
static void kde_fit(const hp_bohb *b, kde *k)
{
    int d = b->d, n = k->n;
    double shrink = pow((double)n, -1.0 / (4.0 + d));
    k->bw_prod = 1.0;
    for (int j = 0; j < d; j++) {
        double mean = 0;
        for (int i = 0; i < n; i++)
            mean += k->data[(size_t)i * d + j];
        mean /= n;
        double ss = 0;
        for (int i = 0; i < n; i++) {
            double dev = k->data[(size_t)i * d + j] - mean;
            ss += dev * dev;
        }
        double bw = 1.06 * sqrt(ss / n) * shrink;
        k->bw[j] = bw < b->s.min_bandwidth ? b->s.min_bandwidth : bw;
        k->levels[j] = 0;
        if (is_cat(&b->dims[j])) { /* values are indices in [0, n_choices) */
            unsigned char *seen = hp_xcalloc((size_t)b->dims[j].n_choices, 1);
            for (int i = 0; i < n; i++) {
                int x = (int)k->data[(size_t)i * d + j];
                k->levels[j] += !seen[x];
                seen[x] = 1;
            }
            free(seen);
        } else {
            k->bw_prod *= k->bw[j];
        }
    }
}

static void kde_alloc(kde *k, int n, int d)
{
    kde_release(k);
    k->n = n;
    k->rows = hp_xcalloc((size_t)n, sizeof *k->rows);
    k->data = hp_xcalloc((size_t)n * d, sizeof *k->data);
    k->bw = hp_xcalloc((size_t)d, sizeof *k->bw);
    k->levels = hp_xcalloc((size_t)d, sizeof *k->levels);
}

static void refit(hp_bohb *b, int budget)
{
    budget_data *bd = &b->budgets[budget];
    int n = bd->n, d = b->d, m = b->min_points;
    if (n < m)
        return;
    int n_good = (int)floor(b->s.top_n_percent * n / 100.0);
    int n_bad = (int)floor((100.0 - b->s.top_n_percent) * n / 100.0);
    n_good = n_good < m ? m : n_good;
    n_bad = n_bad < m ? m : n_bad;
    if (n_good > n)
        n_good = n;
    if (n_bad > n - n_good)
        n_bad = n - n_good;
    /* The model is skipped when either set has <= d rows (HpBandSter checks
     * after imputing, which changes no row count). */
    if (n_good <= d || n_bad <= d)
        return;

    loss_index *order = hp_xcalloc((size_t)n, sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = (loss_index){bd->losses[i], i};
    qsort(order, (size_t)n, sizeof *order, by_loss_then_arrival);

    kde_alloc(&bd->good, n_good, d);
    kde_alloc(&bd->bad, n_bad, d);
    for (int i = 0; i < n_good; i++)
        bd->good.rows[i] = order[i].index;
    for (int i = 0; i < n_bad; i++)
        bd->bad.rows[i] = order[n_good + i].index;
    free(order);

    hp_rng rng;
    hp_rng_seed_for(&rng, IMPUTE_SEED, (uint64_t)budget, (uint64_t)n);
    int *scratch = hp_xcalloc((size_t)n, sizeof *scratch);
    impute_set(b, bd, bd->good.rows, n_good, &rng, bd->good.data, scratch);
    impute_set(b, bd, bd->bad.rows, n_bad, &rng, bd->bad.data, scratch);
    free(scratch);
    kde_fit(b, &bd->good);
    kde_fit(b, &bd->bad);
    bd->has_model = 1;
}

int hp_bohb_largest_model_budget(const hp_bohb *b)
{
    for (int i = b->n_budgets - 1; i >= 0; i--)
        if (b->budgets[i].has_model)
            return i;
    return -1;
}

int hp_bohb_add_result(hp_bohb *b, int budget, const double *x, double loss)
{
    if (budget < 0 || budget >= b->n_budgets)
        return HP_ERR("bohb: budget index %d is outside [0, %d)", budget, b->n_budgets);
    int d = b->d;
    double *v = hp_xcalloc((size_t)d, sizeof *v);
    if (hp_bohb_to_vector(b, x, v) != 0) {
        free(v);
        return -1;
    }
    if (hp_bohb_largest_model_budget(b) > budget) { /* HpBandSter drops it */
        free(v);
        return 0;
    }
    budget_data *bd = &b->budgets[budget];
    if (bd->n == bd->cap) {
        bd->cap = bd->cap ? 2 * bd->cap : 16;
        bd->vectors = hp_xrealloc(bd->vectors, (size_t)bd->cap * d * sizeof *bd->vectors);
        bd->losses = hp_xrealloc(bd->losses, (size_t)bd->cap * sizeof *bd->losses);
    }
    memcpy(bd->vectors + (size_t)bd->n * d, v, (size_t)d * sizeof *v);
    bd->losses[bd->n] = isfinite(loss) ? loss : INFINITY;
    bd->n++;
    free(v);
    refit(b, budget);
    return 0;
}

/* ---- densities ---------------------------------------------------------- */

/* statsmodels' KDEMultivariate.pdf at one point v[d]: per row the product of
 * the kernels divided by the product of the 'c' bandwidths, summed, over n. */
static double kde_pdf(const hp_bohb *b, const kde *k, const double *v)
{
    const double inv_sqrt_2pi = 1.0 / sqrt(2.0 * M_PI);
    int d = b->d;
    double sum = 0;
    for (int i = 0; i < k->n; i++) {
        const double *row = k->data + (size_t)i * d;
        double prod = 1.0;
        for (int j = 0; j < d; j++) {
            double h = k->bw[j], kern;
            if (is_cat(&b->dims[j])) {
                kern = row[j] == v[j] ? 1.0 - h : h / (double)(k->levels[j] - 1);
            } else {
                double diff = row[j] - v[j];
                kern = inv_sqrt_2pi * exp(-(diff * diff) / (h * h * 2.0));
            }
            prod *= kern;
        }
        sum += prod / k->bw_prod;
    }
    return sum / k->n;
}

static double python_max(double a, double b) { return b > a ? b : a; }

static double score_of(double pdf_good, double pdf_bad)
{
    return python_max(SCORE_FLOOR, pdf_bad) / python_max(pdf_good, SCORE_FLOOR);
}

int hp_bohb_num_results(const hp_bohb *b, int budget)
{
    return budget >= 0 && budget < b->n_budgets ? b->budgets[budget].n : 0;
}

int hp_bohb_has_model(const hp_bohb *b, int budget)
{
    return budget >= 0 && budget < b->n_budgets && b->budgets[budget].has_model;
}

int hp_bohb_model_kde(const hp_bohb *b, int budget, int which, hp_bohb_kde_view *view)
{
    if (!hp_bohb_has_model(b, budget))
        return HP_ERR("bohb: budget %d has no model", budget);
    const kde *k = which == HP_BOHB_GOOD ? &b->budgets[budget].good : &b->budgets[budget].bad;
    view->n_rows = k->n;
    view->rows = k->rows;
    view->data = k->data;
    view->bw = k->bw;
    return 0;
}

int hp_bohb_model_pdf(const hp_bohb *b, int budget, const double *v, double *pdf_good,
                      double *pdf_bad)
{
    if (!hp_bohb_has_model(b, budget))
        return HP_ERR("bohb: budget %d has no model", budget);
    *pdf_good = kde_pdf(b, &b->budgets[budget].good, v);
    *pdf_bad = kde_pdf(b, &b->budgets[budget].bad, v);
    return 0;
}

double hp_bohb_model_score(const hp_bohb *b, int budget, const double *v)
{
    double l = NAN, g = NAN;
    if (hp_bohb_model_pdf(b, budget, v, &l, &g) != 0)
        return NAN;
    return score_of(l, g);
}

/* ---- proposals ---------------------------------------------------------- */

/* Normal(mean, sigma) truncated to [0, 1], mean in [0, 1], drawn exactly by
 * rejection: normal proposals accept with probability >= P(0 <= Z <= 2) when
 * sigma <= 0.5; above that, uniform proposals on [0,1] accepted with
 * probability exp(-(u-mean)^2 / (2 sigma^2)) >= e^-2. */
static double truncated_normal01(hp_rng *rng, double mean, double sigma)
{
    for (int tries = 0; tries < TRUNCNORM_MAX_TRIES; tries++) {
        if (sigma <= 0.5) {
            double z = mean + sigma * hp_rng_normal(rng);
            if (z >= 0.0 && z <= 1.0)
                return z;
        } else {
            double u = hp_rng_uniform(rng);
            double t = (u - mean) / sigma;
            if (hp_rng_uniform(rng) < exp(-0.5 * t * t))
                return u;
        }
    }
    return mean;
}

static void propose_random(const hp_bohb *b, hp_rng *rng, double *out)
{
    for (int j = 0; j < b->d; j++) {
        const hp_bohb_dim *dim = &b->dims[j];
        if (is_cat(dim))
            out[j] = (double)hp_rng_below(rng, (uint64_t)dim->n_choices);
        else
            out[j] = vector_to_value(dim, &b->maps[j], hp_rng_uniform(rng));
    }
}

/* HpBandSter's sampling loop; 1 with best[d] set, 0 if no candidate won. */
static int propose_from_model(const hp_bohb *b, int budget, hp_rng *rng, double *best,
                              double *candidate)
{
    const kde *good = &b->budgets[budget].good, *bad = &b->budgets[budget].bad;
    int d = b->d, found = 0;
    double best_score = INFINITY;
    for (int c = 0; c < b->s.num_samples; c++) {
        const double *datum = good->data + (size_t)hp_rng_below(rng, (uint64_t)good->n) * d;
        for (int j = 0; j < d; j++) {
            double bw = good->bw[j] < b->s.min_bandwidth ? b->s.min_bandwidth : good->bw[j];
            if (is_cat(&b->dims[j])) {
                if (hp_rng_uniform(rng) < 1.0 - bw)
                    candidate[j] = datum[j];
                else
                    candidate[j] = (double)hp_rng_below(rng, (uint64_t)b->dims[j].n_choices);
            } else {
                candidate[j] = truncated_normal01(rng, datum[j], b->s.bandwidth_factor * bw);
            }
        }
        double l = kde_pdf(b, good, candidate), g = kde_pdf(b, bad, candidate);
        double score = score_of(l, g);
        if (!isfinite(score) && isfinite(l)) { /* HpBandSter takes it and stops */
            memcpy(best, candidate, (size_t)d * sizeof *best);
            return 1;
        }
        if (score < best_score) {
            best_score = score;
            memcpy(best, candidate, (size_t)d * sizeof *best);
            found = 1;
        }
    }
    return found;
}

int hp_bohb_propose(const hp_bohb *b, hp_rng *rng, double *out, int *used_model,
                    int *model_budget)
{
    int budget = hp_bohb_largest_model_budget(b);
    *used_model = 0;
    *model_budget = -1;
    if (budget < 0 || hp_rng_uniform(rng) < b->s.random_fraction) {
        propose_random(b, rng, out);
        return 0;
    }
    double *best = hp_xcalloc((size_t)b->d * 2, sizeof *best);
    if (propose_from_model(b, budget, rng, best, best + b->d)) {
        hp_bohb_from_vector(b, best, out);
        *used_model = 1;
        *model_budget = budget;
    } else {
        propose_random(b, rng, out);
    }
    free(best);
    return 0;
}
