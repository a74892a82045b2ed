/* conv_winograd.c - 3x3 and 5x5 stride-1 convolution by Winograd's minimal
 * filtering F(m x m, r x r) with m = 2 or 4: F(2x2, 3x3), F(2x2, 5x5),
 * F(4x4, 3x3) and F(4x4, 5x5).
 *
 * Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR
 * 2016), section 4.  The output is cut into m x m tiles; for an r x r kernel
 * (r = 3 or 5) tile (ty, tx) of image n needs the alpha x alpha input patch
 * d (alpha = m + r - 1 = 4, 6 or 8) at rows m ty - pad_top + [0, alpha),
 * columns m tx - pad_left + [0, alpha) (zero outside the image), and
 *
 *     y (m x m) = A^T [ (G g G^T) .* (B^T d B) ] A        g: one r x r filter
 *
 * F(2x2, 3x3) (Lavin's matrices, points 0, 1, -1, inf):
 *
 *   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *         [0 -1  1  0]         [1/2 -1/2  1/2]
 *         [0  1  0 -1]         [ 0    0    1 ]
 *
 * F(2x2, 5x5): the Toom-Cook construction (Lavin's section 4) with the
 * points 0, 1, -1, 1/2, -2, inf: A^T[i][j] = a_j^i, G[j][k] = a_j^k /
 * prod_{l != j} (a_j - a_l), the inf point's column of A^T and row of G
 * picking the last element, and B^T solved exactly (in rationals) so that
 * the identity holds:
 *
 *   B^T = [1 -3/2   -2  3/2   1  0]    G = [    1      0      0      0      0]
 *         [0   -1  1/2  5/2   1  0]        [  1/3    1/3    1/3    1/3    1/3]
 *         [0    1 -5/2  1/2   1  0]        [ -1/3    1/3   -1/3    1/3   -1/3]
 *         [0   -2   -1    2   1  0]        [-16/15 -8/15  -4/15  -2/15  -1/15]
 *         [0  1/2   -1 -1/2   1  0]        [ 1/15  -2/15   4/15  -8/15  16/15]
 *         [0    1 -3/2   -2 3/2  1]        [    0      0      0      0      1]
 *
 *   A^T = [1  1   1    1   1  0]
 *         [0  1  -1  1/2  -2  1]
 *
 * These points rather than Lavin's 0, 1, -1, 2, -2 (integer B^T with 4s and
 * 5s, G with 1/4, 1/6, 1/24): a float32 simulation of 64-channel tiles of
 * uniform [-1, 1] data gave a worst error of 7.7e-5 against 1.9e-4 for
 * 0, +-1, +-2 (median 2.7e-5 against 3.7e-5; 0, +-1, +-1/2: 4.2e-5,
 * 1.6e-4).  tests/bench/winograd_points.py derives the matrices, checks the
 * identity exactly and repeats that comparison.  Every coefficient
 * of B^T and A^T is exact in binary; G's thirds and fifteenths are rounded
 * once (the backward uses the same rounded G, so it stays the adjoint).
 *
 * F(4x4, 3x3): the same six points, hence the same B^T (and B) as F(2,5);
 * G is F(2,5)'s first three columns with the inf row [0 0 1], and
 *
 *   A^T = [1  1   1    1    1  0]
 *         [0  1  -1  1/2   -2  0]
 *         [0  1   1  1/4    4  0]
 *         [0  1  -1  1/8   -8  1]
 *
 * (float32 simulation: median error 2.3e-5, worst 4.2e-5; Lavin's
 * 0, +-1, +-2: 3.2e-5, 9.4e-5).  36 multiplications per 16 outputs instead
 * of 144: 4x fewer than im2col, 1.78x fewer than F(2x2, 3x3).
 *
 * F(4x4, 5x5): points 0, 1, -1, 2, -2, 1/2, -1/2, inf (alpha 8):
 *
 *   B^T = [-1    0  21/4     0  -21/4     0  1  0]
 *         [ 0    1     1 -17/4  -17/4     1  1  0]
 *         [ 0   -1     1  17/4  -17/4    -1  1  0]
 *         [ 0  1/2   1/4  -5/2   -5/4     2  1  0]
 *         [ 0 -1/2   1/4   5/2   -5/4    -2  1  0]
 *         [ 0    2     4  -5/2     -5   1/2  1  0]
 *         [ 0   -2     4   5/2     -5  -1/2  1  0]
 *         [ 0   -1     0  21/4      0 -21/4  0  1]
 *
 *   G = [  -1      0      0      0      0]    A^T = [1  1   1  1   1    1     1  0]
 *       [-2/9   -2/9   -2/9   -2/9   -2/9]          [0  1  -1  2  -2  1/2  -1/2  0]
 *       [-2/9    2/9   -2/9    2/9   -2/9]          [0  1   1  4   4  1/4   1/4  0]
 *       [1/90   1/45   2/45   4/45   8/45]          [0  1  -1  8  -8  1/8  -1/8  1]
 *       [1/90  -1/45   2/45  -4/45   8/45]
 *       [32/45 16/45   8/45   4/45   2/45]
 *       [32/45 -16/45  8/45  -4/45   2/45]
 *       [   0      0      0      0      1]
 *
 * (float32 simulation: median 1.0e-4, worst 3.7e-4, about 4x F(2,5)'s).
 * 64 multiplications per 16 outputs instead of 400: 6.25x fewer than
 * im2col, 2.25x fewer than F(2x2, 5x5).  The code writes these transforms
 * with the sums and differences the pairs of points share (1 and -1, ...).
 *
 * Summed over the input channels, each of the xi = alpha^2 (16, 36 or 64)
 * elements of the transformed tile is a matrix product over a block of Tb
 * tiles:
 *
 *     M[xi] (OC, Tb) = U[xi] (OC, C) . V[xi] (C, Tb)
 *     U[xi][oc][c] = (G g[oc][c] G^T)[xi],   V[xi][c][t] = (B^T d[c][t] B)[xi]
 *
 * i.e. alpha^2 sgemm calls; for 2x2 tiles 16 (36) multiplies per 4 outputs
 * instead of 36 (100): 2.25x (2.78x) fewer than im2col; for 4x4 tiles 36
 * (64) per 16 outputs, 4x (6.25x) fewer.  The backward pass is the exact
 * adjoint of these steps (so the gradient is the gradient of what forward
 * computed):
 *
 *     DY[xi] = (A dY A^T)[xi]                   dY: the m x m output-gradient tile
 *     dU[xi] (OC, C) += DY[xi] (OC, Tb) . V[xi]^T (Tb, C)     over all blocks
 *     Z[xi] (C, Tb) = U[xi]^T (C, OC) . DY[xi] (OC, Tb)
 *     d_in += B Z B^T, overlapping alpha x alpha patches added up;  d_w += G^T dU G
 *
 * Blocks are runs of whole tile rows (a tile row may follow one of another
 * image), sized so the block's V and M stay in L2 and the products run
 * from cache.  Transforms are separable: an alpha-point transform along the
 * rows of a block's tiles, then along the columns, each a loop over all the
 * block's tiles of one channel (lanes of 8, so -O2 vectorises them).  The
 * row stride of every transformed array is ldt = Tb rounded up to 8; lanes
 * past Tb hold finite junk that no result reads.  3x3 layers with same
 * padding and even widths have an AVX2 register path (conv_winograd_fast.h)
 * that fuses gathering, transforms and scattering; the other three always
 * take the general path.
 *
 * Numerics: the same products summed in another order than im2col's sgemm
 * (and the transforms add a few roundings): results differ from im2col in
 * the last bits (5x5: 3-12x more than 3x3, see test_layers.c), not in
 * how they are computed run to run.  The order is fixed, so results are
 * reproducible for the same kernels and threads.
 */
/* GCC turns the copy-like rows of the transforms (o0 = x0 ...) and short
   copies into memmove/memcpy calls on rows of 8-32 floats, which cost more
   than the copies (4.5% of a 5x5 network's training, perf). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif
#include "conv_winograd.h"
#include "vecsum.h"

#include <cblas.h>
#include <string.h>
#if defined(__AVX2__) || defined(__SSE__)
#include <immintrin.h>
#endif

#include "error.h"

enum { LANES = 8, XI_GAP = 16 /* floats: one cache line */ };

/* The filter transforms G (alpha x r) of F(2,5), F(4,3) and F(4,5) (header
   comment), rows of 8 floats (the largest r is 5: the rest is unused). */
typedef float gmatrix[8][8];
static const gmatrix G25 = {
    {1, 0, 0, 0, 0},
    {1.0f / 3, 1.0f / 3, 1.0f / 3, 1.0f / 3, 1.0f / 3},
    {-1.0f / 3, 1.0f / 3, -1.0f / 3, 1.0f / 3, -1.0f / 3},
    {-16.0f / 15, -8.0f / 15, -4.0f / 15, -2.0f / 15, -1.0f / 15},
    {1.0f / 15, -2.0f / 15, 4.0f / 15, -8.0f / 15, 16.0f / 15},
    {0, 0, 0, 0, 1}};
static const gmatrix G43 = {
    {1, 0, 0},
    {1.0f / 3, 1.0f / 3, 1.0f / 3},
    {-1.0f / 3, 1.0f / 3, -1.0f / 3},
    {-16.0f / 15, -8.0f / 15, -4.0f / 15},
    {1.0f / 15, -2.0f / 15, 4.0f / 15},
    {0, 0, 1}};
static const gmatrix G45 = {
    {-1, 0, 0, 0, 0},
    {-2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9},
    {1.0f / 90, 1.0f / 45, 2.0f / 45, 4.0f / 45, 8.0f / 45},
    {1.0f / 90, -1.0f / 45, 2.0f / 45, -4.0f / 45, 8.0f / 45},
    {32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45},
    {32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45},
    {0, 0, 0, 0, 1}};

