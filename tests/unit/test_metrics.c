/* test_metrics.c - confusion matrix and macro metrics on hand-worked examples. */
#include <stdint.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"

#define K 3

/* Score rows (n, K) whose argmax is pred[i]: the predicted class gets the
 * largest score, the others smaller, distinct values. */
static void scores_for(float *scores, const int *pred, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            scores[i * K + k] = k == pred[i] ? 0.9f : 0.05f * (float)(k + 1) - 0.5f * (float)(i % 2);
}

/* Feed the matrix want (K,K) sample by sample through hp_confusion_add. */
static void fill_confusion(int64_t *cm, const int64_t want[K][K])
{
    uint8_t labels[64];
    int pred[64], n = 0;
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++)
            for (int64_t c = 0; c < want[t][p]; c++) {
                labels[n] = (uint8_t)t;
                pred[n] = p;
                n++;
            }
    float scores[64 * K];
    scores_for(scores, pred, n);
    /* two calls: the function must add, not overwrite */
    int half = n / 2;
    hp_confusion_add(cm, K, scores, labels, half);
    hp_confusion_add(cm, K, scores + half * K, labels + half, n - half);
}

TEST(three_class_hand_worked)
{
    /* rows = true, columns = predicted
     *          p0 p1 p2 | row (actual)
     *   t0      5  1  0 |  6
     *   t1      2  3  1 |  6
     *   t2      0  2  6 |  8
     *   column   7  6  7 | 20
     * accuracy = (5+3+6)/20 = 0.7
     * class 0: P = 5/7, R = 5/6, F1 = 2*5/(2*5 + 2 + 1) = 10/13
     * class 1: P = 3/6, R = 3/6, F1 = 1/2
     * class 2: P = 6/7, R = 6/8, F1 = 2*6/(2*6 + 1 + 2) = 12/15 = 4/5
     * macro P  = (5/7 + 1/2 + 6/7)/3 = (22/14 + 7/14)/3 = 29/42
     * macro R  = (5/6 + 1/2 + 3/4)/3 = (10 + 6 + 9)/12/3 = 25/36
     * macro F1 = (10/13 + 1/2 + 4/5)/3 = (100 + 65 + 104)/130/3 = 269/390 */
    const int64_t want[K][K] = {{5, 1, 0}, {2, 3, 1}, {0, 2, 6}};
    int64_t cm[K * K] = {0};
    fill_confusion(cm, want);
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++)
            EXPECT(cm[t * K + p] == want[t][p], "cm[%d][%d] = %lld, want %lld", t, p,
                   (long long)cm[t * K + p], (long long)want[t][p]);
    hp_class_metrics m;
    hp_metrics_from_confusion(&m, cm, K);
    EXPECT_NEAR(m.accuracy, 0.7, 1e-12, "accuracy");
    EXPECT_NEAR(m.macro_precision, 29.0 / 42.0, 1e-12, "macro precision");
    EXPECT_NEAR(m.macro_recall, 25.0 / 36.0, 1e-12, "macro recall");
    EXPECT_NEAR(m.macro_f1, 269.0 / 390.0, 1e-12, "macro F1");
}

TEST(class_never_predicted)
{
    /*          p0 p1 p2
     *   t0      3  0  1   actual 4
     *   t1      2  0  0   actual 2
     *   t2      0  0  4   actual 4
     *   column  5  0  5
     * accuracy 7/10
     * class 0: P = 3/5, R = 3/4, F1 = 6/(6 + 2 + 1) = 2/3
     * class 1: never predicted -> P = 0, R = 0/2 = 0, F1 = 0
     * class 2: P = 4/5, R = 4/4, F1 = 8/(8 + 1 + 0) = 8/9
     * macro P = (3/5 + 0 + 4/5)/3 = 7/15;  macro R = (3/4 + 0 + 1)/3 = 7/12
     * macro F1 = (2/3 + 0 + 8/9)/3 = 14/27 */
    const int64_t want[K][K] = {{3, 0, 1}, {2, 0, 0}, {0, 0, 4}};
    int64_t cm[K * K] = {0};
    fill_confusion(cm, want);
    hp_class_metrics m;
    hp_metrics_from_confusion(&m, cm, K);
    EXPECT_NEAR(m.accuracy, 0.7, 1e-12, "accuracy");
    EXPECT_NEAR(m.macro_precision, 7.0 / 15.0, 1e-12, "macro precision");
    EXPECT_NEAR(m.macro_recall, 7.0 / 12.0, 1e-12, "macro recall");
    EXPECT_NEAR(m.macro_f1, 14.0 / 27.0, 1e-12, "macro F1");
}

