/* test_event.c - events and the journal file: every event type round-trips
 * through the one encoder/decoder, every truncation and every flipped byte of
 * a frame is refused, configurations are decoded by key name, a torn journal
 * tail is dropped while damage followed by intact records is refused with its
 * offset (and the recovery cut works), an hptune 0.1 journal is refused by
 * name, and a journal whose assignment differs from the strategy's decision
 * is reported with the record, the trial and the recovery command. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"
#include "event.h"
#include "journal.h"
#include "study.h"
#include "testlib.h"

static char temp_root[64];

static hp_event sample_event(hp_event_type type)
{
    hp_event e = hp_event_make(type, 7, 3);
    switch (type) {
    case HP_EV_ASSIGN:
        e.assign = (hp_assignment){.trial = 7, .from_epoch = 1, .to_epoch = 3, .bracket = 1, .rung = 1};
        hp_config_defaults(&e.config);
        e.config.learning_rate = 0.0123f;
        e.config.filters = 48;
        e.config.activation = 2;
        break;
    case HP_EV_EPOCH:
        e.checkpointed = 1;
        for (int c = 0; c < HP_METRIC_COLS; c++)
            e.metrics[c] = 0.25 * c - 1.0 / 3.0;
        e.metrics[HP_COL_VAL_LOSS] = NAN;
        break;
    case HP_EV_FAILED:
    case HP_EV_FATAL:
    case HP_EV_RESTARTED:
        e.text = "loss is NaN at epoch 3 \"quoted\"";
        break;
    case HP_EV_TEST:
        e.batch = 10000;
        for (int c = 0; c < HP_METRIC_COLS; c++)
            e.metrics[c] = c == HP_COL_VAL_ACCURACY ? 0.6857 : NAN;
        e.text = "runs/x/trials/trial_00007/best.h5";
        break;
    case HP_EV_INTERRUPTED:
        e.batch = 17;
        break;
    case HP_EV_RUN:
    case HP_EV_ENDED:
        e.seconds = 1234.5;
        e.flag = 1;
        break;
    case HP_EV_STOP:
        e.flag = 1;
        break;
    case HP_EV_STOP_TRIAL:
        e.flag = HP_STOP_MEDIAN;
        e.time = 1700000000.25;
        break;
    case HP_EV_BUDGET:
        e.seconds = 5400.5;
        e.epoch = 123456;
        break;
    default:
        break;
    }
    return e;
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

TEST(every_event_round_trips)
{
    hp_event_type types[] = {HP_EV_ASSIGN, HP_EV_EPOCH, HP_EV_FINISHED, HP_EV_FAILED, HP_EV_INTERRUPTED,
                             HP_EV_RUN, HP_EV_ENDED, HP_EV_READY,   HP_EV_FATAL,  HP_EV_STOP,
                             HP_EV_RESTARTED, HP_EV_TEST, HP_EV_STOP_TRIAL, HP_EV_BUDGET};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        hp_event e = sample_event(types[i]), d;
        uint8_t *bytes;
        size_t size = hp_event_encode(&e, &bytes);
        EXPECT(hp_event_decode(bytes, size, NULL, &d) == 0, "%s: %s", hp_event_type_name(types[i]), hp_error_message());
        EXPECT(d.type == e.type, "type");
        if (types[i] == HP_EV_ASSIGN) {
            EXPECT(memcmp(&d.assign, &e.assign, sizeof d.assign) == 0 && d.trial == 7, "assignment");
            EXPECT(memcmp(&d.config, &e.config, sizeof d.config) == 0, "configuration");
        }
        if (types[i] == HP_EV_EPOCH) {
            int same = d.trial == 7 && d.epoch == 3 && d.checkpointed == 1;
            for (int c = 0; c < HP_METRIC_COLS; c++)
                same &= same_double(d.metrics[c], e.metrics[c]);
            EXPECT(same, "epoch record");
        }
        if (e.text)
            EXPECT(d.text && strcmp(d.text, e.text) == 0, "text '%s'", d.text ? d.text : "(null)");
        if (types[i] == HP_EV_INTERRUPTED)
            EXPECT(d.trial == 7 && d.epoch == 3 && d.batch == 17, "interrupted");
        if (types[i] == HP_EV_RESTARTED)
            EXPECT(d.trial == 7 && d.epoch == 3, "restarted");
        if (types[i] == HP_EV_TEST) {
            int same = d.trial == 7 && d.epoch == 3 && d.batch == 10000;
            for (int c = 0; c < HP_METRIC_COLS; c++)
                same &= same_double(d.metrics[c], e.metrics[c]);
            EXPECT(same, "test record");
        }
        if (types[i] == HP_EV_STOP_TRIAL)
            EXPECT(d.trial == 7 && d.epoch == 3 && d.flag == HP_STOP_MEDIAN && d.time == 1700000000.25, "stop-trial");
        if (types[i] == HP_EV_BUDGET)
            EXPECT(d.seconds == 5400.5 && d.epoch == 123456, "budget");
        if (types[i] == HP_EV_ENDED || types[i] == HP_EV_RUN)
            EXPECT(d.seconds == 1234.5 && d.flag == 1, "ended");
        hp_event_release(&d);

        /* every truncation and every flipped bit is refused, never misread */
        int refused = 0;
        for (size_t n = 0; n < size; n++) {
            uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches over-reads */
            memcpy(copy, bytes, n);
            refused += hp_event_decode(copy, n, NULL, &d) == -1;
            free(copy);
        }
        EXPECT(refused == (int)size, "%s: %d of %zu truncations refused", hp_event_type_name(types[i]), refused, size);
        refused = 0;
        for (size_t k = 0; k < size; k++) {
            bytes[k] ^= 0x10;
            refused += hp_event_decode(bytes, size, NULL, &d) == -1;
            bytes[k] ^= 0x10;
        }
        EXPECT(refused == (int)size, "%s: %d of %zu flipped bytes refused", hp_event_type_name(types[i]), refused, size);
        free(bytes);
    }
}

