/* net.h - the seed CNN family built from a hp_config, over one arena.
 *
 *   input (N,3,32,32)
 *   model cnn:
 *     num_blocks x [convs_per_block x (conv (filters, kernel_size, stride on
 *                   the block's first conv only, padding) -> (batch norm)
 *                   -> activation) -> pool -> dropout(conv_dropout)]
 *       residual: the block's last activation comes after the shortcut:
 *                 conv -> (bn) -> act -> ... -> conv -> (bn) -> add(shortcut)
 *                 -> act -> pool -> dropout, the shortcut being the block's
 *                 input, or a 1x1 conv (stride, with a bias) of it when the
 *                 filters or the size change (He et al. 2016, "Deep Residual
 *                 Learning", option B)
 *     flatten (head_pool flatten) or global average pooling (global_avg)
 *   model mlp: flatten
 *   then head_layers x [dense head_units -> activation -> dropout(head_dropout)]
 *       mlp with residual: dense -> activation -> add(the dense's input) ->
 *       dropout for every head layer whose input has head_units features
 *   -> dense 10 -> softmax cross-entropy (label_smoothing while training)
 *
 * A shortcut is an ADD layer whose skip_from names the layer whose INPUT is
 * the shortcut's source; that layer's skip_to names the ADD back (index + 1),
 * so the backward pass adds the shortcut's gradient (held in the ADD's
 * skip_grad) once the gradient reaches the source.
 *
 * Ownership: hp_net owns every buffer below; hp_net_release frees them.
 * Parameters, gradients and the optimizer's two moment buffers are each one
 * contiguous array of n_params floats with the same layout, so zero-grad is
 * one memset and the optimizer walks tensors by offset.  Activations are
 * allocated for max_batch; a forward/backward may use any batch <= max_batch.
 * Activation layers run in place on their input buffer (their backward needs
 * only the output).  Dropout with rate 0 is not instantiated.
 */
#ifndef HPTUNE_NET_H
#define HPTUNE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "layers.h"
#include "rng.h"

typedef enum {
    HP_LAYER_CONV = 0,
    HP_LAYER_BATCHNORM,
    HP_LAYER_ACTIVATION,
    HP_LAYER_POOL,
    HP_LAYER_DROPOUT,
    HP_LAYER_FLATTEN,
    HP_LAYER_DENSE,
    HP_LAYER_ADD,             /* residual shortcut (optionally a 1x1 projection conv) */
    HP_LAYER_GLOBAL_AVG_POOL, /* (C,H,W) -> (C) */
    HP_LAYER_KIND_COUNT
} hp_layer_kind;

typedef struct hp_layer {
    hp_layer_kind kind;
    size_t in_size, out_size;   /* floats per sample */
    int block, sub;             /* 1-based conv block and position in it (CONV, BN, ADD); 0 elsewhere */
    conv2d_dims conv;           /* CONV, and ADD's projection (N = max_batch) */
    pool2d_dims pool;           /* POOL */
    batchnorm_dims bn;          /* BATCHNORM */
    int pool_kind;              /* hp_pool */
    int act;                    /* hp_activation */
    float act_alpha;
    float dropout_rate;
    int dense_in, dense_out;    /* DENSE */
    int skip_from;              /* ADD: the layer whose input the shortcut adds */
    int skip_to;                /* index + 1 of the ADD whose shortcut starts at this layer's input */
    int projection;             /* ADD: the shortcut is the 1x1 conv in `conv` (w, b) */
    /* parameters: offsets into the arenas (CONV/DENSE/ADD projection: w then b; BN: gamma then beta) */
    size_t w_off, w_count, b_off, b_count;
    int decay;                  /* weight decay applies to w */
    size_t state_off;           /* BN: running mean (C) then running var (C) in net->bn_state */
    float *out;                 /* (max_batch, out_size); ACTIVATION/FLATTEN alias their input */
    float *aux;                 /* POOL: int32 argmax; DROPOUT: mask; BN: mean and inv_std (2C);
                                   ADD with projection: the projected shortcut (max_batch, out_size) */
    float *skip_grad;           /* ADD: gradient for the shortcut's source (max_batch, its size) */
    const float *in;            /* input of the last forward call (set by forward) */
    double forward_seconds, backward_seconds; /* accumulated when net->timing is on */
} hp_layer;

