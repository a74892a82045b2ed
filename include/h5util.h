/* h5util.h - checked wrappers over HDF5, and whole files written safely.
 *
 * Every function returns 0 or -1 with a message that names the HDF5 file
 * object and HDF5's own innermost error description.  HDF5's automatic error
 * printing is turned off by h5u_quiet() so that only our one message shows.
 * Every HDF5 call's result is checked, closes included.
 *
 * Writing a file: h5u_file_create builds the file in memory (HDF5's "core"
 * driver without a backing store); h5u_file_commit takes its image, closes
 * it, and writes the image with plain POSIX calls to "<path>.tmp.<pid>",
 * fsync()s it, renames it over path and fsync()s the folder.  On any failure
 * the temporary file is removed and path is untouched.
 *
 * Why in memory: with HDF5 1.10 (Debian 12), a file whose final flush fails
 * in H5Fclose (a full disk) cannot be recovered.  H5F__dest frees the file
 * structure although the flush failed, yet H5Fclose reports the failure and
 * the library keeps the file's id; at exit H5_term_library closes that id
 * again (H5F__close_cb on freed memory) and the process dies with SIGSEGV.
 * Closing it again or H5Idec_ref touch the same freed memory.  (HDF5 1.14
 * keeps the structure on failure: H5F__dest's free_on_failure.)  So no
 * HDF5 call may do file I/O that can fail while writing: HDF5 writes to
 * memory, we write to disk and handle errno ourselves.  The in-memory file
 * also uses H5F_CLOSE_STRONG, so an object left open cannot keep it open.
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

/* Close any HDF5 id (file, group, dataset, attribute, dataspace, datatype,
 * property list); ids < 0 are skipped.  A failed close sets *rc = -1 and
 * records a message only if *rc was 0, so the first failure is the one
 * reported.  Each id must be closed exactly once. */
void h5u_close_at(const char *src_file, int src_line, hid_t id, const char *what, int *rc);
#define H5U_CLOSE(id, what, rc) h5u_close_at(__FILE__, __LINE__, (id), (what), (rc))

/* A dataset of any rank (dims[rank], row-major data) with the given native
 * type (H5T_NATIVE_FLOAT, ...), contiguous.  Zero-sized dimensions are fine. */
int h5u_write_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const void *data);
/* 1-D datasets of n elements of the given native type. */
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

/* Scalar attributes on an object (replaced if present). */
int h5u_write_attr_int64(hid_t obj, const char *name, int64_t value);
int h5u_read_attr_int64(hid_t obj, const char *name, int64_t *value);
int h5u_write_attr_uint32(hid_t obj, const char *name, uint32_t value);
int h5u_read_attr_uint32(hid_t obj, const char *name, uint32_t *value);
int h5u_write_attr_string(hid_t obj, const char *name, const char *value);
int h5u_read_attr_string(hid_t obj, const char *name, char *buf, size_t size);
/* 1-D attribute of n variable-length UTF-8 strings (h5py: a list of str). */
int h5u_write_attr_strings(hid_t obj, const char *name, const char *const *strings, size_t n);
/* Reads one into *strings (n of them, each allocated; free with
 * h5u_free_strings). */
int h5u_read_attr_strings(hid_t obj, const char *name, char ***strings, size_t *n);
void h5u_free_strings(char **strings, size_t n);
int h5u_exists(hid_t loc, const char *name);

/* A group that remembers the order its members were created in (h5py and
 * h5dump then list them in that order).  Close with H5U_CLOSE. */
hid_t h5u_create_group(hid_t loc, const char *name);

/* ---- whole files ----
 * hid_t f = h5u_file_create(path);      (-1 with a message)
 * ... write, closing every object ...
 * rc = ok ? h5u_file_commit(f, path) : (h5u_file_discard(f), -1);
 * Both close f, exactly once.  path is used for HDF5's messages only until
 * the commit. */
hid_t h5u_file_create(const char *path);
int h5u_file_commit(hid_t file, const char *path);
void h5u_file_discard(hid_t file);
/* Write size bytes to "<path>.tmp.<pid>", fsync, close, rename over path,
 * fsync the folder.  On failure: -1, the temporary file removed, path
 * untouched; the message is "<strerror> (while writing the temporary file
 * <temp>, now removed; <path> is unchanged)", for the caller to prefix with
 * what it was writing. */
int h5u_write_file_atomically(const char *path, const void *data, size_t size);

/* FNV-1a 64-bit hash, chained: h = fnv1a64(h, data, n); start with HP_FNV_INIT. */
#define HP_FNV_INIT 0xcbf29ce484222325ULL
uint64_t hp_fnv1a64(uint64_t h, const void *data, size_t n);

/* For files HDF5 writes to disk itself: write to h5u_temp_name(path), close,
 * then h5u_commit_temp fsyncs the temporary file, renames it over path and
 * fsyncs the folder (the temporary file is removed on failure).  Prefer
 * h5u_file_create/commit: see the note at the top about failed closes. */
char *h5u_temp_name(const char *path); /* caller frees */
int h5u_commit_temp(const char *temp, const char *path);

#endif
