/* test_optim.c - optimizer steps against double-precision references written
 * straight from the formulas in optim.h, and learning-rate schedules against
 * hand-computed values. */
#include <math.h>
#include <string.h>

#include "config.h"
#include "optim.h"
#include "testlib.h"

/* 11 elements: one 8-wide vector head plus a 3-element tail, so both the
 * vectorised loop and the scalar remainder of each optimizer are checked. */
#define N 11
#define STEPS 3

static const double start_params[N] = {0.5, -1.25, 2.0, 0.0, -0.3, 1.5, 0.75, -2.5, 0.1, 3.0, -0.05};

/* gradient of element i at 1-based step t: varied signs and magnitudes */
static double grad_at(int i, int t) { return 0.3 * sin(1.7 * i + 0.9 * t) + 0.05 * (i - 5) / (double)t; }

static hp_config base_config(int optimizer)
{
    hp_config c;
    hp_config_defaults(&c);
    c.optimizer = optimizer;
    c.momentum = 0.0f;
    c.nesterov = 0;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.epsilon = 1e-7f;
    c.rho = 0.9f;
    return c;
}

/* Run the implementation for STEPS steps; p, m, v hold the final state. */
static void run_impl(const hp_config *c, float lr, float wd, float *p, float *m, float *v)
{
    float g[N];
    for (int i = 0; i < N; i++) {
        p[i] = (float)start_params[i];
        m[i] = v[i] = 0.0f;
    }
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++)
            g[i] = (float)grad_at(i, t);
        hp_optim_step(c, p, g, m, v, N, t, lr, wd);
    }
}

/* The reference: one element at a time, in double, literally as optim.h states.
 * Parameters are read from the config as the floats the implementation sees. */
static void run_reference(const hp_config *c, double lr, double wd, double *p, double *m, double *v)
{
    const double mu = c->momentum, b1 = c->beta1, b2 = c->beta2, eps = c->epsilon, rho = c->rho;
    for (int i = 0; i < N; i++) {
        p[i] = start_params[i];
        m[i] = v[i] = 0.0;
    }
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) {
            double g = (float)grad_at(i, t); /* the implementation receives float gradients */
            switch (c->optimizer) {
            case HP_OPT_SGD: {
                double gd = g + wd * p[i]; /* g' = g + wd*p */
                if (mu == 0.0) {
                    p[i] = p[i] - lr * gd;
                } else {
                    m[i] = mu * m[i] + gd;
                    if (c->nesterov)
                        p[i] = p[i] - lr * (gd + mu * m[i]);
                    else
                        p[i] = p[i] - lr * m[i];
                }
                break;
            }
            case HP_OPT_ADAM:
            case HP_OPT_ADAMW: {
                double gd;
                if (c->optimizer == HP_OPT_ADAMW) {
                    p[i] = p[i] - lr * wd * p[i]; /* decoupled decay first */
                    gd = g;
                } else {
                    gd = g + wd * p[i];
                }
                m[i] = b1 * m[i] + (1 - b1) * gd;
                v[i] = b2 * v[i] + (1 - b2) * gd * gd;
                double m_hat = m[i] / (1 - pow(b1, t));
                double v_hat = v[i] / (1 - pow(b2, t));
                p[i] = p[i] - lr * m_hat / (sqrt(v_hat) + eps);
                break;
            }
            case HP_OPT_RMSPROP: {
                double gd = g + wd * p[i];
                v[i] = rho * v[i] + (1 - rho) * gd * gd;
                if (mu > 0) {
                    m[i] = mu * m[i] + gd / (sqrt(v[i]) + eps);
                    p[i] = p[i] - lr * m[i];
                } else {
                    p[i] = p[i] - lr * gd / (sqrt(v[i]) + eps);
                }
                break;
            }
            }
        }
    }
}

/* Compare implementation and reference for one configuration. */
static void check_against_reference(const hp_config *c, float lr, float wd, const char *what)
{
    float p[N], m[N], v[N];
    double rp[N], rm[N], rv[N];
    run_impl(c, lr, wd, p, m, v);
    run_reference(c, lr, wd, rp, rm, rv);
    for (int i = 0; i < N; i++) {
        double tol = 2e-6 * (1.0 + fabs(rp[i]));
        EXPECT(fabs(p[i] - rp[i]) <= tol, "%s: p[%d] = %.9g, reference %.9g", what, i, (double)p[i], rp[i]);
        /* each parameter must actually have moved */
        EXPECT(fabs(rp[i] - start_params[i]) > 1e-4, "%s: p[%d] did not move", what, i);
    }
}

