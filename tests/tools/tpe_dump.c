/* tpe_dump.c - print what hp_tpe_propose computes for test cases, so that
 * tests/oracles/optuna_tpe.py can print the same from Optuna 3.1 and
 * tests/integration/test_tpe_optuna.sh can compare the two.
 *
 *   build/tests/tools/tpe_dump CASES_FILE     (- for stdin)
 *
 * Case file (one or more cases; '#' starts a comment line):
 *   case NAME FAMILY
 *   settings key=value ...          hp_tpe_settings fields; missing ones keep defaults
 *   seed N                          hp_rng seed for the proposal
 *   dim cat K                       categorical with K choices
 *   dim float LOW HIGH STEP LOG     FloatDistribution (STEP 0: continuous; LOG 0/1)
 *   dim int LOW HIGH STEP LOG       IntDistribution
 *   trial STATE VALUE STEP X1..XD   STATE complete|pruned|running|failed; X nan = inactive
 *   point X1..XD                    a point at which the log pdfs are printed
 *   ppf Q A B                       a truncated-normal quantile to print
 *   when D P K                      dim D is active only when categorical dim P < D is
 *                                   active and holds index K (a conditional space)
 *   end
 * Output per case (numbers as %.17g, lists space separated):
 *   case NAME FAMILY / n_finished / use_model / n_below_target / split_below /
 *   split_above, then per group G (sampling order):
 *   group G dims, group G below_trials, group G above_trials, and for E in
 *   below, above: group G E weights, group G E dim K bounds L H Q | mus |
 *   sigmas (numeric dims) or group G E dim K table ROW p.. (categorical),
 *   group G E logpdf (at the points, restricted to the group's dims);
 *   then ppf Q A B X lines; per group G: group G candidates (n_ei x group
 *   dims values), group G scores (log l - log g per candidate); uniforms (the
 *   hp_rng_uniform draws the proposal consumes, model phase only); proposal
 *   X1..XD from hp_tpe_propose (or "proposal random" in the startup phase).
 * A case with `when` lines (conditional) prints, after the split, only the
 * groups the proposal sampled, each as group G dims / candidates / scores
 * (G counts sampled groups), then uniforms and the proposal of
 * hp_tpe_propose_conditional with nan for inactive dims.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"
#include "tpe.h"

#define MAX_LINE 65536

typedef struct case_data {
    char name[128], family[128];
    hp_tpe_settings settings;
    unsigned long long seed;
    int n_dims, n_trials, n_points, n_ppf;
    int n_conditions;
    int when_parent[64], when_value[64]; /* per dim: -1 unconditional */
    hp_tpe_dim dims[64];
    hp_tpe_trial *trials;
    double *values;   /* (n_trials, n_dims) */
    double *points;   /* (n_points, n_dims) */
    double (*ppf)[3]; /* (n_ppf) */
} case_data;

static void case_free(case_data *c)
{
    free(c->trials);
    free(c->values);
    free(c->points);
    free(c->ppf);
    memset(c, 0, sizeof *c);
}

static void die(int line, const char *what)
{
    fprintf(stderr, "tpe_dump: line %d: %s\n", line, what);
    exit(2);
}

static double number(const char *tok, int line)
{
    char *end;
    if (!tok)
        die(line, "missing number");
    double v = strtod(tok, &end);
    if (*end)
        die(line, "bad number");
    return v;
}

static void set_setting(hp_tpe_settings *s, const char *kv, int line)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        die(line, "settings need key=value");
    size_t klen = (size_t)(eq - kv);
    double v = number(eq + 1, line);
#define FIELD(f)                                                                                   \
    if (klen == strlen(#f) && strncmp(kv, #f, klen) == 0) {                                        \
        s->f = (__typeof__(s->f))v;                                                                \
        return;                                                                                    \
    }
    FIELD(n_startup_trials)
    FIELD(n_ei_candidates)
    FIELD(consider_prior)
    FIELD(prior_weight)
    FIELD(consider_magic_clip)
    FIELD(consider_endpoints)
    FIELD(multivariate)
    FIELD(constant_liar)
    FIELD(maximize)
#undef FIELD
    die(line, "unknown setting");
}

