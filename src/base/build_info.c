/* build_info.c - the build's identity (see build_info.h).
 *
 * HPTUNE_GIT_REV and HPTUNE_BUILD_FLAGS come from the Makefile's command line
 * for this file alone (it is recompiled when either changes).
 */
#include "build_info.h"

#ifndef HPTUNE_GIT_REV
#define HPTUNE_GIT_REV "unknown"
#endif
#ifndef HPTUNE_BUILD_FLAGS
#define HPTUNE_BUILD_FLAGS "unknown"
#endif

const char *hp_build_version(void) { return HPTUNE_VERSION; }
const char *hp_build_flags(void) { return HPTUNE_BUILD_FLAGS; }
const char *hp_build_revision(void) { return HPTUNE_GIT_REV; }
