/* test_tpe.c - hand-checked cases for the TPE sampler (src/search/tpe.c) and
 * its Parzen estimator (src/search/parzen.c).  The comparison with Optuna 3.1
 * itself is tests/integration/test_tpe_optuna.sh. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "rng.h"
#include "testlib.h"
#include "tpe.h"

#define MAX_TRIALS 200
#define MAX_DIMS 8

/* A trial list that owns its value rows. */
typedef struct trial_list {
    int n, n_dims;
    double x[MAX_TRIALS][MAX_DIMS];
    hp_tpe_trial t[MAX_TRIALS];
} trial_list;

static void add(trial_list *l, hp_tpe_state state, double value, int step, const double *x)
{
    memcpy(l->x[l->n], x, (size_t)l->n_dims * sizeof(double));
    l->t[l->n] = (hp_tpe_trial){l->x[l->n], state, value, step};
    l->n++;
}

static void add1(trial_list *l, hp_tpe_state state, double value, double x0)
{
    double x[MAX_DIMS] = {x0};
    add(l, state, value, 0, x);
}

static hp_tpe_dim float_dim(double low, double high)
{
    return (hp_tpe_dim){0, low, high, 0, 0, 0};
}

static int contains(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ phase ----- */

TEST(test_startup_is_random_until_n_startup_finished)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    hp_tpe_dim dim = float_dim(0, 1);
    trial_list l = {.n_dims = 1};
    hp_rng rng;
    hp_rng_seed(&rng, 1);
    double out[1];
    int used = -1;
    /* 3 complete + 3 pruned + 3 failed = 9 finished; running trials never count */
    for (int i = 0; i < 3; i++) {
        add1(&l, HP_TPE_COMPLETE, i, 0.1 * i);
        double x[1] = {0.2 + 0.1 * i};
        add(&l, HP_TPE_PRUNED, 5.0, 3, x);
        add1(&l, HP_TPE_FAILED, NAN, 0.5 + 0.1 * i);
    }
    for (int i = 0; i < 5; i++)
        add1(&l, HP_TPE_RUNNING, NAN, 0.9);
    for (int liar = 0; liar <= 1; liar++) {
        s.constant_liar = liar;
        EXPECT(hp_tpe_propose(&s, &dim, 1, l.t, l.n, &rng, out, &used) == 0, "%s", hp_error_message());
        EXPECT(used == 0, "9 finished trials (liar %d): random phase, used_model %d", liar, used);
    }
    hp_tpe_model m;
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_finished == 9 && !m.use_model && m.n_groups == 0, "n %d use %d groups %d",
           m.n_finished, m.use_model, m.n_groups);
    hp_tpe_model_release(&m);
    add1(&l, HP_TPE_FAILED, NAN, 0.3); /* the 10th finished trial is a failure: it counts */
    EXPECT(hp_tpe_propose(&s, &dim, 1, l.t, l.n, &rng, out, &used) == 0, "%s", hp_error_message());
    EXPECT(used == 1, "10 finished trials: the model, used_model %d", used);
    EXPECT(out[0] >= 0 && out[0] <= 1, "proposal %g inside [0, 1]", out[0]);
}

TEST(test_random_phase_is_uniform_over_each_dimension)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    hp_tpe_dim dims[5] = {
        {4, 0, 0, 0, 0, 0},       /* categorical */
        {0, -2, 2, 0, 0, 0},      /* float */
        {0, 1e-3, 1e3, 0, 1, 0},  /* float log: log10 uniform in [-3, 3] */
        {0, 0, 10, 5, 0, 1},      /* int step 5: 0, 5, 10 */
        {0, 0.5, 1.25, 0.25, 0, 0}/* float step: 0.5, 0.75, 1, 1.25 */
    };
    int cat[4] = {0}, steps[3] = {0}, fsteps[4] = {0}, negative = 0, log_below_1 = 0, n = 4000;
    hp_rng rng;
    hp_rng_seed(&rng, 7);
    for (int i = 0; i < n; i++) {
        double out[5];
        int used;
        EXPECT(hp_tpe_propose(&s, dims, 5, NULL, 0, &rng, out, &used) == 0 && used == 0, "%s",
               hp_error_message());
        cat[(int)out[0]]++;
        negative += out[1] < 0;
        log_below_1 += out[2] < 1;
        steps[(int)out[3] / 5]++;
        fsteps[(int)lround((out[4] - 0.5) / 0.25)]++;
    }
    /* binomial standard deviations are ~30 at these n; allow 5 of them */
    for (int c = 0; c < 4; c++)
        EXPECT(fabs(cat[c] - n / 4.0) < 150, "choice %d drawn %d of %d times", c, cat[c], n);
    for (int k = 0; k < 3; k++)
        EXPECT(fabs(steps[k] - n / 3.0) < 160, "int lattice point %d drawn %d times", 5 * k, steps[k]);
    for (int k = 0; k < 4; k++)
        EXPECT(fabs(fsteps[k] - n / 4.0) < 150, "float lattice point %d drawn %d times", k, fsteps[k]);
    EXPECT(fabs(negative - n / 2.0) < 160, "float: %d of %d below the middle", negative, n);
    EXPECT(fabs(log_below_1 - n / 2.0) < 160, "log: %d of %d below the geometric middle", log_below_1, n);
}

