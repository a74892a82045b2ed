/* test_lock.c - one coordinator per study (study_lock.h).
 *
 * Checked: a second lock on a locked directory is refused with the holder's
 * pid, host, start time and Slurm job; the probe sees the holder; a lock whose
 * process was killed (a child holding it, SIGKILLed) is taken over; a stale
 * file whose lock nobody holds is taken over and rewritten; and at the study
 * level, a second writer (resume, --truncate-journal-at, a second create) is
 * refused while readers still open the study and see everything recorded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "study.h"
#include "study_lock.h"
#include "testlib.h"

static char temp_root[64];
static int counter;

static char *new_dir(void)
{
    char *d = hp_xasprintf("%s/d%d", temp_root, counter++);
    char *cmd = hp_xasprintf("mkdir -p %s", d);
    if (system(cmd) != 0)
        printf("mkdir failed\n");
    free(cmd);
    return d;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = hp_xcalloc(4096, 1);
    if (f) {
        size_t n = fread(buf, 1, 4095, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

TEST(second_lock_refused_with_the_holder)
{
    char *dir = new_dir();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    setenv("SLURM_JOB_ID", "777", 1);
    hp_study_lock a, b;
    EXPECT(hp_study_lock_acquire(&a, dir) == 0, "first lock: %s", hp_error_message());
    unsetenv("SLURM_JOB_ID");
    EXPECT(hp_study_lock_acquire(&b, dir) == -1, "a second lock on a locked directory");
    char want[512];
    snprintf(want, sizeof want, "in use by pid %ld on host %s since ", (long)getpid(), host);
    const char *msg = hp_error_message();
    EXPECT(strstr(msg, want) && strstr(msg, "(Slurm job 777)") && strstr(msg, dir), "message: %s", msg);
    char holder[512];
    EXPECT(hp_study_lock_probe(dir, holder, sizeof holder) == 1 && strstr(holder, want + strlen("in use by ")),
           "probe: %s", holder);
    char *path = hp_xasprintf("%s/study.lock", dir);
    char *text = read_file(path);
    char pid_line[64];
    snprintf(pid_line, sizeof pid_line, "pid: %ld\n", (long)getpid());
    EXPECT(strstr(text, pid_line) && strstr(text, "slurm_job: 777\n") && strstr(text, "(unix "), "file: %s", text);
    free(text);
    hp_study_lock_release(&a);
    EXPECT(hp_study_lock_probe(dir, NULL, 0) == 0, "released lock still seen");
    text = read_file(path);
    EXPECT(text[0] == '\0', "a released lock file is empty: '%s'", text);
    free(text);
    EXPECT(hp_study_lock_acquire(&b, dir) == 0, "lock after release: %s", hp_error_message());
    hp_study_lock_release(&b);
    free(path);
    free(dir);
}

TEST(lock_of_a_killed_process_is_taken_over)
{
    char *dir = new_dir();
    int ready[2];
    if (pipe(ready) != 0) {
        EXPECT(0, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        hp_study_lock l;
        char ok = hp_study_lock_acquire(&l, dir) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        pause(); /* hold it until killed */
        _exit(0);
    }
    char ok = 0;
    EXPECT(read(ready[0], &ok, 1) == 1 && ok == 'y', "the child took the lock");
    hp_study_lock l;
    char want[64];
    snprintf(want, sizeof want, "in use by pid %ld on host", (long)child);
    EXPECT(hp_study_lock_acquire(&l, dir) == -1 && strstr(hp_error_message(), want), "while the child lives: %s",
           hp_error_message());
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* the child's text is still in the file, its lock died with it */
    EXPECT(hp_study_lock_probe(dir, NULL, 0) == 0, "a dead process's lock is free");
    EXPECT(hp_study_lock_acquire(&l, dir) == 0, "take-over: %s", hp_error_message());
    char *path = hp_xasprintf("%s/study.lock", dir);
    char *text = read_file(path);
    char pid_line[64];
    snprintf(pid_line, sizeof pid_line, "pid: %ld\n", (long)getpid());
    EXPECT(strstr(text, pid_line) != NULL, "the file names the new holder: %s", text);
    free(text);
    hp_study_lock_release(&l);
    /* a stale file nobody ever locked (copied from another machine, say) */
    FILE *f = fopen(path, "w");
    fputs("pid: 999999\nhost: elsewhere\nsince: 2020-01-01 00:00:00 +0000 (unix 1577836800)\nslurm_job: 5\n", f);
    fclose(f);
    EXPECT(hp_study_lock_acquire(&l, dir) == 0, "stale file: %s", hp_error_message());
    text = read_file(path);
    EXPECT(strstr(text, pid_line) && !strstr(text, "elsewhere"), "rewritten: %s", text);
    free(text);
    hp_study_lock_release(&l);
    close(ready[0]);
    close(ready[1]);
    free(path);
    free(dir);
}

