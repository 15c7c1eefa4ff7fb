/* minisign.c - minisign key and signature files over libsodium's Ed25519. */
#include "update/minisign.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UNTRUSTED "untrusted comment: "
#define TRUSTED "trusted comment: "
#define PUB_LEN 42u  /* "Ed" id pk */
#define SEC_LEN 158u /* "Ed" kdf "B2" salt ops mem id sk chk */
#define SIG_LEN 74u  /* alg id sig */

/* The next line of text (without CR/LF), bounded by the text's end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *n)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl ? nl : end;
    *line = *p;
    *n = (size_t)(e - *p);
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    *p = nl ? nl + 1 : end;
    return true;
}

static bool starts(const char *line, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(line, prefix, k) == 0;
}

static bool b64_decode(const char *s, size_t n, uint8_t *out, size_t want)
{
    size_t got = 0;
    return sodium_base642bin(out, want, s, n, NULL, &got, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           got == want;
}

static ward_err b64_line(ward_buf *out, const uint8_t *bin, size_t n)
{
    char text[sodium_base64_ENCODED_LEN(SEC_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(text, sizeof text, bin, n, sodium_base64_VARIANT_ORIGINAL);
    ward_err e = ward_buf_puts(out, text);
    return e ? e : ward_buf_putc(out, '\n');
}

void ward_minisign_id_hex(const uint8_t id[8], char out[17])
{
    /* minisign prints the id as a little-endian 64-bit number */
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02X", id[7 - i]);
}

ward_err ward_minisign_keygen(struct ward_minisign_pub *pub, struct ward_minisign_sec *sec)
{
    if (sodium_init() < 0)
        return WARD_ERR_INTERNAL; /* no entropy source */
    randombytes_buf(sec->id, sizeof sec->id);
    crypto_sign_keypair(pub->pk, sec->sk);
    memcpy(pub->id, sec->id, sizeof pub->id);
    return WARD_OK;
}

ward_err ward_minisign_pub_write(const struct ward_minisign_pub *pub, ward_buf *out)
{
    uint8_t bin[PUB_LEN];
    char hex[17];
    memcpy(bin, "Ed", 2);
    memcpy(bin + 2, pub->id, 8);
    memcpy(bin + 10, pub->pk, 32);
    ward_minisign_id_hex(pub->id, hex);
    ward_err e = ward_buf_printf(out, UNTRUSTED "minisign public key %s\n", hex);
    return e ? e : b64_line(out, bin, sizeof bin);
}

ward_err ward_minisign_sec_write(const struct ward_minisign_sec *sec, ward_buf *out)
{
    uint8_t bin[SEC_LEN] = {0};
    memcpy(bin, "Ed\0\0B2", 6); /* no key derivation: the file itself is the secret */
    memcpy(bin + 54, sec->id, 8);
    memcpy(bin + 62, sec->sk, 64);
    /* bin + 126: the checksum minisign leaves zero in an unencrypted key */
    ward_err e = ward_buf_puts(out, UNTRUSTED "minisign secret key (unencrypted; keep it private)\n");
    if (!e)
        e = b64_line(out, bin, sizeof bin);
    sodium_memzero(bin, sizeof bin);
    return e;
}

/* The base64 line of a key file: the second line, or the only one. */
static bool key_line(const void *text, size_t len, const char **line, size_t *n)
{
    const char *p = text, *end = p + len;
    if (!next_line(&p, end, line, n))
        return false;
    if (starts(*line, *n, UNTRUSTED) && !next_line(&p, end, line, n))
        return false;
    while (*n && ((*line)[*n - 1] == ' ' || (*line)[*n - 1] == '\t'))
        (*n)--;
    return true;
}

ward_err ward_minisign_pub_parse(const char *name, const void *text, size_t len,
                                 struct ward_minisign_pub *pub, struct ward_diag *diag)
{
    const char *line;
    size_t n;
    uint8_t bin[PUB_LEN];
    if (!key_line(text, len, &line, &n) || !b64_decode(line, n, bin, sizeof bin))
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s: not a minisign public key", name);
    if (memcmp(bin, "Ed", 2) != 0)
        return ward_diag_set(diag, WARD_ERR_UNSUPPORTED, "%s: not an Ed25519 key", name);
    memcpy(pub->id, bin + 2, 8);
    memcpy(pub->pk, bin + 10, 32);
    return WARD_OK;
}

