/* transport.h - how the coordinator and the workers reach each other.
 *
 * The coordinator loop and the worker loop (coordinator.h, worker.h) live in
 * the MPI-free core and move encoded events (event.h) through this table of
 * functions; the MPI module (src/mpi/transport_mpi.c) implements it with
 * comm.h, and unit tests implement it with in-process queues.  Endpoints are
 * numbered like MPI ranks: 0 is the coordinator, 1..n_workers the workers.
 * A message's tag is its event type, so a worker can look for STOP alone.
 */
#ifndef HPTUNE_TRANSPORT_H
#define HPTUNE_TRANSPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hp_transport {
    void *ctx;
    int n_workers;
    /* Send an encoded event of type `type` to endpoint `to`.  0, or -1 with a message. */
    int (*send)(void *ctx, int to, int type, const uint8_t *bytes, size_t size);
    /* Wait for a message from `from` (-1: anyone) of type `type` (-1: any).
     * 1: got one (*bytes allocated, caller frees; *sender, *size set);
     * 0: *stop became non-zero or timeout_ms passed (timeout_ms < 0: none;
     *    0: just look); -1: transport error with a message. */
    int (*wait)(void *ctx, int from, int type, int timeout_ms, const volatile sig_atomic_t *stop, int *sender,
                uint8_t **bytes, size_t *size);
} hp_transport;

#endif
