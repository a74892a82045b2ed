/* cmd_status.c - `hptune status DIR [--json]` (exit status: finished, not
 * finished, not a study) and `hptune export DIR --format csv|json`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "study.h"
#include "report_model.h"
#include "tensorboard.h"

static int open_quietly(hp_study *s, const char *dir)
{
    /* status and export only read: allow an edited job file, never write */
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

static void status_usage(FILE *f)
{
    fprintf(f, "usage: hptune status DIR [--json]\n\n"
               "Prints a table of the study's trials, best first; --json prints one JSON object\n"
               "instead (state, trial counts, best trial, each trial's status, epochs and value).\n\n"
               "Exit status, for scripts (e.g. to decide whether to requeue a batch job):\n"
               "  0  the study is finished\n"
               "  3  the study is not finished: 'hptune resume DIR' continues it\n"
               "  4  DIR is not a study (no such directory, or no study.journal in it)\n"
               "  1  DIR holds a study that cannot be read (the message says why)\n"
               "  2  usage error\n");
}

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

/* One object: {"dir", "state": "finished"|"not_finished", "finished", "name",
 * "metric", "mode", "n_trials", "max_trials", "counts": {status: n},
 * "best": {"trial", "value", "epoch"} or null, "resumes", "journal_events",
 * "elapsed_seconds" (the coordinator's time over all runs that ended, without
 * MPI start-up), "trials": [{"trial", "status", "epochs", "value"}] (by id)}. */
static void print_status_json(const hp_study *s, FILE *f)
{
    int counts[HP_TRIAL_STATUS_COUNT];
    hp_study_count_status(s, counts);
    fprintf(f, "{\"dir\": ");
    json_text(f, s->dir);
    fprintf(f, ", \"state\": \"%s\", \"finished\": %s, \"name\": ", s->finished ? "finished" : "not_finished",
            s->finished ? "true" : "false");
    json_text(f, s->job.name);
    fprintf(f, ", \"metric\": \"%s\", \"mode\": \"%s\", \"n_trials\": %d, \"max_trials\": %d, \"counts\": {",
            hp_metric_name(s->job.metric), s->job.maximize ? "max" : "min", s->n_trials,
            hp_strategy_max_trials(s->strategy));
    for (int k = 0; k < HP_TRIAL_STATUS_COUNT; k++)
        fprintf(f, "%s\"%s\": %d", k ? ", " : "", hp_trial_status_name((hp_trial_status)k), counts[k]);
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
                hp_trial_status_name(hp_strategy_trial_status(s->strategy, i)), s->trials[i].n_epochs);
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
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            status_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "hptune: error: status: unknown option or extra argument '%s'; see 'hptune status "
                            "--help'\n", argv[i]);
            return STATUS_USAGE;
        }
    }
    if (!dir) {
        status_usage(stderr);
        return STATUS_USAGE;
    }
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
    if (fflush(stdout) != 0)
        return STATUS_ERROR;
    return code;
}

int cmd_export(int argc, char **argv)
{
    const char *dir = NULL, *format = "csv", *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hptune export DIR [--format csv|json] [--output FILE]\n"
                   "       hptune export DIR --format tensorboard [--out LOGDIR]\n\n"
                   "CSV: one row per trial and epoch with every metric and hyperparameter\n"
                   "(pandas.read_csv). JSON: one object per trial with its epochs.\n"
                   "tensorboard: event files for 'tensorboard --logdir LOGDIR' (default DIR/tensorboard):\n"
                   "one run per trial with its scalars per epoch, and the HParams dashboard.\n");
            return 0;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            format = argv[++i];
        } else if ((!strcmp(argv[i], "--output") || !strcmp(argv[i], "--out")) && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "hptune: error: export: unknown option or missing value '%s'; see 'hptune export --help'\n", argv[i]);
            return 2;
        }
    }
    if (!dir || (strcmp(format, "csv") && strcmp(format, "json") && strcmp(format, "tensorboard"))) {
        fprintf(stderr, "hptune: error: usage: hptune export DIR --format csv|json|tensorboard%s\n",
                dir ? " (unknown format)" : "");
        return 2;
    }
    if (!strcmp(format, "tensorboard")) {
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
            printf("TensorBoard files of %d trials in %s; view them with: tensorboard --logdir %s\n", s.n_trials,
                   logdir, logdir);
        free(logdir);
        hp_study_close(&s);
        return rc ? 1 : 0;
    }
    hp_study s;
    if (open_quietly(&s, dir) != 0) {
        hp_error_print();
        return 1;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = 0;
    if (!f) {
        hp_errorf("%s: cannot write", out);
        rc = -1;
    } else {
        rc = hp_study_export(&s, f, !strcmp(format, "json"));
        if (out && fclose(f) != 0)
            rc = HP_ERR("%s: cannot write", out);
    }
    if (rc)
        hp_error_print();
    hp_study_close(&s);
    return rc ? 1 : 0;
}
