/* cmd_status.c - `hptune status DIR [--json]` (exit status: finished, not
 * finished, not a study) and `hptune export DIR --format csv|json|tensorboard`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_options.h"
#include "error.h"
#include "study.h"
#include "tensorboard.h"

static int open_quietly(hp_study *s, const char *dir)
{
    /* status and export only read: no lock, allow an edited job file, never
       write, so they work while a run goes on */
    return hp_study_open(s, dir, 1, 1);
}

/* `hptune status` exit codes: what a script (slurm/tune.sbatch) decides on. */
enum {
    STATUS_FINISHED = 0,
    STATUS_ERROR = 1,        /* a study that cannot be read (damaged journal, other version...) */
    STATUS_USAGE = 2,
    STATUS_NOT_FINISHED = 3, /* `hptune resume DIR` continues it */
    STATUS_NOT_A_STUDY = 4   /* no such directory, or no study.journal in it */
};

static const char status_help[] =
    "usage: hptune status DIR [--json]\n"
    "\n"
    "Prints a table of the study's trials, best first: status (pending, running,\n"
    "paused, completed, stopped, failed; interrupted: running when its run ended,\n"
    "continued by 'hptune resume'), bracket/rung, epochs, the study's metric at the\n"
    "last epoch (pending: none yet), the configuration, and notes (failures, lost\n"
    "checkpoints); then the winner's test-set evaluation.  Works while a run goes on.\n"
    "  --json      one JSON object instead (state, trial counts, best trial, each\n"
    "              trial's status, epochs and value)\n"
    "Exit status, for scripts (e.g. to decide whether to requeue a batch job):\n"
    "  0  the study is finished\n"
    "  3  the study is not finished: 'hptune resume DIR' continues it\n"
    "  4  DIR is not a study (no such directory, or no study.journal in it)\n"
    "  1  DIR holds a study that cannot be read (the message says why)\n"
    "  2  usage error\n";

/* JSON text of a C string (quotes, backslashes and control characters escaped). */
static void json_text(FILE *f, const char *text)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_value(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fprintf(f, "null");
}

/* One object: {"dir", "state": "finished"|"budget_reached"|"not_finished", "finished",
 * "budget": {"reached", "epochs_total", "max_epochs_total", "max_time"} (0: none), "name",
 * "metric", "mode", "n_trials", "max_trials", "counts": {status: n},
 * "best": {"trial", "value", "epoch"} or null, "resumes", "journal_events",
 * "elapsed_seconds" (the coordinator's time over all runs that ended, without
 * MPI start-up), "trials": [{"trial", "status", "epochs", "value"}] (by id)}. */
static void print_status_json(const hp_study *s, FILE *f)
{
    /* trials by the state status and export show ("interrupted": running when its run ended) */
    int counts[HP_STUDY_TRIAL_INTERRUPTED + 1] = {0};
    for (int i = 0; i < s->n_trials; i++)
        counts[hp_study_trial_state(s, i)]++;
    fprintf(f, "{\"dir\": ");
    json_text(f, s->dir);
    fprintf(f, ", \"state\": \"%s\", \"finished\": %s, \"budget\": {\"reached\": %s, \"epochs_total\": %ld, "
               "\"max_epochs_total\": %ld, \"max_time\": ", s->finished ? "finished" : s->budget_reached ? "budget_reached" : "not_finished",
            s->finished ? "true" : "false", s->budget_reached ? "true" : "false", s->epochs_total, s->max_epochs_total);
    json_value(f, s->max_time);
    fprintf(f, "}, \"name\": ");
    json_text(f, s->job.name);
    fprintf(f, ", \"metric\": \"%s\", \"mode\": \"%s\", \"n_trials\": %d, \"max_trials\": %d, \"counts\": {",
            hp_metric_name(s->job.metric), s->job.maximize ? "max" : "min", s->n_trials,
            hp_strategy_max_trials(s->strategy));
    for (int k = 0; k <= HP_STUDY_TRIAL_INTERRUPTED; k++)
        fprintf(f, "%s\"%s\": %d", k ? ", " : "", hp_study_state_name(k), counts[k]);
    double value;
    int epoch;
    int best = hp_study_best_trial(s, &value, &epoch);
    fprintf(f, "}, \"best\": ");
    if (best >= 0) {
        fprintf(f, "{\"trial\": %d, \"value\": ", best);
        json_value(f, value);
        fprintf(f, ", \"epoch\": %d}", epoch);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ", \"resumes\": %d, \"journal_events\": %ld, \"elapsed_seconds\": ", s->n_resumes, s->n_events);
    json_value(f, s->elapsed_before);
    fprintf(f, ", \"trials\": [");
    for (int i = 0; i < s->n_trials; i++) {
        fprintf(f, "%s{\"trial\": %d, \"status\": \"%s\", \"epochs\": %d, \"value\": ", i ? ", " : "", i,
                hp_study_state_name(hp_study_trial_state(s, i)), s->trials[i].n_epochs);
        json_value(f, hp_study_value(s, i, s->trials[i].n_epochs));
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

/* Is there a study journal in dir at all?  (Tells "not a study" from "damaged".) */
static int has_journal(const char *dir)
{
    char *journal = hp_xasprintf("%s/study.journal", dir);
    int yes = access(journal, F_OK) == 0;
    free(journal);
    return yes;
}

int cmd_status(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt, json = 0;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, status_help)) != -1) {
        if (opt == 'h') {
            hp_print_help(stdout, status_help);
            return 0;
        }
        if (opt == OPT_JSON) {
            json = 1;
            continue;
        }
        return STATUS_USAGE;
    }
    if (optind >= argc)
        return hp_usage_error("status", status_help, "give the study's directory");
    if (optind + 1 < argc)
        return hp_usage_error("status", status_help, "unexpected argument '%s'", argv[optind + 1]);
    const char *dir = argv[optind];
    hp_study s;
    if (open_quietly(&s, dir) != 0) {
        int code = has_journal(dir) ? STATUS_ERROR : STATUS_NOT_A_STUDY;
        if (json) {
            printf("{\"dir\": ");
            json_text(stdout, dir);
            printf(", \"state\": \"%s\", \"error\": ", code == STATUS_NOT_A_STUDY ? "not_a_study" : "unreadable");
            json_text(stdout, hp_error_message());
            printf("}\n");
        }
        hp_error_print();
        return code;
    }
    if (json)
        print_status_json(&s, stdout);
    else
        hp_study_print_status(&s, stdout);
    int code = s.finished ? STATUS_FINISHED : STATUS_NOT_FINISHED;
    hp_study_close(&s);
    return code;
}

