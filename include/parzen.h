/* parzen.h - the Parzen estimator of Optuna 3.1's TPE (mixture of truncated
 * normals / categorical tables), and the truncated-normal functions it uses.
 *
 * Reference: optuna 3.1.0, optuna/samplers/_tpe/parzen_estimator.py
 * (_ParzenEstimator) and optuna/samplers/_tpe/_truncnorm.py.  Everything here
 * that does not depend on random draws equals Optuna's numbers to ~1e-12
 * (checked by tests/integration/test_tpe_optuna.sh against Optuna itself).
 *
 * Representations.  A dimension (hp_tpe_dim) is numeric or categorical.  The
 * "internal" value of a parameter is what Optuna's to_internal_repr gives: the
 * number itself for numeric dims, the choice index for categorical ones; it is
 * also hptune's external value.  Inside the estimator numeric dims with log=1
 * live in log space ("transformed" values below).
 *
 * Fitting, for n observations (rows of the (n, n_dims) observation matrix):
 *   components: the n observations, plus the prior as the last component when
 *     consider_prior (forced on when n == 0): n_components = n + prior.
 *   weights:  w = predetermined weights, or Optuna's default_weights(n):
 *       n < 25: all 1;  n >= 25: linspace(1/n, 1, n-25) for the oldest n-25,
 *       then 25 ones (numpy linspace: w_i = 1/n + i*(1-1/n)/(n-26), last = 1).
 *     prior weight appended; all divided by their sum.
 *   parzen bounds (_calculate_parzen_bounds), with high' the last lattice point:
 *       float:            [low, high]              q = 0 (continuous)
 *       float, log:       [log low, log high]      q = 0
 *       float, step s:    [low - s/2, high' + s/2] q = s
 *       int, step s:      [low - s/2, high' + s/2] q = s
 *       int, log:         [log(low-0.5), log(high+0.5)]  q = 0
 *   numeric dims, with [L, H] the parzen bounds and x the transformed values:
 *     mus = (x_1..x_n, prior (L+H)/2);  prior sigma = H - L.
 *     univariate: sort mus with L and H as end points; sigma_i = the larger
 *       gap to its neighbours; without consider_endpoints (and n_components >=
 *       2) the first and last sorted mus take the gap to their inner neighbour.
 *       Ties are ordered stably (observations in order, then the prior): numpy
 *       1.24's default argsort, which Optuna uses, orders ties differently on
 *       different CPUs (AVX-512 or introsort), so Optuna itself is not defined
 *       there; the oracle pins numpy to a stable sort.
 *     multivariate: sigma_i = sigma0 (H - L), sigma0 = 0.2 n^(-1/(d+4)) with
 *       n = max(observations, 1) and d the estimator's number of dims (Scott's
 *       rule as in BOHB).
 *     then sigmas are clipped to [minsigma, H - L], minsigma = (H - L) /
 *     min(100, 1 + n_components) with consider_magic_clip, else 1e-12; the
 *     prior's sigma is set to H - L after the clip.
 *   categorical dims with k choices: a (n_components, k) table; every entry
 *     starts at prior_weight / (n + prior) (n + 1 with the prior, n without),
 *     the observed choice of row i gets +1, each row is divided by its sum (the
 *     prior row is uniform).
 *
 * log pdf of a sample y (transformed), per component j, summed over dims:
 *   categorical: log table[j][y]
 *   continuous:  -z^2/2 - log sqrt(2 pi) - log Z_j,  z = (y - mu_j)/sigma_j,
 *                Z_j = Phi(b_j) - Phi(a_j), a_j = (L - mu_j)/sigma_j, b_j the same
 *                with H; -inf outside [L, H].
 *                NOTE: Optuna 3.1's _truncnorm.logpdf omits the -log(sigma_j)
 *                Jacobian (optuna issue #5109, fixed later by PR #5110); we
 *                reproduce 3.1 exactly, so this "density" is not normalised.
 *   stepped:     log[Phi(v_j) - Phi(u_j)] - log Z_j with u, v = the cell
 *                [max(y - q/2, L), min(y + q/2, H)] standardised for component j.
 *   mixture: logsumexp_j (log w_j + sum of the dims' terms).
 * log Phi and log(Phi(b) - Phi(a)) are computed in log space as _truncnorm
 * does (left tail: difference of log Phi; right tail: by symmetry; central:
 * log1p(-Phi(a) - Phi(-b)); log Phi(x) for x <= -20 by the asymptotic series,
 * for x > 6 as -Phi(-x); for 0 < x <= 6 we take log1p(-Phi(-x)) where Optuna
 * takes log(Phi(x)): equal to rounding, but keeps the digits that the inverse
 * needs for quantiles near 1).  The inverse x = ndtri_exp(y) of log Phi is
 * solved by Newton's method on the concave log Phi, started from the tail
 * asymptotics and kept inside a bisection bracket (Optuna bisects on
 * [-100, 100], which also bounds its quantiles; ours has no such limit).
 *
 * Sampling n values (Optuna's _ParzenEstimator.sample), all randomness as
 * hp_rng_uniform draws u in [0, 1), consumed in this order:
 *   n draws: component j = the number of cumulative normalised weights <= u
 *            (numpy's RandomState.choice with p);
 *   then per dim in order, n draws:
 *     categorical: index = number of cumulative row probabilities < u;
 *     numeric: y = mu_j + sigma_j * ppf(u; a_j, b_j) (inverse CDF of the
 *       truncated standard normal, see hp_truncnorm_ppf), then back to the
 *       internal value: exp for log dims (int log: round half to even and clip
 *       to [low, high]), stepped dims: low + rint((y - low)/q) q clipped to
 *       [low, high'].  Continuous values are also clamped to [low, high]
 *       against the last rounding bit (Optuna does not clamp).
 * With the same uniforms Optuna's sample() returns the same values.
 *
 * Memory: hp_parzen_fit allocates everything the estimator owns;
 * hp_parzen_release frees it.  No global state.
 */
