/* test_report.c - the HTML report: escaping of every string (checked by a tag
 * scanner over the written page), importance on synthetic data with known
 * answers and a hand-worked case, the budget epoch importance uses, empty
 * states, the thinning counts exposed for the DOM checks, finite SVG
 * coordinates, and the atomic write with its error messages. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "report.h"
#include "rng.h"
#include "testlib.h"

static char temp_dir[64];

/* ------------------------------------------------------------ fixture --- */

#define MAX_PARAMS 4

typedef struct fixture {
    hp_report r;
    hp_report_param params[MAX_PARAMS];
    hp_report_trial *trials;
    double *param_values; /* (n_trials, MAX_PARAMS) */
    double *metrics;      /* (n_trials, max_epochs, HP_REPORT_METRIC_COLS) */
    int max_epochs;
} fixture;

static const char *const colors[] = {"red", "green", "blue"};

/* n trials of `epochs` epochs each, params: x1 linear [0,1], x2 linear [0,1],
 * x3 log [1e-3, 1], c categorical {red, green, blue}; metric val_accuracy in
 * column 3, filled by the caller (set_metric). */
static void fixture_init(fixture *fx, int n, int epochs)
{
    memset(fx, 0, sizeof *fx);
    fx->max_epochs = epochs;
    fx->params[0] = (hp_report_param){"x1", HP_REPORT_LINEAR, 0, NULL, 0, 1};
    fx->params[1] = (hp_report_param){"x2", HP_REPORT_LINEAR, 0, NULL, 0, 1};
    fx->params[2] = (hp_report_param){"x3", HP_REPORT_LOG, 0, NULL, 1e-3, 1};
    fx->params[3] = (hp_report_param){"c", HP_REPORT_CATEGORICAL, 3, colors, 0, 0};
    fx->trials = hp_xcalloc((size_t)n + 1, sizeof *fx->trials);
    fx->param_values = hp_xcalloc((size_t)n * MAX_PARAMS + 1, sizeof *fx->param_values);
    fx->metrics = hp_xcalloc((size_t)n * (size_t)epochs * HP_REPORT_METRIC_COLS + 1, sizeof *fx->metrics);
    for (int i = 0; i < n; i++) {
        hp_report_trial *t = &fx->trials[i];
        t->id = i;
        t->status = "completed";
        t->bracket = t->rung = -1;
        t->n_epochs = epochs;
        t->metrics = &fx->metrics[(size_t)i * (size_t)epochs * HP_REPORT_METRIC_COLS];
        t->params = &fx->param_values[(size_t)i * MAX_PARAMS];
        t->value = NAN;
    }
    hp_report *r = &fx->r;
    r->study_name = "unit";
    r->strategy_text = "random: unit test";
    r->state = "finished";
    r->metric = "val_accuracy";
    r->metric_column = HP_REPORT_COL_VAL_ACCURACY;
    r->maximize = 1;
    r->n_params = MAX_PARAMS;
    r->params = fx->params;
    r->n_trials = n;
    r->trials = fx->trials;
    r->best = -1;
}

static void fixture_release(fixture *fx)
{
    free(fx->trials);
    free(fx->param_values);
    free(fx->metrics);
}

static double *param_of(fixture *fx, int trial) { return &fx->param_values[(size_t)trial * MAX_PARAMS]; }

static double *row_of(fixture *fx, int trial, int epoch)
{
    return &fx->metrics[((size_t)trial * (size_t)fx->max_epochs + (size_t)(epoch - 1)) * HP_REPORT_METRIC_COLS];
}

/* Every epoch of trial i gets losses/accuracies shaped like a learning curve
 * ending at `final`; value = final; best = the highest value. */
static void set_metric(fixture *fx, int i, double final)
{
    hp_report_trial *t = &fx->trials[i];
    for (int e = 1; e <= t->n_epochs; e++) {
        double *row = row_of(fx, i, e);
        double progress = (double)e / t->n_epochs;
        row[HP_REPORT_COL_TRAIN_LOSS] = 2.3 - progress;
        row[HP_REPORT_COL_VAL_LOSS] = 2.3 - 0.9 * progress;
        row[HP_REPORT_COL_TRAIN_ACCURACY] = final * progress + 0.05;
        row[HP_REPORT_COL_VAL_ACCURACY] = final * progress;
    }
    t->value = t->n_epochs > 0 ? final : NAN;
    if (isfinite(t->value) && (fx->r.best < 0 || t->value > fx->trials[fx->r.best].value))
        fx->r.best = i;
}