/* ------------------------------------------------------------ split ----- */

TEST(test_gamma_and_weights)
{
    int n[] = {0, 1, 10, 11, 20, 21, 249, 250, 251, 1000}, g[] = {0, 1, 1, 2, 2, 3, 25, 25, 25, 25};
    for (int i = 0; i < 10; i++)
        EXPECT(hp_tpe_default_gamma(n[i]) == g[i], "gamma(%d) = %d, expected %d", n[i],
               hp_tpe_default_gamma(n[i]), g[i]);
    double w[30];
    hp_tpe_default_weights(24, w);
    for (int i = 0; i < 24; i++)
        EXPECT(w[i] == 1.0, "24 observations: weight %d is %g", i, w[i]);
    hp_tpe_default_weights(26, w); /* linspace(1/26, 1, 1) = [1/26] */
    EXPECT_NEAR(w[0], 1.0 / 26, 1e-15, "26 observations: the oldest");
    EXPECT(w[1] == 1.0 && w[25] == 1.0, "26 observations: the newest 25 are 1");
    hp_tpe_default_weights(30, w); /* linspace(1/30, 1, 5) then 25 ones */
    double ramp[5] = {1.0 / 30, 1.0 / 30 + 29.0 / 120, 1.0 / 30 + 2 * 29.0 / 120,
                      1.0 / 30 + 3 * 29.0 / 120, 1.0};
    for (int i = 0; i < 5; i++)
        EXPECT_NEAR(w[i], ramp[i], 1e-15, "30 observations: ramp");
    for (int i = 5; i < 30; i++)
        EXPECT(w[i] == 1.0, "30 observations: weight %d is %g", i, w[i]);
}

TEST(test_split_is_stable_and_chronological)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    s.n_startup_trials = 0;
    hp_tpe_dim dim = float_dim(0, 100);
    trial_list l = {.n_dims = 1};
    double values[11] = {3, 1, 2, 1, 1, 5, 4, 6, 7, 8, 9};
    for (int i = 0; i < 11; i++)
        add1(&l, HP_TPE_COMPLETE, values[i], i);
    hp_tpe_model m;
    /* n = 11 -> gamma = 2: the value 1 three times (trials 1, 3, 4): the first two go below */
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_below == 2 && m.below[0] == 1 && m.below[1] == 3, "below %d: %d %d", m.n_below,
           m.below[0], m.below[1]);
    int expect_above[9] = {0, 2, 4, 5, 6, 7, 8, 9, 10};
    EXPECT(m.n_above == 9, "above has %d", m.n_above);
    for (int i = 0; i < 9 && i < m.n_above; i++)
        EXPECT(m.above[i] == expect_above[i], "above[%d] = %d, expected %d", i, m.above[i],
               expect_above[i]);
    EXPECT(m.n_groups == 1 && m.groups[0].below_pe.n_observations == 2 &&
               hp_parzen_mus(&m.groups[0].below_pe, 0)[0] == 1 &&
               hp_parzen_mus(&m.groups[0].below_pe, 0)[1] == 3,
           "the below estimator holds trials 1 and 3 in trial order");
    hp_tpe_model_release(&m);
    s.maximize = 1; /* the two largest: trials 10 and 9, kept in trial order */
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_below == 2 && m.below[0] == 9 && m.below[1] == 10, "maximize: below %d %d",
           m.below[0], m.below[1]);
    hp_tpe_model_release(&m);
}

