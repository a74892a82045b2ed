/* job.c - parse and validate a YAML job file (libyaml document API).
 *
 * The whole text is loaded into a libyaml document (a tree of nodes that keep
 * their start marks), then each section is read by its own function.  Every
 * key is checked: unknown keys (with a "did you mean" suggestion), duplicate
 * keys (libyaml does not reject them), wrong node types and invalid values.
 * The first problem found is reported as "file:line:column: what; what to do"
 * and parsing stops.  Cross-section rules (space vs fixed, grid needs lists,
 * asha decides the epochs) are checked after all sections were read.
 */
#include "job.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "cli_options.h"
#include "dataset.h"
#include "functions.h"

#include "error.h"

#define MAX_JOB_BYTES (1 << 20) /* a job file is a few hundred bytes; refuse anything huge */
#define MAX_TRIALS 1000000
#define MAX_NAME_CHARS 100
#define MAX_CONFIG_KEYS 128 /* room for the hyperparameter table */
/* A job file nests 4 levels (top, space, a parameter, its list) and holds a
 * few dozen keys: anything far beyond is refused before it is loaded, so
 * that `check` answers any file under MAX_JOB_BYTES in milliseconds (libyaml
 * takes quadratic time on deep flow nesting: 100,000 '[' took 15 s). */
#define MAX_DEPTH 32
#define MAX_ENTRIES 10000 /* keys of a mapping, items of a list */

static const char *const section_keys[] = {"study", "data", "strategy", "objective",
                                           "space", "fixed", "output", NULL};
static const char *const study_keys[] = {"name", "seed", "metric", "mode", "max_time", "max_epochs_total", NULL};
static const char *const data_keys[] = {"path", "train_shards", "val_shards", "test_eval", NULL};
static const char *const strategy_keys[] = {
    "name", "max_trials", "repeats", "min_epochs", "max_epochs", "reduction_factor", "brackets",
    "n_startup_trials", "n_ei_candidates", "prior_weight", "consider_magic_clip", "consider_endpoints",
    "multivariate", "constant_liar", "top_n_percent", "num_samples", "random_fraction", "bandwidth_factor",
    "min_bandwidth", "min_points_in_model", "early_stopping", "stopping", "n_warmup_epochs", "interval_epochs",
    "n_min_trials", NULL};
static const char *const early_stopping_keys[] = {"patience", "min_delta", NULL};
static const char *const stopping_names[] = {"median", NULL};
static const char *const objective_keys[] = {"type", "file", "name", "sleep_ms", NULL};
static const char *const output_keys[] = {"dir", "keep", "checkpoint_every", "report_every", "tensorboard", NULL};
static const char *const param_keys[] = {"choice", "grid", "uniform", "loguniform",
                                         "randint", "step", "when", NULL};
/* Indexed by hp_dist. */
static const char *const dist_names[] = {"choice", "grid", "uniform", "loguniform", "randint", NULL};
static const char *const strategy_names[] = {"grid", "random", "asha", "tpe", "bohb", NULL};
static const char *const objective_names[] = {"train", "curves", "function", NULL};
static const char *const keep_names[] = {"last", "last_and_best", "all", NULL};
static const char *const mode_names[] = {"min", "max", NULL};

/* ------------------------------------------------------------ helpers ---- */

typedef struct parse_ctx {
    const char *path;
    yaml_document_t *doc;
    hp_job *job;
    int fixed_line[MAX_CONFIG_KEYS]; /* 1-based line of each key in fixed: (0: not set) */
    int fixed_column[MAX_CONFIG_KEYS];
    const yaml_node_t *strategy_node; /* the strategy: key (for cross-section errors) */
    const yaml_node_t *metric_node;   /* study.metric's value, NULL if not given */
    const yaml_node_t *mode_node;     /* study.mode's value, NULL if not given */
    const yaml_node_t *objective_node;/* the objective: key, NULL if not given */
    const yaml_node_t *filters_list;  /* fixed: filters: [..] (per-block filters), NULL if not given */
    int one_configuration;            /* hp_job_load_one: study, strategy and shards may be left out */
    int space_map_index;              /* the space: mapping's node index (parse_when) */
} parse_ctx;

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static int column_of(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

/* Record "path:line:col: <message>" at a node; always returns -1.  The message
 * is formatted into a local buffer first, so hp_error_message() may be an argument. */
static int fail_at(const parse_ctx *p, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(const parse_ctx *p, const yaml_node_t *node, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return HP_ERR("%s:%d:%d: %s", p->path, line_of(node), column_of(node), message);
}

static yaml_node_t *node_at(const parse_ctx *p, int index)
{
    return yaml_document_get_node(p->doc, index);
}

static const char *scalar_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* A plain scalar that YAML reads as null: `key:` with nothing after it, `~`, `null`. */
static int is_empty(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return 0;
    const char *s = scalar_text(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* What a node is, for "expected X, got Y" messages. */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping (key: value lines)";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        if (is_empty(n))
            return "nothing";
        snprintf(buf, size, "'%.40s%s'", scalar_text(n), strlen(scalar_text(n)) > 40 ? "..." : "");
        return buf;
    default:
        return "nothing";
    }
}

static void join_names(const char *const *names, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; names[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
    }
}

/* The closest name within edit distance 2 (first one on ties), or NULL:
 * "lerning_rate" and "learnign_rate" are both one edit from the real key. */
static const char *closest_name(const char *word, const char *const *names)
{
    return hp_closest_name(word, names, 2);
}

/* The config key names as a NULL-terminated array in names[capacity]. */
static const char *const *config_key_names(const char **names, size_t capacity)
{
    size_t count;
    const hp_key *keys = hp_config_keys(&count);
    if (count >= capacity)
        HP_PANIC("config key table has %zu keys; raise the name array size", count);
    for (size_t i = 0; i < count; i++)
        names[i] = keys[i].name;
    names[count] = NULL;
    return names;
}

/* "; did you mean 'x'?" or "" */
static const char *suggestion(const char *word, const char *const *names, char *buf, size_t size)
{
    const char *near = closest_name(word, names);
    if (!near)
        return "";
    snprintf(buf, size, "; did you mean '%s'?", near);
    return buf;
}

/* Index of name in names, -1 if absent. */
static int name_index(const char *name, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Value node for `name` in a mapping (NULL if absent); its key node in *key_out. */
static yaml_node_t *lookup(const parse_ctx *p, const yaml_node_t *map, const char *name,
                           yaml_node_t **key_out)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(p, pair->key);
        if (key->type == YAML_SCALAR_NODE && strcmp(scalar_text(key), name) == 0) {
            if (key_out)
                *key_out = key;
            return node_at(p, pair->value);
        }
    }
    return NULL;
}

/* `what` must be a mapping; on error explain what belongs there. */
static int expect_mapping(const parse_ctx *p, const yaml_node_t *node, const char *what, const char *example)
{
    if (node->type == YAML_MAPPING_NODE)
        return 0;
    char buf[64];
    return fail_at(p, node, "%s: expected a mapping of keys, got %s; write it like %s", what,
                   describe(node, buf, sizeof buf), example);
}

/* Keys sorted by name, then position: duplicates become neighbours. */
typedef struct key_ref {
    const char *name;
    int index;
} key_ref;

static int compare_key_refs(const void *x, const void *y)
{
    const key_ref *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : a->index - b->index;
}

/* The first key (in file order) that repeats an earlier one: its index,
 * and the earlier one's in *first; -1 if none.  O(n log n) (a quadratic
 * scan took 40 s on 80,000 keys). */
static int first_duplicate(const parse_ctx *p, const yaml_node_t *map, int *first)
{
    int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    key_ref *refs = hp_xcalloc((size_t)n + 1, sizeof *refs);
    int m = 0;
    for (int i = 0; i < n; i++) {
        yaml_node_t *key = node_at(p, map->data.mapping.pairs.start[i].key);
        if (key->type == YAML_SCALAR_NODE)
            refs[m++] = (key_ref){scalar_text(key), i};
    }
    qsort(refs, (size_t)m, sizeof *refs, compare_key_refs);
    int dup = -1;
    for (int i = 1, group = 0; i < m; i++) {
        if (strcmp(refs[i].name, refs[i - 1].name) != 0) {
            group = i;
            continue;
        }
        if (dup < 0 || refs[i].index < dup) {
            dup = refs[i].index;
            *first = refs[group].index;
        }
    }
    free(refs);
    return dup;
}

/* Every key of a mapping must be a plain name, appear once and be known
 * (known == NULL: any name; the caller checks it).  Reports the first
 * problem in file order. */
static int check_keys(const parse_ctx *p, const yaml_node_t *map, const char *section,
                      const char *const *known, const char *known_hint)
{
    char names[512], near[96], buf[64];
    int first = -1, dup = first_duplicate(p, map, &first);
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(p, pair->key);
        const char *prefix = section[0] ? section : "";
        const char *dot = section[0] ? ": " : "";
        if (key->type != YAML_SCALAR_NODE || is_empty(key))
            return fail_at(p, key, "%s%sa key must be a name, got %s; write name: value", prefix, dot,
                           describe(key, buf, sizeof buf));
        const char *name = scalar_text(key);
        if (pair - map->data.mapping.pairs.start == dup)
            return fail_at(p, key, "%s%sduplicate key '%s' (first given at line %d); remove one of them",
                           prefix, dot, name, line_of(node_at(p, map->data.mapping.pairs.start[first].key)));
        if (!known)
            continue;
        if (name_index(name, known) < 0) {
            join_names(known, names, sizeof names);
            return fail_at(p, key, "%s%sunknown key '%s'%s (%s: %s)", prefix, dot, name,
                           suggestion(name, known, near, sizeof near), known_hint, names);
        }
    }
    return 0;
}

static int expect_scalar(const parse_ctx *p, const yaml_node_t *node, const char *what, const char *expected)
{
    if (node->type == YAML_SCALAR_NODE && !is_empty(node))
        return 0;
    char buf[64];
    return fail_at(p, node, "%s: expected %s, got %s", what, expected, describe(node, buf, sizeof buf));
}

