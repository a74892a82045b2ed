/* journal.h - the study journal as a file: append-only records (event.h frames).
 *
 * A record is complete only when its checksum is; one write() per record, so
 * a killed process leaves at most one torn record at the end.  Only such a
 * torn *tail* may be dropped: a damaged record followed by intact ones means
 * the file was damaged in place, and reading refuses it with the offset and
 * the recovery command instead of silently dropping recorded results.
 * No MPI, no knowledge of what the events mean (study.c).
 */
#ifndef HPTUNE_JOURNAL_H
#define HPTUNE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct hp_journal {
    int fd;        /* -1: closed */
    char *path;    /* owned */
} hp_journal;

/* Create `path` holding exactly `record`: written to a temporary name,
 * fsynced, renamed, and the directory fsynced, so a journal either exists
 * whole or not at all.  Refuses an existing file.  Leaves it open for appending. */
int hp_journal_create(hp_journal *j, const char *path, const uint8_t *record, size_t size);
/* Open an existing journal for appending, first cutting it to good_end
 * (dropping a torn tail found by hp_journal_read). */
int hp_journal_open_append(hp_journal *j, const char *path, size_t good_end);
/* One write() of one record; on failure (a full disk) the part written is
 * cut off again, so the file ends with its last complete record. */
int hp_journal_append(hp_journal *j, const uint8_t *record, size_t size);
int hp_journal_sync(hp_journal *j);
void hp_journal_close(hp_journal *j); /* fsync + close; safe on a closed journal */

/* A journal read into memory and split into records. */
typedef struct hp_journal_contents {
    uint8_t *data;      /* the whole file (owned) */
    size_t size;
    long n_records;
    size_t *offsets;    /* (n_records + 1): start of each record; offsets[n_records] = good_end (owned) */
    size_t good_end;    /* end of the last intact record */
} hp_journal_contents;

/* Read and split.  A torn tail is left out (size > good_end tells).  -1 with
 * a message: unreadable, or damage followed by intact records. */
int hp_journal_read(hp_journal_contents *c, const char *path);
void hp_journal_contents_release(hp_journal_contents *c);

/* Recovery: keep the bytes from `offset` on in "<path>.damaged-<offset>" and
 * cut the journal there.  offset must be a record boundary (checked by the caller). */
int hp_journal_truncate_at(const char *path, size_t offset);

#endif
