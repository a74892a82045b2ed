/* tpe.c - Optuna 3.1's TPE sampler over hptune trials (see include/tpe.h for
 * the algorithm, the references and the differences from Optuna). */
#include "tpe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void hp_tpe_settings_default(hp_tpe_settings *s)
{
    memset(s, 0, sizeof *s);
    s->n_startup_trials = 10;
    s->n_ei_candidates = 24;
    s->consider_prior = 1;
    s->prior_weight = 1.0;
    s->consider_magic_clip = 1;
    s->consider_endpoints = 0;
    s->multivariate = 0;
    s->constant_liar = 0;
    s->maximize = 0;
}

int hp_tpe_default_gamma(int n)
{
    double g = ceil(0.1 * (double)n); /* as numpy.ceil(0.1 * x) */
    return g < 25 ? (int)g : 25;
}

/* ------------------------------------------------------------ checks ----- */

static int check_settings(const hp_tpe_settings *s)
{
    if (s->n_startup_trials < 0)
        return HP_ERR("TPE n_startup_trials is %d; use 0 or more", s->n_startup_trials);
    if (s->n_ei_candidates < 1)
        return HP_ERR("TPE n_ei_candidates is %d; use 1 or more", s->n_ei_candidates);
    if (!(s->prior_weight > 0) || !isfinite(s->prior_weight))
        return HP_ERR("TPE prior_weight is %g; use a positive number", s->prior_weight);
    return 0;
}

static int check_trial(const hp_tpe_dim *dims, int n_dims, const hp_tpe_trial *t, int index)
{
    if ((int)t->state < HP_TPE_COMPLETE || (int)t->state > HP_TPE_FAILED)
        return HP_ERR("TPE trial %d: unknown state %d", index, (int)t->state);
    if (!t->x)
        return HP_ERR("TPE trial %d: no values", index);
    for (int d = 0; d < n_dims; d++) {
        double x = t->x[d];
        const hp_tpe_dim *dim = &dims[d];
        if (isnan(x))
            continue; /* inactive */
        if (dim->n_choices > 0) {
            if (x != floor(x) || x < 0 || x >= dim->n_choices)
                return HP_ERR("TPE trial %d: value %g of categorical dimension %d is not an index "
                              "in [0, %d)", index, x, d, dim->n_choices);
            continue;
        }
        double high = hp_tpe_dim_high(dim);
        double slack = 1e-9 * (high - dim->low); /* text round trips of the bounds */
        if (!(x >= dim->low - slack && x <= high + slack))
            return HP_ERR("TPE trial %d: value %.17g of dimension %d is outside [%.17g, %.17g]; "
                          "was the search space changed?", index, x, d, dim->low, high);
    }
    return 0;
}

/* ----------------------------------------------------------- the split --- */

typedef struct observation {
    double step_key, value_key;
    int trial;
} observation;

static int observation_cmp(const void *pa, const void *pb)
{
    const observation *a = pa, *b = pb;
    if (a->step_key != b->step_key)
        return a->step_key < b->step_key ? -1 : 1;
    if (a->value_key != b->value_key)
        return a->value_key < b->value_key ? -1 : 1;
    return (a->trial > b->trial) - (a->trial < b->trial); /* stable */
}

