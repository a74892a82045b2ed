/* strategy.c - grid, random and ASHA as one deterministic state machine.
 *
 * One-rung strategies (grid, random) are the degenerate case of ASHA with one
 * bracket and one rung, whose rung epoch is each trial's own budget: a new
 * trial trains [0, its configuration's epochs) and is COMPLETED when it
 * finishes, and there is nothing to promote.  So one code path serves every
 * strategy; the table `strategies` below says what differs per strategy
 * (rungs or not, where a new trial's configuration comes from).
 *
 * ASHA (Li et al., MLSys 2020, Algorithm 2), bracket s = 0..B-1:
 *   K0  = largest K with min_epochs * eta^K <= max_epochs (integer arithmetic)
 *   K_s = K0 - s,  r_k = min_epochs * eta^(s+k) for k = 0..K_s
 * A trial belongs to bracket (trial_id % B).  Its value at rung k is the value
 * reported at epoch r_k exactly; reports at other epochs only advance "epochs
 * done".  Each (bracket, rung) keeps its members sorted best first (value,
 * then lower trial id), so the promotion scan looks only at the first
 * floor(n_k/eta) entries.  Failed trials are removed from every rung.
 *
 * Decisions (propose) never change the state; events do (assigned, report,
 * finished, failed, requeue, end).  Everything that is not derivable (the
 * trial table with each trial's configuration, and the requeue list) is saved
 * by hp_strategy_save(); the sorted rung lists and the running count are
 * rebuilt on load, so a loaded strategy makes exactly the same decisions.
 */
#include "strategy.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "samplers.h"

/* ---------------------------------------------------- the strategies ---- */

/* What differs between strategies: rungs or not, and where a new trial's
 * configuration comes from (space.c's grid points and random samples, or a
 * model of the results so far, samplers.h). */
typedef struct strategy_ops {
    hp_strategy_kind kind;
    const char *name;
    int rungs; /* ASHA's rungs and promotions; else one rung of each trial's own epochs */
    int any_point; /* proposals may be any point of the space (a model), not a known sequence */
    void (*new_config)(const hp_strategy *s, int t, hp_config *out);
    /* optional: a model fed every rung result and failure in order (bohb) */
    void *(*model_new)(const hp_job *job, int n_levels);
    void (*model_free)(void *model);
    void (*model_result)(void *model, const hp_job *job, const hp_config *config, int level, double value);
} strategy_ops;

static void config_from_space(const hp_strategy *s, int t, hp_config *out);
static void config_from_tpe(const hp_strategy *s, int t, hp_config *out);
static void config_from_bohb(const hp_strategy *s, int t, hp_config *out);

static const strategy_ops strategies[] = {
    {HP_STRATEGY_GRID, "grid", 0, 0, config_from_space, NULL, NULL, NULL},
    {HP_STRATEGY_RANDOM, "random", 0, 0, config_from_space, NULL, NULL, NULL},
    {HP_STRATEGY_ASHA, "asha", 1, 0, config_from_space, NULL, NULL, NULL},
    {HP_STRATEGY_TPE, "tpe", 0, 1, config_from_tpe, NULL, NULL, NULL},
    {HP_STRATEGY_BOHB, "bohb", 1, 1, config_from_bohb, hp_bohb_model_new, hp_bohb_model_free, hp_bohb_model_result},
};

static const strategy_ops *ops_of(hp_strategy_kind kind)
{
    for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++)
        if (strategies[i].kind == kind)
            return &strategies[i];
    return NULL;
}

const char *hp_strategy_name(hp_strategy_kind kind)
{
    const strategy_ops *ops = ops_of(kind);
    return ops ? ops->name : "unknown";
}

/* ------------------------------------------------------------ state ---- */

typedef struct trial {
    hp_trial_status status;
    int epochs_done;        /* epoch of the last report / finish */
    hp_assignment assigned; /* the latest assignment (re-issued by requeue) */
    int queued;             /* waiting in the requeue list */
} trial;

typedef struct rung_list {
    int *ids; /* trial ids with a result at this rung, best first */
    int n, cap;
} rung_list;

struct hp_strategy {
    hp_strategy_params p;
    const strategy_ops *ops;
    int n_brackets;   /* 1 for one-rung strategies */
    int max_rungs;    /* K0 + 1 (rungs of bracket 0); 1 for one-rung strategies */
    int eta;          /* reduction factor (asha) */
    int *rung_epochs; /* [n_brackets * max_rungs]; r_k of bracket s at s*max_rungs + k */
    int *num_rungs;   /* [n_brackets]: K_s + 1 */

    int n_trials, cap_trials;
    trial *trials;          /* [cap_trials] */
    hp_config *configs;     /* [cap_trials]: each trial's configuration */
    double *values;         /* [cap_trials * max_rungs]: value at rung k */
    unsigned char *has_value; /* [cap_trials * max_rungs] */
    unsigned char *promoted;  /* [cap_trials * max_rungs]: promoted out of rung k */

    rung_list *rungs; /* [n_brackets * max_rungs] */

    int *queue;       /* requeued trial ids, issued from queue_head on */
    int queue_head, queue_len, queue_cap;

    int n_running;

    /* Results in the order they happened, for models that depend on it:
     * (trial, level) with level = bracket + rung, or -1 - level for a trial
     * that failed on its way to that level. */
    int (*results)[2];
    int n_results, cap_results;
    void *model;      /* ops->model_new's, owned */
};

/* The configuration of a new trial from the job (grid point or random
 * sample, space.c); without a job, the defaults with the strategy's epochs. */
static void config_from_space(const hp_strategy *s, int t, hp_config *out)
{
    if (s->p.job) {
        hp_job_trial_config(s->p.job, t, out);
        return;
    }
    hp_config_defaults(out);
    out->epochs = s->ops->rungs ? s->p.max_epochs : s->p.epochs;
}

/* ------------------------------------------------------------ params ---- */

/* K0 = floor(log_eta(max/min)) without floating point; -1 if min > max. */
static int top_rung_index(long min_epochs, long max_epochs, long eta)
{
    if (min_epochs > max_epochs)
        return -1;
    int k = 0;
    long r = min_epochs;
    while (r <= max_epochs / eta) { /* r * eta <= max_epochs, no overflow */
        r *= eta;
        k++;
    }
    return k;
}

