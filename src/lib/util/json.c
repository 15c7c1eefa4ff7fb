/* json.c - JSON string escaping. */
#include "util/json.h"

#include <string.h>

/*
 * Length of a valid UTF-8 sequence at s (max n bytes), or 0. Valid means
 * Unicode's Table 3-7: the second byte's range depends on the first, which
 * rules out overlong forms (E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90..BF); strict JSON
 * parsers reject all of these.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (!len || len > n || s[0] > 0xf4)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

ward_err ward_json_strn(ward_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    ward_err e = ward_buf_putc(b, '"');
    for (size_t i = 0; i < n && !e;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            e = ward_buf_putc(b, '\\');
            if (!e)
                e = ward_buf_putc(b, c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            if (c == '\n')
                e = ward_buf_puts(b, "\\n");
            else if (c == '\t')
                e = ward_buf_puts(b, "\\t");
            else if (c == '\r')
                e = ward_buf_puts(b, "\\r");
            else
                e = ward_buf_puts(b, esc);
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k) {
                e = ward_buf_append(b, s + i, k);
                i += k;
            } else {
                static const char hex[] = "0123456789abcdef";
                char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
                e = ward_buf_puts(b, esc);
                i++;
            }
        }
    }
    if (!e)
        e = ward_buf_putc(b, '"');
    return e;
}

ward_err ward_json_str(ward_buf *b, const char *s)
{
    if (!s)
        return ward_buf_puts(b, "null");
    return ward_json_strn(b, s, strlen(s));
}
