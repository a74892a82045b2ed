/* curves.c - the replay objective: per-epoch metrics read from a CSV table.
 *
 * The curves CSV format:
 *
 *     # learning curves of a 2-parameter space (comment lines start with #)
 *     learning_rate, optimizer, epoch, val_accuracy, val_loss
 *     0.001,         adam,      1,     0.412,        1.63
 *     0.001,         adam,      2,     0.487,        1.44
 *     1e-2,          sgd,       1,     0.305,        1.91
 *
 *  - The first line that is neither blank nor a comment (first non-space
 *    character '#') is the header: comma-separated column names.  Blank and
 *    comment lines are skipped everywhere.  Fields are unquoted; spaces and
 *    tabs around a field are ignored; a trailing '\r' is ignored.
 *  - One column per parameter of the job's space, named like the config key
 *    (any order).  Values are written as in the job file: numbers in any
 *    notation, enum names, true/false.  They are compared after
 *    hp_config_parse_value + hp_config_format_value, so 0.001 and 1e-3 are
 *    the same configuration.  Columns with other names are ignored.
 *  - `epoch`: the 1-based epoch the metrics were measured after.
 *  - Metric columns named like the metric row's columns (metric_row.h:
 *    val_accuracy, val_loss, val_f1, train_accuracy, train_loss, ...).  The
 *    study's metric is required, the others optional.  Values are numbers (nan and inf are accepted: a
 *    diverged run).
 *  - Each (configuration, epoch) appears once, and each configuration lists
 *    every epoch 1..E (rows in any order).
 *  - The space may only use choice or grid parameters: a continuous space
 *    would sample configurations the table cannot contain.
 * Every error names the file and line.
 */
#include "curves.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_EPOCH 1000000 /* guards the per-configuration arrays against a typo */

typedef struct curve {
    char *key;        /* "name=value,..." with hp_config_format_value text, space order */
    char *label;      /* the same for messages, floats in their shortest form */
    int first_line;   /* first row of this configuration */
    int n_epochs;     /* highest epoch seen */
    int cap;
    double *values;   /* [cap][HP_METRIC_COLS] */
    int *lines;       /* [cap]: file line of epoch e+1's row, 0 if none yet */
} curve;

struct hp_curves {
    char *path;
    int n_params;
    const hp_key **keys;              /* [n_params], the space in job order */
    int has_metric[HP_METRIC_COLS];  /* the file has this metric's column */
    int n_curves, cap_curves;
    curve *curves;
    int *table;                       /* open addressing: curve index + 1, 0 empty */
    size_t table_size;                /* power of two */
};

/* -------------------------------------------------------- hash table ---- */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Index of the curve with this key, or -1; *free_slot gets where to insert. */
static int find_curve(const hp_curves *c, const char *key, size_t *free_slot)
{
    size_t mask = c->table_size - 1;
    for (size_t i = hash_text(key) & mask;; i = (i + 1) & mask) {
        int entry = c->table[i];
        if (entry == 0) {
            if (free_slot)
                *free_slot = i;
            return -1;
        }
        if (strcmp(c->curves[entry - 1].key, key) == 0)
            return entry - 1;
    }
}

static void rehash(hp_curves *c, size_t size)
{
    free(c->table);
    c->table = hp_xcalloc(size, sizeof *c->table);
    c->table_size = size;
    for (int i = 0; i < c->n_curves; i++) {
        size_t at;
        find_curve(c, c->curves[i].key, &at);
        c->table[at] = i + 1;
    }
}

static curve *add_curve(hp_curves *c, const char *key, const char *label, int line)
{
    if ((size_t)(c->n_curves + 1) * 2 > c->table_size)
        rehash(c, c->table_size * 2);
    if (c->n_curves == c->cap_curves) {
        c->cap_curves = c->cap_curves ? 2 * c->cap_curves : 64;
        c->curves = hp_xrealloc(c->curves, (size_t)c->cap_curves * sizeof *c->curves);
    }
    size_t at;
    if (find_curve(c, key, &at) >= 0)
        HP_PANIC("curve %s added twice", key);
    curve *cv = &c->curves[c->n_curves];
    memset(cv, 0, sizeof *cv);
    cv->key = hp_xstrdup(key);
    cv->label = hp_xstrdup(label);
    cv->first_line = line;
    c->table[at] = ++c->n_curves;
    return cv;
}

