/* test_strategy.c - hand-worked ASHA/grid/random decision sequences, the byte
 * image round trip, and a randomized comparison against a reference model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"
#include "strategy.h"
#include "testlib.h"

static const char *next_name(hp_next n)
{
    return n == HP_NEXT_START ? "START" : n == HP_NEXT_WAIT ? "WAIT" : n == HP_NEXT_DONE ? "DONE" : "?";
}

/* next() must START exactly this assignment. */
#define EXPECT_START(s, t, from, to, b, k)                                                         \
    do {                                                                                           \
        hp_assignment a_;                                                                          \
        hp_next n_ = hp_strategy_next((s), &a_);                                                   \
        EXPECT(n_ == HP_NEXT_START && a_.trial == (t) && a_.from_epoch == (from) &&                \
                   a_.to_epoch == (to) && a_.bracket == (b) && a_.rung == (k),                     \
               "got %s trial %d [%d,%d) bracket %d rung %d; want START trial %d [%d,%d) "          \
               "bracket %d rung %d",                                                               \
               next_name(n_), a_.trial, a_.from_epoch, a_.to_epoch, a_.bracket, a_.rung, (t),      \
               (from), (to), (b), (k));                                                            \
    } while (0)

#define EXPECT_NEXT(s, want)                                                                       \
    do {                                                                                           \
        hp_assignment a_;                                                                          \
        hp_next n_ = hp_strategy_next((s), &a_);                                                   \
        EXPECT(n_ == (want), "got %s (trial %d), want %s", next_name(n_), a_.trial,                \
               next_name(want));                                                                   \
    } while (0)

#define EXPECT_STATUS(s, t, want)                                                                  \
    EXPECT(hp_strategy_trial_status((s), (t)) == (want), "trial %d is %s, want %s", (t),           \
           hp_trial_status_name(hp_strategy_trial_status((s), (t))), hp_trial_status_name(want))

static hp_strategy *make_asha(int max_trials, int min_epochs, int max_epochs, int eta, int brackets,
                              int maximize)
{
    hp_strategy_params p = {.kind = HP_STRATEGY_ASHA, .max_trials = max_trials,
                            .min_epochs = min_epochs, .max_epochs = max_epochs,
                            .reduction_factor = eta, .brackets = brackets, .maximize = maximize};
    hp_strategy *s = hp_strategy_create(&p);
    if (!s) {
        printf("hp_strategy_create failed: %s\n", hp_error_message());
        exit(1);
    }
    return s;
}

/* Report the value at the assignment's final epoch and finish it. */
static void finish(hp_strategy *s, int t, int epoch, double value)
{
    hp_strategy_report(s, t, epoch, value);
    hp_strategy_finished(s, t, epoch);
}

/* (a)(b)(c) eta = 3, rungs 1, 3, 9, maximize. */
TEST(asha_promotion_sequence)
{
    hp_strategy *s = make_asha(20, 1, 9, 3, 1, 1);
    EXPECT(hp_strategy_num_rungs(s, 0) == 3, "3 rungs");
    EXPECT(hp_strategy_rung_epochs(s, 0, 0) == 1 && hp_strategy_rung_epochs(s, 0, 1) == 3 &&
               hp_strategy_rung_epochs(s, 0, 2) == 9, "rungs 1, 3, 9");
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 1, 0, 1, 0, 0);
    finish(s, 0, 1, 0.5);
    finish(s, 1, 1, 0.7);
    EXPECT_STATUS(s, 0, HP_TRIAL_PAUSED);
    EXPECT_STATUS(s, 1, HP_TRIAL_PAUSED);
    EXPECT(hp_strategy_trial_rung(s, 0) == 0 && hp_strategy_trial_epochs(s, 0) == 1, "t0 at rung 0, 1 epoch");
    /* (a) rung 0 = {t0 .5, t1 .7}: floor(2/3) = 0 candidates -> a new trial. */
    EXPECT_START(s, 2, 0, 1, 0, 0);
    /* (b) t2 = .6: rung 0 = {t1 .7, t2 .6, t0 .5}, floor(3/3) = 1 -> t1 goes 1 -> 3. */
    finish(s, 2, 1, 0.6);
    EXPECT_START(s, 1, 1, 3, 0, 1);
    EXPECT_STATUS(s, 1, HP_TRIAL_RUNNING);
    /* Top 1 is t1, already promoted: new trials t3, t4, t5. */
    EXPECT_START(s, 3, 0, 1, 0, 0);
    EXPECT_START(s, 4, 0, 1, 0, 0);
    EXPECT_START(s, 5, 0, 1, 0, 0);
    /* t3 = .2, t4 = .3: n = 5, floor(5/3) = 1 -> still only t1: t2 (.6) must wait; new t6. */
    finish(s, 3, 1, 0.2);
    finish(s, 4, 1, 0.3);
    EXPECT_START(s, 6, 0, 1, 0, 0);
    /* (c) t5 = .1: n = 6, floor(6/3) = 2 -> top {t1 .7, t2 .6}; t2 was not in the top
     * third at n = 3 but is promoted now (late promotion). */
    finish(s, 5, 1, 0.1);
    EXPECT_START(s, 2, 1, 3, 0, 1);
    /* t6 = .65: n = 7, top 2 = {t1 .7, t6 .65}; t6 is not promoted yet -> promoted
     * (Algorithm 2 promotes whoever is in the top set now). */
    finish(s, 6, 1, 0.65);
    EXPECT_START(s, 6, 1, 3, 0, 1);
    /* Rung 1: a report at epoch 2 is not a rung result. */
    hp_strategy_report(s, 1, 2, 0.99);
    EXPECT(hp_strategy_trial_rung(s, 1) == 0 && hp_strategy_trial_epochs(s, 1) == 2, "epoch 2 is no rung");
    finish(s, 1, 3, 0.8);
    EXPECT(hp_strategy_trial_rung(s, 1) == 1 && hp_strategy_trial_epochs(s, 1) == 3, "t1 at rung 1");
    EXPECT_STATUS(s, 1, HP_TRIAL_PAUSED);
    finish(s, 2, 3, 0.75);
    /* Rung 1 = {t1 .8, t2 .75}: floor(2/3) = 0 -> new trial t7. */
    EXPECT_START(s, 7, 0, 1, 0, 0);
    /* t6 = .9 at epoch 3: rung 1 = {t6 .9, t1 .8, t2 .75}, top 1 = t6 -> 3 -> 9 (rung 1
     * is scanned before rung 0, where nothing is promotable anyway). */
    finish(s, 6, 3, 0.9);
    EXPECT_START(s, 6, 3, 9, 0, 2);
    finish(s, 6, 9, 0.95);
    EXPECT_STATUS(s, 6, HP_TRIAL_COMPLETED);
    EXPECT(hp_strategy_trial_rung(s, 6) == 2 && hp_strategy_trial_epochs(s, 6) == 9, "t6 at the top rung");
    EXPECT(hp_strategy_num_trials(s) == 8, "8 trials exist, got %d", hp_strategy_num_trials(s));
    hp_strategy_free(s);
}

