/* test_worker_files.c - hp_worker_check_files: the file-system contract a
 * worker checks before a study starts (worker.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "job.h"
#include "testlib.h"
#include "worker.h"

static char temp_root[] = "/tmp/hptune-test-worker-files.XXXXXX";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        printf("cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* A train job whose data file is root/<data_name>. */
static int make_job(hp_job *job, const char *data_name)
{
    char *text = hp_xasprintf("study: {name: files}\n"
                              "data: {path: %s/%s, train_shards: [0], val_shards: [1]}\n"
                              "strategy: {name: random, max_trials: 2}\n"
                              "space:\n  learning_rate: {choice: [0.01, 0.1]}\n",
                              temp_root, data_name);
    char *path = hp_xasprintf("%s/job.yaml", temp_root);
    write_text(path, text);
    int rc = hp_job_parse(job, text, path);
    if (rc != 0)
        printf("job: %s\n", hp_error_message());
    free(text);
    free(path);
    return rc;
}

static char host[256];

TEST(probe_and_data_present_pass)
{
    hp_job job;
    if (make_job(&job, "data.h5") != 0) {
        EXPECT(0, "job did not parse");
        return;
    }
    char *run = hp_xasprintf("%s/run", temp_root);
    char *probe = hp_xasprintf("%s/.hptune-probe-00ff", run);
    write_text(probe, ".hptune-probe-00ff written by rank 0 on host x\n");
    int rc = hp_worker_check_files(&job, run, ".hptune-probe-00ff");
    EXPECT(rc == 0, "check failed: %s", hp_error_message());
    free(run);
    free(probe);
    hp_job_release(&job);
}

TEST(missing_probe_names_host_and_run_directory)
{
    hp_job job;
    if (make_job(&job, "data.h5") != 0) {
        EXPECT(0, "job did not parse");
        return;
    }
    char *run = hp_xasprintf("%s/run", temp_root);
    int rc = hp_worker_check_files(&job, run, ".hptune-probe-1234");
    const char *m = hp_error_message();
    EXPECT(rc == -1, "a missing probe passed");
    char *want_host = hp_xasprintf("host %s:", host);
    EXPECT(strstr(m, want_host) != NULL, "message does not name this host (%s): %s", host, m);
    EXPECT(strstr(m, "cannot see the run directory") && strstr(m, run), "message: %s", m);
    EXPECT(strstr(m, ".hptune-probe-1234") && strstr(m, "No such file"), "message: %s", m);
    EXPECT(strstr(m, "same path") != NULL, "message does not state the rule: %s", m);
    free(want_host);
    free(run);
    hp_job_release(&job);
}

TEST(probe_of_another_run_is_refused)
{
    hp_job job;
    if (make_job(&job, "data.h5") != 0) {
        EXPECT(0, "job did not parse");
        return;
    }
    char *run = hp_xasprintf("%s/run", temp_root);
    char *probe = hp_xasprintf("%s/.hptune-probe-abcd", run);
    write_text(probe, "something else\n");
    int rc = hp_worker_check_files(&job, run, ".hptune-probe-abcd");
    EXPECT(rc == -1 && strstr(hp_error_message(), "another file system"), "rc %d: %s", rc, hp_error_message());
    free(run);
    free(probe);
    hp_job_release(&job);
}

TEST(missing_data_file_names_it)
{
    hp_job job;
    if (make_job(&job, "absent.h5") != 0) {
        EXPECT(0, "job did not parse");
        return;
    }
    char *run = hp_xasprintf("%s/run", temp_root);
    int rc = hp_worker_check_files(&job, run, ".hptune-probe-00ff");
    const char *m = hp_error_message();
    EXPECT(rc == -1, "a missing data file passed");
    EXPECT(strstr(m, "cannot read the data file") && strstr(m, "absent.h5") && strstr(m, "No such file"),
           "message: %s", m);
    free(run);
    hp_job_release(&job);
}

int main(void)
{
    if (!mkdtemp(temp_root)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    char *run = hp_xasprintf("%s/run", temp_root), *data = hp_xasprintf("%s/data.h5", temp_root);
    if (mkdir(run, 0755) != 0) {
        printf("FAIL setup: mkdir %s\n", run);
        return 1;
    }
    write_text(data, "not read: only its presence matters here\n");
    RUN(probe_and_data_present_pass);
    RUN(missing_probe_names_host_and_run_directory);
    RUN(probe_of_another_run_is_refused);
    RUN(missing_data_file_names_it);
    char *cmd = hp_xasprintf("rm -rf '%s'", temp_root);
    if (system(cmd) != 0)
        printf("could not remove %s\n", temp_root);
    free(cmd);
    free(run);
    free(data);
    return testlib_finish();
}
