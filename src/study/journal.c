/* journal.c - the study journal file (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "event.h"

/* Write all of buf: one write() call for a record in practice; after a short
 * write (a filling disk) the rest is tried too, so the error says why. */
static int write_all(int fd, const uint8_t *buf, size_t size, const char *path, const char *what)
{
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, buf + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return HP_ERR("%s: cannot %s: %s", path, what, strerror(errno));
        if (w == 0)
            return HP_ERR("%s: cannot %s: wrote %zu of %zu bytes", path, what, done, size);
        done += (size_t)w;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    char *copy = hp_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
    free(copy);
}

int hp_journal_create(hp_journal *j, const char *path, const uint8_t *record, size_t size)
{
    j->fd = -1;
    j->path = hp_xstrdup(path);
    if (access(path, F_OK) == 0)
        return HP_ERR("%s already exists", path);
    char *temp = hp_xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int rc = -1;
    if (fd < 0) {
        HP_ERR("%s: cannot create: %s", temp, strerror(errno));
        goto out;
    }
    if (write_all(fd, record, size, temp, "write") != 0)
        goto out;
    if (fsync(fd) != 0) {
        HP_ERR("%s: fsync failed: %s", temp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        HP_ERR("%s: cannot close: %s", temp, strerror(errno));
        goto out;
    }
    fd = -1;
    /* link() refuses an existing target: two studies started at once in one
       directory cannot both create the journal */
    if (link(temp, path) != 0) {
        HP_ERR("%s: cannot create: %s", path, errno == EEXIST ? "another run created it first" : strerror(errno));
        goto out;
    }
    fsync_parent(path);
    j->fd = open(path, O_WRONLY | O_APPEND);
    if (j->fd < 0) {
        HP_ERR("%s: cannot open for appending: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    unlink(temp);
    free(temp);
    return rc;
}

int hp_journal_open_append(hp_journal *j, const char *path, size_t good_end)
{
    j->path = hp_xstrdup(path);
    j->fd = open(path, O_WRONLY | O_APPEND);
    if (j->fd < 0)
        return HP_ERR("%s: cannot open for writing: %s", path, strerror(errno));
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return HP_ERR("%s: cannot stat: %s", path, strerror(errno));
    if ((size_t)st.st_size > good_end) {
        fprintf(stderr, "hptune: note: %s: dropped a torn last record (%zu bytes) left by a killed run\n", path,
                (size_t)st.st_size - good_end);
        if (ftruncate(j->fd, (off_t)good_end) != 0)
            return HP_ERR("%s: cannot cut off the torn record: %s", path, strerror(errno));
    }
    return 0;
}

int hp_journal_append(hp_journal *j, const uint8_t *record, size_t size)
{
    if (j->fd < 0)
        HP_PANIC("append to a journal that is not open");
    off_t end = lseek(j->fd, 0, SEEK_END);
    if (end < 0)
        return HP_ERR("%s: cannot append: %s", j->path, strerror(errno));
    if (write_all(j->fd, record, size, j->path, "append") == 0)
        return 0;
    /* A full disk may take part of the record: cut it off again, so that
       the next run does not find damage followed by intact records. */
    if (ftruncate(j->fd, end) != 0) {
        int e = errno;
        char *msg = hp_xstrdup(hp_error_message());
        hp_errorf("%s (cutting off the partial record failed too: %s; the next resume drops it as a torn tail)",
                  msg, strerror(e));
        free(msg);
    }
    return -1;
}

int hp_journal_sync(hp_journal *j)
{
    if (j->fd >= 0 && fsync(j->fd) != 0)
        return HP_ERR("%s: fsync failed: %s", j->path, strerror(errno));
    return 0;
}

void hp_journal_close(hp_journal *j)
{
    if (j->fd >= 0) {
        fsync(j->fd);
        close(j->fd);
    }
    j->fd = -1;
    free(j->path);
    j->path = NULL;
}

/* ------------------------------------------------------------ reading ---- */

static uint8_t *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? 2 * cap : 1 << 20;
            buf = hp_xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

/* The first intact record at or after `from`, or 0 if there is none. */
static size_t next_intact_record(const uint8_t *data, size_t size, size_t from)
{
    for (size_t pos = from; pos + HP_EVENT_HEADER_BYTES + HP_EVENT_TRAILER_BYTES <= size; pos++) {
        if (data[pos] != 'H' || data[pos + 1] != 'P' || data[pos + 2] != 'E' || data[pos + 3] != '2')
            continue;
        size_t frame;
        if (hp_event_frame(data + pos, size - pos, &frame) == 0)
            return pos;
    }
    return 0;
}

int hp_journal_read(hp_journal_contents *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->data = read_whole_file(path, &c->size);
    if (!c->data)
        return HP_ERR("%s: cannot read: %s", path, strerror(errno));
    size_t cap = 1024;
    c->offsets = hp_xcalloc(cap, sizeof *c->offsets);
    size_t off = 0;
    while (off < c->size) {
        size_t frame = 0;
        int r = hp_event_frame(c->data + off, c->size - off, &frame);
        if (r == 1)
            break; /* the file ends inside this record: a torn tail */
        if (r < 0) {
            char why[256];
            snprintf(why, sizeof why, "%s", hp_error_message());
            size_t next = next_intact_record(c->data, c->size, off + 1);
            if (next == 0)
                break; /* nothing intact follows: a torn (or zero-filled) tail */
            HP_ERR("%s: record %ld at byte %zu is damaged (%s), but intact records follow at byte %zu: "
                   "the file was damaged in place, not cut short by a killed run. Nothing was changed. "
                   "To continue with every event before the damage, run 'hptune resume <study dir> "
                   "--truncate-journal-at %zu' (the bytes from there on are kept in "
                   "study.journal.damaged-%zu), or restore the journal from a backup",
                   path, c->n_records, off, why, next, off, off);
            return -1;
        }
        if ((size_t)c->n_records + 2 > cap) {
            cap *= 2;
            c->offsets = hp_xrealloc(c->offsets, cap * sizeof *c->offsets);
        }
        c->offsets[c->n_records++] = off;
        off += frame;
        c->good_end = off;
    }
    c->offsets[c->n_records] = c->good_end;
    return 0;
}

void hp_journal_contents_release(hp_journal_contents *c)
{
    free(c->data);
    free(c->offsets);
    memset(c, 0, sizeof *c);
}

int hp_journal_truncate_at(const char *path, size_t offset)
{
    size_t size = 0;
    uint8_t *data = read_whole_file(path, &size);
    if (!data)
        return HP_ERR("%s: cannot read: %s", path, strerror(errno));
    int rc = 0;
    if (offset > size) {
        rc = HP_ERR("%s: --truncate-journal-at %zu is beyond the end of the file (%zu bytes)", path, offset, size);
        goto out;
    }
    char *kept = hp_xasprintf("%s.damaged-%zu", path, offset);
    FILE *f = fopen(kept, "wb");
    if (!f || fwrite(data + offset, 1, size - offset, f) != size - offset || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        rc = HP_ERR("%s: cannot save the journal's tail: %s", kept, strerror(errno));
        if (f)
            fclose(f);
    } else if (fclose(f) != 0) {
        rc = HP_ERR("%s: cannot save the journal's tail: %s", kept, strerror(errno));
    } else if (truncate(path, (off_t)offset) != 0) {
        rc = HP_ERR("%s: cannot truncate: %s", path, strerror(errno));
    } else {
        fprintf(stderr, "hptune: note: %s: cut at byte %zu; the %zu bytes after it are kept in %s\n", path, offset,
                size - offset, kept);
    }
    free(kept);
out:
    free(data);
    return rc;
}
