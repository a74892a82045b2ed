/* bench.c - `hptune bench`: measure what limits a study on this machine.
 *
 *   hptune bench [--json] [--quick] [--peers] [--peer-script FILE] [--data FILE] [--threads N]
 *
 * One run measures, in this order of presentation:
 *   1. the linked BLAS: sgemm 1024^3, one thread, best of a few calls after a
 *      warm-up (GFLOPS = 2*1024^3 / seconds);
 *   2. two reference networks at batch 64 on synthetic normalised inputs:
 *      training and evaluation images/s (median of REPEATS timed repeats),
 *      achieved GFLOPS (training = forward + 2x forward for backward), the
 *      fraction of the sgemm peak, and the training time by layer (share of
 *      a step, GFLOPS of conv and dense layers); with --peers, PyTorch on
 *      the same networks (tests/bench/torch_peer.py), its repeats alternating
 *      with hptune's (A B A B ...), and the ratio hptune/PyTorch as the median
 *      of the pairs' ratios;
 *   3. batch assembly + augmentation per batch, as a fraction of a small-net
 *      training step, and loading shards 0..8 from --data (if present) as a
 *      fraction of one small-net epoch;
 *   4. one trial checkpoint of the wide net, as a fraction of a wide epoch;
 *   5. the coordinator: `mpirun -np 3 hptune run` of a 10,000-trial (--quick:
 *      2,000) random search on a replayed curves table: epoch reports per
 *      second and rank 0's peak memory (cmd_run prints it when
 *      HPTUNE_PRINT_RSS is set); for context also a 1-trial run (the MPI
 *      start-up cost) and the same study in one process without mpirun
 *      (bookkeeping cost without messages);
 *   6. the peak memory of a worker training the wide net on 9 shards.
 * Each figure is printed next to its target.  A missed target is reported,
 * never an error: the exit status is 1 only when a measurement broke.
 *
 * The worker-memory child (6) is forked before anything large is allocated
 * here: a forked child's resident set starts as its parent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "bench_peer.h"
#include "checkpoint.h"
#include "cli.h"
#include "cli_options.h"
#include "config.h"
#include "dataset.h"
#include "error.h"
#include "net.h"
#include "rng.h"
#include "trainer.h"

/* after our headers: OpenBLAS's cblas.h pulls in <complex.h>, whose macro I
 * would clash with the parameter names in layers.h */
#include <cblas.h>

#define BATCH 64
#define EPOCH_IMAGES 45000  /* 9 of 10 shards of the 50,000 CIFAR-10 training images */
#define VAL_IMAGES 5000     /* the validation shard */
#define TRAIN_SHARDS 9
#define SGEMM_N 1024
#define REPEATS 5           /* timed repeats per rate; the median is reported */
#define WARMUP_BATCHES 3
#define WORKER_BATCHES 5
#define CURVE_EPOCHS 3      /* E: epochs per trial in the coordinator run */

/* The targets each figure is printed next to. */
#define TARGET_SMALL_IPS 2500.0
#define TARGET_WIDE_IPS 1000.0
#define TARGET_SMALL_PEAK 0.50
#define TARGET_WIDE_PEAK 0.60
#define TARGET_SMALL_TRAIN_VS_PEER 3.0  /* hptune / PyTorch, images/s */
#define TARGET_WIDE_TRAIN_VS_PEER 2.0
#define TARGET_EVAL_VS_PEER 2.0
#define MAX_PROFILE_LAYERS 64
#define TARGET_DATA_FRACTION 0.05
#define TARGET_CKPT_FRACTION 0.02
#define TARGET_REPORTS_PER_S 5000.0
#define TARGET_COORD_MB 200.0
#define TARGET_WORKER_MB 300.0

typedef enum { SECTION_OK = 0, SECTION_SKIPPED, SECTION_FAILED } section_status;
static const char *const status_names[] = {"ok", "skipped", "failed"};

typedef struct bench_options {
    int json, quick, threads, peers;
    const char *data_path;
    const char *peer_script; /* --peer-script, or NULL: look for it */
} bench_options;

/* One layer's share of a training step (measure_split). */
typedef struct layer_profile {
    char name[64];
    double forward_ms, backward_ms;         /* per batch */
    double forward_gflops, backward_gflops; /* conv and dense; 0 for the others */
} layer_profile;

typedef struct net_result {
    const char *name;
    char description[512];
    size_t n_params;
    double forward_macs;          /* per image */
    double train_ips, train_ips_total, eval_ips;
    double train_gflops, eval_gflops;
    double train_peak_fraction, eval_peak_fraction;
    double split_percent[HP_LAYER_KIND_COUNT]; /* by hp_layer_kind */
    double optimizer_percent, other_percent;
    int present[HP_LAYER_KIND_COUNT];
    double cpu_share;             /* CPU seconds per wall second while measuring (>= ~1 alone) */
    int n_profile;
    layer_profile profile[MAX_PROFILE_LAYERS];
    double step_ms;               /* per training batch while profiling */
    /* the peer, alternating with the rates above (peer_ok: both measured) */
    int peer_ok;
    double peer_train_ips, peer_eval_ips; /* medians of its repeats */
    double train_ratio, eval_ratio;       /* medians of hptune/peer per pair */
    section_status status;
    char reason[512];
} net_result;

typedef struct bench_results {
    int cpus;                               /* online */
    double load_average;                    /* 1-minute, at the start; NAN if unknown */
    const char *blas;
    bench_peer peer;                        /* --peers */
    section_status peer_status;
    char peer_reason[768];
    double sgemm_seconds_1, sgemm_gflops_1; /* one thread */
    double sgemm_gflops_n;                  /* opt.threads threads (== _1 when 1) */
    double peak_gflops;                     /* at the networks' thread count */
    net_result small, wide;
    double min_seconds;                     /* per rate measurement */
    /* 3. data */
    double batch_seconds, batch_fraction;
    double rotate_batch_seconds, rotate_fraction; /* the same with augment_rotate 15 (measure_rotation) */
    section_status shards_status;
    char shards_reason[512];
    int shards_loaded, shard_images;
    double shards_seconds, shards_fraction;
    /* 4. checkpoint */
    section_status ckpt_status;
    char ckpt_reason[512];
    double ckpt_seconds, ckpt_mb, ckpt_fraction, wide_epoch_seconds;
    /* 5. coordinator */
    section_status coord_status;
    char coord_reason[1024];
    int coord_trials;
    double coord_seconds, coord_rate, launch_seconds, steady_rate, coord_rss_mb;
    double serial_rate;                     /* the same study in one process, no MPI */
    char serial_note[512];
    /* 6. worker */
    section_status worker_status;
    char worker_reason[512];
    double worker_rss_mb;
    int worker_from_file, worker_train_images, worker_val_images;
} bench_results;

/* ------------------------------------------------------------ helpers -- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this process (all threads). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Peak resident set of this process in kB (VmHWM), -1 if unknown. */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static double load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double load = NAN;
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = NAN;
        fclose(f);
    }
    return load;
}

static void fill_random_bytes(uint8_t *p, size_t n, hp_rng *rng)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = hp_rng_next(rng);
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)hp_rng_next(rng);
}

/* A synthetic data set of n random images with random labels and CIFAR-10's
 * channel statistics (every page written, so it is resident like real data). */
static void make_synthetic_dataset(hp_dataset *ds, int n, hp_rng *rng)
{
    static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
    static const float cifar_std[3] = {0.2470f, 0.2435f, 0.2616f};
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->images = hp_xcalloc((size_t)n, HP_IMAGE_BYTES);
    ds->labels = hp_xcalloc((size_t)n, 1);
    fill_random_bytes(ds->images, (size_t)n * HP_IMAGE_BYTES, rng);
    for (int i = 0; i < n; i++)
        ds->labels[i] = (uint8_t)hp_rng_below(rng, HP_NUM_CLASSES);
    memcpy(ds->mean, cifar_mean, sizeof cifar_mean);
    memcpy(ds->std, cifar_std, sizeof cifar_std);
}

/* small: the defaults (3 blocks of 32 filters, dense 128, dense 10) without
 * head dropout; wide: 64 filters, dense 256, no dropout at all. */
static void reference_config(hp_config *c, int wide)
{
    hp_config_defaults(c);
    c->num_blocks = 3;
    c->filters = 32;
    c->kernel_size = 3;
    c->padding = HP_PAD_SAME;
    c->activation = HP_ACT_RELU;
    c->pool = HP_POOL_MAX;
    c->pool_size = 2;
    c->conv_dropout = 0.25f;
    c->head_layers = 1;
    c->head_units = 128;
    c->head_dropout = 0.0f;
    c->optimizer = HP_OPT_ADAM;
    c->batch_size = BATCH;
    if (wide) {
        c->filters = 64;
        c->conv_dropout = 0.0f;
        c->head_units = 256;
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* "mpirun" found on PATH? */
static int on_path(const char *program)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char *copy = hp_xstrdup(path), *save = NULL;
    int found = 0;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *full = hp_xasprintf("%s/%s", *dir ? dir : ".", program);
        found = access(full, X_OK) == 0;
        free(full);
    }
    free(copy);
    return found;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path) == 0 ? 0 : -1;
}

