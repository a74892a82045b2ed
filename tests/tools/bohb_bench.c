/* bohb_bench.c - cost of hp_bohb_add_result (a refit) and hp_bohb_propose
 * (64 candidates) with 5 dimensions at a given number of results.
 *
 *   build/tests/tools/bohb_bench [N ...]      (default: 100 1000)
 *
 * Space: 3 continuous (one log), 1 integer, 1 categorical (4 choices); the
 * results are random points with a smooth loss.  Prints microseconds per call
 * (mean over repeats).  Not a test: a measurement for the documentation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bohb.h"
#include "error.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double loss_of(const double *x) { return pow(x[0] - 0.3, 2) + fabs(log10(x[1]) + 2) + x[4] * 0.1; }

int main(int argc, char **argv)
{
    hp_bohb_dim dims[5] = {{.low = 0, .high = 1}, {.low = 1e-4, .high = 1, .log = 1},
                           {.low = -1, .high = 1}, {.low = 1, .high = 64, .is_int = 1},
                           {.n_choices = 4}};
    int sizes[16] = {100, 1000}, n_sizes = 2;
    if (argc > 1) {
        n_sizes = argc - 1 < 16 ? argc - 1 : 16;
        for (int i = 0; i < n_sizes; i++)
            sizes[i] = atoi(argv[i + 1]);
    }
    hp_bohb_settings s = hp_bohb_settings_default();
    s.random_fraction = 0; /* time model-based proposals only */
    for (int k = 0; k < n_sizes; k++) {
        hp_bohb *b = hp_bohb_create(dims, 5, &s, 1);
        if (!b) {
            fprintf(stderr, "bohb_bench: %s\n", hp_error_message());
            return 1;
        }
        hp_rng rng;
        hp_rng_seed(&rng, 1);
        double v[5], x[5], add_time = 0;
        int repeats = 20;
        for (int i = 0; i < sizes[k]; i++) {
            for (int j = 0; j < 4; j++)
                v[j] = hp_rng_uniform(&rng);
            v[4] = (double)hp_rng_below(&rng, 4);
            hp_bohb_from_vector(b, v, x);
            double t0 = now();
            hp_bohb_add_result(b, 0, x, loss_of(x));
            if (i >= sizes[k] - repeats)
                add_time += now() - t0;
        }
        double t0 = now(), out[5];
        int used = 0, budget, n_used = 0;
        for (int r = 0; r < repeats; r++) {
            hp_bohb_propose(b, &rng, out, &used, &budget);
            n_used += used;
        }
        double propose_time = now() - t0;
        printf("n=%d d=5: add_result %.1f us, propose %.1f us (%d of %d from the model)\n",
               sizes[k], 1e6 * add_time / repeats, 1e6 * propose_time / repeats, n_used, repeats);
        hp_bohb_free(b);
    }
    return 0;
}
