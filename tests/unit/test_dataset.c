/* test_dataset.c - `hptune prepare` and shard loading, by exact round trips.
 *
 * A small CIFAR-10 in the official binary format is generated in a temporary
 * folder (5 train batches of 40 records with random labels and pixels, a test
 * batch of 20, batches.meta.txt) and also packed as a .tar.gz by a tar writer
 * kept in this file (ustar headers, a directory entry, a README to skip, a
 * GNU 'L' long name and a pax 'x' path).  Oracles computed here, independently
 * of src/data/prepare.c: which rows every shard must hold and in what order (the
 * j-th image of class c goes to shard j % n_shards), the source index of every
 * row, the per-channel mean/std summed directly over the pixels, and the
 * crc32 of every shard's image and label bytes (zlib over the records as
 * generated).  Every refused input must give the expected message and leave
 * no output or temporary file behind; damaged HDF5 files (wrong shapes or
 * types, a flipped byte in the images or labels) must be rejected by the
 * reader, and a failed write must keep the previous file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "error.h"
#include "rng.h"
#include "testlib.h"

#define RECORD 3073
#define N_BATCHES 5
#define PER_BATCH 40
#define N_TRAIN (N_BATCHES * PER_BATCH)
#define N_TEST 20

static const char *const class_names[HP_NUM_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

/* The generated data: records in the official order (global index g is
 * batch g / PER_BATCH, row g % PER_BATCH). */
static uint8_t train_records[N_TRAIN][RECORD];
static uint8_t test_records[N_TEST][RECORD];
static int class_count[HP_NUM_CLASSES];
static int rarest_count;

static char root[256];        /* the temporary folder */
static char src_parent[300];  /* contains cifar-10-batches-bin/ */
static char src_folder[400];  /* cifar-10-batches-bin/ itself */
static char tarball[300];
static char out_dir[300];     /* outputs of refused runs: must stay empty */

/* ------------------------------------------------------------ files ---- */

static char *path_in(const char *dir, const char *name) { return hp_xasprintf("%s/%s", dir, name); }

static int write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, size, f);
    return (fclose(f) == 0 && put == size) ? 0 : -1;
}

static uint8_t *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = hp_xcalloc((size_t)n + 1, 1);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Entries of a folder other than . and .., e.g. leftover temp files. */
static int count_entries(const char *dir, char *first, size_t first_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            if (n++ == 0 && first)
                snprintf(first, first_size, "%s", e->d_name);
        }
    closedir(d);
    return n;
}

/* Official-format folder from records (batches may be overridden by callers). */
static void write_batch(const char *dir, const char *name, const void *records, size_t bytes)
{
    char *p = path_in(dir, name);
    if (write_bytes(p, records, bytes) != 0)
        HP_PANIC("cannot write %s", p);
    free(p);
}

static char *meta_text(void)
{
    /* The official file ends with an empty line; keep that quirk. */
    char *text = hp_xcalloc(512, 1);
    for (int c = 0; c < HP_NUM_CLASSES; c++)
        strcat(strcat(text, class_names[c]), "\n");
    strcat(text, "\n");
    return text;
}

static void write_folder(const char *dir)
{
    mkdir(dir, 0755);
    for (int b = 0; b < N_BATCHES; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_batch(dir, name, train_records[b * PER_BATCH], (size_t)PER_BATCH * RECORD);
    }
    write_batch(dir, "test_batch.bin", test_records[0], sizeof test_records);
    char *meta = meta_text();
    write_batch(dir, "batches.meta.txt", meta, strlen(meta));
    free(meta);
}

/* ------------------------------------------------------ tar writer ---- */

typedef struct tar_member {
    const char *name;
    const void *data;
    size_t size;
    char type;         /* '0' file, '5' directory */
    int name_encoding; /* 0: ustar name field, 1: GNU 'L' long name, 2: pax 'x' path */
} tar_member;

static void octal_field(char *field, int len, uint64_t value)
{
    snprintf(field, (size_t)len, "%0*llo", len - 1, (unsigned long long)value);
}

static void gz_put(gzFile gz, const void *data, size_t size)
{
    if (size && gzwrite(gz, data, (unsigned)size) != (int)size)
        HP_PANIC("gzwrite failed");
    static const char zeros[512];
    if (size % 512)
        gzwrite(gz, zeros, (unsigned)(512 - size % 512));
}

static void tar_header(gzFile gz, const char *name, size_t size, char type)
{
    char h[512] = {0};
    snprintf(h, 100, "%s", name); /* truncated for long names: they come from 'L'/'x' */
    octal_field(h + 100, 8, type == '5' ? 0755 : 0644);
    octal_field(h + 108, 8, 0);
    octal_field(h + 116, 8, 0);
    octal_field(h + 124, 12, size);
    octal_field(h + 136, 12, 1700000000);
    h[156] = type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum); /* six digits, NUL, then the space already there */
    gz_put(gz, h, 512);
}

