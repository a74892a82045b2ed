/* prepare.c - `hptune prepare`: official CIFAR-10 binary version -> one HDF5 file.
 *
 * Input: cifar-10-binary.tar.gz (read with zlib, tar headers parsed here) or
 * the extracted cifar-10-batches-bin/ folder (or its parent).  Each batch is
 * a sequence of 3073-byte records: 1 label byte, then 3072 pixel bytes
 * (1024 R, 1024 G, 1024 B, row-major), i.e. already (3, 32, 32) CHW.
 *
 * Output layout: include/dataset.h.  The j-th training image of class c (in
 * the official order: batch 1 row 0 first) goes to shard j % n_shards, and
 * each shard keeps the official order, so every shard is class-balanced and
 * the file is a pure function of the input.  It carries zlib crc32s of each
 * shard's images and labels and of the test set, which the reader verifies.
 * The file is built in memory and written under a temporary name, fsync()ed
 * and renamed (h5util.h), so a failed run (a full disk included) leaves
 * neither a partial file nor a temporary one, and any previous file intact.
 */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cli_options.h"
#include "error.h"
#include "h5util.h"

#define RECORD_BYTES (1 + HP_IMAGE_BYTES) /* 3073: label + (3, 32, 32) pixels */
#define N_TRAIN_BATCHES 5
/* source_index = batch * 10000 + row stays unique only up to 10000 rows. */
#define MAX_BATCH_RECORDS 10000
#define MAX_META_BYTES 65536
#define TAR_BLOCK 512
#define CLASS_NAME_BYTES ((int)sizeof(((hp_dataset *)0)->class_names[0])) /* 32 */
#define FETCH_HINT "datasets/get_cifar10.sh fetches the official cifar-10-binary.tar.gz"

enum member {
    MEMBER_TEST = N_TRAIN_BATCHES, /* 0..4 are data_batch_1..5.bin */
    MEMBER_META,
    N_MEMBERS
};
static const char *const member_names[N_MEMBERS] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin", "test_batch.bin",   "batches.meta.txt",
};

/* The input files, loaded whole. */
typedef struct cifar_input {
    const char *from;             /* as given */
    uint8_t *data[N_MEMBERS];     /* owned; NULL until found */
    size_t size[N_MEMBERS];
    char *where[N_MEMBERS];       /* "<folder>/x.bin" or "<tarball>: member", for messages; owned */
} cifar_input;

/* Everything that goes into the file. */
typedef struct prepared {
    int n_train, n_test, n_shards;
    uint8_t *train_images;        /* (n_train, 3, 32, 32), shard by shard; owned */
    uint8_t *train_labels;        /* (n_train); owned */
    int32_t *source_index;        /* (n_train); owned */
    int64_t *shard_offsets;       /* (n_shards + 1); owned */
    uint8_t *test_images;         /* (n_test, 3, 32, 32); owned */
    uint8_t *test_labels;         /* (n_test); owned */
    char class_names[HP_NUM_CLASSES][32];
    float mean[HP_IMAGE_C], std[HP_IMAGE_C];
} prepared;

typedef struct prepare_summary {
    int n_train, n_test, n_shards, smallest_shard, largest_shard;
    float mean[HP_IMAGE_C], std[HP_IMAGE_C];
    double seconds;
} prepare_summary;

static void release_input(cifar_input *in)
{
    for (int m = 0; m < N_MEMBERS; m++) {
        free(in->data[m]);
        free(in->where[m]);
    }
    memset(in, 0, sizeof *in);
}

static void release_prepared(prepared *p)
{
    free(p->train_images);
    free(p->train_labels);
    free(p->source_index);
    free(p->shard_offsets);
    free(p->test_images);
    free(p->test_labels);
    memset(p, 0, sizeof *p);
}

static int member_index(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    for (int m = 0; m < N_MEMBERS; m++)
        if (strcmp(base, member_names[m]) == 0)
            return m;
    return -1;
}

/* A batch member must hold a whole, non-zero number of records. */
static int check_member_size(const cifar_input *in, int m, size_t size)
{
    if (m == MEMBER_META) {
        if (size > MAX_META_BYTES)
            return HP_ERR("%s is %zu bytes, too large for a list of class names; %s",
                          in->where[m], size, FETCH_HINT);
        return 0;
    }
    if (size == 0 || size % RECORD_BYTES != 0)
        return HP_ERR("%s is truncated or not 3073-byte records (%zu bytes); the input is not the "
                      "intact CIFAR-10 binary version; %s", in->where[m], size, FETCH_HINT);
    if (size / RECORD_BYTES > MAX_BATCH_RECORDS)
        return HP_ERR("%s holds %zu records, more than the %d of a CIFAR-10 batch; %s",
                      in->where[m], size / RECORD_BYTES, MAX_BATCH_RECORDS, FETCH_HINT);
    return 0;
}

