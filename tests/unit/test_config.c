/* test_config.c - the hyperparameter table: defaults, parsing, ranges, round trips. */
#include <string.h>

#include "config.h"
#include "error.h"
#include "rng.h"
#include "testlib.h"

/* The seed's build_cnn_fixed() defaults (seed 000), and Keras' optimizer defaults. */
TEST(defaults_follow_the_seed)
{
    hp_config c;
    hp_config_defaults(&c);
    EXPECT(c.num_blocks == 3 && c.filters == 32 && c.kernel_size == 3, "blocks %d filters %d kernel %d",
           c.num_blocks, c.filters, c.kernel_size);
    EXPECT(c.activation == HP_ACT_RELU && c.padding == HP_PAD_SAME && c.pool == HP_POOL_MAX && c.pool_size == 2,
           "activation/padding/pool");
    EXPECT(c.conv_dropout == 0.25f && c.head_layers == 1 && c.head_units == 128 && c.head_dropout == 0.5f,
           "dropout/head");
    EXPECT(c.optimizer == HP_OPT_ADAM && c.learning_rate == 0.001f && c.epsilon == 1e-7f, "optimizer");
    EXPECT(hp_config_validate(&c) == 0, "defaults build: %s", hp_error_message());
    /* issue 13's keys default to the network and training of before */
    EXPECT(c.model == HP_MODEL_CNN && c.convs_per_block == 1 && !c.residual && c.head_pool == HP_HEAD_FLATTEN,
           "architecture defaults");
    EXPECT(c.bn_momentum == 0.99f && c.bn_epsilon == 1e-3f, "batch norm defaults (Keras)");
    EXPECT(c.label_smoothing == 0 && c.grad_clip_norm == 0 && c.augment_flip == 0 && c.augment_rotate == 0,
           "training defaults off");
}

/* augment_flip is a probability that also reads true (0.5) and false (0). */
TEST(flip_probability_reads_booleans)
{
    const hp_key *k = hp_config_find_key("augment_flip");
    double v = -1;
    EXPECT(k && hp_config_parse_value(k, "true", &v) == 0 && v == 0.5, "true -> %g", v);
    EXPECT(hp_config_parse_value(k, "False", &v) == 0 && v == 0, "False -> %g", v);
    EXPECT(hp_config_parse_value(k, "0.25", &v) == 0 && v == 0.25, "0.25 -> %g", v);
    EXPECT(hp_config_parse_value(k, "often", &v) == -1 && strstr(hp_error_message(), "augment_flip"),
           "'often': %s", hp_error_message());
    hp_config c;
    hp_config_defaults(&c);
    EXPECT(hp_config_set(&c, k, 1.5) == -1 && strstr(hp_error_message(), "outside the valid range [0, 1]"),
           "1.5: %s", hp_error_message());
    /* learning_rate has no true_value: booleans stay refused */
    EXPECT(hp_config_parse_value(hp_config_find_key("learning_rate"), "true", &v) == -1, "learning_rate: true");
}

/* Every value written by hp_config_format_value reads back to the same bits. */
TEST(format_parse_round_trip)
{
    size_t n;
    const hp_key *keys = hp_config_keys(&n);
    hp_rng r;
    hp_rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) {
        const hp_key *k = &keys[i];
        for (int trial = 0; trial < 200; trial++) {
            double v = k->def;
            if (k->type == HP_KEY_FLOAT)
                v = k->min + hp_rng_uniform(&r) * (k->max - k->min);
            else if (k->type == HP_KEY_INT)
                v = k->min + (double)hp_rng_below(&r, (uint64_t)(k->max - k->min) + 1);
            else if (k->type == HP_KEY_BOOL)
                v = (double)hp_rng_below(&r, 2);
            hp_config c, d;
            hp_config_defaults(&c);
            hp_config_defaults(&d);
            EXPECT(hp_config_set(&c, k, v) == 0, "%s = %g: %s", k->name, v, hp_error_message());
            char text[64];
            double back;
            hp_config_format_value(k, hp_config_get(&c, k), text, sizeof text);
            EXPECT(hp_config_parse_value(k, text, &back) == 0 && hp_config_set(&d, k, back) == 0,
                   "%s: '%s' does not parse: %s", k->name, text, hp_error_message());
            EXPECT(memcmp(&c, &d, sizeof c) == 0, "%s: '%s' does not round-trip", k->name, text);
        }
    }
    char text[64];
    hp_config_format_value(hp_config_find_key("learning_rate"), 0.001, text, sizeof text);
    EXPECT(strcmp(text, "0.001") == 0, "0.001 printed as %s (shortest form)", text);
}

TEST(bad_values_are_refused_with_the_key_name)
{
    hp_config c;
    hp_config_defaults(&c);
    double v;
    EXPECT(hp_config_parse_value(hp_config_find_key("activation"), "relu6", &v) != 0 &&
               strstr(hp_error_message(), "activation: 'relu6' is not one of: relu, leaky_relu"),
           "%s", hp_error_message());
    EXPECT(hp_config_parse_value(hp_config_find_key("filters"), "3.5", &v) != 0 &&
               strstr(hp_error_message(), "whole number"), "%s", hp_error_message());
    EXPECT(hp_config_set(&c, hp_config_find_key("conv_dropout"), 1.0) != 0 &&
               strstr(hp_error_message(), "outside the valid range"), "%s", hp_error_message());
    EXPECT(hp_config_apply_assignment(&c, "learning_rate") != 0 && strstr(hp_error_message(), "key=value"),
           "%s", hp_error_message());
    EXPECT(hp_config_apply_assignment(&c, "batch_size=128") == 0 && c.batch_size == 128, "--set batch_size");
}

/* Five 2x2 max-pool blocks need 32 -> 1: the sixth cannot be built. */
TEST(networks_that_cannot_be_built)
{
    hp_config c;
    hp_config_defaults(&c);
    c.num_blocks = 5;
    EXPECT(hp_config_validate(&c) == 0, "5 blocks fit 32x32: %s", hp_error_message());
    c.num_blocks = 6;
    EXPECT(hp_config_validate(&c) != 0 && strstr(hp_error_message(), "block 6"), "%s", hp_error_message());
    hp_config_defaults(&c);
    c.padding = HP_PAD_VALID;
    c.kernel_size = 5;
    c.num_blocks = 3; /* 32 -> 28 -> 14 -> 10 -> 5 -> 1 -> pool needs 2x2 */
    EXPECT(hp_config_validate(&c) != 0, "valid 5x5 x3 should not fit");
}

int main(void)
{
    RUN(defaults_follow_the_seed);
    RUN(format_parse_round_trip);
    RUN(flip_probability_reads_booleans);
    RUN(bad_values_are_refused_with_the_key_name);
    RUN(networks_that_cannot_be_built);
    return testlib_finish();
}
