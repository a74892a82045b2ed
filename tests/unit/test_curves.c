/* test_curves.c - the replay CSV: exact lookups, value normalisation, and one
 * file:line message per error class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curves.h"
#include "job.h"
#include "error.h"
#include "testlib.h"

static char temp_dir[64];

/* The curves of a job's space and metric. */
static int load_for_job(hp_curves **c, const char *path, const hp_job *job)
{
    return hp_curves_load(c, path, job->params, job->n_params, job->metric, job->path);
}

static const char *write_temp(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        printf("cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

/* A job with space {learning_rate: choice [0.001, 0.01], optimizer: choice [adam, sgd]},
 * metric val_accuracy. */
typedef struct test_job {
    hp_job job;
    hp_param params[2];
    double lr_values[2], opt_values[2];
} test_job;

static void make_job(test_job *tj)
{
    memset(tj, 0, sizeof *tj);
    tj->lr_values[0] = 0.001;
    tj->lr_values[1] = 0.01;
    tj->opt_values[0] = 1; /* adam */
    tj->opt_values[1] = 0; /* sgd */
    tj->params[0] = (hp_param){.key = hp_config_find_key("learning_rate"), .dist = HP_DIST_CHOICE,
                               .n_values = 2, .values = tj->lr_values, .line = 7, .column = 5};
    tj->params[1] = (hp_param){.key = hp_config_find_key("optimizer"), .dist = HP_DIST_GRID,
                               .n_values = 2, .values = tj->opt_values, .line = 8, .column = 5};
    tj->job.path = "jobs/replay.yaml";
    tj->job.metric = HP_METRIC_VAL_ACCURACY;
    tj->job.maximize = 1;
    tj->job.n_params = 2;
    tj->job.params = tj->params;
    hp_config_defaults(&tj->job.fixed);
}

static void set_config(hp_config *c, const char *lr_text, const char *optimizer)
{
    hp_config_defaults(c);
    if (hp_config_apply_assignment(c, lr_text) != 0 || hp_config_apply_assignment(c, optimizer) != 0) {
        printf("bad assignment: %s\n", hp_error_message());
        exit(1);
    }
}

static const char *good_csv =
    "# replay table for the test\n"                       /* 1 */
    "\n"                                                  /* 2 */
    " learning_rate , optimizer,epoch, val_accuracy, val_loss, notes\n" /* 3 */
    "0.001, adam, 1, 0.40, 1.60, first\n"                 /* 4 */
    "1e-3 , adam, 2, 0.50, 1.40, second\r\n"              /* 5 */
    "   # an indented comment\n"                          /* 6 */
    "0.01,\tsgd, 2, 0.35, 1.90, x\n"                      /* 7 */
    "0.01, sgd, 1, 0.30, 2.00, y\n"                       /* 8 */
    "0.010, adam, 1, 0.10, nan, diverged\n";              /* 9 */

TEST(lookups_exact)
{
    test_job tj;
    make_job(&tj);
    hp_curves *c = NULL;
    const char *path = write_temp("good.csv", good_csv);
    EXPECT(load_for_job(&c, path, &tj.job) == 0, "load: %s", hp_error_message());
    if (!c)
        return;
    hp_config cfg;
    double v = -1;
    set_config(&cfg, "learning_rate=0.001", "optimizer=adam");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.40, "adam e1 acc %g", v);
    EXPECT(hp_curves_lookup(c, &cfg, 2, HP_METRIC_VAL_LOSS, &v) == 0 && v == 1.40, "adam e2 loss %g", v);
    /* Rows listed out of epoch order. */
    set_config(&cfg, "learning_rate=0.01", "optimizer=sgd");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.30, "sgd e1 %g", v);
    EXPECT(hp_curves_lookup(c, &cfg, 2, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.35, "sgd e2 %g", v);
    /* nan is a value (a diverged run). */
    set_config(&cfg, "learning_rate=0.01", "optimizer=adam");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_LOSS, &v) == 0 && isnan(v), "nan loss %g", v);

    /* Missing epoch, configuration, metric column. */
    set_config(&cfg, "learning_rate=0.001", "optimizer=adam");
    hp_error_clear();
    EXPECT(hp_curves_lookup(c, &cfg, 3, HP_METRIC_VAL_ACCURACY, &v) == -1 &&
               strstr(hp_error_message(), path) && strstr(hp_error_message(), "epoch 3"),
           "epoch 3: '%s'", hp_error_message());
    EXPECT(hp_curves_lookup(c, &cfg, 0, HP_METRIC_VAL_ACCURACY, &v) == -1, "epoch 0");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_F1, &v) == -1 &&
               strstr(hp_error_message(), "val_f1"), "no val_f1 column: '%s'", hp_error_message());
    set_config(&cfg, "learning_rate=0.1", "optimizer=adam");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_ACCURACY, &v) == -1 &&
               strstr(hp_error_message(), "learning_rate=0.1, optimizer=adam"),
           "missing configuration: '%s'", hp_error_message());
    /* Parameters outside the space do not matter for the match. */
    set_config(&cfg, "learning_rate=0.001", "optimizer=adam");
    cfg.filters = 999;
    EXPECT(hp_curves_lookup(c, &cfg, 2, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.50, "fixed ignored");
    hp_curves_free(c);
}