TEST(test_pruned_ranked_by_step_then_value)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    s.n_startup_trials = 0;
    hp_tpe_dim dim = float_dim(0, 100);
    trial_list l = {.n_dims = 1};
    double x[1];
    /* 20 trials -> gamma 2.  Key (-step, value): complete (-inf) beats any
     * pruned one; a deeper pruned trial beats a shallower one whatever its value. */
    for (int i = 0; i < 17; i++) {
        x[0] = i;
        add(&l, HP_TPE_PRUNED, -100.0 + i, 1, x); /* shallow but excellent values */
    }
    x[0] = 50;
    add(&l, HP_TPE_PRUNED, 1e6, 9, x); /* trial 17: deep, bad value */
    x[0] = 60;
    add(&l, HP_TPE_COMPLETE, 1e9, 0, x); /* trial 18: complete, terrible value */
    x[0] = 70;
    add(&l, HP_TPE_PRUNED, 1e5, 9, x); /* trial 19: deep, better than 17 */
    hp_tpe_model m;
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_below == 2 && m.below[0] == 18 && m.below[1] == 19, "below: %d %d", m.below[0],
           m.below[1]);
    hp_tpe_model_release(&m);
}

TEST(test_failed_trials_go_above_and_count)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    hp_tpe_dim dim = float_dim(0, 10);
    trial_list l = {.n_dims = 1};
    add1(&l, HP_TPE_COMPLETE, 5.0, 1.0);
    for (int i = 0; i < 10; i++)
        add1(&l, HP_TPE_FAILED, NAN, 2.0 + i * 0.5);
    hp_tpe_model m;
    /* n = 11 (failed count) -> gamma 2, but only one trial can be below */
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.use_model && m.n_finished == 11, "n %d", m.n_finished);
    EXPECT(m.n_below_target == 1 && m.n_below == 1 && m.below[0] == 0, "below: %d trials",
           m.n_below);
    EXPECT(m.n_above == 10 && m.groups[0].above_pe.n_observations == 10,
           "the failed trials are the above observations (%d)", m.n_above);
    for (int i = 0; i < m.n_above; i++)
        EXPECT(m.above[i] == i + 1, "above[%d] = %d", i, m.above[i]);
    hp_tpe_model_release(&m);
    /* a failed trial with a great-looking value is still above */
    trial_list k = {.n_dims = 1};
    for (int i = 0; i < 10; i++)
        add1(&k, HP_TPE_COMPLETE, 10.0 + i, i);
    add1(&k, HP_TPE_FAILED, -1e9, 9.5);
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, k.t, k.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_below == 2 && m.below[0] == 0 && m.below[1] == 1 && contains(m.above, m.n_above, 10),
           "failed trial 10 above; below %d %d", m.below[0], m.below[1]);
    hp_tpe_model_release(&m);
}

TEST(test_constant_liar)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    hp_tpe_dim dim = float_dim(0, 10);
    trial_list l = {.n_dims = 1};
    for (int i = 0; i < 10; i++)
        add1(&l, HP_TPE_COMPLETE, i, i);
    add1(&l, HP_TPE_RUNNING, NAN, 0.25); /* trial 10 sits next to the best value */
    add1(&l, HP_TPE_RUNNING, NAN, 0.5);
    hp_tpe_model m;
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_finished == 10 && m.n_below + m.n_above == 10 && !contains(m.above, m.n_above, 10),
           "without the liar running trials are ignored (%d observations)", m.n_below + m.n_above);
    hp_tpe_model_release(&m);
    s.constant_liar = 1;
    EXPECT(hp_tpe_model_fit(&m, &s, &dim, 1, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_finished == 10 && m.n_below_target == 1, "running trials do not count in n (%d)",
           m.n_finished);
    EXPECT(m.n_below == 1 && m.below[0] == 0, "below is the best finished trial");
    EXPECT(m.n_above == 11 && m.above[9] == 10 && m.above[10] == 11, "running trials are above");
    hp_tpe_model_release(&m);
}

TEST(test_inactive_values_are_left_out)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    s.n_startup_trials = 0;
    hp_tpe_dim dims[2] = {float_dim(0, 1), float_dim(0, 1)};
    trial_list l = {.n_dims = 2};
    for (int i = 0; i < 12; i++) {
        double x[2] = {i / 12.0, i % 3 == 0 ? NAN : i / 24.0};
        add(&l, HP_TPE_COMPLETE, i, 0, x);
    }
    for (int mv = 0; mv <= 1; mv++) {
        s.multivariate = mv;
        hp_tpe_model m;
        EXPECT(hp_tpe_model_fit(&m, &s, dims, 2, l.t, l.n) == 0, "%s", hp_error_message());
        /* dim 1 is inactive in trials 0, 3, 6, 9: never joint, 8 observations */
        EXPECT(m.n_groups == 2 && m.groups[0].n_dims == 1 && m.groups[1].dims[0] == 1,
               "multivariate %d: %d groups", mv, m.n_groups);
        if (m.n_groups == 2) {
            const hp_tpe_group *g1 = &m.groups[1];
            EXPECT(g1->n_below + g1->n_above == 8 && m.groups[0].n_below + m.groups[0].n_above == 12,
                   "observations: dim 1 %d, dim 0 %d", g1->n_below + g1->n_above,
                   m.groups[0].n_below + m.groups[0].n_above);
            EXPECT(g1->n_below == 1 && g1->below[0] == 1, "below of dim 1: trial 0 is inactive");
        }
        hp_tpe_model_release(&m);
    }
}

