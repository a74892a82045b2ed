/* net.c - build, run and update the seed CNN family (see net.h). */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv_winograd.h"
#include "dataset.h"
#include "error.h"
#include "optim.h"

static const char *const layer_kind_names[HP_LAYER_KIND_COUNT] = {
    "conv", "batchnorm", "activation", "pool", "dropout", "flatten", "dense", "add", "global_avg_pool"};

const char *hp_layer_kind_name(hp_layer_kind kind) { return layer_kind_names[kind]; }

/* ------------------------------------------------------------ building -- */

typedef struct net_builder {
    hp_net *net;
    int capacity;
    int C, H, W;       /* current activation shape per sample */
    size_t params;     /* running parameter count */
    size_t bn_state;
    hp_conv_algorithm conv_algorithm; /* from HPTUNE_CONV (AUTO unless set) */
} net_builder;

static hp_layer *add_layer(net_builder *b, hp_layer_kind kind)
{
    hp_net *net = b->net;
    if (net->n_layers == b->capacity) {
        b->capacity = b->capacity ? 2 * b->capacity : 16;
        net->layers = hp_xrealloc(net->layers, (size_t)b->capacity * sizeof *net->layers);
    }
    hp_layer *L = &net->layers[net->n_layers++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->in_size = (size_t)b->C * b->H * b->W;
    return L;
}

static void claim_params(net_builder *b, hp_layer *L, size_t w_count, size_t b_count)
{
    L->w_off = b->params;
    L->w_count = w_count;
    L->b_off = b->params + w_count;
    L->b_count = b_count;
    b->params += w_count + b_count;
}

static int add_conv(net_builder *b, int filters, int stride, const hp_config *c)
{
    hp_layer *L = add_layer(b, HP_LAYER_CONV);
    if (conv2d_dims_init(&L->conv, b->net->max_batch, b->C, b->H, b->W, filters, c->kernel_size,
                         c->kernel_size, stride, (hp_padding)c->padding) != 0)
        return -1;
    if (b->conv_algorithm == HP_CONV_IM2COL ||
        (b->conv_algorithm != HP_CONV_AUTO && !conv_winograd_shape(&L->conv)))
        L->conv.algorithm = HP_CONV_IM2COL;
    else
        L->conv.algorithm = b->conv_algorithm; /* AUTO, or a forced Winograd */
    claim_params(b, L, (size_t)filters * b->C * c->kernel_size * c->kernel_size, (size_t)filters);
    L->decay = 1;
    b->C = filters;
    b->H = L->conv.OH;
    b->W = L->conv.OW;
    L->out_size = (size_t)b->C * b->H * b->W;
    b->net->forward_macs += conv2d_forward_macs(&L->conv) / b->net->max_batch;
    return 0;
}

static void add_batchnorm(net_builder *b, const hp_config *c)
{
    hp_layer *L = add_layer(b, HP_LAYER_BATCHNORM);
    L->bn = (batchnorm_dims){.N = b->net->max_batch, .C = b->C, .HW = b->H * b->W,
                             .eps = c->bn_epsilon, .momentum = c->bn_momentum};
    claim_params(b, L, (size_t)b->C, (size_t)b->C);
    L->state_off = b->bn_state;
    b->bn_state += 2 * (size_t)b->C;
    L->out_size = L->in_size;
}

static void add_activation(net_builder *b, const hp_config *c)
{
    hp_layer *L = add_layer(b, HP_LAYER_ACTIVATION);
    L->act = c->activation;
    L->act_alpha = c->activation == HP_ACT_LEAKY_RELU ? c->leaky_slope : 1.0f;
    L->out_size = L->in_size;
}

static int add_pool(net_builder *b, const hp_config *c)
{
    hp_layer *L = add_layer(b, HP_LAYER_POOL);
    int stride = c->pool_stride ? c->pool_stride : c->pool_size;
    if (pool2d_dims_init(&L->pool, b->net->max_batch, b->C, b->H, b->W, c->pool_size, stride) != 0)
        return -1;
    L->pool_kind = c->pool;
    b->H = L->pool.OH;
    b->W = L->pool.OW;
    L->out_size = (size_t)b->C * b->H * b->W;
    return 0;
}

static void add_dropout(net_builder *b, float rate)
{
    if (rate <= 0.0f)
        return;
    hp_layer *L = add_layer(b, HP_LAYER_DROPOUT);
    L->dropout_rate = rate;
    L->out_size = L->in_size;
}

static void add_dense(net_builder *b, int units)
{
    hp_layer *L = add_layer(b, HP_LAYER_DENSE);
    L->dense_in = b->C * b->H * b->W;
    L->dense_out = units;
    claim_params(b, L, (size_t)units * L->dense_in, (size_t)units);
    L->decay = 1;
    b->C = units;
    b->H = b->W = 1;
    L->out_size = (size_t)units;
    b->net->forward_macs += (double)L->dense_in * units;
}

/* The shortcut of a residual unit: adds the input of layer `source` (shape
 * C x H x W per sample) to the current activation, through a 1x1 conv with
 * the given stride when the shapes differ.  The shapes must agree after the
 * projection (padding same: ceil(H/stride) on both paths). */
static int add_shortcut(net_builder *b, int source, int C, int H, int W, int stride)
{
    int out_C = b->C, out_H = b->H, out_W = b->W;
    hp_layer *L = add_layer(b, HP_LAYER_ADD);
    L->skip_from = source;
    b->net->layers[source].skip_to = b->net->n_layers; /* the ADD's index + 1 */
    L->out_size = L->in_size;
    if (C == out_C && H == out_H && W == out_W && stride == 1)
        return 0;
    L->projection = 1;
    if (conv2d_dims_init(&L->conv, b->net->max_batch, C, H, W, out_C, 1, 1, stride, HP_PAD_SAME) != 0)
        return -1;
    if (L->conv.OH != out_H || L->conv.OW != out_W)
        HP_PANIC("shortcut %dx%d does not meet the block's %dx%d output", L->conv.OH, L->conv.OW, out_H, out_W);
    claim_params(b, L, (size_t)out_C * C, (size_t)out_C);
    L->decay = 1;
    b->net->forward_macs += conv2d_forward_macs(&L->conv) / b->net->max_batch;
    return 0;
}

static void add_global_avg_pool(net_builder *b)
{
    hp_layer *L = add_layer(b, HP_LAYER_GLOBAL_AVG_POOL);
    b->H = b->W = 1;
    L->out_size = (size_t)b->C;
}

static int has_conv_weights(const hp_layer *L)
{
    return L->kind == HP_LAYER_CONV || (L->kind == HP_LAYER_ADD && L->projection);
}

static int fan_out_of(const hp_layer *L)
{
    return has_conv_weights(L) ? L->conv.OC * L->conv.KH * L->conv.KW : L->dense_out;
}

static int fan_in_of(const hp_layer *L)
{
    return has_conv_weights(L) ? L->conv.C * L->conv.KH * L->conv.KW : L->dense_in;
}

/* He normal for weights followed by a ReLU-family activation; Glorot uniform
 * otherwise (including the final classifier); biases zero; BN gamma 1. */
static void initialise(hp_net *net, hp_rng *rng)
{
    int relu_family = net->config.activation == HP_ACT_RELU ||
                      net->config.activation == HP_ACT_LEAKY_RELU ||
                      net->config.activation == HP_ACT_ELU;
    for (int i = 0; i < net->n_layers; i++) {
        hp_layer *L = &net->layers[i];
        float *w = net->params + L->w_off;
        if (has_conv_weights(L) || L->kind == HP_LAYER_DENSE) {
            int is_classifier = (i == net->n_layers - 1);
            int init = net->config.init;
            if (init == HP_INIT_TORCH) {
                init_torch_uniform(w, L->w_count, fan_in_of(L), rng);
                init_torch_uniform(net->params + L->b_off, L->b_count, fan_in_of(L), rng);
            } else if (!is_classifier && (init == HP_INIT_HE || (init == HP_INIT_AUTO && relu_family))) {
                init_he_normal(w, L->w_count, fan_in_of(L), rng);
            } else {
                init_glorot_uniform(w, L->w_count, fan_in_of(L), fan_out_of(L), rng);
            }
        } else if (L->kind == HP_LAYER_BATCHNORM) {
            for (size_t k = 0; k < L->w_count; k++)
                w[k] = 1.0f;
            float *running_var = net->bn_state + L->state_off + L->bn.C;
            for (int k = 0; k < L->bn.C; k++)
                running_var[k] = 1.0f;
        }
    }
}

/* model cnn: the conv blocks (net.h). */
static int add_conv_blocks(net_builder *b, const hp_config *config)
{
    hp_net *net = b->net;
    for (int block = 0; block < config->num_blocks; block++) {
        int source = net->n_layers, in_C = b->C, in_H = b->H, in_W = b->W;
        for (int k = 0; k < config->convs_per_block; k++) {
            int stride = k == 0 ? config->stride : 1;
            if (add_conv(b, hp_config_block_filters(config, block), stride, config) != 0)
                return -1;
            net->layers[net->n_layers - 1].block = block + 1;
            net->layers[net->n_layers - 1].sub = k + 1;
            if (config->batch_norm) {
                add_batchnorm(b, config);
                net->layers[net->n_layers - 1].block = block + 1;
                net->layers[net->n_layers - 1].sub = k + 1;
            }
            if (!(config->residual && k == config->convs_per_block - 1))
                add_activation(b, config);
        }
        if (config->residual) {
            if (add_shortcut(b, source, in_C, in_H, in_W, config->stride) != 0)
                return -1;
            net->layers[net->n_layers - 1].block = block + 1;
            add_activation(b, config);
        }
        if (add_pool(b, config) != 0)
            return -1;
        add_dropout(b, config->conv_dropout);
    }
    return 0;
}

/* The layers of config, with their shapes and parameter offsets (no buffers). */
static int build_layers(hp_net *net, const hp_config *config, int max_batch, net_builder *b)
{
    memset(net, 0, sizeof *net);
    if (hp_config_validate(config) != 0)
        return -1;
    net->config = *config;
    net->max_batch = max_batch;
    *b = (net_builder){.net = net, .C = HP_IMAGE_C, .H = HP_IMAGE_H, .W = HP_IMAGE_W};
    /* The one switch read from the environment: how convolutions are computed
       (README: Performance); it changes speed and rounding, not the model. */
    if (conv2d_algorithm_parse(getenv("HPTUNE_CONV"), &b->conv_algorithm) != 0)
        return -1;
    if (config->model == HP_MODEL_CNN && add_conv_blocks(b, config) != 0)
        return -1;
    if (config->model == HP_MODEL_CNN && config->head_pool == HP_HEAD_GLOBAL_AVG) {
        add_global_avg_pool(b);
    } else {
        hp_layer *flatten = add_layer(b, HP_LAYER_FLATTEN);
        flatten->out_size = flatten->in_size;
    }
    for (int h = 0; h < config->head_layers; h++) {
        int source = net->n_layers;
        int shortcut = config->model == HP_MODEL_MLP && config->residual &&
                       (size_t)b->C * b->H * b->W == (size_t)config->head_units;
        add_dense(b, config->head_units);
        add_activation(b, config);
        if (shortcut && add_shortcut(b, source, config->head_units, 1, 1, 1) != 0)
            return -1;
        add_dropout(b, config->head_dropout);
    }
    add_dense(b, HP_NUM_CLASSES);
    net->n_params = b->params;
    net->n_bn_state = b->bn_state;
    return 0;
}

/* Every buffer of the network: allocated (allocate != 0) or only counted.
 * Returns the floats they take. */
static size_t layer_buffers(hp_net *net, int allocate)
{
    int max_batch = net->max_batch;
    size_t total = 4 * net->n_params + net->n_bn_state; /* params, grads, m, v; bn state */
    if (allocate) {
        net->params = hp_xalloc_floats(net->n_params);
        net->grads = hp_xalloc_floats(net->n_params);
        net->opt_m = hp_xalloc_floats(net->n_params);
        net->opt_v = hp_xalloc_floats(net->n_params);
        net->bn_state = hp_xalloc_floats(net->n_bn_state);
    }
    size_t max_act = (size_t)HP_IMAGE_BYTES, workspace = 0;
    for (int i = 0; i < net->n_layers; i++) {
        hp_layer *L = &net->layers[i];
        size_t n_out = (size_t)max_batch * L->out_size, out = 0, aux = 0, skip = 0;
        if (L->out_size > max_act)
            max_act = L->out_size;
        switch (L->kind) {
        case HP_LAYER_CONV:
            out = n_out;
            if (conv2d_workspace_floats(&L->conv) > workspace)
                workspace = conv2d_workspace_floats(&L->conv);
            break;
        case HP_LAYER_DENSE:
        case HP_LAYER_BATCHNORM:
        case HP_LAYER_DROPOUT:
        case HP_LAYER_POOL:
        case HP_LAYER_GLOBAL_AVG_POOL:
            out = n_out;
            break;
        case HP_LAYER_ADD:
            out = n_out;
            if (L->projection) {
                aux = n_out; /* the projected shortcut */
                if (conv2d_workspace_floats(&L->conv) > workspace)
                    workspace = conv2d_workspace_floats(&L->conv);
            }
            skip = (size_t)max_batch * net->layers[L->skip_from].in_size;
            break;
        case HP_LAYER_ACTIVATION:
        case HP_LAYER_FLATTEN:
        case HP_LAYER_KIND_COUNT:
            break;
        }
        if (L->kind == HP_LAYER_POOL || L->kind == HP_LAYER_DROPOUT)
            aux = n_out; /* POOL: int32 argmax, same size as floats; DROPOUT: mask */
        else if (L->kind == HP_LAYER_BATCHNORM)
            aux = 2 * (size_t)L->bn.C;
        if (allocate && out)
            L->out = hp_xalloc_floats(out);
        if (allocate && aux)
            L->aux = hp_xalloc_floats(aux);
        if (allocate && skip)
            L->skip_grad = hp_xalloc_floats(skip);
        total += out + aux + skip;
    }
    total += workspace + 2 * (size_t)max_batch * max_act + (size_t)max_batch * HP_NUM_CLASSES;
    if (allocate) {
        net->workspace = hp_xalloc_floats(workspace);
        net->grad_a = hp_xalloc_floats((size_t)max_batch * max_act);
        net->grad_b = hp_xalloc_floats((size_t)max_batch * max_act);
        net->probs = hp_xalloc_floats((size_t)max_batch * HP_NUM_CLASSES);
    }
    return total;
}

int hp_net_init(hp_net *net, const hp_config *config, int max_batch, hp_rng *init_rng)
{
    net_builder b;
    if (build_layers(net, config, max_batch, &b) != 0)
        goto fail;
    layer_buffers(net, 1);
    initialise(net, init_rng);
    return 0;
fail:
    hp_error_prefix("the network cannot be built");
    hp_net_release(net);
    return -1;
}

int hp_net_plan_shapes(hp_net_plan *plan, const hp_config *config, int max_batch)
{
    hp_net net;
    net_builder b;
    memset(plan, 0, sizeof *plan);
    int rc = build_layers(&net, config, max_batch, &b);
    if (rc == 0) {
        plan->n_params = net.n_params;
        plan->n_bn_state = net.n_bn_state;
        plan->forward_flops = 2.0 * net.forward_macs;
        plan->bytes = sizeof(float) * layer_buffers(&net, 0);
        plan->n_layers = net.n_layers;
        plan->features = net.layers[net.n_layers - 1].dense_in;
    } else if (strncmp(hp_error_message(), "the network", 11) != 0) {
        hp_error_prefix("the network cannot be built");
    }
    free(net.layers);
    return rc;
}

void hp_net_release(hp_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        free(net->layers[i].kind == HP_LAYER_ACTIVATION || net->layers[i].kind == HP_LAYER_FLATTEN
                 ? NULL
                 : net->layers[i].out);
        free(net->layers[i].aux);
        free(net->layers[i].skip_grad);
    }
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->opt_m);
    free(net->opt_v);
    free(net->bn_state);
    free(net->workspace);
    free(net->grad_a);
    free(net->grad_b);
    free(net->probs);
    memset(net, 0, sizeof *net);
}

