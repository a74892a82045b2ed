/* test_job.c - job-file parsing, validation messages, grid order and sampling.
 *
 * Bad jobs are written inline; every expected "job.yaml:line:col" was counted
 * by hand from the text (lines and columns are 1-based).
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "job.h"
#include "rng.h"
#include "testlib.h"

/* Lines 1-2 of most test jobs. */
#define HEAD                                                                                       \
    "study: {name: s}\n"                                                                           \
    "data: {path: d.h5, train_shards: [0, 1], val_shards: [2]}\n"
#define GRID "strategy: {name: grid}\n"                      /* line 3 */
#define RANDOM "strategy: {name: random, max_trials: 4}\n"  /* line 3 */

/* NULL if the text parses, else the message. */
static const char *parse_error(const char *text)
{
    hp_job job;
    if (hp_job_parse(&job, text, "job.yaml") == 0) {
        hp_job_release(&job);
        return NULL;
    }
    return hp_error_message();
}

/* The message starts with `where` ("job.yaml:L:C: ") and contains every word. */
#define EXPECT_ERROR(text, where, ...)                                                             \
    do {                                                                                           \
        const char *words_[] = {__VA_ARGS__, NULL};                                                \
        const char *msg_ = parse_error(text);                                                      \
        EXPECT(msg_ != NULL, "a bad job was accepted (expected an error at %s)", where);           \
        if (msg_) {                                                                                \
            EXPECT(strncmp(msg_, where, strlen(where)) == 0, "message \"%s\" does not start with \"%s\"", \
                   msg_, where);                                                                   \
            for (int w_ = 0; words_[w_]; w_++)                                                     \
                EXPECT(strstr(msg_, words_[w_]) != NULL, "message \"%s\" lacks \"%s\"", msg_,      \
                       words_[w_]);                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_VALID(text)                                                                         \
    do {                                                                                           \
        const char *msg_ = parse_error(text);                                                      \
        EXPECT(msg_ == NULL, "a good job was rejected: %s", msg_);                                 \
    } while (0)

static const char *const full_job =
    "# a complete job\n"                                                          /* 1 */
    "study:\n"                                                                    /* 2 */
    "  name: full-test\n"                                                         /* 3 */
    "  seed: 18446744073709551615\n"                                              /* 4 */
    "  metric: val_loss\n"                                                        /* 5 */
    "data:\n"                                                                     /* 6 */
    "  path: data/c.h5\n"                                                         /* 7 */
    "  train_shards: [0, 1, 2, 5]\n"                                              /* 8 */
    "  val_shards: [9, 7]\n"                                                      /* 9 */
    "  test_eval: false\n"                                                        /* 10 */
    "strategy:\n"                                                                 /* 11 */
    "  name: asha\n"                                                              /* 12 */
    "  max_trials: 50\n"                                                          /* 13 */
    "  min_epochs: 2\n"                                                           /* 14 */
    "  max_epochs: 32\n"                                                          /* 15 */
    "  reduction_factor: 2\n"                                                     /* 16 */
    "  brackets: 3\n"                                                             /* 17 */
    "objective: {type: curves, file: curves.csv, sleep_ms: 25}\n"                 /* 18 */
    "space:\n"                                                                    /* 19 */
    "  learning_rate: {loguniform: [1e-4, 0.1]}\n"                                /* 20 */
    "  activation: {choice: [tanh, relu, elu]}\n"                                 /* 21 */
    "  head_units: {uniform: [64, 256], step: 64}\n"                              /* 22 */
    "  kernel_size: {randint: [3, 7], step: 2}\n"                                 /* 23 */
    "  batch_norm: {grid: [true, false]}\n"                                       /* 24 */
    "fixed:\n"                                                                    /* 25 */
    "  optimizer: sgd\n"                                                          /* 26 */
    "  momentum: 0.9\n"                                                           /* 27 */
    "  batch_size: 128\n"                                                         /* 28 */
    "output:\n"                                                                   /* 29 */
    "  dir: /scratch/out\n"                                                       /* 30 */
    "  keep: all\n"                                                               /* 31 */
    "  checkpoint_every: 4\n";                                                    /* 32 */

TEST(full_job_parses_every_section)
{
    hp_job job;
    int rc = hp_job_parse(&job, full_job, "jobs/full.yaml");
    EXPECT(rc == 0, "parse failed: %s", hp_error_message());
    if (rc != 0)
        return;
    EXPECT(strcmp(job.path, "jobs/full.yaml") == 0, "path %s", job.path);
    EXPECT(strcmp(job.text, full_job) == 0, "text is not a copy of the input");
    EXPECT(strcmp(job.name, "full-test") == 0, "name %s", job.name);
    EXPECT(job.seed == UINT64_MAX, "seed %llu", (unsigned long long)job.seed);
    EXPECT(job.metric == HP_METRIC_VAL_LOSS, "metric %d", job.metric);
    EXPECT(job.maximize == 0, "val_loss is minimised by default");
    EXPECT(strcmp(job.data_path, "jobs/data/c.h5") == 0, "data path %s (beside the job file)", job.data_path);
    EXPECT(job.n_train_shards == 4 && job.train_shards[0] == 0 && job.train_shards[3] == 5, "train shards");
    EXPECT(job.n_val_shards == 2 && job.val_shards[0] == 9 && job.val_shards[1] == 7, "val shards in order");
    EXPECT(job.shards_line == 6 && job.shards_column == 1, "shards position %d:%d", job.shards_line,
           job.shards_column);
    EXPECT(job.test_eval == 0, "test_eval");
    EXPECT(job.strategy == HP_STRATEGY_ASHA, "strategy");
    EXPECT(job.max_trials == 50 && job.min_epochs == 2 && job.max_epochs == 32 &&
               job.reduction_factor == 2 && job.brackets == 3,
           "asha %d %d %d %d %d", job.max_trials, job.min_epochs, job.max_epochs, job.reduction_factor,
           job.brackets);
    EXPECT(job.objective == HP_OBJECTIVE_CURVES, "objective");
    EXPECT(job.curves_path && strcmp(job.curves_path, "jobs/curves.csv") == 0,
           "curves file is relative to the job's folder: %s", job.curves_path);
    EXPECT(job.sleep_ms == 25, "sleep_ms %d", job.sleep_ms);

    EXPECT(job.n_params == 5, "n_params %d", job.n_params);
    if (job.n_params == 5) {
        const hp_param *p = job.params;
        EXPECT(strcmp(p[0].key->name, "learning_rate") == 0 && p[0].dist == HP_DIST_LOGUNIFORM, "param 0");
        EXPECT(p[0].low == 1e-4 && p[0].high == 0.1 && p[0].step == 0, "lr range");
        EXPECT(p[0].line == 20 && p[0].column == 3, "lr position %d:%d", p[0].line, p[0].column);
        EXPECT(strcmp(p[1].key->name, "activation") == 0 && p[1].dist == HP_DIST_CHOICE, "param 1");
        /* enum names map to their index in the table: relu 0, leaky_relu 1, elu 2, tanh 3 */
        EXPECT(p[1].n_values == 3 && p[1].values[0] == HP_ACT_TANH && p[1].values[1] == HP_ACT_RELU &&
                   p[1].values[2] == HP_ACT_ELU,
               "activation indices");
        EXPECT(p[2].dist == HP_DIST_UNIFORM && p[2].low == 64 && p[2].high == 256 && p[2].step == 64,
               "head_units");
        EXPECT(p[3].dist == HP_DIST_RANDINT && p[3].low == 3 && p[3].high == 7 && p[3].step == 2, "kernel");
        EXPECT(p[4].dist == HP_DIST_GRID && p[4].n_values == 2 && p[4].values[0] == 1 && p[4].values[1] == 0,
               "batch_norm booleans");
        EXPECT(p[4].line == 24 && p[4].column == 3, "batch_norm position %d:%d", p[4].line, p[4].column);
    }
    EXPECT(job.fixed.optimizer == HP_OPT_SGD, "fixed optimizer %d", job.fixed.optimizer);
    EXPECT(fabsf(job.fixed.momentum - 0.9f) == 0, "fixed momentum %g", job.fixed.momentum);
    EXPECT(job.fixed.batch_size == 128, "fixed batch_size %d", job.fixed.batch_size);
    EXPECT(job.fixed.filters == 32, "unset keys keep the table default (filters %d)", job.fixed.filters);
    EXPECT(strcmp(job.out_dir, "/scratch/out") == 0, "out dir");
    EXPECT(job.keep == HP_KEEP_ALL, "keep");
    EXPECT(job.checkpoint_every == 4, "checkpoint_every");
    hp_job_release(&job);
    EXPECT(job.name == NULL && job.params == NULL, "release clears the struct");
}

TEST(defaults_of_a_minimal_job)
{
    hp_job job;
    int rc = hp_job_parse(&job, HEAD GRID, "job.yaml");
    EXPECT(rc == 0, "parse failed: %s", hp_error_message());
    if (rc != 0)
        return;
    hp_config defaults;
    hp_config_defaults(&defaults);
    EXPECT(job.seed == 0, "seed");
    EXPECT(job.metric == HP_METRIC_VAL_ACCURACY && job.maximize == 1, "metric val_accuracy, max");
    EXPECT(job.test_eval == 1, "test_eval default true");
    EXPECT(job.repeats == 1, "repeats");
    EXPECT(job.min_epochs == 1 && job.reduction_factor == 3 && job.brackets == 1, "asha defaults");
    EXPECT(job.objective == HP_OBJECTIVE_TRAIN && job.curves_path == NULL && job.sleep_ms == 0, "objective");
    EXPECT(job.out_dir == NULL, "out_dir NULL means runs/<name>");
    EXPECT(job.keep == HP_KEEP_LAST_AND_BEST && job.checkpoint_every == 1, "output defaults");
    EXPECT(memcmp(&job.fixed, &defaults, sizeof defaults) == 0, "fixed = config defaults");
    EXPECT(job.n_params == 0 && hp_space_grid_size(&job) == 1, "empty space is one grid point");
    EXPECT(job.max_trials == 1, "grid max_trials = 1 point x 1 repeat, got %d", job.max_trials);
    hp_job_release(&job);
    /* Optional sections may be present and empty. */
    EXPECT_VALID(HEAD GRID "space:\nfixed:\noutput:\nobjective:\n");
}

TEST(metric_modes)
{
    static const struct { const char *metric; int maximize; } cases[] = {
        {"val_accuracy", 1}, {"val_f1", 1}, {"train_accuracy", 1}, {"val_loss", 0}, {"train_loss", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "study: {name: s, metric: %s}\ndata: {path: d, train_shards: [0], val_shards: [1]}\n" GRID,
                 cases[i].metric);
        hp_job job;
        if (hp_job_parse(&job, text, "job.yaml") != 0) {
            EXPECT(0, "%s: %s", cases[i].metric, hp_error_message());
            continue;
        }
        EXPECT(job.maximize == cases[i].maximize, "%s: maximize %d", cases[i].metric, job.maximize);
        EXPECT(strcmp(hp_metric_name(job.metric), cases[i].metric) == 0, "name round trip %s",
               hp_metric_name(job.metric));
        hp_job_release(&job);
    }
    hp_job job;
    /* An explicit mode overrides the metric's default. */
    if (hp_job_parse(&job, "study: {name: s, metric: val_loss, mode: max}\n"
                           "data: {path: d, train_shards: [0], val_shards: [1]}\n" GRID, "job.yaml") == 0) {
        EXPECT(job.maximize == 1, "mode max overrides val_loss");
        hp_job_release(&job);
    } else {
        EXPECT(0, "%s", hp_error_message());
    }
    if (hp_job_parse(&job, "study: {name: s, mode: min}\n"
                           "data: {path: d, train_shards: [0], val_shards: [1]}\n" GRID, "job.yaml") == 0) {
        EXPECT(job.maximize == 0, "mode min overrides val_accuracy");
        hp_job_release(&job);
    } else {
        EXPECT(0, "%s", hp_error_message());
    }
}

TEST(curves_path_resolution)
{
    static const struct { const char *job_path, *file, *expected, *data; } cases[] = {
        {"jobs/x.yaml", "c.csv", "jobs/c.csv", "jobs/d.h5"},
        {"/a/b/x.yaml", "sub/c.csv", "/a/b/sub/c.csv", "/a/b/d.h5"},
        {"x.yaml", "c.csv", "c.csv", "d.h5"},
        {"jobs/x.yaml", "/abs/c.csv", "/abs/c.csv", "jobs/d.h5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, HEAD RANDOM "objective: {type: curves, file: %s}\n", cases[i].file);
        hp_job job;
        if (hp_job_parse(&job, text, cases[i].job_path) != 0) {
            EXPECT(0, "%s", hp_error_message());
            continue;
        }
        EXPECT(strcmp(job.curves_path, cases[i].expected) == 0, "%s + %s -> %s, expected %s", cases[i].job_path,
               cases[i].file, job.curves_path, cases[i].expected);
        EXPECT(strcmp(job.data_path, cases[i].data) == 0, "data path %s, expected %s (beside the job file)",
               job.data_path, cases[i].data);
        hp_job_release(&job);
    }
    /* a job written for hptune 0.1: its data.path exists from the current
       directory but not beside the job file, and is taken from there */
    char dir[] = "/tmp/hptune-jobpath.XXXXXX";
    if (!mkdtemp(dir)) {
        EXPECT(0, "mkdtemp");
        return;
    }
    char *data = hp_xasprintf("%s/d.h5", dir), *sub = hp_xasprintf("%s/jobs", dir);
    FILE *f = fopen(data, "w");
    fclose(f);
    char cwd[4096];
    EXPECT(getcwd(cwd, sizeof cwd) && mkdir(sub, 0777) == 0 && chdir(dir) == 0, "setup");
    hp_job job;
    EXPECT(hp_job_parse(&job, HEAD RANDOM, "jobs/x.yaml") == 0 && strcmp(job.data_path, "d.h5") == 0,
           "legacy data path: %s", job.data_path);
    hp_job_release(&job);
    f = fopen("jobs/d.h5", "w"); /* once a file is beside the job, it wins */
    fclose(f);
    EXPECT(hp_job_parse(&job, HEAD RANDOM, "jobs/x.yaml") == 0 && strcmp(job.data_path, "jobs/d.h5") == 0,
           "beside the job: %s", job.data_path);
    hp_job_release(&job);
    EXPECT(chdir(cwd) == 0, "chdir back");
    char *cmd = hp_xasprintf("rm -rf %s", dir);
    EXPECT(system(cmd) == 0, "cleanup");
    free(cmd);
    free(data);
    free(sub);
}

TEST(unknown_keys_suggest_the_closest)
{
    EXPECT_ERROR("study:\n  nmae: s\n", "job.yaml:2:3: ", "study", "unknown key 'nmae'", "did you mean 'name'");
    EXPECT_ERROR(HEAD "stratgy: {name: grid}\n", "job.yaml:3:1: ", "unknown key 'stratgy'",
                 "did you mean 'strategy'");
    /* Nothing within two edits: no guess, but the list of known keys. */
    EXPECT_ERROR(HEAD GRID "output:\n  colour: red\n", "job.yaml:5:3: ", "output: unknown key 'colour'",
                 "dir, keep, checkpoint_every");
    EXPECT(strstr(parse_error(HEAD GRID "output:\n  colour: red\n"), "did you mean") == NULL,
           "no suggestion for a far-off key");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rte: {uniform: [0.1, 1]}\n", "job.yaml:5:3: ",
                 "unknown hyperparameter 'learning_rte'", "did you mean 'learning_rate'");
    EXPECT_ERROR(HEAD GRID "fixed:\n  bacth_size: 8\n", "job.yaml:5:3: ", "fixed",
                 "unknown hyperparameter 'bacth_size'", "did you mean 'batch_size'");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choise: [8]}\n", "job.yaml:5:13: ", "space.filters",
                 "unknown key 'choise'", "did you mean 'choice'");
    EXPECT_ERROR(HEAD "strategy: {name: randm, max_trials: 3}\n", "job.yaml:3:18: ", "strategy.name",
                 "unknown value 'randm'", "did you mean 'random'", "grid, random, asha");
    EXPECT_ERROR(HEAD "strategy: {name: hyperband}\n", "job.yaml:3:18: ", "unknown value 'hyperband'",
                 "grid, random, asha");
    EXPECT_ERROR("study: {name: s, metric: val_acuracy}\n", "job.yaml:1:26: ", "study.metric",
                 "unknown value 'val_acuracy'", "did you mean 'val_accuracy'");
}

