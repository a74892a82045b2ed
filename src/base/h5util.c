/* h5util.c - checked HDF5 helpers and safe whole-file writes (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* Growth step of an in-memory file (HDF5's core driver reallocates by it). */
#define MEMFILE_INCREMENT ((size_t)4 << 20)

void h5u_quiet(void)
{
    /* We report failures ourselves, once; HDF5's own stack dump would bury it. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct h5_innermost_error {
    int found;
    char description[512];
    char minor[160];
} h5_innermost_error;

/* Walking upward, entry 0 is where HDF5 detected the problem: the most
 * specific description ("file signature not found", "unable to open file"). */
static herr_t take_innermost_error(unsigned n, const H5E_error2_t *entry, void *client_data)
{
    h5_innermost_error *inner = client_data;
    if (n != 0)
        return 0;
    inner->found = 1;
    snprintf(inner->description, sizeof inner->description, "%s",
             entry->desc ? entry->desc : "");
    if (H5Eget_msg(entry->min_num, NULL, inner->minor, sizeof inner->minor) < 0)
        inner->minor[0] = '\0';
    return 0;
}

int h5u_error_at(const char *src_file, int src_line, const char *fmt, ...)
{
    char context[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);

    h5_innermost_error inner = {0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost_error, &inner);
    H5Eclear2(H5E_DEFAULT);
    if (!inner.found)
        return hp_errorf_at(src_file, src_line, "%s: HDF5 call failed (no HDF5 message)", context);
    if (inner.minor[0] && strcmp(inner.minor, inner.description) != 0)
        return hp_errorf_at(src_file, src_line, "%s: HDF5: %s (%s)", context, inner.description,
                            inner.minor);
    return hp_errorf_at(src_file, src_line, "%s: HDF5: %s", context, inner.description);
}

int h5u_fail_at(const char *src_file, int src_line, const char *what)
{
    return h5u_error_at(src_file, src_line, "%s", what);
}

void h5u_close_at(const char *src_file, int src_line, hid_t id, const char *what, int *rc)
{
    if (id < 0)
        return;
    herr_t closed;
    switch (H5Iget_type(id)) {
    case H5I_FILE: closed = H5Fclose(id); break;
    case H5I_GROUP: closed = H5Gclose(id); break;
    case H5I_DATASET: closed = H5Dclose(id); break;
    case H5I_ATTR: closed = H5Aclose(id); break;
    case H5I_DATASPACE: closed = H5Sclose(id); break;
    case H5I_DATATYPE: closed = H5Tclose(id); break;
    case H5I_GENPROP_LST: closed = H5Pclose(id); break;
    default: closed = H5Idec_ref(id) < 0 ? -1 : 0; break;
    }
    if (closed >= 0)
        return;
    if (*rc == 0)
        h5u_error_at(src_file, src_line, "closing %s", what);
    else
        H5Eclear2(H5E_DEFAULT); /* keep the first failure's message */
    *rc = -1;
}

int h5u_exists(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

/* ------------------------------------------------------------ datasets -- */

int h5u_write_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const void *data)
{
    int rc = 0;
    hsize_t points = 1;
    for (int d = 0; d < rank; d++)
        points *= dims[d];
    hid_t space = H5Screate_simple(rank, dims, NULL);
    if (space < 0)
        return h5u_error_at(__FILE__, __LINE__, "dataspace for dataset '%s'", name);
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "creating dataset '%s'", name);
    else if (points > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "writing dataset '%s'", name);
    H5U_CLOSE(ds, name, &rc);
    H5U_CLOSE(space, "a dataspace", &rc);
    return rc;
}

int h5u_write_array(hid_t loc, const char *name, hid_t type, const void *data, size_t n)
{
    hsize_t dims[1] = {n};
    return h5u_write_dataset(loc, name, type, 1, dims, data);
}

int h5u_write_matrix(hid_t loc, const char *name, hid_t type, const void *data, size_t rows, size_t cols)
{
    hsize_t dims[2] = {rows, cols};
    return h5u_write_dataset(loc, name, type, 2, dims, data);
}