/* 0.001 in the file matches a configuration written as 1e-3, and the reverse. */
TEST(notation_normalised)
{
    test_job tj;
    make_job(&tj);
    hp_curves *c = NULL;
    const char *path = write_temp("notation.csv",
                                  "learning_rate,optimizer,epoch,val_accuracy\n"
                                  "1e-3,sgd,1,0.25\n"
                                  "0.0100,sgd,1,0.75\n");
    EXPECT(load_for_job(&c, path, &tj.job) == 0, "load: %s", hp_error_message());
    if (!c)
        return;
    hp_config cfg;
    double v = -1;
    set_config(&cfg, "learning_rate=0.001", "optimizer=sgd");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.25, "1e-3 row: %g", v);
    set_config(&cfg, "learning_rate=1e-2", "optimizer=sgd");
    EXPECT(hp_curves_lookup(c, &cfg, 1, HP_METRIC_VAL_ACCURACY, &v) == 0 && v == 0.75, "0.0100 row: %g", v);
    hp_curves_free(c);
}

/* Many configurations: every lookup finds its own row (hash table growth). */
TEST(many_configurations)
{
    enum { N_FILTERS = 600, EPOCHS = 3 };
    static double filter_values[N_FILTERS];
    hp_param param = {.key = hp_config_find_key("filters"), .dist = HP_DIST_CHOICE,
                      .n_values = N_FILTERS, .values = filter_values, .line = 3, .column = 3};
    for (int i = 0; i < N_FILTERS; i++)
        filter_values[i] = i + 1;
    hp_job job = {.path = "jobs/many.yaml", .metric = HP_METRIC_VAL_LOSS, .n_params = 1, .params = &param};
    size_t cap = 64 + (size_t)N_FILTERS * EPOCHS * 40, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "epoch,filters,val_loss\n");
    for (int e = EPOCHS; e >= 1; e--)
        for (int f = 1; f <= N_FILTERS; f++)
            len += (size_t)snprintf(text + len, cap - len, "%d,%d,%d.%d\n", e, f, f, e);
    const char *path = write_temp("many.csv", text);
    free(text);
    hp_curves *c = NULL;
    EXPECT(load_for_job(&c, path, &job) == 0, "load: %s", hp_error_message());
    if (!c)
        return;
    int wrong = 0;
    for (int f = 1; f <= N_FILTERS; f++)
        for (int e = 1; e <= EPOCHS; e++) {
            hp_config cfg;
            hp_config_defaults(&cfg);
            cfg.filters = f;
            char want_text[32]; /* the value as written in the file */
            snprintf(want_text, sizeof want_text, "%d.%d", f, e);
            double v = -1, want = strtod(want_text, NULL);
            wrong += hp_curves_lookup(c, &cfg, e, HP_METRIC_VAL_LOSS, &v) != 0 || v != want;
        }
    EXPECT(wrong == 0, "%d wrong lookups", wrong);
    hp_curves_free(c);
}

/* Load must fail and the message must contain every given fragment. */
#define EXPECT_LOAD_ERROR(job, name, text, frag1, frag2)                                           \
    do {                                                                                           \
        const char *path_ = write_temp((name), (text));                                            \
        hp_curves *c_ = NULL;                                                                      \
        hp_error_clear();                                                                          \
        int rc_ = load_for_job(&c_, path_, (job));                                               \
        const char *msg_ = hp_error_message();                                                     \
        EXPECT(rc_ == -1 && c_ == NULL && strstr(msg_, (frag1)) && strstr(msg_, (frag2)),          \
               "%s: rc %d, message '%s' (want '%s' and '%s')", (name), rc_, msg_, (frag1), (frag2)); \
        hp_curves_free(c_);                                                                        \
    } while (0)

