/*
 * mime_encode.c - what the editor writes into a message: base64 and
 * quoted-printable bodies, and header fields with RFC 2047 encoded words.
 */
#include <string.h>

#include "mail/mime_int.h"

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n bytes into o (4 * ceil(n / 3) chars); returns the count. */
static size_t b64_chunk(const uint8_t *p, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        o[k++] = b64_alpha[v >> 18 & 63];
        o[k++] = b64_alpha[v >> 12 & 63];
        o[k++] = i + 1 < n ? b64_alpha[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? b64_alpha[v & 63] : '=';
    }
    return k;
}

ward_err ward_mime_b64_encode(const uint8_t *p, size_t n, const char *eol, ward_buf *out)
{
    size_t el = strlen(eol), lines = n / 57 + 1;
    ward_err e = ward_buf_reserve(out, (n + 2) / 3 * 4 + lines * el);
    for (size_t i = 0; !e && i < n; i += 57) {
        char line[80];
        size_t k = b64_chunk(p + i, n - i < 57 ? n - i : 57, line);
        if (i)
            e = ward_buf_append(out, eol, el);
        if (!e)
            e = ward_buf_append(out, line, k);
    }
    return e;
}

ward_err ward_mime_qp_encode(const uint8_t *p, size_t n, const char *eol, ward_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0, el = strlen(eol);
    ward_err e = WARD_OK;
    for (size_t i = 0; !e && i < n; i++) {
        uint8_t c = p[i];
        if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n')) {
            i += c == '\r';
            e = ward_buf_append(out, eol, el);
            col = 0;
            continue;
        }
        /* blanks at the end of a line would be stripped in transport */
        bool at_eol = i + 1 == n || p[i + 1] == '\n' || p[i + 1] == '\r';
        bool lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
        char enc[3] = {(char)c, 0, 0};
        size_t k = 1;
        if (!lit) {
            enc[0] = '=';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            k = 3;
        }
        if (col + k > 75) { /* a soft break keeps lines within 76 columns */
            e = ward_buf_putc(out, '=');
            if (!e)
                e = ward_buf_append(out, eol, el);
            col = 0;
        }
        if (!e)
            e = ward_buf_append(out, enc, k);
        col += k;
    }
    return e;
}

static bool plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((uint8_t)*s >= 127 || ((uint8_t)*s < 32 && *s != '\t'))
            return false;
    return true;
}

/* Bytes of whole UTF-8 characters in s[0..n) that fit in max bytes. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((uint8_t)s[k] & 0xc0) == 0x80)
        k--;
    return k ? k : max;
}

ward_err ward_mime_field_encode(const char *name, const char *value, const char *eol, ward_buf *out)
{
    size_t el = strlen(eol), n = strlen(value);
    ward_err e = ward_buf_printf(out, "%s:", name);
    size_t col = strlen(name) + 1;
    if (plain_ascii(value)) {
        /* fold at blanks before 78 columns; a longer word stays whole */
        size_t i = 0;
        bool first = true;
        while (!e && i < n) {
            size_t w = i;
            while (w < n && value[w] == ' ')
                w++;
            size_t we = w;
            while (we < n && value[we] != ' ')
                we++;
            if (!first && col + (we - i) > 78) {
                e = ward_buf_append(out, eol, el);
                if (!e)
                    e = ward_buf_putc(out, ' ');
                col = 1;
                i = w; /* the blanks become the fold */
            } else if (first) {
                e = ward_buf_putc(out, ' ');
                col++;
                i = w;
            }
            if (!e)
                e = ward_buf_append(out, value + i, we - i);
            col += we - i;
            i = we;
            first = false;
        }
    } else {
        /* 36 bytes of UTF-8 make a 60-column encoded word */
        char clean[4096];
        size_t cn = 0;
        for (size_t i = 0; i < n && cn < sizeof clean; i++)
            clean[cn++] = value[i] == '\r' || value[i] == '\n' ? ' ' : value[i];
        for (size_t i = 0; !e && i < cn;) {
            size_t k = utf8_cut(clean + i, cn - i, 36);
            char word[64];
            size_t wl = b64_chunk((const uint8_t *)clean + i, k, word);
            if (i)
                e = ward_buf_append(out, eol, el);
            if (!e)
                e = ward_buf_printf(out, " =?UTF-8?B?%.*s?=", (int)wl, word);
            i += k;
        }
    }
    if (!e)
        e = ward_buf_append(out, eol, el);
    return e;
}
