/* event.h - everything that happens in a study, as one typed record.
 *
 * The coordinator and the workers exchange events, and the study journal is
 * a sequence of events: one encoder and one decoder serve both, and the
 * size and checksum checks live here only.  Applying an event to the study
 * state is hp_study_apply() (study.h), for live events and replayed ones.
 *
 *   type         direction        fields
 *   JOB          journal (first)  version, job path and text, the names of
 *                                 the hyperparameter table's keys
 *   ASSIGN       C->W, journal    trial, from/to epoch, bracket, rung, and the
 *                                 trial's configuration (every key); time
 *   EPOCH        W->C, journal    trial, epoch, checkpointed, the metric row; time
 *   FINISHED     W->C, journal    trial, epochs done (the assignment's to_epoch); time
 *   FAILED       W->C, journal    trial, epoch, reason; time
 *   INTERRUPTED  W->C             trial (-1: idle), epochs done, batches done
 *   RUN          journal          a run of the study began (the first, or a
 *                                 resume): wall-clock time, workers
 *   ENDED        journal          a run ended: elapsed seconds of the study,
 *                                 finished (1), interrupted (0) or a budget
 *                                 was reached (2)
 *   READY        W->C             the worker is idle
 *   FATAL        W->C             the job cannot go on: message
 *   STOP         C->W             1 interrupt (checkpoint and exit), 0 finished,
 *                                 2 finish the epoch, checkpoint and exit (budget)
 *   RESTARTED    W->C, journal    trial, epoch the trial continues from (0: from
 *                                 scratch), why: its checkpoint was missing or
 *                                 unusable (the epochs in between are retrained,
 *                                 not reported again)
 *   TEST         journal          the winner's test-set evaluation: trial, epoch
 *                                 of the checkpoint, images (0: not evaluated,
 *                                 text says why), and in metrics[] the val_loss,
 *                                 val_accuracy, val_precision, val_recall and
 *                                 val_f1 columns hold the test set's values;
 *                                 text: the checkpoint file (or the reason)
 *   STOP_TRIAL   C->W, journal    trial, epoch (its last), why (flag): 1 early
 *                                 stopping (the trial is completed), 2 the
 *                                 median stopping rule (the trial is stopped);
 *                                 the coordinator's decision from the recorded
 *                                 epochs (stopping.h), recorded right after the
 *                                 EPOCH that triggered it; time
 *   BUDGET       journal          the study's budgets from here on (`hptune
 *                                 resume --max-time/--max-epochs-total`):
 *                                 seconds = max_time, epoch = max_epochs_total
 *                                 (0: none)
 *
 * time: unix seconds when rank 0 recorded the event (hp_study_record stamps
 * it; 0 in messages between ranks).  It is for people (TensorBoard's wall
 * time, the report), never for decisions, which depend only on the order.
 *
 * Frame (little-endian):
 *   u32 magic "HPE2", u16 type, u16 0, u32 payload size, payload,
 *   u32 CRC-32 (zlib) of header and payload.
 * Payloads: i32/u32 integers, IEEE-754 doubles, texts as u32 length + bytes.
 * Configurations travel as the table's values in key order; a journal's JOB
 * record names the keys, so a study whose table had other keys is decoded by
 * name (keys it lacks take their defaults).
 */
#ifndef HPTUNE_EVENT_H
#define HPTUNE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metric_row.h"
#include "strategy.h"

#define HP_EVENT_MAGIC 0x32455048u /* "HPE2" */
/* Journal format version (in the JOB record): 1 was hptune 0.1's journal
 * ("HPJ1" records without configurations); 2 since events carry them. */
#define HP_JOURNAL_FORMAT_VERSION 2
#define HP_EVENT_HEADER_BYTES 12
#define HP_EVENT_TRAILER_BYTES 4
#define HP_EVENT_MAX_PAYLOAD (64u << 20) /* a job text is at most 1 MiB; anything larger is damage */

typedef enum hp_event_type {
    HP_EV_JOB = 1,
    HP_EV_ASSIGN = 2,
    HP_EV_EPOCH = 3,
    HP_EV_FINISHED = 4,
    HP_EV_FAILED = 5,
    HP_EV_INTERRUPTED = 6,
    HP_EV_RUN = 7,
    HP_EV_ENDED = 8,
    HP_EV_READY = 9,
    HP_EV_FATAL = 10,
    HP_EV_STOP = 11,
    HP_EV_RESTARTED = 12,
    HP_EV_TEST = 13,
    HP_EV_STOP_TRIAL = 14,
    HP_EV_BUDGET = 15
} hp_event_type;
#define HP_EV_TYPE_COUNT 16

