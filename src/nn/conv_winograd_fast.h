/* conv_winograd_fast.h - the register-resident transforms of conv_winograd.c,
 * written once for two vector widths (private; included twice by
 * conv_winograd.c, with WG_W 8 (AVX) and 4 (SSE)).
 *
 * For "same" 3x3 layers (pad 1 on each side) of even width, a tile row's
 * patches are split straight from the image rows into registers, WG_W tiles
 * at a time: with ev/od the even/odd columns from column 2m on, the patch
 * columns of tile tx = m + lane are
 *     l = 0: column 2tx - 1 = od shifted up one lane (column 2m - 1 in lane 0)
 *     l = 1: 2tx = ev,   l = 2: 2tx + 1 = od,
 *     l = 3: 2tx + 2 = ev shifted down one lane (column 2m + 2 WG_W last)
 * and both 1-D transforms run on registers; transformed values are stored
 * once.  The arithmetic is the lane-wise one (WG_BT, WG_AT, WG_A below
 * and rows_* in conv_winograd.c), in the same order.
 *
 * Needs, defined by the includer: WG_W, VEC, VLOAD(p), VSTORE(p, v),
 * VZERO(), VMAX(a, b), SPLIT(a, b, ev, od) (deinterleave 2 WG_W floats),
 * MERGE(ev, od, lo, hi) (interleave), SHIFT_UP(v, first), SHIFT_DOWN(v, last),
 * ZERO_FIRST(v), ZERO_LAST(v), and WG_NAME(x) (x with the width appended);
 * this file undefines them at its end, so the next inclusion can define them anew.
 */

/* V[.][c] of one block (see transform_input) */
static void WG_NAME(input_fast)(const plan *p, float *V, const float *in, int c, int r0, int R,
                                const conv2d_dims *d)
{
    const int TW = p->TW, H = d->H, W = d->W;
    const size_t ldt = p->ldt, xi_stride = p->v_xi;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        const float *plane = in + ((size_t)n * d->C + c) * H * W;
        const float *row[4]; /* image rows of the patch rows; NULL in the padding */
        for (int k = 0; k < 4; k++) {
            const int y = 2 * ty - 1 + k;
            row[k] = y >= 0 && y < H ? plane + (size_t)y * W : NULL;
            if (row[k] && c + 1 < d->C)
                prefetch_row_read(row[k], (size_t)H * W, (size_t)W);
        }
        float *dst = V + (size_t)c * ldt + (size_t)rr * TW;
        for (int m = 0; m < TW; m += WG_W) {
            VEC x[4][4]; /* patch cell (k, l) of WG_W tiles */
            for (int k = 0; k < 4; k++) {
                if (!row[k]) {
                    x[k][0] = x[k][1] = x[k][2] = x[k][3] = VZERO();
                    continue;
                }
                const float *s = row[k] + 2 * m;
                VEC ev, od;
                SPLIT(VLOAD(s), VLOAD(s + WG_W), ev, od);
                const float before = m > 0 ? s[-1] : 0.0f;
                const float after = 2 * m + 2 * WG_W < W ? s[2 * WG_W] : 0.0f;
                x[k][0] = SHIFT_UP(od, before);
                x[k][1] = ev;
                x[k][2] = od;
                x[k][3] = SHIFT_DOWN(ev, after);
            }
            VEC t[4][4];
            for (int l = 0; l < 4; l++)
                WG_BT(t[0][l], t[1][l], t[2][l], t[3][l], x[0][l], x[1][l], x[2][l], x[3][l]);
            for (int i = 0; i < 4; i++) {
                VEC v0, v1, v2, v3;
                WG_BT(v0, v1, v2, v3, t[i][0], t[i][1], t[i][2], t[i][3]);
                float *o = dst + (size_t)(4 * i) * xi_stride + m;
                VSTORE(o, v0);
                VSTORE(o + xi_stride, v1);
                VSTORE(o + 2 * xi_stride, v2);
                VSTORE(o + 3 * xi_stride, v3);
            }
        }
    }
}

/* out plane oc of the block's tiles = A^T M A + bias (then ReLU) */
static void WG_NAME(output_fast)(const plan *p, float *out, const float *M, int oc, int r0, int R,
                                 const conv2d_dims *d, float bias, int relu)
{
    const int TW = p->TW, OH = d->OH, OW = d->OW;
    const size_t ldt = p->ldt, xi_stride = p->m_xi;
    const VEC b = VSET1(bias);
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        float *plane = out + ((size_t)n * d->OC + oc) * OH * OW;
        const float *src = M + (size_t)oc * ldt + (size_t)rr * TW;
        if (oc + 1 < d->OC)
            for (int a = 0; a < 2 && 2 * ty + a < OH; a++)
                prefetch_row_write(plane + (size_t)(2 * ty + a) * OW, (size_t)OH * OW, (size_t)OW);
        for (int m = 0; m < TW; m += WG_W) {
            VEC s[2][4];
            for (int j = 0; j < 4; j++) {
                const float *q = src + (size_t)j * xi_stride + m;
                WG_AT(s[0][j], s[1][j], VLOAD(q), VLOAD(q + 4 * xi_stride),
                      VLOAD(q + 8 * xi_stride), VLOAD(q + 12 * xi_stride));
            }
            for (int a = 0; a < 2 && 2 * ty + a < OH; a++) {
                VEC y0, y1, lo, hi;
                WG_AT(y0, y1, s[a][0], s[a][1], s[a][2], s[a][3]);
                y0 = y0 + b;
                y1 = y1 + b;
                if (relu) { /* max(v, 0) returns 0 for NaN and -0: v > 0 ? v : 0 */
                    y0 = VMAX(y0, VZERO());
                    y1 = VMAX(y1, VZERO());
                }
                MERGE(y0, y1, lo, hi);
                float *o = plane + (size_t)(2 * ty + a) * OW + 2 * m;
                VSTORE(o, lo);
                VSTORE(o + WG_W, hi);
            }
        }
    }
}

