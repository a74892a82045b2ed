/* study_lock.h - one coordinator per study: an exclusive lock on the run directory.
 *
 * The process that writes a study's journal (rank 0 of `hptune run` /
 * `hptune resume`, or `resume --truncate-journal-at`) holds an exclusive
 * fcntl() lock on DIR/study.lock for as long as the study is open.  The lock
 * is an open-file-description lock (F_OFD_SETLK, Linux >= 3.15; plain
 * F_SETLK where the file system refuses OFD locks): the kernel (or NFS's lock
 * manager) drops it when the process dies however it dies, so a lock file
 * whose lock nobody holds is stale by definition and is simply taken over.
 * The file's text says who holds it, one "key: value" per line:
 *
 *   pid: 12345
 *   host: node017
 *   since: 2024-05-01 12:00:03 +0200 (unix 1714557603)
 *   slurm_job: 4242          ("-" outside Slurm; SLURM_JOB_ID)
 *
 * A run that ends releases the lock and empties the file; text left in a
 * file whose lock is free comes from a run that died (kill -9, node crash).
 * A second writer is refused with "DIR is in use by pid N on host H since T
 * (Slurm job J)".  Readers (status, export, report) take no lock; they may
 * ask whether a coordinator holds it (hp_study_lock_probe) to tell a running
 * trial from one whose run was cut short.  No MPI.
 */
#ifndef HPTUNE_STUDY_LOCK_H
#define HPTUNE_STUDY_LOCK_H

#include <stddef.h>

#define HP_STUDY_LOCK_FILE "study.lock"

typedef struct hp_study_lock {
    int fd;       /* -1: not held */
    char *path;   /* owned */
} hp_study_lock;

/* Take the lock of run directory dir (which must exist) for this process.
 * -1 with a message if another process holds it or locking is impossible.
 * A stale lock file (its lock not held) is taken over, with a note on stderr
 * naming the run that left it. */
int hp_study_lock_acquire(hp_study_lock *l, const char *dir);
/* Release (safe on a lock that is not held): empty the file, drop the lock.
 * The (empty) file stays. */
void hp_study_lock_release(hp_study_lock *l);

/* Does some process hold dir's lock?  1: yes (holder set to "pid N on host H
 * since T (Slurm job J)" if holder != NULL), 0: no (or no lock file), -1:
 * cannot tell (with a message). */
int hp_study_lock_probe(const char *dir, char *holder, size_t size);

#endif
