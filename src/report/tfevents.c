/* tfevents.c - TensorBoard event files: the Event messages hptune writes
 * (scalars and the HParams plugin's experiment / session start / session
 * end summaries) and the writer that frames them into records and appends
 * them to an events.out.tfevents.* file.  Formats, names and the reasons for
 * each choice are in tfevents.h; the byte-level layers are in pbwire.c.
 */
#include "tfevents.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* Field numbers, from tensorboard/compat/proto/{event,summary,tensor,
 * tensor_shape,types}.proto, tensorboard/plugins/hparams/{api,plugin_data}.proto
 * and google/protobuf/struct.proto. */
enum {
    EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5,
    SUMMARY_VALUE = 1,
    VALUE_TAG = 1, VALUE_SIMPLE_VALUE = 2, VALUE_TENSOR = 8, VALUE_METADATA = 9,
    METADATA_PLUGIN_DATA = 1, PLUGIN_DATA_NAME = 1, PLUGIN_DATA_CONTENT = 2,
    TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, SHAPE_DIM = 2,
    HPDATA_EXPERIMENT = 2, HPDATA_SESSION_START = 3, HPDATA_SESSION_END = 4,
    EXPERIMENT_DESCRIPTION = 1, EXPERIMENT_TIME_CREATED = 3, EXPERIMENT_HPARAM_INFOS = 4,
    EXPERIMENT_METRIC_INFOS = 5,
    HPARAMINFO_NAME = 1, HPARAMINFO_TYPE = 4, HPARAMINFO_DISCRETE = 5, HPARAMINFO_INTERVAL = 6,
    INTERVAL_MIN = 1, INTERVAL_MAX = 2,
    LISTVALUE_VALUES = 1,
    PBVALUE_NUMBER = 2, PBVALUE_STRING = 3, PBVALUE_BOOL = 4,
    METRICINFO_NAME = 1, METRICNAME_TAG = 2,
    START_HPARAMS = 1, START_GROUP_NAME = 4, START_TIME = 5,
    MAPENTRY_KEY = 1, MAPENTRY_VALUE = 2,
    END_STATUS = 1, END_TIME = 2,
};
enum { DT_FLOAT = 1 };                                                   /* types.proto */
enum { DATA_TYPE_STRING = 1, DATA_TYPE_BOOL = 2, DATA_TYPE_FLOAT64 = 3 }; /* api.proto */

#define FILE_VERSION "brain.Event:2"
#define HPARAMS_PLUGIN "hparams"
#define TAG_EXPERIMENT "_hparams_/experiment"
#define TAG_SESSION_START "_hparams_/session_start_info"
#define TAG_SESSION_END "_hparams_/session_end_info"
/* Pending records are handed to the kernel once they reach this size. */
#define WRITE_THRESHOLD 65536
/* Open gives up after this many existing names for one second, host and pid. */
#define MAX_NAME_TRIES 10000

/* -------------------------------------------------------------- checks -- */

static int check_time(double t, const char *what)
{
    if (!isfinite(t))
        return HP_ERR("TensorBoard %s %g is not a finite number of seconds", what, t);
    return 0;
}

/* A proto3 string: valid UTF-8; `what` names it in the message. */
static int check_text(const char *s, const char *what)
{
    if (!s)
        HP_PANIC("TensorBoard %s is NULL", what);
    if (!hp_utf8_valid(s, strlen(s)))
        return HP_ERR("TensorBoard %s \"%s\" is not valid UTF-8", what, s);
    return 0;
}

static int check_name(const char *s, const char *what)
{
    if (check_text(s, what) != 0)
        return -1;
    if (!*s)
        return HP_ERR("TensorBoard %s is empty", what);
    return 0;
}

static int check_number(double x, const char *what, const char *name)
{
    if (!isfinite(x))
        return HP_ERR("TensorBoard hyperparameter \"%s\": %s %g is not finite "
                      "(the HParams dashboard cannot show it)", name, what, x);
    return 0;
}

/* ------------------------------------------------------ message pieces -- */

/* proto3 leaves out a double field whose bits are all zero (but writes -0.0). */
static void put_double_nonzero(hp_pbuf *b, int field, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if (bits)
        hp_pb_field_double(b, field, x);
}

static void put_string_nonempty(hp_pbuf *b, int field, const char *s)
{
    if (s && *s)
        hp_pb_field_string(b, field, s);
}

