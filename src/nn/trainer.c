/* trainer.c - the epoch loop (see trainer.h). */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "error.h"
#include "metrics.h"
#include "optim.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hp_epoch_metrics_to_row(const hp_epoch_metrics *m, double row[HP_METRIC_COLS])
{
#define HP_X_TO_ROW(id, name, field, selectable, maximize) row[HP_COL_##id] = m->field;
    HP_METRIC_ROW(HP_X_TO_ROW)
#undef HP_X_TO_ROW
}

void hp_epoch_metrics_from_row(hp_epoch_metrics *m, const double row[HP_METRIC_COLS])
{
#define HP_X_FROM_ROW(id, name, field, selectable, maximize) m->field = row[HP_COL_##id];
    HP_METRIC_ROW(HP_X_FROM_ROW)
#undef HP_X_FROM_ROW
}

int hp_trainer_init(hp_trainer *t, const hp_config *config, const hp_dataset *train,
                    const hp_dataset *val)
{
    memset(t, 0, sizeof *t);
    t->config = *config;
    t->train = train;
    t->val = val;
    hp_rng init_rng;
    hp_rng_seed_for(&init_rng, (uint64_t)config->seed, 0, HP_STREAM_INIT);
    hp_rng_seed_for(&t->shuffle_rng, (uint64_t)config->seed, 0, HP_STREAM_SHUFFLE);
    hp_rng_seed_for(&t->dropout_rng, (uint64_t)config->seed, 0, HP_STREAM_DROPOUT);
    hp_rng_seed_for(&t->augment_rng, (uint64_t)config->seed, 0, HP_STREAM_AUGMENT);
    if (hp_net_init(&t->net, config, config->batch_size, &init_rng) != 0)
        return -1;
    if (train->n < 1) {
        hp_net_release(&t->net);
        return HP_ERR("the training set is empty");
    }
    t->order = hp_xcalloc((size_t)train->n, sizeof *t->order);
    t->batch_x = hp_xalloc_floats((size_t)config->batch_size * HP_IMAGE_BYTES);
    t->batch_y = hp_xcalloc((size_t)config->batch_size, 1);
    return 0;
}

void hp_trainer_release(hp_trainer *t)
{
    hp_net_release(&t->net);
    free(t->order);
    free(t->batch_x);
    free(t->batch_y);
    free(t->history);
    memset(t, 0, sizeof *t);
}

int hp_trainer_steps_per_epoch(const hp_trainer *t)
{
    return (t->train->n + t->config.batch_size - 1) / t->config.batch_size;
}

/* A fresh permutation for the epoch: Fisher-Yates over 0..n-1 from the
 * shuffle stream (drawn once per epoch, so the stream position is part of
 * the checkpoint and not of the data). */
static void shuffle_order(hp_trainer *t)
{
    int n = t->train->n;
    for (int i = 0; i < n; i++)
        t->order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)hp_rng_below(&t->shuffle_rng, (uint64_t)i + 1);
        int32_t tmp = t->order[i];
        t->order[i] = t->order[j];
        t->order[j] = tmp;
    }
}

static int count_correct(const float *probs, const uint8_t *labels, int n)
{
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * HP_NUM_CLASSES;
        int best = 0;
        for (int k = 1; k < HP_NUM_CLASSES; k++)
            if (p[k] > p[best])
                best = k;
        correct += best == labels[i];
    }
    return correct;
}

void hp_trainer_evaluate(hp_trainer *t, const hp_dataset *ds, hp_eval *out)
{
    memset(out, 0, sizeof *out);
    int B = t->config.batch_size;
    int32_t *index = hp_xcalloc((size_t)B, sizeof *index);
    double loss_sum = 0.0;
    for (int start = 0; start < ds->n; start += B) {
        int n = ds->n - start < B ? ds->n - start : B;
        for (int i = 0; i < n; i++)
            index[i] = start + i;
        /* normalise with the TRAINING statistics, no augmentation */
        hp_make_batch(t->batch_x, ds->images, index, n, t->train->mean, t->train->std, 0, 0, NULL);
        hp_net_forward(&t->net, t->batch_x, n, 0, NULL);
        loss_sum += hp_net_loss(&t->net, ds->labels + start, n) * n;
        hp_confusion_add(out->confusion, HP_NUM_CLASSES, t->net.probs, ds->labels + start, n);
    }
    free(index);
    hp_class_metrics cm;
    hp_metrics_from_confusion(&cm, out->confusion, HP_NUM_CLASSES);
    out->loss = ds->n ? loss_sum / ds->n : NAN;
    out->accuracy = cm.accuracy;
    out->precision = cm.macro_precision;
    out->recall = cm.macro_recall;
    out->f1 = cm.macro_f1;
}

