/* cmd_train.c - `hptune train JOB.yaml`: one configuration, one process, no MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "dataset.h"
#include "error.h"
#include "job.h"
#include "trainer.h"

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: hptune train JOB.yaml [options]\n\n"
            "Trains the job's fixed configuration (data: and fixed: sections; a best.yaml\n"
            "written by 'hptune run' works too) and prints one line per epoch.\n\n"
            "options:\n"
            "  --set KEY=VALUE     override a hyperparameter (repeatable)\n"
            "  --checkpoint PATH   write a trial checkpoint after every epoch and on SIGTERM/SIGINT\n"
            "  --resume PATH       continue from a checkpoint (its configuration is used)\n"
            "  --stop-at N         stop after N epochs in total (then resume later)\n"
            "  --no-test           skip the final test-set evaluation\n"
            "  --train-all         train on the training and validation shards together, without\n"
            "                      validation (retrain a final model), then report the test set\n"
            "  --time-layers       print the time spent per layer type\n"
            "  --quiet             print only the final summary\n"
            "  --help-keys         list every hyperparameter with its default and range\n");
}

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

int cmd_train(int argc, char **argv)
{
    const char *job_path = NULL, *checkpoint_path = NULL, *resume_path = NULL;
    int stop_at = 0, no_test = 0, quiet = 0, time_layers = 0, n_sets = 0, train_all = 0;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout);
            free(sets);
            return 0;
        } else if (!strcmp(a, "--help-keys")) {
            print_keys();
            free(sets);
            return 0;
        } else if (!strcmp(a, "--set") && has_value) {
            sets[n_sets++] = argv[++i];
        } else if (!strcmp(a, "--checkpoint") && has_value) {
            checkpoint_path = argv[++i];
        } else if (!strcmp(a, "--resume") && has_value) {
            resume_path = argv[++i];
        } else if (!strcmp(a, "--stop-at") && has_value) {
            char *end;
            stop_at = (int)strtol(argv[++i], &end, 10);
            if (*end || stop_at < 1) {
                fprintf(stderr, "hptune: error: --stop-at '%s': expected a positive number of epochs\n", argv[i]);
                free(sets);
                return 2;
            }
        } else if (!strcmp(a, "--no-test")) {
            no_test = 1;
        } else if (!strcmp(a, "--train-all")) {
            train_all = 1;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--time-layers")) {
            time_layers = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "hptune: error: train: unknown option or missing value '%s'; see 'hptune train --help'\n", a);
            free(sets);
            return 2;
        } else if (!job_path) {
            job_path = a;
        } else {
            fprintf(stderr, "hptune: error: train: unexpected argument '%s'; see 'hptune train --help'\n", a);
            free(sets);
            return 2;
        }
    }
    if (!job_path) {
        train_usage(stderr);
        free(sets);
        return 2;
    }

    int status = 1;
    hp_job job;
    hp_dataset train = {0}, val = {0}, test = {0};
    hp_trainer t;
    int trainer_ready = 0;
    memset(&t, 0, sizeof t);
    if (hp_job_load(&job, job_path) != 0) {
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
        printf("), %d validation images%s\nnetwork: %s (%zu parameters)\nblas: %s\n", val.n, train_all ? " (--train-all)" : "", arch,
               t.net.n_params, hp_blas_description());
        if (resume_path)
            printf("resumed from %s at epoch %d (batch %d)\n", resume_path, t.epoch, t.batch_in_epoch);
        for (int e = 0; e < t.n_history; e++)
            print_epoch(&t.history[e], config.epochs, train.n);
    }
    int last_epoch = stop_at && stop_at < config.epochs ? stop_at : config.epochs;
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
    if (time_layers) {
        double total = 0;
        for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
            total += t.net.layer_seconds[k];
        printf("time by layer type (training + validation):");
        for (int k = 0; k < HP_LAYER_KIND_COUNT; k++)
            if (t.net.layer_seconds[k] > 0)
                printf("  %s %.1f%%", hp_layer_kind_name((hp_layer_kind)k), 100.0 * t.net.layer_seconds[k] / total);
        printf("\n");
    }
    if (t.epoch >= config.epochs && job.test_eval && !no_test) {
        if (hp_dataset_load_test(&test, job.data_path) != 0)
            goto fail;
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