/* Random parameters for every trial (deterministic). */
static void random_params(fixture *fx, hp_rng *rng)
{
    for (int i = 0; i < fx->r.n_trials; i++) {
        double *p = param_of(fx, i);
        p[0] = hp_rng_uniform(rng);
        p[1] = hp_rng_uniform(rng);
        p[2] = pow(10, -3 * hp_rng_uniform(rng));
        p[3] = (double)hp_rng_below(rng, 3);
    }
}

/* ------------------------------------------------------------ file I/O --- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = hp_xcalloc((size_t)n + 1, 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static const char *temp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    return path;
}

/* Write the report and return the page (caller frees), NULL on failure. */
static char *render(const hp_report *r, const char *name)
{
    const char *path = temp_path(name);
    if (hp_report_write_html(r, path) != 0) {
        printf("    write failed: %s\n", hp_error_message());
        return NULL;
    }
    return read_file(path);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
        n++;
    return n;
}

/* An attribute value after `name="` in the first element that has `marker`. */
static int int_attribute(const char *page, const char *marker, const char *name)
{
    const char *m = strstr(page, marker);
    if (!m)
        return -1;
    const char *tag = m;
    while (tag > page && *tag != '<')
        tag--;
    const char *end = strchr(m, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(tag, key);
    if (!a || (end && a > end))
        return -1;
    return atoi(a + strlen(key));
}

/* ---------------------------------------------------------- tag scanner --- */

/* Walk the page like an HTML tokenizer: every '<' must open a known element,
 * a closing tag, a comment or the doctype, and the text of <style>/<script>
 * is skipped.  Numeric SVG attributes must not contain nan/inf.  Returns
 * the number of problems (printed). */
static int scan_tags(const char *page)
{
    static const char *const known[] = {
        "html", "head", "meta", "title", "style", "body", "main", "header", "p", "h1", "h2", "h3", "b", "span",
        "div", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "nav", "a", "section",
        "figure", "figcaption", "svg", "defs", "clippath", "rect", "g", "line", "path", "text", "circle",
        "lineargradient", "stop", "small", "footer", "script", NULL};
    static const char *const numeric[] = {"d", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width",
                                          "height", "transform", "viewbox", NULL};
    int problems = 0;
    const char *p = page;
    while ((p = strchr(p, '<')) != NULL) {
        p++;
        if (*p == '!') {
            p = strchr(p, '>');
            if (!p)
                break;
            continue;
        }
        if (*p == '/')
            p++;
        char name[32];
        int n = 0;
        while (isalnum((unsigned char)*p) && n < 31)
            name[n++] = (char)tolower((unsigned char)*p++);
        name[n] = '\0';
        int ok = 0;
        for (int k = 0; known[k]; k++)
            ok |= strcmp(name, known[k]) == 0;
        if (!ok) {
            printf("    unexpected tag <%s near: %.60s\n", name, p - n);
            problems++;
        }
        const char *end = strchr(p, '>');
        if (!end)
            break;
        /* numeric attributes of this tag */
        for (const char *a = p; a < end; a++) {
            if (*a != '=' || a[1] != '"')
                continue;
            const char *k0 = a;
            while (k0 > p && !isspace((unsigned char)k0[-1]))
                k0--;
            char key[24];
            size_t kl = (size_t)(a - k0) < sizeof key - 1 ? (size_t)(a - k0) : sizeof key - 1;
            for (size_t i = 0; i < kl; i++)
                key[i] = (char)tolower((unsigned char)k0[i]);
            key[kl] = '\0';
            const char *v0 = a + 2, *v1 = strchr(v0, '"');
            if (!v1)
                break;
            for (int k = 0; numeric[k]; k++) {
                if (strcmp(key, numeric[k]) != 0)
                    continue;
                for (const char *c = v0; c + 3 <= v1; c++)
                    if (strncasecmp(c, "nan", 3) == 0 || strncasecmp(c, "inf", 3) == 0) {
                        printf("    non-finite number in %s=\"%.40s\"\n", key, v0);
                        problems++;
                        break;
                    }
            }
            a = v1;
        }
        if (!strcmp(name, "style") || !strcmp(name, "script")) {
            if (p[-n - 1] == '/')
                continue; /* a closing tag */
            char close[48];
            snprintf(close, sizeof close, "</%s>", name);
            p = strstr(end, close);
            if (!p) {
                printf("    <%s> not closed\n", name);
                return problems + 1;
            }
            p += 2;
            continue;
        }
        p = end;
    }
    return problems;
}

/* ------------------------------------------------------------- escaping --- */

static const char *const nasty_labels[] = {"<b>a</b>", "b&c", "\"q\""};

TEST(every_string_is_escaped)
{
    fixture fx;
    fixture_init(&fx, 6, 3);
    hp_rng rng;
    hp_rng_seed_for(&rng, 1, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 6; i++)
        set_metric(&fx, i, 0.3 + 0.1 * i);
    fx.r.study_name = "<script>alert('x')</script> & \"co\"";
    fx.r.strategy_text = "grid <i>&amp;</i>";
    fx.r.metric = "val_accuracy";
    fx.r.state = "finished\"><img src=x>";
    fx.r.generated_at = "<now>";
    fx.r.version = "1 & 2";
    fx.params[1].name = "x2\"<&>'";
    fx.params[3].labels = nasty_labels;
    fx.trials[2].status = "failed";
    fx.trials[2].value = NAN;
    fx.trials[2].failure = "diverged <b>nan</b> & 'quoted' \"double\" \x01\x1f end";
    fx.r.best = 5;
    const char *const nasty_classes[HP_REPORT_CLASSES] = {"<cat>", "d&g", "\"", "'", "a", "b", "c", "d", "e", "f"};
    long long cm[HP_REPORT_CLASSES * HP_REPORT_CLASSES] = {0};
    for (int c = 0; c < HP_REPORT_CLASSES; c++)
        cm[c * HP_REPORT_CLASSES + c] = 10;
    fx.r.best_confusion = cm;
    fx.r.class_names = nasty_classes;
    char *page = render(&fx.r, "escape.html");
    EXPECT(page != NULL, "page written");
    if (page) {
        EXPECT(scan_tags(page) == 0, "only the page's own tags and finite coordinates");
        EXPECT(count(page, "<script") == 1, "one <script> element (the table sorter), found %d",
               count(page, "<script"));
        EXPECT(strstr(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;") != NULL,
               "study name escaped");
        EXPECT(strstr(page, "grid &lt;i&gt;&amp;amp;&lt;/i&gt;") != NULL, "strategy text escaped (& of &amp; too)");
        EXPECT(strstr(page, "diverged &lt;b&gt;nan&lt;/b&gt; &amp; &#39;quoted&#39; &quot;double&quot; "
                            "\xef\xbf\xbd\xef\xbf\xbd end") != NULL,
               "failure escaped, control characters replaced by U+FFFD");
        EXPECT(strstr(page, "data-axis=\"x2&quot;&lt;&amp;&gt;&#39;\"") != NULL, "parameter name in an attribute");
        EXPECT(strstr(page, "&lt;b&gt;a&lt;/b&gt;") != NULL, "categorical label escaped");
        EXPECT(strstr(page, "&lt;cat&gt;") != NULL && strstr(page, "d&amp;g") != NULL, "class names escaped");
        EXPECT(strstr(page, "state-finished&quot;&gt;&lt;img src=x&gt;") != NULL, "state escaped in a class");
        EXPECT(strstr(page, "&lt;now&gt;") != NULL && strstr(page, "1 &amp; 2") != NULL, "footer strings");
        EXPECT(strstr(page, "\x01") == NULL, "no control character survives");
    }
    free(page);
    fixture_release(&fx);
}

/* ----------------------------------------------------------- importance --- */

TEST(importance_finds_the_only_relevant_parameter)
{
    fixture fx;
    fixture_init(&fx, 400, 1);
    hp_rng rng;
    hp_rng_seed_for(&rng, 2, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 400; i++)
        set_metric(&fx, i, 0.5 + 0.3 * sin(3 * param_of(&fx, i)[0]) + 0.02 * hp_rng_normal(&rng));
    double imp[MAX_PARAMS];
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT(imp[0] > 0.95, "x1 gets almost all importance: %.4f", imp[0]);
    for (int p = 1; p < MAX_PARAMS; p++)
        EXPECT(imp[p] < 0.03, "irrelevant parameter %d gets %.4f", p, imp[p]);
    EXPECT_NEAR(imp[0] + imp[1] + imp[2] + imp[3], 1, 1e-12, "sum");
    fixture_release(&fx);
}

TEST(importance_splits_two_equal_main_effects)
{
    /* y = x1 + x2 (independent uniforms): each explains half of the variance */
    fixture fx;
    fixture_init(&fx, 800, 1);
    hp_rng rng;
    hp_rng_seed_for(&rng, 3, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 800; i++)
        set_metric(&fx, i, param_of(&fx, i)[0] + param_of(&fx, i)[1]);
    double imp[MAX_PARAMS];
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT_NEAR(imp[0], 0.5, 0.06, "x1");
    EXPECT_NEAR(imp[1], 0.5, 0.06, "x2");
    EXPECT(imp[2] < 0.02 && imp[3] < 0.02, "x3 %.4f and c %.4f near 0", imp[2], imp[3]);
    fixture_release(&fx);
}

/* eps^2 computed the other way round: 1 - (n-1)/(n-k) * SS_within / SS_total */
static double reference_eps2(const double *y, const int *g, int n, int k)
{
    double mean = 0, ss_total = 0, ss_within = 0;
    for (int i = 0; i < n; i++)
        mean += y[i] / n;
    for (int i = 0; i < n; i++)
        ss_total += (y[i] - mean) * (y[i] - mean);
    for (int c = 0; c < k; c++) {
        double m = 0;
        int nc = 0;
        for (int i = 0; i < n; i++)
            if (g[i] == c) {
                m += y[i];
                nc++;
            }
        m /= nc;
        for (int i = 0; i < n; i++)
            if (g[i] == c)
                ss_within += (y[i] - m) * (y[i] - m);
    }
    double e = 1 - (double)(n - 1) / (n - k) * ss_within / ss_total;
    return e > 0 ? e : 0;
}

TEST(importance_matches_a_hand_worked_case)
{
    /* 6 trials, two categorical parameters:
     *   y  = 1 2 3 4 5 9
     *   c1 = 0 0 1 1 2 2   groups {1,2} {3,4} {5,9}
     *   c2 = 0 1 0 1 0 1   groups {1,3,5} {2,4,9}
     * by hand: mean 4, SS_total 9+4+1+0+1+25 = 40; c1: means 1.5, 3.5, 7 ->
     * SS_between 2*6.25 + 2*0.25 + 2*9 = 31, SS_within 9, eps^2 = (31 - 2*9/3)/40 = 25/40;
     * c2: means 3, 5 -> SS_between 6, SS_within 34, eps^2 = (6 - 34/4)/40 < 0 -> 0. */
    static const char *const three[] = {"a", "b", "c"};
    fixture fx;
    fixture_init(&fx, 6, 1);
    fx.r.n_params = 2;
    fx.params[0] = (hp_report_param){"c1", HP_REPORT_CATEGORICAL, 3, three, 0, 0};
    fx.params[1] = (hp_report_param){"c2", HP_REPORT_CATEGORICAL, 2, three, 0, 0};
    const double y[6] = {1, 2, 3, 4, 5, 9};
    const int g1[6] = {0, 0, 1, 1, 2, 2}, g2[6] = {0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; i++) {
        param_of(&fx, i)[0] = g1[i];
        param_of(&fx, i)[1] = g2[i];
        set_metric(&fx, i, y[i]);
    }
    EXPECT_NEAR(reference_eps2(y, g1, 6, 3), 25.0 / 40, 1e-12, "reference c1 = hand value");
    EXPECT_NEAR(reference_eps2(y, g2, 6, 2), 0, 1e-12, "reference c2 = hand value");
    double imp[2];
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT_NEAR(imp[0], 1, 1e-12, "c1 normalised");
    EXPECT_NEAR(imp[1], 0, 1e-12, "c2");
    /* a third, weaker parameter makes the normalisation visible: c3 groups {1,2,3} {4,5,9}:
       means 2, 6 -> SS_between 24, SS_within 16, eps^2 = (24 - 16/4)/40 = 20/40 */
    fx.r.n_params = 3;
    fx.params[2] = (hp_report_param){"c3", HP_REPORT_CATEGORICAL, 2, three, 0, 0};
    const int g3[6] = {0, 0, 0, 1, 1, 1};
    for (int i = 0; i < 6; i++)
        param_of(&fx, i)[2] = g3[i];
    double imp3[3];
    EXPECT(hp_report_importance(&fx.r, imp3) == 0, "importance ok");
    double e1 = reference_eps2(y, g1, 6, 3), e3 = reference_eps2(y, g3, 6, 2);
    EXPECT_NEAR(e3, 20.0 / 40, 1e-12, "reference c3 = hand value");
    EXPECT_NEAR(imp3[0], e1 / (e1 + e3), 1e-12, "c1 share");
    EXPECT_NEAR(imp3[2], e3 / (e1 + e3), 1e-12, "c3 share");
    EXPECT_NEAR(imp3[1], 0, 1e-12, "c2 share");
    fixture_release(&fx);
}

TEST(importance_is_the_same_on_log_and_linear_axes)
{
    fixture fx;
    fixture_init(&fx, 120, 1);
    hp_rng rng;
    hp_rng_seed_for(&rng, 4, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 120; i++)
        set_metric(&fx, i, log10(param_of(&fx, i)[2]) * log10(param_of(&fx, i)[2]) + 0.3 * param_of(&fx, i)[0] +
                               0.05 * hp_rng_normal(&rng));
    double a[MAX_PARAMS], b[MAX_PARAMS];
    EXPECT(hp_report_importance(&fx.r, a) == 0, "importance ok");
    fx.params[2].scale = HP_REPORT_LINEAR; /* equal-count bins by rank: the scale does not matter */
    EXPECT(hp_report_importance(&fx.r, b) == 0, "importance ok");
    for (int p = 0; p < MAX_PARAMS; p++)
        EXPECT(a[p] == b[p], "param %d: %.17g vs %.17g", p, a[p], b[p]);
    EXPECT(a[2] > 0.6, "x3 dominates: %.3f", a[2]);
    fixture_release(&fx);
}

TEST(importance_counts_inactive_as_a_level)
{
    /* x1 is active only for half of the trials and being active is what matters */
    fixture fx;
    fixture_init(&fx, 200, 1);
    hp_rng rng;
    hp_rng_seed_for(&rng, 5, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 200; i++) {
        int active = i % 2 == 0;
        if (!active)
            param_of(&fx, i)[0] = NAN;
        set_metric(&fx, i, (active ? 0.7 : 0.4) + 0.02 * hp_rng_normal(&rng));
    }
    double imp[MAX_PARAMS];
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT(imp[0] > 0.95, "x1 (active or not) %.4f", imp[0]);
    fixture_release(&fx);
}

TEST(importance_compares_trials_at_a_common_epoch)
{
    /* 12 trials: 8 stopped after 1 epoch, 4 continue to 3 epochs.  At epoch 1
     * the metric depends on x1 only; the final values of the long trials
     * depend on x2 only.  Half of the trials do not reach epoch 3, so the
     * basis is epoch 1 and x1 must win. */
    fixture fx;
    fixture_init(&fx, 12, 3);
    for (int i = 0; i < 12; i++) {
        double *p = param_of(&fx, i);
        p[0] = i % 3;       /* 3 levels */
        p[1] = (i / 3) % 2; /* 2 levels */
        p[2] = 0.01;
        p[3] = 0;
        hp_report_trial *t = &fx.trials[i];
        t->n_epochs = i < 8 ? 1 : 3;
        for (int e = 1; e <= t->n_epochs; e++)
            row_of(&fx, i, e)[HP_REPORT_COL_VAL_ACCURACY] = e == 1 ? 0.2 + 0.1 * p[0] : 0.5 + 0.2 * p[1];
        t->value = row_of(&fx, i, t->n_epochs)[HP_REPORT_COL_VAL_ACCURACY];
    }
    int epoch = -1, used = -1;
    hp_report_importance_basis(&fx.r, &epoch, &used);
    EXPECT(epoch == 1 && used == 12, "basis epoch %d (want 1), %d trials (want 12)", epoch, used);
    double imp[MAX_PARAMS];
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT_NEAR(imp[0], 1, 1e-9, "x1 at epoch 1");
    /* with 6 of 12 reaching epoch 3 (at least half), epoch 3 is the basis */
    for (int i = 6; i < 8; i++) {
        fx.trials[i].n_epochs = 3;
        for (int e = 2; e <= 3; e++)
            row_of(&fx, i, e)[HP_REPORT_COL_VAL_ACCURACY] = 0.5 + 0.2 * param_of(&fx, i)[1];
    }
    hp_report_importance_basis(&fx.r, &epoch, &used);
    EXPECT(epoch == 3 && used == 6, "basis epoch %d (want 3), %d trials (want 6)", epoch, used);
    fixture_release(&fx);
}

TEST(importance_without_information_is_zero)
{
    fixture fx;
    fixture_init(&fx, 2, 1);
    set_metric(&fx, 0, 0.5);
    set_metric(&fx, 1, 0.7);
    double imp[MAX_PARAMS] = {9, 9, 9, 9};
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "ok with 2 trials");
    EXPECT(imp[0] == 0 && imp[1] == 0 && imp[2] == 0 && imp[3] == 0, "all zero with fewer than 3 trials");
    fixture_release(&fx);
    fixture_init(&fx, 20, 1);
    hp_rng rng;
    hp_rng_seed_for(&rng, 6, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 20; i++)
        set_metric(&fx, i, 0.5);
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "ok with a constant metric");
    EXPECT(imp[0] == 0 && imp[1] == 0 && imp[2] == 0 && imp[3] == 0, "all zero for a constant metric");
    fixture_release(&fx);
}