TEST(wrong_types)
{
    EXPECT_ERROR("study:\n  name: {first: a}\n", "job.yaml:2:9: ", "study.name", "expected a text value",
                 "got a mapping");
    EXPECT_ERROR("study: [a, b]\n", "job.yaml:1:8: ", "study: expected a mapping", "got a list");
    EXPECT_ERROR("study:\n", "job.yaml:1:7: ", "study: expected a mapping", "got nothing");
    EXPECT_ERROR(HEAD "strategy: {name: random, max_trials: many}\n", "job.yaml:3:38: ", "strategy.max_trials",
                 "expected a whole number", "got 'many'");
    EXPECT_ERROR(HEAD "strategy: {name: random, max_trials: 2.5}\n", "job.yaml:3:38: ", "expected a whole number",
                 "'2.5'");
    EXPECT_ERROR(HEAD GRID "fixed:\n  learning_rate: fast\n", "job.yaml:5:18: ", "fixed.learning_rate",
                 "'fast' is not a number");
    EXPECT_ERROR(HEAD GRID "fixed:\n  batch_size: [8, 16]\n", "job.yaml:5:15: ", "fixed.batch_size",
                 "expected a single value", "got a list", "move it to space");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: 32\n", "job.yaml:5:12: ", "space.filters",
                 "expected a distribution", "use fixed:");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: 0.1}\n", "job.yaml:5:28: ",
                 "uniform needs a list of two bounds");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [0.1, 0.2, 0.3]}\n", "job.yaml:5:28: ",
                 "two bounds");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [low, 0.2]}\n", "job.yaml:5:29: ",
                 "expected a number", "'low'");
    EXPECT_ERROR(HEAD "strategy: {name: grid}\n" "data2: 1\n", "job.yaml:4:1: ", "unknown key 'data2'");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d.h5, train_shards: 0, val_shards: [2]}\n", "job.yaml:2:34: ",
                 "data.train_shards", "expected a list of shard numbers");
    EXPECT_ERROR(HEAD "strategy: {name: grid}\n" "data: {test_eval: maybe}\n", "job.yaml:4:1: ",
                 "duplicate key 'data'");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d.h5, train_shards: [0], val_shards: [2], test_eval: maybe}\n",
                 "job.yaml:2:67: ", "data.test_eval", "expected true or false", "'maybe'");
    EXPECT_ERROR("- study\n- data\n", "job.yaml:1:1: ", "expected the sections", "got a list");
    EXPECT_ERROR("study: {name: 'a b'}\n", "job.yaml:1:15: ", "study.name", "contains ' '", "letters, digits");
    EXPECT_ERROR("study: {name: s, seed: -1}\n", "job.yaml:1:24: ", "study.seed", "whole number from 0");
}

