/*
 * strutil.h - strict parsing of numbers, sizes, durations, booleans and hex.
 *
 * Contract: every parser accepts the whole string or fails (no trailing
 * garbage, no silent overflow, no locale). Nothing allocates except where the
 * name says so.
 */
#ifndef WARD_UTIL_STRUTIL_H
#define WARD_UTIL_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0..15, or -1 when c is not a hex digit (table lookup: hashes load by the million). */
extern const int8_t ward_hex_table[256];
static inline int ward_hexval(unsigned char c)
{
    return ward_hex_table[c];
}

/* Decode exactly n hex digits (n even) into n/2 bytes. */
bool ward_hex_decode(const char *s, size_t n, uint8_t *out);

/* Decimal unsigned integer, whole string. */
bool ward_parse_u64(const char *s, uint64_t *out);
/* Decimal unsigned integer in s[0..n). */
bool ward_parse_u64n(const char *s, size_t n, uint64_t *out);
/* A byte size: "1048576", "512K", "25M", "4G", "1T" (powers of 1024). */
bool ward_parse_size(const char *s, uint64_t *out);
/* A duration in seconds: "30", "30s", "5m", "2h", "7d", "1w". */
bool ward_parse_duration(const char *s, uint64_t *out);
/* yes/no, true/false, on/off, 1/0 (case-insensitive). */
bool ward_parse_bool(const char *s, bool *out);

/* Trim ASCII whitespace at both ends in place; returns s moved forward. */
char *ward_str_trim(char *s);

/*
 * Split s in place at every `sep` into at most max fields (the last field
 * keeps any further separators). Returns the number of fields.
 */
size_t ward_str_split(char *s, char sep, char **fields, size_t max);

/* strdup that returns NULL on NULL. */
char *ward_strdup(const char *s);

/* Does s end with suffix? */
bool ward_str_endswith(const char *s, const char *suffix);

#endif
