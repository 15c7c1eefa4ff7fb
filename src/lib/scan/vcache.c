/* vcache.c - striped-lock, set-associative verdict cache. */
#include "scan/vcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 8
#define STRIPES 64

struct entry {
    uint8_t obj[32];
    uint64_t db_tag;
    uint64_t stamp; /* insertion order, for replacement */
    uint8_t used, verdict, reason;
    char *text; /* "name\0subpath\0", NULL when both are empty */
};

struct ward_vcache {
    struct entry *tab; /* allocated at the first put: an idle daemon holds no table */
    pthread_mutex_t grow_lock;
    size_t buckets; /* power of two */
    pthread_mutex_t locks[STRIPES];
    uint64_t hits, misses, inserts, clock;
    size_t entries;
};

ward_err ward_vcache_new(size_t capacity, ward_vcache **out)
{
    ward_vcache *c = calloc(1, sizeof *c);
    if (!c)
        return WARD_ERR_NOMEM;
    size_t b = 1;
    while (b * WAYS < capacity)
        b *= 2;
    if (capacity)
        c->buckets = b;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    pthread_mutex_init(&c->grow_lock, NULL);
    *out = c;
    return WARD_OK;
}

void ward_vcache_free(ward_vcache *c)
{
    if (!c)
        return;
    ward_vcache_clear(c);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    pthread_mutex_destroy(&c->grow_lock);
    free(c->tab);
    free(c);
}

static uint64_t tag_of(const uint8_t db[32])
{
    uint64_t t;
    memcpy(&t, db, 8);
    return t;
}

static size_t bucket_of(const ward_vcache *c, const uint8_t obj[32])
{
    uint64_t v;
    memcpy(&v, obj, 8);
    return (size_t)(v & (c->buckets - 1));
}

/* The table, made on first use. */
static struct entry *table(ward_vcache *c, bool create)
{
    struct entry *t = __atomic_load_n(&c->tab, __ATOMIC_ACQUIRE);
    if (t || !create || !c->buckets)
        return t;
    pthread_mutex_lock(&c->grow_lock);
    if (!c->tab) {
        t = calloc(c->buckets * WAYS, sizeof *t);
        __atomic_store_n(&c->tab, t, __ATOMIC_RELEASE);
    }
    t = c->tab;
    pthread_mutex_unlock(&c->grow_lock);
    return t;
}

bool ward_vcache_get(ward_vcache *c, const uint8_t db[32], const uint8_t obj[32],
                     struct ward_cached *out)
{
    if (!table(c, false)) {
        if (c->buckets)
            __atomic_add_fetch(&c->misses, 1, __ATOMIC_RELAXED);
        return false;
    }
    size_t b = bucket_of(c, obj);
    uint64_t tag = tag_of(db);
    bool found = false;
    pthread_mutex_t *lk = &c->locks[b % STRIPES];
    pthread_mutex_lock(lk);
    for (int w = 0; w < WAYS; w++) {
        struct entry *e = &c->tab[b * WAYS + w];
        if (e->used && e->db_tag == tag && memcmp(e->obj, obj, 32) == 0) {
            out->verdict = e->verdict;
            out->reason = e->reason;
            out->name[0] = out->subpath[0] = 0;
            if (e->text) {
                snprintf(out->name, sizeof out->name, "%s", e->text);
                snprintf(out->subpath, sizeof out->subpath, "%s", e->text + strlen(e->text) + 1);
            }
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(lk);
    __atomic_add_fetch(found ? &c->hits : &c->misses, 1, __ATOMIC_RELAXED);
    return found;
}

void ward_vcache_put(ward_vcache *c, const uint8_t db[32], const uint8_t obj[32],
                     const struct ward_cached *v)
{
    if (!table(c, true))
        return;
    char *text = NULL;
    if (v->name[0] || v->subpath[0]) {
        size_t a = strlen(v->name), b = strlen(v->subpath);
        text = malloc(a + b + 2);
        if (!text)
            return;
        memcpy(text, v->name, a + 1);
        memcpy(text + a + 1, v->subpath, b + 1);
    }
    size_t bk = bucket_of(c, obj);
    pthread_mutex_t *lk = &c->locks[bk % STRIPES];
    pthread_mutex_lock(lk);
    struct entry *victim = NULL;
    for (int w = 0; w < WAYS; w++) {
        struct entry *e = &c->tab[bk * WAYS + w];
        if (!e->used || (e->db_tag == tag_of(db) && memcmp(e->obj, obj, 32) == 0)) {
            victim = e;
            break;
        }
        if (!victim || e->stamp < victim->stamp)
            victim = e;
    }
    if (!victim->used)
        __atomic_add_fetch(&c->entries, 1, __ATOMIC_RELAXED);
    free(victim->text);
    memcpy(victim->obj, obj, 32);
    victim->db_tag = tag_of(db);
    victim->stamp = __atomic_add_fetch(&c->clock, 1, __ATOMIC_RELAXED);
    victim->used = 1;
    victim->verdict = v->verdict;
    victim->reason = v->reason;
    victim->text = text;
    pthread_mutex_unlock(lk);
    __atomic_add_fetch(&c->inserts, 1, __ATOMIC_RELAXED);
}

void ward_vcache_clear(ward_vcache *c)
{
    if (!table(c, false) || !__atomic_load_n(&c->entries, __ATOMIC_RELAXED))
        return; /* nothing to touch */
    for (size_t b = 0; b < c->buckets; b++) {
        pthread_mutex_t *lk = &c->locks[b % STRIPES];
        pthread_mutex_lock(lk);
        for (int w = 0; w < WAYS; w++) {
            struct entry *e = &c->tab[b * WAYS + w];
            free(e->text);
            e->text = NULL;
            e->used = 0;
        }
        pthread_mutex_unlock(lk);
    }
    __atomic_store_n(&c->entries, 0, __ATOMIC_RELAXED);
}

void ward_vcache_get_stats(ward_vcache *c, struct ward_vcache_stats *st)
{
    st->hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
    st->misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
    st->inserts = __atomic_load_n(&c->inserts, __ATOMIC_RELAXED);
    st->entries = __atomic_load_n(&c->entries, __ATOMIC_RELAXED);
    st->capacity = c->buckets * WAYS;
}
