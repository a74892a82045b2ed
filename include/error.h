/* error.h - one way to fail: record a message, return -1, let the caller decide.
 *
 * Functions that can fail on input (files, job text, data) return 0 on success
 * and -1 on error after calling HP_ERR()/hp_errorf(), which stores one
 * human-readable message in a per-thread buffer.  The command layer prints it
 * once ("hptune: <message>") and exits non-zero.  Programming errors and
 * allocation failure are not recoverable: they abort with file:line.
 *
 * Messages for users name the file they are about (and line:column for job
 * files), say what is wrong and what to do.  Library failures (HDF5, BLAS,
 * libyaml, zlib) also name the source location that made the call and the
 * library's own message, because that is what a bug report needs.
 */
#ifndef HPTUNE_ERROR_H
#define HPTUNE_ERROR_H

#include <stddef.h>

/* Record a user-facing message (printf format). Always returns -1. */
int hp_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record a message prefixed with the source location "src/x.c:12: ". */
int hp_errorf_at(const char *src_file, int src_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define HP_ERR(...) hp_errorf(__VA_ARGS__)
#define HP_ERR_AT(...) hp_errorf_at(__FILE__, __LINE__, __VA_ARGS__)

/* Prepend context to the stored message: "<context>: <old message>". */
void hp_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *hp_error_message(void); /* "" when no error was recorded */
void hp_error_clear(void);

/* Print "hptune: error: <msg>" to stderr. */
void hp_error_print(void);

/* Abort the process for a programming error or exhausted memory. */
_Noreturn void hp_panic_at(const char *src_file, int src_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define HP_PANIC(...) hp_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Checked allocation: never returns NULL (aborts with file:line). Zeroed. */
void *hp_xcalloc_at(size_t count, size_t size, const char *src_file, int src_line);
void *hp_xrealloc_at(void *p, size_t size, const char *src_file, int src_line);
char *hp_xstrdup_at(const char *s, const char *src_file, int src_line);
/* 64-byte aligned, zeroed; release with free(). */
float *hp_xalloc_floats_at(size_t count, const char *src_file, int src_line);
#define hp_xcalloc(n, sz) hp_xcalloc_at((n), (sz), __FILE__, __LINE__)
#define hp_xrealloc(p, sz) hp_xrealloc_at((p), (sz), __FILE__, __LINE__)
#define hp_xstrdup(s) hp_xstrdup_at((s), __FILE__, __LINE__)
#define hp_xalloc_floats(n) hp_xalloc_floats_at((n), __FILE__, __LINE__)

/* printf into a freshly allocated string (caller frees). */
char *hp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