static int int_cmp(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

/* Split of steps 1-3 into m (below/above, counts). */
static void split_trials(hp_tpe_model *m, const hp_tpe_settings *s, const hp_tpe_trial *trials,
                         int n_trials)
{
    double sign = s->maximize ? -1.0 : 1.0;
    observation *obs = hp_xcalloc((size_t)(n_trials > 0 ? n_trials : 1), sizeof *obs);
    int n_obs = 0, n_ok = 0;
    m->n_finished = 0;
    for (int i = 0; i < n_trials; i++) {
        const hp_tpe_trial *t = &trials[i];
        observation o = {0, 0, i};
        if (t->state == HP_TPE_COMPLETE || t->state == HP_TPE_PRUNED) {
            o.step_key = t->state == HP_TPE_COMPLETE ? -INFINITY : -(double)t->step;
            o.value_key = isnan(t->value) ? INFINITY : sign * t->value;
            m->n_finished++;
            n_ok++;
        } else { /* FAILED, or RUNNING under constant liar: the worst key */
            if (t->state == HP_TPE_FAILED)
                m->n_finished++;
            else if (!s->constant_liar)
                continue;
            o.step_key = INFINITY;
            o.value_key = sign * INFINITY;
        }
        obs[n_obs++] = o;
    }
    m->use_model = m->n_finished >= s->n_startup_trials;
    int target = hp_tpe_default_gamma(m->n_finished);
    m->n_below_target = target < n_ok ? target : n_ok;
    qsort(obs, (size_t)n_obs, sizeof *obs, observation_cmp);
    m->n_below = m->n_below_target;
    m->n_above = n_obs - m->n_below;
    m->below = hp_xcalloc((size_t)(m->n_below > 0 ? m->n_below : 1), sizeof(int));
    m->above = hp_xcalloc((size_t)(m->n_above > 0 ? m->n_above : 1), sizeof(int));
    for (int i = 0; i < n_obs; i++) {
        if (i < m->n_below)
            m->below[i] = obs[i].trial;
        else
            m->above[i - m->n_below] = obs[i].trial;
    }
    qsort(m->below, (size_t)m->n_below, sizeof(int), int_cmp);
    qsort(m->above, (size_t)m->n_above, sizeof(int), int_cmp);
    free(obs);
}

/* ---------------------------------------------------------- the model ---- */

/* The trials among idx (n) with every dim of the group active -> members (returns the count). */
static int group_members(const hp_tpe_trial *trials, const int *idx, int n, const int *gdims,
                         int g, int *members)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        const double *x = trials[idx[i]].x;
        int active = 1;
        for (int k = 0; k < g && active; k++)
            active = !isnan(x[gdims[k]]);
        if (active)
            members[count++] = idx[i];
    }
    return count;
}

static int fit_estimator(hp_parzen *pe, const hp_tpe_dim *dims, const hp_tpe_trial *trials,
                         const int *members, int n, const int *gdims, int g,
                         const hp_parzen_params *params)
{
    hp_tpe_dim *gd = hp_xcalloc((size_t)g, sizeof *gd);
    double *obs = hp_xcalloc((size_t)(n > 0 ? n : 1) * g, sizeof *obs);
    for (int k = 0; k < g; k++)
        gd[k] = dims[gdims[k]];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g; k++)
            obs[(long)i * g + k] = trials[members[i]].x[gdims[k]];
    int rc = hp_parzen_fit(pe, gd, g, obs, n, params, NULL);
    free(gd);
    free(obs);
    return rc;
}

static int fit_group(hp_tpe_group *grp, const hp_tpe_model *m, const hp_tpe_settings *s,
                     const hp_tpe_dim *dims, const hp_tpe_trial *trials, const int *gdims, int g)
{
    hp_parzen_params params = {s->consider_prior, s->prior_weight, s->consider_magic_clip,
                               s->consider_endpoints, s->multivariate};
    grp->n_dims = g;
    grp->dims = hp_xcalloc((size_t)g, sizeof(int));
    memcpy(grp->dims, gdims, (size_t)g * sizeof(int));
    grp->below = hp_xcalloc((size_t)(m->n_below > 0 ? m->n_below : 1), sizeof(int));
    grp->above = hp_xcalloc((size_t)(m->n_above > 0 ? m->n_above : 1), sizeof(int));
    grp->n_below = group_members(trials, m->below, m->n_below, gdims, g, grp->below);
    grp->n_above = group_members(trials, m->above, m->n_above, gdims, g, grp->above);
    if (fit_estimator(&grp->below_pe, dims, trials, grp->below, grp->n_below, gdims, g, &params) != 0)
        return -1;
    if (fit_estimator(&grp->above_pe, dims, trials, grp->above, grp->n_above, gdims, g, &params) != 0)
        return -1;
    return 0;
}

