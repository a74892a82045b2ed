/* test_tfevents.c - TensorBoard event files: CRC-32C against published
 * vectors and a bit-at-a-time reference, protobuf wire encoding and whole
 * Events against bytes worked out by hand from the .proto definitions, file
 * names, the framing of written files read back byte by byte, and write
 * errors (a folder under a regular file, a file-size limit hit mid-record).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "rng.h"
#include "testlib.h"
#include "tfevents.h"

/* ------------------------------------------------------------- helpers -- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char *make_temp_dir(void)
{
    char *dir = hp_xstrdup("/tmp/hptune-tfevents.XXXXXX");
    if (!mkdtemp(dir))
        HP_PANIC("mkdtemp: %s", strerror(errno));
    return dir;
}

/* EXPECT that b holds exactly want[n], showing the first difference. */
#define EXPECT_BYTES(b, want)                                                              \
    do {                                                                                   \
        size_t n_ = sizeof(want), i_ = 0;                                                  \
        while (i_ < n_ && i_ < (b)->len && (b)->data[i_] == (want)[i_])                    \
            i_++;                                                                          \
        EXPECT((b)->len == n_ && i_ == n_, "%zu bytes (want %zu), first difference at %zu: " \
               "0x%02x (want 0x%02x)", (b)->len, n_, i_, i_ < (b)->len ? (b)->data[i_] : 0u, \
               i_ < n_ ? (want)[i_] : 0u);                                                 \
    } while (0)

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The reference: CRC-32C one bit at a time, straight from the definition. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n)
{
    uint32_t r = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        r ^= p[i];
        for (int k = 0; k < 8; k++)
            r = (r & 1) ? (r >> 1) ^ 0x82f63b78u : r >> 1;
    }
    return r ^ 0xffffffffu;
}

/* The masked CRC by its definition, as a rotation written out differently. */
static uint32_t mask_reference(uint32_t crc)
{
    uint64_t doubled = ((uint64_t)crc << 32) | crc; /* rotate right 15 = take bits 15..46 */
    return (uint32_t)((uint32_t)(doubled >> 15) + 0xa282ead8u);
}

/* Reads a file's records: checks each header and footer CRC against the
 * reference implementations; stores up to max records' data offsets/lengths.
 * Returns the record count, or -1 on a framing error; *tail gets the bytes
 * left after the last complete record. */
typedef struct file_bytes {
    unsigned char *data;
    size_t len;
} file_bytes;

static file_bytes read_all(const char *path)
{
    file_bytes f = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return f;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f.data = hp_xcalloc((size_t)n + 1, 1);
    f.len = fread(f.data, 1, (size_t)n, fp);
    fclose(fp);
    return f;
}

static int parse_records(const file_bytes *f, size_t *offsets, size_t *lengths, int max,
                         size_t *tail)
{
    size_t pos = 0;
    int count = 0;
    while (f->len - pos >= 12) {
        const unsigned char *h = f->data + pos;
        uint64_t len = 0;
        for (int i = 0; i < 8; i++)
            len |= (uint64_t)h[i] << (8 * i);
        if (le32(h + 8) != mask_reference(crc32c_bitwise(h, 8)))
            return -1;
        if (len > f->len - pos - 12 || f->len - pos - 12 - len < 4)
            break; /* torn record */
        if (le32(h + 12 + len) != mask_reference(crc32c_bitwise(h + 12, len)))
            return -1;
        if (count < max) {
            offsets[count] = pos + 12;
            lengths[count] = len;
        }
        count++;
        pos += 16 + len;
    }
    *tail = f->len - pos;
    return count;
}

/* The number of entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

/* ---------------------------------------------------------------- CRC -- */

TEST(crc32c_known_vectors)
{
    EXPECT(hp_crc32c(0, "123456789", 9) == 0xe3069283u, "crc32c(123456789) = 0x%08x",
           hp_crc32c(0, "123456789", 9));
    EXPECT(hp_crc32c(0, "", 0) == 0, "crc32c of nothing = 0x%08x", hp_crc32c(0, "", 0));
    /* RFC 3720 appendix B.4 (iSCSI) test patterns, 32 bytes each. */
    unsigned char zeros[32] = {0}, ones[32], up[32], down[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        up[i] = (unsigned char)i;
        down[i] = (unsigned char)(31 - i);
    }
    EXPECT(hp_crc32c(0, zeros, 32) == 0x8a9136aau, "zeros: 0x%08x", hp_crc32c(0, zeros, 32));
    EXPECT(hp_crc32c(0, ones, 32) == 0x62a8ab43u, "ones: 0x%08x", hp_crc32c(0, ones, 32));
    EXPECT(hp_crc32c(0, up, 32) == 0x46dd794eu, "incrementing: 0x%08x", hp_crc32c(0, up, 32));
    EXPECT(hp_crc32c(0, down, 32) == 0x113fdb5cu, "decrementing: 0x%08x",
           hp_crc32c(0, down, 32));
    /* Continuing a CRC over a split equals the CRC of the whole. */
    for (size_t cut = 0; cut <= 9; cut++) {
        uint32_t c = hp_crc32c(hp_crc32c(0, "123456789", cut), "123456789" + cut, 9 - cut);
        EXPECT(c == 0xe3069283u, "split at %zu: 0x%08x", cut, c);
    }
}

