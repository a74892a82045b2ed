/* optim.h - optimizer steps and learning-rate schedules (pure, no state of their own).
 *
 * The model owns parameters, gradients and the two moment buffers m and v
 * (zero at the start).  hp_optim_step() updates one parameter tensor; the
 * network calls it once per tensor with weight_decay = config.weight_decay for
 * weights and 0 for biases and batch-norm parameters.  t is the 1-based step.
 * Formulas (PyTorch conventions), with g' = g + wd*p (L2) except for AdamW:
 *   sgd      momentum mu: m = mu*m + g'; p -= lr*(nesterov ? g' + mu*m : m)
 *            (mu = 0: p -= lr*g')
 *   adam     m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
 *            p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 *   adamw    p -= lr*wd*p (decoupled); then adam with g' = g
 *   rmsprop  v = rho*v + (1-rho)*g'^2;
 *            mu > 0: m = mu*m + g'/(sqrt(v)+eps); p -= lr*m
 *            mu = 0: p -= lr*g'/(sqrt(v)+eps)
 */
#ifndef HPTUNE_OPTIM_H
#define HPTUNE_OPTIM_H

#include <stddef.h>

#include "config.h"

void hp_optim_step(const hp_config *c, float *p, const float *g, float *m, float *v, size_t n,
                   long t, float lr, float weight_decay);

/* Learning rate for 0-based global step `step` of a run with steps_per_epoch
 * steps per epoch and c->epochs epochs:
 *   constant: lr
 *   step:     lr * lr_gamma ^ floor(epoch / lr_step_epochs), epoch = step / steps_per_epoch
 *   cosine:   lr_min + (lr - lr_min) * (1 + cos(pi * step / total_steps)) / 2
 * then, during warm-up (step < warmup_epochs*steps_per_epoch = W):
 *   multiplied by (step + 1) / W. */
float hp_lr_at(const hp_config *c, long step, long steps_per_epoch);

#endif
