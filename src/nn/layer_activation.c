/* layer_activation.c - element-wise activations.
 *
 * Backward uses only the forward output y (so forward may run in place):
 *   relu        y' = y > 0 ? 1 : 0
 *   leaky_relu  y' = y > 0 ? 1 : alpha        (alpha >= 0 keeps sign(y) = sign(x))
 *   elu         y' = y > 0 ? 1 : y + alpha    (alpha*exp(x) = y + alpha; alpha > 0)
 *   tanh        y' = 1 - y^2
 *   sigmoid     y' = y (1 - y)
 *
 * ReLU (the default, and the one on the hot path) runs in blocks of 8 under
 * HP_IVDEP: at -O2 GCC vectorises a loop only when it needs no scalar
 * epilogue and no run-time alias check; the fixed-size block provides the
 * first, and ivdep the second (out == in is allowed and carries no
 * dependence between iterations).  The selects stay branch-free, which
 * matters more than SIMD: signs of activations are unpredictable, and a
 * branch per element cost ~10x the arithmetic.
 */
#include "layers.h"

#include <math.h>

#include "error.h"

#if defined(__GNUC__) && !defined(__clang__)
#define HP_IVDEP _Pragma("GCC ivdep")
#else
#define HP_IVDEP
#endif

static inline float sigmoid(float x)
{
    /* exp of a non-positive number only: no overflow for large |x| */
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* out (n) = in > 0 ? in : 0 (NaN and -0 give +0); out may equal in. */
static void relu_forward(float *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        HP_IVDEP
        for (int l = 0; l < 8; l++)
            out[i + l] = in[i + l] > 0.0f ? in[i + l] : 0.0f;
    }
    for (; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* d_in (n) = y > 0 ? d_out : 0; d_in may equal d_out. */
static void relu_backward(float *d_in, const float *d_out, const float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        HP_IVDEP
        for (int l = 0; l < 8; l++)
            d_in[i + l] = y[i + l] > 0.0f ? d_out[i + l] : 0.0f;
    }
    for (; i < n; i++)
        d_in[i] = y[i] > 0.0f ? d_out[i] : 0.0f;
}

void activation_forward(float *out, const float *in, size_t n, hp_activation act, float alpha)
{
    switch (act) {
    case HP_ACT_RELU:
        relu_forward(out, in, n);
        return;
    case HP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] : alpha * in[i];
        return;
    case HP_ACT_ELU:
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] : alpha * expm1f(in[i]);
        return;
    case HP_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            out[i] = tanhf(in[i]);
        return;
    case HP_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = sigmoid(in[i]);
        return;
    }
    HP_PANIC("activation_forward: unknown activation %d", (int)act);
}

void activation_backward(float *d_in, const float *d_out, const float *out, size_t n,
                         hp_activation act, float alpha)
{
    switch (act) {
    case HP_ACT_RELU:
        relu_backward(d_in, d_out, out, n);
        return;
    case HP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            d_in[i] = out[i] > 0.0f ? d_out[i] : alpha * d_out[i];
        return;
    case HP_ACT_ELU:
        for (size_t i = 0; i < n; i++)
            d_in[i] = out[i] > 0.0f ? d_out[i] : d_out[i] * (out[i] + alpha);
        return;
    case HP_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            d_in[i] = d_out[i] * (1.0f - out[i] * out[i]);
        return;
    case HP_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            d_in[i] = d_out[i] * out[i] * (1.0f - out[i]);
        return;
    }
    HP_PANIC("activation_backward: unknown activation %d", (int)act);
}
