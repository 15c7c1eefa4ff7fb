/*
 * json.h - write JSON strings safely into a capped buffer.
 *
 * Contract: bytes that are not valid UTF-8 are written as \u00XX of the byte
 * value (so hostile names cannot break the output), control characters are
 * escaped, and the result is always valid JSON.
 */
#ifndef WARD_UTIL_JSON_H
#define WARD_UTIL_JSON_H

#include "util/buf.h"

ward_err ward_json_str(ward_buf *b, const char *s) WARD_MUST_CHECK;
ward_err ward_json_strn(ward_buf *b, const char *s, size_t n) WARD_MUST_CHECK;

#endif
