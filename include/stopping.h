/* stopping.h - ending a trial before its last epoch: pure decisions.
 *
 * The coordinator asks these after recording each epoch of a trial (study.c,
 * hp_study_stop_decision) and records a STOP_TRIAL event when one says stop,
 * so a replayed journal meets the same decision at the same record.
 *
 * Early stopping (Keras 3 keras.callbacks.EarlyStopping, monitor = the study
 * metric, mode min/max from the study, baseline None, start_from_epoch 0):
 *   best = +inf (min) / -inf (max), wait = 0; at every epoch (0-based k):
 *   wait += 1; if value improves on best by more than min_delta
 *   (min: value + min_delta < best; max: value - min_delta > best):
 *   best = value, wait = 0; else if wait >= patience and k > 0: stop.
 *   (NaN never improves.)
 *
 * The median stopping rule (Optuna 3.1 optuna.pruners.MedianPruner, i.e.
 * PercentilePruner(50, n_startup_trials, n_warmup_steps, interval_steps,
 * n_min_trials)); epoch e is Optuna's step e - 1:
 *   no decision unless at least max(1, n_startup_trials) trials are COMPLETED
 *   (early-stopped trials count, median-stopped and failed ones do not);
 *   none while step < n_warmup_steps, nor unless step is the first of its
 *   interval: the trial's previous step (step - 1) is below
 *   (step - W) // I * I + W;
 *   best = the trial's best value over all its epochs so far (nanmin/nanmax);
 *   NaN best: stop; else the completed trials' values at this step (those
 *   that reached it): fewer than n_min_trials: no decision; else their
 *   median (numpy.nanpercentile 50, linear interpolation, NaN values
 *   skipped); stop if best is worse than the median (strictly).
 */
#ifndef HPTUNE_STOPPING_H
#define HPTUNE_STOPPING_H

/* Does early stopping end training after epoch n (values[0..n-1] are the
 * metric at epochs 1..n)?  patience >= 0, min_delta >= 0 (its sign is ignored). */
int hp_early_stop(const double *values, int n, int maximize, int patience, double min_delta);

typedef struct hp_median_rule {
    int n_startup_trials; /* 5 */
    int n_warmup_steps;   /* epochs with no decision (0) */
    int interval_steps;   /* 1 */
    int n_min_trials;     /* 1 */
} hp_median_rule;

/* Does the median stopping rule stop a trial whose values at epochs 1..n are
 * values[0..n-1]?  at_step[i]: completed trial i's value at epoch n
 * (n_reached of them reached epoch n); n_completed: completed trials. */
int hp_median_stop(const hp_median_rule *rule, const double *values, int n, const double *at_step, int n_reached,
                   int n_completed, int maximize);

/* numpy.nanpercentile(x, 50) (linear): the median of the non-NaN values; NaN
 * if there are none.  Sorts x in place. */
double hp_nan_median(double *x, int n);

#endif
