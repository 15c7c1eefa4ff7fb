/*
 * text.c - text objects: uuencoded blocks inside, and the normalized layer
 * that ClamAV's text (target 7) and HTML (target 3) signatures match.
 *
 * Normalization as libclamav's textnorm does it: each run of whitespace
 * becomes one space, A-Z become a-z, bytes 0x00-0x08, 0x0e-0x1f and
 * 0x80-0xff are dropped (without ending a whitespace run), the rest is kept.
 * The layer is made when the database has signatures for its target or for
 * any target (target 0 signatures match normalized text too, as in libclamav).
 */
#include <stdlib.h>
#include <string.h>

#include "formats/formats.h"

ward_err ward_uu_extract(struct ward_walk *w, const struct ward_obj *obj);

static ward_err normalize(struct ward_walk *w, const struct ward_obj *obj, int target)
{
    uint8_t in[65536], out[65536];
    struct ward_spool sp;
    ward_spool_init(w, obj, &sp);
    sp.s.cap = obj->src.size; /* never larger than the input */
    bool in_space = false;
    for (uint64_t off = 0; off < obj->src.size;) {
        ssize_t got = ward_obj_read(obj, off, in, sizeof in);
        if (got <= 0)
            break;
        off += (uint64_t)got;
        size_t k = 0;
        for (ssize_t i = 0; i < got; i++) {
            uint8_t c = in[i];
            if (c == ' ' || (c >= '\t' && c <= '\r')) {
                if (!in_space)
                    out[k++] = ' ';
                in_space = true;
            } else if (c < 0x09 || (c >= 0x0e && c < 0x20) || c >= 0x80) {
                /* dropped */
            } else {
                out[k++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
                in_space = false;
            }
        }
        if (k && ward_spool_write(w, &sp, out, k))
            break;
    }
    return ward_walk_layer(w, obj, target, &sp);
}

ward_err ward_fmt_text_unpack(struct ward_walk *w, const struct ward_obj *obj)
{
    ward_err e = ward_uu_extract(w, obj);
    if (e || ward_walk_stopped(w) || obj->forced_target >= 0)
        return e;
    /* libclamav matches both the layer's own target and target 0 on it. */
    int target = obj->type == WARD_FT_HTML ? WARD_TARGET_HTML : WARD_TARGET_ASCII;
    ward_db *db = ward_walk_db(w);
    if (ward_db_has_target(db, (enum ward_target)target) ||
        ward_db_has_target(db, WARD_TARGET_ANY))
        e = normalize(w, obj, target);
    return e;
}