static void write_tarball(const char *path, const tar_member *members, int n)
{
    gzFile gz = gzopen(path, "wb");
    if (!gz)
        HP_PANIC("cannot create %s", path);
    for (int i = 0; i < n; i++) {
        const tar_member *m = &members[i];
        if (m->name_encoding == 1) {
            tar_header(gz, "././@LongLink", strlen(m->name) + 1, 'L');
            gz_put(gz, m->name, strlen(m->name) + 1);
        } else if (m->name_encoding == 2) {
            /* "<len> path=<name>\n" where len counts the whole record, itself included. */
            char record[600];
            size_t body = strlen(" path=") + strlen(m->name) + 1;
            size_t len = body + 1;
            while (snprintf(NULL, 0, "%zu", len) + body != len)
                len++;
            snprintf(record, sizeof record, "%zu path=%s\n", len, m->name);
            tar_header(gz, "PaxHeaders/x", strlen(record), 'x');
            gz_put(gz, record, strlen(record));
        }
        tar_header(gz, m->name, m->size, m->type);
        gz_put(gz, m->data, m->size);
    }
    static const char end[1024];
    gzwrite(gz, end, sizeof end);
    gzclose(gz);
}

/* The standard tarball; skip_mask leaves out members (bit i: member i of the
 * 7 batch/meta files) to build incomplete archives. */
static void write_standard_tarball(const char *path, unsigned skip_mask)
{
    char *meta = meta_text();
    static const char readme[] = "not a batch\n";
    static char long_test_name[300];
    snprintf(long_test_name, sizeof long_test_name,
             "cifar-10-batches-bin/%s/test_batch.bin",
             "a-folder-name-long-enough-that-the-path-does-not-fit-the-100-byte-ustar-name-field");
    tar_member members[12];
    int n = 0;
    members[n++] = (tar_member){"cifar-10-batches-bin/", NULL, 0, '5', 0};
    static char names[N_BATCHES][300];
    /* Batches out of order on purpose (the official tarball is not sorted). */
    static const int order[N_BATCHES] = {3, 0, 4, 1, 2};
    for (int k = 0; k < N_BATCHES; k++) {
        int b = order[k];
        /* data_batch_3.bin gets a path too long for the ustar header: only its pax record names it. */
        snprintf(names[b], sizeof names[b], "cifar-10-batches-bin/%sdata_batch_%d.bin",
                 b == 2 ? "another-folder-name-long-enough-to-overflow-the-100-byte-ustar-field/" : "",
                 b + 1);
        if (!(skip_mask & (1u << b)))
            members[n++] = (tar_member){names[b], train_records[b * PER_BATCH],
                                        (size_t)PER_BATCH * RECORD, '0', b == 2 ? 2 : 0};
        if (k == 1)
            members[n++] = (tar_member){"cifar-10-batches-bin/readme.html", readme,
                                        strlen(readme), '0', 0};
    }
    if (!(skip_mask & (1u << 5)))
        members[n++] = (tar_member){long_test_name, test_records[0], sizeof test_records, '0', 1};
    if (!(skip_mask & (1u << 6)))
        members[n++] = (tar_member){"cifar-10-batches-bin/batches.meta.txt", meta, strlen(meta),
                                    '0', 0};
    write_tarball(path, members, n);
    free(meta);
}

/* --------------------------------------------------------- fixture ---- */

static void generate_data(void)
{
    hp_rng rng;
    hp_rng_seed_for(&rng, 2024, 0, HP_STREAM_TEST);
    for (int g = 0; g < N_TRAIN; g++) {
        /* Random labels: classes of unequal size, so shards differ in size too. */
        train_records[g][0] = (uint8_t)hp_rng_below(&rng, HP_NUM_CLASSES);
        for (int i = 1; i < RECORD; i++)
            train_records[g][i] = (uint8_t)hp_rng_below(&rng, 256);
        class_count[train_records[g][0]]++;
    }
    for (int g = 0; g < N_TEST; g++)
        for (int i = 0; i < RECORD; i++)
            test_records[g][i] = (uint8_t)(i == 0 ? hp_rng_below(&rng, HP_NUM_CLASSES)
                                                  : hp_rng_below(&rng, 256));
    rarest_count = N_TRAIN;
    for (int c = 0; c < HP_NUM_CLASSES; c++)
        rarest_count = class_count[c] < rarest_count ? class_count[c] : rarest_count;
}

static int setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/hptune-test-dataset.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root))
        return -1;
    generate_data();
    snprintf(src_parent, sizeof src_parent, "%s/src", root);
    mkdir(src_parent, 0755);
    snprintf(src_folder, sizeof src_folder, "%s/cifar-10-batches-bin", src_parent);
    write_folder(src_folder);
    snprintf(tarball, sizeof tarball, "%s/cifar-10-binary.tar.gz", root);
    write_standard_tarball(tarball, 0);
    snprintf(out_dir, sizeof out_dir, "%s/out", root);
    mkdir(out_dir, 0755);
    return 0;
}

/* -------------------------------------------------------- oracles ---- */

/* Rows shard s must hold, in order: global indices g whose rank j among the
 * images of their class satisfies j % n_shards == s.  Returns the count. */
static int expected_shard_rows(int n_shards, int s, int *rows)
{
    int seen[HP_NUM_CLASSES] = {0}, n = 0;
    for (int g = 0; g < N_TRAIN; g++)
        if (seen[train_records[g][0]]++ % n_shards == s)
            rows[n++] = g;
    return n;
}

static int32_t official_source_index(int g) { return (g / PER_BATCH) * 10000 + g % PER_BATCH; }

static int read_int_dataset(const char *path, const char *name, hid_t type, void *data)
{
    int rc = -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        rc = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
        H5Dclose(d);
    }
    H5Fclose(f);
    return rc;
}