TEST(test_multivariate_groups)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    s.n_startup_trials = 0;
    s.multivariate = 1;
    hp_tpe_dim dims[4] = {float_dim(0, 1), {3, 0, 0, 0, 0, 0}, float_dim(2, 2), {0, 1, 8, 0, 1, 1}};
    trial_list l = {.n_dims = 4};
    for (int i = 0; i < 100; i++) {
        double x[4] = {i / 100.0, i % 3, 2, 1 + i % 8};
        add(&l, HP_TPE_COMPLETE, i, 0, x);
    }
    hp_tpe_model m;
    EXPECT(hp_tpe_model_fit(&m, &s, dims, 4, l.t, l.n) == 0, "%s", hp_error_message());
    EXPECT(m.n_groups == 1 && m.groups[0].n_dims == 3 && m.groups[0].dims[2] == 3,
           "one joint group without the single-valued dim 2");
    /* Scott's rule: sigma0 = 0.2 * 90^(-1/(3+4)) for the 90 above observations */
    const hp_parzen *above = &m.groups[0].above_pe;
    double sigma0 = 0.2 * pow(90, -1.0 / 7);
    EXPECT_NEAR(hp_parzen_sigmas(above, 0)[0], sigma0 * 1.0, 1e-15, "float sigma");
    EXPECT_NEAR(hp_parzen_sigmas(above, 2)[5], sigma0 * (log(8.5) - log(0.5)), 1e-15, "int-log sigma");
    EXPECT_NEAR(hp_parzen_sigmas(above, 0)[90], 1.0, 0, "prior sigma");
    hp_tpe_model_release(&m);
    /* magic clip: with 4 observations in 2 dims, sigma0 (H-L) = 2 * 4^(-1/6) = 1.59 is below
     * the minimum (H-L)/min(100, 1 + 5 components) = 1.67 */
    hp_parzen pe;
    hp_parzen_params pp = {1, 1.0, 1, 0, 1};
    hp_tpe_dim two[2] = {float_dim(0, 10), float_dim(0, 10)};
    double obs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT(hp_parzen_fit(&pe, two, 2, obs, 4, &pp, NULL) == 0, "%s", hp_error_message());
    EXPECT(0.2 * pow(4, -1.0 / 6) * 10 < 10.0 / 6, "the case exercises the clip");
    EXPECT_NEAR(hp_parzen_sigmas(&pe, 1)[2], 10.0 / 6, 1e-15, "clipped to (H-L)/(1+m)");
    hp_parzen_release(&pe);
}

/* --------------------------------------------------------- estimator ---- */

TEST(test_parzen_categorical_table)
{
    hp_tpe_dim dim = {3, 0, 0, 0, 0, 0};
    hp_parzen_params pp = {1, 1.0, 1, 0, 0};
    double obs[3] = {0, 0, 2};
    hp_parzen pe;
    EXPECT(hp_parzen_fit(&pe, &dim, 1, obs, 3, &pp, NULL) == 0, "%s", hp_error_message());
    EXPECT(pe.n_components == 4, "3 observations + prior");
    /* each entry starts at prior_weight/(n+1) = 1/4, +1 at the observed choice */
    double row0[3] = {5.0 / 7, 1.0 / 7, 1.0 / 7}, row2[3] = {1.0 / 7, 1.0 / 7, 5.0 / 7};
    for (int c = 0; c < 3; c++) {
        EXPECT_NEAR(pe.categorical[0][0 * 3 + c], row0[c], 1e-15, "row 0");
        EXPECT_NEAR(pe.categorical[0][1 * 3 + c], row0[c], 1e-15, "row 1");
        EXPECT_NEAR(pe.categorical[0][2 * 3 + c], row2[c], 1e-15, "row 2");
        EXPECT_NEAR(pe.categorical[0][3 * 3 + c], 1.0 / 3, 1e-15, "prior row");
        EXPECT_NEAR(pe.weights[c], 0.25, 1e-15, "weights");
    }
    double x[3] = {0, 1, 2}, lp[3];
    hp_parzen_log_pdf(&pe, x, 3, lp);
    EXPECT_NEAR(lp[0], log((10.0 / 7 + 1.0 / 7 + 1.0 / 3) / 4), 1e-14, "log pdf of choice 0");
    EXPECT_NEAR(lp[1], log((3.0 / 7 + 1.0 / 3) / 4), 1e-14, "log pdf of choice 1");
    EXPECT_NEAR(lp[2], log((7.0 / 7 + 1.0 / 3) / 4), 1e-14, "log pdf of choice 2");
    hp_parzen_release(&pe);
    /* without the prior: 1/n per entry */
    pp.consider_prior = 0;
    EXPECT(hp_parzen_fit(&pe, &dim, 1, obs, 3, &pp, NULL) == 0, "%s", hp_error_message());
    EXPECT(pe.n_components == 3, "no prior component");
    EXPECT_NEAR(pe.categorical[0][0], (1 + 1.0 / 3) / 2.0, 1e-15, "row 0 without the prior");
    hp_parzen_release(&pe);
}