TEST(space_errors)
{
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choice: []}\n", "job.yaml:5:21: ", "space.filters",
                 "choice list is empty", "at least one value");
    EXPECT_ERROR(HEAD GRID "space:\n  filters: {grid: []}\n", "job.yaml:5:19: ", "grid list is empty");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [0.5, 0.1]}\n", "job.yaml:5:28: ",
                 "space.learning_rate", "low 0.5 is greater than high 0.1");
    EXPECT_ERROR(HEAD RANDOM "space:\n  weight_decay: {loguniform: [0, 0.1]}\n", "job.yaml:5:31: ",
                 "space.weight_decay", "loguniform needs bounds > 0");
    EXPECT_ERROR(HEAD RANDOM "space:\n  head_units: {randint: [16.5, 64]}\n", "job.yaml:5:26: ",
                 "randint bounds must be whole numbers");
    EXPECT_ERROR(HEAD RANDOM "space:\n  head_units: {randint: [16, 64.5]}\n", "job.yaml:5:30: ",
                 "randint bounds must be whole numbers");
    EXPECT_ERROR(HEAD RANDOM "space:\n  head_units: {randint: [16, 64], step: 1.5}\n", "job.yaml:5:41: ",
                 "randint step must be a whole number");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [0.1, 0.5], step: 0}\n", "job.yaml:5:46: ",
                 "step must be > 0");
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [0.1, 0.5], step: -0.1}\n", "job.yaml:5:46: ",
                 "step must be > 0");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choice: [8, 16], step: 8}\n", "job.yaml:5:30: ", "space.filters",
                 "step only applies to uniform, loguniform and randint");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {}\n", "job.yaml:5:3: ", "space.filters", "no distribution");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choice: [8], randint: [1, 4]}\n", "job.yaml:5:26: ",
                 "both choice and randint");
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choice: [8, 16, 8]}\n", "job.yaml:5:29: ",
                 "value 8 appears twice");
    /* whole-number keys need whole-number samples */
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {uniform: [8, 64]}\n", "job.yaml:5:13: ", "space.filters",
                 "whole numbers", "randint");
    EXPECT_VALID(HEAD RANDOM "space:\n  filters: {loguniform: [8, 64], step: 8}\n");
    EXPECT_ERROR(HEAD RANDOM "space:\n  activation: {uniform: [0, 2]}\n", "job.yaml:5:16: ", "space.activation",
                 "named values", "choice: [relu, leaky_relu, elu, tanh, sigmoid]");
    EXPECT_ERROR(HEAD RANDOM "space:\n  seed: {randint: [0, 9]}\n", "job.yaml:5:10: ", "space.seed",
                 "choice: [1, 2, 3]");
    EXPECT_VALID(HEAD RANDOM "space:\n  seed: {choice: [1, 2, 3]}\n"); /* the training seed, searched */
    EXPECT_VALID(HEAD GRID "fixed:\n  seed: 3\n"); /* one seed for every trial (best.yaml) */
    EXPECT_ERROR(HEAD RANDOM "space:\n  filters: {choice: [8]}\n  filters: {choice: [16]}\n", "job.yaml:6:3: ",
                 "duplicate key 'filters'", "line 5");
}