TEST(error_messages_name_file_and_line)
{
    test_job tj;
    make_job(&tj);
    hp_job *job = &tj.job;
    char where[300];
#define AT(name, line) (snprintf(where, sizeof where, "%s/%s:%d:", temp_dir, (name), (line)), where)
    EXPECT_LOAD_ERROR(job, "no_param.csv", "learning_rate,epoch,val_accuracy\n0.01,1,0.5\n",
                      AT("no_param.csv", 1), "optimizer");
    EXPECT_LOAD_ERROR(job, "no_epoch.csv", "# c\nlearning_rate,optimizer,val_accuracy\n0.01,sgd,0.5\n",
                      AT("no_epoch.csv", 2), "'epoch'");
    EXPECT_LOAD_ERROR(job, "no_metric.csv", "learning_rate,optimizer,epoch,val_loss\n0.01,sgd,1,0.5\n",
                      AT("no_metric.csv", 1), "val_accuracy");
    EXPECT_LOAD_ERROR(job, "bad_metric.csv",
                      "learning_rate,optimizer,epoch,val_accuracy\n\n# c\n0.01,sgd,1,0.5\n0.01,sgd,2,high\n",
                      AT("bad_metric.csv", 5), "'high' is not a number");
    EXPECT_LOAD_ERROR(job, "empty_metric.csv", "learning_rate,optimizer,epoch,val_accuracy\n0.01,sgd,1,\n",
                      AT("empty_metric.csv", 2), "val_accuracy");
    EXPECT_LOAD_ERROR(job, "bad_lr.csv", "learning_rate,optimizer,epoch,val_accuracy\nfast,sgd,1,0.5\n",
                      AT("bad_lr.csv", 2), "learning_rate");
    EXPECT_LOAD_ERROR(job, "bad_enum.csv", "learning_rate,optimizer,epoch,val_accuracy\n0.01,adamm,1,0.5\n",
                      AT("bad_enum.csv", 2), "adamm");
    EXPECT_LOAD_ERROR(job, "bad_epoch.csv", "learning_rate,optimizer,epoch,val_accuracy\n0.01,sgd,1.5,0.5\n",
                      AT("bad_epoch.csv", 2), "epoch '1.5'");
    EXPECT_LOAD_ERROR(job, "zero_epoch.csv", "learning_rate,optimizer,epoch,val_accuracy\n0.01,sgd,0,0.5\n",
                      AT("zero_epoch.csv", 2), "epoch '0'");
    EXPECT_LOAD_ERROR(job, "duplicate.csv",
                      "learning_rate,optimizer,epoch,val_accuracy\n0.001,adam,1,0.5\n1e-3,adam,1,0.6\n",
                      AT("duplicate.csv", 3), "first is at line 2");
    EXPECT_LOAD_ERROR(job, "fields.csv", "learning_rate,optimizer,epoch,val_accuracy\n0.01,sgd,1\n",
                      AT("fields.csv", 2), "3 fields");
    EXPECT_LOAD_ERROR(job, "gap.csv",
                      "learning_rate,optimizer,epoch,val_accuracy\n0.01,sgd,1,0.5\n0.01,sgd,3,0.6\n",
                      AT("gap.csv", 2), "epoch 2");
    EXPECT_LOAD_ERROR(job, "dup_column.csv", "learning_rate,optimizer,epoch,epoch,val_accuracy\n",
                      AT("dup_column.csv", 1), "twice");
    snprintf(where, sizeof where, "%s/%s:", temp_dir, "comments.csv");
    EXPECT_LOAD_ERROR(job, "comments.csv", "# only a comment\n\n", where, "no header");
    snprintf(where, sizeof where, "%s/%s:", temp_dir, "header_only.csv");
    EXPECT_LOAD_ERROR(job, "header_only.csv", "learning_rate,optimizer,epoch,val_accuracy\n", where,
                      "no data rows");
#undef AT

    /* A continuous space parameter: the message names the job file's line:column. */
    tj.params[0].dist = HP_DIST_LOGUNIFORM;
    EXPECT_LOAD_ERROR(job, "continuous.csv", good_csv, "jobs/replay.yaml:7:5: space.learning_rate",
                      "loguniform");
    tj.params[0].dist = HP_DIST_CHOICE;

    /* A file that does not exist. */
    hp_curves *c = NULL;
    hp_error_clear();
    EXPECT(load_for_job(&c, "/nonexistent/curves.csv", job) == -1 && c == NULL &&
               strstr(hp_error_message(), "/nonexistent/curves.csv"),
           "missing file: '%s'", hp_error_message());
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/test_curves_XXXXXX");
    if (!mkdtemp(temp_dir)) {
        printf("FAIL setup: cannot create a temporary folder\n");
        return 1;
    }
    RUN(lookups_exact);
    RUN(notation_normalised);
    RUN(many_configurations);
    RUN(error_messages_name_file_and_line);
    int status = testlib_finish();
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", temp_dir);
    if (system(command) != 0)
        printf("note: could not remove %s\n", temp_dir);
    return status;
}
