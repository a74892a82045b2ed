/* layer_dropout.c - inverted dropout.
 *
 * Training scales the kept units by 1/(1-rate) so evaluation needs no
 * change (the caller skips the layer).  One uniform draw per element, in
 * element order, so a given rng state always gives the same mask.
 */
#include "layers.h"

#include <string.h>

#include "error.h"

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
    for (size_t i = 0; i < n; i++) {
        mask[i] = hp_rng_uniform_float(rng) >= rate ? keep_scale : 0.0f;
        out[i] = in[i] * mask[i];
    }
}

void dropout_backward(float *d_in, const float *d_out, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d_in[i] = d_out[i] * mask[i];
}
