/* test_net_model.c - the model hyperparameters of issue 13 in whole networks:
 * residual blocks (identity and 1x1-projection shortcuts), convs_per_block,
 * model mlp with residual head layers, head_pool global_avg, label smoothing,
 * batch-norm momentum/epsilon and global gradient-norm clipping.
 *
 * Oracles: central finite differences of the network's own loss for every
 * checked parameter (the whole residual block end to end: convs, batch norm,
 * shortcut, activation, pooling, head); hand-built forward values (a block
 * whose last conv is zero outputs act(shortcut), the shortcut computed here
 * naively); the closed form of the clipped gradient.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "error.h"
#include "net.h"
#include "rng.h"
#include "testlib.h"

enum { BATCH = 3 };

static void random_batch(float *x, uint8_t *labels, hp_rng *rng)
{
    for (size_t k = 0; k < (size_t)BATCH * HP_IMAGE_BYTES; k++)
        x[k] = (float)(2.0 * hp_rng_uniform(rng) - 1.0);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (uint8_t)hp_rng_below(rng, HP_NUM_CLASSES);
}

static void small_config(hp_config *c)
{
    hp_config_defaults(c);
    c->num_blocks = 2;
    c->filters = 3;
    c->filter_growth = 1;
    c->conv_dropout = 0;
    c->head_dropout = 0;
    c->head_layers = 1;
    c->head_units = 7;
    c->activation = HP_ACT_TANH; /* smooth: no kinks for the finite differences */
    c->pool = HP_POOL_AVG;
    c->batch_size = BATCH;
}

typedef struct fd_problem {
    hp_net *net;
    const float *x;
    const uint8_t *labels;
} fd_problem;

static double fd_loss(const fd_problem *p)
{
    hp_net_forward(p->net, p->x, BATCH, 1, NULL);
    return hp_net_loss(p->net, p->labels, BATCH);
}

/* Worst relative error of the analytic gradient over up to max_checks
 * parameters of every tensor (evenly strided), finite differences in the
 * float parameters with the loss in double. */
static double worst_gradient_error(hp_net *net, const float *x, const uint8_t *labels, int max_checks,
                                   char *where, size_t where_size)
{
    fd_problem p = {net, x, labels};
    fd_loss(&p);
    hp_net_zero_grad(net);
    hp_net_backward(net, labels, BATCH);
    float *analytic = hp_xcalloc(net->n_params, sizeof(float));
    memcpy(analytic, net->grads, net->n_params * sizeof(float));
    double worst = 0.0;
    for (int i = 0; i < net->n_layers; i++) {
        const hp_layer *L = &net->layers[i];
        size_t offs[2] = {L->w_off, L->b_off}, counts[2] = {L->w_count, L->b_count};
        for (int t = 0; t < 2; t++) {
            size_t stride = counts[t] > (size_t)max_checks ? counts[t] / (size_t)max_checks : 1;
            for (size_t k = 0; k < counts[t]; k += stride) {
                float *w = net->params + offs[t] + k;
                const float saved = *w, h = 1e-2f;
                const float plus = saved + h, minus = saved - h;
                *w = plus;
                double lp = fd_loss(&p);
                *w = minus;
                double lm = fd_loss(&p);
                *w = saved;
                double numeric = (lp - lm) / ((double)plus - (double)minus);
                double a = analytic[offs[t] + k];
                double err = fabs(a - numeric) / fmax(fmax(fabs(a), fabs(numeric)), 1e-2);
                if (!(err <= worst)) {
                    worst = isnan(err) ? INFINITY : err;
                    snprintf(where, where_size, "layer %d (%s) %s[%zu]: analytic %.7g numeric %.7g", i,
                             hp_layer_kind_name(L->kind), t ? "b" : "w", k, a, numeric);
                }
            }
        }
    }
    free(analytic);
    return worst;
}

static void check_gradients(const char *name, const hp_config *c, int max_checks, double tol)
{
    hp_net net;
    hp_rng rng;
    hp_rng_seed_for(&rng, 5, 1, HP_STREAM_TEST);
    if (hp_net_init(&net, c, BATCH, &rng) != 0) {
        EXPECT(0, "%s: %s", name, hp_error_message());
        return;
    }
    /* biases and batch-norm parameters away from their initial 0/1 so every
       path carries a gradient of its own */
    for (size_t k = 0; k < net.n_params; k++)
        net.params[k] += (float)(0.2 * hp_rng_uniform(&rng) - 0.1);
    float *x = hp_xcalloc((size_t)BATCH * HP_IMAGE_BYTES, sizeof(float));
    uint8_t labels[BATCH];
    random_batch(x, labels, &rng);
    char where[256] = "";
    double err = worst_gradient_error(&net, x, labels, max_checks, where, sizeof where);
    EXPECT(err < tol, "%s: worst relative gradient error %.3g at %s", name, err, where);
    free(x);
    hp_net_release(&net);
}

