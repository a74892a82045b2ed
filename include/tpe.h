/* tpe.h - Tree-structured Parzen Estimator: propose the next configuration
 * from the search space and the trials so far, as Optuna 3.1.0's TPESampler
 * (optuna/samplers/_tpe/sampler.py; the estimator is in parzen.h).
 *
 * hp_tpe_propose(), step by step:
 * 1. n = the number of finished trials (COMPLETE + PRUNED + FAILED; RUNNING
 *    trials never count).  n < n_startup_trials: every dimension is sampled
 *    at random (*used_model = 0), as Optuna's RandomSampler, one dimension
 *    after another in order:
 *      categorical          index = hp_rng_below(n_choices)
 *      float                low + u (high - low),            u = hp_rng_uniform
 *      float, log           exp(log low + u (log high - log low))
 *      step / int (linear)  low + k step, k = hp_rng_below(K + 1), high' = low + K step
 *      int, log             rint(exp(v)), v uniform in [log(low-0.5), log(high+0.5)]
 *    (Optuna draws step/int values as rounded uniforms on [low - s/2, high' + s/2]:
 *    the same distribution.)  Dimensions with one value (Optuna's single())
 *    take it (low, or index 0) and draw nothing, in both phases.
 * 2. The observations: every COMPLETE, PRUNED and FAILED trial, and with
 *    constant_liar the RUNNING ones, in trial order.  Each gets a sort key
 *    (Optuna's _get_observation_pairs), with sign = -1 when maximizing else 1:
 *      COMPLETE          (-inf, sign * value)
 *      PRUNED            (-step, sign * value)   (the last intermediate value)
 *      RUNNING, FAILED   (+inf, sign * inf)
 *    A NaN value is replaced by +inf (worst), as Optuna does for pruned trials
 *    (Optuna cannot hold a COMPLETE trial with NaN; hptune reports those as FAILED).
 * 3. Split (_split_observation_pairs): stable sort by key (ties keep trial
 *    order); the first n_below go "below", the rest "above", each group kept in
 *    trial order.  n_below = min(gamma(n), n_ok) where gamma(n) =
 *    min(ceil(0.1 n), 25) (default_gamma, 0.1 n in floating point as numpy)
 *    and n_ok = COMPLETE + PRUNED, so failed trials are always "above".
 * 4. Groups of dimensions, each with a "below" and an "above" estimator:
 *    univariate: one group per dimension with more than one value, in order
 *      (Optuna's sample_independent), univariate bandwidths.
 *    multivariate: first one joint group with the dims that have more than one
 *      value and are active in every COMPLETE and PRUNED trial (Optuna's
 *      IntersectionSearchSpace(include_pruned=True)) and multivariate
 *      bandwidths (sigma0 = 0.2 n^(-1/(d+4))); then each remaining dim alone,
 *      in order, also with the multivariate bandwidth rule (d = 1), as Optuna's
 *      sample_independent does in multivariate mode.
 *    A trial enters a group's estimators only if all of the group's dims are
 *    active (not NaN) in it (Optuna's param_mask; for the joint group Optuna
 *    looks at its first dim only, which is the same whenever Optuna works).  Estimator weights are
 *    default_weights over the group's members in trial order.
 * 5. Per group: n_ei_candidates samples from "below" (hp_parzen_sample, which
 *    documents the uniforms drawn), score = log l(x) - log g(x) with l, g the
 *    below/above log pdfs; the first candidate with the largest score wins
 *    (numpy.argmax; a NaN score counts as the largest, as numpy's).  When two
 *    different candidates have mathematically equal scores (small categorical
 *    counts make this common) rounding decides, here as in Optuna, whose pick
 *    there depends on numpy's summation order.
 * Random draws in the model phase are only hp_rng_uniform, consumed group by
 * group in the order above; fed the same uniforms, Optuna proposes the same
 * values (tests/integration/test_tpe_optuna.sh checks this).
 *
 * Differences from Optuna 3.1 (on purpose):
 *  - FAILED trials are observations (Optuna ignores them): worst key, always
 *    above, counted in n.
 *  - random numbers come from hp_rng, so samples differ from Optuna's.
 *  - ties between equal mus in univariate bandwidths are ordered stably (see
 *    parzen.h; Optuna's order there depends on the CPU).
 *  - values are clamped to [low, high] after the last rounding step.
 *  - (rounding only) log Phi(x) for 0 < x <= 6 by log1p, and quantiles solved
 *    by Newton's method instead of bisection on [-100, 100] (parzen.h).
 *  Reproduced from 3.1 although Optuna later changed them: the continuous
 *  log pdf lacks -log(sigma) (parzen.h), int-log dims use a continuous density
 *  at log(x).
 *
 * Memory: hp_tpe_propose allocates only temporaries.  hp_tpe_model_fit
 * allocates the model; hp_tpe_model_release frees it.  No global state.
 */
