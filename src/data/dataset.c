/* dataset.c - read the CIFAR-10 HDF5 file written by `hptune prepare`.
 *
 * Every open validates the whole layout of include/dataset.h (format
 * version, presence, element type and shape of every dataset, shard offsets)
 * before any data is read, so a damaged or foreign file gives one message
 * that names the file and says to run `hptune prepare` again, instead of an
 * HDF5 error trace or a crash later on.  Training shards are read with
 * hyperslab selections: a rank that trains on shards {3, 1} reads only those
 * rows from disk.  Every shard's images and labels (and the test set) are
 * checked against the crc32s prepare stored, once per load, so a damaged
 * byte is refused with a message naming the file, dataset and rows.
 */
#include "dataset.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "error.h"
#include "h5util.h"

#define REDO_HINT "run `hptune prepare` again to recreate it"

/* ---- layout validation ---- */

typedef enum { ELEM_U8, ELEM_U32, ELEM_I32, ELEM_I64, ELEM_F32, ELEM_STRING } element_kind;

static const char *const element_names[] = {"uint8", "uint32", "int32", "int64", "float32",
                                             "fixed-length string"};

/* One dataset of the layout.  Shape entries: >= 0 fixed, or one of the
 * symbolic sizes below, resolved while validating. */
enum { DIM_N_TRAIN = -1, DIM_N_TEST = -2, DIM_N_SHARDS_PLUS_1 = -3, DIM_N_SHARDS = -4 };

typedef struct layout_entry {
    const char *name;
    element_kind kind;
    int rank;
    long long shape[4];
} layout_entry;

static const layout_entry layout[] = {
    {"train/images", ELEM_U8, 4, {DIM_N_TRAIN, HP_IMAGE_C, HP_IMAGE_H, HP_IMAGE_W}},
    {"train/labels", ELEM_U8, 1, {DIM_N_TRAIN}},
    {"train/source_index", ELEM_I32, 1, {DIM_N_TRAIN}},
    {"train/shard_offsets", ELEM_I64, 1, {DIM_N_SHARDS_PLUS_1}},
    {"train/images_crc32", ELEM_U32, 1, {DIM_N_SHARDS}},
    {"train/labels_crc32", ELEM_U32, 1, {DIM_N_SHARDS}},
    {"test/images", ELEM_U8, 4, {DIM_N_TEST, HP_IMAGE_C, HP_IMAGE_H, HP_IMAGE_W}},
    {"test/labels", ELEM_U8, 1, {DIM_N_TEST}},
    {"test/images_crc32", ELEM_U32, 1, {1}},
    {"test/labels_crc32", ELEM_U32, 1, {1}},
    {"meta/class_names", ELEM_STRING, 1, {HP_NUM_CLASSES}},
    {"meta/mean", ELEM_F32, 1, {HP_IMAGE_C}},
    {"meta/std", ELEM_F32, 1, {HP_IMAGE_C}},
};

/* An open, validated file. */
typedef struct dataset_file {
    const char *path;
    hid_t file;
    int n_shards;
    int n_train, n_test;
    int64_t *shard_offsets; /* (n_shards + 1), owned */
    uint32_t *images_crc;   /* (n_shards) crc32 of each shard's images, owned */
    uint32_t *labels_crc;   /* (n_shards) and labels, owned */
    uint32_t test_images_crc, test_labels_crc;
} dataset_file;

static int element_matches(hid_t dtype, element_kind kind)
{
    H5T_class_t cls = H5Tget_class(dtype);
    size_t size = H5Tget_size(dtype);
    switch (kind) {
    case ELEM_U8:
        return cls == H5T_INTEGER && size == 1 && H5Tget_sign(dtype) == H5T_SGN_NONE;
    case ELEM_U32:
        return cls == H5T_INTEGER && size == 4 && H5Tget_sign(dtype) == H5T_SGN_NONE;
    case ELEM_I32:
        return cls == H5T_INTEGER && size == 4 && H5Tget_sign(dtype) == H5T_SGN_2;
    case ELEM_I64:
        return cls == H5T_INTEGER && size == 8 && H5Tget_sign(dtype) == H5T_SGN_2;
    case ELEM_F32:
        return cls == H5T_FLOAT && size == 4;
    case ELEM_STRING:
        return cls == H5T_STRING && H5Tis_variable_str(dtype) == 0;
    }
    return 0;
}

