/* rng.c - xoshiro256** (Blackman & Vigna) seeded with splitmix64. */
#include "rng.h"

#include <math.h>

uint64_t hp_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hp_rng_seed(hp_rng *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = hp_splitmix64(&sm);
}

void hp_rng_seed_for(hp_rng *r, uint64_t seed, uint64_t entity, uint64_t purpose)
{
    /* Mix the three numbers through splitmix so nearby ids give unrelated streams. */
    uint64_t sm = seed;
    uint64_t a = hp_splitmix64(&sm);
    sm = a ^ (entity * 0xd1b54a32d192ed03ULL);
    uint64_t b = hp_splitmix64(&sm);
    sm = b ^ (purpose * 0x8cb92ba72f3d8dd7ULL);
    hp_rng_seed(r, hp_splitmix64(&sm));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hp_rng_next(hp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float hp_rng_uniform_float(hp_rng *r) { return (float)(hp_rng_next(r) >> 40) * 0x1.0p-24f; }

double hp_rng_uniform(hp_rng *r) { return (double)(hp_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t hp_rng_below(hp_rng *r, uint64_t n)
{
    /* Rejection sampling: reject the top partial block so every value is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do
        x = hp_rng_next(r);
    while (x >= limit);
    return x % n;
}

double hp_rng_normal(hp_rng *r)
{
    double u1 = hp_rng_uniform(r);
    double u2 = hp_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
