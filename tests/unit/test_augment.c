/* test_augment.c - hp_make_batch against a naive pad-then-crop-then-flip
 * reference written here, plus the order and count of random draws. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "augment.h"
#include "rng.h"
#include "testlib.h"

#define SIDE 32
#define IMAGE (3 * SIDE * SIDE)
#define N_IMAGES 12
#define BATCH 40 /* more than N_IMAGES: indices repeat, and enough draws to see every case */

static const float mean[3] = {0.4914f, 0.4822f, 0.4465f};
static const float stdev[3] = {0.2470f, 0.2435f, 0.2616f};

static uint8_t images[N_IMAGES * IMAGE]; /* (N_IMAGES,3,32,32) */

static void make_images(void)
{
    hp_rng r;
    hp_rng_seed_for(&r, 7, 0, HP_STREAM_TEST);
    for (int k = 0; k < N_IMAGES * IMAGE; k++)
        images[k] = (uint8_t)hp_rng_below(&r, 256);
    images[0] = 0; /* the extremes are present */
    images[1] = 255;
}

static void make_index(int *index)
{
    for (int i = 0; i < BATCH; i++)
        index[i] = (i * 7 + 3) % N_IMAGES;
}

static double normalise(int value, int c) { return ((double)value / 255.0 - mean[c]) / stdev[c]; }

/* The documented transformation, literally: zero-pad by pad, crop 32x32 at
 * (dy, dx) of the padded image, mirror columns if flip, normalise. */
static void reference_image(double *out, const uint8_t *img, int pad, int dy, int dx, int flip)
{
    static uint8_t padded[3][SIDE + 2 * 16][SIDE + 2 * 16]; /* pad <= 16 */
    memset(padded, 0, sizeof padded);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++)
                padded[c][y + pad][x + pad] = img[(c * SIDE + y) * SIDE + x];
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int cx = flip ? SIDE - 1 - x : x;
                out[(c * SIDE + y) * SIDE + x] = normalise(padded[c][y + dy][cx + dx], c);
            }
}

/* Compare a batch with the reference, replaying the documented draws (dy, dx
 * if pad > 0; flip if flip) from a copy of the seed.  Returns mismatches;
 * counts how many images were flipped and how many shifted. */
static int check_batch(const float *out, const int *index, int pad, int flip, uint64_t seed,
                       hp_rng *replay_out, int *n_flipped, int *n_shifted)
{
    hp_rng replay;
    hp_rng_seed_for(&replay, seed, 0, HP_STREAM_AUGMENT);
    static double ref[IMAGE];
    int bad = 0;
    *n_flipped = *n_shifted = 0;
    for (int i = 0; i < BATCH; i++) {
        int dy = pad, dx = pad, f = 0;
        if (pad > 0) {
            dy = (int)hp_rng_below(&replay, 2 * (uint64_t)pad + 1);
            dx = (int)hp_rng_below(&replay, 2 * (uint64_t)pad + 1);
        }
        if (flip)
            f = (int)hp_rng_below(&replay, 2);
        *n_flipped += f;
        *n_shifted += dy != pad || dx != pad;
        reference_image(ref, images + (size_t)index[i] * IMAGE, pad, dy, dx, f);
        for (int k = 0; k < IMAGE; k++) {
            double got = out[(size_t)i * IMAGE + k];
            if (!(fabs(got - ref[k]) <= 2e-6 * (1.0 + fabs(ref[k])))) {
                if (bad < 5)
                    printf("\n    image %d (dy %d dx %d flip %d) element %d: %.9g vs %.9g", i, dy,
                           dx, f, k, got, ref[k]);
                bad++;
            }
        }
    }
    if (replay_out)
        *replay_out = replay;
    return bad;
}

static float batch[BATCH * IMAGE];

TEST(no_augmentation_is_exact_normalisation)
{
    int index[BATCH];
    make_index(index);
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 0, 0, NULL);
    int bad = 0;
    for (int i = 0; i < BATCH; i++)
        for (int k = 0; k < IMAGE; k++) {
            int c = k / (SIDE * SIDE);
            double want = normalise(images[(size_t)index[i] * IMAGE + k], c);
            if (!(fabs(batch[(size_t)i * IMAGE + k] - want) <= 2e-6 * (1.0 + fabs(want))))
                bad++;
        }
    EXPECT(bad == 0, "%d elements differ from (x/255 - mean)/std", bad);
    /* the pixel values 0 and 255 of image 0 map to -mean/std and (1-mean)/std */
    hp_make_batch(batch, images, (int[]){0}, 1, mean, stdev, 0, 0, NULL);
    EXPECT_NEAR(batch[0], -mean[0] / stdev[0], 2e-6, "0 -> -mean/std");
    EXPECT_NEAR(batch[1], (1.0 - mean[0]) / stdev[0], 2e-6, "255 -> (1-mean)/std");
}

