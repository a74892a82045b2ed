/* checkpoint.c - save and restore a trainer (layout and checksum: checkpoint.h).
 *
 * Saving lists the payload (every dataset, in checksum order) with pointers
 * into the trainer's memory, writes it, and records the list and its CRC.
 * Loading reads every dataset the file's list names, checks the CRC, then
 * compares the file's list (names, types, shapes) with the list the trainer's
 * network would write, and only then copies the values into the trainer.
 */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "build_info.h"
#include "error.h"
#include "h5util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint checksums are defined over little-endian bytes: add byte swapping for this host"
#endif

#define MAX_RANK 4
#define N_COUNTERS 5
#define MAX_KEYS 64
#define NAME_SIZE 96

/* History columns: the epoch number, then the metric row (metric_row.h). */
static void history_columns(const char *names[HP_HISTORY_COLS])
{
    names[0] = "epoch";
    for (int c = 0; c < HP_METRIC_COLS; c++)
        names[1 + c] = hp_metric_name(c);
}
/* Root attributes covered by the checksum, in checksum order. */
static const char *const counter_names[N_COUNTERS] = {"epoch", "step", "batch_in_epoch", "trial",
                                                      "n_train"};
static const char *const rng_streams[3] = {"shuffle", "dropout", "augment"};
static const char *const partial_columns[4] = {"loss_sum", "correct", "seen", "seconds"};
static const char *const cifar10_class_names[HP_NUM_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
static const char checksum_description[] =
    "crc32 (zlib) of the little-endian bytes of the datasets in checksum_datasets, in that order, "
    "then of the int64 attributes epoch, step, batch_in_epoch, trial, n_train (see hptune's "
    "include/checkpoint.h)";
static const char optimizer_buffers[] =
    "optim.h's per-parameter buffers: adam/adamw m = first moment, v = second moment; "
    "sgd m = momentum buffer; rmsprop v = mean square, m = momentum buffer; unused ones stay 0";

typedef enum { ELEM_F32, ELEM_F64, ELEM_I32, ELEM_I64, ELEM_U64 } elem_kind;
static const char *const elem_names[] = {"float32", "float64", "int32", "int64", "uint64"};
static const size_t elem_sizes[] = {4, 8, 4, 8, 8};

static hid_t elem_type(elem_kind k)
{
    switch (k) {
    case ELEM_F32: return H5T_NATIVE_FLOAT;
    case ELEM_F64: return H5T_NATIVE_DOUBLE;
    case ELEM_I32: return H5T_NATIVE_INT32;
    case ELEM_I64: return H5T_NATIVE_INT64;
    case ELEM_U64: return H5T_NATIVE_UINT64;
    }
    HP_PANIC("bad element kind %d", (int)k);
}

/* ------------------------------------------------------------ payload -- */

/* One dataset: its full name, element type, shape, and the memory it is
 * written from (save) or restored into (load). */
typedef struct entry {
    char name[NAME_SIZE];
    elem_kind kind;
    int rank;
    hsize_t dims[MAX_RANK];
    void *data;
} entry;

typedef struct payload {
    entry *entries; /* (n), owned */
    size_t n, capacity;
} payload;

/* The trainer's state that is not an array of the network, flattened. */
typedef struct flat_state {
    double config_values[MAX_KEYS];
    size_t n_keys;
    uint64_t rng[3][4];
    double partial[4];
    int n_history;
    double *history;    /* (n_history, HP_HISTORY_COLS), owned */
    int64_t *confusion; /* (n_history, 10, 10), owned */
    int64_t counters[N_COUNTERS];
} flat_state;

static size_t entry_count(const entry *e)
{
    size_t n = 1;
    for (int d = 0; d < e->rank; d++)
        n *= (size_t)e->dims[d];
    return n;
}

static void add_entry(payload *p, elem_kind kind, void *data, int rank, const hsize_t *dims,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add_entry(payload *p, elem_kind kind, void *data, int rank, const hsize_t *dims,
                      const char *fmt, ...)
{
    if (p->n == p->capacity) {
        p->capacity = p->capacity ? 2 * p->capacity : 32;
        p->entries = hp_xrealloc(p->entries, p->capacity * sizeof *p->entries);
    }
    entry *e = &p->entries[p->n++];
    memset(e, 0, sizeof *e);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof e->name)
        HP_PANIC("checkpoint dataset name too long");
    e->kind = kind;
    e->rank = rank;
    memcpy(e->dims, dims, (size_t)rank * sizeof *dims);
    e->data = data;
}

/* Names of the layers with parameters (block<b>_conv, block<b>_bn, and for
 * the k-th conv of a block k >= 2 block<b>_conv<k>, block<b>_bn<k>;
 * block<b>_shortcut for a projection shortcut; head<h>_dense, output_dense);
 * "" for the others.  names (n_layers). */
static void layer_names(const hp_net *net, char (*names)[32])
{
    int head = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const hp_layer *L = &net->layers[i];
        names[i][0] = '\0';
        char sub[16] = "";
        if (L->sub >= 2)
            snprintf(sub, sizeof sub, "%d", L->sub);
        switch (L->kind) {
        case HP_LAYER_CONV:
            snprintf(names[i], sizeof names[i], "block%d_conv%s", L->block, sub);
            break;
        case HP_LAYER_BATCHNORM:
            snprintf(names[i], sizeof names[i], "block%d_bn%s", L->block, sub);
            break;
        case HP_LAYER_ADD:
            if (L->projection)
                snprintf(names[i], sizeof names[i], "block%d_shortcut", L->block);
            break;
        case HP_LAYER_DENSE:
            if (i == net->n_layers - 1)
                snprintf(names[i], sizeof names[i], "output_dense");
            else
                snprintf(names[i], sizeof names[i], "head%d_dense", ++head);
            break;
        default:
            break;
        }
    }
}