TEST(test_parzen_bounds)
{
    struct {
        hp_tpe_dim dim;
        double low, high, q;
    } cases[] = {
        {{0, 1, 10, 0, 0, 1}, 0.5, 10.5, 1},             /* int: step 0 means 1 */
        {{0, 0, 9, 2, 0, 1}, -1, 9, 2},                  /* int step 2: high 9 -> 8 */
        {{0, 0, 2, 0.5, 0, 0}, -0.25, 2.25, 0.5},        /* float step */
        {{0, 1, 100, 1, 1, 1}, log(0.5), log(100.5), 0}, /* int log */
        {{0, 1e-3, 1, 0, 1, 0}, log(1e-3), 0, 0},        /* float log */
        {{0, -3, 4, 0, 0, 0}, -3, 4, 0},                 /* float */
    };
    hp_parzen_params pp = {1, 1.0, 1, 0, 0};
    for (int i = 0; i < 6; i++) {
        hp_parzen pe;
        EXPECT(hp_parzen_fit(&pe, &cases[i].dim, 1, NULL, 0, &pp, NULL) == 0, "%s", hp_error_message());
        EXPECT_NEAR(pe.low[0], cases[i].low, 1e-15, "low");
        EXPECT_NEAR(pe.high[0], cases[i].high, 1e-15, "high");
        EXPECT(pe.q[0] == cases[i].q, "case %d: q %g", i, pe.q[0]);
        EXPECT(pe.n_components == 1 && pe.weights[0] == 1, "no observations: the prior alone");
        EXPECT_NEAR(hp_parzen_mus(&pe, 0)[0], 0.5 * (cases[i].low + cases[i].high), 1e-15, "prior mu");
        EXPECT_NEAR(hp_parzen_sigmas(&pe, 0)[0], cases[i].high - cases[i].low, 1e-15, "prior sigma");
        hp_parzen_release(&pe);
    }
}

TEST(test_parzen_univariate_sigmas_and_log_pdf)
{
    hp_tpe_dim dim = float_dim(0, 10);
    hp_parzen_params pp = {1, 1.0, 1, 0, 0};
    double obs[3] = {2, 5, 9};
    hp_parzen pe;
    EXPECT(hp_parzen_fit(&pe, &dim, 1, obs, 3, &pp, NULL) == 0, "%s", hp_error_message());
    /* sorted with end points: 0 | 2, 5(obs), 5(prior), 9 | 10.  Gaps: 2 -> 3 (first:
     * inner gap), 5(obs) -> max(3, 0) = 3, prior -> 10 (its own rule), 9 -> 9-5 = 4
     * (last: inner gap); clip to [10/5, 10]. */
    double expect[4] = {3, 3, 4, 10};
    for (int j = 0; j < 4; j++)
        EXPECT_NEAR(hp_parzen_sigmas(&pe, 0)[j], expect[j], 1e-15, "sigma");
    hp_parzen_release(&pe);

    /* one observation, no prior: N(5, 5) truncated to [0, 10]; Optuna 3.1's
     * log pdf at 5 is -log sqrt(2 pi) - log(Phi(1) - Phi(-1)) (no -log sigma). */
    pp.consider_prior = 0;
    double five = 5;
    EXPECT(hp_parzen_fit(&pe, &dim, 1, &five, 1, &pp, NULL) == 0, "%s", hp_error_message());
    EXPECT_NEAR(hp_parzen_sigmas(&pe, 0)[0], 5, 1e-15, "sigma = larger gap, clip 10/2");
    double x[3] = {5, 0, 10.5}, lp[3];
    hp_parzen_log_pdf(&pe, x, 3, lp);
    double log_mass = log(0.6826894921370859); /* erf(1/sqrt 2) */
    EXPECT_NEAR(lp[0], -0.5 * log(2 * M_PI) - log_mass, 1e-14, "log pdf at the mean");
    EXPECT_NEAR(lp[1], -0.5 - 0.5 * log(2 * M_PI) - log_mass, 1e-14, "log pdf at the low end");
    EXPECT(lp[2] == -INFINITY, "outside the bounds: %g", lp[2]);
    hp_parzen_release(&pe);

    /* a stepped dim: the mass of the cell [4.5, 5.5] of N(5, 5) truncated to [-0.5, 10.5] */
    hp_tpe_dim idim = {0, 0, 10, 1, 0, 1};
    EXPECT(hp_parzen_fit(&pe, &idim, 1, &five, 1, &pp, NULL) == 0, "%s", hp_error_message());
    double sigma = hp_parzen_sigmas(&pe, 0)[0]; /* max(5.5, 5.5) clipped to [11/2, 11] */
    EXPECT_NEAR(sigma, 5.5, 1e-15, "int sigma");
    hp_parzen_log_pdf(&pe, &five, 1, lp);
    double cell = erf(0.5 / sigma / sqrt(2)), all = erf(5.5 / sigma / sqrt(2));
    EXPECT_NEAR(lp[0], log(cell / all), 1e-13, "log mass of the cell");
    hp_parzen_release(&pe);
}