/* (d) equal values: the lower trial id wins, in both modes. */
TEST(asha_ties_lower_id)
{
    for (int maximize = 0; maximize <= 1; maximize++) {
        hp_strategy *s = make_asha(10, 1, 9, 3, 1, maximize);
        for (int t = 0; t < 3; t++)
            EXPECT_START(s, t, 0, 1, 0, 0);
        /* Finish in reverse order so insertion order does not decide. */
        for (int t = 2; t >= 0; t--)
            finish(s, t, 1, 0.5);
        /* {t0, t1, t2} all .5: top 1 = t0. */
        EXPECT_START(s, 0, 1, 3, 0, 1);
        for (int t = 3; t < 6; t++)
            EXPECT_START(s, t, 0, 1, 0, 0);
        for (int t = 5; t >= 3; t--)
            finish(s, t, 1, 0.5);
        /* six at .5: top 2 = {t0, t1}; t0 is promoted -> t1. */
        EXPECT_START(s, 1, 1, 3, 0, 1);
        hp_strategy_free(s);
    }
}

/* (e) the mode decides the candidate; NaN counts as the worst in both modes. */
TEST(asha_min_and_max_mode)
{
    const double values[3] = {0.3, 0.1, 0.2};
    const int best[2] = {1, 0}; /* minimize: t1 (.1); maximize: t0 (.3) */
    for (int maximize = 0; maximize <= 1; maximize++) {
        hp_strategy *s = make_asha(10, 1, 9, 3, 1, maximize);
        for (int t = 0; t < 3; t++)
            EXPECT_START(s, t, 0, 1, 0, 0);
        for (int t = 0; t < 3; t++)
            finish(s, t, 1, values[t]);
        EXPECT_START(s, best[maximize], 1, 3, 0, 1);
        hp_strategy_free(s);
    }
    /* t0 NaN, t1 .1, t2 .2: minimize -> t1, maximize -> t2; never t0. */
    const int best_nan[2] = {1, 2};
    for (int maximize = 0; maximize <= 1; maximize++) {
        hp_strategy *s = make_asha(10, 1, 9, 3, 1, maximize);
        for (int t = 0; t < 3; t++)
            EXPECT_START(s, t, 0, 1, 0, 0);
        finish(s, 0, 1, NAN);
        finish(s, 1, 1, 0.1);
        finish(s, 2, 1, 0.2);
        EXPECT_START(s, best_nan[maximize], 1, 3, 0, 1);
        hp_strategy_free(s);
    }
}

/* (f) max_trials exhausted: WAIT while something runs, DONE at the end, and
 * paused trials become STOPPED. */
TEST(asha_wait_done_stopped)
{
    hp_strategy *s = make_asha(3, 1, 9, 3, 1, 1);
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 1, 0, 1, 0, 0);
    EXPECT_START(s, 2, 0, 1, 0, 0);
    EXPECT_NEXT(s, HP_NEXT_WAIT); /* 3 trials exist, all running */
    finish(s, 0, 1, 0.9);
    finish(s, 1, 1, 0.5);
    EXPECT_NEXT(s, HP_NEXT_WAIT); /* n = 2 -> nothing promotable; t2 runs */
    finish(s, 2, 1, 0.1);
    EXPECT_START(s, 0, 1, 3, 0, 1); /* n = 3 -> t0 (.9) */
    EXPECT_NEXT(s, HP_NEXT_WAIT);
    finish(s, 0, 3, 0.95);
    /* Rung 1 = {t0}: floor(1/3) = 0; rung 0's top 1 (t0) is promoted; nothing runs. */
    EXPECT_NEXT(s, HP_NEXT_DONE);
    for (int t = 0; t < 3; t++)
        EXPECT_STATUS(s, t, HP_TRIAL_STOPPED);
    EXPECT_NEXT(s, HP_NEXT_DONE);
    hp_strategy_free(s);

    /* eta = 2, rungs 1, 2: the promoted trial reaches the top rung -> COMPLETED. */
    s = make_asha(2, 1, 2, 2, 1, 1);
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 1, 0, 1, 0, 0);
    finish(s, 0, 1, 0.8);
    finish(s, 1, 1, 0.4);
    EXPECT_START(s, 0, 1, 2, 0, 1); /* floor(2/2) = 1 -> t0 */
    finish(s, 0, 2, 0.85);
    EXPECT_NEXT(s, HP_NEXT_DONE);
    EXPECT_STATUS(s, 0, HP_TRIAL_COMPLETED);
    EXPECT_STATUS(s, 1, HP_TRIAL_STOPPED);
    hp_strategy_free(s);
}