/* The trained tensors of one layer (weight and bias, or gamma and beta)
 * inside an arena laid out like net->params, under prefix/<layer>/. */
static void add_layer_tensors(payload *p, const hp_layer *L, const char *prefix, const char *layer,
                              float *arena)
{
    hsize_t w_dims[MAX_RANK], b_dims[1] = {L->b_count};
    int w_rank = 1;
    const char *w_name = "weight", *b_name = "bias";
    switch (L->kind) {
    case HP_LAYER_CONV:
    case HP_LAYER_ADD: /* its projection conv */
        w_rank = 4;
        w_dims[0] = (hsize_t)L->conv.OC;
        w_dims[1] = (hsize_t)L->conv.C;
        w_dims[2] = (hsize_t)L->conv.KH;
        w_dims[3] = (hsize_t)L->conv.KW;
        break;
    case HP_LAYER_DENSE:
        w_rank = 2;
        w_dims[0] = (hsize_t)L->dense_out;
        w_dims[1] = (hsize_t)L->dense_in;
        break;
    case HP_LAYER_BATCHNORM:
        w_dims[0] = L->w_count;
        w_name = "gamma";
        b_name = "beta";
        break;
    default:
        HP_PANIC("layer kind %d has no parameters", (int)L->kind);
    }
    add_entry(p, ELEM_F32, arena + L->w_off, w_rank, w_dims, "%s/%s/%s", prefix, layer, w_name);
    if (entry_count(&p->entries[p->n - 1]) != L->w_count)
        HP_PANIC("%s: shape does not cover the layer's %zu weights", p->entries[p->n - 1].name,
                 L->w_count);
    add_entry(p, ELEM_F32, arena + L->b_off, 1, b_dims, "%s/%s/%s", prefix, layer, b_name);
}

/* Every dataset of the file in checksum order, pointing into net, order
 * (n_train) and s.  The caller frees p->entries. */
static void build_payload(payload *p, hp_net *net, int32_t *order, size_t n_train, flat_state *s)
{
    memset(p, 0, sizeof *p);
    char (*names)[32] = hp_xcalloc((size_t)net->n_layers + 1, sizeof *names);
    layer_names(net, names);
    hsize_t dims[MAX_RANK] = {s->n_keys};
    add_entry(p, ELEM_F64, s->config_values, 1, dims, "/config_values");
    for (int i = 0; i < net->n_layers; i++) {
        const hp_layer *L = &net->layers[i];
        if (!names[i][0])
            continue;
        add_layer_tensors(p, L, "/model", names[i], net->params);
        if (L->kind == HP_LAYER_BATCHNORM) {
            dims[0] = (hsize_t)L->bn.C;
            float *running = net->bn_state + L->state_off; /* mean (C) then var (C) */
            add_entry(p, ELEM_F32, running, 1, dims, "/model/%s/running_mean", names[i]);
            add_entry(p, ELEM_F32, running + L->bn.C, 1, dims, "/model/%s/running_var", names[i]);
        }
    }
    for (int i = 0; i < net->n_layers; i++)
        if (names[i][0])
            add_layer_tensors(p, &net->layers[i], "/optimizer/m", names[i], net->opt_m);
    for (int i = 0; i < net->n_layers; i++)
        if (names[i][0])
            add_layer_tensors(p, &net->layers[i], "/optimizer/v", names[i], net->opt_v);
    free(names);
    hsize_t rng_dims[2] = {3, 4};
    add_entry(p, ELEM_U64, s->rng, 2, rng_dims, "/rng");
    dims[0] = n_train;
    add_entry(p, ELEM_I32, order, 1, dims, "/order");
    dims[0] = 4;
    add_entry(p, ELEM_F64, s->partial, 1, dims, "/partial");
    hsize_t history_dims[2] = {(hsize_t)s->n_history, HP_HISTORY_COLS};
    add_entry(p, ELEM_F64, s->history, 2, history_dims, "/history");
    hsize_t confusion_dims[3] = {(hsize_t)s->n_history, HP_NUM_CLASSES, HP_NUM_CLASSES};
    add_entry(p, ELEM_I64, s->confusion, 3, confusion_dims, "/confusion");
}