TEST(values_outside_their_range)
{
    EXPECT_ERROR(HEAD GRID "fixed:\n  conv_dropout: 1.5\n", "job.yaml:5:17: ", "fixed.conv_dropout",
                 "outside the valid range [0, 0.95]");
    EXPECT_ERROR(HEAD GRID "fixed:\n  batch_size: 0\n", "job.yaml:5:15: ", "fixed.batch_size", "outside the valid range");
    EXPECT_ERROR(HEAD GRID "fixed:\n  batch_norm: perhaps\n", "job.yaml:5:15: ", "fixed.batch_norm", "not a boolean");
    EXPECT_ERROR(HEAD GRID "fixed:\n  optimizer: adamm\n", "job.yaml:5:14: ", "fixed.optimizer",
                 "'adamm' is not one of", "did you mean 'adam'");
    /* every choice value is checked, not only the first */
    EXPECT_ERROR(HEAD GRID "space:\n  filters: {choice: [16, 0]}\n", "job.yaml:5:26: ", "space.filters",
                 "outside the valid range [1, 1024]");
    EXPECT_ERROR(HEAD GRID "space:\n  activation: {grid: [relu, rleu]}\n", "job.yaml:5:29: ", "space.activation",
                 "'rleu' is not one of", "did you mean 'relu'");
    EXPECT_ERROR(HEAD GRID "space:\n  filters: {choice: [16, 2.5]}\n", "job.yaml:5:26: ", "not a whole number");
    /* both bounds of a range are checked */
    EXPECT_ERROR(HEAD RANDOM "space:\n  learning_rate: {uniform: [0.1, 20]}\n", "job.yaml:5:34: ",
                 "space.learning_rate", "high bound", "outside the valid range [1e-08, 10]");
    EXPECT_ERROR(HEAD RANDOM "space:\n  momentum: {uniform: [-0.5, 0.9]}\n", "job.yaml:5:24: ", "space.momentum",
                 "low bound", "outside the valid range");
}

TEST(missing_required_keys)
{
    EXPECT_ERROR("", "job.yaml:1:1: ", "empty");
    EXPECT_ERROR("# only a comment\n", "job.yaml:1:1: ", "empty");
    EXPECT_ERROR("data: {path: d.h5, train_shards: [0], val_shards: [1]}\n" GRID, "job.yaml:1:1: ",
                 "missing section 'study'");
    EXPECT_ERROR("study: {seed: 1}\n", "job.yaml:1:1: ", "study: missing 'name'");
    EXPECT_ERROR("study: {name: s}\n" GRID, "job.yaml:1:1: ", "missing section 'data'");
    EXPECT_ERROR("study: {name: s}\ndata: {train_shards: [0], val_shards: [1]}\n", "job.yaml:2:1: ",
                 "data: missing 'path'");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d.h5, val_shards: [1]}\n", "job.yaml:2:1: ",
                 "data: missing 'train_shards'");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d.h5, train_shards: [0]}\n", "job.yaml:2:1: ",
                 "data: missing 'val_shards'");
    EXPECT_ERROR(HEAD, "job.yaml:1:1: ", "missing section 'strategy'");
    EXPECT_ERROR(HEAD "strategy: {max_trials: 3}\n", "job.yaml:3:1: ", "strategy: missing 'name'");
    EXPECT_ERROR(HEAD "strategy: {name: random}\n", "job.yaml:3:1: ", "random needs max_trials");
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_epochs: 9}\n", "job.yaml:3:1: ", "asha needs max_trials");
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9}\n", "job.yaml:3:1: ", "asha needs max_epochs");
    EXPECT_ERROR(HEAD RANDOM "objective:\n  type: curves\n", "job.yaml:4:1: ", "type curves needs file");
}

