/* layers.h - the CNN layers: free functions in forward/backward pairs.
 *
 * Conventions (all layers, see src/nn/layer_*.c, one layer per file):
 *  - Tensors are float32, NCHW, contiguous. Dimension letters:
 *      N batch, C input channels, H/W input height/width,
 *      OC output channels, OH/OW output height/width, F features, K classes.
 *  - Argument order: outputs first, then inputs and weights, then dims.
 *  - forward writes its output (overwrites).
 *  - backward WRITES d_in (overwrites; d_in may be NULL when the layer is the
 *    first one and nobody needs it) and ACCUMULATES (+=) into parameter
 *    gradients d_w/d_b/..., which the caller zeroes once per step.
 *  - Gradients are of the scalar loss L: d_x = dL/dx (no sign flip).
 *  - Workspace pointers are scratch owned by the caller (the network sizes one
 *    shared buffer to the largest layer, *_workspace_floats()).
 *  - No allocation inside forward/backward; no MPI; no I/O.
 */
#ifndef HPTUNE_LAYERS_H
#define HPTUNE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* ------------------------------------------------------------ conv2d ---- */
typedef enum { HP_PAD_SAME = 0, HP_PAD_VALID = 1 } hp_padding;

/* How a convolution is computed.  AUTO (what conv2d_dims_init sets) picks
 * Winograd for 3x3 and 5x5 stride-1 layers with enough input channels
 * (conv2d_algorithm says which tiles) and im2col + sgemm for the rest; the
 * others force one (tests and benchmarks; the Winograd ones need a 3x3 or
 * 5x5 kernel and stride 1): WINOGRAD computes F(2x2,3x3) or F(2x2,5x5),
 * WINOGRAD4 F(4x4,3x3) or F(4x4,5x5). */
typedef enum {
    HP_CONV_AUTO = 0,
    HP_CONV_IM2COL = 1,
    HP_CONV_WINOGRAD = 2,
    HP_CONV_WINOGRAD4 = 3
} hp_conv_algorithm;

typedef struct conv2d_dims {
    int N;            /* batch */
    int C, H, W;      /* input */
    int OC, KH, KW;   /* filters, kernel height/width */
    int stride;       /* same in both directions */
    int pad_top, pad_left; /* zero padding before the data; "same" follows
                              TensorFlow: total = max((O-1)*stride + K - I, 0),
                              before = total/2 (the extra one goes after) */
    int OH, OW;       /* output; same: ceil(I/stride), valid: (I-K)/stride+1 */
    hp_conv_algorithm algorithm; /* AUTO unless the caller forces one */
} conv2d_dims;

/* Fill dims; returns 0, or -1 (HP_ERR) when the output would be empty. */
int conv2d_dims_init(conv2d_dims *d, int N, int C, int H, int W, int OC, int KH, int KW,
                     int stride, hp_padding pad);
/* Scratch floats needed by forward and backward (im2col or Winograd buffers). */
size_t conv2d_workspace_floats(const conv2d_dims *d);
/* The algorithm d resolves to (never AUTO), and its name ("im2col",
 * "winograd", "winograd4"). */
hp_conv_algorithm conv2d_algorithm(const conv2d_dims *d);
const char *conv2d_algorithm_name(const conv2d_dims *d);
/* The HPTUNE_CONV setting: text "auto", "im2col", "winograd" or "winograd4"
 * (NULL or empty: auto) into *out; -1 (HP_ERR) for anything else.
 * "winograd" ("winograd4") means Winograd with 2x2 (4x4) output tiles on
 * every 3x3 and 5x5 stride-1 layer (also those with few input channels);
 * other layers stay im2col. */
int conv2d_algorithm_parse(const char *text, hp_conv_algorithm *out);
/* out (N,OC,OH,OW) = conv(in (N,C,H,W), w (OC,C*KH*KW)) + b (OC) */
void conv2d_forward(float *out, float *ws, const float *in, const float *w, const float *b,
                    const conv2d_dims *d);
/* d_in (N,C,H,W) written (may be NULL); d_w (OC,C*KH*KW), d_b (OC) accumulated */
void conv2d_backward(float *d_in, float *d_w, float *d_b, float *ws, const float *d_out,
                     const float *in, const float *w, const conv2d_dims *d);
/* multiply-adds of one forward pass (for FLOP counting) */
double conv2d_forward_macs(const conv2d_dims *d);

/* ------------------------------------------------------------- dense ---- */
/* out (N,O) = in (N,I) . w^T + b;  w (O,I), b (O) */
void dense_forward(float *out, const float *in, const float *w, const float *b, int N, int I, int O);
/* d_in (N,I) written (may be NULL); d_w (O,I), d_b (O) accumulated */
void dense_backward(float *d_in, float *d_w, float *d_b, const float *d_out, const float *in,
                    const float *w, int N, int I, int O);

/* -------------------------------------------------------- activation ---- */
typedef enum {
    HP_ACT_RELU = 0,
    HP_ACT_LEAKY_RELU = 1, /* x>0 ? x : alpha*x */
    HP_ACT_ELU = 2,        /* x>0 ? x : alpha*(exp(x)-1) */
    HP_ACT_TANH = 3,
    HP_ACT_SIGMOID = 4
} hp_activation;