static void flat_state_alloc_history(flat_state *s, int n_history)
{
    s->n_history = n_history;
    s->history = hp_xcalloc((size_t)n_history * HP_HISTORY_COLS + 1, sizeof(double));
    s->confusion = hp_xcalloc((size_t)n_history * HP_NUM_CLASSES * HP_NUM_CLASSES + 1, sizeof(int64_t));
}

static void flat_state_release(flat_state *s)
{
    free(s->history);
    free(s->confusion);
    s->history = NULL;
    s->confusion = NULL;
}

static void config_to_values(const hp_config *c, double *values, size_t *n)
{
    const hp_key *keys = hp_config_keys(n);
    if (*n > MAX_KEYS)
        HP_PANIC("%zu hyperparameters, checkpoint.c holds %d", *n, MAX_KEYS);
    for (size_t i = 0; i < *n; i++)
        values[i] = hp_config_get(c, &keys[i]);
}

static void trainer_to_flat(const hp_trainer *t, int trial, flat_state *s)
{
    memset(s, 0, sizeof *s);
    config_to_values(&t->config, s->config_values, &s->n_keys);
    memcpy(s->rng[0], t->shuffle_rng.s, sizeof s->rng[0]);
    memcpy(s->rng[1], t->dropout_rng.s, sizeof s->rng[1]);
    memcpy(s->rng[2], t->augment_rng.s, sizeof s->rng[2]);
    s->partial[0] = t->part_loss_sum;
    s->partial[1] = (double)t->part_correct;
    s->partial[2] = (double)t->part_seen;
    s->partial[3] = t->part_seconds;
    flat_state_alloc_history(s, t->n_history);
    for (int e = 0; e < t->n_history; e++) {
        const hp_epoch_metrics *m = &t->history[e];
        double *row = s->history + (size_t)e * HP_HISTORY_COLS;
        row[0] = m->epoch;
        hp_epoch_metrics_to_row(m, row + 1);
        memcpy(s->confusion + (size_t)e * HP_NUM_CLASSES * HP_NUM_CLASSES, m->confusion,
               sizeof m->confusion);
    }
    s->counters[0] = t->epoch;
    s->counters[1] = t->step;
    s->counters[2] = t->batch_in_epoch;
    s->counters[3] = trial;
    s->counters[4] = t->train->n;
}

/* zlib's crc32 takes uInt lengths: feed large buffers in pieces. */
static uint32_t crc_update(uint32_t crc, const void *data, size_t n)
{
    const Bytef *bytes = data;
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, bytes, piece);
        bytes += piece;
        n -= piece;
    }
    return crc;
}

static uint32_t counters_crc(uint32_t crc, const int64_t counters[N_COUNTERS])
{
    return crc_update(crc, counters, N_COUNTERS * sizeof(int64_t));
}

/* -------------------------------------------------------------- saving -- */

static char *config_yaml(const hp_config *c)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        HP_PANIC("open_memstream failed");
    hp_config_write_yaml(f, c, "");
    if (fclose(f) != 0)
        HP_PANIC("open_memstream: cannot finish the text");
    return text;
}

/* A list-of-strings attribute on an existing dataset. */
static int label_dataset(hid_t file, const char *dataset, const char *attr,
                         const char *const *strings, size_t n)
{
    hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
    if (d < 0)
        return h5u_error_at(__FILE__, __LINE__, "opening %s", dataset);
    int rc = h5u_write_attr_strings(d, attr, strings, n);
    H5U_CLOSE(d, dataset, &rc);
    return rc;
}

/* Attributes kind and index on a new group prefix/<layer>. */
static int write_layer_group(hid_t parent, const char *layer, const hp_layer *L, int index,
                             int describe)
{
    hid_t g = h5u_create_group(parent, layer);
    if (g < 0)
        return -1;
    int rc = 0;
    if (describe && (h5u_write_attr_string(g, "kind", hp_layer_kind_name(L->kind)) != 0 ||
                     h5u_write_attr_int64(g, "index", index) != 0))
        rc = -1;
    H5U_CLOSE(g, layer, &rc);
    return rc;
}

