/* layer_conv2d.c - 2-D convolution as im2col + sgemm over chunks of the batch.
 *
 * Images are processed in chunks of G (conv_chunk_images): each chunk is
 * unfolded and multiplied while it is still in the L2 cache.  Unfolding the
 * whole batch at once (one huge sgemm) streams tens of MB through DRAM per
 * pass and measured 1.6-2x slower on the CIFAR layers; OpenBLAS is already
 * efficient at these chunk sizes.  With K = C*KH*KW and Pc = G*OH*OW:
 *
 *   workspace = col (K, Pc)  followed by  staging (OC, Pc)
 *
 *   forward, per chunk:  col = im2col(in);  staging = w (OC,K) . col
 *                        out = scatter(staging) + b   (then the activation, for
 *                        conv2d_forward_act, while each plane is in L1)
 *   backward, per chunk: col = im2col(in);  staging = gather(d_out);  d_b += row sums
 *                        d_w (OC,K) += staging . col^T
 *                        col = w^T (K,OC) . staging;  d_in = col2im(col)   (skipped if d_in == NULL)
 *
 * A one-image chunk needs no staging: (OC, OH*OW) is that image's NCHW block
 * of out / d_out, so sgemm reads and writes it in place.
 * Column index of col/staging: p = (n - first image of the chunk)*OH*OW + oh*OW + ow.
 * Row index of col: k = (c*KH + kh)*KW + kw, matching w (OC, C*KH*KW).
 */
#include "conv_winograd.h"
#include "layers.h"
#include "vecsum.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "error.h"

/* Output size and leading pad of one spatial axis; -1 when the output is empty. */
static int axis_geometry(int in_size, int kernel, int stride, hp_padding pad, int *out_size,
                         int *pad_before)
{
    if (pad == HP_PAD_SAME) {
        int out = (int)(((long)in_size + stride - 1) / stride);
        long total = (long)(out - 1) * stride + kernel - in_size;
        if (total < 0)
            total = 0;
        *out_size = out;
        *pad_before = (int)(total / 2);
        return 0;
    }
    if (in_size < kernel)
        return -1;
    *out_size = (in_size - kernel) / stride + 1;
    *pad_before = 0;
    return 0;
}

int conv2d_dims_init(conv2d_dims *d, int N, int C, int H, int W, int OC, int KH, int KW,
                     int stride, hp_padding pad)
{
    memset(d, 0, sizeof *d);
    if (N < 1 || C < 1 || H < 1 || W < 1 || OC < 1 || KH < 1 || KW < 1 || stride < 1)
        return HP_ERR("conv2d: every size must be positive (N=%d C=%d H=%d W=%d OC=%d "
                      "kernel %dx%d stride %d); check the network configuration",
                      N, C, H, W, OC, KH, KW, stride);
    if (pad != HP_PAD_SAME && pad != HP_PAD_VALID)
        return HP_ERR("conv2d: unknown padding %d (expected same or valid)", (int)pad);
    int OH, OW, pad_top, pad_left;
    if (axis_geometry(H, KH, stride, pad, &OH, &pad_top) != 0 ||
        axis_geometry(W, KW, stride, pad, &OW, &pad_left) != 0)
        return HP_ERR("conv2d: a %dx%d kernel with valid padding has no output on a %dx%d "
                      "input; use padding same, a smaller kernel or fewer blocks",
                      KH, KW, H, W);
    /* sgemm takes int sizes: K = C*KH*KW and a chunk's P <= N*OH*OW must fit. */
    if ((long long)C * KH * KW > INT_MAX || (long long)N * OH * OW > INT_MAX ||
        (long long)H * W > INT_MAX)
        return HP_ERR("conv2d: layer too large (N=%d C=%d H=%d W=%d kernel %dx%d); reduce "
                      "the batch size, the input size or the number of filters",
                      N, C, H, W, KH, KW);
    d->N = N;
    d->C = C;
    d->H = H;
    d->W = W;
    d->OC = OC;
    d->KH = KH;
    d->KW = KW;
    d->stride = stride;
    d->pad_top = pad_top;
    d->pad_left = pad_left;
    d->OH = OH;
    d->OW = OW;
    return 0;
}

/* Target size of one chunk's col + staging, in floats (128 KB, well inside
   L2).  Measured on the 3x3/32-filter CIFAR layers at batch 64 (OpenBLAS
   SkylakeX kernel, one thread): 32-128K floats were 1.6-2x faster than
   unfolding the whole batch, the smallest the fastest for 8x8 planes. */
