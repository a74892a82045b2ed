/* trainer.h - train one configuration, epoch by epoch, resumably.
 *
 * All state that determines the future of a run lives in hp_trainer: the
 * network (weights, optimizer moments, batch-norm statistics), the three RNG
 * streams (shuffle, dropout, augmentation; seeded from config.seed), the
 * epoch and step counters, the current epoch's data order and position, and
 * the partial training sums of an interrupted epoch.  checkpoint.h saves and
 * restores all of it, so training E epochs straight and training k, saving,
 * restoring in a new process and training E-k more give identical bits.
 */
#ifndef HPTUNE_TRAINER_H
#define HPTUNE_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "metric_row.h"
#include "net.h"
#include "rng.h"

typedef struct hp_epoch_metrics {
    int epoch;              /* epochs completed (1-based) */
    double train_loss, train_accuracy;  /* running means over the epoch's batches */
    double val_loss, val_accuracy;
    double val_precision, val_recall, val_f1; /* macro */
    double learning_rate;   /* at the epoch's last step */
    double seconds;         /* wall time of training + validation */
    int64_t confusion[HP_NUM_CLASSES * HP_NUM_CLASSES]; /* validation, row = true class */
} hp_epoch_metrics;

/* The metrics as the row of metric_row.h, and back (generated from its table). */
void hp_epoch_metrics_to_row(const hp_epoch_metrics *m, double row[HP_METRIC_COLS]);
void hp_epoch_metrics_from_row(hp_epoch_metrics *m, const double row[HP_METRIC_COLS]);

typedef struct hp_eval {
    double loss, accuracy, precision, recall, f1;
    int64_t confusion[HP_NUM_CLASSES * HP_NUM_CLASSES];
} hp_eval;

typedef struct hp_trainer {
    hp_config config;
    hp_net net;                    /* owned */
    const hp_dataset *train, *val; /* not owned */
    hp_rng shuffle_rng, dropout_rng, augment_rng;
    int epoch;                     /* completed epochs */
    int64_t step;                  /* optimizer steps done (all epochs) */
    int batch_in_epoch;            /* batches done in the current epoch */
    int32_t *order;                /* (train->n) this epoch's order, owned */
    double part_loss_sum;          /* current epoch: sum of batch-mean losses */
    int64_t part_correct, part_seen;
    double part_seconds;
    float *batch_x;                /* (batch_size,3,32,32), owned */
    uint8_t *batch_y;              /* (batch_size), owned */
    int n_history;
    hp_epoch_metrics *history;     /* (n_history), owned */
    const volatile sig_atomic_t *stop; /* optional: stop at the next batch boundary */
    int (*should_stop)(void *ctx);     /* optional: also asked at every batch boundary */
    void *stop_ctx;
} hp_trainer;

/* Build the network and initialise from config.seed. */
int hp_trainer_init(hp_trainer *t, const hp_config *config, const hp_dataset *train,
                    const hp_dataset *val);
void hp_trainer_release(hp_trainer *t);
int hp_trainer_steps_per_epoch(const hp_trainer *t);

/* Train to the end of the current epoch and validate.
 * Returns 0 with *m filled (and appended to history); 1 if *stop became
 * non-zero at a batch boundary (state is consistent, checkpointable);
 * -1 with a message if the loss became NaN/inf. */
int hp_trainer_run_epoch(hp_trainer *t, hp_epoch_metrics *m);
/* Evaluate on a dataset (eval mode: no dropout, batch-norm running stats). */
void hp_trainer_evaluate(hp_trainer *t, const hp_dataset *ds, hp_eval *out);

#endif
