/* build_info.h - what built this program: version, compiler flags, git revision.
 *
 * Recorded in every file hptune writes for later reading (trial checkpoints,
 * study.h5), so a result can be traced to the code and flags that made it:
 * floating-point results depend on -march and -O as much as on the source.
 * The Makefile passes the revision and flags to src/base/build_info.c only.
 */
#ifndef HPTUNE_BUILD_INFO_H
#define HPTUNE_BUILD_INFO_H

#define HPTUNE_VERSION "0.1.0"

/* "0.1.0" */
const char *hp_build_version(void);
/* The compiler and flags of the core, e.g. "cc -std=c11 ... -O2 -g"; "unknown"
 * when built without the Makefile. */
const char *hp_build_flags(void);
/* `git describe --always --dirty` at build time, e.g. "ef910e0-dirty";
 * "unknown" outside a git checkout. */
const char *hp_build_revision(void);

#endif
