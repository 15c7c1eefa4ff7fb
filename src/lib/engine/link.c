/*
 * link.c - a database from loaded segments.
 *
 * Linking copies the small records of every segment's signatures into one
 * index space (body patterns, logical signatures and their subsignatures,
 * PCRE subsignatures, expression nodes), rebasing the indexes they hold;
 * the bulky parts stay in the segments and are shared: pattern sources,
 * regexes, names, and the hash indexes, which the matcher consults segment
 * by segment.
 *
 * The compiled form comes, in this order of preference, from the previous
 * database when its unit covers exactly these patterns, from the on-disk
 * cache, from the previous database's unit plus a small unit compiled from
 * the new files alone (a reload in milliseconds; ward_db_stats()->partial),
 * or from compiling everything.
 */
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "engine/db_int.h"
#include "util/hash.h"

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void db_free(ward_db *db)
{
    for (uint32_t i = 0; i < db->n_pats; i++)
        pcre2_code_free(db->pats[i].exact);
    free(db->pats);
    free(db->ndb_names);
    free(db->ldbs);
    free(db->ldb_names);
    free(db->ldb_subs);
    free(db->pcres);
    ward_lexpr_pool_free(&db->exprs);
    free(db->zero_true);
    for (unsigned u = 0; u < db->n_units; u++) {
        ward_unit_unref(db->units[u].u);
        free(db->units[u].map);
    }
    for (uint32_t i = 0; i < db->n_segs; i++)
        ward_seg_unref(db->segs[i]);
    free(db->segs);
    free(db);
}

void ward_db_ref(ward_db *db)
{
    __atomic_add_fetch(&db->refs, 1, __ATOMIC_RELAXED);
}

void ward_db_unref(ward_db *db)
{
    if (db && __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) == 0)
        db_free(db);
}

const struct ward_db_stats *ward_db_stats(const ward_db *db)
{
    return &db->stats;
}

const uint8_t *ward_db_digest(const ward_db *db)
{
    return db->digest;
}

void ward_db_each_name(const ward_db *db, void (*fn)(void *ctx, const char *name), void *ctx)
{
    /* Names are stored once per signature, in load order. */
    for (uint32_t i = 0; i < db->n_segs; i++) {
        const ward_strpool *pool = &db->segs[i]->names;
        for (size_t off = 0; off < pool->len; off += strlen(pool->data + off) + 1)
            fn(ctx, pool->data + off);
    }
}

/* ---- rebasing ---------------------------------------------------------------- */

static void *alloc_array(size_t n, size_t size)
{
    return calloc(n + 1, size);
}