static int stop_requested(const hp_trainer *t)
{
    return (t->stop && *t->stop) || (t->should_stop && t->should_stop(t->stop_ctx));
}

int hp_trainer_run_epoch(hp_trainer *t, hp_epoch_metrics *m)
{
    const hp_config *c = &t->config;
    int steps = hp_trainer_steps_per_epoch(t);
    double t0 = now_seconds();
    /* Asked before anything changes: a stop here leaves the state exactly as
       it was (the epoch's shuffle is drawn only when the epoch really starts). */
    if (stop_requested(t))
        return 1;
    if (t->batch_in_epoch == 0) {
        shuffle_order(t);
        t->part_loss_sum = 0.0;
        t->part_correct = t->part_seen = 0;
        t->part_seconds = 0.0;
    }
    float lr = 0.0f;
    while (t->batch_in_epoch < steps) {
        int start = t->batch_in_epoch * c->batch_size;
        int n = t->train->n - start < c->batch_size ? t->train->n - start : c->batch_size;
        const int32_t *index = t->order + start;
        const hp_augment aug = {c->augment_crop, c->augment_flip, c->augment_rotate};
        hp_make_batch_augmented(t->batch_x, t->train->images, index, n, t->train->mean,
                                t->train->std, &aug, &t->augment_rng);
        for (int i = 0; i < n; i++)
            t->batch_y[i] = t->train->labels[index[i]];

        hp_net_forward(&t->net, t->batch_x, n, 1, &t->dropout_rng);
        double loss = hp_net_loss(&t->net, t->batch_y, n);
        if (!isfinite(loss))
            return HP_ERR("the loss became %s at epoch %d, batch %d (learning rate %.3g); "
                          "the configuration diverges",
                          isnan(loss) ? "NaN" : "infinite", t->epoch + 1, t->batch_in_epoch + 1,
                          (double)hp_lr_at(c, t->step, steps));
        hp_net_zero_grad(&t->net);
        hp_net_backward(&t->net, t->batch_y, n);
        lr = hp_lr_at(c, t->step, steps);
        hp_net_step(&t->net, t->step + 1, lr);
        t->step++;
        t->batch_in_epoch++;
        t->part_loss_sum += loss;
        t->part_correct += count_correct(t->net.probs, t->batch_y, n);
        t->part_seen += n;
        /* between batches of this epoch (never with the epoch's order drawn
           but no batch done): the checkpoint resumes from here exactly */
        if (t->batch_in_epoch < steps && stop_requested(t)) {
            t->part_seconds += now_seconds() - t0;
            return 1;
        }
    }

    hp_eval val = {.loss = NAN, .accuracy = NAN, .precision = NAN, .recall = NAN, .f1 = NAN};
    if (t->val->n > 0) /* no validation set: `hptune train --train-all` */
        hp_trainer_evaluate(t, t->val, &val);
    memset(m, 0, sizeof *m);
    m->epoch = t->epoch + 1;
    m->train_loss = t->part_loss_sum / steps;
    m->train_accuracy = (double)t->part_correct / (double)t->part_seen;
    m->val_loss = val.loss;
    m->val_accuracy = val.accuracy;
    m->val_precision = val.precision;
    m->val_recall = val.recall;
    m->val_f1 = val.f1;
    m->learning_rate = lr;
    memcpy(m->confusion, val.confusion, sizeof m->confusion);
    m->seconds = t->part_seconds + (now_seconds() - t0);
    if (t->val->n > 0 && !isfinite(val.loss))
        return HP_ERR("the validation loss became %s after epoch %d; the configuration diverges",
                      isnan(val.loss) ? "NaN" : "infinite", m->epoch);

    t->epoch++;
    t->batch_in_epoch = 0;
    t->history = hp_xrealloc(t->history, (size_t)(t->n_history + 1) * sizeof *t->history);
    t->history[t->n_history++] = *m;
    return 0;
}