/* Target tiles per block.  Measured on the CIFAR layers (32 and 64
   channels, OpenBLAS SkylakeX kernel): the 16 products of 32-128 tiles run
   at the sgemm peak from L2; 512 and more fall to 60-75% of it. */
#ifndef WINOGRAD_BLOCK_TILES
#define WINOGRAD_BLOCK_TILES 128
#endif
/* The same for 5x5 (36 planes per tile), measured on 120 channels at 16x16
   and 8x8: 32 tiles ran 5-15% faster forward than 56 or 128, backward the
   same within noise. */
#ifndef WINOGRAD_BLOCK_TILES5
#define WINOGRAD_BLOCK_TILES5 32
#endif
/* The same for 4x4 output tiles (36 or 64 planes per tile). */
#ifndef WINOGRAD_BLOCK_TILES4
#define WINOGRAD_BLOCK_TILES4 32
#endif

/* Geometry and workspace of one call. */
typedef struct plan {
    int m;              /* output tile m x m: 2 or 4 */
    int r, alpha, xi;   /* kernel size 3 or 5; tile input alpha = m + r - 1; xi = alpha^2 elements */
    int TH, TW;         /* tiles per image: ceil(OH/m) x ceil(OW/m) */
    int rows;           /* tile rows in the batch: N*TH */
    int block_rows;     /* tile rows per block */
    size_t ldt;         /* row stride of the transformed arrays: block tiles rounded up to 8 */
    size_t row_len;     /* padded input row: m*TW + r - 1 */
    size_t u_xi, v_xi, m_xi; /* distance between the xi planes of U/dU, V, M */
    float *U;           /* (xi, OC, C) transformed filters, planes u_xi apart */
    float *dU;          /* (xi, OC, C) their gradient (backward), the same */
    float *V;           /* (xi, C, ldt) transformed input tiles, v_xi apart; Z in backward */
    float *M;           /* (xi, OC, ldt) products, m_xi apart; DY in backward */
    float *S1, *S2;     /* (xi, ldt) each: per-channel scratch */
    float *rowbuf;      /* 8 rows of row_stride */
    float *rows_buf;    /* phases * alpha * block_rows rows of row_stride (phases = ceil(alpha/m)) */
    size_t row_fill;    /* floats of a padded row the gathers read: row_len or a little more */
    size_t row_stride;  /* round_up8(row_fill) + 8 */
} plan;

static size_t round_up8(size_t n) { return (n + LANES - 1) / LANES * LANES; }

/* Groups of m patch columns in an alpha-wide patch (add_input_gradient). */
static int plan_phases(const plan *p) { return (p->alpha + p->m - 1) / p->m; }

/* Fills p; with ws == NULL only the sizes (the total is returned). */
static size_t plan_init(plan *p, const conv2d_dims *d, int m, float *ws)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->r = d->KH;
    p->alpha = m + p->r - 1;
    p->xi = p->alpha * p->alpha;
    p->TH = (d->OH + m - 1) / m;
    p->TW = (d->OW + m - 1) / m;
    p->rows = d->N * p->TH;
    const int block_tiles = m == 4 ? WINOGRAD_BLOCK_TILES4
                            : p->r == 3 ? WINOGRAD_BLOCK_TILES : WINOGRAD_BLOCK_TILES5;
    p->block_rows = block_tiles / p->TW;
    if (p->block_rows < 1)
        p->block_rows = 1;
    if (p->block_rows > p->rows)
        p->block_rows = p->rows;
    p->ldt = round_up8((size_t)p->block_rows * p->TW);
    p->row_len = (size_t)m * p->TW + (size_t)p->r - 1;
    /* the gathers read m-wide groups: up to column m (TW + phases) - 1 */
    const size_t groups_end = (size_t)m * (p->TW + plan_phases(p));
    p->row_fill = groups_end > p->row_len ? groups_end : p->row_len;
    p->row_stride = round_up8(p->row_fill) + LANES;
    /* The xi planes of each array are one cache line more than their size
       apart: whole multiples of 4 KB put the 16 rows a transform touches in
       one L1 set, which holds fewer (measured: 1.5x slower transforms). */
    p->u_xi = (size_t)d->OC * d->C + XI_GAP;
    p->v_xi = (size_t)d->C * p->ldt + XI_GAP;
    p->m_xi = (size_t)d->OC * p->ldt + XI_GAP;
    const size_t xi = (size_t)p->xi;
    const size_t sizes[8] = {xi * p->u_xi,
                             xi * p->u_xi,
                             xi * p->v_xi,
                             xi * p->m_xi,
                             xi * p->ldt,
                             xi * p->ldt,
                             8 * p->row_stride,
                             (size_t)plan_phases(p) * p->alpha * p->block_rows * p->row_stride};
    float **slots[8] = {&p->U, &p->dU, &p->V, &p->M, &p->S1, &p->S2, &p->rowbuf, &p->rows_buf};
    size_t total = 0;
    for (int i = 0; i < 8; i++) {
        if (ws)
            *slots[i] = ws + total;
        total += sizes[i];
    }
    return total;
}

int conv_winograd_shape(const conv2d_dims *d)
{
    return (d->KH == 3 || d->KH == 5) && d->KW == d->KH && d->stride == 1;
}

size_t conv_winograd_workspace_floats(const conv2d_dims *d, int m)
{
    plan p;
    return plan_init(&p, d, m, NULL);
}

/* ------------------------------------------------- lane-wise transforms -- */
/* Each applies one 4-point (or 2-point) transform to whole rows of lanes:
   o_i[l] = sum_k T[i][k] in_k[l] for l in [0, n), n a multiple of 8. */

/* B^T:  o0 = i0 - i2,  o1 = i1 + i2,  o2 = i2 - i1,  o3 = i1 - i3 */
static void rows_bt(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                    const float *restrict i0, const float *restrict i1, const float *restrict i2,
                    const float *restrict i3, size_t n)
{
    for (size_t j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float a = i0[j + l], b = i1[j + l], c = i2[j + l], e = i3[j + l];
            o0[j + l] = a - c;
            o1[j + l] = b + c;
            o2[j + l] = c - b;
            o3[j + l] = b - e;
        }
}

/* A^T:  o0 = i0 + i1 + i2,  o1 = i1 - i2 - i3 */
static void rows_at(float *restrict o0, float *restrict o1, const float *restrict i0,
                    const float *restrict i1, const float *restrict i2, const float *restrict i3,
                    size_t n)
{
    for (size_t j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float a = i0[j + l], b = i1[j + l], c = i2[j + l], e = i3[j + l];
            o0[j + l] = a + b + c;
            o1[j + l] = b - c - e;
        }
}

/* A^T, then + bias and ReLU ((v > 0 ? v : 0), activation_forward's select) */
static void rows_at_bias(float *restrict o0, float *restrict o1, const float *restrict i0,
                         const float *restrict i1, const float *restrict i2,
                         const float *restrict i3, float bias, int relu, size_t n)
{
    if (relu) {
        for (size_t j = 0; j < n; j += LANES)
            for (int l = 0; l < LANES; l++) {
                const float a = i0[j + l], b = i1[j + l], c = i2[j + l], e = i3[j + l];
                const float v0 = (a + b + c) + bias, v1 = (b - c - e) + bias;
                o0[j + l] = v0 > 0.0f ? v0 : 0.0f;
                o1[j + l] = v1 > 0.0f ? v1 : 0.0f;
            }
        return;
    }
    for (size_t j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float a = i0[j + l], b = i1[j + l], c = i2[j + l], e = i3[j + l];
            o0[j + l] = (a + b + c) + bias;
            o1[j + l] = (b - c - e) + bias;
        }
}

/* A (the adjoint of A^T):  o0 = i0,  o1 = i0 + i1,  o2 = i0 - i1,  o3 = -i1 */
static void rows_a(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                   const float *restrict i0, const float *restrict i1, size_t n)
{
    for (size_t j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float a = i0[j + l], b = i1[j + l];
            o0[j + l] = a;
            o1[j + l] = a + b;
            o2[j + l] = a - b;
            o3[j + l] = -b;
        }
}

/* B (the adjoint of B^T):  o0 = i0,  o1 = i1 - i2 + i3,  o2 = i1 + i2 - i0,  o3 = -i3 */
static void rows_b(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                   const float *restrict i0, const float *restrict i1, const float *restrict i2,
                   const float *restrict i3, size_t n)
{
    for (size_t j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float a = i0[j + l], b = i1[j + l], c = i2[j + l], e = i3[j + l];
            o0[j + l] = a;
            o1[j + l] = b - c + e;
            o2[j + l] = b + c - a;
            o3[j + l] = -e;
        }
}

/* The four F(2,5) transforms written out (B^T, B, A^T, A of the header
   comment), each output the sum of its nonzero terms in column order. */
#define LANE_LOOP(...)                                                                              \
    for (size_t j = 0; j < n; j += LANES)                                                          \
        for (int l = 0; l < LANES; l++) {                                                          \
            const size_t e = j + l;                                                                \
            __VA_ARGS__                                                                            \
        }
