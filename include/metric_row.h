/* metric_row.h - the per-epoch metric row, defined once.
 *
 * Every epoch's metrics travel and are stored as HP_METRIC_COLS doubles in
 * the order of this table: worker reports, the study journal, study.h5
 * /metrics, trial checkpoints' history, CSV/JSON exports, the curves
 * objective.  The table generates the column numbers (HP_COL_*), the column
 * names, which columns may be a study's metric (and their default mode), and
 * the copies between struct hp_epoch_metrics and a row (trainer.c).
 *
 *   X(ID, name, field of hp_epoch_metrics, study metric?, maximized by default?)
 */
#ifndef HPTUNE_METRIC_ROW_H
#define HPTUNE_METRIC_ROW_H

#define HP_METRIC_ROW(X)                                          \
    X(TRAIN_LOSS, train_loss, train_loss, 1, 0)                   \
    X(TRAIN_ACCURACY, train_accuracy, train_accuracy, 1, 1)       \
    X(VAL_LOSS, val_loss, val_loss, 1, 0)                         \
    X(VAL_ACCURACY, val_accuracy, val_accuracy, 1, 1)             \
    X(VAL_PRECISION, val_precision, val_precision, 0, 1)          \
    X(VAL_RECALL, val_recall, val_recall, 0, 1)                   \
    X(VAL_F1, val_f1, val_f1, 1, 1)                               \
    X(LR, effective_lr, learning_rate, 0, 0)                      \
    X(SECONDS, seconds, seconds, 0, 0)

enum hp_metric_column {
#define HP_X_COLUMN(id, name, field, selectable, maximize) HP_COL_##id,
    HP_METRIC_ROW(HP_X_COLUMN)
#undef HP_X_COLUMN
    HP_METRIC_COLS
};

/* A study's metric is one of the row's columns (those marked selectable). */
typedef int hp_metric;
#define HP_METRIC_VAL_ACCURACY HP_COL_VAL_ACCURACY
#define HP_METRIC_VAL_LOSS HP_COL_VAL_LOSS
#define HP_METRIC_VAL_F1 HP_COL_VAL_F1
#define HP_METRIC_TRAIN_ACCURACY HP_COL_TRAIN_ACCURACY
#define HP_METRIC_TRAIN_LOSS HP_COL_TRAIN_LOSS

/* Column name ("val_accuracy", "effective_lr", ...); "?" out of range.
 * effective_lr: the learning rate in effect at the end of the epoch (schedule
 * and warm-up applied), named apart from the learning_rate hyperparameter. */
const char *hp_metric_name(hp_metric column);
/* Column with this name, or -1. */
int hp_metric_find(const char *name);
/* May this column be a study's metric; is it maximised by default. */
int hp_metric_selectable(hp_metric column);
int hp_metric_maximize_default(hp_metric column);
/* The column of a study metric in the row (the identity: kept for readability). */
static inline int hp_metric_column(hp_metric m) { return m; }

#endif
