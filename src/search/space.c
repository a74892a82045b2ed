/* space.c - turn a trial id into a configuration (grid points and random samples).
 *
 * Grid (strategy grid): trial t is point (t % grid_size) of the space in
 * row-major order of the parameters in file order -- the last parameter varies
 * fastest -- so trials grid_size..2*grid_size-1 repeat the grid (repeats) with
 * other seeds.  choice and grid lists are the same thing here.
 *
 * Random, asha, tpe, bohb: parameters written as `grid: [...]` are enumerated, not
 * sampled (Ray Tune's grid_search under a scheduler): trial t takes point
 * (t % G) of the grid formed by the `grid` parameters alone (G = product of
 * their lengths, last one fastest); `choice` and the other distributions are
 * sampled.  Grid parameters draw nothing from the RNG stream below.
 *
 * Random (strategy random and asha; tpe's startup trials; bohb's random
 * proposals): one RNG stream per trial,
 *   hp_rng_seed_for(&rng, study seed, trial id, HP_STREAM_SAMPLE),
 * and the parameters draw from it one after another in file order:
 *   choice/grid  1 x hp_rng_below(n)          index into the list
 *   uniform      1 x hp_rng_uniform -> u      low + u*(high-low)
 *   loguniform   1 x hp_rng_uniform -> u      exp(log low + u*(log high - log low))
 *   randint      1 x hp_rng_below(m)          low + k, m = high-low+1 (inclusive);
 *                                             with step: low + k*step, m = kmax+1
 * (hp_rng_below may consume more than one 64-bit word when it rejects, which
 * does not affect determinism.)  A uniform/loguniform value with a step is
 * quantized to low + round((x-low)/step)*step with the multiple clamped to
 * [0, kmax], kmax = floor((high-low)/step), so it stays on the lattice and
 * <= high.  Every value is finally clamped to [low, high] against rounding.
 *
 * Conditional parameters (when:, job.h): a parameter is active when every
 * condition holds (its parent, listed earlier, is active and holds one of
 * the listed values).  An inactive parameter takes its default (the fixed:
 * value, else config.h's) and draws nothing from the stream; grid enumerates
 * the conditional tree in the same row-major order, skipping inactive
 * parameters (hp_job_grid_completions counts a subtree); the vector form has
 * NaN for an inactive parameter.  Activity is a function of the
 * configuration's values, so nothing besides the configuration is recorded.
 *
 * Repeats (random): trial t samples configuration t / repeats (its stream is
 * seeded with that index, and its grid: parameters take that point), so the
 * runs of one configuration are consecutive trials; each keeps the seed of
 * its own trial id.
 *
 * config->seed = 31 bits of splitmix64 over (study seed, trial id) -- see
 * trial_seed() -- unless fixed.seed is given or seed is searched (a space
 * parameter: the space's value).  Under asha and bohb config->epochs is max_epochs (the most a trial
 * can train, which keeps epoch-based learning-rate schedules the same at
 * every rung); under grid/random it is fixed.epochs or the space's `epochs`.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "job.h"
#include "space.h"
#include "rng.h"

static int trial_seed(uint64_t study_seed, int trial_id)
{
    uint64_t state = study_seed;
    uint64_t mixed = hp_splitmix64(&state);
    state = mixed ^ (uint64_t)(uint32_t)trial_id;
    return (int)(hp_splitmix64(&state) >> 33); /* 31 bits: [0, 2^31 - 1] */
}

static double clamp(double x, double low, double high) { return x < low ? low : x > high ? high : x; }

/* Largest k with low + k*step <= high (a little slack for decimal steps like 0.1). */
static double lattice_top(const hp_param *p) { return floor((p->high - p->low) / p->step + 1e-9); }

static double quantize(const hp_param *p, double x)
{
    if (p->step <= 0)
        return x;
    double k = clamp(round((x - p->low) / p->step), 0, lattice_top(p));
    return p->low + k * p->step;
}

