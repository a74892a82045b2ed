/* tpe_bench.c - time one hp_tpe_propose call (default settings, n_ei 24).
 *
 *   build/tests/tools/tpe_bench [N_TRIALS...]      (default: 100 1000)
 *
 * Search space: 5 dims (float, float log, int, float step 0.05, categorical 4),
 * N completed trials with random values and a quadratic objective; prints the
 * mean wall time per proposal, univariate and multivariate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "rng.h"
#include "tpe.h"

#define N_DIMS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    hp_tpe_dim dims[N_DIMS] = {
        {0, -1, 1, 0, 0, 0}, {0, 1e-5, 1e-1, 0, 1, 0}, {0, 1, 64, 0, 0, 1},
        {0, 0, 1, 0.05, 0, 0}, {4, 0, 0, 0, 0, 0},
    };
    int n_sizes = argc > 1 ? argc - 1 : 2;
    for (int k = 0; k < n_sizes; k++) {
        int n = argc > 1 ? atoi(argv[k + 1]) : (k == 0 ? 100 : 1000);
        if (n < 0)
            return 2;
        double *x = hp_xcalloc((size_t)(n > 0 ? n : 1) * N_DIMS, sizeof *x);
        hp_tpe_trial *trials = hp_xcalloc((size_t)(n > 0 ? n : 1), sizeof *trials);
        hp_rng data;
        hp_rng_seed(&data, 1);
        for (int i = 0; i < n; i++) {
            double *row = x + (long)i * N_DIMS;
            row[0] = -1 + 2 * hp_rng_uniform(&data);
            row[1] = 1e-5 * pow(1e4, hp_rng_uniform(&data));
            row[2] = 1 + (double)hp_rng_below(&data, 64);
            row[3] = 0.05 * (double)hp_rng_below(&data, 21);
            row[4] = (double)hp_rng_below(&data, 4);
            double f = row[0] * row[0] + (log10(row[1]) + 3) * (log10(row[1]) + 3) +
                       (row[2] - 20) * (row[2] - 20) / 400 + row[3] + (row[4] != 1);
            trials[i] = (hp_tpe_trial){row, HP_TPE_COMPLETE, f, 0};
        }
        for (int mv = 0; mv <= 1; mv++) {
            hp_tpe_settings s;
            hp_tpe_settings_default(&s);
            s.multivariate = mv;
            hp_rng rng;
            hp_rng_seed(&rng, 2);
            double out[N_DIMS];
            int used, reps = 0;
            double t0 = now(), t;
            do {
                if (hp_tpe_propose(&s, dims, N_DIMS, trials, n, &rng, out, &used) != 0) {
                    hp_error_print();
                    return 1;
                }
                reps++;
                t = now() - t0;
            } while (t < 0.5 && reps < 100000);
            printf("%5d trials, 5 dims, %-12s %9.3f ms per proposal (%d calls)\n", n,
                   mv ? "multivariate" : "univariate", 1e3 * t / reps, reps);
        }
        free(x);
        free(trials);
    }
    return 0;
}
