/* cmd_report.c - `hptune report DIR [--out FILE] [--heatmap a,b]`: the study
 * as one offline HTML page (report.h), read-only: it works on a running
 * study without disturbing its coordinator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "study.h"
#include "report_model.h"
#include "tensorboard.h"

static void report_usage(FILE *f)
{
    fprintf(f, "usage: hptune report DIR [--out FILE] [--heatmap PARAM,PARAM]\n\n"
               "Writes one self-contained HTML page of the study in DIR (default DIR/report.html):\n"
               "optimisation history, learning curves with rungs, parallel coordinates, slices, a heat\n"
               "map, parameter importance, the best trial's confusion matrix and a table of all\n"
               "trials. It only reads the study, so it works while the study runs.\n");
}

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *heatmap = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            report_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--heatmap") && i + 1 < argc) {
            heatmap = argv[++i];
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "hptune: error: report: unknown option, missing value or extra argument '%s'; "
                            "see 'hptune report --help'\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        report_usage(stderr);
        return 2;
    }
    hp_study s;
    if (hp_study_open(&s, dir, 1, 1) != 0) {
        hp_error_print();
        return 1;
    }
    char *path = out ? hp_xstrdup(out) : hp_xasprintf("%s/report.html", dir);
    int rc = hp_study_write_report(&s, path, heatmap, NULL, -1);
    if (rc != 0)
        hp_error_print();
    else
        printf("report of study %s (%d trials) written to %s\n", s.job.name, s.n_trials, path);
    free(path);
    hp_study_close(&s);
    return rc ? 1 : 0;
}
