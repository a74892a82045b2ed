/* param.h - one searched hyperparameter as a job file declares it (types only).
 *
 * The job parser (job.h) fills these; the search space (space.h), the
 * strategies and the curves objective read them.
 */
#ifndef HPTUNE_PARAM_H
#define HPTUNE_PARAM_H

#include "config.h"

typedef enum { HP_DIST_CHOICE = 0, HP_DIST_GRID, HP_DIST_UNIFORM, HP_DIST_LOGUNIFORM, HP_DIST_RANDINT } hp_dist;

/* A condition of a conditional parameter (`when: {parent: value}` or
 * `when: {parent: [v1, v2]}`): the parameter is active only if the parent
 * is active and holds one of the values.  The parent is a choice/grid
 * parameter listed earlier in space: (so chains are allowed, cycles cannot
 * be written). */
typedef struct hp_condition {
    int parent;           /* index into hp_job.params, < the conditional parameter's own index */
    int n_values;
    double *values;       /* the parent's allowed values as a configuration stores them, owned */
    int line, column;     /* 1-based position of the parent's key inside when: */
} hp_condition;

typedef struct hp_param {
    const hp_key *key;    /* the hyperparameter (config.h table) */
    hp_dist dist;
    double low, high;     /* uniform / loguniform / randint (inclusive) */
    double step;          /* 0: continuous; else values are low + k*step <= high */
    int n_values;         /* choice / grid */
    double *values;       /* choice / grid values (enum keys: enum index), owned */
    int line, column;     /* 1-based position of the key in the job file */
    int n_conditions;     /* when: entries (all must hold); 0: always active */
    hp_condition *conditions; /* owned */
} hp_param;

#endif
