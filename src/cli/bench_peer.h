/* bench_peer.h - a peer framework (PyTorch) measured in the same run as hptune
 * (private to src/cli/bench*.c).
 *
 * The peer is tests/bench/torch_peer.py, started once as a child that answers
 * one request line at a time on its stdin/stdout (the protocol is in the
 * script's header), so `hptune bench` can alternate its own repeats with the
 * peer's: A B A B, each idle while the other measures.
 */
#ifndef HPTUNE_BENCH_PEER_H
#define HPTUNE_BENCH_PEER_H

#include <sys/types.h>

typedef struct bench_peer {
    pid_t pid;           /* the child, 0 when none */
    int to_fd, from_fd;  /* its stdin and stdout */
    char buf[4096];      /* bytes read but not yet returned as a line */
    size_t buffered;
    int ok;              /* answering requests */
    char name[160];      /* "PyTorch 1.13.0a0, 1 thread" once started */
    char reason[768];    /* why it is not (or no longer) ok */
} bench_peer;

/* Where tests/bench/torch_peer.py is: `explicit` if given, else in the
 * current directory's tests/bench or next to the hptune program.  Returns a
 * malloc'd path, or NULL. */
char *bench_peer_find_script(const char *explicit_path);

/* Start `python script` and shake hands (timeout_s for the import).  Returns
 * 0, or -1 with p->reason saying why and how to fix it. */
int bench_peer_start(bench_peer *p, const char *python, const char *script, double timeout_s);

/* Untimed training and evaluation steps of network `net` ("small", "wide");
 * *params: the peer's parameter count for it. */
int bench_peer_warm(bench_peer *p, const char *net, int batches, long *params);

/* One timed repeat: `mode` "train" or "eval" for >= seconds; *images_per_s.
 * On failure the peer is stopped (p->ok = 0, p->reason) and -1 returned. */
int bench_peer_rate(bench_peer *p, const char *mode, const char *net, double seconds,
                    double *images_per_s);

/* Stop using the peer for the reason given (p->reason). */
void bench_peer_refuse(bench_peer *p, const char *why);

/* Ask it to quit, wait for it (killing it if it does not exit). */
void bench_peer_stop(bench_peer *p);

#endif
