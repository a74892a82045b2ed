/* checkpoint.c - save and restore a trainer (see checkpoint.h). */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "h5util.h"

/* The payload, in checksum order.  Buffers point into the trainer (save) or
 * into freshly allocated arrays (load). */
typedef struct payload {
    double config_values[64];
    size_t n_keys;
    const float *params, *opt_m, *opt_v, *bn_state;
    size_t n_params, n_bn_state;
    uint64_t rng[12];
    const int32_t *order;
    size_t n_train;
    double partial[4];
    const double *history;
    const int64_t *confusion;
    size_t n_history;
    int64_t counters[4]; /* epoch, step, batch_in_epoch, trial */
} payload;

static uint64_t payload_checksum(const payload *p)
{
    uint64_t h = HP_FNV_INIT;
    h = hp_fnv1a64(h, p->config_values, p->n_keys * sizeof(double));
    h = hp_fnv1a64(h, p->params, p->n_params * sizeof(float));
    h = hp_fnv1a64(h, p->opt_m, p->n_params * sizeof(float));
    h = hp_fnv1a64(h, p->opt_v, p->n_params * sizeof(float));
    h = hp_fnv1a64(h, p->bn_state, p->n_bn_state * sizeof(float));
    h = hp_fnv1a64(h, p->rng, sizeof p->rng);
    h = hp_fnv1a64(h, p->order, p->n_train * sizeof(int32_t));
    h = hp_fnv1a64(h, p->partial, sizeof p->partial);
    h = hp_fnv1a64(h, p->history, p->n_history * HP_HISTORY_COLS * sizeof(double));
    h = hp_fnv1a64(h, p->confusion, p->n_history * HP_NUM_CLASSES * HP_NUM_CLASSES * sizeof(int64_t));
    h = hp_fnv1a64(h, p->counters, sizeof p->counters);
    return h;
}

static void config_to_values(const hp_config *c, double *values, size_t *n)
{
    const hp_key *keys = hp_config_keys(n);
    for (size_t i = 0; i < *n; i++)
        values[i] = hp_config_get(c, &keys[i]);
}

static char *config_key_list(void)
{
    size_t n;
    const hp_key *keys = hp_config_keys(&n);
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(keys[i].name) + 1;
    char *s = hp_xcalloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        strcat(s, keys[i].name);
        if (i + 1 < n)
            strcat(s, ",");
    }
    return s;
}

static char *config_yaml(const hp_config *c)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        HP_PANIC("open_memstream failed");
    hp_config_write_yaml(f, c, "");
    fclose(f);
    return text;
}

static void history_rows(const hp_trainer *t, double *rows, int64_t *confusion)
{
    for (int e = 0; e < t->n_history; e++) {
        const hp_epoch_metrics *m = &t->history[e];
        double *r = rows + (size_t)e * HP_HISTORY_COLS;
        r[0] = m->epoch;
        hp_epoch_metrics_to_row(m, r + 1);
        memcpy(confusion + (size_t)e * 100, m->confusion, sizeof m->confusion);
    }
}

