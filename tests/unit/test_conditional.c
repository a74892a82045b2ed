/* test_conditional.c - conditional parameters (when:), a searched seed and
 * random repeats: the parser's errors with line:column, grid enumeration of the
 * conditional tree against hand-worked lists, random sampling that draws a
 * parameter only when it is active (checked against the unconditional space's
 * stream), TPE proposals whose inactive dimensions draw nothing (checked against
 * the same model without the inactive column), and the vector form (NaN). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "job.h"
#include "rng.h"
#include "space.h"
#include "tpe.h"
#include "testlib.h"

#define HEAD                                                                                       \
    "study: {name: s, seed: 11}\n"                                                                 \
    "data: {path: d.h5, train_shards: [0, 1], val_shards: [2]}\n"

static int parse(hp_job *job, const char *text)
{
    if (hp_job_parse(job, text, "job.yaml") != 0) {
        hp_error_print();
        return -1;
    }
    return 0;
}

/* The error message of text, or NULL if it parses. */
static char *error_of(const char *text)
{
    hp_job job;
    if (hp_job_parse(&job, text, "job.yaml") == 0) {
        hp_job_release(&job);
        return NULL;
    }
    char *m = hp_xstrdup(hp_error_message());
    hp_error_clear();
    return m;
}

#define EXPECT_ERROR_AT(text, prefix, word)                                                        \
    do {                                                                                           \
        char *m_ = error_of(text);                                                                 \
        EXPECT(m_ && strncmp(m_, prefix, strlen(prefix)) == 0 && strstr(m_, word),                \
               "message \"%s\", want \"%s...%s\"", m_ ? m_ : "(accepted)", prefix, word);         \
        free(m_);                                                                                  \
    } while (0)

TEST(condition_errors_name_line_and_column)
{
    /* parent unknown */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  momentum: {uniform: [0, 0.9], when: {optimiser: sgd}}\n",
                    "job.yaml:5:40: ", "'optimiser' is not a parameter of space:");
    /* parent is a range */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  learning_rate: {uniform: [0.01, 0.1]}\n"
                         "  momentum: {uniform: [0, 0.9], when: {learning_rate: 0.01}}\n",
                    "job.yaml:6:40: ", "not a choice");
    /* value not among the parent's choices */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  optimizer: {choice: [sgd, adam]}\n"
                         "  momentum: {uniform: [0, 0.9], when: {optimizer: [sgd, rmsprop]}}\n",
                    "job.yaml:6:57: ", "rmsprop is not one of optimizer's values");
    /* not a value of the key at all */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  optimizer: {choice: [sgd, adam]}\n"
                         "  momentum: {uniform: [0, 0.9], when: {optimizer: sgdd}}\n",
                    "job.yaml:6:51: ", "space.momentum.when.optimizer");
    /* parent listed after the child */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  momentum: {uniform: [0, 0.9], when: {optimizer: sgd}}\n"
                         "  optimizer: {choice: [sgd, adam]}\n",
                    "job.yaml:5:40: ", "move optimizer above momentum");
    /* itself */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  momentum: {choice: [0, 0.9], when: {momentum: 0}}\n",
                    "job.yaml:5:39: ", "cannot depend on itself");
    /* not a mapping */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  optimizer: {choice: [sgd, adam]}\n"
                         "  momentum: {uniform: [0, 0.9], when: sgd}\n",
                    "job.yaml:6:39: ", "expected a mapping of conditions");
    /* grid: values under random are enumerated, not conditional */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  optimizer: {choice: [sgd, adam]}\n"
                         "  momentum: {grid: [0, 0.9], when: {optimizer: sgd}}\n",
                    "job.yaml:6:3: ", "cannot be conditional");
    /* seed: lists only; not with repeats */
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n  seed: {randint: [0, 9]}\n",
                    "job.yaml:5:10: ", "choice: [1, 2, 3]");
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4, repeats: 3}\nspace:\n  seed: {choice: [1, 2]}\n",
                    "job.yaml:5:3: ", "remove repeats or seed");
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4, repeats: 3}\nfixed:\n  seed: 5\n",
                    "job.yaml:5:3: ", "fixed.seed");
    EXPECT_ERROR_AT(HEAD "strategy: {name: tpe, max_trials: 4, repeats: 3}\n", "job.yaml:3:38: ",
                    "only used by strategy grid and random");
    /* a conditional parameter may be in fixed: (its inactive value); an unconditional one may not */
    EXPECT(!error_of(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                          "  optimizer: {choice: [sgd, adam]}\n"
                          "  momentum: {uniform: [0, 0.9], when: {optimizer: sgd}}\nfixed: {momentum: 0.5}\n"),
           "fixed: value of a conditional parameter refused");
    EXPECT_ERROR_AT(HEAD "strategy: {name: random, max_trials: 4}\nspace:\n"
                         "  momentum: {uniform: [0, 0.9]}\nfixed: {momentum: 0.5}\n",
                    "job.yaml:5:3: ", "also set in fixed:");
}