/* A whole number in [min, max]. */
static int get_long(const parse_ctx *p, const yaml_node_t *node, const char *what, long min, long max, long *out)
{
    if (expect_scalar(p, node, what, "a whole number") != 0)
        return -1;
    const char *s = scalar_text(node);
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        /* also accept whole numbers written like 1e3 */
        double d = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(d) || d != floor(d) || fabs(d) >= 1e15)
            return fail_at(p, node, "%s: expected a whole number, got '%s'", what, s);
        v = (long)d;
    }
    if (v < min)
        return fail_at(p, node, "%s: %ld is too small; use a whole number >= %ld", what, v, min);
    if (v > max)
        return fail_at(p, node, "%s: %ld is too large; use a whole number <= %ld", what, v, max);
    *out = v;
    return 0;
}

static int get_int(const parse_ctx *p, const yaml_node_t *node, const char *what, int min, int max, int *out)
{
    long v = 0;
    if (get_long(p, node, what, min, max, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* A finite number. */
static int get_number(const parse_ctx *p, const yaml_node_t *node, const char *what, double *out)
{
    if (expect_scalar(p, node, what, "a number") != 0)
        return -1;
    const char *s = scalar_text(node);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || errno == ERANGE)
        return fail_at(p, node, "%s: expected a number, got '%s'", what, s);
    *out = v;
    return 0;
}

static int get_bool(const parse_ctx *p, const yaml_node_t *node, const char *what, int *out)
{
    if (expect_scalar(p, node, what, "true or false") != 0)
        return -1;
    const char *s = scalar_text(node);
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    return fail_at(p, node, "%s: expected true or false, got '%s'", what, s);
}

static int get_string(const parse_ctx *p, const yaml_node_t *node, const char *what, char **out)
{
    if (expect_scalar(p, node, what, "a text value") != 0)
        return -1;
    if (scalar_text(node)[0] == '\0') /* "" or '': YAML's empty text (a plain empty value is null) */
        return fail_at(p, node, "%s: the value is empty text; give a value", what);
    free(*out);
    *out = hp_xstrdup(scalar_text(node));
    return 0;
}

/* One of names (NULL-terminated); index in *out. */
static int get_choice(const parse_ctx *p, const yaml_node_t *node, const char *what,
                      const char *const *names, int *out)
{
    char list[256], near[96];
    join_names(names, list, sizeof list);
    if (node->type != YAML_SCALAR_NODE || is_empty(node)) {
        char buf[64];
        return fail_at(p, node, "%s: expected one of %s, got %s", what, list, describe(node, buf, sizeof buf));
    }
    int i = name_index(scalar_text(node), names);
    if (i < 0)
        return fail_at(p, node, "%s: unknown value '%s'%s (use one of: %s)", what, scalar_text(node),
                       suggestion(scalar_text(node), names, near, sizeof near), list);
    *out = i;
    return 0;
}

/* hp_config messages start with "<key>: "; the caller's prefix already names it. */
static const char *config_message(const hp_key *k)
{
    const char *msg = hp_error_message();
    size_t len = strlen(k->name);
    if (strncmp(msg, k->name, len) == 0 && msg[len] == ':' && msg[len + 1] == ' ')
        return msg + len + 2;
    return msg;
}

/* Parse one value of hyperparameter k (fixed value or choice item) and check
 * its range by setting it in a scratch config. */
static int get_config_value(const parse_ctx *p, const yaml_node_t *node, const char *what,
                            const hp_key *k, double *out)
{
    char buf[64], near[96];
    if (node->type != YAML_SCALAR_NODE || is_empty(node))
        return fail_at(p, node, "%s: expected a single value, got %s", what, describe(node, buf, sizeof buf));
    double v;
    hp_config scratch;
    hp_config_defaults(&scratch);
    if (hp_config_parse_value(k, scalar_text(node), &v) != 0) {
        const char *hint = k->type == HP_KEY_ENUM
                               ? suggestion(scalar_text(node), k->enum_names, near, sizeof near) : "";
        return fail_at(p, node, "%s: %s%s", what, config_message(k), hint);
    }
    if (hp_config_set(&scratch, k, v) != 0)
        return fail_at(p, node, "%s: %s; use a value in that range", what, config_message(k));
    *out = v;
    return 0;
}

/* --------------------------------------------------------- sections ---- */

static int parse_study(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v;
    if (expect_mapping(p, map, "study", "study: {name: my-study, seed: 0, metric: val_accuracy}") != 0 ||
        check_keys(p, map, "study", study_keys, "known keys") != 0)
        return -1;
    if (!(v = lookup(p, map, "name", NULL)))
        return fail_at(p, section_key, "study: missing 'name'; add name: <study name> (it names the "
                                       "output folder runs/<name>)");
    if (get_string(p, v, "study.name", &job->name) != 0)
        return -1;
    size_t len = strlen(job->name);
    if (len > MAX_NAME_CHARS)
        return fail_at(p, v, "study.name: the name is %zu characters long; use at most %d", len, MAX_NAME_CHARS);
    for (size_t i = 0; i < len; i++) {
        char c = job->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return fail_at(p, v, "study.name: '%s' contains '%c'; use only letters, digits, '-', '_' "
                                 "and '.' (the name is a folder name)", job->name, c);
    }
    if (strcmp(job->name, ".") == 0 || strcmp(job->name, "..") == 0)
        return fail_at(p, v, "study.name: '%s' cannot be a folder name; choose another name", job->name);

    if ((v = lookup(p, map, "seed", NULL))) {
        if (expect_scalar(p, v, "study.seed", "a whole number >= 0") != 0)
            return -1;
        const char *s = scalar_text(v);
        char *end = NULL;
        errno = 0;
        unsigned long long seed = strtoull(s, &end, 10);
        if (s[0] == '-' || s[0] == '+' || end == s || *end != '\0' || errno == ERANGE)
            return fail_at(p, v, "study.seed: expected a whole number from 0 to 18446744073709551615, got '%s'", s);
        job->seed = seed;
    }
    job->metric = HP_METRIC_VAL_ACCURACY;
    if ((v = lookup(p, map, "metric", NULL))) {
        p->metric_node = v;
        /* the selectable columns of the metric row, in row order */
        const char *metric_names[HP_METRIC_COLS + 1];
        int metric_columns[HP_METRIC_COLS], n = 0;
        for (int c = 0; c < HP_METRIC_COLS; c++)
            if (hp_metric_selectable(c)) {
                metric_columns[n] = c;
                metric_names[n++] = hp_metric_name(c);
            }
        metric_names[n] = NULL;
        int m;
        if (get_choice(p, v, "study.metric", metric_names, &m) != 0)
            return -1;
        job->metric = metric_columns[m];
    }
    /* Accuracies and F1 are maximised, losses minimised, unless mode says otherwise. */
    job->maximize = hp_metric_maximize_default(job->metric);
    if ((v = lookup(p, map, "mode", NULL))) {
        p->mode_node = v;
        int mode;
        if (get_choice(p, v, "study.mode", mode_names, &mode) != 0)
            return -1;
        job->maximize = mode; /* mode_names: min = 0, max = 1 */
    }
    if ((v = lookup(p, map, "max_time", NULL))) {
        if (expect_scalar(p, v, "study.max_time", "seconds or a duration like 1h30m") != 0)
            return -1;
        if (hp_parse_duration(scalar_text(v), "study.max_time", &job->max_time) != 0)
            return fail_at(p, v, "%s", hp_error_message());
    }
    if ((v = lookup(p, map, "max_epochs_total", NULL)) &&
        get_long(p, v, "study.max_epochs_total", 1, 1000000000000L, &job->max_epochs_total) != 0)
        return -1;
    return 0;
}

int hp_parse_duration(const char *text, const char *what, double *seconds)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end != text && *end == '\0' && errno == 0) {
        if (!(v > 0) || !isfinite(v))
            return HP_ERR("%s: '%s' is not a positive number of seconds", what, text);
        *seconds = v;
        return 0;
    }
    /* units: h, m, s in that order, each a whole number */
    double total = 0;
    const char *s = text, *units = "hms";
    int any = 0;
    while (*s) {
        if (*s < '0' || *s > '9')
            break;
        long n = strtol(s, &end, 10);
        const char *u = *end ? strchr(units, *end) : NULL;
        if (!u || n < 0 || n > 100000000L)
            break;
        total += (double)n * (*u == 'h' ? 3600 : *u == 'm' ? 60 : 1);
        units = u + 1; /* each unit once, larger first */
        s = end + 1;
        any = 1;
    }
    if (!any || *s || !(total > 0))
        return HP_ERR("%s: '%s' is not a duration; give seconds (5400) or hours, minutes and seconds "
                      "like 1h30m, 45m, 90s", what, text);
    *seconds = total;
    return 0;
}

/* A list of distinct, non-negative shard numbers. */
static int parse_shards(const parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map,
                        const char *name, int *shards, int *count)
{
    char what[64], buf[64];
    snprintf(what, sizeof what, "data.%s", name);
    yaml_node_t *list = lookup(p, map, name, NULL);
    if (!list)
        return fail_at(p, section_key, "data: missing '%s'; add %s: [shard numbers, e.g. %s]", name, name,
                       strcmp(name, "train_shards") == 0 ? "0, 1, 2, 3, 4, 5, 6, 7, 8" : "9");
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(p, list, "%s: expected a list of shard numbers like [0, 1, 2], got %s", what,
                       describe(list, buf, sizeof buf));
    int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0)
        return fail_at(p, list, "%s: the list is empty; give at least one shard number", what);
    if (n > HP_MAX_SHARDS)
        return fail_at(p, list, "%s: %d shards listed; at most %d are supported", what, n, HP_MAX_SHARDS);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = node_at(p, list->data.sequence.items.start[i]);
        int shard;
        if (get_int(p, item, what, INT_MIN, INT_MAX, &shard) != 0)
            return -1;
        if (shard < 0)
            return fail_at(p, item, "%s: shard %d is negative; shards are numbered from 0", what, shard);
        for (int j = 0; j < i; j++)
            if (shards[j] == shard)
                return fail_at(p, item, "%s: shard %d is listed twice; list each shard once", what, shard);
        shards[i] = shard;
    }
    *count = n;
    return 0;
}