#ifndef HPTUNE_PARZEN_H
#define HPTUNE_PARZEN_H

#include "rng.h"

/* One search dimension in external representation (also used by tpe.h).
 * Optuna equivalents: CategoricalDistribution(range(n_choices)),
 * FloatDistribution(low, high, log, step or None), IntDistribution(low, high,
 * log, step).  Rules (hp_tpe_dim_check): log needs low > 0 and no step (int
 * log: step 0 or 1); int dims need integral low, high and step (step 0 means
 * 1); a high that is not on the lattice low + k*step is lowered to the last
 * lattice point, as Optuna does. */
typedef struct hp_tpe_dim {
    int n_choices;    /* > 0: categorical, values are indices 0..n_choices-1; 0: numeric */
    double low, high; /* numeric: inclusive bounds */
    double step;      /* numeric: 0 = continuous; > 0 = values low + k*step (Optuna's step / q) */
    int log;          /* numeric: log scale (low > 0) */
    int is_int;       /* numeric: an IntDistribution (Optuna), else FloatDistribution */
} hp_tpe_dim;

/* 0, or -1 with a message naming dimension `index` if the description is invalid. */
int hp_tpe_dim_check(const hp_tpe_dim *dim, int index);
/* Lattice step of a numeric dim: step, 1 for int dims given step 0, 0 if continuous. */
double hp_tpe_dim_step(const hp_tpe_dim *dim);
/* The largest allowed value: high, lowered to the last lattice point for stepped dims. */
double hp_tpe_dim_high(const hp_tpe_dim *dim);
/* The dim has one value only (Optuna's distribution.single()). */
int hp_tpe_dim_single(const hp_tpe_dim *dim);

typedef struct hp_parzen_params { /* Optuna's _ParzenEstimatorParameters */
    int consider_prior;
    double prior_weight;
    int consider_magic_clip;
    int consider_endpoints;
    int multivariate; /* bandwidth rule: sigma0 scaling (1) or neighbour gaps (0) */
} hp_parzen_params;

typedef struct hp_parzen {
    int n_dims;
    hp_tpe_dim *dims;    /* (n_dims) copy of the dims */
    int n_observations;
    int n_components;    /* n_observations + 1 with the prior (the last component) */
    int has_prior;
    double *weights;     /* (n_components) normalised, sum 1 */
    double *low, *high;  /* (n_dims) parzen bounds, transformed space; NaN for categorical */
    double *q;           /* (n_dims) lattice step in the estimator, 0 if continuous / categorical */
    double *mus;         /* (n_dims, n_components) row d: component means (transformed); NaN rows for categorical */
    double *sigmas;      /* (n_dims, n_components) likewise */
    double **categorical;/* (n_dims) NULL or a (n_components, n_choices) row-major table */
    double *log_mass;    /* (n_dims, n_components) log Z_j of numeric dims (precomputed) */
} hp_parzen;

/* Fit from observations (n_obs, n_dims) row-major in internal representation
 * (no NaN: callers drop inactive rows).  weights: (n_obs) predetermined weights
 * or NULL for default_weights.  0, or -1 with a message (and nothing to
 * release) for invalid dims (also single-valued continuous ones, which have no
 * bandwidth), params or observations (not finite, a categorical value that is
 * not a choice index, a log value <= 0, negative or all-zero weights).  Numeric
 * values outside the bounds are not rejected here (hp_tpe_propose checks them). */
int hp_parzen_fit(hp_parzen *pe, const hp_tpe_dim *dims, int n_dims, const double *observations,
                  int n_obs, const hp_parzen_params *params, const double *weights);
void hp_parzen_release(hp_parzen *pe);

/* Convenience accessors (the struct fields are public, read-only). */
static inline const double *hp_parzen_mus(const hp_parzen *pe, int d) { return pe->mus + (long)d * pe->n_components; }
static inline const double *hp_parzen_sigmas(const hp_parzen *pe, int d) { return pe->sigmas + (long)d * pe->n_components; }

/* log pdf of n samples (n, n_dims) in internal representation into out (n). */
void hp_parzen_log_pdf(const hp_parzen *pe, const double *samples, int n, double *out);
/* Draw n samples into out (n, n_dims), internal representation; consumes
 * n * (1 + n_dims) hp_rng_uniform draws in the order given above. */
void hp_parzen_sample(const hp_parzen *pe, hp_rng *rng, int n, double *out);

/* Optuna's default_weights(n) into w (n). */
void hp_tpe_default_weights(int n, double *w);

/* Standard normal helpers in log space (Optuna's _truncnorm, scipy's formulas). */
double hp_log_ndtr(double x);                      /* log Phi(x) */
double hp_log_gauss_mass(double a, double b);      /* log(Phi(b) - Phi(a)), a < b */
double hp_ndtri_exp(double y);                     /* x with log Phi(x) = y (y <= 0) */
/* Inverse CDF of the standard normal truncated to [a, b] at probability q in
 * [0, 1]: Optuna's _truncnorm.ppf (a, b on the same side as the bulk of the
 * mass is used so that tails stay accurate).  NaN if a == b. */
double hp_truncnorm_ppf(double q, double a, double b);

#endif
