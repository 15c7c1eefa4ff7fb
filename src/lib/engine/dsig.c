/* dsig.c - verification of ClamAV container signatures with OpenSSL bignums. */
#include "engine/dsig.h"

#include <openssl/core_names.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"
#include "util/hash.h"

/* ClamAV's published keys (libclamav dsig.c and readdb.c). */
const char WARD_CVD_KEY_N[] =
    "1186409955516453426030700016584531897515277744120277437465994057432431426074641447"
    "6736106064065584474976078889002228342492276248891756555100246777110966959818941043"
    "4699034532232228621591089508178591428456220796841621637175567590476666928698770143"
    "328137383952820383197532047771780196576957695822641224262693037";
const char WARD_CVD_KEY_E[] = "100001027";
const char WARD_INFO_KEY_N[] =
    "1108889498304854547365955610662719492392894179179504762059165869741358104332271591"
    "2172496806525381055880964520618400224333320534660299233983755341740679502866829909"
    "6799557343913926683783612215242053966310901051516412708572770803107343209516537005"
    "0894171741916872394250789070290470270758745162169105075430785038339986534648720379"
    "8464178537392211402786481359824461197231102895415093770394216666324484593935762408"
    "4685168266331921408266679234948220458053478099328484548458869717064243605586678627"
    "7587607205943770336538020910169773857751547693508546945527999411314597799408461832"
    "8482151013142393373316337519977244732747977";
const char WARD_INFO_KEY_E[] = "100002049";

static int digit(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* s^e mod n for the radix-64 signature; NULL on malformed input. */
static BIGNUM *rsa_open(const struct ward_crypto *c, const char *sig, size_t len,
                        const char *n_dec, const char *e_dec, BN_CTX *ctx)
{
    BIGNUM *s = c->BN_new(), *n = NULL, *e = NULL, *m = c->BN_new();
    bool ok = s && m && len > 0 && len <= 1024;
    if (ok)
        ok = c->BN_dec2bn(&n, n_dec) > 0 && c->BN_dec2bn(&e, e_dec) > 0;
    ok = ok && c->BN_set_word(s, 0);
    /* The first character is the least significant digit: read right to left. */
    for (size_t i = len; ok && i-- > 0;) {
        int v = digit(sig[i]);
        ok = v >= 0 && c->BN_lshift(s, s, 6) && c->BN_add_word(s, (BN_ULONG)v);
    }
    ok = ok && c->BN_mod_exp(m, s, e, n, ctx);
    c->BN_free(s);
    c->BN_free(n);
    c->BN_free(e);
    if (!ok) {
        c->BN_free(m);
        return NULL;
    }
    return m;
}

static size_t bn_bytes(const struct ward_crypto *c, const BIGNUM *m)
{
    return ((size_t)c->BN_num_bits(m) + 7) / 8;
}

bool ward_dsig_verify_md5(const uint8_t md5[16], const char *sig, size_t sig_len,
                          const char *n_dec, const char *e_dec)
{
    const struct ward_crypto *c = ward_crypto();
    BN_CTX *ctx = c ? c->BN_CTX_new() : NULL;
    if (!ctx)
        return false;
    BIGNUM *m = rsa_open(c, sig, sig_len, n_dec, e_dec, ctx);
    uint8_t out[16];
    bool ok = m && bn_bytes(c, m) <= 16 && c->BN_bn2binpad(m, out, 16) == 16 &&
              memcmp(out, md5, 16) == 0;
    c->BN_free(m);
    c->BN_CTX_free(ctx);
    return ok;
}

static bool mgf1_sha256(const uint8_t *seed, size_t seed_len, uint8_t *mask, size_t len)
{
    uint8_t buf[64], digest[32];
    if (seed_len > 32)
        return false;
    for (uint32_t counter = 0, done = 0; done < len; counter++) {
        memcpy(buf, seed, seed_len);
        buf[seed_len] = (uint8_t)(counter >> 24);
        buf[seed_len + 1] = (uint8_t)(counter >> 16);
        buf[seed_len + 2] = (uint8_t)(counter >> 8);
        buf[seed_len + 3] = (uint8_t)counter;
        if (ward_sha256(buf, seed_len + 4, digest))
            return false;
        size_t take = len - done < 32 ? len - done : 32;
        memcpy(mask + done, digest, take);
        done += (uint32_t)take;
    }
    return true;
}

bool ward_dsig_verify_pss(const uint8_t sha256[32], const char *sig, size_t sig_len,
                          const char *n_dec, const char *e_dec)
{
    enum { EM_LEN = 256, H_LEN = 32, DB_LEN = EM_LEN - H_LEN - 1 };
    const struct ward_crypto *c = ward_crypto();
    BN_CTX *ctx = c ? c->BN_CTX_new() : NULL;
    if (!ctx)
        return false;
    BIGNUM *m = rsa_open(c, sig, sig_len, n_dec, e_dec, ctx);
    uint8_t em[EM_LEN], db[DB_LEN], mask[DB_LEN];
    bool ok = m && bn_bytes(c, m) <= EM_LEN && c->BN_bn2binpad(m, em, EM_LEN) == EM_LEN;
    c->BN_free(m);
    c->BN_CTX_free(ctx);
    if (!ok || em[EM_LEN - 1] != 0xbc)
        return false;
    const uint8_t *h = em + DB_LEN;
    if (!mgf1_sha256(h, H_LEN, mask, DB_LEN))
        return false;
    for (size_t i = 0; i < DB_LEN; i++)
        db[i] = em[i] ^ mask[i];
    db[0] &= 0x7f;
    size_t i = 0;
    while (i < DB_LEN && db[i] != 0x01)
        i++;
    if (i == DB_LEN || DB_LEN - i - 1 != 32)
        return false;
    const uint8_t *salt = db + i + 1;
    uint8_t mprime[8 + 32 + 32], hprime[32];
    memset(mprime, 0, 8);
    memcpy(mprime + 8, sha256, 32);
    memcpy(mprime + 40, salt, 32);
    if (ward_sha256(mprime, sizeof mprime, hprime))
        return false;
    return memcmp(hprime, h, 32) == 0;
}

ward_err ward_dsig_load_pem(const char *path, char **n_dec, char **e_dec, struct ward_diag *diag)
{
    const struct ward_crypto *c = ward_crypto();
    if (!c)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "%s", ward_crypto_error());
    FILE *f = fopen(path, "r");
    if (!f)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot open key %s: %s", path, strerror(errno));
    EVP_PKEY *key = c->PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    BIGNUM *n = NULL, *e = NULL;
    if (!key || !c->EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !c->EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
        if (key)
            c->EVP_PKEY_free(key);
        c->BN_free(n);
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s: not an RSA public key in PEM form", path);
    }
    char *ns = c->BN_bn2dec(n), *es = c->BN_bn2dec(e);
    *n_dec = ns ? strdup(ns) : NULL;
    *e_dec = es ? strdup(es) : NULL;
    c->CRYPTO_free(ns, __FILE__, __LINE__);
    c->CRYPTO_free(es, __FILE__, __LINE__);
    c->BN_free(n);
    c->BN_free(e);
    c->EVP_PKEY_free(key);
    if (!*n_dec || !*e_dec) {
        free(*n_dec);
        free(*e_dec);
        return WARD_ERR_NOMEM;
    }
    return WARD_OK;
}