static void rows_bt6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                     float *restrict o4, float *restrict o5, const float *restrict i0,
                     const float *restrict i1, const float *restrict i2, const float *restrict i3,
                     const float *restrict i4, const float *restrict i5, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e], x4 = i4[e], x5 = i5[e];
              o0[e] = x0 + -1.5f * x1 + -2.0f * x2 + 1.5f * x3 + x4;
              o1[e] = -x1 + 0.5f * x2 + 2.5f * x3 + x4;
              o2[e] = x1 + -2.5f * x2 + 0.5f * x3 + x4;
              o3[e] = -2.0f * x1 + -x2 + 2.0f * x3 + x4;
              o4[e] = 0.5f * x1 + -x2 + -0.5f * x3 + x4;
              o5[e] = x1 + -1.5f * x2 + -2.0f * x3 + 1.5f * x4 + x5;)
}
static void rows_b6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                    float *restrict o4, float *restrict o5, const float *restrict i0,
                    const float *restrict i1, const float *restrict i2, const float *restrict i3,
                    const float *restrict i4, const float *restrict i5, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e], x4 = i4[e], x5 = i5[e];
              o0[e] = x0;
              o1[e] = -1.5f * x0 + -x1 + x2 + -2.0f * x3 + 0.5f * x4 + x5;
              o2[e] = -2.0f * x0 + 0.5f * x1 + -2.5f * x2 + -x3 + -x4 + -1.5f * x5;
              o3[e] = 1.5f * x0 + 2.5f * x1 + 0.5f * x2 + 2.0f * x3 + -0.5f * x4 + -2.0f * x5;
              o4[e] = x0 + x1 + x2 + x3 + x4 + 1.5f * x5;
              o5[e] = x5;)
}
static void rows_at6(float *restrict o0, float *restrict o1, const float *restrict i0,
                     const float *restrict i1, const float *restrict i2, const float *restrict i3,
                     const float *restrict i4, const float *restrict i5, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e], x4 = i4[e], x5 = i5[e];
              o0[e] = x0 + x1 + x2 + x3 + x4;
              o1[e] = x1 + -x2 + 0.5f * x3 + -2.0f * x4 + x5;)
}
static void rows_a6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                    float *restrict o4, float *restrict o5, const float *restrict i0,
                    const float *restrict i1, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e];
              o0[e] = x0;
              o1[e] = x0 + x1;
              o2[e] = x0 + -x1;
              o3[e] = x0 + 0.5f * x1;
              o4[e] = x0 + -2.0f * x1;
              o5[e] = x1;)
}

/* F(4,3) (alpha 6, points 0, 1, -1, 1/2, -2, inf: the same points as F(2,5),
   so the same B^T and B, rows_bt6 and rows_b6) and F(4,5) (alpha 8, points
   0, 1, -1, 2, -2, 1/2, -1/2, inf); the matrices are in the header comment,
   written here with the pairs the points' symmetry gives (s = x1 + x2,
   d = x1 - x2, ...), which halves the additions. */
static void rows_at4_6(float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, const float *restrict i0, const float *restrict i1,
                       const float *restrict i2, const float *restrict i3,
                       const float *restrict i4, const float *restrict i5, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x3 = i3[e], x4 = i4[e], x5 = i5[e];
              const float s = i1[e] + i2[e], d = i1[e] - i2[e];
              o0[e] = x0 + s + x3 + x4;
              o1[e] = d + 0.5f * x3 + -2.0f * x4;
              o2[e] = s + 0.25f * x3 + 4.0f * x4;
              o3[e] = d + 0.125f * x3 + -8.0f * x4 + x5;)
}
static void rows_a4_6(float *restrict o0, float *restrict o1, float *restrict o2,
                      float *restrict o3, float *restrict o4, float *restrict o5,
                      const float *restrict i0, const float *restrict i1,
                      const float *restrict i2, const float *restrict i3, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e];
              const float even = x0 + x2, odd = x1 + x3;
              o0[e] = x0;
              o1[e] = even + odd;
              o2[e] = even - odd;
              o3[e] = x0 + 0.5f * x1 + 0.25f * x2 + 0.125f * x3;
              o4[e] = x0 + -2.0f * x1 + 4.0f * x2 + -8.0f * x3;
              o5[e] = x3;)
}
static void rows_bt8(float *restrict o0, float *restrict o1, float *restrict o2,
                     float *restrict o3, float *restrict o4, float *restrict o5,
                     float *restrict o6, float *restrict o7, const float *restrict i0,
                     const float *restrict i1, const float *restrict i2,
                     const float *restrict i3, const float *restrict i4,
                     const float *restrict i5, const float *restrict i6,
                     const float *restrict i7, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e], x4 = i4[e], x5 = i5[e],
                          x6 = i6[e], x7 = i7[e];
              const float a1 = x2 + x6 - 4.25f * x4, b1 = x1 + x5 - 4.25f * x3;
              const float a2 = x6 + 0.25f * x2 - 1.25f * x4, b2 = 0.5f * x1 - 2.5f * x3 + 2.0f * x5;
              const float a3 = x6 + 4.0f * x2 - 5.0f * x4, b3 = 2.0f * x1 - 2.5f * x3 + 0.5f * x5;
              o0[e] = (x6 - x0) + 5.25f * (x2 - x4);
              o1[e] = a1 + b1;
              o2[e] = a1 - b1;
              o3[e] = a2 + b2;
              o4[e] = a2 - b2;
              o5[e] = a3 + b3;
              o6[e] = a3 - b3;
              o7[e] = (x7 - x1) + 5.25f * (x3 - x5);)
}
static void rows_b8(float *restrict o0, float *restrict o1, float *restrict o2,
                    float *restrict o3, float *restrict o4, float *restrict o5,
                    float *restrict o6, float *restrict o7, const float *restrict i0,
                    const float *restrict i1, const float *restrict i2,
                    const float *restrict i3, const float *restrict i4,
                    const float *restrict i5, const float *restrict i6,
                    const float *restrict i7, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x7 = i7[e];
              const float s1 = i1[e] + i2[e], d1 = i1[e] - i2[e];
              const float s2 = i3[e] + i4[e], d2 = i3[e] - i4[e];
              const float s3 = i5[e] + i6[e], d3 = i5[e] - i6[e];
              o0[e] = -x0;
              o1[e] = d1 + 0.5f * d2 + 2.0f * d3 - x7;
              o2[e] = 5.25f * x0 + s1 + 0.25f * s2 + 4.0f * s3;
              o3[e] = -4.25f * d1 - 2.5f * d2 - 2.5f * d3 + 5.25f * x7;
              o4[e] = -5.25f * x0 - 4.25f * s1 - 1.25f * s2 - 5.0f * s3;
              o5[e] = d1 + 2.0f * d2 + 0.5f * d3 - 5.25f * x7;
              o6[e] = x0 + s1 + s2 + s3;
              o7[e] = x7;)
}
static void rows_at4_8(float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, const float *restrict i0, const float *restrict i1,
                       const float *restrict i2, const float *restrict i3,
                       const float *restrict i4, const float *restrict i5,
                       const float *restrict i6, const float *restrict i7, size_t n)
{
    LANE_LOOP(const float s1 = i1[e] + i2[e], d1 = i1[e] - i2[e];
              const float s2 = i3[e] + i4[e], d2 = i3[e] - i4[e];
              const float s3 = i5[e] + i6[e], d3 = i5[e] - i6[e];
              o0[e] = i0[e] + s1 + s2 + s3;
              o1[e] = d1 + 2.0f * d2 + 0.5f * d3;
              o2[e] = s1 + 4.0f * s2 + 0.25f * s3;
              o3[e] = d1 + 8.0f * d2 + 0.125f * d3 + i7[e];)
}
static void rows_a4_8(float *restrict o0, float *restrict o1, float *restrict o2,
                      float *restrict o3, float *restrict o4, float *restrict o5,
                      float *restrict o6, float *restrict o7, const float *restrict i0,
                      const float *restrict i1, const float *restrict i2,
                      const float *restrict i3, size_t n)
{
    LANE_LOOP(const float x0 = i0[e], x1 = i1[e], x2 = i2[e], x3 = i3[e];
              const float e1 = x0 + x2, f1 = x1 + x3;
              const float e2 = x0 + 4.0f * x2, f2 = 2.0f * x1 + 8.0f * x3;
              const float e3 = x0 + 0.25f * x2, f3 = 0.5f * x1 + 0.125f * x3;
              o0[e] = x0;
              o1[e] = e1 + f1;
              o2[e] = e1 - f1;
              o3[e] = e2 + f2;
              o4[e] = e2 - f2;
              o5[e] = e3 + f3;
              o6[e] = e3 - f3;
              o7[e] = x3;)
}
#undef LANE_LOOP

/* The four transforms of a plan's size on rows of lanes: F(2,3) (alpha 4),
   F(2,5) (alpha 6, m 2), F(4,3) (alpha 6, m 4), F(4,5) (alpha 8).  o and in
   hold the row pointers (alpha or m of them). */