/* Event.wall_time and Event.step (both left out when zero). */
static void event_head(hp_pbuf *b, double wall_time, int64_t step)
{
    put_double_nonzero(b, EVENT_WALL_TIME, wall_time);
    if (step != 0)
        hp_pb_field_varint(b, EVENT_STEP, (uint64_t)step);
}

/* google.protobuf.Value as field `field` (a oneof member: always written). */
static void put_pb_value(hp_pbuf *b, int field, const hp_tb_value *v)
{
    size_t m = hp_pb_begin(b, field);
    switch (v->type) {
    case HP_TB_FLOAT: hp_pb_field_double(b, PBVALUE_NUMBER, v->number); break;
    case HP_TB_STRING: hp_pb_field_string(b, PBVALUE_STRING, v->string); break;
    case HP_TB_BOOL: hp_pb_field_varint(b, PBVALUE_BOOL, v->boolean ? 1 : 0); break;
    }
    hp_pb_end(b, m);
}

/* The open message marks of an hparams summary event, innermost last. */
typedef struct hparams_marks {
    size_t summary, value, metadata, plugin_data, content;
} hparams_marks;

/* Event{step 0, summary{value{tag, tensor: NULL_TENSOR, metadata{plugin_data{
 * "hparams", content: HParamsPluginData{...   -- left open for the caller's
 * oneof member.  HParamsPluginData.version is 0, the proto3 default, so it is
 * not written. */
static void hparams_open(hp_pbuf *b, double wall_time, const char *tag, hparams_marks *m)
{
    event_head(b, wall_time, 0);
    m->summary = hp_pb_begin(b, EVENT_SUMMARY);
    m->value = hp_pb_begin(b, SUMMARY_VALUE);
    hp_pb_field_string(b, VALUE_TAG, tag);
    /* metadata.NULL_TENSOR: dtype DT_FLOAT, shape [0] (a dim whose size 0 is
     * the default, so the dim is an empty message). */
    size_t tensor = hp_pb_begin(b, VALUE_TENSOR);
    hp_pb_field_varint(b, TENSOR_DTYPE, DT_FLOAT);
    size_t shape = hp_pb_begin(b, TENSOR_SHAPE);
    hp_pb_end(b, hp_pb_begin(b, SHAPE_DIM));
    hp_pb_end(b, shape);
    hp_pb_end(b, tensor);
    m->metadata = hp_pb_begin(b, VALUE_METADATA);
    m->plugin_data = hp_pb_begin(b, METADATA_PLUGIN_DATA);
    hp_pb_field_string(b, PLUGIN_DATA_NAME, HPARAMS_PLUGIN);
    m->content = hp_pb_begin(b, PLUGIN_DATA_CONTENT);
}

static void hparams_close(hp_pbuf *b, const hparams_marks *m)
{
    hp_pb_end(b, m->content);
    hp_pb_end(b, m->plugin_data);
    hp_pb_end(b, m->metadata);
    hp_pb_end(b, m->value);
    hp_pb_end(b, m->summary);
}

/* ------------------------------------------------------------- events -- */

int hp_tb_encode_file_version(hp_pbuf *b, double wall_time)
{
    if (check_time(wall_time, "wall time") != 0)
        return -1;
    event_head(b, wall_time, 0);
    hp_pb_field_string(b, EVENT_FILE_VERSION, FILE_VERSION);
    return 0;
}

int hp_tb_encode_scalar(hp_pbuf *b, double wall_time, int64_t step, const char *tag,
                        double value)
{
    if (check_time(wall_time, "wall time") != 0 || check_name(tag, "scalar tag") != 0)
        return -1;
    /* Beyond float range: +-inf explicitly (the C conversion is undefined there). */
    float f = (isfinite(value) && fabs(value) > FLT_MAX) ? (value > 0 ? INFINITY : -INFINITY)
                                                         : (float)value;
    event_head(b, wall_time, step);
    size_t summary = hp_pb_begin(b, EVENT_SUMMARY);
    size_t v = hp_pb_begin(b, SUMMARY_VALUE);
    hp_pb_field_string(b, VALUE_TAG, tag);
    hp_pb_field_float(b, VALUE_SIMPLE_VALUE, f);
    hp_pb_end(b, v);
    hp_pb_end(b, summary);
    return 0;
}