/* "int16", "float64", "string": what the file holds, for the message. */
static void describe_element(hid_t dtype, char *buf, size_t size)
{
    size_t bytes = H5Tget_size(dtype);
    switch (H5Tget_class(dtype)) {
    case H5T_INTEGER:
        snprintf(buf, size, "%sint%zu", H5Tget_sign(dtype) == H5T_SGN_NONE ? "u" : "", bytes * 8);
        break;
    case H5T_FLOAT:
        snprintf(buf, size, "float%zu", bytes * 8);
        break;
    case H5T_STRING:
        snprintf(buf, size, "%s string", H5Tis_variable_str(dtype) > 0 ? "variable-length" : "fixed-length");
        break;
    default:
        snprintf(buf, size, "a non-numeric type");
        break;
    }
}

static void format_shape(char *buf, size_t size, int rank, const long long *dims)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", dims[d]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

/* Does the link path exist as a dataset?  Checks each group on the way, since
 * H5Lexists("train/images") fails (rather than returning 0) without /train. */
static int dataset_exists(const dataset_file *df, const char *name, int *exists)
{
    char prefix[64];
    *exists = 0;
    for (const char *slash = strchr(name, '/'); ; slash = strchr(slash + 1, '/')) {
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, name);
        htri_t found = H5Lexists(df->file, prefix, H5P_DEFAULT);
        if (found < 0)
            return h5u_error_at(__FILE__, __LINE__, "%s: looking for /%s", df->path, prefix);
        if (!found)
            return 0;
        if (!slash)
            break;
    }
    /* H5Oopen + H5Iget_type rather than H5Oget_info, whose signature differs across 1.10/1.12. */
    hid_t object = H5Oopen(df->file, name, H5P_DEFAULT);
    if (object < 0)
        return h5u_error_at(__FILE__, __LINE__, "%s: inspecting /%s", df->path, name);
    *exists = H5Iget_type(object) == H5I_DATASET;
    int rc = 0;
    H5U_CLOSE(object, name, &rc);
    return rc;
}

static int resolve_dim(const dataset_file *df, long long symbolic)
{
    switch (symbolic) {
    case DIM_N_TRAIN: return df->n_train;
    case DIM_N_TEST: return df->n_test;
    case DIM_N_SHARDS_PLUS_1: return df->n_shards + 1;
    case DIM_N_SHARDS: return df->n_shards;
    default: return (int)symbolic;
    }
}

/* Check one dataset's presence, element type and shape.  The first dimension
 * of /train/images and /test/images defines n_train and n_test. */
static int validate_entry(dataset_file *df, const layout_entry *entry)
{
    int exists;
    if (dataset_exists(df, entry->name, &exists) < 0)
        return -1;
    if (!exists)
        return HP_ERR("%s has no dataset /%s: it is not a complete hptune dataset file; %s",
                      df->path, entry->name, REDO_HINT);

    int rc = -1;
    hid_t dset, dtype, space;
    H5_CHECK(dset = H5Dopen2(df->file, entry->name, H5P_DEFAULT), out,
             "%s: opening /%s", df->path, entry->name);
    H5_CHECK(dtype = H5Dget_type(dset), close_dataset, "%s: type of /%s", df->path, entry->name);
    if (!element_matches(dtype, entry->kind)) {
        char found[64];
        describe_element(dtype, found, sizeof found);
        HP_ERR("%s: /%s holds %s elements, expected %s; the file is damaged or was not "
               "written by hptune; %s", df->path, entry->name, found,
               element_names[entry->kind], REDO_HINT);
        goto close_type;
    }
    H5_CHECK(space = H5Dget_space(dset), close_type, "%s: shape of /%s", df->path, entry->name);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    H5_CHECK(rank, close_space, "%s: rank of /%s", df->path, entry->name);
    H5_CHECK(H5Sget_simple_extent_dims(space, dims, NULL), close_space,
             "%s: dimensions of /%s", df->path, entry->name);

    /* The images datasets define the counts the others must agree with. */
    if (rank >= 1 && dims[0] <= (hsize_t)INT_MAX) {
        if (entry->shape[0] == DIM_N_TRAIN && strcmp(entry->name, "train/images") == 0)
            df->n_train = (int)dims[0];
        if (entry->shape[0] == DIM_N_TEST && strcmp(entry->name, "test/images") == 0)
            df->n_test = (int)dims[0];
    }
    long long expected[4], found[H5S_MAX_RANK];
    int shape_ok = rank == entry->rank;
    for (int d = 0; d < entry->rank; d++) {
        expected[d] = resolve_dim(df, entry->shape[d]);
        if (shape_ok && (long long)dims[d] != expected[d])
            shape_ok = 0;
    }
    if (!shape_ok) {
        char want[96], have[96];
        for (int d = 0; d < rank; d++)
            found[d] = (long long)dims[d];
        format_shape(want, sizeof want, entry->rank, expected);
        format_shape(have, sizeof have, rank, found);
        HP_ERR("%s: /%s has shape %s, expected %s; the file is damaged or inconsistent; %s",
               df->path, entry->name, have, want, REDO_HINT);
        goto close_space;
    }
    rc = 0;
close_space:
    H5U_CLOSE(space, entry->name, &rc);
close_type:
    H5U_CLOSE(dtype, entry->name, &rc);
close_dataset:
    H5U_CLOSE(dset, entry->name, &rc);
out:
    return rc;
}