/* Empty texts, and files far beyond what a job holds: refused before libyaml
 * loads them (nesting, entries), duplicates found in file order. */
TEST(empty_values_and_limits)
{
    EXPECT_ERROR("study: {name: \"\"}\n", "job.yaml:1:15: ", "study.name: the value is empty text");
    EXPECT_ERROR("study: {name: s}\ndata: {path: '', train_shards: [0], val_shards: [1]}\n" GRID, "job.yaml:2:14: ",
                 "data.path: the value is empty text");
    EXPECT_ERROR(HEAD RANDOM "output: {dir: \"\"}\n", "job.yaml:4:15: ", "output.dir: the value is empty text");
    char *deep = calloc(4096, 1);
    strcpy(deep, HEAD RANDOM "space: ");
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    EXPECT_ERROR(deep, "job.yaml:4:39: ", "nested more than 32 levels deep");
    free(deep);
    size_t cap = 400000;
    char *many = calloc(cap, 1);
    strcpy(many, HEAD RANDOM "fixed:\n");
    for (int i = 0; i < 10001; i++)
        snprintf(many + strlen(many), cap - strlen(many), "  k%d: 1\n", i);
    EXPECT_ERROR(many, "job.yaml:10005:3: ", "more than 10000 entries in one list or mapping");
    /* within the limit: the first duplicate in file order, naming the first occurrence */
    strcpy(many, HEAD RANDOM "fixed:\n");
    for (int i = 0; i < 5000; i++)
        snprintf(many + strlen(many), cap - strlen(many), "  k%d: 1\n", i);
    strcat(many, "  k7: 2\n  k3: 2\n");
    EXPECT_ERROR(many, "job.yaml:5005:3: ", "fixed: duplicate key 'k7' (first given at line 12)");
    free(many);
    EXPECT_ERROR(HEAD RANDOM "fixed: {epochs: 3, batch_size: 8, epochs: 4}\n", "job.yaml:4:35: ",
                 "duplicate key 'epochs' (first given at line 4)");
}

TEST(shard_errors)
{
    EXPECT_ERROR("study: {name: s}\ndata: {path: d, train_shards: [0, -3], val_shards: [9]}\n", "job.yaml:2:35: ",
                 "data.train_shards", "shard -3 is negative");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d, train_shards: [0, 1, 0], val_shards: [9]}\n",
                 "job.yaml:2:38: ", "shard 0 is listed twice");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d, train_shards: [0, 1], val_shards: [9, 1]}\n",
                 "job.yaml:2:55: ", "data.val_shards", "shard 1 is also in train_shards");
    EXPECT_ERROR("study: {name: s}\ndata: {path: d, train_shards: [], val_shards: [9]}\n", "job.yaml:2:31: ",
                 "data.train_shards", "empty");

    hp_job job;
    if (hp_job_parse(&job, "study: {name: s}\n  # comment\ndata: {path: d.h5, train_shards: [0, 4], val_shards: [12]}\n" GRID,
                     "j.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    EXPECT(hp_job_check_shards(&job, 13) == 0, "shards 0, 4, 12 exist in a 13-shard file: %s", hp_error_message());
    EXPECT(hp_job_check_shards(&job, 12) == -1, "shard 12 does not exist in a 12-shard file");
    const char *msg = hp_error_message();
    EXPECT(strncmp(msg, "j.yaml:3:1: ", 12) == 0 && strstr(msg, "data.val_shards") && strstr(msg, "shard 12") &&
               strstr(msg, "d.h5 has 12 shards"),
           "message: %s", msg);
    EXPECT(hp_job_check_shards(&job, 4) == -1 && strstr(hp_error_message(), "data.train_shards: shard 4"),
           "train shard 4: %s", hp_error_message());
    hp_job_release(&job);
}

TEST(strategy_errors)
{
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, min_epochs: 10, max_epochs: 5}\n", "job.yaml:3:51: ",
                 "min_epochs: 10 is larger than max_epochs 5");
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 9, reduction_factor: 1}\n",
                 "job.yaml:3:72: ", "strategy.reduction_factor", "too small", "2 or more");
    /* min 1, max 8, eta 3: rungs at 1 and 3 epochs -> at most 2 brackets */
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 8, brackets: 3}\n", "job.yaml:3:64: ",
                 "strategy.brackets", "give 2", "brackets <= 2");
    EXPECT_VALID(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 9, brackets: 3}\n");
    EXPECT_ERROR(HEAD "strategy: {name: grid, max_trials: 9}\n", "job.yaml:3:24: ", "strategy.max_trials",
                 "grid runs every point");
    EXPECT_ERROR(HEAD "strategy: {name: tpe, max_trials: 9, repeats: 2}\n", "job.yaml:3:38: ",
                 "strategy.repeats: only used by strategy grid and random");
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 9, repeats: 2}\n", "job.yaml:3:54: ",
                 "strategy.repeats: only used by strategy grid and random");
    EXPECT_ERROR(HEAD "strategy: {name: grid, max_epochs: 9}\n", "job.yaml:3:24: ",
                 "strategy.max_epochs: only used by strategy asha");
    EXPECT_ERROR(HEAD "strategy: {name: random, max_trials: 0}\n", "job.yaml:3:38: ", "too small");
    EXPECT_ERROR(HEAD "strategy: {name: grid, repeats: 600000}\nspace:\n  filters: {grid: [8, 16]}\n",
                 "job.yaml:3:1: ", "2 points x 600000 repeats", "more than 1000000 trials");
    /* grid needs lists */
    EXPECT_ERROR(HEAD GRID "space:\n  filters: {choice: [8, 16]}\n  learning_rate: {uniform: [0.1, 0.5]}\n",
                 "job.yaml:6:3: ", "space.learning_rate", "grid search needs a list of values",
                 "choice", "strategy random");
    /* asha decides the epochs */
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 9}\nspace:\n  epochs: {choice: [1, 2]}\n",
                 "job.yaml:5:3: ", "space.epochs", "asha decides");
    EXPECT_ERROR(HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 9}\nfixed:\n  epochs: 3\n",
                 "job.yaml:5:3: ", "fixed.epochs", "max_epochs");
    /* a parameter cannot be searched and fixed */
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  batch_size: 32\nspace:\n  batch_size: {choice: [16, 64]}\n",
                 "job.yaml:7:3: ", "space.batch_size", "also set in fixed: (line 5)");
    /* objective keys that only curves uses */
    EXPECT_ERROR(HEAD RANDOM "objective: {type: train, file: c.csv}\n", "job.yaml:4:26: ", "objective.file",
                 "type: curves");
    EXPECT_ERROR(HEAD RANDOM "objective: {type: replay}\n", "job.yaml:4:19: ", "objective.type", "train, curves");
    EXPECT_ERROR(HEAD RANDOM "output: {keep: best}\n", "job.yaml:4:16: ", "output.keep",
                 "last, last_and_best, all");
    EXPECT_ERROR(HEAD RANDOM "output: {checkpoint_every: 0}\n", "job.yaml:4:28: ", "output.checkpoint_every",
                 "too small");
}

