/* tfevents.h - TensorBoard event files (scalars and the HParams dashboard),
 * written without TensorFlow or a protobuf library.
 *
 * FILE FORMAT (TFRecord framing, as TensorFlow's record_writer.cc and
 * TensorBoard's tf_record.rs read it): a file is a sequence of records
 *     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes |
 *     data[length] | uint32 masked CRC-32C of data
 * masked(crc) = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2^32, CRC-32C is
 * the Castagnoli CRC (reflected polynomial 0x82f63b78, init and final xor
 * 0xffffffff; crc32c("123456789") = 0xe3069283).  Each record's data is a
 * serialized tensorboard.Event (tensorboard/compat/proto/event.proto); the
 * first one carries wall_time and file_version "brain.Event:2".
 *
 * FILE NAME: events.out.tfevents.<%010d unix seconds>.<hostname>.<pid>.<n>.v2,
 * as TensorFlow 2's tf.summary.create_file_writer names them (summary_ops_v2.py
 * appends ".<pid>.<uid>" and the default suffix ".v2" to EventsWriter's
 * "events.out.tfevents.%010lld.<host>").  <n> is the smallest number >= 0 for
 * which the name is new (created with O_EXCL), so two writers of one process
 * in one folder within one second get distinct files.  TensorBoard reads any
 * file whose name contains "tfevents".
 *
 * MESSAGES (field numbers from the protos in /work/shared/tensorboard/protos,
 * TensorBoard commit 70b76c922; encodings in ascending field order, proto3
 * default values omitted, as protobuf's own serializers emit them):
 *  - scalar: Event{wall_time, step, summary{value{tag, simple_value}}}.
 *    simple_value (float32) rather than tf.summary.scalar v2's form (a DT_FLOAT
 *    rank-0 TensorProto plus "scalars" plugin metadata) because every reader
 *    takes it: TensorBoard's Rust loader (data_compat.rs: simple_value ->
 *    scalars plugin, DATA_CLASS_SCALAR), its Python loader (data_compat.py
 *    migrates it to the tensor form), and the classic EventAccumulator.Scalars()
 *    used by scripts (which ignores tensor-form scalars); it is also 5 bytes
 *    instead of ~40.  Both forms hold a float32, and the Rust loader rejects
 *    DT_DOUBLE scalars, so no form keeps double precision: values are rounded
 *    to the nearest float (a finite double beyond float range becomes +-inf).
 *  - HParams (tensorboard/plugins/hparams/summary_v2.py and metadata.py): an
 *    Event at step 0 whose summary has one value {tag, tensor, metadata}
 *    where tag is "_hparams_/experiment", "_hparams_/session_start_info" or
 *    "_hparams_/session_end_info", tensor is metadata.NULL_TENSOR (DT_FLOAT,
 *    shape [0]: bytes 08 01 12 02 12 00), and metadata.plugin_data is
 *    {plugin_name "hparams", content = serialized HParamsPluginData{version 0,
 *    experiment | session_start_info | session_end_info}}.
 *    Domains as summary_v2's HParam domains write them: RealInterval/IntInterval
 *    -> domain_interval, Discrete -> domain_discrete (a ListValue); a bool
 *    hyperparameter always gets the discrete domain [false, true], as KerasTuner
 *    declares Boolean hyperparameters (Discrete([True, False]), sorted).
 *    Session hparams are written in byte order of their names (summary_v2
 *    iterates sorted(hparams)).
 *
 * LOGDIR LAYOUT TensorBoard's HParams plugin expects (plugin_data.proto):
 *   LOGDIR/events...            experiment summary (the root run ".")
 *   LOGDIR/trial_00000/events...  one run per session (trial): session start
 *                                 info, the trial's scalars, session end info
 * A metric tag given to hp_tfevents_experiment refers to a scalar of that tag
 * in the session's own run (MetricName group ""), e.g. "val_accuracy".
 * ONCE PER RUN: TensorBoard keeps the summary metadata of the first event of
 * each tag in a run (plugin_event_accumulator.py; the Rust loader's
 * initial_metadata), and the HParams data is that metadata: a second
 * experiment / session start / session end summary in a run is ignored (a
 * STATUS_RUNNING end info written early would stay; checked with
 * TensorBoard's own list_session_groups).  A writer therefore refuses a
 * second one, and a live export writes the session end info only when the
 * trial's status is final; until then TensorBoard shows STATUS_UNKNOWN.
 * (Across files of one run -- e.g. after a resume -- the caller must keep to
 * this itself.)
 * KerasTuner (tuner.py, tuner_utils.py) instead gives each trial a run
 * <trial_id>/execution0 with session info and Keras' subruns train/ and
 * validation/ holding "epoch_loss", "epoch_accuracy"; hptune keeps its own
 * metric names (train_loss, val_accuracy, ... as job files and `hptune status`
 * name them) in one run per trial.
 *
 * DURABILITY: records are appended to the final file name (not a temporary
 * name) so that TensorBoard can read the file while the study runs; they are
 * buffered in memory until hp_tfevents_flush (or 64 KiB pending), and
 * hp_tfevents_close fsyncs.  Records are only ever appended, so a process
 * killed at any moment leaves complete records followed by at most one torn
 * record; both TensorBoard loaders treat a torn last record as "not yet
 * written" and read everything before it (event_file_loader.py swallows the
 * DataLossError of a truncated record; tf_record.rs returns Truncated and
 * resumes when the file grows).  After a failed write (disk full, file size
 * limit) the writer refuses further records: the file then ends with the
 * complete records written before plus at most one torn record, never with
 * records after a gap.
 *
 * ERRORS: functions return 0, or -1 after HP_ERR; write errors name the file
 * and the system's reason.  Strings must be valid UTF-8 (protobuf rejects
 * proto3 strings that are not); tags and names must be non-empty.
 */