/* Read a scalar integer root attribute; -1 with a message when absent or not an integer. */
static int read_int_attribute(const dataset_file *df, const char *name, int *value)
{
    htri_t exists = H5Aexists(df->file, name);
    H5_CHECK(exists, fail, "%s: looking for attribute %s", df->path, name);
    if (!exists)
        return HP_ERR("%s has no '%s' attribute: it was not written by `hptune prepare`; %s",
                      df->path, name, REDO_HINT);
    int rc = -1;
    hid_t attr, dtype, space;
    H5_CHECK(attr = H5Aopen(df->file, name, H5P_DEFAULT), fail, "%s: opening attribute %s",
             df->path, name);
    H5_CHECK(dtype = H5Aget_type(attr), close_attr, "%s: type of attribute %s", df->path, name);
    H5_CHECK(space = H5Aget_space(attr), close_type, "%s: shape of attribute %s", df->path, name);
    if (H5Tget_class(dtype) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1) {
        HP_ERR("%s: attribute '%s' is not a single integer; %s", df->path, name, REDO_HINT);
        goto close_space;
    }
    H5_CHECK(H5Aread(attr, H5T_NATIVE_INT, value), close_space, "%s: reading attribute %s",
             df->path, name);
    rc = 0;
close_space:
    H5U_CLOSE(space, name, &rc);
close_type:
    H5U_CLOSE(dtype, name, &rc);
close_attr:
    H5U_CLOSE(attr, name, &rc);
    return rc;
fail:
    return -1;
}

/* Read a whole (small) dataset into dest with the given memory type. */
static int read_whole(const dataset_file *df, const char *name, hid_t memtype, void *dest)
{
    int rc = -1;
    hid_t dset;
    H5_CHECK(dset = H5Dopen2(df->file, name, H5P_DEFAULT), out, "%s: opening /%s", df->path, name);
    H5_CHECK(H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dest), close_dataset,
             "%s: reading /%s", df->path, name);
    rc = 0;
close_dataset:
    H5U_CLOSE(dset, name, &rc);
out:
    return rc;
}

/* Close (a failure sets *rc = -1 with a message if none is pending). */
static void close_dataset_file(dataset_file *df, int *rc)
{
    H5U_CLOSE(df->file, df->path, rc);
    free(df->shard_offsets);
    free(df->images_crc);
    free(df->labels_crc);
    memset(df, 0, sizeof *df);
    df->file = H5I_INVALID_HID;
}

