/* sample_bohb.c - strategy bohb: a new trial's configuration from HpBandSter's
 * config generator (bohb.h), fed every rung result in the order they arrive
 * (see samplers.h).
 *
 * Budgets are rung levels: level = bracket + rung, so every level trains the
 * same epochs in every bracket (min_epochs * eta^level).  Losses are the
 * study metric, negated when it is maximised; a failed trial is a failed
 * result (loss +inf) at the level it was training towards.  Without a model
 * (or on a random_fraction draw) the trial takes its random sample (space.c),
 * exactly as asha would.
 *
 * Conditional parameters (when:) follow HpBandSter: an inactive parameter is
 * NaN in the model's data and imputed there (bohb.h: impute_conditional_data),
 * and a proposal from the model sets the parameters that are inactive under
 * its values back to their defaults (ConfigSpace's
 * deactivate_inactive_hyperparameters; hp_space_from_vector does it).
 */
#include <math.h>
#include <stdlib.h>

#include "bohb.h"
#include "error.h"
#include "rng.h"
#include "samplers.h"
#include "space.h"

void *hp_bohb_model_new(const hp_job *job, int n_levels)
{
    if (!job || job->n_params == 0)
        return NULL;
    int d = job->n_params;
    hp_space_dim *space = hp_xcalloc((size_t)d, sizeof *space);
    hp_bohb_dim *dims = hp_xcalloc((size_t)d, sizeof *dims);
    hp_space_dims(job, space);
    for (int i = 0; i < d; i++)
        dims[i] = (hp_bohb_dim){.n_choices = space[i].n_choices, .low = space[i].low, .high = space[i].high,
                                .log = space[i].log, .step = space[i].step, .is_int = space[i].is_int};
    hp_bohb_settings settings = hp_bohb_settings_default();
    settings.top_n_percent = job->bohb.top_n_percent;
    settings.num_samples = job->bohb.num_samples;
    settings.random_fraction = job->bohb.random_fraction;
    settings.bandwidth_factor = job->bohb.bandwidth_factor;
    settings.min_bandwidth = job->bohb.min_bandwidth;
    settings.min_points_in_model = job->bohb.min_points_in_model;
    hp_bohb *model = hp_bohb_create(dims, d, &settings, n_levels);
    if (!model)
        HP_PANIC("bohb refused the study's own space: %s", hp_error_message());
    free(dims);
    free(space);
    return model;
}

void hp_bohb_model_free(void *model) { hp_bohb_free(model); }

void hp_bohb_model_result(void *model, const hp_job *job, const hp_config *config, int level, double value)
{
    if (!model || !job)
        return;
    double *x = hp_xcalloc((size_t)job->n_params, sizeof *x);
    hp_space_to_vector(job, config, x);
    double loss = isnan(value) ? INFINITY : job->maximize ? -value : value;
    /* a value outside today's space (an edited job) is no evidence for it: skip it */
    if (hp_bohb_add_result(model, level, x, loss) != 0)
        hp_error_clear();
    free(x);
}

void hp_sample_bohb(const hp_job *job, const void *model, int trial, hp_config *out)
{
    hp_job_trial_config(job, trial, out); /* fixed values, seed, max_epochs and the random sample */
    if (!model)
        return;
    hp_rng rng;
    hp_rng_seed_for(&rng, job->seed, (uint64_t)trial, HP_STREAM_STRATEGY);
    double *x = hp_xcalloc((size_t)job->n_params, sizeof *x);
    int used_model = 0, budget = -1;
    hp_bohb_propose(model, &rng, x, &used_model, &budget);
    if (used_model)
        hp_space_from_vector(job, x, out);
    free(x);
}
