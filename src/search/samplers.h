/* samplers.h - where model-based strategies get a new trial's configuration
 * (private to src/search/: strategy.c's table points here).
 *
 * A sampler sees the earlier trials as plain data (their configurations,
 * states and values, filled in by strategy.c) and draws from a stream derived
 * from (study seed, trial id, HP_STREAM_STRATEGY), so its proposal is a
 * function of the recorded state: replaying a journal gives the same
 * proposals.  When it has no model yet it returns the trial's random sample
 * of space.c, so tpe's start-up trials equal random search's and bohb's
 * random proposals equal asha's.
 */
#ifndef HPTUNE_SAMPLERS_H
#define HPTUNE_SAMPLERS_H

#include "config.h"
#include "job.h"

/* What a sampler sees of one earlier trial. */
typedef enum {
    HP_SAMPLED_RUNNING = 0, /* assigned and not finished (the constant liar's observation) */
    HP_SAMPLED_COMPLETED,
    HP_SAMPLED_FAILED
} hp_sampled_state;

typedef struct hp_sampled_trial {
    const hp_config *config;
    hp_sampled_state state;
    double value;           /* COMPLETED: the study metric at its final epoch */
} hp_sampled_trial;

/* tpe (sample_tpe.c): Optuna 3.1's TPESampler over trials[0..n_trials). */
void hp_sample_tpe(const hp_job *job, const hp_sampled_trial *trials, int n_trials, int trial, hp_config *out);

/* bohb (sample_bohb.c): HpBandSter's models of n_levels rung levels, fed
 * every rung result and failure in the order they happen. */
void *hp_bohb_model_new(const hp_job *job, int n_levels);
void hp_bohb_model_free(void *model);
/* A trial with this configuration reached `value` at rung level `level`
 * (bracket + rung: the budget index); value NaN: it failed on its way there. */
void hp_bohb_model_result(void *model, const hp_job *job, const hp_config *config, int level, double value);
void hp_sample_bohb(const hp_job *job, const void *model, int trial, hp_config *out);

#endif