/* "a, b, c" of the members not found, for the message. */
static int report_missing(const cifar_input *in, const char *what, const char *path)
{
    char missing[256] = "";
    for (int m = 0; m < N_MEMBERS; m++)
        if (!in->data[m])
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", member_names[m]);
    return HP_ERR("%s %s lacks %s: expected the CIFAR-10 *binary* version (data_batch_1.bin .. "
                  "data_batch_5.bin, test_batch.bin, batches.meta.txt); %s",
                  what, path, missing, FETCH_HINT);
}

/* ---- the extracted folder ---- */

static int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int read_folder(cifar_input *in)
{
    /* Accept cifar-10-batches-bin/ itself or the folder that contains it. */
    char *nested = hp_xasprintf("%s/cifar-10-batches-bin", in->from);
    char *probe = hp_xasprintf("%s/%s", in->from, member_names[0]);
    const char *folder = (access(probe, F_OK) != 0 && is_directory(nested)) ? nested : in->from;
    int rc = -1;

    for (int m = 0; m < N_MEMBERS; m++) {
        in->where[m] = hp_xasprintf("%s/%s", folder, member_names[m]);
        FILE *f = fopen(in->where[m], "rb");
        if (!f) {
            if (errno == ENOENT)
                continue; /* listed together below */
            HP_ERR("cannot read %s: %s", in->where[m], strerror(errno));
            goto free_paths;
        }
        struct stat st;
        if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
            HP_ERR("%s is not a regular file", in->where[m]);
            fclose(f);
            goto free_paths;
        }
        size_t size = (size_t)st.st_size;
        if (check_member_size(in, m, size) < 0) {
            fclose(f);
            goto free_paths;
        }
        in->data[m] = hp_xcalloc(size + 1, 1); /* +1: the meta text gets a terminator */
        in->size[m] = size;
        size_t got = fread(in->data[m], 1, size, f);
        int read_error = ferror(f);
        fclose(f);
        if (got != size) {
            HP_ERR("cannot read %s: %s", in->where[m],
                   read_error ? strerror(errno) : "file shrank while reading");
            goto free_paths;
        }
    }
    for (int m = 0; m < N_MEMBERS; m++)
        if (!in->data[m]) {
            report_missing(in, "folder", folder);
            goto free_paths;
        }
    rc = 0;
free_paths:
    free(probe);
    free(nested);
    return rc;
}

/* ---- the .tar.gz ---- */

typedef struct tar_reader {
    const char *path;
    gzFile gz;
} tar_reader;

/* Read exactly n bytes.  Returns 0, or -1 with a message naming what was
 * being read when the archive ended early or zlib reported damage. */
static int tar_read(tar_reader *tr, void *buf, size_t n, const char *reading)
{
    uint8_t *out = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(tr->gz, out, chunk);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(tr->gz, &zerr);
            return HP_ERR("%s is damaged (zlib: %s while reading %s); %s", tr->path, msg, reading,
                          FETCH_HINT);
        }
        if (got == 0)
            return HP_ERR("%s is truncated (it ends inside %s); %s", tr->path, reading, FETCH_HINT);
        out += got;
        n -= (size_t)got;
    }
    return 0;
}

static int tar_skip(tar_reader *tr, size_t n, const char *reading)
{
    uint8_t scratch[65536];
    while (n > 0) {
        size_t chunk = n < sizeof scratch ? n : sizeof scratch;
        if (tar_read(tr, scratch, chunk, reading) < 0)
            return -1;
        n -= chunk;
    }
    return 0;
}

