/* augment.h - turn uint8 images into a normalised float batch, with optional
 * random rotation (by an angle uniform in [-rotate_deg, rotate_deg], bilinear,
 * about the image centre, black outside the source), random crop (zero-pad by
 * `crop_pad` pixels, then crop 32x32 at a random offset: padded pixels are
 * black, i.e. value 0 before normalisation, as torchvision does) and random
 * horizontal flip (probability flip_prob), applied in that order.
 * Random numbers are drawn per image in this order: crop dy, crop dx (only if
 * crop_pad > 0; each hp_rng_below(rng, 2*crop_pad+1)), flip (only if
 * flip_prob > 0: flip_prob 0.5 draws hp_rng_below(rng, 2), 1 = flip, as
 * before flip became a probability; any other flip_prob flips when
 * hp_rng_uniform(rng) < flip_prob), angle (only if rotate_deg > 0:
 * (2 hp_rng_uniform(rng) - 1) * rotate_deg).  Normalisation:
 * (x/255 - mean[c]) / std[c].
 */
#ifndef HPTUNE_AUGMENT_H
#define HPTUNE_AUGMENT_H

#include <stdint.h>

#include "rng.h"

typedef struct hp_augment {
    int crop_pad;     /* 0: no crop */
    float flip_prob;  /* 0: no flip */
    float rotate_deg; /* 0: no rotation */
} hp_augment;

/* out (N,3,32,32) from images[index[i]] (each 3*32*32 uint8, CHW).
 * aug NULL: no augmentation (rng may then be NULL). */
void hp_make_batch_augmented(float *out, const uint8_t *images, const int *index, int N,
                             const float mean[3], const float std[3], const hp_augment *aug,
                             hp_rng *rng);
/* The same with crop_pad and flip (0/1: flip_prob 0/0.5), no rotation. */
void hp_make_batch(float *out, const uint8_t *images, const int *index, int N, const float mean[3],
                   const float std[3], int crop_pad, int flip, hp_rng *rng);

/* One image's rotated, shifted, mirrored and normalised pixels: out (3,32,32)
 *     out(y, x) = mirror ? C(y, 31 - x) : C(y, x)
 *     C(y, x)   = R(y + shift_y, x + shift_x), black (0) outside 0..31
 *     R(y, x)   = bilinear sample of img at (sy, sx), taps outside the image black:
 *                 sx = 15.5 + cos(a) (x - 15.5) + sin(a) (y - 15.5)
 *                 sy = 15.5 - sin(a) (x - 15.5) + cos(a) (y - 15.5),  a = angle_deg in radians
 * (for a > 0 a clockwise turn of the picture as displayed, row 0 on top), then
 * x * scale[c] + offset[c].  angle_deg 0 takes the exact integer path. */
void hp_augment_image(float *out, const uint8_t *img, int shift_y, int shift_x, int mirror,
                      float angle_deg, const float scale[3], const float offset[3]);

#endif