/* A JOB record naming other keys: configurations are decoded by name. */
TEST(configurations_decoded_by_key_name)
{
    uint8_t *job;
    size_t job_size = hp_event_encode_job("j.yaml", "study: {name: x}\n", &job);
    hp_event je;
    EXPECT(hp_event_decode(job, job_size, NULL, &je) == 0 && je.type == HP_EV_JOB &&
               je.version == HP_JOURNAL_FORMAT_VERSION && strcmp(je.path, "j.yaml") == 0,
           "job record: %s", hp_error_message());
    free(job);
    size_t n_keys;
    hp_config_keys(&n_keys);
    EXPECT(je.n_keys == (int)n_keys, "key names");
    /* an older table: the same keys in reverse order plus one this hptune lacks */
    hp_event older = je;
    char **names = calloc((size_t)je.n_keys + 1, sizeof *names);
    for (int k = 0; k < je.n_keys; k++)
        names[k] = je.keys[je.n_keys - 1 - k];
    names[je.n_keys] = "a_key_from_elsewhere";
    older.keys = names;
    older.n_keys = je.n_keys + 1;
    hp_event_keymap map;
    hp_event_keymap_init(&map, &older);
    EXPECT(map.map[older.n_keys - 1] == -1 && map.map[0] == (int)n_keys - 1, "map");

    /* write an ASSIGN whose configuration columns follow that older table */
    hp_event a = sample_event(HP_EV_ASSIGN);
    uint8_t *bytes;
    size_t size = hp_event_encode(&a, &bytes);
    size_t cfg_at = HP_EVENT_HEADER_BYTES + 5 * 4;
    size_t new_size = size + 8;
    uint8_t *re = calloc(new_size, 1);
    memcpy(re, bytes, cfg_at);
    uint32_t cols = (uint32_t)older.n_keys;
    memcpy(re + cfg_at, &cols, 4);
    for (int c = 0; c < older.n_keys; c++) {
        double v = 99.0; /* the unknown key's value: ignored */
        if (c < je.n_keys)
            memcpy(&v, bytes + cfg_at + 4 + (size_t)(je.n_keys - 1 - c) * 8, 8);
        memcpy(re + cfg_at + 4 + (size_t)c * 8, &v, 8);
    }
    /* then the event's time, as it was */
    memcpy(re + cfg_at + 4 + (size_t)older.n_keys * 8, bytes + cfg_at + 4 + (size_t)je.n_keys * 8, 8);
    uint32_t payload = (uint32_t)(new_size - HP_EVENT_HEADER_BYTES - 4);
    memcpy(re + 8, &payload, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), re, (uInt)(new_size - 4));
    memcpy(re + new_size - 4, &crc, 4);
    hp_event d;
    EXPECT(hp_event_decode(re, new_size, &map, &d) == 0, "remapped decode: %s", hp_error_message());
    EXPECT(memcmp(&d.config, &a.config, sizeof d.config) == 0, "the configuration survives the other key order");
    EXPECT(hp_event_decode(re, new_size, NULL, &d) == -1, "without the map the column count is refused");
    free(re);
    free(bytes);
    free(names);
    hp_event_keymap_release(&map);
    hp_event_release(&je);
}

/* A journal from before augment_flip became a probability (its table has no
 * augment_rotate): its augment_flip 1 (true) is the flip of p = 0.5. */
