/* bohb.h - BOHB's configuration generator: per-budget Parzen (KDE) models that
 * turn results into proposals (no MPI, no I/O, no global state).
 *
 * Follows HpBandSter's hpbandster/optimizers/config_generators/bohb.py (class
 * BOHB, automl/HpBandSter master 0ec0ce2; Falkner, Klein & Hutter, "BOHB:
 * Robust and Efficient Hyperparameter Optimization at Scale", ICML 2018) with
 * the KDEs of statsmodels' KDEMultivariate(bw='normal_reference')
 * (statsmodels/nonparametric/kernel_density.py, _kernel_base.py, kernels.py;
 * checked against Debian's python3-statsmodels 0.13.5).
 *
 * Representation.  Every configuration is modelled in ConfigSpace's vector
 * form v (n_dims doubles), as ConfigSpace 0.4 (the version HpBandSter was
 * written against) builds it:
 *   categorical (n_choices > 0)   v = index 0..n_choices-1; KDE type 'u'
 *   continuous (step 0, !is_int)  v = (x - low)/(high - low) in [0,1]
 *                                 (log: (ln x - ln low)/(ln high - ln low)); 'c'
 *   lattice (is_int or step > 0)  values z_k = low + k*s, k = 0..K, s = step
 *                                 (1 for an integer without step),
 *                                 K = floor((high - low)/s + 1e-9) (as space.c);
 *                                 v = the continuous map of x over the widened
 *                                 range [low - w, z_K + w], w = 0.49999*s
 *                                 (ConfigSpace 0.4 UniformInteger: lower-0.49999,
 *                                 upper+0.49999), so every lattice point owns an
 *                                 equal cell of [0,1]; type 'c' like HpBandSter,
 *                                 which models UniformInteger as continuous.
 *                                 On a log scale the lower widening is limited
 *                                 to low/2 so the range stays positive.
 *   Back to x: continuous -> clamp to [low, high]; lattice -> the nearest
 *   lattice point (k rounded half away from zero, clamped to [0, K]).  A
 *   lattice x given to add_result is first snapped to its nearest point.
 *   x = NaN marks an inactive (conditional) parameter: imputed as below.
 *   Mapping hptune's parameters (for the strategy): choice -> categorical over
 *   the list's indices; uniform -> numeric, log 0; loguniform -> log 1;
 *   randint -> is_int 1 (step as given); a step on uniform/loguniform -> step.
 *
 * add_result(budget, x, loss), HpBandSter's new_result():
 *   loss NaN or +-inf (failed) -> +inf (sorts after every finite loss).
 *   If some larger budget already has a model, the result is dropped
 *   (HpBandSter: "skip model building if we already have a bigger model");
 *   proposals only ever use the largest model, so nothing is lost.
 *   Else it is stored; with n results at this budget and m = min_points:
 *     n < m                                 -> no (re)fit
 *     n_good = max(m, floor(top_n_percent*n/100))
 *     n_bad  = max(m, floor((100-top_n_percent)*n/100))
 *     rows sorted by loss (stable: ties keep the order of arrival), good = the
 *     first n_good, bad = the next n_bad (fewer when n runs out);
 *     NaNs imputed in each set separately (impute_conditional_data): for a
 *     row's first NaN column j, a random row of the same set with a finite
 *     value in j donates all of the row's NaN columns; if no row has one,
 *     column j gets U[0,1) ('c') or a random index ('u'); repeat while NaNs
 *     remain.  The random draws come from a stream seeded by (budget, n), so
 *     the state follows from the sequence of add_result calls alone.
 *     good or bad set with <= n_dims rows -> no (re)fit (the previous model
 *     of this budget, if any, stays); else both KDEs are refitted.
 * KDE (statsmodels, normal_reference), on data X (n x d) of one set:
 *   bw_j = 1.06 * std_j * n^(-1/(4+d))   (population std, for 'u' columns too,
 *   as statsmodels does), then bw_j = max(bw_j, min_bandwidth) (HpBandSter).
 *   pdf(x) = (1/n) sum_i prod_j k_j(X_ij, x_j) / prod_{j in 'c'} bw_j
 *     'c': Gaussian  k = exp(-(X_ij - x_j)^2 / (2 bw_j^2)) / sqrt(2 pi)
 *     'u': Aitchison-Aitken k = 1 - bw_j if X_ij == x_j else bw_j/(c_j - 1),
 *          c_j = number of distinct values of column j in this set's data
 *          (statsmodels counts levels in the data, not n_choices: one level
 *          gives bw/0 = inf, and bw_j > 1 gives 1 - bw_j < 0; both kept).
 * propose(), HpBandSter's get_config():
 *   no model at any budget -> random (draws no coin); else with probability
 *   random_fraction (hp_rng_uniform < random_fraction) -> random.
 *   Random: each dim from ConfigSpace's prior: v ~ U[0,1) mapped back (log-
 *   uniform for log dims, near-uniform over lattice points), categorical
 *   uniform index.
 *   Model (largest budget with a model; l = good pdf, g = bad pdf):
 *   num_samples candidates, each around a uniformly chosen row m of the good
 *   KDE's data: 'c' dim: Normal(m_j, bandwidth_factor*bw_j) truncated to
 *   [0,1]; 'u' dim: keep m_j with probability 1 - bw_j, else a uniform index
 *   in [0, n_choices).  Score = max(1e-32, g(v)) / max(l(v), 1e-32) with
 *   Python's max (max(a, b) = b if b > a else a, so g NaN -> 1e-32 and
 *   l NaN -> NaN).  The first candidate with the smallest finite score wins
 *   (strict <); a candidate with a non-finite score but finite l(v) wins at
 *   once and ends the loop; if no candidate won -> random (used_model 0).
 *
 * Defaults (HpBandSter's): top_n_percent 15, num_samples 64, random_fraction
 * 1/3, bandwidth_factor 3, min_bandwidth 1e-3, min_points_in_model d + 1
 * (0 means d + 1; smaller values are raised to d + 1, as HpBandSter does).
 *
 * Deliberate differences from HpBandSter:
 *   - ties in loss are split in order of arrival (numpy's default argsort is
 *     not stable, so HpBandSter's order of equal losses is unspecified);
 *   - imputation loops while any NaN remains (HpBandSter tests
 *     np.any(nan_indices), which is False when the only NaN is column 0 and
 *     leaves that NaN in the KDE data, making every pdf NaN);
 *   - random numbers come from hp_rng (xoshiro256**), not numpy; the
 *     truncated normal is drawn exactly by rejection (normal proposals when
 *     sigma <= 0.5, else uniform proposals on [0,1]) instead of scipy's
 *     truncnorm inverse CDF -- same distribution, other stream;
 *   - lattice dims generalise ConfigSpace 0.4's integer encoding to steps
 *     (hptune's lattice low + k*step rather than ConfigSpace's multiples of q).
 */