/* The grid points of a job as "name=value ..." lines (space parameters only). */
static void grid_points(const hp_job *job, char *out, size_t size)
{
    long n = hp_space_grid_size(job);
    size_t used = 0;
    out[0] = '\0';
    for (long t = 0; t < n; t++) {
        hp_config c;
        hp_job_trial_config(job, (int)t, &c);
        for (int i = 0; i < job->n_params; i++) {
            char v[64];
            hp_config_format_value(job->params[i].key, hp_config_get(&c, job->params[i].key), v, sizeof v);
            used += (size_t)snprintf(out + used, size - used, "%s%s=%s%s", i ? " " : "", job->params[i].key->name, v,
                                     hp_job_param_active(job, i, &c) ? "" : "(off)");
        }
        used += (size_t)snprintf(out + used, size - used, "\n");
    }
}

TEST(grid_enumerates_the_conditional_tree)
{
    hp_job job;
    /* optimizer {sgd, adam} x momentum {0, 0.9} with momentum when sgd: 3 points, not 4 */
    if (parse(&job, HEAD "strategy: {name: grid}\nspace:\n  optimizer: {grid: [sgd, adam]}\n"
                         "  momentum: {grid: [0.0, 0.9], when: {optimizer: sgd}}\n") != 0) {
        EXPECT(0, "parse");
        return;
    }
    EXPECT(hp_space_grid_size(&job) == 3, "grid size %ld, want 3", hp_space_grid_size(&job));
    EXPECT(job.max_trials == 3, "max_trials %d", job.max_trials);
    char got[4096];
    grid_points(&job, got, sizeof got);
    EXPECT(strcmp(got, "optimizer=sgd momentum=0\noptimizer=sgd momentum=0.9\noptimizer=adam momentum=0(off)\n") == 0,
           "points:\n%s", got);
    hp_job_release(&job);

    /* a chain and a list condition, the fixed: value for an inactive one, and an
     * unconditional parameter after them: hand-worked
     *   optimizer sgd   -> momentum {0, 0.9}; nesterov only when momentum 0.9 {false, true}
     *   optimizer rmsprop -> momentum {0, 0.9}; nesterov when momentum 0.9 (sgd or rmsprop)
     *   optimizer adam  -> momentum off (fixed 0.5), nesterov off
     * each x batch_size {32, 64}: (3 + 3 + 1) x 2 = 14 points */
    if (parse(&job, HEAD "strategy: {name: grid}\nspace:\n  optimizer: {choice: [sgd, rmsprop, adam]}\n"
                         "  momentum: {choice: [0.0, 0.9], when: {optimizer: [sgd, rmsprop]}}\n"
                         "  nesterov: {choice: [false, true], when: {momentum: 0.9}}\n"
                         "  batch_size: {choice: [32, 64]}\n"
                         "fixed: {momentum: 0.5}\n") != 0) {
        EXPECT(0, "parse");
        return;
    }
    EXPECT(hp_space_grid_size(&job) == 14, "grid size %ld, want 14", hp_space_grid_size(&job));
    grid_points(&job, got, sizeof got);
    const char *want =
        "optimizer=sgd momentum=0 nesterov=false(off) batch_size=32\n"
        "optimizer=sgd momentum=0 nesterov=false(off) batch_size=64\n"
        "optimizer=sgd momentum=0.9 nesterov=false batch_size=32\n"
        "optimizer=sgd momentum=0.9 nesterov=false batch_size=64\n"
        "optimizer=sgd momentum=0.9 nesterov=true batch_size=32\n"
        "optimizer=sgd momentum=0.9 nesterov=true batch_size=64\n"
        "optimizer=rmsprop momentum=0 nesterov=false(off) batch_size=32\n"
        "optimizer=rmsprop momentum=0 nesterov=false(off) batch_size=64\n"
        "optimizer=rmsprop momentum=0.9 nesterov=false batch_size=32\n"
        "optimizer=rmsprop momentum=0.9 nesterov=false batch_size=64\n"
        "optimizer=rmsprop momentum=0.9 nesterov=true batch_size=32\n"
        "optimizer=rmsprop momentum=0.9 nesterov=true batch_size=64\n"
        "optimizer=adam momentum=0.5(off) nesterov=false(off) batch_size=32\n"
        "optimizer=adam momentum=0.5(off) nesterov=false(off) batch_size=64\n";
    EXPECT(strcmp(got, want) == 0, "points:\n%s", got);
    /* with repeats the grid runs again: trial 14 is point 0 */
    hp_config a, b;
    hp_space_grid_point(&job, 14, &a);
    hp_space_grid_point(&job, 0, &b);
    EXPECT(a.optimizer == b.optimizer && a.momentum == b.momentum && a.batch_size == b.batch_size, "point 14 != 0");
    hp_job_release(&job);

    /* README's example: two keys (both must hold), a list condition, fixed: as the inactive value.
     * sgd: 0.5 | 0.9 x {false, true}; rmsprop: 0.5 | 0.9 (nesterov needs sgd); adam: 1 -> 6 */
    if (parse(&job, HEAD "strategy: {name: grid}\nspace:\n  optimizer: {choice: [sgd, rmsprop, adam]}\n"
                         "  momentum: {choice: [0.5, 0.9], when: {optimizer: [sgd, rmsprop]}}\n"
                         "  nesterov: {choice: [false, true], when: {optimizer: sgd, momentum: 0.9}}\n"
                         "fixed: {momentum: 0.0}\n") != 0) {
        EXPECT(0, "parse");
        return;
    }
    grid_points(&job, got, sizeof got);
    EXPECT(strcmp(got, "optimizer=sgd momentum=0.5 nesterov=false(off)\n"
                       "optimizer=sgd momentum=0.9 nesterov=false\n"
                       "optimizer=sgd momentum=0.9 nesterov=true\n"
                       "optimizer=rmsprop momentum=0.5 nesterov=false(off)\n"
                       "optimizer=rmsprop momentum=0.9 nesterov=false(off)\n"
                       "optimizer=adam momentum=0(off) nesterov=false(off)\n") == 0,
           "points:\n%s", got);
    hp_job_release(&job);
}