static void curve_reserve(curve *cv, int epochs)
{
    if (epochs <= cv->cap)
        return;
    int cap = cv->cap ? cv->cap : 16;
    while (cap < epochs)
        cap *= 2;
    cv->values = hp_xrealloc(cv->values, (size_t)cap * HP_METRIC_COLS * sizeof *cv->values);
    cv->lines = hp_xrealloc(cv->lines, (size_t)cap * sizeof *cv->lines);
    memset(cv->lines + cv->cap, 0, (size_t)(cap - cv->cap) * sizeof *cv->lines);
    cv->cap = cap;
}

/* ------------------------------------------------------------- text ---- */

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static void text_append(text_buf *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = hp_xrealloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}

/* Append "name=value" for parameter i: the canonical form (the lookup key)
 * or, for messages, floats in the fewest digits that give the same float. */
static void append_param(text_buf *t, const hp_key *k, int i, double value, int for_message)
{
    char buf[96];
    hp_config_format_value(k, value, buf, sizeof buf);
    if (for_message && k->type == HP_KEY_FLOAT)
        for (int digits = 1; digits <= 9; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, (double)(float)value);
            if ((float)strtod(buf, NULL) == (float)value)
                break;
        }
    if (i > 0)
        text_append(t, for_message ? ", " : ",");
    text_append(t, k->name);
    text_append(t, "=");
    text_append(t, buf);
}

/* The text of a configuration's space values: the canonical key, or the
 * label for messages. */