TEST(test_normal_tails)
{
    /* the asymptotic series below -20 agrees with erfc where erfc still works */
    double xs[] = {-20.0000001, -25, -30, -37};
    for (int i = 0; i < 4; i++) {
        double ref = log(0.5 * erfc(-xs[i] / sqrt(2)));
        EXPECT(fabs(hp_log_ndtr(xs[i]) - ref) <= 1e-13 * fabs(ref), "log Phi(%g) %.17g vs %.17g",
               xs[i], hp_log_ndtr(xs[i]), ref);
    }
    double tail8 = 0.5 * erfc(8 / sqrt(2));
    EXPECT(fabs(hp_log_ndtr(8) + tail8) < 1e-13 * tail8, "log Phi(8) = -Phi(-8)");
    /* ndtri_exp inverts log Phi from deep in the left tail to next to 0 */
    double ys[] = {-1e4, -800, -50, -3, -0.6931471805599453, -1e-5, -1e-12};
    for (int i = 0; i < 7; i++) {
        double x = hp_ndtri_exp(ys[i]);
        EXPECT(fabs(hp_log_ndtr(x) - ys[i]) <= 1e-12 * fabs(ys[i]), "log Phi(ndtri_exp(%g)) = %.17g",
               ys[i], hp_log_ndtr(x));
    }
    /* ppf inverts the truncated CDF, also in both tails and for tiny q */
    double abq[][3] = {{-1, 2, 0.3}, {-40, -39, 1e-10}, {-40, -39, 0.999}, {30, 31, 1e-3},
                       {30, 31, 0.5}, {-0.001, 0.001, 0.25}, {5, 5.0001, 0.7}, {-3, 50, 1 - 1e-9}};
    for (int i = 0; i < 8; i++) {
        double a = abq[i][0], b = abq[i][1], q = abq[i][2];
        double x = hp_truncnorm_ppf(q, a, b);
        EXPECT(x >= a && x <= b, "ppf(%g; %g, %g) = %g inside", q, a, b, x);
        /* log of the CDF at x, relative to the interval's mass */
        double log_cdf = hp_log_gauss_mass(a, x) - hp_log_gauss_mass(a, b);
        double log_sf = hp_log_gauss_mass(x, b) - hp_log_gauss_mass(a, b);
        double err = q < 0.5 ? fabs(log_cdf - log(q)) : fabs(log_sf - log1p(-q));
        EXPECT(err < 1e-6, "ppf(%g; %g, %g) = %.17g: log CDF error %g", q, a, b, x, err);
    }
    EXPECT(hp_truncnorm_ppf(0, -1, 1) == -1 && hp_truncnorm_ppf(1, -1, 1) == 1, "ends");
    /* truncation far out is the plain normal: quantiles from Python's
     * statistics.NormalDist().inv_cdf (Wichura's AS241, ~1e-16) */
    double qx[][2] = {{1e-10, -6.361340902404056}, {0.025, -1.9599639845400538},
                      {0.975, 1.9599639845400536}, {0.999999, 4.753424308817089},
                      {0.999999999999, 7.0344869100478356}};
    for (int i = 0; i < 5; i++)
        EXPECT_NEAR(hp_truncnorm_ppf(qx[i][0], -60, 60), qx[i][1], 1e-11, "normal quantile");
}