static void lanes_bt(const plan *p, float *const o[], const float *const in[], size_t n)
{
    if (p->alpha == 4)
        rows_bt(o[0], o[1], o[2], o[3], in[0], in[1], in[2], in[3], n);
    else if (p->alpha == 6)
        rows_bt6(o[0], o[1], o[2], o[3], o[4], o[5], in[0], in[1], in[2], in[3], in[4], in[5], n);
    else
        rows_bt8(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], in[0], in[1], in[2], in[3], in[4],
                 in[5], in[6], in[7], n);
}
static void lanes_b(const plan *p, float *const o[], const float *const in[], size_t n)
{
    if (p->alpha == 4)
        rows_b(o[0], o[1], o[2], o[3], in[0], in[1], in[2], in[3], n);
    else if (p->alpha == 6)
        rows_b6(o[0], o[1], o[2], o[3], o[4], o[5], in[0], in[1], in[2], in[3], in[4], in[5], n);
    else
        rows_b8(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], in[0], in[1], in[2], in[3], in[4],
                in[5], in[6], in[7], n);
}
static void lanes_at(const plan *p, float *const o[], const float *const in[], size_t n)
{
    if (p->alpha == 4)
        rows_at(o[0], o[1], in[0], in[1], in[2], in[3], n);
    else if (p->alpha == 6 && p->m == 2)
        rows_at6(o[0], o[1], in[0], in[1], in[2], in[3], in[4], in[5], n);
    else if (p->alpha == 6)
        rows_at4_6(o[0], o[1], o[2], o[3], in[0], in[1], in[2], in[3], in[4], in[5], n);
    else
        rows_at4_8(o[0], o[1], o[2], o[3], in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], n);
}
static void lanes_a(const plan *p, float *const o[], const float *const in[], size_t n)
{
    if (p->alpha == 4)
        rows_a(o[0], o[1], o[2], o[3], in[0], in[1], n);
    else if (p->alpha == 6 && p->m == 2)
        rows_a6(o[0], o[1], o[2], o[3], o[4], o[5], in[0], in[1], n);
    else if (p->alpha == 6)
        rows_a4_6(o[0], o[1], o[2], o[3], o[4], o[5], in[0], in[1], in[2], in[3], n);
    else
        rows_a4_8(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], in[0], in[1], in[2], in[3], n);
}
/* A^T, + bias, ReLU (see rows_at_bias) */
static void lanes_at_bias(const plan *p, float *const o[], const float *const in[], float bias,
                          int relu, size_t n)
{
    if (p->alpha == 4) {
        rows_at_bias(o[0], o[1], in[0], in[1], in[2], in[3], bias, relu, n);
        return;
    }
    lanes_at(p, o, in, n);
    for (int i = 0; i < p->m; i++)
        for (size_t j = 0; j < n; j += LANES)
            for (int l = 0; l < LANES; l++) {
                const float v = o[i][j + l] + bias;
                o[i][j + l] = relu ? (v > 0.0f ? v : 0.0f) : v;
            }
}

/* ------------------------------------------------------ (de)interleave -- */

