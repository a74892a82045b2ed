/* vecsum.h - a float sum the compiler vectorises (shared by the layers). */
#ifndef HPTUNE_VECSUM_H
#define HPTUNE_VECSUM_H

#include <stddef.h>

/* sum of x[0..n), in 16 independent partial sums (so -O2 vectorises the loop
 * without -ffast-math reassociation); the order is fixed, so results are
 * reproducible. */
static inline float hp_sum_floats(const float *x, size_t n)
{
    enum { LANES = 16 };
    float part[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            part[l] += x[i + l];
    float total = 0.0f;
    for (; i < n; i++)
        total += x[i];
    for (int l = 0; l < LANES; l++)
        total += part[l];
    return total;
}

#endif