static const char export_help[] =
    "usage: hptune export DIR [--format csv|json] [--per epoch|trial|config] [--output FILE]\n"
    "       hptune export DIR --format tensorboard [--out LOGDIR]\n"
    "\n"
    "A study's results for pandas and scripts (numbers in the shortest form that reads\n"
    "back exactly; NaN as nan in CSV, null in JSON).\n"
    "  --per epoch (default)  CSV: one row per trial and epoch with every metric, every\n"
    "                         hyperparameter and the failure reason (a trial without an\n"
    "                         epoch has one row, epoch empty); JSON: one object per trial\n"
    "                         with its epochs, the assignments and the test set\n"
    "  --per trial            one row (object) per trial, the leaderboard: status, epochs_done,\n"
    "                         final_<metric> (at the last epoch; ranks the trials),\n"
    "                         best_<metric> and best_epoch, restarts, the winner's test\n"
    "                         accuracy/loss/F1, failure, configuration\n"
    "  --per config           one row (object) per configuration (trials differing only in\n"
    "                         the seed: repeats, a searched seed): config (its first trial),\n"
    "                         runs, completed, mean_<metric> and std_<metric> (sample std)\n"
    "                         over the completed runs' final values, trials, configuration\n"
    "An inactive conditional parameter (its when: does not hold) is an empty CSV cell\n"
    "and null in JSON.\n"
    "  -f, --format csv|json|tensorboard  (default csv); tensorboard writes event files\n"
    "                         for 'tensorboard --logdir LOGDIR' (default DIR/tensorboard):\n"
    "                         one run per trial with its scalars per epoch, and the\n"
    "                         HParams dashboard\n"
    "  -o, --output FILE, --out LOGDIR   write there instead of stdout (DIR/tensorboard)\n"
    "The column effective_lr is the learning rate in effect at the end of the epoch\n"
    "(schedule and warm-up applied); learning_rate is the configured hyperparameter.\n"
    "Exit status: 0, 1 (not a readable study, or cannot write), 2 usage error.\n";

static int export_tensorboard(const char *dir, const char *out)
{
    hp_study s;
    if (open_quietly(&s, dir) != 0) {
        hp_error_print();
        return 1;
    }
    char *logdir = out ? hp_xstrdup(out) : hp_xasprintf("%s/tensorboard", dir);
    int rc = hp_study_export_tensorboard(&s, logdir, 0);
    if (rc != 0)
        hp_error_print();
    else
        printf("TensorBoard files of %d trials in %s; view them with: tensorboard --logdir %s\n", s.n_trials, logdir,
               logdir);
    free(logdir);
    hp_study_close(&s);
    return rc ? 1 : 0;
}

int cmd_export(int argc, char **argv)
{
    const char *format = "csv", *out = NULL, *per = "epoch";
    enum { OPT_PER = 256 };
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"out", required_argument, NULL, 'o'},    {"per", required_argument, NULL, OPT_PER},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int opt;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, export_help)) != -1) {
        switch (opt) {
        case 'h':
            hp_print_help(stdout, export_help);
            return 0;
        case 'f':
            format = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case OPT_PER:
            per = optarg;
            break;
        default:
            return HP_EXIT_USAGE;
        }
    }
    if (strcmp(format, "csv") && strcmp(format, "json") && strcmp(format, "tensorboard"))
        return hp_usage_error("export", export_help, "--format '%s': use csv, json or tensorboard", format);
    if (strcmp(per, "epoch") && strcmp(per, "trial") && strcmp(per, "config"))
        return hp_usage_error("export", export_help, "--per '%s': use epoch, trial or config", per);
    if (optind >= argc)
        return hp_usage_error("export", export_help, "give the study's directory");
    if (optind + 1 < argc)
        return hp_usage_error("export", export_help, "unexpected argument '%s'", argv[optind + 1]);
    if (!strcmp(format, "tensorboard"))
        return export_tensorboard(argv[optind], out);
    hp_study s;
    if (open_quietly(&s, argv[optind]) != 0) {
        hp_error_print();
        return 1;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = 0, json = !strcmp(format, "json");
    if (!f) {
        rc = HP_ERR("%s: cannot write", out);
    } else {
        rc = !strcmp(per, "trial")    ? hp_study_export_trials(&s, f, json)
             : !strcmp(per, "config") ? hp_study_export_configs(&s, f, json)
                                      : hp_study_export(&s, f, json);
        if (out && fclose(f) != 0)
            rc = HP_ERR("%s: cannot write", out);
    }
    if (rc)
        hp_error_print();
    hp_study_close(&s);
    return rc ? 1 : 0;
}