/* ------------------------------------------------------------- running -- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fusions (same values as running the layers one by one):
 *  - an activation right after a conv is applied by conv2d_forward_act while
 *    each output plane is in cache; the activation layer's forward is a no-op;
 *  - an activation right before a max pool has its backward applied to the
 *    pool's (4x smaller) output gradient instead of its input gradient: only
 *    the window maxima receive gradient, and there the activation output is
 *    the pooled value, so act'(pooled) is the factor they need.  (Positions
 *    that were not a maximum get 0 either way.) */
static int act_fused_into_conv(const hp_net *net, int i)
{
    return i > 0 && i < net->n_layers && net->layers[i].kind == HP_LAYER_ACTIVATION &&
           net->layers[i - 1].kind == HP_LAYER_CONV;
}

static int act_backward_fused_into_pool(const hp_net *net, int i)
{
    return i >= 0 && i + 1 < net->n_layers && net->layers[i].kind == HP_LAYER_ACTIVATION &&
           net->layers[i + 1].kind == HP_LAYER_POOL && net->layers[i + 1].pool_kind == HP_POOL_MAX;
}

const float *hp_net_forward(hp_net *net, const float *x, int n, int train, hp_rng *dropout_rng)
{
    const float *cur = x;
    for (int i = 0; i < net->n_layers; i++) {
        hp_layer *L = &net->layers[i];
        double t0 = net->timing ? now_seconds() : 0.0;
        L->in = cur;
        float *w = net->params + L->w_off, *bias = net->params + L->b_off;
        switch (L->kind) {
        case HP_LAYER_CONV: {
            conv2d_dims d = L->conv;
            d.N = n;
            if (act_fused_into_conv(net, i + 1)) {
                const hp_layer *act = &net->layers[i + 1];
                conv2d_forward_act(L->out, net->workspace, cur, w, bias, &d, (hp_activation)act->act,
                                   act->act_alpha);
            } else {
                conv2d_forward(L->out, net->workspace, cur, w, bias, &d);
            }
            cur = L->out;
            break;
        }
        case HP_LAYER_BATCHNORM: {
            batchnorm_dims d = L->bn;
            d.N = n;
            float *running_mean = net->bn_state + L->state_off, *running_var = running_mean + d.C;
            if (train)
                batchnorm_forward_train(L->out, L->aux, L->aux + d.C, running_mean, running_var, cur,
                                        w, bias, &d);
            else
                batchnorm_forward_eval(L->out, cur, w, bias, running_mean, running_var, &d);
            cur = L->out;
            break;
        }
        case HP_LAYER_ACTIVATION:
            /* in place: the buffer now holds the activation's output */
            if (!act_fused_into_conv(net, i))
                activation_forward((float *)cur, cur, (size_t)n * L->in_size,
                                   (hp_activation)L->act, L->act_alpha);
            L->out = (float *)cur;
            break;
        case HP_LAYER_POOL: {
            pool2d_dims d = L->pool;
            d.N = n;
            pool2d_forward(L->out, (int32_t *)L->aux, cur, (hp_pool)L->pool_kind, &d);
            cur = L->out;
            break;
        }
        case HP_LAYER_DROPOUT:
            if (train) {
                dropout_forward(L->out, L->aux, cur, (size_t)n * L->in_size, L->dropout_rate,
                                dropout_rng);
                cur = L->out;
            }
            break;
        case HP_LAYER_FLATTEN:
            break;
        case HP_LAYER_DENSE:
            dense_forward(L->out, cur, w, bias, n, L->dense_in, L->dense_out);
            cur = L->out;
            break;
        case HP_LAYER_ADD: {
            /* out = cur + shortcut; the source layer's input is still intact
               (every layer since wrote its own buffer or ran in place on one) */
            const float *shortcut = net->layers[L->skip_from].in;
            if (L->projection) {
                conv2d_dims d = L->conv;
                d.N = n;
                conv2d_forward(L->aux, net->workspace, shortcut, w, bias, &d);
                shortcut = L->aux;
            }
            size_t count = (size_t)n * L->out_size;
            for (size_t k = 0; k < count; k++)
                L->out[k] = cur[k] + shortcut[k];
            cur = L->out;
            break;
        }
        case HP_LAYER_GLOBAL_AVG_POOL:
            global_avg_pool_forward(L->out, cur, n, (int)L->out_size, (int)(L->in_size / L->out_size));
            cur = L->out;
            break;
        case HP_LAYER_KIND_COUNT:
            HP_PANIC("bad layer kind");
        }
        if (net->timing) {
            const double dt = now_seconds() - t0;
            net->layer_seconds[L->kind] += dt;
            L->forward_seconds += dt;
        }
    }
    net->last_forward_train = train;
    return cur;
}

