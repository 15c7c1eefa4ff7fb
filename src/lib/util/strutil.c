/* strutil.c - strict string parsers. */
#include "util/strutil.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define H16(x) -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
const int8_t ward_hex_table[256] = {
    H16(0), H16(1), H16(2),
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, H16(5),
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, H16(7),
    H16(8), H16(9), H16(a), H16(b), H16(c), H16(d), H16(e), H16(f),
};

bool ward_hex_decode(const char *s, size_t n, uint8_t *out)
{
    if (n % 2)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int hi = ward_hexval((unsigned char)s[i]), lo = ward_hexval((unsigned char)s[i + 1]);
        if ((hi | lo) < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool ward_parse_u64n(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool ward_parse_u64(const char *s, uint64_t *out)
{
    return ward_parse_u64n(s, strlen(s), out);
}

/* Number followed by an optional one-letter unit from `units` with factors. */
static bool parse_scaled(const char *s, const char *units, const uint64_t *factors, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t mul = 1;
    if (n > 0 && !isdigit((unsigned char)s[n - 1])) {
        const char *u = strchr(units, tolower((unsigned char)s[n - 1]));
        if (!u || !*u)
            return false;
        mul = factors[u - units];
        n--;
    }
    uint64_t v;
    if (!ward_parse_u64n(s, n, &v))
        return false;
    if (v && mul > UINT64_MAX / v)
        return false;
    *out = v * mul;
    return true;
}

bool ward_parse_size(const char *s, uint64_t *out)
{
    static const uint64_t f[] = {1, 1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40};
    char tmp[32];
    size_t n = strlen(s);
    /* Accept "25MB" and "25M" alike. */
    if (n >= 2 && n < sizeof tmp && (s[n - 1] == 'b' || s[n - 1] == 'B') &&
        !isdigit((unsigned char)s[n - 2])) {
        memcpy(tmp, s, n - 1);
        tmp[n - 1] = 0;
        s = tmp;
    }
    return parse_scaled(s, "bkmgt", f, out);
}

bool ward_parse_duration(const char *s, uint64_t *out)
{
    static const uint64_t f[] = {1, 60, 3600, 86400, 604800};
    return parse_scaled(s, "smhdw", f, out);
}

bool ward_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

char *ward_str_trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

size_t ward_str_split(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;
    if (max == 0)
        return 0;
    fields[n++] = s;
    while (n < max) {
        char *p = strchr(s, sep);
        if (!p)
            break;
        *p = 0;
        s = p + 1;
        fields[n++] = s;
    }
    return n;
}

char *ward_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool ward_str_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}