/* (g) two brackets: bracket 0 rungs 1, 3, 9; bracket 1 rungs 3, 9; trial t is
 * in bracket t % 2 and competes only there. */
TEST(asha_two_brackets)
{
    hp_strategy *s = make_asha(7, 1, 9, 3, 2, 1);
    EXPECT(hp_strategy_num_rungs(s, 0) == 3 && hp_strategy_num_rungs(s, 1) == 2, "rung counts %d %d",
           hp_strategy_num_rungs(s, 0), hp_strategy_num_rungs(s, 1));
    EXPECT(hp_strategy_rung_epochs(s, 1, 0) == 3 && hp_strategy_rung_epochs(s, 1, 1) == 9,
           "bracket 1 rungs %d %d", hp_strategy_rung_epochs(s, 1, 0), hp_strategy_rung_epochs(s, 1, 1));
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 1, 0, 3, 1, 0);
    EXPECT_START(s, 2, 0, 1, 0, 0);
    EXPECT_START(s, 3, 0, 3, 1, 0);
    EXPECT_START(s, 4, 0, 1, 0, 0);
    EXPECT_START(s, 5, 0, 3, 1, 0);
    EXPECT(hp_strategy_trial_bracket(s, 5) == 1 && hp_strategy_trial_bracket(s, 4) == 0, "brackets");
    /* A report at epoch 1 is no rung of bracket 1. */
    hp_strategy_report(s, 1, 1, 0.99);
    EXPECT(hp_strategy_trial_rung(s, 1) == -1, "epoch 1 is no rung in bracket 1");
    finish(s, 1, 3, 0.9);
    finish(s, 3, 3, 0.8);
    finish(s, 0, 1, 0.1);
    finish(s, 2, 1, 0.3);
    finish(s, 4, 1, 0.2);
    /* Bracket 0 = {t2 .3, t4 .2, t0 .1}: top 1 = t2, although bracket 1 holds higher
     * values (a global ranking of 5 results would pick t1). */
    EXPECT_START(s, 2, 1, 3, 0, 1);
    /* Bracket 1 has 2 results: nothing; new trial t6 goes to bracket 0. */
    EXPECT_START(s, 6, 0, 1, 0, 0);
    EXPECT_NEXT(s, HP_NEXT_WAIT);
    /* t5 = .1: bracket 1 = {t1 .9, t3 .8, t5 .1}, top 1 = t1: 3 -> 9, its top rung. */
    finish(s, 5, 3, 0.1);
    EXPECT_START(s, 1, 3, 9, 1, 1);
    finish(s, 1, 9, 0.95);
    EXPECT_STATUS(s, 1, HP_TRIAL_COMPLETED);
    hp_strategy_free(s);
}

/* (h) a failed trial counts in no rung, even with a result there. */
TEST(asha_failed_not_counted)
{
    hp_strategy *s = make_asha(10, 1, 9, 3, 1, 1);
    for (int t = 0; t < 3; t++)
        EXPECT_START(s, t, 0, 1, 0, 0);
    hp_strategy_report(s, 0, 1, 0.9); /* the best value, then it fails */
    hp_strategy_failed(s, 0);
    EXPECT_STATUS(s, 0, HP_TRIAL_FAILED);
    finish(s, 1, 1, 0.5);
    finish(s, 2, 1, 0.4);
    /* Rung 0 = {t1, t2} without t0: floor(2/3) = 0 -> new trial. */
    EXPECT_START(s, 3, 0, 1, 0, 0);
    hp_strategy_report(s, 0, 1, 0.95); /* late message from the failed trial: ignored */
    finish(s, 3, 1, 0.3);
    /* {t1 .5, t2 .4, t3 .3}: top 1 = t1, not t0. */
    EXPECT_START(s, 1, 1, 3, 0, 1);
    EXPECT_STATUS(s, 0, HP_TRIAL_FAILED);
    hp_strategy_free(s);
}

