/* main.c - hptune's table of contents: pick the BLAS kernels, dispatch a subcommand. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "cli.h"
#include "cli_options.h"
#include "dataset.h"
#include "error.h"
#include "job.h"

volatile sig_atomic_t hp_stop_requested = 0;
volatile sig_atomic_t hp_stop_signal = 0;

static void on_stop_signal(int sig)
{
    hp_stop_requested = 1;
    hp_stop_signal = sig;
}

void hp_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* OpenBLAS picks its kernels when the library loads, before main(), from
 * OPENBLAS_CORETYPE.  Debian's 0.3.21 uses Haswell (AVX2) kernels on AVX-512
 * AMD CPUs (and some environments pin OPENBLAS_CORETYPE=Haswell); its SkylakeX
 * kernels are ~1.7x faster there.  So on a CPU with AVX-512 hptune sets
 * OPENBLAS_CORETYPE=SkylakeX itself, and OPENBLAS_NUM_THREADS (one BLAS
 * thread per rank unless HPTUNE_THREADS says otherwise), then re-executes
 * itself once so the loader sees them.
 * Overrides: HPTUNE_BLAS_CORETYPE=<name> forces that OpenBLAS core type;
 * HPTUNE_BLAS_CORETYPE=env keeps the environment's OPENBLAS_CORETYPE;
 * an explicit OPENBLAS_NUM_THREADS is kept. */
static void choose_blas_kernels(char **argv)
{
    if (getenv("HPTUNE_REEXECED"))
        return;
    const char *want = getenv("HPTUNE_BLAS_CORETYPE");
    const char *have = getenv("OPENBLAS_CORETYPE");
    const char *target = NULL;
    if (want && strcmp(want, "env") != 0) {
        target = want;
    } else if (!want) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            target = "SkylakeX";
    }
    int change = 0;
    if (target && (!have || strcmp(have, target) != 0)) {
        setenv("OPENBLAS_CORETYPE", target, 1);
        change = 1;
    }
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        const char *threads = getenv("HPTUNE_THREADS");
        setenv("OPENBLAS_NUM_THREADS", threads ? threads : "1", 1);
        change = 1;
    }
    if (!change)
        return;
    setenv("HPTUNE_REEXECED", "1", 1);
    execv("/proc/self/exe", argv);
    /* If exec fails we simply continue with the kernels already loaded. */
}

static void usage(FILE *f)
{
    fprintf(f,
            "hptune %s - hyperparameter tuning of CPU CNNs on MPI clusters\n\n"
            "usage: hptune COMMAND [options]     (hptune --version, hptune help COMMAND)\n\n"
            "commands:\n"
            "  prepare --from PATH --out FILE [--shards N]   CIFAR-10 binary -> HDF5\n"
            "  check JOB.yaml                                validate a job file, build every\n"
            "                                                configuration's shapes, print the plan\n"
            "  train JOB.yaml [--set key=value ...]          train one configuration (no MPI)\n"
            "  run JOB.yaml [--out DIR]                      run a study (under mpirun: rank 0\n"
            "                                                coordinates, the others train)\n"
            "  resume DIR                                    continue an interrupted study\n"
            "  status DIR [--json]                           a study's trials; exit 0 finished, 3 not\n"
            "                                                finished, 4 not a study\n"
            "  export DIR [--format csv|json|tensorboard] [--per epoch|trial]   results for scripts, TensorBoard\n"
            "  report DIR [--out FILE] [--heatmap a,b]       one offline HTML page of plots\n"
            "  bench [--json] [--quick]                      measure this machine\n\n"
            "Options may be written --opt value or --opt=value, in any order.  Exit status:\n"
            "0 success, 1 failure (one 'hptune: error:' line says why), 2 usage error.\n"
            "Run 'hptune COMMAND --help' (or 'hptune help COMMAND') for a command's options.\n",
            HPTUNE_VERSION);
}

static void version(void)
{
    printf("hptune %s (git %s)\nbuilt with: %s\n", hp_build_version(), hp_build_revision(), hp_build_flags());
}

typedef int (*command_fn)(int argc, char **argv);
static const struct {
    const char *name;
    command_fn fn;
} commands[] = {
    {"prepare", cmd_prepare}, {"check", cmd_check},   {"train", cmd_train},
    {"run", cmd_run},         {"resume", cmd_run},    {"status", cmd_status},
    {"export", cmd_export},   {"report", cmd_report},   {"bench", cmd_bench},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return (int)i;
    return -1;
}

static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 2];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    names[N_COMMANDS + 1] = NULL;
    const char *near = hp_closest_name(name, names, 2);
    fprintf(stderr, "hptune: error: unknown command '%s'%s%s%s\n", name, near ? "; did you mean '" : "",
            near ? near : "", near ? "'?" : "");
    fprintf(stderr, "usage: hptune COMMAND [options]\n(see 'hptune --help' for the commands)\n");
    return HP_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* progress lines must appear as they happen, also through mpirun's pipes */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return HP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "help")) { /* hptune help [COMMAND] */
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        int i = find_command(argv[2]);
        if (i < 0)
            return unknown_command(argv[2]);
        char *help_argv[] = {argv[2], "--help", NULL};
        return commands[i].fn(2, help_argv);
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        version();
        return 0;
    }
    if (argv[1][0] == '-') {
        fprintf(stderr, "hptune: error: '%s' before the command; write hptune COMMAND [options]\n", argv[1]);
        fprintf(stderr, "usage: hptune COMMAND [options]\n(see 'hptune --help' for the commands)\n");
        return HP_EXIT_USAGE;
    }
    int i = find_command(argv[1]);
    if (i < 0)
        return unknown_command(argv[1]);
    choose_blas_kernels(argv);
    hp_getopt_begin();
    return commands[i].fn(argc - 1, argv + 1);
}
