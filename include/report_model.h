/* report_model.h - a study as `hptune report`'s page (src/study/report_model.c).
 *
 * Reads the recorded state (study.h) and nothing else, so it works on a
 * running study (opened read-only), an interrupted one and a finished one.
 */
#ifndef HPTUNE_REPORT_MODEL_H
#define HPTUNE_REPORT_MODEL_H

#include "study.h"

/* state: "running", "interrupted", "finished", or NULL to tell from the
 * journal.  heatmap: "a,b" or NULL.  elapsed: seconds so far (< 0: recorded). */
int hp_study_write_report(const hp_study *s, const char *path, const char *heatmap, const char *state,
                          double elapsed);

#endif