int hp_checkpoint_save(const hp_trainer *t, int trial, const char *path)
{
    const hp_net *net = &t->net;
    payload p = {0};
    config_to_values(&t->config, p.config_values, &p.n_keys);
    p.params = net->params;
    p.opt_m = net->opt_m;
    p.opt_v = net->opt_v;
    p.n_params = net->n_params;
    p.bn_state = net->bn_state;
    p.n_bn_state = net->n_bn_state;
    memcpy(p.rng, t->shuffle_rng.s, 32);
    memcpy(p.rng + 4, t->dropout_rng.s, 32);
    memcpy(p.rng + 8, t->augment_rng.s, 32);
    p.order = t->order;
    p.n_train = (size_t)t->train->n;
    p.partial[0] = t->part_loss_sum;
    p.partial[1] = (double)t->part_correct;
    p.partial[2] = (double)t->part_seen;
    p.partial[3] = t->part_seconds;
    p.n_history = (size_t)t->n_history;
    double *rows = hp_xcalloc(p.n_history * HP_HISTORY_COLS + 1, sizeof(double));
    int64_t *confusion = hp_xcalloc(p.n_history * 100 + 1, sizeof(int64_t));
    history_rows(t, rows, confusion);
    p.history = rows;
    p.confusion = confusion;
    p.counters[0] = t->epoch;
    p.counters[1] = t->step;
    p.counters[2] = t->batch_in_epoch;
    p.counters[3] = trial;

    h5u_quiet();
    char *temp = h5u_temp_name(path);
    char *keys = config_key_list();
    char *yaml = config_yaml(&t->config);
    int rc = -1;
    hid_t f = H5Fcreate(temp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        H5U_FAIL("cannot create the file");
        goto out;
    }
    hid_t root = f;
    if (h5u_write_attr_string(root, "format", HP_CHECKPOINT_FORMAT) ||
        h5u_write_attr_int64(root, "format_version", HP_CHECKPOINT_VERSION) ||
        h5u_write_attr_int64(root, "trial", trial) || h5u_write_attr_int64(root, "epoch", t->epoch) ||
        h5u_write_attr_int64(root, "step", t->step) ||
        h5u_write_attr_int64(root, "batch_in_epoch", t->batch_in_epoch) ||
        h5u_write_attr_int64(root, "n_train", t->train->n) ||
        h5u_write_string(root, "config", yaml) ||
        h5u_write_array(root, "config_values", H5T_NATIVE_DOUBLE, p.config_values, p.n_keys) ||
        h5u_write_attr_string(root, "config_keys", keys) ||
        h5u_write_array(root, "params", H5T_NATIVE_FLOAT, p.params, p.n_params) ||
        h5u_write_array(root, "opt_m", H5T_NATIVE_FLOAT, p.opt_m, p.n_params) ||
        h5u_write_array(root, "opt_v", H5T_NATIVE_FLOAT, p.opt_v, p.n_params) ||
        h5u_write_array(root, "bn_state", H5T_NATIVE_FLOAT, p.bn_state, p.n_bn_state) ||
        h5u_write_array(root, "rng", H5T_NATIVE_UINT64, p.rng, 12) ||
        h5u_write_array(root, "order", H5T_NATIVE_INT32, p.order, p.n_train) ||
        h5u_write_array(root, "partial", H5T_NATIVE_DOUBLE, p.partial, 4) ||
        h5u_write_array(root, "history", H5T_NATIVE_DOUBLE, rows, p.n_history * HP_HISTORY_COLS) ||
        h5u_write_array(root, "confusion", H5T_NATIVE_INT64, confusion, p.n_history * 100) ||
        h5u_write_attr_int64(root, "checksum", (int64_t)payload_checksum(&p)))
        goto close;
    rc = 0;
close:
    if (H5Fclose(f) < 0 && rc == 0)
        rc = H5U_FAIL("cannot close the file");
out:
    if (rc == 0)
        rc = h5u_commit_temp(temp, path);
    else
        unlink(temp);
    if (rc)
        hp_error_prefix("%s: cannot write the trial checkpoint", path);
    free(temp);
    free(keys);
    free(yaml);
    free(rows);
    free(confusion);
    return rc;
}

/* Open, check the format and version; returns the file id or -1. */
static hid_t open_checkpoint(const char *path)
{
    h5u_quiet();
    if (access(path, R_OK) != 0)
        return HP_ERR("%s: the checkpoint does not exist or cannot be read", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5U_FAIL("cannot open as HDF5");
        hp_error_prefix("%s: corrupt or truncated checkpoint; delete it to retrain this trial from "
                        "its previous checkpoint", path);
        return -1;
    }
    char format[64];
    int64_t version = 0;
    if (h5u_read_attr_string(f, "format", format, sizeof format) != 0 || strcmp(format, HP_CHECKPOINT_FORMAT) != 0) {
        H5Fclose(f);
        return HP_ERR("%s: not an hptune trial checkpoint", path);
    }
    if (h5u_read_attr_int64(f, "format_version", &version) != 0 || version != HP_CHECKPOINT_VERSION) {
        H5Fclose(f);
        return HP_ERR("%s: checkpoint format version %lld is not supported by this hptune (expects %d)",
                      path, (long long)version, HP_CHECKPOINT_VERSION);
    }
    return f;
}

/* Read the whole payload and verify the checksum.  Arrays are allocated
 * (free with payload_free). */
typedef struct loaded {
    payload p;
    float *params, *opt_m, *opt_v, *bn_state;
    int32_t *order;
    double *history;
    int64_t *confusion;
} loaded;

