/*
 * compile.c - compile body patterns into one Vectorscan database per target
 * type, and keep the compiled form in an on-disk cache.
 *
 * The cache key is a SHA-256 over the Vectorscan version, the CPU platform
 * Vectorscan tunes for, and every expression with its id and flags, so a
 * database changes key whenever any of these changes; a second start with the
 * same sources deserializes in milliseconds instead of compiling.
 *
 * Patterns Vectorscan rejects are retried in its prefilter mode (an
 * approximation that over-matches; hits are confirmed with PCRE2) and, if
 * that fails too, counted as skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/db_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"

#define CACHE_MAGIC "WARDHS02"

static unsigned hs_flags_for(const struct body_pat *bp)
{
    unsigned f = HS_FLAG_DOTALL;
    if (bp->flags & BP_NOCASE)
        f |= HS_FLAG_CASELESS;
    if (bp->flags & BP_PREFILTER)
        f |= HS_FLAG_PREFILTER;
    /* An .ndb signature or a candidate only needs its first hit. */
    if (bp->subsig == WARD_NO_SUBSIG || (bp->flags & BP_VERIFY))
        f |= HS_FLAG_SINGLEMATCH;
    return f;
}

static bool compiles_alone(const char *re, unsigned flags)
{
    hs_database_t *d = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t r = hs_compile(re, flags, HS_MODE_STREAM, NULL, &d, &ce);
    hs_free_compile_error(ce);
    hs_free_database(d);
    return r == HS_SUCCESS;
}

static bool expression_ok(const struct body_pat *bp)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t r = hs_expression_info(bp->scan_re, hs_flags_for(bp), &info, &ce);
    hs_free_compile_error(ce);
    free(info);
    return r == HS_SUCCESS;
}

/*
 * A pattern the set could not take: try it alone in prefilter mode (hits are
 * confirmed with PCRE2); if even that fails, it is left out and counted.
 */
static void demote(struct body_pat *bp)
{
    if (!(bp->flags & BP_PREFILTER)) {
        bp->flags |= BP_PREFILTER | BP_VERIFY;
        if (compiles_alone(bp->scan_re, hs_flags_for(bp)))
            return;
    }
    bp->flags |= BP_NEVER | BP_UNCOMPILED;
}

struct target_set {
    const char **exprs;
    unsigned *flags, *ids;
    unsigned n;
};

static ward_err collect(ward_db *db, unsigned target, struct target_set *ts)
{
    ts->n = 0;
    ts->exprs = malloc((db->n_pats + 1) * sizeof *ts->exprs);
    ts->flags = malloc((db->n_pats + 1) * sizeof *ts->flags);
    ts->ids = malloc((db->n_pats + 1) * sizeof *ts->ids);
    if (!ts->exprs || !ts->flags || !ts->ids)
        return WARD_ERR_NOMEM;
    for (uint32_t i = 0; i < db->n_pats; i++) {
        const struct body_pat *bp = &db->pats[i];
        if (bp->target != target || (bp->flags & BP_NEVER))
            continue;
        ts->exprs[ts->n] = bp->scan_re;
        ts->flags[ts->n] = hs_flags_for(bp);
        ts->ids[ts->n] = i;
        ts->n++;
    }
    return WARD_OK;
}

static void free_set(struct target_set *ts)
{
    free(ts->exprs);
    free(ts->flags);
    free(ts->ids);
}

static ward_err cache_key(ward_db *db, uint8_t key[32])
{
    ward_hasher *h;
    ward_err e = ward_hasher_new(&h);
    if (e)
        return e;
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    hs_populate_platform(&plat);
    const char *ver = hs_version();
    e = ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_SHA256));
    if (!e)
        e = ward_hasher_update(h, CACHE_MAGIC, sizeof CACHE_MAGIC);
    if (!e)
        e = ward_hasher_update(h, ver, strlen(ver) + 1);
    if (!e)
        e = ward_hasher_update(h, &plat, sizeof plat);
    for (uint32_t i = 0; i < db->n_pats && !e; i++) {
        const struct body_pat *bp = &db->pats[i];
        uint32_t meta[3] = {i, bp->target, bp->flags};
        e = ward_hasher_update(h, meta, sizeof meta);
        if (!e)
            e = ward_hasher_update(h, bp->scan_re, strlen(bp->scan_re) + 1);
    }
    uint8_t out[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    if (!e)
        e = ward_hasher_end(h, out);
    ward_hasher_free(h);
    if (!e)
        memcpy(key, out[WARD_HASH_SHA256], 32);
    return e;
}

static char *cache_path(const char *dir, const uint8_t key[32])
{
    char hex[65];
    ward_hex_encode(key, 32, hex);
    size_t n = strlen(dir) + 80;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s.hsdb", dir, hex);
    return p;
}

/*
 * Cache file: magic, pattern count, the flags of every pattern after triage,
 * then per target: target, size, serialized database.
 */