static float loss_smoothing(const hp_net *net)
{
    return net->last_forward_train ? net->config.label_smoothing : 0.0f;
}

double hp_net_loss(hp_net *net, const uint8_t *labels, int n)
{
    const float *logits = net->layers[net->n_layers - 1].out;
    return softmax_xent_forward(net->probs, logits, labels, n, HP_NUM_CLASSES, loss_smoothing(net));
}

void hp_net_backward(hp_net *net, const uint8_t *labels, int n)
{
    float *d = net->grad_a, *other = net->grad_b;
    softmax_xent_backward(d, net->probs, labels, n, HP_NUM_CLASSES, 1.0f / (float)n,
                          loss_smoothing(net));
    for (int i = net->n_layers - 1; i >= 0; i--) {
        hp_layer *L = &net->layers[i];
        double t0 = net->timing ? now_seconds() : 0.0;
        float *dw = net->grads + L->w_off, *db = net->grads + L->b_off;
        const float *w = net->params + L->w_off;
        float *d_in = (i == 0) ? NULL : other;
        int swapped = 1;
        switch (L->kind) {
        case HP_LAYER_CONV: {
            conv2d_dims dims = L->conv;
            dims.N = n;
            conv2d_backward(d_in, dw, db, net->workspace, d, L->in, w, &dims);
            break;
        }
        case HP_LAYER_BATCHNORM: {
            batchnorm_dims dims = L->bn;
            dims.N = n;
            batchnorm_backward(d_in, dw, db, d, L->in, w, L->aux, L->aux + dims.C, &dims);
            break;
        }
        case HP_LAYER_ACTIVATION:
            if (!act_backward_fused_into_pool(net, i))
                activation_backward(d, d, L->out, (size_t)n * L->in_size, (hp_activation)L->act,
                                    L->act_alpha);
            swapped = 0;
            break;
        case HP_LAYER_POOL: {
            pool2d_dims dims = L->pool;
            dims.N = n;
            if (act_backward_fused_into_pool(net, i - 1)) {
                const hp_layer *act = &net->layers[i - 1];
                activation_backward(d, d, L->out, (size_t)n * L->out_size, (hp_activation)act->act,
                                    act->act_alpha);
            }
            pool2d_backward(d_in, d, (const int32_t *)L->aux, (hp_pool)L->pool_kind, &dims);
            break;
        }
        case HP_LAYER_DROPOUT:
            dropout_backward(d_in, d, L->aux, (size_t)n * L->in_size);
            break;
        case HP_LAYER_FLATTEN:
            swapped = 0;
            break;
        case HP_LAYER_DENSE:
            dense_backward(d_in, dw, db, d, L->in, w, n, L->dense_in, L->dense_out);
            break;
        case HP_LAYER_ADD: {
            /* the main path's gradient is d itself; the shortcut's is kept
               until the backward pass reaches its source */
            const hp_layer *source = &net->layers[L->skip_from];
            if (L->projection) {
                conv2d_dims dims = L->conv;
                dims.N = n;
                conv2d_backward(L->skip_grad, dw, db, net->workspace, d, source->in, w, &dims);
            } else {
                memcpy(L->skip_grad, d, (size_t)n * L->out_size * sizeof *d);
            }
            swapped = 0;
            break;
        }
        case HP_LAYER_GLOBAL_AVG_POOL:
            if (d_in)
                global_avg_pool_backward(d_in, d, n, (int)L->out_size, (int)(L->in_size / L->out_size));
            break;
        case HP_LAYER_KIND_COUNT:
            HP_PANIC("bad layer kind");
        }
        if (swapped && d_in) {
            other = d;
            d = d_in;
        }
        if (L->skip_to && i > 0) {
            /* d is now the gradient of this layer's input: add the shortcut's share */
            const hp_layer *add = &net->layers[L->skip_to - 1];
            size_t count = (size_t)n * L->in_size;
            for (size_t k = 0; k < count; k++)
                d[k] += add->skip_grad[k];
        }
        if (net->timing) {
            const double dt = now_seconds() - t0;
            net->layer_seconds[L->kind] += dt;
            L->backward_seconds += dt;
        }
    }
}