/* out (n) = act(in (n)); out may equal in (in place). */
void activation_forward(float *out, const float *in, size_t n, hp_activation act, float alpha);
/* d_in (n) = d_out * act'(.), computed from the forward OUTPUT 'out' (every
 * supported activation's derivative is a function of its output, which lets
 * forward run in place). d_in may equal d_out. */
void activation_backward(float *d_in, const float *d_out, const float *out, size_t n,
                         hp_activation act, float alpha);

/* conv2d_forward followed by activation_forward, fused: out (N,OC,OH,OW) =
 * act(conv(in) + b), the same values bit for bit, with the activation applied
 * to each output plane while it is still in cache.  The backward pass is
 * activation_backward (from out) then conv2d_backward. */
void conv2d_forward_act(float *out, float *ws, const float *in, const float *w, const float *b,
                        const conv2d_dims *d, hp_activation act, float alpha);

/* ----------------------------------------------------------- pooling ---- */
typedef enum { HP_POOL_MAX = 0, HP_POOL_AVG = 1 } hp_pool;

typedef struct pool2d_dims {
    int N, C, H, W;   /* input */
    int size, stride; /* square window; padding is "valid" (Keras default) */
    int OH, OW;       /* (H - size)/stride + 1 */
} pool2d_dims;

int pool2d_dims_init(pool2d_dims *d, int N, int C, int H, int W, int size, int stride);
/* out (N,C,OH,OW); argmax (N,C,OH,OW) index into the input plane, written
 * for max pooling (may be NULL for average pooling) */
void pool2d_forward(float *out, int32_t *argmax, const float *in, hp_pool kind, const pool2d_dims *d);
/* d_in (N,C,H,W) written */
void pool2d_backward(float *d_in, const float *d_out, const int32_t *argmax, hp_pool kind,
                     const pool2d_dims *d);

/* -------------------------------------------------------- batch norm ---- */
/* Per channel over (N,H,W) for conv tensors; for dense tensors use H=W=1. */
typedef struct batchnorm_dims {
    int N, C, HW;
    float eps;      /* 1e-3 (Keras) */
    float momentum; /* running = momentum*running + (1-momentum)*batch; 0.99 (Keras) */
} batchnorm_dims;

/* Training mode: normalise with batch statistics, update running mean/var
 * (running_var uses the unbiased batch variance), save mean (C) and
 * inv_std (C) for backward.  out (N,C,HW); out must not alias in. */
void batchnorm_forward_train(float *out, float *save_mean, float *save_inv_std, float *running_mean,
                             float *running_var, const float *in, const float *gamma,
                             const float *beta, const batchnorm_dims *d);
/* Evaluation mode: normalise with the running statistics. */
void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const batchnorm_dims *d);
/* d_in written; d_gamma, d_beta (C) accumulated.  Uses the saved statistics. */
void batchnorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out,
                        const float *in, const float *gamma, const float *save_mean,
                        const float *save_inv_std, const batchnorm_dims *d);

/* ----------------------------------------------------------- dropout ---- */
/* Inverted dropout: out = in * mask, mask = (u >= rate) / (1 - rate), with
 * u drawn from rng in element order.  mask (n) is saved for backward.
 * rate == 0 copies.  In evaluation mode the caller skips the layer. */
void dropout_forward(float *out, float *mask, const float *in, size_t n, float rate, hp_rng *rng);
void dropout_backward(float *d_in, const float *d_out, const float *mask, size_t n);

/* ------------------------------------------- softmax cross-entropy ---- */
/* probs (N,K) = softmax(logits (N,K)) computed stably (max subtracted);
 * returns the mean over the batch of -sum_k q_k log p_k with the target
 * q = (1-smoothing) onehot(label) + smoothing/K (log-sum-exp form, no
 * log(0)); smoothing 0 is the plain -log p[label]. labels (N) in [0,K). */
double softmax_xent_forward(float *probs, const float *logits, const uint8_t *labels, int N, int K,
                            float smoothing);
/* d_logits (N,K) = (probs - q) * scale, scale = 1/N for the mean loss. */
void softmax_xent_backward(float *d_logits, const float *probs, const uint8_t *labels, int N, int K,
                           float scale, float smoothing);

/* ------------------------------------------------ global avg pooling ---- */
/* out (N,C) = mean of each input plane in (N,C,HW). */
void global_avg_pool_forward(float *out, const float *in, int N, int C, int HW);
/* d_in (N,C,HW) written: d_out (N,C) / HW spread over the plane. */
void global_avg_pool_backward(float *d_in, const float *d_out, int N, int C, int HW);

/* ---------------------------------------------------- initialisation ---- */
/* He normal (std = sqrt(2/fan_in)) and Glorot uniform
 * (limit = sqrt(6/(fan_in+fan_out))); the network chooses per config.init. */
void init_he_normal(float *w, size_t n, int fan_in, hp_rng *rng);
void init_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, hp_rng *rng);
/* PyTorch's default (kaiming_uniform with a = sqrt(5)): uniform with bound
 * 1/sqrt(fan_in); PyTorch uses it for the biases too. */
void init_torch_uniform(float *w, size_t n, int fan_in, hp_rng *rng);

#endif
