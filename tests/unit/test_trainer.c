/* test_trainer.c - an interrupted, checkpointed and restored run equals a
 * straight run bit for bit, wherever the interruption lands. */
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "error.h"
#include "testlib.h"
#include "trainer.h"

static void make_dataset(hp_dataset *ds, int n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->images = hp_xcalloc((size_t)n, HP_IMAGE_BYTES);
    ds->labels = hp_xcalloc((size_t)n, 1);
    hp_rng r;
    hp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        ds->labels[i] = (uint8_t)(i % HP_NUM_CLASSES);
        for (int k = 0; k < HP_IMAGE_BYTES; k++)
            ds->images[(size_t)i * HP_IMAGE_BYTES + k] = (uint8_t)(ds->labels[i] * 20 + hp_rng_below(&r, 60));
    }
    for (int c = 0; c < 3; c++) {
        ds->mean[c] = 0.4f;
        ds->std[c] = 0.25f;
    }
}

/* Every piece of state: batch norm, dropout, augmentation, a schedule. */
static void small_config(hp_config *c)
{
    hp_config_defaults(c);
    c->num_blocks = 2;
    c->filters = 4;
    c->head_units = 8;
    c->batch_size = 16;
    c->epochs = 3;
    c->batch_norm = 1;
    c->augment_crop = 2;
    c->augment_flip = 0.5f;
    c->lr_schedule = HP_SCHED_COSINE;
    c->seed = 7;
}

typedef struct countdown {
    int calls, stop_at;
} countdown;

static int stop_after(void *ctx)
{
    countdown *cd = ctx;
    return ++cd->calls >= cd->stop_at;
}

static int same_state(const hp_trainer *a, const hp_trainer *b)
{
    return a->net.n_params == b->net.n_params &&
           !memcmp(a->net.params, b->net.params, a->net.n_params * sizeof(float)) &&
           !memcmp(a->net.opt_m, b->net.opt_m, a->net.n_params * sizeof(float)) &&
           !memcmp(a->net.opt_v, b->net.opt_v, a->net.n_params * sizeof(float)) &&
           !memcmp(a->net.bn_state, b->net.bn_state, a->net.n_bn_state * sizeof(float)) &&
           !memcmp(&a->shuffle_rng, &b->shuffle_rng, sizeof a->shuffle_rng) &&
           !memcmp(&a->dropout_rng, &b->dropout_rng, sizeof a->dropout_rng) &&
           !memcmp(&a->augment_rng, &b->augment_rng, sizeof a->augment_rng) && a->step == b->step;
}

static int same_metrics(const hp_epoch_metrics *a, const hp_epoch_metrics *b)
{
    return a->epoch == b->epoch && a->train_loss == b->train_loss && a->train_accuracy == b->train_accuracy &&
           a->val_loss == b->val_loss && a->val_accuracy == b->val_accuracy && a->val_f1 == b->val_f1 &&
           !memcmp(a->confusion, b->confusion, sizeof a->confusion);
}

/* The stop callback is asked before each epoch and between batches: stop at
 * the k-th question for every k (epoch starts and ends included), save,
 * restore into a new trainer, finish, compare with the straight run. */
static void interrupt_anywhere(const hp_config *config)
{
    hp_dataset train, val;
    make_dataset(&train, 72, 1); /* 5 batches of 16, the last one partial */
    make_dataset(&val, 20, 2);
    hp_config c = *config;
    hp_trainer straight;
    if (hp_trainer_init(&straight, &c, &train, &val) != 0) {
        EXPECT(0, "%s", hp_error_message());
        return;
    }
    hp_epoch_metrics m;
    while (straight.epoch < c.epochs)
        EXPECT(hp_trainer_run_epoch(&straight, &m) == 0, "straight run: %s", hp_error_message());
    char path[] = "/tmp/hptune-test-trainer-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int questions = c.epochs * hp_trainer_steps_per_epoch(&straight); /* about one per batch */
    for (int k = 1; k <= questions; k++) {
        hp_trainer a, b;
        countdown cd = {0, k};
        hp_trainer_init(&a, &c, &train, &val);
        a.should_stop = stop_after;
        a.stop_ctx = &cd;
        int rc = 0;
        while (a.epoch < c.epochs && (rc = hp_trainer_run_epoch(&a, &m)) == 0)
            ;
        EXPECT(rc == 1, "k=%d: the run was not interrupted", k);
        EXPECT(hp_checkpoint_save(&a, 0, path) == 0, "k=%d: %s", k, hp_error_message());
        hp_trainer_init(&b, &c, &train, &val);
        EXPECT(hp_checkpoint_load(&b, path) == 0, "k=%d: %s", k, hp_error_message());
        int stopped_epoch = b.epoch, stopped_batch = b.batch_in_epoch;
        while (b.epoch < c.epochs)
            EXPECT(hp_trainer_run_epoch(&b, &m) == 0, "k=%d: %s", k, hp_error_message());
        EXPECT(same_state(&straight, &b), "k=%d (stopped at epoch %d, batch %d): state differs", k,
               stopped_epoch, stopped_batch);
        for (int e = 0; e < c.epochs; e++)
            EXPECT(same_metrics(&straight.history[e], &b.history[e]),
                   "k=%d (stopped at epoch %d, batch %d): metrics of epoch %d differ", k, stopped_epoch,
                   stopped_batch, e + 1);
        hp_trainer_release(&a);
        hp_trainer_release(&b);
    }
    unlink(path);
    hp_trainer_release(&straight);
    hp_dataset_release(&train);
    hp_dataset_release(&val);
}

TEST(interrupt_anywhere_resumes_bit_identically)
{
    hp_config c;
    small_config(&c);
    interrupt_anywhere(&c);
}

/* The model keys of issue 13: residual blocks with projections, global
 * average pooling, batch-norm momentum/epsilon, label smoothing, clipping;
 * and a residual mlp. */
TEST(model_options_resume_bit_identically)
{
    hp_config c;
    small_config(&c);
    c.residual = 1;
    c.convs_per_block = 2;
    c.filter_growth = 1;
    c.stride = 2;
    c.num_blocks = 1;
    c.head_pool = HP_HEAD_GLOBAL_AVG;
    c.bn_momentum = 0.9f;
    c.bn_epsilon = 1e-4f;
    c.label_smoothing = 0.1f;
    c.grad_clip_norm = 0.5f;
    c.augment_rotate = 15.0f;
    c.augment_flip = 0.3f;
    interrupt_anywhere(&c);
    small_config(&c);
    c.model = HP_MODEL_MLP;
    c.residual = 1;
    c.head_layers = 2;
    c.head_dropout = 0.2f;
    interrupt_anywhere(&c);
}

int main(void)
{
    RUN(interrupt_anywhere_resumes_bit_identically);
    RUN(model_options_resume_bit_identically);
    return testlib_finish();
}