void hp_net_zero_grad(hp_net *net) { memset(net->grads, 0, net->n_params * sizeof(float)); }

double hp_net_grad_norm(const hp_net *net)
{
    double sum = 0.0;
    for (size_t k = 0; k < net->n_params; k++)
        sum += (double)net->grads[k] * (double)net->grads[k];
    return sqrt(sum);
}

/* Global norm clipping (Pascanu et al. 2013, "On the difficulty of training
 * recurrent neural networks"; PyTorch's clip_grad_norm_ with
 * max_norm / (norm + 1e-6)): one norm over every parameter, one factor. */
static void clip_gradients(hp_net *net)
{
    double norm = hp_net_grad_norm(net);
    double clip = net->config.grad_clip_norm;
    if (!(norm > clip))
        return;
    float factor = (float)(clip / (norm + 1e-6));
    for (size_t k = 0; k < net->n_params; k++)
        net->grads[k] *= factor;
}

void hp_net_step(hp_net *net, long t, float lr)
{
    if (net->config.grad_clip_norm > 0.0f)
        clip_gradients(net);
    for (int i = 0; i < net->n_layers; i++) {
        const hp_layer *L = &net->layers[i];
        if (L->w_count == 0)
            continue;
        float wd = L->decay ? net->config.weight_decay : 0.0f;
        hp_optim_step(&net->config, net->params + L->w_off, net->grads + L->w_off,
                      net->opt_m + L->w_off, net->opt_v + L->w_off, L->w_count, t, lr, wd);
        hp_optim_step(&net->config, net->params + L->b_off, net->grads + L->b_off,
                      net->opt_m + L->b_off, net->opt_v + L->b_off, L->b_count, t, lr, 0.0f);
    }
}

