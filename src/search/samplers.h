/* samplers.h - where model-based strategies get a new trial's configuration
 * (private to src/search/: strategy.c's table points here).
 *
 * A sampler reads the strategy's recorded state through strategy.h's queries
 * (trials, their statuses, configurations and values) and draws from a stream
 * derived from (study seed, trial id, HP_STREAM_STRATEGY), so its proposal is
 * a function of the state: replaying a journal gives the same proposals.
 * When it has no model yet it returns the trial's random sample of space.c,
 * so tpe's start-up trials equal random search's and bohb's random proposals
 * equal asha's.
 */
#ifndef HPTUNE_SAMPLERS_H
#define HPTUNE_SAMPLERS_H

#include "config.h"
#include "strategy.h"

/* tpe (sample_tpe.c): Optuna 3.1's TPESampler over the trials so far. */
void hp_sample_tpe(const hp_strategy *s, int trial, hp_config *out);

/* bohb (sample_bohb.c): HpBandSter's per-rung KDE models, kept up to date by
 * every rung result and failure in the order they happen. */
void *hp_bohb_model_new(const hp_strategy *s);
void hp_bohb_model_free(void *model);
/* Trial `trial` reached `value` at rung level `level` (bracket + rung: the
 * budget index); value NaN: the trial failed on its way to that level. */
void hp_bohb_model_result(void *model, const hp_strategy *s, int trial, int level, double value);
void hp_sample_bohb(const hp_strategy *s, const void *model, int trial, hp_config *out);

#endif