/* The whole content of a prepared file against the oracles. */
static void check_prepared_file(const char *path, int n_shards, const char *source)
{
    int file_shards = -1, n_train = -1, n_test = -1;
    EXPECT(hp_dataset_info(path, &file_shards, &n_train, &n_test) == 0, "info: %s",
           hp_error_message());
    EXPECT(file_shards == n_shards && n_train == N_TRAIN && n_test == N_TEST,
           "info: %d shards, %d train, %d test", file_shards, n_train, n_test);
    if (file_shards != n_shards || n_train != N_TRAIN || n_test != N_TEST)
        return;

    int64_t offsets[64];
    int32_t source_index[N_TRAIN];
    if (read_int_dataset(path, "train/shard_offsets", H5T_NATIVE_INT64, offsets) != 0 ||
        read_int_dataset(path, "train/source_index", H5T_NATIVE_INT32, source_index) != 0) {
        EXPECT(0, "cannot read shard_offsets or source_index of %s", path);
        return;
    }

    /* Checksums: zlib's crc32 of each shard's image and label bytes, built
     * from the generated records in the shard's expected order. */
    uint32_t images_crc[64], labels_crc[64], test_crc[2];
    if (read_int_dataset(path, "train/images_crc32", H5T_NATIVE_UINT32, images_crc) != 0 ||
        read_int_dataset(path, "train/labels_crc32", H5T_NATIVE_UINT32, labels_crc) != 0 ||
        read_int_dataset(path, "test/images_crc32", H5T_NATIVE_UINT32, &test_crc[0]) != 0 ||
        read_int_dataset(path, "test/labels_crc32", H5T_NATIVE_UINT32, &test_crc[1]) != 0) {
        EXPECT(0, "cannot read the crc32 datasets of %s", path);
        return;
    }
    int rows[N_TRAIN];
    for (int s = 0; s < n_shards; s++) {
        int n = expected_shard_rows(n_shards, s, rows);
        uLong image_crc = crc32(0L, Z_NULL, 0), label_crc = crc32(0L, Z_NULL, 0);
        for (int i = 0; i < n; i++) {
            image_crc = crc32(image_crc, train_records[rows[i]] + 1, HP_IMAGE_BYTES);
            label_crc = crc32(label_crc, train_records[rows[i]], 1);
        }
        EXPECT(images_crc[s] == image_crc && labels_crc[s] == label_crc,
               "shard %d: crc32 images 0x%08x labels 0x%08x, expected 0x%08lx 0x%08lx", s,
               images_crc[s], labels_crc[s], image_crc, label_crc);
    }
    uLong image_crc = crc32(0L, Z_NULL, 0), label_crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < N_TEST; i++) {
        image_crc = crc32(image_crc, test_records[i] + 1, HP_IMAGE_BYTES);
        label_crc = crc32(label_crc, test_records[i], 1);
    }
    EXPECT(test_crc[0] == image_crc && test_crc[1] == label_crc, "test set crc32 0x%08x 0x%08x",
           test_crc[0], test_crc[1]);

    int64_t row = 0;
    for (int s = 0; s < n_shards; s++) {
        int n = expected_shard_rows(n_shards, s, rows);
        EXPECT(offsets[s] == row && offsets[s + 1] == row + n,
               "shard %d is rows [%lld, %lld), expected [%lld, %lld)", s, (long long)offsets[s],
               (long long)offsets[s + 1], (long long)row, (long long)(row + n));
        hp_dataset ds;
        int one[1] = {s};
        if (hp_dataset_load_shards(&ds, path, one, 1) != 0) {
            EXPECT(0, "loading shard %d: %s", s, hp_error_message());
            return;
        }
        EXPECT(ds.n == n, "shard %d has %d images, expected %d", s, ds.n, n);
        int mismatches = 0;
        int per_class[HP_NUM_CLASSES] = {0};
        for (int i = 0; i < n && i < ds.n; i++) {
            const uint8_t *record = train_records[rows[i]];
            mismatches += ds.labels[i] != record[0];
            mismatches += memcmp(ds.images + (size_t)i * HP_IMAGE_BYTES, record + 1,
                                 HP_IMAGE_BYTES) != 0;
            mismatches += source_index[row + i] != official_source_index(rows[i]);
            per_class[ds.labels[i]]++;
        }
        EXPECT(mismatches == 0, "shard %d: %d label/image/source_index mismatches", s, mismatches);
        /* Class balance: class c contributes ceil or floor of count_c / n_shards. */
        for (int c = 0; c < HP_NUM_CLASSES; c++) {
            int lo = class_count[c] / n_shards, hi = lo + (class_count[c] % n_shards != 0);
            EXPECT(per_class[c] == lo || per_class[c] == hi, "shard %d has %d of class %d (%d total)",
                   s, per_class[c], c, class_count[c]);
        }
        if (s == 0) {
            for (int c = 0; c < HP_NUM_CLASSES; c++)
                EXPECT(strcmp(ds.class_names[c], class_names[c]) == 0, "class %d is '%s'", c,
                       ds.class_names[c]);
        }
        hp_dataset_release(&ds);
        row += n;
    }
    EXPECT(row == N_TRAIN, "shards hold %lld rows", (long long)row);

    /* Every source index exactly once: nothing lost, nothing duplicated. */
    int hits[N_BATCHES][PER_BATCH] = {{0}};
    for (int r = 0; r < N_TRAIN; r++) {
        int b = source_index[r] / 10000, i = source_index[r] % 10000;
        if (b >= 0 && b < N_BATCHES && i >= 0 && i < PER_BATCH)
            hits[b][i]++;
    }
    int wrong = 0;
    for (int b = 0; b < N_BATCHES; b++)
        for (int i = 0; i < PER_BATCH; i++)
            wrong += hits[b][i] != 1;
    EXPECT(wrong == 0, "%d official records not present exactly once", wrong);

    /* Mean and std, summed directly over all training pixels in [0,1]. */
    hp_dataset test;
    if (hp_dataset_load_test(&test, path) != 0) {
        EXPECT(0, "loading the test set: %s", hp_error_message());
        return;
    }
    for (int c = 0; c < HP_IMAGE_C; c++) {
        double sum = 0, squares = 0, count = (double)N_TRAIN * 1024;
        for (int g = 0; g < N_TRAIN; g++)
            for (int i = 0; i < 1024; i++)
                sum += train_records[g][1 + c * 1024 + i] / 255.0;
        double mean = sum / count;
        for (int g = 0; g < N_TRAIN; g++)
            for (int i = 0; i < 1024; i++) {
                double d = train_records[g][1 + c * 1024 + i] / 255.0 - mean;
                squares += d * d;
            }
        /* Stored as float: within half an ulp (1.5e-8 near 0.5) of the double value. */
        EXPECT_NEAR(test.mean[c], mean, 4e-8, "mean");
        EXPECT_NEAR(test.std[c], sqrt(squares / count), 4e-8, "std");
    }
    /* The test set: every record, in the official order. */
    int test_mismatches = test.n == N_TEST ? 0 : 1;
    for (int i = 0; i < N_TEST && i < test.n; i++) {
        test_mismatches += test.labels[i] != test_records[i][0];
        test_mismatches += memcmp(test.images + (size_t)i * HP_IMAGE_BYTES, test_records[i] + 1,
                                  HP_IMAGE_BYTES) != 0;
    }
    EXPECT(test_mismatches == 0, "test set: %d mismatches (n = %d)", test_mismatches, test.n);
    hp_dataset_release(&test);

    /* The 'source' attribute is the input's base name. */
    char stored[128] = "";
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "source", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, sizeof stored);
    EXPECT(a >= 0 && H5Aread(a, t, stored) >= 0 && strcmp(stored, source) == 0,
           "source attribute '%s', expected '%s'", stored, source);
    H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(f);
}