/* /model, /optimizer, /optimizer/m, /optimizer/v and a group per layer in
 * each, created in network order before any dataset goes into them. */
static int write_groups(hid_t file, const hp_net *net)
{
    char (*names)[32] = hp_xcalloc((size_t)net->n_layers + 1, sizeof *names);
    const char **listed = hp_xcalloc((size_t)net->n_layers + 1, sizeof *listed);
    layer_names(net, names);
    size_t n_listed = 0;
    for (int i = 0; i < net->n_layers; i++)
        if (names[i][0])
            listed[n_listed++] = names[i];
    char optimizer[64];
    const hp_key *key = hp_config_find_key("optimizer");
    hp_config_format_value(key, hp_config_get(&net->config, key), optimizer, sizeof optimizer);

    int rc = 0;
    hid_t model = -1, opt = -1, moment[2] = {-1, -1};
    if ((model = h5u_create_group(file, "model")) < 0 ||
        h5u_write_attr_strings(model, "layers", listed, n_listed) != 0 ||
        (opt = h5u_create_group(file, "optimizer")) < 0 ||
        h5u_write_attr_string(opt, "optimizer", optimizer) != 0 ||
        h5u_write_attr_string(opt, "buffers", optimizer_buffers) != 0 ||
        (moment[0] = h5u_create_group(opt, "m")) < 0 || (moment[1] = h5u_create_group(opt, "v")) < 0)
        rc = -1;
    for (int i = 0; i < net->n_layers && rc == 0; i++) {
        if (!names[i][0])
            continue;
        if (write_layer_group(model, names[i], &net->layers[i], i, 1) != 0 ||
            write_layer_group(moment[0], names[i], &net->layers[i], i, 0) != 0 ||
            write_layer_group(moment[1], names[i], &net->layers[i], i, 0) != 0)
            rc = -1;
    }
    H5U_CLOSE(moment[1], "/optimizer/v", &rc);
    H5U_CLOSE(moment[0], "/optimizer/m", &rc);
    H5U_CLOSE(opt, "/optimizer", &rc);
    H5U_CLOSE(model, "/model", &rc);
    free(listed);
    free(names);
    return rc;
}

/* Class names for /confusion: the data file's when it has them. */
static void class_names_of(const hp_trainer *t, const char *names[HP_NUM_CLASSES])
{
    const hp_dataset *ds = t->val && t->val->class_names[0][0] ? t->val : t->train;
    for (int c = 0; c < HP_NUM_CLASSES; c++)
        names[c] = ds && ds->class_names[c][0] ? ds->class_names[c] : cifar10_class_names[c];
}

static int write_file_contents(hid_t file, const hp_trainer *t, const payload *p,
                               const flat_state *s, uint32_t crc)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    const char **key_names = hp_xcalloc(n_keys + 1, sizeof *key_names);
    for (size_t i = 0; i < n_keys; i++)
        key_names[i] = keys[i].name;
    const char **listed = hp_xcalloc(p->n + 1, sizeof *listed);
    for (size_t i = 0; i < p->n; i++)
        listed[i] = p->entries[i].name;
    const char *class_names[HP_NUM_CLASSES];
    class_names_of(t, class_names);
    const char *history_names[HP_HISTORY_COLS];
    history_columns(history_names);
    char architecture[2048];
    hp_net_describe(&t->net, architecture, sizeof architecture);
    char *yaml = config_yaml(&t->config);

    int rc = 0;
    if (h5u_write_attr_string(file, "format", HP_CHECKPOINT_FORMAT) != 0 ||
        h5u_write_attr_int64(file, "format_version", HP_CHECKPOINT_VERSION) != 0)
        rc = -1;
    for (int c = 0; c < N_COUNTERS && rc == 0; c++)
        rc = h5u_write_attr_int64(file, counter_names[c], s->counters[c]);
    if (rc == 0 &&
        (h5u_write_attr_string(file, "hptune_version", hp_build_version()) != 0 ||
         h5u_write_attr_string(file, "build_flags", hp_build_flags()) != 0 ||
         h5u_write_attr_string(file, "git_revision", hp_build_revision()) != 0 ||
         h5u_write_attr_string(file, "architecture", architecture) != 0 ||
         write_groups(file, &t->net) != 0 || h5u_write_string(file, "config", yaml) != 0))
        rc = -1;
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        const entry *e = &p->entries[i];
        rc = h5u_write_dataset(file, e->name, elem_type(e->kind), e->rank, e->dims, e->data);
    }
    if (rc == 0 &&
        (label_dataset(file, "/config_values", "keys", key_names, n_keys) != 0 ||
         label_dataset(file, "/rng", "streams", rng_streams, 3) != 0 ||
         label_dataset(file, "/partial", "columns", partial_columns, 4) != 0 ||
         label_dataset(file, "/history", "columns", history_names, HP_HISTORY_COLS) != 0 ||
         label_dataset(file, "/confusion", "class_names", class_names, HP_NUM_CLASSES) != 0 ||
         h5u_write_attr_strings(file, "checksum_datasets", listed, p->n) != 0 ||
         h5u_write_attr_uint32(file, "crc32", crc) != 0 ||
         h5u_write_attr_string(file, "checksum", checksum_description) != 0))
        rc = -1;
    free(yaml);
    free(listed);
    free(key_names);
    return rc;
}