static void loaded_free(loaded *l)
{
    free(l->params);
    free(l->opt_m);
    free(l->opt_v);
    free(l->bn_state);
    free(l->order);
    free(l->history);
    free(l->confusion);
}

static int read_payload(hid_t f, const char *path, loaded *l)
{
    memset(l, 0, sizeof *l);
    payload *p = &l->p;
    char keys[4096];
    char *expected_keys = config_key_list();
    int keys_ok = h5u_read_attr_string(f, "config_keys", keys, sizeof keys) == 0 &&
                  strcmp(keys, expected_keys) == 0;
    free(expected_keys);
    if (!keys_ok)
        return HP_ERR("%s: the checkpoint was written by an hptune with other hyperparameters; "
                      "it cannot be resumed by this version", path);
    hp_config_keys(&p->n_keys);
    long n_params = h5u_array_length(f, "params");
    long n_bn = h5u_array_length(f, "bn_state");
    long n_train = h5u_array_length(f, "order");
    long n_hist = h5u_array_length(f, "history");
    if (n_params < 0 || n_bn < 0 || n_train < 0 || n_hist < 0 || n_hist % HP_HISTORY_COLS)
        goto corrupt;
    p->n_params = (size_t)n_params;
    p->n_bn_state = (size_t)n_bn;
    p->n_train = (size_t)n_train;
    p->n_history = (size_t)n_hist / HP_HISTORY_COLS;
    l->params = hp_xalloc_floats(p->n_params);
    l->opt_m = hp_xalloc_floats(p->n_params);
    l->opt_v = hp_xalloc_floats(p->n_params);
    l->bn_state = hp_xalloc_floats(p->n_bn_state);
    l->order = hp_xcalloc(p->n_train + 1, sizeof(int32_t));
    l->history = hp_xcalloc(p->n_history * HP_HISTORY_COLS + 1, sizeof(double));
    l->confusion = hp_xcalloc(p->n_history * 100 + 1, sizeof(int64_t));
    p->params = l->params;
    p->opt_m = l->opt_m;
    p->opt_v = l->opt_v;
    p->bn_state = l->bn_state;
    p->order = l->order;
    p->history = l->history;
    p->confusion = l->confusion;
    int64_t checksum = 0;
    if (h5u_read_array(f, "config_values", H5T_NATIVE_DOUBLE, p->config_values, p->n_keys) ||
        h5u_read_array(f, "params", H5T_NATIVE_FLOAT, l->params, p->n_params) ||
        h5u_read_array(f, "opt_m", H5T_NATIVE_FLOAT, l->opt_m, p->n_params) ||
        h5u_read_array(f, "opt_v", H5T_NATIVE_FLOAT, l->opt_v, p->n_params) ||
        h5u_read_array(f, "bn_state", H5T_NATIVE_FLOAT, l->bn_state, p->n_bn_state) ||
        h5u_read_array(f, "rng", H5T_NATIVE_UINT64, p->rng, 12) ||
        h5u_read_array(f, "order", H5T_NATIVE_INT32, l->order, p->n_train) ||
        h5u_read_array(f, "partial", H5T_NATIVE_DOUBLE, p->partial, 4) ||
        h5u_read_array(f, "history", H5T_NATIVE_DOUBLE, l->history, p->n_history * HP_HISTORY_COLS) ||
        h5u_read_array(f, "confusion", H5T_NATIVE_INT64, l->confusion, p->n_history * 100) ||
        h5u_read_attr_int64(f, "epoch", &p->counters[0]) ||
        h5u_read_attr_int64(f, "step", &p->counters[1]) ||
        h5u_read_attr_int64(f, "batch_in_epoch", &p->counters[2]) ||
        h5u_read_attr_int64(f, "trial", &p->counters[3]) ||
        h5u_read_attr_int64(f, "checksum", &checksum))
        goto corrupt;
    if ((uint64_t)checksum != payload_checksum(p))
        return HP_ERR("%s: checksum mismatch: the checkpoint is corrupt; delete it to retrain this "
                      "trial from its previous checkpoint (or from scratch)", path);
    return 0;
corrupt:
    hp_error_prefix("%s: corrupt checkpoint", path);
    return -1;
}

