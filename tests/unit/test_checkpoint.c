/* test_checkpoint.c - the checkpoint file as people and other programs see it.
 *
 * Everything here reads the file with HDF5 calls of its own, not through
 * checkpoint.c: the layout (groups in network order, dataset names, shapes
 * and types), what the shapes mean (a naive convolution and a dense product
 * computed from the file's /model tensors reproduce the network's own layer
 * outputs), and the checksum (recomputed here from the recipe documented in
 * checkpoint.h).  Then the refusals: a flipped byte in a dataset's stored
 * data, a changed counter, a tensor of the wrong shape (with a recomputed,
 * valid checksum), another configuration, a format version 1 file; and a
 * write that fails keeps the previous checkpoint and leaves no temporary file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint.h"
#include "error.h"
#include "testlib.h"
#include "trainer.h"

static char root[256];

static void make_dataset(hp_dataset *ds, int n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->images = hp_xcalloc((size_t)n, HP_IMAGE_BYTES);
    ds->labels = hp_xcalloc((size_t)n, 1);
    hp_rng r;
    hp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        ds->labels[i] = (uint8_t)(i % HP_NUM_CLASSES);
        for (int k = 0; k < HP_IMAGE_BYTES; k++)
            ds->images[(size_t)i * HP_IMAGE_BYTES + k] = (uint8_t)(ds->labels[i] * 20 + hp_rng_below(&r, 60));
    }
    for (int c = 0; c < 3; c++) {
        ds->mean[c] = 0.4f;
        ds->std[c] = 0.25f;
    }
}

/* 2 conv blocks of 4 and 8 filters (growth) with batch norm, one hidden
 * dense layer of 8: conv 3->4, bn, conv 4->8, bn, dense 8*8*8=512->8, dense 8->10. */
static void small_config(hp_config *c)
{
    hp_config_defaults(c);
    c->num_blocks = 2;
    c->filters = 4;
    c->filter_growth = 1;
    c->kernel_size = 3;
    c->head_layers = 1;
    c->head_units = 8;
    c->batch_size = 16;
    c->epochs = 3;
    c->batch_norm = 1;
    c->augment_flip = 0.5f;
    c->seed = 11;
}

typedef struct fixture {
    hp_dataset train, val;
    hp_config config;
    hp_trainer t; /* two epochs and three batches into training */
} fixture;

static int stop_after(void *ctx)
{
    int *calls = ctx;
    return --*calls <= 0;
}

static int fixture_init(fixture *fx)
{
    make_dataset(&fx->train, 72, 1);
    make_dataset(&fx->val, 20, 2);
    small_config(&fx->config);
    if (hp_trainer_init(&fx->t, &fx->config, &fx->train, &fx->val) != 0)
        return -1;
    hp_epoch_metrics m;
    static int calls;
    calls = 2 * (hp_trainer_steps_per_epoch(&fx->t) + 1) + 3;
    fx->t.should_stop = stop_after;
    fx->t.stop_ctx = &calls;
    while (hp_trainer_run_epoch(&fx->t, &m) == 0)
        ;
    fx->t.should_stop = NULL;
    return fx->t.epoch == 2 && fx->t.batch_in_epoch > 0 ? 0 : -1;
}

static void fixture_release(fixture *fx)
{
    hp_trainer_release(&fx->t);
    hp_dataset_release(&fx->train);
    hp_dataset_release(&fx->val);
}

static char *path_in_root(const char *name) { return hp_xasprintf("%s/%s", root, name); }

/* ----------------------------------------------- reading, independently -- */

/* Shape of a dataset (rank returned, -1 if missing) and its type class/size. */
static int dataset_shape(hid_t f, const char *name, hsize_t *dims, H5T_class_t *cls, size_t *size)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    int rank = H5Sget_simple_extent_dims(s, dims, NULL);
    *cls = H5Tget_class(t);
    *size = H5Tget_size(t);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return rank;
}