static int validate_params(const hp_strategy_params *p)
{
    const strategy_ops *ops = ops_of(p->kind);
    if (!ops)
        return HP_ERR("strategy: unknown strategy kind %d", (int)p->kind);
    if (p->max_trials < 1)
        return HP_ERR("strategy: max_trials must be at least 1 (got %d)%s", p->max_trials,
                      p->kind == HP_STRATEGY_GRID
                          ? "; a grid needs a space of choice/grid parameters and repeats >= 1"
                          : "");
    if (!ops->rungs) {
        if (p->epochs < 1)
            return HP_ERR("strategy: epochs must be at least 1 (got %d)", p->epochs);
        return 0;
    }
    if (p->min_epochs < 1)
        return HP_ERR("strategy: min_epochs must be at least 1 (got %d)", p->min_epochs);
    if (p->max_epochs < p->min_epochs)
        return HP_ERR("strategy: max_epochs (%d) must be at least min_epochs (%d)", p->max_epochs,
                      p->min_epochs);
    if (p->reduction_factor < 2)
        return HP_ERR("strategy: reduction_factor must be at least 2 (got %d)", p->reduction_factor);
    int k0 = top_rung_index(p->min_epochs, p->max_epochs, p->reduction_factor);
    if (p->brackets < 1 || p->brackets > k0 + 1)
        return HP_ERR("strategy: brackets must be between 1 and %d for min_epochs %d, max_epochs %d, "
                      "reduction_factor %d (bracket s starts at min_epochs * reduction_factor^s), got %d",
                      k0 + 1, p->min_epochs, p->max_epochs, p->reduction_factor, p->brackets);
    return 0;
}

void hp_strategy_params_from_job(hp_strategy_params *p, const hp_job *job)
{
    memset(p, 0, sizeof *p);
    p->kind = job->strategy;
    p->max_trials = job->max_trials;
    if (job->strategy == HP_STRATEGY_GRID) {
        long total = hp_space_grid_size(job) * (long)(job->repeats > 0 ? job->repeats : 1);
        p->max_trials = total > INT_MAX ? INT_MAX : (int)total;
    }
    p->epochs = job->fixed.epochs;
    p->min_epochs = job->min_epochs;
    p->max_epochs = job->max_epochs;
    p->reduction_factor = job->reduction_factor;
    p->brackets = job->brackets;
    p->maximize = job->maximize;
    p->job = job;
}

/* ------------------------------------------------------- create/free ---- */

hp_strategy *hp_strategy_create(const hp_strategy_params *p)
{
    if (validate_params(p) != 0)
        return NULL;
    hp_strategy *s = hp_xcalloc(1, sizeof *s);
    s->p = *p;
    s->ops = ops_of(p->kind);
    if (s->ops->rungs) {
        s->n_brackets = p->brackets;
        s->eta = p->reduction_factor;
        s->max_rungs = top_rung_index(p->min_epochs, p->max_epochs, p->reduction_factor) + 1;
    } else {
        s->n_brackets = 1;
        s->eta = 1; /* unused: a single rung has nothing to promote */
        s->max_rungs = 1;
    }
    s->rung_epochs = hp_xcalloc((size_t)s->n_brackets * (size_t)s->max_rungs, sizeof *s->rung_epochs);
    s->num_rungs = hp_xcalloc((size_t)s->n_brackets, sizeof *s->num_rungs);
    s->rungs = hp_xcalloc((size_t)s->n_brackets * (size_t)s->max_rungs, sizeof *s->rungs);
    for (int b = 0; b < s->n_brackets; b++) {
        s->num_rungs[b] = s->max_rungs - b;
        if (!s->ops->rungs) {
            s->rung_epochs[0] = p->epochs; /* nominal; each trial's own budget rules */
            continue;
        }
        long r = p->min_epochs;
        for (int i = 0; i < b; i++)
            r *= p->reduction_factor;
        for (int k = 0; k < s->num_rungs[b]; k++) {
            s->rung_epochs[b * s->max_rungs + k] = (int)r; /* <= max_epochs by construction */
            r *= p->reduction_factor;
        }
    }
    if (s->ops->model_new)
        s->model = s->ops->model_new(p->job, s->max_rungs);
    return s;
}

void hp_strategy_free(hp_strategy *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_brackets * s->max_rungs; i++)
        free(s->rungs[i].ids);
    free(s->rungs);
    free(s->rung_epochs);
    free(s->num_rungs);
    free(s->trials);
    free(s->configs);
    free(s->values);
    free(s->has_value);
    free(s->promoted);
    free(s->queue);
    free(s->results);
    if (s->model)
        s->ops->model_free(s->model);
    free(s);
}

/* ----------------------------------------------------------- helpers ---- */

static void check_trial(const hp_strategy *s, int t, const char *what)
{
    if (t < 0 || t >= s->n_trials)
        HP_PANIC("%s: trial %d does not exist (%d trials)", what, t, s->n_trials);
}

static int bracket_of(const hp_strategy *s, int t) { return t % s->n_brackets; }
static int rung_epoch(const hp_strategy *s, int b, int k) { return s->rung_epochs[b * s->max_rungs + k]; }
static size_t slot(const hp_strategy *s, int t, int k) { return (size_t)t * (size_t)s->max_rungs + (size_t)k; }
static rung_list *rung_of(hp_strategy *s, int b, int k) { return &s->rungs[b * s->max_rungs + k]; }
static const rung_list *rung_of_const(const hp_strategy *s, int b, int k) { return &s->rungs[b * s->max_rungs + k]; }

/* The epoch at which trial t reaches rung k: ASHA's r_k, or a one-rung
 * trial's own budget. */
static int trial_rung_epoch(const hp_strategy *s, int t, int k)
{
    return s->ops->rungs ? rung_epoch(s, bracket_of(s, t), k) : s->trials[t].assigned.to_epoch;
}

/* Epochs a new trial with this configuration trains first. */
static int first_rung_epoch(const hp_strategy *s, int t, const hp_config *config)
{
    return s->ops->rungs ? rung_epoch(s, bracket_of(s, t), 0) : config->epochs;
}

/* Is trial a's result at rung k better than b's?  NaN is worse than any
 * number; equal values go to the lower trial id (a total order). */
