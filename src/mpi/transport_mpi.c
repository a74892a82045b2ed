/* transport_mpi.c - the coordinator/worker transport (transport.h) over MPI:
 * endpoints are MPI ranks, a message's tag is its event type.  This only
 * moves bytes; what they mean is the core's business. */
#include "comm.h"
#include "transport.h"
#include "transport_mpi.h"

static int mpi_send(void *ctx, int to, int type, const uint8_t *bytes, size_t size)
{
    (void)ctx;
    return hp_comm_send(to, type, bytes, size);
}

static int mpi_wait(void *ctx, int from, int type, int timeout_ms, const volatile sig_atomic_t *stop, int *sender,
                    uint8_t **bytes, size_t *size)
{
    (void)ctx;
    int tag;
    void *data = NULL;
    int got = hp_comm_wait(from, type, sender, &tag, &data, size, stop, timeout_ms);
    *bytes = data;
    return got;
}

hp_transport hp_transport_mpi(int n_workers)
{
    hp_transport t = {.ctx = NULL, .n_workers = n_workers, .send = mpi_send, .wait = mpi_wait};
    return t;
}