static void expect_dataset(hid_t f, const char *name, H5T_class_t cls, size_t size, int rank,
                           hsize_t d0, hsize_t d1, hsize_t d2, hsize_t d3)
{
    hsize_t want[4] = {d0, d1, d2, d3}, dims[8] = {0};
    H5T_class_t have_cls = H5T_NO_CLASS;
    size_t have_size = 0;
    int have_rank = dataset_shape(f, name, dims, &have_cls, &have_size);
    int same = have_rank == rank && have_cls == cls && have_size == size;
    for (int d = 0; d < rank && same; d++)
        same = dims[d] == want[d];
    EXPECT(same, "%s: rank %d (%llu, %llu, %llu, %llu), class %d size %zu; expected rank %d "
           "(%llu, %llu, %llu, %llu)", name, have_rank, (unsigned long long)dims[0],
           (unsigned long long)dims[1], (unsigned long long)dims[2], (unsigned long long)dims[3],
           (int)have_cls, have_size, rank, (unsigned long long)d0, (unsigned long long)d1,
           (unsigned long long)d2, (unsigned long long)d3);
}

static void *read_whole(hid_t f, const char *name, hid_t memtype, size_t elem)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    void *data = hp_xcalloc((size_t)n + 1, elem);
    if (n > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        free(data);
        data = NULL;
    }
    H5Sclose(s);
    H5Dclose(d);
    return data;
}

/* n strings of a variable-length string list attribute on object obj_name. */
static char **read_string_list(hid_t f, const char *obj_name, const char *attr, size_t *n)
{
    *n = 0;
    hid_t o = H5Oopen(f, obj_name, H5P_DEFAULT);
    if (o < 0)
        return NULL;
    hid_t a = H5Aopen(o, attr, H5P_DEFAULT);
    char **out = NULL;
    if (a >= 0) {
        hid_t s = H5Aget_space(a);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        hssize_t count = H5Sget_simple_extent_npoints(s);
        char **raw = hp_xcalloc((size_t)count + 1, sizeof *raw);
        if (H5Aread(a, t, raw) >= 0) {
            out = hp_xcalloc((size_t)count + 1, sizeof *out);
            for (hssize_t i = 0; i < count; i++) {
                out[i] = hp_xstrdup(raw[i]);
                H5free_memory(raw[i]);
            }
            *n = (size_t)count;
        }
        free(raw);
        H5Tclose(t);
        H5Sclose(s);
        H5Aclose(a);
    }
    H5Oclose(o);
    return out;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n && list; i++)
        free(list[i]);
    free(list);
}

static int64_t read_int_attr(hid_t f, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a >= 0) {
        H5Aread(a, H5T_NATIVE_INT64, &v);
        H5Aclose(a);
    }
    return v;
}

/* checkpoint.h's recipe: crc32 over each listed dataset's bytes (in the
 * file's own type, little-endian here), then the five int64 counters. */
static uint32_t recipe_crc(hid_t f)
{
    size_t n;
    char **names = read_string_list(f, "/", "checksum_datasets", &n);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t i = 0; i < n; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
        hid_t t = H5Dget_type(d), s = H5Dget_space(d);
        hid_t native = H5Tget_native_type(t, H5T_DIR_DEFAULT);
        size_t bytes = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
        unsigned char *data = hp_xcalloc(bytes + 1, 1);
        if (bytes)
            H5Dread(d, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        crc = crc32(crc, data, (uInt)bytes);
        free(data);
        H5Tclose(native);
        H5Tclose(t);
        H5Sclose(s);
        H5Dclose(d);
    }
    static const char *const counters[5] = {"epoch", "step", "batch_in_epoch", "trial", "n_train"};
    for (int c = 0; c < 5; c++) {
        int64_t v = read_int_attr(f, counters[c]);
        crc = crc32(crc, (const unsigned char *)&v, 8);
    }
    free_list(names, n);
    return (uint32_t)crc;
}