static int count_kind(const hp_net *net, hp_layer_kind kind, int projection)
{
    int n = 0;
    for (int i = 0; i < net->n_layers; i++)
        n += net->layers[i].kind == kind && (projection < 0 || net->layers[i].projection == projection);
    return n;
}

TEST(residual_block_gradients_end_to_end)
{
    hp_config c;
    /* block 1: 3 -> 3 filters, identity shortcut; block 2: 3 -> 6, projection;
       batch norm after every conv, global average pooling into the head */
    small_config(&c);
    c.residual = 1;
    c.convs_per_block = 2;
    c.batch_norm = 1;
    c.head_pool = HP_HEAD_GLOBAL_AVG;
    c.bn_momentum = 0.9f;
    c.bn_epsilon = 1e-2f;
    hp_net net;
    hp_rng rng;
    hp_rng_seed_for(&rng, 5, 1, HP_STREAM_TEST);
    EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
    EXPECT(count_kind(&net, HP_LAYER_ADD, 0) == 1 && count_kind(&net, HP_LAYER_ADD, 1) == 1 &&
               count_kind(&net, HP_LAYER_CONV, -1) == 4 && count_kind(&net, HP_LAYER_GLOBAL_AVG_POOL, -1) == 1,
           "layers: one identity and one projection shortcut, 4 convs, global avg pool");
    EXPECT(net.layers[1].kind == HP_LAYER_BATCHNORM && net.layers[1].bn.momentum == 0.9f &&
               net.layers[1].bn.eps == 1e-2f, "batch norm takes bn_momentum and bn_epsilon");
    hp_net_release(&net);
    check_gradients("residual, batch norm, global avg", &c, 60, 2e-2);
    /* stride 2 in every block: projections in both; three convs per block;
       no batch norm; elu; flatten */
    small_config(&c);
    c.residual = 1;
    c.convs_per_block = 3;
    c.stride = 2;
    c.activation = HP_ACT_ELU;
    c.filter_growth = 0;
    check_gradients("residual stride 2, 3 convs per block", &c, 60, 2e-2);
    /* plain blocks with two convs */
    small_config(&c);
    c.convs_per_block = 2;
    c.batch_norm = 1;
    check_gradients("plain, 2 convs per block", &c, 60, 2e-2);
}

TEST(mlp_and_label_smoothing_gradients)
{
    hp_config c;
    small_config(&c);
    c.model = HP_MODEL_MLP;
    c.residual = 1;
    c.head_layers = 3;
    c.head_units = 6;
    c.label_smoothing = 0.2f;
    hp_net net;
    hp_rng rng;
    hp_rng_seed_for(&rng, 5, 1, HP_STREAM_TEST);
    EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
    /* flatten, 3 x (dense, act, [add]), dense: the first head layer has 3072 inputs, no shortcut */
    EXPECT(count_kind(&net, HP_LAYER_CONV, -1) == 0 && count_kind(&net, HP_LAYER_ADD, 0) == 2 &&
               count_kind(&net, HP_LAYER_DENSE, -1) == 4 && net.layers[0].kind == HP_LAYER_FLATTEN,
           "mlp layers");
    hp_net_release(&net);
    check_gradients("mlp, residual head, label smoothing", &c, 40, 2e-2);
}

/* A block whose last conv has zero weights and bias (no batch norm) outputs
 * act(shortcut): the block's input itself, or the 1x1 conv of it. */