/* ---------------------------------------------------------- proposals --- */

static int on_lattice(const hp_tpe_dim *d, double x)
{
    if (d->n_choices > 0)
        return x == floor(x) && x >= 0 && x < d->n_choices;
    double high = hp_tpe_dim_high(d);
    if (!(x >= d->low && x <= high))
        return 0;
    if (d->is_int && x != floor(x))
        return 0;
    double step = hp_tpe_dim_step(d);
    if (step > 0 && !d->log) {
        double k = (x - d->low) / step;
        return fabs(k - nearbyint(k)) < 1e-9;
    }
    return 1;
}

TEST(test_proposals_inside_bounds_and_on_lattice)
{
    hp_tpe_dim dims[7] = {
        {0, 0, 10, 3, 0, 1},         /* int step 3, high 10 -> 9 */
        {0, 0.1, 1.05, 0.1, 0, 0},   /* float step, high -> 1.0 */
        {0, 1, 1000, 0, 1, 1},       /* int log */
        {0, 1e-4, 1e-1, 0, 1, 0},    /* float log */
        {5, 0, 0, 0, 0, 0},          /* categorical */
        {0, -1, 1, 0, 0, 0},         /* float */
        {0, 4, 4, 0, 0, 1},          /* single value */
    };
    hp_rng data;
    hp_rng_seed(&data, 11);
    for (int mv = 0; mv <= 1; mv++) {
        hp_tpe_settings s;
        hp_tpe_settings_default(&s);
        s.multivariate = mv;
        trial_list l = {.n_dims = 7};
        int bad = 0;
        for (int i = 0; i < 60; i++) {
            double out[7];
            int used;
            hp_rng rng;
            hp_rng_seed_for(&rng, 5, (uint64_t)i, HP_STREAM_TEST);
            EXPECT(hp_tpe_propose(&s, dims, 7, l.t, l.n, &rng, out, &used) == 0, "%s",
                   hp_error_message());
            EXPECT(used == (i >= 10), "trial %d: used_model %d", i, used);
            for (int d = 0; d < 7; d++)
                if (!on_lattice(&dims[d], out[d])) {
                    bad++;
                    printf("    trial %d dim %d: %.17g\n", i, d, out[d]);
                }
            EXPECT(out[6] == 4, "single value %g", out[6]);
            double f = fabs(out[5]) + out[0] / 9 + (out[4] == 2 ? 0 : 1);
            add(&l, hp_rng_uniform(&data) < 0.1 ? HP_TPE_FAILED : HP_TPE_COMPLETE, f, 0, out);
        }
        EXPECT(bad == 0, "multivariate %d: %d values off bounds or lattice", mv, bad);
    }
}

TEST(test_deterministic_given_the_seed)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    hp_tpe_dim dims[2] = {float_dim(-5, 5), {4, 0, 0, 0, 0, 0}};
    trial_list l = {.n_dims = 2};
    hp_rng data;
    hp_rng_seed(&data, 3);
    for (int i = 0; i < 20; i++) {
        double x[2] = {-5 + 10 * hp_rng_uniform(&data), (double)hp_rng_below(&data, 4)};
        add(&l, HP_TPE_COMPLETE, x[0] * x[0] + x[1], 0, x);
    }
    double a[2], b[2], c[2];
    int used;
    hp_rng r1, r2, r3;
    hp_rng_seed(&r1, 42);
    hp_rng_seed(&r2, 42);
    hp_rng_seed(&r3, 43);
    EXPECT(hp_tpe_propose(&s, dims, 2, l.t, l.n, &r1, a, &used) == 0, "%s", hp_error_message());
    EXPECT(hp_tpe_propose(&s, dims, 2, l.t, l.n, &r2, b, &used) == 0, "%s", hp_error_message());
    EXPECT(hp_tpe_propose(&s, dims, 2, l.t, l.n, &r3, c, &used) == 0, "%s", hp_error_message());
    EXPECT(a[0] == b[0] && a[1] == b[1], "same seed: %.17g %g vs %.17g %g", a[0], a[1], b[0], b[1]);
    EXPECT(memcmp(&r1, &r2, sizeof r1) == 0, "same draws consumed");
    EXPECT(a[0] != c[0], "another seed gives another proposal (%.17g)", c[0]);
}

