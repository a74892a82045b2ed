/* test_model_strategies.c - tpe and bohb as strategies (their samplers are
 * compared with Optuna and statsmodels by test_tpe/test_bohb and the oracle
 * scripts): start-up trials equal random search's, bohb without a model
 * equals asha, the constant liar changes a proposal exactly when another
 * trial is running, failed trials count as finished observations, proposals
 * stay in the space, the byte image round-trips with bohb's model, and the
 * function objective's known optima. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "functions.h"
#include "job.h"
#include "strategy.h"
#include "testlib.h"

static hp_job *parse(const char *text)
{
    hp_job *job = calloc(1, sizeof *job);
    if (hp_job_parse(job, text, "test.yaml") != 0) {
        printf("parse: %s\n", hp_error_message());
        exit(1);
    }
    return job;
}

static void job_free(hp_job *job)
{
    hp_job_release(job);
    free(job);
}

static hp_strategy *make(const hp_job *job)
{
    hp_strategy_params p;
    hp_strategy_params_from_job(&p, job);
    hp_strategy *s = hp_strategy_create(&p);
    if (!s) {
        printf("create: %s\n", hp_error_message());
        exit(1);
    }
    return s;
}

static double fn(const char *name, const hp_config *c, double z)
{
    double x[6] = {c->x1, c->x2, c->x3, c->x4, c->x5, c->x6};
    return hp_function_eval(hp_function_find(name), x, z);
}

static int start(hp_strategy *s, hp_assignment *a)
{
    hp_next n = hp_strategy_next(s, a);
    return n == HP_NEXT_START;
}

/* Run an assignment of a branin trial to its end. */
static void finish_branin(hp_strategy *s, const hp_assignment *a)
{
    double v = fn("branin", hp_strategy_trial_config(s, a->trial), 1.0);
    hp_strategy_report(s, a->trial, a->to_epoch, v);
    hp_strategy_finished(s, a->trial, a->to_epoch);
}

static int same_space(const hp_config *a, const hp_config *b) { return a->x1 == b->x1 && a->x2 == b->x2; }

static char *tpe_job(const char *strategy_extra)
{
    return hp_xasprintf("study: {name: t, seed: 11}\n"
                        "strategy: {%s}\n"
                        "objective: {type: function, name: branin}\n"
                        "space:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15], step: 0.25}\n"
                        "fixed: {epochs: 1}\n",
                        strategy_extra);
}

TEST(tpe_startup_equals_random_then_models)
{
    char *t_text = tpe_job("name: tpe, max_trials: 40, n_startup_trials: 6");
    char *r_text = tpe_job("name: random, max_trials: 40");
    hp_job *tj = parse(t_text), *rj = parse(r_text);
    hp_strategy *t = make(tj), *r = make(rj);
    int differ = 0;
    for (int i = 0; i < 40; i++) {
        hp_assignment a, b;
        EXPECT(start(t, &a) && start(r, &b) && a.trial == i && b.trial == i, "trial %d", i);
        const hp_config *ct = hp_strategy_trial_config(t, i), *cr = hp_strategy_trial_config(r, i);
        if (i < 6)
            EXPECT(same_space(ct, cr) && ct->seed == cr->seed, "start-up trial %d is random search's", i);
        else
            differ += !same_space(ct, cr);
        EXPECT(ct->x1 >= -5 && ct->x1 <= 10 && ct->x2 >= 0 && ct->x2 <= 15 &&
                   fabs(ct->x2 / 0.25 - round(ct->x2 / 0.25)) < 1e-6,
               "trial %d in the space: %g %g", i, ct->x1, ct->x2);
        finish_branin(t, &a);
        finish_branin(r, &b);
    }
    EXPECT(differ == 34, "model-phase proposals differ from random search's (%d of 34)", differ);
    hp_strategy_free(t);
    hp_strategy_free(r);
    job_free(tj);
    job_free(rj);
    free(t_text);
    free(r_text);
}

/* Trial 6's proposal with trial 5 running, and with trial 5 finished, for
 * constant_liar on and off. */