TEST(crc32c_matches_bitwise_reference)
{
    hp_rng rng;
    hp_rng_seed(&rng, 2024);
    unsigned char buf[1000];
    for (int trial = 0; trial < 50; trial++) {
        size_t n = hp_rng_below(&rng, sizeof buf + 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)hp_rng_below(&rng, 256);
        uint32_t got = hp_crc32c(0, buf, n), want = crc32c_bitwise(buf, n);
        EXPECT(got == want, "%zu random bytes: 0x%08x, reference 0x%08x", n, got, want);
    }
}

TEST(crc32c_mask)
{
    /* ((0xe3069283 >> 15) | (0xe3069283 << 17)) = 0x0001c60d | 0x25060000 = 0x2507c60d;
     * + 0xa282ead8 = 0xc78ab0e5 (worked by hand). */
    EXPECT(hp_crc32c_mask(0xe3069283u) == 0xc78ab0e5u, "masked: 0x%08x",
           hp_crc32c_mask(0xe3069283u));
    EXPECT(hp_crc32c_mask(0) == 0xa282ead8u, "mask(0) = 0x%08x", hp_crc32c_mask(0));
    /* mask(0xffffffff) = 0xffffffff + 0xa282ead8 mod 2^32 = 0xa282ead7 */
    EXPECT(hp_crc32c_mask(0xffffffffu) == 0xa282ead7u, "mask(~0) = 0x%08x",
           hp_crc32c_mask(0xffffffffu));
    hp_rng rng;
    hp_rng_seed(&rng, 7);
    for (int i = 0; i < 1000; i++) {
        uint32_t c = (uint32_t)hp_rng_next(&rng);
        EXPECT(hp_crc32c_mask(c) == mask_reference(c), "mask(0x%08x)", c);
    }
}

/* ------------------------------------------------------- wire format -- */

