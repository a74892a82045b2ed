/* space.h - a job's search space as numbers: configurations of trials
 * (grid points and random samples: hp_job_trial_config in job.h) and the
 * space as a vector of dimensions for the model-based strategies (tpe, bohb).
 * Implemented in src/search/space.c.
 */
#ifndef HPTUNE_SPACE_H
#define HPTUNE_SPACE_H

#include "config.h"
#include "job.h"

/* One space parameter as a model dimension (the fields of tpe.h's and bohb.h's dims):
 *   choice/grid   n_choices = list length; the value is the index into the list
 *   uniform       [low, high], step (0: continuous)
 *   loguniform    [low, high], log = 1, step
 *   randint       [low, high], is_int = 1, step (>= 1)
 * high is the last point of the lattice when there is a step. */
typedef struct hp_space_dim {
    int n_choices;
    double low, high, step;
    int log, is_int;
} hp_space_dim;

/* Set c's space values to grid point `index` (mod the grid's size) of a
 * space of choice/grid lists: row-major, the last parameter fastest. */
void hp_space_grid_point(const hp_job *job, long index, hp_config *c);

/* Set every inactive conditional parameter of c (hp_job_param_active, in
 * file order) to its default: the fixed: value, else config.h's. */
void hp_space_deactivate(const hp_job *job, hp_config *c);

/* (job->n_params) dimensions, in job-file order. */
void hp_space_dims(const hp_job *job, hp_space_dim *dims);
/* A configuration's space values as a vector x (n_params): NaN for an
 * inactive conditional parameter, list values as
 * their index (NaN if the value is not in the list), numbers clamped to the
 * range and snapped to the lattice (the stored float may be a rounding error off). */
void hp_space_to_vector(const hp_job *job, const hp_config *c, double *x);
/* Is parameter `index` active given the vector x (its parents' entries:
 * list indices; a NaN parent is inactive)?  hp_job_param_active on vectors. */
int hp_space_vector_active(const hp_job *job, int index, const double *x);
/* Set c's space values from x (NaN entries leave c's value), then set the
 * parameters that are inactive under the new values to their defaults. */
void hp_space_from_vector(const hp_job *job, const double *x, hp_config *c);

#endif
