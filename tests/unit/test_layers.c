/* test_layers.c - the CNN layers against independent oracles.
 *
 * Gradients: central finite differences of L = sum(out * R) for a fixed
 * random R (so dL/dout = R), compared with the analytic backward pass for
 * every input and parameter of small, deliberately awkward shapes (batch 3,
 * odd channel counts, 7x6 planes, stride 2, kernels 2/3/5, valid padding).
 * Forward values: a naive 7-loop convolution, hand-computed small cases and
 * closed forms.  Buffers are allocated at their exact size (calloc) so the
 * sanitizer build catches any overrun, and the conv workspace carries a
 * guard band checked in the normal build as well.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers.h"
#include "rng.h"
#include "testlib.h"

/* ------------------------------------------------------------ helpers ---- */

static float *alloc_floats(size_t n) { return hp_xcalloc(n, sizeof(float)); }

static void fill_uniform(float *x, size_t n, float lo, float hi, hp_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * hp_rng_uniform_float(rng);
}

/* Uniform in [-limit, limit] but at least min_abs away from 0 (keeps finite
   differences off the kinks of relu-like functions). */
static void fill_away_from_zero(float *x, size_t n, float limit, float min_abs, hp_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        float v;
        do
            v = -limit + 2.0f * limit * hp_rng_uniform_float(rng);
        while (fabsf(v) < min_abs);
        x[i] = v;
    }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* |a-b| relative to their size, with a floor so tiny gradients are judged
   absolutely (1e-2 floor -> 1e-4 absolute at tol 1e-2). */
static double rel_err(double a, double b)
{
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) / fmax(scale, 1e-2);
}

/* Finite-difference steps: STEP for nonlinear functions (small truncation
   error), LINEAR_STEP where the output is linear in the perturbed value
   (conv, dense, average pooling, beta), so the central difference is exact
   and a large step shrinks the float rounding noise of the loss. */
static const float STEP = 1e-2f, LINEAR_STEP = 0.25f;

typedef double (*loss_fn)(void *ctx);

/* Worst relative error between analytic[i] and the central difference of
   loss() with respect to param[i], over all i.  The step actually taken
   ((p+h) - (p-h) in float) is used as the denominator. */
static double worst_grad_error(float *param, const float *analytic, size_t n, float h, loss_fn loss,
                               void *ctx, size_t *worst_index, double *worst_numeric)
{
    double worst = 0.0;
    *worst_index = 0;
    *worst_numeric = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float saved = param[i];
        const float plus = saved + h, minus = saved - h;
        param[i] = plus;
        double loss_plus = loss(ctx);
        param[i] = minus;
        double loss_minus = loss(ctx);
        param[i] = saved;
        double numeric = (loss_plus - loss_minus) / ((double)plus - (double)minus);
        double err = rel_err(analytic[i], numeric);
        if (err > worst || isnan(err)) {
            worst = isnan(err) ? INFINITY : err;
            *worst_index = i;
            *worst_numeric = numeric;
        }
    }
    return worst;
}

/* The same in double, for losses re-implemented in double in the test
   (where float rounding noise would swamp a small step). */
static double worst_grad_error_double(double *param, const float *analytic, size_t n, double h,
                                      loss_fn loss, void *ctx, size_t *worst_index,
                                      double *worst_numeric)
{
    double worst = 0.0;
    *worst_index = 0;
    *worst_numeric = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double saved = param[i];
        param[i] = saved + h;
        double loss_plus = loss(ctx);
        param[i] = saved - h;
        double loss_minus = loss(ctx);
        param[i] = saved;
        double numeric = (loss_plus - loss_minus) / (2.0 * h);
        double err = rel_err(analytic[i], numeric);
        if (err > worst || isnan(err)) {
            worst = isnan(err) ? INFINITY : err;
            *worst_index = i;
            *worst_numeric = numeric;
        }
    }
    return worst;
}

#define EXPECT_GRAD(what, param, analytic, n, h, loss, ctx, tol)                                  \
    EXPECT_GRAD_WITH(worst_grad_error, what, param, analytic, n, h, loss, ctx, tol)
#define EXPECT_GRAD_DOUBLE(what, param, analytic, n, h, loss, ctx, tol)                           \
    EXPECT_GRAD_WITH(worst_grad_error_double, what, param, analytic, n, h, loss, ctx, tol)
#define EXPECT_GRAD_WITH(checker, what, param, analytic, n, h, loss, ctx, tol)                    \
    do {                                                                                           \
        size_t worst_i_;                                                                           \
        double numeric_;                                                                           \
        double err_ = checker((param), (analytic), (n), (h), (loss), (ctx), &worst_i_, &numeric_); \
        EXPECT(err_ < (tol), "%s: worst relative error %.3g at [%zu]: analytic %.7g, numeric %.7g", \
               (what), err_, worst_i_, (double)(analytic)[worst_i_], numeric_);                  \
    } while (0)

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ------------------------------------------------------------ conv2d ---- */

/* Naive convolution with its own TensorFlow-style padding computation. */
static void conv_reference(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int H, int W, int OC, int KH, int KW, int stride, hp_padding pad,
                           int *OH_out, int *OW_out)
{
    int OH, OW, pt = 0, pl = 0;
    if (pad == HP_PAD_SAME) {
        OH = (H + stride - 1) / stride;
        OW = (W + stride - 1) / stride;
        int th = (OH - 1) * stride + KH - H, tw = (OW - 1) * stride + KW - W;
        pt = th > 0 ? th / 2 : 0;
        pl = tw > 0 ? tw / 2 : 0;
    } else {
        OH = (H - KH) / stride + 1;
        OW = (W - KW) / stride + 1;
    }
    *OH_out = OH;
    *OW_out = OW;
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = b[oc];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * stride - pt + kh, iw = ow * stride - pl + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                s += (double)in[((n * C + c) * H + ih) * W + iw] *
                                     (double)w[((oc * C + c) * KH + kh) * KW + kw];
                            }
                    out[((n * OC + oc) * OH + oh) * OW + ow] = (float)s;
                }
}

enum { GUARD = 64 };
static const float guard_value = 12345.0f;

/* Workspace of exactly conv2d_workspace_floats() plus a guard band. */
static float *alloc_workspace(const conv2d_dims *d)
{
    size_t n = conv2d_workspace_floats(d);
    float *ws = alloc_floats(n + GUARD);
    for (int i = 0; i < GUARD; i++)
        ws[n + i] = guard_value;
    return ws;
}

static int workspace_guard_intact(const float *ws, const conv2d_dims *d)
{
    size_t n = conv2d_workspace_floats(d);
    for (int i = 0; i < GUARD; i++)
        if (ws[n + i] != guard_value)
            return 0;
    return 1;
}