#ifndef HPTUNE_TFEVENTS_H
#define HPTUNE_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- the writer */

typedef struct hp_tfevents hp_tfevents; /* one open event file; owner: caller */

/* Create `dir` (and parents, mode 0755) and a new event file in it named from
 * wall_time (unix seconds, >= 0), the host name and the process id; writes the
 * file_version event.  *out is released with hp_tfevents_close. */
int hp_tfevents_open(hp_tfevents **out, const char *dir, double wall_time);
/* Path of the event file (owned by w). */
const char *hp_tfevents_path(const hp_tfevents *w);

/* One scalar: Event{wall_time, step, summary{value{tag, simple_value}}}. */
int hp_tfevents_scalar(hp_tfevents *w, double wall_time, int64_t step, const char *tag,
                       double value);

/* HParams plugin.  hp_tb_type maps to api.proto's DataType DATA_TYPE_FLOAT64,
 * DATA_TYPE_STRING, DATA_TYPE_BOOL (integers are FLOAT64, as TensorBoard's
 * IntInterval writes them); hp_tb_status below is numbered like api.proto's
 * Status. */
typedef enum { HP_TB_FLOAT = 0, HP_TB_STRING, HP_TB_BOOL } hp_tb_type;

/* One hyperparameter of the experiment.  Domain (at most one):
 *   HP_TB_FLOAT:  values[n_values] (discrete), or is_interval with [min, max],
 *                 or neither (no domain); numbers must be finite.
 *   HP_TB_STRING: strings[n_values] (discrete), or n_values 0 (no domain).
 *   HP_TB_BOOL:   nothing to give; written as the discrete domain [false, true].
 * Discrete values are written in the order given (TensorBoard's Discrete()
 * sorts them; sort first to match it). */
typedef struct hp_tb_hparam {
    const char *name;
    hp_tb_type type;
    int n_values;
    const double *values;        /* [n_values] when HP_TB_FLOAT, else NULL */
    const char *const *strings;  /* [n_values] when HP_TB_STRING, else NULL */
    int is_interval;
    double min, max;
} hp_tb_hparam;

/* One hyperparameter value of a session: `number` (finite) for HP_TB_FLOAT,
 * `string` for HP_TB_STRING, `boolean` (0/1) for HP_TB_BOOL. */
typedef struct hp_tb_value {
    hp_tb_type type;
    double number;
    const char *string;
    int boolean;
} hp_tb_value;

/* The experiment summary (once, in the logdir root): hparams[n]
 * (distinct names), metric_tags[n_metrics] (distinct; scalar tags of the
 * session runs), description (markdown, or NULL).  time_created_secs is
 * wall_time. */
int hp_tfevents_experiment(hp_tfevents *w, double wall_time, const hp_tb_hparam *hparams, int n,
                           const char *const *metric_tags, int n_metrics, const char *description);
/* A session (trial) starts: names[n] (distinct) with values[n]; group_name
 * (NULL or "": TensorBoard groups the session alone, under its run name;
 * sessions of one group -- repeats of one configuration -- form one row);
 * start_time in unix seconds.  Once per run. */
int hp_tfevents_session_start(hp_tfevents *w, double wall_time, const char *const *names,
                              const hp_tb_value *values, int n, const char *group_name,
                              double start_time);

