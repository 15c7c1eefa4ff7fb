/*
 * dsig.h - ClamAV's digital signatures on database containers.
 *
 * Two schemes, both raw RSA with the signature written in ClamAV's radix-64
 * (digits a-z A-Z 0-9 + /, least significant digit first):
 *   - the .cvd header signature: s^e mod n equals the MD5 of the payload;
 *   - the .info DSIG line and .cdiff files: an EMSA-PSS encoding (SHA-256,
 *     MGF1-SHA-256, 32-byte salt) of a SHA-256 digest, checked as leniently
 *     as libclamav checks it.
 * Keys are decimal strings; the ClamAV defaults are in dsig.c.
 *
 * Contract: pure functions over caller buffers; every length is checked.
 */
#ifndef WARD_ENGINE_DSIG_H
#define WARD_ENGINE_DSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const char WARD_CVD_KEY_N[], WARD_CVD_KEY_E[];
extern const char WARD_INFO_KEY_N[], WARD_INFO_KEY_E[];

bool ward_dsig_verify_md5(const uint8_t md5[16], const char *sig, size_t sig_len,
                          const char *n_dec, const char *e_dec);
bool ward_dsig_verify_pss(const uint8_t sha256[32], const char *sig, size_t sig_len,
                          const char *n_dec, const char *e_dec);

/*
 * Read an RSA public key (PEM "BEGIN PUBLIC KEY", as `openssl rsa -pubout`
 * writes it) as decimal modulus and exponent strings (caller frees them).
 */
#include "util/err.h"
ward_err ward_dsig_load_pem(const char *path, char **n_dec, char **e_dec, struct ward_diag *diag)
    WARD_MUST_CHECK;

#endif
