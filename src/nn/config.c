/* config.c - the hyperparameter table. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_options.h"
#include "error.h"

static const char *const padding_names[] = {"same", "valid", NULL};
static const char *const activation_names[] = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", NULL};
static const char *const pool_names[] = {"max", "avg", NULL};
static const char *const optimizer_names[] = {"sgd", "adam", "adamw", "rmsprop", NULL};
static const char *const schedule_names[] = {"constant", "step", "cosine", NULL};
static const char *const init_names[] = {"auto", "glorot", "he", "torch", NULL};
static const char *const model_names[] = {"cnn", "mlp", NULL};
static const char *const head_pool_names[] = {"flatten", "global_avg", NULL};

#define KEY(field, type, def, lo, hi, names, help) \
    {#field, type, offsetof(hp_config, field), def, lo, hi, names, help, 0}
/* a key whose name is not its field's (an array element) */
#define KEY_AT(name, field, type, def, lo, hi, help) \
    {name, type, offsetof(hp_config, field), def, lo, hi, NULL, help, 0}
/* a float that also reads true (= true_value) and false (= 0) */
#define KEY_OR_BOOL(field, def, lo, hi, true_value, help) \
    {#field, HP_KEY_FLOAT, offsetof(hp_config, field), def, lo, hi, NULL, help, true_value}

static const hp_key config_keys[] = {
    KEY(model, HP_KEY_ENUM, HP_MODEL_CNN, 0, 0, model_names, "cnn: conv blocks then the head; mlp: the flattened image into the head"),
    KEY(num_blocks, HP_KEY_INT, 3, 1, 8, NULL, "convolutional blocks"),
    KEY(convs_per_block, HP_KEY_INT, 1, 1, 4, NULL, "convolutions per block (residual: at least 2)"),
    KEY(residual, HP_KEY_BOOL, 0, 0, 1, NULL, "shortcut around each conv block (cnn) or equal-width head layer (mlp)"),
    KEY(filters, HP_KEY_INT, 32, 1, 1024, NULL, "filters of the first conv block"),
    KEY(filter_growth, HP_KEY_BOOL, 0, 0, 1, NULL, "double the filters every block (progressive)"),
    KEY_AT("block1_filters", block_filters[0], HP_KEY_INT, 0, 0, 1024, "filters of block 1 (0: from filters and filter_growth; fixed: filters: [..] sets them)"),
    KEY_AT("block2_filters", block_filters[1], HP_KEY_INT, 0, 0, 1024, "filters of block 2 (0: from filters and filter_growth)"),
    KEY_AT("block3_filters", block_filters[2], HP_KEY_INT, 0, 0, 1024, "filters of block 3 (0: from filters and filter_growth)"),
    KEY_AT("block4_filters", block_filters[3], HP_KEY_INT, 0, 0, 1024, "filters of block 4 (0: from filters and filter_growth)"),
    KEY_AT("block5_filters", block_filters[4], HP_KEY_INT, 0, 0, 1024, "filters of block 5 (0: from filters and filter_growth)"),
    KEY_AT("block6_filters", block_filters[5], HP_KEY_INT, 0, 0, 1024, "filters of block 6 (0: from filters and filter_growth)"),
    KEY_AT("block7_filters", block_filters[6], HP_KEY_INT, 0, 0, 1024, "filters of block 7 (0: from filters and filter_growth)"),
    KEY_AT("block8_filters", block_filters[7], HP_KEY_INT, 0, 0, 1024, "filters of block 8 (0: from filters and filter_growth)"),
    KEY(kernel_size, HP_KEY_INT, 3, 1, 11, NULL, "square convolution kernel size"),
    KEY(stride, HP_KEY_INT, 1, 1, 4, NULL, "convolution stride"),
    KEY(padding, HP_KEY_ENUM, HP_PAD_SAME, 0, 0, padding_names, "convolution padding"),
    KEY(activation, HP_KEY_ENUM, HP_ACT_RELU, 0, 0, activation_names, "activation of conv and head layers"),
    KEY(leaky_slope, HP_KEY_FLOAT, 0.2, 0, 1, NULL, "negative slope of leaky_relu"),
    KEY(batch_norm, HP_KEY_BOOL, 0, 0, 1, NULL, "batch normalisation after each conv"),
    KEY(bn_momentum, HP_KEY_FLOAT, 0.99, 0, 0.9999, NULL, "batch norm running-statistics momentum (Keras)"),
    KEY(bn_epsilon, HP_KEY_FLOAT, 1e-3, 1e-8, 1, NULL, "batch norm epsilon (Keras)"),
    KEY(pool, HP_KEY_ENUM, HP_POOL_MAX, 0, 0, pool_names, "pooling type"),
    KEY(pool_size, HP_KEY_INT, 2, 1, 8, NULL, "pooling window"),
    KEY(pool_stride, HP_KEY_INT, 0, 0, 8, NULL, "pooling stride (0: pool_size)"),
    KEY(conv_dropout, HP_KEY_FLOAT, 0.25, 0, 0.95, NULL, "dropout after each conv block"),
    KEY(head_pool, HP_KEY_ENUM, HP_HEAD_FLATTEN, 0, 0, head_pool_names, "cnn: flatten, or average each channel (global_avg) before the head"),
    KEY(head_layers, HP_KEY_INT, 1, 0, 8, NULL, "dense layers in the head"),
    KEY(head_units, HP_KEY_INT, 128, 1, 65536, NULL, "units per head layer"),
    KEY(head_dropout, HP_KEY_FLOAT, 0.5, 0, 0.95, NULL, "dropout after each head layer"),
    KEY(init, HP_KEY_ENUM, HP_INIT_AUTO, 0, 0, init_names, "weight initialisation"),
    KEY(optimizer, HP_KEY_ENUM, HP_OPT_ADAM, 0, 0, optimizer_names, "optimizer"),
    KEY(learning_rate, HP_KEY_FLOAT, 1e-3, 1e-8, 10, NULL, "initial learning rate"),
    KEY(momentum, HP_KEY_FLOAT, 0.0, 0, 0.999, NULL, "SGD / RMSprop momentum (Keras default 0)"),
    KEY(nesterov, HP_KEY_BOOL, 0, 0, 1, NULL, "Nesterov momentum (SGD)"),
    KEY(beta1, HP_KEY_FLOAT, 0.9, 0, 0.9999, NULL, "Adam first-moment decay"),
    KEY(beta2, HP_KEY_FLOAT, 0.999, 0, 0.999999, NULL, "Adam second-moment decay"),
    KEY(epsilon, HP_KEY_FLOAT, 1e-7, 1e-12, 1, NULL, "Adam / RMSprop epsilon (Keras default)"),
    KEY(rho, HP_KEY_FLOAT, 0.9, 0, 0.9999, NULL, "RMSprop decay"),
    KEY(weight_decay, HP_KEY_FLOAT, 0, 0, 1, NULL, "L2 weight decay (AdamW: decoupled)"),
    KEY(lr_schedule, HP_KEY_ENUM, HP_SCHED_CONSTANT, 0, 0, schedule_names, "learning-rate schedule"),
    KEY(lr_step_epochs, HP_KEY_INT, 10, 1, 100000, NULL, "step schedule: decay every N epochs"),
    KEY(lr_gamma, HP_KEY_FLOAT, 0.1, 0, 1, NULL, "step schedule: decay factor"),
    KEY(lr_min, HP_KEY_FLOAT, 0, 0, 10, NULL, "cosine schedule: final learning rate"),
    KEY(warmup_epochs, HP_KEY_INT, 0, 0, 100000, NULL, "linear warm-up epochs"),
    KEY(label_smoothing, HP_KEY_FLOAT, 0, 0, 1, NULL, "training targets (1-e)*onehot + e/10"),
    KEY(grad_clip_norm, HP_KEY_FLOAT, 0, 0, 1e6, NULL, "clip the global gradient L2 norm to this (0: off)"),
    KEY(batch_size, HP_KEY_INT, 64, 1, 65536, NULL, "mini-batch size"),
    KEY(epochs, HP_KEY_INT, 10, 1, 100000, NULL, "training epochs"),
    KEY(augment_crop, HP_KEY_INT, 0, 0, 16, NULL, "random crop padding in pixels (0: off)"),
    KEY_OR_BOOL(augment_flip, 0, 0, 1, 0.5, "probability of a random horizontal flip (true: 0.5)"),
    KEY(augment_rotate, HP_KEY_FLOAT, 0, 0, 180, NULL, "random rotation by up to this many degrees (bilinear; 0: off)"),
    KEY(seed, HP_KEY_INT, 0, 0, 2147483647, NULL, "trial seed"),
    KEY(x1, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 1 of objective: function (benchmarks)"),
    KEY(x2, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 2 of objective: function"),
    KEY(x3, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 3 of objective: function"),
    KEY(x4, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 4 of objective: function"),
    KEY(x5, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 5 of objective: function"),
    KEY(x6, HP_KEY_FLOAT, 0, -1e6, 1e6, NULL, "coordinate 6 of objective: function"),
};
#undef KEY
#undef KEY_OR_BOOL
#undef KEY_AT

#define N_KEYS (sizeof config_keys / sizeof config_keys[0])

const hp_key *hp_config_keys(size_t *count)
{
    *count = N_KEYS;
    return config_keys;
}

const hp_key *hp_config_find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

int hp_config_key_index(const hp_key *k) { return (int)(k - config_keys); }

static int *int_field(hp_config *c, const hp_key *k) { return (int *)((char *)c + k->offset); }
static float *float_field(hp_config *c, const hp_key *k) { return (float *)((char *)c + k->offset); }

void hp_config_defaults(hp_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++)
        if (hp_config_set(c, &config_keys[i], config_keys[i].def) != 0)
            HP_PANIC("default of %s is out of its own range", config_keys[i].name);
}

static int enum_count(const hp_key *k)
{
    int n = 0;
    while (k->enum_names[n])
        n++;
    return n;
}

static void list_enum_names(const hp_key *k, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; k->enum_names[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? ", " : "", k->enum_names[i]);
    }
}

int hp_config_parse_value(const hp_key *k, const char *text, double *out)
{
    if (k->type == HP_KEY_ENUM) {
        for (int i = 0; k->enum_names[i]; i++)
            if (strcmp(k->enum_names[i], text) == 0) {
                *out = i;
                return 0;
            }
        char names[256];
        list_enum_names(k, names, sizeof names);
        return HP_ERR("%s: '%s' is not one of: %s", k->name, text, names);
    }
    if (k->type == HP_KEY_BOOL) {
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcmp(text, "1")) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcmp(text, "0")) {
            *out = 0;
            return 0;
        }
        return HP_ERR("%s: '%s' is not a boolean (use true or false)", k->name, text);
    }
    if (k->type == HP_KEY_FLOAT && k->true_value != 0) {
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes")) {
            *out = k->true_value;
            return 0;
        }
        if (!strcasecmp(text, "false") || !strcasecmp(text, "no")) {
            *out = 0;
            return 0;
        }
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return HP_ERR("%s: '%s' is not a %s", k->name, text,
                      k->type == HP_KEY_INT ? "whole number" : "number");
    if (k->type == HP_KEY_INT && v != floor(v))
        return HP_ERR("%s: '%s' is not a whole number", k->name, text);
    *out = v;
    return 0;
}

int hp_config_set(hp_config *c, const hp_key *k, double value)
{
    char buf[64];
    switch (k->type) {
    case HP_KEY_ENUM:
        if (value < 0 || value >= enum_count(k) || value != floor(value))
            return HP_ERR("%s: enum index %g out of range", k->name, value);
        *int_field(c, k) = (int)value;
        return 0;
    case HP_KEY_BOOL:
    case HP_KEY_INT:
        if (value != floor(value))
            return HP_ERR("%s: %g is not a whole number", k->name, value);
        if (value < k->min || value > k->max)
            return HP_ERR("%s: %.17g is outside the valid range [%g, %g]", k->name, value, k->min, k->max);
        *int_field(c, k) = (int)value;
        return 0;
    case HP_KEY_FLOAT:
        if (!isfinite(value) || value < k->min || value > k->max) {
            snprintf(buf, sizeof buf, "%.9g", value);
            return HP_ERR("%s: %s is outside the valid range [%g, %g]", k->name, buf, k->min, k->max);
        }
        *float_field(c, k) = (float)value;
        return 0;
    }
    HP_PANIC("bad key type");
}

double hp_config_get(const hp_config *c, const hp_key *k)
{
    if (k->type == HP_KEY_FLOAT)
        return *float_field((hp_config *)c, k);
    return *int_field((hp_config *)c, k);
}

void hp_config_format_value(const hp_key *k, double value, char *buf, size_t size)
{
    switch (k->type) {
    case HP_KEY_ENUM: {
        int i = (int)value;
        snprintf(buf, size, "%s", (i >= 0 && i < enum_count(k)) ? k->enum_names[i] : "?");
        return;
    }
    case HP_KEY_BOOL:
        snprintf(buf, size, "%s", value != 0 ? "true" : "false");
        return;
    case HP_KEY_INT:
        snprintf(buf, size, "%.0f", value);
        return;
    case HP_KEY_FLOAT: {
        /* the shortest text that reads back as the same float (at most 9 digits) */
        float f = (float)value;
        for (int digits = 6; digits <= 9; digits++) {
            snprintf(buf, size, "%.*g", digits, (double)f);
            if ((float)strtod(buf, NULL) == f)
                return;
        }
        return;
    }
    }
}

int hp_config_block_filters(const hp_config *c, int block)
{
    if (block >= 0 && block < HP_MAX_BLOCKS && c->block_filters[block] > 0)
        return c->block_filters[block];
    long f = c->filters;
    for (int i = 0; i < block && c->filter_growth; i++)
        f *= 2;
    return f > 65536 ? 65536 : (int)f;
}

int hp_config_validate(const hp_config *c)
{
    if (c->model == HP_MODEL_MLP) {
        int image = 3 * 32 * 32;
        if (c->residual && c->head_layers < 2 && !(c->head_layers == 1 && c->head_units == image))
            return HP_ERR("residual: true with model: mlp adds a shortcut around each head layer whose "
                          "input has head_units features (every layer after the first; the first "
                          "too when head_units is %d); this head has none: use head_layers >= 2",
                          image);
        return 0;
    }
    if (c->residual && c->convs_per_block < 2)
        return HP_ERR("residual: true needs convs_per_block >= 2 (a residual block is conv -> act "
                      "-> conv + shortcut); set convs_per_block: 2 or residual: false");
    if (c->residual && c->padding != HP_PAD_SAME)
        return HP_ERR("residual: true needs padding: same (the shortcut is added to the block's "
                      "output, which must keep the input's height and width up to the stride)");
    int size = 32; /* CIFAR-10 input */
    for (int b = 0; b < c->num_blocks; b++) {
        int k = c->kernel_size;
        for (int conv = 0; conv < c->convs_per_block; conv++) {
            int stride = conv == 0 ? c->stride : 1; /* only a block's first conv strides */
            if (c->padding == HP_PAD_SAME)
                size = (size + stride - 1) / stride;
            else
                size = size >= k ? (size - k) / stride + 1 : 0;
            if (size < 1)
                return HP_ERR("the network cannot be built: conv block %d (kernel %d, stride %d, %s) "
                              "has no output on a 32x32 input; use fewer blocks, padding same or a smaller kernel",
                              b + 1, k, c->stride, padding_names[c->padding]);
        }
        int pstride = c->pool_stride ? c->pool_stride : c->pool_size;
        if (size < c->pool_size)
            return HP_ERR("the network cannot be built: pooling of block %d needs %dx%d input but "
                          "gets %dx%d; use fewer blocks (num_blocks) or a smaller pool_size",
                          b + 1, c->pool_size, c->pool_size, size, size);
        size = (size - c->pool_size) / pstride + 1;
    }
    long spatial = c->head_pool == HP_HEAD_GLOBAL_AVG ? 1 : (long)size * size;
    long flat = spatial * hp_config_block_filters(c, c->num_blocks - 1);
    if (flat > (1L << 24))
        return HP_ERR("the network is too large: %ld features after the conv blocks", flat);
    return 0;
}

void hp_config_write_yaml(FILE *f, const hp_config *c, const char *indent)
{
    char buf[64];
    for (size_t i = 0; i < N_KEYS; i++) {
        hp_config_format_value(&config_keys[i], hp_config_get(c, &config_keys[i]), buf, sizeof buf);
        fprintf(f, "%s%s: %s\n", indent, config_keys[i].name, buf);
    }
}

int hp_config_apply_assignment(hp_config *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return HP_ERR("--set '%s': expected key=value (for example --set learning_rate=0.01)", assignment);
    char name[64];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof name)
        return HP_ERR("--set '%s': key too long", assignment);
    memcpy(name, assignment, len);
    name[len] = '\0';
    const hp_key *k = hp_config_find_key(name);
    if (!k) {
        const char *names[N_KEYS + 1];
        for (size_t i = 0; i < N_KEYS; i++)
            names[i] = config_keys[i].name;
        names[N_KEYS] = NULL;
        const char *near = hp_closest_name(name, names, 2);
        return HP_ERR("--set '%s': unknown hyperparameter '%s'%s%s%s (hptune train --help-keys lists them)",
                      assignment, name, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    double v;
    if (hp_config_parse_value(k, eq + 1, &v) != 0 || hp_config_set(c, k, v) != 0) {
        hp_error_prefix("--set");
        return -1;
    }
    return 0;
}
