/* curves.h - the replay objective: per-epoch metrics read from a table.
 *
 * CSV with a header line.  Columns: one per hyperparameter of the job's space
 * (by name, any order), `epoch` (1-based), and one column per metric named
 * like hp_metric_name() (val_accuracy, val_loss, ...; at least the study's
 * metric).  Rows for one configuration list epochs 1..E.  A trial looks up
 * the rows whose space values equal its configuration's (compared after
 * formatting with hp_config_format_value, so 0.001 and 1e-3 match).
 */
#ifndef HPTUNE_CURVES_H
#define HPTUNE_CURVES_H

#include "config.h"
#include "metric_row.h"
#include "param.h"

typedef struct hp_curves hp_curves; /* opaque */

/* Load and validate against a job's space (params[n_params], declared in
 * job_path) and its metric (errors name file:line). */
int hp_curves_load(hp_curves **out, const char *path, const hp_param *params, int n_params, hp_metric metric,
                   const char *job_path);
void hp_curves_free(hp_curves *c);
/* Does the table have this metric-row column. */
int hp_curves_has_column(const hp_curves *c, hp_metric m);
/* Metric `m` of configuration `config` after `epoch` epochs (1-based).
 * Returns 0, or -1 with a message if the configuration or epoch is missing. */
int hp_curves_lookup(const hp_curves *c, const hp_config *config, int epoch, hp_metric m, double *value);

#endif