int hp_checkpoint_save(const hp_trainer *t, int trial, const char *path)
{
    h5u_quiet();
    flat_state s;
    trainer_to_flat(t, trial, &s);
    payload p;
    /* Saving only reads through these pointers. */
    build_payload(&p, (hp_net *)&t->net, t->order, (size_t)t->train->n, &s);
    uint32_t crc = 0;
    for (size_t i = 0; i < p.n; i++)
        crc = crc_update(crc, p.entries[i].data,
                         entry_count(&p.entries[i]) * elem_sizes[p.entries[i].kind]);
    crc = counters_crc(crc, s.counters);

    int rc = -1;
    hid_t file = h5u_file_create(path);
    if (file >= 0) {
        if (write_file_contents(file, t, &p, &s, crc) == 0) {
            rc = h5u_file_commit(file, path);
        } else {
            h5u_file_discard(file);
        }
    }
    if (rc)
        hp_error_prefix("%s: cannot write the trial checkpoint", path);
    free(p.entries);
    flat_state_release(&s);
    return rc;
}

/* ------------------------------------------------------------- loading -- */

/* A dataset as read from the file. */
typedef struct stored {
    char *name;     /* owned */
    elem_kind kind;
    int rank;
    hsize_t dims[MAX_RANK];
    size_t count;
    void *data;     /* count elements of kind, owned */
} stored;

typedef struct stored_file {
    stored *sets;      /* (n), owned */
    size_t n;
    int64_t counters[N_COUNTERS];
    char **key_names;  /* (n_key_names) attr keys of /config_values, owned */
    size_t n_key_names;
} stored_file;

static void stored_file_release(stored_file *sf)
{
    for (size_t i = 0; i < sf->n; i++) {
        free(sf->sets[i].name);
        free(sf->sets[i].data);
    }
    free(sf->sets);
    h5u_free_strings(sf->key_names, sf->n_key_names);
    memset(sf, 0, sizeof *sf);
}

static const stored *find_stored(const stored_file *sf, const char *name)
{
    for (size_t i = 0; i < sf->n; i++)
        if (strcmp(sf->sets[i].name, name) == 0)
            return &sf->sets[i];
    return NULL;
}

static void format_dims(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", d ? ", " : "",
                                 (unsigned long long)dims[d]);
    if (used < size)
        snprintf(buf + used, size - used, "%s)", rank == 1 ? "," : "");
}

/* Which of our element kinds an HDF5 type is; -1 if none. */
static int kind_of_type(hid_t type)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_FLOAT:
        return size == 4 ? ELEM_F32 : size == 8 ? ELEM_F64 : -1;
    case H5T_INTEGER:
        if (H5Tget_sign(type) == H5T_SGN_2)
            return size == 4 ? ELEM_I32 : size == 8 ? ELEM_I64 : -1;
        return size == 8 ? ELEM_U64 : -1;
    default:
        return -1;
    }
}