static double sample_param(const hp_param *p, hp_rng *rng)
{
    double x;
    switch (p->dist) {
    case HP_DIST_CHOICE:
    case HP_DIST_GRID:
        return p->values[hp_rng_below(rng, (uint64_t)p->n_values)];
    case HP_DIST_UNIFORM:
        x = quantize(p, p->low + hp_rng_uniform(rng) * (p->high - p->low));
        return clamp(x, p->low, p->high);
    case HP_DIST_LOGUNIFORM: {
        double log_low = log(p->low), log_high = log(p->high);
        x = quantize(p, exp(log_low + hp_rng_uniform(rng) * (log_high - log_low)));
        return clamp(x, p->low, p->high);
    }
    case HP_DIST_RANDINT:
        if (p->step > 0) {
            uint64_t k = hp_rng_below(rng, (uint64_t)lattice_top(p) + 1);
            return clamp(p->low + (double)k * p->step, p->low, p->high);
        }
        return p->low + (double)hp_rng_below(rng, (uint64_t)(p->high - p->low) + 1);
    }
    HP_PANIC("unknown distribution %d", (int)p->dist);
}

static void set_or_panic(hp_config *config, const hp_key *k, double value)
{
    /* The parser checked both bounds and every listed value, so this cannot fail. */
    if (hp_config_set(config, k, value) != 0)
        HP_PANIC("space value rejected after validation: %s", hp_error_message());
}

/* The value of an inactive parameter: the fixed: value, else the default. */
static void set_inactive(const hp_job *job, int i, hp_config *config)
{
    const hp_key *k = job->params[i].key;
    set_or_panic(config, k, hp_config_get(&job->fixed, k));
}

void hp_space_grid_point(const hp_job *job, long index, hp_config *config)
{
    long size = hp_space_grid_size(job);
    if (size <= 0)
        HP_PANIC("a grid point of a space with a continuous parameter (the parser rejects this)");
    index %= size;
    if (!hp_job_has_conditions(job)) {
        for (int i = job->n_params - 1; i >= 0; i--) { /* last parameter varies fastest */
            const hp_param *p = &job->params[i];
            set_or_panic(config, p->key, p->values[index % p->n_values]);
            index /= p->n_values;
        }
        return;
    }
    /* The conditional tree in the same row-major order: walk the parameters
     * in file order, skip the inactive ones (they keep their default), and at
     * each active one take the value whose subtree holds the index. */
    for (int i = 0; i < job->n_params; i++)
        set_inactive(job, i, config); /* start from the defaults: c may hold another point */
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        if (!hp_job_param_active(job, i, config)) {
            set_inactive(job, i, config);
            continue;
        }
        int k = 0;
        for (; k < p->n_values; k++) {
            set_or_panic(config, p->key, p->values[k]);
            long n = hp_job_grid_completions(job, i + 1, config);
            if (index < n)
                break;
            index -= n;
        }
        if (k == p->n_values)
            HP_PANIC("grid point beyond the conditional tree of space.%s", p->key->name);
    }
}

void hp_space_deactivate(const hp_job *job, hp_config *config)
{
    for (int i = 0; i < job->n_params; i++) /* in order: a parent is settled before its children */
        if (!hp_job_param_active(job, i, config))
            set_inactive(job, i, config);
}

int hp_job_trial_configuration(const hp_job *job, int trial_id)
{
    return job->strategy == HP_STRATEGY_RANDOM && job->repeats > 1 ? trial_id / job->repeats : trial_id;
}

