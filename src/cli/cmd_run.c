/* cmd_run.c - `hptune run JOB.yaml` and `hptune resume DIR`.
 *
 * Part of the program's shell: it reads the command line, starts MPI
 * (comm.h), lets rank 0 open or create the study and tells every rank the
 * outcome in one broadcast, then hands rank 0 to the coordinator and every
 * other rank to the worker loop (coordinator.h, worker.h), connected by the
 * MPI transport.  With one rank the study runs in this process.  Before the
 * broadcast rank 0 writes a probe file into the run directory that every
 * worker must be able to read (the shared file-system contract).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "comm.h"
#include "coordinator.h"
#include "error.h"
#include "job.h"
#include "study.h"
#include "transport_mpi.h"
#include "worker.h"

/* For `hptune bench` (which sets HPTUNE_PRINT_RSS): rank 0's peak resident
 * memory, "hptune-rss-kb: <VmHWM>", on stdout at the end of a run. */
static void print_peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    printf("hptune-rss-kb: %ld\n", kb);
    fflush(stdout);
}

/* The file-system contract (README: Several nodes): every worker must see
 * the run directory at the path rank 0 uses.  Rank 0 writes a file whose
 * name is unique to this run into it before telling the workers to start;
 * each worker checks it can read it (hp_worker_check_files).  The name comes from
 * /dev/urandom (a nonce, not a result: nothing depends on its value), else
 * from the time and pid.  Returns the file's name (caller frees), or NULL
 * with a message. */
static char *write_probe(const char *dir)
{
    uint64_t nonce = 0;
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(&nonce, sizeof nonce, 1, r) != 1)
        nonce = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    if (r)
        fclose(r);
    char host[256] = "?";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    char *name = hp_xasprintf(".hptune-probe-%016llx", (unsigned long long)nonce);
    char *path = hp_xasprintf("%s/%s", dir, name);
    char *temp = hp_xasprintf("%s.tmp", path);
    FILE *f = fopen(temp, "w");
    int ok = f && fprintf(f, "%s written by rank 0 on host %s; removed at the end of the run\n", name, host) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(temp, path) != 0) {
        hp_errorf("%s: cannot write into the run directory: %s", path, strerror(errno));
        unlink(temp);
        free(name);
        name = NULL;
    }
    free(temp);
    free(path);
    return name;
}

static void remove_probe(const char *dir, const char *name)
{
    if (!dir || !name)
        return;
    char *path = hp_xasprintf("%s/%s", dir, name);
    unlink(path);
    free(path);
}

static void run_usage(FILE *f, int resume)
{
    if (resume)
        fprintf(f, "usage: [mpirun -np N] hptune resume DIR [--allow-job-change] [--quiet] [--verbose]\n"
                   "       hptune resume DIR --truncate-journal-at OFFSET\n\n"
                   "Continues an interrupted study: running trials restart from their last checkpoint,\n"
                   "finished trials are kept, the strategy continues from its recorded state. N may\n"
                   "differ from the original run. --truncate-journal-at cuts a journal that was damaged\n"
                   "in place at the offset its error message gives (the rest is kept beside it).\n");
    else
        fprintf(f, "usage: [mpirun -np N] hptune run JOB.yaml [--out DIR] [--quiet] [--verbose]\n\n"
                   "Runs a study: rank 0 coordinates, ranks 1..N-1 train. Without mpirun the study\n"
                   "runs in this one process. Results go to DIR (default runs/<study name>).\n");
}

