/* layer_global_avg_pool.c - global average pooling (Lin et al. 2014,
 * "Network In Network", section 3.2): one mean per channel plane.
 *
 *   forward:  out[n,c] = (1/HW) sum_i in[n,c,i]        in (N,C,HW), out (N,C)
 *   backward: d_in[n,c,i] = d_out[n,c] / HW
 * The plane sum is accumulated in double, in index order (deterministic).
 */
#include "layers.h"

void global_avg_pool_forward(float *out, const float *in, int N, int C, int HW)
{
    for (size_t plane = 0; plane < (size_t)N * C; plane++) {
        const float *x = in + plane * HW;
        double sum = 0.0;
        for (int i = 0; i < HW; i++)
            sum += (double)x[i];
        out[plane] = (float)(sum / HW);
    }
}

void global_avg_pool_backward(float *d_in, const float *d_out, int N, int C, int HW)
{
    for (size_t plane = 0; plane < (size_t)N * C; plane++) {
        const float g = d_out[plane] / (float)HW;
        float *d = d_in + plane * HW;
        for (int i = 0; i < HW; i++)
            d[i] = g;
    }
}
