/* metrics.c - confusion matrix and macro-averaged metrics (see metrics.h).
 *
 * Per class k with tp = cm[k][k], predicted = column sum, actual = row sum:
 *     precision = tp / predicted (0 if never predicted)
 *     recall    = tp / actual    (0 if no samples)
 *     f1        = 2 p r / (p + r) (0 if p + r = 0)
 * and each macro value is the plain mean over all K classes, as sklearn's
 * average='macro' with zero_division=0 and labels=range(K).
 */
#include "metrics.h"

#include "error.h"

void hp_confusion_add(int64_t *cm, int K, const float *scores, const uint8_t *labels, int N)
{
    for (int i = 0; i < N; i++) {
        const float *row = scores + (size_t)i * (size_t)K; /* (K) */
        int best = 0;
        for (int k = 1; k < K; k++)
            if (row[k] > row[best]) /* strict: the lowest index wins ties */
                best = k;
        if (labels[i] >= K)
            HP_PANIC("label %d of sample %d is not a class index below %d", labels[i], i, K);
        cm[(size_t)labels[i] * (size_t)K + (size_t)best]++;
    }
}

void hp_metrics_from_confusion(hp_class_metrics *out, const int64_t *cm, int K)
{
    int64_t total = 0, correct = 0;
    double precision_sum = 0.0, recall_sum = 0.0, f1_sum = 0.0;
    for (int k = 0; k < K; k++) {
        int64_t tp = cm[(size_t)k * K + k];
        int64_t actual = 0, predicted = 0;
        for (int j = 0; j < K; j++) {
            actual += cm[(size_t)k * K + j];
            predicted += cm[(size_t)j * K + k];
        }
        total += actual;
        correct += tp;
        double precision = predicted > 0 ? (double)tp / (double)predicted : 0.0;
        double recall = actual > 0 ? (double)tp / (double)actual : 0.0;
        double f1 = precision + recall > 0 ? 2.0 * precision * recall / (precision + recall) : 0.0;
        precision_sum += precision;
        recall_sum += recall;
        f1_sum += f1;
    }
    out->accuracy = total > 0 ? (double)correct / (double)total : 0.0;
    out->macro_precision = K > 0 ? precision_sum / K : 0.0;
    out->macro_recall = K > 0 ? recall_sum / K : 0.0;
    out->macro_f1 = K > 0 ? f1_sum / K : 0.0;
}