static int check_hparam(const hp_tb_hparam *h)
{
    if (check_name(h->name, "hyperparameter name") != 0)
        return -1;
    if (h->n_values < 0)
        return HP_ERR("TensorBoard hyperparameter \"%s\": %d domain values", h->name, h->n_values);
    switch (h->type) {
    case HP_TB_FLOAT:
        if (h->is_interval && h->n_values > 0)
            return HP_ERR("TensorBoard hyperparameter \"%s\": give discrete values or an "
                          "interval, not both", h->name);
        if (h->is_interval) {
            if (check_number(h->min, "interval minimum", h->name) != 0 ||
                check_number(h->max, "interval maximum", h->name) != 0)
                return -1;
            if (h->min > h->max)
                return HP_ERR("TensorBoard hyperparameter \"%s\": interval [%g, %g] has "
                              "min > max", h->name, h->min, h->max);
        }
        if (h->n_values > 0 && !h->values)
            HP_PANIC("hyperparameter \"%s\": %d values but no array", h->name, h->n_values);
        for (int i = 0; i < h->n_values; i++)
            if (check_number(h->values[i], "domain value", h->name) != 0)
                return -1;
        return 0;
    case HP_TB_STRING:
        if (h->is_interval)
            return HP_ERR("TensorBoard hyperparameter \"%s\": a string hyperparameter has no "
                          "interval domain", h->name);
        if (h->n_values > 0 && !h->strings)
            HP_PANIC("hyperparameter \"%s\": %d values but no array", h->name, h->n_values);
        for (int i = 0; i < h->n_values; i++)
            if (check_text(h->strings[i], "hyperparameter value") != 0)
                return -1;
        return 0;
    case HP_TB_BOOL:
        if (h->is_interval || h->n_values > 0)
            return HP_ERR("TensorBoard hyperparameter \"%s\": a bool hyperparameter takes no "
                          "domain (it is always {false, true})", h->name);
        return 0;
    }
    return HP_ERR("TensorBoard hyperparameter \"%s\": unknown type %d", h->name, (int)h->type);
}

int hp_tb_encode_experiment(hp_pbuf *b, double wall_time, const hp_tb_hparam *hparams, int n,
                            const char *const *metric_tags, int n_metrics,
                            const char *description)
{
    if (n < 0 || n_metrics < 0 || (n > 0 && !hparams) || (n_metrics > 0 && !metric_tags))
        HP_PANIC("experiment with %d hyperparameters and %d metrics", n, n_metrics);
    if (check_time(wall_time, "wall time") != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (check_hparam(&hparams[i]) != 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(hparams[i].name, hparams[j].name) == 0)
                return HP_ERR("TensorBoard hyperparameter \"%s\" is declared twice",
                              hparams[i].name);
    }
    for (int i = 0; i < n_metrics; i++) {
        if (check_name(metric_tags[i], "metric tag") != 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(metric_tags[i], metric_tags[j]) == 0)
                return HP_ERR("TensorBoard metric \"%s\" is declared twice", metric_tags[i]);
    }
    if (description && check_text(description, "experiment description") != 0)
        return -1;

    hparams_marks m;
    hparams_open(b, wall_time, TAG_EXPERIMENT, &m);
    size_t exp = hp_pb_begin(b, HPDATA_EXPERIMENT);
    put_string_nonempty(b, EXPERIMENT_DESCRIPTION, description);
    put_double_nonzero(b, EXPERIMENT_TIME_CREATED, wall_time);
    for (int i = 0; i < n; i++) {
        const hp_tb_hparam *h = &hparams[i];
        size_t info = hp_pb_begin(b, EXPERIMENT_HPARAM_INFOS);
        hp_pb_field_string(b, HPARAMINFO_NAME, h->name);
        int type = h->type == HP_TB_FLOAT    ? DATA_TYPE_FLOAT64
                   : h->type == HP_TB_STRING ? DATA_TYPE_STRING
                                             : DATA_TYPE_BOOL;
        hp_pb_field_varint(b, HPARAMINFO_TYPE, (uint64_t)type);
        if (h->type == HP_TB_FLOAT && h->is_interval) {
            size_t iv = hp_pb_begin(b, HPARAMINFO_INTERVAL);
            put_double_nonzero(b, INTERVAL_MIN, h->min);
            put_double_nonzero(b, INTERVAL_MAX, h->max);
            hp_pb_end(b, iv);
        } else if (h->n_values > 0 || h->type == HP_TB_BOOL) {
            size_t list = hp_pb_begin(b, HPARAMINFO_DISCRETE);
            int count = h->type == HP_TB_BOOL ? 2 : h->n_values;
            for (int k = 0; k < count; k++) {
                hp_tb_value v = {.type = h->type};
                if (h->type == HP_TB_FLOAT)
                    v.number = h->values[k];
                else if (h->type == HP_TB_STRING)
                    v.string = h->strings[k];
                else
                    v.boolean = k; /* false, then true */
                put_pb_value(b, LISTVALUE_VALUES, &v);
            }
            hp_pb_end(b, list);
        }
        hp_pb_end(b, info);
    }
    for (int i = 0; i < n_metrics; i++) {
        size_t info = hp_pb_begin(b, EXPERIMENT_METRIC_INFOS);
        size_t name = hp_pb_begin(b, METRICINFO_NAME);
        hp_pb_field_string(b, METRICNAME_TAG, metric_tags[i]); /* group "": the session run */
        hp_pb_end(b, name);
        hp_pb_end(b, info);
    }
    hp_pb_end(b, exp);
    hparams_close(b, &m);
    return 0;
}