/* (i) grid and random: ids in order, [0, epochs), DONE when all ended. */
TEST(grid_and_random)
{
    for (int kind = HP_STRATEGY_GRID; kind <= HP_STRATEGY_RANDOM; kind++) {
        hp_strategy_params p = {.kind = (hp_strategy_kind)kind, .max_trials = 3, .epochs = 5};
        hp_strategy *s = hp_strategy_create(&p);
        EXPECT(s != NULL, "create: %s", hp_error_message());
        if (!s)
            continue;
        EXPECT(hp_strategy_num_rungs(s, 0) == 1 && hp_strategy_rung_epochs(s, 0, 0) == 5, "one rung at 5");
        EXPECT_START(s, 0, 0, 5, 0, 0);
        EXPECT_START(s, 1, 0, 5, 0, 0);
        EXPECT_START(s, 2, 0, 5, 0, 0);
        EXPECT_NEXT(s, HP_NEXT_WAIT);
        hp_strategy_report(s, 0, 1, 0.1);
        EXPECT(hp_strategy_trial_epochs(s, 0) == 1 && hp_strategy_trial_rung(s, 0) == -1, "after epoch 1");
        finish(s, 0, 5, 0.5);
        hp_strategy_failed(s, 1);
        EXPECT_NEXT(s, HP_NEXT_WAIT);
        finish(s, 2, 5, 0.7);
        EXPECT_NEXT(s, HP_NEXT_DONE);
        EXPECT_STATUS(s, 0, HP_TRIAL_COMPLETED);
        EXPECT_STATUS(s, 1, HP_TRIAL_FAILED);
        EXPECT_STATUS(s, 2, HP_TRIAL_COMPLETED);
        EXPECT(hp_strategy_num_trials(s) == 3, "3 trials");
        hp_strategy_free(s);
    }
}

/* (k) requeue_running re-issues running assignments first, in id order. */
TEST(requeue_running_first)
{
    hp_strategy *s = make_asha(10, 1, 9, 3, 1, 1);
    for (int t = 0; t < 4; t++)
        EXPECT_START(s, t, 0, 1, 0, 0);
    finish(s, 1, 1, 0.5);
    finish(s, 2, 1, 0.6);
    finish(s, 3, 1, 0.7);
    EXPECT_START(s, 3, 1, 3, 0, 1); /* {t3 .7, t2, t1}: t3 promoted; t0 still runs */
    hp_strategy_report(s, 3, 2, 0.71);
    /* Interruption: t0 [0,1) and t3 [1,3) are running. */
    hp_strategy_requeue_running(s);
    hp_strategy_requeue_running(s); /* twice: no duplicates */
    EXPECT_STATUS(s, 0, HP_TRIAL_RUNNING);
    /* The queue survives a save/load. */
    uint8_t *image = NULL;
    size_t size = 0;
    EXPECT(hp_strategy_save(s, &image, &size) == 0, "save");
    hp_strategy *loaded = NULL;
    EXPECT(hp_strategy_load(&loaded, image, size) == 0, "load: %s", hp_error_message());
    free(image);
    hp_strategy *both[2] = {s, loaded};
    for (int i = 0; i < 2 && loaded; i++) {
        EXPECT_START(both[i], 0, 0, 1, 0, 0);
        EXPECT_START(both[i], 3, 1, 3, 0, 1); /* same assignment; the caller resumes at epoch 2 */
        EXPECT_START(both[i], 4, 0, 1, 0, 0); /* then normal work */
    }
    hp_strategy_free(loaded);

    /* A requeued trial that fails before it is re-issued is skipped. */
    hp_strategy_requeue_running(s); /* t0, t3, t4 */
    hp_strategy_failed(s, 3);
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 4, 0, 1, 0, 0);
    EXPECT_START(s, 5, 0, 1, 0, 0);
    hp_strategy_free(s);
}

/* (l) only the value at a rung epoch exactly is a rung result (not the best so far). */
TEST(report_at_non_rung_epoch)
{
    hp_strategy *s = make_asha(10, 2, 8, 2, 1, 1); /* rungs 2, 4, 8 */
    EXPECT_START(s, 0, 0, 2, 0, 0);
    EXPECT_START(s, 1, 0, 2, 0, 0);
    hp_strategy_report(s, 0, 1, 0.9);
    EXPECT(hp_strategy_trial_rung(s, 0) == -1 && hp_strategy_trial_epochs(s, 0) == 1, "epoch 1 is no rung");
    finish(s, 0, 2, 0.1); /* t0: .9 after epoch 1, .1 at rung epoch 2 */
    EXPECT(hp_strategy_trial_rung(s, 0) == 0, "epoch 2 is rung 0");
    hp_strategy_report(s, 1, 1, 0.2);
    finish(s, 1, 2, 0.5);
    /* Rung 0 = {t1 .5, t0 .1}: floor(2/2) = 1 -> t1 (t0's .9 at epoch 1 does not count). */
    EXPECT_START(s, 1, 2, 4, 0, 1);
    hp_strategy_free(s);
}

/* Hand-computed budgets: sum_k n_k (r_k - r_{k-1}), n_{k+1} = floor(n_k / eta). */
TEST(worst_case_epochs)
{
    hp_strategy_params p = {.kind = HP_STRATEGY_GRID, .max_trials = 4, .epochs = 5};
    EXPECT(hp_strategy_worst_case_epochs(&p) == 20, "grid 4 x 5");
    /* 9 trials, rungs 1 3 9: 9*1 + 3*2 + 1*6 = 21 */
    p = (hp_strategy_params){.kind = HP_STRATEGY_ASHA, .max_trials = 9, .min_epochs = 1,
                             .max_epochs = 9, .reduction_factor = 3, .brackets = 1};
    EXPECT(hp_strategy_worst_case_epochs(&p) == 21, "asha 9 trials: %ld", hp_strategy_worst_case_epochs(&p));
    /* 10 trials, 2 brackets: bracket 0 ids 0,2,4,6,8 rungs 1 3 9: 5*1 + 1*2 + 0*6 = 7;
     * bracket 1 ids 1,3,5,7,9 rungs 3 9: 5*3 + 1*6 = 21.  Total 28. */
    p.max_trials = 10;
    p.brackets = 2;
    EXPECT(hp_strategy_worst_case_epochs(&p) == 28, "asha 2 brackets: %ld", hp_strategy_worst_case_epochs(&p));
    /* max 30 is not a power: rungs still 1 3 9 27; 81 trials: 81 + 27*2 + 9*6 + 3*18 = 243 */
    p = (hp_strategy_params){.kind = HP_STRATEGY_ASHA, .max_trials = 81, .min_epochs = 1,
                             .max_epochs = 30, .reduction_factor = 3, .brackets = 1};
    EXPECT(hp_strategy_worst_case_epochs(&p) == 243, "asha 81: %ld", hp_strategy_worst_case_epochs(&p));
}

