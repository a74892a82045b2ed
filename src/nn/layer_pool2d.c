/* layer_pool2d.c - max and average pooling, square window, valid padding.
 *
 * Windows may overlap (stride < size) or leave gaps (stride > size); the
 * general backward pass zeroes d_in and accumulates into it so overlaps are
 * handled.  Max pooling with a 2x2 window and stride 2 (the common case) has
 * its own branch-free forward and a one-pass backward: which element of a
 * window is largest is unpredictable, and a mispredicted branch per element
 * cost several times the memory traffic.
 */
#include "layers.h"

#include <math.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

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

/* Should candidate v replace the current best?  Strict '>' keeps the first
   of equal values; a NaN replaces a number so it propagates, and the first
   NaN stays.  Bitwise operators keep it branch-free. */
static inline int takes_over(float v, float best)
{
    return (v > best) | ((v != v) & (best == best));
}

#ifdef __AVX2__
/* takes_over for 8 lanes: all-ones where v replaces best. */
static inline __m256 takes_over8(__m256 v, __m256 best)
{
    const __m256 greater = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
    const __m256 nan_over_number =
        _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
    return _mm256_or_ps(greater, nan_over_number);
}

/* Eight 2x2 windows: out[0..8) and argmax[0..8) from columns [0, 16) of
   row0/row1; 'first' is the plane index of row0[0].  The even/odd shuffle
   leaves the windows in the order 0 1 4 5 | 2 3 6 7 (per 128-bit lane);
   one 64-bit permute per result restores 0..7.  The comparisons are the
   scalar ones (takes_over) in the same tree, so the results are identical. */
static inline void max_pool_8_windows(float *out, int32_t *argmax, const float *row0,
                                      const float *row1, int W, int first)
{
    const __m256 r0_lo = _mm256_loadu_ps(row0), r0_hi = _mm256_loadu_ps(row0 + 8);
    const __m256 r1_lo = _mm256_loadu_ps(row1), r1_hi = _mm256_loadu_ps(row1 + 8);
    const __m256 a = _mm256_shuffle_ps(r0_lo, r0_hi, _MM_SHUFFLE(2, 0, 2, 0)); /* even columns */
    const __m256 b = _mm256_shuffle_ps(r0_lo, r0_hi, _MM_SHUFFLE(3, 1, 3, 1)); /* odd columns */
    const __m256 c = _mm256_shuffle_ps(r1_lo, r1_hi, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 e = _mm256_shuffle_ps(r1_lo, r1_hi, _MM_SHUFFLE(3, 1, 3, 1));
    const __m256 b_wins = takes_over8(b, a), e_wins = takes_over8(e, c);
    const __m256 top = _mm256_blendv_ps(a, b, b_wins), bottom = _mm256_blendv_ps(c, e, e_wins);
    const __m256 bottom_wins = takes_over8(bottom, top);
    const __m256 best = _mm256_blendv_ps(top, bottom, bottom_wins);
    /* offset from row0 of window 0's first column: 2*window + (0|1) or W + 2*window + (0|1) */
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i top_at = _mm256_and_si256(_mm256_castps_si256(b_wins), one);
    const __m256i bottom_at =
        _mm256_add_epi32(_mm256_and_si256(_mm256_castps_si256(e_wins), one), _mm256_set1_epi32(W));
    const __m256i at = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(top_at), _mm256_castsi256_ps(bottom_at), bottom_wins));
    const __m256i window_start = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    const __m256i index =
        _mm256_add_epi32(_mm256_add_epi32(at, window_start), _mm256_set1_epi32(first));
    _mm256_storeu_ps(out, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), 0xD8)));
    _mm256_storeu_si256((__m256i *)argmax, _mm256_permute4x64_epi64(index, 0xD8));
}
#endif

