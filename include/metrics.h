/* metrics.h - classification metrics from a confusion matrix. */
#ifndef HPTUNE_METRICS_H
#define HPTUNE_METRICS_H

#include <stdint.h>

/* cm (K,K): row = true class, column = predicted (argmax of scores, lowest
 * index wins ties).  Adds N rows of scores (N,K). */
void hp_confusion_add(int64_t *cm, int K, const float *scores, const uint8_t *labels, int N);

typedef struct hp_class_metrics {
    double accuracy;
    double macro_precision; /* mean over classes; a class never predicted has precision 0 */
    double macro_recall;    /* a class with no samples has recall 0 */
    double macro_f1;        /* mean of per-class F1 (0 where p + r = 0), as sklearn average='macro' */
} hp_class_metrics;

void hp_metrics_from_confusion(hp_class_metrics *out, const int64_t *cm, int K);

#endif