TEST(random_draws_a_parameter_only_when_active)
{
    /* The same stream as the space without the conditional parameter whenever it
     * is inactive, and as the space with it unconditional whenever it is active:
     * an inactive parameter draws nothing. */
    hp_job cond, without, uncond;
    int ok = parse(&cond, HEAD "strategy: {name: random, max_trials: 200}\nspace:\n"
                               "  optimizer: {choice: [sgd, adam]}\n"
                               "  momentum: {uniform: [0.1, 0.9], when: {optimizer: sgd}}\n"
                               "  learning_rate: {loguniform: [1e-4, 1e-1]}\n") == 0;
    ok &= parse(&without, HEAD "strategy: {name: random, max_trials: 200}\nspace:\n"
                               "  optimizer: {choice: [sgd, adam]}\n"
                               "  learning_rate: {loguniform: [1e-4, 1e-1]}\n") == 0;
    ok &= parse(&uncond, HEAD "strategy: {name: random, max_trials: 200}\nspace:\n"
                              "  optimizer: {choice: [sgd, adam]}\n"
                              "  momentum: {uniform: [0.1, 0.9]}\n"
                              "  learning_rate: {loguniform: [1e-4, 1e-1]}\n") == 0;
    if (!ok) {
        EXPECT(0, "parse");
        return;
    }
    int n_active = 0;
    for (int t = 0; t < 200; t++) {
        hp_config c, w, u;
        hp_job_trial_config(&cond, t, &c);
        hp_job_trial_config(&without, t, &w);
        hp_job_trial_config(&uncond, t, &u);
        int active = hp_job_param_active(&cond, 1, &c);
        EXPECT(active == (c.optimizer == HP_OPT_SGD), "trial %d: activity %d for optimizer %d", t, active,
               c.optimizer);
        EXPECT(c.seed == u.seed, "trial %d seed", t);
        if (active) {
            n_active++;
            EXPECT(c.momentum == u.momentum && c.learning_rate == u.learning_rate, "trial %d: active draw differs", t);
        } else {
            EXPECT(c.momentum == 0.0f, "trial %d: inactive momentum %g, want the default 0", t, (double)c.momentum);
            EXPECT(c.learning_rate == w.learning_rate, "trial %d: an inactive parameter drew from the stream", t);
        }
        double x[3];
        hp_space_to_vector(&cond, &c, x);
        EXPECT(active ? !isnan(x[1]) : isnan(x[1]), "trial %d: vector entry %g", t, x[1]);
    }
    EXPECT(n_active > 60 && n_active < 140, "%d of 200 active", n_active);
    hp_job_release(&cond);
    hp_job_release(&without);
    hp_job_release(&uncond);
}