#ifndef CONV_CHUNK_FLOATS
#define CONV_CHUNK_FLOATS (32 * 1024)
#endif

static size_t col_rows(const conv2d_dims *d) { return (size_t)d->C * d->KH * d->KW; }

/* Images per chunk: at least 1, at most N. */
static int conv_chunk_images(const conv2d_dims *d)
{
    size_t per_image = (col_rows(d) + (size_t)d->OC) * (size_t)d->OH * d->OW;
    size_t g = CONV_CHUNK_FLOATS / per_image;
    if (g < 1)
        g = 1;
    if (g > (size_t)d->N)
        g = (size_t)d->N;
    return (int)g;
}

/* Fewest input channels for which AUTO picks Winograd: with fewer, its 16
   products are too thin for sgemm (K = C) and im2col's K = 9C wins (3x3;
   5x5's 36 products already beat im2col's K = 25C at 8 channels). */
#ifndef WINOGRAD_MIN_CHANNELS
#define WINOGRAD_MIN_CHANNELS 8
#endif

/* 1: AUTO also picks Winograd F(2x2,5x5) for 5x5 stride-1 layers (with
   WINOGRAD_MIN_CHANNELS); 0: only HPTUNE_CONV=winograd reaches it.
   Measured 1.4-2.4x faster than im2col from 8 to 120 channels (README,
   Performance). */
#ifndef WINOGRAD_AUTO_5X5
#define WINOGRAD_AUTO_5X5 1
#endif

/* AUTO's output tiles: 4x4 (F(4x4,5x5)) for every 5x5 layer, measured
   1.2-1.6x faster than 2x2 at 16-123 channels and 4x4 to 16x16 outputs.
   For 3x3, 2x2 tiles have a register path (conv_winograd_fast.h) that 4x4
   tiles' general path beats only on wide layers: at 16x16 outputs (forward
   + backward) 4x4 tiles took 1.55x the time of 2x2 at 32 channels (batch
   64), 1.17x at 64, 0.90x at 96 and 0.83x at 123 (batch 32); at 8x8 they
   were equal (123 channels) and at 4x4 slower.  So 3x3 layers take 4x4 tiles from
   WINOGRAD4_MIN_SIZE3 outputs and WINOGRAD4_MIN_CHANNELS3 input and output
   channels up (README, Performance). */
#ifndef WINOGRAD4_MIN_SIZE3
#define WINOGRAD4_MIN_SIZE3 16
#endif
#ifndef WINOGRAD4_MIN_CHANNELS3
#define WINOGRAD4_MIN_CHANNELS3 96
#endif

static int is_winograd(hp_conv_algorithm a) { return a == HP_CONV_WINOGRAD || a == HP_CONV_WINOGRAD4; }

hp_conv_algorithm conv2d_algorithm(const conv2d_dims *d)
{
    const int winograd_shape = conv_winograd_shape(d);
    if (is_winograd(d->algorithm) && !winograd_shape)
        HP_PANIC("conv2d: Winograd forced on a %dx%d stride-%d layer (needs 3x3 or 5x5, stride 1)",
                 d->KH, d->KW, d->stride);
    if (d->algorithm != HP_CONV_AUTO)
        return d->algorithm;
    const int auto_shape = winograd_shape && (d->KH == 3 || WINOGRAD_AUTO_5X5);
    if (!auto_shape || d->C < WINOGRAD_MIN_CHANNELS)
        return HP_CONV_IM2COL;
    if (d->KH == 5 || (d->OH >= WINOGRAD4_MIN_SIZE3 && d->OW >= WINOGRAD4_MIN_SIZE3 &&
                       d->C >= WINOGRAD4_MIN_CHANNELS3 && d->OC >= WINOGRAD4_MIN_CHANNELS3))
        return HP_CONV_WINOGRAD4;
    return HP_CONV_WINOGRAD;
}

/* The output tile of d's Winograd algorithm (2 or 4), 0 for im2col. */
static int winograd_tile(const conv2d_dims *d)
{
    const hp_conv_algorithm a = conv2d_algorithm(d);
    return a == HP_CONV_WINOGRAD4 ? 4 : a == HP_CONV_WINOGRAD ? 2 : 0;
}

const char *conv2d_algorithm_name(const conv2d_dims *d)
{
    const int tile = winograd_tile(d);
    return tile == 4 ? "winograd4" : tile == 2 ? "winograd" : "im2col";
}