TEST(varint_encoding)
{
    static const struct {
        uint64_t v;
        int n;
        unsigned char bytes[10];
    } cases[] = {
        {0, 1, {0x00}},
        {1, 1, {0x01}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {150, 2, {0x96, 0x01}}, /* the protobuf encoding guide's example */
        {300, 2, {0xac, 0x02}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {0xffffffffu, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
        /* int64 -1 as two's complement: 64 one bits = 9 x 7 + 1 */
        {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
        {1ull << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hp_pbuf b = {0};
        hp_pb_varint(&b, cases[c].v);
        int same = b.len == (size_t)cases[c].n && memcmp(b.data, cases[c].bytes, b.len) == 0;
        EXPECT(same, "varint(%llu): %zu bytes, want %d", (unsigned long long)cases[c].v, b.len,
               cases[c].n);
        hp_pbuf_release(&b);
    }
}

TEST(zigzag_encoding)
{
    /* sint64 mapping from the protobuf encoding guide: 0,-1,1,-2,... -> 0,1,2,3,... */
    EXPECT(hp_pb_zigzag(0) == 0, "0");
    EXPECT(hp_pb_zigzag(-1) == 1, "-1");
    EXPECT(hp_pb_zigzag(1) == 2, "1");
    EXPECT(hp_pb_zigzag(-2) == 3, "-2");
    EXPECT(hp_pb_zigzag(2147483647) == 4294967294u, "2^31-1");
    EXPECT(hp_pb_zigzag(-2147483648LL) == 4294967295u, "-2^31");
    EXPECT(hp_pb_zigzag(INT64_MAX) == UINT64_MAX - 1, "INT64_MAX");
    EXPECT(hp_pb_zigzag(INT64_MIN) == UINT64_MAX, "INT64_MIN");
}

TEST(field_encoding)
{
    hp_pbuf b = {0};
    hp_pb_field_varint(&b, 1, 150); /* key (1 << 3 | 0) = 08 */
    static const unsigned char v150[] = {0x08, 0x96, 0x01};
    EXPECT_BYTES(&b, v150);
    b.len = 0;
    hp_pb_field_string(&b, 2, "testing"); /* the guide's example: 12 07 74 65 73 74 69 6e 67 */
    static const unsigned char str[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
    EXPECT_BYTES(&b, str);
    b.len = 0;
    hp_pb_field_double(&b, 1, 1.5); /* 1.5 = 0x3ff8000000000000, key 09 */
    static const unsigned char dbl[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
    EXPECT_BYTES(&b, dbl);
    b.len = 0;
    hp_pb_field_float(&b, 2, 0.25f); /* 0.25f = 0x3e800000, key 15 */
    static const unsigned char flt[] = {0x15, 0x00, 0x00, 0x80, 0x3e};
    EXPECT_BYTES(&b, flt);
    b.len = 0;
    hp_pb_field_fixed32(&b, 16, 0x01020304u); /* key 16 << 3 | 5 = 133 = 85 01 */
    static const unsigned char f32[] = {0x85, 0x01, 0x04, 0x03, 0x02, 0x01};
    EXPECT_BYTES(&b, f32);
    b.len = 0;
    hp_pb_field_varint(&b, 2, (uint64_t)(int64_t)-2); /* int64 -2: ten bytes */
    static const unsigned char neg[] = {0x10, 0xfe, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x01};
    EXPECT_BYTES(&b, neg);
    b.len = 0;
    /* Nested: the guide's Test3 {c: Test1 {a: 150}} = 1a 03 08 96 01 */
    size_t m = hp_pb_begin(&b, 3);
    hp_pb_field_varint(&b, 1, 150);
    hp_pb_end(&b, m);
    static const unsigned char nested[] = {0x1a, 0x03, 0x08, 0x96, 0x01};
    EXPECT_BYTES(&b, nested);
    b.len = 0;
    /* An empty nested message, and one of 200 bytes whose length takes two
     * varint bytes (c8 01), so the content moves up by one. */
    hp_pb_end(&b, hp_pb_begin(&b, 1));
    m = hp_pb_begin(&b, 2);
    unsigned char big[198];
    for (int i = 0; i < 198; i++)
        big[i] = (unsigned char)i;
    hp_pb_field_bytes(&b, 1, big, 196); /* 0a c4 01 + 196 bytes = 199 */
    hp_pb_raw(&b, "x", 1);              /* 200 */
    hp_pb_end(&b, m);
    EXPECT(b.len == 2 + 3 + 200, "%zu bytes", b.len);
    static const unsigned char head[] = {0x0a, 0x00, 0x12, 0xc8, 0x01, 0x0a, 0xc4, 0x01};
    EXPECT(b.len >= 8 && memcmp(b.data, head, 8) == 0, "nested headers");
    EXPECT(b.len == 205 && memcmp(b.data + 8, big, 196) == 0 && b.data[204] == 'x',
           "content intact after moving");
    hp_pbuf_release(&b);
}

TEST(utf8_check)
{
    EXPECT(hp_utf8_valid("plain ascii", 11), "ascii");
    {
        const char *mixed = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* été € 😀 */
        EXPECT(hp_utf8_valid(mixed, strlen(mixed)), "2/3/4-byte forms");
        EXPECT(!hp_utf8_valid(mixed, strlen(mixed) - 1), "cut inside the 4-byte form");
    }
    EXPECT(!hp_utf8_valid("\xc3", 1), "truncated sequence");
    EXPECT(!hp_utf8_valid("\xc0\xaf", 2), "overlong '/'");
    EXPECT(!hp_utf8_valid("\xe0\x80\xaf", 3), "overlong 3-byte");
    EXPECT(!hp_utf8_valid("\xed\xa0\x80", 3), "surrogate U+D800");
    EXPECT(!hp_utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
    EXPECT(!hp_utf8_valid("\x80", 1), "lone continuation byte");
    EXPECT(!hp_utf8_valid("\xff", 1), "0xff");
}

/* -------------------------------------------------------------- events -- */

/* Event.file_version: 09 <wall_time> 1a 0d "brain.Event:2" */
static const unsigned char file_version_1_5[] = {
    0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a, 0x0d,
    'b', 'r', 'a', 'i', 'n', '.', 'E', 'v', 'e', 'n', 't', ':', '2'};

TEST(encode_file_version)
{
    hp_pbuf b = {0};
    EXPECT(hp_tb_encode_file_version(&b, 1.5) == 0, "%s", hp_error_message());
    EXPECT_BYTES(&b, file_version_1_5);
    hp_pbuf_release(&b);
}

TEST(encode_scalar)
{
    hp_pbuf b = {0};
    EXPECT(hp_tb_encode_scalar(&b, 1.5, 3, "loss", 0.25) == 0, "%s", hp_error_message());
    /* Event{wall_time 1.5, step 3, summary{value{tag "loss", simple_value 0.25f}}}
     *   Value   = 0a 04 "loss" 15 <0.25f>                 11 bytes
     *   Summary = 0a 0b Value                             13 bytes
     *   Event   = 09 <1.5> 10 03 2a 0d Summary            26 bytes */
    static const unsigned char want[] = {
        0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 0x03, 0x2a, 0x0d,
        0x0a, 0x0b, 0x0a, 0x04, 'l', 'o', 's', 's', 0x15, 0x00, 0x00, 0x80, 0x3e};
    EXPECT_BYTES(&b, want);
    /* Step 0 and wall time 0 are proto3 defaults and left out; a 0.0 value is
     * a oneof member and stays: Event = 2a 0b 0a 09 0a 02 "lr" 15 00 00 00 00 */
    b.len = 0;
    EXPECT(hp_tb_encode_scalar(&b, 0.0, 0, "lr", 0.0) == 0, "%s", hp_error_message());
    static const unsigned char zeros[] = {0x2a, 0x0b, 0x0a, 0x09, 0x0a, 0x02, 'l', 'r',
                                          0x15, 0, 0, 0, 0};
    EXPECT_BYTES(&b, zeros);
    /* A negative step: int64 in ten bytes. 1e300 becomes +inf (7f800000). */
    b.len = 0;
    EXPECT(hp_tb_encode_scalar(&b, 0.0, -1, "x", 1e300) == 0, "%s", hp_error_message());
    static const unsigned char neg[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0x01, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 'x',
                                        0x15, 0x00, 0x00, 0x80, 0x7f};
    EXPECT_BYTES(&b, neg);
    hp_pbuf_release(&b);
}

/* The hparams summary wrapper around HParamsPluginData bytes `pd` (< 100):
 *   PluginData      = 0a 07 "hparams" 12 <len pd> pd
 *   SummaryMetadata = 0a <len PluginData> PluginData
 *   Value           = 0a <len tag> tag 42 06 08 01 12 02 12 00 4a <len md> md
 *   Summary         = 0a <len Value> Value;  Event = [09 wall] 2a <len> Summary
 * (one-byte lengths: the tests keep every part below 128 bytes). */
static size_t hparams_event(unsigned char *out, const unsigned char *wall, const char *tag,
                            const unsigned char *pd, size_t npd)
{
    size_t ntag = strlen(tag);
    size_t plugin = 2 + 7 + 2 + npd, md = 2 + plugin, value = 2 + ntag + 8 + 2 + md;
    size_t summary = 2 + value, n = 0;
    if (wall) {
        out[n++] = 0x09;
        memcpy(out + n, wall, 8);
        n += 8;
    }
    out[n++] = 0x2a, out[n++] = (unsigned char)summary;
    out[n++] = 0x0a, out[n++] = (unsigned char)value;
    out[n++] = 0x0a, out[n++] = (unsigned char)ntag;
    memcpy(out + n, tag, ntag), n += ntag;
    static const unsigned char null_tensor[] = {0x42, 0x06, 0x08, 0x01, 0x12, 0x02, 0x12, 0x00};
    memcpy(out + n, null_tensor, 8), n += 8;
    out[n++] = 0x4a, out[n++] = (unsigned char)md;
    out[n++] = 0x0a, out[n++] = (unsigned char)plugin;
    out[n++] = 0x0a, out[n++] = 7;
    memcpy(out + n, "hparams", 7), n += 7;
    out[n++] = 0x12, out[n++] = (unsigned char)npd;
    memcpy(out + n, pd, npd), n += npd;
    return n;
}

#define EXPECT_BUF_EQ(b, want, nwant)                                                      \
    do {                                                                                   \
        size_t i_ = 0;                                                                     \
        while (i_ < (nwant) && i_ < (b)->len && (b)->data[i_] == (want)[i_])               \
            i_++;                                                                          \
        EXPECT((b)->len == (nwant) && i_ == (nwant),                                       \
               "%zu bytes (want %zu), first difference at %zu", (b)->len, (size_t)(nwant), i_); \
    } while (0)

TEST(encode_session_end)
{
    /* HParamsPluginData{session_end_info (4) {status FAILURE = 2, end_time 2.0}}:
     *   SessionEndInfo = 08 02 11 <2.0 = 00 00 00 00 00 00 00 40>   11 bytes
     *   HParamsPluginData = 22 0b SessionEndInfo                   13 bytes */
    static const unsigned char pd[] = {0x22, 0x0b, 0x08, 0x02, 0x11, 0, 0, 0, 0, 0, 0, 0, 0x40};
    static const unsigned char wall[] = {0, 0, 0, 0, 0, 0, 0xf8, 0x3f}; /* 1.5 */
    unsigned char want[200];
    size_t n = hparams_event(want, wall, "_hparams_/session_end_info", pd, sizeof pd);
    EXPECT(n == 77, "hand count: Event of 77 bytes, got %zu", n);
    hp_pbuf b = {0};
    EXPECT(hp_tb_encode_session_end(&b, 1.5, HP_TB_FAILURE, 2.0) == 0, "%s", hp_error_message());
    EXPECT_BUF_EQ(&b, want, n);
    /* STATUS_UNKNOWN (0) and end time 0: an empty SessionEndInfo = 22 00 */
    static const unsigned char pd0[] = {0x22, 0x00};
    n = hparams_event(want, NULL, "_hparams_/session_end_info", pd0, sizeof pd0);
    b.len = 0;
    EXPECT(hp_tb_encode_session_end(&b, 0.0, HP_TB_UNKNOWN, 0.0) == 0, "%s", hp_error_message());
    EXPECT_BUF_EQ(&b, want, n);
    b.len = 0;
    EXPECT(hp_tb_encode_session_end(&b, 0.0, (hp_tb_status)7, 0.0) == -1 && b.len == 0,
           "status 7 rejected, nothing written");
    hp_pbuf_release(&b);
}

TEST(encode_session_start)
{
    /* Values given in the order lr, act, bn; written sorted: act, bn, lr.
     * Map entries {1 key, 2 value: google.protobuf.Value}, worked out one by one:
     *   act: key 0a 03 a c t (5) + value 12 06 {1a 04 r e l u} (8)      -> 0a 0d + 13
     *   bn:  key 0a 02 b n (4)   + value 12 02 {20 01} (4)              -> 0a 08 + 8
     *   lr:  key 0a 02 l r (4)   + value 12 09 {11 <0.5 = ..e0 3f>} (11) -> 0a 0f + 15
     *   group_name 22 01 "g" (3), start_time 29 <1.0 = ..f0 3f> (9)
     *   SessionStartInfo = 15 + 10 + 17 + 3 + 9 = 54 bytes; pd = 1a 36 + 54 = 56 */
    static const unsigned char pd[] = {
        0x1a, 0x36,
        0x0a, 0x0d, 0x0a, 0x03, 'a', 'c', 't', 0x12, 0x06, 0x1a, 0x04, 'r', 'e', 'l', 'u',
        0x0a, 0x08, 0x0a, 0x02, 'b', 'n', 0x12, 0x02, 0x20, 0x01,
        0x0a, 0x0f, 0x0a, 0x02, 'l', 'r', 0x12, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f,
        0x22, 0x01, 'g',
        0x29, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    unsigned char want[200];
    size_t n = hparams_event(want, NULL, "_hparams_/session_start_info", pd, sizeof pd);
    const char *names[] = {"lr", "act", "bn"};
    hp_tb_value values[] = {{.type = HP_TB_FLOAT, .number = 0.5},
                            {.type = HP_TB_STRING, .string = "relu"},
                            {.type = HP_TB_BOOL, .boolean = 1}};
    hp_pbuf b = {0};
    EXPECT(hp_tb_encode_session_start(&b, 0.0, names, values, 3, "g", 1.0) == 0, "%s",
           hp_error_message());
    EXPECT_BUF_EQ(&b, want, n);
    hp_pbuf_release(&b);
}

TEST(encode_experiment)
{
    /* hparams: lr FLOAT interval [0, 1]; bn BOOL; metric "acc"; description "d":
     *   HParamInfo lr = 0a 02 l r, 20 03 (FLOAT64), 32 09 {11 <1.0>} (min 0 left out) = 17
     *   HParamInfo bn = 0a 02 b n, 20 02 (BOOL), 2a 08 {0a 02 20 00, 0a 02 20 01}      = 16
     *   MetricInfo    = 0a 05 {12 03 a c c}                                            = 7
     *   Experiment    = 0a 01 d, 22 11 lr, 22 10 bn, 2a 07 metric = 3+19+18+9 = 49
     *   (wall time 0: no Event.wall_time and no time_created_secs) */
    static const unsigned char pd[] = {
        0x12, 0x31,
        0x0a, 0x01, 'd',
        0x22, 0x11, 0x0a, 0x02, 'l', 'r', 0x20, 0x03, 0x32, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0xf0,
        0x3f,
        0x22, 0x10, 0x0a, 0x02, 'b', 'n', 0x20, 0x02, 0x2a, 0x08, 0x0a, 0x02, 0x20, 0x00, 0x0a,
        0x02, 0x20, 0x01,
        0x2a, 0x07, 0x0a, 0x05, 0x12, 0x03, 'a', 'c', 'c'};
    unsigned char want[200];
    size_t n = hparams_event(want, NULL, "_hparams_/experiment", pd, sizeof pd);
    EXPECT(n == 100, "hand count: Event of 100 bytes, got %zu", n);
    hp_tb_hparam hp[] = {{.name = "lr", .type = HP_TB_FLOAT, .is_interval = 1, .min = 0, .max = 1},
                         {.name = "bn", .type = HP_TB_BOOL}};
    const char *metrics[] = {"acc"};
    hp_pbuf b = {0};
    EXPECT(hp_tb_encode_experiment(&b, 0.0, hp, 2, metrics, 1, "d") == 0, "%s",
           hp_error_message());
    EXPECT_BUF_EQ(&b, want, n);

    /* Discrete domains: FLOAT {16, 32} and STRING {"sgd"}:
     *   0a 01 f, 20 03, 2a 16 {0a 09 {11 <16.0 = ..30 40>}, 0a 09 {11 <32.0 = ..40 40>}} = 29
     *   0a 01 o, 20 01, 2a 07 {0a 05 {1a 03 s g d}}                                     = 14
     *   Experiment = 22 1d + 29, 22 0e + 14 = 47 bytes (no description, no metrics) */
    static const unsigned char pd2[] = {
        0x12, 0x2f,
        0x22, 0x1d, 0x0a, 0x01, 'f', 0x20, 0x03, 0x2a, 0x16,
        0x0a, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0x30, 0x40,
        0x0a, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0x40, 0x40,
        0x22, 0x0e, 0x0a, 0x01, 'o', 0x20, 0x01, 0x2a, 0x07, 0x0a, 0x05, 0x1a, 0x03, 's', 'g', 'd'};
    n = hparams_event(want, NULL, "_hparams_/experiment", pd2, sizeof pd2);
    const double filters[] = {16, 32};
    const char *opts[] = {"sgd"};
    hp_tb_hparam hp2[] = {{.name = "f", .type = HP_TB_FLOAT, .n_values = 2, .values = filters},
                          {.name = "o", .type = HP_TB_STRING, .n_values = 1, .strings = opts}};
    b.len = 0;
    EXPECT(hp_tb_encode_experiment(&b, 0.0, hp2, 2, NULL, 0, NULL) == 0, "%s",
           hp_error_message());
    EXPECT_BUF_EQ(&b, want, n);
    hp_pbuf_release(&b);
}

TEST(bad_input_rejected)
{
    hp_pbuf b = {0};
    const double nan_value[] = {NAN};
    const char *one[] = {"x"}, *two[] = {"x", "x"};
    hp_tb_value v = {.type = HP_TB_FLOAT, .number = 1};
    hp_tb_value vv[] = {v, v};
    struct {
        const char *what;
        int rc;
        const char *pattern;
    } cases[] = {
        {"empty tag", hp_tb_encode_scalar(&b, 0, 0, "", 1), "empty"},
        {"bad utf-8 tag", hp_tb_encode_scalar(&b, 0, 0, "a\xff", 1), "UTF-8"},
        {"nan wall time", hp_tb_encode_scalar(&b, NAN, 0, "a", 1), "finite"},
        {"interval min > max",
         hp_tb_encode_experiment(&b, 0, &(hp_tb_hparam){.name = "a", .type = HP_TB_FLOAT,
                                                        .is_interval = 1, .min = 2, .max = 1},
                                 1, NULL, 0, NULL),
         "min > max"},
        {"nan domain value",
         hp_tb_encode_experiment(&b, 0, &(hp_tb_hparam){.name = "a", .type = HP_TB_FLOAT,
                                                        .n_values = 1, .values = nan_value},
                                 1, NULL, 0, NULL),
         "not finite"},
        {"bool with values",
         hp_tb_encode_experiment(&b, 0, &(hp_tb_hparam){.name = "a", .type = HP_TB_BOOL,
                                                        .n_values = 1, .strings = one},
                                 1, NULL, 0, NULL),
         "bool"},
        {"both domains",
         hp_tb_encode_experiment(&b, 0, &(hp_tb_hparam){.name = "a", .type = HP_TB_FLOAT,
                                                        .n_values = 1, .values = (double[]){1},
                                                        .is_interval = 1},
                                 1, NULL, 0, NULL),
         "not both"},
        {"duplicate hparam",
         hp_tb_encode_experiment(&b, 0,
                                 (hp_tb_hparam[]){{.name = "a", .type = HP_TB_BOOL},
                                                  {.name = "a", .type = HP_TB_BOOL}},
                                 2, NULL, 0, NULL),
         "twice"},
        {"duplicate metric", hp_tb_encode_experiment(&b, 0, NULL, 0, two, 2, NULL), "twice"},
        {"duplicate session value",
         hp_tb_encode_session_start(&b, 0, two, vv, 2, NULL, 0), "twice"},
        {"nan session value",
         hp_tb_encode_session_start(&b, 0, one, &(hp_tb_value){.type = HP_TB_FLOAT, .number = NAN},
                                    1, NULL, 0),
         "not finite"},
        {"bad utf-8 group", hp_tb_encode_session_start(&b, 0, one, &v, 1, "\xc0\x80", 0), "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT(cases[i].rc == -1, "%s: accepted", cases[i].what);
    /* The messages are overwritten case by case; check the last few directly. */
    EXPECT(hp_tb_encode_scalar(&b, 0, 0, "", 1) == -1 && strstr(hp_error_message(), "empty"),
           "message: %s", hp_error_message());
    EXPECT(hp_tb_encode_session_start(&b, 0, two, vv, 2, NULL, 0) == -1 &&
               strstr(hp_error_message(), "\"x\" is given twice"),
           "message: %s", hp_error_message());
    EXPECT(b.len == 0, "a rejected event appends nothing (%zu bytes)", b.len);
    hp_pbuf_release(&b);
}

TEST(file_names)
{
    char *a = hp_tb_file_name(1700000000.9, "node/1", 1234, 0);
    EXPECT(strcmp(a, "events.out.tfevents.1700000000.node_1.1234.0.v2") == 0, "%s", a);
    char *b = hp_tb_file_name(5.0, "h", 1, 12);
    EXPECT(strcmp(b, "events.out.tfevents.0000000005.h.1.12.v2") == 0, "%s", b);
    free(a);
    free(b);

    /* Two writers in one folder in one second: n = 0, then 1. */
    char *dir = make_temp_dir();
    char *sub = hp_xasprintf("%s/a/b/run", dir);
    hp_tfevents *w1 = NULL, *w2 = NULL;
    EXPECT(hp_tfevents_open(&w1, sub, 1700000000.25) == 0, "%s", hp_error_message());
    EXPECT(hp_tfevents_open(&w2, sub, 1700000000.75) == 0, "%s", hp_error_message());
    if (w1 && w2) {
        char host[256];
        gethostname(host, sizeof host);
        char *want1 = hp_xasprintf("%s/events.out.tfevents.1700000000.%s.%ld.0.v2", sub, host,
                                   (long)getpid());
        char *want2 = hp_xasprintf("%s/events.out.tfevents.1700000000.%s.%ld.1.v2", sub, host,
                                   (long)getpid());
        EXPECT(strcmp(hp_tfevents_path(w1), want1) == 0, "%s vs %s", hp_tfevents_path(w1), want1);
        EXPECT(strcmp(hp_tfevents_path(w2), want2) == 0, "%s vs %s", hp_tfevents_path(w2), want2);
        free(want1);
        free(want2);
    }
    EXPECT(hp_tfevents_close(w1) == 0 && hp_tfevents_close(w2) == 0, "%s", hp_error_message());
    /* A trailing slash does not double. */
    char *slash = hp_xasprintf("%s/s/", dir);
    hp_tfevents *w3 = NULL;
    EXPECT(hp_tfevents_open(&w3, slash, 1.0) == 0, "%s", hp_error_message());
    EXPECT(w3 && !strstr(hp_tfevents_path(w3), "//"), "path %s", w3 ? hp_tfevents_path(w3) : "");
    hp_tfevents_close(w3);
    free(slash);
    remove_tree(dir);
    free(sub);
    free(dir);
}

/* ----------------------------------------------------- written files -- */

TEST(written_file_framing)
{
    char *dir = make_temp_dir();
    hp_tfevents *w = NULL;
    EXPECT(hp_tfevents_open(&w, dir, 1.5) == 0, "%s", hp_error_message());
    if (!w) {
        remove_tree(dir);
        free(dir);
        return;
    }
    const char *path = hp_tfevents_path(w);
    /* The file_version record is on disk at once; scalars wait for a flush. */
    file_bytes f = read_all(path);
    EXPECT(f.len == 16 + sizeof file_version_1_5, "after open: %zu bytes", f.len);
    free(f.data);
    EXPECT(hp_tfevents_scalar(w, 2.0, 1, "val_loss", 0.5) == 0, "%s", hp_error_message());
    f = read_all(path);
    EXPECT(f.len == 16 + sizeof file_version_1_5, "scalar buffered: %zu bytes", f.len);
    free(f.data);
    EXPECT(hp_tfevents_flush(w) == 0, "%s", hp_error_message());
    f = read_all(path);
    EXPECT(f.len > 16 + sizeof file_version_1_5, "flushed: %zu bytes", f.len);
    free(f.data);
    EXPECT(hp_tfevents_scalar(w, 3.0, 2, "val_loss", -1e-3) == 0, "%s", hp_error_message());
    hp_tb_value v = {.type = HP_TB_STRING, .string = "adam"};
    const char *name[] = {"optimizer"};
    EXPECT(hp_tfevents_session_start(w, 4.0, name, &v, 1, "trial 1", 4.0) == 0, "%s",
           hp_error_message());
    EXPECT(hp_tfevents_session_end(w, 5.0, HP_TB_SUCCESS, 5.0) == 0, "%s", hp_error_message());
    /* A second session end would be ignored by TensorBoard: refused. */
    EXPECT(hp_tfevents_session_end(w, 6.0, HP_TB_FAILURE, 6.0) == -1 &&
               strstr(hp_error_message(), "written already"),
           "second session end: %s", hp_error_message());
    EXPECT(hp_tfevents_session_start(w, 6.0, name, &v, 1, NULL, 6.0) == -1,
           "second session start accepted");
    /* Bad input is refused without harming the writer. */
    EXPECT(hp_tfevents_scalar(w, 3.0, 2, "", 1) == -1 && strstr(hp_error_message(), path),
           "error names the file: %s", hp_error_message());
    char *path_copy = hp_xstrdup(path);
    EXPECT(hp_tfevents_close(w) == 0, "%s", hp_error_message());

    /* Read back: every record's framing, and each record's data equal to the
     * encoder's output for the same call (whose bytes the tests above check). */
    f = read_all(path_copy);
    size_t off[8], len[8], tail = 1;
    int n = parse_records(&f, off, len, 8, &tail);
    EXPECT(n == 5 && tail == 0, "%d records, %zu bytes left over", n, tail);
    hp_pbuf want[5] = {{0}};
    hp_tb_encode_file_version(&want[0], 1.5);
    hp_tb_encode_scalar(&want[1], 2.0, 1, "val_loss", 0.5);
    hp_tb_encode_scalar(&want[2], 3.0, 2, "val_loss", -1e-3);
    hp_tb_encode_session_start(&want[3], 4.0, name, &v, 1, "trial 1", 4.0);
    hp_tb_encode_session_end(&want[4], 5.0, HP_TB_SUCCESS, 5.0);
    for (int i = 0; i < 5 && i < n; i++)
        EXPECT(len[i] == want[i].len && memcmp(f.data + off[i], want[i].data, len[i]) == 0,
               "record %d: %zu bytes, encoder %zu", i, len[i], want[i].len);
    for (int i = 0; i < 5; i++)
        hp_pbuf_release(&want[i]);
    /* The first record byte by byte: length 24 (18 00 .. 00), its masked CRC,
     * the file_version Event, the masked CRC of the Event. */
    EXPECT(f.len >= 40 && f.data[0] == 24 && memcmp(f.data + 1, "\0\0\0\0\0\0\0", 7) == 0,
           "length field");
    EXPECT(f.len >= 40 && le32(f.data + 8) == mask_reference(crc32c_bitwise(f.data, 8)),
           "length CRC");
    EXPECT(f.len >= 40 && memcmp(f.data + 12, file_version_1_5, 24) == 0, "first Event");
    EXPECT(f.len >= 40 && le32(f.data + 36) == mask_reference(crc32c_bitwise(file_version_1_5, 24)),
           "data CRC");
    free(f.data);
    free(path_copy);
    remove_tree(dir);
    free(dir);
}

TEST(folder_errors)
{
    char *dir = make_temp_dir();
    char *file = hp_xasprintf("%s/plain", dir);
    FILE *fp = fopen(file, "w");
    if (fp)
        fclose(fp);
    char *under = hp_xasprintf("%s/run", file);
    hp_tfevents *w = NULL;
    EXPECT(hp_tfevents_open(&w, under, 1.0) == -1 && w == NULL, "opened under a regular file");
    EXPECT(strstr(hp_error_message(), under) && strstr(hp_error_message(), "Not a directory"),
           "message: %s", hp_error_message());
    EXPECT(hp_tfevents_open(&w, file, 1.0) == -1 && strstr(hp_error_message(), "not a folder"),
           "a file as the folder: %s", hp_error_message());
    EXPECT(hp_tfevents_open(&w, "", 1.0) == -1, "empty folder name");
    EXPECT(hp_tfevents_open(&w, dir, NAN) == -1, "NaN time");
    if (geteuid() != 0) { /* root writes into read-only folders anyway */
        char *ro = hp_xasprintf("%s/ro", dir);
        mkdir(ro, 0555);
        EXPECT(hp_tfevents_open(&w, ro, 1.0) == -1 && strstr(hp_error_message(), ro) &&
                   strstr(hp_error_message(), "Permission denied"),
               "read-only folder: %s", hp_error_message());
        free(ro);
    }
    free(under);
    free(file);
    remove_tree(dir);
    free(dir);
}

/* A write that fails midway (file-size limit, as a full disk would): the
 * error names the file, later records are refused, close reports it, and the
 * file holds complete records plus at most one torn record. */
TEST(write_error_mid_record)
{
    char *dir = make_temp_dir();
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */

    /* A limit below the first record: open fails and removes the file. */
    struct rlimit tiny = {10, old.rlim_max};
    setrlimit(RLIMIT_FSIZE, &tiny);
    hp_tfevents *w = NULL;
    int rc = hp_tfevents_open(&w, dir, 1.0);
    setrlimit(RLIMIT_FSIZE, &old);
    EXPECT(rc == -1 && w == NULL, "open beyond the size limit succeeded");
    EXPECT(strstr(hp_error_message(), "File too large") &&
               strstr(hp_error_message(), "events.out.tfevents."),
           "message: %s", hp_error_message());
    EXPECT(count_entries(dir) == 0, "the failed file was left behind");

    /* A limit of 300 bytes: records of ~40 bytes, flushed one by one. */
    EXPECT(hp_tfevents_open(&w, dir, 1.0) == 0, "%s", hp_error_message());
    struct rlimit small = {300, old.rlim_max};
    setrlimit(RLIMIT_FSIZE, &small);
    int failed_at = -1;
    for (int step = 0; w && step < 20 && failed_at < 0; step++)
        if (hp_tfevents_scalar(w, 2.0, step, "train_loss", 1.0 / (step + 1)) != 0 ||
            hp_tfevents_flush(w) != 0)
            failed_at = step;
    char *msg = hp_xstrdup(hp_error_message());
    int later = w ? hp_tfevents_scalar(w, 3.0, 99, "train_loss", 1.0) : 0;
    char *later_msg = hp_xstrdup(hp_error_message());
    char *path = hp_xstrdup(w ? hp_tfevents_path(w) : "");
    int close_rc = hp_tfevents_close(w);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);

    EXPECT(failed_at > 0, "no write failed (failed_at %d)", failed_at);
    EXPECT(strstr(msg, path) && strstr(msg, "File too large"), "message: %s", msg);
    EXPECT(later == -1 && strstr(later_msg, "earlier write failed"), "later record: %s",
           later_msg);
    EXPECT(close_rc == -1, "close reported success after a failed write");
    file_bytes f = read_all(path);
    size_t off[32], len[32], tail = 0;
    int n = parse_records(&f, off, len, 32, &tail);
    EXPECT(f.len == 300, "file of %zu bytes (the limit is 300)", f.len);
    EXPECT(n == failed_at + 1, "%d complete records, want %d", n, failed_at + 1);
    /* The torn tail is shorter than one scalar record (16 + data; a step
     * below 20 adds at most 2 bytes to the step-0 record len[1]). */
    EXPECT(n > 1 && tail < 16 + len[1] + 2, "torn tail of %zu bytes", tail);
    free(f.data);
    free(msg);
    free(later_msg);
    free(path);
    remove_tree(dir);
    free(dir);
}

int main(void)
{
    RUN(crc32c_known_vectors);
    RUN(crc32c_matches_bitwise_reference);
    RUN(crc32c_mask);
    RUN(varint_encoding);
    RUN(zigzag_encoding);
    RUN(field_encoding);
    RUN(utf8_check);
    RUN(encode_file_version);
    RUN(encode_scalar);
    RUN(encode_session_end);
    RUN(encode_session_start);
    RUN(encode_experiment);
    RUN(bad_input_rejected);
    RUN(file_names);
    RUN(written_file_framing);
    RUN(folder_errors);
    RUN(write_error_mid_record);
    return testlib_finish();
}