/* Enough trials, but no parameter explains more than chance: the page says
 * so, rather than asking for trials it already has.  x1 and x2 split the four
 * trials {0,1}{2,3} while the metric alternates 0.5, 0.7: eta^2 = 0 for both,
 * the other two are constant. */
TEST(importance_below_chance_is_said_as_such)
{
    fixture fx;
    fixture_init(&fx, 4, 1);
    for (int i = 0; i < 4; i++) {
        double *p = param_of(&fx, i);
        p[0] = i / 2;
        p[1] = i / 2;
        p[2] = 0.01;
        p[3] = 0;
        set_metric(&fx, i, 0.5 + 0.2 * (i % 2));
    }
    double imp[MAX_PARAMS] = {9, 9, 9, 9};
    EXPECT(hp_report_importance(&fx.r, imp) == 0, "importance ok");
    EXPECT(imp[0] == 0 && imp[1] == 0 && imp[2] == 0 && imp[3] == 0, "no parameter above chance");
    char *page = render(&fx.r, "below_chance.html");
    EXPECT(page != NULL, "page written");
    if (page) {
        EXPECT(strstr(page, "than chance would with 4 trials") != NULL, "below-chance state named");
        EXPECT(strstr(page, "Importance cannot be estimated yet") == NULL, "not the too-few-trials state");
    }
    free(page);
    fixture_release(&fx);
}

