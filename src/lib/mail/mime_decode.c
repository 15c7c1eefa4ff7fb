/*
 * mime_decode.c - transfer decodings of a part's body (RFC 2045 base64 and
 * quoted-printable, uuencode), lenient as mail readers are: bytes outside
 * the alphabet are skipped, a broken escape is kept as it was, concatenated
 * base64 blocks decode one after the other. Output goes straight into the
 * caller's capped buffer, reserved once.
 */
#include <string.h>

#include "mail/mime_int.h"
#include "util/strutil.h"

/* base64 value + 1; 0: not in the alphabet */
// clang-format off
static const uint8_t b64_table[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 63, 0, 0, 0, 64,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 0, 0, 0, 0, 0, 0,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 0, 0, 0, 0,
    0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};
// clang-format on

/* Room for up to `want` more bytes (less when the cap is nearer). */
static ward_err room(ward_buf *out, size_t want, uint8_t **o, uint8_t **lim)
{
    size_t avail = out->cap > out->len ? out->cap - out->len : 0;
    if (want > avail)
        want = avail;
    ward_err e = ward_buf_reserve(out, want);
    if (e)
        return e;
    *o = out->data + out->len;
    *lim = *o + want;
    return WARD_OK;
}

static ward_err done(ward_buf *out, uint8_t *o, ward_err e)
{
    if (out->data) {
        out->len = (size_t)(o - out->data);
        out->data[out->len] = 0;
    }
    return e;
}