/* even[j] = src[2j], odd[j] = src[2j+1], j in [0, pairs) */
static inline void deinterleave(float *restrict even, float *restrict odd, const float *restrict src,
                         int pairs)
{
    int j = 0;
#ifdef __AVX2__
    for (; j + 8 <= pairs; j += 8) {
        const __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_loadu_ps(src + 2 * j + 8);
        /* per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit permute orders them */
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(even + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        _mm256_storeu_ps(odd + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
    }
    for (; j + 4 <= pairs; j += 4) {
        const __m128 a = _mm_loadu_ps(src + 2 * j), b = _mm_loadu_ps(src + 2 * j + 4);
        _mm_storeu_ps(even + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm_storeu_ps(odd + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    }
#endif
    for (; j < pairs; j++) {
        even[j] = src[2 * j];
        odd[j] = src[2 * j + 1];
    }
}

/* dst[2j] = even[j], dst[2j+1] = odd[j], j in [0, pairs) */
static inline void interleave(float *restrict dst, const float *restrict even, const float *restrict odd,
                       int pairs)
{
    int j = 0;
#ifdef __AVX2__
    for (; j + 8 <= pairs; j += 8) {
        const __m256 e = _mm256_loadu_ps(even + j), o = _mm256_loadu_ps(odd + j);
        const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
        _mm256_storeu_ps(dst + 2 * j, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(dst + 2 * j + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    for (; j + 4 <= pairs; j += 4) {
        const __m128 e = _mm_loadu_ps(even + j), o = _mm_loadu_ps(odd + j);
        _mm_storeu_ps(dst + 2 * j, _mm_unpacklo_ps(e, o));
        _mm_storeu_ps(dst + 2 * j + 4, _mm_unpackhi_ps(e, o));
    }
#endif
    for (; j < pairs; j++) {
        dst[2 * j] = even[j];
        dst[2 * j + 1] = odd[j];
    }
}

/* c_s[j] = src[4j + s], s in [0, 4), j in [0, n) (4x4 output tiles) */
static inline void deinterleave4(float *restrict c0, float *restrict c1, float *restrict c2,
                                 float *restrict c3, const float *restrict src, int n)
{
    int j = 0;
#ifdef __SSE__
    for (; j + 4 <= n; j += 4) {
        __m128 a = _mm_loadu_ps(src + 4 * j), b = _mm_loadu_ps(src + 4 * j + 4);
        __m128 c = _mm_loadu_ps(src + 4 * j + 8), e = _mm_loadu_ps(src + 4 * j + 12);
        _MM_TRANSPOSE4_PS(a, b, c, e);
        _mm_storeu_ps(c0 + j, a);
        _mm_storeu_ps(c1 + j, b);
        _mm_storeu_ps(c2 + j, c);
        _mm_storeu_ps(c3 + j, e);
    }
#endif
    for (; j < n; j++) {
        c0[j] = src[4 * j];
        c1[j] = src[4 * j + 1];
        c2[j] = src[4 * j + 2];
        c3[j] = src[4 * j + 3];
    }
}

/* dst[4j + s] = c[s][j], s in [0, 4), j in [0, n); a NULL c[s] is zeros */
static inline void interleave4(float *restrict dst, const float *const c[4], int n)
{
    int j = 0;
#ifdef __SSE__
    for (; j + 4 <= n; j += 4) {
        __m128 v[4];
        for (int q = 0; q < 4; q++)
            v[q] = c[q] ? _mm_loadu_ps(c[q] + j) : _mm_setzero_ps();
        _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
        for (int q = 0; q < 4; q++)
            _mm_storeu_ps(dst + 4 * j + 4 * q, v[q]);
    }
#endif
    for (; j < n; j++)
        for (int q = 0; q < 4; q++)
            dst[4 * j + q] = c[q] ? c[q][j] : 0.0f;
}

/* dst[j] (+)= a[j] + b[j], j in [0, n): added when accumulate, else stored */
static inline void add_pair(float *restrict dst, const float *restrict a, const float *restrict b,
                            size_t n, int accumulate)
{
    size_t j = 0;
    if (accumulate) {
        for (; j + LANES <= n; j += LANES)
            for (int l = 0; l < LANES; l++)
                dst[j + l] += a[j + l] + b[j + l];
        for (; j < n; j++)
            dst[j] += a[j] + b[j];
        return;
    }
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++)
            dst[j + l] = a[j + l] + b[j + l];
    for (; j < n; j++)
        dst[j] = a[j] + b[j];
}

/* dst[j] (+)= (a[j] + b[j]) + c[j], j in [0, n): add_pair for three rows */
static inline void add_triple(float *restrict dst, const float *restrict a, const float *restrict b,
                              const float *restrict c, size_t n, int accumulate)
{
    size_t j = 0;
    if (accumulate) {
        for (; j + LANES <= n; j += LANES)
            for (int l = 0; l < LANES; l++)
                dst[j + l] += (a[j + l] + b[j + l]) + c[j + l];
        for (; j < n; j++)
            dst[j] += (a[j] + b[j]) + c[j];
        return;
    }
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++)
            dst[j + l] = (a[j + l] + b[j + l]) + c[j + l];
    for (; j < n; j++)
        dst[j] = (a[j] + b[j]) + c[j];
}

/* dst[0..n) = src[0..n), inline (the rows are short: a call per row cost
   more; the pragma at the top keeps GCC from making this loop one) */
static inline void copy_floats(float *restrict dst, const float *restrict src, size_t n)
{
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++)
            dst[j + l] = src[j + l];
    for (; j < n; j++)
        dst[j] = src[j];
}

/* Prefetch one image row (n floats at row) of the next channel's plane,
   plane floats further on, for the transform's next call (which takes that
   channel): the planes of a block's images are read (written) one channel
   after another, and loading the rows only when the call comes waits for
   memory.  Measured: 4% of a 5x5 network's training (batch 128). */
static inline void prefetch_row_read(const float *row, size_t plane, size_t n)
{
    for (size_t off = 0; off < n; off += 16)
        __builtin_prefetch(row + plane + off, 0);
}
static inline void prefetch_row_write(const float *row, size_t plane, size_t n)
{
    for (size_t off = 0; off < n; off += 16)
        __builtin_prefetch(row + plane + off, 1);
}

/* ------------------------------------------------------------- filters -- */

/* U[xi][oc][c] = G g G^T for every filter g = w[oc][c] (3x3). */
static void transform_filters3(float *U, size_t per_xi, const float *w, const conv2d_dims *d)
{
    const size_t filters = (size_t)d->OC * d->C;
    for (size_t f = 0; f < filters; f++) {
        const float *g = w + 9 * f;
        float t[4][3]; /* G g: rows of the 4x3 */
        for (int col = 0; col < 3; col++) {
            const float a = g[col], b = g[3 + col], c = g[6 + col];
            t[0][col] = a;
            t[1][col] = 0.5f * (a + b + c);
            t[2][col] = 0.5f * (a - b + c);
            t[3][col] = c;
        }
        for (int i = 0; i < 4; i++) {
            const float a = t[i][0], b = t[i][1], c = t[i][2];
            U[(size_t)(4 * i + 0) * per_xi + f] = a;
            U[(size_t)(4 * i + 1) * per_xi + f] = 0.5f * (a + b + c);
            U[(size_t)(4 * i + 2) * per_xi + f] = 0.5f * (a - b + c);
            U[(size_t)(4 * i + 3) * per_xi + f] = c;
        }
    }
}

/* d_w[oc][c] += G^T dU[.][oc][c] G (the adjoint of transform_filters3). */
static void accumulate_filter_gradient3(float *d_w, const float *dU, size_t per_xi,
                                       const conv2d_dims *d)
{
    const size_t filters = (size_t)d->OC * d->C;
    for (size_t f = 0; f < filters; f++) {
        float x[4][4], p[3][4];
        for (int xi = 0; xi < 16; xi++)
            x[xi / 4][xi % 4] = dU[(size_t)xi * per_xi + f];
        for (int j = 0; j < 4; j++) { /* G^T x: 3x4 */
            const float h = 0.5f * (x[1][j] + x[2][j]);
            p[0][j] = x[0][j] + h;
            p[1][j] = 0.5f * (x[1][j] - x[2][j]);
            p[2][j] = h + x[3][j];
        }
        float *g = d_w + 9 * f;
        for (int k = 0; k < 3; k++) { /* (G^T x) G: 3x3 */
            const float h = 0.5f * (p[k][1] + p[k][2]);
            g[3 * k + 0] += p[k][0] + h;
            g[3 * k + 1] += 0.5f * (p[k][1] - p[k][2]);
            g[3 * k + 2] += h + p[k][3];
        }
    }
}

#ifdef __AVX2__
/* F(4,5)'s filter transforms for eight whole filters in AVX registers (lane
   l: filter f0 + l), with the pairs of F(4,5)'s points (1 and -1, 2 and -2,
   1/2 and -1/2) sharing their even and odd sums (row 2p - 1 of G g is
   E + O, row 2p is E - O: half the multiplications of the row-by-row
   product), and the adjoint the same way.  The filters' 25 weights are turned into lanes
   (and back) by 8x8 transposes instead of 200 scalar loads and stores, the
   part that took most of the transforms' time (10% of a 120-channel 5x5
   network's training at batch 32). */
static inline void transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL(c, x) _mm256_mul_ps(_mm256_set1_ps(c), (x))

/* o[0..8) = G45 (g0..g4) */
static inline void g45_vec(__m256 o[8], __m256 g0, __m256 g1, __m256 g2, __m256 g3, __m256 g4)
{
    const __m256 e1 = V_ADD(V_ADD(g0, g2), g4), o1 = V_ADD(g1, g3);
    const __m256 e2 = V_ADD(V_ADD(V_MUL(1.0f / 90, g0), V_MUL(2.0f / 45, g2)), V_MUL(8.0f / 45, g4));
    const __m256 o2 = V_ADD(V_MUL(1.0f / 45, g1), V_MUL(4.0f / 45, g3));
    const __m256 e3 = V_ADD(V_ADD(V_MUL(32.0f / 45, g0), V_MUL(8.0f / 45, g2)), V_MUL(2.0f / 45, g4));
    const __m256 o3 = V_ADD(V_MUL(16.0f / 45, g1), V_MUL(4.0f / 45, g3));
    o[0] = V_SUB(_mm256_setzero_ps(), g0);
    o[1] = V_MUL(-2.0f / 9, V_ADD(e1, o1));
    o[2] = V_MUL(-2.0f / 9, V_SUB(e1, o1));
    o[3] = V_ADD(e2, o2);
    o[4] = V_SUB(e2, o2);
    o[5] = V_ADD(e3, o3);
    o[6] = V_SUB(e3, o3);
    o[7] = g4;
}

/* o[0..5) = G45^T (x0..x7): the adjoint, with the pairs' sums and differences */
static inline void g45t_vec(__m256 o[5], const __m256 x[8])
{
    const __m256 s1 = V_ADD(x[1], x[2]), d1 = V_SUB(x[1], x[2]);
    const __m256 s2 = V_ADD(x[3], x[4]), d2 = V_SUB(x[3], x[4]);
    const __m256 s3 = V_ADD(x[5], x[6]), d3 = V_SUB(x[5], x[6]);
    const __m256 ms1 = V_MUL(-2.0f / 9, s1), md1 = V_MUL(-2.0f / 9, d1);
    o[0] = V_ADD(V_ADD(V_SUB(ms1, x[0]), V_MUL(1.0f / 90, s2)), V_MUL(32.0f / 45, s3));
    o[1] = V_ADD(V_ADD(md1, V_MUL(1.0f / 45, d2)), V_MUL(16.0f / 45, d3));
    o[2] = V_ADD(V_ADD(ms1, V_MUL(2.0f / 45, s2)), V_MUL(8.0f / 45, s3));
    o[3] = V_ADD(V_ADD(md1, V_MUL(4.0f / 45, d2)), V_MUL(4.0f / 45, d3));
    o[4] = V_ADD(V_ADD(V_ADD(ms1, V_MUL(8.0f / 45, s2)), V_MUL(2.0f / 45, s3)), x[7]);
}

/* g[q] = weight q of filters f0 .. f0 + 7 (w: 25 floats per filter) */
static inline void load_filters5(__m256 g[25], const float *w, size_t f0)
{
    const float *base = w + 25 * f0;
    for (int b = 0; b < 24; b += 8) {
        for (int l = 0; l < 8; l++)
            g[b + l] = _mm256_loadu_ps(base + 25 * l + b);
        transpose8(g + b);
    }
    g[24] = _mm256_setr_ps(base[24], base[49], base[74], base[99], base[124], base[149], base[174],
                           base[199]);
}

static void transform_filters45_avx(float *U, size_t per_xi, const float *w, size_t f0)
{
    __m256 g[25], t[8][5], o[8];
    load_filters5(g, w, f0);
    for (int col = 0; col < 5; col++) { /* G g, column by column */
        g45_vec(o, g[col], g[5 + col], g[10 + col], g[15 + col], g[20 + col]);
        for (int i = 0; i < 8; i++)
            t[i][col] = o[i];
    }
    for (int i = 0; i < 8; i++) { /* row i of (G g) G^T */
        g45_vec(o, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4]);
        for (int j = 0; j < 8; j++)
            _mm256_storeu_ps(U + (size_t)(8 * i + j) * per_xi + f0, o[j]);
    }
}

static void accumulate_filter_gradient45_avx(float *d_w, const float *dU, size_t per_xi, size_t f0)
{
    __m256 x[8], q[5][8], o[5], g[25];
    for (int j = 0; j < 8; j++) { /* column j of G^T dU: along the rows i */
        for (int i = 0; i < 8; i++)
            x[i] = _mm256_loadu_ps(dU + (size_t)(8 * i + j) * per_xi + f0);
        g45t_vec(o, x);
        for (int k = 0; k < 5; k++)
            q[k][j] = o[k];
    }
    for (int k = 0; k < 5; k++) { /* row k of (G^T dU) G */
        g45t_vec(o, q[k]);
        for (int m = 0; m < 5; m++)
            g[5 * k + m] = o[m];
    }
    float *base = d_w + 25 * f0;
    for (int b = 0; b < 24; b += 8) { /* back to 25 floats per filter, added */
        transpose8(g + b);
        for (int l = 0; l < 8; l++)
            _mm256_storeu_ps(base + 25 * l + b, V_ADD(_mm256_loadu_ps(base + 25 * l + b), g[b + l]));
    }
    float last[8];
    _mm256_storeu_ps(last, g[24]);
    for (int l = 0; l < 8; l++)
        base[25 * l + 24] += last[l];
}
#undef V_ADD
#undef V_SUB
#undef V_MUL
#endif

/* U[xi][oc][c] = G g G^T for every filter g = w[oc][c] (r x r, G: the
   plan's alpha x r matrix), eight filters at a time (lane l: filter f0 + l;
   lanes past the last are zero); with AVX2, F(4,5)'s whole groups of eight
   by transform_filters45_avx. */
static void transform_filters_g(float *U, size_t per_xi, const float *w, const conv2d_dims *d,
                                const gmatrix G, int al, int r)
{
    const size_t filters = (size_t)d->OC * d->C, rr = (size_t)r * r;
    for (size_t f0 = 0; f0 < filters; f0 += LANES) {
        const int nf = filters - f0 < LANES ? (int)(filters - f0) : LANES;
#ifdef __AVX2__
        if (G == G45 && nf == LANES) {
            transform_filters45_avx(U, per_xi, w, f0);
            continue;
        }
#endif
        float g[25][LANES], t[8][5][LANES];
        for (size_t q = 0; q < rr; q++)
            for (int l = 0; l < LANES; l++)
                g[q][l] = l < nf ? w[rr * (f0 + (size_t)l) + q] : 0.0f;
        for (int i = 0; i < al; i++) /* G g: alpha x r */
            for (int col = 0; col < r; col++) {
                for (int l = 0; l < LANES; l++)
                    t[i][col][l] = G[i][0] * g[col][l];
                for (int k = 1; k < r; k++)
                    for (int l = 0; l < LANES; l++)
                        t[i][col][l] += G[i][k] * g[r * k + col][l];
            }
        for (int i = 0; i < al; i++) /* (G g) G^T: alpha x alpha */
            for (int j = 0; j < al; j++) {
                float *dst = U + (size_t)(al * i + j) * per_xi + f0;
                float v[LANES];
                for (int l = 0; l < LANES; l++)
                    v[l] = t[i][0][l] * G[j][0];
                for (int k = 1; k < r; k++)
                    for (int l = 0; l < LANES; l++)
                        v[l] += t[i][k][l] * G[j][k];
                for (int l = 0; l < nf; l++)
                    dst[l] = v[l];
            }
    }
}

/* d_w[oc][c] += G^T dU[.][oc][c] G (the adjoint of transform_filters_g),
   eight filters at a time. */
static void accumulate_filter_gradient_g(float *d_w, const float *dU, size_t per_xi,
                                         const conv2d_dims *d, const gmatrix G, int al, int r)
{
    const size_t filters = (size_t)d->OC * d->C, rr = (size_t)r * r;
    for (size_t f0 = 0; f0 < filters; f0 += LANES) {
        const int nf = filters - f0 < LANES ? (int)(filters - f0) : LANES;
#ifdef __AVX2__
        if (G == G45 && nf == LANES) {
            accumulate_filter_gradient45_avx(d_w, dU, per_xi, f0);
            continue;
        }
#endif
        float x[64][LANES], q[5][8][LANES], g[LANES];
        for (int xi = 0; xi < al * al; xi++)
            for (int l = 0; l < LANES; l++)
                x[xi][l] = l < nf ? dU[(size_t)xi * per_xi + f0 + (size_t)l] : 0.0f;
        for (int k = 0; k < r; k++) /* G^T x: r x alpha */
            for (int j = 0; j < al; j++) {
                for (int l = 0; l < LANES; l++)
                    q[k][j][l] = G[0][k] * x[j][l];
                for (int i = 1; i < al; i++)
                    for (int l = 0; l < LANES; l++)
                        q[k][j][l] += G[i][k] * x[al * i + j][l];
            }
        for (int k = 0; k < r; k++) /* (G^T x) G: r x r */
            for (int m = 0; m < r; m++) {
                for (int l = 0; l < LANES; l++)
                    g[l] = q[k][0][l] * G[0][m];
                for (int j = 1; j < al; j++)
                    for (int l = 0; l < LANES; l++)
                        g[l] += q[k][j][l] * G[j][m];
                for (int l = 0; l < nf; l++)
                    d_w[rr * (f0 + (size_t)l) + (size_t)(r * k + m)] += g[l];
            }
    }
}

/* The plan's G: F(2,5)'s, F(4,3)'s or F(4,5)'s (F(2,3) has its own code). */
static const float (*plan_g(const plan *p))[8]
{
    return p->m == 2 ? G25 : p->r == 3 ? G43 : G45;
}

static void transform_filters(const plan *p, const float *w, const conv2d_dims *d)
{
    if (p->r == 3 && p->m == 2)
        transform_filters3(p->U, p->u_xi, w, d);
    else
        transform_filters_g(p->U, p->u_xi, w, d, plan_g(p), p->alpha, p->r);
}

static void accumulate_filter_gradient(const plan *p, float *d_w, const conv2d_dims *d)
{
    if (p->r == 3 && p->m == 2)
        accumulate_filter_gradient3(d_w, p->dU, p->u_xi, d);
    else
        accumulate_filter_gradient_g(d_w, p->dU, p->u_xi, d, plan_g(p), p->alpha, p->r);
}

/* --------------------------------------------------------------- input -- */

/* The four patch columns of TW tiles from one padded row p (2TW + 2
   floats, more readable): c0[tx] = p[2tx], c1[tx] = p[2tx+1],
   c2[tx] = p[2tx+2], c3[tx] = p[2tx+3]. */
static inline void split_columns(float *restrict c0, float *restrict c1, float *restrict c2,
                                 float *restrict c3, const float *restrict p, int TW)
{
    int j = 0;
#ifdef __AVX2__
    for (; j + 8 <= TW; j += 8) {
        const float *q = p + 2 * j;
        const __m256 a = _mm256_loadu_ps(q), b = _mm256_loadu_ps(q + 8);
        const __m256 a2 = _mm256_loadu_ps(q + 2), b2 = _mm256_loadu_ps(q + 10);
        /* per 128-bit lane: x0 x2 y0 y2 | x4 x6 y4 y6; the 64-bit permute orders them */
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        const __m256 e2 = _mm256_shuffle_ps(a2, b2, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 o2 = _mm256_shuffle_ps(a2, b2, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(c0 + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        _mm256_storeu_ps(c1 + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
        _mm256_storeu_ps(c2 + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e2), 0xD8)));
        _mm256_storeu_ps(c3 + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o2), 0xD8)));
    }
    for (; j + 4 <= TW; j += 4) {
        const float *q = p + 2 * j;
        const __m128 a = _mm_loadu_ps(q), b = _mm_loadu_ps(q + 4);
        const __m128 a2 = _mm_loadu_ps(q + 2), b2 = _mm_loadu_ps(q + 6);
        _mm_storeu_ps(c0 + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm_storeu_ps(c1 + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm_storeu_ps(c2 + j, _mm_shuffle_ps(a2, b2, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm_storeu_ps(c3 + j, _mm_shuffle_ps(a2, b2, _MM_SHUFFLE(3, 1, 3, 1)));
    }
#endif
    for (; j < TW; j++) {
        c0[j] = p[2 * j];
        c1[j] = p[2 * j + 1];
        c2[j] = p[2 * j + 2];
        c3[j] = p[2 * j + 3];
    }
}

/* V[.][c] of one block (tile rows [r0, r0 + R)): the alpha x alpha patches
   of channel c gathered as xi rows of lanes in S1 (lane = tile), then B^T
   along the patch rows (into S2) and along the patch columns (into V). */
static void transform_input(const plan *p, float *V, const float *in, int c, int r0, int R,
                            const conv2d_dims *d)
{
    const int TW = p->TW, H = d->H, W = d->W, pl = d->pad_left;
    const int al = p->alpha;
    const size_t ldt = p->ldt, Tb = (size_t)R * TW, xi_stride = p->v_xi;
    float *D = p->S1, *T = p->S2;
    /* Two passes: the block's patch rows padded into rows_buf (row al rr + k:
       input row 2ty - pad_top + k, padded[j] = column j - pad_left, 0
       outside), then split into D.  Splitting right after each copy made
       the loads wait for the copy's stores to forward (misaligned
       store-to-load forwarding fails); a block's worth later they are in L1. */
    const size_t stride = p->row_stride;
    const int count = W < (int)p->row_len - pl ? W : (int)p->row_len - pl;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        const float *plane = in + ((size_t)n * d->C + c) * H * W;
        for (int k = 0; k < al; k++) {
            const int y = p->m * ty - d->pad_top + k;
            float *padded = p->rows_buf + (size_t)(al * rr + k) * stride;
            if (y < 0 || y >= H) {
                memset(padded, 0, p->row_fill * sizeof *padded);
                continue;
            }
            for (int j = 0; j < pl; j++)
                padded[j] = 0.0f;
            copy_floats(padded + pl, plane + (size_t)y * W, (size_t)count);
            if (c + 1 < d->C)
                prefetch_row_read(plane + (size_t)y * W, (size_t)H * W, (size_t)W);
            for (size_t j = (size_t)(pl + count); j < p->row_fill; j++)
                padded[j] = 0.0f;
        }
    }
    for (int rr = 0; rr < R; rr++)
        for (int k = 0; k < al; k++) {
            float *c0 = D + (size_t)(al * k) * ldt + (size_t)rr * TW;
            const float *padded = p->rows_buf + (size_t)(al * rr + k) * stride;
            if (p->m == 4) {
                /* patch column 4q + s of tile tx is padded[4tx + 4q + s];
                   columns past alpha (6, 7 of F(4,3)) go to T, not yet in use */
                for (int q = 0; 4 * q < al; q++) {
                    float *cols[4];
                    for (int s4 = 0; s4 < 4; s4++)
                        cols[s4] = 4 * q + s4 < al ? c0 + (size_t)(4 * q + s4) * ldt
                                                : T + (size_t)(s4 - 2) * ldt + (size_t)rr * TW;
                    deinterleave4(cols[0], cols[1], cols[2], cols[3], padded + 4 * q, TW);
                }
                continue;
            }
            split_columns(c0, c0 + ldt, c0 + 2 * ldt, c0 + 3 * ldt, padded, TW);
            if (al == 6) /* columns 4, 5: c4[tx] = p[2tx + 4], c5[tx] = p[2tx + 5] */
                deinterleave(c0 + 4 * ldt, c0 + 5 * ldt, padded + 4, TW);
        }
    if (Tb < ldt)
        for (int i = 0; i < p->xi; i++)
            memset(D + (size_t)i * ldt + Tb, 0, (ldt - Tb) * sizeof *D);
    /* rows of D are (patch row k, patch column l) at al k + l */
    float *o[8];
    const float *x[8];
    for (int l = 0; l < al; l++) {
        for (int k = 0; k < al; k++) {
            o[k] = T + (size_t)(al * k + l) * ldt;
            x[k] = D + (size_t)(al * k + l) * ldt;
        }
        lanes_bt(p, o, x, ldt);
    }
    float *Vc = V + (size_t)c * ldt;
    for (int i = 0; i < al; i++) {
        for (int j = 0; j < al; j++) {
            o[j] = Vc + (size_t)(al * i + j) * xi_stride;
            x[j] = T + (size_t)(al * i + j) * ldt;
        }
        lanes_bt(p, o, x, ldt);
    }
}

/* Lanes [Tb, ldt) of every row of a product (n_xi planes xi_stride apart
   of `count` rows): zero, so the transforms never meet stale or
   uninitialised memory. */
static void clear_tail(float *X, int n_xi, size_t xi_stride, size_t count, size_t Tb, size_t ldt)
{
    if (Tb < ldt)
        for (size_t xi = 0; xi < (size_t)n_xi; xi++)
            for (size_t i = 0; i < count; i++)
                memset(X + xi * xi_stride + i * ldt + Tb, 0, (ldt - Tb) * sizeof *X);
}

/* ------------------------------------------------ fast path (AVX2) ---- */

/* The lane-wise transforms as expressions (on floats or vectors of them;
   the rows_* loops above compute the same ones in the same order). */
#define WG_BT(o0, o1, o2, o3, i0, i1, i2, i3)                                                      \
    do {                                                                                           \
        o0 = (i0) - (i2);                                                                          \
        o1 = (i1) + (i2);                                                                          \
        o2 = (i2) - (i1);                                                                          \
        o3 = (i1) - (i3);                                                                          \
    } while (0)
#define WG_AT(o0, o1, i0, i1, i2, i3)                                                              \
    do {                                                                                           \
        o0 = (i0) + (i1) + (i2);                                                                   \
        o1 = (i1) - (i2) - (i3);                                                                   \
    } while (0)
#define WG_A(o0, o1, o2, o3, i0, i1)                                                               \
    do {                                                                                           \
        o0 = (i0);                                                                                 \
        o1 = (i0) + (i1);                                                                          \
        o2 = (i0) - (i1);                                                                          \
        o3 = -(i1);                                                                                \
    } while (0)

#ifdef __AVX2__
static inline void split8(__m256 a, __m256 b, __m256 *ev, __m256 *od)
{
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    *od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}
static inline void merge8(__m256 ev, __m256 od, __m256 *lo, __m256 *hi)
{
    const __m256 l = _mm256_unpacklo_ps(ev, od), h = _mm256_unpackhi_ps(ev, od);
    *lo = _mm256_permute2f128_ps(l, h, 0x20);
    *hi = _mm256_permute2f128_ps(l, h, 0x31);
}
static inline __m256 shift_up8(__m256 v, float first)
{
    const __m256 rotated = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6));
    return _mm256_blend_ps(rotated, _mm256_set1_ps(first), 0x01);
}
static inline __m256 shift_down8(__m256 v, float last)
{
    const __m256 rotated = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0));
    return _mm256_blend_ps(rotated, _mm256_set1_ps(last), 0x80);
}
static inline void split4(__m128 a, __m128 b, __m128 *ev, __m128 *od)
{
    *ev = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *od = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}
