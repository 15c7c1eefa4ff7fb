/*
 * mime_words.c - header values to UTF-8: RFC 2047 encoded words, RFC 2231
 * parameters (continuations, charsets, percent-encoding) and charsets via
 * iconv. Everything is bounded by the caller's buffer; nothing fails.
 */
#include <ctype.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_int.h"
#include "util/strutil.h"

/* Length of the valid UTF-8 sequence at p (0 when invalid). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t k;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4;
    else
        return 0;
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Append in[0..n) as UTF-8 if it is, else as Latin-1; whole characters only. */
static size_t copy_utf8(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    bool valid = utf8_valid(in, n);
    for (size_t i = 0; i < n;) {
        size_t k = valid ? utf8_seq(in + i, n - i) : 1;
        char tmp[4];
        size_t tl = k;
        if (valid) {
            memcpy(tmp, in + i, k);
        } else if (in[i] < 0x80) {
            tmp[0] = (char)in[i];
        } else {
            tmp[0] = (char)(0xc0 | in[i] >> 6);
            tmp[1] = (char)(0x80 | (in[i] & 0x3f));
            tl = 2;
        }
        if (o + tl >= cap)
            break;
        /* control characters would break logs and header lines */
        if (tl == 1 && ((uint8_t)tmp[0] < 32 || tmp[0] == 127))
            tmp[0] = '_';
        memcpy(out + o, tmp, tl);
        o += tl;
        i += k;
    }
    if (cap)
        out[o] = 0;
    return o;
}

static bool is_utf8_name(const char *cs)
{
    return !*cs || !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
           !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii");
}

size_t ward_mime_to_utf8(const char *charset, const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (!cap)
        return 0;
    out[0] = 0;
    if (is_utf8_name(charset) || n == 0)
        return copy_utf8(in, n, out, cap);
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return copy_utf8(in, n, out, cap);
    char tmp[1024];
    char *ip = (char *)in, *op = tmp;
    size_t il = n, ol = sizeof tmp;
    size_t r = iconv(cd, &ip, &il, &op, &ol);
    iconv_close(cd);
    if (r == (size_t)-1 && il && ol > 4)
        return copy_utf8(in, n, out, cap); /* invalid input: Latin-1 says what is there */
    return copy_utf8((const uint8_t *)tmp, (size_t)(op - tmp), out, cap);
}

/* ---- RFC 2047 ------------------------------------------------------------ */

