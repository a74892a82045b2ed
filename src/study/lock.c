/* lock.c - the run directory's exclusive lock (see study_lock.h). */
#include "study_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

/* The whole file, write lock.  OFD locks belong to the open file description:
 * a second open in the same process conflicts too (the unit tests rely on
 * it), and closing another descriptor of the file does not drop the lock. */
static int set_lock(int fd, int cmd_ofd, int cmd_posix, struct flock *fl)
{
    fl->l_whence = SEEK_SET;
    fl->l_start = 0;
    fl->l_len = 0;
    fl->l_pid = 0;
    if (fcntl(fd, cmd_ofd, fl) == 0)
        return 0;
    if (errno != EINVAL)
        return -1;
    return fcntl(fd, cmd_posix, fl); /* a file system without OFD locks */
}

static int try_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK};
    return set_lock(fd, F_OFD_SETLK, F_SETLK, &fl);
}

/* The value of "key: value" in the lock file's text, or "?" */
static void field(const char *text, const char *key, char *out, size_t size)
{
    snprintf(out, size, "?");
    size_t len = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\n");
            if (n >= size)
                n = size - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

/* "pid N on host H since T (Slurm job J)" from the lock file's text. */
static void describe_holder(const char *text, char *out, size_t size)
{
    char pid[32], host[256], since[128], job[64];
    field(text, "pid", pid, sizeof pid);
    field(text, "host", host, sizeof host);
    field(text, "since", since, sizeof since);
    field(text, "slurm_job", job, sizeof job);
    /* "since" ends with " (unix N)" for scripts; people read the date */
    char *unix_part = strstr(since, " (unix");
    if (unix_part)
        *unix_part = '\0';
    if (!strcmp(pid, "?") && !strcmp(host, "?"))
        snprintf(out, size, "another process (it has not written its details yet)");
    else if (!strcmp(job, "-") || !strcmp(job, "?"))
        snprintf(out, size, "pid %s on host %s since %s", pid, host, since);
    else
        snprintf(out, size, "pid %s on host %s since %s (Slurm job %s)", pid, host, since, job);
}

static void read_text(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

int hp_study_lock_acquire(hp_study_lock *l, const char *dir)
{
    l->fd = -1;
    l->path = hp_xasprintf("%s/%s", dir, HP_STUDY_LOCK_FILE);
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        HP_ERR("%s: cannot open the study's lock file: %s", l->path, strerror(e));
        free(l->path);
        l->path = NULL;
        return -1;
    }
    char previous[1024];
    read_text(fd, previous, sizeof previous);
    if (try_lock(fd) != 0) {
        int e = errno;
        char holder[512];
        if (e == EAGAIN || e == EACCES) {
            /* the holder writes its details right after locking: give a
               holder that has just started a moment (at most 0.2 s) */
            char text[1024];
            read_text(fd, text, sizeof text);
            for (int i = 0; i < 20 && !text[0]; i++) {
                struct timespec pause = {0, 10 * 1000 * 1000};
                nanosleep(&pause, NULL);
                read_text(fd, text, sizeof text);
            }
            describe_holder(text, holder, sizeof holder);
            HP_ERR("%s is in use by %s: one coordinator per study. Wait for that run to end (or stop it: "
                   "it saves the study), then run the command again; 'hptune status %s' works meanwhile",
                   dir, holder, dir);
        } else {
            HP_ERR("%s: cannot lock the study's lock file: %s%s", l->path, strerror(e),
                   e == ENOLCK ? " (a file system without locks, e.g. NFS mounted with nolock: put the run "
                                 "directory on one with locking)" : "");
        }
        close(fd);
        free(l->path);
        l->path = NULL;
        return -1;
    }
    /* Ours now.  A run that ended cleanly emptied the file; text left in it
       belongs to a run that died without releasing (killed): say whose. */
    if (previous[0]) {
        char pid[32];
        field(previous, "pid", pid, sizeof pid);
        if (strcmp(pid, "?") != 0 && atol(pid) != (long)getpid()) {
            char holder[512];
            describe_holder(previous, holder, sizeof holder);
            fprintf(stderr, "hptune: note: %s: took over a stale lock left by %s (that run ended without "
                            "releasing it)\n", l->path, holder);
        }
    }
    char host[256] = "?", since[64], text[1024];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S %z", &tm);
    const char *job = getenv("SLURM_JOB_ID");
    int n = snprintf(text, sizeof text, "pid: %ld\nhost: %s\nsince: %s (unix %lld)\nslurm_job: %s\n",
                     (long)getpid(), host, since, (long long)now, job && *job ? job : "-");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        /* the lock is what matters; a lock file we cannot describe ourselves
           in is still a lock (a full disk must not stop a resume) */
        fprintf(stderr, "hptune: note: %s: cannot write who holds the lock: %s\n", l->path, strerror(errno));
    }
    l->fd = fd;
    return 0;
}

void hp_study_lock_release(hp_study_lock *l)
{
    if (l->fd >= 0) {
        /* an empty file means "released cleanly"; a run that dies leaves its
           text, and the next run names it when it takes over */
        if (ftruncate(l->fd, 0) != 0) {
            /* nothing to do: the next run merely prints a note */
        }
        close(l->fd); /* drops the OFD lock */
    }
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}

int hp_study_lock_probe(const char *dir, char *holder, size_t size)
{
    char *path = hp_xasprintf("%s/%s", dir, HP_STUDY_LOCK_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = e == ENOENT ? 0 : HP_ERR("%s: cannot read: %s", path, strerror(e));
        free(path);
        return rc;
    }
    struct flock fl = {.l_type = F_WRLCK};
    int rc;
    if (set_lock(fd, F_OFD_GETLK, F_GETLK, &fl) != 0) {
        rc = HP_ERR("%s: cannot test the lock: %s", path, strerror(errno));
    } else {
        rc = fl.l_type != F_UNLCK;
        if (rc && holder) {
            char text[1024];
            read_text(fd, text, sizeof text);
            describe_holder(text, holder, size);
        }
    }
    close(fd);
    free(path);
    return rc;
}
