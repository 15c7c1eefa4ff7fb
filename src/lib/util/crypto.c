/* crypto.c - libcrypto's functions, resolved on first use. */
#include "util/crypto.h"

#include <pthread.h>

#include "util/lazylib.h"

static struct ward_crypto C;
static bool loaded;
static char error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    static const struct ward_lazy_sym syms[] = {
        WARD_LAZY(C, EVP_MD_fetch),       WARD_LAZY(C, EVP_MD_free),
        WARD_LAZY(C, EVP_MD_CTX_new),     WARD_LAZY(C, EVP_MD_CTX_free),
        WARD_LAZY(C, EVP_DigestInit_ex2), WARD_LAZY(C, EVP_DigestUpdate),
        WARD_LAZY(C, EVP_DigestFinal_ex), WARD_LAZY(C, EVP_Digest),
        WARD_LAZY(C, BN_new),             WARD_LAZY(C, BN_free),
        WARD_LAZY(C, BN_dec2bn),          WARD_LAZY(C, BN_bn2dec),
        WARD_LAZY(C, BN_lshift),          WARD_LAZY(C, BN_add_word),
        WARD_LAZY(C, BN_set_word),        WARD_LAZY(C, BN_mod_exp),
        WARD_LAZY(C, BN_num_bits),        WARD_LAZY(C, BN_bn2binpad),
        WARD_LAZY(C, BN_CTX_new),         WARD_LAZY(C, BN_CTX_free),
        WARD_LAZY(C, PEM_read_PUBKEY),    WARD_LAZY(C, EVP_PKEY_get_bn_param),
        WARD_LAZY(C, EVP_PKEY_free),      WARD_LAZY(C, CRYPTO_free),
    };
    loaded = ward_lazy_load("libcrypto.so.3", syms, sizeof syms / sizeof *syms, error,
                            sizeof error);
}

const struct ward_crypto *ward_crypto(void)
{
    pthread_once(&once, load);
    return loaded ? &C : NULL;
}

const char *ward_crypto_error(void)
{
    return error;
}