/* Read one dataset whole, in its own element type. */
static int read_stored(hid_t file, const char *name, stored *s)
{
    memset(s, 0, sizeof *s);
    s->name = hp_xstrdup(name);
    int rc = 0;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t type = ds < 0 ? -1 : H5Dget_type(ds);
    hid_t space = ds < 0 ? -1 : H5Dget_space(ds);
    int kind = type < 0 ? -1 : kind_of_type(type);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (ds < 0 || type < 0 || space < 0 || rank < 0) {
        rc = h5u_error_at(__FILE__, __LINE__, "reading %s", name);
    } else if (kind < 0 || rank > MAX_RANK) {
        rc = HP_ERR("%s holds elements of an unexpected type or rank %d", name, rank);
    } else {
        s->kind = (elem_kind)kind;
        s->rank = rank;
        H5Sget_simple_extent_dims(space, s->dims, NULL);
        s->count = 1;
        for (int d = 0; d < rank; d++)
            s->count *= (size_t)s->dims[d];
        s->data = hp_xcalloc(s->count + 1, elem_sizes[kind]);
        if (s->count > 0 &&
            H5Dread(ds, elem_type(s->kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, s->data) < 0)
            rc = h5u_error_at(__FILE__, __LINE__, "reading %s", name);
    }
    H5U_CLOSE(space, name, &rc);
    H5U_CLOSE(type, name, &rc);
    H5U_CLOSE(ds, name, &rc);
    return rc;
}

/* Open, check format and version, read every dataset the checksum covers
 * and verify it.  On success sf holds them; on failure it is empty. */
static int read_checkpoint(const char *path, stored_file *sf)
{
    memset(sf, 0, sizeof *sf);
    h5u_quiet();
    if (access(path, R_OK) != 0)
        return HP_ERR("%s: the checkpoint does not exist or cannot be read", path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        H5U_FAIL("cannot open as HDF5");
        hp_error_prefix("%s: corrupt or truncated checkpoint; delete it to retrain this trial from "
                        "its previous checkpoint", path);
        return -1;
    }
    int rc = 0;
    char format[64];
    int64_t version = 0;
    char **names = NULL;
    size_t n_names = 0;
    uint32_t stored_crc = 0;
    if (h5u_read_attr_string(file, "format", format, sizeof format) != 0 ||
        strcmp(format, HP_CHECKPOINT_FORMAT) != 0) {
        rc = HP_ERR("%s: not an hptune trial checkpoint (no format \"%s\" attribute)", path,
                    HP_CHECKPOINT_FORMAT);
        goto close;
    }
    if (h5u_read_attr_int64(file, "format_version", &version) != 0) {
        hp_error_prefix("%s: corrupt checkpoint", path);
        rc = -1;
        goto close;
    }
    if (version == 1) {
        rc = HP_ERR("%s: checkpoint format version 1 was written by an hptune build from before "
                    "checkpoint format 2; this hptune (%s, %s) reads version %d only: retrain the "
                    "trial from scratch (delete the file, or start a new study), or resume it with "
                    "the hptune build that wrote it", path, hp_build_version(),
                    hp_build_revision(), HP_CHECKPOINT_VERSION);
        goto close;
    }
    if (version != HP_CHECKPOINT_VERSION) {
        rc = HP_ERR("%s: checkpoint format version %lld is not supported by this hptune (%s, reads "
                    "version %d); use the hptune build that wrote it, or retrain the trial from "
                    "scratch", path, (long long)version, hp_build_version(), HP_CHECKPOINT_VERSION);
        goto close;
    }
    if (h5u_read_attr_strings(file, "checksum_datasets", &names, &n_names) != 0 ||
        h5u_read_attr_uint32(file, "crc32", &stored_crc) != 0)
        goto corrupt;
    for (int c = 0; c < N_COUNTERS; c++)
        if (h5u_read_attr_int64(file, counter_names[c], &sf->counters[c]) != 0)
            goto corrupt;
    sf->sets = hp_xcalloc(n_names + 1, sizeof *sf->sets);
    uint32_t crc = 0;
    for (size_t i = 0; i < n_names; i++) {
        sf->n = i + 1;
        if (read_stored(file, names[i], &sf->sets[i]) != 0)
            goto corrupt;
        crc = crc_update(crc, sf->sets[i].data, sf->sets[i].count * elem_sizes[sf->sets[i].kind]);
    }
    crc = counters_crc(crc, sf->counters);
    if (crc != stored_crc) {
        rc = HP_ERR("%s: checksum mismatch (crc32 stored 0x%08" PRIx32 ", computed 0x%08" PRIx32
                    "): the checkpoint is corrupt; delete it to retrain this trial from its "
                    "previous checkpoint (or from scratch)", path, stored_crc, crc);
        goto close;
    }
    /* What the values of /config_values mean (outside the checksum: names, not values). */
    hid_t values = H5Dopen2(file, "/config_values", H5P_DEFAULT);
    if (values < 0) {
        h5u_error_at(__FILE__, __LINE__, "opening /config_values");
        goto corrupt;
    }
    rc = h5u_read_attr_strings(values, "keys", &sf->key_names, &sf->n_key_names);
    H5U_CLOSE(values, "/config_values", &rc);
    if (rc)
        goto corrupt;
    goto close;
corrupt:
    hp_error_prefix("%s: corrupt checkpoint", path);
    rc = -1;
close:
    H5U_CLOSE(file, path, &rc);
    h5u_free_strings(names, n_names);
    if (rc)
        stored_file_release(sf);
    return rc;
}

/* The stored dataset that must match e (name, type, shape); NULL with a
 * message otherwise. */
static const stored *match_entry(const stored_file *sf, const entry *e, const char *path)
{
    const stored *s = find_stored(sf, e->name);
    if (!s) {
        HP_ERR("%s: the checkpoint has no dataset %s, which this network needs; it was written "
               "for another network", path, e->name);
        return NULL;
    }
    int same_shape = s->rank == e->rank;
    for (int d = 0; d < e->rank && same_shape; d++)
        same_shape = s->dims[d] == e->dims[d];
    if (s->kind != e->kind || !same_shape) {
        char have[96], want[96];
        format_dims(have, sizeof have, s->rank, s->dims);
        format_dims(want, sizeof want, e->rank, e->dims);
        HP_ERR("%s: %s is %s %s in the checkpoint, the network needs %s %s; it was written for "
               "another network", path, e->name, elem_names[s->kind], have, elem_names[e->kind],
               want);
        return NULL;
    }
    return s;
}

/* /config_values must hold this hptune's hyperparameters, in its order. */
static int check_config_keys(const char *path, const stored_file *sf, const double **values)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    const stored *s = find_stored(sf, "/config_values");
    int same = s && s->kind == ELEM_F64 && s->rank == 1 && s->count == n_keys &&
               sf->n_key_names == n_keys;
    size_t first_difference = 0;
    while (same && first_difference < n_keys &&
           strcmp(sf->key_names[first_difference], keys[first_difference].name) == 0)
        first_difference++;
    if (!same || first_difference < n_keys) {
        if (same)
            return HP_ERR("%s: the checkpoint was written by an hptune with other hyperparameters "
                          "(key %zu is '%s' there, '%s' here); it cannot be resumed by this "
                          "version", path, first_difference, sf->key_names[first_difference],
                          keys[first_difference].name);
        return HP_ERR("%s: the checkpoint was written by an hptune with other hyperparameters "
                      "(%zu of them, this hptune has %zu); it cannot be resumed by this version",
                      path, sf->n_key_names, n_keys);
    }
    *values = s->data;
    return 0;
}

