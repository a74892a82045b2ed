/* tensorboard.h - a study as TensorBoard event files (src/study/tensorboard.c).
 *
 * It reads the recorded state (study.h) and nothing else, so it works on a
 * running study (opened read-only), an interrupted one and a finished one.
 *   hp_study_export_tensorboard() the whole study as a TensorBoard logdir
 *   hp_tb_live_*                  the same logdir kept up to date by rank 0
 *                                 while the study runs (tensorboard.c)
 * TensorBoard layout: LOGDIR/ holds the HParams experiment (every space
 * parameter with its domain, the metrics); LOGDIR/trial_NNNNN/ one run per
 * trial: its hyperparameters (session start), one scalar per metric-row
 * column per epoch at step = epoch (train_loss, train_accuracy, val_loss,
 * val_accuracy, val_precision, val_recall, val_f1, lr, seconds, and
 * images_per_second for trained networks), and its end (session end:
 * success for completed and stopped trials, failure for failed ones).
 */
#ifndef HPTUNE_TENSORBOARD_H
#define HPTUNE_TENSORBOARD_H

#include "event.h"
#include "study.h"

/* Write the study as a TensorBoard logdir at `logdir`: built in a fresh
 * folder beside it and swapped in by rename, so a reader never sees half of
 * it.  Trials still running are written as running unless `live` (then their
 * session end is left for the live writer). */
int hp_study_export_tensorboard(const hp_study *s, const char *logdir, int live);

/* Rank 0's live TensorBoard files (output: {tensorboard: true}). */
typedef struct hp_tb_live hp_tb_live;
/* Export the study as it stands into logdir, then keep it up to date. */
hp_tb_live *hp_tb_live_begin(const hp_study *s, const char *logdir);
/* After hp_study_record(s, e): write what the event adds (an epoch's
 * scalars, a trial's start or end). */
int hp_tb_live_event(hp_tb_live *l, const hp_study *s, const hp_event *e);
/* Flush every open file (at most once a second is enough). */
int hp_tb_live_flush(hp_tb_live *l);
/* Close everything (the study's end marks stopped trials ended). */
int hp_tb_live_end(hp_tb_live *l, const hp_study *s);

#endif
