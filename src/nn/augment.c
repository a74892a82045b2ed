/* augment.c - uint8 images -> normalised float batch with crop and flip (see augment.h).
 *
 * Output pixel (y, x) of image i, with pad p and drawn offsets dy, dx in [0, 2p]:
 *     cropped(y, x) = src(y + dy - p, x + dx - p), or 0 (black) outside the source
 *     out(y, x)     = flip ? cropped(y, 31 - x) : cropped(y, x)
 * then normalised as x*scale[c] + offset[c] with scale = 1/(255*std) and
 * offset = -mean/std, i.e. (x/255 - mean)/std in one multiply-add.  A black
 * padded pixel therefore becomes offset[c].
 */
#include "augment.h"

#include <stddef.h>
#include <string.h>

#include "error.h"

enum { SIDE = 32, PLANE = SIDE * SIDE, CHANNELS = 3 };

/* One output row (SIDE floats) from source row src (SIDE bytes), shifted by
 * shift = dx - p columns: cropped[x] = src[x + shift] inside the row, else 0
 * (black); mirrored when flip.  The shifted row is staged as bytes first so
 * the conversion is a fixed-length loop that GCC vectorises at -O2. */
static void fill_row(float *restrict out, const uint8_t *restrict src, int shift, int flip,
                     float scale, float offset)
{
    uint8_t cropped[SIDE];
    if (shift == 0) {
        memcpy(cropped, src, SIDE);
    } else {
        /* columns x with 0 <= x + shift < SIDE */
        int lo = shift < 0 ? -shift : 0;
        int hi = shift > 0 ? SIDE - shift : SIDE;
        memset(cropped, 0, SIDE);
        if (lo < hi)
            memcpy(cropped + lo, src + lo + shift, (size_t)(hi - lo));
    }
    if (flip) {
        for (int x = 0; x < SIDE; x++)
            out[x] = (float)cropped[SIDE - 1 - x] * scale + offset;
    } else {
        for (int x = 0; x < SIDE; x++)
            out[x] = (float)cropped[x] * scale + offset;
    }
}

void hp_make_batch(float *out, const uint8_t *images, const int *index, int N, const float mean[3],
                   const float std[3], int crop_pad, int flip, hp_rng *rng)
{
    if (crop_pad < 0 || N < 0)
        HP_PANIC("hp_make_batch: crop_pad %d, N %d", crop_pad, N);
    if ((crop_pad > 0 || flip) && !rng)
        HP_PANIC("hp_make_batch: augmentation needs a random stream");
    float scale[CHANNELS], offset[CHANNELS];
    for (int c = 0; c < CHANNELS; c++) {
        scale[c] = (float)(1.0 / (255.0 * (double)std[c]));
        offset[c] = (float)(-(double)mean[c] / (double)std[c]);
    }

    for (int i = 0; i < N; i++) {
        /* draws in the documented order: dy, dx, flip */
        int dy = crop_pad, dx = crop_pad; /* centred = no shift */
        if (crop_pad > 0) {
            dy = (int)hp_rng_below(rng, (uint64_t)(2 * crop_pad + 1));
            dx = (int)hp_rng_below(rng, (uint64_t)(2 * crop_pad + 1));
        }
        int mirror = flip ? (int)hp_rng_below(rng, 2) : 0; /* 1 = flip */
        int shift_y = dy - crop_pad, shift_x = dx - crop_pad;

        const uint8_t *img = images + (size_t)index[i] * (CHANNELS * PLANE); /* (3,32,32) */
        float *dst = out + (size_t)i * (CHANNELS * PLANE);                   /* (3,32,32) */
        for (int c = 0; c < CHANNELS; c++) {
            const uint8_t *src_plane = img + (size_t)c * PLANE;
            float *dst_plane = dst + (size_t)c * PLANE;
            if (shift_y == 0 && shift_x == 0 && !mirror) {
                /* the common case (evaluation, or a centred crop): one flat loop */
                for (int k = 0; k < PLANE; k++)
                    dst_plane[k] = (float)src_plane[k] * scale[c] + offset[c];
                continue;
            }
            for (int y = 0; y < SIDE; y++) {
                float *dst_row = dst_plane + y * SIDE;
                int sy = y + shift_y;
                if (sy < 0 || sy >= SIDE) {
                    for (int x = 0; x < SIDE; x++)
                        dst_row[x] = offset[c];
                    continue;
                }
                fill_row(dst_row, src_plane + sy * SIDE, shift_x, mirror, scale[c], offset[c]);
            }
        }
    }
}
