/* augment.c - uint8 images -> normalised float batch with rotation, crop and
 * flip (see augment.h).
 *
 * Output pixel (y, x) of image i, with pad p and drawn offsets dy, dx in [0, 2p]:
 *     cropped(y, x) = R(y + dy - p, x + dx - p), or 0 (black) outside the source
 *     out(y, x)     = flip ? cropped(y, 31 - x) : cropped(y, x)
 * R is the source itself, or with an angle its bilinear rotation (augment.h).
 * then normalised as x*scale[c] + offset[c] with scale = 1/(255*std) and
 * offset = -mean/std, i.e. (x/255 - mean)/std in one multiply-add.  A black
 * padded pixel therefore becomes offset[c].
 */
#include "augment.h"

#include <math.h>
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

/* The rotated path.  The source goes once into float planes with a black
 * border of one pixel (padded (3, 34, 34)), so every bilinear tap of a point
 * with -1 <= sx, sy < 32 is a plain load; points further out are black.  Per
 * output pixel: the source point of R (augment.h), four weights shared by the
 * three channels. */
enum { PADDED = SIDE + 2 };

static void rotated_image(float *dst, const uint8_t *img, int shift_y, int shift_x, int mirror,
                          float angle_deg, const float scale[3], const float offset[3])
{
    float padded[CHANNELS][PADDED * PADDED]; /* 14 KB */
    memset(padded, 0, sizeof padded);
    for (int c = 0; c < CHANNELS; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++)
                padded[c][(y + 1) * PADDED + x + 1] = (float)img[(size_t)c * PLANE + y * SIDE + x];
    const double a = (double)angle_deg * (M_PI / 180.0);
    const float cs = (float)cos(a), sn = (float)sin(a), centre = (SIDE - 1) / 2.0f;
    /* one output row at a time, in fixed-length loops the compiler vectorises */
    int tap[SIDE];
    float w00[SIDE], w01[SIDE], w10[SIDE], w11[SIDE];
    const int rx_first = mirror ? SIDE - 1 + shift_x : shift_x, rx_step = mirror ? -1 : 1;
    for (int y = 0; y < SIDE; y++) {
        const int ry = y + shift_y;
        if (ry < 0 || ry >= SIDE) { /* a row of the crop's black padding */
            for (int c = 0; c < CHANNELS; c++)
                for (int x = 0; x < SIDE; x++)
                    dst[(size_t)c * PLANE + y * SIDE + x] = offset[c];
            continue;
        }
        const float w = (float)ry - centre;
        for (int x = 0; x < SIDE; x++) { /* branch-free: vectorised */
            const int rx = rx_first + rx_step * x;
            const float u = (float)rx - centre;
            const float sx = centre + cs * u + sn * w, sy = centre - sn * u + cs * w;
            const int inside = (rx >= 0) & (rx < SIDE) & (sx >= -1.0f) & (sx < (float)SIDE) &
                               (sy >= -1.0f) & (sy < (float)SIDE);
            const float fx0 = floorf(sx), fy0 = floorf(sy);
            const float fx = sx - fx0, fy = sy - fy0, keep = (float)inside;
            tap[x] = inside * (((int)fy0 + 1) * PADDED + (int)fx0 + 1);
            w00[x] = keep * (1 - fx) * (1 - fy);
            w01[x] = keep * fx * (1 - fy);
            w10[x] = keep * (1 - fx) * fy;
            w11[x] = keep * fx * fy;
        }
        for (int c = 0; c < CHANNELS; c++) {
            const float *src = padded[c];
            float *row = dst + (size_t)c * PLANE + y * SIDE;
            for (int x = 0; x < SIDE; x++) {
                const int p = tap[x];
                const float v = w00[x] * src[p] + w01[x] * src[p + 1] + w10[x] * src[p + PADDED] +
                                w11[x] * src[p + PADDED + 1];
                row[x] = v * scale[c] + offset[c];
            }
        }
    }
}

void hp_augment_image(float *dst, const uint8_t *img, int shift_y, int shift_x, int mirror,
                      float angle_deg, const float scale[3], const float offset[3])
{
    if (angle_deg != 0.0f) {
        rotated_image(dst, img, shift_y, shift_x, mirror, angle_deg, scale, offset);
        return;
    }
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

void hp_make_batch_augmented(float *out, const uint8_t *images, const int *index, int N,
                             const float mean[3], const float std[3], const hp_augment *aug,
                             hp_rng *rng)
{
    const hp_augment none = {0, 0.0f, 0.0f};
    if (!aug)
        aug = &none;
    const int crop_pad = aug->crop_pad;
    if (crop_pad < 0 || N < 0 || !(aug->flip_prob >= 0.0f && aug->flip_prob <= 1.0f) ||
        !(aug->rotate_deg >= 0.0f))
        HP_PANIC("hp_make_batch: crop_pad %d, flip_prob %g, rotate_deg %g, N %d", crop_pad,
                 (double)aug->flip_prob, (double)aug->rotate_deg, N);
    if ((crop_pad > 0 || aug->flip_prob > 0.0f || aug->rotate_deg > 0.0f) && !rng)
        HP_PANIC("hp_make_batch: augmentation needs a random stream");
    float scale[CHANNELS], offset[CHANNELS];
    for (int c = 0; c < CHANNELS; c++) {
        scale[c] = (float)(1.0 / (255.0 * (double)std[c]));
        offset[c] = (float)(-(double)mean[c] / (double)std[c]);
    }

    for (int i = 0; i < N; i++) {
        /* draws in the documented order: dy, dx, flip, angle */
        int dy = crop_pad, dx = crop_pad; /* centred = no shift */
        if (crop_pad > 0) {
            dy = (int)hp_rng_below(rng, (uint64_t)(2 * crop_pad + 1));
            dx = (int)hp_rng_below(rng, (uint64_t)(2 * crop_pad + 1));
        }
        int mirror = 0; /* 1 = flip */
        if (aug->flip_prob == 0.5f)
            mirror = (int)hp_rng_below(rng, 2);
        else if (aug->flip_prob > 0.0f)
            mirror = hp_rng_uniform(rng) < (double)aug->flip_prob;
        float angle = 0.0f;
        if (aug->rotate_deg > 0.0f)
            angle = (float)((2.0 * hp_rng_uniform(rng) - 1.0) * (double)aug->rotate_deg);
        const uint8_t *img = images + (size_t)index[i] * (CHANNELS * PLANE); /* (3,32,32) */
        float *dst = out + (size_t)i * (CHANNELS * PLANE);                   /* (3,32,32) */
        hp_augment_image(dst, img, dy - crop_pad, dx - crop_pad, mirror, angle, scale, offset);
    }
}

void hp_make_batch(float *out, const uint8_t *images, const int *index, int N, const float mean[3],
                   const float std[3], int crop_pad, int flip, hp_rng *rng)
{
    hp_augment aug = {crop_pad, flip ? 0.5f : 0.0f, 0.0f};
    hp_make_batch_augmented(out, images, index, N, mean, std, &aug, rng);
}