TEST(flip_mirrors_columns_exactly)
{
    int index[BATCH];
    make_index(index);
    static float plain[BATCH * IMAGE];
    hp_make_batch(plain, images, index, BATCH, mean, stdev, 0, 0, NULL);
    hp_rng rng, replay;
    hp_rng_seed_for(&rng, 11, 0, HP_STREAM_AUGMENT);
    replay = rng;
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 0, 1, &rng);
    int flipped = 0, bad = 0;
    for (int i = 0; i < BATCH; i++) {
        int f = (int)hp_rng_below(&replay, 2); /* one draw per image, 1 = flip */
        flipped += f;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < SIDE; y++)
                for (int x = 0; x < SIDE; x++) {
                    size_t row = (size_t)i * IMAGE + (size_t)(c * SIDE + y) * SIDE;
                    float want = plain[row + (f ? SIDE - 1 - x : x)];
                    if (batch[row + x] != want) /* same arithmetic: bit-exact */
                        bad++;
                }
    }
    EXPECT(bad == 0, "%d elements are not the exact mirror", bad);
    EXPECT(flipped > 0 && flipped < BATCH, "flipped %d of %d images", flipped, BATCH);
    EXPECT(memcmp(&rng, &replay, sizeof rng) == 0, "flip consumed a different number of draws");
}

TEST(crop_matches_naive_reference)
{
    int index[BATCH];
    make_index(index);
    int pads[] = {1, 4, 16};
    for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
        int pad = pads[k];
        hp_rng rng, replay;
        hp_rng_seed_for(&rng, 5 + (uint64_t)pad, 0, HP_STREAM_AUGMENT);
        hp_make_batch(batch, images, index, BATCH, mean, stdev, pad, 0, &rng);
        int flipped, shifted;
        int bad = check_batch(batch, index, pad, 0, 5 + (uint64_t)pad, &replay, &flipped, &shifted);
        EXPECT(bad == 0, "pad %d: %d elements differ from the reference", pad, bad);
        EXPECT(shifted > BATCH / 2, "pad %d: only %d images were shifted", pad, shifted);
        EXPECT(memcmp(&rng, &replay, sizeof rng) == 0, "pad %d: wrong number of draws", pad);
    }
}

TEST(crop_and_flip_match_reference_in_draw_order)
{
    /* Replaying dy, dx, flip per image reproduces the batch; another order
     * (e.g. flip first) would give different offsets and fail here. */
    int index[BATCH];
    make_index(index);
    hp_rng rng, replay;
    hp_rng_seed_for(&rng, 99, 0, HP_STREAM_AUGMENT);
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 4, 1, &rng);
    int flipped, shifted;
    int bad = check_batch(batch, index, 4, 1, 99, &replay, &flipped, &shifted);
    EXPECT(bad == 0, "%d elements differ from the reference", bad);
    EXPECT(flipped > 0 && flipped < BATCH, "flipped %d of %d", flipped, BATCH);
    EXPECT(shifted > BATCH / 2, "shifted %d of %d", shifted, BATCH);
    EXPECT(memcmp(&rng, &replay, sizeof rng) == 0, "the stream is not where 3 draws per image leave it");
}

TEST(padding_is_black_before_normalisation)
{
    /* pad 16 with the extreme offsets: dy = 0 puts 16 padded rows on top.
     * Find such an image and check the padded pixels are -mean/std. */
    int index[BATCH];
    make_index(index);
    hp_rng rng, replay;
    hp_rng_seed_for(&rng, 3, 0, HP_STREAM_AUGMENT);
    replay = rng;
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 16, 0, &rng);
    int checked = 0;
    for (int i = 0; i < BATCH; i++) {
        int dy = (int)hp_rng_below(&replay, 33);
        int dx = (int)hp_rng_below(&replay, 33);
        (void)dx;
        if (dy >= 16)
            continue;
        /* rows 0 .. 16-dy-1 of the output come from the padding */
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < SIDE; x++) {
                float v = batch[(size_t)i * IMAGE + (size_t)c * SIDE * SIDE + x];
                EXPECT_NEAR(v, -mean[c] / stdev[c], 2e-6, "padded pixel");
            }
        checked++;
    }
    EXPECT(checked > 0, "no image had padding on top");
}