static int better(const hp_strategy *s, int a, int b, int k)
{
    double va = s->values[slot(s, a, k)], vb = s->values[slot(s, b, k)];
    int na = isnan(va), nb = isnan(vb);
    if (na != nb)
        return nb;
    if (!na && va != vb)
        return s->p.maximize ? va > vb : va < vb;
    return a < b;
}

static void rung_insert(hp_strategy *s, int b, int k, int t)
{
    rung_list *l = rung_of(s, b, k);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->ids = hp_xrealloc(l->ids, (size_t)l->cap * sizeof *l->ids);
    }
    int i = l->n;
    while (i > 0 && better(s, t, l->ids[i - 1], k)) {
        l->ids[i] = l->ids[i - 1];
        i--;
    }
    l->ids[i] = t;
    l->n++;
}

static void rung_remove(hp_strategy *s, int b, int k, int t)
{
    rung_list *l = rung_of(s, b, k);
    for (int i = 0; i < l->n; i++)
        if (l->ids[i] == t) {
            memmove(&l->ids[i], &l->ids[i + 1], (size_t)(l->n - i - 1) * sizeof *l->ids);
            l->n--;
            return;
        }
    HP_PANIC("trial %d missing from rung %d of bracket %d", t, k, b);
}

static void set_status(hp_strategy *s, int t, hp_trial_status st)
{
    trial *tr = &s->trials[t];
    s->n_running += (st == HP_TRIAL_RUNNING) - (tr->status == HP_TRIAL_RUNNING);
    tr->status = st;
}

static void grow_trials(hp_strategy *s, int needed)
{
    if (needed <= s->cap_trials)
        return;
    int cap = s->cap_trials ? s->cap_trials : 64;
    while (cap < needed)
        cap = cap > INT_MAX / 2 ? INT_MAX : 2 * cap;
    size_t old_slots = (size_t)s->cap_trials * (size_t)s->max_rungs;
    size_t slots = (size_t)cap * (size_t)s->max_rungs;
    s->trials = hp_xrealloc(s->trials, (size_t)cap * sizeof *s->trials);
    s->configs = hp_xrealloc(s->configs, (size_t)cap * sizeof *s->configs);
    s->values = hp_xrealloc(s->values, slots * sizeof *s->values);
    s->has_value = hp_xrealloc(s->has_value, slots);
    s->promoted = hp_xrealloc(s->promoted, slots);
    memset(s->trials + s->cap_trials, 0, (size_t)(cap - s->cap_trials) * sizeof *s->trials);
    memset(s->configs + s->cap_trials, 0, (size_t)(cap - s->cap_trials) * sizeof *s->configs);
    memset(s->has_value + old_slots, 0, slots - old_slots);
    memset(s->promoted + old_slots, 0, slots - old_slots);
    for (size_t i = old_slots; i < slots; i++)
        s->values[i] = 0.0;
    s->cap_trials = cap;
}

static void queue_push(hp_strategy *s, int t)
{
    if (s->queue_head > 0 && s->queue_head == s->queue_len)
        s->queue_head = s->queue_len = 0; /* drained: reuse from the start */
    if (s->queue_len == s->queue_cap) {
        s->queue_cap = s->queue_cap ? 2 * s->queue_cap : 16;
        s->queue = hp_xrealloc(s->queue, (size_t)s->queue_cap * sizeof *s->queue);
    }
    s->queue[s->queue_len++] = t;
    s->trials[t].queued = 1;
}

/* A rung result or failure happened: log it and tell the model. */
static void result_happened(hp_strategy *s, int t, int level, double value, int failed)
{
    if (s->n_results == s->cap_results) {
        s->cap_results = s->cap_results ? 2 * s->cap_results : 64;
        s->results = hp_xrealloc(s->results, (size_t)s->cap_results * sizeof *s->results);
    }
    s->results[s->n_results][0] = t;
    s->results[s->n_results][1] = failed ? -1 - level : level;
    s->n_results++;
    if (s->model)
        s->ops->model_result(s->model, s->p.job, &s->configs[t], level, failed ? NAN : value);
}

static int queue_entry_live(const hp_strategy *s, int i)
{
    const trial *tr = &s->trials[s->queue[i]];
    return tr->queued && tr->status == HP_TRIAL_RUNNING;
}

/* The promotion scan of Algorithm 2: bracket 0 first, top rung first; in each
 * rung the best of the top floor(n_k/eta) that is paused and not yet promoted
 * out of k.  Returns the trial id and sets *rung_out, or -1. */
static int find_promotion(const hp_strategy *s, int *rung_out)
{
    if (!s->ops->rungs)
        return -1;
    for (int b = 0; b < s->n_brackets; b++)
        for (int k = s->num_rungs[b] - 2; k >= 0; k--) {
            const rung_list *l = rung_of_const(s, b, k);
            int top = l->n / s->eta;
            for (int i = 0; i < top; i++) {
                int t = l->ids[i];
                if (!s->promoted[slot(s, t, k)] && s->trials[t].status == HP_TRIAL_PAUSED) {
                    *rung_out = k;
                    return t;
                }
            }
        }
    return -1;
}

static void config_from_bohb(const hp_strategy *s, int t, hp_config *out)
{
    if (!s->p.job) {
        config_from_space(s, t, out);
        return;
    }
    hp_sample_bohb(s->p.job, s->model, t, out);
}

/* TPE sees every earlier trial: its configuration, state and final value. */
static void config_from_tpe(const hp_strategy *s, int t, hp_config *out)
{
    if (!s->p.job) {
        config_from_space(s, t, out);
        return;
    }
    hp_sampled_trial *seen = hp_xcalloc((size_t)s->n_trials + 1, sizeof *seen);
    for (int i = 0; i < s->n_trials; i++) {
        seen[i].config = &s->configs[i];
        switch (s->trials[i].status) {
        case HP_TRIAL_COMPLETED:
            seen[i].state = HP_SAMPLED_COMPLETED;
            seen[i].value = s->has_value[slot(s, i, 0)] ? s->values[slot(s, i, 0)] : NAN;
            break;
        case HP_TRIAL_FAILED:
            seen[i].state = HP_SAMPLED_FAILED;
            break;
        default:
            seen[i].state = HP_SAMPLED_RUNNING;
            break;
        }
    }
    hp_sample_tpe(s->p.job, seen, s->n_trials, t, out);
    free(seen);
}