static hp_tpe_state parse_state(const char *tok, int line)
{
    if (tok && !strcmp(tok, "complete"))
        return HP_TPE_COMPLETE;
    if (tok && !strcmp(tok, "pruned"))
        return HP_TPE_PRUNED;
    if (tok && !strcmp(tok, "running"))
        return HP_TPE_RUNNING;
    if (tok && !strcmp(tok, "failed"))
        return HP_TPE_FAILED;
    die(line, "unknown trial state");
    return HP_TPE_COMPLETE;
}

static void read_row(double **rows, int *n, int n_dims, int line)
{
    *rows = hp_xrealloc(*rows, (size_t)(*n + 1) * (size_t)n_dims * sizeof(double));
    for (int d = 0; d < n_dims; d++)
        (*rows)[(long)*n * n_dims + d] = number(strtok(NULL, " \t\n"), line);
    (*n)++;
}

/* Reads the next case; 0 at end of input. */
static int read_case(FILE *f, case_data *c, int *line)
{
    char buf[MAX_LINE];
    memset(c, 0, sizeof *c);
    for (int d = 0; d < 64; d++)
        c->when_parent[d] = -1;
    hp_tpe_settings_default(&c->settings);
    int started = 0, n_values = 0;
    while (fgets(buf, sizeof buf, f)) {
        (*line)++;
        char *tok = strtok(buf, " \t\n");
        if (!tok || tok[0] == '#')
            continue;
        if (!strcmp(tok, "case")) {
            const char *name = strtok(NULL, " \t\n"), *family = strtok(NULL, " \t\n");
            if (!name || !family)
                die(*line, "case NAME FAMILY");
            snprintf(c->name, sizeof c->name, "%s", name);
            snprintf(c->family, sizeof c->family, "%s", family);
            started = 1;
        } else if (!started) {
            die(*line, "expected 'case'");
        } else if (!strcmp(tok, "settings")) {
            while ((tok = strtok(NULL, " \t\n")))
                set_setting(&c->settings, tok, *line);
        } else if (!strcmp(tok, "seed")) {
            c->seed = strtoull(strtok(NULL, " \t\n"), NULL, 10);
        } else if (!strcmp(tok, "dim")) {
            if (c->n_dims == 64 || c->n_trials > 0)
                die(*line, "too many dims, or a dim after a trial");
            hp_tpe_dim *d = &c->dims[c->n_dims++];
            const char *kind = strtok(NULL, " \t\n");
            if (kind && !strcmp(kind, "cat")) {
                d->n_choices = (int)number(strtok(NULL, " \t\n"), *line);
            } else if (kind && (!strcmp(kind, "float") || !strcmp(kind, "int"))) {
                d->is_int = !strcmp(kind, "int");
                d->low = number(strtok(NULL, " \t\n"), *line);
                d->high = number(strtok(NULL, " \t\n"), *line);
                d->step = number(strtok(NULL, " \t\n"), *line);
                d->log = (int)number(strtok(NULL, " \t\n"), *line);
            } else {
                die(*line, "dim cat|float|int");
            }
        } else if (!strcmp(tok, "trial")) {
            c->trials = hp_xrealloc(c->trials, (size_t)(c->n_trials + 1) * sizeof *c->trials);
            hp_tpe_trial *t = &c->trials[c->n_trials++];
            t->state = parse_state(strtok(NULL, " \t\n"), *line);
            t->value = number(strtok(NULL, " \t\n"), *line);
            t->step = (int)number(strtok(NULL, " \t\n"), *line);
            read_row(&c->values, &n_values, c->n_dims, *line);
        } else if (!strcmp(tok, "point")) {
            read_row(&c->points, &c->n_points, c->n_dims, *line);
        } else if (!strcmp(tok, "ppf")) {
            c->ppf = hp_xrealloc(c->ppf, (size_t)(c->n_ppf + 1) * sizeof *c->ppf);
            for (int k = 0; k < 3; k++)
                c->ppf[c->n_ppf][k] = number(strtok(NULL, " \t\n"), *line);
            c->n_ppf++;
        } else if (!strcmp(tok, "when")) {
            int d = (int)number(strtok(NULL, " \t\n"), *line), parent = (int)number(strtok(NULL, " \t\n"), *line);
            if (d < 0 || d >= c->n_dims || parent < 0 || parent >= d || c->dims[parent].n_choices == 0)
                die(*line, "when D P K: P < D, P categorical");
            c->when_parent[d] = parent;
            c->when_value[d] = (int)number(strtok(NULL, " \t\n"), *line);
            c->n_conditions++;
        } else if (!strcmp(tok, "end")) {
            for (int i = 0; i < c->n_trials; i++) /* rows are stable now */
                c->trials[i].x = c->values + (long)i * c->n_dims;
            return 1;
        } else {
            die(*line, "unknown line");
        }
    }
    if (started)
        die(*line, "case without 'end'");
    return 0;
}

