/* event.c - encode and decode events (see event.h for the frame and payloads). */
#include "event.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "error.h"

static const char *const type_names[HP_EV_TYPE_COUNT] = {
    "?", "job", "assign", "epoch", "finished", "failed", "interrupted", "run", "ended", "ready",
    "fatal", "stop", "restarted", "test", "stop-trial", "budget"};

const char *hp_event_type_name(hp_event_type type)
{
    return (int)type > 0 && (int)type < HP_EV_TYPE_COUNT ? type_names[type] : "unknown";
}

hp_event hp_event_make(hp_event_type type, int trial, int epoch)
{
    hp_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.trial = trial;
    e.epoch = epoch;
    return e;
}

/* ----------------------------------------------------------- writing ---- */

typedef struct buffer {
    uint8_t *p;
    size_t n, cap;
} buffer;

static void put_bytes(buffer *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = hp_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u32(buffer *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_bytes(b, x, 4);
}
static void put_i32(buffer *b, int v) { put_u32(b, (uint32_t)v); }
static void put_f64(buffer *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u32(b, (uint32_t)bits);
    put_u32(b, (uint32_t)(bits >> 32));
}
static void put_text(buffer *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    put_bytes(b, s, n);
}

static void write_u32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t read_u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Header placeholder, payload written by the caller, then frame_close(). */
static void frame_open(buffer *b, hp_event_type type)
{
    put_u32(b, HP_EVENT_MAGIC);
    put_u32(b, (uint32_t)type); /* u16 type, u16 zero */
    put_u32(b, 0);              /* payload size, set by frame_close */
}

static size_t frame_close(buffer *b, uint8_t **bytes)
{
    write_u32_at(b->p + 8, (uint32_t)(b->n - HP_EVENT_HEADER_BYTES));
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b->p, (uInt)b->n);
    put_u32(b, crc);
    *bytes = b->p;
    return b->n;
}

size_t hp_event_encode(const hp_event *e, uint8_t **bytes)
{
    buffer b = {0};
    frame_open(&b, e->type);
    switch (e->type) {
    case HP_EV_ASSIGN: {
        const hp_assignment *a = &e->assign;
        put_i32(&b, a->trial);
        put_i32(&b, a->from_epoch);
        put_i32(&b, a->to_epoch);
        put_i32(&b, a->bracket);
        put_i32(&b, a->rung);
        size_t n_keys;
        const hp_key *keys = hp_config_keys(&n_keys);
        put_u32(&b, (uint32_t)n_keys);
        for (size_t k = 0; k < n_keys; k++)
            put_f64(&b, hp_config_get(&e->config, &keys[k]));
        put_f64(&b, e->time);
        break;
    }
    case HP_EV_EPOCH:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_i32(&b, e->checkpointed);
        put_u32(&b, HP_METRIC_COLS);
        for (int c = 0; c < HP_METRIC_COLS; c++)
            put_f64(&b, e->metrics[c]);
        put_f64(&b, e->time);
        break;
    case HP_EV_FINISHED:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_f64(&b, e->time);
        break;
    case HP_EV_FAILED:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_text(&b, e->text);
        put_f64(&b, e->time);
        break;
    case HP_EV_INTERRUPTED:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_i32(&b, e->batch);
        break;
    case HP_EV_RUN:
    case HP_EV_ENDED:
        put_f64(&b, e->seconds);
        put_i32(&b, e->flag);
        break;
    case HP_EV_FATAL:
        put_text(&b, e->text);
        break;
    case HP_EV_STOP:
        put_i32(&b, e->flag);
        break;
    case HP_EV_READY:
        break;
    case HP_EV_RESTARTED:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_text(&b, e->text);
        break;
    case HP_EV_TEST:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_i32(&b, e->batch);
        put_u32(&b, HP_METRIC_COLS);
        for (int c = 0; c < HP_METRIC_COLS; c++)
            put_f64(&b, e->metrics[c]);
        put_text(&b, e->text);
        break;
    case HP_EV_STOP_TRIAL:
        put_i32(&b, e->trial);
        put_i32(&b, e->epoch);
        put_i32(&b, e->flag);
        put_f64(&b, e->time);
        break;
    case HP_EV_BUDGET:
        put_f64(&b, e->seconds);
        put_i32(&b, e->epoch);
        break;
    case HP_EV_JOB:
        HP_PANIC("encode JOB records with hp_event_encode_job");
    default:
        HP_PANIC("cannot encode an event of type %d", (int)e->type);
    }
    return frame_close(&b, bytes);
}