/* Open, read everything, verify, close.  l is valid for loaded_free either way. */
static int load_checkpoint(const char *path, loaded *l)
{
    memset(l, 0, sizeof *l);
    hid_t f = open_checkpoint(path);
    if (f < 0)
        return -1;
    int rc = read_payload(f, path, l);
    H5Fclose(f);
    return rc;
}

int hp_checkpoint_read_config(const char *path, hp_config *config, int *epoch, int *batch_in_epoch)
{
    loaded l;
    int rc = load_checkpoint(path, &l);
    if (rc == 0) {
        size_t n;
        const hp_key *keys = hp_config_keys(&n);
        hp_config_defaults(config);
        for (size_t i = 0; i < n && rc == 0; i++)
            if (hp_config_set(config, &keys[i], l.p.config_values[i]) != 0) {
                hp_error_prefix("%s: invalid configuration in checkpoint", path);
                rc = -1;
            }
        *epoch = (int)l.p.counters[0];
        if (batch_in_epoch)
            *batch_in_epoch = (int)l.p.counters[2];
    }
    loaded_free(&l);
    return rc;
}

int hp_checkpoint_load(hp_trainer *t, const char *path)
{
    loaded l;
    int rc = load_checkpoint(path, &l);
    if (rc != 0)
        goto out;
    hp_net *net = &t->net;
    double expected[64];
    size_t n_keys;
    config_to_values(&t->config, expected, &n_keys);
    if (memcmp(expected, l.p.config_values, n_keys * sizeof(double)) != 0) {
        rc = HP_ERR("%s: the checkpoint belongs to another configuration", path);
        goto out;
    }
    if (l.p.n_params != net->n_params || l.p.n_bn_state != net->n_bn_state) {
        rc = HP_ERR("%s: the checkpoint has %zu parameters, the network %zu", path, l.p.n_params,
                    net->n_params);
        goto out;
    }
    if (l.p.n_train != (size_t)t->train->n) {
        rc = HP_ERR("%s: the checkpoint was trained on %zu images, this data has %d; use the "
                    "same data file and shards", path, l.p.n_train, t->train->n);
        goto out;
    }
    memcpy(net->params, l.params, net->n_params * sizeof(float));
    memcpy(net->opt_m, l.opt_m, net->n_params * sizeof(float));
    memcpy(net->opt_v, l.opt_v, net->n_params * sizeof(float));
    memcpy(net->bn_state, l.bn_state, net->n_bn_state * sizeof(float));
    memcpy(t->shuffle_rng.s, l.p.rng, 32);
    memcpy(t->dropout_rng.s, l.p.rng + 4, 32);
    memcpy(t->augment_rng.s, l.p.rng + 8, 32);
    memcpy(t->order, l.order, l.p.n_train * sizeof(int32_t));
    t->part_loss_sum = l.p.partial[0];
    t->part_correct = (int64_t)l.p.partial[1];
    t->part_seen = (int64_t)l.p.partial[2];
    t->part_seconds = l.p.partial[3];
    t->epoch = (int)l.p.counters[0];
    t->step = l.p.counters[1];
    t->batch_in_epoch = (int)l.p.counters[2];
    free(t->history);
    t->n_history = (int)l.p.n_history;
    t->history = hp_xcalloc(l.p.n_history + 1, sizeof *t->history);
    for (size_t e = 0; e < l.p.n_history; e++) {
        const double *r = l.history + e * HP_HISTORY_COLS;
        hp_epoch_metrics *m = &t->history[e];
        m->epoch = (int)r[0];
        hp_epoch_metrics_from_row(m, r + 1);
        memcpy(m->confusion, l.confusion + e * 100, sizeof m->confusion);
    }
out:
    loaded_free(&l);
    return rc;
}

int hp_checkpoint_load_weights(hp_trainer *t, const char *path)
{
    loaded l;
    int rc = load_checkpoint(path, &l);
    if (rc == 0 && (l.p.n_params != t->net.n_params || l.p.n_bn_state != t->net.n_bn_state))
        rc = HP_ERR("%s: the checkpoint does not match the network", path);
    if (rc == 0) {
        memcpy(t->net.params, l.params, t->net.n_params * sizeof(float));
        memcpy(t->net.bn_state, l.bn_state, t->net.n_bn_state * sizeof(float));
    }
    loaded_free(&l);
    return rc;
}