int conv2d_algorithm_parse(const char *text, hp_conv_algorithm *out)
{
    if (!text || !*text || !strcmp(text, "auto"))
        *out = HP_CONV_AUTO;
    else if (!strcmp(text, "im2col"))
        *out = HP_CONV_IM2COL;
    else if (!strcmp(text, "winograd"))
        *out = HP_CONV_WINOGRAD;
    else if (!strcmp(text, "winograd4"))
        *out = HP_CONV_WINOGRAD4;
    else
        return HP_ERR("HPTUNE_CONV='%s' is not a convolution algorithm; use auto, im2col, winograd or winograd4",
                      text);
    return 0;
}

size_t conv2d_workspace_floats(const conv2d_dims *d)
{
    const int tile = winograd_tile(d);
    if (tile)
        return conv_winograd_workspace_floats(d, tile);
    return (col_rows(d) + (size_t)d->OC) * (size_t)conv_chunk_images(d) * d->OH * d->OW;
}

double conv2d_forward_macs(const conv2d_dims *d)
{
    return (double)d->N * d->OC * d->OH * d->OW * (double)d->C * d->KH * d->KW;
}

/* Range [*lo, *hi) of outputs o in [0, out_size) whose input o*stride - pad + k
   lies inside [0, in_size); the rest reads zero padding. */
static void inside_range(int in_size, int out_size, int stride, int pad, int k, int *lo, int *hi)
{
    int first = pad - k; /* smallest o*stride that lands on input 0 */
    int l = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = in_size - 1 + pad - k; /* largest o*stride that lands inside */
    int h = last < 0 ? 0 : last / stride + 1;
    if (h > out_size)
        h = out_size;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* Element-wise helpers in blocks of 8 with restrict: at -O2 GCC vectorises
   only loops whose trip count needs no scalar epilogue and no alias check,
   which the fixed-size inner block provides. */
static inline void add_floats(float *restrict dst, const float *restrict src, int n)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            dst[j + l] += src[j + l];
    for (; j < n; j++)
        dst[j] += src[j];
}

static inline void copy_plus_bias(float *restrict dst, const float *restrict src, float bias,
                                  size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            dst[j + l] = src[j + l] + bias;
    for (; j < n; j++)
        dst[j] = src[j] + bias;
}

static inline void add_bias(float *x, float bias, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            x[j + l] += bias;
    for (; j < n; j++)
        x[j] += bias;
}

/* ReLU fused into the bias pass: the same select as activation_forward
   (v > 0 ? v : 0), so the result is bit-identical to the two passes. */
static inline void copy_plus_bias_relu(float *restrict dst, const float *restrict src, float bias,
                                       size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            const float v = src[j + l] + bias;
            dst[j + l] = v > 0.0f ? v : 0.0f;
        }
    for (; j < n; j++) {
        const float v = src[j] + bias;
        dst[j] = v > 0.0f ? v : 0.0f;
    }
}

static inline void add_bias_relu(float *x, float bias, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            const float v = x[j + l] + bias;
            x[j + l] = v > 0.0f ? v : 0.0f;
        }
    for (; j < n; j++) {
        const float v = x[j] + bias;
        x[j] = v > 0.0f ? v : 0.0f;
    }
}

/* No activation after the bias (plain conv2d_forward). */
enum { NO_ACTIVATION = CONV_NO_ACTIVATION };

/* One output plane (OH*OW) after sgemm: plane = act(src + bias), where src
   is the staging row (or NULL: the plane itself holds the sgemm result).
   The plane is in L1 here, so a separate activation pass costs little;
   ReLU is folded into the bias pass. */
static void finish_plane(float *plane, const float *src, float bias, size_t n, int act,
                         float alpha)
{
    if (act == HP_ACT_RELU) {
        if (src)
            copy_plus_bias_relu(plane, src, bias, n);
        else
            add_bias_relu(plane, bias, n);
        return;
    }
    if (src)
        copy_plus_bias(plane, src, bias, n);
    else
        add_bias(plane, bias, n);
    if (act != NO_ACTIVATION)
        activation_forward(plane, plane, n, (hp_activation)act, alpha);
}

/* col (K, count*OH*OW) = im2col of images [0, count) of 'in' (first image
   of the chunk).  Loops run image/channel outermost so one input plane stays
   in L1 while its KH*KW rows of col are written. */
