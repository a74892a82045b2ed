/* layer_softmax_xent.c - softmax with cross-entropy loss, numerically stable.
 *
 * For one row z: m = max z, lse = m + log(sum exp(z - m)),
 * p_k = exp(z_k - lse), loss = lse - z_label (never log(0)).
 */
#include "layers.h"

#include <math.h>

#include "error.h"

double softmax_xent_forward(float *probs, const float *logits, const uint8_t *labels, int N, int K)
{
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        float *p = probs + (size_t)n * K;
        if (labels[n] >= K)
            HP_PANIC("softmax_xent_forward: label %d of row %d outside [0, %d)", labels[n], n, K);
        float max = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > max)
                max = z[k];
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += exp((double)z[k] - (double)max);
        const double log_sum_exp = (double)max + log(sum);
        for (int k = 0; k < K; k++)
            p[k] = (float)exp((double)z[k] - log_sum_exp);
        total += log_sum_exp - (double)z[labels[n]];
    }
    return N > 0 ? total / N : 0.0;
}

void softmax_xent_backward(float *d_logits, const float *probs, const uint8_t *labels, int N, int K,
                           float scale)
{
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * K;
        float *g = d_logits + (size_t)n * K;
        for (int k = 0; k < K; k++)
            g[k] = p[k] * scale;
        g[labels[n]] -= scale;
    }
}
