/* init.c - weight initialisation (Keras defaults for the matching layers). */
#include "layers.h"

#include <math.h>

void init_he_normal(float *w, size_t n, int fan_in, hp_rng *rng)
{
    /* untruncated normal, std = sqrt(2 / fan_in) */
    const double std = sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(std * hp_rng_normal(rng));
}

void init_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, hp_rng *rng)
{
    /* uniform in [-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) */
    const int fans = fan_in + fan_out;
    const double limit = sqrt(6.0 / (double)(fans > 0 ? fans : 1));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(limit * (2.0 * hp_rng_uniform(rng) - 1.0));
}

void init_torch_uniform(float *w, size_t n, int fan_in, hp_rng *rng)
{
    /* PyTorch's default for Conv2d/Linear weights and biases:
       kaiming_uniform(a = sqrt(5)) = uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    const double bound = 1.0 / sqrt((double)(fan_in > 0 ? fan_in : 1));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(bound * (2.0 * hp_rng_uniform(rng) - 1.0));
}