/* Read, verify, check the hyperparameter table. */
static int open_verified(const char *path, stored_file *sf, const double **config_values)
{
    if (read_checkpoint(path, sf) != 0)
        return -1;
    if (check_config_keys(path, sf, config_values) != 0) {
        stored_file_release(sf);
        return -1;
    }
    return 0;
}

int hp_checkpoint_read_config(const char *path, hp_config *config, int *epoch, int *batch_in_epoch)
{
    stored_file sf;
    const double *values;
    if (open_verified(path, &sf, &values) != 0)
        return -1;
    int rc = 0;
    size_t n;
    const hp_key *keys = hp_config_keys(&n);
    hp_config_defaults(config);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (hp_config_set(config, &keys[i], values[i]) != 0) {
            hp_error_prefix("%s: invalid configuration in checkpoint", path);
            rc = -1;
        }
    if (rc == 0) {
        *epoch = (int)sf.counters[0];
        if (batch_in_epoch)
            *batch_in_epoch = (int)sf.counters[2];
    }
    stored_file_release(&sf);
    return rc;
}

int hp_checkpoint_read_confusion(const char *path, int epoch, int64_t confusion[HP_NUM_CLASSES * HP_NUM_CLASSES])
{
    stored_file sf;
    const double *values;
    if (open_verified(path, &sf, &values) != 0)
        return -1;
    const stored *c = find_stored(&sf, "/confusion");
    int rc = 0;
    if (!c || c->kind != ELEM_I64 || c->rank != 3 || c->dims[1] != HP_NUM_CLASSES || c->dims[2] != HP_NUM_CLASSES)
        rc = HP_ERR("%s: no (epochs, %d, %d) /confusion dataset", path, HP_NUM_CLASSES, HP_NUM_CLASSES);
    else if (epoch < 1 || (hsize_t)epoch > c->dims[0])
        rc = HP_ERR("%s: holds epochs 1..%llu, not epoch %d", path, (unsigned long long)c->dims[0], epoch);
    else
        memcpy(confusion, (const int64_t *)c->data + (size_t)(epoch - 1) * HP_NUM_CLASSES * HP_NUM_CLASSES,
               sizeof(int64_t) * HP_NUM_CLASSES * HP_NUM_CLASSES);
    stored_file_release(&sf);
    return rc;
}