TEST(random_repeats_share_a_configuration_with_other_seeds)
{
    hp_job rep, one;
    int ok = parse(&rep, HEAD "strategy: {name: random, max_trials: 5, repeats: 3}\nspace:\n"
                              "  learning_rate: {loguniform: [1e-4, 1e-1]}\n  batch_size: {choice: [16, 32, 64]}\n") == 0;
    ok &= parse(&one, HEAD "strategy: {name: random, max_trials: 5}\nspace:\n"
                           "  learning_rate: {loguniform: [1e-4, 1e-1]}\n  batch_size: {choice: [16, 32, 64]}\n") == 0;
    if (!ok) {
        EXPECT(0, "parse");
        return;
    }
    EXPECT(rep.max_trials == 15, "max_trials %d, want 5 x 3", rep.max_trials);
    for (int t = 0; t < 15; t++) {
        hp_config c, o, seeded;
        hp_job_trial_config(&rep, t, &c);
        hp_job_trial_config(&one, t / 3, &o);  /* configuration t/3 is random search's trial t/3 */
        hp_job_trial_config(&one, t, &seeded); /* the seed is trial t's, as without repeats */
        EXPECT(hp_job_trial_configuration(&rep, t) == t / 3, "trial %d configuration", t);
        EXPECT(c.learning_rate == o.learning_rate && c.batch_size == o.batch_size, "trial %d config", t);
        EXPECT(c.seed == seeded.seed, "trial %d seed %d, want %d", t, c.seed, seeded.seed);
        if (t % 3) {
            hp_config prev;
            hp_job_trial_config(&rep, t - 1, &prev);
            EXPECT(prev.seed != c.seed, "trial %d repeats its predecessor's seed", t);
        }
    }
    hp_job_release(&rep);
    hp_job_release(&one);

    /* a searched seed is the space's value, not the derived one */
    hp_job seeded;
    if (parse(&seeded, HEAD "strategy: {name: grid}\nspace:\n  seed: {choice: [7, 8]}\n  batch_size: {choice: [16, 32]}\n") ==
        0) {
        hp_config c;
        hp_job_trial_config(&seeded, 2, &c); /* row-major: seed 8, batch 16 */
        EXPECT(c.seed == 8 && c.batch_size == 16, "seed %d batch %d", c.seed, c.batch_size);
        hp_job_release(&seeded);
    } else {
        EXPECT(0, "parse");
    }
}