/* ------------------------------------------------------------ events ---- */

hp_next hp_strategy_propose(const hp_strategy *s, hp_assignment *out, hp_config *config)
{
    memset(out, 0, sizeof *out);
    for (int i = s->queue_head; i < s->queue_len; i++)
        if (queue_entry_live(s, i)) {
            int t = s->queue[i];
            *out = s->trials[t].assigned;
            *config = s->configs[t];
            return HP_NEXT_START;
        }
    int k;
    int t = find_promotion(s, &k);
    if (t >= 0) {
        int b = bracket_of(s, t);
        *out = (hp_assignment){.trial = t, .from_epoch = rung_epoch(s, b, k),
                               .to_epoch = rung_epoch(s, b, k + 1), .bracket = b, .rung = k + 1};
        *config = s->configs[t];
        return HP_NEXT_START;
    }
    if (s->n_trials < s->p.max_trials) {
        t = s->n_trials;
        s->ops->new_config(s, t, config);
        *out = (hp_assignment){.trial = t, .from_epoch = 0, .to_epoch = first_rung_epoch(s, t, config),
                               .bracket = bracket_of(s, t), .rung = 0};
        return HP_NEXT_START;
    }
    return s->n_running > 0 ? HP_NEXT_WAIT : HP_NEXT_DONE;
}

/* Record the assignment as the strategy made it: from_epoch is the rung it
 * starts from (the caller may start later, from a newer checkpoint). */
static void start(hp_strategy *s, const hp_assignment *a)
{
    trial *tr = &s->trials[a->trial];
    tr->assigned = *a;
    tr->assigned.from_epoch = a->rung ? trial_rung_epoch(s, a->trial, a->rung - 1) : 0;
    set_status(s, a->trial, HP_TRIAL_RUNNING);
}

int hp_strategy_assigned(hp_strategy *s, const hp_assignment *a, const hp_config *config)
{
    int t = a->trial;
    if (t < 0 || t > s->n_trials || t >= s->p.max_trials)
        return HP_ERR("assignment of trial %d: trials are created in order (%d exist, at most %d)", t,
                      s->n_trials, s->p.max_trials);
    if (t == s->n_trials) { /* a new trial */
        int b = bracket_of(s, t);
        if (a->rung != 0 || a->bracket != b || a->to_epoch != first_rung_epoch(s, t, config))
            return HP_ERR("assignment of new trial %d: to epoch %d rung %d bracket %d, expected epoch %d "
                          "rung 0 bracket %d", t, a->to_epoch, a->rung, a->bracket,
                          first_rung_epoch(s, t, config), b);
        grow_trials(s, t + 1);
        s->n_trials++;
        s->configs[t] = *config;
        s->trials[t].status = HP_TRIAL_PENDING;
        start(s, a);
        return 0;
    }
    trial *tr = &s->trials[t];
    if (tr->queued && tr->status == HP_TRIAL_RUNNING) { /* re-issue of an interrupted assignment */
        if (a->to_epoch != tr->assigned.to_epoch || a->rung != tr->assigned.rung)
            return HP_ERR("assignment of trial %d: re-issued to epoch %d rung %d, but it was interrupted "
                          "on its way to epoch %d rung %d", t, a->to_epoch, a->rung, tr->assigned.to_epoch,
                          tr->assigned.rung);
        tr->queued = 0;
        while (s->queue_head < s->queue_len && !queue_entry_live(s, s->queue_head))
            s->queue_head++; /* entries issued or dead up to the next live one */
        return 0;
    }
    int b = bracket_of(s, t), k = a->rung - 1;
    if (!s->ops->rungs || tr->status != HP_TRIAL_PAUSED || k < 0 || k + 1 >= s->num_rungs[b] ||
        !s->has_value[slot(s, t, k)] || s->promoted[slot(s, t, k)] || a->bracket != b ||
        a->to_epoch != rung_epoch(s, b, k + 1))
        return HP_ERR("assignment of trial %d (%s, epochs [%d, %d), rung %d) is not a promotion this "
                      "strategy can make", t, hp_trial_status_name(tr->status), a->from_epoch, a->to_epoch,
                      a->rung);
    s->promoted[slot(s, t, k)] = 1;
    start(s, a);
    return 0;
}

void hp_strategy_end(hp_strategy *s)
{
    for (int i = 0; i < s->n_trials; i++)
        if (s->trials[i].status == HP_TRIAL_PAUSED)
            set_status(s, i, HP_TRIAL_STOPPED);
}

hp_next hp_strategy_next(hp_strategy *s, hp_assignment *out)
{
    hp_config config;
    hp_next n = hp_strategy_propose(s, out, &config);
    if (n == HP_NEXT_START && hp_strategy_assigned(s, out, &config) != 0)
        HP_PANIC("the strategy refused its own decision: %s", hp_error_message());
    if (n == HP_NEXT_DONE)
        hp_strategy_end(s);
    return n;
}

void hp_strategy_report(hp_strategy *s, int t, int epoch, double value)
{
    check_trial(s, t, "hp_strategy_report");
    trial *tr = &s->trials[t];
    if (tr->status == HP_TRIAL_FAILED)
        return; /* a late message from a trial that already failed */
    tr->epochs_done = epoch;
    int b = bracket_of(s, t);
    for (int k = 0; k < s->num_rungs[b]; k++) {
        if (trial_rung_epoch(s, t, k) != epoch)
            continue;
        size_t i = slot(s, t, k);
        int again = s->has_value[i];
        if (again)
            rung_remove(s, b, k, t); /* re-reported (e.g. retrained after an interruption) */
        s->values[i] = value;
        s->has_value[i] = 1;
        rung_insert(s, b, k, t);
        if (!again)
            result_happened(s, t, b + k, value, 0);
        return;
    }
}

void hp_strategy_finished(hp_strategy *s, int t, int epoch)
{
    check_trial(s, t, "hp_strategy_finished");
    trial *tr = &s->trials[t];
    if (tr->status != HP_TRIAL_RUNNING)
        return;
    tr->epochs_done = epoch;
    tr->queued = 0;
    int top = s->num_rungs[tr->assigned.bracket] - 1;
    set_status(s, t, tr->assigned.rung >= top ? HP_TRIAL_COMPLETED : HP_TRIAL_PAUSED);
}