TEST(sgd_plain_matches_formula)
{
    hp_config c = base_config(HP_OPT_SGD);
    check_against_reference(&c, 0.1f, 0.0f, "sgd");
    check_against_reference(&c, 0.1f, 0.05f, "sgd wd");
}

TEST(sgd_plain_hand_values)
{
    /* p = 1, lr = 0.5, wd = 0.1, g = 2 then 4:
     *   step 1: g' = 2 + 0.1*1 = 2.1;     p = 1 - 0.5*2.1 = -0.05
     *   step 2: g' = 4 + 0.1*-0.05 = 3.995; p = -0.05 - 0.5*3.995 = -2.0475 */
    hp_config c = base_config(HP_OPT_SGD);
    float p = 1.0f, m = 0.0f, v = 0.0f, g = 2.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 1, 0.5f, 0.1f);
    EXPECT_NEAR(p, -0.05, 1e-7, "after step 1");
    g = 4.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 2, 0.5f, 0.1f);
    EXPECT_NEAR(p, -2.0475, 1e-6, "after step 2");
}

TEST(sgd_momentum_matches_formula)
{
    hp_config c = base_config(HP_OPT_SGD);
    c.momentum = 0.9f;
    check_against_reference(&c, 0.05f, 0.0f, "sgd momentum");
    check_against_reference(&c, 0.05f, 0.01f, "sgd momentum wd");
}

TEST(sgd_momentum_hand_values)
{
    /* mu = 0.9, lr = 0.1, no decay, p = 0, g = 1 then 1:
     *   step 1: m = 1;            p = 0 - 0.1*1 = -0.1
     *   step 2: m = 0.9*1 + 1 = 1.9; p = -0.1 - 0.19 = -0.29
     * Nesterov, same inputs:
     *   step 1: m = 1;   p = 0 - 0.1*(1 + 0.9*1) = -0.19
     *   step 2: m = 1.9; p = -0.19 - 0.1*(1 + 0.9*1.9) = -0.19 - 0.271 = -0.461 */
    hp_config c = base_config(HP_OPT_SGD);
    c.momentum = 0.9f;
    float p = 0.0f, m = 0.0f, v = 0.0f, g = 1.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 1, 0.1f, 0.0f);
    EXPECT_NEAR(p, -0.1, 1e-7, "momentum step 1");
    hp_optim_step(&c, &p, &g, &m, &v, 1, 2, 0.1f, 0.0f);
    EXPECT_NEAR(m, 1.9, 1e-6, "momentum buffer step 2");
    EXPECT_NEAR(p, -0.29, 1e-6, "momentum step 2");

    c.nesterov = 1;
    p = m = 0.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 1, 0.1f, 0.0f);
    EXPECT_NEAR(p, -0.19, 1e-7, "nesterov step 1");
    hp_optim_step(&c, &p, &g, &m, &v, 1, 2, 0.1f, 0.0f);
    EXPECT_NEAR(p, -0.461, 1e-6, "nesterov step 2");
}

TEST(sgd_nesterov_matches_formula)
{
    hp_config c = base_config(HP_OPT_SGD);
    c.momentum = 0.8f;
    c.nesterov = 1;
    check_against_reference(&c, 0.05f, 0.0f, "nesterov");
    check_against_reference(&c, 0.05f, 0.02f, "nesterov wd");
}

TEST(adam_matches_formula)
{
    hp_config c = base_config(HP_OPT_ADAM);
    check_against_reference(&c, 0.01f, 0.0f, "adam");
    check_against_reference(&c, 0.01f, 0.1f, "adam wd");
    c.beta1 = 0.5f;
    c.beta2 = 0.9f;
    c.epsilon = 1e-3f;
    check_against_reference(&c, 0.03f, 0.0f, "adam other betas");
}