static const char *job_text =
    "study: {name: locked, seed: 1}\n"
    "strategy: {name: random, max_trials: 3}\n"
    "objective: {type: function, name: branin}\n"
    "space:\n"
    "  x1: {uniform: [-5, 10]}\n"
    "  x2: {uniform: [0, 15]}\n"
    "fixed: {epochs: 2}\n";

TEST(one_writer_per_study_readers_welcome)
{
    char *dir = new_dir();
    char *study_dir = hp_xasprintf("%s/study", dir);
    hp_job job;
    hp_study s, t;
    EXPECT(hp_job_parse(&job, job_text, "locked.yaml") == 0, "job: %s", hp_error_message());
    EXPECT(hp_study_create(&s, &job, study_dir) == 0, "create: %s", hp_error_message());
    hp_event a;
    EXPECT(hp_study_next(&s, &a) == HP_NEXT_START && hp_study_record(&s, &a) == 0, "assign");
    hp_study_sync(&s);
    /* a second writer of any kind is refused while s is open */
    EXPECT(hp_study_open(&t, study_dir, 0, 0) == -1 && strstr(hp_error_message(), "in use by pid"),
           "resume while running: %s", hp_error_message());
    EXPECT(hp_study_truncate_journal(study_dir, 10) == -1 && strstr(hp_error_message(), "in use by pid"),
           "truncate while running: %s", hp_error_message());
    EXPECT(hp_job_parse(&job, job_text, "locked.yaml") == 0, "job");
    EXPECT(hp_study_create(&t, &job, study_dir) == -1 && strstr(hp_error_message(), "in use by pid"),
           "second create: %s", hp_error_message());
    hp_job_release(&job);
    /* readers take no lock and see what was recorded */
    EXPECT(hp_study_open(&t, study_dir, 0, 1) == 0 && t.n_trials == 1 && t.n_assignments == 1, "read-only: %s",
           hp_error_message());
    hp_study_close(&t);
    hp_study_close(&s);
    EXPECT(hp_study_open(&t, study_dir, 0, 0) == 0 && t.n_trials == 1, "resume after close: %s", hp_error_message());
    hp_study_close(&t);
    EXPECT(hp_job_parse(&job, job_text, "locked.yaml") == 0, "job");
    EXPECT(hp_study_create(&t, &job, study_dir) == -1 && strstr(hp_error_message(), "already holds a study"),
           "create over a study: %s", hp_error_message());
    hp_job_release(&job);
    /* an empty directory name (an empty study name) is refused */
    EXPECT(hp_job_parse(&job, job_text, "locked.yaml") == 0, "job");
    EXPECT(hp_study_create(&t, &job, "") == -1 && strstr(hp_error_message(), "empty"), "empty dir: %s",
           hp_error_message());
    hp_job_release(&job);
    free(study_dir);
    free(dir);
}

int main(void)
{
    snprintf(temp_root, sizeof temp_root, "/tmp/hptune-lock.XXXXXX");
    if (!mkdtemp(temp_root)) {
        printf("mkdtemp failed\n");
        return 1;
    }
    RUN(second_lock_refused_with_the_holder);
    RUN(lock_of_a_killed_process_is_taken_over);
    RUN(one_writer_per_study_readers_welcome);
    char *cmd = hp_xasprintf("rm -rf %s", temp_root);
    if (system(cmd) != 0)
        printf("could not remove %s\n", temp_root);
    free(cmd);
    return testlib_finish();
}
