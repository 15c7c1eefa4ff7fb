/*
 * hashidx.h - whole-object hash signatures (.hdb .hsb .fp .sfp), indexed by
 * size first.
 *
 * A scan asks ward_hashidx_algs_for_size() before reading an object: only
 * when some signature has that size (or a wildcard size) is the object hashed,
 * and only with the algorithms those signatures use. After the pass the
 * digests are looked up with ward_hashidx_lookup().
 *
 * Contract: the index owns its tables; it is built single-threaded while a
 * database loads and is only read afterwards, so threads may share it.
 */
#ifndef WARD_ENGINE_HASHIDX_H
#define WARD_ENGINE_HASHIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/hash.h"

#define WARD_HASH_ANY_SIZE UINT64_MAX

struct hashidx_entry {
    uint8_t digest[WARD_HASH_MAX_LEN];
    uint64_t size;    /* WARD_HASH_ANY_SIZE for '*' */
    uint32_t name;    /* caller's name id (string pool offset) */
    uint8_t alg;      /* enum ward_hash_alg */
    uint8_t used;
};

struct hashidx_size {
    uint64_t size;
    uint8_t algs; /* WARD_HASH_BIT mask */
    uint8_t used;
};

typedef struct ward_hashidx {
    struct hashidx_entry *tab;
    size_t tab_cap, count;
    struct hashidx_size *sizes;
    size_t sizes_cap, sizes_count;
    unsigned any_size_algs; /* algorithms used with wildcard size */
} ward_hashidx;

void ward_hashidx_init(ward_hashidx *h);
void ward_hashidx_free(ward_hashidx *h);
/* Add a signature; duplicates (same alg, digest and size) keep the first. */
ward_err ward_hashidx_add(ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                          uint64_t size, uint32_t name) WARD_MUST_CHECK;
/* Which digests an object of this size needs (0: none). */
unsigned ward_hashidx_algs_for_size(const ward_hashidx *h, uint64_t size);
/* Name id of a signature matching the digest and size, or false. */
bool ward_hashidx_lookup(const ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                         uint64_t size, uint32_t *name);

#endif