long h5u_array_length(hid_t loc, const char *name)
{
    if (!h5u_exists(loc, name))
        return HP_ERR("dataset '%s' is missing", name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return H5U_FAIL(name);
    int rc = 0;
    long n = -1;
    hid_t space = H5Dget_space(ds);
    if (space < 0) {
        rc = H5U_FAIL(name);
    } else {
        hsize_t dims[1] = {0};
        int rank = H5Sget_simple_extent_ndims(space);
        if (rank == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1)
            n = (long)dims[0];
        else
            rc = HP_ERR("dataset '%s' has rank %d, expected 1", name, rank);
    }
    H5U_CLOSE(space, name, &rc);
    H5U_CLOSE(ds, name, &rc);
    return rc ? -1 : n;
}

int h5u_read_array(hid_t loc, const char *name, hid_t type, void *data, size_t n)
{
    long len = h5u_array_length(loc, name);
    if (len < 0)
        return -1;
    if ((size_t)len != n)
        return HP_ERR("dataset '%s' has %ld elements, expected %zu", name, len, n);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return H5U_FAIL(name);
    int rc = 0;
    if (n > 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = H5U_FAIL(name);
    H5U_CLOSE(ds, name, &rc);
    if (rc)
        hp_error_prefix("cannot read dataset '%s'", name);
    return rc;
}

static hid_t vlen_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int h5u_write_string_array(hid_t loc, const char *name, const char *const *strings, size_t n)
{
    hsize_t dims[1] = {n};
    int rc = 0;
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t ds = space < 0 ? -1 : H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0 || (n > 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings) < 0))
        rc = H5U_FAIL(name);
    H5U_CLOSE(ds, name, &rc);
    H5U_CLOSE(space, "a dataspace", &rc);
    H5U_CLOSE(t, "a string type", &rc);
    return rc;
}

int h5u_write_string(hid_t loc, const char *name, const char *text)
{
    int rc = 0;
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t ds = space < 0 ? -1 : H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0)
        rc = H5U_FAIL(name);
    H5U_CLOSE(ds, name, &rc);
    H5U_CLOSE(space, "a dataspace", &rc);
    H5U_CLOSE(t, "a string type", &rc);
    return rc;
}

int h5u_read_string(hid_t loc, const char *name, char **text)
{
    *text = NULL;
    if (!h5u_exists(loc, name))
        return HP_ERR("dataset '%s' is missing", name);
    int rc = 0;
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    char *raw = NULL;
    if (ds < 0 || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &raw) < 0)
        rc = H5U_FAIL(name);
    if (rc == 0) {
        *text = hp_xstrdup(raw ? raw : "");
        H5free_memory(raw);
    }
    H5U_CLOSE(ds, name, &rc);
    H5U_CLOSE(t, "a string type", &rc);
    if (rc) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------- attributes -- */

/* Create (replacing) an attribute of the given dataspace and write value. */
static int write_attr(hid_t obj, const char *name, hid_t type, hid_t space, const void *value)
{
    int rc = 0;
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0 || (exists > 0 && H5Adelete(obj, name) < 0))
        return H5U_FAIL(name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, value) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "writing attribute '%s'", name);
    H5U_CLOSE(a, name, &rc);
    return rc;
}

static int write_scalar_attr(hid_t obj, const char *name, hid_t type, const void *value)
{
    int rc = 0;
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return H5U_FAIL("a dataspace");
    rc = write_attr(obj, name, type, space, value);
    H5U_CLOSE(space, "a dataspace", &rc);
    return rc;
}

/* Read a single-element attribute converted to memtype. */
static int read_scalar_attr(hid_t obj, const char *name, hid_t memtype, void *value)
{
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0)
        return H5U_FAIL(name);
    if (!exists)
        return HP_ERR("attribute '%s' is missing", name);
    int rc = 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t space = a < 0 ? -1 : H5Aget_space(a);
    if (a < 0 || space < 0)
        rc = H5U_FAIL(name);
    else if (H5Sget_simple_extent_npoints(space) != 1)
        rc = HP_ERR("attribute '%s' is not a single value", name);
    else if (H5Aread(a, memtype, value) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "reading attribute '%s'", name);
    H5U_CLOSE(space, name, &rc);
    H5U_CLOSE(a, name, &rc);
    return rc;
}