static void im2col(float *col, const float *in, int count, const conv2d_dims *d)
{
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride;
    const size_t ohw = (size_t)OH * OW, P = (size_t)count * ohw;
    for (int n = 0; n < count; n++) {
        for (int c = 0; c < d->C; c++) {
            const float *plane = in + ((size_t)n * d->C + c) * H * W;
            for (int kh = 0; kh < d->KH; kh++) {
                int oh_lo, oh_hi;
                inside_range(H, OH, s, d->pad_top, kh, &oh_lo, &oh_hi);
                for (int kw = 0; kw < d->KW; kw++) {
                    int ow_lo, ow_hi;
                    inside_range(W, OW, s, d->pad_left, kw, &ow_lo, &ow_hi);
                    size_t k = ((size_t)c * d->KH + kh) * d->KW + kw;
                    float *row = col + k * P + (size_t)n * ohw; /* (OH, OW) block */
                    if (ow_hi <= ow_lo || oh_hi <= oh_lo) {
                        /* this kernel tap only ever sees padding (tiny inputs) */
                        memset(row, 0, ohw * sizeof *row);
                        continue;
                    }
                    /* output rows that fall in the top/bottom padding */
                    memset(row, 0, (size_t)oh_lo * OW * sizeof *row);
                    memset(row + (size_t)oh_hi * OW, 0, (size_t)(OH - oh_hi) * OW * sizeof *row);
                    const int width = ow_hi - ow_lo;
                    const int first_iw = ow_lo * s - d->pad_left + kw; /* >= 0 */
                    if (s == 1 && OW == W) {
                        /* stride 1, same width: the block is the plane shifted by a
                           constant offset, so copy all inside rows at once (the
                           copy wraps across row ends) and zero the edge columns */
                        const size_t begin = (size_t)oh_lo * OW + ow_lo;
                        const size_t end = (size_t)(oh_hi - 1) * OW + ow_hi;
                        const float *src =
                            plane + (size_t)(oh_lo - d->pad_top + kh) * W + first_iw;
                        memcpy(row + begin, src, (end - begin) * sizeof *row);
                        for (int oh = oh_lo; oh < oh_hi; oh++) {
                            float *dst = row + (size_t)oh * OW;
                            for (int ow = 0; ow < ow_lo; ow++)
                                dst[ow] = 0.0f;
                            for (int ow = ow_hi; ow < OW; ow++)
                                dst[ow] = 0.0f;
                        }
                        continue;
                    }
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        float *dst = row + (size_t)oh * OW;
                        const float *src =
                            plane + (size_t)(oh * s - d->pad_top + kh) * W + first_iw;
                        for (int ow = 0; ow < ow_lo; ow++)
                            dst[ow] = 0.0f;
                        if (s == 1) {
                            memcpy(dst + ow_lo, src, (size_t)width * sizeof *dst);
                        } else {
                            for (int j = 0; j < width; j++)
                                dst[ow_lo + j] = src[(size_t)j * s];
                        }
                        for (int ow = ow_hi; ow < OW; ow++)
                            dst[ow] = 0.0f;
                    }
                }
            }
        }
    }
}

/* d_in images [0, count) = col2im(col (K, count*OH*OW)): every column entry
   is added back to the input pixel it was copied from; padding is dropped. */
static void col2im(float *d_in, const float *col, int count, const conv2d_dims *d)
{
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride;
    const size_t ohw = (size_t)OH * OW, P = (size_t)count * ohw;
    for (int n = 0; n < count; n++) {
        for (int c = 0; c < d->C; c++) {
            float *plane = d_in + ((size_t)n * d->C + c) * H * W;
            memset(plane, 0, (size_t)H * W * sizeof *plane);
            for (int kh = 0; kh < d->KH; kh++) {
                int oh_lo, oh_hi;
                inside_range(H, OH, s, d->pad_top, kh, &oh_lo, &oh_hi);
                for (int kw = 0; kw < d->KW; kw++) {
                    int ow_lo, ow_hi;
                    inside_range(W, OW, s, d->pad_left, kw, &ow_lo, &ow_hi);
                    size_t k = ((size_t)c * d->KH + kh) * d->KW + kw;
                    const float *row = col + k * P + (size_t)n * ohw;
                    if (ow_hi <= ow_lo || oh_hi <= oh_lo)
                        continue; /* this kernel tap only ever sees padding */
                    const int width = ow_hi - ow_lo;
                    const int first_iw = ow_lo * s - d->pad_left + kw; /* >= 0 */
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        const float *src = row + (size_t)oh * OW + ow_lo;
                        float *dst = plane + (size_t)(oh * s - d->pad_top + kh) * W + first_iw;
                        if (s == 1) {
                            add_floats(dst, src, width);
                        } else {
                            for (int j = 0; j < width; j++)
                                dst[(size_t)j * s] += src[j];
                        }
                    }
                }
            }
        }
    }
}