static uint32_t stored_crc(hid_t f)
{
    uint32_t v = 0;
    hid_t a = H5Aopen(f, "crc32", H5P_DEFAULT);
    if (a >= 0) {
        H5Aread(a, H5T_NATIVE_UINT32, &v);
        H5Aclose(a);
    }
    return v;
}

static void set_stored_crc(hid_t f, uint32_t crc)
{
    hid_t a = H5Aopen(f, "crc32", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &crc);
    H5Aclose(a);
}

/* ----------------------------------------------------------------- tests -- */

TEST(test_layout_is_readable_without_hptune)
{
    fixture fx;
    if (fixture_init(&fx) != 0) {
        EXPECT(0, "fixture: %s", hp_error_message());
        return;
    }
    char *path = path_in_root("layout.h5");
    EXPECT(hp_checkpoint_save(&fx.t, 7, path) == 0, "%s", hp_error_message());
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT(f >= 0, "cannot open %s", path);
    if (f < 0)
        goto out;

    /* Groups in network order (creation order), listed in /model's attribute too. */
    static const char *const layers[] = {"block1_conv", "block1_bn", "block2_conv", "block2_bn",
                                         "head1_dense", "output_dense"};
    size_t n;
    char **listed = read_string_list(f, "/model", "layers", &n);
    EXPECT(n == 6, "/model lists %zu layers", n);
    for (size_t i = 0; i < n && i < 6; i++)
        EXPECT(strcmp(listed[i], layers[i]) == 0, "layer %zu is %s, expected %s", i, listed[i],
               layers[i]);
    free_list(listed, n);
    hid_t model = H5Gopen2(f, "/model", H5P_DEFAULT);
    for (hsize_t i = 0; i < 6; i++) {
        char name[64] = "";
        H5Lget_name_by_idx(model, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, name, sizeof name,
                           H5P_DEFAULT);
        EXPECT(strcmp(name, layers[i]) == 0, "creation order %llu: %s, expected %s",
               (unsigned long long)i, name, layers[i]);
    }
    H5Gclose(model);

    /* Names, types, shapes. */
    const H5T_class_t F = H5T_FLOAT, I = H5T_INTEGER;
    expect_dataset(f, "/model/block1_conv/weight", F, 4, 4, 4, 3, 3, 3);
    expect_dataset(f, "/model/block1_conv/bias", F, 4, 1, 4, 0, 0, 0);
    expect_dataset(f, "/model/block1_bn/gamma", F, 4, 1, 4, 0, 0, 0);
    expect_dataset(f, "/model/block1_bn/beta", F, 4, 1, 4, 0, 0, 0);
    expect_dataset(f, "/model/block1_bn/running_mean", F, 4, 1, 4, 0, 0, 0);
    expect_dataset(f, "/model/block1_bn/running_var", F, 4, 1, 4, 0, 0, 0);
    expect_dataset(f, "/model/block2_conv/weight", F, 4, 4, 8, 4, 3, 3);
    expect_dataset(f, "/model/block2_bn/running_var", F, 4, 1, 8, 0, 0, 0);
    expect_dataset(f, "/model/head1_dense/weight", F, 4, 2, 8, 512, 0, 0);
    expect_dataset(f, "/model/head1_dense/bias", F, 4, 1, 8, 0, 0, 0);
    expect_dataset(f, "/model/output_dense/weight", F, 4, 2, 10, 8, 0, 0);
    expect_dataset(f, "/optimizer/m/block2_conv/weight", F, 4, 4, 8, 4, 3, 3);
    expect_dataset(f, "/optimizer/v/output_dense/bias", F, 4, 1, 10, 0, 0, 0);
    expect_dataset(f, "/optimizer/v/block1_bn/gamma", F, 4, 1, 4, 0, 0, 0);
    EXPECT(H5Lexists(f, "/optimizer/m/block1_bn", H5P_DEFAULT) > 0 &&
               H5Lexists(f, "/optimizer/m/block1_bn/running_mean", H5P_DEFAULT) == 0,
           "running statistics have no optimizer moments");
    expect_dataset(f, "/history", F, 8, 2, 2, HP_HISTORY_COLS, 0, 0);
    expect_dataset(f, "/confusion", I, 8, 3, 2, 10, 10, 0);
    expect_dataset(f, "/rng", I, 8, 2, 3, 4, 0, 0);
    expect_dataset(f, "/order", I, 4, 1, 72, 0, 0, 0);
    expect_dataset(f, "/partial", F, 8, 1, 4, 0, 0, 0);
    size_t n_keys;
    hp_config_keys(&n_keys);
    expect_dataset(f, "/config_values", F, 8, 1, n_keys, 0, 0, 0);

    char **columns = read_string_list(f, "/history", "columns", &n);
    EXPECT(n == HP_HISTORY_COLS && !strcmp(columns[0], "epoch") && !strcmp(columns[1], "train_loss") &&
               !strcmp(columns[4], "val_accuracy") && !strcmp(columns[9], "seconds"),
           "history columns (%zu)", n);
    free_list(columns, n);
    char **classes = read_string_list(f, "/confusion", "class_names", &n);
    EXPECT(n == 10 && !strcmp(classes[0], "airplane") && !strcmp(classes[9], "truck"),
           "class names (%zu)", n);
    free_list(classes, n);
    char **keys = read_string_list(f, "/config_values", "keys", &n);
    EXPECT(n == n_keys && keys && !strcmp(keys[0], hp_config_keys(&n_keys)[0].name), "config keys");
    free_list(keys, n);
    EXPECT(read_int_attr(f, "format_version") == 2 && read_int_attr(f, "epoch") == 2 &&
               read_int_attr(f, "trial") == 7 && read_int_attr(f, "step") == fx.t.step &&
               read_int_attr(f, "batch_in_epoch") == fx.t.batch_in_epoch,
           "root attributes");

    /* The history and confusion rows hold the trainer's epochs. */
    double *history = read_whole(f, "/history", H5T_NATIVE_DOUBLE, sizeof(double));
    int64_t *confusion = read_whole(f, "/confusion", H5T_NATIVE_INT64, sizeof(int64_t));
    for (int e = 0; e < 2 && history && confusion; e++) {
        EXPECT(history[e * HP_HISTORY_COLS] == e + 1 &&
                   history[e * HP_HISTORY_COLS + 4] == fx.t.history[e].val_accuracy,
               "history row %d", e);
        EXPECT(!memcmp(confusion + e * 100, fx.t.history[e].confusion, 100 * sizeof(int64_t)),
               "confusion of epoch %d", e + 1);
    }
    free(history);
    free(confusion);

    /* The checksum follows the documented recipe. */
    uint32_t recomputed = recipe_crc(f);
    EXPECT(recomputed == stored_crc(f), "crc32 attribute 0x%08x, recipe gives 0x%08x",
           stored_crc(f), recomputed);

    /* What the shapes mean: the first conv and the classifier recomputed
     * from the file's tensors equal the network's own outputs. */
    hp_net *net = &fx.t.net;
    float *x = hp_xalloc_floats(HP_IMAGE_BYTES);
    for (int k = 0; k < HP_IMAGE_BYTES; k++)
        x[k] = (float)((k * 37) % 101) / 50.0f - 1.0f;
    hp_net_forward(net, x, 1, 0, NULL);
    float *w = read_whole(f, "/model/block1_conv/weight", H5T_NATIVE_FLOAT, 4);
    float *b = read_whole(f, "/model/block1_conv/bias", H5T_NATIVE_FLOAT, 4);
    const hp_layer *conv = &net->layers[0];
    double worst = 0;
    for (int oc = 0; oc < 4 && w && b; oc++)
        for (int oy = 0; oy < 32; oy++)
            for (int ox = 0; ox < 32; ox++) {
                double sum = b[oc];
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy + ky - 1, ix = ox + kx - 1; /* "same": one pixel of zeros */
                            if (iy >= 0 && iy < 32 && ix >= 0 && ix < 32)
                                sum += (double)w[((oc * 3 + c) * 3 + ky) * 3 + kx] *
                                       x[(c * 32 + iy) * 32 + ix];
                        }
                double diff = fabs(sum - conv->out[(oc * 32 + oy) * 32 + ox]);
                worst = diff > worst ? diff : worst;
            }
    EXPECT(w && b && worst < 1e-4, "conv from the file's (OC, C, KH, KW) weight differs by %g", worst);
    free(w);
    free(b);
    w = read_whole(f, "/model/output_dense/weight", H5T_NATIVE_FLOAT, 4);
    b = read_whole(f, "/model/output_dense/bias", H5T_NATIVE_FLOAT, 4);
    const hp_layer *out = &net->layers[net->n_layers - 1];
    worst = 0;
    for (int o = 0; o < 10 && w && b; o++) {
        double sum = b[o];
        for (int i = 0; i < 8; i++)
            sum += (double)w[o * 8 + i] * out->in[i];
        double diff = fabs(sum - out->out[o]);
        worst = diff > worst ? diff : worst;
    }
    EXPECT(w && b && worst < 1e-5, "classifier from the file's (out, in) weight differs by %g", worst);
    free(w);
    free(b);
    free(x);
    H5Fclose(f);

    /* And hptune reads back what it wrote. */
    hp_trainer back;
    hp_trainer_init(&back, &fx.config, &fx.train, &fx.val);
    EXPECT(hp_checkpoint_load(&back, path) == 0, "%s", hp_error_message());
    EXPECT(!memcmp(back.net.params, fx.t.net.params, fx.t.net.n_params * sizeof(float)) &&
               !memcmp(back.net.opt_v, fx.t.net.opt_v, fx.t.net.n_params * sizeof(float)) &&
               !memcmp(back.net.bn_state, fx.t.net.bn_state, fx.t.net.n_bn_state * sizeof(float)) &&
               !memcmp(back.order, fx.t.order, 72 * sizeof(int32_t)) && back.step == fx.t.step &&
               back.batch_in_epoch == fx.t.batch_in_epoch && back.n_history == 2,
           "restored state differs");
    hp_trainer_release(&back);
    hp_config c;
    int epoch = -1, batch = -1;
    EXPECT(hp_checkpoint_read_config(path, &c, &epoch, &batch) == 0 && epoch == 2 &&
               batch == fx.t.batch_in_epoch && c.filters == 4 && c.seed == 11,
           "read_config: %s", hp_error_message());