/* data.path: relative to the job file's folder.  Job files written for
 * hptune 0.1 gave it relative to the current directory: a relative path
 * that names no file beside the job file but one from the current directory
 * is taken from there, so they keep working. */
static char *resolve_data_path(const char *job_path, const char *name)
{
    const char *slash = strrchr(job_path, '/');
    if (name[0] == '/' || !slash)
        return hp_xstrdup(name);
    char *beside = hp_xasprintf("%.*s/%s", (int)(slash - job_path), job_path, name);
    if (access(beside, F_OK) != 0 && access(name, F_OK) == 0) {
        free(beside);
        return hp_xstrdup(name);
    }
    return beside;
}

static int parse_data(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v;
    if (expect_mapping(p, map, "data", "data: {path: datasets/cifar10.h5, train_shards: [0, 1], val_shards: [9]}") != 0 ||
        check_keys(p, map, "data", data_keys, "known keys") != 0)
        return -1;
    job->shards_line = line_of(section_key);
    job->shards_column = column_of(section_key);
    if (!(v = lookup(p, map, "path", NULL)))
        return fail_at(p, section_key, "data: missing 'path'; add path: datasets/cifar10.h5 (made by hptune prepare)");
    if (get_string(p, v, "data.path", &job->data_path) != 0)
        return -1;
    char *given = job->data_path;
    job->data_path = resolve_data_path(p->path, given);
    free(given);
    if (p->one_configuration && !lookup(p, map, "train_shards", NULL) && !lookup(p, map, "val_shards", NULL)) {
        job->defaults |= HP_JOB_DEFAULT_SHARDS; /* hp_job_default_shards() fills them in */
        job->test_eval = 1;
        if ((v = lookup(p, map, "test_eval", NULL)) && get_bool(p, v, "data.test_eval", &job->test_eval) != 0)
            return -1;
        return 0;
    }
    if (parse_shards(p, section_key, map, "train_shards", job->train_shards, &job->n_train_shards) != 0 ||
        parse_shards(p, section_key, map, "val_shards", job->val_shards, &job->n_val_shards) != 0)
        return -1;
    yaml_node_t *val_list = lookup(p, map, "val_shards", NULL);
    for (int i = 0; i < job->n_val_shards; i++)
        for (int j = 0; j < job->n_train_shards; j++)
            if (job->val_shards[i] == job->train_shards[j])
                return fail_at(p, node_at(p, val_list->data.sequence.items.start[i]),
                               "data.val_shards: shard %d is also in train_shards; a shard is used "
                               "either for training or for validation, remove it from one list",
                               job->val_shards[i]);
    job->test_eval = 1;
    if ((v = lookup(p, map, "test_eval", NULL)) && get_bool(p, v, "data.test_eval", &job->test_eval) != 0)
        return -1;
    return 0;
}

int hp_job_param_active(const hp_job *job, int index, const hp_config *c)
{
    const hp_param *param = &job->params[index];
    for (int i = 0; i < param->n_conditions; i++) {
        const hp_condition *cond = &param->conditions[i];
        if (!hp_job_param_active(job, cond->parent, c)) /* parents come first: this ends */
            return 0;
        double v = hp_config_get(c, job->params[cond->parent].key);
        int holds = 0;
        for (int k = 0; k < cond->n_values && !holds; k++)
            holds = cond->values[k] == v;
        if (!holds)
            return 0;
    }
    return 1;
}

int hp_job_has_conditions(const hp_job *job)
{
    for (int i = 0; i < job->n_params; i++)
        if (job->params[i].n_conditions)
            return 1;
    return 0;
}

static long saturating_add(long a, long b) { return a > LONG_MAX - b ? LONG_MAX : a + b; }

/* Does any condition name parameter i as its parent? */
static int is_parent(const hp_job *job, int i)
{
    for (int j = i + 1; j < job->n_params; j++)
        for (int k = 0; k < job->params[j].n_conditions; k++)
            if (job->params[j].conditions[k].parent == i)
                return 1;
    return 0;
}

static long saturating_mul(long a, long b) { return b != 0 && a > LONG_MAX / b ? LONG_MAX : a * b; }

/* Completions of the parents and conditional parameters from `first` on
 * (the free ones are counted by the caller). */
static long structural_completions(const hp_job *job, int first, hp_config *c)
{
    while (first < job->n_params && !job->params[first].n_conditions && !is_parent(job, first))
        first++;
    if (first == job->n_params)
        return 1;
    const hp_param *p = &job->params[first];
    if (!hp_job_param_active(job, first, c)) /* inactive: one branch, its default */
        return structural_completions(job, first + 1, c);
    double saved = hp_config_get(c, p->key);
    long total = 0;
    for (int k = 0; k < p->n_values; k++) {
        if (hp_config_set(c, p->key, p->values[k]) != 0)
            HP_PANIC("a validated space value was rejected: %s", hp_error_message());
        total = saturating_add(total, structural_completions(job, first + 1, c));
    }
    if (hp_config_set(c, p->key, saved) != 0)
        HP_PANIC("a configuration value could not be restored: %s", hp_error_message());
    return total;
}

/* A parameter that is neither conditional nor a parent is always active and
 * changes nothing else, so it multiplies the count wherever it stands; the
 * recursion branches only over the others (parents and conditional ones). */
long hp_job_grid_completions(const hp_job *job, int first, hp_config *c)
{
    long free_product = 1;
    int structural = -1; /* the first parent or conditional parameter from `first` on */
    for (int i = first; i < job->n_params; i++) {
        const hp_param *p = &job->params[i];
        if (p->dist != HP_DIST_CHOICE && p->dist != HP_DIST_GRID)
            return 0;
        if (p->n_conditions || is_parent(job, i)) {
            if (structural < 0)
                structural = i;
        } else {
            free_product = saturating_mul(free_product, p->n_values);
        }
    }
    if (structural < 0)
        return free_product;
    /* count the structural parameters from `structural` on; the free ones in
     * between were multiplied in above (and are skipped below) */
    return saturating_mul(free_product, structural_completions(job, structural, c));
}

/* The grid's size: the product of the list lengths (saturating), or with
 * conditional parameters the number of leaves of the conditional tree. */
long hp_space_grid_size(const hp_job *job)
{
    hp_config c = job->fixed;
    return hp_job_grid_completions(job, 0, &c);
}

int hp_job_uses_rungs(const hp_job *job)
{
    return job->strategy == HP_STRATEGY_ASHA || job->strategy == HP_STRATEGY_BOHB;
}

#define OWNER(kind) (1u << (kind))
#define RUNGS (OWNER(HP_STRATEGY_ASHA) | OWNER(HP_STRATEGY_BOHB))

/* Keys that belong to some strategies only: an error elsewhere, where they
 * would be silently ignored. */
static const struct {
    const char *key;
    unsigned owners;
    const char *use;
} strategy_key_owners[] = {
    {"repeats", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM), "grid and random"},
    {"min_epochs", RUNGS, "asha and bohb"},
    {"max_epochs", RUNGS, "asha and bohb"},
    {"reduction_factor", RUNGS, "asha and bohb"},
    {"brackets", RUNGS, "asha and bohb"},
    {"n_startup_trials", OWNER(HP_STRATEGY_TPE) | OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM),
     "tpe, and grid and random with stopping: median"},
    {"n_ei_candidates", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"prior_weight", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"consider_magic_clip", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"consider_endpoints", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"multivariate", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"constant_liar", OWNER(HP_STRATEGY_TPE), "tpe"},
    {"top_n_percent", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"num_samples", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"random_fraction", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"bandwidth_factor", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"min_bandwidth", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"min_points_in_model", OWNER(HP_STRATEGY_BOHB), "bohb"},
    {"early_stopping", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM) | OWNER(HP_STRATEGY_TPE),
     "grid, random and tpe (asha and bohb stop trials at their rungs)"},
    {"stopping", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM), "grid and random"},
    {"n_warmup_epochs", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM), "grid and random with stopping: median"},
    {"interval_epochs", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM), "grid and random with stopping: median"},
    {"n_min_trials", OWNER(HP_STRATEGY_GRID) | OWNER(HP_STRATEGY_RANDOM), "grid and random with stopping: median"},
};

/* A number in [min, max] (an optional key). */
static int get_ranged(const parse_ctx *p, const yaml_node_t *map, const char *key, double min, double max,
                      double *out)
{
    yaml_node_t *v = lookup(p, map, key, NULL);
    if (!v)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "strategy.%s", key);
    if (get_number(p, v, what, out) != 0)
        return -1;
    if (!(*out >= min && *out <= max))
        return fail_at(p, v, "%s: %s is outside [%g, %g]", what, scalar_text(v), min, max);
    return 0;
}

static int get_optional_int(const parse_ctx *p, const yaml_node_t *map, const char *key, int min, int max, int *out)
{
    yaml_node_t *v = lookup(p, map, key, NULL);
    char what[64];
    snprintf(what, sizeof what, "strategy.%s", key);
    return v ? get_int(p, v, what, min, max, out) : 0;
}

static int get_optional_bool(const parse_ctx *p, const yaml_node_t *map, const char *key, int *out)
{
    yaml_node_t *v = lookup(p, map, key, NULL);
    char what[64];
    snprintf(what, sizeof what, "strategy.%s", key);
    return v ? get_bool(p, v, what, out) : 0;
}

