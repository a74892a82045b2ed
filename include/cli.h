/* cli.h - subcommands and process-wide settings shared by the commands. */
#ifndef HPTUNE_CLI_H
#define HPTUNE_CLI_H

#include <signal.h>

#include "build_info.h" /* HPTUNE_VERSION */

/* Set by SIGTERM/SIGINT/SIGUSR1 (see hp_signals_install); checked at batch
 * boundaries and in the coordinator's loop. */
extern volatile sig_atomic_t hp_stop_requested;
extern volatile sig_atomic_t hp_stop_signal;
void hp_signals_install(void);

/* BLAS threads per process (default 1; HPTUNE_THREADS or --threads). */
void hp_blas_set_threads(int threads);
const char *hp_blas_description(void); /* e.g. "OpenBLAS 0.3.21 (SkylakeX kernels), 1 thread" */

int cmd_train(int argc, char **argv);
int cmd_run(int argc, char **argv);    /* also `resume` */
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
