/* optim.c - optimizer steps and learning-rate schedules (see optim.h).
 *
 * hp_optim_step() runs for every parameter tensor every batch, so each
 * optimizer is one flat loop over n floats with every per-step constant
 * (bias corrections, lr*wd) hoisted out; the loops have no branches and no
 * calls except sqrtf (an instruction with -fno-math-errno), so they vectorise.
 */
#include "optim.h"

#include <math.h>

#include "error.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))

/* Per-step constants, computed once per call. */
typedef struct step_consts {
    float lr;
    float wd_l2;        /* L2 term added to the gradient (all but AdamW) */
    float lr_wd;        /* lr * wd, decoupled decay (AdamW only) */
    float mu;           /* momentum */
    float b1, b2, one_minus_b1, one_minus_b2;
    float inv_bc1, inv_bc2; /* 1 / (1 - b^t) */
    float rho, one_minus_rho;
    float eps;
} step_consts;

/* The range kernels update elements [begin, end) of p, g, m, v (each (n)).
 * At -O2 GCC (very-cheap cost model) only vectorises a loop whose trip count
 * it knows to be a multiple of the vector width, so each optimizer runs its
 * kernel on a head of n rounded down to 8 floats and then on the short tail.
 * Each optimizer is its own non-inlined function: merged into one switch,
 * GCC's code hoisting moves loads out of the loops and none vectorises. */
static ALWAYS_INLINE void sgd_plain(float *restrict p, const float *restrict g, size_t begin, size_t end,
                             const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2;
    for (size_t i = begin; i < end; i++) {
        float gd = g[i] + wd * p[i];
        p[i] -= lr * gd;
    }
}

static ALWAYS_INLINE void sgd_momentum(float *restrict p, const float *restrict g, float *restrict m,
                                size_t begin, size_t end, const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2, mu = k->mu;
    for (size_t i = begin; i < end; i++) {
        float gd = g[i] + wd * p[i];
        float mi = mu * m[i] + gd;
        m[i] = mi;
        p[i] -= lr * mi;
    }
}

static ALWAYS_INLINE void sgd_nesterov(float *restrict p, const float *restrict g, float *restrict m,
                                size_t begin, size_t end, const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2, mu = k->mu;
    for (size_t i = begin; i < end; i++) {
        float gd = g[i] + wd * p[i];
        float mi = mu * m[i] + gd;
        m[i] = mi;
        p[i] -= lr * (gd + mu * mi);
    }
}

/* Adam (wd_l2 = wd, lr_wd = 0) and AdamW (wd_l2 = 0, lr_wd = lr*wd). */
static ALWAYS_INLINE void adam(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t begin, size_t end, const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2, lr_wd = k->lr_wd, b1 = k->b1, b2 = k->b2;
    const float one_minus_b1 = k->one_minus_b1, one_minus_b2 = k->one_minus_b2;
    const float inv_bc1 = k->inv_bc1, inv_bc2 = k->inv_bc2, eps = k->eps;
    for (size_t i = begin; i < end; i++) {
        float pi = p[i] - lr_wd * p[i]; /* decoupled decay first (AdamW) */
        float gd = g[i] + wd * p[i];
        float mi = b1 * m[i] + one_minus_b1 * gd;
        float vi = b2 * v[i] + one_minus_b2 * gd * gd;
        m[i] = mi;
        v[i] = vi;
        float m_hat = mi * inv_bc1;
        float v_hat = vi * inv_bc2;
        p[i] = pi - lr * m_hat / (sqrtf(v_hat) + eps);
    }
}

static ALWAYS_INLINE void rmsprop_plain(float *restrict p, const float *restrict g, float *restrict v,
                                 size_t begin, size_t end, const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2, rho = k->rho, one_minus_rho = k->one_minus_rho;
    const float eps = k->eps;
    for (size_t i = begin; i < end; i++) {
        float gd = g[i] + wd * p[i];
        float vi = rho * v[i] + one_minus_rho * gd * gd;
        v[i] = vi;
        p[i] -= lr * gd / (sqrtf(vi) + eps);
    }
}

static ALWAYS_INLINE void rmsprop_momentum(float *restrict p, const float *restrict g, float *restrict m,
                                    float *restrict v, size_t begin, size_t end,
                                    const step_consts *k)
{
    const float lr = k->lr, wd = k->wd_l2, rho = k->rho, one_minus_rho = k->one_minus_rho;
    const float eps = k->eps, mu = k->mu;
    for (size_t i = begin; i < end; i++) {
        float gd = g[i] + wd * p[i];
        float vi = rho * v[i] + one_minus_rho * gd * gd;
        float mi = mu * m[i] + gd / (sqrtf(vi) + eps);
        v[i] = vi;
        m[i] = mi;
        p[i] -= lr * mi;
    }
}

typedef void optimizer_fn(float *p, const float *g, float *m, float *v, size_t n,
                          const step_consts *k);