/* Open path read-only and validate everything in include/dataset.h's layout. */
static int open_dataset_file(dataset_file *df, const char *path)
{
    memset(df, 0, sizeof *df);
    df->path = path;
    df->file = H5I_INVALID_HID;
    h5u_quiet();

    struct stat st;
    if (stat(path, &st) != 0)
        return HP_ERR("cannot open dataset file %s: %s; create it with "
                      "`hptune prepare --from cifar-10-binary.tar.gz --out %s` "
                      "(datasets/get_cifar10.sh fetches the tarball)",
                      path, strerror(errno), path);
    if (S_ISDIR(st.st_mode))
        return HP_ERR("dataset file %s is a directory; give the .h5 file written by "
                      "`hptune prepare`", path);
    htri_t is_hdf5 = H5Fis_hdf5(path);
    H5_CHECK(is_hdf5, fail, "%s: checking the HDF5 signature", path);
    if (!is_hdf5)
        return HP_ERR("%s is not an HDF5 file; give the file written by `hptune prepare`, or %s",
                      path, REDO_HINT);
    /* A file system without locks fails here; HDF5_USE_FILE_LOCKING=FALSE is the cure. */
    H5_CHECK(df->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), fail,
             "%s: opening (if the file system has no file locking, set "
             "HDF5_USE_FILE_LOCKING=FALSE)", path);

    int version;
    if (read_int_attribute(df, "format_version", &version) < 0)
        goto fail;
    if (version == 1) {
        HP_ERR("%s has format_version 1 (written by an earlier `hptune prepare`, without checksums "
               "of the images); this hptune reads format_version %d: run `hptune prepare` again "
               "to recreate it (the same images, now with checksums)", path,
               HP_DATASET_FORMAT_VERSION);
        goto fail;
    }
    if (version != HP_DATASET_FORMAT_VERSION) {
        HP_ERR("%s has format_version %d but this hptune reads format_version %d; %s",
               path, version, HP_DATASET_FORMAT_VERSION, REDO_HINT);
        goto fail;
    }
    if (read_int_attribute(df, "n_shards", &df->n_shards) < 0)
        goto fail;
    if (df->n_shards < 1) {
        HP_ERR("%s: attribute n_shards is %d, must be at least 1; %s", path, df->n_shards,
               REDO_HINT);
        goto fail;
    }
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++)
        if (validate_entry(df, &layout[i]) < 0)
            goto fail;

    /* Shard s is rows [off[s], off[s+1]): 0 first, non-decreasing, n_train last. */
    df->shard_offsets = hp_xcalloc((size_t)df->n_shards + 1, sizeof *df->shard_offsets);
    if (read_whole(df, "train/shard_offsets", H5T_NATIVE_INT64, df->shard_offsets) < 0)
        goto fail;
    for (int s = 0; s <= df->n_shards; s++) {
        int64_t off = df->shard_offsets[s];
        int bad = (s == 0 && off != 0) || (s == df->n_shards && off != df->n_train) ||
                  (s > 0 && off < df->shard_offsets[s - 1]);
        if (bad) {
            HP_ERR("%s: /train/shard_offsets is inconsistent at entry %d (value %lld, %d training "
                   "images); the file is damaged; %s", path, s, (long long)off, df->n_train,
                   REDO_HINT);
            goto fail;
        }
    }
    df->images_crc = hp_xcalloc((size_t)df->n_shards, sizeof *df->images_crc);
    df->labels_crc = hp_xcalloc((size_t)df->n_shards, sizeof *df->labels_crc);
    if (read_whole(df, "train/images_crc32", H5T_NATIVE_UINT32, df->images_crc) < 0 ||
        read_whole(df, "train/labels_crc32", H5T_NATIVE_UINT32, df->labels_crc) < 0 ||
        read_whole(df, "test/images_crc32", H5T_NATIVE_UINT32, &df->test_images_crc) < 0 ||
        read_whole(df, "test/labels_crc32", H5T_NATIVE_UINT32, &df->test_labels_crc) < 0)
        goto fail;
    return 0;
fail:;
    int rc = -1;
    close_dataset_file(df, &rc);
    return -1;
}

/* ---- reading ---- */

/* Rows [row, row + count) of a (n, ...) dataset into dest; only those rows
 * are read from disk (hyperslab of the file space). */
static int read_rows(const dataset_file *df, hid_t dset, const char *name, int rank,
                     hsize_t row, hsize_t count, hid_t memtype, void *dest)
{
    if (count == 0)
        return 0;
    int rc = -1;
    hsize_t start[4] = {row, 0, 0, 0};
    hsize_t extent[4] = {count, HP_IMAGE_C, HP_IMAGE_H, HP_IMAGE_W};
    hid_t file_space, mem_space;
    H5_CHECK(file_space = H5Dget_space(dset), out, "%s: shape of /%s", df->path, name);
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, extent, NULL),
             close_file_space, "%s: selecting rows %llu..%llu of /%s", df->path,
             (unsigned long long)row, (unsigned long long)(row + count - 1), name);
    H5_CHECK(mem_space = H5Screate_simple(rank, extent, NULL), close_file_space,
             "%s: memory space for /%s", df->path, name);
    H5_CHECK(H5Dread(dset, memtype, mem_space, file_space, H5P_DEFAULT, dest), close_mem_space,
             "%s: reading rows %llu..%llu of /%s", df->path, (unsigned long long)row,
             (unsigned long long)(row + count - 1), name);
    rc = 0;
close_mem_space:
    H5U_CLOSE(mem_space, name, &rc);
