/* checkpoint.h - trial checkpoints in HDF5 (format "hptune-trial", version 2).
 *
 * A checkpoint holds everything hp_trainer needs to continue bit-identically,
 * laid out so that h5py or h5dump users can read it without hptune.  All
 * numbers are little-endian; shapes are row-major (C order).
 *
 *   /model                      group; attr layers: string (L) the layer groups in network order
 *   /model/<layer>              one group per layer with parameters, in network order
 *                               (groups track creation order: h5py lists them in it,
 *                               h5dump with --sort_by=creation_order);
 *                               attrs kind ("conv", "batchnorm", "dense"), index (int64:
 *                               position in the network's full layer list)
 *       conv       weight float32 (OC, C, KH, KW), bias float32 (OC)
 *       batchnorm  gamma, beta float32 (C); running_mean, running_var float32 (C)
 *                  (the running statistics used for evaluation, not trained)
 *       dense      weight float32 (out, in), bias float32 (out)
 *     layer names: block<b>_conv, block<b>_bn (b = 1..num_blocks),
 *                  head<h>_dense (h = 1..head_layers), output_dense (the classifier)
 *   /optimizer                  group; attrs optimizer (its name), buffers (what m and v hold)
 *   /optimizer/m/<layer>/<p>    float32, the shape of /model/<layer>/<p>, for each trained
 *   /optimizer/v/<layer>/<p>    parameter p (weight, bias, gamma, beta): optim.h's m and v
 *   /config                     string   the configuration as YAML (for people; not read back)
 *   /config_values              float64 (n_keys), in config.h key-table order; attr keys: string (n_keys)
 *   /rng                        uint64 (3, 4) xoshiro256** states; attr streams: shuffle, dropout, augment
 *   /order                      int32 (n_train) the current epoch's data order
 *   /partial                    float64 (4) the interrupted epoch's sums; attr columns:
 *                               loss_sum, correct, seen, seconds
 *   /history                    float64 (epochs, HP_HISTORY_COLS) per-epoch metrics; attr columns:
 *                               epoch, train_loss, train_accuracy, val_loss, val_accuracy,
 *                               val_precision, val_recall, val_f1, effective_lr, seconds
 *   /confusion                  int64 (epochs, 10, 10) validation confusion matrices,
 *                               [epoch][true class][predicted class]; attr class_names: string (10)
 *   root attributes: format ("hptune-trial"), format_version (2), trial, epoch (completed),
 *       step, batch_in_epoch, n_train (int64); hptune_version, build_flags, git_revision
 *       (build_info.h), architecture (hp_net_describe); checksum_datasets (string list),
 *       crc32 (uint32), checksum (how crc32 is computed, in words).
 *
 * Checksum: CRC-32 as in zlib's crc32() (the ISO-HDLC / IEEE 802.3 CRC, the
 * same as Python's zlib.crc32), chained over the stored bytes of every
 * dataset named in checksum_datasets, in that order, and then over the int64
 * root attributes epoch, step, batch_in_epoch, trial, n_train (8 bytes each,
 * little-endian).  checksum_datasets is every dataset above except /config,
 * in the order listed there (model, m, v layer by layer), so every value a
 * resume restores is covered.  To verify with h5py:
 *     crc = 0
 *     for name in f.attrs["checksum_datasets"]:
 *         crc = zlib.crc32(f[name][()].tobytes(), crc)
 *     keys = ("epoch", "step", "batch_in_epoch", "trial", "n_train")
 *     crc = zlib.crc32(struct.pack("<5q", *(int(f.attrs[k]) for k in keys)), crc)
 *     assert crc == f.attrs["crc32"]
 * Why crc32 rather than HDF5's Fletcher32 filter: Fletcher32 guards only the
 * raw data of chunked datasets, so the counters (attributes: a flipped step
 * changes the learning-rate schedule silently) would stay unguarded, and the
 * hundreds of small tensors would each need a chunk index; one CRC covers
 * everything a resume reads and is checked with zlib (linked already) or any
 * language's standard library.  CRC-32 detects every error burst up to 32
 * bits, where Fletcher-32 cannot tell a 0x0000 word from 0xffff.  It runs at
 * about 7 GB/s, far below the cost of one training batch.
 *
 * Writing: the file is built in memory and written to "<path>.tmp.<pid>",
 * fsync()ed and renamed over path (h5util.h), so a reader never sees a
 * half-written file and a failed write (full disk) leaves the previous
 * checkpoint intact and no temporary file.  Reading verifies the format,
 * version, checksum and that every dataset has the name, type and shape the
 * network and data need, and restores nothing unless all of that holds.
 * Version 1 files (one flat /params array, an FNV checksum) are refused with
 * a message saying to retrain or use the hptune that wrote them.
 */
#ifndef HPTUNE_CHECKPOINT_H
#define HPTUNE_CHECKPOINT_H

#include "config.h"
#include "trainer.h"

#define HP_CHECKPOINT_FORMAT "hptune-trial"
#define HP_CHECKPOINT_VERSION 2
#define HP_HISTORY_COLS (1 + HP_METRIC_COLS) /* epoch, then the metric row (metric_row.h) */

int hp_checkpoint_save(const hp_trainer *t, int trial, const char *path);
/* Read the configuration and position of a checkpoint (verifies the checksum). */
int hp_checkpoint_read_config(const char *path, hp_config *config, int *epoch, int *batch_in_epoch);
/* Restore into a trainer initialised with the same configuration and data.
 * On failure t is unchanged. */
int hp_checkpoint_load(hp_trainer *t, const char *path);

/* Load only the weights and batch-norm statistics (for evaluating a trial's
 * checkpoint on another data set, e.g. the test set). */
int hp_checkpoint_load_weights(hp_trainer *t, const char *path);

/* The validation confusion matrix (row = true class) after `epoch` (1-based),
 * from a verified checkpoint. */
int hp_checkpoint_read_confusion(const char *path, int epoch, int64_t confusion[HP_NUM_CLASSES * HP_NUM_CLASSES]);

#endif
