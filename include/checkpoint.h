/* checkpoint.h - trial checkpoints in HDF5 (format "hptune-trial", version 1).
 *
 * A checkpoint holds everything hp_trainer needs to continue bit-identically:
 *   /config          string   the configuration as YAML (for people)
 *   /config_values   float64  (n_keys) in key-table order; attr config_keys
 *   /params /opt_m /opt_v     float32 (n_params)  weights and optimizer moments
 *   /bn_state        float32  batch-norm running mean/var
 *   /rng             uint64   (12) shuffle, dropout, augmentation xoshiro states
 *   /order           int32    (n_train) the current epoch's data order
 *   /partial         float64  (4) partial-epoch loss sum, correct, seen, seconds
 *   /history         float64  (epochs, HP_HISTORY_COLS) per-epoch metrics
 *   /confusion       int64    (epochs, 100) validation confusion matrices
 *   attributes: format, format_version, trial, epoch, step, batch_in_epoch,
 *               n_train, checksum (FNV-1a 64 of every dataset above, in order)
 * It is written to "<path>.tmp.<pid>" and renamed, so a reader never sees a
 * half-written file; a truncated or altered file fails the checksum.
 */
#ifndef HPTUNE_CHECKPOINT_H
#define HPTUNE_CHECKPOINT_H

#include "config.h"
#include "trainer.h"

#define HP_CHECKPOINT_FORMAT "hptune-trial"
#define HP_CHECKPOINT_VERSION 1
#define HP_HISTORY_COLS (1 + HP_METRIC_COLS) /* epoch, then the metric row (metric_row.h) */

int hp_checkpoint_save(const hp_trainer *t, int trial, const char *path);
/* Read the configuration and position of a checkpoint (verifies the checksum). */
int hp_checkpoint_read_config(const char *path, hp_config *config, int *epoch, int *batch_in_epoch);
/* Restore into a trainer initialised with the same configuration and data. */
int hp_checkpoint_load(hp_trainer *t, const char *path);

/* Load only the weights and batch-norm statistics (for evaluating a trial's
 * checkpoint on another data set, e.g. the test set). */
int hp_checkpoint_load_weights(hp_trainer *t, const char *path);

#endif