TEST(yaml_syntax_errors)
{
    const char *msg = parse_error("study: {name: s\ndata: x\n");
    EXPECT(msg && strstr(msg, "job.yaml:") == msg && strstr(msg, "YAML syntax error"), "unclosed flow: %s", msg);
    /* line 3 "  bad" is indented deeper than the mapping at line 2 expects */
    EXPECT_ERROR("study:\n  name: s\n seed: 3\n", "job.yaml:3:", "YAML syntax error");
    EXPECT_ERROR("study:\n\tname: s\n", "job.yaml:2:1: ", "YAML syntax error", "tabs");
    EXPECT_ERROR("study: {name: s}\n---\nstudy: {name: t}\n", "job.yaml:2:1: ", "second YAML document");
    EXPECT_ERROR("study: {name: s}\nx: \"\x01\"\n", "job.yaml:2:5: ", "not valid YAML text");
}

TEST(unreadable_files)
{
    hp_job job;
    EXPECT(hp_job_load(&job, "/nonexistent-dir/job.yaml") == -1, "a missing file loads");
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, "/nonexistent-dir/job.yaml: cannot read the job file") == msg &&
               strstr(msg, "No such file"),
           "message: %s", msg);
    EXPECT(hp_job_load(&job, "/") == -1, "a directory loads");
    EXPECT(strstr(hp_error_message(), "/: cannot read the job file") == hp_error_message(), "message: %s",
           hp_error_message());
}

/* Every prefix and many one-byte corruptions of a good job either parse or
 * fail with a located message; none crashes (run under SANITIZE=1). */
TEST(damaged_jobs_fail_cleanly)
{
    size_t len = strlen(full_job);
    char *text = calloc(len + 1, 1);
    static const char replacements[] = {':', '[', ']', '{', '}', '-', ' ', '\t', '\n', '#', '"', '0', 'x', '&', '*'};
    int bad = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        memcpy(text, full_job, cut);
        text[cut] = '\0';
        const char *msg = parse_error(text);
        if (msg && strncmp(msg, "job.yaml:", 9) != 0 && bad++ < 5)
            EXPECT(0, "prefix of %zu bytes: message without location: %s", cut, msg);
    }
    for (size_t at = 0; at < len; at += 3)
        for (size_t r = 0; r < sizeof replacements; r++) {
            memcpy(text, full_job, len + 1);
            text[at] = replacements[r];
            const char *msg = parse_error(text);
            if (msg && strncmp(msg, "job.yaml:", 9) != 0 && bad++ < 5)
                EXPECT(0, "byte %zu -> '%c': message without location: %s", at, replacements[r], msg);
        }
    free(text);
}