typedef struct named_value {
    const char *name;
    const hp_tb_value *value;
} named_value;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named_value *)a)->name, ((const named_value *)b)->name);
}

static int check_value(const char *name, const hp_tb_value *v)
{
    if (check_name(name, "hyperparameter name") != 0)
        return -1;
    switch (v->type) {
    case HP_TB_FLOAT: return check_number(v->number, "value", name);
    case HP_TB_STRING: return check_text(v->string, "hyperparameter value");
    case HP_TB_BOOL: return 0;
    }
    return HP_ERR("TensorBoard hyperparameter \"%s\": unknown value type %d", name, (int)v->type);
}

int hp_tb_encode_session_start(hp_pbuf *b, double wall_time, const char *const *names,
                               const hp_tb_value *values, int n, const char *group_name,
                               double start_time)
{
    if (n < 0 || (n > 0 && (!names || !values)))
        HP_PANIC("session start with %d hyperparameters", n);
    if (check_time(wall_time, "wall time") != 0 || check_time(start_time, "start time") != 0)
        return -1;
    if (group_name && check_text(group_name, "session group name") != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (check_value(names[i], &values[i]) != 0)
            return -1;
    /* Map entries in byte order of the names, as summary_v2.hparams_pb adds them. */
    named_value *sorted = hp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *sorted);
    for (int i = 0; i < n; i++)
        sorted[i] = (named_value){names[i], &values[i]};
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(sorted[i].name, sorted[i - 1].name) == 0) {
            HP_ERR("TensorBoard session: hyperparameter \"%s\" is given twice", sorted[i].name);
            free(sorted);
            return -1;
        }

    hparams_marks m;
    hparams_open(b, wall_time, TAG_SESSION_START, &m);
    size_t start = hp_pb_begin(b, HPDATA_SESSION_START);
    for (int i = 0; i < n; i++) {
        size_t entry = hp_pb_begin(b, START_HPARAMS);
        hp_pb_field_string(b, MAPENTRY_KEY, sorted[i].name);
        put_pb_value(b, MAPENTRY_VALUE, sorted[i].value);
        hp_pb_end(b, entry);
    }
    put_string_nonempty(b, START_GROUP_NAME, group_name);
    put_double_nonzero(b, START_TIME, start_time);
    hp_pb_end(b, start);
    hparams_close(b, &m);
    free(sorted);
    return 0;
}

int hp_tb_encode_session_end(hp_pbuf *b, double wall_time, hp_tb_status status,
                             double end_time)
{
    if (check_time(wall_time, "wall time") != 0 || check_time(end_time, "end time") != 0)
        return -1;
    if ((int)status < HP_TB_UNKNOWN || (int)status > HP_TB_RUNNING)
        return HP_ERR("TensorBoard session status %d is not one of unknown, success, "
                      "failure, running", (int)status);
    hparams_marks m;
    hparams_open(b, wall_time, TAG_SESSION_END, &m);
    size_t end = hp_pb_begin(b, HPDATA_SESSION_END);
    if (status != HP_TB_UNKNOWN)
        hp_pb_field_varint(b, END_STATUS, (uint64_t)status);
    put_double_nonzero(b, END_TIME, end_time);
    hp_pb_end(b, end);
    hparams_close(b, &m);
    return 0;
}

