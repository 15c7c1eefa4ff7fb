/* test_dsig.c - ClamAV container signatures, with keys made for the test. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "check.h"
#include "engine/dsig.h"
#include "util/hash.h"

/* ClamAV radix-64: least significant 6 bits first. */
static void encode(const BIGNUM *s, char *out, size_t cap)
{
    static const char alpha[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    BIGNUM *t = BN_dup(s);
    size_t n = 0;
    while (!BN_is_zero(t) && n + 1 < cap) {
        out[n++] = alpha[BN_mod_word(t, 64)];
        BN_rshift(t, t, 6);
    }
    out[n] = 0;
    BN_free(t);
}

struct key {
    BIGNUM *n, *e, *d;
    char n_dec[1024], e_dec[32];
};

static void make_key(struct key *k, int bits)
{
    EVP_PKEY *p = EVP_RSA_gen((unsigned)bits);
    k->n = k->e = k->d = NULL;
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_N, &k->n);
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_E, &k->e);
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_D, &k->d);
    char *nd = BN_bn2dec(k->n), *ed = BN_bn2dec(k->e);
    snprintf(k->n_dec, sizeof k->n_dec, "%s", nd);
    snprintf(k->e_dec, sizeof k->e_dec, "%s", ed);
    OPENSSL_free(nd);
    OPENSSL_free(ed);
    EVP_PKEY_free(p);
}

static void sign_int(const struct key *k, const uint8_t *m, size_t len, char *out, size_t cap)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *x = BN_bin2bn(m, (int)len, NULL), *s = BN_new();
    BN_mod_exp(s, x, k->d, k->n, ctx);
    encode(s, out, cap);
    BN_free(x);
    BN_free(s);
    BN_CTX_free(ctx);
}

/* EMSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) into 256 bytes. */
static void pss_encode(const uint8_t hash[32], uint8_t em[256])
{
    uint8_t salt[32], mprime[72], h[32], db[223], mask[223];
    RAND_bytes(salt, sizeof salt);
    memset(mprime, 0, 8);
    memcpy(mprime + 8, hash, 32);
    memcpy(mprime + 40, salt, 32);
    (void)!ward_sha256(mprime, sizeof mprime, h);
    memset(db, 0, sizeof db);
    db[223 - 33] = 0x01;
    memcpy(db + 223 - 32, salt, 32);
    for (uint32_t c = 0, done = 0; done < 223; c++) {
        uint8_t in[36], dg[32];
        memcpy(in, h, 32);
        in[32] = (uint8_t)(c >> 24), in[33] = (uint8_t)(c >> 16), in[34] = (uint8_t)(c >> 8),
        in[35] = (uint8_t)c;
        (void)!ward_sha256(in, sizeof in, dg);
        for (int i = 0; i < 32 && done < 223; i++)
            mask[done++] = dg[i];
    }
    for (int i = 0; i < 223; i++)
        em[i] = db[i] ^ mask[i];
    em[0] &= 0x7f;
    memcpy(em + 223, h, 32);
    em[255] = 0xbc;
}

int main(void)
{
    struct key k;
    make_key(&k, 1024);
    uint8_t md5[16];
    for (int i = 0; i < 16; i++)
        md5[i] = (uint8_t)(i * 17);
    char sig[400];
    sign_int(&k, md5, 16, sig, sizeof sig);
    CHECK(ward_dsig_verify_md5(md5, sig, strlen(sig), k.n_dec, k.e_dec));
    md5[3] ^= 1;
    CHECK(!ward_dsig_verify_md5(md5, sig, strlen(sig), k.n_dec, k.e_dec));
    md5[3] ^= 1;
    /* a digest starting with 0x00 (ClamAV 1.1-1.4 got this wrong) */
    md5[0] = 0;
    sign_int(&k, md5, 16, sig, sizeof sig);
    CHECK(ward_dsig_verify_md5(md5, sig, strlen(sig), k.n_dec, k.e_dec));
    CHECK(!ward_dsig_verify_md5(md5, "", 0, k.n_dec, k.e_dec));
    CHECK(!ward_dsig_verify_md5(md5, "ab!d", 4, k.n_dec, k.e_dec));
    CHECK(!ward_dsig_verify_md5(md5, sig, strlen(sig), WARD_CVD_KEY_N, WARD_CVD_KEY_E));

    struct key big;
    make_key(&big, 2048);
    uint8_t hash[32], em[256];
    (void)!ward_sha256("info file", 9, hash);
    pss_encode(hash, em);
    sign_int(&big, em, sizeof em, sig, sizeof sig);
    CHECK(ward_dsig_verify_pss(hash, sig, strlen(sig), big.n_dec, big.e_dec));
    hash[31] ^= 0x80;
    CHECK(!ward_dsig_verify_pss(hash, sig, strlen(sig), big.n_dec, big.e_dec));
    hash[31] ^= 0x80;
    CHECK(!ward_dsig_verify_pss(hash, sig, strlen(sig), WARD_INFO_KEY_N, WARD_INFO_KEY_E));
    sig[5] = sig[5] == 'a' ? 'b' : 'a';
    CHECK(!ward_dsig_verify_pss(hash, sig, strlen(sig), big.n_dec, big.e_dec));
    BN_free(k.n), BN_free(k.e), BN_free(k.d), BN_free(big.n), BN_free(big.e), BN_free(big.d);
    return CHECK_DONE();
}