TEST(test_conv_dims)
{
    conv2d_dims d;
    /* same, stride 1, kernel 2 on 7x6: total pad 1, before 0 (extra goes after) */
    EXPECT(conv2d_dims_init(&d, 3, 3, 7, 6, 5, 2, 2, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(d.OH == 7 && d.OW == 6 && d.pad_top == 0 && d.pad_left == 0, "OH %d OW %d pad %d,%d",
           d.OH, d.OW, d.pad_top, d.pad_left);
    /* same, stride 2, kernel 5 on 7x6: OH 4, total (3*2+5-7)=4 -> 2; OW 3, total (2*2+5-6)=3 -> 1 */
    EXPECT(conv2d_dims_init(&d, 3, 3, 7, 6, 5, 5, 5, 2, HP_PAD_SAME) == 0, "init");
    EXPECT(d.OH == 4 && d.OW == 3 && d.pad_top == 2 && d.pad_left == 1, "OH %d OW %d pad %d,%d",
           d.OH, d.OW, d.pad_top, d.pad_left);
    /* same, stride 2, kernel 2 on 8x8: OH 4, total (3*2+2-8)=0 */
    EXPECT(conv2d_dims_init(&d, 1, 1, 8, 8, 1, 2, 2, 2, HP_PAD_SAME) == 0, "init");
    EXPECT(d.OH == 4 && d.OW == 4 && d.pad_top == 0 && d.pad_left == 0, "OH %d pad %d", d.OH,
           d.pad_top);
    /* same, stride 3, kernel 1 on 7x7: OH 3, total (2*3+1-7)=0 (never negative) */
    EXPECT(conv2d_dims_init(&d, 1, 1, 7, 7, 1, 1, 1, 3, HP_PAD_SAME) == 0, "init");
    EXPECT(d.OH == 3 && d.pad_top == 0, "OH %d pad %d", d.OH, d.pad_top);
    /* valid, stride 2, kernel 3 on 7x6: (7-3)/2+1 = 3, (6-3)/2+1 = 2 */
    EXPECT(conv2d_dims_init(&d, 3, 3, 7, 6, 5, 3, 3, 2, HP_PAD_VALID) == 0, "init");
    EXPECT(d.OH == 3 && d.OW == 2 && d.pad_top == 0 && d.pad_left == 0, "OH %d OW %d", d.OH, d.OW);
    EXPECT(conv2d_forward_macs(&d) == 3.0 * 5 * 3 * 2 * 3 * 3 * 3, "macs %g",
           conv2d_forward_macs(&d));
    /* errors */
    hp_error_clear();
    EXPECT(conv2d_dims_init(&d, 1, 1, 4, 4, 1, 5, 5, 1, HP_PAD_VALID) == -1, "kernel > input");
    EXPECT(strstr(hp_error_message(), "conv2d") != NULL, "message: %s", hp_error_message());
    EXPECT(conv2d_dims_init(&d, 0, 1, 4, 4, 1, 3, 3, 1, HP_PAD_SAME) == -1, "N = 0");
    EXPECT(conv2d_dims_init(&d, 1, 1, 4, 4, 1, 3, 3, 0, HP_PAD_SAME) == -1, "stride 0");
    EXPECT(conv2d_dims_init(&d, 1, 1, 4, 4, 1, 3, 3, 1, (hp_padding)7) == -1, "bad padding");
}

/* 3x3 input 1..9, 2x2 kernel of ones, same: padding only after (bottom/right). */
TEST(test_conv_hand_computed)
{
    conv2d_dims d;
    EXPECT(conv2d_dims_init(&d, 1, 1, 3, 3, 1, 2, 2, 1, HP_PAD_SAME) == 0, "init");
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f}, out[9];
    float *ws = alloc_workspace(&d);
    conv2d_forward(out, ws, in, w, b, &d);
    const float expected[9] = {12, 16, 9, 24, 28, 15, 15, 17, 9};
    for (int i = 0; i < 9; i++)
        EXPECT_NEAR(out[i], expected[i] + 0.5f, 1e-5, "out");
    EXPECT(workspace_guard_intact(ws, &d), "workspace guard overwritten");
    free(ws);
}

typedef struct conv_case {
    int KH, KW, stride;
    hp_padding pad;
} conv_case;

static const conv_case conv_cases[] = {
    {3, 3, 1, HP_PAD_SAME},  {3, 3, 2, HP_PAD_SAME},  {2, 2, 1, HP_PAD_SAME},
    {2, 2, 2, HP_PAD_SAME},  {5, 5, 1, HP_PAD_SAME},  {5, 5, 2, HP_PAD_SAME},
    {3, 3, 1, HP_PAD_VALID}, {3, 3, 2, HP_PAD_VALID}, {2, 2, 1, HP_PAD_VALID},
    {2, 2, 2, HP_PAD_VALID}, {5, 5, 1, HP_PAD_VALID}, {5, 5, 2, HP_PAD_VALID},
    {3, 2, 1, HP_PAD_SAME},  {1, 1, 1, HP_PAD_SAME},  {2, 2, 3, HP_PAD_SAME},
    {3, 3, 3, HP_PAD_VALID},
};
enum { N_CONV_CASES = sizeof conv_cases / sizeof conv_cases[0] };

static const char *pad_name(hp_padding p) { return p == HP_PAD_SAME ? "same" : "valid"; }

TEST(test_conv_forward_matches_naive)
{
    hp_rng rng;
    hp_rng_seed(&rng, 11);
    /* H, W; the small ones make some kernel taps see only padding */
    const int shapes[][2] = {{7, 6}, {8, 9}, {5, 5}, {3, 2}, {1, 1}, {2, 7}};
    for (int si = 0; si < 6; si++) {
        for (int ci = 0; ci < N_CONV_CASES; ci++) {
            const conv_case cc = conv_cases[ci];
            const int N = 3, C = 5, OC = 7, H = shapes[si][0], W = shapes[si][1];
            conv2d_dims d;
            const int fits = H >= cc.KH && W >= cc.KW;
            const int ok = conv2d_dims_init(&d, N, C, H, W, OC, cc.KH, cc.KW, cc.stride, cc.pad) == 0;
            if (cc.pad == HP_PAD_VALID && !fits) {
                EXPECT(!ok, "valid %dx%d kernel on %dx%d accepted", cc.KH, cc.KW, H, W);
                continue;
            }
            if (!ok) {
                EXPECT(0, "init failed: %s", hp_error_message());
                continue;
            }
            size_t n_in = (size_t)N * C * H * W, n_w = (size_t)OC * C * cc.KH * cc.KW;
            size_t n_out = (size_t)N * OC * d.OH * d.OW;
            float *in = alloc_floats(n_in), *w = alloc_floats(n_w), *b = alloc_floats(OC);
            float *out = alloc_floats(n_out), *ref = alloc_floats(n_out);
            float *ws = alloc_workspace(&d);
            fill_uniform(in, n_in, -1, 1, &rng);
            fill_uniform(w, n_w, -1, 1, &rng);
            fill_uniform(b, OC, -1, 1, &rng);
            for (size_t i = 0; i < n_out; i++)
                out[i] = NAN; /* every output must be written */
            conv2d_forward(out, ws, in, w, b, &d);
            int OH, OW;
            conv_reference(ref, in, w, b, N, C, H, W, OC, cc.KH, cc.KW, cc.stride, cc.pad, &OH, &OW);
            EXPECT(OH == d.OH && OW == d.OW, "output %dx%d vs reference %dx%d", d.OH, d.OW, OH, OW);
            double diff = max_abs_diff(out, ref, n_out);
            EXPECT(diff < 1e-4, "%dx%d input, kernel %dx%d stride %d %s: max diff %g", H, W, cc.KH,
                   cc.KW, cc.stride, pad_name(cc.pad), diff);
            EXPECT(workspace_guard_intact(ws, &d), "workspace guard overwritten");
            free(in);
            free(w);
            free(b);
            free(out);
            free(ref);
            free(ws);
        }
    }
}


/* conv2d_forward_act must equal conv2d_forward followed by activation_forward
   bit for bit, for every activation, in both the one-image path (large
   planes, no staging) and the chunked path (small planes, staging). */
TEST(test_conv_forward_act_matches_unfused)
{
    hp_rng rng;
    hp_rng_seed(&rng, 17);
    const int shapes[][4] = {{3, 5, 7, 6}, {2, 8, 32, 32}}; /* N, C, H, W */
    for (int si = 0; si < 2; si++) {
        const int N = shapes[si][0], C = shapes[si][1], H = shapes[si][2], W = shapes[si][3];
        const int OC = 6;
        conv2d_dims d;
        EXPECT(conv2d_dims_init(&d, N, C, H, W, OC, 3, 3, 1, HP_PAD_SAME) == 0, "init");
        size_t n_in = (size_t)N * C * H * W, n_w = (size_t)OC * C * 9;
        size_t n_out = (size_t)N * OC * d.OH * d.OW;
        float *in = alloc_floats(n_in), *w = alloc_floats(n_w), *b = alloc_floats(OC);
        float *fused = alloc_floats(n_out), *ref = alloc_floats(n_out);
        float *ws = alloc_workspace(&d);
        fill_uniform(in, n_in, -1, 1, &rng);
        fill_uniform(w, n_w, -1, 1, &rng);
        fill_uniform(b, OC, -0.5f, 0.5f, &rng);
        for (int act = HP_ACT_RELU; act <= HP_ACT_SIGMOID; act++) {
            const float alpha = act == HP_ACT_LEAKY_RELU ? 0.2f : 1.0f;
            conv2d_forward(ref, ws, in, w, b, &d);
            activation_forward(ref, ref, n_out, (hp_activation)act, alpha);
            for (size_t i = 0; i < n_out; i++)
                fused[i] = NAN; /* every output must be written */
            conv2d_forward_act(fused, ws, in, w, b, &d, (hp_activation)act, alpha);
            EXPECT(memcmp(fused, ref, n_out * sizeof *ref) == 0,
                   "%dx%d planes, activation %d: fused differs by %g", H, W, act,
                   max_abs_diff(fused, ref, n_out));
            EXPECT(workspace_guard_intact(ws, &d), "workspace guard overwritten");
        }
        free(in);
        free(w);
        free(b);
        free(fused);
        free(ref);
        free(ws);
    }
}

typedef struct conv_problem {
    conv2d_dims d;
    float *in, *w, *b, *out, *ws, *R;
    size_t n_in, n_w, n_out;
} conv_problem;

static double conv_loss(void *ctx)
{
    conv_problem *p = ctx;
    conv2d_forward(p->out, p->ws, p->in, p->w, p->b, &p->d);
    return dot(p->out, p->R, p->n_out);
}

static int conv_problem_init(conv_problem *p, int N, int C, int H, int W, int OC, conv_case cc,
                             hp_rng *rng)
{
    memset(p, 0, sizeof *p);
    if (conv2d_dims_init(&p->d, N, C, H, W, OC, cc.KH, cc.KW, cc.stride, cc.pad) != 0)
        return -1;
    p->n_in = (size_t)N * C * H * W;
    p->n_w = (size_t)OC * C * cc.KH * cc.KW;
    p->n_out = (size_t)N * OC * p->d.OH * p->d.OW;
    p->in = alloc_floats(p->n_in);
    p->w = alloc_floats(p->n_w);
    p->b = alloc_floats(OC);
    p->out = alloc_floats(p->n_out);
    p->R = alloc_floats(p->n_out);
    p->ws = alloc_workspace(&p->d);
    fill_uniform(p->in, p->n_in, -1, 1, rng);
    fill_uniform(p->w, p->n_w, -1, 1, rng);
    fill_uniform(p->b, OC, -1, 1, rng);
    fill_uniform(p->R, p->n_out, -1, 1, rng);
    return 0;
}

static void conv_problem_free(conv_problem *p)
{
    free(p->in);
    free(p->w);
    free(p->b);
    free(p->out);
    free(p->R);
    free(p->ws);
}

TEST(test_conv_gradients)
{
    hp_rng rng;
    hp_rng_seed(&rng, 12);
    const int shapes[][2] = {{7, 6}, {2, 3}}; /* H, W */
    for (int si = 0; si < 2; si++) {
        const int H = shapes[si][0], W = shapes[si][1];
        for (int ci = 0; ci < N_CONV_CASES; ci++) {
            const conv_case cc = conv_cases[ci];
            if (cc.pad == HP_PAD_VALID && (H < cc.KH || W < cc.KW))
                continue; /* no output; covered in test_conv_forward_matches_naive */
            conv_problem p;
            if (conv_problem_init(&p, 3, 3, H, W, 5, cc, &rng) != 0) {
                EXPECT(0, "init failed: %s", hp_error_message());
                continue;
            }
            float *d_in = alloc_floats(p.n_in), *d_w = alloc_floats(p.n_w), *d_b = alloc_floats(5);
            conv_loss(&p);
            conv2d_backward(d_in, d_w, d_b, p.ws, p.R, p.in, p.w, &p.d);
            char what[96], prefix[64];
            snprintf(prefix, sizeof prefix, "%dx%d input, kernel %dx%d stride %d %s", H, W, cc.KH,
                     cc.KW, cc.stride, pad_name(cc.pad));
            snprintf(what, sizeof what, "%s: d_in", prefix);
            EXPECT_GRAD(what, p.in, d_in, p.n_in, LINEAR_STEP, conv_loss, &p, 1e-2);
            snprintf(what, sizeof what, "%s: d_w", prefix);
            EXPECT_GRAD(what, p.w, d_w, p.n_w, LINEAR_STEP, conv_loss, &p, 1e-2);
            snprintf(what, sizeof what, "%s: d_b", prefix);
            EXPECT_GRAD(what, p.b, d_b, 5, LINEAR_STEP, conv_loss, &p, 1e-2);
            EXPECT(workspace_guard_intact(p.ws, &p.d), "workspace guard overwritten");
            free(d_in);
            free(d_w);
            free(d_b);
            conv_problem_free(&p);
        }
    }
}

/* Naive backward in double: d_b = sum d_out, d_w = sum d_out * in, d_in = sum d_out * w. */
static void conv_backward_reference(float *d_in, float *d_w, float *d_b, const float *d_out,
                                    const float *in, const float *w, const conv2d_dims *d)
{
    const int N = d->N, C = d->C, H = d->H, W = d->W, OC = d->OC, KH = d->KH, KW = d->KW;
    const int OH = d->OH, OW = d->OW, s = d->stride;
    const size_t n_in = (size_t)N * C * H * W, n_w = (size_t)OC * C * KH * KW;
    double *acc_in = hp_xcalloc(n_in, sizeof *acc_in), *acc_w = hp_xcalloc(n_w, sizeof *acc_w);
    for (int oc = 0; oc < OC; oc++) {
        double bias = 0.0;
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    const double g = d_out[((n * OC + oc) * OH + oh) * OW + ow];
                    bias += g;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * s - d->pad_top + kh, iw = ow * s - d->pad_left + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                size_t i = ((size_t)(n * C + c) * H + ih) * W + iw;
                                size_t k = ((size_t)(oc * C + c) * KH + kh) * KW + kw;
                                acc_w[k] += g * in[i];
                                acc_in[i] += g * w[k];
                            }
                }
        d_b[oc] = (float)bias;
    }
    for (size_t i = 0; i < n_in; i++)
        d_in[i] = (float)acc_in[i];
    for (size_t k = 0; k < n_w; k++)
        d_w[k] = (float)acc_w[k];
    free(acc_in);
    free(acc_w);
}

