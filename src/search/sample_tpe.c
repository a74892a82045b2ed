/* sample_tpe.c - strategy tpe: a new trial's configuration from Optuna 3.1's
 * TPE (tpe.h) over every trial so far (see samplers.h).
 *
 * Observations, in trial order: completed trials with their value at their
 * last epoch; failed trials (the worst, tpe.h); with constant_liar, running
 * trials (as Optuna's constant liar).  Until n_startup_trials trials are
 * completed or failed, the trial takes its random sample (space.c), as
 * strategy random's trial of the same id would.
 *
 * Conditional parameters (when:): an inactive parameter is NaN in its
 * trial's vector, so it is left out of that dimension's estimators (Optuna
 * 3.1's param_mask: the split into below/above is over every observation,
 * then each dimension keeps only the trials where it was present), and a
 * proposal draws it only when its conditions hold under the values
 * proposed before it (tpe.h's hp_tpe_propose_conditional).
 */
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "rng.h"
#include "samplers.h"
#include "space.h"
#include "tpe.h"

static int active_dim(const void *ctx, int dim, const double *out)
{
    return hp_space_vector_active(ctx, dim, out);
}

void hp_sample_tpe(const hp_job *job, const hp_sampled_trial *sampled, int n_trials, int trial, hp_config *out)
{
    hp_job_trial_config(job, trial, out); /* fixed values, seed, and the random sample */
    int finished = 0;
    for (int t = 0; t < n_trials; t++)
        finished += sampled[t].state != HP_SAMPLED_RUNNING;
    if (job->n_params == 0 || finished < job->tpe.n_startup_trials)
        return;

    int d = job->n_params;
    hp_space_dim *space = hp_xcalloc((size_t)d, sizeof *space);
    hp_tpe_dim *dims = hp_xcalloc((size_t)d, sizeof *dims);
    hp_space_dims(job, space);
    for (int i = 0; i < d; i++)
        dims[i] = (hp_tpe_dim){.n_choices = space[i].n_choices, .low = space[i].low, .high = space[i].high,
                               .step = space[i].step, .log = space[i].log, .is_int = space[i].is_int};
    double *x = hp_xcalloc((size_t)n_trials * (size_t)d + 1, sizeof *x);
    hp_tpe_trial *trials = hp_xcalloc((size_t)n_trials + 1, sizeof *trials);
    for (int t = 0; t < n_trials; t++) {
        hp_space_to_vector(job, sampled[t].config, x + (size_t)t * (size_t)d);
        hp_tpe_trial *o = &trials[t];
        o->x = x + (size_t)t * (size_t)d;
        switch (sampled[t].state) {
        case HP_SAMPLED_COMPLETED:
            o->state = HP_TPE_COMPLETE;
            o->value = sampled[t].value;
            break;
        case HP_SAMPLED_FAILED:
            o->state = HP_TPE_FAILED;
            break;
        case HP_SAMPLED_RUNNING: /* the constant liar's observation */
            o->state = HP_TPE_RUNNING;
            break;
        }
    }
    hp_tpe_settings settings;
    hp_tpe_settings_default(&settings);
    settings.n_startup_trials = job->tpe.n_startup_trials;
    settings.n_ei_candidates = job->tpe.n_ei_candidates;
    settings.prior_weight = job->tpe.prior_weight;
    settings.consider_magic_clip = job->tpe.consider_magic_clip;
    settings.consider_endpoints = job->tpe.consider_endpoints;
    settings.multivariate = job->tpe.multivariate;
    settings.constant_liar = job->tpe.constant_liar;
    settings.maximize = job->maximize;
    hp_rng rng;
    hp_rng_seed_for(&rng, job->seed, (uint64_t)trial, HP_STREAM_STRATEGY);
    double *proposal = hp_xcalloc((size_t)d, sizeof *proposal);
    int used_model = 0;
    /* the parser validated the space and observations are clamped into it */
    if (hp_tpe_propose_conditional(&settings, dims, d, trials, n_trials, &rng, proposal, &used_model,
                                   hp_job_has_conditions(job) ? active_dim : NULL, job) != 0)
        HP_PANIC("tpe refused the study's own space: %s", hp_error_message());
    hp_space_from_vector(job, proposal, out);
    free(proposal);
    free(trials);
    free(x);
    free(dims);
    free(space);
}