TEST(shortcut_forward_values)
{
    for (int projection = 0; projection <= 1; projection++) {
        hp_config c;
        small_config(&c);
        c.num_blocks = 1;
        c.residual = 1;
        c.convs_per_block = 2;
        c.filters = projection ? 5 : 3;
        c.activation = HP_ACT_RELU;
        hp_net net;
        hp_rng rng;
        hp_rng_seed_for(&rng, 9, 1, HP_STREAM_TEST);
        EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
        int add = -1, second_conv = -1;
        for (int i = 0; i < net.n_layers; i++) {
            if (net.layers[i].kind == HP_LAYER_ADD)
                add = i;
            if (net.layers[i].kind == HP_LAYER_CONV && net.layers[i].sub == 2)
                second_conv = i;
        }
        EXPECT(add > 0 && second_conv > 0 && net.layers[add].projection == projection, "layout");
        const hp_layer *conv2 = &net.layers[second_conv], *A = &net.layers[add];
        memset(net.params + conv2->w_off, 0, (conv2->w_count + conv2->b_count) * sizeof(float));
        if (projection) /* a bias of its own for the projection */
            for (size_t k = 0; k < A->b_count; k++)
                net.params[A->b_off + k] = 0.1f * (float)k - 0.2f;
        float *x = hp_xcalloc((size_t)BATCH * HP_IMAGE_BYTES, sizeof(float));
        uint8_t labels[BATCH];
        random_batch(x, labels, &rng);
        hp_net_forward(&net, x, BATCH, 0, NULL);
        /* the ADD's output was turned into relu(...) in place by the next layer */
        int C = c.filters, plane = 32 * 32;
        double worst = 0.0;
        for (int n = 0; n < BATCH; n++)
            for (int oc = 0; oc < C; oc++)
                for (int p = 0; p < plane; p++) {
                    double v;
                    const float *in = x + (size_t)n * HP_IMAGE_BYTES;
                    if (projection) {
                        v = net.params[A->b_off + oc];
                        for (int ic = 0; ic < 3; ic++)
                            v += (double)net.params[A->w_off + (size_t)oc * 3 + ic] * in[ic * plane + p];
                    } else {
                        v = in[oc * plane + p];
                    }
                    v = v > 0 ? v : 0;
                    double got = A->out[((size_t)n * C + oc) * plane + p];
                    worst = fmax(worst, fabs(got - v));
                }
        EXPECT(worst < 1e-5, "projection %d: block output differs from relu(shortcut) by %g", projection, worst);
        free(x);
        hp_net_release(&net);
    }
}

TEST(gradient_clipping)
{
    hp_config c;
    small_config(&c);
    c.num_blocks = 1;
    c.optimizer = HP_OPT_SGD;
    c.learning_rate = 1.0f;
    c.grad_clip_norm = 1e-3f; /* far below the gradient's norm */
    hp_net net;
    hp_rng rng;
    hp_rng_seed_for(&rng, 3, 1, HP_STREAM_TEST);
    EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
    float *x = hp_xcalloc((size_t)BATCH * HP_IMAGE_BYTES, sizeof(float));
    uint8_t labels[BATCH];
    random_batch(x, labels, &rng);
    hp_net_forward(&net, x, BATCH, 1, NULL);
    hp_net_loss(&net, labels, BATCH);
    hp_net_zero_grad(&net);
    hp_net_backward(&net, labels, BATCH);
    double norm = 0.0;
    for (size_t k = 0; k < net.n_params; k++)
        norm += (double)net.grads[k] * net.grads[k];
    norm = sqrt(norm);
    EXPECT(norm > 1e-2 && fabs(hp_net_grad_norm(&net) - norm) < 1e-9 * norm, "norm %g vs %g", norm,
           hp_net_grad_norm(&net));
    float *before = hp_xcalloc(net.n_params, sizeof(float)), *g = hp_xcalloc(net.n_params, sizeof(float));
    memcpy(before, net.params, net.n_params * sizeof(float));
    memcpy(g, net.grads, net.n_params * sizeof(float));
    hp_net_step(&net, 1, 1.0f);
    /* plain SGD with lr 1: the step is the clipped gradient g * clip / (norm + 1e-6) */
    double step_norm = 0.0, worst = 0.0, factor = 1e-3 / (norm + 1e-6);
    for (size_t k = 0; k < net.n_params; k++) {
        double step = (double)before[k] - net.params[k];
        step_norm += step * step;
        worst = fmax(worst, fabs(step - g[k] * factor));
    }
    EXPECT(fabs(sqrt(step_norm) - 1e-3) < 1e-6, "the step's norm is %g, not the clip 1e-3", sqrt(step_norm));
    EXPECT(worst < 1e-7, "step differs from the clipped gradient by %g", worst);
    free(before);
    free(g);
    free(x);
    hp_net_release(&net);
}

