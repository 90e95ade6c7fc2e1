/* A dataset's values as bytes that can be compared between two files: the
 * tests that check that two traces hold the same datasets (determinism,
 * identical content). Numbers are their native bytes; a variable-length
 * string (a dataset of them, or a member of a compound) is its text and a
 * NUL, not the pointer HDF5 reads it into, nor its heap address in the
 * file. Header-only (static inline). */
#ifndef RAGSIM_H5VALUES_H
#define RAGSIM_H5VALUES_H

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *p;
    size_t len, cap;
} h5v_buf_t;

static inline int h5v_put_(h5v_buf_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n) c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (!q) return -1;
        b->p = q;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

/* One element of memory type `mt` at `elem`. */
static inline int h5v_elem_(h5v_buf_t *b, hid_t mt, const unsigned char *elem)
{
    if (H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) > 0) {
        const char *s;
        memcpy(&s, elem, sizeof s);
        return h5v_put_(b, s ? s : "", (s ? strlen(s) : 0) + 1);
    }
    if (H5Tget_class(mt) == H5T_COMPOUND) {
        int n = H5Tget_nmembers(mt);
        for (int i = 0; i < n; i++) {
            hid_t m = H5Tget_member_type(mt, (unsigned)i);
            int rc = h5v_elem_(b, m, elem + H5Tget_member_offset(mt, (unsigned)i));
            H5Tclose(m);
            if (rc) return rc;
        }
        return 0;
    }
    return h5v_put_(b, elem, H5Tget_size(mt));
}

/* The values of dataset `ds`, element after element (*len bytes; caller
 * frees), or NULL when it cannot be read. */
static inline unsigned char *h5_values(hid_t ds, size_t *len)
{
    *len = 0;
    hid_t ft = H5Dget_type(ds), sp = H5Dget_space(ds);
    hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    size_t sz = mt >= 0 ? H5Tget_size(mt) : 0;
    unsigned char *raw = n >= 0 && sz ? calloc(n > 0 ? (size_t)n : 1, sz) : NULL;
    h5v_buf_t b = {NULL, 0, 0};
    int ok = raw != NULL && (n == 0 || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0);
    for (hssize_t i = 0; ok && i < n; i++) ok = h5v_elem_(&b, mt, raw + (size_t)i * sz) == 0;
    if (raw && n > 0) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
    free(raw);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    if (!ok) {
        free(b.p);
        return NULL;
    }
    if (!b.p) b.p = malloc(1);   /* an empty dataset: an empty, non-NULL buffer */
    *len = b.len;
    return b.p;
}

#endif