/* ENDED's flag: how the run ended. */
#define HP_ENDED_INTERRUPTED 0
#define HP_ENDED_FINISHED 1
#define HP_ENDED_BUDGET 2 /* a study budget was reached: resumable with a larger one */

/* STOP's flag (coordinator to worker): what to do before exiting. */
#define HP_STOP_FINISHED 0     /* the study is done: the worker is idle */
#define HP_STOP_INTERRUPT 1    /* checkpoint where you are (mid-epoch) and report INTERRUPTED */
#define HP_STOP_AT_EPOCH_END 2 /* a budget: finish the epoch, checkpoint, report INTERRUPTED */

/* STOP_TRIAL's flag: why the coordinator ended the trial early. */
#define HP_STOP_EARLY 1  /* early stopping: completed (early stop at epoch e) */
#define HP_STOP_MEDIAN 2 /* the median stopping rule: stopped */

typedef struct hp_event {
    hp_event_type type;
    int trial;                      /* ASSIGN EPOCH FINISHED FAILED INTERRUPTED RESTARTED TEST STOP_TRIAL */
    int epoch;                      /* EPOCH: the epoch; FINISHED FAILED INTERRUPTED: epochs done;
                                       RESTARTED: continues from; TEST: the checkpoint's epoch;
                                       STOP_TRIAL: its last epoch; BUDGET: max_epochs_total */
    hp_assignment assign;           /* ASSIGN (assign.trial == trial) */
    hp_config config;               /* ASSIGN */
    int checkpointed;               /* EPOCH: a checkpoint holds this epoch */
    double metrics[HP_METRIC_COLS]; /* EPOCH */
    int batch;                      /* INTERRUPTED: batches done in the unfinished epoch;
                                       TEST: images evaluated */
    double seconds;                 /* ENDED: elapsed seconds of the study; RUN: unix time;
                                       BUDGET: max_time */
    int flag;                       /* ENDED: HP_ENDED_*; STOP: HP_STOP_FINISHED,
                                       HP_STOP_INTERRUPT or HP_STOP_AT_EPOCH_END; RUN: workers;
                                       STOP_TRIAL: HP_STOP_EARLY or HP_STOP_MEDIAN */
    double time;                    /* ASSIGN EPOCH FINISHED FAILED STOP_TRIAL: unix seconds recorded */
    int version;                    /* JOB: journal format version */
    char *text;                     /* FAILED FATAL RESTARTED: reason; JOB: job text;
                                       TEST: checkpoint or reason (owned) */
    char *path;                     /* JOB: the job file's path (owned) */
    int n_keys;                     /* JOB: names of the table's keys (owned) */
    char **keys;
} hp_event;

/* How a record's configuration columns map onto this hptune's key table:
 * column c is key index map[c], or -1 (a key this hptune does not know). */
typedef struct hp_event_keymap {
    int n_columns;
    int *map; /* owned */
    int bool_flip_column; /* the journal predates augment_flip as a probability (no
                             augment_rotate key): this column's 1 (true) means 0.5; -1 */
} hp_event_keymap;

const char *hp_event_type_name(hp_event_type type);

/* Event constructors for the common cases (fields not named are zero). */
hp_event hp_event_make(hp_event_type type, int trial, int epoch);

/* Encode into a new buffer (caller frees *bytes); returns its size. */
size_t hp_event_encode(const hp_event *e, uint8_t **bytes);
/* A JOB record for this hptune (format version, key names, path, text). */
size_t hp_event_encode_job(const char *path, const char *text, uint8_t **bytes);

/* Does a complete, intact frame start at bytes?  0: yes, *frame_size set;
 * 1: the bytes end before the frame does (a torn tail, or more to read);
 * -1: damaged (bad magic, type, size or checksum), with a message. */
int hp_event_frame(const uint8_t *bytes, size_t avail, size_t *frame_size);

/* Decode one frame (checked with hp_event_frame).  keymap: from the
 * journal's JOB record, NULL for this hptune's own table (messages).
 * 0, or -1 with a message; hp_event_release() frees what it allocated. */
int hp_event_decode(const uint8_t *bytes, size_t size, const hp_event_keymap *keymap, hp_event *out);
void hp_event_release(hp_event *e);

/* The key map of a decoded JOB event; -1 with a message if a key of this
 * hptune's table is missing and has no default (never: every key has one). */
void hp_event_keymap_init(hp_event_keymap *m, const hp_event *job);
void hp_event_keymap_release(hp_event_keymap *m);

#endif
