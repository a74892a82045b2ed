/* cmd_train.c - `hptune train JOB.yaml`: one configuration, one process, no MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "cli_options.h"
#include "dataset.h"
#include "error.h"
#include "job.h"
#include "trainer.h"

static const char train_help[] =
    "usage: hptune train JOB.yaml [--set KEY=VALUE ...] [options]\n"
    "       hptune train --help-keys\n"
    "\n"
    "Trains the job's fixed configuration (data: and fixed: sections; a best.yaml\n"
    "written by 'hptune run' works too) and prints one line per epoch.  The job needs\n"
    "only data.path and fixed: without study: the name is the file's; without\n"
    "strategy: one trial; without train_shards/val_shards: every shard but the last\n"
    "trains, the last validates (the first line says which).\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE     override a hyperparameter (repeatable)\n"
    "  --checkpoint PATH   write a trial checkpoint after every epoch and on SIGTERM/SIGINT\n"
    "  --resume PATH       continue from a checkpoint (its configuration is used)\n"
    "  --stop-at N         stop after N epochs in total (then resume later)\n"
    "  --no-test           skip the final test-set evaluation\n"
    "  --train-all         train on the training and validation shards together, without\n"
    "                      validation (retrain a final model), then report the test set\n"
    "  --time-layers       print the time spent per layer type and per layer (with GFLOPS)\n"
    "  -q, --quiet         print only the final summary\n"
    "  --help-keys         list every hyperparameter with its default and range\n"
    "  -h, --help          this help\n";

static void print_keys(void)
{
    size_t n;
    const hp_key *keys = hp_config_keys(&n);
    hp_config defaults;
    hp_config_defaults(&defaults);
    for (size_t i = 0; i < n; i++) {
        char value[64];
        hp_config_format_value(&keys[i], hp_config_get(&defaults, &keys[i]), value, sizeof value);
        printf("  %-16s %-10s %s", keys[i].name, value, keys[i].help);
        if (keys[i].type == HP_KEY_ENUM) {
            printf(" (");
            for (int k = 0; keys[i].enum_names[k]; k++)
                printf("%s%s", k ? ", " : "", keys[i].enum_names[k]);
            printf(")");
        } else if (keys[i].type != HP_KEY_BOOL) {
            printf(" [%g, %g]", keys[i].min, keys[i].max);
        }
        printf("\n");
    }
}

static void print_epoch(const hp_epoch_metrics *m, int epochs, int n_train)
{
    printf("epoch %3d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  P %.4f R %.4f F1 %.4f"
           "  lr %.3g  %.1f s (%.0f img/s)\n",
           m->epoch, epochs, m->train_loss, m->train_accuracy, m->val_loss, m->val_accuracy,
           m->val_precision, m->val_recall, m->val_f1, m->learning_rate, m->seconds,
           m->seconds > 0 ? n_train / m->seconds : 0.0);
    fflush(stdout);
}

static void print_confusion(const int64_t *cm, const hp_dataset *ds)
{
    printf("confusion matrix (rows: true class, columns: predicted)\n%12s", "");
    for (int k = 0; k < HP_NUM_CLASSES; k++)
        printf(" %6.6s", ds->class_names[k]);
    printf("\n");
    for (int r = 0; r < HP_NUM_CLASSES; r++) {
        printf("%12.12s", ds->class_names[r]);
        for (int k = 0; k < HP_NUM_CLASSES; k++)
            printf(" %6lld", (long long)cm[r * HP_NUM_CLASSES + k]);
        printf("\n");
    }
}

/* --time-layers: the share of each layer kind, then every layer's forward
 * and backward seconds (training and validation), their share of all layers'
 * time and, for conv and dense layers, GFLOPS (hp_net_layer_flops per image
 * x forward_images or backward_images).  The GFLOPS need whole epochs (not
 * a run resumed mid-epoch). */
static void print_layer_times(const hp_net *net, double forward_images, double backward_images,
                              int whole_epochs)
{
    double total = 0;
    for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
        total += net->layer_seconds[k];
    if (total <= 0)
        return;
    printf("time by layer type (training + validation):");
    for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
        if (net->layer_seconds[k] > 0)
            printf("  %s %.1f%%", hp_layer_kind_name((hp_layer_kind)k), 100.0 * net->layer_seconds[k] / total);
    printf("\nby layer (seconds, share of all layers' time%s):\n", whole_epochs ? ", GFLOPS of conv and dense" : "");
    for (int i = 0; i < net->n_layers; i++) {
        const hp_layer *L = &net->layers[i];
        if (L->kind == HP_LAYER_FLATTEN)
            continue;
        char name[96];
        hp_net_layer_name(net, i, name, sizeof name);
        double forward_flops = 0.0, backward_flops = 0.0;
        if (whole_epochs)
            hp_net_layer_flops(net, i, &forward_flops, &backward_flops);
        printf("  %-32s forward %8.2f s %5.1f%%", name, L->forward_seconds, 100.0 * L->forward_seconds / total);
        if (forward_flops > 0 && L->forward_seconds > 0)
            printf(" %6.1f GFLOPS", forward_flops * forward_images / L->forward_seconds / 1e9);
        else
            printf("              ");
        printf("   backward %8.2f s %5.1f%%", L->backward_seconds, 100.0 * L->backward_seconds / total);
        if (backward_flops > 0 && L->backward_seconds > 0)
            printf(" %6.1f GFLOPS", backward_flops * backward_images / L->backward_seconds / 1e9);
        printf("\n");
    }
}