int cmd_run(int argc, char **argv)
{
    int resume = !strcmp(argv[0], "resume");
    const char *target = NULL, *out_dir = NULL;
    int quiet = 0, verbose = 0, allow_job_change = 0;
    const char *truncate_at = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout, resume);
            return 0;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--verbose")) {
            verbose = 1;
        } else if (!resume && !strcmp(argv[i], "--out") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (resume && !strcmp(argv[i], "--allow-job-change")) {
            allow_job_change = 1;
        } else if (resume && !strcmp(argv[i], "--truncate-journal-at") && i + 1 < argc) {
            truncate_at = argv[++i];
        } else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "hptune: error: %s: unknown option, missing value or extra argument '%s'; "
                            "see 'hptune %s --help'\n", argv[0], argv[i], argv[0]);
            return 2;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        run_usage(stderr, resume);
        return 2;
    }
    if (truncate_at) { /* a repair, not a run: no MPI */
        char *end = NULL;
        unsigned long long offset = strtoull(truncate_at, &end, 10);
        if (!end || *end || truncate_at[0] == '-') {
            fprintf(stderr, "hptune: error: resume: --truncate-journal-at needs a byte offset, not '%s'\n",
                    truncate_at);
            return 2;
        }
        if (hp_study_truncate_journal(target, (size_t)offset) != 0) {
            hp_error_print();
            return 1;
        }
        printf("journal of %s cut at byte %llu; continue with 'hptune resume %s'\n", target, offset, target);
        return 0;
    }

    int rank = 0, size = 1;
    /* before MPI_Init, so a signal during start-up is a request to stop, not
       death; again after it, in case the MPI library installed its own */
    hp_signals_install();
    if (hp_comm_init(&argc, &argv, &rank, &size) != 0) {
        hp_error_print();
        return 1;
    }
    hp_signals_install();

    /* Rank 0 validates; everyone learns the outcome from one broadcast. */
    hp_study study;
    memset(&study, 0, sizeof study);
    study.journal.fd = -1;
    int status = 0; /* 0 ok, 1 error, 3 already finished, -1 MPI failed */
    char *job_text = NULL, *job_path = NULL, *dir = NULL, *probe = NULL;
    if (rank == 0) {
        if (resume) {
            if (hp_study_open(&study, target, allow_job_change, 0) != 0)
                status = 1;
            else if (study.finished)
                status = 3;
        } else {
            hp_job job;
            if (hp_job_load(&job, target) != 0) {
                status = 1;
            } else {
                char *d = out_dir ? hp_xstrdup(out_dir) : hp_xasprintf("runs/%s", job.name);
                if (hp_study_create(&study, &job, d) != 0)
                    status = 1;
                free(d);
                if (status)
                    hp_job_release(&job);
            }
        }
        if (status == 0 && size > 1 && !(probe = write_probe(study.dir))) {
            hp_study_close(&study);
            status = 1;
        }
        if (status == 1)
            hp_error_print();
        if (status == 0) {
            job_text = hp_xstrdup(study.job.text);
            job_path = hp_xstrdup(study.job.path);
            dir = hp_xstrdup(study.dir);
        }
    }
    status = hp_comm_bcast_text(&job_text, status);
    if (status == 0 && (hp_comm_bcast_text(&job_path, 0) != 0 || hp_comm_bcast_text(&dir, 0) != 0 ||
                        hp_comm_bcast_text(&probe, 0) != 0))
        status = -1;
    if (status != 0) {
        if (status < 0) /* MPI itself failed: hp_comm_finalize() aborts the job */
            hp_error_print();
        if (rank == 0 && status == 3) {
            printf("study %s in %s is already finished (%d trials); see 'hptune status %s'\n",
                   study.job.name, study.dir, study.n_trials, study.dir);
            hp_study_close(&study);
        }
        free(job_text);
        free(job_path);
        free(dir);
        free(probe);
        hp_comm_finalize();
        return status == 3 ? 0 : 1;
    }

    /* Every worker checks the shared files before anything runs; the first
       problem (lowest rank) stops every rank with one message from rank 0. */
    hp_job job;
    int job_parsed = 0;
    char *problem = NULL, *first = NULL;
    if (rank != 0) {
        job_parsed = hp_job_parse(&job, job_text, job_path) == 0;
        if (!job_parsed || (probe[0] && hp_worker_check_files(&job, dir, probe) != 0))
            problem = hp_xstrdup(hp_error_message());
    }
    int bad_rank = size > 1 ? hp_comm_first_problem(problem, &first) : -1;
    if (bad_rank >= 0) {
        if (rank == 0) {
            hp_errorf("worker rank %d: %s; nothing was run: fix it, then start with 'hptune resume %s'", bad_rank,
                      first ? first : "?", study.dir);
            hp_error_print();
            remove_probe(study.dir, probe);
            hp_study_close(&study);
        }
        if (job_parsed)
            hp_job_release(&job);
        free(problem);
        free(first);
        free(job_text);
        free(job_path);
        free(dir);
        free(probe);
        hp_comm_finalize();
        return 1;
    }

    int rc = 0;
    if (rank == 0) {
        hp_coordinator c;
        hp_coordinator_init(&c, &study, size - 1, quiet, stdout);
        if (!quiet) {
            printf("hptune %s: study %s, strategy %s, %d trial(s) at most, %d worker%s%s; results in %s\n",
                   resume ? "resume" : "run", study.job.name, hp_strategy_name(study.job.strategy),
                   hp_strategy_max_trials(study.strategy), size > 1 ? size - 1 : 1, size > 1 ? "s" : "",
                   size > 1 ? "" : " (one process)", study.dir);
            fflush(stdout);
        }
        if (hp_coordinator_begin(&c, resume) != 0) {
            rc = -1;
        } else if (size > 1) {
            hp_transport t = hp_transport_mpi(size - 1);
            rc = hp_coordinator_run(&c, &t, &hp_stop_requested);
        } else {
            rc = hp_coordinator_run_serial(&c, &hp_stop_requested);
        }
        rc = hp_coordinator_finish(&c, rc, hp_stop_requested != 0, size > 1) == 0 ? 0 : -1;
        hp_coordinator_release(&c);
        remove_probe(study.dir, probe);
        if (getenv("HPTUNE_PRINT_RSS"))
            print_peak_rss();
        hp_study_close(&study);
    } else {
        hp_transport t = hp_transport_mpi(size - 1);
        rc = hp_worker_serve(&job, dir, &t, &hp_stop_requested, verbose);
        if (rc != 0)
            hp_error_print();
        hp_job_release(&job);
    }
    free(job_text);
    free(job_path);
    free(dir);
    free(probe);
    hp_comm_finalize();
    return rc == 0 ? 0 : 1;
}