/* Hand-worked 2 x 3 grid: filters [16, 32] x learning_rate [0.1, 0.01, 0.001], 2 repeats. */
TEST(grid_order_and_count)
{
    hp_job job;
    const char *text = HEAD "strategy: {name: grid, repeats: 2}\n"
                            "space:\n"
                            "  filters: {grid: [16, 32]}\n"
                            "  learning_rate: {choice: [0.1, 0.01, 0.001]}\n"
                            "fixed: {batch_size: 16}\n";
    if (hp_job_parse(&job, text, "job.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    EXPECT(hp_space_grid_size(&job) == 6, "grid size %ld", hp_space_grid_size(&job));
    EXPECT(job.max_trials == 12, "max_trials = 6 points x 2 repeats, got %d", job.max_trials);
    static const int filters[6] = {16, 16, 16, 32, 32, 32};
    static const float rates[6] = {0.1f, 0.01f, 0.001f, 0.1f, 0.01f, 0.001f};
    int seeds[12];
    for (int t = 0; t < 12; t++) {
        hp_config c;
        hp_job_trial_config(&job, t, &c);
        EXPECT(c.filters == filters[t % 6] && c.learning_rate == rates[t % 6], "trial %d: filters %d lr %g", t,
               c.filters, c.learning_rate);
        EXPECT(c.batch_size == 16 && c.epochs == 10, "trial %d: fixed batch_size and default epochs", t);
        seeds[t] = c.seed;
    }
    for (int t = 0; t < 6; t++)
        EXPECT(seeds[t] != seeds[t + 6], "repeat %d has the same seed as trial %d", t + 6, t);
    hp_job_release(&job);

    /* A continuous parameter makes the grid size 0 (random strategy accepts it). */
    if (hp_job_parse(&job, HEAD RANDOM "space:\n  filters: {grid: [16, 32]}\n  momentum: {uniform: [0, 0.9]}\n",
                     "job.yaml") == 0) {
        EXPECT(hp_space_grid_size(&job) == 0, "grid size with a continuous parameter %ld", hp_space_grid_size(&job));
        hp_job_release(&job);
    } else {
        EXPECT(0, "%s", hp_error_message());
    }
}

/* The seed derivation documented in space.c: two splitmix64 steps, top 31 bits. */
static int expected_trial_seed(uint64_t study_seed, int trial)
{
    uint64_t state = study_seed;
    uint64_t a = hp_splitmix64(&state);
    state = a ^ (uint64_t)(uint32_t)trial;
    return (int)(hp_splitmix64(&state) >> 33);
}

TEST(random_sampling_follows_the_documented_draws)
{
    hp_job job;
    const char *text = "study: {name: s, seed: 42}\n"
                       "data: {path: d, train_shards: [0], val_shards: [1]}\n" RANDOM
                       "space:\n"
                       "  learning_rate: {uniform: [0.01, 0.5]}\n"
                       "  optimizer: {choice: [adamw, sgd, rmsprop]}\n"
                       "  head_units: {randint: [10, 20]}\n"
                       "  weight_decay: {loguniform: [1e-6, 1e-2]}\n";
    if (hp_job_parse(&job, text, "job.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    static const int optimizer_of_choice[3] = {HP_OPT_ADAMW, HP_OPT_SGD, HP_OPT_RMSPROP};
    for (int t = 0; t < 20; t++) {
        hp_rng r;
        hp_rng_seed_for(&r, 42, (uint64_t)t, HP_STREAM_SAMPLE);
        double lr = 0.01 + hp_rng_uniform(&r) * (0.5 - 0.01);
        int opt = optimizer_of_choice[hp_rng_below(&r, 3)];
        int units = 10 + (int)hp_rng_below(&r, 11);
        double wd = exp(log(1e-6) + hp_rng_uniform(&r) * (log(1e-2) - log(1e-6)));
        hp_config c;
        hp_job_trial_config(&job, t, &c);
        EXPECT(c.learning_rate == (float)lr, "trial %d lr %.9g vs %.9g", t, c.learning_rate, lr);
        EXPECT(c.optimizer == opt, "trial %d optimizer %d vs %d", t, c.optimizer, opt);
        EXPECT(c.head_units == units, "trial %d head_units %d vs %d", t, c.head_units, units);
        EXPECT(c.weight_decay == (float)wd, "trial %d weight_decay %.9g vs %.9g", t, c.weight_decay, wd);
        EXPECT(c.seed == expected_trial_seed(42, t), "trial %d seed %d", t, c.seed);
        EXPECT(c.epochs == 10, "random trials train fixed.epochs (default 10), got %d", c.epochs);
    }
    hp_job_release(&job);
}

TEST(random_sampling_reproducible_and_varied)
{
    const char *text = "study: {name: s, seed: 7}\n"
                       "data: {path: d, train_shards: [0], val_shards: [1]}\n" RANDOM
                       "space:\n"
                       "  learning_rate: {loguniform: [1e-4, 1]}\n"
                       "  momentum: {uniform: [0.1, 0.9], step: 0.2}\n"
                       "  kernel_size: {randint: [2, 5]}\n"
                       "  head_units: {randint: [16, 100], step: 16}\n"
                       "  filters: {loguniform: [8, 64], step: 8}\n"
                       "  activation: {choice: [tanh, relu]}\n"
                       "fixed: {batch_size: 99, optimizer: sgd}\n";
    hp_job a, b;
    if (hp_job_parse(&a, text, "job.yaml") != 0 || hp_job_parse(&b, text, "other.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    enum { N = 3000 };
    int below_hundredth = 0, distinct_seeds = 1, prev_seed = -1;
    int momentum_hits[5] = {0}, kernel_hits[6] = {0}, units_hits[7] = {0}, act_hits[5] = {0};
    for (int t = 0; t < N; t++) {
        hp_config c, d;
        hp_job_trial_config(&a, t, &c);
        hp_job_trial_config(&b, t, &d);
        EXPECT(memcmp(&c, &d, sizeof c) == 0, "trial %d differs between two parses of the same job", t);
        if (t < 50) {
            hp_config again;
            hp_job_trial_config(&a, t, &again);
            EXPECT(memcmp(&c, &again, sizeof c) == 0, "trial %d not deterministic", t);
        }
        EXPECT(c.learning_rate >= 1e-4f && c.learning_rate <= 1.0f, "lr %g out of bounds", c.learning_rate);
        below_hundredth += c.learning_rate < 0.01f;
        /* momentum on the lattice 0.1 + k*0.2, k = 0..4 */
        double k = (c.momentum - 0.1) / 0.2;
        int ki = (int)lround(k);
        EXPECT(fabs(k - ki) < 1e-5 && ki >= 0 && ki <= 4, "momentum %.9g off the lattice", c.momentum);
        if (ki >= 0 && ki <= 4)
            momentum_hits[ki]++;
        EXPECT(c.kernel_size >= 2 && c.kernel_size <= 5, "kernel %d", c.kernel_size);
        if (c.kernel_size >= 0 && c.kernel_size <= 5)
            kernel_hits[c.kernel_size]++;
        /* head_units on 16 + k*16 <= 100: 16, 32, 48, 64, 80, 96 */
        EXPECT((c.head_units - 16) % 16 == 0 && c.head_units >= 16 && c.head_units <= 96, "units %d",
               c.head_units);
        if ((c.head_units - 16) % 16 == 0 && c.head_units >= 16 && c.head_units <= 112)
            units_hits[(c.head_units - 16) / 16]++;
        EXPECT(c.filters % 8 == 0 && c.filters >= 8 && c.filters <= 64, "filters %d", c.filters);
        EXPECT(c.activation == HP_ACT_TANH || c.activation == HP_ACT_RELU, "activation %d", c.activation);
        if (c.activation >= 0 && c.activation < 5)
            act_hits[c.activation]++;
        EXPECT(c.batch_size == 99 && c.optimizer == HP_OPT_SGD, "fixed values apply");
        EXPECT(c.num_blocks == 3 && c.pool_size == 2, "other keys keep their defaults");
        EXPECT(c.seed >= 0, "seed %d negative", c.seed);
        distinct_seeds += t > 0 && c.seed != prev_seed;
        prev_seed = c.seed;
    }
    /* loguniform over 4 decades: half the mass is below 1e-2 (binomial sd ~ 0.009) */
    EXPECT(fabs(below_hundredth / (double)N - 0.5) < 0.05, "loguniform fraction below 1e-2: %g",
           below_hundredth / (double)N);
    /* the inner lattice points of the rounded uniform get twice the mass of the ends */
    for (int i = 0; i < 5; i++)
        EXPECT(momentum_hits[i] > 0, "momentum lattice point %d never drawn", i);
    EXPECT(fabs(momentum_hits[2] / (double)N - 0.25) < 0.04, "middle lattice point share %g",
           momentum_hits[2] / (double)N);
    for (int v = 2; v <= 5; v++)
        EXPECT(kernel_hits[v] > N / 8, "randint inclusive: %d drawn %d times", v, kernel_hits[v]);
    for (int i = 0; i < 6; i++)
        EXPECT(units_hits[i] > N / 12, "randint step value %d drawn %d times", 16 + 16 * i, units_hits[i]);
    EXPECT(act_hits[HP_ACT_TANH] > N / 3 && act_hits[HP_ACT_RELU] > N / 3, "choice indices %d %d",
           act_hits[HP_ACT_TANH], act_hits[HP_ACT_RELU]);
    EXPECT(distinct_seeds > N - 5, "trial seeds vary: %d changes in %d", distinct_seeds, N);

    /* Different trial ids give different configurations; a different study seed too. */
    hp_config c0, c1;
    hp_job_trial_config(&a, 0, &c0);
    hp_job_trial_config(&a, 1, &c1);
    EXPECT(c0.learning_rate != c1.learning_rate, "trials 0 and 1 share a learning rate");
    a.seed = 8;
    hp_config c0_other;
    hp_job_trial_config(&a, 0, &c0_other);
    EXPECT(c0_other.learning_rate != c0.learning_rate && c0_other.seed != c0.seed, "study seed changes trial 0");
    hp_job_release(&a);
    hp_job_release(&b);
}

TEST(asha_trials_train_to_max_epochs)
{
    hp_job job;
    if (hp_job_parse(&job, HEAD "strategy: {name: asha, max_trials: 9, max_epochs: 27}\n"
                               "space:\n  learning_rate: {loguniform: [1e-4, 1e-1]}\n", "job.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    hp_config c;
    hp_job_trial_config(&job, 3, &c);
    EXPECT(c.epochs == 27, "asha config epochs %d", c.epochs);
    EXPECT(c.learning_rate >= 1e-4f && c.learning_rate <= 1e-1f, "lr %g", c.learning_rate);
    hp_job_release(&job);
}

/* Under random/asha, `grid:` parameters are enumerated in trial order (last
 * fastest) and draw nothing, while `choice` parameters are sampled from the
 * trial's stream as if the grid parameters were not there. */
TEST(grid_parameters_are_enumerated_under_asha)
{
    hp_job job;
    if (hp_job_parse(&job, HEAD "strategy: {name: asha, max_trials: 12, max_epochs: 9}\n"
                               "space:\n"
                               "  learning_rate: {grid: [0.1, 0.01, 0.001]}\n"
                               "  filters: {choice: [8, 16, 32, 64]}\n"
                               "  activation: {grid: [relu, tanh]}\n", "job.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    static const float lr[3] = {0.1f, 0.01f, 0.001f};
    static const int act[2] = {HP_ACT_RELU, HP_ACT_TANH};
    static const int filters[4] = {8, 16, 32, 64};
    for (int t = 0; t < 12; t++) {
        hp_config c;
        hp_job_trial_config(&job, t, &c);
        /* grid of (learning_rate, activation): 6 points, activation fastest */
        EXPECT(c.learning_rate == lr[(t / 2) % 3], "trial %d lr %g", t, c.learning_rate);
        EXPECT(c.activation == act[t % 2], "trial %d activation %d", t, c.activation);
        hp_rng r;
        hp_rng_seed_for(&r, 0, (uint64_t)t, HP_STREAM_SAMPLE);
        int f = filters[hp_rng_below(&r, 4)];
        EXPECT(c.filters == f, "trial %d filters %d, expected %d from the first draw", t, c.filters, f);
    }
    hp_job_release(&job);
}

/* fixed.seed gives every trial that seed; without it seeds differ per trial. */
TEST(fixed_seed_applies_to_every_trial)
{
    hp_job job;
    if (hp_job_parse(&job, HEAD "strategy: {name: random, max_trials: 3}\n"
                               "space:\n  learning_rate: {loguniform: [1e-4, 1e-1]}\nfixed: {seed: 1234}\n",
                     "job.yaml") != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    for (int t = 0; t < 3; t++) {
        hp_config c;
        hp_job_trial_config(&job, t, &c);
        EXPECT(c.seed == 1234, "trial %d seed %d", t, c.seed);
    }
    hp_job_release(&job);
}

/* fixed: filters: [..] gives each conv block its filters (block<b>_filters). */
TEST(per_block_filter_lists)
{
    hp_job job;
    const char *text = HEAD RANDOM "fixed:\n  num_blocks: 3\n  filters: [16, 40, 7]\n";
    EXPECT(hp_job_parse(&job, text, "job.yaml") == 0, "%s", hp_error_message());
    EXPECT(job.fixed.block_filters[0] == 16 && job.fixed.block_filters[1] == 40 && job.fixed.block_filters[2] == 7 &&
               job.fixed.block_filters[3] == 0 && job.fixed.filters == 16,
           "blocks %d %d %d %d, filters %d", job.fixed.block_filters[0], job.fixed.block_filters[1],
           job.fixed.block_filters[2], job.fixed.block_filters[3], job.fixed.filters);
    EXPECT(hp_config_block_filters(&job.fixed, 1) == 40 && hp_config_block_filters(&job.fixed, 2) == 7,
           "the network's blocks follow the list");
    hp_job_release(&job);
    /* num_blocks after the list, and its default (3) */
    EXPECT_VALID(HEAD RANDOM "fixed:\n  filters: [8, 8]\n  num_blocks: 2\n");
    EXPECT_VALID(HEAD RANDOM "fixed: {filters: [8, 16, 32]}\n");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  num_blocks: 3\n  filters: [32, 64]\n", "job.yaml:6:12: ", "fixed.filters",
                 "2 values for num_blocks: 3", "one value per block");
    EXPECT_ERROR(HEAD RANDOM "fixed: {filters: [32, 64, 128, 256]}\n", "job.yaml:4:18: ", "4 values for num_blocks: 3");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [32, 0, 64]\n", "job.yaml:5:17: ", "fixed.filters[1]",
                 "outside the valid range");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [32, many, 64]\n", "job.yaml:5:17: ", "fixed.filters[1]");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [32, 64, 64]\n  filter_growth: true\n", "job.yaml:5:12: ",
                 "remove filter_growth");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [32, 64, 64]\nspace:\n  num_blocks: {choice: [2, 3]}\n",
                 "job.yaml:5:12: ", "num_blocks cannot be searched");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [32, 64, 64]\nspace:\n  block2_filters: {choice: [8, 16]}\n",
                 "job.yaml:7:3: ", "space.block2_filters", "also set in fixed: (line 5)");
    EXPECT_ERROR(HEAD RANDOM "fixed:\n  filters: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n", "job.yaml:5:12: ", "9 values");
    /* searching a block's filters directly */
    EXPECT_VALID(HEAD RANDOM "fixed: {num_blocks: 2}\nspace:\n  block2_filters: {choice: [8, 16]}\n");
}

int main(void)
{
    RUN(full_job_parses_every_section);
    RUN(defaults_of_a_minimal_job);
    RUN(metric_modes);
    RUN(curves_path_resolution);
    RUN(unknown_keys_suggest_the_closest);
    RUN(wrong_types);
    RUN(space_errors);
    RUN(values_outside_their_range);
    RUN(missing_required_keys);
    RUN(empty_values_and_limits);
    RUN(shard_errors);
    RUN(strategy_errors);
    RUN(yaml_syntax_errors);
    RUN(unreadable_files);
    RUN(damaged_jobs_fail_cleanly);
    RUN(grid_order_and_count);
    RUN(random_sampling_follows_the_documented_draws);
    RUN(random_sampling_reproducible_and_varied);
    RUN(asha_trials_train_to_max_epochs);
    RUN(grid_parameters_are_enumerated_under_asha);
    RUN(fixed_seed_applies_to_every_trial);
    RUN(per_block_filter_lists);
    return testlib_finish();
}
