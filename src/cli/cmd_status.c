/* cmd_status.c - `hptune status DIR` and `hptune export DIR`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_options.h"
#include "error.h"
#include "study.h"

static int open_quietly(hp_study *s, const char *dir)
{
    /* status and export only read: no lock, allow an edited job file, never
       write, so they work while a run goes on */
    return hp_study_open(s, dir, 1, 1);
}

static const char status_help[] =
    "usage: hptune status DIR\n"
    "\n"
    "Prints a table of the study's trials, best first: status (pending, running,\n"
    "paused, completed, stopped, failed; interrupted: running when its run ended,\n"
    "continued by 'hptune resume'), bracket/rung, epochs, the study's metric at the\n"
    "last epoch (pending: none yet), the configuration, and notes (failures, lost\n"
    "checkpoints); then the winner's test-set evaluation.  Works while a run goes on.\n"
    "Exit status: 0, 1 (not a readable study), 2 usage error.\n";

int cmd_status(int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    hp_getopt_begin();
    while ((opt = hp_getopt(argc, argv, options, status_help)) != -1) {
        if (opt == 'h') {
            hp_print_help(stdout, status_help);
            return 0;
        }
        return HP_EXIT_USAGE;
    }
    if (optind >= argc)
        return hp_usage_error("status", status_help, "give the study's directory");
    if (optind + 1 < argc)
        return hp_usage_error("status", status_help, "unexpected argument '%s'", argv[optind + 1]);
    hp_study s;
    if (open_quietly(&s, argv[optind]) != 0) {
        hp_error_print();
        return 1;
    }
    hp_study_print_status(&s, stdout);
    hp_study_close(&s);
    return 0;
}

static const char export_help[] =
    "usage: hptune export DIR [--format csv|json] [--per epoch|trial] [--output FILE]\n"
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
    "  -f, --format csv|json  (default csv)\n"
    "  -o, --output FILE      write FILE instead of stdout\n"
    "The column effective_lr is the learning rate in effect at the end of the epoch\n"
    "(schedule and warm-up applied); learning_rate is the configured hyperparameter.\n"
    "Exit status: 0, 1 (not a readable study, or cannot write), 2 usage error.\n";

int cmd_export(int argc, char **argv)
{
    const char *format = "csv", *out = NULL, *per = "epoch";
    enum { OPT_PER = 256 };
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"per", required_argument, NULL, OPT_PER}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
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
    if (strcmp(format, "csv") && strcmp(format, "json"))
        return hp_usage_error("export", export_help, "--format '%s': use csv or json", format);
    if (strcmp(per, "epoch") && strcmp(per, "trial"))
        return hp_usage_error("export", export_help, "--per '%s': use epoch or trial", per);
    if (optind >= argc)
        return hp_usage_error("export", export_help, "give the study's directory");
    if (optind + 1 < argc)
        return hp_usage_error("export", export_help, "unexpected argument '%s'", argv[optind + 1]);
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
        rc = !strcmp(per, "trial") ? hp_study_export_trials(&s, f, json) : hp_study_export(&s, f, json);
        if (out && fclose(f) != 0)
            rc = HP_ERR("%s: cannot write", out);
    }
    if (rc)
        hp_error_print();
    hp_study_close(&s);
    return rc ? 1 : 0;
}