/* rm -r of one of our temporary directories (best effort). */
static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *templ = hp_xasprintf("%s/hptune-bench.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(templ)) {
        HP_ERR("%s: cannot create a temporary directory: %s (set TMPDIR to a writable folder)", templ,
               strerror(errno));
        free(templ);
        return NULL;
    }
    return templ;
}

/* -------------------------------------------------------------- sgemm -- */

/* Best seconds of `reps` 1024^3 sgemm calls after one warm-up call. */
static double time_sgemm(const float *a, const float *b, float *c, int reps)
{
    const int n = SGEMM_N;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now_seconds() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

static void measure_sgemm(const bench_options *o, bench_results *r)
{
    size_t count = (size_t)SGEMM_N * SGEMM_N;
    float *a = hp_xalloc_floats(count), *b = hp_xalloc_floats(count), *c = hp_xalloc_floats(count);
    hp_rng rng;
    hp_rng_seed(&rng, 1);
    for (size_t i = 0; i < count; i++) {
        a[i] = hp_rng_uniform_float(&rng) - 0.5f;
        b[i] = hp_rng_uniform_float(&rng) - 0.5f;
    }
    int reps = o->quick ? 3 : 5;
    double flops = 2.0 * SGEMM_N * SGEMM_N * (double)SGEMM_N;
    hp_blas_set_threads(1);
    r->sgemm_seconds_1 = time_sgemm(a, b, c, reps);
    r->sgemm_gflops_1 = flops / r->sgemm_seconds_1 / 1e9;
    hp_blas_set_threads(o->threads);
    r->sgemm_gflops_n = o->threads > 1 ? flops / time_sgemm(a, b, c, reps) / 1e9 : r->sgemm_gflops_1;
    r->peak_gflops = r->sgemm_gflops_n;
    free(a);
    free(b);
    free(c);
}

/* ----------------------------------------------------------- networks -- */

typedef struct net_bench {
    hp_net net;
    float *x;          /* (BATCH, 3, 32, 32) synthetic normalised inputs */
    uint8_t *y;        /* (BATCH) */
    hp_rng dropout_rng;
    long step;
} net_bench;

static void train_batch(net_bench *b)
{
    hp_net_forward(&b->net, b->x, BATCH, 1, &b->dropout_rng);
    hp_net_loss(&b->net, b->y, BATCH);
    hp_net_zero_grad(&b->net);
    hp_net_backward(&b->net, b->y, BATCH);
    hp_net_step(&b->net, ++b->step, 1e-3f);
}

static void eval_batch(net_bench *b)
{
    hp_net_forward(&b->net, b->x, BATCH, 0, NULL);
    hp_net_loss(&b->net, b->y, BATCH);
}

static double median_of(const double *v, int n)
{
    double sorted[REPEATS];
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof sorted[0], compare_doubles);
    return sorted[n / 2];
}

/* Images/s of `fn`: REPEATS timed runs of >= min_seconds/REPEATS each.
 * *median: median of the repeats' rates; *total: all images / all time.
 * With a peer (peer->ok), each repeat is followed by one of the peer's,
 * `mode` on network `net`, as long: *peer_median is the median of its
 * rates and *ratio the median of the pairs' ratios (ours / the peer's).
 * Returns the seconds spent waiting for the peer. */
static double measure_rate(void (*fn)(net_bench *), net_bench *b, double min_seconds, double *median,
                         double *total, bench_peer *peer, const char *mode, const char *net,
                         double *peer_median, double *ratio)
{
    double rates[REPEATS], peer_rates[REPEATS], ratios[REPEATS], all_seconds = 0.0;
    long all_batches = 0;
    int pairs = 0;
    double waited = 0.0;
    for (int r = 0; r < REPEATS; r++) {
        long batches = 0;
        double t0 = now_seconds(), dt;
        do {
            fn(b);
            batches++;
            dt = now_seconds() - t0;
        } while (dt < min_seconds / REPEATS);
        rates[r] = (double)batches * BATCH / dt;
        all_seconds += dt;
        all_batches += batches;
        if (peer && peer->ok) {
            const double tp = now_seconds();
            if (bench_peer_rate(peer, mode, net, min_seconds / REPEATS, &peer_rates[r]) == 0) {
                ratios[r] = rates[r] / peer_rates[r];
                pairs++;
            }
            waited += now_seconds() - tp;
        }
    }
    *median = median_of(rates, REPEATS);
    if (total)
        *total = (double)all_batches * BATCH / all_seconds;
    if (peer_median && ratio) {
        const int complete = pairs == REPEATS;
        *peer_median = complete ? median_of(peer_rates, REPEATS) : NAN;
        *ratio = complete ? median_of(ratios, REPEATS) : NAN;
    }
    return waited;
}

/* Training time split by layer kind and by layer (net->timing), plus the
 * optimizer step timed here; "other" is the loss, zero-grad and the timers
 * themselves.  GFLOPS of a conv or dense layer as hp_net_layer_flops counts
 * them. */
static void measure_split(net_bench *b, net_result *res, double seconds)
{
    hp_net *net = &b->net;
    memset(net->layer_seconds, 0, sizeof net->layer_seconds);
    for (int i = 0; i < net->n_layers; i++)
        net->layers[i].forward_seconds = net->layers[i].backward_seconds = 0.0;
    net->timing = 1;
    double optimizer = 0.0, t0 = now_seconds(), total;
    long batches = 0;
    do {
        hp_net_forward(net, b->x, BATCH, 1, &b->dropout_rng);
        hp_net_loss(net, b->y, BATCH);
        hp_net_zero_grad(net);
        hp_net_backward(net, b->y, BATCH);
        double ts = now_seconds();
        hp_net_step(net, ++b->step, 1e-3f);
        optimizer += now_seconds() - ts;
        total = now_seconds() - t0;
        batches++;
    } while (total < seconds);
    net->timing = 0;
    double accounted = optimizer;
    for (int k = 0; k < HP_LAYER_KIND_COUNT; k++) {
        res->split_percent[k] = 100.0 * net->layer_seconds[k] / total;
        accounted += net->layer_seconds[k];
    }
    res->optimizer_percent = 100.0 * optimizer / total;
    res->other_percent = 100.0 * (total - accounted) / total;
    if (res->other_percent < 0.0)
        res->other_percent = 0.0;
    res->step_ms = 1e3 * total / (double)batches;
    res->n_profile = 0;
    for (int i = 0; i < net->n_layers && res->n_profile < MAX_PROFILE_LAYERS; i++) {
        const hp_layer *L = &net->layers[i];
        /* flatten is free, and an activation fused into its conv (forward)
           and pool (backward) takes no measurable time of its own */
        if (L->kind == HP_LAYER_FLATTEN ||
            (L->kind == HP_LAYER_ACTIVATION && L->forward_seconds + L->backward_seconds < 1e-6 * batches))
            continue;
        layer_profile *lp = &res->profile[res->n_profile++];
        hp_net_layer_name(net, i, lp->name, sizeof lp->name);
        lp->forward_ms = 1e3 * L->forward_seconds / (double)batches;
        lp->backward_ms = 1e3 * L->backward_seconds / (double)batches;
        double forward_flops, backward_flops; /* per image */
        hp_net_layer_flops(net, i, &forward_flops, &backward_flops);
        lp->forward_gflops = lp->forward_ms > 0 ? forward_flops * BATCH / (1e-3 * lp->forward_ms) / 1e9 : 0.0;
        lp->backward_gflops = lp->backward_ms > 0 ? backward_flops * BATCH / (1e-3 * lp->backward_ms) / 1e9 : 0.0;
    }
}

