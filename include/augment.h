/* augment.h - turn uint8 images into a normalised float batch, with optional
 * random crop (zero-pad by `crop_pad` pixels, then crop 32x32 at a random
 * offset: padded pixels are black, i.e. value 0 before normalisation, as
 * torchvision does) and random horizontal flip (p = 0.5).
 * Random numbers are drawn per image in this order: crop dy, crop dx (only if
 * crop_pad > 0; each hp_rng_below(rng, 2*crop_pad+1)), flip (only if flip;
 * hp_rng_below(rng, 2)).  Normalisation: (x/255 - mean[c]) / std[c].
 */
#ifndef HPTUNE_AUGMENT_H
#define HPTUNE_AUGMENT_H

#include <stdint.h>

#include "rng.h"

/* out (N,3,32,32) from images[index[i]] (each 3*32*32 uint8, CHW). */
void hp_make_batch(float *out, const uint8_t *images, const int *index, int N, const float mean[3],
                   const float std[3], int crop_pad, int flip, hp_rng *rng);

#endif
