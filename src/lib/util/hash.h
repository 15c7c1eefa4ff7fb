/*
 * hash.h - incremental MD5, SHA-1 and SHA-256 over a stream of chunks.
 *
 * Contract: a ward_hasher computes any subset of the three digests in one
 * pass; the caller chooses the subset per object (ward_hasher_begin) so that
 * no algorithm runs that no signature needs. A hasher is reusable and owned by
 * one thread at a time. Uses OpenSSL's libcrypto (SHA-NI where the CPU has it),
 * loaded when a hasher first computes something (util/crypto.h).
 *
 * Ward's own digests (of databases, compile cache keys) are BLAKE2b-256
 * from libsodium: no reason to load libcrypto for them. The verdict cache
 * keys objects by SHA-256 (faster than BLAKE2b where the CPU has SHA-NI).
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

/* One-shot SHA-256 of a buffer (libcrypto). */
ward_err ward_sha256(const void *p, size_t n, uint8_t out[32]) WARD_MUST_CHECK;

/* Ward's own 32-byte digest (BLAKE2b-256), incremental or in one call. */
typedef struct ward_digest {
    unsigned char state[384] __attribute__((aligned(64)));
} ward_digest;

void ward_digest_init(ward_digest *d);
void ward_digest_update(ward_digest *d, const void *p, size_t n);
void ward_digest_final(ward_digest *d, uint8_t out[32]);
void ward_digest32(const void *p, size_t n, uint8_t out[32]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ward_hex_encode(const uint8_t *p, size_t n, char *out);

#endif