ward_err ward_minisign_sec_parse(const char *name, const void *text, size_t len,
                                 struct ward_minisign_sec *sec, struct ward_diag *diag)
{
    const char *line;
    size_t n;
    uint8_t bin[SEC_LEN];
    ward_err e = WARD_OK;
    if (!key_line(text, len, &line, &n) || !b64_decode(line, n, bin, sizeof bin))
        e = ward_diag_set(diag, WARD_ERR_PARSE, "%s: not a minisign secret key", name);
    else if (memcmp(bin, "Ed", 2) != 0 || memcmp(bin + 4, "B2", 2) != 0)
        e = ward_diag_set(diag, WARD_ERR_UNSUPPORTED, "%s: not an Ed25519 key", name);
    else if (bin[2] || bin[3])
        e = ward_diag_set(diag, WARD_ERR_UNSUPPORTED,
                          "%s: the key is password-protected; make one with `ward db keygen` "
                          "or `minisign -G -W`",
                          name);
    else {
        memcpy(sec->id, bin + 54, 8);
        memcpy(sec->sk, bin + 62, 64);
    }
    sodium_memzero(bin, sizeof bin);
    return e;
}

ward_err ward_minisign_sign(const struct ward_minisign_sec *sec, const void *data, size_t len,
                            const char *trusted, ward_buf *out)
{
    uint8_t hash[crypto_generichash_BYTES_MAX], bin[SIG_LEN], global[64];
    size_t tlen = strlen(trusted);
    if (tlen > WARD_MINISIGN_MAX_COMMENT || memchr(trusted, '\n', tlen))
        return WARD_ERR_LIMIT;
    crypto_generichash(hash, sizeof hash, data, len, NULL, 0);
    memcpy(bin, "ED", 2);
    memcpy(bin + 2, sec->id, 8);
    crypto_sign_detached(bin + 10, NULL, hash, sizeof hash, sec->sk);
    uint8_t both[64 + WARD_MINISIGN_MAX_COMMENT];
    memcpy(both, bin + 10, 64);
    memcpy(both + 64, trusted, tlen);
    crypto_sign_detached(global, NULL, both, 64 + tlen, sec->sk);
    char hex[17];
    ward_minisign_id_hex(sec->id, hex);
    ward_err e = ward_buf_printf(out, UNTRUSTED "signature from ward secret key %s\n", hex);
    if (!e)
        e = b64_line(out, bin, sizeof bin);
    if (!e)
        e = ward_buf_printf(out, TRUSTED "%s\n", trusted);
    if (!e)
        e = b64_line(out, global, sizeof global);
    return e;
}

ward_err ward_minisign_verify(const struct ward_minisign_pub *keys, size_t n, const void *data,
                              size_t len, const void *sig, size_t sig_len, char *trusted,
                              size_t cap, struct ward_diag *diag)
{
    const char *p = sig, *end = p + sig_len, *l[4];
    size_t ln[4];
    uint8_t bin[SIG_LEN], global[64];
    for (int i = 0; i < 4; i++)
        if (!next_line(&p, end, &l[i], &ln[i]))
            return ward_diag_set(diag, WARD_ERR_PARSE, "signature file: too short");
    if (!starts(l[0], ln[0], UNTRUSTED) || !starts(l[2], ln[2], TRUSTED))
        return ward_diag_set(diag, WARD_ERR_PARSE, "signature file: not in minisign format");
    if (!b64_decode(l[1], ln[1], bin, sizeof bin) || !b64_decode(l[3], ln[3], global, 64))
        return ward_diag_set(diag, WARD_ERR_PARSE, "signature file: bad base64");
    bool hashed = memcmp(bin, "ED", 2) == 0;
    if (!hashed && memcmp(bin, "Ed", 2) != 0)
        return ward_diag_set(diag, WARD_ERR_UNSUPPORTED, "signature file: unknown algorithm");
    const char *tc = l[2] + strlen(TRUSTED);
    size_t tlen = ln[2] - strlen(TRUSTED);
    if (tlen > WARD_MINISIGN_MAX_COMMENT)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "signature file: trusted comment too long");
    const struct ward_minisign_pub *key = NULL;
    for (size_t i = 0; i < n && !key; i++)
        if (memcmp(keys[i].id, bin + 2, 8) == 0)
            key = &keys[i];
    if (!key) {
        char hex[17];
        ward_minisign_id_hex(bin + 2, hex);
        return ward_diag_set(diag, WARD_ERR_SIGNATURE, "signed by key %s, which is not trusted",
                             hex);
    }
    uint8_t hash[crypto_generichash_BYTES_MAX];
    if (hashed)
        crypto_generichash(hash, sizeof hash, data, len, NULL, 0);
    if (crypto_sign_verify_detached(bin + 10, hashed ? hash : data, hashed ? sizeof hash : len,
                                    key->pk) != 0)
        return ward_diag_set(diag, WARD_ERR_SIGNATURE, "signature does not verify");
    uint8_t both[64 + WARD_MINISIGN_MAX_COMMENT];
    memcpy(both, bin + 10, 64);
    memcpy(both + 64, tc, tlen);
    if (crypto_sign_verify_detached(global, both, 64 + tlen, key->pk) != 0)
        return ward_diag_set(diag, WARD_ERR_SIGNATURE, "trusted comment signature does not verify");
    if (cap) {
        size_t k = tlen < cap - 1 ? tlen : cap - 1;
        memcpy(trusted, tc, k);
        trusted[k] = 0;
    }
    return WARD_OK;
}