void hp_strategy_failed(hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_failed");
    trial *tr = &s->trials[t];
    if (tr->status == HP_TRIAL_FAILED)
        return;
    int b = bracket_of(s, t);
    for (int k = 0; k < s->num_rungs[b]; k++)
        if (s->has_value[slot(s, t, k)])
            rung_remove(s, b, k, t);
    tr->queued = 0;
    set_status(s, t, HP_TRIAL_FAILED);
    result_happened(s, t, b + tr->assigned.rung, NAN, 1);
}

void hp_strategy_stop_trial(hp_strategy *s, int t, int epoch, double value, int completed)
{
    check_trial(s, t, "hp_strategy_stop_trial");
    trial *tr = &s->trials[t];
    if (tr->status != HP_TRIAL_RUNNING)
        return;
    if (s->ops->rungs)
        HP_PANIC("hp_strategy_stop_trial: %s stops trials at its rungs", s->ops->name);
    tr->epochs_done = epoch;
    tr->queued = 0;
    if (completed) { /* its result is its value where it stopped, as if that were its last epoch */
        size_t i = slot(s, t, 0);
        if (s->has_value[i])
            rung_remove(s, 0, 0, t);
        s->values[i] = value;
        s->has_value[i] = 1;
        rung_insert(s, 0, 0, t);
        result_happened(s, t, 0, value, 0);
    }
    set_status(s, t, completed ? HP_TRIAL_COMPLETED : HP_TRIAL_STOPPED);
}

void hp_strategy_requeue_running(hp_strategy *s)
{
    for (int t = 0; t < s->n_trials; t++)
        if (s->trials[t].status == HP_TRIAL_RUNNING && !s->trials[t].queued)
            queue_push(s, t);
}

/* ----------------------------------------------------------- queries ---- */

int hp_strategy_num_trials(const hp_strategy *s) { return s->n_trials; }
const hp_job *hp_strategy_job(const hp_strategy *s) { return s->p.job; }
int hp_strategy_max_trials(const hp_strategy *s) { return s->p.max_trials; }
int hp_strategy_has_rungs(const hp_strategy *s) { return s->ops->rungs; }
int hp_strategy_proposes_any_point(const hp_strategy *s) { return s->ops->any_point; }
int hp_strategy_num_brackets(const hp_strategy *s) { return s->n_brackets; }

hp_trial_status hp_strategy_trial_status(const hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_trial_status");
    return s->trials[t].status;
}

const hp_config *hp_strategy_trial_config(const hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_trial_config");
    return &s->configs[t];
}

int hp_strategy_trial_bracket(const hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_trial_bracket");
    return bracket_of(s, t);
}

int hp_strategy_trial_rung(const hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_trial_rung");
    for (int k = s->num_rungs[bracket_of(s, t)] - 1; k >= 0; k--)
        if (s->has_value[slot(s, t, k)])
            return k;
    return -1;
}

double hp_strategy_trial_value(const hp_strategy *s, int t, int k)
{
    check_trial(s, t, "hp_strategy_trial_value");
    if (k < 0 || k >= s->num_rungs[bracket_of(s, t)] || !s->has_value[slot(s, t, k)])
        return NAN;
    return s->values[slot(s, t, k)];
}

int hp_strategy_trial_epochs(const hp_strategy *s, int t)
{
    check_trial(s, t, "hp_strategy_trial_epochs");
    return s->trials[t].epochs_done;
}

int hp_strategy_num_rungs(const hp_strategy *s, int bracket)
{
    if (bracket < 0 || bracket >= s->n_brackets)
        HP_PANIC("bracket %d out of range (%d brackets)", bracket, s->n_brackets);
    return s->num_rungs[bracket];
}

int hp_strategy_rung_epochs(const hp_strategy *s, int bracket, int rung)
{
    if (rung < 0 || rung >= hp_strategy_num_rungs(s, bracket))
        HP_PANIC("rung %d out of range for bracket %d", rung, bracket);
    return rung_epoch(s, bracket, rung);
}

int hp_strategy_trial_max_epochs(const hp_strategy *s, const hp_config *config)
{
    if (!s->ops->rungs)
        return config->epochs;
    return rung_epoch(s, 0, s->num_rungs[0] - 1); /* the top rung, the same in every bracket */
}

void hp_strategy_describe(const hp_strategy *s, FILE *f)
{
    const hp_strategy_params *p = &s->p;
    const hp_job *job = p->job;
    switch (p->kind) {
    case HP_STRATEGY_GRID:
        fprintf(f, "  strategy   grid: %ld points x %d repeat%s = %d trials, ", job ? hp_space_grid_size(job) : 1L,
                job ? job->repeats : 1, job && job->repeats != 1 ? "s" : "", p->max_trials);
        break;
    case HP_STRATEGY_RANDOM:
        if (job && job->repeats > 1)
            fprintf(f, "  strategy   random: %d configurations x %d repeats (other seeds) = %d trials, ",
                    p->max_trials / job->repeats, job->repeats, p->max_trials);
        else
            fprintf(f, "  strategy   random: %d trials, ", p->max_trials);
        break;
    case HP_STRATEGY_TPE:
        fprintf(f, "  strategy   tpe: %d trials, the first %d at random, then Optuna 3.1's TPE (%d candidates, "
                   "%s, constant liar %s), ", p->max_trials, job ? job->tpe.n_startup_trials : 0,
                job ? job->tpe.n_ei_candidates : 0, job && job->tpe.multivariate ? "multivariate" : "univariate",
                job && job->tpe.constant_liar ? "on" : "off");
        break;
    default:
        fprintf(f, "  strategy   %s: up to %d trials, epochs %d to %d, reduction factor %d, %d bracket%s\n",
                s->ops->name, p->max_trials, p->min_epochs, p->max_epochs, p->reduction_factor, p->brackets,
                p->brackets == 1 ? "" : "s");
        break;
    }
    if (!s->ops->rungs) {
        int searched = 0;
        for (int i = 0; job && i < job->n_params; i++)
            searched |= strcmp(job->params[i].key->name, "epochs") == 0;
        if (searched)
            fprintf(f, "epochs from the space (up to %d)\n", p->epochs);
        else
            fprintf(f, "%d epoch%s each\n", p->epochs, p->epochs == 1 ? "" : "s");
        return;
    }
    int top = 0;
    for (int b = 0; b < s->n_brackets; b++) {
        int rungs = s->num_rungs[b];
        fprintf(f, "             bracket %d: %d rung%s at", b, rungs, rungs == 1 ? "" : "s");
        for (int r = 0; r < rungs; r++) {
            int e = rung_epoch(s, b, r);
            fprintf(f, "%s %d", r ? "," : "", e);
            if (e > top)
                top = e;
        }
        fprintf(f, " epochs\n");
    }
    if (p->kind == HP_STRATEGY_BOHB && job) {
        int d = job->n_params, m = job->bohb.min_points_in_model > d + 1 ? job->bohb.min_points_in_model : d + 1;
        fprintf(f, "             new trials: HpBandSter's BOHB model of the largest rung with enough results "
                   "(a model needs %d results at a rung), else at random; %.0f%% stay random\n",
                2 * m, 100 * job->bohb.random_fraction);
    }
    if (top < p->max_epochs)
        fprintf(f, "             note: max_epochs %d is not min_epochs x %d^k, so no trial trains more than %d "
                   "epochs\n", p->max_epochs, p->reduction_factor, top);
}