out:
    free(path);
    fixture_release(&fx);
}

/* Copy src to a new file dst. */
static void copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (!in || !out || fclose(out) != 0)
        HP_PANIC("cannot copy %s", src);
    fclose(in);
}

/* Loading path must fail with a message naming it and containing needle,
 * and leave the trainer as it was. */
static void expect_load_refused(fixture *fx, const char *path, const char *needle)
{
    hp_trainer t;
    hp_trainer_init(&t, &fx->config, &fx->train, &fx->val);
    float *before = hp_xalloc_floats(t.net.n_params);
    memcpy(before, t.net.params, t.net.n_params * sizeof(float));
    hp_error_clear();
    EXPECT(hp_checkpoint_load(&t, path) == -1, "%s was loaded", path);
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, path) && strstr(msg, needle), "message lacks the file or '%s': %s", needle,
           msg);
    EXPECT(!memcmp(before, t.net.params, t.net.n_params * sizeof(float)) && t.epoch == 0 &&
               t.step == 0, "a refused load changed the trainer");
    free(before);
    hp_trainer_release(&t);
}

TEST(test_damage_is_detected)
{
    fixture fx;
    if (fixture_init(&fx) != 0) {
        EXPECT(0, "fixture: %s", hp_error_message());
        return;
    }
    char *good = path_in_root("good.h5"), *bad = path_in_root("damaged.h5");
    EXPECT(hp_checkpoint_save(&fx.t, 0, good) == 0, "%s", hp_error_message());

    /* One bit of one weight, in the stored bytes of the file. */
    copy_file(good, bad);
    hid_t f = H5Fopen(bad, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/model/block2_conv/weight", H5P_DEFAULT);
    haddr_t offset = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    int fd = open(bad, O_RDWR);
    unsigned char byte = 0;
    EXPECT(offset != HADDR_UNDEF && fd >= 0 && pread(fd, &byte, 1, (off_t)offset + 101) == 1,
           "cannot find the weight's bytes");
    byte ^= 0x04;
    EXPECT(pwrite(fd, &byte, 1, (off_t)offset + 101) == 1 && close(fd) == 0, "cannot flip");
    expect_load_refused(&fx, bad, "checksum mismatch");
    hp_config c;
    int epoch;
    EXPECT(hp_checkpoint_read_config(bad, &c, &epoch, NULL) == -1, "read_config accepted it");

    /* A counter (an attribute): the step drives the learning-rate schedule. */
    copy_file(good, bad);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "step", H5P_DEFAULT);
    int64_t step = fx.t.step + 1;
    H5Awrite(a, H5T_NATIVE_INT64, &step);
    H5Aclose(a);
    H5Fclose(f);
    expect_load_refused(&fx, bad, "checksum mismatch");

    /* A tensor of another shape, with the checksum made valid again: the
     * shape check must name the dataset. */
    copy_file(good, bad);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/optimizer/v/head1_dense/bias", H5P_DEFAULT);
    hsize_t dims[1] = {9};
    float zeros[9] = {0};
    hid_t s = H5Screate_simple(1, dims, NULL);
    d = H5Dcreate2(f, "/optimizer/v/head1_dense/bias", H5T_NATIVE_FLOAT, s, H5P_DEFAULT,
                   H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
    H5Dclose(d);
    H5Sclose(s);
    set_stored_crc(f, recipe_crc(f));
    H5Fclose(f);
    expect_load_refused(&fx, bad, "/optimizer/v/head1_dense/bias is float32 (9,) in the checkpoint, "
                                  "the network needs float32 (8,)");

    /* Another configuration (same network shape). */
    hp_trainer other;
    hp_config changed = fx.config;
    changed.learning_rate *= 2;
    hp_trainer_init(&other, &changed, &fx.train, &fx.val);
    EXPECT(hp_checkpoint_load(&other, good) == -1 &&
               strstr(hp_error_message(), "another configuration"),
           "message: %s", hp_error_message());
    hp_trainer_release(&other);

    /* Not HDF5 at all, and missing. */
    FILE *junk = fopen(bad, "wb");
    fputs("not a checkpoint\n", junk);
    fclose(junk);
    expect_load_refused(&fx, bad, "corrupt");
    unlink(bad);
    expect_load_refused(&fx, bad, "does not exist");
    free(good);
    free(bad);
    fixture_release(&fx);
}

TEST(test_version_1_is_refused)
{
    fixture fx;
    if (fixture_init(&fx) != 0) {
        EXPECT(0, "fixture: %s", hp_error_message());
        return;
    }
    /* What identifies a version 1 file: its root attributes and flat /params. */
    char *path = path_in_root("v1.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    const char *format = "hptune-trial";
    hid_t a = H5Acreate2(f, "format", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, str, &format);
    H5Aclose(a);
    int64_t one = 1;
    a = H5Acreate2(f, "format_version", H5T_NATIVE_INT64, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &one);
    H5Aclose(a);
    hsize_t n = fx.t.net.n_params;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "params", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fx.t.net.params);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(str);
    H5Sclose(scalar);
    H5Fclose(f);

    expect_load_refused(&fx, path, "checkpoint format version 1");
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, "retrain the trial from scratch") && strstr(msg, "hptune build that wrote it"),
           "message does not say what to do: %s", msg);
    hp_config c;
    int epoch;
    EXPECT(hp_checkpoint_read_config(path, &c, &epoch, NULL) == -1 &&
               strstr(hp_error_message(), "version 1"), "read_config: %s", hp_error_message());
    EXPECT(hp_checkpoint_load_weights(&fx.t, path) == -1, "load_weights accepted version 1");
    free(path);
    fixture_release(&fx);
}

