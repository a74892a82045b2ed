/* layer_softmax_xent.c - softmax with cross-entropy loss, numerically stable.
 *
 * For one row z: m = max z, lse = m + log(sum exp(z - m)),
 * p_k = exp(z_k - lse), loss = lse - z_label (never log(0)).
 *
 * Label smoothing e (Szegedy et al. 2016, "Rethinking the Inception
 * Architecture", section 7; PyTorch's CrossEntropyLoss(label_smoothing=e)):
 * the target is q = (1-e) onehot(label) + e/K, so
 *     loss = -sum_k q_k log p_k = lse - (1-e) z_label - (e/K) sum_k z_k,
 *     dloss/dz_k = p_k - q_k.
 * e = 0 takes the plain expressions (bit for bit the unsmoothed loss).
 */
#include "layers.h"

#include <math.h>

#include "error.h"

double softmax_xent_forward(float *probs, const float *logits, const uint8_t *labels, int N, int K,
                            float smoothing)
{
    const double on = 1.0 - (double)smoothing, spread = (double)smoothing / K;
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
        if (smoothing == 0.0f) {
            total += log_sum_exp - (double)z[labels[n]];
            continue;
        }
        double sum_z = 0.0;
        for (int k = 0; k < K; k++)
            sum_z += (double)z[k];
        total += log_sum_exp - on * (double)z[labels[n]] - spread * sum_z;
    }
    return N > 0 ? total / N : 0.0;
}

void softmax_xent_backward(float *d_logits, const float *probs, const uint8_t *labels, int N, int K,
                           float scale, float smoothing)
{
    const float spread = smoothing / (float)K, on = 1.0f - smoothing;
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * K;
        float *g = d_logits + (size_t)n * K;
        if (smoothing == 0.0f) {
            for (int k = 0; k < K; k++)
                g[k] = p[k] * scale;
            g[labels[n]] -= scale;
            continue;
        }
        for (int k = 0; k < K; k++)
            g[k] = (p[k] - spread) * scale;
        g[labels[n]] -= on * scale;
    }
}