close_file_space:
    H5U_CLOSE(file_space, name, &rc);
out:
    return rc;
}

/* zlib's crc32 of n bytes (it takes uInt lengths: large buffers in pieces). */
static uint32_t crc32_of(const uint8_t *data, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, data, piece);
        data += piece;
        n -= piece;
    }
    return (uint32_t)crc;
}

/* Rows [row, row + count) of /name, as loaded into data (bytes), against the
 * checksum stored for them. */
static int verify_rows(const dataset_file *df, const char *name, const char *which, long long row,
                       long long count, const uint8_t *data, size_t bytes, uint32_t stored)
{
    uint32_t computed = crc32_of(data, bytes);
    if (computed == stored)
        return 0;
    return HP_ERR("%s: /%s rows %lld..%lld (%s) do not match their checksum (crc32 0x%08x, "
                  "stored 0x%08x in /%s_crc32): the file is damaged; %s", df->path, name, row,
                  row + count - 1, which, (unsigned)computed, (unsigned)stored, name, REDO_HINT);
}

static int read_meta(const dataset_file *df, hp_dataset *ds)
{
    int rc = -1;
    char names[HP_NUM_CLASSES][sizeof ds->class_names[0]];
    if (read_whole(df, "meta/mean", H5T_NATIVE_FLOAT, ds->mean) < 0 ||
        read_whole(df, "meta/std", H5T_NATIVE_FLOAT, ds->std) < 0)
        return -1;
    /* Convert whatever fixed length the file uses to char[32], NUL-terminated. */
    hid_t name_type;
    H5_CHECK(name_type = H5Tcopy(H5T_C_S1), out, "%s: string type", df->path);
    H5_CHECK(H5Tset_size(name_type, sizeof names[0]), close_type, "%s: string type", df->path);
    H5_CHECK(H5Tset_strpad(name_type, H5T_STR_NULLTERM), close_type, "%s: string type", df->path);
    if (read_whole(df, "meta/class_names", name_type, names) < 0)
        goto close_type;
    for (int c = 0; c < HP_NUM_CLASSES; c++) {
        names[c][sizeof names[c] - 1] = '\0';
        memcpy(ds->class_names[c], names[c], sizeof names[c]);
    }
    for (int ch = 0; ch < HP_IMAGE_C; ch++) {
        if (!(ds->std[ch] > 0.0f) || !(ds->mean[ch] >= 0.0f && ds->mean[ch] <= 1.0f)) {
            HP_ERR("%s: /meta/mean or /meta/std of channel %d is invalid (mean %g, std %g); %s",
                   df->path, ch, ds->mean[ch], ds->std[ch], REDO_HINT);
            goto close_type;
        }
    }
    rc = 0;
close_type:
    H5U_CLOSE(name_type, "a string type", &rc);
out:
    return rc;
}

static int check_labels(const dataset_file *df, const hp_dataset *ds, const char *which)
{
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] >= HP_NUM_CLASSES)
            return HP_ERR("%s: %s label %d (loaded row %d) is above %d; the file is damaged; %s",
                          df->path, which, ds->labels[i], i, HP_NUM_CLASSES - 1, REDO_HINT);
    return 0;
}

int hp_dataset_info(const char *path, int *n_shards, int *n_train, int *n_test)
{
    dataset_file df;
    if (open_dataset_file(&df, path) < 0)
        return -1;
    if (n_shards)
        *n_shards = df.n_shards;
    if (n_train)
        *n_train = df.n_train;
    if (n_test)
        *n_test = df.n_test;
    int rc = 0;
    close_dataset_file(&df, &rc);
    return rc;
}

int hp_dataset_shard_sizes(const char *path, int *sizes, int capacity, int *n_shards)
{
    dataset_file df;
    if (open_dataset_file(&df, path) < 0)
        return -1;
    *n_shards = df.n_shards;
    for (int s = 0; s < df.n_shards && s < capacity; s++)
        sizes[s] = (int)(df.shard_offsets[s + 1] - df.shard_offsets[s]);
    int rc = 0;
    close_dataset_file(&df, &rc);
    return rc;
}