static void describe(const hp_curves *c, const double *values, text_buf *out, int for_message)
{
    out->len = 0;
    text_append(out, "");
    for (int i = 0; i < c->n_params; i++)
        append_param(out, c->keys[i], i, values[i], for_message);
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Split a line in place at commas into trimmed fields; returns the count. */
static int split_fields(char *line, char ***fields, int *cap)
{
    int n = 0;
    for (char *field = line;;) {
        char *comma = strchr(field, ',');
        if (comma)
            *comma = '\0';
        if (n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *fields = hp_xrealloc(*fields, (size_t)*cap * sizeof **fields);
        }
        (*fields)[n++] = trim(field);
        if (!comma)
            return n;
        field = comma + 1;
    }
}

static int read_file(const char *path, char **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return HP_ERR("%s: cannot open the curves file (%s); check objective.file in the job",
                      path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = hp_xcalloc(cap, 1);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = hp_xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return HP_ERR("%s: error reading the curves file", path);
    }
    buf[len] = '\0';
    *out = buf;
    *size = len;
    return 0;
}

/* ------------------------------------------------------------- load ---- */

enum { COLUMN_IGNORED = -1, COLUMN_EPOCH = -2 };

/* A column's role: >= 0 space parameter index, HP_METRIC_COLS + m metric m,
 * or one of the enum values above. */
static int column_role(const hp_curves *c, const char *name)
{
    for (int i = 0; i < c->n_params; i++)
        if (strcmp(c->keys[i]->name, name) == 0)
            return i;
    if (strcmp(name, "epoch") == 0)
        return COLUMN_EPOCH;
    for (int m = 0; m < HP_METRIC_COLS; m++)
        if (strcmp(hp_metric_name((hp_metric)m), name) == 0)
            return c->n_params + m;
    return COLUMN_IGNORED;
}

static const char *dist_name(hp_dist d)
{
    switch (d) {
    case HP_DIST_CHOICE: return "choice";
    case HP_DIST_GRID: return "grid";
    case HP_DIST_UNIFORM: return "uniform";
    case HP_DIST_LOGUNIFORM: return "loguniform";
    case HP_DIST_RANDINT: return "randint";
    }
    return "unknown";
}

static int check_space(const hp_param *params, int n_params, const char *job_path)
{
    for (int i = 0; i < n_params; i++) {
        const hp_param *prm = &params[i];
        if (prm->dist != HP_DIST_CHOICE && prm->dist != HP_DIST_GRID)
            return HP_ERR("%s:%d:%d: space.%s: the curves objective replays a table, so every space "
                          "parameter must be a choice or grid list, not %s; list the values the "
                          "table contains",
                          job_path ? job_path : "job", prm->line, prm->column, prm->key->name,
                          dist_name(prm->dist));
    }
    return 0;
}

/* Parse the header line into per-column roles and check the required columns. */
static int parse_header(hp_curves *c, char **fields, int n_fields, int line, hp_metric metric,
                        int **roles_out)
{
    int *roles = hp_xcalloc((size_t)n_fields, sizeof *roles);
    int *param_col = hp_xcalloc((size_t)c->n_params + 1, sizeof *param_col);
    int epoch_col = -1, status = -1;
    for (int i = 0; i < c->n_params; i++)
        param_col[i] = -1;
    for (int j = 0; j < n_fields; j++) {
        if (fields[j][0] == '\0') {
            HP_ERR("%s:%d: column %d of the header has no name; name every column", c->path, line, j + 1);
            goto free_lists;
        }
        for (int i = 0; i < j; i++)
            if (strcmp(fields[i], fields[j]) == 0) {
                HP_ERR("%s:%d: column '%s' appears twice in the header; keep one", c->path, line, fields[j]);
                goto free_lists;
            }
        roles[j] = column_role(c, fields[j]);
        if (roles[j] >= c->n_params)
            c->has_metric[roles[j] - c->n_params] = 1;
        else if (roles[j] >= 0)
            param_col[roles[j]] = j;
        else if (roles[j] == COLUMN_EPOCH)
            epoch_col = j;
    }
    for (int i = 0; i < c->n_params; i++)
        if (param_col[i] < 0) {
            HP_ERR("%s:%d: no column for the space parameter '%s'; add a column named %s to the header",
                   c->path, line, c->keys[i]->name, c->keys[i]->name);
            goto free_lists;
        }
    if (epoch_col < 0) {
        HP_ERR("%s:%d: no 'epoch' column; add one with the 1-based epoch of each row", c->path, line);
        goto free_lists;
    }
    if (!c->has_metric[metric]) {
        HP_ERR("%s:%d: no '%s' column for the study's metric; add it to the header (or change "
               "study.metric)", c->path, line, hp_metric_name(metric));
        goto free_lists;
    }
    *roles_out = roles;
    roles = NULL;
    status = 0;
free_lists:
    free(param_col);
    free(roles);
    return status;
}

/* One data row: values per role into the configuration's curve. */
static int parse_row(hp_curves *c, char **fields, const int *roles, int n_fields, int line,
                     double *param_values, text_buf *key, text_buf *label)
{
    double metrics[HP_METRIC_COLS];
    long epoch = 0;
    for (int m = 0; m < HP_METRIC_COLS; m++)
        metrics[m] = 0.0;
    for (int j = 0; j < n_fields; j++) {
        const char *text = fields[j];
        int role = roles[j];
        if (role == COLUMN_IGNORED)
            continue;
        if (role >= 0 && role < c->n_params) {
            if (hp_config_parse_value(c->keys[role], text, &param_values[role]) != 0) {
                hp_error_prefix("%s:%d", c->path, line);
                return -1;
            }
            continue;
        }
        char *end = NULL;
        errno = 0;
        if (role == COLUMN_EPOCH) {
            epoch = strtol(text, &end, 10);
            if (end == text || *end != '\0' || errno == ERANGE || epoch < 1 || epoch > MAX_EPOCH) {
                return HP_ERR("%s:%d: epoch '%s' is not a whole number between 1 and %d", c->path,
                              line, text, MAX_EPOCH);
            }
            continue;
        }
        double v = strtod(text, &end);
        if (end == text || *end != '\0') {
            return HP_ERR("%s:%d: %s '%s' is not a number", c->path, line,
                          hp_metric_name((hp_metric)(role - c->n_params)), text);
        }
        metrics[role - c->n_params] = v;
    }

    describe(c, param_values, key, 0);
    describe(c, param_values, label, 1);
    int index = find_curve(c, key->p, NULL);
    curve *cv = index >= 0 ? &c->curves[index] : add_curve(c, key->p, label->p, line);
    curve_reserve(cv, (int)epoch);
    if (cv->lines[epoch - 1] != 0)
        return HP_ERR("%s:%d: a second row for configuration (%s) at epoch %ld; the first is at "
                      "line %d; keep one", c->path, line, label->p, epoch, cv->lines[epoch - 1]);
    cv->lines[epoch - 1] = line;
    memcpy(&cv->values[(size_t)(epoch - 1) * HP_METRIC_COLS], metrics, sizeof metrics);
    if (epoch > cv->n_epochs)
        cv->n_epochs = (int)epoch;
    return 0;
}

int hp_curves_load(hp_curves **out, const char *path, const hp_param *params, int n_params, hp_metric metric,
                   const char *job_path)
{
    *out = NULL;
    if (check_space(params, n_params, job_path) != 0)
        return -1;
    char *text = NULL;
    size_t size = 0;
    if (read_file(path, &text, &size) != 0)
        return -1;

    hp_curves *c = hp_xcalloc(1, sizeof *c);
    c->path = hp_xstrdup(path);
    c->n_params = n_params;
    c->keys = hp_xcalloc((size_t)n_params + 1, sizeof *c->keys);
    for (int i = 0; i < n_params; i++)
        c->keys[i] = params[i].key;
    rehash(c, 64);

    char **fields = NULL;
    int fields_cap = 0, header_fields = 0, n_rows = 0, status = -1;
    int *roles = NULL;
    double *param_values = hp_xcalloc((size_t)n_params + 1, sizeof *param_values);
    text_buf key = {0}, label = {0};
    int line = 0;
    for (char *next = text; next;) {
        char *row = next;
        char *newline = strchr(row, '\n');
        if (newline)
            *newline = '\0';
        next = newline ? newline + 1 : NULL;
        line++;
        char *trimmed = trim(row);
        if (trimmed[0] == '\0' || trimmed[0] == '#')
            continue;
        int n = split_fields(trimmed, &fields, &fields_cap);
        if (!roles) {
            if (parse_header(c, fields, n, line, metric, &roles) != 0)
                goto free_all;
            header_fields = n;
            continue;
        }
        if (n != header_fields) {
            HP_ERR("%s:%d: %d fields but the header has %d columns; write one value per column "
                   "(values cannot contain commas)", path, line, n, header_fields);
            goto free_all;
        }
        if (parse_row(c, fields, roles, n, line, param_values, &key, &label) != 0)
            goto free_all;
        n_rows++;
    }
    if (!roles) {
        HP_ERR("%s: no header line; the first line must name the columns (the space parameters, "
               "epoch and %s)", path, hp_metric_name(metric));
        goto free_all;
    }
    if (n_rows == 0) {
        HP_ERR("%s: no data rows after the header; add one row per configuration and epoch", path);
        goto free_all;
    }
    for (int i = 0; i < c->n_curves; i++) {
        const curve *cv = &c->curves[i];
        for (int e = 0; e < cv->n_epochs; e++)
            if (cv->lines[e] == 0) {
                HP_ERR("%s:%d: configuration (%s) has rows up to epoch %d but none for epoch %d; "
                       "list every epoch from 1", path, cv->first_line, cv->label, cv->n_epochs, e + 1);
                goto free_all;
            }
    }
    *out = c;
    c = NULL;
    status = 0;
free_all:
    free(key.p);
    free(label.p);
    free(param_values);
    free(roles);
    free(fields);
    free(text);
    hp_curves_free(c);
    return status;
}

void hp_curves_free(hp_curves *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_curves; i++) {
        free(c->curves[i].key);
        free(c->curves[i].label);
        free(c->curves[i].values);
        free(c->curves[i].lines);
    }
    free(c->curves);
    free(c->table);
    free(c->keys);
    free(c->path);
    free(c);
}