static inline void merge4(__m128 ev, __m128 od, __m128 *lo, __m128 *hi)
{
    *lo = _mm_unpacklo_ps(ev, od);
    *hi = _mm_unpackhi_ps(ev, od);
}
static inline __m128 shift_up4(__m128 v, float first)
{
    return _mm_move_ss(_mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 1, 0, 0)), _mm_set_ss(first));
}
static inline __m128 shift_down4(__m128 v, float last)
{
    return _mm_blend_ps(_mm_shuffle_ps(v, v, _MM_SHUFFLE(3, 3, 2, 1)), _mm_set1_ps(last), 0x8);
}

#define WG_W 8
#define VEC __m256
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define SPLIT(a, b, ev, od) split8((a), (b), &(ev), &(od))
#define MERGE(ev, od, lo, hi) merge8((ev), (od), &(lo), &(hi))
#define SHIFT_UP(v, first) shift_up8((v), (first))
#define SHIFT_DOWN(v, last) shift_down8((v), (last))
#define ZERO_FIRST(v) _mm256_blend_ps((v), _mm256_setzero_ps(), 0x01)
#define ZERO_LAST(v) _mm256_blend_ps((v), _mm256_setzero_ps(), 0x80)
#define WG_NAME(x) x##8
#include "conv_winograd_fast.h"