int hp_dataset_load_shards(hp_dataset *ds, const char *path, const int *shards, int n_shards)
{
    memset(ds, 0, sizeof *ds);
    if (n_shards < 0 || (n_shards > 0 && !shards))
        HP_PANIC("hp_dataset_load_shards: bad shard list (%d entries)", n_shards);
    dataset_file df;
    if (open_dataset_file(&df, path) < 0)
        return -1;

    int rc = -1;
    long long total = 0;
    for (int i = 0; i < n_shards; i++) {
        if (shards[i] < 0 || shards[i] >= df.n_shards) {
            HP_ERR("shard %d is out of range: %s has %d shards (0..%d); use shard numbers below "
                   "%d, or run `hptune prepare --shards N` again to split it differently",
                   shards[i], path, df.n_shards, df.n_shards - 1, df.n_shards);
            goto close_file;
        }
        total += df.shard_offsets[shards[i] + 1] - df.shard_offsets[shards[i]];
    }
    if (total > INT_MAX) {
        HP_ERR("%s: the requested shards hold %lld images, more than this program handles", path,
               total);
        goto close_file;
    }

    hid_t images, labels;
    H5_CHECK(images = H5Dopen2(df.file, "train/images", H5P_DEFAULT), close_file,
             "%s: opening /train/images", path);
    H5_CHECK(labels = H5Dopen2(df.file, "train/labels", H5P_DEFAULT), close_images,
             "%s: opening /train/labels", path);
    ds->n = (int)total;
    ds->images = hp_xcalloc((size_t)total, HP_IMAGE_BYTES); /* (n, 3, 32, 32) */
    ds->labels = hp_xcalloc((size_t)total, 1);              /* (n) */
    size_t row_out = 0;
    for (int i = 0; i < n_shards; i++) {
        hsize_t begin = (hsize_t)df.shard_offsets[shards[i]];
        hsize_t count = (hsize_t)df.shard_offsets[shards[i] + 1] - begin;
        uint8_t *shard_images = ds->images + row_out * HP_IMAGE_BYTES;
        uint8_t *shard_labels = ds->labels + row_out;
        char which[32];
        snprintf(which, sizeof which, "shard %d", shards[i]);
        if (read_rows(&df, images, "train/images", 4, begin, count, H5T_NATIVE_UINT8,
                      shard_images) < 0 ||
            read_rows(&df, labels, "train/labels", 1, begin, count, H5T_NATIVE_UINT8,
                      shard_labels) < 0 ||
            verify_rows(&df, "train/images", which, (long long)begin, (long long)count,
                        shard_images, (size_t)count * HP_IMAGE_BYTES,
                        df.images_crc[shards[i]]) < 0 ||
            verify_rows(&df, "train/labels", which, (long long)begin, (long long)count,
                        shard_labels, (size_t)count, df.labels_crc[shards[i]]) < 0)
            goto close_labels;
        row_out += count;
    }
    if (read_meta(&df, ds) < 0 || check_labels(&df, ds, "training") < 0)
        goto close_labels;
    rc = 0;
close_labels:
    H5U_CLOSE(labels, "/train/labels", &rc);
close_images:
    H5U_CLOSE(images, "/train/images", &rc);
close_file:
    close_dataset_file(&df, &rc);
    if (rc < 0)
        hp_dataset_release(ds);
    return rc;
}

int hp_dataset_load_test(hp_dataset *ds, const char *path)
{
    memset(ds, 0, sizeof *ds);
    dataset_file df;
    if (open_dataset_file(&df, path) < 0)
        return -1;
    int rc = -1;
    ds->n = df.n_test;
    ds->images = hp_xcalloc((size_t)df.n_test, HP_IMAGE_BYTES); /* (n, 3, 32, 32) */
    ds->labels = hp_xcalloc((size_t)df.n_test, 1);              /* (n) */
    if (read_whole(&df, "test/images", H5T_NATIVE_UINT8, ds->images) < 0 ||
        read_whole(&df, "test/labels", H5T_NATIVE_UINT8, ds->labels) < 0 ||
        verify_rows(&df, "test/images", "the test set", 0, df.n_test, ds->images,
                    (size_t)df.n_test * HP_IMAGE_BYTES, df.test_images_crc) < 0 ||
        verify_rows(&df, "test/labels", "the test set", 0, df.n_test, ds->labels,
                    (size_t)df.n_test, df.test_labels_crc) < 0 ||
        read_meta(&df, ds) < 0 || check_labels(&df, ds, "test") < 0)
        goto close_file;
    rc = 0;
close_file:
    close_dataset_file(&df, &rc);
    if (rc < 0)
        hp_dataset_release(ds);
    return rc;
}

void hp_dataset_release(hp_dataset *ds)
{
    if (!ds)
        return;
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
