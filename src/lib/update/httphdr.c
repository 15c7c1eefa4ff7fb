/* httphdr.c - Range and HTTP date parsing for the mirror server. */
#include "update/httphdr.h"

#include <stdio.h>
#include <string.h>

/* Digits at *p (at most 19), advancing; false when there are none. */
static bool digits(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    while (*p < end && **p >= '0' && **p <= '9' && *p - s < 19)
        n = n * 10 + (uint64_t)(*(*p)++ - '0');
    *v = n;
    return *p > s && (*p == end || **p < '0' || **p > '9');
}

enum ward_range ward_http_range(const char *value, size_t len, uint64_t size, uint64_t *first,
                                uint64_t *last)
{
    const char *p = value, *end = value + len;
    uint64_t a = 0, b = 0;
    if (len < 7 || memcmp(p, "bytes=", 6) != 0)
        return WARD_RANGE_NONE;
    p += 6;
    if (memchr(p, ',', (size_t)(end - p)))
        return WARD_RANGE_NONE;
    bool have_a = digits(&p, end, &a);
    if (p == end || *p++ != '-')
        return WARD_RANGE_NONE;
    bool have_b = p < end && digits(&p, end, &b);
    if (p != end || (!have_a && !have_b))
        return WARD_RANGE_NONE;
    if (!have_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return WARD_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return WARD_RANGE_OK;
    }
    if (have_b && b < a)
        return WARD_RANGE_NONE;
    if (a >= size)
        return WARD_RANGE_UNSATISFIABLE;
    *first = a;
    *last = have_b && b < size ? b : size - 1;
    return WARD_RANGE_OK;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool ward_http_date_parse(const char *value, size_t len, time_t *out)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters, fixed positions */
    char s[30];
    if (len != 29)
        return false;
    memcpy(s, value, 29);
    s[29] = 0;
    int day, year, h, m, sec;
    char mon[4], gmt[4];
    if (s[3] != ',' || s[4] != ' ' ||
        sscanf(s + 5, "%2d %3s %4d %2d:%2d:%2d %3s", &day, mon, &year, &h, &m, &sec, gmt) != 7 ||
        strcmp(gmt, "GMT") != 0)
        return false;
    int mi = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            mi = i;
    if (mi < 0 || day < 1 || day > 31 || year < 1970 || year > 9999 || h > 23 || m > 59 ||
        sec > 60 || h < 0 || m < 0 || sec < 0)
        return false;
    struct tm tm = {.tm_sec = sec, .tm_min = m, .tm_hour = h, .tm_mday = day, .tm_mon = mi,
                    .tm_year = year - 1900};
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

void ward_http_date_format(time_t t, char *out, size_t cap)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