static size_t tar_padding(size_t size)
{
    return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

/* Numeric header field: octal text (NUL/space terminated) or GNU base-256. */
static int tar_number(const uint8_t *field, int len, uint64_t *value)
{
    uint64_t v = 0;
    if (field[0] & 0x80) {
        v = field[0] & 0x3f;
        for (int i = 1; i < len; i++) {
            if (v >> 55)
                return -1;
            v = (v << 8) | field[i];
        }
        *value = v;
        return 0;
    }
    int i = 0, digits = 0;
    while (i < len && field[i] == ' ')
        i++;
    for (; i < len && field[i] >= '0' && field[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(field[i] - '0');
    }
    if (digits == 0 || (i < len && field[i] != '\0' && field[i] != ' '))
        return -1;
    *value = v;
    return 0;
}

static int tar_checksum_ok(const uint8_t *h)
{
    uint64_t stored;
    if (tar_number(h + 148, 8, &stored) < 0)
        return 0;
    /* The checksum field counts as eight spaces; old tars summed signed bytes. */
    long unsigned_sum = 8 * ' ', signed_sum = 8 * ' ';
    for (int i = 0; i < TAR_BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        unsigned_sum += h[i];
        signed_sum += (signed char)h[i];
    }
    return (uint64_t)unsigned_sum == stored || (long)stored == signed_sum;
}

static int all_zero(const uint8_t *block)
{
    for (int i = 0; i < TAR_BLOCK; i++)
        if (block[i])
            return 0;
    return 1;
}

/* "path=..." from a pax extended header ("<len> key=value\n" records). */
static char *pax_path(const char *text, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        char *end;
        unsigned long len = strtoul(text + pos, &end, 10);
        if (len == 0 || pos + len > size || *end != ' ')
            return NULL;
        const char *key = end + 1;
        const char *record_end = text + pos + len; /* the record's '\n' is at record_end - 1 */
        if (record_end - key > 5 && strncmp(key, "path=", 5) == 0)
            return strndup(key + 5, (size_t)(record_end - 1 - (key + 5)));
        pos += len;
    }
    return NULL;
}

static int read_archive(cifar_input *in)
{
    tar_reader tr = {in->from, gzopen(in->from, "rb")};
    if (!tr.gz)
        return HP_ERR("cannot open %s: %s", in->from, errno ? strerror(errno) : "out of memory");
    gzbuffer(tr.gz, 1 << 17);

    int rc = -1, n_found = 0, n_headers = 0;
    char *long_name = NULL;  /* from a GNU 'L' or pax 'x' entry, names the next entry; owned */
    char *entry_name = NULL; /* the current entry's full path; owned */
    uint8_t header[TAR_BLOCK];
    while (n_found < N_MEMBERS) {
        int got = gzread(tr.gz, header, TAR_BLOCK);
        int zlib_error = Z_OK;
        const char *zlib_message = got == TAR_BLOCK ? "" : gzerror(tr.gz, &zlib_error);
        if (got < 0 || (zlib_error != Z_OK && zlib_error != Z_BUF_ERROR)) {
            HP_ERR("%s is damaged or not gzip data (zlib: %s); %s", in->from, zlib_message,
                   FETCH_HINT);
            goto close_archive;
        }
        if (got == 0 && n_headers > 0 && zlib_error == Z_OK)
            break; /* end of data without the two zero blocks: tolerated */
        if (got != TAR_BLOCK) {
            if (n_headers == 0)
                HP_ERR("%s is neither a CIFAR-10 .tar.gz archive nor a folder (too short for a "
                       "tar header); %s", in->from, FETCH_HINT);
            else
                HP_ERR("%s is truncated (it ends after %d tar entries); %s", in->from, n_headers,
                       FETCH_HINT);
            goto close_archive;
        }
        if (all_zero(header))
            break; /* end-of-archive marker */
        if (!tar_checksum_ok(header)) {
            if (n_headers == 0)
                HP_ERR("%s is neither a CIFAR-10 .tar.gz archive nor a folder (no tar header); %s",
                       in->from, FETCH_HINT);
            else
                HP_ERR("%s is damaged (bad tar header after %d entries); %s", in->from, n_headers,
                       FETCH_HINT);
            goto close_archive;
        }
        n_headers++;

        uint64_t size64;
        if (tar_number(header + 124, 12, &size64) < 0 || size64 > (uint64_t)1 << 40) {
            HP_ERR("%s is damaged (bad size in tar entry %d); %s", in->from, n_headers, FETCH_HINT);
            goto close_archive;
        }
        size_t size = (size_t)size64;
        char type = (char)header[156];

        free(entry_name);
        if (long_name)
            entry_name = long_name;
        else if (memcmp(header + 257, "ustar", 5) == 0 && header[345])
            entry_name = hp_xasprintf("%.155s/%.100s", (const char *)header + 345,
                                      (const char *)header);
        else
            entry_name = hp_xasprintf("%.100s", (const char *)header);
        long_name = NULL;

        if (type == 'L' || type == 'x') {
            /* The name of the next entry: GNU long name, or a pax "path" record. */
            if (size > 65536) {
                HP_ERR("%s is damaged (oversized tar extension entry); %s", in->from, FETCH_HINT);
                goto close_archive;
            }
            char *text = hp_xcalloc(size + 1, 1);
            if (tar_read(&tr, text, size, "a tar header") < 0 ||
                tar_skip(&tr, tar_padding(size), "a tar header") < 0) {
                free(text);
                goto close_archive;
            }
            if (type == 'L') {
                long_name = text;
            } else {
                long_name = pax_path(text, size);
                free(text);
            }
            continue;
        }

        int m = (type == '0' || type == '\0' || type == '7') ? member_index(entry_name) : -1;
        if (m < 0) {
            /* Directories, README, links, pax globals ...: not ours. */
            if (tar_skip(&tr, size + tar_padding(size), entry_name) < 0)
                goto close_archive;
            continue;
        }
        if (in->data[m]) {
            HP_ERR("%s contains %s twice; %s", in->from, member_names[m], FETCH_HINT);
            goto close_archive;
        }
        in->where[m] = hp_xasprintf("%s: %s", in->from, entry_name);
        if (check_member_size(in, m, size) < 0)
            goto close_archive;
        in->data[m] = hp_xcalloc(size + 1, 1); /* +1: the meta text gets a terminator */
        in->size[m] = size;
        if (tar_read(&tr, in->data[m], size, entry_name) < 0 ||
            tar_skip(&tr, tar_padding(size), entry_name) < 0)
            goto close_archive;
        n_found++;
    }
    if (n_found < N_MEMBERS) {
        report_missing(in, "archive", in->from);
        goto close_archive;
    }
    rc = 0;
close_archive:
    free(entry_name);
    free(long_name);
    gzclose(tr.gz);
    return rc;
}

/* ---- conversion ---- */

static int parse_class_names(const cifar_input *in, prepared *p)
{
    const char *text = (const char *)in->data[MEMBER_META]; /* NUL-terminated (+1 byte) */
    const char *where = in->where[MEMBER_META];
    size_t size = in->size[MEMBER_META];
    int count = 0;
    for (size_t pos = 0; pos < size;) {
        size_t end = pos;
        while (end < size && text[end] != '\n')
            end++;
        size_t a = pos, b = end; /* trim spaces and the '\r' of CRLF files */
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (b > a) {
            if (count == HP_NUM_CLASSES)
                return HP_ERR("%s has more than %d class names (non-empty lines); %s", where,
                              HP_NUM_CLASSES, FETCH_HINT);
            if (b - a >= (size_t)CLASS_NAME_BYTES)
                return HP_ERR("%s: class name on line %d is longer than %d characters; %s", where,
                              count + 1, CLASS_NAME_BYTES - 1, FETCH_HINT);
            for (size_t i = a; i < b; i++)
                if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
                    return HP_ERR("%s: class name %d contains control characters; %s", where,
                                  count + 1, FETCH_HINT);
            memcpy(p->class_names[count], text + a, b - a);
            p->class_names[count][b - a] = '\0';
            count++;
        }
        pos = end + 1;
    }
    if (count != HP_NUM_CLASSES)
        return HP_ERR("%s has %d class names, expected %d non-empty lines; %s", where, count,
                      HP_NUM_CLASSES, FETCH_HINT);
    return 0;
}

static int check_labels(const cifar_input *in, int m)
{
    size_t n = in->size[m] / RECORD_BYTES;
    for (size_t r = 0; r < n; r++) {
        int label = in->data[m][r * RECORD_BYTES];
        if (label >= HP_NUM_CLASSES)
            return HP_ERR("%s: record %zu has label %d, above %d: not the CIFAR-10 binary version "
                          "(CIFAR-100 records have two label bytes); %s", in->where[m], r, label,
                          HP_NUM_CLASSES - 1, FETCH_HINT);
    }
    return 0;
}

/* Per-channel mean and (population) std in [0,1] units, from byte histograms:
 * exact counts, then two-pass sums in double. */
static void channel_statistics(const cifar_input *in, float mean[HP_IMAGE_C], float std[HP_IMAGE_C])
{
    uint64_t histogram[HP_IMAGE_C][256] = {{0}};
    uint64_t n_images = 0;
    for (int b = 0; b < N_TRAIN_BATCHES; b++) {
        size_t n = in->size[b] / RECORD_BYTES;
        for (size_t r = 0; r < n; r++) {
            const uint8_t *pixels = in->data[b] + r * RECORD_BYTES + 1; /* (3, 32, 32) */
            for (int c = 0; c < HP_IMAGE_C; c++) {
                const uint8_t *plane = pixels + c * HP_IMAGE_H * HP_IMAGE_W;
                for (int i = 0; i < HP_IMAGE_H * HP_IMAGE_W; i++)
                    histogram[c][plane[i]]++;
            }
        }
        n_images += n;
    }
    double count = (double)n_images * HP_IMAGE_H * HP_IMAGE_W;
    for (int c = 0; c < HP_IMAGE_C; c++) {
        double sum = 0.0;
        for (int v = 0; v < 256; v++)
            sum += (double)histogram[c][v] * (v / 255.0);
        double m = sum / count, squares = 0.0;
        for (int v = 0; v < 256; v++) {
            double d = v / 255.0 - m;
            squares += (double)histogram[c][v] * d * d;
        }
        mean[c] = (float)m;
        std[c] = (float)sqrt(squares / count);
    }
}

/* Validate the records and lay them out shard by shard (include/dataset.h). */
static int convert(const cifar_input *in, int n_shards, prepared *p)
{
    if (parse_class_names(in, p) < 0)
        return -1;
    for (int m = 0; m < N_TRAIN_BATCHES; m++)
        if (check_labels(in, m) < 0)
            return -1;
    if (check_labels(in, MEMBER_TEST) < 0)
        return -1;

    long long class_count[HP_NUM_CLASSES] = {0};
    int n_train = 0;
    for (int b = 0; b < N_TRAIN_BATCHES; b++) {
        size_t n = in->size[b] / RECORD_BYTES;
        for (size_t r = 0; r < n; r++)
            class_count[in->data[b][r * RECORD_BYTES]]++;
        n_train += (int)n;
    }
    int rarest = 0;
    for (int c = 1; c < HP_NUM_CLASSES; c++)
        if (class_count[c] < class_count[rarest])
            rarest = c;
    if (n_shards > class_count[rarest])
        return HP_ERR("--shards %d is more than the %lld training images of the rarest class "
                      "(%d, %s) in %s; every shard needs each class: use --shards %lld or fewer",
                      n_shards, class_count[rarest], rarest, p->class_names[rarest], in->from,
                      class_count[rarest]);

    p->n_train = n_train;
    p->n_shards = n_shards;
    p->n_test = (int)(in->size[MEMBER_TEST] / RECORD_BYTES);
    p->train_images = hp_xcalloc((size_t)n_train, HP_IMAGE_BYTES);
    p->train_labels = hp_xcalloc((size_t)n_train, 1);
    p->source_index = hp_xcalloc((size_t)n_train, sizeof *p->source_index);
    p->shard_offsets = hp_xcalloc((size_t)n_shards + 1, sizeof *p->shard_offsets);
    p->test_images = hp_xcalloc((size_t)p->n_test, HP_IMAGE_BYTES);
    p->test_labels = hp_xcalloc((size_t)p->n_test, 1);

    /* Pass 1: shard sizes.  Pass 2: place each record at its shard's cursor. */
    int64_t *cursor = hp_xcalloc((size_t)n_shards, sizeof *cursor);
    long long seen[HP_NUM_CLASSES] = {0};
    for (int b = 0; b < N_TRAIN_BATCHES; b++) {
        size_t n = in->size[b] / RECORD_BYTES;
        for (size_t r = 0; r < n; r++)
            p->shard_offsets[seen[in->data[b][r * RECORD_BYTES]]++ % n_shards + 1]++;
    }
    for (int s = 0; s < n_shards; s++) {
        p->shard_offsets[s + 1] += p->shard_offsets[s];
        cursor[s] = p->shard_offsets[s];
    }
    memset(seen, 0, sizeof seen);
    for (int b = 0; b < N_TRAIN_BATCHES; b++) {
        size_t n = in->size[b] / RECORD_BYTES;
        for (size_t r = 0; r < n; r++) {
            const uint8_t *record = in->data[b] + r * RECORD_BYTES;
            int shard = (int)(seen[record[0]]++ % n_shards);
            int64_t row = cursor[shard]++;
            memcpy(p->train_images + (size_t)row * HP_IMAGE_BYTES, record + 1, HP_IMAGE_BYTES);
            p->train_labels[row] = record[0];
            p->source_index[row] = (int32_t)(b * MAX_BATCH_RECORDS + (int)r);
        }
    }
    free(cursor);

    for (int r = 0; r < p->n_test; r++) {
        const uint8_t *record = in->data[MEMBER_TEST] + (size_t)r * RECORD_BYTES;
        p->test_labels[r] = record[0];
        memcpy(p->test_images + (size_t)r * HP_IMAGE_BYTES, record + 1, HP_IMAGE_BYTES);
    }
    channel_statistics(in, p->mean, p->std);
    for (int c = 0; c < HP_IMAGE_C; c++)
        if (!(p->std[c] > 0.0f)) /* normalising would divide by zero */
            return HP_ERR("%s: channel %d of the training images never varies (std 0): not "
                          "CIFAR-10 images; %s", in->from, c, FETCH_HINT);
    return 0;
}

/* ---- writing ---- */

static int write_dataset(hid_t file, const char *path, const char *name, hid_t file_type,
                         hid_t mem_type, int rank, const hsize_t *dims, const void *data)
{
    int rc = -1;
    hid_t space, dset = H5I_INVALID_HID;
    H5_CHECK(space = H5Screate_simple(rank, dims, NULL), out, "%s: dataspace for /%s", path, name);
    H5_CHECK(dset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT), close, "%s: creating /%s", path, name);
    H5_CHECK(H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), close,
             "%s: writing /%s", path, name);
    rc = 0;