TEST(adam_first_step_is_lr_times_sign)
{
    /* t = 1: m_hat = g and v_hat = g^2 exactly, so the step is lr*g/(|g|+eps) */
    hp_config c = base_config(HP_OPT_ADAM);
    float p[2] = {1.0f, 1.0f}, g[2] = {0.004f, -30.0f}, m[2] = {0}, v[2] = {0};
    hp_optim_step(&c, p, g, m, v, 2, 1, 0.01f, 0.0f);
    EXPECT_NEAR(p[0], 1.0 - 0.01 * 0.004 / (0.004 + 1e-7), 1e-6, "small gradient");
    EXPECT_NEAR(p[1], 1.0 + 0.01 * 30.0 / (30.0 + 1e-7), 1e-6, "large gradient");
    /* the config holds b1, b2 as floats: 1 - 0.9f is not exactly 0.1 */
    EXPECT_NEAR(m[0], (1.0 - (double)0.9f) * (double)0.004f, 1e-9, "m = (1-b1) g");
    EXPECT_NEAR(v[1], (1.0 - (double)0.999f) * 900.0, 1e-6, "v = (1-b2) g^2");
}

TEST(adamw_matches_formula)
{
    hp_config c = base_config(HP_OPT_ADAMW);
    check_against_reference(&c, 0.01f, 0.0f, "adamw");
    check_against_reference(&c, 0.01f, 0.1f, "adamw wd");
}

TEST(adamw_decay_is_decoupled)
{
    /* With AdamW the decay must not enter m and v: they equal those of a run
     * with wd = 0, while Adam's L2 decay does change them. */
    hp_config adamw = base_config(HP_OPT_ADAMW), adam = base_config(HP_OPT_ADAM);
    float p0[N], m0[N], v0[N], p1[N], m1[N], v1[N], p2[N], m2[N], v2[N];
    run_impl(&adamw, 0.01f, 0.0f, p0, m0, v0);
    run_impl(&adamw, 0.01f, 0.5f, p1, m1, v1);
    run_impl(&adam, 0.01f, 0.5f, p2, m2, v2);
    for (int i = 0; i < N; i++) {
        EXPECT(m0[i] == m1[i] && v0[i] == v1[i], "adamw moments changed by decay at %d", i);
        EXPECT(p0[i] != p1[i], "adamw decay had no effect on p[%d]", i);
        if (start_params[i] != 0.0)
            EXPECT(m2[i] != m0[i], "adam L2 decay did not enter m[%d]", i);
    }
    /* one step by hand: p = 2, g = 0.5, lr = 0.1, wd = 0.1:
     *   decay: p = 2 - 0.1*0.1*2 = 1.98; adam step at t = 1: 0.1*0.5/(0.5+1e-7) */
    float p = 2.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    hp_optim_step(&adamw, &p, &g, &m, &v, 1, 1, 0.1f, 0.1f);
    EXPECT_NEAR(p, 1.98 - 0.1 * 0.5 / (0.5 + 1e-7), 1e-6, "adamw one step");
    EXPECT_NEAR(m, (1.0 - (double)0.9f) * 0.5, 1e-8, "adamw m = (1-b1) g, no decay");
}

TEST(rmsprop_matches_formula)
{
    hp_config c = base_config(HP_OPT_RMSPROP);
    check_against_reference(&c, 0.01f, 0.0f, "rmsprop");
    check_against_reference(&c, 0.01f, 0.05f, "rmsprop wd");
    c.momentum = 0.9f;
    check_against_reference(&c, 0.01f, 0.0f, "rmsprop momentum");
    check_against_reference(&c, 0.01f, 0.05f, "rmsprop momentum wd");
}

