/* transport_mpi.h - the transport (transport.h) over MPI ranks (src/mpi/transport_mpi.c). */
#ifndef HPTUNE_TRANSPORT_MPI_H
#define HPTUNE_TRANSPORT_MPI_H

#include "transport.h"

/* Endpoints are MPI_COMM_WORLD ranks; call after hp_comm_init(). */
hp_transport hp_transport_mpi(int n_workers);

#endif