/* Does the file's list of datasets equal the network's, in order? */
static int check_layout(const char *path, const stored_file *sf, const payload *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (!match_entry(sf, &p->entries[i], path))
            return -1;
    if (sf->n != p->n)
        return HP_ERR("%s: the checkpoint has %zu datasets, the network and data need %zu; it was "
                      "written for another network", path, sf->n, p->n);
    return 0;
}

int hp_checkpoint_load(hp_trainer *t, const char *path)
{
    stored_file sf;
    const double *values;
    if (open_verified(path, &sf, &values) != 0)
        return -1;
    int rc = -1;
    flat_state s;
    memset(&s, 0, sizeof s);
    payload p = {0};
    double expected[MAX_KEYS];
    size_t n_keys;
    config_to_values(&t->config, expected, &n_keys);
    if (memcmp(expected, values, n_keys * sizeof(double)) != 0) {
        HP_ERR("%s: the checkpoint belongs to another configuration", path);
        goto out;
    }
    const stored *order = find_stored(&sf, "/order"), *history = find_stored(&sf, "/history");
    if (order && order->rank == 1 && order->count != (size_t)t->train->n) {
        HP_ERR("%s: the checkpoint was trained on %zu images, this data has %d; use the same data "
               "file and shards", path, order->count, t->train->n);
        goto out;
    }
    if (!history || history->rank != 2 || history->dims[0] > (hsize_t)1 << 24) {
        HP_ERR("%s: corrupt checkpoint: /history is missing or not (epochs, %d)", path,
               HP_HISTORY_COLS);
        goto out;
    }
    /* Restored into the trainer's own arrays (network, order) and into s;
     * nothing is copied before every check has passed. */
    flat_state_alloc_history(&s, (int)history->dims[0]);
    hp_config_keys(&s.n_keys);
    build_payload(&p, &t->net, t->order, (size_t)t->train->n, &s);
    if (check_layout(path, &sf, &p) != 0)
        goto out;
    for (size_t i = 0; i < p.n; i++) {
        const stored *st = find_stored(&sf, p.entries[i].name);
        memcpy(p.entries[i].data, st->data, st->count * elem_sizes[st->kind]);
    }
    memcpy(t->shuffle_rng.s, s.rng[0], sizeof s.rng[0]);
    memcpy(t->dropout_rng.s, s.rng[1], sizeof s.rng[1]);
    memcpy(t->augment_rng.s, s.rng[2], sizeof s.rng[2]);
    t->part_loss_sum = s.partial[0];
    t->part_correct = (int64_t)s.partial[1];
    t->part_seen = (int64_t)s.partial[2];
    t->part_seconds = s.partial[3];
    t->epoch = (int)sf.counters[0];
    t->step = sf.counters[1];
    t->batch_in_epoch = (int)sf.counters[2];
    free(t->history);
    t->n_history = s.n_history;
    t->history = hp_xcalloc((size_t)s.n_history + 1, sizeof *t->history);
    for (int e = 0; e < s.n_history; e++) {
        const double *row = s.history + (size_t)e * HP_HISTORY_COLS;
        hp_epoch_metrics *m = &t->history[e];
        m->epoch = (int)row[0];
        hp_epoch_metrics_from_row(m, row + 1);
        memcpy(m->confusion, s.confusion + (size_t)e * HP_NUM_CLASSES * HP_NUM_CLASSES,
               sizeof m->confusion);
    }
    rc = 0;
out:
    free(p.entries);
    flat_state_release(&s);
    stored_file_release(&sf);
    return rc;
}

int hp_checkpoint_load_weights(hp_trainer *t, const char *path)
{
    stored_file sf;
    const double *values;
    if (open_verified(path, &sf, &values) != 0)
        return -1;
    int rc = 0;
    flat_state s;
    memset(&s, 0, sizeof s);
    flat_state_alloc_history(&s, 0);
    payload p;
    build_payload(&p, &t->net, t->order, (size_t)t->train->n, &s);
    /* Only /model: weights and batch-norm statistics. */
    for (size_t i = 0; i < p.n && rc == 0; i++)
        if (strncmp(p.entries[i].name, "/model/", 7) == 0 && !match_entry(&sf, &p.entries[i], path))
            rc = -1;
    for (size_t i = 0; i < p.n && rc == 0; i++) {
        if (strncmp(p.entries[i].name, "/model/", 7) != 0)
            continue;
        const stored *st = find_stored(&sf, p.entries[i].name);
        memcpy(p.entries[i].data, st->data, st->count * elem_sizes[st->kind]);
    }
    free(p.entries);
    flat_state_release(&s);
    stored_file_release(&sf);
    return rc;
}