size_t hp_event_encode_job(const char *path, const char *text, uint8_t **bytes)
{
    buffer b = {0};
    frame_open(&b, HP_EV_JOB);
    put_u32(&b, HP_JOURNAL_FORMAT_VERSION);
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    put_u32(&b, (uint32_t)n_keys);
    for (size_t k = 0; k < n_keys; k++)
        put_text(&b, keys[k].name);
    put_text(&b, path);
    put_text(&b, text);
    return frame_close(&b, bytes);
}

/* ----------------------------------------------------------- reading ---- */

int hp_event_frame(const uint8_t *bytes, size_t avail, size_t *frame_size)
{
    if (avail < HP_EVENT_HEADER_BYTES) {
        /* a partial header: torn if what is there could start a frame */
        uint8_t magic[4];
        write_u32_at(magic, HP_EVENT_MAGIC);
        return memcmp(bytes, magic, avail < 4 ? avail : 4) == 0 ? 1 : HP_ERR("bad record magic");
    }
    uint32_t magic = read_u32_at(bytes), type = read_u32_at(bytes + 4), size = read_u32_at(bytes + 8);
    if (magic != HP_EVENT_MAGIC)
        return HP_ERR("bad record magic 0x%08x", magic);
    if (type == 0 || type >= HP_EV_TYPE_COUNT)
        return HP_ERR("unknown record type %u", type);
    if (size > HP_EVENT_MAX_PAYLOAD)
        return HP_ERR("record size %u is impossible", size);
    size_t total = HP_EVENT_HEADER_BYTES + (size_t)size + HP_EVENT_TRAILER_BYTES;
    if (avail < total)
        return 1;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, (uInt)(HP_EVENT_HEADER_BYTES + size));
    if (crc != read_u32_at(bytes + HP_EVENT_HEADER_BYTES + size))
        return HP_ERR("%s record fails its checksum", hp_event_type_name((hp_event_type)type));
    *frame_size = total;
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
    int short_read;
} reader;