/* Batches big enough that the layer splits them into several chunks (of
   one image, and of several with a partial last one): forward and backward
   against the naive loops.  The chunk size is read back from the workspace
   size, (K + OC) * images_per_chunk * OH*OW, to make sure both kinds ran. */
TEST(test_conv_multi_chunk)
{
    hp_rng rng;
    hp_rng_seed(&rng, 14);
    static const conv_case cases[] = {{3, 3, 1, HP_PAD_SAME}, {5, 5, 2, HP_PAD_SAME},
                                      {2, 2, 2, HP_PAD_VALID}, {3, 3, 1, HP_PAD_VALID}};
    static const int shapes[][3] = {{32, 40, 36}, {8, 12, 12}, {8, 16, 16}}; /* C, H, W */
    const int N = 7, OC = 12;
    int saw_single_image_chunks = 0, saw_multi_image_chunks = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int C = shapes[si][0], H = shapes[si][1], W = shapes[si][2];
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const conv_case cc = cases[ci];
            conv_problem p;
            if (conv_problem_init(&p, N, C, H, W, OC, cc, &rng) != 0) {
                EXPECT(0, "init failed: %s", hp_error_message());
                continue;
            }
            if (conv2d_algorithm(&p.d) == HP_CONV_IM2COL) { /* Winograd has no image chunks */
                const size_t per_image = ((size_t)C * cc.KH * cc.KW + OC) * p.d.OH * p.d.OW;
                const size_t chunk = conv2d_workspace_floats(&p.d) / per_image;
                saw_single_image_chunks |= chunk == 1;
                saw_multi_image_chunks |= chunk > 1 && chunk < (size_t)N && N % chunk != 0;
            }
            float *ref = alloc_floats(p.n_out);
            int OH, OW;
            conv_loss(&p);
            conv_reference(ref, p.in, p.w, p.b, N, C, H, W, OC, cc.KH, cc.KW, cc.stride, cc.pad,
                           &OH, &OW);
            char what[96];
            snprintf(what, sizeof what, "C %d, %dx%d input, kernel %dx%d stride %d %s", C, H, W,
                     cc.KH, cc.KW, cc.stride, pad_name(cc.pad));
            EXPECT(max_abs_diff(p.out, ref, p.n_out) < 1e-3, "%s: forward differs by %g", what,
                   max_abs_diff(p.out, ref, p.n_out));
            float *d_in = alloc_floats(p.n_in), *d_w = alloc_floats(p.n_w), *d_b = alloc_floats(OC);
            float *r_in = alloc_floats(p.n_in), *r_w = alloc_floats(p.n_w), *r_b = alloc_floats(OC);
            conv2d_backward(d_in, d_w, d_b, p.ws, p.R, p.in, p.w, &p.d);
            conv_backward_reference(r_in, r_w, r_b, p.R, p.in, p.w, &p.d);
            EXPECT(max_abs_diff(d_in, r_in, p.n_in) < 1e-3, "%s: d_in differs by %g", what,
                   max_abs_diff(d_in, r_in, p.n_in));
            /* d_w entries are sums of up to ~10^4 products of size ~1 */
            EXPECT(max_abs_diff(d_w, r_w, p.n_w) < 1e-2, "%s: d_w differs by %g", what,
                   max_abs_diff(d_w, r_w, p.n_w));
            EXPECT(max_abs_diff(d_b, r_b, OC) < 1e-3, "%s: d_b differs by %g", what,
                   max_abs_diff(d_b, r_b, OC));
            EXPECT(workspace_guard_intact(p.ws, &p.d), "workspace guard overwritten");
            free(ref);
            free(d_in);
            free(d_w);
            free(d_b);
            free(r_in);
            free(r_w);
            free(r_b);
            conv_problem_free(&p);
        }
    }
    EXPECT(saw_single_image_chunks && saw_multi_image_chunks,
           "chunking not covered (one-image chunks seen: %d, several-image chunks with a partial "
           "last one seen: %d); adjust the shapes to the chunk size",
           saw_single_image_chunks, saw_multi_image_chunks);
}

/* One Winograd case (forced, also where AUTO would pick im2col) against the
   naive loops, forward and backward.  Each difference is divided by the
   size of the sums it comes from (1 + K*K*C products of size <= 1 per output,
   1 + K*K*OC per d_in, 1 + N*OH*OW per d_w and d_b) and must stay below tol;
   the largest of these ratios go to worst[0..3] (forward, d_in, d_w, d_b).
   d_in and out start as NaN: every element must be written. */
static void check_winograd_case(hp_rng *rng, hp_conv_algorithm algorithm, int N, int C, int H,
                                int W, int OC, int K, hp_padding pad, double tol, double worst[4])
{
    const conv_case cc = {K, K, 1, pad};
    conv_problem p;
    if (conv_problem_init(&p, N, C, H, W, OC, cc, rng) != 0) {
        EXPECT(0, "init failed: %s", hp_error_message());
        return;
    }
    p.d.algorithm = algorithm;
    free(p.ws);
    p.ws = alloc_workspace(&p.d);
    char what[96];
    snprintf(what, sizeof what, "%s %dx%d N %d C %d %dx%d OC %d %s", conv2d_algorithm_name(&p.d),
             K, K, N, C, H, W, OC, pad_name(pad));
    float *ref = alloc_floats(p.n_out);
    int OH, OW;
    for (size_t i = 0; i < p.n_out; i++)
        p.out[i] = NAN;
    conv_loss(&p);
    conv_reference(ref, p.in, p.w, p.b, N, C, H, W, OC, K, K, 1, pad, &OH, &OW);
    float *d_in = alloc_floats(p.n_in), *d_w = alloc_floats(p.n_w), *d_b = alloc_floats(OC);
    float *r_in = alloc_floats(p.n_in), *r_w = alloc_floats(p.n_w), *r_b = alloc_floats(OC);
    for (size_t i = 0; i < p.n_in; i++)
        d_in[i] = NAN;
    conv2d_backward(d_in, d_w, d_b, p.ws, p.R, p.in, p.w, &p.d);
    conv_backward_reference(r_in, r_w, r_b, p.R, p.in, p.w, &p.d);
    const double pixels = (double)N * p.d.OH * p.d.OW;
    const double ratio[4] = {max_abs_diff(p.out, ref, p.n_out) / (1 + K * K * C),
                             max_abs_diff(d_in, r_in, p.n_in) / (1 + K * K * OC),
                             max_abs_diff(d_w, r_w, p.n_w) / (1 + pixels),
                             max_abs_diff(d_b, r_b, OC) / (1 + pixels)};
    static const char *const names[4] = {"forward", "d_in", "d_w", "d_b"};
    for (int i = 0; i < 4; i++) {
        /* !(a < b) also catches NaN */
        EXPECT(ratio[i] < tol, "%s: %s differs by %g per product (tolerance %g)", what, names[i],
               ratio[i], tol);
        if (!(ratio[i] <= worst[i]))
            worst[i] = ratio[i];
    }
    EXPECT(workspace_guard_intact(p.ws, &p.d), "%s: workspace guard overwritten", what);
    free(ref);
    free(d_in);
    free(d_w);
    free(d_b);
    free(r_in);
    free(r_w);
    free(r_b);
    conv_problem_free(&p);
}

/* Winograd F(2x2,3x3) against the naive loops on shapes that take each of
   its paths: the 8- and 4-tile register paths (same padding, even widths
   16, 32, 8, 24), the general path (odd sizes, widths 6 and 2, valid
   padding), partial tile rows and columns, and blocks that end inside an
   image (N = 5 at 32x32 is 80 tile rows in blocks of 8; at 8x8, 20 rows in
   blocks of 32). */
TEST(test_conv_winograd_matches_naive)
{
    hp_rng rng;
    hp_rng_seed(&rng, 21);
    static const struct { int N, C, H, W, OC; hp_padding pad; } cases[] = {
        {2, 8, 16, 16, 12, HP_PAD_SAME}, {5, 4, 32, 32, 3, HP_PAD_SAME},
        {3, 8, 8, 8, 5, HP_PAD_SAME},    {2, 3, 9, 24, 4, HP_PAD_SAME},
        {5, 6, 8, 8, 7, HP_PAD_SAME},    {3, 5, 7, 6, 7, HP_PAD_SAME},
        {2, 8, 5, 9, 6, HP_PAD_SAME},    {3, 5, 7, 6, 7, HP_PAD_VALID},
        {2, 8, 9, 8, 4, HP_PAD_VALID},   {4, 3, 1, 2, 2, HP_PAD_SAME},
        {2, 9, 3, 3, 5, HP_PAD_VALID},   {1, 16, 2, 2, 33, HP_PAD_SAME},
    };
    double worst[4] = {0, 0, 0, 0};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        check_winograd_case(&rng, HP_CONV_WINOGRAD, cases[ci].N, cases[ci].C, cases[ci].H, cases[ci].W,
                            cases[ci].OC, 3, cases[ci].pad, 1e-4, worst);
    if (getenv("HPTUNE_TEST_VERBOSE"))
        printf("winograd 3x3 worst per product: forward %.3g d_in %.3g d_w %.3g d_b %.3g\n",
               worst[0], worst[1], worst[2], worst[3]);
}

/* Winograd F(2x2,5x5) the same way: same padding (2 on each side) with even
   and odd sizes, widths from 2 to 32, valid padding (down to a 5x5 input:
   one output), blocks ending inside an image (N = 5 at 32x32 is 80 tile
   rows in blocks of 3; at 8x8, 20 rows in blocks of 14), and a 64-channel
   case whose sums are long.  F(2,5)'s transforms have larger coefficients
   (up to 5/2 in B^T, 16/15 in G) and more terms than F(2,3)'s: the worst
   ratios measured here (HPTUNE_TEST_VERBOSE=1) are 1.0e-7 forward,
   1.2e-7 d_in, 1.2e-6 d_w (3x3: 3e-8, 3e-8, 1e-7); the tolerance 1e-5 is
   8x the largest, 10x tighter than 3x3's 1e-4. */