#define WG_W 4
#define VEC __m128
#define VLOAD(p) _mm_loadu_ps(p)
#define VSTORE(p, v) _mm_storeu_ps((p), (v))
#define VZERO() _mm_setzero_ps()
#define VSET1(x) _mm_set1_ps(x)
#define VMAX(a, b) _mm_max_ps((a), (b))
#define SPLIT(a, b, ev, od) split4((a), (b), &(ev), &(od))
#define MERGE(ev, od, lo, hi) merge4((ev), (od), &(lo), &(hi))
#define SHIFT_UP(v, first) shift_up4((v), (first))
#define SHIFT_DOWN(v, last) shift_down4((v), (last))
#define ZERO_FIRST(v) _mm_blend_ps((v), _mm_setzero_ps(), 0x1)
#define ZERO_LAST(v) _mm_blend_ps((v), _mm_setzero_ps(), 0x8)
#define WG_NAME(x) x##4
#include "conv_winograd_fast.h"
#endif

/* Vector width of the fast path for d, or 0 for the general one: AVX2,
   a 3x3 kernel, "same" padding (1 on each side) and an even width that splits into
   tiles in groups of 8 or 4. */
static int fast_width(const plan *p, const conv2d_dims *d)
{
#ifdef __AVX2__
    if (p->m != 2 || p->r != 3 || d->pad_top != 1 || d->pad_left != 1 || d->OW != d->W || d->OH != d->H ||
        d->W % 2 != 0)
        return 0;
    return p->TW % 8 == 0 ? 8 : p->TW % 4 == 0 ? 4 : 0;
#else
    (void)p;
    (void)d;
    return 0;
#endif
}

/* -------------------------------------------------------------- forward -- */

/* out plane oc of the block's tiles = act(A^T M A + bias), the general way:
   A^T along the patch rows (S2 row alpha a + j), along the columns (S1 row
   m a + b: tile element (a, b)), then interleaved into the output rows. */
static void transform_output(const plan *p, float *out, const float *M, int oc, int r0, int R,
                             const conv2d_dims *d, float bias, int act, float alpha)
{
    const int TW = p->TW, OH = d->OH, OW = d->OW, m = p->m;
    const size_t ldt = p->ldt, m_xi = p->m_xi;
    float *Y = p->S1, *S = p->S2, *row = p->rowbuf;
    const int al = p->alpha;
    const float *mo = M + (size_t)oc * ldt; /* row xi at mo + xi * m_xi */
    float *o[8];
    const float *x[8];
    for (int j = 0; j < al; j++) {
        for (int a = 0; a < m; a++)
            o[a] = S + (size_t)(al * a + j) * ldt;
        for (int i = 0; i < al; i++)
            x[i] = mo + (size_t)(al * i + j) * m_xi;
        lanes_at(p, o, x, ldt);
    }
    for (int a = 0; a < m; a++) {
        for (int b = 0; b < m; b++)
            o[b] = Y + (size_t)(m * a + b) * ldt;
        for (int j = 0; j < al; j++)
            x[j] = S + (size_t)(al * a + j) * ldt;
        lanes_at_bias(p, o, x, bias, act == HP_ACT_RELU, ldt);
    }
    if (act != CONV_NO_ACTIVATION && act != HP_ACT_RELU)
        activation_forward(Y, Y, (size_t)(m * m) * ldt, (hp_activation)act, alpha);
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        float *plane = out + ((size_t)n * d->OC + oc) * OH * OW;
        const size_t lane = (size_t)rr * TW;
        for (int a = 0; a < m && m * ty + a < OH; a++) {
            float *dst = plane + (size_t)(m * ty + a) * OW;
            if (oc + 1 < d->OC)
                prefetch_row_write(dst, (size_t)OH * OW, (size_t)OW);
            const float *y0 = Y + (size_t)(m * a) * ldt + lane;
            float *target = OW == m * TW ? dst : row; /* else the last tile's right columns are cut */
            if (m == 2) {
                interleave(target, y0, y0 + ldt, TW);
            } else {
                const float *c[4] = {y0, y0 + ldt, y0 + 2 * ldt, y0 + 3 * ldt};
                interleave4(target, c, TW);
            }
            if (target == row)
                memcpy(dst, row, (size_t)OW * sizeof *dst);
        }
    }
}

static void block_input(const plan *p, int fast, float *V, const float *in, int r0, int R,
                        const conv2d_dims *d)
{
    for (int c = 0; c < d->C; c++) {
#ifdef __AVX2__
        if (fast == 8) {
            input_fast8(p, V, in, c, r0, R, d);
            continue;
        }
        if (fast == 4) {
            input_fast4(p, V, in, c, r0, R, d);
            continue;
        }
#endif
        transform_input(p, V, in, c, r0, R, d);
    }
}

void conv_winograd_forward(float *out, float *ws, const float *in, const float *w, const float *b,
                           const conv2d_dims *d, int m, int act, float alpha)
{
    if (!conv_winograd_shape(d) || (m != 2 && m != 4))
        HP_PANIC("conv_winograd_forward: needs a 3x3 or 5x5 kernel, stride 1 and 2x2 or 4x4 tiles");
    plan p;
    plan_init(&p, d, m, ws);
    const int fast = fast_width(&p, d);
    const int OC = d->OC, C = d->C, TW = p.TW, OH = d->OH, OW = d->OW;
    const size_t ldt = p.ldt, m_xi = p.m_xi, v_xi = p.v_xi;
    transform_filters(&p, w, d);
    for (int r0 = 0; r0 < p.rows; r0 += p.block_rows) {
        const int R = p.rows - r0 < p.block_rows ? p.rows - r0 : p.block_rows;
        const size_t Tb = (size_t)R * TW;
        block_input(&p, fast, p.V, in, r0, R, d);
        for (int xi = 0; xi < p.xi; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)Tb, C, 1.0f,
                        p.U + xi * p.u_xi, C, p.V + xi * v_xi, (int)ldt, 0.0f,
                        p.M + xi * m_xi, (int)ldt);
        clear_tail(p.M, p.xi, m_xi, (size_t)OC, Tb, ldt);
        for (int oc = 0; oc < OC; oc++) {
            if (!fast) {
                transform_output(&p, out, p.M, oc, r0, R, d, b[oc], act, alpha);
                continue;
            }
#ifdef __AVX2__
            if (fast == 8)
                output_fast8(&p, out, p.M, oc, r0, R, d, b[oc], act == HP_ACT_RELU);
            else
                output_fast4(&p, out, p.M, oc, r0, R, d, b[oc], act == HP_ACT_RELU);
#endif
            if (act == CONV_NO_ACTIVATION || act == HP_ACT_RELU)
                continue;
            for (int rr = 0; rr < R; rr++) { /* the rows just written, still in L1 */
                const int r = r0 + rr, n = r / p.TH, ty = r % p.TH;
                float *plane = out + ((size_t)n * OC + oc) * OH * OW;
                const int rows = 2 * ty + 1 < OH ? 2 : 1;
                activation_forward(plane + (size_t)(2 * ty) * OW, plane + (size_t)(2 * ty) * OW,
                                   (size_t)rows * OW, (hp_activation)act, alpha);
            }
        }
    }
}

/* ------------------------------------------------------------- backward -- */

/* DY[.][oc] of one block: the m x m output-gradient tiles of plane oc
   gathered as m^2 rows of lanes (row m a + b: tile element (a, b); 0 past
   the edge), then A along the tile rows (into S2) and along the columns
   (into DY). */
