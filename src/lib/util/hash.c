/* hash.c - multi-digest hashing through libcrypto (loaded lazily), and
 * Ward's own BLAKE2b digests through libsodium. */
#include "util/hash.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/crypto.h"

_Static_assert(sizeof(((ward_digest *)0)->state) >= sizeof(crypto_generichash_state),
               "ward_digest too small for libsodium's state");

struct ward_hasher {
    EVP_MD_CTX *ctx[WARD_HASH_COUNT]; /* made at first use */
    unsigned mask;
};

/*
 * Fetching an EVP_MD is expensive in OpenSSL 3 (a provider lookup on every
 * implicit fetch), so each algorithm is fetched once per process.
 */
static const EVP_MD *md_for(const struct ward_crypto *c, enum ward_hash_alg alg)
{
    static const EVP_MD *cache[WARD_HASH_COUNT];
    static const char *names[WARD_HASH_COUNT] = {"MD5", "SHA1", "SHA256"};
    const EVP_MD *md = __atomic_load_n(&cache[alg], __ATOMIC_ACQUIRE);
    if (!md) {
        EVP_MD *fetched = c->EVP_MD_fetch(NULL, names[alg], NULL);
        if (!fetched)
            return NULL;
        const EVP_MD *expected = NULL;
        if (!__atomic_compare_exchange_n(&cache[alg], &expected, fetched, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            c->EVP_MD_free(fetched);
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
    *out = h;
    return WARD_OK;
}

void ward_hasher_free(ward_hasher *h)
{
    if (!h)
        return;
    const struct ward_crypto *c = NULL;
    for (int i = 0; i < WARD_HASH_COUNT; i++)
        if (h->ctx[i] && (c = ward_crypto()))
            c->EVP_MD_CTX_free(h->ctx[i]);
    free(h);
}

ward_err ward_hasher_begin(ward_hasher *h, unsigned mask)
{
    h->mask = 0;
    if (!mask)
        return WARD_OK;
    const struct ward_crypto *c = ward_crypto();
    if (!c)
        return WARD_ERR_INTERNAL;
    for (int i = 0; i < WARD_HASH_COUNT; i++) {
        if (!(mask & WARD_HASH_BIT(i)))
            continue;
        if (!h->ctx[i] && !(h->ctx[i] = c->EVP_MD_CTX_new()))
            return WARD_ERR_NOMEM;
        const EVP_MD *md = md_for(c, i);
        if (!md || c->EVP_DigestInit_ex2(h->ctx[i], md, NULL) != 1)
            return WARD_ERR_INTERNAL;
    }
    h->mask = mask;
    return WARD_OK;
}

ward_err ward_hasher_update(ward_hasher *h, const void *p, size_t n)
{
    if (!h->mask)
        return WARD_OK;
    const struct ward_crypto *c = ward_crypto();
    for (int i = 0; i < WARD_HASH_COUNT; i++)
        if ((h->mask & WARD_HASH_BIT(i)) && c->EVP_DigestUpdate(h->ctx[i], p, n) != 1)
            return WARD_ERR_INTERNAL;
    return WARD_OK;
}

ward_err ward_hasher_end(ward_hasher *h, uint8_t out[WARD_HASH_COUNT][WARD_HASH_MAX_LEN])
{
    if (!h->mask)
        return WARD_OK;
    const struct ward_crypto *c = ward_crypto();
    for (int i = 0; i < WARD_HASH_COUNT; i++) {
        if (!(h->mask & WARD_HASH_BIT(i)))
            continue;
        unsigned len = 0;
        if (c->EVP_DigestFinal_ex(h->ctx[i], out[i], &len) != 1)
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
    const struct ward_crypto *c = ward_crypto();
    const EVP_MD *md = c ? md_for(c, WARD_HASH_SHA256) : NULL;
    unsigned len = 0;
    if (!md || c->EVP_Digest(p, n, out, &len, md, NULL) != 1)
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

/* ---- BLAKE2b ------------------------------------------------------------ */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void)
{
    /* picks the fastest implementations for this CPU; cannot fail in a way
       that affects hashing */
    if (sodium_init() < 0)
        return; /* libsodium then uses its portable code: digests are the same */
}

void ward_digest_init(ward_digest *d)
{
    pthread_once(&sodium_once, sodium_setup);
    crypto_generichash_init((crypto_generichash_state *)d->state, NULL, 0, 32);
}

void ward_digest_update(ward_digest *d, const void *p, size_t n)
{
    crypto_generichash_update((crypto_generichash_state *)d->state, p, n);
}

void ward_digest_final(ward_digest *d, uint8_t out[32])
{
    crypto_generichash_final((crypto_generichash_state *)d->state, out, 32);
}

void ward_digest32(const void *p, size_t n, uint8_t out[32])
{
    pthread_once(&sodium_once, sodium_setup);
    crypto_generichash(out, 32, p, n, NULL, 0);
}
