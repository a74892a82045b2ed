/* comm.h - everything hptune needs from MPI, and nothing else.
 *
 * src/mpi/comm_mpi.c is the only file that includes <mpi.h>.  Messages are
 * (tag, bytes) pairs.  Waiting never spins a core: Open MPI's blocking
 * receive busy-polls, so hp_comm_wait() polls MPI_Iprobe with a sleep that
 * backs off from 50 us to 2 ms while nothing arrives (a waiting rank uses
 * well under 1% of a core; a busy coordinator never sleeps).
 */
#ifndef HPTUNE_COMM_H
#define HPTUNE_COMM_H

#include <signal.h>
#include <stddef.h>

/* Initialise MPI (works without mpirun: a singleton of size 1). */
int hp_comm_init(int *argc, char ***argv, int *rank, int *size);
void hp_comm_finalize(void);
/* End every rank of the job (after the caller printed its message). */
_Noreturn void hp_comm_abort(int code);
/* rank 0's text (may be NULL) to everyone; each gets its own copy (caller frees).
 * Also carries a status so all ranks can fail together: returns rank 0's status. */
int hp_comm_bcast_text(char **text, int status);
/* Collective: every rank passes its problem (NULL: none).  Returns the
 * lowest rank that has one, or -1 if none; on rank 0, *first is that rank's
 * text (caller frees), on the others NULL.  If MPI itself fails, that is
 * rank 0's problem (MPI's message), and hp_comm_finalize() aborts the job. */
int hp_comm_first_problem(const char *mine, char **first);
int hp_comm_send(int dest, int tag, const void *data, size_t size);
/* Wait for a message from `source` (-1: any) with tag `tag` (-1: any).  Returns 1 with the message
 * (*data allocated, caller frees), 0 if *stop became non-zero or timeout_ms
 * passed (timeout_ms < 0: no timeout), -1 on an MPI error. */
int hp_comm_wait(int source, int tag_filter, int *from, int *tag, void **data, size_t *size,
                 const volatile sig_atomic_t *stop, int timeout_ms);
double hp_comm_time(void);

#endif