/* ---------------------------------------------------------- tests ---- */

TEST(test_prepare_folder_round_trip)
{
    char *out = path_in(root, "folder.h5");
    EXPECT(hp_prepare_cifar10(src_folder, out, 4) == 0, "%s", hp_error_message());
    check_prepared_file(out, 4, "cifar-10-batches-bin");
    free(out);
}

TEST(test_prepare_parent_folder_round_trip)
{
    char *out = path_in(root, "parent.h5");
    EXPECT(hp_prepare_cifar10(src_parent, out, 3) == 0, "%s", hp_error_message());
    check_prepared_file(out, 3, "src");
    free(out);
}

TEST(test_prepare_tarball_round_trip)
{
    /* Also exercises: out-of-order members, a skipped README, a directory
       entry, a GNU long name (test_batch.bin) and a pax path (data_batch_3). */
    char *out = path_in(root, "tarball.h5");
    EXPECT(hp_prepare_cifar10(tarball, out, 5) == 0, "%s", hp_error_message());
    check_prepared_file(out, 5, "cifar-10-binary.tar.gz");
    free(out);
}

TEST(test_prepare_extreme_shard_counts)
{
    /* One shard (everything, official order) and exactly the rarest count. */
    char *out = path_in(root, "one.h5");
    EXPECT(hp_prepare_cifar10(tarball, out, 1) == 0, "%s", hp_error_message());
    check_prepared_file(out, 1, "cifar-10-binary.tar.gz");
    EXPECT(hp_prepare_cifar10(tarball, out, rarest_count) == 0, "%s", hp_error_message());
    check_prepared_file(out, rarest_count, "cifar-10-binary.tar.gz");
    free(out);
}

TEST(test_load_shards_in_given_order)
{
    char *out = path_in(root, "order.h5");
    if (hp_prepare_cifar10(tarball, out, 5) != 0) {
        EXPECT(0, "%s", hp_error_message());
        free(out);
        return;
    }
    int rows3[N_TRAIN], rows1[N_TRAIN];
    int n3 = expected_shard_rows(5, 3, rows3), n1 = expected_shard_rows(5, 1, rows1);
    hp_dataset ds;
    int shards[2] = {3, 1};
    EXPECT(hp_dataset_load_shards(&ds, out, shards, 2) == 0, "%s", hp_error_message());
    EXPECT(ds.n == n3 + n1, "%d images, expected %d", ds.n, n3 + n1);
    int mismatches = 0;
    for (int i = 0; i < ds.n && i < n3 + n1; i++) {
        const uint8_t *record = train_records[i < n3 ? rows3[i] : rows1[i - n3]];
        mismatches += ds.labels[i] != record[0];
        mismatches += memcmp(ds.images + (size_t)i * HP_IMAGE_BYTES, record + 1, HP_IMAGE_BYTES) != 0;
    }
    EXPECT(mismatches == 0, "%d mismatches in shards {3, 1}", mismatches);
    hp_dataset_release(&ds);
    EXPECT(ds.images == NULL && ds.labels == NULL && ds.n == 0, "release clears the struct");

    int bad[2] = {1, 5};
    EXPECT(hp_dataset_load_shards(&ds, out, bad, 2) == -1, "shard 5 of 5 accepted");
    EXPECT(strstr(hp_error_message(), "shard 5 is out of range") &&
           strstr(hp_error_message(), out), "message: %s", hp_error_message());
    EXPECT(ds.images == NULL && ds.n == 0, "failed load leaves an empty dataset");
    int negative[1] = {-1};
    EXPECT(hp_dataset_load_shards(&ds, out, negative, 1) == -1, "shard -1 accepted");
    free(out);
}

