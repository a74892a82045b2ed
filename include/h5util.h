/* h5util.h - small checked wrappers over HDF5 for 1-D datasets and attributes.
 *
 * Every function returns 0 or -1 with a message that names the HDF5 file
 * object and HDF5's own innermost error description.  HDF5's automatic error
 * printing is turned off by h5u_quiet() so that only our one message shows.
 */
#ifndef HPTUNE_H5UTIL_H
#define HPTUNE_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

void h5u_quiet(void);
/* After a failed HDF5 call: record "src/x.c:12: <context>: HDF5: <the most
 * specific description on HDF5's error stack> (<minor code>)", clear the
 * stack, return -1. */
int h5u_error_at(const char *src_file, int src_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int h5u_fail_at(const char *src_file, int src_line, const char *what);
/* On a negative HDF5 return: record file:line, context and HDF5's message,
 * then jump to the cleanup label (the jump is visible at the call site). */
#define H5_CHECK(expr, label, ...)                                             \
    do {                                                                       \
        if ((expr) < 0) {                                                      \
            h5u_error_at(__FILE__, __LINE__, __VA_ARGS__);                     \
            goto label;                                                        \
        }                                                                      \
    } while (0)
#define H5U_FAIL(what) h5u_fail_at(__FILE__, __LINE__, (what))

/* 1-D datasets of n elements of the given native type (H5T_NATIVE_FLOAT, ...). */
int h5u_write_array(hid_t loc, const char *name, hid_t type, const void *data, size_t n);
/* Reads exactly n elements; a dataset of another size or rank is an error. */
int h5u_read_array(hid_t loc, const char *name, hid_t type, void *data, size_t n);
/* Number of elements of a 1-D dataset, or -1 (with message) if missing. */
long h5u_array_length(hid_t loc, const char *name);
/* 2-D datasets (rows, cols), row-major. */
int h5u_write_matrix(hid_t loc, const char *name, hid_t type, const void *data, size_t rows, size_t cols);
/* 1-D array of variable-length strings. */
int h5u_write_string_array(hid_t loc, const char *name, const char *const *strings, size_t n);
/* A variable-length string dataset (scalar). Read allocates (caller frees). */
int h5u_write_string(hid_t loc, const char *name, const char *text);
int h5u_read_string(hid_t loc, const char *name, char **text);
/* Scalar attributes on an object. */
int h5u_write_attr_int64(hid_t obj, const char *name, int64_t value);
int h5u_read_attr_int64(hid_t obj, const char *name, int64_t *value);
int h5u_write_attr_string(hid_t obj, const char *name, const char *value);
int h5u_read_attr_string(hid_t obj, const char *name, char *buf, size_t size);
int h5u_exists(hid_t loc, const char *name);

/* FNV-1a 64-bit hash, chained: h = fnv1a64(h, data, n); start with HP_FNV_INIT. */
#define HP_FNV_INIT 0xcbf29ce484222325ULL
uint64_t hp_fnv1a64(uint64_t h, const void *data, size_t n);

/* Write to "<path>.tmp.<pid>" then rename over path (atomic on POSIX). */
char *h5u_temp_name(const char *path); /* caller frees */
int h5u_commit_temp(const char *temp, const char *path);

#endif
