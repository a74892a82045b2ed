/* comm_mpi.c - the MPI shell: the only file that talks to MPI (see comm.h). */
#include "comm.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

/* Under AddressSanitizer, Open MPI's own process-lifetime allocations (made
 * by components it later dlclose()s, so they cannot be suppressed by library
 * name) are not leaks of hptune: LeakSanitizer ignores allocations made
 * inside MPI calls (only those; hptune's buffers are allocated outside). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LSAN_IGNORE_BEGIN() __lsan_disable()
#define LSAN_IGNORE_END() __lsan_enable()
#else
#define LSAN_IGNORE_BEGIN() ((void)0)
#define LSAN_IGNORE_END() ((void)0)
#endif

static int mpi_fail_at(const char *src_file, int src_line, const char *call, int code);

/* Every MPI call goes through this: 0, or -1 with a message that names the
 * call, file:line and MPI's own text.  MPI's own allocations are not
 * hptune's leaks (see above). */
#define MPI_CALL(call)                                                         \
    __extension__({                                                            \
        LSAN_IGNORE_BEGIN();                                                   \
        int mpi_rc_ = (call);                                                  \
        LSAN_IGNORE_END();                                                     \
        mpi_rc_ == MPI_SUCCESS ? 0 : mpi_fail_at(__FILE__, __LINE__, #call, mpi_rc_); \
    })

/* Set once any MPI call has failed: the job's communication is then broken
 * (e.g. two ranks cannot reach each other), and MPI_Finalize would wait
 * forever for ranks that are still blocked in a collective, so
 * hp_comm_finalize() ends the whole job with MPI_Abort instead.  The only
 * state in this file; it describes the process's MPI library, not a study. */
static int mpi_broken;

/* Record MPI's own message for a failed call. */
static int mpi_fail_at(const char *src_file, int src_line, const char *call, int code)
{
    mpi_broken = 1;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    return hp_errorf_at(src_file, src_line, "%s failed: %s", call, text);
}


int hp_comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    LSAN_IGNORE_BEGIN();
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, &provided);
    LSAN_IGNORE_END();
    if (rc != MPI_SUCCESS)
        return mpi_fail_at(__FILE__, __LINE__, "MPI_Init_thread", rc);
    /* Errors come back as codes so we can report them with context. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (MPI_CALL(MPI_Comm_rank(MPI_COMM_WORLD, rank)) != 0)
        return -1;
    if (MPI_CALL(MPI_Comm_size(MPI_COMM_WORLD, size)) != 0)
        return -1;
    return 0;
}

void hp_comm_finalize(void)
{
    if (mpi_broken)
        hp_comm_abort(1);
    LSAN_IGNORE_BEGIN();
    MPI_Finalize();
    LSAN_IGNORE_END();
}

_Noreturn void hp_comm_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int hp_comm_bcast_text(char **text, int status)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int64_t header[2] = {status, (rank == 0 && *text) ? (int64_t)strlen(*text) : 0};
    if (MPI_CALL(MPI_Bcast(header, 2, MPI_INT64_T, 0, MPI_COMM_WORLD)) != 0)
        return -1;
    if (rank != 0)
        *text = hp_xcalloc((size_t)header[1] + 1, 1);
    if (header[1] > 0 && MPI_CALL(MPI_Bcast(*text, (int)header[1], MPI_CHAR, 0, MPI_COMM_WORLD)) != 0)
        return -1;
    return (int)header[0];
}

#define FIRST_PROBLEM_TAG 0x7e01 /* above every event type (transport.h: tag = event type) */

int hp_comm_first_problem(const char *mine, char **first)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *first = NULL;
    int candidate = mine ? rank : size, lowest = size;
    if (MPI_CALL(MPI_Allreduce(&candidate, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD)) != 0) {
        if (rank == 0)
            *first = hp_xstrdup(hp_error_message());
        return 0;
    }
    if (lowest >= size)
        return -1;
    if (rank == lowest && rank != 0) {
        MPI_CALL(MPI_Send(mine, (int)strlen(mine) + 1, MPI_CHAR, 0, FIRST_PROBLEM_TAG, MPI_COMM_WORLD));
    } else if (rank == 0) {
        if (lowest == 0) {
            *first = hp_xstrdup(mine);
        } else {
            MPI_Status st;
            int count = 0;
            if (MPI_CALL(MPI_Probe(lowest, FIRST_PROBLEM_TAG, MPI_COMM_WORLD, &st)) == 0 &&
                MPI_Get_count(&st, MPI_CHAR, &count) == MPI_SUCCESS && count > 0) {
                *first = hp_xcalloc((size_t)count + 1, 1);
                if (MPI_CALL(MPI_Recv(*first, count, MPI_CHAR, lowest, FIRST_PROBLEM_TAG, MPI_COMM_WORLD,
                                      MPI_STATUS_IGNORE)) != 0) {
                    free(*first);
                    *first = hp_xstrdup(hp_error_message());
                }
            } else {
                *first = hp_xstrdup(hp_error_message());
            }
        }
    }
    return lowest;
}

int hp_comm_send(int dest, int tag, const void *data, size_t size)
{
    if (MPI_CALL(MPI_Send(data, (int)size, MPI_BYTE, dest, tag, MPI_COMM_WORLD)) != 0)
        return -1;
    return 0;
}

double hp_comm_time(void) { return MPI_Wtime(); }

#ifndef SPIN_POLLS
#define SPIN_POLLS 200
#endif

int hp_comm_wait(int source, int tag_filter, int *from, int *tag, void **data, size_t *size,
                 const volatile sig_atomic_t *stop, int timeout_ms)
{
    long sleep_ns = 20000;
    int polls = 0;
    double start = MPI_Wtime();
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_CALL(MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source,
                                tag_filter < 0 ? MPI_ANY_TAG : tag_filter, MPI_COMM_WORLD, &flag, &st)) != 0)
            return -1;
        if (flag) {
            int count = 0;
            MPI_Get_count(&st, MPI_BYTE, &count);
            void *buf = hp_xcalloc((size_t)count + 1, 1);
            if (MPI_CALL(MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
                                  MPI_STATUS_IGNORE)) != 0) {
                free(buf);
                return -1;
            }
            *from = st.MPI_SOURCE;
            *tag = st.MPI_TAG;
            *data = buf;
            *size = (size_t)count;
            return 1;
        }
        if (stop && *stop)
            return 0;
        if (timeout_ms >= 0 && (MPI_Wtime() - start) * 1000.0 >= timeout_ms)
            return 0;
        if (++polls < SPIN_POLLS)
            continue; /* an answer is often microseconds away: poll a little before
                         sleeping (739 -> 29000 epoch reports/s in `hptune bench`) */
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 2000000)
            sleep_ns *= 2;
    }
}
