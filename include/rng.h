/* rng.h - deterministic random streams whose state can be checkpointed.
 *
 * xoshiro256** seeded through splitmix64.  Streams are derived from the
 * entity that uses them, never from the MPI rank or the clock:
 *   hp_rng_seed_for(&r, study_seed, trial_id, HP_STREAM_DROPOUT)
 * so results do not depend on how many ranks ran or in which order.
 */
#ifndef HPTUNE_RNG_H
#define HPTUNE_RNG_H

#include <stdint.h>

typedef struct hp_rng {
    uint64_t s[4];
} hp_rng;

/* Purposes: one independent stream per use inside a trial or the study. */
enum hp_stream {
    HP_STREAM_INIT = 1,     /* weight initialisation */
    HP_STREAM_SHUFFLE = 2,  /* data order per epoch */
    HP_STREAM_DROPOUT = 3,  /* dropout masks */
    HP_STREAM_AUGMENT = 4,  /* crop offsets and flips */
    HP_STREAM_SAMPLE = 5,   /* sampling a trial's configuration */
    HP_STREAM_STRATEGY = 6, /* strategy-level decisions (bracket choice) */
    HP_STREAM_TEST = 99     /* tests */
};

uint64_t hp_splitmix64(uint64_t *state);
void hp_rng_seed(hp_rng *r, uint64_t seed);
/* Seed from (seed, entity id, purpose): independent streams per entity. */
void hp_rng_seed_for(hp_rng *r, uint64_t seed, uint64_t entity, uint64_t purpose);
uint64_t hp_rng_next(hp_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float hp_rng_uniform_float(hp_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double hp_rng_uniform(hp_rng *r);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t hp_rng_below(hp_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call, deterministic). */
double hp_rng_normal(hp_rng *r);

#endif
