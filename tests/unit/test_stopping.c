/* test_stopping.c - early stopping (Keras 3 EarlyStopping) and the median
 * stopping rule (Optuna 3.1 MedianPruner) on hand-worked cases; the
 * integration test test_stopping.sh compares every decision of a study with
 * Optuna's own pruner. */
#include <math.h>

#include "job.h"
#include "stopping.h"
#include "testlib.h"

TEST(early_stopping_hand_worked)
{
    /* min, patience 2, min_delta 0.1: epoch 1 sets best 1.0; epochs 2 and 3
       are not 0.1 below it (wait 1, 2): stop after epoch 3 */
    double v[] = {1.0, 0.95, 0.92, 0.5};
    EXPECT(!hp_early_stop(v, 1, 0, 2, 0.1), "epoch 1");
    EXPECT(!hp_early_stop(v, 2, 0, 2, 0.1), "epoch 2: wait 1 < patience 2");
    EXPECT(hp_early_stop(v, 3, 0, 2, 0.1), "epoch 3: wait 2");
    EXPECT(!hp_early_stop(v, 3, 0, 2, 0.01), "min_delta 0.01: 0.95 and 0.92 improve");
    EXPECT(!hp_early_stop(v, 3, 0, 2, -0.01), "the sign of min_delta is ignored (Keras takes abs)");
    /* max, patience 1, min_delta 0.05: 0.6 - 0.05 > 0.5 improves; 0.64 - 0.05 < 0.6 does not */
    double m[] = {0.5, 0.6, 0.64};
    EXPECT(!hp_early_stop(m, 2, 1, 1, 0.05), "max epoch 2 improves");
    EXPECT(hp_early_stop(m, 3, 1, 1, 0.05), "max epoch 3: wait 1 >= patience 1");
    EXPECT(hp_early_stop(m, 2, 0, 1, 0.05), "the same values minimized: 0.6 worsens, stop after epoch 2");
    /* patience 0: stop at the first epoch without improvement, never at the first epoch */
    double flat[] = {1.0, 1.0};
    EXPECT(!hp_early_stop(flat, 1, 0, 0, 0), "patience 0, epoch 1");
    EXPECT(hp_early_stop(flat, 2, 0, 0, 0), "patience 0, epoch 2 equal: no improvement");
    double nan2[] = {NAN, NAN};
    EXPECT(!hp_early_stop(nan2, 1, 0, 0, 0), "NaN at the first epoch: Keras never stops at epoch 0");
    EXPECT(hp_early_stop(nan2, 2, 0, 1, 0), "NaN never improves: wait 2 >= 1");
}

TEST(median_of_numpy)
{
    double even[] = {10, 1, 4, 2}, odd[] = {5, 1, 3}, with_nan[] = {NAN, 1, 3}, none[] = {NAN};
    EXPECT(hp_nan_median(even, 4) == 3.0, "even count: 2 and 4 interpolated");
    EXPECT(hp_nan_median(odd, 3) == 3.0, "odd count");
    EXPECT(hp_nan_median(with_nan, 3) == 2.0, "NaN skipped");
    EXPECT(isnan(hp_nan_median(none, 1)), "only NaN: NaN");
}

TEST(median_rule_hand_worked)
{
    hp_median_rule r = {.n_startup_trials = 2, .n_warmup_steps = 1, .interval_steps = 1, .n_min_trials = 1};
    double trial[] = {3.0, 2.0};
    double above[] = {1.0, 5.0}, below[] = {1.0, 1.5};
    EXPECT(!hp_median_stop(&r, trial, 2, above, 2, 2, 0), "best 2 is not worse than the median 3");
    EXPECT(hp_median_stop(&r, trial, 2, below, 2, 2, 0), "best 2 is worse than the median 1.25");
    EXPECT(!hp_median_stop(&r, trial, 2, below, 2, 2, 1), "maximized: best 3 is above the median");
    EXPECT(!hp_median_stop(&r, trial, 2, below, 1, 1, 0), "one completed trial < n_startup_trials 2");
    EXPECT(!hp_median_stop(&r, trial, 1, below, 2, 2, 0), "step 0 is in the warm-up");
    EXPECT(!hp_median_stop(&r, trial, 2, below, 0, 2, 0), "no completed trial reached this step");
    r.n_min_trials = 3;
    EXPECT(!hp_median_stop(&r, trial, 2, below, 2, 2, 0), "2 values < n_min_trials 3");
    r.n_min_trials = 1;
    double nan_trial[] = {NAN, NAN};
    EXPECT(hp_median_stop(&r, nan_trial, 2, above, 2, 2, 0), "a trial with only NaN values is stopped");
    /* interval 2 after warm-up 1: decisions at steps 1, 3, 5 (epochs 2, 4, 6) */
    r.interval_steps = 2;
    double worse[] = {9, 9, 9, 9, 9};
    double low[] = {0, 0};
    EXPECT(hp_median_stop(&r, worse, 2, low, 2, 2, 0), "step 1 decides");
    EXPECT(!hp_median_stop(&r, worse, 3, low, 2, 2, 0), "step 2 is between checks");
    EXPECT(hp_median_stop(&r, worse, 4, low, 2, 2, 0), "step 3 decides");
    r = (hp_median_rule){.n_startup_trials = 0, .n_warmup_steps = 0, .interval_steps = 1, .n_min_trials = 1};
    EXPECT(!hp_median_stop(&r, worse, 1, low, 0, 0, 0), "no completed trial at all: never (Optuna's n_trials == 0)");
}

TEST(durations)
{
    double v = 0;
    EXPECT(hp_parse_duration("1h30m", "t", &v) == 0 && v == 5400, "1h30m: %g", v);
    EXPECT(hp_parse_duration("5400", "t", &v) == 0 && v == 5400, "5400: %g", v);
    EXPECT(hp_parse_duration("90.5", "t", &v) == 0 && v == 90.5, "90.5: %g", v);
    EXPECT(hp_parse_duration("2h", "t", &v) == 0 && v == 7200, "2h: %g", v);
    EXPECT(hp_parse_duration("1m30s", "t", &v) == 0 && v == 90, "1m30s: %g", v);
    EXPECT(hp_parse_duration("1h2m3s", "t", &v) == 0 && v == 3723, "1h2m3s: %g", v);
    const char *bad[] = {"", "h", "1x", "30m1h", "1h1h", "-5", "0", "0m", "1.5h", "1h 30m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(hp_parse_duration(bad[i], "t", &v) == -1, "'%s' refused", bad[i]);
}

int main(void)
{
    RUN(early_stopping_hand_worked);
    RUN(median_of_numpy);
    RUN(median_rule_hand_worked);
    RUN(durations);
    return testlib_finish();
}
