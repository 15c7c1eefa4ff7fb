/*
 * qobj.h - the encrypted file format of one quarantined object.
 *
 * An object file is a 56-byte header followed by the object's bytes cut
 * into chunks of 1 MiB (the last one shorter, possibly empty), each sealed
 * with libsodium's crypto_secretstream_xchacha20poly1305:
 *
 *   0   8  magic "WARDQOBJ"
 *   8   1  format version (1)
 *   9   1  cipher (1: secretstream xchacha20poly1305)
 *   10  2  reserved, zero
 *   12  4  chunk size, little endian (a power of two, 4 KiB to 16 MiB)
 *   16 16  the object's id (16 lowercase hex digits)
 *   32 24  secretstream header (random nonce material)
 *   56     chunks: each is its plaintext + 17 bytes (tag and MAC)
 *
 * Bytes 0..31 are the associated data of the first chunk, so a header
 * edited (or an object file copied under another id) fails to decrypt.
 * Every chunk but the last is full and tagged MESSAGE; the last is shorter
 * than a full chunk and tagged FINAL, so truncation, reordering, a dropped
 * or appended chunk and any flipped bit are all detected.
 *
 * Contract: both directions stream through two buffers of about one chunk;
 * an object of any size (over 4 GB) is never held whole. The reader treats
 * the file as untrusted: lengths come from the fixed layout, never from the
 * data, and plaintext reaches the sink only after its chunk authenticated.
 * Neither function prints; failures are described in `diag`.
 */
#ifndef WARD_STORE_QOBJ_H
#define WARD_STORE_QOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define WARD_QOBJ_KEY_LEN 32
#define WARD_QOBJ_ID_LEN 16 /* hex digits */
#define WARD_QOBJ_HEADER_LEN 56
#define WARD_QOBJ_CHUNK (1u << 20)

/* What went through: plaintext size and SHA-256, and bytes in the file. */
struct ward_qobj_sum {
    uint64_t size;
    uint64_t stored;
    uint8_t sha256[32];
};

/* Where plaintext comes from: a descriptor (read to its end) or memory. */
struct ward_qobj_src {
    int fd; /* -1: use mem */
    const uint8_t *mem;
    size_t len;
};

/* Encrypt `src` into `out_fd` (written from its current offset; not fsynced). */
ward_err ward_qobj_encrypt(int out_fd, const uint8_t key[WARD_QOBJ_KEY_LEN], const char *id,
                           const struct ward_qobj_src *src, struct ward_qobj_sum *sum,
                           struct ward_diag *diag) WARD_MUST_CHECK;

/* Receives authenticated plaintext, in order; a non-OK return stops decryption. */
typedef ward_err (*ward_qobj_sink)(void *ctx, const void *p, size_t n);

/*
 * Decrypt the object in `in_fd` (from offset 0) whose id must be `id`,
 * passing plaintext to `sink` (may be NULL: verify only). Fails with
 * WARD_ERR_CORRUPT on any tampering, truncation, a wrong key or id.
 */
ward_err ward_qobj_decrypt(int in_fd, const uint8_t key[WARD_QOBJ_KEY_LEN], const char *id,
                           ward_qobj_sink sink, void *ctx, struct ward_qobj_sum *sum,
                           struct ward_diag *diag) WARD_MUST_CHECK;

#endif