static void transform_output_gradient(const plan *p, float *DY, const float *d_out, int oc, int r0,
                                      int R, const conv2d_dims *d)
{
    const int TW = p->TW, OH = d->OH, OW = d->OW, m = p->m;
    const size_t ldt = p->ldt, Tb = (size_t)R * TW, xi_stride = p->m_xi;
    float *G = p->S1, *T = p->S2, *row = p->rowbuf;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        const float *plane = d_out + ((size_t)n * d->OC + oc) * OH * OW;
        const size_t lane = (size_t)rr * TW;
        for (int a = 0; a < m; a++) {
            float *c0 = G + (size_t)(m * a) * ldt + lane;
            if (m * ty + a >= OH) {
                for (int b = 0; b < m; b++)
                    memset(c0 + (size_t)b * ldt, 0, (size_t)TW * sizeof *c0);
                continue;
            }
            const float *src = plane + (size_t)(m * ty + a) * OW;
            if (oc + 1 < d->OC)
                prefetch_row_read(src, (size_t)OH * OW, (size_t)OW);
            if (OW != m * TW) { /* zero columns complete the last tile */
                memcpy(row, src, (size_t)OW * sizeof *row);
                for (int j = OW; j < m * TW; j++)
                    row[j] = 0.0f;
                src = row;
            }
            if (m == 2)
                deinterleave(c0, c0 + ldt, src, TW);
            else
                deinterleave4(c0, c0 + ldt, c0 + 2 * ldt, c0 + 3 * ldt, src, TW);
        }
    }
    if (Tb < ldt)
        for (int i = 0; i < m * m; i++)
            memset(G + (size_t)i * ldt + Tb, 0, (ldt - Tb) * sizeof *G);
    const int al = p->alpha;
    float *o[8];
    const float *x[8];
    for (int b = 0; b < m; b++) { /* T row al i + b */
        for (int i = 0; i < al; i++)
            o[i] = T + (size_t)(al * i + b) * ldt;
        for (int a = 0; a < m; a++)
            x[a] = G + (size_t)(m * a + b) * ldt;
        lanes_a(p, o, x, ldt);
    }
    float *DYo = DY + (size_t)oc * ldt;
    for (int i = 0; i < al; i++) {
        for (int j = 0; j < al; j++)
            o[j] = DYo + (size_t)(al * i + j) * xi_stride;
        for (int b = 0; b < m; b++)
            x[b] = T + (size_t)(al * i + b) * ldt;
        lanes_a(p, o, x, ldt);
    }
}

/* d_in (channel c) += B Z[.][c] B^T of every tile of the block, the
   alpha x alpha patches overlapping by alpha - 2 with their neighbours;
   patch cells outside the image (padding) are dropped. */
static void add_input_gradient(const plan *p, float *d_in, const float *Z, int c, int r0, int R,
                               const conv2d_dims *d, int fast)
{
    const int TW = p->TW, H = d->H, W = d->W;
    const size_t ldt = p->ldt, xi_stride = p->v_xi;
    float *T = p->S1, *Q = p->S2;
    const float *Zc = Z + (size_t)c * ldt;
    const int al = p->alpha, m = p->m, phases = plan_phases(p);
    float *o[8];
    const float *x[8];
    /* B along the patch rows (into T, row al k + l), then along the columns (into Q) */
    for (int l = 0; l < al; l++) {
        for (int k = 0; k < al; k++) {
            o[k] = T + (size_t)(al * k + l) * ldt;
            x[k] = Zc + (size_t)(al * k + l) * xi_stride;
        }
        lanes_b(p, o, x, ldt);
    }
    for (int k = 0; k < al; k++) {
        for (int l = 0; l < al; l++) {
            o[l] = Q + (size_t)(al * k + l) * ldt;
            x[l] = T + (size_t)(al * k + l) * ldt;
        }
        lanes_b(p, o, x, ldt);
    }
#ifdef __AVX2__
    if (fast == 8) {
        input_gradient_fast8(p, d_in, Q, c, r0, R, d);
        return;
    }
    if (fast == 4) {
        input_gradient_fast4(p, d_in, Q, c, r0, R, d);
        return;
    }
#else
    (void)fast;
#endif
    /* Two passes (see transform_input): the rows of every patch interleaved
       into rows_buf, then added into d_in.  Patch row k of the tiles of a
       tile row covers columns x' = m tx + l in [0, row_len) of image row
       m ty - pad_top + k.  Phase h < ceil(alpha/m) gathers patch columns
       [m h, m h + m) of every tile (at m tx + m h): for F(2,3), columns 0, 1
       of tile tx ("left") and 2, 3 of tile tx - 1 ("right"); for F(2,5)
       also 4, 5 of tile tx - 2; for 4x4 tiles columns 0-3 of tile tx and
       4-7 of tile tx - 1 (6 and 7 are zero for F(4,3)). */
    const size_t stride = p->row_stride;
    for (int rr = 0; rr < R; rr++)
        for (int k = 0; k < al; k++) {
            const float *q = Q + (size_t)(al * k) * ldt + (size_t)rr * TW;
            float *phase = p->rows_buf + (size_t)(phases * (al * rr + k)) * stride;
            for (int h = 0; h < phases; h++, phase += stride) {
                for (int j = 0; j < m * h; j++)
                    phase[j] = 0.0f;
                if (m == 2) {
                    interleave(phase + 2 * h, q + (size_t)(2 * h) * ldt,
                               q + (size_t)(2 * h + 1) * ldt, TW);
                } else {
                    const float *cols[4];
                    for (int s4 = 0; s4 < 4; s4++)
                        cols[s4] = 4 * h + s4 < al ? q + (size_t)(4 * h + s4) * ldt : NULL;
                    interleave4(phase + 4 * h, cols, TW);
                }
                for (size_t j = (size_t)m * (h + TW); j < p->row_len; j++)
                    phase[j] = 0.0f;
            }
        }
    const int pl = d->pad_left; /* x' of image column 0 */
    const int count = W < (int)p->row_len - pl ? W : (int)p->row_len - pl;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        float *plane = d_in + ((size_t)n * d->C + c) * H * W;
        for (int k = 0; k < al; k++) {
            const int y = m * ty - d->pad_top + k;
            if (y < 0 || y >= H)
                continue;
            const float *left = p->rows_buf + (size_t)(phases * (al * rr + k)) * stride + pl;
            if (c + 1 < d->C)
                prefetch_row_write(plane + (size_t)y * W, (size_t)H * W, (size_t)W);
            /* the first patch to reach a row stores it (no pass zeroing d_in
               first): every row of d_in is reached, row y first by tile row 0
               or as patch row k >= alpha - m (the patch rows before were the
               previous tile row's last alpha - m) */
            const int first_touch = ty == 0 || k >= al - m;
            if (phases == 2)
                add_pair(plane + (size_t)y * W, left, left + stride, (size_t)count, !first_touch);
            else
                add_triple(plane + (size_t)y * W, left, left + stride, left + 2 * stride,
                           (size_t)count, !first_touch);
        }
    }
}

void conv_winograd_backward(float *d_in, float *d_w, float *d_b, float *ws, const float *d_out,
                            const float *in, const float *w, const conv2d_dims *d, int m)
{
    if (!conv_winograd_shape(d) || (m != 2 && m != 4))
        HP_PANIC("conv_winograd_backward: needs a 3x3 or 5x5 kernel, stride 1 and 2x2 or 4x4 tiles");
    plan p;
    plan_init(&p, d, m, ws);
    const int fast = fast_width(&p, d);
    const int OC = d->OC, C = d->C, TW = p.TW;
    const size_t ldt = p.ldt, m_xi = p.m_xi, v_xi = p.v_xi;
    const size_t ohw = (size_t)d->OH * d->OW;
    /* the bias gradient in im2col's order (the same sums, bit for bit) */
    for (int n = 0; n < d->N; n++)
        for (int oc = 0; oc < OC; oc++)
            d_b[oc] += hp_sum_floats(d_out + ((size_t)n * OC + oc) * ohw, ohw);
    transform_filters(&p, w, d);
    memset(p.dU, 0, (size_t)p.xi * p.u_xi * sizeof *p.dU);
    for (int r0 = 0; r0 < p.rows; r0 += p.block_rows) {
        const int R = p.rows - r0 < p.block_rows ? p.rows - r0 : p.block_rows;
        const size_t Tb = (size_t)R * TW;
        block_input(&p, fast, p.V, in, r0, R, d);
        for (int oc = 0; oc < OC; oc++) {
#ifdef __AVX2__
            if (fast == 8) {
                output_gradient_fast8(&p, p.M, d_out, oc, r0, R, d);
                continue;
            }
            if (fast == 4) {
                output_gradient_fast4(&p, p.M, d_out, oc, r0, R, d);
                continue;
            }
#endif
            transform_output_gradient(&p, p.M, d_out, oc, r0, R, d);
        }
        for (int xi = 0; xi < p.xi; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, C, (int)Tb, 1.0f,
                        p.M + xi * m_xi, (int)ldt, p.V + xi * v_xi, (int)ldt, 1.0f,
                        p.dU + xi * p.u_xi, C);
        if (!d_in)
            continue;
        /* Z overwrites V, which is spent */
        for (int xi = 0; xi < p.xi; xi++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)Tb, OC, 1.0f,
                        p.U + xi * p.u_xi, C, p.M + xi * m_xi, (int)ldt, 0.0f,
                        p.V + xi * v_xi, (int)ldt);
        clear_tail(p.V, p.xi, v_xi, (size_t)C, Tb, ldt);
        for (int c = 0; c < C; c++)
            add_input_gradient(&p, d_in, p.V, c, r0, R, d, fast);
    }
    accumulate_filter_gradient(&p, d_w, d);
}