static int parse_rungs(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v;
    const char *name = strategy_names[job->strategy];
    yaml_node_t *min_node = lookup(p, map, "min_epochs", NULL);
    if (min_node && get_int(p, min_node, "strategy.min_epochs", 1, 100000, &job->min_epochs) != 0)
        return -1;
    if (!(v = lookup(p, map, "max_epochs", NULL)))
        return fail_at(p, section_key, "strategy: %s needs max_epochs (the epochs of the top rung); "
                                       "add max_epochs: e.g. 27", name);
    if (get_int(p, v, "strategy.max_epochs", 1, 100000, &job->max_epochs) != 0)
        return -1;
    if (job->min_epochs > job->max_epochs)
        return fail_at(p, min_node ? min_node : v,
                       "strategy.min_epochs: %d is larger than max_epochs %d; use min_epochs <= max_epochs",
                       job->min_epochs, job->max_epochs);
    if ((v = lookup(p, map, "reduction_factor", NULL))) {
        if (get_int(p, v, "strategy.reduction_factor", INT_MIN, 1000, &job->reduction_factor) != 0)
            return -1;
        if (job->reduction_factor < 2)
            return fail_at(p, v, "strategy.reduction_factor: %d is too small; %s promotes the best "
                                 "1/reduction_factor of each rung, so use 2 or more (3 is usual)",
                           job->reduction_factor, name);
    }
    /* Rungs of bracket 0: min_epochs * eta^k <= max_epochs, k = 0..K. */
    int rungs = 1;
    for (long epochs = job->min_epochs; epochs * job->reduction_factor <= job->max_epochs;
         epochs *= job->reduction_factor)
        rungs++;
    if ((v = lookup(p, map, "brackets", NULL))) {
        if (get_int(p, v, "strategy.brackets", 1, 100, &job->brackets) != 0)
            return -1;
        if (job->brackets > rungs)
            return fail_at(p, v, "strategy.brackets: %d brackets need at least %d rungs, but min_epochs %d, "
                                 "max_epochs %d and reduction_factor %d give %d; use brackets <= %d or "
                                 "raise max_epochs",
                           job->brackets, job->brackets, job->min_epochs, job->max_epochs,
                           job->reduction_factor, rungs, rungs);
    }
    return 0;
}

/* strategy.early_stopping: {patience, min_delta}; strategy.stopping: median
 * with n_startup_trials, n_warmup_epochs, interval_epochs, n_min_trials. */
static int parse_stopping(parse_ctx *p, const yaml_node_t *map)
{
    hp_job *job = p->job;
    hp_job_stopping *st = &job->stopping;
    yaml_node_t *v, *key;
    if ((v = lookup(p, map, "early_stopping", &key))) {
        if (expect_mapping(p, v, "strategy.early_stopping", "early_stopping: {patience: 3, min_delta: 0.001}") != 0 ||
            check_keys(p, v, "strategy.early_stopping", early_stopping_keys, "known keys") != 0)
            return -1;
        yaml_node_t *x = lookup(p, v, "patience", NULL);
        if (!x)
            return fail_at(p, key, "strategy.early_stopping: missing 'patience'; add patience: <epochs without "
                                   "improvement before the trial stops>, e.g. 3");
        if (get_int(p, x, "strategy.early_stopping.patience", 0, 1000000, &st->patience) != 0)
            return -1;
        if ((x = lookup(p, v, "min_delta", NULL))) {
            if (get_number(p, x, "strategy.early_stopping.min_delta", &st->min_delta) != 0)
                return -1;
            if (st->min_delta < 0)
                return fail_at(p, x, "strategy.early_stopping.min_delta: %s is negative; give the smallest "
                                     "change that counts as an improvement (>= 0)", scalar_text(x));
        }
        st->early = 1;
    }
    yaml_node_t *rule = lookup(p, map, "stopping", NULL);
    if (rule && get_choice(p, rule, "strategy.stopping", stopping_names, &st->median) != 0)
        return -1;
    st->median = rule != NULL;
    static const char *const median_keys[] = {"n_warmup_epochs", "interval_epochs", "n_min_trials", "n_startup_trials"};
    for (size_t i = 0; i < sizeof median_keys / sizeof median_keys[0]; i++)
        if (!rule && job->strategy != HP_STRATEGY_TPE && lookup(p, map, median_keys[i], &key))
            return fail_at(p, key, "strategy.%s: only used with stopping: median; add stopping: median or "
                                   "remove it", median_keys[i]);
    if (!rule)
        return 0;
    if (get_optional_int(p, map, "n_startup_trials", 0, MAX_TRIALS, &st->n_startup_trials) != 0 ||
        get_optional_int(p, map, "n_warmup_epochs", 0, 1000000, &st->n_warmup_epochs) != 0 ||
        get_optional_int(p, map, "interval_epochs", 1, 1000000, &st->interval_epochs) != 0 ||
        get_optional_int(p, map, "n_min_trials", 1, MAX_TRIALS, &st->n_min_trials) != 0)
        return -1;
    return 0;
}

static int parse_strategy(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v, *key;
    if (expect_mapping(p, map, "strategy", "strategy: {name: random, max_trials: 20}") != 0 ||
        check_keys(p, map, "strategy", strategy_keys, "known keys") != 0)
        return -1;
    if (!(v = lookup(p, map, "name", NULL)))
        return fail_at(p, section_key, "strategy: missing 'name'; add name: grid, random, asha, tpe or bohb");
    int kind;
    if (get_choice(p, v, "strategy.name", strategy_names, &kind) != 0)
        return -1;
    job->strategy = (hp_strategy_kind)kind;

    for (size_t i = 0; i < sizeof strategy_key_owners / sizeof strategy_key_owners[0]; i++)
        if (lookup(p, map, strategy_key_owners[i].key, &key) && !(strategy_key_owners[i].owners & OWNER(kind)))
            return fail_at(p, key, "strategy.%s: only used by strategy %s, not %s; remove it%s",
                           strategy_key_owners[i].key, strategy_key_owners[i].use, strategy_names[kind],
                           strategy_key_owners[i].owners == RUNGS ? " (grid, random and tpe trials train fixed.epochs)"
                                                                  : "");

    if (parse_stopping(p, map) != 0)
        return -1;
    v = lookup(p, map, "max_trials", &key);
    if (job->strategy == HP_STRATEGY_GRID) {
        if (v)
            return fail_at(p, key, "strategy.max_trials: grid runs every point of the space (times "
                                   "repeats); remove max_trials, or use strategy random");
        return get_optional_int(p, map, "repeats", 1, MAX_TRIALS, &job->repeats);
    }
    if (!v)
        return fail_at(p, section_key, "strategy: %s needs max_trials; add max_trials: <number of trials>",
                       strategy_names[kind]);
    if (get_int(p, v, "strategy.max_trials", 1, MAX_TRIALS, &job->max_trials) != 0)
        return -1;
    if (job->strategy == HP_STRATEGY_RANDOM) { /* max_trials configurations, each run `repeats` times */
        yaml_node_t *repeats_key = NULL;
        if (get_optional_int(p, map, "repeats", 1, MAX_TRIALS, &job->repeats) != 0)
            return -1;
        if (lookup(p, map, "repeats", &repeats_key) && job->max_trials > MAX_TRIALS / job->repeats)
            return fail_at(p, repeats_key, "strategy.repeats: %d configurations x %d repeats is more than %d "
                                           "trials; use fewer", job->max_trials, job->repeats, MAX_TRIALS);
        job->max_trials *= job->repeats;
    }
    if (hp_job_uses_rungs(job) && parse_rungs(p, section_key, map) != 0)
        return -1;
    hp_job_tpe *tpe = &job->tpe;
    if ((job->strategy == HP_STRATEGY_TPE &&
         get_optional_int(p, map, "n_startup_trials", 0, MAX_TRIALS, &tpe->n_startup_trials) != 0) ||
        get_optional_int(p, map, "n_ei_candidates", 1, 100000, &tpe->n_ei_candidates) != 0 ||
        get_ranged(p, map, "prior_weight", 1e-12, 1e12, &tpe->prior_weight) != 0 ||
        get_optional_bool(p, map, "consider_magic_clip", &tpe->consider_magic_clip) != 0 ||
        get_optional_bool(p, map, "consider_endpoints", &tpe->consider_endpoints) != 0 ||
        get_optional_bool(p, map, "multivariate", &tpe->multivariate) != 0 ||
        get_optional_bool(p, map, "constant_liar", &tpe->constant_liar) != 0)
        return -1;
    hp_job_bohb *bohb = &job->bohb;
    if (get_ranged(p, map, "top_n_percent", 1, 99, &bohb->top_n_percent) != 0 ||
        get_optional_int(p, map, "num_samples", 1, 100000, &bohb->num_samples) != 0 ||
        get_ranged(p, map, "random_fraction", 0, 1, &bohb->random_fraction) != 0 ||
        get_ranged(p, map, "bandwidth_factor", 1e-6, 1e6, &bohb->bandwidth_factor) != 0 ||
        get_ranged(p, map, "min_bandwidth", 0, 1, &bohb->min_bandwidth) != 0 ||
        get_optional_int(p, map, "min_points_in_model", 0, MAX_TRIALS, &bohb->min_points_in_model) != 0)
        return -1;
    return 0;
}

/* Folder of the job file + name, unless name is absolute or the job has no folder. */
static char *resolve_beside(const char *job_path, const char *name)
{
    const char *slash = strrchr(job_path, '/');
    if (name[0] == '/' || !slash)
        return hp_xstrdup(name);
    return hp_xasprintf("%.*s/%s", (int)(slash - job_path), job_path, name);
}

