/* pbwire.c - the byte-level layers under tfevents.c: CRC-32C, a growable
 * buffer, the protobuf wire format and a UTF-8 check.
 *
 * CRC-32C (Castagnoli; RFC 3720 appendix B.4): reflected polynomial
 * 0x82f63b78, register preset to 0xffffffff and inverted at the end.  Four
 * bits per step through a 16-entry table: one step of four bits maps register
 * r to (r >> 4) ^ T[r & 15] where T[i] is i shifted through four single-bit
 * steps (bit step: r = r >> 1 ^ (r & 1 ? 0x82f63b78 : 0)).
 *
 * Protobuf encoding (protobuf.dev/programming-guides/encoding): a field is
 * key = varint(field_number << 3 | wire_type) followed by its payload: varint
 * (7 bits per byte, low group first, high bit = more follows; negative int32
 * and int64 take 10 bytes), fixed32/fixed64 little-endian, or varint length
 * + bytes for strings, bytes and nested messages.  sint64 uses the zigzag map
 * (v << 1) ^ (v >> 63).
 */
#include "tfevents.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* T[i]: i run through four bit-steps of the reflected 0x82f63b78 CRC. */
static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3,
    0x61c69362, 0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
    0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t hp_crc32c(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t r = ~crc;
    for (size_t i = 0; i < n; i++) {
        r ^= p[i];
        r = (r >> 4) ^ crc32c_nibble[r & 15];
        r = (r >> 4) ^ crc32c_nibble[r & 15];
    }
    return ~r;
}

uint32_t hp_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* --------------------------------------------------------------- buffer -- */

void hp_pbuf_release(hp_pbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void reserve(hp_pbuf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        HP_PANIC("protobuf buffer of %zu + %zu bytes", b->len, extra);
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = hp_xrealloc(b->data, cap);
    b->cap = cap;
}

void hp_pb_raw(hp_pbuf *b, const void *bytes, size_t n)
{
    if (n == 0)
        return;
    reserve(b, n);
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

/* ----------------------------------------------------------- wire format -- */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes varint(v) at dst (varint_size(v) bytes). */
static void put_varint(unsigned char *dst, uint64_t v)
{
    while (v >= 0x80) {
        *dst++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *dst = (unsigned char)v;
}

void hp_pb_varint(hp_pbuf *b, uint64_t v)
{
    reserve(b, 10);
    put_varint(b->data + b->len, v);
    b->len += varint_size(v);
}

uint64_t hp_pb_zigzag(int64_t v)
{
    /* (v << 1) ^ (v >> 63) with the shifts done on unsigned values, so that
     * neither the left shift of a negative nor the arithmetic right shift is
     * implementation-defined. */
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (0 - (u >> 63));
}

void hp_pb_key(hp_pbuf *b, int field, int wire_type)
{
    if (field < 1 || field > 536870911 || wire_type < 0 || wire_type > 5)
        HP_PANIC("protobuf key field %d wire type %d", field, wire_type);
    hp_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

void hp_pb_field_varint(hp_pbuf *b, int field, uint64_t v)
{
    hp_pb_key(b, field, HP_PB_VARINT);
    hp_pb_varint(b, v);
}

void hp_pb_field_fixed32(hp_pbuf *b, int field, uint32_t v)
{
    unsigned char le[4];
    for (int i = 0; i < 4; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    hp_pb_key(b, field, HP_PB_FIXED32);
    hp_pb_raw(b, le, 4);
}

void hp_pb_field_fixed64(hp_pbuf *b, int field, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    hp_pb_key(b, field, HP_PB_FIXED64);
    hp_pb_raw(b, le, 8);
}

void hp_pb_field_float(hp_pbuf *b, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    hp_pb_field_fixed32(b, field, bits);
}

void hp_pb_field_double(hp_pbuf *b, int field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    hp_pb_field_fixed64(b, field, bits);
}

void hp_pb_field_bytes(hp_pbuf *b, int field, const void *bytes, size_t n)
{
    hp_pb_key(b, field, HP_PB_LEN);
    hp_pb_varint(b, n);
    hp_pb_raw(b, bytes, n);
}

void hp_pb_field_string(hp_pbuf *b, int field, const char *s)
{
    hp_pb_field_bytes(b, field, s, strlen(s));
}

/* The length goes in front of the content, but is known only at the end:
 * reserve one byte (enough for content below 128 bytes) and move the content
 * up if the varint turns out longer. */
size_t hp_pb_begin(hp_pbuf *b, int field)
{
    hp_pb_key(b, field, HP_PB_LEN);
    reserve(b, 1);
    b->data[b->len++] = 0;
    return b->len;
}

void hp_pb_end(hp_pbuf *b, size_t mark)
{
    if (mark == 0 || mark > b->len)
        HP_PANIC("hp_pb_end: mark %zu outside buffer of %zu bytes", mark, b->len);
    size_t content = b->len - mark;
    size_t extra = varint_size(content) - 1;
    if (extra) {
        reserve(b, extra);
        memmove(b->data + mark + extra, b->data + mark, content);
        b->len += extra;
    }
    put_varint(b->data + mark - 1, content);
}

/* ------------------------------------------------------------------ UTF-8 -- */

int hp_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0; /* continuation byte first, or 0xc0, 0xc1, 0xf5..0xff */
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}
