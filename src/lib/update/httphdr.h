/*
 * httphdr.h - the request headers ward-mirrord acts on: Range (one range
 * of bytes, as updaters ask for a .cvd header) and If-Modified-Since.
 *
 * Contract: the values are untrusted; every parser is bounded by the
 * length given and fails rather than guess. Several ranges in one request
 * are not supported (the whole file is sent instead, which RFC 9110
 * allows).
 */
#ifndef WARD_UPDATE_HTTPHDR_H
#define WARD_UPDATE_HTTPHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum ward_range {
    WARD_RANGE_NONE,          /* absent or not understood: send the whole file */
    WARD_RANGE_OK,            /* *first .. *last (inclusive) */
    WARD_RANGE_UNSATISFIABLE, /* 416 */
};

/* "bytes=A-B", "bytes=A-" or "bytes=-N" against a file of `size` bytes. */
enum ward_range ward_http_range(const char *value, size_t len, uint64_t size, uint64_t *first,
                                uint64_t *last);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); false if malformed. */
bool ward_http_date_parse(const char *value, size_t len, time_t *out);
/* Format an IMF-fixdate into out (at least 30 bytes). */
void ward_http_date_format(time_t t, char *out, size_t cap);

#endif