typedef enum { HP_TB_UNKNOWN = 0, HP_TB_SUCCESS, HP_TB_FAILURE, HP_TB_RUNNING } hp_tb_status;
/* A session ends (or, in an export taken while it runs, HP_TB_RUNNING):
 * end_time in unix seconds.  Once per run (see ONCE PER RUN above). */
int hp_tfevents_session_end(hp_tfevents *w, double wall_time, hp_tb_status status,
                            double end_time);

/* Hand the buffered records to the kernel (a live TensorBoard then sees them). */
int hp_tfevents_flush(hp_tfevents *w);
/* Flush, fsync and close; frees w (also on error; NULL is a no-op returning 0).
 * Returns -1 if this or any earlier write of the file failed. */
int hp_tfevents_close(hp_tfevents *w);

/* ------------------------------------- encoding layers (exposed for tests) */

/* CRC-32C (Castagnoli) of data[n], continuing from crc (0 to start):
 * hp_crc32c(hp_crc32c(0, a, na), b, nb) == crc32c(a || b). */
uint32_t hp_crc32c(uint32_t crc, const void *data, size_t n);
/* The TFRecord mask: ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2^32. */
uint32_t hp_crc32c_mask(uint32_t crc);

/* A growable byte buffer; a zeroed struct is empty; the holder frees it with
 * hp_pbuf_release. */
typedef struct hp_pbuf {
    unsigned char *data; /* [cap], first len bytes used */
    size_t len, cap;
} hp_pbuf;
void hp_pbuf_release(hp_pbuf *b);
void hp_pb_raw(hp_pbuf *b, const void *bytes, size_t n);

/* Protobuf wire format: wire types 0 varint, 1 fixed64, 2 length-delimited,
 * 5 fixed32; a field key is varint(field << 3 | wire_type). */
enum { HP_PB_VARINT = 0, HP_PB_FIXED64 = 1, HP_PB_LEN = 2, HP_PB_FIXED32 = 5 };
void hp_pb_varint(hp_pbuf *b, uint64_t v);  /* base-128, low group first */
uint64_t hp_pb_zigzag(int64_t v); /* sint32/64: 0,-1,1,-2 -> 0,1,2,3 (no field here uses it) */
void hp_pb_key(hp_pbuf *b, int field, int wire_type);
/* int32/int64/enum/bool fields: negative values as 10-byte two's complement. */
void hp_pb_field_varint(hp_pbuf *b, int field, uint64_t v);
void hp_pb_field_fixed32(hp_pbuf *b, int field, uint32_t v); /* little-endian */
void hp_pb_field_fixed64(hp_pbuf *b, int field, uint64_t v);
void hp_pb_field_float(hp_pbuf *b, int field, float v);      /* IEEE bits, LE */
void hp_pb_field_double(hp_pbuf *b, int field, double v);
void hp_pb_field_bytes(hp_pbuf *b, int field, const void *bytes, size_t n);
void hp_pb_field_string(hp_pbuf *b, int field, const char *s);
/* Nested message: mark = hp_pb_begin(b, field); ...append its fields...;
 * hp_pb_end(b, mark) writes the length in front of them. */
size_t hp_pb_begin(hp_pbuf *b, int field);
void hp_pb_end(hp_pbuf *b, size_t mark);

/* 1 if s[n] is valid UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
int hp_utf8_valid(const char *s, size_t n);

/* Serialized Events, appended to b (what the writer frames into records).
 * Inputs are checked as the writer functions document. */
int hp_tb_encode_file_version(hp_pbuf *b, double wall_time);
int hp_tb_encode_scalar(hp_pbuf *b, double wall_time, int64_t step, const char *tag,
                        double value);
int hp_tb_encode_experiment(hp_pbuf *b, double wall_time, const hp_tb_hparam *hparams, int n,
                            const char *const *metric_tags, int n_metrics,
                            const char *description);
int hp_tb_encode_session_start(hp_pbuf *b, double wall_time, const char *const *names,
                               const hp_tb_value *values, int n, const char *group_name,
                               double start_time);
int hp_tb_encode_session_end(hp_pbuf *b, double wall_time, hp_tb_status status,
                             double end_time);
/* Append data[n] framed as one TFRecord. */
void hp_tb_frame_record(hp_pbuf *b, const void *data, size_t n);
/* "events.out.tfevents.<%010lld seconds>.<host>.<pid>.<n>.v2" (caller frees);
 * '/' in host becomes '_'. */
char *hp_tb_file_name(double wall_time, const char *host, long pid, int n);

#endif