TEST(test_conv_winograd5_matches_naive)
{
    hp_rng rng;
    hp_rng_seed(&rng, 23);
    static const struct { int N, C, H, W, OC; hp_padding pad; } cases[] = {
        {2, 8, 16, 16, 12, HP_PAD_SAME}, {5, 4, 32, 32, 3, HP_PAD_SAME},
        {5, 8, 8, 8, 5, HP_PAD_SAME},    {2, 3, 9, 24, 4, HP_PAD_SAME},
        {3, 5, 7, 6, 7, HP_PAD_SAME},    {2, 8, 5, 9, 6, HP_PAD_SAME},
        {3, 5, 7, 6, 7, HP_PAD_VALID},   {2, 8, 9, 8, 4, HP_PAD_VALID},
        {4, 3, 1, 2, 2, HP_PAD_SAME},    {2, 9, 5, 5, 5, HP_PAD_VALID},
        {1, 16, 2, 2, 33, HP_PAD_SAME},  {2, 64, 16, 16, 32, HP_PAD_SAME},
    };
    double worst[4] = {0, 0, 0, 0};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        check_winograd_case(&rng, HP_CONV_WINOGRAD, cases[ci].N, cases[ci].C, cases[ci].H, cases[ci].W,
                            cases[ci].OC, 5, cases[ci].pad, 1e-5, worst);
    if (getenv("HPTUNE_TEST_VERBOSE"))
        printf("winograd 5x5 worst per product: forward %.3g d_in %.3g d_w %.3g d_b %.3g\n",
               worst[0], worst[1], worst[2], worst[3]);
}

/* 4x4 output tiles, F(4x4,3x3) and F(4x4,5x5), the same way: same and valid
   padding, sizes that are and are not multiples of 4 (the last tile row and
   column cut: 6, 7, 9, 5, 2, 1), blocks ending inside an image (N = 5 at
   32x32 is 40 tile rows in blocks of 4; at 12x12, 15 rows in blocks of
   10), one tile per image (4x4, valid 7x7 and 5x5 inputs) and 64-channel
   sums.  Measured worst ratios (HPTUNE_TEST_VERBOSE=1): F(4,3) 2.6e-7
   forward, 3.4e-7 d_in, 3.0e-7 d_w; F(4,5) 5.0e-7, 3.0e-7, 4.6e-6 (about
   8x F(2,3)'s and 4-5x F(2,5)'s: larger tiles, more and larger
   coefficients); the tolerances 3e-6 and 4e-5 are about 8x the largest. */
TEST(test_conv_winograd4_matches_naive)
{
    hp_rng rng;
    hp_rng_seed(&rng, 24);
    static const struct { int N, C, H, W, OC; hp_padding pad; } cases[] = {
        {2, 8, 16, 16, 12, HP_PAD_SAME}, {5, 4, 32, 32, 3, HP_PAD_SAME},
        {5, 8, 12, 12, 5, HP_PAD_SAME},  {2, 3, 9, 24, 4, HP_PAD_SAME},
        {3, 5, 7, 6, 7, HP_PAD_SAME},    {2, 8, 5, 9, 6, HP_PAD_SAME},
        {3, 5, 7, 6, 7, HP_PAD_VALID},   {2, 8, 9, 8, 4, HP_PAD_VALID},
        {4, 3, 1, 2, 2, HP_PAD_SAME},    {2, 9, 7, 7, 5, HP_PAD_VALID},
        {2, 9, 5, 5, 5, HP_PAD_VALID},   {3, 6, 4, 4, 5, HP_PAD_SAME},
        {1, 16, 2, 2, 33, HP_PAD_SAME},  {2, 64, 16, 16, 32, HP_PAD_SAME},
        {2, 32, 8, 8, 16, HP_PAD_SAME},
    };
    for (int K = 3; K <= 5; K += 2) {
        double worst[4] = {0, 0, 0, 0};
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            if (cases[ci].pad == HP_PAD_VALID && (cases[ci].H < K || cases[ci].W < K))
                continue;
            check_winograd_case(&rng, HP_CONV_WINOGRAD4, cases[ci].N, cases[ci].C, cases[ci].H,
                                cases[ci].W, cases[ci].OC, K, cases[ci].pad, K == 3 ? 3e-6 : 4e-5,
                                worst);
        }
        if (getenv("HPTUNE_TEST_VERBOSE"))
            printf("winograd4 %dx%d worst per product: forward %.3g d_in %.3g d_w %.3g d_b %.3g\n",
                   K, K, worst[0], worst[1], worst[2], worst[3]);
    }
}

/* The Winograd gradient is the exact adjoint of its forward pass: central
   differences of L = sum(out * R) against conv2d_backward, for d_in, d_w,
   d_b, on the register path (8x8) and the general one (7x6, valid 6x5);
   then F(2,5) on the same shapes (general path only; valid 6x5 is 2x1);
   then both with 4x4 tiles (F(4,3), F(4,5)). */
TEST(test_conv_winograd_gradients)
{
    hp_rng rng;
    hp_rng_seed(&rng, 22);
    static const struct { int H, W; hp_padding pad; } shapes[] = {
        {8, 8, HP_PAD_SAME}, {7, 6, HP_PAD_SAME}, {6, 5, HP_PAD_VALID}};
    for (int si = 0; si < 12; si++) {
        const int K = si % 6 < 3 ? 3 : 5;
        const hp_conv_algorithm algorithm = si < 6 ? HP_CONV_WINOGRAD : HP_CONV_WINOGRAD4;
        const conv_case cc = {K, K, 1, shapes[si % 3].pad};
        conv_problem p;
        if (conv_problem_init(&p, 2, 4, shapes[si % 3].H, shapes[si % 3].W, 3, cc, &rng) != 0) {
            EXPECT(0, "init failed: %s", hp_error_message());
            continue;
        }
        p.d.algorithm = algorithm;
        free(p.ws);
        p.ws = alloc_workspace(&p.d);
        float *d_in = alloc_floats(p.n_in), *d_w = alloc_floats(p.n_w), *d_b = alloc_floats(3);
        conv_loss(&p);
        conv2d_backward(d_in, d_w, d_b, p.ws, p.R, p.in, p.w, &p.d);
        char what[96], prefix[64];
        snprintf(prefix, sizeof prefix, "%s %dx%d on %dx%d %s", conv2d_algorithm_name(&p.d), K, K,
                 shapes[si % 3].H,
                 shapes[si % 3].W, pad_name(cc.pad));
        snprintf(what, sizeof what, "%s: d_in", prefix);
        EXPECT_GRAD(what, p.in, d_in, p.n_in, LINEAR_STEP, conv_loss, &p, 1e-2);
        snprintf(what, sizeof what, "%s: d_w", prefix);
        EXPECT_GRAD(what, p.w, d_w, p.n_w, LINEAR_STEP, conv_loss, &p, 1e-2);
        snprintf(what, sizeof what, "%s: d_b", prefix);
        EXPECT_GRAD(what, p.b, d_b, 3, LINEAR_STEP, conv_loss, &p, 1e-2);
        free(d_in);
        free(d_w);
        free(d_b);
        conv_problem_free(&p);
    }
}

/* AUTO: Winograd exactly for 3x3 and 5x5 stride-1 layers with >= 8 input
   channels; 4x4 tiles for 5x5, and for 3x3 from 16x16 outputs and 96
   channels in and out up. */
TEST(test_conv_algorithm_choice)
{
    conv2d_dims d;
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD, "32 channels 3x3 stride 1 at 16x16: %s",
           conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 96, 16, 16, 96, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "96 channels 3x3 at 16x16: %s",
           conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 96, 16, 16, 64, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD, "96 -> 64 channels: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 128, 8, 8, 128, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD, "3x3 at 8x8: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 128, 16, 8, 128, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD, "3x3 at 16x8: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 128, 18, 18, 128, 3, 3, 1, HP_PAD_VALID) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "3x3 valid 18x18 (16x16 out): %s",
           conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 3, 32, 32, 32, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "3 channels: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 3, 3, 2, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "stride 2: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 5, 5, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "5x5: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 5, 5, 1, HP_PAD_VALID) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "5x5 valid: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 4, 4, 32, 5, 5, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "5x5 at 4x4: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 3, 32, 32, 32, 5, 5, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "5x5, 3 channels: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 5, 5, 2, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "5x5 stride 2: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 3, 5, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "3x5: %s", conv2d_algorithm_name(&d));
    EXPECT(conv2d_dims_init(&d, 4, 32, 16, 16, 32, 2, 2, 1, HP_PAD_SAME) == 0, "init");
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "2x2: %s", conv2d_algorithm_name(&d));
    d.algorithm = HP_CONV_IM2COL;
    EXPECT(conv2d_algorithm(&d) == HP_CONV_IM2COL, "forced im2col");
    EXPECT(conv2d_dims_init(&d, 4, 3, 8, 8, 32, 3, 3, 1, HP_PAD_SAME) == 0, "init");
    d.algorithm = HP_CONV_WINOGRAD4;
    EXPECT(conv2d_algorithm(&d) == HP_CONV_WINOGRAD4, "forced 4x4 tiles: %s", conv2d_algorithm_name(&d));
}

/* backward overwrites d_in, accumulates d_w/d_b, and accepts d_in == NULL */
TEST(test_conv_backward_conventions)
{
    hp_rng rng;
    hp_rng_seed(&rng, 13);
    conv_problem p;
    conv_case cc = {3, 3, 2, HP_PAD_SAME};
    EXPECT(conv_problem_init(&p, 3, 5, 7, 6, 7, cc, &rng) == 0, "init");
    float *d_in = alloc_floats(p.n_in), *d_in2 = alloc_floats(p.n_in);
    float *d_w = alloc_floats(p.n_w), *d_b = alloc_floats(7);
    float *d_w2 = alloc_floats(p.n_w), *d_b2 = alloc_floats(7);
    conv2d_backward(d_in, d_w, d_b, p.ws, p.R, p.in, p.w, &p.d);
    for (size_t i = 0; i < p.n_in; i++)
        d_in2[i] = 1e6f; /* garbage that must be overwritten */
    conv2d_backward(d_in2, d_w2, d_b2, p.ws, p.R, p.in, p.w, &p.d);
    EXPECT(max_abs_diff(d_in, d_in2, p.n_in) == 0.0, "d_in is overwritten, not accumulated");
    conv2d_backward(d_in2, d_w2, d_b2, p.ws, p.R, p.in, p.w, &p.d);
    for (size_t i = 0; i < p.n_w; i++)
        EXPECT(fabsf(d_w2[i] - 2.0f * d_w[i]) <= 1e-5f * (1.0f + fabsf(d_w[i])), "d_w[%zu] %g vs 2*%g",
               i, d_w2[i], d_w[i]);
    for (int i = 0; i < 7; i++)
        EXPECT(fabsf(d_b2[i] - 2.0f * d_b[i]) <= 1e-5f * (1.0f + fabsf(d_b[i])), "d_b[%d]", i);
    /* d_in == NULL: parameter gradients unchanged */
    memset(d_w2, 0, p.n_w * sizeof *d_w2);
    memset(d_b2, 0, 7 * sizeof *d_b2);
    conv2d_backward(NULL, d_w2, d_b2, p.ws, p.R, p.in, p.w, &p.d);
    EXPECT(max_abs_diff(d_w, d_w2, p.n_w) == 0.0, "d_w with d_in NULL");
    EXPECT(max_abs_diff(d_b, d_b2, 7) == 0.0, "d_b with d_in NULL");
    EXPECT(workspace_guard_intact(p.ws, &p.d), "workspace guard overwritten");
    free(d_in);
    free(d_in2);
    free(d_w);
    free(d_b);
    free(d_w2);
    free(d_b2);
    conv_problem_free(&p);
}

