/* test_net_plan.c - `hptune check`'s shapes-only networks (hp_net_plan_shapes).
 *
 * Oracles: the real builder (hp_net_init) for the parameter count, batch-norm
 * state and multiply-adds; the C library's own count of allocated bytes
 * (mallinfo2) for the memory; a hand count for one small network; the
 * configuration rules for one that cannot be built.
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "net.h"
#include "rng.h"
#include "testlib.h"

static void config_with(hp_config *c, int blocks, int filters, int kernel, int bn, int heads, int units, int batch)
{
    hp_config_defaults(c);
    c->num_blocks = blocks;
    c->filters = filters;
    c->kernel_size = kernel;
    c->batch_norm = bn;
    c->head_layers = heads;
    c->head_units = units;
    c->batch_size = batch;
}

TEST(plan_matches_the_built_network)
{
    hp_config configs[8];
    config_with(&configs[0], 1, 4, 3, 0, 1, 8, 16);
    config_with(&configs[1], 3, 32, 3, 1, 1, 128, 64);
    config_with(&configs[2], 2, 8, 5, 0, 2, 16, 32);
    config_with(&configs[3], 4, 16, 3, 1, 0, 1, 8);
    config_with(&configs[4], 2, 12, 2, 1, 1, 20, 24);
    configs[4].filter_growth = 1;
    configs[4].padding = HP_PAD_VALID;
    configs[4].conv_dropout = 0;
    /* residual blocks (identity and projection shortcuts), global average pooling, mlp */
    config_with(&configs[5], 3, 8, 3, 1, 1, 16, 16);
    configs[5].residual = 1;
    configs[5].convs_per_block = 2;
    configs[5].filter_growth = 1;
    configs[5].head_pool = HP_HEAD_GLOBAL_AVG;
    config_with(&configs[6], 2, 6, 3, 0, 2, 10, 8);
    configs[6].residual = 1;
    configs[6].convs_per_block = 3;
    configs[6].stride = 2;
    config_with(&configs[7], 1, 4, 3, 0, 3, 32, 16);
    configs[7].model = HP_MODEL_MLP;
    configs[7].residual = 1;
    for (int i = 0; i < 8; i++) {
        hp_net_plan plan;
        EXPECT(hp_net_plan_shapes(&plan, &configs[i], configs[i].batch_size) == 0, "plan %d: %s", i,
               hp_error_message());
        struct mallinfo2 before = mallinfo2();
        hp_net net;
        hp_rng rng;
        hp_rng_seed_for(&rng, 1, 1, HP_STREAM_TEST);
        EXPECT(hp_net_init(&net, &configs[i], configs[i].batch_size, &rng) == 0, "init %d", i);
        struct mallinfo2 after = mallinfo2();
        /* allocated bytes (small blocks and mmapped ones), the layer table excepted */
        double allocated = (double)(after.uordblks - before.uordblks) + (double)(after.hblkhd - before.hblkhd);
        double table = (double)net.n_layers * sizeof(hp_layer) * 2;
        EXPECT(plan.n_params == net.n_params && plan.n_bn_state == net.n_bn_state,
               "config %d: params %zu vs %zu, bn %zu vs %zu", i, plan.n_params, net.n_params, plan.n_bn_state,
               net.n_bn_state);
        EXPECT(plan.forward_flops == 2.0 * net.forward_macs, "config %d flops", i);
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer's allocator does not feed mallinfo2 */
        EXPECT(allocated >= (double)plan.bytes && allocated <= (double)plan.bytes * 1.02 + table + 65536,
               "config %d: planned %zu bytes, malloc counts %.0f", i, plan.bytes, allocated);
#else
        (void)allocated, (void)table;
#endif
        hp_net_release(&net);
    }
}

TEST(hand_counted_network)
{
    /* conv 3->4 k3 same on 32x32, ReLU, max-pool 2 -> 16x16x4 = 1024 features,
     * dense 1024->8, dense 8->10 (dropout and activations have no parameters) */
    hp_config c;
    config_with(&c, 1, 4, 3, 0, 1, 8, 16);
    hp_net_plan plan;
    EXPECT(hp_net_plan_shapes(&plan, &c, 16) == 0, "plan");
    long params = (3 * 4 * 9 + 4) + (1024 * 8 + 8) + (8 * 10 + 10);
    double macs = 32.0 * 32 * 4 * 27 + 1024.0 * 8 + 8.0 * 10;
    EXPECT(plan.n_params == (size_t)params && plan.forward_flops == 2 * macs && plan.features == 8,
           "params %zu (want %ld), flops %.0f (want %.0f), features %d", plan.n_params, params,
           plan.forward_flops, 2 * macs, plan.features);
}