static int parse_objective(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v, *key;
    if (expect_mapping(p, map, "objective", "objective: {type: train}") != 0 ||
        check_keys(p, map, "objective", objective_keys, "known keys") != 0)
        return -1;
    int type = HP_OBJECTIVE_TRAIN;
    if ((v = lookup(p, map, "type", NULL)) && get_choice(p, v, "objective.type", objective_names, &type) != 0)
        return -1;
    job->objective = (hp_objective_kind)type;
    if (job->objective != HP_OBJECTIVE_CURVES && lookup(p, map, "file", &key))
        return fail_at(p, key, "objective.file: only used with type: curves; remove it or add type: curves");
    if (job->objective != HP_OBJECTIVE_FUNCTION && lookup(p, map, "name", &key))
        return fail_at(p, key, "objective.name: only used with type: function; remove it or add type: function");
    if (job->objective == HP_OBJECTIVE_TRAIN) {
        if (lookup(p, map, "sleep_ms", &key))
            return fail_at(p, key, "objective.sleep_ms: only used with type: curves or function; remove it");
        return 0;
    }
    if ((v = lookup(p, map, "sleep_ms", NULL)) &&
        get_int(p, v, "objective.sleep_ms", 0, 3600000, &job->sleep_ms) != 0)
        return -1;
    if (job->objective == HP_OBJECTIVE_FUNCTION) {
        if (!(v = lookup(p, map, "name", NULL)))
            return fail_at(p, section_key, "objective: type function needs name: one of %s", hp_function_names());
        if (get_string(p, v, "objective.name", &job->function) != 0)
            return -1;
        if (!hp_function_find(job->function))
            return fail_at(p, v, "objective.name: unknown function '%s'; use one of %s", job->function,
                           hp_function_names());
        return 0;
    }
    if (!(v = lookup(p, map, "file", NULL)))
        return fail_at(p, section_key, "objective: type curves needs file: <table.csv> (per-epoch metrics, "
                                       "relative to the job file's folder)");
    char *file = NULL;
    if (get_string(p, v, "objective.file", &file) != 0)
        return -1;
    job->curves_path = resolve_beside(p->path, file);
    free(file);
    return 0;
}

static int parse_output(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    yaml_node_t *v;
    if (expect_mapping(p, map, "output", "output: {dir: runs/my-study, keep: last_and_best}") != 0 ||
        check_keys(p, map, "output", output_keys, "known keys") != 0)
        return -1;
    if ((v = lookup(p, map, "dir", NULL)) && get_string(p, v, "output.dir", &job->out_dir) != 0)
        return -1;
    int keep = HP_KEEP_LAST_AND_BEST;
    if ((v = lookup(p, map, "keep", NULL)) && get_choice(p, v, "output.keep", keep_names, &keep) != 0)
        return -1;
    job->keep = (hp_keep_policy)keep;
    if ((v = lookup(p, map, "checkpoint_every", NULL)) &&
        get_int(p, v, "output.checkpoint_every", 1, 100000, &job->checkpoint_every) != 0)
        return -1;
    if ((v = lookup(p, map, "report_every", NULL)) &&
        get_int(p, v, "output.report_every", 0, 86400 * 365, &job->report_every) != 0)
        return -1;
    if ((v = lookup(p, map, "tensorboard", NULL)) && get_bool(p, v, "output.tensorboard", &job->tensorboard) != 0)
        return -1;
    return 0;
}

/* A hyperparameter name in space: or fixed:. */
static int find_config_key(const parse_ctx *p, const yaml_node_t *key_node, const char *section, const hp_key **out)
{
    char near[96];
    const char *names[MAX_CONFIG_KEYS + 1];
    const char *name = scalar_text(key_node);
    const hp_key *k = hp_config_find_key(name);
    if (!k)
        return fail_at(p, key_node, "%s: unknown hyperparameter '%s'%s (hptune train --help-keys lists them)",
                       section, name, suggestion(name, config_key_names(names, MAX_CONFIG_KEYS + 1), near, sizeof near));
    *out = k;
    return 0;
}

/* fixed: filters: [a, b, ..]: one value per conv block, into block<b>_filters
 * (and filters = a, so what shows filters shows block 1's).  The length is
 * checked against num_blocks once every section is read (check_filters_list). */
static int parse_filters_list(parse_ctx *p, const yaml_node_t *list)
{
    int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n < 1 || n > HP_MAX_BLOCKS)
        return fail_at(p, list, "fixed.filters: %d values; give one per conv block (num_blocks is 1 to %d)", n,
                       HP_MAX_BLOCKS);
    const hp_key *filters = hp_config_find_key("filters");
    for (int b = 0; b < n; b++) {
        yaml_node_t *item = node_at(p, list->data.sequence.items.start[b]);
        char what[64], name[32];
        snprintf(what, sizeof what, "fixed.filters[%d]", b);
        double v;
        if (get_config_value(p, item, what, filters, &v) != 0)
            return -1;
        snprintf(name, sizeof name, "block%d_filters", b + 1);
        const hp_key *k = hp_config_find_key(name);
        hp_config_set(&p->job->fixed, k, v); /* in filters' range, inside block<b>_filters' */
        if (b == 0)
            hp_config_set(&p->job->fixed, filters, v);
        p->fixed_line[hp_config_key_index(k)] = line_of(item);
        p->fixed_column[hp_config_key_index(k)] = column_of(item);
    }
    p->filters_list = list;
    return 0;
}

/* The list must give exactly num_blocks values, with num_blocks fixed and no
 * growth rule competing with it. */
static int check_filters_list(const parse_ctx *p)
{
    const hp_job *job = p->job;
    const yaml_node_t *list = p->filters_list;
    int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    for (int i = 0; i < job->n_params; i++) {
        const char *name = job->params[i].key->name;
        if (strcmp(name, "num_blocks") == 0 || strcmp(name, "filter_growth") == 0)
            return fail_at(p, list, "fixed.filters: a list gives each block's filters, so %s cannot be searched "
                                    "in space:; fix it, or give filters a single value", name);
    }
    if (job->fixed.filter_growth)
        return fail_at(p, list, "fixed.filters: a list gives each block's filters; remove filter_growth: true");
    if (n != job->fixed.num_blocks)
        return fail_at(p, list, "fixed.filters: %d value%s for num_blocks: %d; give one value per block", n,
                       n == 1 ? "" : "s", job->fixed.num_blocks);
    return 0;
}

static int parse_fixed(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    if (expect_mapping(p, map, "fixed", "fixed: {batch_size: 64, epochs: 10}") != 0 ||
        check_keys(p, map, "fixed", NULL, NULL) != 0)
        return -1;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(p, pair->key), *value = node_at(p, pair->value);
        const hp_key *k;
        if (find_config_key(p, key, "fixed", &k) != 0)
            return -1;
        char what[96], buf[64];
        snprintf(what, sizeof what, "fixed.%s", k->name);
        if (value->type == YAML_SEQUENCE_NODE && strcmp(k->name, "filters") == 0) {
            if (parse_filters_list(p, value) != 0)
                return -1;
            p->fixed_line[hp_config_key_index(k)] = line_of(key);
            p->fixed_column[hp_config_key_index(k)] = column_of(key);
            continue;
        }
        if (value->type != YAML_SCALAR_NODE || is_empty(value))
            return fail_at(p, value, "%s: expected a single value, got %s%s", what, describe(value, buf, sizeof buf),
                           value->type == YAML_MAPPING_NODE || value->type == YAML_SEQUENCE_NODE
                               ? "; to search over values, move it to space:" : "");
        double v;
        if (get_config_value(p, value, what, k, &v) != 0)
            return -1;
        hp_config_set(&p->job->fixed, k, v); /* checked by get_config_value */
        if (strcmp(k->name, "seed") == 0)
            p->job->fixed_seed = 1;
        int index = hp_config_key_index(k);
        p->fixed_line[index] = line_of(key);
        p->fixed_column[index] = column_of(key);
    }
    return 0;
}

/* [low, high] of uniform/loguniform/randint. */
static int parse_range(const parse_ctx *p, const yaml_node_t *list, const char *what, const char *dist_name,
                       const hp_key *k, hp_param *param)
{
    char buf[64];
    if (list->type != YAML_SEQUENCE_NODE || list->data.sequence.items.top - list->data.sequence.items.start != 2)
        return fail_at(p, list, "%s: %s needs a list of two bounds [low, high], got %s", what, dist_name,
                       list->type == YAML_SEQUENCE_NODE ? "a list of another length" : describe(list, buf, sizeof buf));
    const yaml_node_t *low_node = node_at(p, list->data.sequence.items.start[0]);
    const yaml_node_t *high_node = node_at(p, list->data.sequence.items.start[1]);
    if (get_number(p, low_node, what, &param->low) != 0 || get_number(p, high_node, what, &param->high) != 0)
        return -1;
    if (param->dist == HP_DIST_RANDINT) {
        if (param->low != floor(param->low))
            return fail_at(p, low_node, "%s: randint bounds must be whole numbers, got %s; use uniform for "
                                        "fractional values", what, scalar_text(low_node));
        if (param->high != floor(param->high))
            return fail_at(p, high_node, "%s: randint bounds must be whole numbers, got %s; use uniform for "
                                         "fractional values", what, scalar_text(high_node));
    }
    if (param->low > param->high)
        return fail_at(p, list, "%s: low %s is greater than high %s; write [low, high]", what,
                       scalar_text(low_node), scalar_text(high_node));
    if (param->dist == HP_DIST_LOGUNIFORM && param->low <= 0)
        return fail_at(p, low_node, "%s: loguniform needs bounds > 0, got low %s; use a positive low bound "
                                    "(e.g. 1e-5) or uniform", what, scalar_text(low_node));
    hp_config scratch;
    hp_config_defaults(&scratch);
    if (hp_config_set(&scratch, k, param->low) != 0)
        return fail_at(p, low_node, "%s: low bound: %s; use a value in that range", what, config_message(k));
    if (hp_config_set(&scratch, k, param->high) != 0)
        return fail_at(p, high_node, "%s: high bound: %s; use a value in that range", what, config_message(k));
    return 0;
}

static int parse_values(const parse_ctx *p, const yaml_node_t *list, const char *what, const char *dist_name,
                        const hp_key *k, hp_param *param)
{
    char buf[64];
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(p, list, "%s: %s needs a list of values like [a, b, c], got %s", what, dist_name,
                       describe(list, buf, sizeof buf));
    int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0)
        return fail_at(p, list, "%s: %s list is empty; give at least one value", what, dist_name);
    param->values = hp_xcalloc((size_t)n, sizeof *param->values);
    param->n_values = n;
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node_at(p, list->data.sequence.items.start[i]);
        if (get_config_value(p, item, what, k, &param->values[i]) != 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (param->values[j] == param->values[i])
                return fail_at(p, item, "%s: value %s appears twice in the %s list; list each value once",
                               what, scalar_text(item), dist_name);
    }
    return 0;
}

