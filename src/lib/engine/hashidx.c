/* hashidx.c - sorted arrays of hash signatures, searched by bisection. */
#include "engine/hashidx.h"

#include <stdlib.h>
#include <string.h>

void ward_hashidx_init(ward_hashidx *h)
{
    memset(h, 0, sizeof *h);
}

void ward_hashidx_free(ward_hashidx *h)
{
    free(h->sized.v);
    free(h->any.v);
    ward_hashidx_init(h);
}

static ward_err array_reserve(struct hashidx_array *a, size_t n)
{
    if (n <= a->cap - a->n)
        return WARD_OK;
    size_t cap = a->cap ? a->cap : 64;
    while (cap - a->n < n)
        cap *= 2;
    struct hashidx_entry *v = realloc(a->v, cap * sizeof *v);
    if (!v)
        return WARD_ERR_NOMEM;
    a->v = v;
    a->cap = cap;
    return WARD_OK;
}

ward_err ward_hashidx_reserve(ward_hashidx *h, size_t n)
{
    return array_reserve(&h->sized, n);
}

ward_err ward_hashidx_add(ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                          uint64_t size, uint32_t name)
{
    struct hashidx_array *a = size == WARD_HASH_ANY_SIZE ? &h->any : &h->sized;
    ward_err e = array_reserve(a, 1);
    if (e)
        return e;
    struct hashidx_entry *x = &a->v[a->n++];
    x->size = size;
    x->name = name;
    x->alg = (uint8_t)alg;
    memset(x->digest, 0, sizeof x->digest);
    memcpy(x->digest, digest, ward_hash_len(alg));
    if (size == WARD_HASH_ANY_SIZE)
        h->any_size_algs |= WARD_HASH_BIT(alg);
    h->sealed = false;
    return WARD_OK;
}

static int cmp_key(uint64_t size, unsigned alg, const uint8_t *digest,
                   const struct hashidx_entry *b)
{
    if (size != b->size)
        return size < b->size ? -1 : 1;
    if (alg != b->alg)
        return alg < b->alg ? -1 : 1;
    return memcmp(digest, b->digest, WARD_HASH_MAX_LEN);
}

static int cmp_entry(const void *pa, const void *pb)
{
    const struct hashidx_entry *a = pa, *b = pb;
    int c = cmp_key(a->size, a->alg, a->digest, b);
    /* equal keys: keep load order, so the first signature wins */
    return c ? c : (a < b ? -1 : a > b);
}

static void seal_array(struct hashidx_array *a)
{
    if (a->n == 0)
        return;
    qsort(a->v, a->n, sizeof *a->v, cmp_entry);
    size_t k = 1;
    for (size_t i = 1; i < a->n; i++)
        if (cmp_key(a->v[i].size, a->v[i].alg, a->v[i].digest, &a->v[k - 1]) != 0)
            a->v[k++] = a->v[i];
    a->n = k;
    /* give back what loading reserved beyond the final size */
    struct hashidx_entry *v = realloc(a->v, a->n * sizeof *v);
    if (v) {
        a->v = v;
        a->cap = a->n;
    }
}

void ward_hashidx_seal(ward_hashidx *h)
{
    seal_array(&h->sized);
    seal_array(&h->any);
    h->sealed = true;
}

size_t ward_hashidx_count(const ward_hashidx *h)
{
    return h->sized.n + h->any.n;
}

/* First entry not less than the key. */
static size_t lower_bound(const struct hashidx_array *a, uint64_t size, unsigned alg,
                          const uint8_t *digest)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(size, alg, digest, &a->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

unsigned ward_hashidx_algs_for_size(const ward_hashidx *h, uint64_t size)
{
    static const uint8_t zero[WARD_HASH_MAX_LEN];
    unsigned algs = h->any_size_algs;
    if (!h->sealed || size == WARD_HASH_ANY_SIZE)
        return algs;
    for (size_t i = lower_bound(&h->sized, size, 0, zero); i < h->sized.n; i++) {
        if (h->sized.v[i].size != size)
            break;
        algs |= WARD_HASH_BIT(h->sized.v[i].alg);
    }
    return algs;
}

static bool find(const struct hashidx_array *a, uint64_t size, unsigned alg,
                 const uint8_t *digest, uint32_t *name)
{
    size_t i = lower_bound(a, size, alg, digest);
    if (i < a->n && cmp_key(size, alg, digest, &a->v[i]) == 0) {
        *name = a->v[i].name;
        return true;
    }
    return false;
}

bool ward_hashidx_lookup(const ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                         uint64_t size, uint32_t *name)
{
    uint8_t key[WARD_HASH_MAX_LEN] = {0};
    if (!h->sealed)
        return false;
    memcpy(key, digest, ward_hash_len(alg));
    return find(&h->sized, size, alg, key, name) ||
           find(&h->any, WARD_HASH_ANY_SIZE, alg, key, name);
}