/* ------------------------------------------------------------- dense ---- */

typedef struct dense_problem {
    int N, I, O;
    float *in, *w, *b, *out, *R;
} dense_problem;

static double dense_loss(void *ctx)
{
    dense_problem *p = ctx;
    dense_forward(p->out, p->in, p->w, p->b, p->N, p->I, p->O);
    return dot(p->out, p->R, (size_t)p->N * p->O);
}

TEST(test_dense)
{
    hp_rng rng;
    hp_rng_seed(&rng, 21);
    dense_problem p = {.N = 3, .I = 7, .O = 5};
    size_t n_in = 21, n_w = 35, n_out = 15;
    p.in = alloc_floats(n_in);
    p.w = alloc_floats(n_w);
    p.b = alloc_floats(5);
    p.out = alloc_floats(n_out);
    p.R = alloc_floats(n_out);
    fill_uniform(p.in, n_in, -1, 1, &rng);
    fill_uniform(p.w, n_w, -1, 1, &rng);
    fill_uniform(p.b, 5, -1, 1, &rng);
    fill_uniform(p.R, n_out, -1, 1, &rng);
    for (size_t i = 0; i < n_out; i++)
        p.out[i] = NAN; /* forward overwrites */
    dense_loss(&p);
    /* forward against the definition */
    for (int n = 0; n < 3; n++)
        for (int o = 0; o < 5; o++) {
            double s = p.b[o];
            for (int i = 0; i < 7; i++)
                s += (double)p.in[n * 7 + i] * p.w[o * 7 + i];
            EXPECT_NEAR(p.out[n * 5 + o], s, 1e-5, "dense out");
        }
    float *d_in = alloc_floats(n_in), *d_w = alloc_floats(n_w), *d_b = alloc_floats(5);
    dense_backward(d_in, d_w, d_b, p.R, p.in, p.w, 3, 7, 5);
    EXPECT_GRAD("dense d_in", p.in, d_in, n_in, LINEAR_STEP, dense_loss, &p, 1e-2);
    EXPECT_GRAD("dense d_w", p.w, d_w, n_w, LINEAR_STEP, dense_loss, &p, 1e-2);
    EXPECT_GRAD("dense d_b", p.b, d_b, 5, LINEAR_STEP, dense_loss, &p, 1e-2);
    /* conventions: d_in overwritten, d_w/d_b accumulated, d_in may be NULL */
    float *d_in2 = alloc_floats(n_in), *d_w2 = alloc_floats(n_w), *d_b2 = alloc_floats(5);
    for (size_t i = 0; i < n_in; i++)
        d_in2[i] = 1e6f;
    dense_backward(d_in2, d_w2, d_b2, p.R, p.in, p.w, 3, 7, 5);
    dense_backward(NULL, d_w2, d_b2, p.R, p.in, p.w, 3, 7, 5);
    EXPECT(max_abs_diff(d_in, d_in2, n_in) == 0.0, "d_in overwritten");
    for (size_t i = 0; i < n_w; i++)
        EXPECT_NEAR(d_w2[i], 2.0 * d_w[i], 1e-5, "d_w accumulates");
    for (int i = 0; i < 5; i++)
        EXPECT_NEAR(d_b2[i], 2.0 * d_b[i], 1e-5, "d_b accumulates");
    free(d_in);
    free(d_w);
    free(d_b);
    free(d_in2);
    free(d_w2);
    free(d_b2);
    free(p.in);
    free(p.w);
    free(p.b);
    free(p.out);
    free(p.R);
}

/* -------------------------------------------------------- activation ---- */

TEST(test_activation_values)
{
    const float x[4] = {-1.0f, 0.0f, 2.0f, -100.0f};
    float y[4];
    activation_forward(y, x, 4, HP_ACT_RELU, 0.0f);
    EXPECT(y[0] == 0.0f && y[1] == 0.0f && y[2] == 2.0f && y[3] == 0.0f, "relu");
    activation_forward(y, x, 4, HP_ACT_LEAKY_RELU, 0.2f);
    EXPECT_NEAR(y[0], -0.2, 1e-7, "leaky(-1)");
    EXPECT(y[2] == 2.0f, "leaky(2)");
    EXPECT_NEAR(y[3], -20.0, 1e-5, "leaky(-100)");
    activation_forward(y, x, 4, HP_ACT_ELU, 1.0f);
    EXPECT_NEAR(y[0], exp(-1.0) - 1.0, 1e-7, "elu(-1)");
    EXPECT(y[2] == 2.0f, "elu(2)");
    EXPECT_NEAR(y[3], -1.0, 1e-7, "elu(-100)");
    activation_forward(y, x, 4, HP_ACT_ELU, 0.5f);
    EXPECT_NEAR(y[0], 0.5 * (exp(-1.0) - 1.0), 1e-7, "elu alpha 0.5 (-1)");
    activation_forward(y, x, 4, HP_ACT_TANH, 0.0f);
    EXPECT_NEAR(y[0], tanh(-1.0), 1e-7, "tanh(-1)");
    EXPECT_NEAR(y[3], -1.0, 1e-7, "tanh(-100)");
    activation_forward(y, x, 4, HP_ACT_SIGMOID, 0.0f);
    EXPECT_NEAR(y[0], 1.0 / (1.0 + exp(1.0)), 1e-7, "sigmoid(-1)");
    EXPECT(y[1] == 0.5f, "sigmoid(0) %g", y[1]);
    EXPECT(isfinite(y[3]) && y[3] >= 0.0f && y[3] < 1e-30f, "sigmoid(-100) %g", y[3]);
    const float big[2] = {100.0f, -1000.0f};
    activation_forward(y, big, 2, HP_ACT_SIGMOID, 0.0f);
    EXPECT(y[0] == 1.0f && y[1] == 0.0f, "sigmoid saturates without NaN: %g %g", y[0], y[1]);
}

typedef struct act_problem {
    hp_activation act;
    float alpha;
    size_t n;
    float *in, *out, *R;
} act_problem;

static double act_loss(void *ctx)
{
    act_problem *p = ctx;
    activation_forward(p->out, p->in, p->n, p->act, p->alpha);
    return dot(p->out, p->R, p->n);
}

TEST(test_activation_gradients)
{
    static const struct {
        hp_activation act;
        float alpha;
        const char *name;
    } cases[] = {
        {HP_ACT_RELU, 0.0f, "relu"},       {HP_ACT_LEAKY_RELU, 0.2f, "leaky_relu 0.2"},
        {HP_ACT_LEAKY_RELU, 0.0f, "leaky_relu 0"}, {HP_ACT_ELU, 1.0f, "elu 1"},
        {HP_ACT_ELU, 0.5f, "elu 0.5"},     {HP_ACT_TANH, 0.0f, "tanh"},
        {HP_ACT_SIGMOID, 0.0f, "sigmoid"},
    };
    hp_rng rng;
    hp_rng_seed(&rng, 31);
    const size_t n = 3 * 5 * 7; /* a (3,5,7) tensor */
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        act_problem p = {cases[ci].act, cases[ci].alpha, n, alloc_floats(n), alloc_floats(n),
                         alloc_floats(n)};
        fill_away_from_zero(p.in, n, 3.0f, 0.05f, &rng); /* h = 1e-2 never crosses 0 */
        fill_uniform(p.R, n, -1, 1, &rng);
        act_loss(&p);
        float *d_in = alloc_floats(n);
        activation_backward(d_in, p.R, p.out, n, p.act, p.alpha);
        EXPECT_GRAD(cases[ci].name, p.in, d_in, n, STEP, act_loss, &p, 1e-2);
        /* in place: forward over its input, backward over its d_out */
        act_loss(&p); /* p.out for the unperturbed input again */
        float *x = alloc_floats(n), *g = alloc_floats(n);
        memcpy(x, p.in, n * sizeof *x);
        memcpy(g, p.R, n * sizeof *g);
        activation_forward(x, x, n, p.act, p.alpha);
        activation_backward(g, g, x, n, p.act, p.alpha);
        EXPECT(max_abs_diff(x, p.out, n) == 0.0, "%s: in-place forward differs", cases[ci].name);
        EXPECT(max_abs_diff(g, d_in, n) == 0.0, "%s: in-place backward differs", cases[ci].name);
        free(x);
        free(g);
        free(d_in);
        free(p.in);
        free(p.out);
        free(p.R);
    }
}

/* ----------------------------------------------------------- pooling ---- */