static int parse_when(const parse_ctx *p, const yaml_node_t *when, const char *what, int self);

static int parse_param(const parse_ctx *p, const yaml_node_t *key_node, const yaml_node_t *spec, int index)
{
    hp_param *param = &p->job->params[index];
    const hp_key *k;
    if (find_config_key(p, key_node, "space", &k) != 0)
        return -1;
    param->key = k;
    param->line = line_of(key_node);
    param->column = column_of(key_node);
    char what[96], buf[64];
    snprintf(what, sizeof what, "space.%s", k->name);
    if (spec->type != YAML_MAPPING_NODE)
        return fail_at(p, spec, "%s: expected a distribution like {choice: [a, b]} or {uniform: [low, high]}, "
                                "got %s%s", what, describe(spec, buf, sizeof buf),
                       spec->type == YAML_SCALAR_NODE && !is_empty(spec) ? "; to fix a single value use fixed:" : "");
    if (check_keys(p, spec, what, param_keys, "a parameter takes one of") != 0)
        return -1;

    const yaml_node_t *dist_key = NULL, *dist_value = NULL;
    for (yaml_node_pair_t *pair = spec->data.mapping.pairs.start; pair < spec->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(p, pair->key);
        int d = name_index(scalar_text(key), dist_names);
        if (d < 0)
            continue; /* step, when */
        if (dist_key)
            return fail_at(p, key, "%s: both %s and %s given; use one distribution per parameter", what,
                           scalar_text(dist_key), scalar_text(key));
        dist_key = key;
        dist_value = node_at(p, pair->value);
        param->dist = (hp_dist)d;
    }
    if (!dist_key)
        return fail_at(p, key_node, "%s: no distribution; give one of choice: [..], grid: [..], "
                                    "uniform: [low, high], loguniform: [low, high], randint: [low, high]", what);
    const char *dist_name = dist_names[param->dist];

    int is_list = param->dist == HP_DIST_CHOICE || param->dist == HP_DIST_GRID;
    if (is_list) {
        if (parse_values(p, dist_value, what, dist_name, k, param) != 0)
            return -1;
    } else {
        if (k->type == HP_KEY_ENUM || k->type == HP_KEY_BOOL) {
            char names[256];
            if (k->type == HP_KEY_ENUM)
                join_names(k->enum_names, names, sizeof names);
            else
                snprintf(names, sizeof names, "true, false");
            return fail_at(p, dist_key, "%s: %s takes named values, not a %s range; use choice: [%s]", what,
                           k->name, dist_name, names);
        }
        if (parse_range(p, dist_value, what, dist_name, k, param) != 0)
            return -1;
    }

    yaml_node_t *step_key = NULL;
    yaml_node_t *step_node = lookup(p, spec, "step", &step_key);
    if (step_node) {
        if (is_list)
            return fail_at(p, step_key, "%s: step only applies to uniform, loguniform and randint ranges, not "
                                        "%s; remove step (list the values you want)", what, dist_name);
        if (get_number(p, step_node, what, &param->step) != 0)
            return -1;
        if (param->step <= 0)
            return fail_at(p, step_node, "%s: step must be > 0, got %s; remove it for continuous values",
                           what, scalar_text(step_node));
    }
    /* Whole-number keys and randint must land on whole numbers. */
    if (param->dist == HP_DIST_RANDINT && param->step != 0 && param->step != floor(param->step))
        return fail_at(p, step_node, "%s: randint step must be a whole number, got %s", what,
                       scalar_text(step_node));
    if (k->type == HP_KEY_INT && (param->dist == HP_DIST_UNIFORM || param->dist == HP_DIST_LOGUNIFORM)) {
        if (param->step == 0)
            return fail_at(p, dist_key, "%s: %s takes whole numbers but %s gives fractions; use randint: [low, "
                                        "high], or add a whole-number step (e.g. step: 1)", what, k->name, dist_name);
        if (param->step != floor(param->step) || param->low != floor(param->low))
            return fail_at(p, step_node, "%s: %s takes whole numbers, so low and step must be whole numbers",
                           what, k->name);
    }
    if (strcmp(k->name, "seed") == 0 && !is_list)
        return fail_at(p, dist_key, "space.seed: the training seed is searched as a list of seeds; use "
                                    "choice: [1, 2, 3] (or leave seed out: each trial then gets its own seed)");
    yaml_node_t *when = lookup(p, spec, "when", NULL);
    if (when && parse_when(p, when, what, index) != 0)
        return -1;
    return 0;
}

/* A stored value: what a configuration holds after hp_config_set (floats are kept as float). */
static double stored_value(const hp_key *k, double v)
{
    hp_config c;
    hp_config_defaults(&c);
    if (hp_config_set(&c, k, v) != 0)
        HP_PANIC("a validated value was rejected: %s", hp_error_message());
    return hp_config_get(&c, k);
}

/* when: {parent: value | [values], ...} of space parameter `self`; the
 * parents are the parameters parsed so far (listed above it). */
static int parse_when(const parse_ctx *p, const yaml_node_t *when, const char *what, int self)
{
    hp_job *job = p->job;
    hp_param *param = &job->params[self];
    char where[128], buf[64];
    snprintf(where, sizeof where, "%s.when", what);
    if (when->type != YAML_MAPPING_NODE || when->data.mapping.pairs.top == when->data.mapping.pairs.start)
        return fail_at(p, when, "%s: expected a mapping of conditions like {optimizer: sgd} or {optimizer: [sgd, "
                                "rmsprop]}, got %s", where, when->type == YAML_MAPPING_NODE
                                                             ? "an empty mapping" : describe(when, buf, sizeof buf));
    if (check_keys(p, when, where, NULL, NULL) != 0)
        return -1;
    int n = (int)(when->data.mapping.pairs.top - when->data.mapping.pairs.start);
    param->conditions = hp_xcalloc((size_t)n, sizeof *param->conditions);
    for (int c = 0; c < n; c++) {
        const yaml_node_pair_t *pair = &when->data.mapping.pairs.start[c];
        const yaml_node_t *key = node_at(p, pair->key), *value = node_at(p, pair->value);
        const char *name = scalar_text(key);
        int parent = -1;
        for (int i = 0; i < self; i++)
            if (strcmp(job->params[i].key->name, name) == 0)
                parent = i;
        if (parent < 0) {
            const hp_key *k = hp_config_find_key(name);
            if (k == param->key)
                return fail_at(p, key, "%s: %s cannot depend on itself; name a choice parameter above it",
                               where, name);
            if (k && lookup(p, node_at(p, p->space_map_index), name, NULL))
                return fail_at(p, key, "%s: %s is listed after %s in space:; a condition's parameter must come "
                                       "first, move %s above %s", where, name, param->key->name, name,
                               param->key->name);
            return fail_at(p, key, "%s: '%s' is not a parameter of space:; a condition names a choice parameter "
                                   "listed above %s", where, name, param->key->name);
        }
        const hp_param *pp = &job->params[parent];
        if (pp->dist != HP_DIST_CHOICE && pp->dist != HP_DIST_GRID)
            return fail_at(p, key, "%s: %s is a %s range, not a choice; a condition needs a choice (or grid) "
                                   "parameter", where, name, dist_names[pp->dist]);
        hp_condition *cond = &param->conditions[c];
        param->n_conditions = c + 1;
        cond->parent = parent;
        cond->line = line_of(key);
        cond->column = column_of(key);
        int n_items = value->type == YAML_SEQUENCE_NODE
                          ? (int)(value->data.sequence.items.top - value->data.sequence.items.start) : 1;
        if (n_items == 0)
            return fail_at(p, value, "%s.%s: the list of values is empty; give at least one of %s's values",
                           where, name, name);
        cond->values = hp_xcalloc((size_t)n_items, sizeof *cond->values);
        for (int i = 0; i < n_items; i++) {
            const yaml_node_t *item = value->type == YAML_SEQUENCE_NODE
                                          ? node_at(p, value->data.sequence.items.start[i]) : value;
            char item_what[160];
            snprintf(item_what, sizeof item_what, "%s.%s", where, name);
            double v;
            if (get_config_value(p, item, item_what, pp->key, &v) != 0)
                return -1;
            int found = 0;
            for (int k = 0; k < pp->n_values; k++)
                found |= pp->values[k] == v;
            if (!found)
                return fail_at(p, item, "%s: %s is not one of %s's values in space:; use one of its %s list",
                               item_what, scalar_text(item), name, dist_names[pp->dist]);
            cond->values[i] = stored_value(pp->key, v);
            for (int j = 0; j < i; j++)
                if (cond->values[j] == cond->values[i])
                    return fail_at(p, item, "%s: value %s appears twice; list each value once", item_what,
                                   scalar_text(item));
            cond->n_values = i + 1;
        }
    }
    return 0;
}

static int parse_space(parse_ctx *p, const yaml_node_t *section_key, const yaml_node_t *map)
{
    hp_job *job = p->job;
    if (expect_mapping(p, map, "space", "space: {learning_rate: {loguniform: [1e-4, 1e-1]}}") != 0 ||
        check_keys(p, map, "space", NULL, NULL) != 0)
        return -1;
    int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    job->params = hp_xcalloc((size_t)(n ? n : 1), sizeof *job->params);
    p->space_map_index = (int)(map - p->doc->nodes.start) + 1; /* for "listed after" messages */
    for (int i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &map->data.mapping.pairs.start[i];
        job->n_params = i + 1; /* so release frees a partly parsed parameter */
        if (parse_param(p, node_at(p, pair->key), node_at(p, pair->value), i) != 0)
            return -1;
    }
    return 0;
}

/* ----------------------------------------------------- cross checks ---- */

static const yaml_node_t *param_key_node(const parse_ctx *p, const yaml_node_t *space_map, const hp_param *param)
{
    yaml_node_t *key = NULL;
    lookup(p, space_map, param->key->name, &key);
    return key;
}