TEST(rmsprop_hand_values)
{
    /* rho = 0.9, eps = 1e-7, lr = 0.01, p = 1, g = 2:
     *   v = 0.1*4 = 0.4; p = 1 - 0.01*2/(sqrt(0.4)+1e-7) = 1 - 0.0316227716...
     * with momentum 0.5, the second step with g = 2:
     *   v = 0.9*0.4 + 0.4 = 0.76; m = 0.5*(2/sqrt(0.4)) + 2/sqrt(0.76) */
    hp_config c = base_config(HP_OPT_RMSPROP);
    float p = 1.0f, g = 2.0f, m = 0.0f, v = 0.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 1, 0.01f, 0.0f);
    EXPECT_NEAR(v, 0.4, 1e-7, "v step 1");
    EXPECT_NEAR(p, 1.0 - 0.02 / (sqrt(0.4) + 1e-7), 1e-7, "p step 1");

    c.momentum = 0.5f;
    p = 1.0f, m = v = 0.0f;
    hp_optim_step(&c, &p, &g, &m, &v, 1, 1, 0.01f, 0.0f);
    hp_optim_step(&c, &p, &g, &m, &v, 1, 2, 0.01f, 0.0f);
    double m1 = 2.0 / (sqrt(0.4) + 1e-7);
    double m2 = 0.5 * m1 + 2.0 / (sqrt(0.76) + 1e-7);
    EXPECT_NEAR(m, m2, 1e-6, "momentum buffer step 2");
    EXPECT_NEAR(p, 1.0 - 0.01 * m1 - 0.01 * m2, 1e-6, "p step 2");
}

TEST(empty_tensor_is_a_no_op)
{
    hp_config c = base_config(HP_OPT_ADAM);
    float x = 7.0f;
    hp_optim_step(&c, &x, &x, &x, &x, 0, 1, 0.1f, 0.1f);
    EXPECT(x == 7.0f, "x = %g", (double)x);
}

/* ---- learning-rate schedules ---- */

static hp_config schedule_config(int schedule, float lr)
{
    hp_config c;
    hp_config_defaults(&c);
    c.lr_schedule = schedule;
    c.learning_rate = lr;
    c.warmup_epochs = 0;
    return c;
}