TEST(test_pool_hand_computed)
{
    pool2d_dims d;
    /* 1x1x3x4 input, window 2 stride 2 -> 1x2 (last row dropped, valid) */
    EXPECT(pool2d_dims_init(&d, 1, 1, 3, 4, 2, 2) == 0, "init");
    EXPECT(d.OH == 1 && d.OW == 2, "OH %d OW %d", d.OH, d.OW);
    const float in[12] = {1, 5, 2, 2, 3, 4, 2, 0, 9, 9, 9, 9};
    float out[2];
    int32_t argmax[2];
    pool2d_forward(out, argmax, in, HP_POOL_MAX, &d);
    EXPECT(out[0] == 5 && argmax[0] == 1, "max 0: %g at %d", out[0], argmax[0]);
    EXPECT(out[1] == 2 && argmax[1] == 2, "ties keep the first: %g at %d", out[1], argmax[1]);
    pool2d_forward(out, NULL, in, HP_POOL_AVG, &d);
    EXPECT_NEAR(out[0], 13.0 / 4, 1e-6, "avg 0");
    EXPECT_NEAR(out[1], 1.5, 1e-6, "avg 1");
    float d_in[12];
    const float d_out[2] = {1.0f, 2.0f};
    pool2d_forward(out, argmax, in, HP_POOL_MAX, &d);
    pool2d_backward(d_in, d_out, argmax, HP_POOL_MAX, &d);
    const float expect_max[12] = {0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT(max_abs_diff(d_in, expect_max, 12) == 0.0, "max backward");
    /* NaN propagates through max pooling */
    float with_nan[12];
    memcpy(with_nan, in, sizeof with_nan);
    with_nan[4] = NAN;
    pool2d_forward(out, argmax, with_nan, HP_POOL_MAX, &d);
    EXPECT(isnan(out[0]) && !isnan(out[1]), "NaN: %g %g", out[0], out[1]);
    /* sizes */
    EXPECT(pool2d_dims_init(&d, 3, 5, 7, 6, 3, 2) == 0, "init");
    EXPECT(d.OH == 3 && d.OW == 2, "size 3 stride 2 on 7x6: %dx%d", d.OH, d.OW);
    EXPECT(pool2d_dims_init(&d, 1, 1, 2, 6, 3, 2) == -1, "window larger than input");
    EXPECT(pool2d_dims_init(&d, 1, 1, 6, 6, 0, 2) == -1, "window 0");
}

typedef struct pool_problem {
    pool2d_dims d;
    hp_pool kind;
    float *in, *out, *R;
    int32_t *argmax;
    size_t n_in, n_out;
} pool_problem;

static double pool_loss(void *ctx)
{
    pool_problem *p = ctx;
    pool2d_forward(p->out, p->argmax, p->in, p->kind, &p->d);
    return dot(p->out, p->R, p->n_out);
}

TEST(test_pool_gradients)
{
    static const int configs[][2] = {{2, 2}, {3, 2}, {2, 1}, {2, 3}, {3, 3}}; /* size, stride */
    hp_rng rng;
    hp_rng_seed(&rng, 41);
    for (int kind = HP_POOL_MAX; kind <= HP_POOL_AVG; kind++) {
        for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++) {
            pool_problem p = {.kind = (hp_pool)kind};
            EXPECT(pool2d_dims_init(&p.d, 3, 5, 7, 6, configs[ci][0], configs[ci][1]) == 0, "init");
            p.n_in = (size_t)3 * 5 * 7 * 6;
            p.n_out = (size_t)3 * 5 * p.d.OH * p.d.OW;
            p.in = alloc_floats(p.n_in);
            p.out = alloc_floats(p.n_out);
            p.R = alloc_floats(p.n_out);
            p.argmax = hp_xcalloc(p.n_out, sizeof *p.argmax);
            /* distinct values 0.05 apart (a shuffled ramp): a 1e-2 step never changes the max */
            for (size_t i = 0; i < p.n_in; i++)
                p.in[i] = 0.05f * (float)i - 10.0f;
            for (size_t i = p.n_in - 1; i > 0; i--) {
                size_t j = (size_t)hp_rng_below(&rng, i + 1);
                float t = p.in[i];
                p.in[i] = p.in[j];
                p.in[j] = t;
            }
            fill_uniform(p.R, p.n_out, -1, 1, &rng);
            pool_loss(&p);
            float *d_in = alloc_floats(p.n_in);
            for (size_t i = 0; i < p.n_in; i++)
                d_in[i] = 1e6f; /* must be overwritten */
            pool2d_backward(d_in, p.R, p.argmax, p.kind, &p.d);
            char what[64];
            snprintf(what, sizeof what, "%s pool size %d stride %d", kind == HP_POOL_MAX ? "max" : "avg",
                     configs[ci][0], configs[ci][1]);
            EXPECT_GRAD(what, p.in, d_in, p.n_in, kind == HP_POOL_MAX ? STEP : LINEAR_STEP, pool_loss, &p, 1e-2);
            free(d_in);
            free(p.in);
            free(p.out);
            free(p.R);
            free(p.argmax);
        }
    }
}

/* Max pooling 2x2 stride 2 (which has its own vectorised path) against a
   naive scan in the test: values from a small set so ties are common, some
   NaNs, odd H and W (a row and a column no window covers) and rows long
   enough for the 8-window blocks plus a remainder. */
TEST(test_max_pool_2x2_matches_naive)
{
    hp_rng rng;
    hp_rng_seed(&rng, 43);
    const int shapes[][2] = {{9, 37}, {32, 32}, {8, 8}, {3, 18}}; /* H, W */
    for (int si = 0; si < 4; si++) {
        const int N = 2, C = 3, H = shapes[si][0], W = shapes[si][1];
        pool2d_dims d;
        EXPECT(pool2d_dims_init(&d, N, C, H, W, 2, 2) == 0, "init");
        const size_t n_in = (size_t)N * C * H * W, n_out = (size_t)N * C * d.OH * d.OW;
        float *in = alloc_floats(n_in), *out = alloc_floats(n_out), *d_out = alloc_floats(n_out);
        float *d_in = alloc_floats(n_in);
        int32_t *argmax = hp_xcalloc(n_out, sizeof *argmax);
        for (size_t i = 0; i < n_in; i++) {
            const float u = hp_rng_uniform_float(&rng);
            in[i] = u < 0.03f ? NAN : (float)(int)(u * 5.0f) - 2.0f; /* -2..2, ties */
        }
        fill_uniform(d_out, n_out, -1, 1, &rng);
        pool2d_forward(out, argmax, in, HP_POOL_MAX, &d);
        for (size_t i = 0; i < n_in; i++)
            d_in[i] = 1e6f; /* must be overwritten */
        pool2d_backward(d_in, d_out, argmax, HP_POOL_MAX, &d);
        size_t bad_forward = 0, bad_backward = 0;
        for (size_t p = 0; p < (size_t)N * C; p++) {
            const float *plane = in + p * H * W;
            for (int oh = 0; oh < d.OH; oh++)
                for (int ow = 0; ow < d.OW; ow++) {
                    /* scan order (0,0) (0,1) (1,0) (1,1); the first NaN or the first maximum */
                    int best = 2 * oh * W + 2 * ow;
                    for (int k = 1; k < 4; k++) {
                        const int at = (2 * oh + k / 2) * W + 2 * ow + k % 2;
                        const float v = plane[at], cur = plane[best];
                        if (isnan(cur))
                            break;
                        if (isnan(v) || v > cur)
                            best = at;
                    }
                    const size_t j = p * d.OH * d.OW + (size_t)oh * d.OW + ow;
                    const float got = out[j], want = plane[best];
                    bad_forward += argmax[j] != best ||
                                   !(got == want || (isnan(got) && isnan(want)));
                }
            /* d_in: d_out at each window's maximum, 0 everywhere else */
            for (int i = 0; i < H * W; i++) {
                float want = 0.0f;
                const int oh = i / W / 2, ow = i % W / 2;
                if (oh < d.OH && ow < d.OW) {
                    const size_t j = p * d.OH * d.OW + (size_t)oh * d.OW + ow;
                    if (argmax[j] == i)
                        want = d_out[j];
                }
                bad_backward += d_in[p * H * W + i] != want;
            }
        }
        EXPECT(bad_forward == 0, "%dx%d: %zu windows differ from the naive scan", H, W, bad_forward);
        EXPECT(bad_backward == 0, "%dx%d: %zu d_in values wrong", H, W, bad_backward);
        free(in);
        free(out);
        free(d_out);
        free(d_in);
        free(argmax);
    }
}

/* The network applies an activation's backward that directly precedes a max
   pool to the pool's OUTPUT gradient (with the pooled values as y) before
   pool2d_backward, instead of to the pool's input gradient after it.  Both
   orders must give the same d_x, for every activation and pool geometry. */
TEST(test_activation_backward_commutes_with_max_pool)
{
    static const int configs[][2] = {{2, 2}, {3, 2}, {2, 1}, {2, 3}}; /* size, stride */
    hp_rng rng;
    hp_rng_seed(&rng, 47);
    for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++) {
        pool2d_dims d;
        EXPECT(pool2d_dims_init(&d, 2, 3, 9, 20, configs[ci][0], configs[ci][1]) == 0, "init");
        const size_t n_in = (size_t)2 * 3 * 9 * 20, n_out = (size_t)2 * 3 * d.OH * d.OW;
        float *x = alloc_floats(n_in), *y = alloc_floats(n_in), *pooled = alloc_floats(n_out);
        float *g = alloc_floats(n_out), *g_fused = alloc_floats(n_out);
        float *d_y = alloc_floats(n_in), *d_x = alloc_floats(n_in), *d_x_fused = alloc_floats(n_in);
        int32_t *argmax = hp_xcalloc(n_out, sizeof *argmax);
        fill_uniform(x, n_in, -2, 2, &rng);
        fill_uniform(g, n_out, -1, 1, &rng);
        for (int act = HP_ACT_RELU; act <= HP_ACT_SIGMOID; act++) {
            const float alpha = act == HP_ACT_LEAKY_RELU ? 0.2f : 1.0f;
            activation_forward(y, x, n_in, (hp_activation)act, alpha);
            pool2d_forward(pooled, argmax, y, HP_POOL_MAX, &d);
            /* layer by layer */
            pool2d_backward(d_y, g, argmax, HP_POOL_MAX, &d);
            activation_backward(d_x, d_y, y, n_in, (hp_activation)act, alpha);
            /* fused order */
            activation_backward(g_fused, g, pooled, n_out, (hp_activation)act, alpha);
            pool2d_backward(d_x_fused, g_fused, argmax, HP_POOL_MAX, &d);
            /* overlapping windows add two products instead of multiplying a sum */
            EXPECT(max_abs_diff(d_x, d_x_fused, n_in) < 1e-6, "size %d stride %d activation %d: %g",
                   configs[ci][0], configs[ci][1], act, max_abs_diff(d_x, d_x_fused, n_in));
        }
        free(x);
        free(y);
        free(pooled);
        free(g);
        free(g_fused);
        free(d_y);
        free(d_x);
        free(d_x_fused);
        free(argmax);
    }
}

/* -------------------------------------------------------- batch norm ---- */

typedef struct bn_problem {
    batchnorm_dims d;
    float *in, *out, *R, *gamma, *beta, *mean, *inv_std, *run_mean, *run_var;
    size_t n;
} bn_problem;

static double bn_loss(void *ctx)
{
    bn_problem *p = ctx;
    batchnorm_forward_train(p->out, p->mean, p->inv_std, p->run_mean, p->run_var, p->in, p->gamma,
                            p->beta, &p->d);
    return dot(p->out, p->R, p->n);
}

static void bn_problem_init(bn_problem *p, int N, int C, int HW, hp_rng *rng)
{
    memset(p, 0, sizeof *p);
    p->d = (batchnorm_dims){.N = N, .C = C, .HW = HW, .eps = 1e-3f, .momentum = 0.9f};
    p->n = (size_t)N * C * HW;
    p->in = alloc_floats(p->n);
    p->out = alloc_floats(p->n);
    p->R = alloc_floats(p->n);
    p->gamma = alloc_floats(C);
    p->beta = alloc_floats(C);
    p->mean = alloc_floats(C);
    p->inv_std = alloc_floats(C);
    p->run_mean = alloc_floats(C);
    p->run_var = alloc_floats(C);
    /* channel c centred on c with spread growing with c: stats differ per channel */
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < HW; j++)
                p->in[((size_t)n * C + c) * HW + j] =
                    (float)c + (0.5f + 0.3f * c) * (2.0f * hp_rng_uniform_float(rng) - 1.0f);
    fill_uniform(p->R, p->n, -1, 1, rng);
    fill_uniform(p->gamma, C, 0.5f, 1.5f, rng);
    fill_uniform(p->beta, C, -1, 1, rng);
    for (int c = 0; c < C; c++)
        p->run_var[c] = 1.0f;
}

