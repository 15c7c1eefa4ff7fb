/*
 * uu.c - uuencoded content: every "begin MODE NAME" ... "end" block of a
 * text object is decoded and scanned as a member named NAME.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/formats.h"
#include "formats/objlines.h"
#include "util/limits.h"

static bool begin_line(const uint8_t *l, size_t n, char *name, size_t cap)
{
    if (n < 10 || memcmp(l, "begin ", 6) != 0)
        return false;
    size_t i = 6, digits = 0;
    while (i < n && l[i] >= '0' && l[i] <= '7') {
        i++;
        digits++;
    }
    if (digits < 3 || digits > 4 || i >= n || l[i] != ' ')
        return false;
    i++;
    size_t k = 0;
    while (i < n && k + 1 < cap) {
        char c = (char)l[i++];
        name[k++] = (c == '/' || (unsigned char)c < 32) ? '_' : c;
    }
    name[k] = 0;
    return k > 0;
}

static size_t decode_line(const uint8_t *l, size_t n, uint8_t *out)
{
    if (n == 0)
        return 0;
    size_t want = (size_t)((l[0] - 32) & 63), got = 0;
    for (size_t i = 1; got < want; i += 4) {
        uint8_t c[4];
        for (int k = 0; k < 4; k++)
            c[k] = i + (size_t)k < n ? (uint8_t)((l[i + k] - 32) & 63) : 0;
        uint8_t b[3] = {(uint8_t)(c[0] << 2 | c[1] >> 4), (uint8_t)(c[1] << 4 | c[2] >> 2),
                        (uint8_t)(c[2] << 6 | c[3])};
        for (int k = 0; k < 3 && got < want; k++)
            out[got++] = b[k];
    }
    return got;
}

ward_err ward_uu_extract(struct ward_walk *w, const struct ward_obj *obj);

ward_err ward_uu_extract(struct ward_walk *w, const struct ward_obj *obj)
{
    struct objlines *ol = malloc(sizeof *ol);
    if (!ol)
        return WARD_ERR_NOMEM;
    objlines_init(ol, obj);
    const uint8_t *l;
    size_t n;
    bool partial;
    char name[256];
    ward_err e = WARD_OK;
    while (!e && !ward_walk_stopped(w) && objlines_next(ol, &l, &n, &partial)) {
        if (partial || !begin_line(l, n, name, sizeof name))
            continue;
        struct ward_spool sp;
        ward_spool_init(w, obj, &sp);
        while (objlines_next(ol, &l, &n, &partial)) {
            if (n >= 3 && memcmp(l, "end", 3) == 0)
                break;
            if (n == 0 || l[0] == '`' || l[0] == ' ')
                continue; /* the zero-length line before "end" */
            uint8_t out[64];
            size_t k = decode_line(l, n > 62 ? 62 : n, out);
            if (k && ward_spool_write(w, &sp, out, k))
                break;
        }
        e = ward_walk_spooled(w, obj, name, &sp);
    }
    free(ol);
    return e;
}

ward_err ward_fmt_uu_unpack(struct ward_walk *w, const struct ward_obj *obj)
{
    return ward_uu_extract(w, obj);
}
