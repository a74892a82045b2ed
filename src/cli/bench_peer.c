/* bench_peer.c - run the PyTorch peer of `hptune bench` as a line server (see bench_peer.h). */
#include "bench_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#define SCRIPT_PATH "tests/bench/torch_peer.py"
#define INSTALL_HINT                                                                               \
    "install Debian's PyTorch 1.13 with `apt-get install python3-torch` or `make deps-bench` "    \
    "(about 600 MB with its dependencies)"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *bench_peer_find_script(const char *explicit_path)
{
    if (explicit_path)
        return is_file(explicit_path) ? hp_xstrdup(explicit_path) : NULL;
    if (is_file(SCRIPT_PATH))
        return hp_xstrdup(SCRIPT_PATH);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *path = hp_xasprintf("%s/%s", exe, SCRIPT_PATH);
    if (is_file(path))
        return path;
    free(path);
    return NULL;
}

/* Record why the peer is not usable; returns -1. */
static int fail(bench_peer *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
    p->ok = 0;
    return -1;
}

/* Next line from the peer (without the newline) into line; -1 on end of
   output, an error or timeout_s without a complete line. */
static int read_line(bench_peer *p, char *line, size_t size, double timeout_s)
{
    const double deadline = now_seconds() + timeout_s;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->buffered);
        if (nl) {
            size_t len = (size_t)(nl - p->buf);
            size_t copy = len < size - 1 ? len : size - 1;
            memcpy(line, p->buf, copy);
            line[copy] = '\0';
            p->buffered -= len + 1;
            memmove(p->buf, nl + 1, p->buffered);
            return 0;
        }
        if (p->buffered == sizeof p->buf) /* an overlong line: drop it */
            p->buffered = 0;
        const double left = deadline - now_seconds();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = p->from_fd, .events = POLLIN};
        int got = poll(&pfd, 1, (int)(left * 1000.0) + 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            continue; /* the deadline is checked above */
        ssize_t n = read(p->from_fd, p->buf + p->buffered, sizeof p->buf - p->buffered);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p->buffered += (size_t)n;
    }
}

/* Send one request and read its reply; -1 (peer stopped, reason set) when
   the peer does not answer in time or answers "error ...". */
static int request(bench_peer *p, const char *req, char *reply, size_t size, double timeout_s)
{
    if (!p->ok)
        return -1;
    char line[256];
    int len = snprintf(line, sizeof line, "%s\n", req);
    if (write(p->to_fd, line, (size_t)len) != len) {
        fail(p, "the PyTorch peer stopped reading requests (%s)", strerror(errno));
        bench_peer_stop(p);
        return -1;
    }
    if (read_line(p, reply, size, timeout_s) != 0) {
        fail(p, "the PyTorch peer did not answer '%s' within %.0f s", req, timeout_s);
        bench_peer_stop(p);
        return -1;
    }
    if (!strncmp(reply, "error", 5)) {
        fail(p, "the PyTorch peer answered '%s': %s", req, reply + (reply[5] ? 6 : 5));
        bench_peer_stop(p);
        return -1;
    }
    return 0;
}

int bench_peer_start(bench_peer *p, const char *python, const char *script, double timeout_s)
{
    memset(p, 0, sizeof *p);
    p->to_fd = p->from_fd = -1;
    int to[2], from[2];
    if (pipe(to) != 0)
        return fail(p, "cannot create a pipe: %s", strerror(errno));
    if (pipe(from) != 0) {
        close(to[0]);
        close(to[1]);
        return fail(p, "cannot create a pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        return fail(p, "cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2); /* warnings would interleave with the table */
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        /* one thread, like hptune's workers; OPENBLAS_CORETYPE is inherited,
           so PyTorch's OpenBLAS gets the same kernels as hptune */
        setenv("OMP_NUM_THREADS", "1", 1);
        setenv("MKL_NUM_THREADS", "1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execl(python, python, script, (char *)NULL);
        printf("error cannot run %s: %s\n", python, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p->pid = pid;
    p->to_fd = to[1];
    p->from_fd = from[0];
    p->ok = 1;
    signal(SIGPIPE, SIG_IGN); /* a dead peer must not kill the benchmark */
    char reply[512];
    if (write(p->to_fd, "hello\n", 6) != 6 || read_line(p, reply, sizeof reply, timeout_s) != 0) {
        fail(p, "%s %s did not start (no answer within %.0f s)", python, script, timeout_s);
        bench_peer_stop(p);
        return -1;
    }
    if (!strncmp(reply, "error", 5)) {
        const int no_torch = strstr(reply, "not importable") != NULL;
        fail(p, "%s%s%s", reply + (reply[5] ? 6 : 5), no_torch ? "; " : "", no_torch ? INSTALL_HINT : "");
        bench_peer_stop(p);
        return -1;
    }
    char version[64] = "?";
    int threads = 0;
    if (sscanf(reply, "ok torch %63s threads %d", version, &threads) != 2) {
        fail(p, "unexpected greeting from the PyTorch peer: '%s'", reply);
        bench_peer_stop(p);
        return -1;
    }
    snprintf(p->name, sizeof p->name, "PyTorch %s, %d thread%s", version, threads, threads == 1 ? "" : "s");
    return 0;
}

int bench_peer_warm(bench_peer *p, const char *net, int batches, long *params)
{
    char req[64], reply[256];
    snprintf(req, sizeof req, "warm %s %d", net, batches);
    if (request(p, req, reply, sizeof reply, 120.0) != 0)
        return -1;
    if (sscanf(reply, "ok params %ld", params) != 1) {
        fail(p, "unexpected answer from the PyTorch peer to '%s': '%s'", req, reply);
        bench_peer_stop(p);
        return -1;
    }
    return 0;
}

void bench_peer_refuse(bench_peer *p, const char *why)
{
    fail(p, "%s", why);
    bench_peer_stop(p);
}

int bench_peer_rate(bench_peer *p, const char *mode, const char *net, double seconds,
                    double *images_per_s)
{
    char req[96], reply[256];
    snprintf(req, sizeof req, "%s %s %.3f", mode, net, seconds);
    /* a slow peer needs at least one batch: allow a generous bound */
    if (request(p, req, reply, sizeof reply, 60.0 + 20.0 * seconds) != 0)
        return -1;
    double ips = 0.0;
    long batches = 0;
    if (sscanf(reply, "rate %lf %ld", &ips, &batches) != 2 || !(ips > 0.0)) {
        fail(p, "unexpected answer from the PyTorch peer to '%s': '%s'", req, reply);
        bench_peer_stop(p);
        return -1;
    }
    *images_per_s = ips;
    return 0;
}

void bench_peer_stop(bench_peer *p)
{
    if (p->pid <= 0)
        return;
    if (p->to_fd >= 0) {
        if (write(p->to_fd, "quit\n", 5) != 5) {
            /* already gone; reaped below */
        }
        close(p->to_fd);
    }
    /* wait up to 5 s for a clean exit, then kill it */
    int status;
    const double deadline = now_seconds() + 5.0;
    pid_t w;
    while ((w = waitpid(p->pid, &status, WNOHANG)) == 0 && now_seconds() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (p->from_fd >= 0)
        close(p->from_fd);
    p->pid = 0;
    p->to_fd = p->from_fd = -1;
    p->ok = 0;
}