static void bn_problem_free(bn_problem *p)
{
    free(p->in);
    free(p->out);
    free(p->R);
    free(p->gamma);
    free(p->beta);
    free(p->mean);
    free(p->inv_std);
    free(p->run_mean);
    free(p->run_var);
}

TEST(test_batchnorm_train_statistics)
{
    hp_rng rng;
    hp_rng_seed(&rng, 51);
    bn_problem p;
    const int N = 3, C = 5, HW = 42;
    bn_problem_init(&p, N, C, HW, &rng);
    bn_loss(&p); /* one training forward from running (0, 1) */
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < HW; j++)
                sum += p.in[((size_t)n * C + c) * HW + j];
        double mean = sum / M;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < HW; j++) {
                double dev = p.in[((size_t)n * C + c) * HW + j] - mean;
                sq += dev * dev;
            }
        double var = sq / M, var_unbiased = sq / (M - 1);
        EXPECT_NEAR(p.mean[c], mean, 1e-5 * (1 + fabs(mean)), "saved mean");
        EXPECT_NEAR(p.inv_std[c], 1.0 / sqrt(var + 1e-3), 1e-5, "saved inv_std (biased var)");
        EXPECT_NEAR(p.run_mean[c], 0.1 * mean, 1e-5, "running mean");
        EXPECT_NEAR(p.run_var[c], 0.9 + 0.1 * var_unbiased, 1e-5, "running var (unbiased)");
        /* output: mean beta, standard deviation gamma*sqrt(var/(var+eps)) */
        double out_sum = 0.0, out_sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < HW; j++)
                out_sum += p.out[((size_t)n * C + c) * HW + j];
        double out_mean = out_sum / M;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < HW; j++) {
                double dev = p.out[((size_t)n * C + c) * HW + j] - out_mean;
                out_sq += dev * dev;
            }
        EXPECT_NEAR(out_mean, p.beta[c], 1e-5, "output mean");
        EXPECT_NEAR(sqrt(out_sq / M), p.gamma[c] * sqrt(var / (var + 1e-3)), 1e-5, "output std");
    }
    bn_problem_free(&p);
}

TEST(test_batchnorm_eval_uses_running_stats)
{
    hp_rng rng;
    hp_rng_seed(&rng, 52);
    bn_problem p;
    const int C = 5;
    bn_problem_init(&p, 3, C, 42, &rng);
    for (int c = 0; c < C; c++) {
        p.run_mean[c] = 0.3f * (float)c - 0.5f;
        p.run_var[c] = 0.5f + 0.25f * (float)c;
    }
    batchnorm_forward_eval(p.out, p.in, p.gamma, p.beta, p.run_mean, p.run_var, &p.d);
    double worst = 0.0;
    for (size_t i = 0; i < p.n; i++) {
        int c = (int)((i / 42) % C);
        double expect = p.gamma[c] * (p.in[i] - p.run_mean[c]) / sqrt(p.run_var[c] + 1e-3) + p.beta[c];
        worst = fmax(worst, fabs(expect - p.out[i]));
    }
    EXPECT(worst < 1e-5, "eval output differs from the running-statistics formula by %g", worst);
    /* eval must not touch the running statistics (they are const) and must
       differ from train mode on a batch whose statistics differ */
    float *train_out = alloc_floats(p.n);
    memcpy(train_out, p.out, p.n * sizeof *train_out);
    bn_loss(&p);
    EXPECT(max_abs_diff(train_out, p.out, p.n) > 0.1, "eval equals train output");
    free(train_out);
    bn_problem_free(&p);
}

/* Training-mode batch norm re-implemented in double: L = sum(out * R). */
typedef struct bn_reference {
    int N, C, HW;
    double eps;
    double *x, *gamma, *beta;
    const float *R;
} bn_reference;

static double bn_reference_loss(void *ctx)
{
    const bn_reference *r = ctx;
    const double M = (double)r->N * r->HW;
    double loss = 0.0;
    for (int c = 0; c < r->C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < r->N; n++)
            for (int j = 0; j < r->HW; j++)
                sum += r->x[((size_t)n * r->C + c) * r->HW + j];
        const double mean = sum / M;
        for (int n = 0; n < r->N; n++)
            for (int j = 0; j < r->HW; j++) {
                double dev = r->x[((size_t)n * r->C + c) * r->HW + j] - mean;
                sq += dev * dev;
            }
        const double inv_std = 1.0 / sqrt(sq / M + r->eps);
        for (int n = 0; n < r->N; n++)
            for (int j = 0; j < r->HW; j++) {
                size_t i = ((size_t)n * r->C + c) * r->HW + j;
                loss += (r->gamma[c] * (r->x[i] - mean) * inv_std + r->beta[c]) * r->R[i];
            }
    }
    return loss;
}