int h5u_write_attr_int64(hid_t obj, const char *name, int64_t value)
{
    return write_scalar_attr(obj, name, H5T_NATIVE_INT64, &value);
}

int h5u_read_attr_int64(hid_t obj, const char *name, int64_t *value)
{
    return read_scalar_attr(obj, name, H5T_NATIVE_INT64, value);
}

int h5u_write_attr_uint32(hid_t obj, const char *name, uint32_t value)
{
    return write_scalar_attr(obj, name, H5T_NATIVE_UINT32, &value);
}

int h5u_read_attr_uint32(hid_t obj, const char *name, uint32_t *value)
{
    return read_scalar_attr(obj, name, H5T_NATIVE_UINT32, value);
}

int h5u_write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    int rc = write_scalar_attr(obj, name, t, &value);
    H5U_CLOSE(t, "a string type", &rc);
    return rc;
}

int h5u_read_attr_string(hid_t obj, const char *name, char *buf, size_t size)
{
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    char *raw = NULL;
    int rc = read_scalar_attr(obj, name, t, &raw);
    if (rc == 0) {
        snprintf(buf, size, "%s", raw ? raw : "");
        H5free_memory(raw);
    }
    H5U_CLOSE(t, "a string type", &rc);
    return rc;
}

int h5u_write_attr_strings(hid_t obj, const char *name, const char *const *strings, size_t n)
{
    hsize_t dims[1] = {n};
    int rc = 0;
    hid_t t = vlen_string_type();
    if (t < 0)
        return H5U_FAIL("a string type");
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (space < 0)
        rc = H5U_FAIL("a dataspace");
    else
        rc = write_attr(obj, name, t, space, strings);
    H5U_CLOSE(space, "a dataspace", &rc);
    H5U_CLOSE(t, "a string type", &rc);
    return rc;
}

int h5u_read_attr_strings(hid_t obj, const char *name, char ***strings, size_t *n)
{
    *strings = NULL;
    *n = 0;
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0)
        return H5U_FAIL(name);
    if (!exists)
        return HP_ERR("attribute '%s' is missing", name);
    int rc = 0;
    hid_t t = vlen_string_type();
    hid_t a = t < 0 ? -1 : H5Aopen(obj, name, H5P_DEFAULT);
    hid_t space = a < 0 ? -1 : H5Aget_space(a);
    hid_t stored = a < 0 ? -1 : H5Aget_type(a);
    if (t < 0 || a < 0 || space < 0 || stored < 0) {
        rc = H5U_FAIL(name);
    } else if (H5Tget_class(stored) != H5T_STRING || H5Tis_variable_str(stored) <= 0 ||
               H5Sget_simple_extent_ndims(space) != 1) {
        rc = HP_ERR("attribute '%s' is not a list of strings", name);
    } else {
        hssize_t count = H5Sget_simple_extent_npoints(space);
        char **raw = hp_xcalloc((size_t)count + 1, sizeof *raw);
        if (H5Aread(a, t, raw) < 0) {
            rc = h5u_error_at(__FILE__, __LINE__, "reading attribute '%s'", name);
        } else {
            *strings = hp_xcalloc((size_t)count + 1, sizeof **strings);
            for (hssize_t i = 0; i < count; i++) {
                (*strings)[i] = hp_xstrdup(raw[i] ? raw[i] : "");
                H5free_memory(raw[i]);
            }
            *n = (size_t)count;
        }
        free(raw);
    }
    H5U_CLOSE(stored, name, &rc);
    H5U_CLOSE(space, name, &rc);
    H5U_CLOSE(a, name, &rc);
    H5U_CLOSE(t, "a string type", &rc);
    if (rc) {
        h5u_free_strings(*strings, *n);
        *strings = NULL;
        *n = 0;
    }
    return rc;
}