/* ---------------------------------------------------------- empty states --- */

TEST(empty_states)
{
    /* trials that never reported: pending and failed, no epochs */
    fixture fx;
    fixture_init(&fx, 3, 0);
    fx.trials[0].status = "pending";
    fx.trials[1].status = "failed";
    fx.trials[1].failure = "cannot start";
    fx.trials[2].status = "running";
    for (int i = 0; i < 3; i++)
        for (int p = 0; p < MAX_PARAMS; p++)
            param_of(&fx, i)[p] = p == 2 ? 0.1 : 0;
    char *page = render(&fx.r, "no_values.html");
    EXPECT(page != NULL, "page written");
    if (page) {
        EXPECT(scan_tags(page) == 0, "well-formed");
        EXPECT(strstr(page, "No trial has reported val_accuracy yet") != NULL, "history empty state");
        EXPECT(strstr(page, "No trial has finished an epoch yet") != NULL, "curves empty state");
        EXPECT(strstr(page, "Importance cannot be estimated yet") != NULL, "importance empty state");
        EXPECT(strstr(page, "No trial has a value of the metric yet") != NULL, "no best trial");
        EXPECT(strstr(page, "No confusion matrix was recorded") != NULL, "confusion empty state");
        EXPECT(count(page, "data-trial=") == 0, "no curves");
        EXPECT(count(page, "data-axis=") == MAX_PARAMS, "parallel axes still drawn (failed configurations)");
        EXPECT(strstr(page, "cannot start") != NULL, "failure reason in the table");
    }
    free(page);
    /* no parameters at all */
    fx.r.n_params = 0;
    for (int i = 0; i < 3; i++) {
        fx.trials[i].n_epochs = 0;
        fx.trials[i].params = NULL;
    }
    page = render(&fx.r, "no_params.html");
    EXPECT(page != NULL, "page written without parameters");
    if (page) {
        EXPECT(scan_tags(page) == 0, "well-formed");
        EXPECT(count(page, "The search space has no hyperparameters") == 3, "importance, parallel and slices");
        EXPECT(strstr(page, "A heat map needs two hyperparameters; the search space has 0") != NULL, "heat map");
        EXPECT(count(page, "data-axis=") == 0, "no axes");
    }
    free(page);
    /* no trials */
    fx.r.n_trials = 0;
    page = render(&fx.r, "no_trials.html");
    EXPECT(page != NULL && strstr(page, "The study has no trials yet") != NULL, "trial table empty state");
    free(page);
    fixture_release(&fx);
}