int cmd_train(int argc, char **argv)
{
    const char *job_path = NULL, *checkpoint_path = NULL, *resume_path = NULL;
    int stop_at = 0, no_test = 0, quiet = 0, time_layers = 0, n_sets = 0, train_all = 0;
    enum { OPT_HELP_KEYS = 256, OPT_CHECKPOINT, OPT_RESUME, OPT_STOP_AT, OPT_NO_TEST, OPT_TRAIN_ALL, OPT_TIME_LAYERS };
    static const struct option options[] = {
        {"set", required_argument, NULL, 's'},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"stop-at", required_argument, NULL, OPT_STOP_AT},
        {"no-test", no_argument, NULL, OPT_NO_TEST},
        {"train-all", no_argument, NULL, OPT_TRAIN_ALL},
        {"time-layers", no_argument, NULL, OPT_TIME_LAYERS},
        {"quiet", no_argument, NULL, 'q'},
        {"help-keys", no_argument, NULL, OPT_HELP_KEYS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int c;
    hp_getopt_begin();
    while ((c = hp_getopt(argc, argv, options, train_help)) != -1) {
        long n;
        switch (c) {
        case 'h':
            hp_print_help(stdout, train_help);
            free(sets);
            return 0;
        case OPT_HELP_KEYS:
            print_keys();
            free(sets);
            return 0;
        case 's':
            sets[n_sets++] = optarg;
            break;
        case OPT_CHECKPOINT:
            checkpoint_path = optarg;
            break;
        case OPT_RESUME:
            resume_path = optarg;
            break;
        case OPT_STOP_AT:
            if (hp_parse_int_option(optarg, 1, 100000000, &n) != 0) {
                free(sets);
                return hp_usage_error("train", train_help, "--stop-at '%s': expected a positive number of epochs",
                                      optarg);
            }
            stop_at = (int)n;
            break;
        case OPT_NO_TEST:
            no_test = 1;
            break;
        case OPT_TRAIN_ALL:
            train_all = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case OPT_TIME_LAYERS:
            time_layers = 1;
            break;
        default:
            free(sets);
            return HP_EXIT_USAGE;
        }
    }
    if (optind < argc)
        job_path = argv[optind];
    if (optind + 1 < argc) {
        free(sets);
        return hp_usage_error("train", train_help, "unexpected argument '%s' (give one job file)", argv[optind + 1]);
    }
    if (!job_path) {
        free(sets);
        return hp_usage_error("train", train_help, "give the job file to train");
    }

    int status = 1;
    hp_job job;
    hp_dataset train = {0}, val = {0}, test = {0};
    hp_trainer t;
    int trainer_ready = 0;
    memset(&t, 0, sizeof t);
    if (hp_job_load_one(&job, job_path) != 0) {
        hp_error_print();
        free(sets);
        return 1;
    }
    if (job.n_params > 0) {
        hp_errorf("%s:%d:%d: 'hptune train' runs one configuration but the job has a space: "
                  "section; run the study with 'hptune run', or move the values to fixed:",
                  job_path, job.params[0].line, job.params[0].column);
        goto fail;
    }
    /* the fixed values, and the seed of trial 0 unless fixed.seed is given */
    hp_config config;
    hp_job_trial_config(&job, 0, &config);
    for (int i = 0; i < n_sets; i++)
        if (hp_config_apply_assignment(&config, sets[i]) != 0)
            goto fail;
    if (resume_path) {
        int epoch, batch;
        if (n_sets > 0) {
            hp_errorf("--resume uses the checkpoint's configuration; drop the --set options");
            goto fail;
        }
        if (hp_checkpoint_read_config(resume_path, &config, &epoch, &batch) != 0)
            goto fail;
    }
    if (hp_config_validate(&config) != 0)
        goto fail;
    int n_shards_in_file;
    if (!job.data_path) {
        hp_errorf("%s: 'hptune train' trains on data; add data: {path: datasets/cifar10.h5}", job_path);
        goto fail;
    }
    if ((job.defaults & HP_JOB_DEFAULT_SHARDS) &&
        (hp_dataset_info(job.data_path, &n_shards_in_file, NULL, NULL) != 0 ||
         hp_job_default_shards(&job, n_shards_in_file) != 0))
        goto fail;
    if (hp_job_check_data(&job) != 0)
        goto fail;
    if (train_all) {
        int all[2 * HP_MAX_SHARDS], n_all = 0;
        for (int i = 0; i < job.n_train_shards; i++)
            all[n_all++] = job.train_shards[i];
        for (int i = 0; i < job.n_val_shards; i++)
            all[n_all++] = job.val_shards[i];
        if (hp_dataset_load_shards(&train, job.data_path, all, n_all) != 0)
            goto fail;
        memcpy(val.mean, train.mean, sizeof val.mean); /* empty validation set */
        memcpy(val.std, train.std, sizeof val.std);
    } else if (hp_dataset_load_shards(&train, job.data_path, job.train_shards, job.n_train_shards) != 0 ||
               hp_dataset_load_shards(&val, job.data_path, job.val_shards, job.n_val_shards) != 0) {
        goto fail;
    }
    if (hp_trainer_init(&t, &config, &train, &val) != 0)
        goto fail;
    trainer_ready = 1;
    if (resume_path && hp_checkpoint_load(&t, resume_path) != 0)
        goto fail;
    hp_signals_install();
    t.stop = &hp_stop_requested;
    t.net.timing = time_layers;

    if (!quiet) {
        char arch[1024];
        hp_net_describe(&t.net, arch, sizeof arch);
        printf("hptune train %s: %d training images (shards", job_path, train.n);
        for (int i = 0; i < job.n_train_shards; i++)
            printf(" %d", job.train_shards[i]);
        for (int i = 0; train_all && i < job.n_val_shards; i++)
            printf(" %d", job.val_shards[i]);
        printf("), %d validation images%s", val.n, train_all ? " (--train-all)" : "");
        if (job.defaults) { /* say what the job left out and what was assumed */
            printf(" (defaults:");
            if (job.defaults & HP_JOB_DEFAULT_NAME)
                printf(" name '%s' from the file name;", job.name);
            if (job.defaults & HP_JOB_DEFAULT_STRATEGY)
                printf(" one trial;");
            if (job.defaults & HP_JOB_DEFAULT_SHARDS)
                printf(" shards 0-%d train, %d validates;", job.val_shards[0] - 1, job.val_shards[0]);
            printf(" add study:, strategy: or data.train_shards/val_shards to choose)");
        }
        printf("\nnetwork: %s (%zu parameters)\nblas: %s\n", arch, t.net.n_params, hp_blas_description());
        if (resume_path)
            printf("resumed from %s at epoch %d (batch %d)\n", resume_path, t.epoch, t.batch_in_epoch);
        for (int e = 0; e < t.n_history; e++)
            print_epoch(&t.history[e], config.epochs, train.n);
    }
    int last_epoch = stop_at && stop_at < config.epochs ? stop_at : config.epochs;
    /* for --time-layers' GFLOPS: images through forward and backward here */
    const int whole_epochs = t.batch_in_epoch == 0;
    const int first_epoch = t.epoch;
    while (t.epoch < last_epoch) {
        hp_epoch_metrics m;
        int rc = hp_trainer_run_epoch(&t, &m);
        if (rc < 0)
            goto fail;
        if (rc == 1) {
            if (checkpoint_path && hp_checkpoint_save(&t, 0, checkpoint_path) != 0)
                goto fail;
            printf("interrupted by signal %d at epoch %d, batch %d; %s\n", (int)hp_stop_signal,
                   t.epoch + 1, t.batch_in_epoch,
                   checkpoint_path ? "resume with: hptune train JOB --resume CHECKPOINT" : "no --checkpoint given, nothing saved");
            if (checkpoint_path)
                printf("resume with: hptune train %s --resume %s\n", job_path, checkpoint_path);
            status = 0;
            goto out;
        }
        if (!quiet)
            print_epoch(&m, config.epochs, train.n);
        if (checkpoint_path && hp_checkpoint_save(&t, 0, checkpoint_path) != 0)
            goto fail;
    }
    const double epochs_run = t.epoch - first_epoch;
    if (time_layers)
        print_layer_times(&t.net, epochs_run * ((double)train.n + val.n), epochs_run * (double)train.n,
                          whole_epochs);
    if (t.epoch >= config.epochs && job.test_eval && !no_test) {
        if (hp_dataset_load_test(&test, job.data_path) != 0)
            goto fail;
        if (test.n == 0) {
            hp_errorf("%s: the test set is empty (0 images): nothing to evaluate; use --no-test", job.data_path);
            goto fail;
        }
        hp_eval ev;
        hp_trainer_evaluate(&t, &test, &ev);
        printf("test: loss %.4f accuracy %.4f precision %.4f recall %.4f F1 %.4f (%d images)\n", ev.loss,
               ev.accuracy, ev.precision, ev.recall, ev.f1, test.n);
        if (!quiet)
            print_confusion(ev.confusion, &test);
    } else if (t.epoch < config.epochs) {
        printf("stopped after epoch %d of %d%s%s\n", t.epoch, config.epochs,
               checkpoint_path ? "; resume with --resume " : "", checkpoint_path ? checkpoint_path : "");
    }
    status = 0;
    goto out;
fail:
    hp_error_print();
    status = 1;
out:
    if (trainer_ready)
        hp_trainer_release(&t);
    hp_dataset_release(&train);
    hp_dataset_release(&val);
    hp_dataset_release(&test);
    hp_job_release(&job);
    free(sets);
    return status;
}