static ward_err link_records(ward_db *db)
{
    uint32_t np = 0, nn = 0, nl = 0, ns = 0, nc = 0, nx = 0, nz = 0;
    for (uint32_t i = 0; i < db->n_segs; i++) {
        const ward_seg *s = db->segs[i];
        np += s->n_pats;
        nn += s->n_ndbs;
        nl += s->n_ldbs;
        ns += s->n_ldb_subs;
        nc += s->n_pcres;
        nx += s->exprs.n;
        nz += s->n_zero_true;
    }
    db->pats = alloc_array(np, sizeof *db->pats);
    db->ndb_names = alloc_array(nn, sizeof *db->ndb_names);
    db->ldbs = alloc_array(nl, sizeof *db->ldbs);
    db->ldb_names = alloc_array(nl, sizeof *db->ldb_names);
    db->ldb_subs = alloc_array(ns, sizeof *db->ldb_subs);
    db->pcres = alloc_array(nc, sizeof *db->pcres);
    db->exprs.nodes = alloc_array(nx, sizeof *db->exprs.nodes);
    db->exprs.cap = nx + 1;
    db->zero_true = alloc_array(nz, sizeof *db->zero_true);
    if (!db->pats || !db->ndb_names || !db->ldbs || !db->ldb_names || !db->ldb_subs ||
        !db->pcres || !db->exprs.nodes || !db->zero_true)
        return WARD_ERR_NOMEM;

    for (uint32_t i = 0; i < db->n_segs; i++) {
        const ward_seg *s = db->segs[i];
        uint32_t P = db->n_pats, N = db->n_ndbs, L = db->n_ldbs, S = db->n_ldb_subs,
                 C = db->n_pcres, X = db->exprs.n;
        for (uint32_t k = 0; k < s->n_pats; k++) {
            struct body_pat *bp = &db->pats[P + k];
            *bp = s->pats[k];
            bp->owner += bp->subsig == WARD_NO_SUBSIG ? N : L;
            bp->exact = NULL; /* compiled by this database on first use */
            bp->first_part = 0;
            bp->n_parts = 0;
        }
        for (uint32_t k = 0; k < s->n_ndbs; k++)
            db->ndb_names[N + k] = s->names.data + s->ndbs[k].name;
        for (uint32_t k = 0; k < s->n_ldbs; k++) {
            struct ldb_sig *l = &db->ldbs[L + k];
            *l = s->ldbs[k];
            l->first_sub += S;
            l->expr += X;
            db->ldb_names[L + k] = s->names.data + s->ldbs[k].name;
        }
        for (uint32_t k = 0; k < s->n_ldb_subs; k++) {
            struct ldb_sub *sub = &db->ldb_subs[S + k];
            *sub = s->ldb_subs[k];
            sub->ref += sub->kind == SUB_PCRE ? C : P;
        }
        for (uint32_t k = 0; k < s->n_pcres; k++) {
            struct pcre_sub *ps = &db->pcres[C + k];
            *ps = s->pcres[k];
            ps->ldb += L;
            ps->trigger += X;
        }
        for (uint32_t k = 0; k < s->exprs.n; k++) {
            struct lexpr_node *x = &db->exprs.nodes[X + k];
            *x = s->exprs.nodes[k];
            if (x->type != LX_LEAF) {
                x->left += X;
                x->right += X;
            }
        }
        for (uint32_t k = 0; k < s->n_zero_true; k++)
            db->zero_true[db->n_zero_true++] = s->zero_true[k] + L;
        db->n_pats += s->n_pats;
        db->n_ndbs += s->n_ndbs;
        db->n_ldbs += s->n_ldbs;
        db->n_ldb_subs += s->n_ldb_subs;
        db->n_pcres += s->n_pcres;
        db->exprs.n += s->exprs.n;
        db->max_subs_total += s->max_subs_total;
    }
    return WARD_OK;
}

/* Statistics and version, as one load of all the files would give them. */
static void link_stats(ward_db *db, uint64_t skipped_files)
{
    struct ward_db_stats *st = &db->stats;
    st->skipped_files = skipped_files;
    ward_digest d;
    ward_digest_init(&d);
    for (uint32_t i = 0; i < db->n_segs; i++) {
        const ward_seg *s = db->segs[i];
        for (int k = 0; k < WARD_KIND_COUNT; k++) {
            st->kind[k].loaded += s->stats.kind[k].loaded;
            st->kind[k].skipped += s->stats.kind[k].skipped;
        }
        st->files += s->stats.files;
        st->ignored += s->stats.ignored;
        st->flevel_skipped += s->stats.flevel_skipped;
        /* A file's time stands for the version until a container names one;
           daily's version wins over the others' (as ClamAV reports it). */
        if (!st->version && s->mtime > st->build_time)
            st->build_time = s->mtime;
        if (s->cvd.present && (s->cvd.daily || s->cvd.version > st->version) &&
            (s->cvd.daily || !st->version)) {
            st->version = s->cvd.version;
            st->build_time = s->cvd.stime;
        }
        ward_digest_update(&d, s->digest, 32);
    }
    ward_digest_final(&d, db->digest);
}

/* ---- units ------------------------------------------------------------------- */

/* Copy what compiling decided into the database's patterns. */
static void apply_unit(ward_db *db, const struct db_unit *du)
{
    const ward_unit *u = du->u;
    for (uint32_t j = 0; j < u->n_pats; j++) {
        uint32_t g = du->map ? du->map[j] : j;
        if (g != WARD_NO_PAT)
            db->pats[g].flags = u->flags[j];
    }
    for (uint32_t i = 0; i < u->n_parts; i++) {
        const struct body_part *bp = &u->parts[i];
        uint32_t g = du->map ? du->map[bp->pat] : bp->pat;
        if (g == WARD_NO_PAT)
            continue;
        if (bp->index == 0)
            db->pats[g].first_part = i;
        db->pats[g].n_parts = (uint16_t)(bp->index + 1);
    }
}