static void print_list(const char *prefix, const double *v, int n)
{
    fputs(prefix, stdout);
    for (int i = 0; i < n; i++)
        printf(" %.17g", v[i]);
    putchar('\n');
}

static void print_ints(const char *prefix, const int *v, int n)
{
    fputs(prefix, stdout);
    for (int i = 0; i < n; i++)
        printf(" %d", v[i]);
    putchar('\n');
}

static void print_estimator(const case_data *c, int g, const hp_tpe_group *grp, const char *which,
                            const hp_parzen *pe)
{
    char prefix[256];
    int m = pe->n_components;
    snprintf(prefix, sizeof prefix, "group %d %s weights", g, which);
    print_list(prefix, pe->weights, m);
    for (int k = 0; k < grp->n_dims; k++) {
        int d = grp->dims[k];
        if (pe->dims[k].n_choices > 0) {
            int nc = pe->dims[k].n_choices;
            for (int j = 0; j < m; j++) {
                snprintf(prefix, sizeof prefix, "group %d %s dim %d table %d", g, which, d, j);
                print_list(prefix, pe->categorical[k] + (long)j * nc, nc);
            }
        } else {
            printf("group %d %s dim %d bounds %.17g %.17g %.17g\n", g, which, d, pe->low[k],
                   pe->high[k], pe->q[k]);
            snprintf(prefix, sizeof prefix, "group %d %s dim %d mus", g, which, d);
            print_list(prefix, hp_parzen_mus(pe, k), m);
            snprintf(prefix, sizeof prefix, "group %d %s dim %d sigmas", g, which, d);
            print_list(prefix, hp_parzen_sigmas(pe, k), m);
        }
    }
    if (c->n_points > 0) {
        double *proj = hp_xcalloc((size_t)c->n_points * grp->n_dims, sizeof *proj);
        double *lp = hp_xcalloc((size_t)c->n_points, sizeof *lp);
        for (int i = 0; i < c->n_points; i++)
            for (int k = 0; k < grp->n_dims; k++)
                proj[(long)i * grp->n_dims + k] = c->points[(long)i * c->n_dims + grp->dims[k]];
        hp_parzen_log_pdf(pe, proj, c->n_points, lp);
        snprintf(prefix, sizeof prefix, "group %d %s logpdf", g, which);
        print_list(prefix, lp, c->n_points);
        free(proj);
        free(lp);
    }
}

/* Is dim d active given the values so far (hp_tpe_active_fn of a case's when lines)? */
static int case_active(const void *ctx, int d, const double *out)
{
    const case_data *c = ctx;
    for (int at = d; c->when_parent[at] >= 0; at = c->when_parent[at]) /* the chain up to the root */
        if (isnan(out[c->when_parent[at]]) || out[c->when_parent[at]] != c->when_value[at])
            return 0;
    return 1;
}