TEST(invalid_combinations_are_refused)
{
    hp_config c;
    hp_config_defaults(&c);
    c.residual = 1;
    EXPECT(hp_config_validate(&c) == -1 && strstr(hp_error_message(), "convs_per_block >= 2"),
           "residual with one conv: %s", hp_error_message());
    c.convs_per_block = 2;
    c.padding = HP_PAD_VALID;
    EXPECT(hp_config_validate(&c) == -1 && strstr(hp_error_message(), "padding: same"),
           "residual with valid padding: %s", hp_error_message());
    hp_config_defaults(&c);
    c.model = HP_MODEL_MLP;
    c.residual = 1;
    EXPECT(hp_config_validate(&c) == -1 && strstr(hp_error_message(), "head_layers >= 2"),
           "mlp residual with one head layer: %s", hp_error_message());
    /* convs_per_block with valid padding shrinks every conv */
    hp_config_defaults(&c);
    c.padding = HP_PAD_VALID;
    c.kernel_size = 5;
    c.convs_per_block = 4;
    EXPECT(hp_config_validate(&c) == -1 && strstr(hp_error_message(), "block 2"), "%s", hp_error_message());
}

/* The same end-to-end checks with every 3x3 (then 5x5) stride-1 conv on
 * Winograd, 2x2 tiles then 4x4 (HPTUNE_CONV=winograd, winograd4; these small
 * layers would otherwise stay im2col): its backward pass must be the adjoint
 * inside residual blocks too. */
TEST(residual_block_gradients_winograd)
{
    static const char *const settings[2] = {"winograd", "winograd4"};
    static const hp_conv_algorithm algorithms[2] = {HP_CONV_WINOGRAD, HP_CONV_WINOGRAD4};
    for (int s = 0; s < 2; s++) {
        setenv("HPTUNE_CONV", settings[s], 1);
        char what[96];
        hp_config c;
        small_config(&c);
        c.residual = 1;
        c.convs_per_block = 2;
        c.batch_norm = 1;
        c.head_pool = HP_HEAD_GLOBAL_AVG;
        hp_net net;
        hp_rng rng;
        hp_rng_seed_for(&rng, 5, 1, HP_STREAM_TEST);
        EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
        int winograd = 0;
        for (int i = 0; i < net.n_layers; i++)
            winograd += net.layers[i].kind == HP_LAYER_CONV &&
                        conv2d_algorithm(&net.layers[i].conv) == algorithms[s];
        EXPECT(winograd == 4, "%s: %d of 4 convs on it", settings[s], winograd);
        hp_net_release(&net);
        snprintf(what, sizeof what, "%s: residual, batch norm, global avg", settings[s]);
        check_gradients(what, &c, 60, 2e-2);
        small_config(&c);
        c.convs_per_block = 2;
        snprintf(what, sizeof what, "%s: plain, 2 convs per block", settings[s]);
        check_gradients(what, &c, 60, 2e-2);
        /* 5x5 kernels in the same residual blocks */
        small_config(&c);
        c.kernel_size = 5;
        c.residual = 1;
        c.convs_per_block = 2;
        c.batch_norm = 1;
        c.head_pool = HP_HEAD_GLOBAL_AVG;
        hp_rng_seed_for(&rng, 5, 2, HP_STREAM_TEST);
        EXPECT(hp_net_init(&net, &c, BATCH, &rng) == 0, "%s", hp_error_message());
        winograd = 0;
        for (int i = 0; i < net.n_layers; i++)
            winograd += net.layers[i].kind == HP_LAYER_CONV && net.layers[i].conv.KH == 5 &&
                        conv2d_algorithm(&net.layers[i].conv) == algorithms[s];
        EXPECT(winograd == 4, "%s: %d of 4 5x5 convs on it", settings[s], winograd);
        hp_net_release(&net);
        snprintf(what, sizeof what, "%s 5x5: residual, batch norm, global avg", settings[s]);
        check_gradients(what, &c, 60, 2e-2);
    }
    unsetenv("HPTUNE_CONV");
}

int main(void)
{
    RUN(residual_block_gradients_end_to_end);
    RUN(residual_block_gradients_winograd);
    RUN(mlp_and_label_smoothing_gradients);
    RUN(shortcut_forward_values);
    RUN(gradient_clipping);
    RUN(invalid_combinations_are_refused);
    return testlib_finish();
}