static int take(reader *r, size_t n)
{
    if (r->pos + n > r->n) {
        r->short_read = 1;
        return 0;
    }
    r->pos += n;
    return 1;
}
static uint32_t get_u32(reader *r) { return take(r, 4) ? read_u32_at(r->p + r->pos - 4) : 0; }
static int get_i32(reader *r) { return (int)(int32_t)get_u32(r); }
static double get_f64(reader *r)
{
    uint64_t lo = get_u32(r), hi = get_u32(r);
    uint64_t bits = lo | hi << 32;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
/* A text as a new NUL-terminated string (NULL on a short read). */
static char *get_text(reader *r)
{
    uint32_t n = get_u32(r);
    if (r->short_read || !take(r, n))
        return NULL;
    char *s = hp_xcalloc((size_t)n + 1, 1);
    memcpy(s, r->p + r->pos - n, n);
    return s;
}

/* Configuration columns -> this hptune's config (unknown columns are skipped,
 * keys the record lacks keep their defaults). */
static int get_config(reader *r, const hp_event_keymap *keymap, hp_config *config)
{
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    uint32_t n = get_u32(r);
    if (r->short_read)
        return 0;
    if (keymap ? n != (uint32_t)keymap->n_columns : n != n_keys)
        return HP_ERR("an assignment holds %u configuration values, the table has %d", n,
                      keymap ? keymap->n_columns : (int)n_keys);
    hp_config_defaults(config);
    for (uint32_t c = 0; c < n; c++) {
        double v = get_f64(r);
        int k = keymap ? keymap->map[c] : (int)c;
        if (r->short_read || k < 0)
            continue;
        if (keymap && (int)c == keymap->bool_flip_column && v == 1.0)
            v = 0.5; /* augment_flip: true, the flip of p = 0.5 */
        if (hp_config_set(config, &keys[k], v) != 0) {
            hp_error_prefix("an assignment's configuration");
            return -1;
        }
    }
    return 0;
}

int hp_event_decode(const uint8_t *bytes, size_t size, const hp_event_keymap *keymap, hp_event *out)
{
    memset(out, 0, sizeof *out);
    size_t frame_size = 0;
    int framed = hp_event_frame(bytes, size, &frame_size);
    if (framed < 0)
        return -1;
    if (framed == 1 || frame_size != size)
        return HP_ERR("a truncated or padded record (%zu bytes)", size);
    out->type = (hp_event_type)read_u32_at(bytes + 4);
    reader r = {bytes + HP_EVENT_HEADER_BYTES, size - HP_EVENT_HEADER_BYTES - HP_EVENT_TRAILER_BYTES, 0, 0};
    switch (out->type) {
    case HP_EV_JOB: {
        out->version = (int)get_u32(&r);
        if (out->version != HP_JOURNAL_FORMAT_VERSION)
            return 0; /* the caller reports the version; the rest may be laid out otherwise */
        uint32_t n = get_u32(&r);
        if (r.short_read || n > 10000)
            break;
        out->keys = hp_xcalloc((size_t)n + 1, sizeof *out->keys);
        out->n_keys = (int)n;
        for (uint32_t k = 0; k < n && !r.short_read; k++)
            out->keys[k] = get_text(&r);
        out->path = get_text(&r);
        out->text = get_text(&r);
        break;
    }
    case HP_EV_ASSIGN: {
        hp_assignment *a = &out->assign;
        a->trial = get_i32(&r);
        a->from_epoch = get_i32(&r);
        a->to_epoch = get_i32(&r);
        a->bracket = get_i32(&r);
        a->rung = get_i32(&r);
        out->trial = a->trial;
        if (get_config(&r, keymap, &out->config) != 0) {
            hp_event_release(out);
            return -1;
        }
        out->time = get_f64(&r);
        break;
    }
    case HP_EV_EPOCH: {
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->checkpointed = get_i32(&r);
        uint32_t n = get_u32(&r);
        if (!r.short_read && n != HP_METRIC_COLS) {
            hp_errorf("an epoch record holds %u metrics, the metric row has %d", n, HP_METRIC_COLS);
            return -1;
        }
        for (int c = 0; c < HP_METRIC_COLS; c++)
            out->metrics[c] = get_f64(&r);
        out->time = get_f64(&r);
        break;
    }
    case HP_EV_FINISHED:
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->time = get_f64(&r);
        break;
    case HP_EV_FAILED:
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->text = get_text(&r);
        out->time = get_f64(&r);
        break;
    case HP_EV_INTERRUPTED:
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->batch = get_i32(&r);
        break;
    case HP_EV_RUN:
    case HP_EV_ENDED:
        out->seconds = get_f64(&r);
        out->flag = get_i32(&r);
        break;
    case HP_EV_FATAL:
        out->text = get_text(&r);
        break;
    case HP_EV_STOP:
        out->flag = get_i32(&r);
        break;
    case HP_EV_READY:
        break;
    case HP_EV_RESTARTED:
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->text = get_text(&r);
        break;
    case HP_EV_TEST: {
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->batch = get_i32(&r);
        uint32_t n = get_u32(&r);
        if (!r.short_read && n != HP_METRIC_COLS) {
            hp_errorf("a test record holds %u metrics, the metric row has %d", n, HP_METRIC_COLS);
            return -1;
        }
        for (int c = 0; c < HP_METRIC_COLS; c++)
            out->metrics[c] = get_f64(&r);
        out->text = get_text(&r);
        break;
    }
    case HP_EV_STOP_TRIAL:
        out->trial = get_i32(&r);
        out->epoch = get_i32(&r);
        out->flag = get_i32(&r);
        out->time = get_f64(&r);
        break;
    case HP_EV_BUDGET:
        out->seconds = get_f64(&r);
        out->epoch = get_i32(&r);
        break;
    }
    if (r.short_read || r.pos != r.n) {
        hp_event_type type = out->type;
        hp_event_release(out);
        return HP_ERR("a %s record of %zu bytes does not have the layout of one", hp_event_type_name(type), size);
    }
    if ((out->type == HP_EV_FAILED || out->type == HP_EV_FATAL || out->type == HP_EV_RESTARTED ||
         out->type == HP_EV_TEST) && !out->text)
        out->text = hp_xstrdup("");
    return 0;
}

void hp_event_release(hp_event *e)
{
    free(e->text);
    free(e->path);
    for (int k = 0; k < e->n_keys; k++)
        free(e->keys[k]);
    free(e->keys);
    e->text = e->path = NULL;
    e->keys = NULL;
    e->n_keys = 0;
}

void hp_event_keymap_init(hp_event_keymap *m, const hp_event *job)
{
    m->n_columns = job->n_keys;
    m->map = hp_xcalloc((size_t)job->n_keys + 1, sizeof *m->map);
    m->bool_flip_column = -1;
    int has_rotate = 0;
    for (int c = 0; c < job->n_keys; c++) {
        const hp_key *k = job->keys[c] ? hp_config_find_key(job->keys[c]) : NULL;
        m->map[c] = k ? hp_config_key_index(k) : -1;
        if (k && strcmp(k->name, "augment_flip") == 0)
            m->bool_flip_column = c;
        has_rotate |= k && strcmp(k->name, "augment_rotate") == 0;
    }
    if (has_rotate) /* written since augment_flip is a probability (with augment_rotate) */
        m->bool_flip_column = -1;
}

void hp_event_keymap_release(hp_event_keymap *m)
{
    free(m->map);
    m->map = NULL;
    m->n_columns = 0;
}