static void measure_network(const bench_options *o, bench_results *r, net_result *res, int wide)
{
    memset(res, 0, sizeof *res);
    res->name = wide ? "wide" : "small";
    hp_config config;
    reference_config(&config, wide);
    net_bench b;
    memset(&b, 0, sizeof b);
    hp_rng init_rng, data_rng;
    hp_rng_seed_for(&init_rng, 1, (uint64_t)wide, HP_STREAM_INIT);
    hp_rng_seed_for(&b.dropout_rng, 1, (uint64_t)wide, HP_STREAM_DROPOUT);
    hp_rng_seed_for(&data_rng, 1, (uint64_t)wide, HP_STREAM_TEST);
    if (hp_net_init(&b.net, &config, BATCH, &init_rng) != 0) {
        res->status = SECTION_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s", hp_error_message());
        return;
    }
    b.x = hp_xalloc_floats((size_t)BATCH * HP_IMAGE_BYTES);
    b.y = hp_xcalloc(BATCH, 1);
    for (size_t i = 0; i < (size_t)BATCH * HP_IMAGE_BYTES; i++)
        b.x[i] = (float)hp_rng_normal(&data_rng);
    for (int i = 0; i < BATCH; i++)
        b.y[i] = (uint8_t)hp_rng_below(&data_rng, HP_NUM_CLASSES);

    hp_net_describe(&b.net, res->description, sizeof res->description);
    res->n_params = b.net.n_params;
    res->forward_macs = b.net.forward_macs;
    for (int i = 0; i < b.net.n_layers; i++)
        res->present[b.net.layers[i].kind] = 1;

    bench_peer *peer = r->peer.ok ? &r->peer : NULL;
    long peer_params = 0;
    if (peer && bench_peer_warm(peer, res->name, WARMUP_BATCHES, &peer_params) == 0 &&
        peer_params != (long)b.net.n_params) {
        char why[256];
        snprintf(why, sizeof why, "PyTorch's %s network has %ld parameters, hptune's %zu: the networks "
                 "differ (tests/bench/torch_peer.py must mirror src/cli/bench.c)", res->name, peer_params,
                 b.net.n_params);
        bench_peer_refuse(peer, why);
    }
    if (peer && !peer->ok)
        peer = NULL;
    double wall0 = now_seconds(), cpu0 = cpu_seconds(), peer_seconds = 0.0;
    for (int i = 0; i < WARMUP_BATCHES; i++)
        train_batch(&b);
    peer_seconds += measure_rate(train_batch, &b, r->min_seconds, &res->train_ips, &res->train_ips_total,
                                 peer, "train", res->name, &res->peer_train_ips, &res->train_ratio);
    for (int i = 0; i < WARMUP_BATCHES; i++)
        eval_batch(&b);
    peer_seconds += measure_rate(eval_batch, &b, r->min_seconds, &res->eval_ips, NULL, peer, "eval",
                                 res->name, &res->peer_eval_ips, &res->eval_ratio);
    res->peer_ok = peer && peer->ok && !isnan(res->train_ratio) && !isnan(res->eval_ratio);
    measure_split(&b, res, o->quick ? 0.2 : 0.5);
    /* well below 1: other processes had the cores, the rates are pessimistic
       (the peer's turns, when this process waited, do not count) */
    res->cpu_share = (cpu_seconds() - cpu0) / (now_seconds() - wall0 - peer_seconds);

    double flops_per_image = 2.0 * res->forward_macs;
    res->train_gflops = res->train_ips * flops_per_image * 3.0 / 1e9;
    res->eval_gflops = res->eval_ips * flops_per_image / 1e9;
    res->train_peak_fraction = res->train_gflops / r->peak_gflops;
    res->eval_peak_fraction = res->eval_gflops / r->peak_gflops;
    hp_net_release(&b.net);
    free(b.x);
    free(b.y);
}

/* The PyTorch peer for --peers (r->peer_status says whether it runs). */
static void start_peer(const bench_options *o, bench_results *r)
{
    r->peer_status = SECTION_SKIPPED;
    if (!o->peers) {
        snprintf(r->peer_reason, sizeof r->peer_reason, "not requested (hptune bench --peers)");
        return;
    }
    char *script = bench_peer_find_script(o->peer_script);
    if (!script) {
        snprintf(r->peer_reason, sizeof r->peer_reason,
                 o->peer_script ? "%s: no such file" : "%s not found here or next to the hptune program; "
                                                        "run from the source tree or pass --peer-script FILE",
                 o->peer_script ? o->peer_script : "tests/bench/torch_peer.py");
        return;
    }
    const char *python = getenv("HPTUNE_PEER_PYTHON");
    if (!python || !*python)
        python = "/usr/bin/python3";
    if (bench_peer_start(&r->peer, python, script, 120.0) != 0)
        snprintf(r->peer_reason, sizeof r->peer_reason, "%s", r->peer.reason);
    else
        r->peer_status = SECTION_OK;
    free(script);
}

/* --------------------------------------------------------------- data -- */

static void measure_batch_assembly(const bench_options *o, bench_results *r, const hp_dataset *ds)
{
    /* walk a shuffled epoch order, as the trainer does */
    int *order = hp_xcalloc((size_t)ds->n, sizeof *order);
    hp_rng rng;
    hp_rng_seed_for(&rng, 1, 0, HP_STREAM_AUGMENT);
    for (int i = 0; i < ds->n; i++)
        order[i] = i;
    for (int i = ds->n - 1; i > 0; i--) {
        int j = (int)hp_rng_below(&rng, (uint64_t)i + 1);
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    float *x = hp_xalloc_floats((size_t)BATCH * HP_IMAGE_BYTES);
    uint8_t *y = hp_xcalloc(BATCH, 1); /* the labels, gathered as the trainer does */
    long batches = 0;
    int position = 0;
    double seconds = o->quick ? 0.2 : 0.5, t0 = now_seconds(), dt;
    do {
        if (position + BATCH > ds->n)
            position = 0;
        const int *index = order + position;
        hp_make_batch(x, ds->images, index, BATCH, ds->mean, ds->std, 4, 1, &rng);
        for (int i = 0; i < BATCH; i++)
            y[i] = ds->labels[index[i]];
        position += BATCH;
        batches++;
        dt = now_seconds() - t0;
    } while (dt < seconds);
    r->batch_seconds = dt / (double)batches;
    double step_seconds = BATCH / r->small.train_ips;
    r->batch_fraction = r->batch_seconds / step_seconds;
    free(y);
    free(x);
    free(order);
}

/* Batch assembly with every augmentation (crop 4, flip 0.5, rotation up to
 * 15 degrees), as a share of a small-net training step. */
static void measure_rotation(const bench_options *o, bench_results *r, const hp_dataset *ds)
{
    const hp_augment aug = {4, 0.5f, 15.0f};
    int *index = hp_xcalloc(BATCH, sizeof *index);
    float *x = hp_xalloc_floats((size_t)BATCH * HP_IMAGE_BYTES);
    hp_rng rng;
    hp_rng_seed_for(&rng, 1, 0, HP_STREAM_AUGMENT);
    long batches = 0;
    double seconds = o->quick ? 0.2 : 0.5, t0 = now_seconds(), dt;
    do {
        for (int i = 0; i < BATCH; i++)
            index[i] = (int)hp_rng_below(&rng, (uint64_t)ds->n);
        hp_make_batch_augmented(x, ds->images, index, BATCH, ds->mean, ds->std, &aug, &rng);
        batches++;
        dt = now_seconds() - t0;
    } while (dt < seconds);
    r->rotate_batch_seconds = dt / (double)batches;
    r->rotate_fraction = r->rotate_batch_seconds / (BATCH / r->small.train_ips);
    free(x);
    free(index);
}

static void measure_shard_loading(const bench_options *o, bench_results *r)
{
    if (!file_exists(o->data_path)) {
        r->shards_status = SECTION_SKIPPED;
        snprintf(r->shards_reason, sizeof r->shards_reason,
                 "%s not found (%s); 'make data' creates it, or pass --data FILE", o->data_path,
                 strerror(errno));
        return;
    }
    int n_shards = 0;
    if (hp_dataset_info(o->data_path, &n_shards, NULL, NULL) != 0) {
        r->shards_status = SECTION_FAILED;
        snprintf(r->shards_reason, sizeof r->shards_reason, "%s", hp_error_message());
        return;
    }
    int shards[TRAIN_SHARDS];
    int count = n_shards < TRAIN_SHARDS ? n_shards : TRAIN_SHARDS;
    for (int s = 0; s < count; s++)
        shards[s] = s;
    hp_dataset ds;
    double t0 = now_seconds();
    if (hp_dataset_load_shards(&ds, o->data_path, shards, count) != 0) {
        r->shards_status = SECTION_FAILED;
        snprintf(r->shards_reason, sizeof r->shards_reason, "%s", hp_error_message());
        return;
    }
    r->shards_seconds = now_seconds() - t0;
    r->shards_loaded = count;
    r->shard_images = ds.n;
    double epoch_seconds = ds.n / r->small.train_ips;
    r->shards_fraction = r->shards_seconds / epoch_seconds;
    r->shards_status = SECTION_OK;
    hp_dataset_release(&ds);
}

/* --------------------------------------------------------- checkpoint -- */

static void measure_checkpoint(bench_results *r, const hp_dataset *train)
{
    r->wide_epoch_seconds = EPOCH_IMAGES / r->wide.train_ips;
    hp_config config;
    reference_config(&config, 1);
    hp_trainer t;
    if (hp_trainer_init(&t, &config, train, train) != 0) {
        r->ckpt_status = SECTION_FAILED;
        snprintf(r->ckpt_reason, sizeof r->ckpt_reason, "%s", hp_error_message());
        return;
    }
    /* two real steps so the optimizer moments are not all zero */
    for (int i = 0; i < train->n; i++)
        t.order[i] = i;
    hp_make_batch(t.batch_x, train->images, t.order, BATCH, train->mean, train->std, 0, 0, NULL);
    for (long step = 1; step <= 2; step++) {
        hp_net_forward(&t.net, t.batch_x, BATCH, 1, &t.dropout_rng);
        hp_net_loss(&t.net, train->labels, BATCH);
        hp_net_zero_grad(&t.net);
        hp_net_backward(&t.net, train->labels, BATCH);
        hp_net_step(&t.net, step, 1e-3f);
    }
    t.step = 2;
    t.batch_in_epoch = 2;

    char *dir = make_temp_dir(), *path = NULL;
    if (!dir) {
        r->ckpt_status = SECTION_FAILED;
        snprintf(r->ckpt_reason, sizeof r->ckpt_reason, "%s", hp_error_message());
        goto release_trainer;
    }
    path = hp_xasprintf("%s/last.h5", dir);
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_seconds();
        if (hp_checkpoint_save(&t, 0, path) != 0) {
            r->ckpt_status = SECTION_FAILED;
            snprintf(r->ckpt_reason, sizeof r->ckpt_reason, "%s", hp_error_message());
            goto remove_dir;
        }
        double dt = now_seconds() - t0;
        if (dt < best)
            best = dt;
    }
    struct stat st;
    r->ckpt_mb = stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : NAN;
    r->ckpt_seconds = best;
    r->ckpt_fraction = best / r->wide_epoch_seconds;
    r->ckpt_status = SECTION_OK;
remove_dir:
    remove_tree(dir);
    free(path);
    free(dir);
release_trainer:
    hp_trainer_release(&t);
}