void hp_net_layer_name(const hp_net *net, int i, char *buf, size_t size)
{
    const hp_layer *L = &net->layers[i];
    switch (L->kind) {
    case HP_LAYER_CONV:
        snprintf(buf, size, "conv %d->%d %dx%d %dx%d %s", L->conv.C, L->conv.OC, L->conv.KH, L->conv.KW,
                 L->conv.OH, L->conv.OW, conv2d_algorithm_name(&L->conv));
        break;
    case HP_LAYER_POOL:
        snprintf(buf, size, "%spool %dx%d->%dx%d", L->pool_kind == HP_POOL_MAX ? "max" : "avg", L->pool.H,
                 L->pool.W, L->pool.OH, L->pool.OW);
        break;
    case HP_LAYER_DROPOUT:
        snprintf(buf, size, "dropout %.2g", (double)L->dropout_rate);
        break;
    case HP_LAYER_DENSE:
        snprintf(buf, size, "dense %d->%d", L->dense_in, L->dense_out);
        break;
    case HP_LAYER_ADD:
        if (L->projection)
            snprintf(buf, size, "add conv1x1 %d->%d s%d %s", L->conv.C, L->conv.OC, L->conv.stride,
                     conv2d_algorithm_name(&L->conv));
        else
            snprintf(buf, size, "add");
        break;
    default:
        snprintf(buf, size, "%s", hp_layer_kind_name(L->kind));
        break;
    }
}