void hp_tpe_model_release(hp_tpe_model *m)
{
    for (int i = 0; i < m->n_groups; i++) {
        hp_tpe_group *grp = &m->groups[i];
        free(grp->dims);
        free(grp->below);
        free(grp->above);
        hp_parzen_release(&grp->below_pe);
        hp_parzen_release(&grp->above_pe);
    }
    free(m->groups);
    free(m->below);
    free(m->above);
    memset(m, 0, sizeof *m);
}

static int check_inputs(const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                        const hp_tpe_trial *trials, int n_trials)
{
    if (n_dims < 1 || !dims)
        return HP_ERR("TPE: the search space has %d dimensions; it needs at least one", n_dims);
    if (n_trials < 0 || (n_trials > 0 && !trials))
        return HP_ERR("TPE: %d trials given", n_trials);
    if (check_settings(s) != 0)
        return -1;
    for (int d = 0; d < n_dims; d++)
        if (hp_tpe_dim_check(&dims[d], d) != 0)
            return -1;
    for (int i = 0; i < n_trials; i++)
        if (check_trial(dims, n_dims, &trials[i], i) != 0)
            return -1;
    return 0;
}

int hp_tpe_model_fit(hp_tpe_model *m, const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                     const hp_tpe_trial *trials, int n_trials)
{
    memset(m, 0, sizeof *m);
    if (check_inputs(s, dims, n_dims, trials, n_trials) != 0)
        return -1;
    split_trials(m, s, trials, n_trials);
    if (!m->use_model)
        return 0;

    /* joint dims (multivariate): more than one value, active in every COMPLETE/PRUNED trial */
    int *joint = hp_xcalloc((size_t)n_dims, sizeof(int));
    int n_joint = 0, any_ok = 0;
    if (s->multivariate) {
        for (int i = 0; i < n_trials; i++)
            any_ok |= trials[i].state == HP_TPE_COMPLETE || trials[i].state == HP_TPE_PRUNED;
        for (int d = 0; d < n_dims && any_ok; d++) {
            if (hp_tpe_dim_single(&dims[d]))
                continue;
            int everywhere = 1;
            for (int i = 0; i < n_trials && everywhere; i++)
                if (trials[i].state == HP_TPE_COMPLETE || trials[i].state == HP_TPE_PRUNED)
                    everywhere = !isnan(trials[i].x[d]);
            if (everywhere)
                joint[n_joint++] = d;
        }
    }
    m->groups = hp_xcalloc((size_t)n_dims + 1, sizeof *m->groups);
    int rc = 0;
    if (n_joint > 0)
        rc = fit_group(&m->groups[m->n_groups++], m, s, dims, trials, joint, n_joint);
    m->joint_group = n_joint > 0;
    for (int d = 0; d < n_dims && rc == 0; d++) {
        if (hp_tpe_dim_single(&dims[d]))
            continue;
        int in_joint = 0;
        for (int k = 0; k < n_joint; k++)
            in_joint |= joint[k] == d;
        if (!in_joint)
            rc = fit_group(&m->groups[m->n_groups++], m, s, dims, trials, &d, 1);
    }
    free(joint);
    if (rc != 0) {
        hp_tpe_model_release(m);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- proposals ---- */

static double single_value(const hp_tpe_dim *d) { return d->n_choices > 0 ? 0.0 : d->low; }

static double clamp(double x, double low, double high) { return x < low ? low : x > high ? high : x; }

/* Step 1: Optuna's RandomSampler for one dimension. */
static double random_value(const hp_tpe_dim *d, hp_rng *rng)
{
    if (hp_tpe_dim_single(d))
        return single_value(d);
    if (d->n_choices > 0)
        return (double)hp_rng_below(rng, (uint64_t)d->n_choices);
    double high = hp_tpe_dim_high(d), step = hp_tpe_dim_step(d);
    if (d->log) {
        double lo = d->is_int ? log(d->low - 0.5) : log(d->low);
        double hi = d->is_int ? log(d->high + 0.5) : log(d->high);
        double x = exp(lo + hp_rng_uniform(rng) * (hi - lo));
        return clamp(d->is_int ? rint(x) : x, d->low, d->high);
    }
    if (step > 0) {
        uint64_t top = (uint64_t)llround((high - d->low) / step);
        return clamp(d->low + (double)hp_rng_below(rng, top + 1) * step, d->low, high);
    }
    return clamp(d->low + hp_rng_uniform(rng) * (d->high - d->low), d->low, d->high);
}

int hp_tpe_group_candidates(const hp_tpe_group *grp, int n_candidates, hp_rng *rng, double *cand,
                            double *score)
{
    double *log_g = hp_xcalloc((size_t)n_candidates, sizeof *log_g);
    hp_parzen_sample(&grp->below_pe, rng, n_candidates, cand);
    hp_parzen_log_pdf(&grp->below_pe, cand, n_candidates, score);
    hp_parzen_log_pdf(&grp->above_pe, cand, n_candidates, log_g);
    int best = 0;
    for (int i = 0; i < n_candidates; i++) {
        score[i] -= log_g[i];
        /* numpy.argmax: the first maximum, and the first NaN beats everything */
        if (!isnan(score[best]) && (isnan(score[i]) || score[i] > score[best]))
            best = i;
    }
    free(log_g);
    return best;
}

int hp_tpe_propose(const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                   const hp_tpe_trial *trials, int n_trials, hp_rng *rng, double *out, int *used_model)
{
    return hp_tpe_propose_conditional(s, dims, n_dims, trials, n_trials, rng, out, used_model, NULL, NULL);
}

int hp_tpe_propose_conditional(const hp_tpe_settings *s, const hp_tpe_dim *dims, int n_dims,
                               const hp_tpe_trial *trials, int n_trials, hp_rng *rng, double *out,
                               int *used_model, hp_tpe_active_fn active, const void *ctx)
{
    hp_tpe_model m;
    if (hp_tpe_model_fit(&m, s, dims, n_dims, trials, n_trials) != 0)
        return -1;
    *used_model = m.use_model;
    if (!m.use_model) {
        for (int d = 0; d < n_dims; d++)
            out[d] = !active || active(ctx, d, out) ? random_value(&dims[d], rng) : NAN;
    } else {
        for (int d = 0; d < n_dims; d++)
            if (hp_tpe_dim_single(&dims[d]))
                out[d] = single_value(&dims[d]);
        int n_ei = s->n_ei_candidates, max_dims = 0;
        for (int i = 0; i < m.n_groups; i++)
            max_dims = m.groups[i].n_dims > max_dims ? m.groups[i].n_dims : max_dims;
        double *cand = hp_xcalloc((size_t)n_ei * (max_dims > 0 ? max_dims : 1), sizeof *cand);
        double *score = hp_xcalloc((size_t)n_ei, sizeof *score);
        for (int i = 0; i < m.n_groups; i++) {
            const hp_tpe_group *grp = &m.groups[i];
            /* an independent dimension that is inactive under the values so far is
             * never suggested (Optuna's define-by-run): no draws, no value */
            int joint = i == 0 && m.joint_group;
            if (active && !joint && grp->n_dims == 1 && !active(ctx, grp->dims[0], out)) {
                out[grp->dims[0]] = NAN;
                continue;
            }
            int best = hp_tpe_group_candidates(grp, n_ei, rng, cand, score);
            for (int k = 0; k < grp->n_dims; k++)
                out[grp->dims[k]] = cand[(long)best * grp->n_dims + k];
        }
        free(cand);
        free(score);
        for (int d = 0; active && d < n_dims; d++) /* in order: parents first */
            if (!active(ctx, d, out))
                out[d] = NAN;
    }
    hp_tpe_model_release(&m);
    return 0;
}