TEST(boolean_flip_of_older_journals_is_half)
{
    uint8_t *job;
    size_t job_size = hp_event_encode_job("j.yaml", "study: {name: x}\n", &job);
    hp_event je;
    EXPECT(hp_event_decode(job, job_size, NULL, &je) == 0, "job record: %s", hp_error_message());
    free(job);
    for (int older = 0; older <= 1; older++) {
        /* the table without augment_rotate (older) or as it is */
        hp_event table = je;
        char **names = calloc((size_t)je.n_keys + 1, sizeof *names);
        int n = 0, dropped = -1;
        for (int k = 0; k < je.n_keys; k++) {
            if (older && strcmp(je.keys[k], "augment_rotate") == 0) {
                dropped = k;
                continue;
            }
            names[n++] = je.keys[k];
        }
        EXPECT(!older || dropped >= 0, "augment_rotate is a key");
        table.keys = names;
        table.n_keys = n;
        hp_event_keymap map;
        hp_event_keymap_init(&map, &table);
        hp_event a = sample_event(HP_EV_ASSIGN);
        a.config.augment_flip = 1.0f;
        uint8_t *bytes;
        size_t size = hp_event_encode(&a, &bytes);
        /* drop the dropped column's 8 bytes and fix the count, length and crc */
        size_t cfg_at = HP_EVENT_HEADER_BYTES + 5 * 4, new_size = older ? size - 8 : size;
        uint8_t *re = calloc(size, 1);
        size_t w = 0;
        memcpy(re, bytes, cfg_at + 4);
        w = cfg_at + 4;
        for (int c = 0; c < je.n_keys; c++)
            if (c != dropped) {
                memcpy(re + w, bytes + cfg_at + 4 + (size_t)c * 8, 8);
                w += 8;
            }
        memcpy(re + w, bytes + cfg_at + 4 + (size_t)je.n_keys * 8, 8); /* the time */
        uint32_t cols = (uint32_t)n, payload = (uint32_t)(new_size - HP_EVENT_HEADER_BYTES - 4);
        memcpy(re + cfg_at, &cols, 4);
        memcpy(re + 8, &payload, 4);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), re, (uInt)(new_size - 4));
        memcpy(re + new_size - 4, &crc, 4);
        hp_event d;
        EXPECT(hp_event_decode(re, new_size, &map, &d) == 0, "decode: %s", hp_error_message());
        EXPECT(d.config.augment_flip == (older ? 0.5f : 1.0f), "%s table: augment_flip %g",
               older ? "older" : "current", (double)d.config.augment_flip);
        free(re);
        free(bytes);
        free(names);
        hp_event_keymap_release(&map);
    }
    hp_event_release(&je);
}

/* ---------------------------------------------------------- journal ---- */

static char *write_study(const char *name, int n_assign)
{
    char *dir = hp_xasprintf("%s/%s", temp_root, name);
    char *job_path = hp_xasprintf("%s/%s.yaml", temp_root, name);
    const char *text = "study: {name: j, seed: 4}\n"
                       "data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}\n"
                       "strategy: {name: random, max_trials: 20}\n"
                       "space:\n  learning_rate: {loguniform: [1.0e-4, 1.0e-1]}\n"
                       "fixed: {epochs: 2}\n";
    FILE *f = fopen(job_path, "w");
    fputs(text, f);
    fclose(f);
    hp_job job;
    hp_study s;
    if (hp_job_parse(&job, text, job_path) != 0 || hp_study_create(&s, &job, dir) != 0) {
        printf("create: %s\n", hp_error_message());
        exit(1);
    }
    for (int i = 0; i < n_assign; i++) {
        hp_event a;
        if (hp_study_next(&s, &a) != HP_NEXT_START || hp_study_record(&s, &a) != 0) {
            printf("record: %s\n", hp_error_message());
            exit(1);
        }
        for (int e = 1; e <= 2; e++) {
            hp_event m = hp_event_make(HP_EV_EPOCH, a.trial, e);
            for (int c = 0; c < HP_METRIC_COLS; c++)
                m.metrics[c] = 0.1 * i + 0.01 * e;
            hp_study_record(&s, &m);
        }
        hp_event fin = hp_event_make(HP_EV_FINISHED, a.trial, 2);
        hp_study_record(&s, &fin);
    }
    hp_study_close(&s);
    free(job_path);
    return dir;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

TEST(torn_tail_dropped_mid_damage_refused)
{
    char *dir = write_study("torn", 3);
    char *journal = hp_xasprintf("%s/study.journal", dir);
    hp_journal_contents c;
    EXPECT(hp_journal_read(&c, journal) == 0 && c.n_records == 1 + 3 * 4 && c.good_end == c.size,
           "intact journal: %ld records", c.n_records);
    size_t last = c.offsets[c.n_records - 1], third = c.offsets[3];
    hp_journal_contents_release(&c);

    /* a torn tail: cut inside the last record */
    EXPECT(truncate(journal, (off_t)(last + 5)) == 0, "truncate");
    EXPECT(hp_journal_read(&c, journal) == 0 && c.n_records == 12 && c.good_end == last, "torn tail: %ld records",
           c.n_records);
    hp_journal_contents_release(&c);
    hp_study s;
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0 && file_size(journal) == last, "resume cuts the torn record");
    hp_study_close(&s);

    /* damage in the middle, intact records after it: refused with the offset */
    int fd = open(journal, O_WRONLY);
    EXPECT(fd >= 0 && pwrite(fd, "XXXX", 4, (off_t)third) == 4, "damage");
    close(fd);
    hp_error_clear();
    EXPECT(hp_study_open(&s, dir, 0, 1) == -1, "damaged journal opened");
    char want[64];
    snprintf(want, sizeof want, "--truncate-journal-at %zu", third);
    EXPECT(strstr(hp_error_message(), want) && strstr(hp_error_message(), "damaged in place"), "message: %s",
           hp_error_message());
    EXPECT(file_size(journal) == last, "nothing was changed");
    /* the recovery command: keep everything before the damage */
    EXPECT(hp_study_truncate_journal(dir, third + 1) == -1, "an offset inside a record is refused");
    EXPECT(hp_study_truncate_journal(dir, third) == 0, "cut: %s", hp_error_message());
    char *kept = hp_xasprintf("%s.damaged-%zu", journal, third);
    EXPECT(file_size(journal) == third && file_size(kept) == last - third, "cut at the offset, tail kept");
    EXPECT(hp_study_open(&s, dir, 0, 0) == 0 && s.n_events == 3, "reopened after the cut: %s", hp_error_message());
    hp_study_close(&s);
    free(kept);
    free(journal);
    free(dir);
}