TEST(same_seed_same_batch)
{
    int index[BATCH];
    make_index(index);
    static float other[BATCH * IMAGE];
    hp_rng a, b, c;
    hp_rng_seed_for(&a, 42, 0, HP_STREAM_AUGMENT);
    hp_rng_seed_for(&b, 42, 0, HP_STREAM_AUGMENT);
    hp_rng_seed_for(&c, 43, 0, HP_STREAM_AUGMENT);
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 4, 1, &a);
    hp_make_batch(other, images, index, BATCH, mean, stdev, 4, 1, &b);
    EXPECT(memcmp(batch, other, sizeof batch) == 0, "same seed gave different batches");
    hp_make_batch(other, images, index, BATCH, mean, stdev, 4, 1, &c);
    EXPECT(memcmp(batch, other, sizeof batch) != 0, "different seeds gave the same batch");
}

TEST(no_draws_without_augmentation)
{
    int index[BATCH];
    make_index(index);
    hp_rng rng, before;
    hp_rng_seed_for(&rng, 1, 0, HP_STREAM_AUGMENT);
    before = rng;
    hp_make_batch(batch, images, index, BATCH, mean, stdev, 0, 0, &rng);
    EXPECT(memcmp(&rng, &before, sizeof rng) == 0, "the stream moved without augmentation");
}

/* ------------------------------------------------------------ rotation -- */

/* An independent double-precision reference of augment.h's rotation: rotate
 * (bilinear, black outside), then pad/crop, then mirror, then normalise. */
static double rotated_value(const uint8_t *img, int c, double y, double x, double angle_deg)
{
    const double a = angle_deg * M_PI / 180.0, centre = 15.5;
    double sx = centre + cos(a) * (x - centre) + sin(a) * (y - centre);
    double sy = centre - sin(a) * (x - centre) + cos(a) * (y - centre);
    double x0 = floor(sx), y0 = floor(sy), v = 0.0;
    for (int dy = 0; dy <= 1; dy++)
        for (int dx = 0; dx <= 1; dx++) {
            int tx = (int)x0 + dx, ty = (int)y0 + dy;
            if (tx < 0 || tx >= SIDE || ty < 0 || ty >= SIDE)
                continue;
            double w = (dx ? sx - x0 : 1.0 - (sx - x0)) * (dy ? sy - y0 : 1.0 - (sy - y0));
            v += w * img[(c * SIDE + ty) * SIDE + tx];
        }
    return v;
}

static void reference_rotated(double *out, const uint8_t *img, int shift_y, int shift_x, int flip,
                              double angle_deg)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int cx = flip ? SIDE - 1 - x : x, ry = y + shift_y, rx = cx + shift_x;
                double v = (ry < 0 || ry >= SIDE || rx < 0 || rx >= SIDE) ? 0.0
                                                                         : rotated_value(img, c, ry, rx, angle_deg);
                out[(c * SIDE + y) * SIDE + x] = (v / 255.0 - mean[c]) / stdev[c];
            }
}

static void normalisation(float scale[3], float offset[3])
{
    for (int c = 0; c < 3; c++) {
        scale[c] = (float)(1.0 / (255.0 * (double)stdev[c]));
        offset[c] = (float)(-(double)mean[c] / (double)stdev[c]);
    }
}

TEST(quarter_turns_move_pixels_exactly)
{
    /* 90 degrees: R(y, x) = src(x, 31 - y) by the formula (sx = y, sy = 31 - x
     * up to rounding of cos/sin, so the bilinear weights are ~0/1) */
    float scale[3], offset[3];
    normalisation(scale, offset);
    static float plain[IMAGE], turned[IMAGE];
    hp_augment_image(plain, images, 0, 0, 0, 0.0f, scale, offset);
    hp_augment_image(turned, images, 0, 0, 0, 90.0f, scale, offset);
    double worst = 0.0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                float want = plain[(c * SIDE + (SIDE - 1 - x)) * SIDE + y];
                worst = fmax(worst, fabs(turned[(c * SIDE + y) * SIDE + x] - want));
            }
    EXPECT(worst < 1e-4, "90 degrees: worst difference %g from the moved pixels", worst);
    /* 180 degrees = both axes mirrored */
    hp_augment_image(turned, images, 0, 0, 0, 180.0f, scale, offset);
    worst = 0.0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                float want = plain[(c * SIDE + (SIDE - 1 - y)) * SIDE + (SIDE - 1 - x)];
                worst = fmax(worst, fabs(turned[(c * SIDE + y) * SIDE + x] - want));
            }
    EXPECT(worst < 1e-4, "180 degrees: worst difference %g", worst);
}

