/*
 * vcache.h - a verdict cache shared by every scanning thread.
 *
 * Keyed by the SHA-256 of an object's content and the digest of the database
 * that judged it, so a new database never reuses an old verdict. Fixed
 * capacity (8-way buckets, oldest entry in a bucket replaced); lock striping
 * keeps threads from contending.
 *
 * Contract: ward_vcache_get copies the cached strings into the caller's
 * buffers. Safe for concurrent use.
 */
#ifndef WARD_SCAN_VCACHE_H
#define WARD_SCAN_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct ward_vcache ward_vcache;

struct ward_cached {
    uint8_t verdict; /* enum ward_verdict */
    uint8_t reason;  /* enum ward_reason */
    char name[256];
    char subpath[512]; /* where inside the object, "a.zip/b.exe", or "" */
};

struct ward_vcache_stats {
    uint64_t hits, misses, inserts;
    size_t entries, capacity;
};

/* capacity 0 is allowed (a cache that never stores). */
ward_err ward_vcache_new(size_t capacity, ward_vcache **out) WARD_MUST_CHECK;
void ward_vcache_free(ward_vcache *c);
bool ward_vcache_get(ward_vcache *c, const uint8_t db[32], const uint8_t obj[32],
                     struct ward_cached *out);
void ward_vcache_put(ward_vcache *c, const uint8_t db[32], const uint8_t obj[32],
                     const struct ward_cached *v);
void ward_vcache_clear(ward_vcache *c);
void ward_vcache_get_stats(ward_vcache *c, struct ward_vcache_stats *st);

#endif