#ifndef HPTUNE_TPE_H
#define HPTUNE_TPE_H

#include "parzen.h"
#include "rng.h"

typedef enum { HP_TPE_COMPLETE = 0, HP_TPE_PRUNED, HP_TPE_RUNNING, HP_TPE_FAILED } hp_tpe_state;

typedef struct hp_tpe_trial {
    const double *x;   /* (n_dims) values, external representation; NaN = parameter not active in this trial */
    hp_tpe_state state;
    double value;      /* COMPLETE: the objective; PRUNED: its last intermediate value */
    int step;          /* PRUNED: the step (epoch) of that value */
} hp_tpe_trial;

typedef struct hp_tpe_settings {   /* defaults = Optuna 3.1's; hp_tpe_settings_default() fills them */
    int n_startup_trials;   /* 10 */
    int n_ei_candidates;    /* 24 */
    int consider_prior;     /* 1 */   double prior_weight;  /* 1.0 */
    int consider_magic_clip;/* 1 */   int consider_endpoints; /* 0 */
    int multivariate;       /* 0 */   int constant_liar;    /* 0 */
    int maximize;           /* direction of the objective (0: minimize) */
} hp_tpe_settings;

void hp_tpe_settings_default(hp_tpe_settings *s);

/* Propose the next trial's values into out (n_dims, external representation, on the dim's lattice
 * and inside its bounds).  *used_model = 0 when it sampled at random (startup phase).  0, or -1 with
 * a message for an invalid space, settings or trial. Deterministic given rng's state. Allocates only
 * temporaries.  trials may be NULL when n_trials is 0. */
int hp_tpe_propose(const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                   const hp_tpe_trial *trials, int n_trials, hp_rng *rng, double *out, int *used_model);

/* Conditional spaces (define-by-run, as Optuna's objective suggests a parameter only
 * when it applies): active(ctx, d, out) says whether dimension d is active given the
 * values out[0..d-1] proposed so far (a dimension depends only on earlier ones).
 * In file order, an inactive dimension gets NaN and draws nothing: in the startup
 * phase it is skipped; in the model phase its univariate group is skipped (Optuna
 * never calls sample_independent for it).  Multivariate's joint group is drawn
 * whole (Optuna's sample_relative happens before the objective runs) and its
 * inactive members are set to NaN afterwards.  active NULL: hp_tpe_propose. */
typedef int (*hp_tpe_active_fn)(const void *ctx, int dim, const double *out);
int hp_tpe_propose_conditional(const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                               const hp_tpe_trial *trials, int n_trials, hp_rng *rng, double *out,
                               int *used_model, hp_tpe_active_fn active, const void *ctx);

/* ---- the model behind a proposal, exposed for tests and tools ---- */

typedef struct hp_tpe_group {
    int n_dims;
    int *dims;             /* (n_dims) indices into the search space, increasing */
    int n_below, *below;   /* (n_below) trials in the below estimator, in trial order */
    int n_above, *above;   /* (n_above) trials in the above estimator, in trial order */
    hp_parzen below_pe, above_pe; /* over the group's dims, in the order of dims[] */
} hp_tpe_group;

typedef struct hp_tpe_model {
    int n_finished;        /* n of step 1 */
    int use_model;         /* n >= n_startup_trials */
    int n_below_target;    /* min(gamma(n), n_ok) */
    int n_below, *below;   /* (n_below) the split of step 3, trial indices in trial order */
    int n_above, *above;   /* (n_above) */
    int joint_group;       /* groups[0] is multivariate's joint group */
    int n_groups;
    hp_tpe_group *groups;  /* (n_groups) in sampling order; none when !use_model */
} hp_tpe_model;

/* Steps 1-4 of hp_tpe_propose (the split is filled in also in the startup phase).
 * 0, or -1 with a message (nothing to release then). */
int hp_tpe_model_fit(hp_tpe_model *m, const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                     const hp_tpe_trial *trials, int n_trials);
void hp_tpe_model_release(hp_tpe_model *m);

/* Step 5 for one group: n_candidates samples from its below estimator into cand (n_candidates,
 * grp->n_dims), their scores log l - log g into score (n_candidates); returns the winner's index. */
int hp_tpe_group_candidates(const hp_tpe_group *grp, int n_candidates, hp_rng *rng, double *cand,
                            double *score);

/* Optuna's default_gamma(n) = min(ceil(0.1 n), 25). */
int hp_tpe_default_gamma(int n);

#endif