/* Activity of a 3-dim space: dim 1 active iff dim 0 == index 0. */
static int dim1_when_dim0_is_0(const void *ctx, int d, const double *out)
{
    (void)ctx;
    return d != 1 || out[0] == 0;
}

TEST(tpe_inactive_dimensions_draw_nothing)
{
    /* Univariate TPE: a proposal in which dim 1 is inactive must equal the
     * proposal of the same trials without dim 1 (Optuna samples each parameter
     * independently, from the trials where it was present, and never samples
     * an inactive one), drawing the same uniforms. */
    hp_tpe_dim dims3[3] = {{.n_choices = 2}, {.low = 0, .high = 1}, {.low = -2, .high = 2}};
    hp_tpe_dim dims2[2] = {dims3[0], dims3[2]};
    enum { N = 30 };
    int checked_inactive = 0, checked_active = 0;
    for (int favoured = 0; favoured < 2; favoured++) { /* the branch with the lower values */
        double x3[N][3], x2[N][2];
        hp_tpe_trial t3[N], t2[N];
        hp_rng gen;
        hp_rng_seed(&gen, 5);
        for (int i = 0; i < N; i++) {
            x3[i][0] = (double)hp_rng_below(&gen, 2);
            x3[i][1] = x3[i][0] == 0 ? hp_rng_uniform(&gen) : NAN;
            x3[i][2] = -2 + 4 * hp_rng_uniform(&gen);
            x2[i][0] = x3[i][0];
            x2[i][1] = x3[i][2];
            double value = x3[i][2] * x3[i][2] + (x3[i][0] == favoured ? 0 : 1);
            t3[i] = (hp_tpe_trial){.x = x3[i], .state = HP_TPE_COMPLETE, .value = value};
            t2[i] = (hp_tpe_trial){.x = x2[i], .state = HP_TPE_COMPLETE, .value = value};
        }
        hp_tpe_settings s;
        hp_tpe_settings_default(&s);
        for (uint64_t seed = 0; seed < 20; seed++) {
            hp_rng r3, r2;
            hp_rng_seed(&r3, seed);
            hp_rng_seed(&r2, seed);
            double out3[3], out2[2];
            int used3, used2;
            EXPECT(hp_tpe_propose_conditional(&s, dims3, 3, t3, N, &r3, out3, &used3, dim1_when_dim0_is_0, NULL) == 0,
                   "propose");
            if (out3[0] == 0) { /* active: the same as the unconditional proposal */
                hp_rng ru;
                hp_rng_seed(&ru, seed);
                double outu[3];
                EXPECT(hp_tpe_propose(&s, dims3, 3, t3, N, &ru, outu, &used2) == 0, "propose");
                EXPECT(outu[0] == out3[0] && outu[1] == out3[1] && outu[2] == out3[2], "seed %llu: active proposal differs",
                       (unsigned long long)seed);
                checked_active++;
                continue;
            }
            EXPECT(hp_tpe_propose(&s, dims2, 2, t2, N, &r2, out2, &used2) == 0, "propose");
            EXPECT(isnan(out3[1]), "seed %llu: inactive dim got %g", (unsigned long long)seed, out3[1]);
            EXPECT(out3[0] == out2[0] && out3[2] == out2[1], "seed %llu: (%g, %g) vs without dim 1 (%g, %g)",
                   (unsigned long long)seed, out3[0], out3[2], out2[0], out2[1]);
            EXPECT(hp_rng_next(&r3) == hp_rng_next(&r2), "seed %llu: the streams drew differently",
                   (unsigned long long)seed);
            checked_inactive++;
        }
    }
    EXPECT(checked_inactive > 5 && checked_active > 5, "%d inactive, %d active proposals", checked_inactive,
           checked_active);
}

int main(void)
{
    RUN(condition_errors_name_line_and_column);
    RUN(grid_enumerates_the_conditional_tree);
    RUN(random_draws_a_parameter_only_when_active);
    RUN(random_repeats_share_a_configuration_with_other_seeds);
    RUN(tpe_inactive_dimensions_draw_nothing);
    return testlib_finish();
}
