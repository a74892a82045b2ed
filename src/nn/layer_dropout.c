/* layer_dropout.c - inverted dropout.
 *
 * Training scales the kept units by 1/(1-rate) so evaluation needs no
 * change (the caller skips the layer).  One uniform draw per element, in
 * element order, so a given rng state always gives the same mask.
 *
 * The draws are exactly hp_rng_uniform_float's (xoshiro256**, top 24 bits),
 * but the generator step is inlined here on a local copy of the state: one
 * out-of-line call per element was most of the layer's time.  The unit test
 * compares the mask with hp_rng_uniform_float draw by draw, so this copy
 * cannot drift from src/rng.c unnoticed.  With u = k * 2^-24 (k a 24-bit
 * integer), u >= rate  <=>  k >= ceil(rate * 2^24), compared as integers.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "error.h"

#if defined(__GNUC__) && !defined(__clang__)
#define HP_IVDEP _Pragma("GCC ivdep")
#else
#define HP_IVDEP
#endif

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* One xoshiro256** step on s (identical to hp_rng_next). */
static inline uint64_t xoshiro_next(uint64_t s[4])
{
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* out (n) = in (n) * mask (n); out may equal in. */
static void multiply(float *out, const float *in, const float *mask, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        HP_IVDEP
        for (int l = 0; l < 8; l++)
            out[i + l] = in[i + l] * mask[i + l];
    }
    for (; i < n; i++)
        out[i] = in[i] * mask[i];
}

void dropout_forward(float *out, float *mask, const float *in, size_t n, float rate, hp_rng *rng)
{
    if (!(rate >= 0.0f && rate < 1.0f))
        HP_PANIC("dropout_forward: rate %g outside [0, 1)", (double)rate);
    if (rate == 0.0f) {
        /* nothing dropped: no draws, so the stream is not consumed */
        for (size_t i = 0; i < n; i++)
            mask[i] = 1.0f;
        if (out != in)
            memcpy(out, in, n * sizeof *out);
        return;
    }
    const float keep_scale = 1.0f / (1.0f - rate);
    /* rate * 2^24 is exact in float; its ceiling is at most 2^24 */
    const uint64_t threshold = (uint64_t)ceilf(rate * 0x1.0p24f);
    /* picked by index: a float select compiles to an unpredictable branch */
    const float mask_value[2] = {0.0f, keep_scale};
    uint64_t s[4];
    memcpy(s, rng->s, sizeof s);
    for (size_t i = 0; i < n; i++)
        mask[i] = mask_value[(xoshiro_next(s) >> 40) >= threshold];
    memcpy(rng->s, s, sizeof s);
    multiply(out, in, mask, n);
}

void dropout_backward(float *d_in, const float *d_out, const float *mask, size_t n)
{
    multiply(d_in, d_out, mask, n);
}