static double *to_doubles(const float *x, size_t n)
{
    double *y = hp_xcalloc(n, sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

TEST(test_batchnorm_gradients)
{
    hp_rng rng;
    hp_rng_seed(&rng, 53);
    static const int shapes[][3] = {{3, 5, 42}, {3, 7, 1}, {2, 3, 5}}; /* N, C, HW */
    for (int si = 0; si < 3; si++) {
        bn_problem p;
        const int N = shapes[si][0], C = shapes[si][1], HW = shapes[si][2];
        bn_problem_init(&p, N, C, HW, &rng);
        const double layer_loss = bn_loss(&p);
        float *d_in = alloc_floats(p.n), *d_gamma = alloc_floats(C), *d_beta = alloc_floats(C);
        batchnorm_backward(d_in, d_gamma, d_beta, p.R, p.in, p.gamma, p.mean, p.inv_std, &p.d);
        /* Finite differences of the double re-implementation (step 1e-4: no
           float noise, truncation ~1e-8), after checking it matches the layer. */
        bn_reference ref = {N, C, HW, p.d.eps, to_doubles(p.in, p.n), to_doubles(p.gamma, C),
                            to_doubles(p.beta, C), p.R};
        const double ref_loss = bn_reference_loss(&ref);
        EXPECT(fabs(ref_loss - layer_loss) <= 1e-5 * (1.0 + fabs(ref_loss)),
               "layer loss %.9g vs double reference %.9g", layer_loss, ref_loss);
        char what[64];
        snprintf(what, sizeof what, "batchnorm N%d C%d HW%d d_in", N, C, HW);
        EXPECT_GRAD_DOUBLE(what, ref.x, d_in, p.n, 1e-4, bn_reference_loss, &ref, 1e-4);
        EXPECT_GRAD_DOUBLE("batchnorm d_gamma", ref.gamma, d_gamma, (size_t)C, 1e-4,
                           bn_reference_loss, &ref, 1e-4);
        EXPECT_GRAD_DOUBLE("batchnorm d_beta", ref.beta, d_beta, (size_t)C, 1e-4,
                           bn_reference_loss, &ref, 1e-4);
        /* and the float layer itself, at the usual step */
        EXPECT_GRAD("batchnorm (float) d_gamma", p.gamma, d_gamma, (size_t)C, STEP, bn_loss, &p,
                    1e-2);
        EXPECT_GRAD("batchnorm (float) d_beta", p.beta, d_beta, (size_t)C, LINEAR_STEP, bn_loss,
                    &p, 1e-2);
        /* parameter gradients accumulate; d_in is overwritten */
        bn_loss(&p);
        float *d_in1 = alloc_floats(p.n), *d_gamma1 = alloc_floats(C), *d_beta1 = alloc_floats(C);
        for (size_t i = 0; i < p.n; i++)
            d_in1[i] = 1e6f;
        batchnorm_backward(d_in1, d_gamma1, d_beta1, p.R, p.in, p.gamma, p.mean, p.inv_std, &p.d);
        EXPECT(max_abs_diff(d_in, d_in1, p.n) == 0.0, "d_in is overwritten");
        batchnorm_backward(d_in, d_gamma, d_beta, p.R, p.in, p.gamma, p.mean, p.inv_std, &p.d);
        for (int c = 0; c < C; c++) {
            EXPECT_NEAR(d_gamma[c], 2.0 * d_gamma1[c], 1e-5, "d_gamma accumulates");
            EXPECT_NEAR(d_beta[c], 2.0 * d_beta1[c], 1e-5, "d_beta accumulates");
        }
        free(ref.x);
        free(ref.gamma);
        free(ref.beta);
        free(d_in1);
        free(d_gamma1);
        free(d_beta1);
        free(d_in);
        free(d_gamma);
        free(d_beta);
        bn_problem_free(&p);
    }
}

/* ----------------------------------------------------------- dropout ---- */

TEST(test_dropout)
{
    enum { n = 100000 };
    float *in = alloc_floats(n), *out = alloc_floats(n), *mask = alloc_floats(n);
    float *mask2 = alloc_floats(n), *d_in = alloc_floats(n);
    hp_rng rng, rng2;
    hp_rng_seed(&rng, 61);
    fill_uniform(in, n, -1, 1, &rng);
    /* rate 0 copies */
    dropout_forward(out, mask, in, n, 0.0f, &rng);
    EXPECT(max_abs_diff(out, in, n) == 0.0, "rate 0 copies");
    /* rate 0.3: mask is (u >= 0.3)/0.7 with u drawn in element order */
    const float rate = 0.3f;
    hp_rng_seed(&rng, 62);
    dropout_forward(out, mask, in, n, rate, &rng);
    hp_rng_seed(&rng2, 62);
    size_t mismatches = 0, dropped = 0;
    double mask_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float u = hp_rng_uniform_float(&rng2);
        float expect = u >= rate ? 1.0f / (1.0f - rate) : 0.0f;
        mismatches += mask[i] != expect || out[i] != in[i] * mask[i];
        dropped += mask[i] == 0.0f;
        mask_sum += mask[i];
    }
    EXPECT(mismatches == 0, "%zu elements differ from (u >= rate)/(1-rate)", mismatches);
    /* mean of the mask ~ 1 (std of the mean ~0.002 here) and ~30% dropped */
    EXPECT_NEAR(mask_sum / n, 1.0, 0.01, "mask mean");
    EXPECT_NEAR((double)dropped / n, rate, 0.01, "dropped fraction");
    /* same seed, same mask; another seed, another mask */
    hp_rng_seed(&rng2, 62);
    dropout_forward(out, mask2, in, n, rate, &rng2);
    EXPECT(max_abs_diff(mask, mask2, n) == 0.0, "same seed gives the same mask");
    hp_rng_seed(&rng2, 63);
    dropout_forward(out, mask2, in, n, rate, &rng2);
    EXPECT(max_abs_diff(mask, mask2, n) > 0.0, "another seed gives another mask");
    /* backward: d_in = d_out * mask (dropout is linear for a fixed mask) */
    dropout_backward(d_in, in, mask, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += d_in[i] != in[i] * mask[i];
    EXPECT(bad == 0, "%zu backward values differ from d_out*mask", bad);
    free(in);
    free(out);
    free(mask);
    free(mask2);
    free(d_in);
}

/* -------------------------------------------- softmax cross-entropy ---- */

typedef struct xent_problem {
    int N, K;
    float *logits, *probs;
    uint8_t *labels;
    float smoothing;
} xent_problem;

static double xent_loss(void *ctx)
{
    xent_problem *p = ctx;
    return softmax_xent_forward(p->probs, p->logits, p->labels, p->N, p->K, p->smoothing);
}

TEST(test_softmax_xent)
{
    /* uniform logits: loss log K, probs 1/K */
    float logits[30] = {0}, probs[30];
    uint8_t labels[3] = {0, 4, 9};
    double loss = softmax_xent_forward(probs, logits, labels, 3, 10, 0.0f);
    EXPECT_NEAR(loss, log(10.0), 1e-6, "uniform logits");
    for (int i = 0; i < 30; i++)
        EXPECT_NEAR(probs[i], 0.1, 1e-7, "uniform probs");
    /* huge logits: finite, loss = 1e4 when the label's logit is 1e4 below the max */
    float huge[3] = {1e4f, 0.0f, -1e4f}, hp[3];
    uint8_t label1 = 1, label0 = 0, label2 = 2;
    loss = softmax_xent_forward(hp, huge, &label1, 1, 3, 0.0f);
    EXPECT(isfinite(loss), "loss with logits 1e4 is %g", loss);
    EXPECT_NEAR(loss, 1e4, 1e-2, "loss of the second class");
    EXPECT(hp[0] == 1.0f && hp[1] == 0.0f && hp[2] == 0.0f, "probs %g %g %g", hp[0], hp[1], hp[2]);
    loss = softmax_xent_forward(hp, huge, &label0, 1, 3, 0.0f);
    EXPECT_NEAR(loss, 0.0, 1e-6, "loss of the winning class");
    loss = softmax_xent_forward(hp, huge, &label2, 1, 3, 0.0f);
    EXPECT_NEAR(loss, 2e4, 1e-2, "loss of the losing class");
    /* gradient of the mean loss */
    hp_rng rng;
    hp_rng_seed(&rng, 71);
    xent_problem p = {3, 7, alloc_floats(21), alloc_floats(21), NULL, 0.0f};
    uint8_t lab[3] = {6, 0, 3};
    p.labels = lab;
    fill_uniform(p.logits, 21, -3, 3, &rng);
    xent_loss(&p);
    double row_sum = 0.0;
    for (int k = 0; k < 7; k++)
        row_sum += p.probs[k];
    EXPECT_NEAR(row_sum, 1.0, 1e-6, "probabilities sum to 1");
    float *d_logits = alloc_floats(21);
    softmax_xent_backward(d_logits, p.probs, p.labels, 3, 7, 1.0f / 3.0f, 0.0f);
    EXPECT_GRAD("softmax_xent d_logits", p.logits, d_logits, 21, STEP, xent_loss, &p, 1e-2);
    free(d_logits);
    free(p.logits);
    free(p.probs);
}

TEST(test_softmax_xent_label_smoothing)
{
    /* closed form: loss = -sum_k q_k log p_k with q = (1-e) onehot + e/K,
       computed here from the probabilities in double */
    hp_rng rng;
    hp_rng_seed(&rng, 72);
    const float smoothing = 0.3f;
    xent_problem p = {4, 6, alloc_floats(24), alloc_floats(24), NULL, smoothing};
    uint8_t lab[4] = {5, 0, 2, 2};
    p.labels = lab;
    fill_uniform(p.logits, 24, -4, 4, &rng);
    double loss = xent_loss(&p), expected = 0.0;
    for (int n = 0; n < 4; n++) {
        double max = -INFINITY, sum = 0.0;
        for (int k = 0; k < 6; k++)
            max = fmax(max, p.logits[n * 6 + k]);
        for (int k = 0; k < 6; k++)
            sum += exp((double)p.logits[n * 6 + k] - max);
        for (int k = 0; k < 6; k++) {
            double q = (k == lab[n] ? 1.0 - smoothing : 0.0) + smoothing / 6.0;
            expected -= q * ((double)p.logits[n * 6 + k] - max - log(sum)) / 4.0;
        }
    }
    EXPECT_NEAR(loss, expected, 1e-9, "smoothed loss against the closed form");
    float *d_logits = alloc_floats(24);
    softmax_xent_backward(d_logits, p.probs, p.labels, 4, 6, 0.25f, smoothing);
    EXPECT_GRAD("smoothed softmax_xent d_logits", p.logits, d_logits, 24, STEP, xent_loss, &p, 1e-2);
    /* every row's gradient sums to 0 (both p and q are distributions) */
    for (int n = 0; n < 4; n++) {
        double row = 0.0;
        for (int k = 0; k < 6; k++)
            row += d_logits[n * 6 + k];
        EXPECT_NEAR(row, 0.0, 1e-7, "gradient row sum");
    }
    /* smoothing 0 gives the plain loss bit for bit */
    p.smoothing = 0.0f;
    float *probs2 = alloc_floats(24);
    double plain = 0.0;
    for (int n = 0; n < 4; n++)
        plain += softmax_xent_forward(probs2, p.logits + n * 6, lab + n, 1, 6, 0.0f) / 4.0;
    EXPECT_NEAR(xent_loss(&p), plain, 1e-12, "smoothing 0 is the plain loss");
    free(probs2);
    free(d_logits);
    free(p.logits);
    free(p.probs);
}

/* ------------------------------------------------ global avg pooling ---- */

typedef struct gap_problem {
    int N, C, HW;
    float *in, *out, *r;
} gap_problem;

static double gap_loss(void *ctx)
{
    gap_problem *p = ctx;
    global_avg_pool_forward(p->out, p->in, p->N, p->C, p->HW);
    return dot(p->out, p->r, (size_t)p->N * p->C);
}

TEST(test_global_avg_pool)
{
    hp_rng rng;
    hp_rng_seed(&rng, 73);
    gap_problem p = {3, 5, 7 * 6, NULL, NULL, NULL};
    size_t n_in = (size_t)p.N * p.C * p.HW, n_out = (size_t)p.N * p.C;
    p.in = alloc_floats(n_in);
    p.out = alloc_floats(n_out);
    p.r = alloc_floats(n_out);
    fill_uniform(p.in, n_in, -2, 2, &rng);
    fill_uniform(p.r, n_out, -1, 1, &rng);
    gap_loss(&p);
    for (size_t plane = 0; plane < n_out; plane++) {
        double mean = 0.0;
        for (int i = 0; i < p.HW; i++)
            mean += p.in[plane * p.HW + i];
        EXPECT_NEAR(p.out[plane], mean / p.HW, 1e-6, "plane mean");
    }
    float *d_in = alloc_floats(n_in);
    global_avg_pool_backward(d_in, p.r, p.N, p.C, p.HW);
    EXPECT_GRAD("global_avg_pool d_in", p.in, d_in, n_in, LINEAR_STEP, gap_loss, &p, 1e-2);
    free(d_in);
    free(p.in);
    free(p.out);
    free(p.r);
}

/* ---------------------------------------------------- initialisation ---- */

TEST(test_init)
{
    enum { n = 200000 };
    float *w = alloc_floats(n);
    hp_rng rng;
    hp_rng_seed(&rng, 81);
    init_he_normal(w, n, 50, &rng);
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
    }
    double mean = sum / n, std = sqrt(sq / n - mean * mean), expect_std = sqrt(2.0 / 50);
    EXPECT_NEAR(mean, 0.0, 5 * expect_std / sqrt(n), "he mean");
    EXPECT_NEAR(std / expect_std, 1.0, 0.01, "he std ratio");
    const double limit = sqrt(6.0 / (30 + 70));
    init_glorot_uniform(w, n, 30, 70, &rng);
    sum = sq = 0.0;
    int outside = 0;
    for (size_t i = 0; i < n; i++) {
        outside += fabs(w[i]) > limit;
        sum += w[i];
        sq += (double)w[i] * w[i];
    }
    EXPECT(outside == 0, "%d values outside [-%g, %g]", outside, limit, limit);
    mean = sum / n;
    EXPECT_NEAR(mean, 0.0, 5 * limit / sqrt(3.0 * n), "glorot mean");
    EXPECT_NEAR(sq / n, limit * limit / 3.0, 0.01 * limit * limit, "glorot variance");
    /* PyTorch's default: uniform with bound 1/sqrt(fan_in), variance bound^2/3 */
    const double bound = 1.0 / sqrt(288.0);
    init_torch_uniform(w, n, 288, &rng);
    sq = 0.0;
    outside = 0;
    for (size_t i = 0; i < n; i++) {
        outside += fabs(w[i]) > bound;
        sq += (double)w[i] * w[i];
    }
    EXPECT(outside == 0, "%d torch values outside [-%g, %g]", outside, bound, bound);
    EXPECT_NEAR(sq / n, bound * bound / 3.0, 0.01 * bound * bound, "torch variance");
    /* deterministic for a given rng state */
    float a[16], b[16];
    hp_rng_seed(&rng, 82);
    init_he_normal(a, 16, 9, &rng);
    hp_rng_seed(&rng, 82);
    init_he_normal(b, 16, 9, &rng);
    EXPECT(memcmp(a, b, sizeof a) == 0, "same seed, same weights");
    free(w);
}

int main(void)
{
    RUN(test_conv_dims);
    RUN(test_conv_hand_computed);
    RUN(test_conv_forward_matches_naive);
    RUN(test_conv_forward_act_matches_unfused);
    RUN(test_conv_gradients);
    RUN(test_conv_multi_chunk);
    RUN(test_conv_backward_conventions);
    RUN(test_conv_winograd_matches_naive);
    RUN(test_conv_winograd5_matches_naive);
    RUN(test_conv_winograd4_matches_naive);
    RUN(test_conv_winograd_gradients);
    RUN(test_conv_algorithm_choice);
    RUN(test_dense);
    RUN(test_activation_values);
    RUN(test_activation_gradients);
    RUN(test_pool_hand_computed);
    RUN(test_pool_gradients);
    RUN(test_max_pool_2x2_matches_naive);
    RUN(test_activation_backward_commutes_with_max_pool);
    RUN(test_batchnorm_train_statistics);
    RUN(test_batchnorm_eval_uses_running_stats);
    RUN(test_batchnorm_gradients);
    RUN(test_dropout);
    RUN(test_softmax_xent);
    RUN(test_softmax_xent_label_smoothing);
    RUN(test_global_avg_pool);
    RUN(test_init);
    return testlib_finish();
}