#define EXPECT_LR(c, step, spe, expected)                                                    \
    EXPECT_NEAR(hp_lr_at(&(c), (step), (spe)), (expected), 1e-7 * (1.0 + fabs(expected)), \
                "lr at step " #step)

TEST(schedule_constant)
{
    hp_config c = schedule_config(HP_SCHED_CONSTANT, 0.02f);
    EXPECT_LR(c, 0, 10, 0.02);
    EXPECT_LR(c, 57, 10, 0.02);
    EXPECT_LR(c, 100000, 10, 0.02);
}

TEST(schedule_step_boundaries)
{
    /* lr 0.1, gamma 0.5 every 2 epochs, 10 steps per epoch:
     * epochs 0-1 (steps 0-19) 0.1, epochs 2-3 (steps 20-39) 0.05, epoch 4 0.025 */
    hp_config c = schedule_config(HP_SCHED_STEP, 0.1f);
    c.lr_gamma = 0.5f;
    c.lr_step_epochs = 2;
    EXPECT_LR(c, 0, 10, 0.1);
    EXPECT_LR(c, 9, 10, 0.1);   /* last step of epoch 0 */
    EXPECT_LR(c, 10, 10, 0.1);  /* first of epoch 1: no decay yet */
    EXPECT_LR(c, 19, 10, 0.1);  /* last step of epoch 1 */
    EXPECT_LR(c, 20, 10, 0.05); /* first step of epoch 2 */
    EXPECT_LR(c, 39, 10, 0.05);
    EXPECT_LR(c, 40, 10, 0.025);
    /* every epoch, gamma 0.1: 0.1 -> 0.01 -> 0.001 */
    c.lr_step_epochs = 1;
    c.lr_gamma = 0.1f;
    EXPECT_LR(c, 6, 7, 0.1);
    EXPECT_LR(c, 7, 7, 0.01);
    EXPECT_LR(c, 14, 7, 0.001);
}

TEST(schedule_cosine)
{
    /* lr 0.1, floor 0.01, 4 epochs of 10 steps (40 steps):
     *   step 0: 0.1; step 20 (half): 0.01 + 0.09*(1+0)/2 = 0.055; step 40: 0.01
     *   step 10: 0.01 + 0.09*(1 + cos(pi/4))/2 = 0.01 + 0.045*(1 + 0.70710678) */
    hp_config c = schedule_config(HP_SCHED_COSINE, 0.1f);
    c.lr_min = 0.01f;
    c.epochs = 4;
    EXPECT_LR(c, 0, 10, 0.1);
    EXPECT_LR(c, 20, 10, 0.055);
    EXPECT_LR(c, 40, 10, 0.01);
    EXPECT_LR(c, 10, 10, 0.01 + 0.045 * (1.0 + sqrt(0.5)));
    EXPECT_LR(c, 39, 10, 0.01 + 0.045 * (1.0 + cos(M_PI * 39.0 / 40.0)));
    /* monotone non-increasing over the run */
    float prev = hp_lr_at(&c, 0, 10);
    for (long s = 1; s <= 40; s++) {
        float cur = hp_lr_at(&c, s, 10);
        EXPECT(cur <= prev, "cosine rose at step %ld: %g > %g", s, (double)cur, (double)prev);
        prev = cur;
    }
}

TEST(schedule_warmup_ramp)
{
    /* 2 warm-up epochs of 5 steps: W = 10, factor (step+1)/10 */
    hp_config c = schedule_config(HP_SCHED_CONSTANT, 0.2f);
    c.warmup_epochs = 2;
    EXPECT_LR(c, 0, 5, 0.02);
    EXPECT_LR(c, 4, 5, 0.1);
    EXPECT_LR(c, 8, 5, 0.18);
    EXPECT_LR(c, 9, 5, 0.2); /* last warm-up step reaches the full rate */
    EXPECT_LR(c, 10, 5, 0.2);
    EXPECT_LR(c, 50, 5, 0.2);
}

TEST(schedule_warmup_with_step_decay)
{
    /* lr 0.1, warm-up 1 epoch of 4 steps, decay 0.1 every epoch:
     *   steps 0-3 (epoch 0, warm-up): 0.1 * (s+1)/4 = 0.025, 0.05, 0.075, 0.1
     *   step 4 (epoch 1): 0.01, no warm-up factor;  step 8 (epoch 2): 0.001
     * with 2 warm-up epochs the decayed epoch 1 is still ramped:
     *   step 5: 0.1*0.1 * 6/8 = 0.0075 */
    hp_config c = schedule_config(HP_SCHED_STEP, 0.1f);
    c.lr_gamma = 0.1f;
    c.lr_step_epochs = 1;
    c.warmup_epochs = 1;
    EXPECT_LR(c, 0, 4, 0.025);
    EXPECT_LR(c, 1, 4, 0.05);
    EXPECT_LR(c, 3, 4, 0.1);
    EXPECT_LR(c, 4, 4, 0.01);
    EXPECT_LR(c, 8, 4, 0.001);
    c.warmup_epochs = 2;
    EXPECT_LR(c, 5, 4, 0.0075);
    EXPECT_LR(c, 7, 4, 0.01);
}

TEST(schedule_warmup_with_cosine)
{
    /* cosine over 2 epochs of 5 steps (10), warm-up 1 epoch (W = 5):
     *   step 2: (0 + 0.1*(1 + cos(pi*0.2))/2) * 3/5 */
    hp_config c = schedule_config(HP_SCHED_COSINE, 0.1f);
    c.lr_min = 0.0f;
    c.epochs = 2;
    c.warmup_epochs = 1;
    EXPECT_LR(c, 2, 5, 0.05 * (1.0 + cos(M_PI * 0.2)) * 0.6);
    EXPECT_LR(c, 5, 5, 0.05 * (1.0 + cos(M_PI * 0.5)));
}

int main(void)
{
    RUN(sgd_plain_matches_formula);
    RUN(sgd_plain_hand_values);
    RUN(sgd_momentum_matches_formula);
    RUN(sgd_momentum_hand_values);
    RUN(sgd_nesterov_matches_formula);
    RUN(adam_matches_formula);
    RUN(adam_first_step_is_lr_times_sign);
    RUN(adamw_matches_formula);
    RUN(adamw_decay_is_decoupled);
    RUN(rmsprop_matches_formula);
    RUN(rmsprop_hand_values);
    RUN(empty_tensor_is_a_no_op);
    RUN(schedule_constant);
    RUN(schedule_step_boundaries);
    RUN(schedule_cosine);
    RUN(schedule_warmup_ramp);
    RUN(schedule_warmup_with_step_decay);
    RUN(schedule_warmup_with_cosine);
    return testlib_finish();
}