/* Run a preparation that must fail: message contains every needle, and
 * out_dir holds no output and no temporary file afterwards. */
static void expect_refused(const char *from, int n_shards, const char *needle1, const char *needle2)
{
    char *out = path_in(out_dir, "cifar10.h5");
    hp_error_clear();
    int rc = hp_prepare_cifar10(from, out, n_shards);
    const char *msg = hp_error_message();
    EXPECT(rc == -1, "accepted %s (shards %d)", from, n_shards);
    EXPECT(strstr(msg, needle1) != NULL, "message lacks '%s': %s", needle1, msg);
    EXPECT(!needle2 || strstr(msg, needle2) != NULL, "message lacks '%s': %s", needle2, msg);
    char left[256] = "";
    int n = count_entries(out_dir, left, sizeof left);
    EXPECT(n == 0, "%d files left in the output folder after refusing %s, e.g. %s", n, from, left);
    free(out);
}

/* A copy of the source folder with one file replaced (or removed if data is NULL). */
static char *folder_variant(const char *tag, const char *name, const void *data, size_t size)
{
    char *dir = hp_xasprintf("%s/variant-%s", root, tag);
    write_folder(dir);
    char *p = path_in(dir, name);
    if (data)
        write_bytes(p, data, size);
    else
        remove(p);
    free(p);
    return dir;
}