static ward_err add_unit(ward_db *db, ward_unit *u, uint32_t *map)
{
    db->units[db->n_units].u = u;
    db->units[db->n_units].map = map;
    db->n_units++;
    apply_unit(db, &db->units[db->n_units - 1]);
    return WARD_OK;
}

/*
 * The previous database's first unit, with the segments it still covers
 * mapped into this database; *rest receives the segments it does not cover.
 */
static ward_err map_base(ward_db *db, const ward_unit *base, ward_seg **psegs,
                         const uint32_t *pbase, size_t n, uint32_t **map_out, ward_seg **rest,
                         uint32_t *rest_base, size_t *n_rest, uint32_t *rest_pats)
{
    uint32_t *map = malloc(((size_t)base->n_pats + 1) * sizeof *map);
    bool *used = calloc(base->n_spans + 1, sizeof *used);
    if (!map || !used) {
        free(map);
        free(used);
        return WARD_ERR_NOMEM;
    }
    for (uint32_t j = 0; j < base->n_pats; j++)
        map[j] = WARD_NO_PAT;
    *n_rest = 0;
    *rest_pats = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k;
        for (k = 0; k < base->n_spans; k++)
            if (!used[k] && base->spans[k].n == psegs[i]->n_pats &&
                memcmp(base->spans[k].pat_key, psegs[i]->pat_key, 32) == 0)
                break;
        if (k < base->n_spans) {
            used[k] = true;
            for (uint32_t j = 0; j < base->spans[k].n; j++)
                map[base->spans[k].base + j] = pbase[i] + j;
        } else {
            rest_base[*n_rest] = pbase[i];
            rest[(*n_rest)++] = psegs[i];
            *rest_pats += psegs[i]->n_pats;
        }
    }
    free(used);
    (void)db;
    *map_out = map;
    return WARD_OK;
}

/* The map of a unit compiled from `rest` (segments at database bases rest_base). */
static uint32_t *map_rest(const ward_unit *u, ward_seg *const *rest, const uint32_t *rest_base,
                          size_t n_rest)
{
    uint32_t *map = malloc(((size_t)u->n_pats + 1) * sizeof *map);
    if (!map)
        return NULL;
    uint32_t j = 0;
    for (size_t i = 0; i < n_rest; i++)
        for (uint32_t k = 0; k < rest[i]->n_pats; k++)
            map[j++] = rest_base[i] + k;
    return map;
}