/* Decode into [o, lim); returns the new end; *full when bytes were left over. */
static uint8_t *b64_run(const uint8_t *p, size_t n, uint8_t *o, uint8_t *lim, bool *full)
{
    uint32_t acc = 0;
    int bits = 0;
    *full = false;
    for (size_t i = 0; i < n; i++) {
        /* four alphabet characters at a quantum boundary: three bytes at once */
        while (bits == 0 && n - i >= 4 && lim - o >= 3) {
            uint8_t a = b64_table[p[i]], b = b64_table[p[i + 1]], c = b64_table[p[i + 2]],
                    d = b64_table[p[i + 3]];
            if (!a || !b || !c || !d)
                break;
            uint32_t v = (uint32_t)(a - 1) << 18 | (uint32_t)(b - 1) << 12 |
                         (uint32_t)(c - 1) << 6 | (uint32_t)(d - 1);
            o[0] = (uint8_t)(v >> 16);
            o[1] = (uint8_t)(v >> 8);
            o[2] = (uint8_t)v;
            o += 3;
            i += 4;
        }
        if (i >= n)
            break;
        uint8_t v = b64_table[p[i]];
        if (!v) {
            if (p[i] == '=') /* padding ends a block; another may follow */
                bits = 0;
            continue;
        }
        acc = acc << 6 | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == lim) {
                *full = true;
                break;
            }
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

size_t ward_mime_b64_mem(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    bool full;
    return (size_t)(b64_run(p, n, out, out + cap, &full) - out);
}

ward_err ward_mime_b64_decode(const uint8_t *p, size_t n, ward_buf *out)
{
    uint8_t *o, *lim;
    ward_err e = room(out, n / 4 * 3 + 3, &o, &lim);
    if (e)
        return e;
    bool full;
    o = b64_run(p, n, o, lim, &full);
    return done(out, o, full ? WARD_ERR_LIMIT : WARD_OK);
}

ward_err ward_mime_qp_decode(const uint8_t *p, size_t n, ward_buf *out)
{
    uint8_t *o, *lim;
    ward_err e = room(out, n, &o, &lim); /* never longer than the input */
    if (e)
        return e;
    size_t pos = 0;
    while (pos < n) {
        const uint8_t *nl = memchr(p + pos, '\n', n - pos);
        size_t le = nl ? (size_t)(nl - p) : n, brk = le;
        if (le > pos && p[le - 1] == '\r')
            brk = --le;
        size_t next = nl ? (size_t)(nl - p) + 1 : n;
        /* trailing whitespace was added in transport (RFC 2045 6.7 rule 3) */
        while (le > pos && (p[le - 1] == ' ' || p[le - 1] == '\t'))
            le--;
        bool soft = false;
        for (size_t i = pos; i < le; i++) {
            int h, l;
            uint8_t c = p[i];
            if (c == '=') {
                if (i + 1 == le) {
                    soft = true;
                    break;
                }
                if (i + 2 < le && (h = ward_hexval(p[i + 1])) >= 0 &&
                    (l = ward_hexval(p[i + 2])) >= 0) {
                    c = (uint8_t)(h << 4 | l);
                    i += 2;
                }
            }
            if (o == lim)
                return done(out, o, WARD_ERR_LIMIT);
            *o++ = c;
        }
        if (!soft && nl) { /* the line break as it was */
            for (size_t i = brk; i < next; i++) {
                if (o == lim)
                    return done(out, o, WARD_ERR_LIMIT);
                *o++ = p[i];
            }
        }
        pos = next;
    }
    return done(out, o, WARD_OK);
}

static bool uu_begin(const uint8_t *l, size_t n)
{
    if (n < 10 || memcmp(l, "begin ", 6) != 0)
        return false;
    size_t i = 6;
    while (i < n && l[i] >= '0' && l[i] <= '7')
        i++;
    return i > 8 && i < n && l[i] == ' ';
}

ward_err ward_mime_uu_decode(const uint8_t *p, size_t n, ward_buf *out)
{
    uint8_t *o, *lim;
    ward_err e = room(out, n / 4 * 3 + 3, &o, &lim);
    if (e)
        return e;
    /* from the line after "begin MODE NAME"; without one, from the start */
    size_t pos = 0, start = 0;
    while (pos < n) {
        const uint8_t *nl = memchr(p + pos, '\n', n - pos);
        size_t next = nl ? (size_t)(nl - p) + 1 : n;
        if (uu_begin(p + pos, next - pos)) {
            start = next;
            break;
        }
        pos = next;
    }
    for (pos = start; pos < n;) {
        const uint8_t *nl = memchr(p + pos, '\n', n - pos);
        size_t le = nl ? (size_t)(nl - p) : n, next = nl ? le + 1 : n;
        if (le > pos && p[le - 1] == '\r')
            le--;
        const uint8_t *l = p + pos;
        size_t ln = le - pos;
        pos = next;
        if (ln >= 3 && memcmp(l, "end", 3) == 0)
            break;
        if (ln == 0 || l[0] == '`' || l[0] == ' ')
            continue;
        size_t want = (size_t)((l[0] - 32) & 63);
        /* a line too short for its count is not uuencode ("e" of a cut "end") */
        if (ln - 1 < (want * 4 + 2) / 3)
            continue;
        for (size_t i = 1, got = 0; got < want; i += 4) {
            uint8_t c[4];
            for (int k = 0; k < 4; k++)
                c[k] = i + (size_t)k < ln ? (uint8_t)((l[i + k] - 32) & 63) : 0;
            uint8_t b[3] = {(uint8_t)(c[0] << 2 | c[1] >> 4), (uint8_t)(c[1] << 4 | c[2] >> 2),
                            (uint8_t)(c[2] << 6 | c[3])};
            for (int k = 0; k < 3 && got < want; k++, got++) {
                if (o == lim)
                    return done(out, o, WARD_ERR_LIMIT);
                *o++ = b[k];
            }
        }
    }
    return done(out, o, WARD_OK);
}

ward_err ward_mime_decode(const ward_mime *m, uint32_t part, ward_buf *out, struct ward_diag *diag)
{
    if (part >= m->n_parts)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "message part %u: no such part", part);
    const struct ward_mime_part *pt = &m->parts[part];
    const uint8_t *p = m->data + pt->body;
    size_t n = (size_t)(pt->end - pt->body);
    ward_err e;
    switch (pt->enc) {
    case WARD_MIME_BASE64:
        e = ward_mime_b64_decode(p, n, out);
        break;
    case WARD_MIME_QP:
        e = ward_mime_qp_decode(p, n, out);
        break;
    case WARD_MIME_UUENCODE:
        e = ward_mime_uu_decode(p, n, out);
        break;
    default:
        e = ward_buf_append(out, p, n);
        break;
    }
    if (e == WARD_ERR_LIMIT)
        return ward_diag_set(diag, e, "message part %u: decoded size over the limit", part);
    if (e)
        return ward_diag_set(diag, e, "message part %u: %s", part, ward_err_str(e));
    return WARD_OK;
}
