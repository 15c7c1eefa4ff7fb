/*
 * hashidx.h - whole-object hash signatures (.hdb .hsb .fp .sfp), indexed by
 * size first.
 *
 * A scan asks ward_hashidx_algs_for_size() before reading an object: only
 * when some signature has that size (or a wildcard size) is the object hashed,
 * and only with the algorithms those signatures use. After the pass the
 * digests are looked up with ward_hashidx_lookup().
 *
 * Storage is one array of fixed-size entries sorted by (size, algorithm,
 * digest) and searched by bisection: no pointers, no empty slots, about 48
 * bytes per signature. Wildcard-size entries live in a second array.
 *
 * Contract: entries are added while a database loads, then ward_hashidx_seal()
 * sorts them; lookups before sealing find nothing. After sealing the index is
 * only read, so threads may share it.
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
    uint64_t size;
    uint32_t name; /* caller's name id (string pool offset) */
    uint8_t alg;   /* enum ward_hash_alg */
    uint8_t digest[WARD_HASH_MAX_LEN];
};

struct hashidx_array {
    struct hashidx_entry *v;
    size_t n, cap;
};

typedef struct ward_hashidx {
    struct hashidx_array sized; /* sorted by (size, alg, digest) once sealed */
    struct hashidx_array any;   /* wildcard size, sorted by (alg, digest) */
    unsigned any_size_algs;     /* algorithms used with wildcard size */
    bool sealed;
} ward_hashidx;

void ward_hashidx_init(ward_hashidx *h);
void ward_hashidx_free(ward_hashidx *h);
/* Room for n more entries (avoids growing while loading a big file). */
ward_err ward_hashidx_reserve(ward_hashidx *h, size_t n) WARD_MUST_CHECK;
ward_err ward_hashidx_add(ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                          uint64_t size, uint32_t name) WARD_MUST_CHECK;
/* Sort and drop duplicates (same alg, digest and size: the first one stays). */
void ward_hashidx_seal(ward_hashidx *h);
size_t ward_hashidx_count(const ward_hashidx *h);
/* Which digests an object of this size needs (0: none). */
unsigned ward_hashidx_algs_for_size(const ward_hashidx *h, uint64_t size);
/* Name id of a signature matching the digest and size, or false. */
bool ward_hashidx_lookup(const ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                         uint64_t size, uint32_t *name);

#endif