TEST(class_without_samples_counts_as_zero)
{
    /* class 2 has no samples and is never predicted; it still enters the
     * means with P = R = F1 = 0 (the mean is over all K classes):
     *   t0 [2 1 0], t1 [1 2 0], t2 [0 0 0]
     *   class 0 and 1: P = R = F1 = 2/3;  macro = (2/3 + 2/3 + 0)/3 = 4/9 */
    const int64_t cm[K * K] = {2, 1, 0, 1, 2, 0, 0, 0, 0};
    hp_class_metrics m;
    hp_metrics_from_confusion(&m, cm, K);
    EXPECT_NEAR(m.accuracy, 4.0 / 6.0, 1e-12, "accuracy");
    EXPECT_NEAR(m.macro_precision, 4.0 / 9.0, 1e-12, "macro precision");
    EXPECT_NEAR(m.macro_recall, 4.0 / 9.0, 1e-12, "macro recall");
    EXPECT_NEAR(m.macro_f1, 4.0 / 9.0, 1e-12, "macro F1");
}

TEST(class_predicted_but_without_samples)
{
    /* class 2 has no samples but is predicted twice (wrongly):
     *   t0 [3 0 1], t1 [0 2 1], t2 [0 0 0]
     *   class 0: P = 3/3, R = 3/4, F1 = 6/(6 + 0 + 1) = 6/7
     *   class 1: P = 2/2, R = 2/3, F1 = 4/(4 + 0 + 1) = 4/5
     *   class 2: P = 0/2 = 0, R = 0 (no samples), F1 = 0
     * macro P = 2/3, macro R = (3/4 + 2/3)/3 = 17/36, macro F1 = (6/7 + 4/5)/3 = 58/105 */
    const int64_t cm[K * K] = {3, 0, 1, 0, 2, 1, 0, 0, 0};
    hp_class_metrics m;
    hp_metrics_from_confusion(&m, cm, K);
    EXPECT_NEAR(m.accuracy, 5.0 / 7.0, 1e-12, "accuracy");
    EXPECT_NEAR(m.macro_precision, 2.0 / 3.0, 1e-12, "macro precision");
    EXPECT_NEAR(m.macro_recall, 17.0 / 36.0, 1e-12, "macro recall");
    EXPECT_NEAR(m.macro_f1, 58.0 / 105.0, 1e-12, "macro F1");
}

TEST(perfect_and_empty)
{
    const int64_t perfect[K * K] = {4, 0, 0, 0, 1, 0, 0, 0, 9};
    hp_class_metrics m;
    hp_metrics_from_confusion(&m, perfect, K);
    EXPECT(m.accuracy == 1.0 && m.macro_precision == 1.0 && m.macro_recall == 1.0 &&
               m.macro_f1 == 1.0,
           "perfect: %g %g %g %g", m.accuracy, m.macro_precision, m.macro_recall, m.macro_f1);
    const int64_t empty[K * K] = {0};
    hp_metrics_from_confusion(&m, empty, K);
    EXPECT(m.accuracy == 0.0 && m.macro_precision == 0.0 && m.macro_recall == 0.0 &&
               m.macro_f1 == 0.0,
           "empty: %g %g %g %g", m.accuracy, m.macro_precision, m.macro_recall, m.macro_f1);
}

TEST(argmax_ties_go_to_lowest_index)
{
    const float scores[5 * K] = {
        0.3f, 0.3f, 0.1f, /* tie 0,1 -> 0 */
        0.1f, 0.5f, 0.5f, /* tie 1,2 -> 1 */
        0.2f, 0.2f, 0.2f, /* all equal -> 0 */
        0.1f, 0.2f, 0.7f, /* clear max -> 2 */
        -1.0f, -3.0f, -1.0f, /* tie 0,2 with negatives -> 0 */
    };
    const uint8_t labels[5] = {2, 2, 2, 2, 1};
    int64_t cm[K * K] = {0};
    hp_confusion_add(cm, K, scores, labels, 5);
    /* row 2 (true class 2): predicted 0, 1, 0, 2; row 1: predicted 0 */
    const int64_t want[K * K] = {0, 0, 0, 1, 0, 0, 2, 1, 1};
    for (int k = 0; k < K * K; k++)
        EXPECT(cm[k] == want[k], "cm[%d][%d] = %lld, want %lld", k / K, k % K, (long long)cm[k],
               (long long)want[k]);
}

int main(void)
{
    RUN(three_class_hand_worked);
    RUN(class_never_predicted);
    RUN(class_without_samples_counts_as_zero);
    RUN(class_predicted_but_without_samples);
    RUN(perfect_and_empty);
    RUN(argmax_ties_go_to_lowest_index);
    return testlib_finish();
}
