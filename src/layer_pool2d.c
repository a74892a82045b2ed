/* layer_pool2d.c - max and average pooling, square window, valid padding.
 *
 * Windows may overlap (stride < size) or leave gaps (stride > size); the
 * backward pass accumulates into d_in so overlaps are handled.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "error.h"

int pool2d_dims_init(pool2d_dims *d, int N, int C, int H, int W, int size, int stride)
{
    memset(d, 0, sizeof *d);
    if (N < 1 || C < 1 || H < 1 || W < 1 || size < 1 || stride < 1)
        return HP_ERR("pool2d: every size must be positive (N=%d C=%d H=%d W=%d window %d "
                      "stride %d); check the network configuration",
                      N, C, H, W, size, stride);
    if (H < size || W < size)
        return HP_ERR("pool2d: a %dx%d window has no output on a %dx%d input; use a smaller "
                      "pool_size or fewer blocks",
                      size, size, H, W);
    d->N = N;
    d->C = C;
    d->H = H;
    d->W = W;
    d->size = size;
    d->stride = stride;
    d->OH = (H - size) / stride + 1;
    d->OW = (W - size) / stride + 1;
    return 0;
}

/* One (H,W) plane -> one (OH,OW) plane. */
static void max_pool_plane(float *out, int32_t *argmax, const float *in, const pool2d_dims *d)
{
    const int W = d->W, size = d->size, s = d->stride;
    for (int oh = 0; oh < d->OH; oh++) {
        for (int ow = 0; ow < d->OW; ow++) {
            int first = oh * s * W + ow * s;
            int best_index = first;
            float best = in[first];
            for (int kh = 0; kh < size; kh++) {
                const int row = first + kh * W;
                for (int kw = 0; kw < size; kw++) {
                    float v = in[row + kw];
                    /* strict '>' keeps the first of equal values; NaN wins so it propagates */
                    if (v > best || (isnan(v) && !isnan(best))) {
                        best = v;
                        best_index = row + kw;
                    }
                }
            }
            out[oh * d->OW + ow] = best;
            argmax[oh * d->OW + ow] = best_index;
        }
    }
}

static void avg_pool_plane(float *out, const float *in, const pool2d_dims *d)
{
    const int W = d->W, size = d->size, s = d->stride;
    const float scale = 1.0f / (float)(size * size);
    for (int oh = 0; oh < d->OH; oh++) {
        for (int ow = 0; ow < d->OW; ow++) {
            const float *window = in + oh * s * W + ow * s;
            float sum = 0.0f;
            for (int kh = 0; kh < size; kh++)
                for (int kw = 0; kw < size; kw++)
                    sum += window[kh * W + kw];
            out[oh * d->OW + ow] = sum * scale;
        }
    }
}

void pool2d_forward(float *out, int32_t *argmax, const float *in, hp_pool kind, const pool2d_dims *d)
{
    const size_t planes = (size_t)d->N * d->C;
    const size_t in_plane = (size_t)d->H * d->W, out_plane = (size_t)d->OH * d->OW;
    if (kind != HP_POOL_MAX && kind != HP_POOL_AVG)
        HP_PANIC("pool2d_forward: unknown pooling kind %d", (int)kind);
    if (kind == HP_POOL_MAX && !argmax)
        HP_PANIC("pool2d_forward: max pooling needs an argmax buffer");
    for (size_t p = 0; p < planes; p++) {
        if (kind == HP_POOL_MAX)
            max_pool_plane(out + p * out_plane, argmax + p * out_plane, in + p * in_plane, d);
        else
            avg_pool_plane(out + p * out_plane, in + p * in_plane, d);
    }
}

void pool2d_backward(float *d_in, const float *d_out, const int32_t *argmax, hp_pool kind,
                     const pool2d_dims *d)
{
    const size_t planes = (size_t)d->N * d->C;
    const size_t in_plane = (size_t)d->H * d->W, out_plane = (size_t)d->OH * d->OW;
    const int W = d->W, size = d->size, s = d->stride;
    if (kind != HP_POOL_MAX && kind != HP_POOL_AVG)
        HP_PANIC("pool2d_backward: unknown pooling kind %d", (int)kind);
    if (kind == HP_POOL_MAX && !argmax)
        HP_PANIC("pool2d_backward: max pooling needs the argmax from forward");
    memset(d_in, 0, planes * in_plane * sizeof *d_in);
    for (size_t p = 0; p < planes; p++) {
        float *din = d_in + p * in_plane;
        const float *dout = d_out + p * out_plane;
        if (kind == HP_POOL_MAX) {
            const int32_t *idx = argmax + p * out_plane;
            for (size_t j = 0; j < out_plane; j++)
                din[idx[j]] += dout[j];
            continue;
        }
        const float scale = 1.0f / (float)(size * size);
        for (int oh = 0; oh < d->OH; oh++) {
            for (int ow = 0; ow < d->OW; ow++) {
                const float g = dout[oh * d->OW + ow] * scale;
                float *window = din + oh * s * W + ow * s;
                for (int kh = 0; kh < size; kh++)
                    for (int kw = 0; kw < size; kw++)
                        window[kh * W + kw] += g;
            }
        }
    }
}
