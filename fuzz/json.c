/*
 * json.c - JSON string escaping (util/json.c). Oracles: the output is one
 * valid JSON string (RFC 8259 grammar, strictly well-formed UTF-8 as Unicode
 * Table 3-7 defines it, no raw control characters); for valid UTF-8 input it
 * decodes back to the input; ward_json_str on a NUL-terminated copy equals
 * ward_json_strn up to the first NUL; a small cap fails cleanly.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of a well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t u8len(const uint8_t *s, size_t n)
{
    uint8_t lo = 0x80, hi = 0xbf;
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static int hexv(uint8_t c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Validate one JSON string; decode it into dec (NULL: don't); false if invalid. */
static bool check_json(const uint8_t *s, size_t n, uint8_t *dec, size_t *dec_len, bool *ascii_u)
{
    size_t k = 0;
    *ascii_u = true;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    for (size_t i = 1; i < n - 1;) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f || c == '"')
            return false;
        if (c == '\\') {
            if (i + 1 >= n - 1)
                return false;
            uint8_t e = s[i + 1];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *m;
            if (e == 'u') {
                if (i + 6 > n - 1)
                    return false;
                int v = 0;
                for (int j = 2; j < 6; j++) {
                    int h = hexv(s[i + j]);
                    if (h < 0)
                        return false;
                    v = v * 16 + h;
                }
                if (v >= 0x80)
                    *ascii_u = false; /* not a byte of valid UTF-8 input */
                dec[k++] = (uint8_t)v;
                i += 6;
            } else if (e && (m = strchr(from, e)) != NULL) {
                dec[k++] = (uint8_t)to[m - from];
                i += 2;
            } else {
                return false;
            }
            continue;
        }
        size_t l = u8len(s + i, n - 1 - i);
        if (!l)
            return false;
        memcpy(dec + k, s + i, l);
        k += l;
        i += l;
    }
    *dec_len = k;
    return true;
}

static bool valid_utf8(const uint8_t *p, size_t n)
{
    for (size_t i = 0, l; i < n; i += l)
        if (!(l = u8len(p + i, n - i)))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ward_buf b;
    ward_buf_init(&b, 16 * size + 16);
    if (ward_json_strn(&b, (const char *)data, size))
        abort();
    uint8_t *dec = malloc(b.len + 1);
    size_t dec_len = 0;
    bool ascii_u;
    if (!dec || !check_json(b.data, b.len, dec, &dec_len, &ascii_u))
        abort();
    if (valid_utf8(data, size) && (!ascii_u || dec_len != size || memcmp(dec, data, size)))
        abort();
    free(dec);

    /* ward_json_str stops at the first NUL. */
    char *z = malloc(size + 1);
    if (!z)
        abort();
    memcpy(z, data, size);
    z[size] = 0;
    ward_buf c, d;
    ward_buf_init(&c, 16 * size + 16);
    ward_buf_init(&d, 16 * size + 16);
    if (ward_json_str(&c, z) || ward_json_strn(&d, z, strlen(z)) || c.len != d.len ||
        memcmp(ward_buf_str(&c), ward_buf_str(&d), c.len))
        abort();
    ward_buf_free(&c);
    ward_buf_free(&d);
    free(z);

    /* A cap smaller than the output fails without writing past it. */
    ward_buf_init(&c, b.len / 2);
    if (b.len > 2 && ward_json_strn(&c, (const char *)data, size) != WARD_ERR_LIMIT)
        abort();
    if (c.len > c.cap)
        abort();
    ward_buf_free(&c);
    ward_buf_free(&b);
    return 0;
}
