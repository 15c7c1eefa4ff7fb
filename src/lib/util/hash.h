/*
 * hash.h - incremental MD5, SHA-1 and SHA-256 over a stream of chunks.
 *
 * Contract: a ward_hasher computes any subset of the three digests in one
 * pass; the caller chooses the subset per object (ward_hasher_begin) so that
 * no algorithm runs that no signature needs. A hasher is reusable and owned by
 * one thread at a time. Uses OpenSSL's libcrypto (SHA-NI where the CPU has it).
 */
#ifndef WARD_UTIL_HASH_H
#define WARD_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum ward_hash_alg {
    WARD_HASH_MD5 = 0,
    WARD_HASH_SHA1 = 1,
    WARD_HASH_SHA256 = 2,
    WARD_HASH_COUNT = 3,
};

#define WARD_HASH_BIT(alg) (1u << (alg))
#define WARD_HASH_MAX_LEN 32

/* Digest length in bytes: 16, 20 or 32. */
size_t ward_hash_len(enum ward_hash_alg alg);
const char *ward_hash_name(enum ward_hash_alg alg);

typedef struct ward_hasher ward_hasher;

ward_err ward_hasher_new(ward_hasher **out) WARD_MUST_CHECK;
void ward_hasher_free(ward_hasher *h);
/* Start a new object computing the algorithms in `mask` (WARD_HASH_BIT). */
ward_err ward_hasher_begin(ward_hasher *h, unsigned mask) WARD_MUST_CHECK;
ward_err ward_hasher_update(ward_hasher *h, const void *p, size_t n) WARD_MUST_CHECK;
/* Finish; out[alg] receives each digest that was in the mask. */
ward_err ward_hasher_end(ward_hasher *h, uint8_t out[WARD_HASH_COUNT][WARD_HASH_MAX_LEN])
    WARD_MUST_CHECK;
unsigned ward_hasher_mask(const ward_hasher *h);

/* One-shot SHA-256 of a buffer. */
ward_err ward_sha256(const void *p, size_t n, uint8_t out[32]) WARD_MUST_CHECK;

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ward_hex_encode(const uint8_t *p, size_t n, char *out);

#endif