void h5u_free_strings(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

/* -------------------------------------------------------------- groups -- */

hid_t h5u_create_group(hid_t loc, const char *name)
{
    int rc = 0;
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl < 0 || H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0) {
        rc = h5u_error_at(__FILE__, __LINE__, "group properties for '%s'", name);
        H5U_CLOSE(gcpl, "group properties", &rc);
        return -1;
    }
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "creating group '%s'", name);
    H5U_CLOSE(gcpl, "group properties", &rc);
    if (rc) {
        H5U_CLOSE(g, name, &rc);
        return -1;
    }
    return g;
}

/* --------------------------------------------------------- whole files -- */

hid_t h5u_file_create(const char *path)
{
    h5u_quiet();
    int rc = 0;
    hid_t file = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, MEMFILE_INCREMENT, 0 /* no backing store */) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "%s: file properties", path);
    else if ((file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "%s: creating the file in memory", path);
    H5U_CLOSE(fapl, "file properties", &rc);
    if (rc) {
        H5U_CLOSE(file, path, &rc);
        return -1;
    }
    return file;
}

void h5u_file_discard(hid_t file)
{
    int rc = -1; /* a failure here adds nothing to the message being reported */
    H5U_CLOSE(file, "an abandoned file", &rc);
}

int h5u_file_commit(hid_t file, const char *path)
{
    int rc = 0;
    void *image = NULL;
    ssize_t size = -1;
    /* Metadata still in HDF5's caches goes into the in-memory file first;
     * without this flush the image lacks the last object headers. */
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = h5u_error_at(__FILE__, __LINE__, "%s: finishing the file in memory", path);
    else if ((size = H5Fget_file_image(file, NULL, 0)) <= 0)
        rc = h5u_error_at(__FILE__, __LINE__, "%s: size of the finished file", path);
    if (rc == 0) {
        image = malloc((size_t)size);
        if (!image)
            HP_PANIC("out of memory for a %zd-byte file image", size);
        if (H5Fget_file_image(file, image, (size_t)size) != size)
            rc = h5u_error_at(__FILE__, __LINE__, "%s: image of the finished file", path);
    }
    H5U_CLOSE(file, path, &rc); /* in memory: frees, never fails for lack of disk */
    if (rc == 0)
        rc = h5u_write_file_atomically(path, image, (size_t)size);
    free(image);
    return rc;
}

/* Make a rename durable: fsync the folder holding path.  Best effort: the
 * renamed file is complete and in place already; some file systems refuse
 * fsync on folders (EINVAL), and failing the write then would be wrong. */
static void sync_parent_folder(const char *path)
{
    char *copy = hp_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

static int write_all(int fd, const unsigned char *data, size_t size)
{
    while (size > 0) {
        size_t chunk = size > ((size_t)1 << 30) ? ((size_t)1 << 30) : size;
        ssize_t n = write(fd, data, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* no progress and no errno: treat as a full device */
            errno = ENOSPC;
            return -1;
        }
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int h5u_write_file_atomically(const char *path, const void *data, size_t size)
{
    char *temp = h5u_temp_name(path);
    int rc = 0, err = 0;
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = HP_ERR("%s (cannot create the temporary file %s; check that the folder exists and is "
                    "writable)", strerror(errno), temp);
        free(temp);
        return rc;
    }
    if (write_all(fd, data, size) != 0 || fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(temp, path) != 0)
        err = errno;
    if (err) {
        unlink(temp);
        rc = HP_ERR("%s (while writing the temporary file %s, now removed; %s is unchanged)",
                    strerror(err), temp, path);
    } else {
        sync_parent_folder(path);
    }
    free(temp);
    return rc;
}

uint64_t hp_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

char *h5u_temp_name(const char *path) { return hp_xasprintf("%s.tmp.%d", path, (int)getpid()); }

int h5u_commit_temp(const char *temp, const char *path)
{
    int err = 0;
    int fd = open(temp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        err = errno;
    else if (fsync(fd) != 0)
        err = errno;
    if (fd >= 0 && close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(temp, path) != 0)
        err = errno;
    if (err) {
        unlink(temp);
        return HP_ERR("%s: cannot put the finished file in place: %s (the temporary file %s is "
                      "removed; %s is unchanged)", path, strerror(err), temp, path);
    }
    sync_parent_folder(path);
    return 0;
}