/* A conditional case after the split: the sampled groups, the uniforms, the proposal. */
static int dump_conditional(const case_data *c, hp_tpe_model *m)
{
    int n_ei = c->settings.n_ei_candidates, shown = 0, rc = 0;
    long n_uniforms = 0;
    double expected[64];
    hp_rng replay;
    hp_rng_seed(&replay, c->seed);
    for (int d = 0; d < c->n_dims; d++)
        expected[d] = hp_tpe_dim_single(&c->dims[d]) ? (c->dims[d].n_choices ? 0 : c->dims[d].low) : NAN;
    for (int g = 0; m->use_model && g < m->n_groups; g++) {
        const hp_tpe_group *grp = &m->groups[g];
        if (!(g == 0 && m->joint_group) && !case_active(c, grp->dims[0], expected))
            continue; /* never suggested: no draws */
        double *cand = hp_xcalloc((size_t)n_ei * grp->n_dims, sizeof *cand);
        double *score = hp_xcalloc((size_t)n_ei, sizeof *score);
        int best = hp_tpe_group_candidates(grp, n_ei, &replay, cand, score);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "group %d dims", shown);
        print_ints(prefix, grp->dims, grp->n_dims);
        snprintf(prefix, sizeof prefix, "group %d candidates", shown);
        print_list(prefix, cand, n_ei * grp->n_dims);
        snprintf(prefix, sizeof prefix, "group %d scores", shown);
        print_list(prefix, score, n_ei);
        for (int k = 0; k < grp->n_dims; k++)
            expected[grp->dims[k]] = cand[(long)best * grp->n_dims + k];
        n_uniforms += (long)n_ei * (1 + grp->n_dims);
        shown++;
        free(cand);
        free(score);
    }
    for (int d = 0; d < c->n_dims; d++)
        if (!case_active(c, d, expected))
            expected[d] = NAN;
    int use_model = m->use_model;
    hp_tpe_model_release(m);
    hp_rng rng;
    double out[64];
    int used = -1;
    hp_rng_seed(&rng, c->seed);
    if (hp_tpe_propose_conditional(&c->settings, c->dims, c->n_dims, c->trials, c->n_trials, &rng, out, &used,
                                   case_active, c) != 0) {
        printf("error %s\n", hp_error_message());
        return -1;
    }
    if (!use_model) {
        printf("proposal random\n");
        return 0;
    }
    hp_rng again;
    hp_rng_seed(&again, c->seed);
    fputs("uniforms", stdout);
    for (long i = 0; i < n_uniforms; i++)
        printf(" %.17g", hp_rng_uniform(&again));
    putchar('\n');
    if (memcmp(&again, &rng, sizeof rng) != 0 || memcmp(&again, &replay, sizeof rng) != 0) {
        printf("error the conditional proposal did not consume exactly %ld uniforms\n", n_uniforms);
        rc = -1;
    }
    for (int d = 0; d < c->n_dims; d++)
        if (!(out[d] == expected[d]) && !(isnan(out[d]) && isnan(expected[d]))) {
            printf("error hp_tpe_propose_conditional dim %d = %.17g, the group replay chose %.17g\n", d, out[d],
                   expected[d]);
            rc = -1;
        }
    print_list("proposal", out, c->n_dims);
    return rc;
}