void hp_strategy_summary(const hp_strategy *s, char *buf, size_t size)
{
    const hp_strategy_params *p = &s->p;
    int used = snprintf(buf, size, "%s: %d trials", s->ops->name, p->max_trials);
    if (s->ops->rungs) {
        used += snprintf(buf + used, size > (size_t)used ? size - (size_t)used : 0, ", rungs at");
        for (int k = 0; k < s->num_rungs[0]; k++)
            used += snprintf(buf + used, size > (size_t)used ? size - (size_t)used : 0, "%s %d", k ? "," : "",
                             rung_epoch(s, 0, k));
        used += snprintf(buf + used, size > (size_t)used ? size - (size_t)used : 0, " epochs, eta %d%s", s->eta,
                         s->n_brackets > 1 ? "" : "");
        if (s->n_brackets > 1)
            used += snprintf(buf + used, size > (size_t)used ? size - (size_t)used : 0, ", %d brackets", s->n_brackets);
    }
    if (p->kind == HP_STRATEGY_TPE && p->job)
        snprintf(buf + used, size > (size_t)used ? size - (size_t)used : 0, ", %d start-up trials, %s, constant liar %s",
                 p->job->tpe.n_startup_trials, p->job->tpe.multivariate ? "multivariate" : "univariate",
                 p->job->tpe.constant_liar ? "on" : "off");
}

/* The nominal ASHA budget: n_0 = trials of the bracket, n_{k+1} =
 * floor(n_k/eta), each rung-k survivor trains r_k - r_{k-1} more epochs.
 * (Late promotions in an adversarial arrival order can exceed it slightly:
 * a trial that drops out of the top set after being promoted is replaced.) */
long hp_strategy_worst_case_epochs(const hp_strategy_params *p)
{
    if (validate_params(p) != 0)
        return -1;
    if (!ops_of(p->kind)->rungs)
        return (long)p->max_trials * p->epochs;
    int k0 = top_rung_index(p->min_epochs, p->max_epochs, p->reduction_factor);
    int B = p->brackets;
    long total = 0;
    for (int b = 0; b < B; b++) {
        long n = p->max_trials / B + (b < p->max_trials % B); /* ids with id % B == b */
        long r = p->min_epochs, prev = 0;
        for (int i = 0; i < b; i++)
            r *= p->reduction_factor;
        for (int k = 0; k <= k0 - b; k++) {
            total += n * (r - prev);
            n /= p->reduction_factor;
            prev = r;
            r *= p->reduction_factor;
        }
    }
    return total;
}

const char *hp_trial_status_name(hp_trial_status st)
{
    switch (st) {
    case HP_TRIAL_PENDING: return "pending";
    case HP_TRIAL_RUNNING: return "running";
    case HP_TRIAL_PAUSED: return "paused";
    case HP_TRIAL_COMPLETED: return "completed";
    case HP_TRIAL_STOPPED: return "stopped";
    case HP_TRIAL_FAILED: return "failed";
    }
    return "unknown";
}
/* -------------------------------------------------------- save/load ---- */
/*
 * Image, all integers little-endian:
 *   "HPSTRAT\0"  u32 version (1)  u64 total size
 *   params: i32 kind, max_trials, epochs, min_epochs, max_epochs,
 *           reduction_factor, brackets, maximize
 *   i32 max_rungs  i32 n_trials  i32 queue_len
 *   per trial: i32 status, epochs_done, from_epoch, to_epoch, rung
 *              then per rung k < max_rungs: u8 flags (1 has value, 2 promoted),
 *              u64 value (IEEE-754 bits)
 *   queue_len x i32 trial id (pending re-issues, in order)
 *   i32 n_keys, then per trial n_keys x u64: its configuration, every key of
 *       the hyperparameter table in table order (IEEE-754 bits of the value)
 *   i32 n_results, then n_results x (i32 trial, i32 level or -1 - level for a
 *       failure): rung results in the order they happened (models replay them)
 *   u64 FNV-1a hash of every byte before it
 * Version 1 (hptune 0.1) had no configurations; it is refused.
 */
#define IMAGE_VERSION 2u
static const char image_magic[8] = {'H', 'P', 'S', 'T', 'R', 'A', 'T', '\0'};
#define IMAGE_HEADER_BYTES (8 + 4 + 8)
#define IMAGE_FIXED_BYTES (IMAGE_HEADER_BYTES + 8 * 4 + 3 * 4)
#define IMAGE_TRIAL_BYTES(rungs) (5 * 4 + (size_t)(rungs) * 9)
#define IMAGE_CONFIG_BYTES(n_trials, n_keys) (4 + (size_t)(n_trials) * (size_t)(n_keys) * 8)
#define IMAGE_RESULTS_BYTES(n_results) (4 + (size_t)(n_results) * 8)

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct writer {
    uint8_t *p;
    size_t pos;
} writer;

static void put_u8(writer *w, uint8_t v) { w->p[w->pos++] = v; }
static void put_u32(writer *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put_u8(w, (uint8_t)(v >> (8 * i)));
}
static void put_u64(writer *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put_u8(w, (uint8_t)(v >> (8 * i)));
}
static void put_i32(writer *w, int v) { put_u32(w, (uint32_t)v); }