static void liar_case(int liar, int finish_first, hp_config *out)
{
    char *text = tpe_job(liar ? "name: tpe, max_trials: 10, n_startup_trials: 5, constant_liar: true"
                              : "name: tpe, max_trials: 10, n_startup_trials: 5, constant_liar: false");
    hp_job *job = parse(text);
    hp_strategy *s = make(job);
    hp_assignment a;
    for (int i = 0; i < 5; i++) {
        start(s, &a);
        finish_branin(s, &a);
    }
    start(s, &a); /* trial 5 */
    if (finish_first)
        finish_branin(s, &a);
    start(s, &a); /* trial 6 */
    *out = *hp_strategy_trial_config(s, 6);
    hp_strategy_free(s);
    job_free(job);
    free(text);
}

TEST(constant_liar_counts_running_trials)
{
    hp_config on_running, off_running, on_done, off_done;
    liar_case(1, 0, &on_running);
    liar_case(0, 0, &off_running);
    liar_case(1, 1, &on_done);
    liar_case(0, 1, &off_done);
    EXPECT(!same_space(&on_running, &off_running), "with trial 5 running, the liar changes trial 6's proposal");
    EXPECT(same_space(&on_done, &off_done), "with trial 5 finished, the liar changes nothing");
}

TEST(failed_trials_count_as_finished)
{
    char *t_text = tpe_job("name: tpe, max_trials: 10, n_startup_trials: 5");
    char *r_text = tpe_job("name: random, max_trials: 10");
    hp_job *tj = parse(t_text), *rj = parse(r_text);
    hp_strategy *t = make(tj), *r = make(rj);
    hp_assignment a;
    for (int i = 0; i < 5; i++) {
        start(t, &a);
        start(r, &a);
        if (i == 2)
            hp_strategy_failed(t, a.trial); /* 4 completed + 1 failed = 5 finished */
        else
            finish_branin(t, &a);
    }
    start(t, &a);
    start(r, &a);
    EXPECT(!same_space(hp_strategy_trial_config(t, 5), hp_strategy_trial_config(r, 5)),
           "after 4 completed and 1 failed trial, trial 5 comes from the model");
    hp_strategy_free(t);
    hp_strategy_free(r);
    job_free(tj);
    job_free(rj);
    free(t_text);
    free(r_text);
}

static char *rung_job(const char *name, int trials)
{
    return hp_xasprintf("study: {name: b, seed: 5}\n"
                        "strategy: {name: %s, max_trials: %d, min_epochs: 1, max_epochs: 9, reduction_factor: 3}\n"
                        "objective: {type: function, name: hartmann6_fidelity}\n"
                        "space:\n  x1: {uniform: [0, 1]}\n  x2: {uniform: [0, 1]}\n  x3: {uniform: [0, 1]}\n"
                        "  x4: {choice: [0.1, 0.5, 0.9]}\n  x5: {randint: [0, 1]}\n  x6: {loguniform: [0.01, 1]}\n",
                        name, trials);
}

/* Drive a rung strategy with one worker: every assignment runs to its end
 * with hartmann6_fidelity values; log[] gets (trial, from, to). */
static int drive(hp_strategy *s, int steps, int *log)
{
    int n = 0;
    for (int i = 0; i < steps; i++) {
        hp_assignment a;
        if (!start(s, &a))
            break;
        const hp_config *c = hp_strategy_trial_config(s, a.trial);
        for (int e = a.from_epoch + 1; e <= a.to_epoch; e++)
            hp_strategy_report(s, a.trial, e, fn("hartmann6_fidelity", c, (double)e / c->epochs));
        hp_strategy_finished(s, a.trial, a.to_epoch);
        log[n * 3] = a.trial;
        log[n * 3 + 1] = a.from_epoch;
        log[n * 3 + 2] = a.to_epoch;
        n++;
    }
    return n;
}