TEST(test_concentrates_on_a_quadratic)
{
    /* f(x) = (x - 3)^2 on [-10, 10]: proposals 30..59 should mostly lie within 3
     * of the optimum, where a uniform proposal lands with probability 0.3.
     * Over 40 seeds the share was 0.90 on average (at least 0.80) univariate and
     * 0.68 (at least 0.60) multivariate, whose Scott bandwidth is wider. */
    for (int mv = 0; mv <= 1; mv++) {
        hp_tpe_settings s;
        hp_tpe_settings_default(&s);
        s.multivariate = mv;
        hp_tpe_dim dim = float_dim(-10, 10);
        trial_list l = {.n_dims = 1};
        int near = 0;
        for (int i = 0; i < 60; i++) {
            double x;
            int used;
            hp_rng rng;
            hp_rng_seed_for(&rng, 2024, (uint64_t)i, HP_STREAM_TEST);
            EXPECT(hp_tpe_propose(&s, &dim, 1, l.t, l.n, &rng, &x, &used) == 0, "%s",
                   hp_error_message());
            if (i >= 30)
                near += fabs(x - 3) < 3;
            add1(&l, HP_TPE_COMPLETE, (x - 3) * (x - 3), x);
        }
        int need = mv ? 15 : 20;
        EXPECT(near >= need, "multivariate %d: %d of 30 proposals within 3 of the optimum (need %d)",
               mv, near, need);
    }
}

TEST(test_invalid_input)
{
    hp_tpe_settings s;
    hp_tpe_settings_default(&s);
    double out[1];
    int used;
    hp_rng rng;
    hp_rng_seed(&rng, 1);
    struct {
        hp_tpe_dim dim;
        const char *why;
    } bad[] = {
        {{-1, 0, 0, 0, 0, 0}, "n_choices"},
        {{0, 2, 1, 0, 0, 0}, "low <= high"},
        {{0, 0, 1, 0, 1, 0}, "low > 0"},
        {{0, 0.5, 3, 0, 0, 1}, "integral"},
        {{0, 1, 10, 2, 1, 1}, "step"},
        {{0, 0.1, 1, 0.1, 1, 0}, "cannot have a step"},
        {{0, 0, INFINITY, 0, 0, 0}, "finite"},
        {{0, 0, 1, -1, 0, 0}, "step"},
    };
    for (int i = 0; i < 8; i++) {
        hp_error_clear();
        EXPECT(hp_tpe_propose(&s, &bad[i].dim, 1, NULL, 0, &rng, out, &used) == -1, "bad dim %d", i);
        EXPECT(strstr(hp_error_message(), bad[i].why) != NULL, "message for dim %d: %s", i,
               hp_error_message());
    }
    hp_tpe_dim ok = float_dim(0, 1), cat = {3, 0, 0, 0, 0, 0};
    s.n_ei_candidates = 0;
    EXPECT(hp_tpe_propose(&s, &ok, 1, NULL, 0, &rng, out, &used) == -1 &&
               strstr(hp_error_message(), "n_ei_candidates"), "n_ei_candidates 0: %s", hp_error_message());
    hp_tpe_settings_default(&s);
    trial_list l = {.n_dims = 1};
    add1(&l, HP_TPE_COMPLETE, 1, 1.5);
    EXPECT(hp_tpe_propose(&s, &ok, 1, l.t, l.n, &rng, out, &used) == -1 &&
               strstr(hp_error_message(), "outside"), "value outside the space: %s", hp_error_message());
    l.x[0][0] = 1.5;
    EXPECT(hp_tpe_propose(&s, &cat, 1, l.t, l.n, &rng, out, &used) == -1 &&
               strstr(hp_error_message(), "index"), "fractional choice: %s", hp_error_message());
}

int main(void)
{
    RUN(test_startup_is_random_until_n_startup_finished);
    RUN(test_random_phase_is_uniform_over_each_dimension);
    RUN(test_gamma_and_weights);
    RUN(test_split_is_stable_and_chronological);
    RUN(test_pruned_ranked_by_step_then_value);
    RUN(test_failed_trials_go_above_and_count);
    RUN(test_constant_liar);
    RUN(test_inactive_values_are_left_out);
    RUN(test_multivariate_groups);
    RUN(test_parzen_categorical_table);
    RUN(test_parzen_bounds);
    RUN(test_parzen_univariate_sigmas_and_log_pdf);
    RUN(test_normal_tails);
    RUN(test_proposals_inside_bounds_and_on_lattice);
    RUN(test_deterministic_given_the_seed);
    RUN(test_concentrates_on_a_quadratic);
    RUN(test_invalid_input);
    return testlib_finish();
}