/* max_pool_plane for size 2, stride 2: window (oh, ow) is
   a b   (row 2*oh)      scanned a, b, c, e like the general loop, as a
   c e   (row 2*oh+1)    tree: max(a,b) vs max(c,e), top row first.
   Branch-free (which element wins is unpredictable): with AVX2 eight
   windows at a time, otherwise the winners are picked by index (0/1 flags
   from comparisons) and loaded, never selected between floats, which GCC
   would compile to branches. */
static void max_pool_plane_2x2(float *restrict out, int32_t *restrict argmax,
                               const float *restrict in, const pool2d_dims *d)
{
    const int W = d->W, OW = d->OW;
    for (int oh = 0; oh < d->OH; oh++) {
        const float *row0 = in + (size_t)2 * oh * W, *row1 = row0 + W;
        float *out_row = out + (size_t)oh * OW;
        int32_t *argmax_row = argmax + (size_t)oh * OW;
        int ow = 0;
#ifdef __AVX2__
        for (; ow + 8 <= OW; ow += 8)
            max_pool_8_windows(out_row + ow, argmax_row + ow, row0 + 2 * ow, row1 + 2 * ow, W,
                               2 * oh * W + 2 * ow);
#endif
        for (; ow < OW; ow++) {
            const int b_wins = takes_over(row0[2 * ow + 1], row0[2 * ow]);
            const int e_wins = takes_over(row1[2 * ow + 1], row1[2 * ow]);
            const int top = 2 * ow + b_wins, bottom = 2 * ow + e_wins; /* columns */
            const int bottom_wins = takes_over(row1[bottom], row0[top]);
            /* offset of the winner from row0: top, or W + bottom */
            const int at = top + bottom_wins * (W + bottom - top);
            out_row[ow] = row0[at];
            argmax_row[ow] = 2 * oh * W + at;
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
    const int two_by_two = d->size == 2 && d->stride == 2;
    for (size_t p = 0; p < planes; p++) {
        if (kind == HP_POOL_MAX && two_by_two)
            max_pool_plane_2x2(out + p * out_plane, argmax + p * out_plane, in + p * in_plane, d);
        else if (kind == HP_POOL_MAX)
            max_pool_plane(out + p * out_plane, argmax + p * out_plane, in + p * in_plane, d);
        else
            avg_pool_plane(out + p * out_plane, in + p * in_plane, d);
    }
}

/* Max-pool backward of one plane for size 2, stride 2 in a single pass:
   every d_in element is written (the gradient where it was the window's
   maximum, else 0), including a last odd row/column that no window covers.
   Each window is zeroed and then its maximum overwritten: stores at a
   computed address instead of a compare-and-select per element. */
static void max_unpool_plane_2x2(float *restrict d_in, const float *restrict d_out,
                                 const int32_t *restrict argmax, const pool2d_dims *d)
{
    const int W = d->W, OW = d->OW;
    for (int oh = 0; oh < d->OH; oh++) {
        float *row0 = d_in + (size_t)2 * oh * W, *row1 = row0 + W;
        const float *g_row = d_out + (size_t)oh * OW;
        const int32_t *argmax_row = argmax + (size_t)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
            row0[2 * ow] = row0[2 * ow + 1] = 0.0f;
            row1[2 * ow] = row1[2 * ow + 1] = 0.0f;
            /* argmax is relative to the plane; row0 starts at 2*oh*W */
            row0[argmax_row[ow] - 2 * oh * W] = g_row[ow];
        }
        for (int iw = 2 * OW; iw < W; iw++)
            row0[iw] = row1[iw] = 0.0f;
    }
    for (size_t i = (size_t)2 * d->OH * W; i < (size_t)d->H * W; i++)
        d_in[i] = 0.0f;
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
    if (kind == HP_POOL_MAX && size == 2 && s == 2) {
        for (size_t p = 0; p < planes; p++)
            max_unpool_plane_2x2(d_in + p * in_plane, d_out + p * out_plane, argmax + p * out_plane,
                                 d);
        return;
    }
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