static int dump_case(const case_data *c)
{
    printf("case %s %s\n", c->name, c->family);
    hp_tpe_model m;
    if (hp_tpe_model_fit(&m, &c->settings, c->dims, c->n_dims, c->trials, c->n_trials) != 0) {
        printf("error %s\n", hp_error_message());
        return -1;
    }
    printf("n_finished %d\nuse_model %d\nn_below_target %d\n", m.n_finished, m.use_model,
           m.n_below_target);
    print_ints("split_below", m.below, m.n_below);
    print_ints("split_above", m.above, m.n_above);
    if (c->n_conditions)
        return dump_conditional(c, &m);
    long n_uniforms = 0;
    for (int g = 0; g < m.n_groups; g++) {
        const hp_tpe_group *grp = &m.groups[g];
        char prefix[64];
        snprintf(prefix, sizeof prefix, "group %d dims", g);
        print_ints(prefix, grp->dims, grp->n_dims);
        snprintf(prefix, sizeof prefix, "group %d below_trials", g);
        print_ints(prefix, grp->below, grp->n_below);
        snprintf(prefix, sizeof prefix, "group %d above_trials", g);
        print_ints(prefix, grp->above, grp->n_above);
        print_estimator(c, g, grp, "below", &grp->below_pe);
        print_estimator(c, g, grp, "above", &grp->above_pe);
        n_uniforms += (long)c->settings.n_ei_candidates * (1 + grp->n_dims);
    }
    for (int i = 0; i < c->n_ppf; i++)
        printf("ppf %.17g %.17g %.17g %.17g\n", c->ppf[i][0], c->ppf[i][1], c->ppf[i][2],
               hp_truncnorm_ppf(c->ppf[i][0], c->ppf[i][1], c->ppf[i][2]));

    /* Step 5 group by group from the seeded stream, as hp_tpe_propose runs it. */
    int n_ei = c->settings.n_ei_candidates;
    double expected[64];
    hp_rng replay;
    hp_rng_seed(&replay, c->seed);
    for (int d = 0; d < c->n_dims; d++)
        expected[d] = hp_tpe_dim_single(&c->dims[d]) ? (c->dims[d].n_choices ? 0 : c->dims[d].low) : NAN;
    for (int g = 0; g < m.n_groups; g++) {
        const hp_tpe_group *grp = &m.groups[g];
        double *cand = hp_xcalloc((size_t)n_ei * grp->n_dims, sizeof *cand);
        double *score = hp_xcalloc((size_t)n_ei, sizeof *score);
        int best = hp_tpe_group_candidates(grp, n_ei, &replay, cand, score);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "group %d candidates", g);
        print_list(prefix, cand, n_ei * grp->n_dims);
        snprintf(prefix, sizeof prefix, "group %d scores", g);
        print_list(prefix, score, n_ei);
        for (int k = 0; k < grp->n_dims; k++)
            expected[grp->dims[k]] = cand[(long)best * grp->n_dims + k];
        free(cand);
        free(score);
    }
    int use_model = m.use_model;
    hp_tpe_model_release(&m);

    hp_rng rng;
    double out[64];
    int used = -1;
    hp_rng_seed(&rng, c->seed);
    if (hp_tpe_propose(&c->settings, c->dims, c->n_dims, c->trials, c->n_trials, &rng, out, &used) != 0) {
        printf("error %s\n", hp_error_message());
        return -1;
    }
    if (used != use_model) {
        printf("error hp_tpe_propose used_model %d but the model says %d\n", used, use_model);
        return -1;
    }
    if (!used) {
        printf("proposal random\n");
        return 0;
    }
    /* The uniforms the proposal consumed (the oracle replays them), and checks
     * that hp_tpe_propose drew exactly those and chose the replayed winners. */
    hp_rng again;
    hp_rng_seed(&again, c->seed);
    fputs("uniforms", stdout);
    for (long i = 0; i < n_uniforms; i++)
        printf(" %.17g", hp_rng_uniform(&again));
    putchar('\n');
    int rc = 0;
    if (memcmp(&again, &rng, sizeof rng) != 0 || memcmp(&again, &replay, sizeof rng) != 0) {
        printf("error the proposal did not consume exactly %ld uniforms\n", n_uniforms);
        rc = -1;
    }
    for (int d = 0; d < c->n_dims; d++)
        if (!(out[d] == expected[d])) {
            printf("error hp_tpe_propose dim %d = %.17g, the group replay chose %.17g\n", d, out[d],
                   expected[d]);
            rc = -1;
        }
    print_list("proposal", out, c->n_dims);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tpe_dump CASES_FILE|-\n");
        return 2;
    }
    FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    case_data c;
    int line = 0, errors = 0;
    while (read_case(f, &c, &line)) {
        errors += dump_case(&c) != 0;
        case_free(&c);
    }
    if (f != stdin)
        fclose(f);
    return errors ? 1 : 0;
}