TEST(test_refuses_bad_inputs)
{
    char *missing = path_in(root, "no-such-input");
    expect_refused(missing, 4, "cannot read", missing);
    free(missing);

    /* 100 bytes short of whole records, and an empty batch. */
    char *dir = folder_variant("truncated", "data_batch_2.bin", train_records[PER_BATCH],
                               (size_t)PER_BATCH * RECORD - 100);
    expect_refused(dir, 4, "truncated or not 3073-byte records", "data_batch_2.bin");
    free(dir);
    dir = folder_variant("empty", "test_batch.bin", "", 0);
    expect_refused(dir, 4, "truncated or not 3073-byte records", "test_batch.bin");
    free(dir);

    /* A label above 9 in the last record of batch 5 (and in the test batch). */
    static uint8_t batch[PER_BATCH][RECORD];
    memcpy(batch, train_records[4 * PER_BATCH], sizeof batch);
    batch[PER_BATCH - 1][0] = 10;
    dir = folder_variant("label", "data_batch_5.bin", batch, sizeof batch);
    expect_refused(dir, 4, "label 10", "data_batch_5.bin");
    free(dir);
    static uint8_t tests[N_TEST][RECORD];
    memcpy(tests, test_records, sizeof tests);
    tests[3][0] = 255;
    dir = folder_variant("testlabel", "test_batch.bin", tests, sizeof tests);
    expect_refused(dir, 4, "record 3 has label 255", "test_batch.bin");
    free(dir);

    /* Missing members of a folder and of a tarball, all listed. */
    dir = folder_variant("nometa", "batches.meta.txt", NULL, 0);
    expect_refused(dir, 4, "lacks batches.meta.txt", "binary");
    free(dir);
    char *partial = path_in(root, "partial.tar.gz");
    write_standard_tarball(partial, (1u << 3) | (1u << 5)); /* no data_batch_4, no test_batch */
    expect_refused(partial, 4, "lacks data_batch_4.bin, test_batch.bin", partial);
    free(partial);

    /* Class names: nine lines; a name too long. */
    const char nine[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\n\n";
    dir = folder_variant("nine", "batches.meta.txt", nine, strlen(nine));
    expect_refused(dir, 4, "has 9 class names", "batches.meta.txt");
    free(dir);

    /* The red channel constant over every training image: std 0, nothing to normalise by. */
    static uint8_t flat[N_TRAIN][RECORD];
    memcpy(flat, train_records, sizeof flat);
    for (int g = 0; g < N_TRAIN; g++)
        memset(flat[g] + 1, 77, 1024);
    dir = folder_variant("flat", "data_batch_1.bin", flat[0], (size_t)PER_BATCH * RECORD);
    for (int b = 1; b < N_BATCHES; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_batch(dir, name, flat[b * PER_BATCH], (size_t)PER_BATCH * RECORD);
    }
    expect_refused(dir, 4, "channel 0 of the training images never varies", NULL);
    free(dir);

    /* Not a tarball at all; a gzip stream cut in half; a tar cut inside a member. */
    char *text = path_in(root, "notes.txt");
    write_bytes(text, "hello, not a tarball\n", 21);
    expect_refused(text, 4, "neither a CIFAR-10 .tar.gz archive nor a folder", text);
    free(text);
    size_t size;
    uint8_t *whole = read_bytes(tarball, &size);
    char *cut = path_in(root, "cut.tar.gz");
    write_bytes(cut, whole, size / 2);
    expect_refused(cut, 4, "truncated", cut);
    free(whole);
    free(cut);

    /* Shard counts: below 1, and one more than the rarest class holds. */
    expect_refused(tarball, 0, "at least 1", NULL);
    expect_refused(tarball, -3, "at least 1", NULL);
    expect_refused(tarball, rarest_count + 1, "rarest class", NULL);
}

TEST(test_refuses_unwritable_output)
{
    const char *cases[3];
    char *no_dir = hp_xasprintf("%s/no-such-dir/cifar10.h5", root);
    char *under_file = hp_xasprintf("%s/cifar-10-binary.tar.gz/cifar10.h5", root);
    cases[0] = no_dir;
    cases[1] = under_file;
    cases[2] = out_dir; /* a directory */
    for (int i = 0; i < 3; i++) {
        EXPECT(hp_prepare_cifar10(tarball, cases[i], 4) == -1, "wrote %s", cases[i]);
        EXPECT(strstr(hp_error_message(), cases[i]) != NULL, "message: %s", hp_error_message());
    }
    EXPECT(strstr(hp_error_message(), "is a directory"), "message: %s", hp_error_message());
    EXPECT(hp_prepare_cifar10(tarball, tarball, 4) == -1, "overwrote the input");
    size_t size;
    uint8_t *still = read_bytes(tarball, &size);
    EXPECT(still && size > 0, "the input survives");
    free(still);
    EXPECT(count_entries(out_dir, NULL, 0) == 0, "output folder not empty");
    free(no_dir);
    free(under_file);
}

TEST(test_failed_run_keeps_previous_output)
{
    /* Writing to a temporary name means a refused run does not clobber a good file. */
    char *out = path_in(root, "keep.h5");
    EXPECT(hp_prepare_cifar10(tarball, out, 2) == 0, "%s", hp_error_message());
    EXPECT(hp_prepare_cifar10(tarball, out, rarest_count + 1) == -1, "too many shards accepted");
    int n_shards = 0;
    EXPECT(hp_dataset_info(out, &n_shards, NULL, NULL) == 0 && n_shards == 2,
           "previous file damaged: %s", hp_error_message());
    free(out);
}

/* ------------------------------------------- damaged files, reader ---- */

static char *copy_of_good_file(const char *tag)
{
    static char *good;
    if (!good) {
        good = path_in(root, "good.h5");
        if (hp_prepare_cifar10(tarball, good, 4) != 0)
            HP_PANIC("%s", hp_error_message());
    }
    size_t size;
    uint8_t *bytes = read_bytes(good, &size);
    char *copy = hp_xasprintf("%s/damaged-%s.h5", root, tag);
    write_bytes(copy, bytes, size);
    free(bytes);
    return copy;
}

static void replace_dataset(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                            const void *data)
{
    H5Ldelete(f, name, H5P_DEFAULT);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        HP_PANIC("cannot write %s", name);
    H5Dclose(d);
    H5Sclose(space);
}

/* Damage a copy with `damage`, then every reader entry point must refuse it
 * with a message naming the file and containing `needle`. */
static void expect_reader_refuses(const char *tag, void (*damage)(hid_t), const char *needle)
{
    char *path = copy_of_good_file(tag);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    damage(f);
    H5Fclose(f);
    hp_dataset ds;
    int shard[1] = {0};
    hp_error_clear();
    int results[3] = {hp_dataset_info(path, NULL, NULL, NULL),
                      hp_dataset_load_shards(&ds, path, shard, 1), hp_dataset_load_test(&ds, path)};
    const char *msg = hp_error_message();
    for (int i = 0; i < 3; i++)
        EXPECT(results[i] == -1, "%s: entry point %d accepted the damaged file", tag, i);
    EXPECT(strstr(msg, needle) != NULL, "%s: message lacks '%s': %s", tag, needle, msg);
    EXPECT(strstr(msg, path) != NULL, "%s: message does not name the file: %s", tag, msg);
    EXPECT(strstr(msg, "hptune prepare") != NULL, "%s: message does not say what to do: %s", tag, msg);
    free(path);
}

static void drop_labels(hid_t f) { H5Ldelete(f, "train/labels", H5P_DEFAULT); }
static void drop_meta(hid_t f) { H5Ldelete(f, "meta", H5P_DEFAULT); }
static void mean_as_double(hid_t f)
{
    double mean[3] = {0.5, 0.5, 0.5};
    hsize_t dims[1] = {3};
    replace_dataset(f, "meta/mean", H5T_NATIVE_DOUBLE, 1, dims, mean);
}
static void short_labels(hid_t f)
{
    uint8_t labels[N_TRAIN - 1] = {0};
    hsize_t dims[1] = {N_TRAIN - 1};
    replace_dataset(f, "train/labels", H5T_NATIVE_UINT8, 1, dims, labels);
}
static void images_rank3(hid_t f)
{
    static uint8_t images[N_TEST * 3 * 1024];
    hsize_t dims[3] = {N_TEST, 3, 1024};
    replace_dataset(f, "test/images", H5T_NATIVE_UINT8, 3, dims, images);
}
static void set_version(hid_t f, int version)
{
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &version);
    H5Aclose(a);
}
static void version_one(hid_t f) { set_version(f, 1); }
static void version_three(hid_t f) { set_version(f, 3); }
static void no_version(hid_t f) { H5Adelete(f, "format_version"); }
static void offsets_decreasing(hid_t f)
{
    int64_t offsets[5] = {0, 60, 40, 150, N_TRAIN};
    hsize_t dims[1] = {5};
    replace_dataset(f, "train/shard_offsets", H5T_NATIVE_INT64, 1, dims, offsets);
}

