/* bohb_dump.c - feed a BOHB case to hp_bohb and print its model, for
 * tests/oracles/statsmodels_kde.py to check against statsmodels.
 *
 *   build/tests/tools/bohb_dump CASE_FILE      (- reads stdin)
 *
 * Case file, one directive a line (# comments):
 *   dims D
 *   cat N                                 one line per dimension, in order
 *   num LOW HIGH LOG STEP IS_INT
 *   settings TOP NUM_SAMPLES RANDOM_FRACTION BW_FACTOR MIN_BW MIN_POINTS  (optional)
 *   budgets B                             (optional, default 1)
 *   result BUDGET LOSS X1..XD             external values; nan = inactive; loss nan/inf = failed
 *   point V1..VD                          vector-form point where both pdfs are printed
 * Output (%.17g), for each budget with results:
 *   budget K results N model 0|1
 *   vector I V1..VD                       stored result I in vector form
 *   and when the budget has a model:
 *   rows good|bad I...                    result indices of the set, in sorted order
 *   data good|bad V1..VD                  one line per imputed training row
 *   bw good|bad B1..BD                    bandwidths after clipping
 *   pdf P GOOD BAD                        pdfs at point P
 * Exit 1 with a message on a malformed case or a rejected call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bohb.h"
#include "error.h"

#define MAX_DIMS 64
#define MAX_LINE 4096

typedef struct result_line {
    int budget;
    double loss;
    double x[MAX_DIMS];
} result_line;

static int parse_doubles(char *rest, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *tok = strtok(i == 0 ? rest : NULL, " \t\r\n");
        char *end;
        if (!tok)
            return -1;
        out[i] = strtod(tok, &end);
        if (*end)
            return -1;
    }
    return 0;
}

static void print_row(const char *tag, const double *v, int d)
{
    printf("%s", tag);
    for (int j = 0; j < d; j++)
        printf(" %.17g", v[j]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bohb_dump CASE_FILE\n");
        return 2;
    }
    FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "bohb_dump: cannot open %s\n", argv[1]);
        return 1;
    }
    hp_bohb_dim dims[MAX_DIMS];
    hp_bohb_settings s = hp_bohb_settings_default();
    int d = -1, n_dims_read = 0, n_budgets = 1, n_results = 0, n_points = 0, line_no = 0;
    result_line *results = NULL;
    double(*points)[MAX_DIMS] = NULL;
    char line[MAX_LINE];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *word = strtok(line, " \t\r\n");
        if (!word)
            continue;
        char *rest = word + strlen(word) + 1;
        double v[MAX_DIMS + 2];
        int bad = 0;
        if (strcmp(word, "dims") == 0) {
            bad = parse_doubles(rest, v, 1) != 0 || v[0] < 1 || v[0] > MAX_DIMS;
            d = bad ? -1 : (int)v[0];
        } else if (strcmp(word, "cat") == 0) {
            bad = d < 0 || n_dims_read >= d || parse_doubles(rest, v, 1) != 0;
            if (!bad)
                dims[n_dims_read++] = (hp_bohb_dim){.n_choices = (int)v[0]};
        } else if (strcmp(word, "num") == 0) {
            bad = d < 0 || n_dims_read >= d || parse_doubles(rest, v, 5) != 0;
            if (!bad)
                dims[n_dims_read++] = (hp_bohb_dim){.n_choices = 0, .low = v[0], .high = v[1],
                                                    .log = (int)v[2], .step = v[3],
                                                    .is_int = (int)v[4]};
        } else if (strcmp(word, "settings") == 0) {
            bad = parse_doubles(rest, v, 6) != 0;
            if (!bad)
                s = (hp_bohb_settings){v[0], (int)v[1], v[2], v[3], v[4], (int)v[5]};
        } else if (strcmp(word, "budgets") == 0) {
            bad = parse_doubles(rest, v, 1) != 0;
            n_budgets = (int)v[0];
        } else if (strcmp(word, "result") == 0) {
            bad = n_dims_read != d || parse_doubles(rest, v, d + 2) != 0;
            if (!bad) {
                results = realloc(results, (size_t)(n_results + 1) * sizeof *results);
                if (!results)
                    return 1;
                results[n_results].budget = (int)v[0];
                results[n_results].loss = v[1];
                memcpy(results[n_results].x, v + 2, (size_t)d * sizeof(double));
                n_results++;
            }
        } else if (strcmp(word, "point") == 0) {
            bad = n_dims_read != d || parse_doubles(rest, v, d) != 0;
            if (!bad) {
                points = realloc(points, (size_t)(n_points + 1) * sizeof *points);
                if (!points)
                    return 1;
                memcpy(points[n_points++], v, (size_t)d * sizeof(double));
            }
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "bohb_dump: %s:%d: malformed '%s' line\n", argv[1], line_no, word);
            return 1;
        }
    }
    if (f != stdin)
        fclose(f);
    if (d < 0 || n_dims_read != d) {
        fprintf(stderr, "bohb_dump: %s: need 'dims D' and D dimension lines\n", argv[1]);
        return 1;
    }

    hp_bohb *b = hp_bohb_create(dims, d, &s, n_budgets);
    if (!b) {
        fprintf(stderr, "bohb_dump: %s\n", hp_error_message());
        return 1;
    }
    for (int i = 0; i < n_results; i++)
        if (hp_bohb_add_result(b, results[i].budget, results[i].x, results[i].loss) != 0) {
            fprintf(stderr, "bohb_dump: result %d: %s\n", i, hp_error_message());
            return 1;
        }

    double vec[MAX_DIMS];
    for (int k = 0; k < n_budgets; k++) {
        if (hp_bohb_num_results(b, k) == 0)
            continue;
        printf("budget %d results %d model %d\n", k, hp_bohb_num_results(b, k),
               hp_bohb_has_model(b, k));
        int index = 0;
        for (int i = 0; i < n_results; i++) { /* stored results: this budget's, in order */
            if (results[i].budget != k || index >= hp_bohb_num_results(b, k))
                continue;
            if (hp_bohb_to_vector(b, results[i].x, vec) != 0)
                return 1;
            char tag[32];
            snprintf(tag, sizeof tag, "vector %d", index++);
            print_row(tag, vec, d);
        }
        if (!hp_bohb_has_model(b, k))
            continue;
        for (int which = HP_BOHB_GOOD; which <= HP_BOHB_BAD; which++) {
            const char *name = which == HP_BOHB_GOOD ? "good" : "bad";
            hp_bohb_kde_view view;
            if (hp_bohb_model_kde(b, k, which, &view) != 0)
                return 1;
            printf("rows %s", name);
            for (int i = 0; i < view.n_rows; i++)
                printf(" %d", view.rows[i]);
            printf("\n");
            char tag[32];
            snprintf(tag, sizeof tag, "data %s", name);
            for (int i = 0; i < view.n_rows; i++)
                print_row(tag, view.data + (size_t)i * d, d);
            snprintf(tag, sizeof tag, "bw %s", name);
            print_row(tag, view.bw, d);
        }
        for (int p = 0; p < n_points; p++) {
            double good, bad;
            if (hp_bohb_model_pdf(b, k, points[p], &good, &bad) != 0)
                return 1;
            printf("pdf %d %.17g %.17g\n", p, good, bad);
        }
    }
    hp_bohb_free(b);
    free(results);
    free(points);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bohb_dump: cannot write the output\n");
        return 1;
    }
    return 0;
}