int hp_curves_has_column(const hp_curves *c, hp_metric m)
{
    return m >= 0 && m < HP_METRIC_COLS && c->has_metric[m];
}

int hp_curves_lookup(const hp_curves *c, const hp_config *config, int epoch, hp_metric m, double *value)
{
    if ((int)m < 0 || m >= HP_METRIC_COLS)
        return HP_ERR("curves: metric %d does not exist", (int)m);
    if (!c->has_metric[m])
        return HP_ERR("%s: the curves file has no '%s' column; add it or choose another metric",
                      c->path, hp_metric_name(m));
    double values[64];
    double *space_values = c->n_params <= 64 ? values : hp_xcalloc((size_t)c->n_params, sizeof *values);
    for (int i = 0; i < c->n_params; i++)
        space_values[i] = hp_config_get(config, c->keys[i]);
    text_buf key = {0}, label = {0};
    describe(c, space_values, &key, 0);
    int status = -1;
    int index = find_curve(c, key.p, NULL);
    if (index < 0 || epoch < 1 || epoch > c->curves[index].n_epochs)
        describe(c, space_values, &label, 1);
    if (index < 0) {
        HP_ERR("%s: no rows for configuration (%s); the table must cover every configuration of "
               "the space", c->path, label.p);
        goto free_key;
    }
    const curve *cv = &c->curves[index];
    if (epoch < 1 || epoch > cv->n_epochs) {
        HP_ERR("%s: configuration (%s) has epochs 1..%d, not epoch %d; add rows or lower the "
               "epochs of the study", c->path, label.p, cv->n_epochs, epoch);
        goto free_key;
    }
    *value = cv->values[(size_t)(epoch - 1) * HP_METRIC_COLS + m];
    status = 0;
free_key:
    free(key.p);
    free(label.p);
    if (space_values != values)
        free(space_values);
    return status;
}
