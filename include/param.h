/* param.h - one searched hyperparameter as a job file declares it (types only).
 *
 * The job parser (job.h) fills these; the search space (space.h), the
 * strategies and the curves objective read them.
 */
#ifndef HPTUNE_PARAM_H
#define HPTUNE_PARAM_H

#include "config.h"

typedef enum { HP_DIST_CHOICE = 0, HP_DIST_GRID, HP_DIST_UNIFORM, HP_DIST_LOGUNIFORM, HP_DIST_RANDINT } hp_dist;

typedef struct hp_param {
    const hp_key *key;    /* the hyperparameter (config.h table) */
    hp_dist dist;
    double low, high;     /* uniform / loguniform / randint (inclusive) */
    double step;          /* 0: continuous; else values are low + k*step <= high */
    int n_values;         /* choice / grid */
    double *values;       /* choice / grid values (enum keys: enum index), owned */
    int line, column;     /* 1-based position of the key in the job file */
} hp_param;

#endif
