/*
 * qkey.h - the quarantine's secret key: 32 random bytes in a file of mode 0600.
 *
 * The key is made on first use: written to a private temporary file, synced,
 * then published with link(), which never replaces an existing file, so
 * several processes starting at once agree on one key and none ever reads a
 * half-written one. A key file that is not a regular file, is readable or
 * writable by group or others, or is not exactly 32 bytes is refused.
 *
 * Contract: no printing; the caller owns the key bytes and wipes them.
 */
#ifndef WARD_STORE_QKEY_H
#define WARD_STORE_QKEY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define WARD_QKEY_LEN 32
#define WARD_QKEY_ID_LEN 16 /* hex digits */

/*
 * Load the key in `path`; if it does not exist and `create` is set, make
 * one (owned by `uid`:`gid` unless they are -1). WARD_ERR_NOTFOUND when it
 * does not exist and `create` is not set. `*created` (may be NULL) tells
 * whether this call made it.
 */
ward_err ward_qkey_load(const char *path, bool create, uid_t uid, gid_t gid,
                        uint8_t key[WARD_QKEY_LEN], bool *created,
                        struct ward_diag *diag) WARD_MUST_CHECK;

/* A public fingerprint of the key (keyed BLAKE2b), to tell keys apart. */
void ward_qkey_id(const uint8_t key[WARD_QKEY_LEN], char out[WARD_QKEY_ID_LEN + 1]);

#endif
