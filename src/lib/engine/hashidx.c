/* hashidx.c - open-addressing tables for hash signatures and their sizes. */
#include "engine/hashidx.h"

#include <stdlib.h>
#include <string.h>

void ward_hashidx_init(ward_hashidx *h)
{
    memset(h, 0, sizeof *h);
}

void ward_hashidx_free(ward_hashidx *h)
{
    free(h->tab);
    free(h->sizes);
    ward_hashidx_init(h);
}

/* Digests are uniformly distributed already; mix in the algorithm only. */
static size_t digest_slot(const uint8_t *d, unsigned alg, size_t mask)
{
    uint64_t v;
    memcpy(&v, d, sizeof v);
    return (size_t)((v ^ (alg * 0x9e3779b97f4a7c15ull)) & mask);
}

static size_t size_slot(uint64_t size, size_t mask)
{
    size *= 0x9e3779b97f4a7c15ull;
    return (size_t)((size ^ (size >> 29)) & mask);
}

static ward_err grow_entries(ward_hashidx *h)
{
    size_t cap = h->tab_cap ? h->tab_cap * 2 : 1024;
    struct hashidx_entry *t = calloc(cap, sizeof *t);
    if (!t)
        return WARD_ERR_NOMEM;
    for (size_t i = 0; i < h->tab_cap; i++) {
        if (!h->tab[i].used)
            continue;
        size_t s = digest_slot(h->tab[i].digest, h->tab[i].alg, cap - 1);
        while (t[s].used)
            s = (s + 1) & (cap - 1);
        t[s] = h->tab[i];
    }
    free(h->tab);
    h->tab = t;
    h->tab_cap = cap;
    return WARD_OK;
}

static ward_err grow_sizes(ward_hashidx *h)
{
    size_t cap = h->sizes_cap ? h->sizes_cap * 2 : 256;
    struct hashidx_size *t = calloc(cap, sizeof *t);
    if (!t)
        return WARD_ERR_NOMEM;
    for (size_t i = 0; i < h->sizes_cap; i++) {
        if (!h->sizes[i].used)
            continue;
        size_t s = size_slot(h->sizes[i].size, cap - 1);
        while (t[s].used)
            s = (s + 1) & (cap - 1);
        t[s] = h->sizes[i];
    }
    free(h->sizes);
    h->sizes = t;
    h->sizes_cap = cap;
    return WARD_OK;
}

static ward_err add_size(ward_hashidx *h, uint64_t size, unsigned alg)
{
    if ((h->sizes_count + 1) * 2 > h->sizes_cap) {
        ward_err e = grow_sizes(h);
        if (e)
            return e;
    }
    size_t s = size_slot(size, h->sizes_cap - 1);
    while (h->sizes[s].used && h->sizes[s].size != size)
        s = (s + 1) & (h->sizes_cap - 1);
    if (!h->sizes[s].used) {
        h->sizes[s].used = 1;
        h->sizes[s].size = size;
        h->sizes_count++;
    }
    h->sizes[s].algs |= (uint8_t)WARD_HASH_BIT(alg);
    return WARD_OK;
}

ward_err ward_hashidx_add(ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                          uint64_t size, uint32_t name)
{
    size_t len = ward_hash_len(alg);
    if ((h->count + 1) * 4 > h->tab_cap * 3) {
        ward_err e = grow_entries(h);
        if (e)
            return e;
    }
    size_t s = digest_slot(digest, alg, h->tab_cap - 1);
    while (h->tab[s].used) {
        struct hashidx_entry *e = &h->tab[s];
        if (e->alg == alg && e->size == size && memcmp(e->digest, digest, len) == 0)
            return WARD_OK;
        s = (s + 1) & (h->tab_cap - 1);
    }
    struct hashidx_entry *e = &h->tab[s];
    memset(e->digest, 0, sizeof e->digest);
    memcpy(e->digest, digest, len);
    e->size = size;
    e->name = name;
    e->alg = (uint8_t)alg;
    e->used = 1;
    h->count++;
    if (size == WARD_HASH_ANY_SIZE) {
        h->any_size_algs |= WARD_HASH_BIT(alg);
        return WARD_OK;
    }
    return add_size(h, size, alg);
}

unsigned ward_hashidx_algs_for_size(const ward_hashidx *h, uint64_t size)
{
    unsigned algs = h->any_size_algs;
    if (!h->sizes_count)
        return algs;
    size_t s = size_slot(size, h->sizes_cap - 1);
    while (h->sizes[s].used) {
        if (h->sizes[s].size == size)
            return algs | h->sizes[s].algs;
        s = (s + 1) & (h->sizes_cap - 1);
    }
    return algs;
}

bool ward_hashidx_lookup(const ward_hashidx *h, enum ward_hash_alg alg, const uint8_t *digest,
                         uint64_t size, uint32_t *name)
{
    if (!h->count)
        return false;
    size_t len = ward_hash_len(alg);
    size_t s = digest_slot(digest, alg, h->tab_cap - 1);
    while (h->tab[s].used) {
        const struct hashidx_entry *e = &h->tab[s];
        if (e->alg == alg && (e->size == size || e->size == WARD_HASH_ANY_SIZE) &&
            memcmp(e->digest, digest, len) == 0) {
            *name = e->name;
            return true;
        }
        s = (s + 1) & (h->tab_cap - 1);
    }
    return false;
}
