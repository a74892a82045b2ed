/* error.c - recorded error messages and checked allocation. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HP_ERROR_CAPACITY 4096
static _Thread_local char error_message[HP_ERROR_CAPACITY];

int hp_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return -1;
}

int hp_errorf_at(const char *src_file, int src_line, const char *fmt, ...)
{
    int n = snprintf(error_message, sizeof error_message, "%s:%d: ", src_file, src_line);
    if (n < 0 || (size_t)n >= sizeof error_message)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message + n, sizeof error_message - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

void hp_error_prefix(const char *fmt, ...)
{
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[HP_ERROR_CAPACITY];
    memcpy(old, error_message, sizeof old);
    snprintf(error_message, sizeof error_message, "%.1000s: %.3000s", prefix, old);
}

const char *hp_error_message(void) { return error_message; }
void hp_error_clear(void) { error_message[0] = '\0'; }

void hp_error_print(void)
{
    fprintf(stderr, "hptune: error: %s\n",
            error_message[0] ? error_message : "unknown error (no message recorded)");
}

_Noreturn void hp_panic_at(const char *src_file, int src_line, const char *fmt, ...)
{
    fprintf(stderr, "hptune: internal error at %s:%d: ", src_file, src_line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *hp_xcalloc_at(size_t count, size_t size, const char *src_file, int src_line)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        hp_panic_at(src_file, src_line, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *hp_xrealloc_at(void *p, size_t size, const char *src_file, int src_line)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        hp_panic_at(src_file, src_line, "out of memory reallocating %zu bytes", size);
    return q;
}

char *hp_xstrdup_at(const char *s, const char *src_file, int src_line)
{
    char *d = strdup(s ? s : "");
    if (!d)
        hp_panic_at(src_file, src_line, "out of memory duplicating a string");
    return d;
}

float *hp_xalloc_floats_at(size_t count, const char *src_file, int src_line)
{
    size_t bytes = (count ? count : 1) * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        hp_panic_at(src_file, src_line, "out of memory allocating %zu floats", count);
    memset(p, 0, bytes);
    return p;
}

char *hp_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        HP_PANIC("out of memory formatting a string");
    return s;
}
