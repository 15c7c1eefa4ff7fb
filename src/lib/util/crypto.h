/*
 * crypto.h - OpenSSL's libcrypto, loaded at first use (see lazylib.h).
 *
 * The table holds the functions Ward calls; ward_crypto() returns it, or
 * NULL when libcrypto cannot be loaded (the caller reports an error).
 */
#ifndef WARD_UTIL_CRYPTO_H
#define WARD_UTIL_CRYPTO_H

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

struct ward_crypto {
    __typeof__(&EVP_MD_fetch) EVP_MD_fetch;
    __typeof__(&EVP_MD_free) EVP_MD_free;
    __typeof__(&EVP_MD_CTX_new) EVP_MD_CTX_new;
    __typeof__(&EVP_MD_CTX_free) EVP_MD_CTX_free;
    __typeof__(&EVP_DigestInit_ex2) EVP_DigestInit_ex2;
    __typeof__(&EVP_DigestUpdate) EVP_DigestUpdate;
    __typeof__(&EVP_DigestFinal_ex) EVP_DigestFinal_ex;
    __typeof__(&EVP_Digest) EVP_Digest;
    __typeof__(&BN_new) BN_new;
    __typeof__(&BN_free) BN_free;
    __typeof__(&BN_dec2bn) BN_dec2bn;
    __typeof__(&BN_bn2dec) BN_bn2dec;
    __typeof__(&BN_lshift) BN_lshift;
    __typeof__(&BN_add_word) BN_add_word;
    __typeof__(&BN_set_word) BN_set_word;
    __typeof__(&BN_mod_exp) BN_mod_exp;
    __typeof__(&BN_num_bits) BN_num_bits;
    __typeof__(&BN_bn2binpad) BN_bn2binpad;
    __typeof__(&BN_CTX_new) BN_CTX_new;
    __typeof__(&BN_CTX_free) BN_CTX_free;
    __typeof__(&PEM_read_PUBKEY) PEM_read_PUBKEY;
    __typeof__(&EVP_PKEY_get_bn_param) EVP_PKEY_get_bn_param;
    __typeof__(&EVP_PKEY_free) EVP_PKEY_free;
    __typeof__(&CRYPTO_free) CRYPTO_free;
};

const struct ward_crypto *ward_crypto(void);
/* Why ward_crypto() returned NULL. */
const char *ward_crypto_error(void);

#endif