static void forward(float *out, float *ws, const float *in, const float *w, const float *b,
                    const conv2d_dims *d, int act, float alpha)
{
    const int tile = winograd_tile(d);
    if (tile) {
        conv_winograd_forward(out, ws, in, w, b, d, tile, act, alpha);
        return;
    }
    const int G = conv_chunk_images(d);
    const size_t K = col_rows(d), ohw = (size_t)d->OH * d->OW;
    const size_t in_image = (size_t)d->C * d->H * d->W, out_image = (size_t)d->OC * ohw;
    float *col = ws;                          /* (K, G*OH*OW) */
    float *staging = ws + K * (size_t)G * ohw; /* (OC, G*OH*OW) */
    for (int first = 0; first < d->N; first += G) {
        const int count = d->N - first < G ? d->N - first : G;
        const size_t P = (size_t)count * ohw;
        im2col(col, in + (size_t)first * in_image, count, d);
        if (count == 1) {
            /* one image: (OC, OH*OW) is already its NCHW layout, no staging */
            float *out_n = out + (size_t)first * out_image;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->OC, (int)P, (int)K, 1.0f, w,
                        (int)K, col, (int)P, 0.0f, out_n, (int)P);
            for (int oc = 0; oc < d->OC; oc++)
                finish_plane(out_n + (size_t)oc * ohw, NULL, b[oc], ohw, act, alpha);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->OC, (int)P, (int)K, 1.0f, w,
                    (int)K, col, (int)P, 0.0f, staging, (int)P);
        /* (OC, count*OH*OW) -> (count, OC, OH*OW), adding the bias on the way */
        for (int n = 0; n < count; n++) {
            float *out_n = out + (size_t)(first + n) * out_image;
            for (int oc = 0; oc < d->OC; oc++) {
                const float *src = staging + (size_t)oc * P + (size_t)n * ohw;
                finish_plane(out_n + (size_t)oc * ohw, src, b[oc], ohw, act, alpha);
            }
        }
    }
}

void conv2d_forward(float *out, float *ws, const float *in, const float *w, const float *b,
                    const conv2d_dims *d)
{
    forward(out, ws, in, w, b, d, NO_ACTIVATION, 0.0f);
}

void conv2d_forward_act(float *out, float *ws, const float *in, const float *w, const float *b,
                        const conv2d_dims *d, hp_activation act, float alpha)
{
    forward(out, ws, in, w, b, d, (int)act, alpha);
}

void conv2d_backward(float *d_in, float *d_w, float *d_b, float *ws, const float *d_out,
                     const float *in, const float *w, const conv2d_dims *d)
{
    const int tile = winograd_tile(d);
    if (tile) {
        conv_winograd_backward(d_in, d_w, d_b, ws, d_out, in, w, d, tile);
        return;
    }
    const int G = conv_chunk_images(d);
    const size_t K = col_rows(d), ohw = (size_t)d->OH * d->OW;
    const size_t in_image = (size_t)d->C * d->H * d->W, out_image = (size_t)d->OC * ohw;
    float *col = ws;                          /* (K, G*OH*OW) */
    float *staging = ws + K * (size_t)G * ohw; /* (OC, G*OH*OW) */
    for (int first = 0; first < d->N; first += G) {
        const int count = d->N - first < G ? d->N - first : G;
        const size_t P = (size_t)count * ohw;
        im2col(col, in + (size_t)first * in_image, count, d);
        /* g (OC, P): the chunk's d_out as (OC, count*OH*OW); for one image
           that is d_out itself, otherwise it is gathered into staging.  The
           bias gradient is the sum of each row. */
        const float *g = d_out + (size_t)first * out_image;
        for (int n = 0; n < count; n++) {
            const float *d_out_n = d_out + (size_t)(first + n) * out_image;
            for (int oc = 0; oc < d->OC; oc++) {
                const float *src = d_out_n + (size_t)oc * ohw;
                if (count > 1)
                    memcpy(staging + (size_t)oc * P + (size_t)n * ohw, src, ohw * sizeof *src);
                d_b[oc] += hp_sum_floats(src, ohw);
            }
        }
        if (count > 1)
            g = staging;
        /* d_w (OC, K) += g (OC, P) . col^T (P, K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->OC, (int)K, (int)P, 1.0f, g,
                    (int)P, col, (int)P, 1.0f, d_w, (int)K);
        if (!d_in)
            continue;
        /* col (K, P) = w^T (K, OC) . g (OC, P); the input copy in col is spent */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, d->OC, 1.0f, w,
                    (int)K, g, (int)P, 0.0f, col, (int)P);
        col2im(d_in + (size_t)first * in_image, col, count, d);
    }
}