TEST(bohb_without_model_equals_asha)
{
    char *b_text = rung_job("bohb", 60), *a_text = rung_job("asha", 60);
    hp_job *bj = parse(b_text), *aj = parse(a_text);
    hp_strategy *b = make(bj), *a = make(aj);
    /* no model until a rung holds 2 (d + 1) = 14 results: the first 13 trials
       are asha's, with asha's decisions */
    int lb[600], la[600];
    int nb = drive(b, 13, lb), na = drive(a, 13, la);
    EXPECT(nb == 13 && na == 13 && memcmp(lb, la, sizeof(int) * 3 * 13) == 0, "decisions differ before a model");
    for (int t = 0; t < hp_strategy_num_trials(b); t++)
        EXPECT(memcmp(hp_strategy_trial_config(b, t), hp_strategy_trial_config(a, t), sizeof(hp_config)) == 0,
               "trial %d's configuration differs before a model", t);
    /* then the model proposes: some later configurations differ */
    nb = drive(b, 500, lb);
    na = drive(a, 500, la);
    int differ = 0;
    for (int t = 13; t < 60; t++)
        differ += memcmp(hp_strategy_trial_config(b, t), hp_strategy_trial_config(a, t), sizeof(hp_config)) != 0;
    EXPECT(differ >= 20, "only %d of 47 later configurations came from the model", differ);
    hp_strategy_free(b);
    hp_strategy_free(a);
    job_free(bj);
    job_free(aj);
    free(b_text);
    free(a_text);
}

TEST(bohb_image_round_trip_keeps_the_model)
{
    char *text = rung_job("bohb", 80);
    hp_job *job = parse(text);
    hp_strategy *s = make(job);
    int log_a[3000], log_b[3000];
    drive(s, 60, log_a);
    uint8_t *image = NULL;
    size_t size = 0;
    hp_strategy *loaded = NULL;
    EXPECT(hp_strategy_save(s, &image, &size) == 0 && hp_strategy_load_for_job(&loaded, image, size, job) == 0,
           "round trip: %s", hp_error_message());
    if (loaded) {
        int na = drive(s, 1000, log_a), nb = drive(loaded, 1000, log_b);
        EXPECT(na == nb && na > 10 && memcmp(log_a, log_b, sizeof(int) * 3 * (size_t)na) == 0,
               "decisions differ after load (%d vs %d)", na, nb);
        for (int t = 0; t < hp_strategy_num_trials(s); t++)
            EXPECT(memcmp(hp_strategy_trial_config(s, t), hp_strategy_trial_config(loaded, t), sizeof(hp_config)) == 0,
                   "trial %d's configuration differs after load", t);
        hp_strategy_free(loaded);
    }
    free(image);
    hp_strategy_free(s);
    job_free(job);
    free(text);
}

TEST(function_optima)
{
    const hp_function *b = hp_function_find("branin"), *h = hp_function_find("hartmann6");
    double pi = 3.14159265358979323846;
    double minimisers[3][2] = {{-pi, 12.275}, {pi, 2.275}, {9.42478, 2.475}};
    for (int i = 0; i < 3; i++)
        EXPECT_NEAR(hp_function_eval(b, minimisers[i], 1), 0.397887, 1e-5, "branin at a minimiser");
    EXPECT_NEAR(hp_function_eval(h, h->argmin, 1), -3.32237, 1e-4, "hartmann6 at its minimiser");
    double x[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    const hp_function *hf = hp_function_find("hartmann6_fidelity"), *bf = hp_function_find("branin_fidelity");
    EXPECT(hp_function_eval(hf, x, 1) == hp_function_eval(h, x, 1), "full fidelity is the function");
    EXPECT(hp_function_eval(hf, x, 0.2) > hp_function_eval(hf, x, 1), "low fidelity is biased (alpha_1 smaller)");
    EXPECT(hp_function_eval(bf, minimisers[1], 1) == hp_function_eval(b, minimisers[1], 1), "branin fidelity 1");
    EXPECT(hp_function_eval(bf, minimisers[1], 0.1) != hp_function_eval(b, minimisers[1], 1), "branin fidelity 0.1");
    /* a crude search never beats the known minimum */
    double best = INFINITY;
    for (int i = 0; i <= 300; i++)
        for (int j = 0; j <= 300; j++) {
            double p[2] = {-5 + 15.0 * i / 300, 15.0 * j / 300};
            double v = hp_function_eval(b, p, 1);
            best = v < best ? v : best;
        }
    EXPECT(best >= 0.397887 - 1e-6 && best < 0.41, "grid minimum of branin %g", best);
}

int main(void)
{
    RUN(tpe_startup_equals_random_then_models);
    RUN(constant_liar_counts_running_trials);
    RUN(failed_trials_count_as_finished);
    RUN(bohb_without_model_equals_asha);
    RUN(bohb_image_round_trip_keeps_the_model);
    RUN(function_optima);
    return testlib_finish();
}