/* Files in root whose name contains ".tmp." */
static int count_temporaries(void)
{
    DIR *dir = opendir(root);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (dir)
        closedir(dir);
    return n;
}

/* A write that fails (the file size limit stands in for a full disk:
 * write() fails with EFBIG) keeps the previous checkpoint and leaves no
 * temporary file; the next save with room succeeds. */
TEST(test_failed_write_keeps_previous_checkpoint)
{
    fixture fx;
    if (fixture_init(&fx) != 0) {
        EXPECT(0, "fixture: %s", hp_error_message());
        return;
    }
    char *path = path_in_root("kept.h5");
    EXPECT(hp_checkpoint_save(&fx.t, 3, path) == 0, "%s", hp_error_message());
    struct stat st;
    stat(path, &st);
    int64_t saved_step = fx.t.step;
    hp_epoch_metrics m;
    EXPECT(hp_trainer_run_epoch(&fx.t, &m) == 0, "%s", hp_error_message()); /* now differs */

    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = (rlim_t)st.st_size / 2;
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    int rc = hp_checkpoint_save(&fx.t, 3, path);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, previous);
    const char *msg = hp_error_message();
    EXPECT(rc == -1, "the save succeeded despite the file size limit");
    EXPECT(strstr(msg, path) && strstr(msg, strerror(EFBIG)) && strstr(msg, "is unchanged"),
           "message: %s", msg);
    EXPECT(count_temporaries() == 0, "a temporary file was left in %s", root);

    hp_config c;
    int epoch = -1;
    EXPECT(hp_checkpoint_read_config(path, &c, &epoch, NULL) == 0 && epoch == 2,
           "the previous checkpoint: epoch %d, %s", epoch, hp_error_message());
    hp_trainer back;
    hp_trainer_init(&back, &fx.config, &fx.train, &fx.val);
    EXPECT(hp_checkpoint_load(&back, path) == 0 && back.step == saved_step,
           "the previous checkpoint does not load as it was: %s", hp_error_message());
    hp_trainer_release(&back);
    EXPECT(hp_checkpoint_save(&fx.t, 3, path) == 0 && hp_checkpoint_read_config(path, &c, &epoch, NULL) == 0 &&
               epoch == 3, "saving again with room: %s", hp_error_message());

    /* A folder that does not exist: refused at once, nothing created. */
    char *nowhere = path_in_root("no-such-folder/ck.h5");
    EXPECT(hp_checkpoint_save(&fx.t, 3, nowhere) == -1 && strstr(hp_error_message(), nowhere),
           "message: %s", hp_error_message());
    free(nowhere);
    free(path);
    fixture_release(&fx);
}

static int remove_all(void)
{
    DIR *dir = opendir(root);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (e->d_name[0] != '.') {
            char *p = path_in_root(e->d_name);
            unlink(p);
            free(p);
        }
    if (dir)
        closedir(dir);
    return rmdir(root);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/hptune-test-checkpoint.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        printf("FAIL setup: cannot create a temporary folder\n");
        return 1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    RUN(test_layout_is_readable_without_hptune);
    RUN(test_damage_is_detected);
    RUN(test_version_1_is_refused);
    RUN(test_failed_write_keeps_previous_checkpoint);
    remove_all();
    return testlib_finish();
}
