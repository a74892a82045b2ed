/* layer_batchnorm.c - batch normalisation per channel over (N, HW).
 *
 * With M = N*HW values per channel, xhat = (x - mean) * inv_std and
 * y = gamma*xhat + beta, the gradient is the standard
 *   d_x = gamma*inv_std/M * (M*d_y - sum(d_y) - xhat*sum(d_y*xhat)).
 * Sums run per plane with several partial sums (vectorisable) and are
 * combined across planes in double.
 */
#include "layers.h"
#include "vecsum.h"

#include <math.h>

enum { LANES = 16 };

/* sum of (x - mean)^2 */
static float plane_sum_sq_dev(const float *x, size_t n, float mean)
{
    float part[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float dev = x[i + l] - mean;
            part[l] += dev * dev;
        }
    float total = 0.0f;
    for (; i < n; i++)
        total += (x[i] - mean) * (x[i] - mean);
    for (int l = 0; l < LANES; l++)
        total += part[l];
    return total;
}

/* sum of dy * (x - mean) */
static float plane_sum_dot_dev(const float *dy, const float *x, size_t n, float mean)
{
    float part[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            part[l] += dy[i + l] * (x[i + l] - mean);
    float total = 0.0f;
    for (; i < n; i++)
        total += dy[i] * (x[i] - mean);
    for (int l = 0; l < LANES; l++)
        total += part[l];
    return total;
}

/* y = x*scale + shift over one plane */
static void plane_affine(float *y, const float *x, size_t n, float scale, float shift)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * scale + shift;
}

void batchnorm_forward_train(float *out, float *save_mean, float *save_inv_std, float *running_mean,
                             float *running_var, const float *in, const float *gamma,
                             const float *beta, const batchnorm_dims *d)
{
    const size_t HW = (size_t)d->HW, plane_stride = (size_t)d->C * HW;
    const double M = (double)d->N * (double)d->HW;
    for (int c = 0; c < d->C; c++) {
        const float *x = in + (size_t)c * HW; /* plane (0, c); plane (n, c) is n*plane_stride on */
        double sum = 0.0;
        for (int n = 0; n < d->N; n++)
            sum += hp_sum_floats(x + n * plane_stride, HW);
        const float mean = (float)(sum / M);
        double sq = 0.0; /* two passes: no cancellation for large means */
        for (int n = 0; n < d->N; n++)
            sq += plane_sum_sq_dev(x + n * plane_stride, HW, mean);
        const double var_biased = sq / M;
        const double var_unbiased = M > 1.0 ? sq / (M - 1.0) : var_biased;
        const float inv_std = (float)(1.0 / sqrt(var_biased + (double)d->eps));
        save_mean[c] = mean;
        save_inv_std[c] = inv_std;
        running_mean[c] = d->momentum * running_mean[c] + (1.0f - d->momentum) * mean;
        running_var[c] = d->momentum * running_var[c] + (1.0f - d->momentum) * (float)var_unbiased;
        const float scale = gamma[c] * inv_std;
        const float shift = beta[c] - mean * scale;
        for (int n = 0; n < d->N; n++)
            plane_affine(out + n * plane_stride + (size_t)c * HW, x + n * plane_stride, HW, scale,
                         shift);
    }
}

void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const batchnorm_dims *d)
{
    const size_t HW = (size_t)d->HW, plane_stride = (size_t)d->C * HW;
    for (int c = 0; c < d->C; c++) {
        const float inv_std = (float)(1.0 / sqrt((double)running_var[c] + (double)d->eps));
        const float scale = gamma[c] * inv_std;
        const float shift = beta[c] - running_mean[c] * scale;
        for (int n = 0; n < d->N; n++) {
            size_t offset = n * plane_stride + (size_t)c * HW;
            plane_affine(out + offset, in + offset, HW, scale, shift);
        }
    }
}

void batchnorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out,
                        const float *in, const float *gamma, const float *save_mean,
                        const float *save_inv_std, const batchnorm_dims *d)
{
    const size_t HW = (size_t)d->HW, plane_stride = (size_t)d->C * HW;
    const double M = (double)d->N * (double)d->HW;
    for (int c = 0; c < d->C; c++) {
        const float mean = save_mean[c], inv_std = save_inv_std[c];
        double sum_dy = 0.0, sum_dy_dev = 0.0; /* sum(dy), sum(dy*(x-mean)) */
        for (int n = 0; n < d->N; n++) {
            size_t offset = n * plane_stride + (size_t)c * HW;
            sum_dy += hp_sum_floats(d_out + offset, HW);
            sum_dy_dev += plane_sum_dot_dev(d_out + offset, in + offset, HW, mean);
        }
        const double sum_dy_xhat = sum_dy_dev * inv_std;
        d_beta[c] += (float)sum_dy;
        d_gamma[c] += (float)sum_dy_xhat;
        if (!d_in)
            continue;
        /* d_x = k*(d_y - mean(d_y)) - k*xhat*mean(d_y*xhat), k = gamma*inv_std,
           written as d_x = k*d_y + a*(x - mean) + b */
        const float k = gamma[c] * inv_std;
        const float mean_dy = (float)(sum_dy / M);
        const float mean_dy_xhat = (float)(sum_dy_xhat / M);
        const float a = -k * mean_dy_xhat * inv_std;
        const float b = -k * mean_dy;
        for (int n = 0; n < d->N; n++) {
            size_t offset = n * plane_stride + (size_t)c * HW;
            const float *dy = d_out + offset, *x = in + offset;
            float *dx = d_in + offset;
            for (size_t i = 0; i < HW; i++)
                dx[i] = k * dy[i] + a * (x[i] - mean) + b;
        }
    }
}