/* -------------------------------------------------------- coordinator -- */

/* The space: 4 x 4 x 5 x 5 = 400 configurations; the curves table has every
 * one for epochs 1..CURVE_EPOCHS (format: src/curves.c). */
static const char *const space_lr[] = {"0.0001", "0.0003", "0.001", "0.003"};
static const char *const space_optimizer[] = {"sgd", "adam", "adamw", "rmsprop"};
static const char *const space_head_units[] = {"64", "128", "256", "512", "1024"};
static const char *const space_filters[] = {"16", "32", "48", "64", "96"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void write_list(FILE *f, const char *const *values, int n)
{
    fprintf(f, "[");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", values[i]);
    fprintf(f, "]");
}

/* Write dir/name.yaml and dir/curves.csv; returns the job's path (caller frees). */
static char *write_coordinator_job(const char *dir, const char *name, int trials)
{
    char *csv_path = hp_xasprintf("%s/curves.csv", dir);
    char *job_path = hp_xasprintf("%s/%s.yaml", dir, name);
    FILE *f = fopen(csv_path, "w");
    if (!f) {
        HP_ERR("%s: cannot write: %s", csv_path, strerror(errno));
        goto fail;
    }
    fprintf(f, "# synthetic learning curves for hptune bench\n"
               "learning_rate,optimizer,head_units,filters,epoch,val_accuracy,val_loss\n");
    int config_index = 0;
    for (int a = 0; a < COUNT(space_lr); a++)
        for (int b = 0; b < COUNT(space_optimizer); b++)
            for (int c = 0; c < COUNT(space_head_units); c++)
                for (int d = 0; d < COUNT(space_filters); d++, config_index++)
                    for (int e = 1; e <= CURVE_EPOCHS; e++) {
                        double accuracy = 0.2 + 0.5 * (config_index % 97) / 97.0 * e / CURVE_EPOCHS;
                        fprintf(f, "%s,%s,%s,%s,%d,%.4f,%.4f\n", space_lr[a], space_optimizer[b],
                                space_head_units[c], space_filters[d], e, accuracy, 2.5 - 2.0 * accuracy);
                    }
    if (fclose(f) != 0) {
        HP_ERR("%s: cannot write: %s", csv_path, strerror(errno));
        goto fail;
    }
    f = fopen(job_path, "w");
    if (!f) {
        HP_ERR("%s: cannot write: %s", job_path, strerror(errno));
        goto fail;
    }
    fprintf(f,
            "# written by hptune bench: coordinator throughput on replayed curves\n"
            "study: {name: bench-%s, seed: 1, metric: val_accuracy}\n"
            "data: {path: not-read-by-the-curves-objective.h5, train_shards: [0], val_shards: [9], "
            "test_eval: false}\n"
            "strategy: {name: random, max_trials: %d}\n"
            "objective: {type: curves, file: curves.csv, sleep_ms: 0}\n"
            "fixed: {epochs: %d}\n"
            "space:\n",
            name, trials, CURVE_EPOCHS);
    fprintf(f, "  learning_rate: {choice: ");
    write_list(f, space_lr, COUNT(space_lr));
    fprintf(f, "}\n  optimizer: {choice: ");
    write_list(f, space_optimizer, COUNT(space_optimizer));
    fprintf(f, "}\n  head_units: {choice: ");
    write_list(f, space_head_units, COUNT(space_head_units));
    fprintf(f, "}\n  filters: {choice: ");
    write_list(f, space_filters, COUNT(space_filters));
    fprintf(f, "}\n");
    if (fclose(f) != 0) {
        HP_ERR("%s: cannot write: %s", job_path, strerror(errno));
        goto fail;
    }
    free(csv_path);
    return job_path;
fail:
    free(csv_path);
    free(job_path);
    return NULL;
}

typedef struct child_result {
    int exit_code;      /* -1 if killed by a signal */
    int signal;
    int timed_out;
    double seconds;
    char *out;          /* its stdout, owned */
} child_result;

/* Run argv with stdout captured, stderr to err_path, stdin from /dev/null and
 * HPTUNE_PRINT_RSS=1; kill it (SIGTERM, then SIGKILL) after timeout_s. */
static int run_child(char *const argv[], const char *err_path, double timeout_s, child_result *res)
{
    memset(res, 0, sizeof *res);
    int fds[2];
    if (pipe(fds) != 0)
        return HP_ERR("cannot create a pipe: %s", strerror(errno));
    fflush(NULL);
    double t0 = now_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return HP_ERR("cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (err >= 0)
            dup2(err, 2);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("HPTUNE_PRINT_RSS", "1", 1);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    res->out = hp_xcalloc(cap, 1);
    int killed = 0, exited = 0, eof = 0, status = 0;
    double kill_time = 0.0, exit_time = 0.0;
    while (!(exited && eof)) {
        double now = now_seconds();
        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = 1;
                exit_time = now;
            } else if (w < 0 && errno != EINTR) {
                close(fds[0]);
                return HP_ERR("waitpid: %s", strerror(errno));
            }
        }
        /* something it started still holds its stdout: stop listening */
        if (exited && now - exit_time > 5.0)
            break;
        if (!exited && !killed && now - t0 > timeout_s) {
            res->timed_out = 1;
            kill(pid, SIGTERM);
            killed = 1;
            kill_time = now;
        } else if (!exited && killed == 1 && now - kill_time > 10.0) {
            kill(pid, SIGKILL);
            killed = 2;
        }
        if (eof) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int got = poll(&p, 1, 100);
        if (got <= 0)
            continue;
        if (len + 1024 + 1 > cap) {
            cap *= 2;
            res->out = hp_xrealloc(res->out, cap);
        }
        ssize_t n = read(fds[0], res->out + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            eof = 1;
            continue;
        }
        len += (size_t)n;
        res->out[len] = '\0';
    }
    close(fds[0]);
    res->seconds = (exited ? exit_time : now_seconds()) - t0;
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return 0;
}

/* The end of a child's stderr for an error report: its last lines joined
 * with " / ", without Open MPI's "-----" box rules; "" if none. */
static void stderr_tail(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t len = 0, cap = 1024;
    char *text = hp_xcalloc(cap, 1), line[512];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0 || strspn(line, "-") == n)
            continue;
        if (len + n + 4 > cap) {
            cap = 2 * (len + n + 4);
            text = hp_xrealloc(text, cap);
        }
        len += (size_t)sprintf(text + len, "%s%s", len ? " / " : "", line);
    }
    fclose(f);
    size_t keep = size - 1 < len ? size - 1 : len;
    memcpy(buf, text + len - keep, keep);
    buf[keep] = '\0';
    free(text);
}

/* One `mpirun -np 3 hptune run` (use_mpi) or one-process `hptune run` of a
 * `trials`-trial job; 0 when it finished, else -1 with the reason in why. */
static int run_study(const char *dir, const char *self, const char *name, int trials, int use_mpi,
                     double timeout_s, child_result *res, char *why, size_t why_size)
{
    char *job = write_coordinator_job(dir, name, trials);
    if (!job) {
        snprintf(why, why_size, "%s", hp_error_message());
        return -1;
    }
    char *out_dir = hp_xasprintf("%s/%s-study", dir, name);
    char *err_path = hp_xasprintf("%s/%s.stderr", dir, name);
    char *mpi_argv[] = {"mpirun", "--oversubscribe", "--allow-run-as-root", "-np", "3", (char *)self,
                        "run", job, "--quiet", "--out", out_dir, NULL};
    char **argv = use_mpi ? mpi_argv : mpi_argv + 5;
    const char *what = use_mpi ? "mpirun ... hptune run" : "hptune run";
    int rc = run_child(argv, err_path, timeout_s, res);
    if (rc != 0) {
        snprintf(why, why_size, "%s", hp_error_message());
    } else if (res->timed_out || res->exit_code != 0) {
        char last[600];
        stderr_tail(err_path, last, sizeof last);
        if (res->timed_out)
            snprintf(why, why_size, "%s (%d trials) did not finish within %.0f s and was stopped%s%s", what,
                     trials, timeout_s, last[0] ? "; its stderr ends: " : "", last);
        else if (res->signal)
            snprintf(why, why_size, "%s (%d trials) was killed by signal %d%s%s", what, trials, res->signal,
                     last[0] ? ": " : "", last);
        else
            snprintf(why, why_size, "%s (%d trials) exited with status %d%s%s", what, trials, res->exit_code,
                     last[0] ? ": " : "", last);
        rc = -1;
    }
    free(job);
    free(out_dir);
    free(err_path);
    return rc;
}

