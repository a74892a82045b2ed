/* cmd_status.c - `hptune status DIR` and `hptune export DIR --format csv|json`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cmd_status(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: hptune status DIR\n\nPrints a table of the study's trials, best first.\n");
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "hptune: error: usage: hptune status DIR\n");
        return 2;
    }
    hp_study s;
    if (open_quietly(&s, argv[1]) != 0) {
        hp_error_print();
        return 1;
    }
    hp_study_print_status(&s, stdout);
    hp_study_close(&s);
    return 0;
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