TEST(invalid_params_refused)
{
    hp_strategy_params bad[] = {
        {.kind = HP_STRATEGY_ASHA, .max_trials = 5, .min_epochs = 1, .max_epochs = 9, .reduction_factor = 1, .brackets = 1},
        {.kind = HP_STRATEGY_ASHA, .max_trials = 5, .min_epochs = 1, .max_epochs = 9, .reduction_factor = 3, .brackets = 4},
        {.kind = HP_STRATEGY_ASHA, .max_trials = 5, .min_epochs = 4, .max_epochs = 3, .reduction_factor = 3, .brackets = 1},
        {.kind = HP_STRATEGY_ASHA, .max_trials = 5, .min_epochs = 0, .max_epochs = 3, .reduction_factor = 3, .brackets = 1},
        {.kind = HP_STRATEGY_GRID, .max_trials = 0, .epochs = 5},
        {.kind = HP_STRATEGY_RANDOM, .max_trials = 3, .epochs = 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hp_error_clear();
        hp_strategy *s = hp_strategy_create(&bad[i]);
        EXPECT(s == NULL && strstr(hp_error_message(), "strategy:") != NULL, "case %zu: '%s'", i,
               hp_error_message());
        EXPECT(hp_strategy_worst_case_epochs(&bad[i]) == -1, "case %zu budget", i);
        hp_strategy_free(s);
    }
    /* brackets = K0 + 1 is the largest allowed: 1 3 9 -> 3 brackets, the last one rung 9 only. */
    hp_strategy *s = make_asha(5, 1, 9, 3, 3, 1);
    EXPECT(hp_strategy_num_rungs(s, 2) == 1 && hp_strategy_rung_epochs(s, 2, 0) == 9, "bracket 2");
    EXPECT_START(s, 0, 0, 1, 0, 0);
    EXPECT_START(s, 1, 0, 3, 1, 0);
    EXPECT_START(s, 2, 0, 9, 2, 0);
    finish(s, 2, 9, 0.5);
    EXPECT_STATUS(s, 2, HP_TRIAL_COMPLETED);
    hp_strategy_free(s);
}

/* --------------------------------------------------- save/load (j) ---- */

/* Drive a strategy to the end with a fixed script: take work until WAIT/DONE,
 * then finish everything started, oldest first.  Writes the decisions. */
static int drive_to_end(hp_strategy *s, int *log, int log_cap)
{
    int n = 0, n_running = 0;
    hp_assignment running[64];
    /* Trials already running: their assignment ends at the next rung epoch. */
    for (int t = 0; t < hp_strategy_num_trials(s); t++) {
        if (hp_strategy_trial_status(s, t) != HP_TRIAL_RUNNING)
            continue;
        int b = hp_strategy_trial_bracket(s, t), k = 0;
        while (hp_strategy_rung_epochs(s, b, k) <= hp_strategy_trial_epochs(s, t))
            k++;
        running[n_running++] = (hp_assignment){t, 0, hp_strategy_rung_epochs(s, b, k), b, k};
    }
    for (int round = 0; round < 1000; round++) {
        hp_assignment a;
        hp_next d;
        while ((d = hp_strategy_next(s, &a)) == HP_NEXT_START) {
            if (n_running == 64) {
                printf("more than 64 assignments at once\n");
                exit(1);
            }
            running[n_running++] = a;
            if (n + 3 <= log_cap) {
                log[n++] = a.trial;
                log[n++] = a.from_epoch;
                log[n++] = a.to_epoch;
            }
        }
        if (n < log_cap)
            log[n++] = -(int)d - 1;
        if (d == HP_NEXT_DONE)
            break;
        for (int i = 0; i < n_running; i++) { /* in the order they were started */
            int t = running[i].trial, to = running[i].to_epoch;
            if (t % 7 == 3) {
                hp_strategy_failed(s, t);
                continue;
            }
            finish(s, t, to, (double)((t * 37 + to * 11) % 10) / 10.0);
        }
        n_running = 0;
    }
    return n;
}

static uint64_t test_fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

TEST(save_load_round_trip)
{
    hp_strategy *s = make_asha(30, 1, 27, 3, 2, 0);
    /* Mid-study state: some finished, one promoted, two running, one failed. */
    for (int t = 0; t < 8; t++) {
        hp_assignment a;
        EXPECT(hp_strategy_next(s, &a) == HP_NEXT_START && a.trial == t, "start %d", t);
    }
    for (int t = 0; t < 8; t += 2)
        finish(s, t, 1, 0.1 * t);
    hp_strategy_failed(s, 1);
    hp_strategy_report(s, 3, 2, 0.4);
    uint8_t *image = NULL, *image2 = NULL;
    size_t size = 0, size2 = 0;
    EXPECT(hp_strategy_save(s, &image, &size) == 0, "save");
    hp_strategy *loaded = NULL;
    EXPECT(hp_strategy_load(&loaded, image, size) == 0, "load: %s", hp_error_message());
    if (!loaded) {
        free(image);
        hp_strategy_free(s);
        return;
    }
    /* Saving the loaded strategy gives the same bytes. */
    EXPECT(hp_strategy_save(loaded, &image2, &size2) == 0 && size2 == size &&
               memcmp(image, image2, size) == 0, "image of the loaded strategy differs");
    free(image2);
    for (int t = 0; t < 8; t++) {
        EXPECT(hp_strategy_trial_status(loaded, t) == hp_strategy_trial_status(s, t) &&
                   hp_strategy_trial_epochs(loaded, t) == hp_strategy_trial_epochs(s, t) &&
                   hp_strategy_trial_rung(loaded, t) == hp_strategy_trial_rung(s, t),
               "trial %d differs after load", t);
    }
    /* Identical future decisions. */
    int log_a[4096], log_b[4096];
    int n_a = drive_to_end(s, log_a, 4096), n_b = drive_to_end(loaded, log_b, 4096);
    EXPECT(n_a == n_b && n_a > 30 && memcmp(log_a, log_b, (size_t)n_a * sizeof(int)) == 0,
           "decisions differ after load (%d vs %d entries)", n_a, n_b);
    EXPECT(log_a[n_a - 1] == -(int)HP_NEXT_DONE - 1, "the study ends with DONE");
    for (int t = 0; t < hp_strategy_num_trials(s); t++)
        EXPECT(hp_strategy_trial_status(loaded, t) == hp_strategy_trial_status(s, t), "final status %d", t);
    hp_strategy_free(loaded);

    /* Every truncation is refused with a message. */
    int refused = 0;
    for (size_t len = 0; len < size; len++) {
        hp_error_clear();
        hp_strategy *t = (hp_strategy *)1;
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, image, len);
        refused += hp_strategy_load(&t, copy, len) == -1 && t == NULL && hp_error_message()[0];
        free(copy);
    }
    EXPECT(refused == (int)size, "%d of %zu truncations refused", refused, size);
    /* Every single-byte corruption is refused. */
    refused = 0;
    for (size_t i = 0; i < size; i++) {
        image[i] ^= 0x5a;
        hp_strategy *t = NULL;
        refused += hp_strategy_load(&t, image, size) == -1 && t == NULL;
        image[i] ^= 0x5a;
        hp_strategy_free(t);
    }
    EXPECT(refused == (int)size, "%d of %zu corruptions refused", refused, size);
    /* A well-formed image with an impossible status (checksum recomputed) is refused. */
    size_t status_at = 20 + 8 * 4 + 3 * 4; /* header, params, counts: trial 0's status */
    image[status_at] = 9;
    uint64_t h = test_fnv1a(image, size - 8);
    for (int i = 0; i < 8; i++)
        image[size - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
    hp_strategy *t = NULL;
    hp_error_clear();
    EXPECT(hp_strategy_load(&t, image, size) == -1 && strstr(hp_error_message(), "corrupt"),
           "bad status accepted: '%s'", hp_error_message());
    hp_strategy_free(t);
    free(image);
    hp_strategy_free(s);
}

/* ------------------------------------------- randomized property test ---- */

enum { SIM_MAX_TRIALS = 80, SIM_MAX_RUNGS = 8, SIM_MAX_WORKERS = 4 };

typedef struct sim_trial {
    hp_trial_status status;  /* the model's own view */
    int epochs;              /* last reported epoch */
    int last_to;             /* to_epoch of the last assignment */
    int queued;
    hp_assignment assigned;
    int has[SIM_MAX_RUNGS], promoted[SIM_MAX_RUNGS];
    double value[SIM_MAX_RUNGS];
} sim_trial;

typedef struct sim {
    hp_strategy_params p;
    int k0, n_trials;
    sim_trial t[SIM_MAX_TRIALS];
    int queue[SIM_MAX_TRIALS * 4], queue_head, queue_len;
} sim;

static int sim_rung_epoch(const sim *m, int b, int k)
{
    int r = m->p.min_epochs;
    for (int i = 0; i < b + k; i++)
        r *= m->p.reduction_factor;
    return r;
}

static int sim_better(const sim *m, int a, int b, int k)
{
    double va = m->t[a].value[k], vb = m->t[b].value[k];
    if (va != vb)
        return m->p.maximize ? va > vb : va < vb;
    return a < b;
}

/* Rank of trial c among the live results of rung k of its bracket, and their count. */
static int sim_rank(const sim *m, int c, int k, int *n_out)
{
    int b = c % m->p.brackets, n = 0, rank = 0;
    for (int i = 0; i < m->n_trials; i++) {
        if (i % m->p.brackets != b || !m->t[i].has[k] || m->t[i].status == HP_TRIAL_FAILED)
            continue;
        n++;
        rank += i != c && sim_better(m, i, c, k);
    }
    *n_out = n;
    return rank;
}

/* The decision the header's algorithm prescribes (does not change the model). */
static hp_next sim_expected(const sim *m, hp_assignment *want)
{
    for (int i = m->queue_head; i < m->queue_len; i++) {
        const sim_trial *tr = &m->t[m->queue[i]];
        if (tr->queued && tr->status == HP_TRIAL_RUNNING) {
            *want = tr->assigned;
            return HP_NEXT_START;
        }
    }
    int B = m->p.brackets;
    for (int b = 0; b < B; b++)
        for (int k = m->k0 - b - 1; k >= 0; k--) {
            int best = -1, best_rank = 0;
            for (int c = b; c < m->n_trials; c += B) {
                const sim_trial *tr = &m->t[c];
                if (!tr->has[k] || tr->status != HP_TRIAL_PAUSED || tr->promoted[k])
                    continue;
                int n, rank = sim_rank(m, c, k, &n);
                if (rank < n / m->p.reduction_factor && (best < 0 || rank < best_rank)) {
                    best = c;
                    best_rank = rank;
                }
            }
            if (best >= 0) {
                *want = (hp_assignment){best, sim_rung_epoch(m, b, k), sim_rung_epoch(m, b, k + 1), b, k + 1};
                return HP_NEXT_START;
            }
        }
    if (m->n_trials < m->p.max_trials) {
        int t = m->n_trials;
        *want = (hp_assignment){t, 0, sim_rung_epoch(m, t % B, 0), t % B, 0};
        return HP_NEXT_START;
    }
    for (int i = 0; i < m->n_trials; i++)
        if (m->t[i].status == HP_TRIAL_RUNNING)
            return HP_NEXT_WAIT;
    return HP_NEXT_DONE;
}

static double sim_metric(int trial, int epoch)
{
    /* Few distinct values, so ties are common. */
    return (double)((trial * 37 + epoch * 11) % 7) / 7.0 + 0.01 * epoch;
}

typedef struct sim_worker {
    int trial; /* -1: idle */
    int epoch; /* epochs done */
    int to;
} sim_worker;

/* One random study, checked decision by decision against the model. */
static void run_random_study(hp_rng *rng, int study)
{
    sim *m = calloc(1, sizeof *m);
    int eta = 2 + (int)hp_rng_below(rng, 3);
    int min_e = 1 + (int)hp_rng_below(rng, 2);
    int k0 = 1 + (int)hp_rng_below(rng, 3);
    int max_e = min_e;
    for (int i = 0; i < k0; i++)
        max_e *= eta;
    max_e += (int)hp_rng_below(rng, (uint64_t)eta); /* not always an exact power */
    m->p = (hp_strategy_params){.kind = HP_STRATEGY_ASHA, .max_trials = 1 + (int)hp_rng_below(rng, SIM_MAX_TRIALS),
                                .min_epochs = min_e, .max_epochs = max_e, .reduction_factor = eta,
                                .brackets = 1 + (int)hp_rng_below(rng, (uint64_t)k0 + 1),
                                .maximize = (int)hp_rng_below(rng, 2)};
    m->k0 = k0;
    int n_workers = 1 + (int)hp_rng_below(rng, SIM_MAX_WORKERS);
    hp_strategy *s = hp_strategy_create(&m->p);
    EXPECT(s != NULL, "study %d: create: %s", study, hp_error_message());
    if (!s) {
        free(m);
        return;
    }
    for (int b = 0; b < m->p.brackets; b++) {
        EXPECT(hp_strategy_num_rungs(s, b) == k0 - b + 1, "study %d bracket %d rungs", study, b);
        for (int k = 0; k <= k0 - b; k++)
            EXPECT(hp_strategy_rung_epochs(s, b, k) == sim_rung_epoch(m, b, k), "study %d rung epoch", study);
    }
    sim_worker w[SIM_MAX_WORKERS];
    for (int i = 0; i < n_workers; i++)
        w[i].trial = -1;
    int failures_before = testlib_current_failed, done = 0;
    for (int step = 0; step < 100000 && !done && testlib_current_failed == failures_before; step++) {
        /* Idle workers ask for work. */
        for (int i = 0; i < n_workers && !done; i++) {
            if (w[i].trial >= 0)
                continue;
            hp_assignment want, got;
            hp_next expect = sim_expected(m, &want), d = hp_strategy_next(s, &got);
            EXPECT(d == expect, "study %d step %d: %s, want %s", study, step, next_name(d), next_name(expect));
            if (d != expect)
                break;
            if (d == HP_NEXT_DONE) {
                for (int j = 0; j < n_workers; j++)
                    EXPECT(w[j].trial < 0, "study %d: DONE while worker %d runs", study, j);
                done = 1;
                break;
            }
            if (d == HP_NEXT_WAIT)
                break;
            EXPECT(memcmp(&want, &got, sizeof want) == 0,
                   "study %d step %d: got trial %d [%d,%d) rung %d, want trial %d [%d,%d) rung %d", study,
                   step, got.trial, got.from_epoch, got.to_epoch, got.rung, want.trial, want.from_epoch,
                   want.to_epoch, want.rung);
            sim_trial *tr = &m->t[got.trial];
            if (tr->queued) {
                /* A re-issue: the same assignment; resume from the last reported epoch. */
                EXPECT(memcmp(&got, &tr->assigned, sizeof got) == 0, "study %d: re-issue differs", study);
                tr->queued = 0;
                while (m->queue_head < m->queue_len && m->queue[m->queue_head] != got.trial)
                    m->queue_head++;
                m->queue_head++;
                w[i] = (sim_worker){got.trial, tr->epochs, got.to_epoch};
                continue;
            }
            /* Invariants: contiguous epochs, no double promotion, promoted from the top set. */
            EXPECT(got.from_epoch == tr->last_to, "study %d: trial %d from %d, last to %d", study,
                   got.trial, got.from_epoch, tr->last_to);
            if (got.from_epoch == 0) {
                EXPECT(got.trial == m->n_trials && got.bracket == got.trial % m->p.brackets,
                       "study %d: new trial %d", study, got.trial);
                m->n_trials++;
            } else {
                int k = got.rung - 1, n;
                EXPECT(!tr->promoted[k], "study %d: trial %d promoted twice from rung %d", study, got.trial, k);
                int rank = sim_rank(m, got.trial, k, &n);
                EXPECT(tr->has[k] && rank < n / eta, "study %d: trial %d rank %d of %d at rung %d", study,
                       got.trial, rank, n, k);
                tr->promoted[k] = 1;
            }
            tr->assigned = got;
            tr->last_to = got.to_epoch;
            tr->status = HP_TRIAL_RUNNING;
            w[i] = (sim_worker){got.trial, got.from_epoch, got.to_epoch};
        }
        if (done)
            break;
        /* Occasionally an interruption: every worker stops, running work is requeued. */
        if (hp_rng_below(rng, 100) == 0) {
            for (int i = 0; i < n_workers; i++)
                w[i].trial = -1;
            hp_strategy_requeue_running(s);
            if (m->queue_head == m->queue_len)
                m->queue_head = m->queue_len = 0;
            for (int t = 0; t < m->n_trials; t++)
                if (m->t[t].status == HP_TRIAL_RUNNING && !m->t[t].queued) {
                    m->t[t].queued = 1;
                    m->queue[m->queue_len++] = t;
                }
            continue;
        }
        /* Occasionally a save/load round trip in the middle. */
        if (hp_rng_below(rng, 50) == 0) {
            uint8_t *image = NULL;
            size_t size = 0;
            hp_strategy *loaded = NULL;
            EXPECT(hp_strategy_save(s, &image, &size) == 0 && hp_strategy_load(&loaded, image, size) == 0,
                   "study %d: round trip: %s", study, hp_error_message());
            free(image);
            if (loaded) {
                hp_strategy_free(s);
                s = loaded;
            }
        }
        /* One busy worker trains one epoch (or its trial fails). */
        int busy[SIM_MAX_WORKERS], n_busy = 0;
        for (int i = 0; i < n_workers; i++)
            if (w[i].trial >= 0)
                busy[n_busy++] = i;
        if (n_busy == 0) {
            EXPECT(0, "study %d: WAIT with no worker busy", study);
            break;
        }
        sim_worker *wk = &w[busy[hp_rng_below(rng, (uint64_t)n_busy)]];
        sim_trial *tr = &m->t[wk->trial];
        if (hp_rng_below(rng, 40) == 0) {
            hp_strategy_failed(s, wk->trial);
            tr->status = HP_TRIAL_FAILED;
            wk->trial = -1;
            continue;
        }
        int epoch = ++wk->epoch, b = wk->trial % m->p.brackets;
        double v = sim_metric(wk->trial, epoch);
        hp_strategy_report(s, wk->trial, epoch, v);
        tr->epochs = epoch;
        for (int k = 0; k <= k0 - b; k++)
            if (sim_rung_epoch(m, b, k) == epoch) {
                tr->has[k] = 1;
                tr->value[k] = v;
            }
        if (epoch == wk->to) {
            hp_strategy_finished(s, wk->trial, epoch);
            tr->status = tr->assigned.rung == k0 - b ? HP_TRIAL_COMPLETED : HP_TRIAL_PAUSED;
            wk->trial = -1;
        }
        EXPECT(hp_strategy_trial_status(s, (int)(tr - m->t)) == tr->status, "study %d: status", study);
    }
    EXPECT(done || testlib_current_failed != failures_before, "study %d did not finish", study);
    for (int t = 0; t < hp_strategy_num_trials(s) && done; t++) {
        hp_trial_status st = hp_strategy_trial_status(s, t);
        hp_trial_status want = m->t[t].status == HP_TRIAL_PAUSED ? HP_TRIAL_STOPPED : m->t[t].status;
        EXPECT(st == want && (st == HP_TRIAL_COMPLETED || st == HP_TRIAL_STOPPED || st == HP_TRIAL_FAILED),
               "study %d: trial %d ends %s, want %s", study, t, hp_trial_status_name(st), hp_trial_status_name(want));
        EXPECT(hp_strategy_trial_epochs(s, t) == m->t[t].epochs, "study %d: trial %d epochs", study, t);
    }
    EXPECT(hp_strategy_num_trials(s) == m->p.max_trials || !done, "study %d: all trials used", study);
    hp_strategy_free(s);
    free(m);
}

TEST(randomized_asha_against_model)
{
    hp_rng rng;
    hp_rng_seed_for(&rng, 2024, 0, HP_STREAM_TEST);
    for (int study = 0; study < 1500 && !testlib_current_failed; study++)
        run_random_study(&rng, study);
}

int main(void)
{
    RUN(asha_promotion_sequence);
    RUN(asha_ties_lower_id);
    RUN(asha_min_and_max_mode);
    RUN(asha_wait_done_stopped);
    RUN(asha_two_brackets);
    RUN(asha_failed_not_counted);
    RUN(grid_and_random);
    RUN(requeue_running_first);
    RUN(report_at_non_rung_epoch);
    RUN(worst_case_epochs);
    RUN(invalid_params_refused);
    RUN(save_load_round_trip);
    RUN(randomized_asha_against_model);
    return testlib_finish();
}
