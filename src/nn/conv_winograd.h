/* conv_winograd.h - the Winograd path of conv2d (private to src/nn/):
 * F(m x m, r x r) for 3x3 and 5x5 kernels with m x m = 2x2 or 4x4 output
 * tiles.
 *
 * layer_conv2d.c calls these for 3x3 and 5x5 stride-1 layers (conv2d_algorithm);
 * the arguments and conventions are conv2d_forward_act's and
 * conv2d_backward's (layers.h).  act is an hp_activation, or
 * CONV_NO_ACTIVATION for a plain convolution.
 */
#ifndef HPTUNE_CONV_WINOGRAD_H
#define HPTUNE_CONV_WINOGRAD_H

#include <stddef.h>

#include "layers.h"

enum { CONV_NO_ACTIVATION = -1 };

/* 1 if d is a shape this path computes (3x3 or 5x5 kernel, stride 1), else 0. */
int conv_winograd_shape(const conv2d_dims *d);
/* Scratch floats of conv_winograd_forward and conv_winograd_backward with
   m x m output tiles (m = 2 or 4). */
size_t conv_winograd_workspace_floats(const conv2d_dims *d, int m);
void conv_winograd_forward(float *out, float *ws, const float *in, const float *w, const float *b,
                           const conv2d_dims *d, int m, int act, float alpha);
void conv_winograd_backward(float *d_in, float *d_w, float *d_b, float *ws, const float *d_out,
                            const float *in, const float *w, const conv2d_dims *d, int m);

#endif
