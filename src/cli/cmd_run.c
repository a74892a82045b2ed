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
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_options.h"
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

static const char run_help[] =
    "usage: [mpirun -np N] hptune run JOB.yaml [--out DIR] [--quiet] [--progress-every SECONDS] [--verbose]\n"
    "\n"
    "Runs a study: rank 0 coordinates, ranks 1..N-1 train.  Without mpirun the study\n"
    "runs in this one process.  Results go to DIR (default runs/<study name>); one\n"
    "coordinator per directory (a second run or resume on it is refused).\n"
    "\n"
    "options:\n"
    "  -o, --out DIR              the study's directory\n"
    "  -q, --quiet                no progress lines (errors and the summary only)\n"
    "  --progress-every SECONDS   at most one progress line per SECONDS (default 10),\n"
    "                             printed only when something changed\n"
    "  -v, --verbose              workers say which trial and epochs they train\n"
    "  -h, --help                 this help\n"
    "\n"
    "Exit status: 0 finished, or interrupted by a signal and saved (resume continues\n"
    "it); 1 failed (one message says why and how to continue); 2 usage error;\n"
    "3 a budget (study.max_time, study.max_epochs_total) was reached: saved, and\n"
    "'hptune resume DIR --max-epochs-total N --max-time T' continues it.\n";

static const char resume_help[] =
    "usage: [mpirun -np N] hptune resume DIR [--allow-job-change] [--max-time DURATION] [--max-epochs-total N]\n"
    "                                   [--quiet] [--progress-every SECONDS]\n"
    "       hptune resume DIR --truncate-journal-at OFFSET\n"
    "\n"
    "Continues an interrupted study: running trials restart from their last checkpoint\n"
    "(an older one, or from scratch, if it is lost), finished trials are kept, the\n"
    "strategy continues from its recorded state.  N may differ from the original run.\n"
    "\n"
    "options:\n"
    "  --allow-job-change         continue although the job file changed\n"
    "  --max-time DURATION        the study's time budget from now on, over all its runs\n"
    "                             (seconds or e.g. 1h30m; 0: none), recorded in the journal\n"
    "  --max-epochs-total N       the study's budget of epochs over all trials (0: none),\n"
    "                             recorded in the journal\n"
    "  --truncate-journal-at OFFSET  cut a journal damaged in place at the offset its\n"
    "                             error message gives (the rest is kept beside it)\n"
    "  -q, --quiet, --progress-every SECONDS, -v, --verbose   as for 'hptune run'\n"
    "  -h, --help                 this help\n"
    "\n"
    "Exit status: as 'hptune run'; a finished study says so and exits 0.\n";

int cmd_run(int argc, char **argv)
{
    int resume = !strcmp(argv[0], "resume");
    const char *help = resume ? resume_help : run_help;
    const char *target = NULL, *out_dir = NULL;
    int quiet = 0, verbose = 0, allow_job_change = 0;
    double progress_every = 10.0;
    const char *truncate_at = NULL;
    double max_time = -1;          /* --max-time: -1 not given */
    long max_epochs_total = -1;    /* --max-epochs-total: -1 not given */
    enum { OPT_ALLOW = 256, OPT_TRUNCATE, OPT_PROGRESS, OPT_MAX_TIME, OPT_MAX_EPOCHS };
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"progress-every", required_argument, NULL, OPT_PROGRESS},
        {"allow-job-change", no_argument, NULL, OPT_ALLOW},
        {"truncate-journal-at", required_argument, NULL, OPT_TRUNCATE},
        {"max-time", required_argument, NULL, OPT_MAX_TIME},
        {"max-epochs-total", required_argument, NULL, OPT_MAX_EPOCHS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, help)) != -1) {
        char *end;
        switch (opt) {
        case 'h':
            hp_print_help(stdout, help);
            return 0;
        case 'o':
            if (resume)
                return hp_usage_error(argv[0], help, "--out is for 'hptune run'; resume continues in DIR");
            out_dir = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case OPT_PROGRESS:
            progress_every = strtod(optarg, &end);
            if (*end || end == optarg || !(progress_every >= 0 && progress_every <= 1e6))
                return hp_usage_error(argv[0], help, "--progress-every '%s': give seconds, e.g. 60", optarg);
            break;
        case OPT_MAX_TIME:
        case OPT_MAX_EPOCHS:
            if (!resume)
                return hp_usage_error(argv[0], help, "--%s is for 'hptune resume DIR' (a new study takes "
                                      "study.%s from its job file)", opt == OPT_MAX_TIME ? "max-time" : "max-epochs-total",
                                      opt == OPT_MAX_TIME ? "max_time" : "max_epochs_total");
            if (opt == OPT_MAX_TIME) {
                if (strcmp(optarg, "0") == 0)
                    max_time = 0;
                else if (hp_parse_duration(optarg, "--max-time", &max_time) != 0)
                    return hp_usage_error(argv[0], help, "%s", hp_error_message());
            } else {
                max_epochs_total = strtol(optarg, &end, 10);
                if (*end || end == optarg || max_epochs_total < 0 || max_epochs_total > INT_MAX)
                    return hp_usage_error(argv[0], help, "--max-epochs-total '%s': give a whole number of "
                                          "epochs (0: no budget)", optarg);
            }
            break;
        case OPT_ALLOW:
        case OPT_TRUNCATE:
            if (!resume)
                return hp_usage_error(argv[0], help, "--%s is for 'hptune resume DIR'",
                                      opt == OPT_ALLOW ? "allow-job-change" : "truncate-journal-at");
            if (opt == OPT_ALLOW)
                allow_job_change = 1;
            else
                truncate_at = optarg;
            break;
        default:
            return HP_EXIT_USAGE;
        }
    }
    if (optind < argc)
        target = argv[optind];
    if (optind + 1 < argc)
        return hp_usage_error(argv[0], help, "unexpected argument '%s'", argv[optind + 1]);
    if (!target)
        return hp_usage_error(argv[0], help, resume ? "give the study's directory" : "give the job file to run");
    if (truncate_at) { /* a repair, not a run: no MPI */
        char *end = NULL;
        unsigned long long offset = strtoull(truncate_at, &end, 10);
        if (!end || *end || truncate_at[0] == '-' || end == truncate_at)
            return hp_usage_error("resume", help, "--truncate-journal-at needs a byte offset, not '%s'", truncate_at);
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
            if (hp_study_open(&study, target, allow_job_change, 0) != 0) {
                status = 1;
            } else if (study.finished) {
                status = 3;
            } else if (max_time >= 0 || max_epochs_total >= 0) {
                /* a new budget, recorded: a replay sees it at the same place */
                hp_event b = hp_event_make(HP_EV_BUDGET, -1, 0);
                b.seconds = max_time >= 0 ? max_time : study.max_time;
                b.epoch = (int)(max_epochs_total >= 0 ? max_epochs_total : study.max_epochs_total);
                if (hp_study_record(&study, &b) != 0 || hp_study_sync(&study) != 0) {
                    hp_study_close(&study);
                    status = 1;
                }
            }
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
        c.progress_every = progress_every;
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
        int finished = hp_coordinator_finish(&c, rc, hp_stop_requested != 0, size > 1);
        rc = finished == 0 ? 0 : finished == 3 ? 3 : -1;
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
    return rc == 0 ? 0 : rc == 3 ? 3 : 1;
}