TEST(rotation_crop_flip_match_reference_in_draw_order)
{
    /* the batch replayed from the documented draws (dy, dx, flip, angle) and
       the double reference above */
    int index[BATCH];
    make_index(index);
    const hp_augment aug = {3, 0.3f, 25.0f};
    hp_rng rng, replay;
    hp_rng_seed_for(&rng, 17, 0, HP_STREAM_AUGMENT);
    replay = rng;
    hp_make_batch_augmented(batch, images, index, BATCH, mean, stdev, &aug, &rng);
    static double ref[IMAGE];
    double worst = 0.0;
    int flipped = 0, small_angles = 0;
    for (int i = 0; i < BATCH; i++) {
        int dy = (int)hp_rng_below(&replay, 7), dx = (int)hp_rng_below(&replay, 7);
        int f = hp_rng_uniform(&replay) < 0.3f;
        double angle = (float)((2.0 * hp_rng_uniform(&replay) - 1.0) * 25.0);
        flipped += f;
        small_angles += fabs(angle) < 1.0;
        EXPECT(fabs(angle) <= 25.0, "angle %g", angle);
        reference_rotated(ref, images + (size_t)index[i] * IMAGE, dy - 3, dx - 3, f, angle);
        for (int k = 0; k < IMAGE; k++)
            worst = fmax(worst, fabs(batch[(size_t)i * IMAGE + k] - ref[k]));
    }
    /* float weights against double: a few 1e-5 of a normalised unit */
    EXPECT(worst < 1e-4, "worst difference from the reference %g", worst);
    EXPECT(flipped > 0 && flipped < BATCH / 2 + 5, "flipped %d of %d at p = 0.3", flipped, BATCH);
    EXPECT(small_angles < BATCH / 4, "%d of %d angles under 1 degree", small_angles, BATCH);
    EXPECT(memcmp(&rng, &replay, sizeof rng) == 0, "the stream is not where 4 draws per image leave it");
}

TEST(flip_probability)
{
    /* p = 0.5 is the historical draw (hp_rng_below(rng, 2)), bit for bit;
       other p: the fraction of flipped images over many draws */
    int index[BATCH];
    make_index(index);
    static float old_way[BATCH * IMAGE];
    hp_rng a, b;
    hp_rng_seed_for(&a, 23, 0, HP_STREAM_AUGMENT);
    b = a;
    hp_make_batch(old_way, images, index, BATCH, mean, stdev, 2, 1, &a);
    const hp_augment half = {2, 0.5f, 0.0f};
    hp_make_batch_augmented(batch, images, index, BATCH, mean, stdev, &half, &b);
    EXPECT(memcmp(old_way, batch, sizeof batch) == 0 && memcmp(&a, &b, sizeof a) == 0,
           "flip_prob 0.5 differs from flip = 1");
    const float probs[] = {0.1f, 0.8f, 1.0f};
    for (size_t k = 0; k < 3; k++) {
        hp_rng r;
        hp_rng_seed_for(&r, 29 + k, 0, HP_STREAM_AUGMENT);
        const hp_augment aug = {0, probs[k], 0.0f};
        static float plain[IMAGE], one[IMAGE];
        hp_make_batch(plain, images, (int[]){0}, 1, mean, stdev, 0, 0, NULL);
        int flipped = 0, trials = 2000;
        for (int t = 0; t < trials; t++) {
            hp_make_batch_augmented(one, images, (int[]){0}, 1, mean, stdev, &aug, &r);
            flipped += memcmp(one, plain, sizeof one) != 0;
        }
        double rate = (double)flipped / trials, sd = sqrt(probs[k] * (1 - probs[k]) / trials);
        EXPECT(fabs(rate - probs[k]) <= 4 * sd + 1e-12, "p %g: flipped %.3f of the time", (double)probs[k], rate);
    }
}

int main(void)
{
    make_images();
    RUN(no_augmentation_is_exact_normalisation);
    RUN(flip_mirrors_columns_exactly);
    RUN(crop_matches_naive_reference);
    RUN(crop_and_flip_match_reference_in_draw_order);
    RUN(padding_is_black_before_normalisation);
    RUN(same_seed_same_batch);
    RUN(no_draws_without_augmentation);
    RUN(quarter_turns_move_pixels_exactly);
    RUN(rotation_crop_flip_match_reference_in_draw_order);
    RUN(flip_probability);
    return testlib_finish();
}
