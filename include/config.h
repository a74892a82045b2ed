/* config.h - one trial's hyperparameters, defined once in a key table.
 *
 * The table (src/nn/config.c) gives every key its name, type, default, valid
 * range and help text.  The job parser (fixed: and space:), `--set`, trial
 * checkpoints, `best.yaml`, `hptune export` and the curves objective all use
 * it, so a new hyperparameter is one struct field plus one table row.
 * Defaults are seed 000's build_cnn_fixed() defaults (32x32 CIFAR input).
 */
#ifndef HPTUNE_CONFIG_H
#define HPTUNE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "layers.h"

#define HP_MAX_BLOCKS 8 /* the range of num_blocks */

typedef enum { HP_OPT_SGD = 0, HP_OPT_ADAM, HP_OPT_ADAMW, HP_OPT_RMSPROP } hp_optimizer;
typedef enum { HP_SCHED_CONSTANT = 0, HP_SCHED_STEP, HP_SCHED_COSINE } hp_schedule;
/* auto: He normal for the ReLU family, Glorot uniform otherwise (and for the
 * classifier), zero biases; glorot: Keras' default everywhere; he: He normal
 * everywhere but the classifier; torch: PyTorch's default (weights and biases). */
typedef enum { HP_INIT_AUTO = 0, HP_INIT_GLOROT, HP_INIT_HE, HP_INIT_TORCH } hp_init;
/* cnn: the conv blocks below; mlp: the flattened image straight into the head. */
typedef enum { HP_MODEL_CNN = 0, HP_MODEL_MLP } hp_model;
/* What feeds the head of a cnn: every feature (flatten) or one mean per channel. */
typedef enum { HP_HEAD_FLATTEN = 0, HP_HEAD_GLOBAL_AVG } hp_head_pool;

typedef struct hp_config {
    /* architecture (net.h): model cnn: num_blocks x [convs_per_block x
       (conv -> (bn) -> act), residual: shortcut added before the last act
       -> pool -> dropout], flatten or global_avg, head_layers x
       [dense -> act -> dropout], dense 10;
       model mlp: flatten, head_layers x [dense -> act -> (residual and equal
       widths: + the layer's input) -> dropout], dense 10 */
    int model;             /* hp_model */
    int num_blocks;
    int convs_per_block;   /* convolutions per block (residual: >= 2) */
    int residual;          /* 0/1 cnn: shortcut around each block; mlp: around equal-width head layers */
    int filters;           /* filters of the first block */
    int filter_growth;     /* 0: fixed width; 1: x2 per block (progressive) */
    int block_filters[HP_MAX_BLOCKS]; /* keys block1_filters..: > 0 sets block b's filters
                                         (fixed: filters: [a, b, ..] fills them); 0: from
                                         filters and filter_growth */
    int kernel_size;
    int stride;
    int padding;           /* hp_padding */
    int activation;        /* hp_activation */
    float leaky_slope;     /* for leaky_relu */
    int batch_norm;        /* 0/1 */
    float bn_momentum;     /* running = momentum*running + (1-momentum)*batch */
    float bn_epsilon;
    int pool;              /* hp_pool */
    int pool_size;
    int pool_stride;       /* 0: equal to pool_size */
    float conv_dropout;
    int head_pool;         /* hp_head_pool */
    int head_layers;
    int head_units;
    float head_dropout;
    int init;              /* hp_init */
    /* optimisation */
    int optimizer;         /* hp_optimizer */
    float learning_rate;
    float momentum;        /* SGD momentum; RMSprop momentum */
    int nesterov;          /* SGD only */
    float beta1, beta2;    /* Adam/AdamW */
    float epsilon;         /* Adam/AdamW/RMSprop */
    float rho;             /* RMSprop decay */
    float weight_decay;    /* L2 added to the gradient; AdamW: decoupled */
    int lr_schedule;       /* hp_schedule */
    int lr_step_epochs;    /* step decay every this many epochs */
    float lr_gamma;        /* step decay factor */
    float lr_min;          /* cosine floor */
    int warmup_epochs;     /* linear warm-up (per step) over this many epochs */
    float label_smoothing; /* training targets (1-e)*onehot + e/10 */
    float grad_clip_norm;  /* 0: off; else scale the gradient to at most this global L2 norm */
    int batch_size;
    int epochs;
    int augment_crop;      /* 0: off; else pad by this many pixels and crop 32x32 */
    float augment_flip;    /* probability of a horizontal flip (true = 0.5, false = 0) */
    float augment_rotate;  /* 0: off; else rotate by an angle uniform in [-this, this] degrees */
    int seed;              /* trial seed (the study derives it per trial) */
    /* coordinates of `objective: function` (functions.h); the network ignores them */
    float x1, x2, x3, x4, x5, x6;
} hp_config;

typedef enum { HP_KEY_INT = 0, HP_KEY_FLOAT, HP_KEY_ENUM, HP_KEY_BOOL } hp_key_type;

typedef struct hp_key {
    const char *name;
    hp_key_type type;
    size_t offset;                  /* into hp_config */
    double def;                     /* default (enum: index) */
    double min, max;                /* inclusive valid range (not for enums) */
    const char *const *enum_names;  /* NULL-terminated, for HP_KEY_ENUM */
    const char *help;
    double true_value;              /* HP_KEY_FLOAT keys that also read true/false: the value
                                       of true (false is 0); 0 for the others */
} hp_key;

/* The table, in a stable order (also the order of config columns in exports). */
const hp_key *hp_config_keys(size_t *count);
const hp_key *hp_config_find_key(const char *name); /* NULL if unknown */
int hp_config_key_index(const hp_key *k);

void hp_config_defaults(hp_config *c);
/* Parse text for key k: numbers for int/float (ints must be whole), names for
 * enums, true/false/yes/no/1/0 for bools (and true/false/yes/no for floats
 * with a true_value, e.g. augment_flip: true = 0.5).  On error returns -1 with a message
 * that does not name a file (the caller prefixes the location). */
int hp_config_parse_value(const hp_key *k, const char *text, double *out);
/* Range-checked set (message on error, no location). */
int hp_config_set(hp_config *c, const hp_key *k, double value);
double hp_config_get(const hp_config *c, const hp_key *k);
/* Text for a value: enum names, true/false, ints, floats as %.9g (round-trips). */
void hp_config_format_value(const hp_key *k, double value, char *buf, size_t size);
/* Cross-field checks that need no data (e.g. pool_size vs input); message, -1. */
int hp_config_validate(const hp_config *c);
/* Write every key as "<indent>key: value\n". */
void hp_config_write_yaml(FILE *f, const hp_config *c, const char *indent);
/* Apply "key=value" (from --set); message names the option on error. */
int hp_config_apply_assignment(hp_config *c, const char *assignment);
/* Filters of block b (0-based): block_filters[b] if set, else after growth. */
int hp_config_block_filters(const hp_config *c, int block);

#endif
