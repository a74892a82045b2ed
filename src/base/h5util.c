/* h5util.c - checked HDF5 helpers (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

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

int h5u_exists(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

int h5u_write_array(hid_t loc, const char *name, hid_t type, const void *data, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (space < 0)
        return H5U_FAIL("cannot create a dataspace");
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0)
        rc = H5U_FAIL(name);
    else if (n > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = H5U_FAIL(name);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    if (rc)
        hp_error_prefix("cannot write dataset '%s'", name);
    return rc;
}

long h5u_array_length(hid_t loc, const char *name)
{
    if (!h5u_exists(loc, name))
        return HP_ERR("dataset '%s' is missing", name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return H5U_FAIL(name);
    hid_t space = H5Dget_space(ds);
    hsize_t dims[1] = {0};
    int rank = H5Sget_simple_extent_ndims(space);
    long n = -1;
    if (rank == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1)
        n = (long)dims[0];
    else
        HP_ERR("dataset '%s' has rank %d, expected 1", name, rank);
    H5Sclose(space);
    H5Dclose(ds);
    return n;
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
    H5Dclose(ds);
    if (rc)
        hp_error_prefix("cannot read dataset '%s'", name);
    return rc;
}

static hid_t vlen_string_type(void);

int h5u_write_matrix(hid_t loc, const char *name, hid_t type, const void *data, size_t rows, size_t cols)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    if (space < 0)
        return H5U_FAIL("cannot create a dataspace");
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0 || (rows * cols > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
        rc = H5U_FAIL(name);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return rc;
}

int h5u_write_string_array(hid_t loc, const char *name, const char *const *strings, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t t = vlen_string_type(), space = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0 || (n > 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings) < 0))
        rc = H5U_FAIL(name);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(t);
    return rc;
}

static hid_t vlen_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int h5u_write_string(hid_t loc, const char *name, const char *text)
{
    hid_t t = vlen_string_type(), space = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0)
        rc = H5U_FAIL(name);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(t);
    return rc;
}

int h5u_read_string(hid_t loc, const char *name, char **text)
{
    *text = NULL;
    if (!h5u_exists(loc, name))
        return HP_ERR("dataset '%s' is missing", name);
    hid_t t = vlen_string_type();
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    char *raw = NULL;
    int rc = 0;
    if (ds < 0 || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &raw) < 0)
        rc = H5U_FAIL(name);
    if (rc == 0) {
        *text = hp_xstrdup(raw ? raw : "");
        H5free_memory(raw);
    }
    if (ds >= 0)
        H5Dclose(ds);
    H5Tclose(t);
    return rc;
}

static int write_attr(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Awrite(a, type, value) < 0)
        rc = H5U_FAIL(name);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc;
}

int h5u_write_attr_int64(hid_t obj, const char *name, int64_t value)
{
    return write_attr(obj, name, H5T_NATIVE_INT64, &value);
}

int h5u_read_attr_int64(hid_t obj, const char *name, int64_t *value)
{
    if (H5Aexists(obj, name) <= 0)
        return HP_ERR("attribute '%s' is missing", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, value) < 0)
        rc = H5U_FAIL(name);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

int h5u_write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = vlen_string_type();
    int rc = write_attr(obj, name, t, &value);
    H5Tclose(t);
    return rc;
}

int h5u_read_attr_string(hid_t obj, const char *name, char *buf, size_t size)
{
    if (H5Aexists(obj, name) <= 0)
        return HP_ERR("attribute '%s' is missing", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = vlen_string_type();
    char *raw = NULL;
    int rc = 0;
    if (a < 0 || H5Aread(a, t, &raw) < 0)
        rc = H5U_FAIL(name);
    if (rc == 0) {
        snprintf(buf, size, "%s", raw ? raw : "");
        H5free_memory(raw);
    }
    if (a >= 0)
        H5Aclose(a);
    H5Tclose(t);
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
    if (rename(temp, path) != 0) {
        int e = errno;
        unlink(temp);
        return HP_ERR("%s: cannot rename the finished file into place: %s", path, strerror(e));
    }
    return 0;
}
