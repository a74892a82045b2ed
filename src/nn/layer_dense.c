/* layer_dense.c - fully connected layer on sgemm.
 *
 * out (N,O) = in (N,I) . w^T + b with w (O,I): row o of w holds the weights
 * of output unit o.  (The parameters are spelled n_in/n_out here because
 * <cblas.h> pulls in <complex.h>, which defines the macro I.)
 */
#include "layers.h"

#include <cblas.h>
#include <stddef.h>

void dense_forward(float *out, const float *in, const float *w, const float *b, int N, int n_in,
                   int n_out)
{
    /* out starts as the bias in every row, then sgemm adds in . w^T (beta = 1) */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < n_out; o++)
            out[(size_t)n * n_out + o] = b[o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, n_out, n_in, 1.0f, in, n_in, w, n_in,
                1.0f, out, n_out);
}

void dense_backward(float *d_in, float *d_w, float *d_b, const float *d_out, const float *in,
                    const float *w, int N, int n_in, int n_out)
{
    /* d_w (O,I) += d_out^T (O,N) . in (N,I) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, N, 1.0f, d_out, n_out, in,
                n_in, 1.0f, d_w, n_in);
    /* d_b (O) += column sums of d_out (N,O) */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < n_out; o++)
            d_b[o] += d_out[(size_t)n * n_out + o];
    if (!d_in)
        return;
    /* d_in (N,I) = d_out (N,O) . w (O,I) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, n_in, n_out, 1.0f, d_out, n_out, w,
                n_in, 0.0f, d_in, n_in);
}