/* The function objective reads x1..xd from the space (or fixed:) and
 * reports a loss. */
static int check_function_space(parse_ctx *p, const yaml_node_t *space_map)
{
    hp_job *job = p->job;
    const hp_function *f = hp_function_find(job->function);
    for (int i = 0; i < job->n_params; i++) {
        const char *name = job->params[i].key->name;
        int d = name[0] == 'x' && name[1] >= '1' && name[1] <= '9' && name[2] == '\0' ? name[1] - '1' : -1;
        if (d < 0 || d >= f->n_dims)
            return fail_at(p, param_key_node(p, space_map, &job->params[i]),
                           "space.%s: the function objective %s reads only x1..x%d; remove %s from space", name,
                           f->name, f->n_dims, name);
    }
    for (int d = 0; d < f->n_dims; d++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", d + 1);
        int index = hp_config_key_index(hp_config_find_key(name));
        int found = p->fixed_line[index] != 0;
        for (int i = 0; i < job->n_params; i++)
            found |= strcmp(job->params[i].key->name, name) == 0;
        if (!found)
            return fail_at(p, p->objective_node, "objective: %s needs %s in space: (its domain is [%g, %g]), e.g. "
                                                 "%s: {uniform: [%g, %g]}", f->name, name, f->low[d], f->high[d],
                           name, f->low[d], f->high[d]);
    }
    if (!p->metric_node) {
        job->metric = HP_METRIC_VAL_LOSS;
        if (!p->mode_node)
            job->maximize = 0;
    } else if (job->metric != HP_METRIC_VAL_LOSS && job->metric != HP_METRIC_TRAIN_LOSS) {
        return fail_at(p, p->metric_node, "study.metric: the function objective reports its value as val_loss "
                                          "and train_loss; use metric: val_loss (or leave metric out)");
    }
    return 0;
}

static int check_across_sections(parse_ctx *p, const yaml_node_t *space_map)
{
    hp_job *job = p->job;
    if (p->filters_list && check_filters_list(p) != 0)
        return -1;
    const char *strategy = strategy_names[job->strategy];
    int model_based = job->strategy == HP_STRATEGY_TPE || job->strategy == HP_STRATEGY_BOHB;
    for (int i = 0; i < job->n_params; i++) {
        const hp_param *param = &job->params[i];
        const yaml_node_t *key = param_key_node(p, space_map, param);
        int index = hp_config_key_index(param->key);
        if (p->fixed_line[index] && !param->n_conditions) /* a conditional one's fixed: is its inactive value */
            return fail_at(p, key, "space.%s: also set in fixed: (line %d); a parameter is either searched "
                                   "or fixed, remove one of them (or make it conditional with when:, then "
                                   "fixed: is its value where inactive)",
                           param->key->name, p->fixed_line[index]);
        if (param->n_conditions && param->dist == HP_DIST_GRID && job->strategy != HP_STRATEGY_GRID)
            return fail_at(p, key, "space.%s: %s enumerates grid: values apart from the sampled ones, and that "
                                   "enumeration cannot be conditional; use choice: [..] with when:",
                           param->key->name, strategy);
        if (strcmp(param->key->name, "seed") == 0 && job->repeats > 1)
            return fail_at(p, key, "space.seed: repeats gives each run of a configuration its own seed, so the "
                                   "seed cannot also be searched; remove repeats or seed from space");
        if (job->strategy == HP_STRATEGY_GRID && param->dist != HP_DIST_CHOICE && param->dist != HP_DIST_GRID)
            return fail_at(p, key, "space.%s: grid search needs a list of values, but %s is a continuous "
                                   "range; use choice: [..] or grid: [..] values, or strategy random",
                           param->key->name, dist_names[param->dist]);
        if (hp_job_uses_rungs(job) && strcmp(param->key->name, "epochs") == 0)
            return fail_at(p, key, "space.epochs: %s decides how many epochs each trial trains "
                                   "(min_epochs to max_epochs); remove epochs from space", strategy);
        if (model_based && param->dist == HP_DIST_GRID)
            return fail_at(p, key, "space.%s: %s models the space, so grid: values (enumerated, not "
                                   "sampled) do not fit it; use choice: [..]", param->key->name, strategy);
        if (job->strategy == HP_STRATEGY_TPE && param->dist == HP_DIST_LOGUNIFORM && param->step > 0)
            return fail_at(p, key, "space.%s: tpe does not take a step on a loguniform range (as Optuna "
                                   "does not); remove step, or use uniform with a step", param->key->name);
    }
    if (job->strategy == HP_STRATEGY_RANDOM && job->repeats > 1 && job->fixed_seed)
        return HP_ERR("%s:%d:%d: fixed.seed: repeats runs each configuration with different seeds, but fixed.seed "
                      "gives every trial the same one; remove fixed.seed or repeats", p->path,
                      p->fixed_line[hp_config_key_index(hp_config_find_key("seed"))],
                      p->fixed_column[hp_config_key_index(hp_config_find_key("seed"))]);
    const hp_key *epochs_key = hp_config_find_key("epochs");
    int epochs_index = hp_config_key_index(epochs_key);
    if (hp_job_uses_rungs(job) && p->fixed_line[epochs_index])
        return HP_ERR("%s:%d:%d: fixed.epochs: %s trains each trial up to strategy.max_epochs; remove "
                      "fixed.epochs", p->path, p->fixed_line[epochs_index], p->fixed_column[epochs_index], strategy);
    if (job->strategy == HP_STRATEGY_GRID) {
        long size = hp_space_grid_size(job);
        if (size > MAX_TRIALS / job->repeats)
            return fail_at(p, p->strategy_node, "strategy: the grid has %ld points x %d repeats, more than %d "
                                                "trials; use fewer values or strategy random",
                           size, job->repeats, MAX_TRIALS);
        job->max_trials = (int)(size * job->repeats);
    }
    if (job->objective == HP_OBJECTIVE_FUNCTION && check_function_space(p, space_map) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------- parse ---- */

/* libyaml reports reader errors (bad UTF-8, control characters) as a byte offset. */
static void offset_to_position(const char *text, size_t offset, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static int yaml_syntax_error(const yaml_parser_t *parser, const char *text, const char *path)
{
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    if (parser->error == YAML_READER_ERROR) {
        int line, column;
        offset_to_position(text, parser->problem_offset, &line, &column);
        return HP_ERR("%s:%d:%d: the file is not valid YAML text (%s); save it as plain UTF-8 text",
                      path, line, column, problem);
    }
    if (parser->error == YAML_MEMORY_ERROR)
        HP_PANIC("libyaml ran out of memory parsing %s", path);
    int line = (int)parser->problem_mark.line + 1, column = (int)parser->problem_mark.column + 1;
    size_t index = parser->problem_mark.index;
    int at_tab = index < strlen(text) && text[index] == '\t';
    char context[160] = "";
    if (parser->context)
        snprintf(context, sizeof context, " (%s at line %d)", parser->context,
                 (int)parser->context_mark.line + 1);
    return HP_ERR("%s:%d:%d: YAML syntax error: %s%s; %s", path, line, column, problem, context,
                  at_tab || strstr(problem, "tab") ? "YAML does not allow tabs for indentation, use spaces"
                                                   : "check the indentation, that every 'key: value' has a "
                                                     "space after the colon, and that brackets are closed");
}

/* Before loading: refuse nesting deeper than MAX_DEPTH and collections of
 * more than MAX_ENTRIES entries, streaming libyaml's events and stopping at
 * the first excess (libyaml's loader is quadratic in the nesting depth of
 * flow collections). */
static int prescan(const char *text, const char *path)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        HP_PANIC("libyaml could not initialise a parser (out of memory)");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    long entries[MAX_DEPTH + 2] = {0}; /* nodes in each open collection (a mapping's: 2 per key) */
    int is_mapping[MAX_DEPTH + 2] = {0};
    int depth = 0, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            rc = 1; /* a syntax error: the loader reports it with its context */
            break;
        }
        int line = (int)e.start_mark.line + 1, column = (int)e.start_mark.column + 1;
        switch (e.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth > 0 && ++entries[depth] > (is_mapping[depth] ? 2L : 1L) * MAX_ENTRIES)
                rc = HP_ERR("%s:%d:%d: more than %d entries in one list or mapping; a job file holds a few "
                            "dozen (is this the right file?)", path, line, column, MAX_ENTRIES);
            if (rc == 0 && (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT)) {
                if (++depth > MAX_DEPTH)
                    rc = HP_ERR("%s:%d:%d: nested more than %d levels deep; a job file needs 4 (section, "
                                "parameter, distribution, list): is this the right file?", path, line, column,
                                MAX_DEPTH);
                else
                    entries[depth] = 0, is_mapping[depth] = e.type == YAML_MAPPING_START_EVENT;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    return rc < 0 ? -1 : 0;
}

/* A study name from a job file's name: jobs/my job.yaml -> "my-job". */
static char *name_from_path(const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t len = strcspn(base, ".");
    if (len == 0 || len > MAX_NAME_CHARS)
        len = strlen(base) > MAX_NAME_CHARS ? MAX_NAME_CHARS : strlen(base);
    char *name = hp_xcalloc(len + 2, 1);
    for (size_t i = 0; i < len; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        name[i] = ok ? c : '-';
    }
    if (!name[0])
        strcpy(name, "train");
    return name;
}

static int parse_document(parse_ctx *p, const yaml_node_t *root)
{
    hp_job *job = p->job;
    if (root->type != YAML_MAPPING_NODE) {
        char buf[64];
        return fail_at(p, root, "expected the sections study:, data:, strategy: (and optionally objective:, "
                                "space:, fixed:, output:) at the top level, got %s",
                       describe(root, buf, sizeof buf));
    }
    if (check_keys(p, root, "", section_keys, "the sections are") != 0)
        return -1;

    yaml_node_t *key, *map;
    if (!(map = lookup(p, root, "study", &key)) && p->one_configuration) {
        job->name = name_from_path(p->path);
        job->defaults |= HP_JOB_DEFAULT_NAME;
        job->metric = HP_METRIC_VAL_ACCURACY;
        job->maximize = hp_metric_maximize_default(job->metric);
    } else if (!map) {
        return fail_at(p, root, "missing section 'study'; add study: {name: <study name>}");
    } else if (parse_study(p, key, map) != 0) {
        return -1;
    }
    /* The objective first: only training needs a data section. */
    yaml_node_t *objective_key = NULL;
    if ((map = lookup(p, root, "objective", &objective_key)) && !is_empty(map)) {
        p->objective_node = objective_key;
        if (parse_objective(p, objective_key, map) != 0)
            return -1;
    }
    if ((map = lookup(p, root, "data", &key))) {
        if (parse_data(p, key, map) != 0)
            return -1;
    } else if (job->objective == HP_OBJECTIVE_TRAIN) {
        return fail_at(p, root, "missing section 'data'; add data: {path: datasets/cifar10.h5, "
                                "train_shards: [0, 1, 2, 3, 4, 5, 6, 7, 8], val_shards: [9]}");
    } else {
        job->test_eval = 0; /* nothing to evaluate without data */
    }
    if (!(map = lookup(p, root, "strategy", &key)) && p->one_configuration) {
        job->strategy = HP_STRATEGY_RANDOM; /* one trial: the fixed configuration */
        job->max_trials = 1;
        job->defaults |= HP_JOB_DEFAULT_STRATEGY;
        p->strategy_node = root;
    } else if (!map) {
        return fail_at(p, root, "missing section 'strategy'; add strategy: {name: random, max_trials: 20} "
                                "(or grid, asha, tpe, bohb)");
    } else {
        p->strategy_node = key;
        if (parse_strategy(p, key, map) != 0)
            return -1;
    }
    /* Optional sections may be present but empty (everything below them commented out). */
    if ((map = lookup(p, root, "fixed", &key)) && !is_empty(map) && parse_fixed(p, key, map) != 0)
        return -1;
    yaml_node_t *space_map = lookup(p, root, "space", &key);
    if (space_map && is_empty(space_map))
        space_map = NULL;
    if (space_map && parse_space(p, key, space_map) != 0)
        return -1;
    if ((map = lookup(p, root, "output", &key)) && !is_empty(map) && parse_output(p, key, map) != 0)
        return -1;
    if (!job->params)
        job->params = hp_xcalloc(1, sizeof *job->params);
    return check_across_sections(p, space_map);
}

static int parse_job(hp_job *job, const char *text, const char *path, int one_configuration);

int hp_job_parse(hp_job *job, const char *text, const char *path) { return parse_job(job, text, path, 0); }

static int parse_job(hp_job *job, const char *text, const char *path, int one_configuration)
{
    memset(job, 0, sizeof *job);
    job->path = hp_xstrdup(path);
    job->text = hp_xstrdup(text);
    job->test_eval = 1;
    job->repeats = 1;
    job->min_epochs = 1;
    job->reduction_factor = 3;
    job->brackets = 1;
    /* Optuna 3.1's TPESampler defaults, but constant_liar on: hptune runs
       trials in parallel, and without it concurrent workers propose the same
       point (Optuna's default is off) */
    job->tpe = (hp_job_tpe){.n_startup_trials = 10, .n_ei_candidates = 24, .prior_weight = 1.0,
                            .consider_magic_clip = 1, .consider_endpoints = 0, .multivariate = 0,
                            .constant_liar = 1};
    /* HpBandSter's BOHB defaults */
    job->bohb = (hp_job_bohb){.top_n_percent = 15, .num_samples = 64, .random_fraction = 1.0 / 3.0,
                              .bandwidth_factor = 3, .min_bandwidth = 1e-3, .min_points_in_model = 0};
    /* Optuna 3.1's MedianPruner defaults */
    job->stopping = (hp_job_stopping){.n_startup_trials = 5, .n_warmup_epochs = 0, .interval_epochs = 1,
                                      .n_min_trials = 1};
    job->keep = HP_KEEP_LAST_AND_BEST;
    job->checkpoint_every = 1;
    hp_config_defaults(&job->fixed);

    size_t n_keys;
    hp_config_keys(&n_keys);
    if (n_keys > MAX_CONFIG_KEYS)
        HP_PANIC("the hyperparameter table has %zu keys; raise MAX_CONFIG_KEYS", n_keys);
    parse_ctx p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.job = job;
    p.one_configuration = one_configuration;

    if (prescan(text, path) != 0) {
        hp_job_release(job);
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int rc = -1;
    if (!yaml_parser_initialize(&parser))
        HP_PANIC("libyaml could not initialise a parser (out of memory)");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_syntax_error(&parser, text, path);
        goto release_parser;
    }
    p.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        HP_ERR("%s:1:1: the job file is empty; it needs at least the sections study:, data: and strategy:", path);
        goto release_document;
    }
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_syntax_error(&parser, text, path);
        goto release_document;
    }
    yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
    if (extra_root) {
        HP_ERR("%s:%d:%d: a second YAML document starts here; put the whole job in one document "
               "(remove the '---' line)", path, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1);
        yaml_document_delete(&extra);
        goto release_document;
    }
    yaml_document_delete(&extra);
    rc = parse_document(&p, root);

release_document:
    yaml_document_delete(&doc);
release_parser:
    yaml_parser_delete(&parser);
    if (rc != 0) {
        /* keep the message; leave the job empty so release is optional */
        hp_job_release(job);
    }
    return rc;
}