static void measure_coordinator(const bench_options *o, bench_results *r)
{
    r->coord_trials = o->quick ? 2000 : 10000;
    r->coord_rss_mb = NAN;
    if (!on_path("mpirun")) {
        r->coord_status = SECTION_SKIPPED;
        snprintf(r->coord_reason, sizeof r->coord_reason,
                 "mpirun not found on PATH (install Open MPI, e.g. 'make deps', or load its module)");
        return;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        r->coord_status = SECTION_FAILED;
        snprintf(r->coord_reason, sizeof r->coord_reason, "cannot find this program's path: "
                 "/proc/self/exe: %s", strerror(errno));
        return;
    }
    self[n] = '\0';
    /* Rebuilt while we run: start the ranks from our own (deleted) binary. */
    size_t len = (size_t)n, tag = strlen(" (deleted)");
    if (len > tag && !strcmp(self + len - tag, " (deleted)"))
        snprintf(self, sizeof self, "/proc/%ld/exe", (long)getpid());
    char *dir = make_temp_dir();
    if (!dir) {
        r->coord_status = SECTION_FAILED;
        snprintf(r->coord_reason, sizeof r->coord_reason, "%s", hp_error_message());
        return;
    }
    child_result launch = {0}, main_run = {0}, serial = {0};
    /* A 1-trial run first: the cost of starting and ending the MPI job. */
    if (run_study(dir, self, "launch", 1, 1, 30.0, &launch, r->coord_reason, sizeof r->coord_reason) != 0) {
        r->coord_status = SECTION_FAILED;
        goto remove_dir;
    }
    /* generous (a slow coordinator is a figure, not a failure), but --quick
     * must stay under a minute */
    double timeout = o->quick ? 30.0 : 300.0;
    if (run_study(dir, self, "main", r->coord_trials, 1, timeout, &main_run, r->coord_reason,
                  sizeof r->coord_reason) != 0) {
        r->coord_status = SECTION_FAILED;
        goto remove_dir;
    }
    /* For comparison: the same study in one process (journal and strategy,
     * no messages), which tells MPI latency from bookkeeping cost. */
    r->serial_rate = NAN;
    if (run_study(dir, self, "serial", r->coord_trials, 0, timeout, &serial, r->serial_note,
                  sizeof r->serial_note) == 0)
        r->serial_rate = (double)r->coord_trials * CURVE_EPOCHS / serial.seconds;
    double reports = (double)r->coord_trials * CURVE_EPOCHS;
    r->coord_seconds = main_run.seconds;
    r->coord_rate = reports / main_run.seconds;
    r->launch_seconds = launch.seconds;
    r->steady_rate = main_run.seconds > launch.seconds
                         ? (reports - CURVE_EPOCHS) / (main_run.seconds - launch.seconds)
                         : NAN;
    const char *rss = strstr(main_run.out, "hptune-rss-kb:");
    long kb;
    if (rss && sscanf(rss, "hptune-rss-kb: %ld", &kb) == 1 && kb > 0)
        r->coord_rss_mb = kb / 1024.0;
    r->coord_status = SECTION_OK;
remove_dir:
    free(launch.out);
    free(main_run.out);
    free(serial.out);
    remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------- worker -- */

typedef struct worker_report {
    long rss_kb;
    int ok, from_file, train_images, val_images;
    char error[448];
} worker_report;

static int stop_after_batches(void *ctx)
{
    int *batches = ctx;
    return (*batches)++ >= WORKER_BATCHES;
}

/* In the forked child: load or synthesise the data, train a few batches of
 * the wide net through hp_trainer (with augmentation), measure VmHWM. */
static void worker_child(const bench_options *o, worker_report *rep)
{
    hp_dataset train = {0}, val = {0};
    int n_shards = 0;
    if (file_exists(o->data_path)) {
        rep->from_file = 1;
        int shards[TRAIN_SHARDS], val_shard = TRAIN_SHARDS;
        if (hp_dataset_info(o->data_path, &n_shards, NULL, NULL) != 0)
            goto fail;
        int count = n_shards < TRAIN_SHARDS + 1 ? n_shards - 1 : TRAIN_SHARDS;
        if (count < 1) {
            HP_ERR("%s has %d shard(s); the worker measurement needs at least 2", o->data_path, n_shards);
            goto fail;
        }
        for (int s = 0; s < count; s++)
            shards[s] = s;
        val_shard = count;
        if (hp_dataset_load_shards(&train, o->data_path, shards, count) != 0 ||
            hp_dataset_load_shards(&val, o->data_path, &val_shard, 1) != 0)
            goto fail;
    } else {
        hp_rng rng;
        hp_rng_seed_for(&rng, 1, 0, HP_STREAM_TEST);
        make_synthetic_dataset(&train, EPOCH_IMAGES, &rng);
        make_synthetic_dataset(&val, VAL_IMAGES, &rng);
    }
    rep->train_images = train.n;
    rep->val_images = val.n;
    hp_config config;
    reference_config(&config, 1);
    config.augment_crop = 4;
    config.augment_flip = 0.5f;
    hp_trainer t;
    if (hp_trainer_init(&t, &config, &train, &val) != 0)
        goto fail;
    int batches = 0;
    t.should_stop = stop_after_batches;
    t.stop_ctx = &batches;
    hp_epoch_metrics m;
    int rc = hp_trainer_run_epoch(&t, &m);
    hp_trainer_release(&t);
    if (rc < 0)
        goto fail;
    rep->rss_kb = peak_rss_kb();
    rep->ok = 1;
    goto release;
fail:
    snprintf(rep->error, sizeof rep->error, "%s", hp_error_message());
release:
    hp_dataset_release(&train);
    hp_dataset_release(&val);
}

static void measure_worker_memory(const bench_options *o, bench_results *r)
{
    int fds[2];
    if (pipe(fds) != 0) {
        r->worker_status = SECTION_FAILED;
        snprintf(r->worker_reason, sizeof r->worker_reason, "cannot create a pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        r->worker_status = SECTION_FAILED;
        snprintf(r->worker_reason, sizeof r->worker_reason, "cannot fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        worker_report rep;
        memset(&rep, 0, sizeof rep);
        worker_child(o, &rep);
        ssize_t w = write(fds[1], &rep, sizeof rep);
        _exit(w == (ssize_t)sizeof rep ? 0 : 1);
    }
    close(fds[1]);
    worker_report rep;
    memset(&rep, 0, sizeof rep);
    size_t got = 0;
    while (got < sizeof rep) {
        ssize_t n = read(fds[0], (char *)&rep + got, sizeof rep - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof rep) {
        r->worker_status = SECTION_FAILED;
        if (WIFSIGNALED(status))
            snprintf(r->worker_reason, sizeof r->worker_reason, "the measuring child was killed by signal %d",
                     WTERMSIG(status));
        else
            snprintf(r->worker_reason, sizeof r->worker_reason, "the measuring child exited (status %d) "
                     "without a report", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    r->worker_from_file = rep.from_file;
    r->worker_train_images = rep.train_images;
    r->worker_val_images = rep.val_images;
    if (!rep.ok || rep.rss_kb <= 0) {
        r->worker_status = SECTION_FAILED;
        snprintf(r->worker_reason, sizeof r->worker_reason, "%s",
                 rep.error[0] ? rep.error : "VmHWM not found in /proc/self/status");
        return;
    }
    r->worker_rss_mb = rep.rss_kb / 1024.0;
    r->worker_status = SECTION_OK;
}

/* ------------------------------------------------------------- output -- */

static const char *verdict(int ok) { return ok ? "PASS" : "below target"; }

static void print_network(const bench_results *r, const net_result *n)
{
    printf("   %s: %s\n", n->name, n->description);
    if (n->status != SECTION_OK) {
        printf("     FAILED: %s\n", n->reason);
        return;
    }
    printf("     %zu parameters; %.1f MFLOP per image forward\n", n->n_params, 2.0 * n->forward_macs / 1e6);
    int wide = !strcmp(n->name, "wide");
    double target = wide ? TARGET_WIDE_IPS : TARGET_SMALL_IPS;
    double peak_target = wide ? TARGET_WIDE_PEAK : TARGET_SMALL_PEAK;
    printf("     training    %7.0f images/s  %6.1f GFLOPS = %3.0f%% of sgemm peak   %s: >= %.0f images/s"
           "; %s: >= %.0f%% of peak\n",
           n->train_ips, n->train_gflops, 100.0 * n->train_peak_fraction, verdict(n->train_ips >= target),
           target, verdict(n->train_peak_fraction >= peak_target), 100.0 * peak_target);
    printf("     evaluation  %7.0f images/s  %6.1f GFLOPS = %3.0f%% of sgemm peak\n", n->eval_ips,
           n->eval_gflops, 100.0 * n->eval_peak_fraction);
    if (n->peer_ok) {
        double train_target = wide ? TARGET_WIDE_TRAIN_VS_PEER : TARGET_SMALL_TRAIN_VS_PEER;
        printf("     PyTorch     %7.0f images/s training, %7.0f evaluation (same repeats, alternating)\n",
               n->peer_train_ips, n->peer_eval_ips);
        printf("     hptune/PyTorch: training %.2fx   %s: >= %.0fx;  evaluation %.2fx   %s: >= %.0fx\n",
               n->train_ratio, verdict(n->train_ratio >= train_target), train_target, n->eval_ratio,
               verdict(n->eval_ratio >= TARGET_EVAL_VS_PEER), TARGET_EVAL_VS_PEER);
    } else if (r->peer_status == SECTION_FAILED) {
        printf("     PyTorch: stopped: %s\n", r->peer_reason);
    }
    printf("     training time by layer kind:");
    for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
        if (n->present[k] && k != HP_LAYER_FLATTEN)
            printf(" %s %.1f%%,", hp_layer_kind_name((hp_layer_kind)k), n->split_percent[k]);
    printf(" optimizer %.1f%%, other %.1f%%\n", n->optimizer_percent, n->other_percent);
    printf("     by layer (%.2f ms per training step; share of it, GFLOPS of conv and dense):\n", n->step_ms);
    for (int i = 0; i < n->n_profile; i++) {
        const layer_profile *lp = &n->profile[i];
        printf("       %-30s forward %6.3f ms %5.1f%%", lp->name, lp->forward_ms,
               100.0 * lp->forward_ms / n->step_ms);
        if (lp->forward_gflops > 0)
            printf(" %6.1f GFLOPS", lp->forward_gflops);
        else
            printf("              ");
        printf("   backward %6.3f ms %5.1f%%", lp->backward_ms, 100.0 * lp->backward_ms / n->step_ms);
        if (lp->backward_gflops > 0)
            printf(" %6.1f GFLOPS", lp->backward_gflops);
        printf("\n");
    }
    if (n->cpu_share < 0.9)
        printf("     warning: this process ran only %.0f%% of the time it measured: other processes competed "
               "for the CPU, so these rates are too low\n", 100.0 * n->cpu_share);
}

static void print_header(const bench_options *o, const bench_results *r)
{
    printf("hptune bench (%s run; %d BLAS thread%s per process)\n", o->quick ? "quick" : "full", o->threads,
           o->threads > 1 ? "s" : "");
    printf("BLAS: %s\n", r->blas);
    printf("machine: %d CPUs online; 1-minute load average %.2f at the start%s\n\n", r->cpus, r->load_average,
           r->load_average > 0.5 ? " (other processes are running: figures may be low)" : "");
    printf("1. sgemm %dx%dx%d, one thread, best of %d calls after a warm-up\n", SGEMM_N, SGEMM_N, SGEMM_N,
           o->quick ? 3 : 5);
    printf("   %.1f GFLOPS (%.1f ms per call)\n", r->sgemm_gflops_1, 1e3 * r->sgemm_seconds_1);
    if (o->threads > 1)
        printf("   %.1f GFLOPS with %d threads (the peak used below)\n", r->sgemm_gflops_n, o->threads);
    printf("\n2. networks at batch %d, Adam, synthetic inputs; images/s: median of %d repeats of >= %.2f s\n"
           "   (GFLOPS: training counts forward + 2x forward for backward)\n",
           BATCH, REPEATS, r->min_seconds / REPEATS);
    if (o->peers && r->peer.ok)
        printf("   peer: %s (tests/bench/torch_peer.py; OPENBLAS_CORETYPE=%s), one repeat after each of "
               "hptune's\n", r->peer.name, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    else if (o->peers)
        printf("   peer: PyTorch skipped: %s\n", r->peer_reason);
    fflush(stdout);
}

static void print_data(const bench_options *o, const bench_results *r)
{
    printf("\n3. data\n");
    if (r->small.status == SECTION_OK)
        printf("   batch assembly + augmentation (%d images, crop 4 + flip): %.3f ms per batch = %.2f%% of a "
           "small-net training step   %s: < %.0f%%\n",
           BATCH, 1e3 * r->batch_seconds, 100.0 * r->batch_fraction,
           verdict(r->batch_fraction < TARGET_DATA_FRACTION), 100.0 * TARGET_DATA_FRACTION);
    if (r->small.status == SECTION_OK)
        printf("   the same with augment_rotate 15 (bilinear): %.3f ms per batch = %.2f%% of a step   %s: < %.0f%%\n",
               1e3 * r->rotate_batch_seconds, 100.0 * r->rotate_fraction,
               verdict(r->rotate_fraction < TARGET_DATA_FRACTION), 100.0 * TARGET_DATA_FRACTION);
    if (r->shards_status == SECTION_OK)
        printf("   loading shards 0..%d (%d images) from %s: %.2f s = %.2f%% of one small-net epoch on them "
               "(once per worker per study)\n",
               r->shards_loaded - 1, r->shard_images, o->data_path, r->shards_seconds,
               100.0 * r->shards_fraction);
    else
        printf("   loading shards: %s: %s\n", r->shards_status == SECTION_SKIPPED ? "skipped" : "FAILED",
               r->shards_reason);
}

static void print_checkpoint(const bench_results *r)
{
    printf("\n4. checkpoint of a wide-net trial (%d-image epoch state), best of 3\n", EPOCH_IMAGES);
    if (r->ckpt_status != SECTION_OK) {
        printf("   FAILED: %s\n", r->ckpt_reason);
        return;
    }
    printf("   %.1f ms, %.2f MB = %.3f%% of a wide-net epoch (%.1f s)   %s: < %.0f%%\n", 1e3 * r->ckpt_seconds,
           r->ckpt_mb, 100.0 * r->ckpt_fraction, r->wide_epoch_seconds,
           verdict(r->ckpt_fraction < TARGET_CKPT_FRACTION), 100.0 * TARGET_CKPT_FRACTION);
}

static void print_coordinator(const bench_options *o, const bench_results *r)
{
    printf("\n5. coordinator: mpirun -np 3 (rank 0 + 2 workers), random search, %d trials x %d epochs, "
           "curves objective (sleep 0)\n", r->coord_trials, CURVE_EPOCHS);
    if (r->coord_status != SECTION_OK) {
        printf("   %s: %s\n", r->coord_status == SECTION_SKIPPED ? "skipped" : "FAILED", r->coord_reason);
        return;
    }
    printf("   %d epoch reports in %.2f s (including MPI start-up) = %.0f reports/s   %s: >= %.0f/s\n",
           r->coord_trials * CURVE_EPOCHS, r->coord_seconds, r->coord_rate,
           verdict(r->coord_rate >= TARGET_REPORTS_PER_S), TARGET_REPORTS_PER_S);
    printf("   a 1-trial run takes %.2f s; without that start-up cost: %.0f reports/s\n", r->launch_seconds,
           r->steady_rate);
    if (isnan(r->serial_rate))
        printf("   one process without mpirun: FAILED: %s\n", r->serial_note);
    else
        printf("   the same study in one process without mpirun (bookkeeping only, no messages): %.0f reports/s\n",
               r->serial_rate);
    if (isnan(r->coord_rss_mb))
        printf("   rank 0 peak resident memory: not reported (hptune run did not print hptune-rss-kb)\n");
    else
        printf("   rank 0 peak resident memory: %.1f MB   %s: < %.0f MB for 10000 trials%s\n", r->coord_rss_mb,
               verdict(r->coord_rss_mb < TARGET_COORD_MB), TARGET_COORD_MB,
               o->quick ? " (--quick ran fewer)" : "");
}

static void print_worker(const bench_results *r)
{
    printf("\n6. worker memory: wide net, %d training + %d validation images (%s), %d batches with "
           "augmentation\n",
           r->worker_train_images, r->worker_val_images, r->worker_from_file ? "from the data file" : "synthetic",
           WORKER_BATCHES);
    if (r->worker_status != SECTION_OK) {
        printf("   FAILED: %s\n", r->worker_reason);
        return;
    }
    printf("   peak resident %.1f MB (without the MPI library's own memory)   %s: < %.0f MB\n", r->worker_rss_mb,
           verdict(r->worker_rss_mb < TARGET_WORKER_MB), TARGET_WORKER_MB);
}

/* ------------------------------------------------------------- JSON ---- */

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            printf("\\n");
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

/* "key": value pairs inside an object; `first` tracks the commas. */
static void json_key(int *first, const char *key)
{
    printf("%s\n    ", *first ? "" : ",");
    *first = 0;
    json_string(key);
    printf(": ");
}

static void json_net(const net_result *n)
{
    printf("{\"status\": \"%s\", \"description\": ", status_names[n->status]);
    json_string(n->status == SECTION_OK ? n->description : n->reason);
    if (n->status == SECTION_OK) {
        printf(", \"parameters\": %zu, \"forward_mflop_per_image\": ", n->n_params);
        json_number(2.0 * n->forward_macs / 1e6);
        printf(", \"train_images_per_s\": ");
        json_number(n->train_ips);
        printf(", \"train_images_per_s_total\": ");
        json_number(n->train_ips_total);
        printf(", \"eval_images_per_s\": ");
        json_number(n->eval_ips);
        printf(", \"train_gflops\": ");
        json_number(n->train_gflops);
        printf(", \"eval_gflops\": ");
        json_number(n->eval_gflops);
        printf(", \"train_fraction_of_sgemm_peak\": ");
        json_number(n->train_peak_fraction);
        printf(", \"eval_fraction_of_sgemm_peak\": ");
        json_number(n->eval_peak_fraction);
        printf(", \"cpu_share\": ");
        json_number(n->cpu_share);
        printf(", \"train_time_percent\": {");
        for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
            if (n->present[k] && k != HP_LAYER_FLATTEN) {
                printf("\"%s\": ", hp_layer_kind_name((hp_layer_kind)k));
                json_number(n->split_percent[k]);
                printf(", ");
            }
        printf("\"optimizer\": ");
        json_number(n->optimizer_percent);
        printf(", \"other\": ");
        json_number(n->other_percent);
        printf("}, \"train_step_ms\": ");
        json_number(n->step_ms);
        printf(", \"layers\": [");
        for (int i = 0; i < n->n_profile; i++) {
            const layer_profile *lp = &n->profile[i];
            printf("%s{\"layer\": ", i ? ", " : "");
            json_string(lp->name);
            printf(", \"forward_ms\": ");
            json_number(lp->forward_ms);
            printf(", \"backward_ms\": ");
            json_number(lp->backward_ms);
            printf(", \"forward_gflops\": ");
            json_number(lp->forward_gflops > 0 ? lp->forward_gflops : NAN);
            printf(", \"backward_gflops\": ");
            json_number(lp->backward_gflops > 0 ? lp->backward_gflops : NAN);
            printf("}");
        }
        printf("], \"pytorch\": ");
        if (n->peer_ok) {
            printf("{\"train_images_per_s\": ");
            json_number(n->peer_train_ips);
            printf(", \"eval_images_per_s\": ");
            json_number(n->peer_eval_ips);
            printf(", \"train_ratio\": ");
            json_number(n->train_ratio);
            printf(", \"eval_ratio\": ");
            json_number(n->eval_ratio);
            printf("}");
        } else {
            printf("null");
        }
    }
    printf("}");
}

typedef struct target {
    const char *name;
    int measured;
    double value;
    int at_least;     /* 1: value >= limit; 0: value < limit */
    double limit;
} target;

#define N_TARGETS 13

static void collect_targets(const bench_results *r, target t[N_TARGETS])
{
    int small = r->small.status == SECTION_OK, wide = r->wide.status == SECTION_OK;
    int small_peer = small && r->small.peer_ok, wide_peer = wide && r->wide.peer_ok;
    t[0] = (target){"small_train_images_per_s", small, r->small.train_ips, 1, TARGET_SMALL_IPS};
    t[1] = (target){"wide_train_images_per_s", wide, r->wide.train_ips, 1, TARGET_WIDE_IPS};
    t[2] = (target){"wide_train_fraction_of_sgemm_peak", wide, r->wide.train_peak_fraction, 1, TARGET_WIDE_PEAK};
    t[8] = (target){"small_train_fraction_of_sgemm_peak", small, r->small.train_peak_fraction, 1,
                    TARGET_SMALL_PEAK};
    t[9] = (target){"small_train_vs_pytorch", small_peer, r->small.train_ratio, 1, TARGET_SMALL_TRAIN_VS_PEER};
    t[10] = (target){"wide_train_vs_pytorch", wide_peer, r->wide.train_ratio, 1, TARGET_WIDE_TRAIN_VS_PEER};
    t[11] = (target){"small_eval_vs_pytorch", small_peer, r->small.eval_ratio, 1, TARGET_EVAL_VS_PEER};
    t[12] = (target){"wide_eval_vs_pytorch", wide_peer, r->wide.eval_ratio, 1, TARGET_EVAL_VS_PEER};
    t[3] = (target){"batch_assembly_fraction_of_step", small, r->batch_fraction, 0, TARGET_DATA_FRACTION};
    t[4] = (target){"checkpoint_fraction_of_wide_epoch", r->ckpt_status == SECTION_OK, r->ckpt_fraction, 0,
                    TARGET_CKPT_FRACTION};
    t[5] = (target){"coordinator_reports_per_s", r->coord_status == SECTION_OK, r->coord_rate, 1,
                    TARGET_REPORTS_PER_S};
    t[6] = (target){"coordinator_rank0_peak_rss_mb", r->coord_status == SECTION_OK && !isnan(r->coord_rss_mb),
                    r->coord_rss_mb, 0, TARGET_COORD_MB};
    t[7] = (target){"worker_peak_rss_mb", r->worker_status == SECTION_OK, r->worker_rss_mb, 0, TARGET_WORKER_MB};
}

static int target_met(const target *t) { return t->at_least ? t->value >= t->limit : t->value < t->limit; }

static void print_summary(const bench_results *r)
{
    target t[N_TARGETS];
    collect_targets(r, t);
    int measured = 0, met = 0;
    for (int i = 0; i < N_TARGETS; i++)
        if (t[i].measured) {
            measured++;
            met += target_met(&t[i]);
        }
    printf("\ntargets met: %d of %d measured (%d in all)", met, measured, N_TARGETS);
    const char *sep = "; below: ";
    for (int i = 0; i < N_TARGETS; i++)
        if (t[i].measured && !target_met(&t[i])) {
            printf("%s%s", sep, t[i].name);
            sep = ", ";
        }
    sep = "; not measured: ";
    for (int i = 0; i < N_TARGETS; i++)
        if (!t[i].measured) {
            printf("%s%s", sep, t[i].name);
            sep = ", ";
        }
    printf("\n");
}

static void print_json(const bench_options *o, const bench_results *r)
{
    int first = 1;
    printf("{");
    json_key(&first, "hptune_version");
    json_string(HPTUNE_VERSION);
    json_key(&first, "mode");
    json_string(o->quick ? "quick" : "full");
    json_key(&first, "threads");
    printf("%d", o->threads);
    json_key(&first, "cpus");
    printf("%d", r->cpus);
    json_key(&first, "load_average_at_start");
    json_number(r->load_average);
    json_key(&first, "blas");
    json_string(r->blas);
    json_key(&first, "peer");
    printf("{\"status\": \"%s\", ", status_names[r->peer_status]);
    if (r->peer_status == SECTION_OK) {
        printf("\"name\": ");
        json_string(r->peer.name);
    } else {
        printf("\"reason\": ");
        json_string(r->peer_reason);
    }
    printf("}");
    json_key(&first, "sgemm");
    printf("{\"n\": %d, \"threads\": 1, \"gflops\": ", SGEMM_N);
    json_number(r->sgemm_gflops_1);
    printf(", \"seconds\": ");
    json_number(r->sgemm_seconds_1);
    printf(", \"gflops_at_threads\": ");
    json_number(r->sgemm_gflops_n);
    printf("}");
    json_key(&first, "networks");
    printf("{\"batch\": %d, \"images_per_s_statistic\": \"median of %d repeats\", \"small\": ", BATCH, REPEATS);
    json_net(&r->small);
    printf(", \"wide\": ");
    json_net(&r->wide);
    printf("}");
    json_key(&first, "data");
    printf("{\"batch_assembly_ms\": ");
    json_number(1e3 * r->batch_seconds);
    printf(", \"batch_assembly_fraction_of_step\": ");
    json_number(r->batch_fraction);
    printf(", \"rotate_batch_assembly_ms\": ");
    json_number(1e3 * r->rotate_batch_seconds);
    printf(", \"rotate_batch_assembly_fraction_of_step\": ");
    json_number(r->rotate_fraction);
    printf(", \"shard_loading\": {\"status\": \"%s\"", status_names[r->shards_status]);
    if (r->shards_status == SECTION_OK) {
        printf(", \"file\": ");
        json_string(o->data_path);
        printf(", \"shards\": %d, \"images\": %d, \"seconds\": ", r->shards_loaded, r->shard_images);
        json_number(r->shards_seconds);
        printf(", \"fraction_of_small_epoch\": ");
        json_number(r->shards_fraction);
    } else {
        printf(", \"reason\": ");
        json_string(r->shards_reason);
    }
    printf("}}");
    json_key(&first, "checkpoint");
    printf("{\"status\": \"%s\"", status_names[r->ckpt_status]);
    if (r->ckpt_status == SECTION_OK) {
        printf(", \"seconds\": ");
        json_number(r->ckpt_seconds);
        printf(", \"mb\": ");
        json_number(r->ckpt_mb);
        printf(", \"wide_epoch_seconds\": ");
        json_number(r->wide_epoch_seconds);
        printf(", \"fraction_of_wide_epoch\": ");
        json_number(r->ckpt_fraction);
    } else {
        printf(", \"reason\": ");
        json_string(r->ckpt_reason);
    }
    printf("}");
    json_key(&first, "coordinator");
    printf("{\"status\": \"%s\", \"ranks\": 3, \"trials\": %d, \"epochs_per_trial\": %d", status_names[r->coord_status],
           r->coord_trials, CURVE_EPOCHS);
    if (r->coord_status == SECTION_OK) {
        printf(", \"seconds\": ");
        json_number(r->coord_seconds);
        printf(", \"reports_per_s\": ");
        json_number(r->coord_rate);
        printf(", \"launch_seconds\": ");
        json_number(r->launch_seconds);
        printf(", \"reports_per_s_without_launch\": ");
        json_number(r->steady_rate);
        printf(", \"rank0_peak_rss_mb\": ");
        json_number(r->coord_rss_mb);
        printf(", \"one_process_reports_per_s\": ");
        json_number(r->serial_rate);
    } else {
        printf(", \"reason\": ");
        json_string(r->coord_reason);
    }
    printf("}");
    json_key(&first, "worker");
    printf("{\"status\": \"%s\", \"train_images\": %d, \"val_images\": %d, \"data\": \"%s\"",
           status_names[r->worker_status], r->worker_train_images, r->worker_val_images,
           r->worker_from_file ? "file" : "synthetic");
    if (r->worker_status == SECTION_OK) {
        printf(", \"peak_rss_mb\": ");
        json_number(r->worker_rss_mb);
    } else {
        printf(", \"reason\": ");
        json_string(r->worker_reason);
    }
    printf("}");
    json_key(&first, "targets");
    printf("[");
    target t[N_TARGETS];
    collect_targets(r, t);
    for (int i = 0; i < N_TARGETS; i++) {
        printf("%s\n      {\"name\": \"%s\", \"value\": ", i ? "," : "", t[i].name);
        json_number(t[i].measured ? t[i].value : NAN);
        printf(", \"target\": \"%s %g\", \"pass\": %s}", t[i].at_least ? ">=" : "<", t[i].limit,
               !t[i].measured ? "null" : target_met(&t[i]) ? "true" : "false");
    }
    printf("\n    ]\n}\n");
}

/* ------------------------------------------------------------ command -- */

static const char bench_help[] =
    "usage: hptune bench [--json] [--quick] [--peers] [--peer-script FILE] [--data FILE]\n"
    "                    [--threads N]\n\n"
    "Measures this machine for hptune and prints each figure next to its target:\n"
    "  1. sgemm 1024^3 on one core (the BLAS peak)\n"
    "  2. training/evaluation images/s of two reference CNNs at batch 64, GFLOPS,\n"
    "     fraction of the sgemm peak, time and GFLOPS by layer; with --peers also\n"
    "     PyTorch on the same networks, alternating with hptune, and the ratios\n"
    "  3. batch assembly + augmentation, and loading 9 shards of FILE (if present)\n"
    "  4. writing a trial checkpoint\n"
    "  5. coordinator throughput: mpirun -np 3 hptune run on replayed curves\n"
    "  6. a worker's peak memory\n\n"
    "  --json       one JSON object on stdout instead of the table\n"
    "  --quick      shorter measurements (under a minute; for CI smoke tests)\n"
    "  --peers      also run PyTorch (Debian's python3-torch, via /usr/bin/python3 or\n"
    "               $HPTUNE_PEER_PYTHON) on the networks; skipped with the reason\n"
    "               when it is not installed\n"
    "  --peer-script FILE   the peer script (default tests/bench/torch_peer.py, here\n"
    "               or next to the program)\n"
    "  --data FILE  the CIFAR-10 HDF5 file (default datasets/cifar10.h5)\n"
    "  --threads N  BLAS threads for the networks (default 1, or HPTUNE_THREADS)\n"
    "  -h, --help   this help\n"
    "The training GFLOPS of the small network is the rate 'hptune check --gflops'\n"
    "takes for epoch-time estimates.  Missed targets are reported, not errors: the\n"
    "exit status is 1 only if a measurement could not be made (2: usage error).\n";

static int parse_options(int argc, char **argv, bench_options *o)
{
    memset(o, 0, sizeof *o);
    o->data_path = "datasets/cifar10.h5";
    const char *env_threads = getenv("OPENBLAS_NUM_THREADS");
    o->threads = env_threads ? atoi(env_threads) : 1;
    if (o->threads < 1)
        o->threads = 1;
    enum { OPT_JSON = 256, OPT_QUICK, OPT_PEERS, OPT_PEER_SCRIPT, OPT_DATA, OPT_THREADS };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},         {"quick", no_argument, NULL, OPT_QUICK},
        {"peers", no_argument, NULL, OPT_PEERS},       {"peer-script", required_argument, NULL, OPT_PEER_SCRIPT},
        {"data", required_argument, NULL, OPT_DATA},   {"threads", required_argument, NULL, OPT_THREADS},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
    int opt;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, bench_help)) != -1) {
        long n;
        switch (opt) {
        case 'h':
            hp_print_help(stdout, bench_help);
            return 1;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_QUICK:
            o->quick = 1;
            break;
        case OPT_PEERS:
            o->peers = 1;
            break;
        case OPT_PEER_SCRIPT:
            o->peers = 1;
            o->peer_script = optarg;
            break;
        case OPT_DATA:
            o->data_path = optarg;
            break;
        case OPT_THREADS:
            if (hp_parse_int_option(optarg, 1, 1024, &n) != 0)
                return hp_usage_error("bench", bench_help, "--threads '%s' is not a thread count; give a whole "
                                      "number from 1 to 1024", optarg);
            o->threads = (int)n;
            break;
        default:
            return HP_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hp_usage_error("bench", bench_help, "unexpected argument '%s'", argv[optind]);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    bench_results *r = hp_xcalloc(1, sizeof *r);
    r->min_seconds = o.quick ? 0.5 : 2.0;
    r->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    r->load_average = load_average();

    /* 6 first (reported last): fork while this process is still small. */
    measure_worker_memory(&o, r);

    r->blas = hp_blas_description();
    measure_sgemm(&o, r);
    start_peer(&o, r);
    if (!o.json)
        print_header(&o, r);
    measure_network(&o, r, &r->small, 0);
    if (!o.json)
        print_network(r, &r->small);
    measure_network(&o, r, &r->wide, 1);
    if (r->peer_status == SECTION_OK && !r->peer.ok) { /* it stopped answering */
        r->peer_status = SECTION_FAILED;
        snprintf(r->peer_reason, sizeof r->peer_reason, "%s", r->peer.reason);
    }
    bench_peer_stop(&r->peer);
    if (!o.json) {
        print_network(r, &r->wide);
        fflush(stdout);
    }

    hp_dataset synthetic;
    hp_rng rng;
    hp_rng_seed_for(&rng, 1, 1, HP_STREAM_TEST);
    make_synthetic_dataset(&synthetic, EPOCH_IMAGES, &rng);
    if (r->small.status == SECTION_OK) {
        measure_batch_assembly(&o, r, &synthetic);
        measure_rotation(&o, r, &synthetic);
        measure_shard_loading(&o, r);
    } else {
        r->shards_status = SECTION_SKIPPED;
        snprintf(r->shards_reason, sizeof r->shards_reason, "needs the small network, which failed");
    }
    if (!o.json) {
        print_data(&o, r);
        fflush(stdout);
    }
    if (r->wide.status == SECTION_OK) {
        measure_checkpoint(r, &synthetic);
    } else {
        r->ckpt_status = SECTION_FAILED;
        snprintf(r->ckpt_reason, sizeof r->ckpt_reason, "needs the wide network, which failed");
    }
    hp_dataset_release(&synthetic);
    if (!o.json) {
        print_checkpoint(r);
        fflush(stdout);
    }

    measure_coordinator(&o, r);
    if (!o.json) {
        print_coordinator(&o, r);
        print_worker(r);
        print_summary(r);
    } else {
        print_json(&o, r);
    }
    int broken = r->small.status == SECTION_FAILED || r->wide.status == SECTION_FAILED ||
                 r->shards_status == SECTION_FAILED || r->ckpt_status == SECTION_FAILED ||
                 r->coord_status == SECTION_FAILED || r->worker_status == SECTION_FAILED;
    if (broken)
        fprintf(stderr, "hptune: error: bench: some measurements failed (see above)\n");
    free(r);
    return broken ? 1 : 0;
}