#ifndef HPTUNE_BOHB_H
#define HPTUNE_BOHB_H

#include "rng.h"

typedef struct hp_bohb_dim { /* one dimension, external representation */
    int n_choices;           /* > 0 categorical (values are indices 0..n_choices-1); 0 numeric */
    double low, high;        /* numeric bounds, inclusive, low < high */
    int log;                 /* log scale (ConfigSpace log=True), needs low > 0 */
    double step;             /* 0 continuous, > 0 lattice low + k*step (proposals lie on it) */
    int is_int;              /* integer lattice (step 1 when step is 0); low and step integral */
} hp_bohb_dim;

typedef struct hp_bohb_settings { /* hp_bohb_settings_default(): HpBandSter's defaults */
    double top_n_percent;    /* 15, in (0, 100) */
    int num_samples;         /* 64, >= 1 */
    double random_fraction;  /* 1/3, in [0, 1] */
    double bandwidth_factor; /* 3, > 0 */
    double min_bandwidth;    /* 1e-3, > 0 */
    int min_points_in_model; /* 0 = d + 1; values below d + 1 are raised to d + 1 */
} hp_bohb_settings;

typedef struct hp_bohb hp_bohb; /* opaque: results per budget and the fitted models */

hp_bohb_settings hp_bohb_settings_default(void);

/* dims[n_dims] is copied; n_budgets rungs 0..n_budgets-1 (larger index = larger
 * budget).  NULL after HP_ERR on bad input.  The caller frees with hp_bohb_free. */
hp_bohb *hp_bohb_create(const hp_bohb_dim *dims, int n_dims, const hp_bohb_settings *s,
                        int n_budgets);
void hp_bohb_free(hp_bohb *b);

/* A result: configuration x[n_dims] (external representation; NaN = inactive)
 * reached `loss` (lower is better; NaN/inf = failed -> +inf) at budget index
 * `budget`; refits that budget's model when the rules above allow.
 * 0, or -1 after HP_ERR (bad budget, x out of bounds, bad category index),
 * leaving the state unchanged. */
int hp_bohb_add_result(hp_bohb *b, int budget, const double *x, double loss);

/* Propose a configuration into out[n_dims] (external representation, inside
 * the bounds, on the lattice, categories as indices).  *used_model: 0 random,
 * 1 from the model of budget *model_budget (-1 when random).  Deterministic
 * given the state and rng; draws only from rng.  Always 0. */
int hp_bohb_propose(const hp_bohb *b, hp_rng *rng, double *out, int *used_model,
                    int *model_budget);

/* --- representation --------------------------------------------------- */
int hp_bohb_num_dims(const hp_bohb *b);
/* x[n_dims] -> v[n_dims] (vector form above); -1 after HP_ERR if out of bounds. */
int hp_bohb_to_vector(const hp_bohb *b, const double *x, double *v);
/* v[n_dims] -> x[n_dims]; v outside [0,1] is clamped, categories rounded. */
void hp_bohb_from_vector(const hp_bohb *b, const double *v, double *x);

/* --- inspection (tests, the oracle tool, status output) ------------------ */
int hp_bohb_num_results(const hp_bohb *b, int budget);  /* results stored at budget */
int hp_bohb_has_model(const hp_bohb *b, int budget);    /* 0/1 */
int hp_bohb_largest_model_budget(const hp_bohb *b);     /* -1: no model yet */

typedef struct hp_bohb_kde_view { /* borrowed from the model; valid until the next add_result */
    int n_rows;          /* rows of training data */
    const int *rows;     /* [n_rows] index of each row among the budget's results (arrival order) */
    const double *data;  /* [n_rows x n_dims] imputed training data, vector form, row-major */
    const double *bw;    /* [n_dims] bandwidths after clipping at min_bandwidth */
} hp_bohb_kde_view;
enum { HP_BOHB_GOOD = 0, HP_BOHB_BAD = 1 };
/* The good or bad KDE of budget's model; -1 after HP_ERR if it has none. */
int hp_bohb_model_kde(const hp_bohb *b, int budget, int which, hp_bohb_kde_view *view);
/* l(v) and g(v) of budget's model at v[n_dims] (vector form), exactly as the
 * scorer evaluates them; -1 after HP_ERR if there is no model. */
int hp_bohb_model_pdf(const hp_bohb *b, int budget, const double *v, double *pdf_good,
                      double *pdf_bad);
/* The candidate score max(1e-32, g(v)) / max(l(v), 1e-32) (NaN if no model). */
double hp_bohb_model_score(const hp_bohb *b, int budget, const double *v);

#endif
