/*
 * minisign.h - Ed25519 signatures in minisign's file formats (libsodium).
 *
 * Ward signs its bundle manifests so that administrators can check them with
 * the stock tool: `minisign -Vm NAME.manifest -p key.pub`. The formats:
 *   public key   "untrusted comment: ..." then base64("Ed" || key id[8] || pk[32])
 *   secret key   base64("Ed" kdf[2] "B2" salt[32] ops[8] mem[8] id[8] sk[64] chk[32]);
 *                Ward writes and reads unencrypted keys (kdf "\0\0", as
 *                `minisign -G -W` makes); a password-protected key is refused
 *   signature    "untrusted comment: ..."
 *                base64("ED" || key id[8] || sig[64])   sig over BLAKE2b-512(data)
 *                "trusted comment: TEXT"
 *                base64(global sig[64])                 over sig || TEXT
 * Legacy signatures ("Ed", over the data itself) are verified too.
 *
 * Contract: parsers take untrusted bytes with their length, never read past
 * them, and fail with a message; nothing here touches files.
 */
#ifndef WARD_UPDATE_MINISIGN_H
#define WARD_UPDATE_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WARD_MINISIGN_MAX_COMMENT 1024u /* a trusted comment, without its prefix */
#define WARD_MINISIGN_MAX_FILE 4096u    /* a key or signature file */

struct ward_minisign_pub {
    uint8_t id[8];
    uint8_t pk[32];
};

struct ward_minisign_sec {
    uint8_t id[8];
    uint8_t sk[64]; /* libsodium's secret key: seed || public key */
};

/* A new random key pair. */
ward_err ward_minisign_keygen(struct ward_minisign_pub *pub, struct ward_minisign_sec *sec)
    WARD_MUST_CHECK;

/* The key id as minisign prints it (16 uppercase hex digits). */
void ward_minisign_id_hex(const uint8_t id[8], char out[17]);

ward_err ward_minisign_pub_write(const struct ward_minisign_pub *pub, ward_buf *out)
    WARD_MUST_CHECK;
ward_err ward_minisign_sec_write(const struct ward_minisign_sec *sec, ward_buf *out)
    WARD_MUST_CHECK;

/* A public key file, or the bare base64 line. `name` is used in messages. */
ward_err ward_minisign_pub_parse(const char *name, const void *text, size_t len,
                                 struct ward_minisign_pub *pub, struct ward_diag *diag)
    WARD_MUST_CHECK;
ward_err ward_minisign_sec_parse(const char *name, const void *text, size_t len,
                                 struct ward_minisign_sec *sec, struct ward_diag *diag)
    WARD_MUST_CHECK;

/*
 * Sign data (pre-hashed, as minisign 0.10 and later do by default); the
 * signature file is appended to out. `trusted` is one line without newline.
 */
ward_err ward_minisign_sign(const struct ward_minisign_sec *sec, const void *data, size_t len,
                            const char *trusted, ward_buf *out) WARD_MUST_CHECK;

/*
 * Verify a signature file over data with any of n trusted keys (chosen by
 * key id). On success the trusted comment is copied into `trusted` (cap
 * bytes, NUL-terminated). WARD_ERR_SIGNATURE when it does not verify or no
 * key has its id, WARD_ERR_PARSE when the file is malformed.
 */
ward_err ward_minisign_verify(const struct ward_minisign_pub *keys, size_t n, const void *data,
                              size_t len, const void *sig, size_t sig_len, char *trusted,
                              size_t cap, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