/* --------------------------------------------------- counts and numbers --- */

TEST(curves_and_axes_are_marked_for_the_dom_checks)
{
    /* every trial with epochs is drawn below the limit ... */
    fixture fx;
    fixture_init(&fx, 30, 4);
    hp_rng rng;
    hp_rng_seed_for(&rng, 7, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 30; i++)
        set_metric(&fx, i, 0.2 + 0.6 * hp_rng_uniform(&rng));
    fx.trials[4].n_epochs = 0; /* pending: no curve */
    fx.trials[4].value = NAN;
    fx.trials[4].status = "pending";
    fx.r.best = -1;
    for (int i = 0; i < 30; i++)
        if (isfinite(fx.trials[i].value) && (fx.r.best < 0 || fx.trials[i].value > fx.trials[fx.r.best].value))
            fx.r.best = i;
    /* a diverged trial: NaN and inf in its rows must not reach the SVG */
    fx.trials[7].status = "failed";
    fx.trials[7].value = NAN;
    row_of(&fx, 7, 3)[HP_REPORT_COL_TRAIN_LOSS] = INFINITY;
    row_of(&fx, 7, 4)[HP_REPORT_COL_VAL_LOSS] = NAN;
    row_of(&fx, 7, 4)[HP_REPORT_COL_TRAIN_LOSS] = 1e300;
    param_of(&fx, 9)[0] = NAN; /* inactive */
    char *page = render(&fx.r, "counts.html");
    EXPECT(page != NULL, "page written");
    if (page) {
        EXPECT(scan_tags(page) == 0, "well-formed, finite coordinates");
        EXPECT(count(page, "data-trial=\"") == 29, "one curve group per trial with epochs: %d",
               count(page, "data-trial=\""));
        EXPECT(int_attribute(page, "data-curves=", "data-curves") == 29, "data-curves");
        EXPECT(int_attribute(page, "data-curves=", "data-curves-total") == 29, "data-curves-total");
        EXPECT(count(page, "data-axis=\"") == MAX_PARAMS, "one axis per parameter");
        EXPECT(count(page, "data-metric-axis=\"") == 1, "and the metric axis");
        EXPECT(count(page, "data-slice=\"") == MAX_PARAMS, "one slice plot per parameter");
        EXPECT(strstr(page, "The loss axes show ") != NULL, "the diverged loss is cut off the axis, and said so");
        EXPECT(strstr(page, "The accuracy axes show") == NULL, "accuracies are not cut");
        char best[64];
        snprintf(best, sizeof best, "data-trial=\"%d\" stroke=\"#000\"", fx.trials[fx.r.best].id);
        EXPECT(strstr(page, best) != NULL, "the best trial is drawn in black");
    }
    free(page);
    fixture_release(&fx);

    /* ... and thinned to the documented rule above it */
    int n = HP_REPORT_CURVES_ALL + 101;
    fixture_init(&fx, n, 3);
    random_params(&fx, &rng);
    for (int i = 0; i < n; i++)
        set_metric(&fx, i, hp_rng_uniform(&rng));
    page = render(&fx.r, "thinned.html");
    EXPECT(page != NULL, "page written");
    if (page) {
        int drawn = HP_REPORT_CURVES_BEST + HP_REPORT_CURVES_SPREAD;
        EXPECT(count(page, "data-trial=\"") == drawn, "%d curves drawn, want %d", count(page, "data-trial=\""),
               drawn);
        EXPECT(int_attribute(page, "data-curves=", "data-curves") == drawn, "data-curves");
        EXPECT(int_attribute(page, "data-curves=", "data-curves-total") == n, "data-curves-total");
        /* the best HP_REPORT_CURVES_BEST trials are all among the drawn ones */
        int *order = hp_xcalloc((size_t)n, sizeof *order);
        for (int i = 0; i < n; i++)
            order[i] = i;
        for (int i = 0; i < n; i++) /* selection sort by value, best first (test sizes are small) */
            for (int j = i + 1; j < n; j++)
                if (fx.trials[order[j]].value > fx.trials[order[i]].value) {
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
        int missing = 0;
        for (int k = 0; k < HP_REPORT_CURVES_BEST; k++) {
            char mark[48];
            snprintf(mark, sizeof mark, "data-trial=\"%d\"", fx.trials[order[k]].id);
            missing += strstr(page, mark) == NULL;
        }
        EXPECT(missing == 0, "%d of the best trials are not drawn", missing);
        free(order);
        EXPECT(strstr(page, "10th to 90th percentile") != NULL, "the caption states the band");
    }
    free(page);
    fixture_release(&fx);
}

/* ------------------------------------------------------------- writing --- */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

TEST(atomic_write_and_errors)
{
    fixture fx;
    fixture_init(&fx, 5, 2);
    hp_rng rng;
    hp_rng_seed_for(&rng, 8, 0, HP_STREAM_TEST);
    random_params(&fx, &rng);
    for (int i = 0; i < 5; i++)
        set_metric(&fx, i, 0.1 * i);
    char path[256], tmp[300];
    snprintf(path, sizeof path, "%s", temp_path("atomic.html"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(path, "w");
    fputs("OLD", f);
    fclose(f);

    /* bad input: the old file stays, no temporary is left behind */
    fx.r.heatmap_a = "x1";
    fx.r.heatmap_b = "nope";
    EXPECT(hp_report_write_html(&fx.r, path) == -1, "unknown heat-map parameter fails");
    EXPECT(strstr(hp_error_message(), "'nope'") && strstr(hp_error_message(), "x1, x2, x3, c"),
           "message names the parameter and the choices: %s", hp_error_message());
    char *text = read_file(path);
    EXPECT(text && strcmp(text, "OLD") == 0, "old file untouched");
    free(text);
    EXPECT(!file_exists(tmp), "no temporary left");

    /* success replaces the file */
    fx.r.heatmap_b = "c";
    EXPECT(hp_report_write_html(&fx.r, path) == 0, "written: %s", hp_error_message());
    text = read_file(path);
    EXPECT(text && strncmp(text, "<!DOCTYPE html>", 15) == 0, "new page in place");
    EXPECT(text && strstr(text, "</html>\n") != NULL, "complete page");
    EXPECT(text && strstr(text, "data-heatmap-x=\"x1\" data-heatmap-y=\"c\"") != NULL, "heat map parameters as asked");
    free(text);
    EXPECT(!file_exists(tmp), "no temporary left");

    /* a directory that does not exist */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/report.html", temp_dir);
    EXPECT(hp_report_write_html(&fx.r, bad) == -1, "unwritable path fails");
    EXPECT(strstr(hp_error_message(), bad) && strstr(hp_error_message(), "cannot write"),
           "message names the path: %s", hp_error_message());

    /* the output path is a directory: the rename fails, the temporary is removed */
    char dir[300], dir_tmp[320];
    snprintf(dir, sizeof dir, "%s/adir", temp_dir);
    snprintf(dir_tmp, sizeof dir_tmp, "%s.tmp", dir);
    mkdir(dir, 0700);
    EXPECT(hp_report_write_html(&fx.r, dir) == -1, "a directory as output fails");
    EXPECT(strstr(hp_error_message(), "cannot move the report into place") != NULL, "message: %s",
           hp_error_message());
    EXPECT(!file_exists(dir_tmp), "temporary removed after the failed rename");
    rmdir(dir);

    /* other bad input */
    fx.r.heatmap_a = fx.r.heatmap_b = NULL;
    fx.r.best = 5;
    EXPECT(hp_report_write_html(&fx.r, path) == -1 && strstr(hp_error_message(), "best trial index 5"),
           "best out of range: %s", hp_error_message());
    fx.r.best = 0;
    fx.r.metric_column = HP_REPORT_METRIC_COLS;
    EXPECT(hp_report_write_html(&fx.r, path) == -1 && strstr(hp_error_message(), "metric column"),
           "metric column out of range: %s", hp_error_message());
    fixture_release(&fx);
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/hptune-test-report.XXXXXX");
    if (!mkdtemp(temp_dir)) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    RUN(every_string_is_escaped);
    RUN(importance_finds_the_only_relevant_parameter);
    RUN(importance_splits_two_equal_main_effects);
    RUN(importance_matches_a_hand_worked_case);
    RUN(importance_is_the_same_on_log_and_linear_axes);
    RUN(importance_counts_inactive_as_a_level);
    RUN(importance_compares_trials_at_a_common_epoch);
    RUN(importance_without_information_is_zero);
    RUN(importance_below_chance_is_said_as_such);
    RUN(empty_states);
    RUN(curves_and_axes_are_marked_for_the_dom_checks);
    RUN(atomic_write_and_errors);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", temp_dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", temp_dir);
    return testlib_finish();
}