TEST(hand_counted_residual_network)
{
    /* block 1: conv 3->4 k3, conv 4->4 k3, shortcut 1x1 3->4 (with bias), on
     * 32x32; max-pool 2 -> 16x16x4; global average -> 4 features; dense 4->8,
     * dense 8->10 */
    hp_config c;
    config_with(&c, 1, 4, 3, 0, 1, 8, 16);
    c.residual = 1;
    c.convs_per_block = 2;
    c.head_pool = HP_HEAD_GLOBAL_AVG;
    hp_net_plan plan;
    EXPECT(hp_net_plan_shapes(&plan, &c, 16) == 0, "plan: %s", hp_error_message());
    long params = (3 * 4 * 9 + 4) + (4 * 4 * 9 + 4) + (3 * 4 + 4) + (4 * 8 + 8) + (8 * 10 + 10);
    double macs = 32.0 * 32 * 4 * 27 + 32.0 * 32 * 4 * 36 + 32.0 * 32 * 4 * 3 + 4.0 * 8 + 8.0 * 10;
    EXPECT(plan.n_params == (size_t)params && plan.forward_flops == 2 * macs && plan.features == 8,
           "params %zu (want %ld), flops %.0f (want %.0f), features %d", plan.n_params, params,
           plan.forward_flops, 2 * macs, plan.features);
    /* mlp: 3072 -> 32 -> 32 (+ shortcut, no parameters) -> 10 */
    hp_config_defaults(&c);
    c.model = HP_MODEL_MLP;
    c.residual = 1;
    c.head_layers = 2;
    c.head_units = 32;
    EXPECT(hp_net_plan_shapes(&plan, &c, 16) == 0, "mlp plan: %s", hp_error_message());
    params = (3072L * 32 + 32) + (32 * 32 + 32) + (32 * 10 + 10);
    EXPECT(plan.n_params == (size_t)params && plan.forward_flops == 2.0 * (3072.0 * 32 + 32 * 32 + 320),
           "mlp params %zu (want %ld)", plan.n_params, params);
}

TEST(unbuildable_configuration_says_why)
{
    hp_config c;
    config_with(&c, 8, 4, 3, 0, 1, 8, 16);
    hp_net_plan plan;
    EXPECT(hp_net_plan_shapes(&plan, &c, 16) == -1 && strstr(hp_error_message(), "cannot be built") &&
               strstr(hp_error_message(), "pooling of block 6"),
           "message: %s", hp_error_message());
}

/* HPTUNE_CONV: im2col everywhere, Winograd with 2x2 or 4x4 tiles on every 3x3
 * stride-1 layer, or the default (im2col for 3 input channels, 2x2 tiles for
 * 16 channels); the same weights give the same logits (up to rounding)
 * either way, the plan follows the switch, and an unknown value is
 * refused. */
TEST(conv_switch_from_environment)
{
    hp_config c;
    config_with(&c, 3, 16, 3, 0, 1, 32, 8); /* conv 3->16, 16->16, 16->16 */
    static const char *const settings[4] = {"im2col", "winograd", "winograd4", ""};
    /* expected algorithm of conv layers 0, 1, 2 under each setting */
    static const hp_conv_algorithm expected[4][3] = {
        {HP_CONV_IM2COL, HP_CONV_IM2COL, HP_CONV_IM2COL},
        {HP_CONV_WINOGRAD, HP_CONV_WINOGRAD, HP_CONV_WINOGRAD},
        {HP_CONV_WINOGRAD4, HP_CONV_WINOGRAD4, HP_CONV_WINOGRAD4},
        {HP_CONV_IM2COL, HP_CONV_WINOGRAD, HP_CONV_WINOGRAD}};
    float x[8 * 3 * 32 * 32], logits[4][8 * 10];
    hp_rng data_rng;
    hp_rng_seed_for(&data_rng, 2, 2, HP_STREAM_TEST);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)hp_rng_normal(&data_rng);
    for (int s = 0; s < 4; s++) {
        setenv("HPTUNE_CONV", settings[s], 1);
        hp_net_plan plan;
        hp_net net;
        hp_rng rng;
        hp_rng_seed_for(&rng, 1, 1, HP_STREAM_TEST);
        EXPECT(hp_net_plan_shapes(&plan, &c, 8) == 0 && hp_net_init(&net, &c, 8, &rng) == 0, "%s: %s",
               settings[s], hp_error_message());
        for (int i = 0, conv = 0; i < net.n_layers; i++) {
            if (net.layers[i].kind != HP_LAYER_CONV)
                continue;
            EXPECT(conv2d_algorithm(&net.layers[i].conv) == expected[s][conv], "HPTUNE_CONV='%s' conv %d: %s",
                   settings[s], conv, conv2d_algorithm_name(&net.layers[i].conv));
            conv++;
        }
        memcpy(logits[s], hp_net_forward(&net, x, 8, 0, NULL), sizeof logits[s]);
        hp_net_release(&net);
    }
    for (int s = 1; s < 4; s++)
        for (int i = 0; i < 8 * 10; i++)
            EXPECT_NEAR(logits[s][i], logits[0][i], 1e-3 * (1 + fabsf(logits[0][i])), "logit vs im2col");
    setenv("HPTUNE_CONV", "fft", 1);
    hp_net_plan plan;
    EXPECT(hp_net_plan_shapes(&plan, &c, 8) == -1 && strstr(hp_error_message(), "HPTUNE_CONV='fft'"),
           "unknown value: %s", hp_error_message());
    unsetenv("HPTUNE_CONV");
}

int main(void)
{
    RUN(plan_matches_the_built_network);
    RUN(hand_counted_network);
    RUN(hand_counted_residual_network);
    RUN(unbuildable_configuration_says_why);
    RUN(conv_switch_from_environment);
    return testlib_finish();
}