/* DY[.][oc] of one block (see transform_output_gradient) */
static void WG_NAME(output_gradient_fast)(const plan *p, float *DY, const float *d_out, int oc,
                                          int r0, int R, const conv2d_dims *d)
{
    const int TW = p->TW, OH = d->OH, OW = d->OW;
    const size_t ldt = p->ldt, xi_stride = p->m_xi;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        const float *plane = d_out + ((size_t)n * d->OC + oc) * OH * OW;
        const float *row0 = plane + (size_t)(2 * ty) * OW;
        const float *row1 = 2 * ty + 1 < OH ? row0 + OW : NULL;
        if (oc + 1 < d->OC) {
            prefetch_row_read(row0, (size_t)OH * OW, (size_t)OW);
            if (row1)
                prefetch_row_read(row1, (size_t)OH * OW, (size_t)OW);
        }
        float *dst = DY + (size_t)oc * ldt + (size_t)rr * TW;
        for (int m = 0; m < TW; m += WG_W) {
            VEC g[2][2], t[4][2];
            SPLIT(VLOAD(row0 + 2 * m), VLOAD(row0 + 2 * m + WG_W), g[0][0], g[0][1]);
            if (row1)
                SPLIT(VLOAD(row1 + 2 * m), VLOAD(row1 + 2 * m + WG_W), g[1][0], g[1][1]);
            else
                g[1][0] = g[1][1] = VZERO();
            for (int b = 0; b < 2; b++)
                WG_A(t[0][b], t[1][b], t[2][b], t[3][b], g[0][b], g[1][b]);
            for (int i = 0; i < 4; i++) {
                VEC v0, v1, v2, v3;
                WG_A(v0, v1, v2, v3, t[i][0], t[i][1]);
                float *o = dst + (size_t)(4 * i) * xi_stride + m;
                VSTORE(o, v0);
                VSTORE(o + xi_stride, v1);
                VSTORE(o + 2 * xi_stride, v2);
                VSTORE(o + 3 * xi_stride, v3);
            }
        }
    }
}

/* d_in (channel c) += the block's patches B Z B^T, already in Q (16 rows of
   ldt lanes, row 4k + l = patch cell (k, l)).  Image column 2j of patch row
   k gets cell l = 1 of tile j and l = 3 of tile j - 1; column 2j + 1 gets
   l = 0 of tile j + 1 and l = 2 of tile j (add_input_gradient's sums). */
static void WG_NAME(input_gradient_fast)(const plan *p, float *d_in, const float *Q, int c, int r0,
                                         int R, const conv2d_dims *d)
{
    const int TW = p->TW, H = d->H, W = d->W;
    const size_t ldt = p->ldt;
    for (int rr = 0; rr < R; rr++) {
        const int r = r0 + rr, n = r / p->TH, ty = r % p->TH;
        float *plane = d_in + ((size_t)n * d->C + c) * H * W;
        for (int k = 0; k < 4; k++) {
            const int y = 2 * ty - 1 + k;
            if (y < 0 || y >= H)
                continue;
            const int first_touch = ty == 0 || k >= 2; /* see add_input_gradient */
            if (c + 1 < d->C)
                prefetch_row_write(plane + (size_t)y * W, (size_t)H * W, (size_t)W);
            const float *q0 = Q + (size_t)(4 * k) * ldt + (size_t)rr * TW, *q1 = q0 + ldt;
            const float *q2 = q1 + ldt, *q3 = q2 + ldt;
            float *dst = plane + (size_t)y * W;
            for (int m = 0; m < TW; m += WG_W) {
                /* q3 from lane -1 and q0 from lane +1 read a neighbour's lanes
                   (inside Q's rows): the edge lane is zeroed */
                VEC right = VLOAD(q3 + m - 1), left = VLOAD(q0 + m + 1);
                if (m == 0)
                    right = ZERO_FIRST(right);
                if (m + WG_W == TW)
                    left = ZERO_LAST(left);
                VEC even = VLOAD(q1 + m) + right, odd = left + VLOAD(q2 + m), lo, hi;
                MERGE(even, odd, lo, hi);
                float *o = dst + 2 * m;
                if (first_touch) {
                    VSTORE(o, lo);
                    VSTORE(o + WG_W, hi);
                } else {
                    VSTORE(o, VLOAD(o) + lo);
                    VSTORE(o + WG_W, VLOAD(o + WG_W) + hi);
                }
            }
        }
    }
}

#undef WG_W
#undef VEC
#undef VLOAD
#undef VSTORE
#undef VZERO
#undef VSET1
#undef VMAX
#undef SPLIT
#undef MERGE
#undef SHIFT_UP
#undef SHIFT_DOWN
#undef ZERO_FIRST
#undef ZERO_LAST
#undef WG_NAME