/* Run one range kernel over the vectorisable head, then the tail. */
#define HEAD_THEN_TAIL(call_with_range)                                                        \
    do {                                                                                       \
        size_t head = n & ~(size_t)7; /* multiple of 8 floats (one AVX vector) */              \
        size_t begin = 0, end = head;                                                          \
        call_with_range;                                                                       \
        begin = head, end = n;                                                                 \
        call_with_range;                                                                       \
    } while (0)

static NOINLINE void run_sgd_plain(float *p, const float *g, float *m, float *v, size_t n,
                                   const step_consts *k)
{
    HEAD_THEN_TAIL(sgd_plain(p, g, begin, end, k));
}

static NOINLINE void run_sgd_momentum(float *p, const float *g, float *m, float *v, size_t n,
                                      const step_consts *k)
{
    HEAD_THEN_TAIL(sgd_momentum(p, g, m, begin, end, k));
}

static NOINLINE void run_sgd_nesterov(float *p, const float *g, float *m, float *v, size_t n,
                                      const step_consts *k)
{
    HEAD_THEN_TAIL(sgd_nesterov(p, g, m, begin, end, k));
}

static NOINLINE void run_adam(float *p, const float *g, float *m, float *v, size_t n,
                              const step_consts *k)
{
    HEAD_THEN_TAIL(adam(p, g, m, v, begin, end, k));
}

static NOINLINE void run_rmsprop_plain(float *p, const float *g, float *m, float *v, size_t n,
                                       const step_consts *k)
{
    HEAD_THEN_TAIL(rmsprop_plain(p, g, v, begin, end, k));
}

static NOINLINE void run_rmsprop_momentum(float *p, const float *g, float *m, float *v, size_t n,
                                          const step_consts *k)
{
    HEAD_THEN_TAIL(rmsprop_momentum(p, g, m, v, begin, end, k));
}

void hp_optim_step(const hp_config *c, float *p, const float *g, float *m, float *v, size_t n,
                   long t, float lr, float weight_decay)
{
    if (t < 1)
        HP_PANIC("optimizer step t = %ld; steps are 1-based", t);
    step_consts k = {
        .lr = lr,
        .wd_l2 = c->optimizer == HP_OPT_ADAMW ? 0.0f : weight_decay,
        .lr_wd = c->optimizer == HP_OPT_ADAMW ? lr * weight_decay : 0.0f,
        .mu = c->momentum,
        .b1 = c->beta1,
        .b2 = c->beta2,
        .one_minus_b1 = 1.0f - c->beta1,
        .one_minus_b2 = 1.0f - c->beta2,
        .rho = c->rho,
        .one_minus_rho = 1.0f - c->rho,
        .eps = c->epsilon,
    };
    optimizer_fn *run = NULL;
    switch (c->optimizer) {
    case HP_OPT_SGD: /* mu = 0: no momentum buffer (PyTorch keeps none either) */
        run = k.mu == 0.0f ? run_sgd_plain : c->nesterov ? run_sgd_nesterov : run_sgd_momentum;
        break;
    case HP_OPT_ADAM:
    case HP_OPT_ADAMW:
        /* bias corrections 1 - b^t, once per call in double */
        k.inv_bc1 = (float)(1.0 / (1.0 - pow((double)c->beta1, (double)t)));
        k.inv_bc2 = (float)(1.0 / (1.0 - pow((double)c->beta2, (double)t)));
        run = run_adam;
        break;
    case HP_OPT_RMSPROP:
        run = k.mu == 0.0f ? run_rmsprop_plain : run_rmsprop_momentum;
        break;
    default:
        HP_PANIC("unknown optimizer %d", c->optimizer);
    }
    run(p, g, m, v, n, &k);
}

float hp_lr_at(const hp_config *c, long step, long steps_per_epoch)
{
    if (steps_per_epoch < 1 || step < 0)
        HP_PANIC("hp_lr_at: step %ld, steps_per_epoch %ld", step, steps_per_epoch);
    double lr = c->learning_rate;
    switch (c->lr_schedule) {
    case HP_SCHED_CONSTANT:
        break;
    case HP_SCHED_STEP: {
        long epoch = step / steps_per_epoch;
        long decays = epoch / (c->lr_step_epochs > 0 ? c->lr_step_epochs : 1);
        lr *= pow((double)c->lr_gamma, (double)decays);
        break;
    }
    case HP_SCHED_COSINE: {
        double total = (double)c->epochs * (double)steps_per_epoch;
        double progress = total > 0 ? (double)step / total : 1.0;
        if (progress > 1.0) /* past the end (should not happen): stay at the floor */
            progress = 1.0;
        lr = c->lr_min + (lr - c->lr_min) * (1.0 + cos(M_PI * progress)) / 2.0;
        break;
    }
    default:
        HP_PANIC("unknown learning-rate schedule %d", c->lr_schedule);
    }
    long warmup_steps = (long)c->warmup_epochs * steps_per_epoch;
    if (step < warmup_steps)
        lr *= (double)(step + 1) / (double)warmup_steps;
    return (float)lr;
}