/* Parse "=?cs?E?text?=" at s (len n); fills the parts; returns its length or 0. */
static size_t encoded_word(const char *s, size_t n, char *cs, size_t cscap, char *enc,
                           const char **text, size_t *tlen)
{
    if (n < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    size_t i = 2;
    while (i < n && s[i] != '?' && !isspace((unsigned char)s[i]))
        i++;
    if (i >= n || s[i] != '?' || i == 2 || i - 2 >= cscap)
        return 0;
    memcpy(cs, s + 2, i - 2);
    cs[i - 2] = 0;
    char *star = strchr(cs, '*'); /* RFC 2231 language suffix */
    if (star)
        *star = 0;
    if (i + 3 > n || s[i + 2] != '?')
        return 0;
    *enc = (char)toupper((unsigned char)s[i + 1]);
    if (*enc != 'B' && *enc != 'Q')
        return 0;
    size_t t = i + 3, j = t;
    while (j + 1 < n && !(s[j] == '?' && s[j + 1] == '=')) {
        if (isspace((unsigned char)s[j]))
            return 0;
        j++;
    }
    if (j + 1 >= n)
        return 0;
    *text = s + t;
    *tlen = j - t;
    return j + 2;
}

static size_t q_val(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        int h, l;
        if (s[i] == '_') {
            out[o++] = ' ';
        } else if (s[i] == '=' && i + 2 < n && (h = ward_hexval((unsigned char)s[i + 1])) >= 0 &&
                   (l = ward_hexval((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (uint8_t)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = (uint8_t)s[i];
        }
    }
    return o;
}

struct wordacc {
    char cs[64];
    uint8_t bytes[1024];
    size_t n;
};

static size_t flush_words(struct wordacc *a, char *out, size_t cap)
{
    size_t k = a->n ? ward_mime_to_utf8(a->cs, a->bytes, a->n, out, cap) : 0;
    a->n = 0;
    return k;
}

size_t ward_mime_words(const char *s, size_t n, char *out, size_t cap)
{
    if (!cap)
        return 0;
    struct wordacc a = {{0}, {0}, 0};
    size_t o = 0, lit = 0; /* literal text starts at lit */
    out[0] = 0;
    for (size_t i = 0; i < n;) {
        char cs[64], enc;
        const char *text;
        size_t tlen, wl = encoded_word(s + i, n - i, cs, sizeof cs, &enc, &text, &tlen);
        if (!wl) {
            i++;
            continue;
        }
        /* literal text before the word; whitespace alone between two words is dropped */
        bool gap_ws = true;
        for (size_t k = lit; k < i; k++)
            gap_ws &= s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n';
        if (!(gap_ws && a.n) && i > lit) {
            o += flush_words(&a, out + o, cap - o);
            o += ward_mime_to_utf8("", (const uint8_t *)s + lit, i - lit, out + o, cap - o);
        }
        /* consecutive words of one charset are joined before conversion, so a
           character split across two words survives */
        if (a.n && strcasecmp(a.cs, cs) != 0)
            o += flush_words(&a, out + o, cap - o);
        memcpy(a.cs, cs, sizeof a.cs);
        size_t room = sizeof a.bytes - a.n;
        a.n += enc == 'B' ? ward_mime_b64_mem((const uint8_t *)text, tlen, a.bytes + a.n, room)
                          : q_val(text, tlen, a.bytes + a.n, room);
        i += wl;
        lit = i;
    }
    o += flush_words(&a, out + o, cap - o);
    if (n > lit)
        o += ward_mime_to_utf8("", (const uint8_t *)s + lit, n - lit, out + o, cap - o);
    return o;
}

/* ---- parameters ----------------------------------------------------------- */

#define MAX_SEGMENTS 64

struct param_value {
    const char *p;
    size_t n;
    bool quoted;
};

/* The next "attr=value" at *s; false at the end. Quoted values keep their escapes. */
static bool next_param(const char **s, const char **attr, size_t *alen, struct param_value *v)
{
    const char *p = *s;
    for (;;) {
        while (*p && *p != ';')
            p++; /* the type or a previous value's tail */
        if (!*p)
            return false;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *a = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        const char *ae = p;
        while (ae > a && (ae[-1] == ' ' || ae[-1] == '\t'))
            ae--;
        if (*p != '=')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        v->quoted = *p == '"';
        if (v->quoted) {
            v->p = ++p;
            while (*p && *p != '"')
                p += p[0] == '\\' && p[1] ? 2 : 1;
            v->n = (size_t)(p - v->p);
            if (*p)
                p++;
        } else {
            v->p = p;
            while (*p && *p != ';')
                p++;
            const char *e = p;
            while (e > v->p && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            v->n = (size_t)(e - v->p);
        }
        *attr = a;
        *alen = (size_t)(ae - a);
        *s = p;
        return true;
    }
}

/* Append a value, removing quoted-string escapes and (for extended values) %XX. */
static size_t append_value(const struct param_value *v, bool ext, uint8_t *out, size_t o,
                           size_t cap)
{
    for (size_t i = 0; i < v->n && o < cap; i++) {
        int h, l;
        if (v->quoted && v->p[i] == '\\' && i + 1 < v->n) {
            out[o++] = (uint8_t)v->p[++i];
        } else if (ext && v->p[i] == '%' && i + 2 < v->n &&
                   (h = ward_hexval((unsigned char)v->p[i + 1])) >= 0 &&
                   (l = ward_hexval((unsigned char)v->p[i + 2])) >= 0) {
            out[o++] = (uint8_t)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = (uint8_t)v->p[i];
        }
    }
    return o;
}

/* Split "charset'lang'rest" of an extended value; charset into cs. */
static void ext_charset(struct param_value *v, char *cs, size_t cscap)
{
    const char *q1 = memchr(v->p, '\'', v->n);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', v->n - (size_t)(q1 + 1 - v->p)) : NULL;
    cs[0] = 0;
    if (!q2)
        return;
    size_t k = (size_t)(q1 - v->p);
    if (k < cscap) {
        memcpy(cs, v->p, k);
        cs[k] = 0;
    }
    v->n -= (size_t)(q2 + 1 - v->p);
    v->p = q2 + 1;
}

bool ward_mime_param(const char *value, const char *attr, bool words, char *out, size_t cap)
{
    size_t al = strlen(attr);
    struct param_value plain = {0}, ext = {0}, seg[MAX_SEGMENTS];
    bool have_plain = false, have_ext = false, seg_ext[MAX_SEGMENTS];
    uint64_t have_seg = 0;
    const char *s = value, *a;
    size_t an;
    struct param_value v;
    while (next_param(&s, &a, &an, &v)) {
        if (an < al || strncasecmp(a, attr, al) != 0)
            continue;
        const char *rest = a + al;
        size_t rn = an - al;
        if (rn == 0) {
            if (!have_plain)
                plain = v;
            have_plain = true;
        } else if (rn == 1 && rest[0] == '*') {
            if (!have_ext)
                ext = v;
            have_ext = true;
        } else if (rest[0] == '*' && isdigit((unsigned char)rest[1])) {
            uint64_t idx;
            size_t dl = rn - 1 - (rest[rn - 1] == '*');
            if (ward_parse_u64n(rest + 1, dl, &idx) && idx < MAX_SEGMENTS &&
                !(have_seg >> idx & 1)) {
                seg[idx] = v;
                seg_ext[idx] = rest[rn - 1] == '*';
                have_seg |= 1ull << idx;
            }
        }
    }
    uint8_t raw[8192]; /* a whole unfolded value (mime.c keeps 8 KiB) */
    size_t n = 0;
    char cs[64] = "";
    if (have_seg & 1) {
        for (unsigned i = 0; i < MAX_SEGMENTS && (have_seg >> i & 1); i++) {
            if (i == 0 && seg_ext[0])
                ext_charset(&seg[0], cs, sizeof cs);
            n = append_value(&seg[i], seg_ext[i], raw, n, sizeof raw);
        }
    } else if (have_ext) {
        ext_charset(&ext, cs, sizeof cs);
        n = append_value(&ext, true, raw, 0, sizeof raw);
    } else if (have_plain) {
        n = append_value(&plain, false, raw, 0, sizeof raw);
        if (words) {
            ward_mime_words((const char *)raw, n, out, cap);
        } else if (cap) {
            /* boundaries and charsets: the bytes as they are */
            n = n < cap - 1 ? n : cap - 1;
            memcpy(out, raw, n);
            out[n] = 0;
        }
        return true;
    } else {
        return false;
    }
    ward_mime_to_utf8(cs, raw, n, out, cap);
    return true;
}