static void crc_as_int64(hid_t f)
{
    int64_t crc[4] = {0};
    hsize_t dims[1] = {4};
    replace_dataset(f, "train/images_crc32", H5T_NATIVE_INT64, 1, dims, crc);
}
static void crc_short(hid_t f)
{
    uint32_t crc[3] = {0};
    hsize_t dims[1] = {3};
    replace_dataset(f, "train/labels_crc32", H5T_NATIVE_UINT32, 1, dims, crc);
}
static void no_test_crc(hid_t f) { H5Ldelete(f, "test/images_crc32", H5P_DEFAULT); }

TEST(test_reader_refuses_damaged_files)
{
    expect_reader_refuses("crctype", crc_as_int64,
                          "/train/images_crc32 holds int64 elements, expected uint32");
    expect_reader_refuses("crcshape", crc_short, "/train/labels_crc32 has shape (3), expected (4)");
    expect_reader_refuses("nocrc", no_test_crc, "has no dataset /test/images_crc32");
    expect_reader_refuses("nolabels", drop_labels, "has no dataset /train/labels");
    expect_reader_refuses("nometa", drop_meta, "has no dataset /meta/class_names");
    expect_reader_refuses("meantype", mean_as_double, "/meta/mean holds float64 elements, expected float32");
    char shape[64];
    snprintf(shape, sizeof shape, "has shape (%d), expected (%d)", N_TRAIN - 1, N_TRAIN);
    expect_reader_refuses("labelshape", short_labels, shape);
    expect_reader_refuses("rank", images_rank3, "/test/images has shape (20, 3, 1024)");
    expect_reader_refuses("version1", version_one, "format_version 1 (written by an earlier");
    expect_reader_refuses("version3", version_three, "format_version 3");
    expect_reader_refuses("noversion", no_version, "no 'format_version' attribute");
    expect_reader_refuses("offsets", offsets_decreasing, "shard_offsets is inconsistent");
}

/* Flip one byte of a dataset's stored data in the file itself (the datasets
 * are contiguous, so H5Dget_offset gives where their bytes are). */
static void flip_stored_bits(const char *path, const char *name, hsize_t index, uint8_t mask)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    haddr_t offset = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    if (offset == HADDR_UNDEF)
        HP_PANIC("%s has no contiguous storage", name);
    int fd = open(path, O_RDWR);
    uint8_t byte;
    if (fd < 0 || pread(fd, &byte, 1, (off_t)(offset + index)) != 1)
        HP_PANIC("cannot read %s", path);
    byte ^= mask;
    if (pwrite(fd, &byte, 1, (off_t)(offset + index)) != 1 || close(fd) != 0)
        HP_PANIC("cannot write %s", path);
}

TEST(test_flipped_byte_is_refused)
{
    int rows[N_TRAIN];
    int n0 = expected_shard_rows(4, 0, rows), n1 = expected_shard_rows(4, 1, rows);
    /* One byte in the middle of shard 1's images (the file holds shard 0 first). */
    char *path = copy_of_good_file("flipimage");
    flip_stored_bits(path, "train/images", (hsize_t)(n0 + n1 / 2) * HP_IMAGE_BYTES + 77, 0x10);
    hp_dataset ds;
    int shard1[1] = {1}, others[3] = {0, 2, 3};
    EXPECT(hp_dataset_load_shards(&ds, path, shard1, 1) == -1, "a flipped image byte was loaded");
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, path) && strstr(msg, "/train/images") && strstr(msg, "shard 1") &&
           strstr(msg, "checksum") && strstr(msg, "hptune prepare"), "message: %s", msg);
    EXPECT(hp_dataset_load_shards(&ds, path, others, 3) == 0, "the intact shards: %s",
           hp_error_message());
    hp_dataset_release(&ds);
    EXPECT(hp_dataset_load_test(&ds, path) == 0, "the intact test set: %s", hp_error_message());
    hp_dataset_release(&ds);
    free(path);

    path = copy_of_good_file("fliplabel");
    flip_stored_bits(path, "train/labels", 0, 0x01); /* still a valid label (0..9): only the checksum can tell */
    int shard0[1] = {0};
    EXPECT(hp_dataset_load_shards(&ds, path, shard0, 1) == -1, "a flipped label byte was loaded");
    msg = hp_error_message();
    EXPECT(strstr(msg, path) && strstr(msg, "/train/labels") && strstr(msg, "checksum"),
           "message: %s", msg);
    free(path);

    path = copy_of_good_file("fliptest");
    flip_stored_bits(path, "test/images", (hsize_t)N_TEST * HP_IMAGE_BYTES - 1, 0x80); /* the last byte */
    EXPECT(hp_dataset_load_test(&ds, path) == -1, "a flipped test image byte was loaded");
    msg = hp_error_message();
    EXPECT(strstr(msg, path) && strstr(msg, "/test/images") && strstr(msg, "checksum"),
           "message: %s", msg);
    free(path);
}

/* A write that fails (the file size limit stands in for a full disk: write()
 * fails with EFBIG) keeps the previous file and leaves no temporary file. */