TEST(old_journal_and_empty_journal_refused)
{
    char *dir = write_study("old", 1);
    char *journal = hp_xasprintf("%s/study.journal", dir);
    FILE *f = fopen(journal, "wb");
    fputs("HPJ1\001\000\000\000", f); /* hptune 0.1's record magic */
    fclose(f);
    hp_study s;
    hp_error_clear();
    EXPECT(hp_study_open(&s, dir, 0, 0) == -1 && strstr(hp_error_message(), "hptune 0.1") &&
               strstr(hp_error_message(), "format version 1"),
           "old journal: %s", hp_error_message());
    f = fopen(journal, "wb");
    fclose(f);
    EXPECT(hp_study_open(&s, dir, 0, 0) == -1 && strstr(hp_error_message(), "empty"), "empty: %s",
           hp_error_message());
    free(journal);
    free(dir);
}

/* Two writers' records interleaved: the second study's assignment of trial 1
 * appended to the first's journal cannot be the strategy's decision. */
TEST(journal_disagreeing_with_strategy_is_named)
{
    char *a = write_study("writer_a", 2);
    char *b = write_study("writer_b", 0);
    /* append an assignment of trial 1 with another configuration to b's journal */
    hp_study s;
    EXPECT(hp_study_open(&s, b, 0, 0) == 0, "open b");
    hp_event first;
    hp_study_next(&s, &first);
    hp_study_record(&s, &first);
    hp_event wrong = hp_event_make(HP_EV_ASSIGN, 1, 0);
    wrong.assign = (hp_assignment){.trial = 1, .from_epoch = 0, .to_epoch = 2};
    wrong.config = first.config; /* trial 0's configuration given to trial 1 */
    hp_study_record(&s, &wrong); /* live recording applies without checking the decision */
    hp_study_close(&s);
    hp_error_clear();
    EXPECT(hp_study_open(&s, b, 0, 0) == -1, "a disagreeing journal resumed");
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, "record 2 at byte") && strstr(msg, "trial 1") && strstr(msg, "--truncate-journal-at"),
           "message names the record, the trial and the recovery: %s", msg);
    /* read-only viewers show what was recorded */
    EXPECT(hp_study_open(&s, b, 0, 1) == 0 && s.n_trials == 2, "status/export still read it: %s", hp_error_message());
    hp_study_close(&s);
    free(a);
    free(b);
}

int main(void)
{
    snprintf(temp_root, sizeof temp_root, "/tmp/hptune-event.XXXXXX");
    if (!mkdtemp(temp_root))
        return 1;
    RUN(every_event_round_trips);
    RUN(configurations_decoded_by_key_name);
    RUN(boolean_flip_of_older_journals_is_half);
    RUN(torn_tail_dropped_mid_damage_refused);
    RUN(old_journal_and_empty_journal_refused);
    RUN(journal_disagreeing_with_strategy_is_named);
    char *cmd = hp_xasprintf("rm -rf %s", temp_root);
    if (system(cmd) != 0)
        printf("could not remove %s\n", temp_root);
    free(cmd);
    return testlib_finish();
}