void hp_net_layer_flops(const hp_net *net, int i, double *forward, double *backward)
{
    const hp_layer *L = &net->layers[i];
    double macs = 0.0;
    if (L->kind == HP_LAYER_CONV || (L->kind == HP_LAYER_ADD && L->projection))
        macs = conv2d_forward_macs(&L->conv) / L->conv.N;
    else if (L->kind == HP_LAYER_DENSE)
        macs = (double)L->dense_in * L->dense_out;
    *forward = 2.0 * macs;
    *backward = (i == 0 ? 2.0 : 4.0) * macs; /* hp_net_backward: no d_in for layer 0 */
}

void hp_net_describe(const hp_net *net, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < net->n_layers && used < size; i++) {
        const hp_layer *L = &net->layers[i];
        int n = 0;
        switch (L->kind) {
        case HP_LAYER_CONV:
            n = snprintf(buf + used, size - used, "conv %d->%d k%d s%d ->%dx%d", L->conv.C, L->conv.OC,
                         L->conv.KH, L->conv.stride, L->conv.OH, L->conv.OW);
            break;
        case HP_LAYER_POOL:
            n = snprintf(buf + used, size - used, "%spool%d ->%dx%d",
                         L->pool_kind == HP_POOL_MAX ? "max" : "avg", L->pool.size, L->pool.OH, L->pool.OW);
            break;
        case HP_LAYER_DENSE:
            n = snprintf(buf + used, size - used, "dense %d->%d", L->dense_in, L->dense_out);
            break;
        case HP_LAYER_DROPOUT:
            n = snprintf(buf + used, size - used, "dropout %.2g", (double)L->dropout_rate);
            break;
        case HP_LAYER_ADD:
            if (L->projection)
                n = snprintf(buf + used, size - used, "add shortcut conv1x1 %d->%d s%d", L->conv.C,
                             L->conv.OC, L->conv.stride);
            else
                n = snprintf(buf + used, size - used, "add shortcut");
            break;
        default:
            n = snprintf(buf + used, size - used, "%s", hp_layer_kind_name(L->kind));
            break;
        }
        if (n < 0)
            break;
        used += (size_t)n;
        if (i + 1 < net->n_layers && used + 3 < size)
            used += (size_t)snprintf(buf + used, size - used, " | ");
    }
}