typedef struct reader {
    const uint8_t *p;
    size_t size, pos;
} reader;

/* Callers have checked the total size first, so these never run past it;
 * the check here is a second line of defence. */
static uint8_t get_u8(reader *r)
{
    if (r->pos >= r->size)
        HP_PANIC("strategy image read past its end");
    return r->p[r->pos++];
}
static uint32_t get_u32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)get_u8(r) << (8 * i);
    return v;
}
static uint64_t get_u64(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)get_u8(r) << (8 * i);
    return v;
}
static int get_i32(reader *r) { return (int)(int32_t)get_u32(r); }

static int live_queue_len(const hp_strategy *s)
{
    int n = 0;
    for (int i = s->queue_head; i < s->queue_len; i++) {
        const trial *tr = &s->trials[s->queue[i]];
        n += tr->queued && tr->status == HP_TRIAL_RUNNING;
    }
    return n;
}

int hp_strategy_save(const hp_strategy *s, uint8_t **bytes, size_t *size)
{
    int n_queue = live_queue_len(s);
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    size_t total = IMAGE_FIXED_BYTES + (size_t)s->n_trials * IMAGE_TRIAL_BYTES(s->max_rungs) +
                   (size_t)n_queue * 4 + IMAGE_CONFIG_BYTES(s->n_trials, n_keys) +
                   IMAGE_RESULTS_BYTES(s->n_results) + 8;
    writer w = {hp_xcalloc(total, 1), 0};
    memcpy(w.p, image_magic, sizeof image_magic);
    w.pos = sizeof image_magic;
    put_u32(&w, IMAGE_VERSION);
    put_u64(&w, total);
    const hp_strategy_params *p = &s->p;
    put_i32(&w, (int)p->kind);
    put_i32(&w, p->max_trials);
    put_i32(&w, p->epochs);
    put_i32(&w, p->min_epochs);
    put_i32(&w, p->max_epochs);
    put_i32(&w, p->reduction_factor);
    put_i32(&w, p->brackets);
    put_i32(&w, p->maximize);
    put_i32(&w, s->max_rungs);
    put_i32(&w, s->n_trials);
    put_i32(&w, n_queue);
    for (int t = 0; t < s->n_trials; t++) {
        const trial *tr = &s->trials[t];
        put_i32(&w, (int)tr->status);
        put_i32(&w, tr->epochs_done);
        put_i32(&w, tr->assigned.from_epoch);
        put_i32(&w, tr->assigned.to_epoch);
        put_i32(&w, tr->assigned.rung);
        for (int k = 0; k < s->max_rungs; k++) {
            size_t i = slot(s, t, k);
            put_u8(&w, (uint8_t)(s->has_value[i] | (s->promoted[i] << 1)));
            uint64_t bits;
            memcpy(&bits, &s->values[i], sizeof bits);
            put_u64(&w, bits);
        }
    }
    for (int i = s->queue_head; i < s->queue_len; i++) {
        const trial *tr = &s->trials[s->queue[i]];
        if (tr->queued && tr->status == HP_TRIAL_RUNNING)
            put_i32(&w, s->queue[i]);
    }
    put_i32(&w, (int)n_keys);
    for (int t = 0; t < s->n_trials; t++)
        for (size_t k = 0; k < n_keys; k++) {
            double v = hp_config_get(&s->configs[t], &keys[k]);
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            put_u64(&w, bits);
        }
    put_i32(&w, s->n_results);
    for (int i = 0; i < s->n_results; i++) {
        put_i32(&w, s->results[i][0]);
        put_i32(&w, s->results[i][1]);
    }
    put_u64(&w, fnv1a(w.p, w.pos));
    if (w.pos != total)
        HP_PANIC("strategy image size mismatch (%zu vs %zu)", w.pos, total);
    *bytes = w.p;
    *size = total;
    return 0;
}

/* Check one trial's record against the loaded parameters; message on error. */
static int check_loaded_trial(const hp_strategy *s, int t)
{
    const trial *tr = &s->trials[t];
    const hp_assignment *a = &tr->assigned;
    int b = bracket_of(s, t);
    if (tr->status < HP_TRIAL_PENDING || tr->status > HP_TRIAL_FAILED)
        return HP_ERR("strategy state is corrupt: trial %d has status %d", t, (int)tr->status);
    int bad_epochs = s->ops->rungs ? a->to_epoch != rung_epoch(s, b, a->rung) ||
                                         a->from_epoch != (a->rung ? rung_epoch(s, b, a->rung - 1) : 0)
                                   : a->to_epoch < 0 || a->from_epoch != 0;
    if (a->rung < 0 || a->rung >= s->num_rungs[b] || bad_epochs)
        return HP_ERR("strategy state is corrupt: trial %d has assignment [%d, %d) at rung %d", t,
                      a->from_epoch, a->to_epoch, a->rung);
    if (tr->epochs_done < 0)
        return HP_ERR("strategy state is corrupt: trial %d has %d epochs done", t, tr->epochs_done);
    for (int k = s->num_rungs[b]; k < s->max_rungs; k++)
        if (s->has_value[slot(s, t, k)] || s->promoted[slot(s, t, k)])
            return HP_ERR("strategy state is corrupt: trial %d has a result at rung %d, beyond its bracket", t, k);
    return 0;
}

int hp_strategy_load(hp_strategy **out, const uint8_t *bytes, size_t size)
{
    return hp_strategy_load_for_job(out, bytes, size, NULL);
}