static int load_job(hp_job *job, const char *path, int one_configuration);
int hp_job_load(hp_job *job, const char *path) { return load_job(job, path, 0); }
int hp_job_load_one(hp_job *job, const char *path) { return load_job(job, path, 1); }

static int load_job(hp_job *job, const char *path, int one_configuration)
{
    memset(job, 0, sizeof *job);
    FILE *f = fopen(path, "rb");
    if (!f)
        return HP_ERR("%s: cannot read the job file: %s; check the path", path, strerror(errno));
    int rc = -1;
    size_t capacity = 4096, length = 0;
    char *text = hp_xcalloc(capacity, 1);
    for (;;) {
        if (length + 1 >= capacity) {
            capacity *= 2;
            text = hp_xrealloc(text, capacity);
        }
        size_t got = fread(text + length, 1, capacity - length - 1, f);
        length += got;
        if (length > MAX_JOB_BYTES) {
            HP_ERR("%s: the job file is larger than %d bytes; is this the right file?", path, MAX_JOB_BYTES);
            goto release_text;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        HP_ERR("%s: cannot read the job file: %s; check the path", path, strerror(errno));
        goto release_text;
    }
    text[length] = '\0';
    if (memchr(text, '\0', length)) {
        HP_ERR("%s: the job file contains a NUL byte (a binary file?); give a YAML text file", path);
        goto release_text;
    }
    rc = parse_job(job, text, path, one_configuration);
release_text:
    free(text);
    fclose(f);
    return rc;
}

void hp_job_release(hp_job *job)
{
    free(job->path);
    free(job->text);
    free(job->name);
    free(job->data_path);
    free(job->curves_path);
    free(job->function);
    free(job->out_dir);
    if (job->params)
        for (int i = 0; i < job->n_params; i++) {
            free(job->params[i].values);
            for (int c = 0; c < job->params[i].n_conditions; c++)
                free(job->params[i].conditions[c].values);
            free(job->params[i].conditions);
        }
    free(job->params);
    memset(job, 0, sizeof *job);
}

int hp_job_check_shards(const hp_job *job, int n_shards)
{
    const struct { const char *name; const int *shards; int count; } lists[] = {
        {"train_shards", job->train_shards, job->n_train_shards},
        {"val_shards", job->val_shards, job->n_val_shards},
    };
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lists[l].count; i++)
            if (lists[l].shards[i] >= n_shards)
                return HP_ERR("%s:%d:%d: data.%s: shard %d does not exist; %s has %d shards (0 to %d), "
                              "use shard numbers below %d or prepare the data with more shards",
                              job->path, job->shards_line, job->shards_column, lists[l].name,
                              lists[l].shards[i], job->data_path, n_shards, n_shards - 1, n_shards);
    return 0;
}

int hp_job_check_data(const hp_job *job)
{
    int sizes[HP_MAX_SHARDS * 4], n_shards = 0;
    if (hp_dataset_shard_sizes(job->data_path, sizes, HP_MAX_SHARDS * 4, &n_shards) != 0 ||
        hp_job_check_shards(job, n_shards) != 0)
        return -1;
    const struct { const char *name; const int *shards; int count; } lists[] = {
        {"train_shards", job->train_shards, job->n_train_shards},
        {"val_shards", job->val_shards, job->n_val_shards},
    };
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lists[l].count; i++) {
            int shard = lists[l].shards[i];
            if (shard < HP_MAX_SHARDS * 4 && sizes[shard] == 0)
                return HP_ERR("%s:%d:%d: data.%s: shard %d of %s holds no images (prepared with more shards "
                              "than a class has images?); list other shards, or prepare the data with fewer",
                              job->path, job->shards_line, job->shards_column, lists[l].name, shard,
                              job->data_path);
        }
    return 0;
}

int hp_job_default_shards(hp_job *job, int n_shards)
{
    if (!(job->defaults & HP_JOB_DEFAULT_SHARDS))
        return 0;
    if (n_shards < 2)
        return HP_ERR("%s: data: %s has %d shard; without train_shards and val_shards every shard but the last "
                      "trains and the last validates, which needs 2: list the shards, or prepare the data with "
                      "--shards 2 or more", job->path, job->data_path, n_shards);
    if (n_shards - 1 > HP_MAX_SHARDS)
        return HP_ERR("%s: data: %s has %d shards; list at most %d in train_shards", job->path, job->data_path,
                      n_shards, HP_MAX_SHARDS);
    job->n_train_shards = n_shards - 1;
    for (int i = 0; i < n_shards - 1; i++)
        job->train_shards[i] = i;
    job->n_val_shards = 1;
    job->val_shards[0] = n_shards - 1;
    return 0;
}