close:
    H5U_CLOSE(dset, name, &rc);
    H5U_CLOSE(space, "a dataspace", &rc);
out:
    return rc;
}

static int write_attribute(hid_t file, const char *path, const char *name, hid_t file_type,
                           hid_t mem_type, const void *value)
{
    int rc = -1;
    hid_t space, attr = H5I_INVALID_HID;
    H5_CHECK(space = H5Screate(H5S_SCALAR), out, "%s: dataspace for attribute %s", path, name);
    H5_CHECK(attr = H5Acreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT),
             close, "%s: creating attribute %s", path, name);
    H5_CHECK(H5Awrite(attr, mem_type, value), close, "%s: writing attribute %s", path, name);
    rc = 0;
close:
    H5U_CLOSE(attr, name, &rc);
    H5U_CLOSE(space, "a dataspace", &rc);
out:
    return rc;
}

/* Fixed-length string type of `size` bytes (h5py reads it as bytes 'S<size>'). */
static hid_t string_type(size_t size)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return type;
    if (H5Tset_size(type, size) < 0 || H5Tset_strpad(type, H5T_STR_NULLPAD) < 0) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

static int write_groups(hid_t file, const char *path)
{
    static const char *const groups[] = {"train", "test", "meta"};
    int rc = 0;
    for (int g = 0; g < 3 && rc == 0; g++) {
        hid_t group = H5Gcreate2(file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (group < 0)
            rc = h5u_error_at(__FILE__, __LINE__, "%s: creating group /%s", path, groups[g]);
        H5U_CLOSE(group, groups[g], &rc);
    }
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

/* The checksums of include/dataset.h: per training shard, and of the test set. */
static void checksums(const prepared *p, uint32_t *image_crc, uint32_t *label_crc,
                      uint32_t *test_crc)
{
    for (int s = 0; s < p->n_shards; s++) {
        size_t begin = (size_t)p->shard_offsets[s], rows = (size_t)p->shard_offsets[s + 1] - begin;
        image_crc[s] = crc32_of(p->train_images + begin * HP_IMAGE_BYTES, rows * HP_IMAGE_BYTES);
        label_crc[s] = crc32_of(p->train_labels + begin, rows);
    }
    test_crc[0] = crc32_of(p->test_images, (size_t)p->n_test * HP_IMAGE_BYTES);
    test_crc[1] = crc32_of(p->test_labels, (size_t)p->n_test);
}

/* Write the file in memory, then to path through a temporary file (see
 * h5util.h: no HDF5 call touches the disk, so a full disk is an ordinary
 * write error).  The image arrays are freed once they are in the file, so
 * the in-memory copy does not raise the peak memory use. */
static int write_file(const char *path, prepared *p, const char *source)
{
    int rc = -1;
    hid_t file, names_type = H5I_INVALID_HID, source_type = H5I_INVALID_HID;
    uint32_t *image_crc = hp_xcalloc((size_t)p->n_shards, sizeof *image_crc);
    uint32_t *label_crc = hp_xcalloc((size_t)p->n_shards, sizeof *label_crc);
    uint32_t test_crc[2];
    checksums(p, image_crc, label_crc, test_crc);
    if ((file = h5u_file_create(path)) < 0)
        goto out;
    hsize_t train_dims[4] = {(hsize_t)p->n_train, HP_IMAGE_C, HP_IMAGE_H, HP_IMAGE_W};
    hsize_t test_dims[4] = {(hsize_t)p->n_test, HP_IMAGE_C, HP_IMAGE_H, HP_IMAGE_W};
    hsize_t offsets_dims[1] = {(hsize_t)p->n_shards + 1};
    hsize_t shards_dims[1] = {(hsize_t)p->n_shards};
    hsize_t one_dims[1] = {1};
    hsize_t classes_dims[1] = {HP_NUM_CLASSES};
    hsize_t channel_dims[1] = {HP_IMAGE_C};
    H5_CHECK(names_type = string_type((size_t)CLASS_NAME_BYTES), close_types,
             "%s: string type", path);
    H5_CHECK(source_type = string_type(strlen(source) ? strlen(source) : 1), close_types,
             "%s: string type", path);
    int version = HP_DATASET_FORMAT_VERSION;
    if (write_groups(file, path) < 0 ||
        write_dataset(file, path, "train/images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, train_dims,
                      p->train_images) < 0)
        goto close_types;
    free(p->train_images);
    p->train_images = NULL;
    if (write_dataset(file, path, "test/images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, test_dims,
                      p->test_images) < 0)
        goto close_types;
    free(p->test_images);
    p->test_images = NULL;
    if (write_dataset(file, path, "train/labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, train_dims,
                      p->train_labels) < 0 ||
        write_dataset(file, path, "train/source_index", H5T_STD_I32LE, H5T_NATIVE_INT32, 1,
                      train_dims, p->source_index) < 0 ||
        write_dataset(file, path, "train/shard_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
                      offsets_dims, p->shard_offsets) < 0 ||
        write_dataset(file, path, "train/images_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1,
                      shards_dims, image_crc) < 0 ||
        write_dataset(file, path, "train/labels_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1,
                      shards_dims, label_crc) < 0 ||
        write_dataset(file, path, "test/labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, test_dims,
                      p->test_labels) < 0 ||
        write_dataset(file, path, "test/images_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1,
                      one_dims, &test_crc[0]) < 0 ||
        write_dataset(file, path, "test/labels_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1,
                      one_dims, &test_crc[1]) < 0 ||
        write_dataset(file, path, "meta/class_names", names_type, names_type, 1, classes_dims,
                      p->class_names) < 0 ||
        write_dataset(file, path, "meta/mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, channel_dims,
                      p->mean) < 0 ||
        write_dataset(file, path, "meta/std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, channel_dims,
                      p->std) < 0 ||
        write_attribute(file, path, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version) < 0 ||
        write_attribute(file, path, "n_shards", H5T_STD_I32LE, H5T_NATIVE_INT, &p->n_shards) < 0 ||
        write_attribute(file, path, "source", source_type, source_type, source) < 0)
        goto close_types;
    rc = 0;
close_types:
    H5U_CLOSE(source_type, "a string type", &rc);
    H5U_CLOSE(names_type, "a string type", &rc);
    if (rc == 0) {
        rc = h5u_file_commit(file, path);
        if (rc)
            hp_error_prefix("cannot write %s", path);
    } else {
        h5u_file_discard(file);
    }
out:
    free(image_crc);
    free(label_crc);
    return rc;
}

/* ---- the command ---- */

/* The input's name without folders or trailing slashes, for the 'source' attribute. */
static char *source_name(const char *from)
{
    size_t len = strlen(from);
    while (len > 1 && from[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && from[start - 1] != '/')
        start--;
    return strndup(from + start, len - start);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static int prepare(const char *from, const char *out_path, int n_shards, prepare_summary *summary)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    h5u_quiet();
    if (n_shards < 1)
        return HP_ERR("--shards %d: the number of shards must be at least 1", n_shards);

    struct stat from_st, out_st;
    if (stat(from, &from_st) != 0)
        return HP_ERR("cannot read %s: %s; give the CIFAR-10 binary tarball "
                      "(cifar-10-binary.tar.gz) or its extracted cifar-10-batches-bin/ folder; %s",
                      from, strerror(errno), FETCH_HINT);
    if (stat(out_path, &out_st) == 0) {
        if (S_ISDIR(out_st.st_mode))
            return HP_ERR("output %s is a directory; give a file name such as %s/cifar10.h5",
                          out_path, out_path);
        if (out_st.st_dev == from_st.st_dev && out_st.st_ino == from_st.st_ino)
            return HP_ERR("output %s is the input itself; choose another --out", out_path);
    }

    /* Probe the output location before the slow part, so a typo fails at
     * once; the probe is removed at once (the file is written at the end). */
    char *temp = h5u_temp_name(out_path);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        HP_ERR("cannot write %s: %s (creating the temporary file %s); check that its folder "
               "exists and is writable", out_path, strerror(errno), temp);
        free(temp);
        return -1;
    }
    close(fd);
    unlink(temp);
    free(temp);

    int rc = -1;
    cifar_input in = {.from = from};
    prepared p = {0};
    char *source = source_name(from);
    if (!source)
        HP_PANIC("out of memory");
    if ((S_ISDIR(from_st.st_mode) ? read_folder(&in) : read_archive(&in)) < 0)
        goto out;
    if (convert(&in, n_shards, &p) < 0)
        goto out;
    release_input(&in); /* the input copy is no longer needed: halve peak memory */
    if (write_file(out_path, &p, source) < 0)
        goto out;
    if (summary) {
        summary->n_train = p.n_train;
        summary->n_test = p.n_test;
        summary->n_shards = p.n_shards;
        summary->smallest_shard = INT_MAX;
        summary->largest_shard = 0;
        for (int s = 0; s < p.n_shards; s++) {
            int size = (int)(p.shard_offsets[s + 1] - p.shard_offsets[s]);
            summary->smallest_shard = size < summary->smallest_shard ? size : summary->smallest_shard;
            summary->largest_shard = size > summary->largest_shard ? size : summary->largest_shard;
        }
        memcpy(summary->mean, p.mean, sizeof p.mean);
        memcpy(summary->std, p.std, sizeof p.std);
        summary->seconds = seconds_since(&t0);
    }
    rc = 0;
out:
    free(source);
    release_prepared(&p);
    release_input(&in);
    return rc;
}

int hp_prepare_cifar10(const char *from, const char *out_path, int n_shards)
{
    return prepare(from, out_path, n_shards, NULL);
}

static const char prepare_help[] =
    "usage: hptune prepare --from PATH --out FILE [--shards N]\n"
    "\n"
    "Convert the official CIFAR-10 binary version into one HDF5 file.\n"
    "\n"
    "  --from PATH   cifar-10-binary.tar.gz, or the extracted cifar-10-batches-bin/\n"
    "                folder (or the folder containing it)\n"
    "  --out FILE    HDF5 file to write (replaced only when conversion succeeds)\n"
    "  --shards N    class-balanced training shards (default 10); at most the number\n"
    "                of images of the rarest class\n"
    "  -h, --help    show this help\n"
    "Exit status: 0, 1 (a message says what is wrong with the input), 2 usage error.\n";

int cmd_prepare(int argc, char **argv)
{
    const char *from = NULL, *out = NULL, *shards_text = NULL;
    static const struct option options[] = {
        {"from", required_argument, NULL, 'f'}, {"out", required_argument, NULL, 'o'},
        {"shards", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, prepare_help)) != -1) {
        switch (opt) {
        case 'h':
            hp_print_help(stdout, prepare_help);
            return 0;
        case 'f':
            from = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            shards_text = optarg;
            break;
        default:
            return HP_EXIT_USAGE;
        }
        if (!*optarg)
            return hp_usage_error("prepare", prepare_help, "--%s needs a non-empty value",
                                  opt == 'f' ? "from" : opt == 'o' ? "out" : "shards");
    }
    if (optind < argc)
        return hp_usage_error("prepare", prepare_help, "unexpected argument '%s'", argv[optind]);
    if (!from)
        return hp_usage_error("prepare", prepare_help, "--from is required (the CIFAR-10 binary tarball or folder)");
    if (!out)
        return hp_usage_error("prepare", prepare_help, "--out is required (the HDF5 file to write)");
    int n_shards = 10;
    if (shards_text) {
        char *end;
        errno = 0;
        long value = strtol(shards_text, &end, 10);
        if (errno || *end != '\0' || end == shards_text || value < 1 || value > INT_MAX)
            return hp_usage_error("prepare", prepare_help, "--shards must be a whole number of at least 1, not '%s'",
                                  shards_text);
        n_shards = (int)value;
    }

    prepare_summary s;
    if (prepare(from, out, n_shards, &s) < 0) {
        hp_error_print();
        return 1;
    }
    printf("prepared %s from %s in %.1f s\n", out, from, s.seconds);
    if (s.smallest_shard == s.largest_shard)
        printf("  train: %d images in %d shards of %d\n", s.n_train, s.n_shards, s.smallest_shard);
    else
        printf("  train: %d images in %d shards of %d..%d\n", s.n_train, s.n_shards,
               s.smallest_shard, s.largest_shard);
    printf("  test:  %d images\n", s.n_test);
    printf("  mean:  %.4f %.4f %.4f   std: %.4f %.4f %.4f (R G B, [0,1] units)\n", s.mean[0],
           s.mean[1], s.mean[2], s.std[0], s.std[1], s.std[2]);
    return 0;
}