TEST(test_write_failure_keeps_previous_file)
{
    char *dir = path_in(root, "limited");
    mkdir(dir, 0755);
    char *out = path_in(dir, "keep.h5");
    EXPECT(hp_prepare_cifar10(tarball, out, 2) == 0, "%s", hp_error_message());
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 64 * 1024; /* the file is about 700 kB */
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    int rc = hp_prepare_cifar10(tarball, out, 3);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, previous);
    const char *msg = hp_error_message();
    EXPECT(rc == -1, "the write succeeded despite the file size limit");
    EXPECT(strstr(msg, out) && strstr(msg, strerror(EFBIG)) && strstr(msg, "is unchanged"),
           "message: %s", msg);
    int n_shards = 0;
    EXPECT(hp_dataset_info(out, &n_shards, NULL, NULL) == 0 && n_shards == 2,
           "previous file damaged: %s", hp_error_message());
    char first[256] = "";
    EXPECT(count_entries(dir, first, sizeof first) == 1, "files left besides keep.h5 (e.g. %s)",
           first);
    free(out);
    free(dir);
}

TEST(test_reader_refuses_missing_and_foreign_files)
{
    char *missing = path_in(root, "missing.h5");
    EXPECT(hp_dataset_info(missing, NULL, NULL, NULL) == -1, "missing file accepted");
    EXPECT(strstr(hp_error_message(), missing) && strstr(hp_error_message(), "hptune prepare"),
           "message: %s", hp_error_message());
    free(missing);
    hp_dataset ds;
    EXPECT(hp_dataset_load_test(&ds, tarball) == -1, "a tarball accepted as HDF5");
    EXPECT(strstr(hp_error_message(), "is not an HDF5 file"), "message: %s", hp_error_message());
    EXPECT(hp_dataset_info(root, NULL, NULL, NULL) == -1, "a directory accepted");
}

/* An HDF5-level failure is reported once, with our source location and
 * HDF5's innermost description, and HDF5 prints nothing by itself. */
static void train_is_a_dataset(hid_t f)
{
    H5Ldelete(f, "train", H5P_DEFAULT);
    uint8_t x[1] = {0};
    hsize_t dims[1] = {1};
    replace_dataset(f, "train", H5T_NATIVE_UINT8, 1, dims, x);
}

TEST(test_hdf5_errors_are_one_message)
{
    char *path = copy_of_good_file("hdf5error");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    train_is_a_dataset(f);
    H5Fclose(f);

    char *captured = path_in(root, "stderr.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    close(fd);
    int rc = hp_dataset_info(path, NULL, NULL, NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    const char *msg = hp_error_message();
    EXPECT(rc == -1, "a file whose /train is a dataset was accepted");
    EXPECT(strstr(msg, "src/data/dataset.c:") == msg, "no source location first: %s", msg);
    EXPECT(strstr(msg, "HDF5: ") && strstr(msg, path), "no HDF5 message or file: %s", msg);
    size_t size = 1;
    uint8_t *printed = read_bytes(captured, &size);
    EXPECT(printed && size == 0, "HDF5 printed %zu bytes to stderr: %.200s", size,
           printed ? (char *)printed : "");
    free(printed);
    free(captured);
    free(path);
}

/* ------------------------------------------------------------- CLI ---- */

TEST(test_cli)
{
    char *out = path_in(root, "cli.h5");
    char *from_arg = hp_xasprintf("--from=%s", tarball);
    char *argv_ok[] = {"prepare", from_arg, "--out", out, "--shards", "3", NULL};
    EXPECT(cmd_prepare(6, argv_ok) == 0, "%s", hp_error_message());
    int n_shards = 0;
    EXPECT(hp_dataset_info(out, &n_shards, NULL, NULL) == 0 && n_shards == 3, "shards %d", n_shards);

    char *help[] = {"prepare", "--help", NULL};
    EXPECT(cmd_prepare(2, help) == 0, "--help fails");
    char *unknown[] = {"prepare", "--from", tarball, "--out", out, "--bogus", NULL};
    EXPECT(cmd_prepare(6, unknown) != 0, "unknown flag accepted");
    char *no_value[] = {"prepare", "--from", tarball, "--out", NULL};
    EXPECT(cmd_prepare(4, no_value) != 0, "--out without a value accepted");
    char *no_out[] = {"prepare", "--from", tarball, NULL};
    EXPECT(cmd_prepare(3, no_out) != 0, "missing --out accepted");
    char *bad_shards[] = {"prepare", "--from", tarball, "--out", out, "--shards", "2x", NULL};
    EXPECT(cmd_prepare(7, bad_shards) != 0, "--shards 2x accepted");
    char *zero_shards[] = {"prepare", "--from", tarball, "--out", out, "--shards", "0", NULL};
    EXPECT(cmd_prepare(7, zero_shards) != 0, "--shards 0 accepted");
    EXPECT(hp_dataset_info(out, &n_shards, NULL, NULL) == 0 && n_shards == 3,
           "refused runs changed the file");
    free(from_arg);
    free(out);
}

int main(void)
{
    if (setup() != 0) {
        printf("FAIL setup: cannot create a temporary folder\n");
        return 1;
    }
    RUN(test_prepare_folder_round_trip);
    RUN(test_prepare_parent_folder_round_trip);
    RUN(test_prepare_tarball_round_trip);
    RUN(test_prepare_extreme_shard_counts);
    RUN(test_load_shards_in_given_order);
    RUN(test_refuses_bad_inputs);
    RUN(test_refuses_unwritable_output);
    RUN(test_failed_run_keeps_previous_output);
    RUN(test_reader_refuses_damaged_files);
    RUN(test_flipped_byte_is_refused);
    RUN(test_write_failure_keeps_previous_file);
    RUN(test_reader_refuses_missing_and_foreign_files);
    RUN(test_hdf5_errors_are_one_message);
    RUN(test_cli);
    remove_tree(root);
    return testlib_finish();
}