static bool cache_load(ward_db *db, const char *path)
{
    ward_buf b;
    ward_buf_init(&b, 1ull << 32);
    if (ward_file_read_all(path, &b, NULL)) {
        ward_buf_free(&b);
        return false;
    }
    const uint8_t *p = b.data, *end = b.data + b.len;
    bool ok = false;
    uint32_t n;
    hs_database_t *dbs[WARD_TARGET_COUNT] = {0};
    if (b.len < 12 || memcmp(p, CACHE_MAGIC, 8) != 0)
        goto out;
    memcpy(&n, p + 8, 4);
    p += 12;
    if (n != db->n_pats || (size_t)(end - p) < n)
        goto out;
    const uint8_t *flags = p;
    p += n;
    while (p < end) {
        uint32_t t;
        uint64_t size;
        if ((size_t)(end - p) < 12)
            goto out;
        memcpy(&t, p, 4);
        memcpy(&size, p + 4, 8);
        p += 12;
        if (t >= WARD_TARGET_COUNT || dbs[t] || size > (size_t)(end - p))
            goto out;
        if (hs_deserialize_database((const char *)p, size, &dbs[t]) != HS_SUCCESS)
            goto out;
        p += size;
    }
    for (uint32_t i = 0; i < n; i++)
        db->pats[i].flags = flags[i];
    memcpy(db->hs, dbs, sizeof dbs);
    ok = true;
out:
    if (!ok)
        for (int t = 0; t < WARD_TARGET_COUNT; t++)
            hs_free_database(dbs[t]);
    ward_buf_free(&b);
    return ok;
}

static void cache_store(ward_db *db, const char *dir, const char *path)
{
    ward_buf b;
    ward_buf_init(&b, 1ull << 32);
    uint32_t n = db->n_pats;
    bool ok = !ward_buf_append(&b, CACHE_MAGIC, 8) && !ward_buf_append(&b, &n, 4);
    for (uint32_t i = 0; i < n && ok; i++)
        ok = !ward_buf_putc(&b, db->pats[i].flags);
    for (uint32_t t = 0; t < WARD_TARGET_COUNT && ok; t++) {
        if (!db->hs[t])
            continue;
        char *bytes = NULL;
        size_t size = 0;
        if (hs_serialize_database(db->hs[t], &bytes, &size) != HS_SUCCESS) {
            ok = false;
            break;
        }
        uint64_t sz = size;
        ok = !ward_buf_append(&b, &t, 4) && !ward_buf_append(&b, &sz, 8) &&
             !ward_buf_append(&b, bytes, size);
        free(bytes);
    }
    /* A cache that cannot be written only costs the next start a compile. */
    if (ok && !ward_mkdir_p(dir, 0755, NULL))
        (void)!ward_file_write_atomic(path, b.data, b.len, 0644, NULL);
    ward_buf_free(&b);
}

static ward_err compile_target(ward_db *db, unsigned t, struct ward_diag *diag)
{
    struct target_set ts;
    ward_err e = collect(db, t, &ts);
    if (e || ts.n == 0) {
        free_set(&ts);
        return e ? ward_diag_set(diag, e, "out of memory") : WARD_OK;
    }
    bool triaged = false;
    for (;;) {
        hs_compile_error_t *ce = NULL;
        hs_error_t r = hs_compile_multi(ts.exprs, ts.flags, ts.ids, ts.n, HS_MODE_STREAM, NULL,
                                        &db->hs[t], &ce);
        if (r == HS_SUCCESS) {
            hs_free_compile_error(ce);
            break;
        }
        int bad = ce ? ce->expression : -1;
        char msg[200];
        snprintf(msg, sizeof msg, "%s", ce && ce->message ? ce->message : "unknown");
        hs_free_compile_error(ce);
        if (bad < 0 || (unsigned)bad >= ts.n) {
            free_set(&ts);
            return ward_diag_set(diag, WARD_ERR_INTERNAL,
                                 "cannot compile body signatures for target %u: %s", t, msg);
        }
        /*
         * The first failure: check every pattern on its own (syntax and
         * support, cheap), so that a database with many unusual patterns
         * costs one more compile, not one per pattern. Later failures (a
         * pattern too large for the set) demote that one pattern.
         */
        unsigned check_from = triaged ? (unsigned)bad : 0;
        unsigned check_to = triaged ? (unsigned)bad + 1 : ts.n;
        triaged = true;
        for (unsigned i = check_from; i < check_to; i++) {
            struct body_pat *bp = &db->pats[ts.ids[i]];
            if (i != (unsigned)bad && expression_ok(bp))
                continue;
            demote(bp);
            ts.flags[i] = hs_flags_for(bp);
        }
        unsigned k = 0;
        for (unsigned i = 0; i < ts.n; i++) {
            if (db->pats[ts.ids[i]].flags & BP_NEVER)
                continue;
            ts.exprs[k] = ts.exprs[i];
            ts.flags[k] = ts.flags[i];
            ts.ids[k] = ts.ids[i];
            k++;
        }
        ts.n = k;
        if (ts.n == 0)
            break;
    }
    free_set(&ts);
    return WARD_OK;
}

ward_err ward_db_compile(ward_db *db, const struct ward_db_opts *opts, struct ward_diag *diag)
{
    ward_err e;
    uint8_t key[32];
    char *path = NULL;
    if (opts->cache_dir && *opts->cache_dir && !cache_key(db, key))
        path = cache_path(opts->cache_dir, key);
    if (path && cache_load(db, path)) {
        db->stats.compile_cached = true;
    } else {
        for (unsigned t = 0; t < WARD_TARGET_COUNT; t++)
            if ((e = compile_target(db, t, diag))) {
                free(path);
                return e;
            }
        if (path)
            cache_store(db, opts->cache_dir, path);
    }
    free(path);
    for (uint32_t i = 0; i < db->n_pats; i++) {
        struct body_pat *bp = &db->pats[i];
        free(bp->scan_re);
        bp->scan_re = NULL;
        if (bp->flags & BP_NEVER) {
            if (bp->flags & BP_UNCOMPILED)
                db->stats.uncompiled_patterns++;
            continue;
        }
        db->stats.body_patterns++;
        if (bp->flags & BP_PREFILTER)
            db->stats.prefilter_patterns++;
    }
    return WARD_OK;
}
