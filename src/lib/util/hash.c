/* hash.c - multi-digest hashing through OpenSSL EVP. */
#include "util/hash.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>

struct ward_hasher {
    EVP_MD_CTX *ctx[WARD_HASH_COUNT];
    unsigned mask;
};

/*
 * Fetching an EVP_MD is expensive in OpenSSL 3 (a provider lookup on every
 * implicit fetch), so each algorithm is fetched once per process.
 */
static const EVP_MD *md_for(enum ward_hash_alg alg)
{
    static const EVP_MD *cache[WARD_HASH_COUNT];
    static const char *names[WARD_HASH_COUNT] = {"MD5", "SHA1", "SHA256"};
    const EVP_MD *md = __atomic_load_n(&cache[alg], __ATOMIC_ACQUIRE);
    if (!md) {
        EVP_MD *fetched = EVP_MD_fetch(NULL, names[alg], NULL);
        if (!fetched)
            return NULL;
        const EVP_MD *expected = NULL;
        if (!__atomic_compare_exchange_n(&cache[alg], &expected, fetched, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            EVP_MD_free(fetched);
            md = expected;
        } else {
            md = fetched;
        }
    }
    return md;
}

size_t ward_hash_len(enum ward_hash_alg alg)
{
    static const size_t len[WARD_HASH_COUNT] = {16, 20, 32};
    return len[alg];
}

const char *ward_hash_name(enum ward_hash_alg alg)
{
    static const char *names[WARD_HASH_COUNT] = {"md5", "sha1", "sha256"};
    return names[alg];
}

ward_err ward_hasher_new(ward_hasher **out)
{
    ward_hasher *h = calloc(1, sizeof *h);
    if (!h)
        return WARD_ERR_NOMEM;
    for (int i = 0; i < WARD_HASH_COUNT; i++) {
        h->ctx[i] = EVP_MD_CTX_new();
        if (!h->ctx[i]) {
            ward_hasher_free(h);
            return WARD_ERR_NOMEM;
        }
    }
    *out = h;
    return WARD_OK;
}

void ward_hasher_free(ward_hasher *h)
{
    if (!h)
        return;
    for (int i = 0; i < WARD_HASH_COUNT; i++)
        EVP_MD_CTX_free(h->ctx[i]);
    free(h);
}

ward_err ward_hasher_begin(ward_hasher *h, unsigned mask)
{
    h->mask = 0;
    for (int i = 0; i < WARD_HASH_COUNT; i++) {
        if (!(mask & WARD_HASH_BIT(i)))
            continue;
        const EVP_MD *md = md_for(i);
        if (!md || EVP_DigestInit_ex2(h->ctx[i], md, NULL) != 1)
            return WARD_ERR_INTERNAL;
    }
    h->mask = mask;
    return WARD_OK;
}

ward_err ward_hasher_update(ward_hasher *h, const void *p, size_t n)
{
    for (int i = 0; i < WARD_HASH_COUNT; i++)
        if ((h->mask & WARD_HASH_BIT(i)) && EVP_DigestUpdate(h->ctx[i], p, n) != 1)
            return WARD_ERR_INTERNAL;
    return WARD_OK;
}

ward_err ward_hasher_end(ward_hasher *h, uint8_t out[WARD_HASH_COUNT][WARD_HASH_MAX_LEN])
{
    for (int i = 0; i < WARD_HASH_COUNT; i++) {
        if (!(h->mask & WARD_HASH_BIT(i)))
            continue;
        unsigned len = 0;
        if (EVP_DigestFinal_ex(h->ctx[i], out[i], &len) != 1)
            return WARD_ERR_INTERNAL;
    }
    return WARD_OK;
}

unsigned ward_hasher_mask(const ward_hasher *h)
{
    return h->mask;
}

ward_err ward_sha256(const void *p, size_t n, uint8_t out[32])
{
    const EVP_MD *md = md_for(WARD_HASH_SHA256);
    unsigned len = 0;
    if (!md || EVP_Digest(p, n, out, &len, md, NULL) != 1)
        return WARD_ERR_INTERNAL;
    return WARD_OK;
}

void ward_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}