void hp_job_trial_config(const hp_job *job, int trial_id, hp_config *config)
{
    *config = job->fixed;
    int searched_seed = 0;
    for (int i = 0; i < job->n_params; i++)
        searched_seed |= strcmp(job->params[i].key->name, "seed") == 0;
    if (job->strategy == HP_STRATEGY_GRID) { /* the only strategy that enumerates the whole space */
        hp_space_grid_point(job, trial_id, config);
    } else {
        /* random with repeats: trials c*R .. c*R+R-1 share configuration c's sample */
        int sample_id = hp_job_trial_configuration(job, trial_id);
        long index = sample_id;
        for (int i = job->n_params - 1; i >= 0; i--) { /* grid parameters: enumerated */
            const hp_param *p = &job->params[i];
            if (p->dist != HP_DIST_GRID)
                continue;
            set_or_panic(config, p->key, p->values[index % p->n_values]);
            index /= p->n_values;
        }
        hp_rng rng;
        hp_rng_seed_for(&rng, job->seed, (uint64_t)sample_id, HP_STREAM_SAMPLE);
        for (int i = 0; i < job->n_params; i++) {
            if (job->params[i].dist == HP_DIST_GRID)
                continue;
            if (hp_job_param_active(job, i, config)) /* an inactive one draws nothing */
                set_or_panic(config, job->params[i].key, sample_param(&job->params[i], &rng));
            else
                set_inactive(job, i, config);
        }
    }
    if (hp_job_uses_rungs(job))
        config->epochs = job->max_epochs;
    if (!searched_seed) /* a searched seed is the space's value */
        config->seed = job->fixed_seed ? job->fixed.seed : trial_seed(job->seed, trial_id);
}

/* ------------------------------------------- the space as a vector --- */

/* A list value as the configuration stores it (floats are kept as float). */
static double stored_value(const hp_param *p, double v)
{
    hp_config c;
    hp_config_defaults(&c);
    set_or_panic(&c, p->key, v);
    return hp_config_get(&c, p->key);
}

void hp_space_dims(const hp_job *job, hp_space_dim *dims)
{
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        hp_space_dim d = {0};
        if (p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID) {
            d.n_choices = p->n_values;
        } else {
            d.low = p->low;
            d.high = p->high;
            d.step = p->step;
            d.log = p->dist == HP_DIST_LOGUNIFORM;
            d.is_int = p->dist == HP_DIST_RANDINT;
            if (d.is_int && d.step == 0)
                d.step = 1;
            if (d.step > 0) /* the last lattice point, as sampling reaches it */
                d.high = p->low + floor((p->high - p->low) / d.step + 1e-9) * d.step;
        }
        dims[i] = d;
    }
}

void hp_space_to_vector(const hp_job *job, const hp_config *c, double *x)
{
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        double v = hp_config_get(c, p->key);
        if (!hp_job_param_active(job, i, c)) {
            x[i] = NAN; /* an inactive conditional parameter */
            continue;
        }
        if (p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID) {
            x[i] = NAN; /* not one of the list's values: inactive */
            for (int k = 0; k < p->n_values; k++)
                if (stored_value(p, p->values[k]) == v) {
                    x[i] = k;
                    break;
                }
            continue;
        }
        /* the stored float may sit a rounding error off the range or lattice */
        double top = p->step > 0 ? p->low + lattice_top(p) * p->step : p->high;
        if (p->step > 0)
            v = quantize(p, v);
        x[i] = clamp(v, p->low, top);
    }
}

int hp_space_vector_active(const hp_job *job, int index, const double *x)
{
    const hp_param *param = &job->params[index];
    for (int i = 0; i < param->n_conditions; i++) {
        const hp_condition *cond = &param->conditions[i];
        const hp_param *parent = &job->params[cond->parent];
        double k = x[cond->parent];
        if (isnan(k) || k < 0 || k >= parent->n_values || !hp_space_vector_active(job, cond->parent, x))
            return 0;
        double v = stored_value(parent, parent->values[(int)k]);
        int holds = 0;
        for (int j = 0; j < cond->n_values && !holds; j++)
            holds = cond->values[j] == v;
        if (!holds)
            return 0;
    }
    return 1;
}

void hp_space_from_vector(const hp_job *job, const double *x, hp_config *c)
{
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        if (isnan(x[i]))
            continue; /* inactive: keep the value c has */
        if (p->dist == HP_DIST_CHOICE || p->dist == HP_DIST_GRID) {
            int k = (int)x[i];
            if (k < 0 || k >= p->n_values)
                HP_PANIC("space.%s: choice index %g out of range", p->key->name, x[i]);
            set_or_panic(c, p->key, p->values[k]);
            continue;
        }
        set_or_panic(c, p->key, clamp(quantize(p, x[i]), p->low, p->high));
    }
    hp_space_deactivate(job, c);
}