int hp_strategy_load_for_job(hp_strategy **out, const uint8_t *bytes, size_t size, const hp_job *job)
{
    *out = NULL;
    const char *what = "the saved strategy state";
    if (size < IMAGE_FIXED_BYTES + 8 || memcmp(bytes, image_magic, sizeof image_magic) != 0)
        return HP_ERR("%s is not a strategy image (%zu bytes, bad header); the study file may be "
                      "damaged: start the study again in a new output folder", what, size);
    reader r = {bytes, size, sizeof image_magic};
    uint32_t version = get_u32(&r);
    if (version != IMAGE_VERSION)
        return HP_ERR("%s has version %u but this hptune reads version %u; resume with the hptune "
                      "that wrote it", what, version, IMAGE_VERSION);
    uint64_t total = get_u64(&r);
    if (total != size)
        return HP_ERR("%s is truncated or padded: %zu bytes, expected %llu; the study file is damaged",
                      what, size, (unsigned long long)total);
    reader tail = {bytes, size, size - 8};
    if (get_u64(&tail) != fnv1a(bytes, size - 8))
        return HP_ERR("%s fails its checksum; the study file is damaged", what);

    hp_strategy_params p;
    memset(&p, 0, sizeof p);
    p.kind = (hp_strategy_kind)get_i32(&r);
    p.max_trials = get_i32(&r);
    p.epochs = get_i32(&r);
    p.min_epochs = get_i32(&r);
    p.max_epochs = get_i32(&r);
    p.reduction_factor = get_i32(&r);
    p.brackets = get_i32(&r);
    p.maximize = get_i32(&r);
    p.job = job;
    int max_rungs = get_i32(&r), n_trials = get_i32(&r), n_queue = get_i32(&r);
    hp_strategy *s = hp_strategy_create(&p);
    if (!s) {
        hp_error_prefix("%s has invalid parameters", what);
        return -1;
    }
    size_t n_keys;
    const hp_key *keys = hp_config_keys(&n_keys);
    uint64_t keys_at = IMAGE_FIXED_BYTES + (uint64_t)(n_trials < 0 ? 0 : n_trials) * IMAGE_TRIAL_BYTES(max_rungs) +
                       (uint64_t)(n_queue < 0 ? 0 : n_queue) * 4;
    int image_keys = -1;
    if (max_rungs == s->max_rungs && keys_at + 4 + 8 <= size) {
        reader at = {bytes, size, (size_t)keys_at};
        image_keys = get_i32(&at);
        if (image_keys != (int)n_keys) {
            HP_ERR("%s holds %d hyperparameters per trial, this hptune has %zu; read it with the hptune "
                   "that wrote it", what, image_keys, n_keys);
            goto free_strategy;
        }
    }
    uint64_t results_at = keys_at + IMAGE_CONFIG_BYTES(n_trials < 0 ? 0 : n_trials, n_keys);
    int n_results = -1;
    if (image_keys >= 0 && results_at + 4 + 8 <= size) {
        reader at = {bytes, size, (size_t)results_at};
        n_results = get_i32(&at);
    }
    if (max_rungs != s->max_rungs || n_trials < 0 || n_trials > p.max_trials || n_queue < 0 ||
        n_queue > n_trials || image_keys < 0 || n_results < 0 ||
        (uint64_t)size != results_at + IMAGE_RESULTS_BYTES(n_results) + 8) {
        HP_ERR("%s is inconsistent (%d rungs, %d trials, %d queued in %zu bytes); the study file is damaged",
               what, max_rungs, n_trials, n_queue, size);
        goto free_strategy;
    }
    grow_trials(s, n_trials);
    s->n_trials = n_trials;
    for (int t = 0; t < n_trials; t++) {
        trial *tr = &s->trials[t];
        tr->status = (hp_trial_status)get_i32(&r);
        tr->epochs_done = get_i32(&r);
        tr->assigned.trial = t;
        tr->assigned.bracket = bracket_of(s, t);
        tr->assigned.from_epoch = get_i32(&r);
        tr->assigned.to_epoch = get_i32(&r);
        tr->assigned.rung = get_i32(&r);
        for (int k = 0; k < max_rungs; k++) {
            size_t i = slot(s, t, k);
            uint8_t flags = get_u8(&r);
            uint64_t bits = get_u64(&r);
            if (flags > 3) {
                HP_ERR("%s is corrupt: trial %d rung %d has flags %u", what, t, k, flags);
                goto free_strategy;
            }
            s->has_value[i] = flags & 1;
            s->promoted[i] = (flags >> 1) & 1;
            memcpy(&s->values[i], &bits, sizeof bits);
        }
        if (check_loaded_trial(s, t) != 0)
            goto free_strategy;
        if (tr->status == HP_TRIAL_RUNNING)
            s->n_running++;
    }
    for (int i = 0; i < n_queue; i++) {
        int t = get_i32(&r);
        if (t < 0 || t >= n_trials || s->trials[t].status != HP_TRIAL_RUNNING || s->trials[t].queued) {
            HP_ERR("%s is corrupt: requeued trial %d is not a running trial", what, t);
            goto free_strategy;
        }
        queue_push(s, t);
    }
    (void)get_i32(&r); /* n_keys, checked above */
    for (int t = 0; t < n_trials; t++) {
        hp_config_defaults(&s->configs[t]);
        for (size_t k = 0; k < n_keys; k++) {
            uint64_t bits = get_u64(&r);
            double v;
            memcpy(&v, &bits, sizeof v);
            if (hp_config_set(&s->configs[t], &keys[k], v) != 0) {
                hp_error_prefix("%s is corrupt: trial %d's configuration", what, t);
                goto free_strategy;
            }
        }
    }
    (void)get_i32(&r); /* n_results, checked above */
    for (int i = 0; i < n_results; i++) {
        int t = get_i32(&r), code = get_i32(&r);
        int level = code >= 0 ? code : -1 - code, k = t >= 0 && t < n_trials ? level - bracket_of(s, t) : -1;
        if (t < 0 || t >= n_trials || k < 0 || k >= s->num_rungs[bracket_of(s, t)] ||
            (code >= 0 && !s->has_value[slot(s, t, k)]) || (code < 0 && s->trials[t].status != HP_TRIAL_FAILED)) {
            HP_ERR("%s is corrupt: result %d (trial %d, level %d) does not fit the trials", what, i, t, code);
            goto free_strategy;
        }
        /* the model sees the results again in the order they happened */
        result_happened(s, t, level, code >= 0 ? s->values[slot(s, t, k)] : NAN, code < 0);
    }
    /* Rebuild the sorted rung lists: the order is total, so it matches the saved run's. */
    for (int t = 0; t < n_trials; t++) {
        if (s->trials[t].status == HP_TRIAL_FAILED)
            continue;
        int b = bracket_of(s, t);
        for (int k = 0; k < s->num_rungs[b]; k++)
            if (s->has_value[slot(s, t, k)])
                rung_insert(s, b, k, t);
    }
    *out = s;
    return 0;

free_strategy:
    hp_strategy_free(s);
    return -1;
}