void hp_tb_frame_record(hp_pbuf *b, const void *data, size_t n)
{
    unsigned char head[12], foot[4];
    uint64_t len = n;
    for (int i = 0; i < 8; i++)
        head[i] = (unsigned char)(len >> (8 * i));
    uint32_t len_crc = hp_crc32c_mask(hp_crc32c(0, head, 8));
    uint32_t data_crc = hp_crc32c_mask(hp_crc32c(0, data, n));
    for (int i = 0; i < 4; i++) {
        head[8 + i] = (unsigned char)(len_crc >> (8 * i));
        foot[i] = (unsigned char)(data_crc >> (8 * i));
    }
    hp_pb_raw(b, head, sizeof head);
    hp_pb_raw(b, data, n);
    hp_pb_raw(b, foot, sizeof foot);
}

char *hp_tb_file_name(double wall_time, const char *host, long pid, int n)
{
    if (!(wall_time >= 0 && wall_time < 1e15))
        HP_PANIC("event file time %g", wall_time);
    char *name = hp_xasprintf("events.out.tfevents.%010lld.%s.%ld.%d.v2",
                              (long long)wall_time, host, pid, n);
    /* Only the host part can hold a '/', which would name a folder. */
    for (char *c = name; *c; c++)
        if (*c == '/')
            *c = '_';
    return name;
}

/* ------------------------------------------------------------- writer -- */

struct hp_tfevents {
    char *path;      /* the event file */
    int fd;
    hp_pbuf pending; /* framed records not yet handed to the kernel */
    hp_pbuf event;   /* scratch: the Event being encoded */
    char *failure;   /* strerror of the first failed write (the file ends there), or NULL */
    /* HParams summaries written: TensorBoard reads only the first of each tag in a run. */
    int wrote_experiment, wrote_start, wrote_end;
};

const char *hp_tfevents_path(const hp_tfevents *w) { return w->path; }

/* Record a failed system call; the writer takes no more records. */
static int fail(hp_tfevents *w, const char *verb, int err)
{
    if (!w->failure)
        w->failure = hp_xstrdup(strerror(err));
    return HP_ERR("cannot %s TensorBoard event file %s: %s", verb, w->path, strerror(err));
}