static ward_err link_units(ward_db *db, const struct ward_db_opts *opts, struct ward_diag *diag)
{
    /* the segments that have patterns, and where their patterns start */
    ward_seg **psegs = calloc(db->n_segs + 1, sizeof *psegs);
    ward_seg **rest = calloc(db->n_segs + 1, sizeof *rest);
    uint32_t *pbase = calloc(db->n_segs + 1, sizeof *pbase);
    uint32_t *rest_base = calloc(db->n_segs + 1, sizeof *rest_base);
    ward_err e = WARD_OK;
    if (!psegs || !rest || !pbase || !rest_base) {
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    uint32_t at = 0;
    for (uint32_t i = 0; i < db->n_segs; i++) {
        if (db->segs[i]->n_pats) {
            pbase[n] = at;
            psegs[n++] = db->segs[i];
        }
        at += db->segs[i]->n_pats;
    }
    if (n == 0)
        goto out;
    uint8_t key[32];
    ward_unit_key(psegs, n, key);
    const ward_db *prev = opts->reuse;
    const char *cache = opts->cache_dir;

    /* 1. the previous database was compiled from exactly these patterns */
    if (prev && prev->n_units == 1 && !prev->units[0].map &&
        memcmp(prev->units[0].u->key, key, 32) == 0) {
        ward_unit_ref(prev->units[0].u);
        db->stats.compile_cached = true;
        e = add_unit(db, prev->units[0].u, NULL);
        goto out;
    }
    /* 2. the cache has them */
    ward_unit *u = ward_unit_from_cache(cache, key, psegs, n);
    if (u) {
        db->stats.compile_cached = true;
        e = add_unit(db, u, NULL);
        goto out;
    }
    /* 3. the previous database's unit, and the new patterns compiled alone */
    if (prev && prev->n_units && opts->overlay_max) {
        const ward_unit *base = prev->units[0].u;
        uint32_t *map = NULL, rest_pats = 0;
        size_t n_rest = 0;
        if ((e = map_base(db, base, psegs, pbase, n, &map, rest, rest_base, &n_rest,
                          &rest_pats))) {
            e = ward_diag_set(diag, e, "out of memory");
            goto out;
        }
        if (rest_pats <= opts->overlay_max) {
            ward_unit *over = NULL;
            if (n_rest) {
                uint8_t okey[32];
                ward_unit_key(rest, n_rest, okey);
                over = ward_unit_from_cache(cache, okey, rest, n_rest);
                if (!over && (e = ward_unit_compile(rest, n_rest, cache, &over, diag))) {
                    free(map);
                    goto out;
                }
            }
            uint32_t *omap = over ? map_rest(over, rest, rest_base, n_rest) : NULL;
            if (over && !omap) {
                ward_unit_unref(over);
                free(map);
                e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
                goto out;
            }
            ward_unit_ref((ward_unit *)base);
            /* the same patterns in the same places: no map needed */
            bool same = !n_rest && base->n_pats == db->n_pats;
            for (uint32_t j = 0; same && j < base->n_pats; j++)
                same = map[j] == j;
            if (same) {
                free(map);
                map = NULL;
            }
            add_unit(db, (ward_unit *)base, map);
            if (over)
                add_unit(db, over, omap);
            db->stats.partial = map || over;
            db->stats.overlay_patterns = rest_pats;
            db->stats.compile_cached = !over || over->cached;
            goto out;
        }
        free(map);
    }
    /* 4. everything */
    if (opts->no_full_compile) {
        e = ward_diag_set(diag, WARD_ERR_AGAIN, "the signatures need a full compile");
        goto out;
    }
    if (!(e = ward_unit_compile(psegs, n, cache, &u, diag)))
        e = add_unit(db, u, NULL);
out:
    free(psegs);
    free(rest);
    free(pbase);
    free(rest_base);
    return e;
}

ward_err ward_db_link(ward_seg *const *segs, size_t n, const struct ward_db_opts *opts,
                      uint64_t skipped_files, ward_db **out, struct ward_diag *diag)
{
    static const struct ward_db_opts defaults;
    if (!opts)
        opts = &defaults;
    ward_db *db = calloc(1, sizeof *db);
    if (db)
        db->segs = calloc(n + 1, sizeof *db->segs);
    if (!db || !db->segs) {
        free(db);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    }
    db->refs = 1;
    ward_lexpr_pool_init(&db->exprs);
    for (size_t i = 0; i < n; i++) {
        ward_seg_ref(segs[i]);
        db->segs[db->n_segs++] = segs[i];
    }
    ward_err e = link_records(db);
    if (e)
        e = ward_diag_set(diag, e, "out of memory");
    link_stats(db, skipped_files);
    if (!e && !opts->check_only) {
        double t = mono_seconds();
        e = link_units(db, opts, diag);
        db->stats.compile_seconds = mono_seconds() - t;
    }
    if (e) {
        db_free(db);
        return e;
    }
    for (uint32_t i = 0; i < db->n_pats; i++) {
        const struct body_pat *bp = &db->pats[i];
        if (bp->flags & BP_NEVER) {
            if (bp->flags & BP_UNCOMPILED)
                db->stats.uncompiled_patterns++;
            continue;
        }
        db->stats.body_patterns++;
        if (bp->flags & BP_PREFILTER)
            db->stats.prefilter_patterns++;
    }
    *out = db;
    return WARD_OK;
}