typedef struct hp_net {
    hp_config config;
    int max_batch;
    int n_layers;
    hp_layer *layers;            /* owned */
    size_t n_params;
    float *params, *grads;       /* (n_params) each, owned */
    float *opt_m, *opt_v;        /* optimizer moments (n_params) each, owned */
    size_t n_bn_state;
    float *bn_state;             /* running statistics, owned */
    float *workspace;            /* shared conv scratch, owned */
    float *grad_a, *grad_b;      /* ping-pong gradient buffers, owned */
    float *probs;                /* (max_batch, 10), owned */
    double forward_macs;         /* conv+dense multiply-adds per sample, forward */
    int last_forward_train;      /* the last forward was in training mode (loss: label smoothing) */
    double layer_seconds[HP_LAYER_KIND_COUNT]; /* accumulated when timing is on (also per
                                                  layer: hp_layer.forward/backward_seconds) */
    int timing;
} hp_net;

/* Build the network for config (validated with hp_config_validate) and
 * initialise its weights from rng.  Returns -1 with a message when the
 * configuration cannot be built. */
int hp_net_init(hp_net *net, const hp_config *config, int max_batch, hp_rng *init_rng);
void hp_net_release(hp_net *net);

/* A network's size without building it (`hptune check`): the same layer
 * rules as hp_net_init, no buffers allocated. */
typedef struct hp_net_plan {
    size_t n_params;       /* trained parameters (weights, biases, batch-norm gamma/beta) */
    size_t n_bn_state;     /* batch-norm running statistics */
    double forward_flops;  /* per image, forward: 2 x the conv and dense multiply-adds;
                              a training step costs about 3x (forward + backward) */
    size_t bytes;          /* every buffer hp_net_init allocates for max_batch: parameters,
                              gradients, the two optimizer moments, activations, masks,
                              the conv workspace and the gradient buffers */
    int n_layers;
    int features;          /* inputs of the classifier (10 units) */
} hp_net_plan;
/* -1 with the reason when the configuration cannot be built. */
int hp_net_plan_shapes(hp_net_plan *plan, const hp_config *config, int max_batch);

/* Forward pass on x (n,3,32,32); returns the logits (n,10) (owned by net).
 * train != 0: batch-norm batch statistics and dropout (masks from rng). */
const float *hp_net_forward(hp_net *net, const float *x, int n, int train, hp_rng *dropout_rng);
/* Loss of the last forward's logits; fills net->probs.  Mean over the batch.
 * After a training forward the targets are smoothed by config.label_smoothing
 * (the loss being optimised); after an evaluation forward the loss is the
 * plain cross-entropy, comparable across label_smoothing values. */
double hp_net_loss(hp_net *net, const uint8_t *labels, int n);
/* Backward from the last hp_net_loss; ACCUMULATES into net->grads. */
void hp_net_backward(hp_net *net, const uint8_t *labels, int n);
void hp_net_zero_grad(hp_net *net);
/* L2 norm of net->grads: squares summed in double in parameter order. */
double hp_net_grad_norm(const hp_net *net);
/* One optimizer step over every parameter tensor (t is 1-based).  With
 * config.grad_clip_norm > 0 the gradients are first scaled by
 * min(1, clip / ||g||), ||g|| the L2 norm of every gradient (hp_net_grad_norm). */
void hp_net_step(hp_net *net, long t, float lr);
/* A short human-readable summary ("conv 3->32 k3 s1 same 32x32 | ..."). */
void hp_net_describe(const hp_net *net, char *buf, size_t size);
/* A short name of layer i for profiles: "conv 3->32 3x3 32x32 im2col",
 * "maxpool 32x32->16x16", "dropout 0.25", "dense 512->128",
 * "add conv1x1 32->64 s2 im2col" (a projected shortcut). */
void hp_net_layer_name(const hp_net *net, int i, char *buf, size_t size);
/* Floating-point operations per image of layer i (conv, dense and a
 * shortcut's 1x1 projection; 0 for the others), counted as the direct
 * computation's 2 per multiply-add: forward 2 MAC; backward 2 MAC for the
 * weight gradient plus 2 MAC for the input gradient, which the first layer
 * does not compute.  Timers divided into these give GFLOPS (bench, train
 * --time-layers); a Winograd layer so shows its speed, not its arithmetic. */
void hp_net_layer_flops(const hp_net *net, int i, double *forward, double *backward);
const char *hp_layer_kind_name(hp_layer_kind kind);

#endif