static int write_pending(hp_tfevents *w)
{
    size_t done = 0;
    while (done < w->pending.len) {
        ssize_t k = write(w->fd, w->pending.data + done, w->pending.len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return fail(w, "write", k < 0 ? errno : EIO);
        done += (size_t)k;
    }
    w->pending.len = 0;
    return 0;
}

/* TensorBoard keeps the summary metadata of a tag's first event in a run
 * (plugin_event_accumulator.py, data_compat.rs initial_metadata), which is
 * where the HParams plugin data lives: a second summary of the tag would be
 * ignored, so it is refused. */
static int once(const hp_tfevents *w, int *flag, const char *what)
{
    if (*flag)
        return HP_ERR("%s: %s was written already; TensorBoard reads only the first one of a "
                      "run (write it once, when it is final)", w->path, what);
    return 0;
}

static int writable(const hp_tfevents *w)
{
    if (!w)
        HP_PANIC("TensorBoard writer is NULL");
    if (w->failure)
        return HP_ERR("TensorBoard event file %s takes no more records: an earlier write "
                      "failed (%s)", w->path, w->failure);
    return 0;
}

/* Frame the encoded event into the pending records (the event buffer is then
 * emptied, also after an encoding error). */
static int append_event(hp_tfevents *w, int encode_rc)
{
    if (encode_rc != 0) {
        w->event.len = 0;
        hp_error_prefix("%s", w->path);
        return -1;
    }
    hp_tb_frame_record(&w->pending, w->event.data, w->event.len);
    w->event.len = 0;
    return w->pending.len >= WRITE_THRESHOLD ? write_pending(w) : 0;
}

static void free_writer(hp_tfevents *w)
{
    hp_pbuf_release(&w->pending);
    hp_pbuf_release(&w->event);
    free(w->failure);
    free(w->path);
    free(w);
}

/* mkdir -p: every prefix of dir ending before a '/', then dir itself. */
static int make_dirs(const char *dir)
{
    char *p = hp_xstrdup(dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int err = errno;
            HP_ERR("cannot create TensorBoard log folder %s: %s", p, strerror(err));
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0)
        return HP_ERR("cannot create TensorBoard log folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return HP_ERR("TensorBoard log folder %s exists and is not a folder", dir);
    return 0;
}

int hp_tfevents_open(hp_tfevents **out, const char *dir, double wall_time)
{
    *out = NULL;
    if (!dir)
        HP_PANIC("TensorBoard log folder is NULL");
    if (!*dir)
        return HP_ERR("TensorBoard log folder name is empty");
    if (!(wall_time >= 0 && wall_time < 1e15))
        return HP_ERR("TensorBoard event file time %g is not a unix time", wall_time);
    if (make_dirs(dir) != 0)
        return -1;
    char host[256];
    if (gethostname(host, sizeof host) != 0 || !host[0])
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;

    char *path = NULL;
    int fd = -1;
    for (int n = 0; n < MAX_NAME_TRIES && fd < 0; n++) {
        char *name = hp_tb_file_name(wall_time, host, (long)getpid(), n);
        free(path);
        path = hp_xasprintf("%.*s/%s", (int)dlen, dir, name);
        free(name);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            int err = errno;
            HP_ERR("cannot create TensorBoard event file %s: %s", path, strerror(err));
            free(path);
            return -1;
        }
    }
    if (fd < 0) {
        HP_ERR("cannot create TensorBoard event file %s: %d names for this second exist "
               "already", path, MAX_NAME_TRIES);
        free(path);
        return -1;
    }
    hp_tfevents *w = hp_xcalloc(1, sizeof *w);
    w->path = path;
    w->fd = fd;
    /* Write the file_version record at once: a full disk shows here. */
    if (append_event(w, hp_tb_encode_file_version(&w->event, wall_time)) != 0 ||
        write_pending(w) != 0) {
        unlink(w->path); /* nothing usable in it; the message names it */
        close(w->fd);
        free_writer(w);
        return -1;
    }
    *out = w;
    return 0;
}

int hp_tfevents_scalar(hp_tfevents *w, double wall_time, int64_t step, const char *tag,
                       double value)
{
    if (writable(w) != 0)
        return -1;
    return append_event(w, hp_tb_encode_scalar(&w->event, wall_time, step, tag, value));
}

int hp_tfevents_experiment(hp_tfevents *w, double wall_time, const hp_tb_hparam *hparams, int n,
                           const char *const *metric_tags, int n_metrics, const char *description)
{
    if (writable(w) != 0 || once(w, &w->wrote_experiment, "the experiment summary") != 0)
        return -1;
    int rc = append_event(w, hp_tb_encode_experiment(&w->event, wall_time, hparams, n,
                                                      metric_tags, n_metrics, description));
    w->wrote_experiment = rc == 0;
    return rc;
}

int hp_tfevents_session_start(hp_tfevents *w, double wall_time, const char *const *names,
                              const hp_tb_value *values, int n, const char *group_name,
                              double start_time)
{
    if (writable(w) != 0 || once(w, &w->wrote_start, "the session start info") != 0)
        return -1;
    int rc = append_event(w, hp_tb_encode_session_start(&w->event, wall_time, names, values, n,
                                                         group_name, start_time));
    w->wrote_start = rc == 0;
    return rc;
}

int hp_tfevents_session_end(hp_tfevents *w, double wall_time, hp_tb_status status,
                            double end_time)
{
    if (writable(w) != 0 || once(w, &w->wrote_end, "the session end info") != 0)
        return -1;
    int rc = append_event(w, hp_tb_encode_session_end(&w->event, wall_time, status, end_time));
    w->wrote_end = rc == 0;
    return rc;
}

int hp_tfevents_flush(hp_tfevents *w)
{
    if (writable(w) != 0)
        return -1;
    return write_pending(w);
}

int hp_tfevents_close(hp_tfevents *w)
{
    if (!w)
        return 0;
    int rc = 0;
    if (w->failure)
        rc = HP_ERR("TensorBoard event file %s is incomplete: a write failed (%s)", w->path,
                    w->failure);
    else if (write_pending(w) != 0)
        rc = -1;
    else if (fsync(w->fd) != 0)
        rc = fail(w, "fsync", errno);
    if (close(w->fd) != 0 && rc == 0)
        rc = fail(w, "close", errno);
    free_writer(w);
    return rc;
}
