/*
 * compile.c - compile body patterns into one Vectorscan database per target
 * type, and keep the compiled form in an on-disk cache.
 *
 * What goes in: a pattern without splitting gaps as one expression (anchored
 * with \A.{n,m} when its offset allows); a pattern with `*` or `{n-m}` gaps
 * as its parts, whose order and gaps the matcher checks from the offsets
 * Vectorscan reports. Bounded repeats are what make Vectorscan databases
 * large and slow to build; parts keep them out.
 *
 * What is compiled is a unit: the patterns of a run of segments (see
 * db_int.h). Its cache key is a digest over those segments' pattern keys
 * (everything compiling depends on), this engine's build (WARD_ENGINE_ID: a
 * digest of the engine's sources), the Vectorscan version and the CPU
 * platform, so a second start with the same signatures loads the compiled
 * form in milliseconds without writing a single regex, whatever else in the
 * files changed. The cache file also holds what compiling decided: each
 * pattern's flags and the table of parts.
 *
 * Patterns Vectorscan rejects are retried whole, then in its prefilter mode
 * (an approximation whose hits are confirmed with PCRE2), and if that fails
 * too, counted as uncompiled.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/db_int.h"
#include "engine_id.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/limits.h"

#define CACHE_MAGIC "WARDHS04"

/* The patterns being compiled: copies of the segments' records, in order. */
struct cview {
    struct body_pat *pats;
    uint32_t n_pats;
    struct body_part *parts;
    uint32_t n_parts, cap_parts;
    hs_database_t *hs[WARD_TARGET_COUNT];
};

/* ---- emitting forms ------------------------------------------------------ */

static ward_err parse_pat(const struct body_pat *bp, ward_pattern **out)
{
    return ward_pattern_parse(bp->src, strlen(bp->src), bp->mods, out, NULL);
}

/* The whole pattern's Vectorscan form, anchored where the offset allows. */
static ward_err emit_whole(struct body_pat *bp, const ward_pattern *p, ward_buf *out)
{
    ward_buf scan;
    ward_buf_init(&scan, WARD_SIG_MAX_REGEX + 256);
    ward_err e = ward_pattern_emit_scan(p, &scan);
    struct ward_pattern_info info;
    ward_pattern_info(p, &info);
    bp->flags &= (uint8_t)~BP_VERIFY;
    if (!e && bp->off_kind == WARD_OFF_ABS && !info.has_left_edge &&
        (uint64_t)bp->off + bp->shift <= 65535) {
        /* "\A.{off,off+shift}": Vectorscan checks the offset itself */
        if (bp->off + bp->shift == 0)
            e = ward_buf_printf(out, "\\A%s", ward_buf_str(&scan));
        else if (bp->shift == 0)
            e = ward_buf_printf(out, "\\A.{%u}%s", bp->off, ward_buf_str(&scan));
        else
            e = ward_buf_printf(out, "\\A.{%u,%u}%s", bp->off, bp->off + bp->shift,
                                ward_buf_str(&scan));
    } else if (!e) {
        e = ward_buf_append(out, scan.data, scan.len);
        if (bp->off_kind != WARD_OFF_ANY)
            bp->flags |= BP_VERIFY;
    }
    /* a prefilter or a widened form only says "maybe" */
    if ((bp->flags & BP_PREFILTER) || info.scan_superset)
        bp->flags |= BP_VERIFY;
    ward_buf_free(&scan);
    return e;
}

ward_err ward_pat_emit_forms(const struct body_pat *bp, ward_buf *scan, ward_buf *exact)
{
    struct body_pat copy = *bp;
    ward_pattern *p;
    ward_err e = parse_pat(&copy, &p);
    if (e)
        return e;
    if (scan)
        e = emit_whole(&copy, p, scan);
    if (!e && exact)
        e = ward_pattern_emit_exact(p, exact);
    ward_pattern_free(p);
    return e;
}

static unsigned hs_flags_for(const struct body_pat *bp)
{
    unsigned f = HS_FLAG_DOTALL;
    if (bp->flags & BP_NOCASE)
        f |= HS_FLAG_CASELESS;
    if (bp->flags & BP_PREFILTER)
        f |= HS_FLAG_PREFILTER;
    else if (bp->flags & BP_SOM)
        f |= HS_FLAG_SOM_LEFTMOST;
    /* An .ndb signature or a candidate only needs its first hit. */
    if (bp->subsig == WARD_NO_SUBSIG || (bp->flags & BP_VERIFY))
        f |= HS_FLAG_SINGLEMATCH;
    return f;
}

static bool expression_width(const char *re, unsigned flags, uint32_t *mn, uint32_t *mx)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t r = hs_expression_info(re, flags, &info, &ce);
    hs_free_compile_error(ce);
    if (r != HS_SUCCESS || !info) {
        free(info);
        return false;
    }
    *mn = info->min_width;
    *mx = info->max_width == UINT_MAX ? WARD_PAT_INF : info->max_width;
    free(info);
    return true;
}

/* ---- the expression set --------------------------------------------------- */

struct expr_set {
    char **exprs;
    unsigned *flags, *ids;
    unsigned n, cap;
};

static void set_free(struct expr_set *s)
{
    for (unsigned i = 0; i < s->n; i++)
        free(s->exprs[i]);
    free(s->exprs);
    free(s->flags);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static ward_err set_add(struct expr_set *s, ward_buf *re, unsigned flags, unsigned id)
{
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 256;
        char **e = realloc(s->exprs, cap * sizeof *e);
        unsigned *f = e ? realloc(s->flags, cap * sizeof *f) : NULL;
        unsigned *d = f ? realloc(s->ids, cap * sizeof *d) : NULL;
        if (e)
            s->exprs = e;
        if (f)
            s->flags = f;
        if (!d)
            return WARD_ERR_NOMEM;
        s->ids = d;
        s->cap = cap;
    }
    if (!re->data && ward_buf_reserve(re, 0))
        return WARD_ERR_NOMEM;
    s->exprs[s->n] = (char *)ward_buf_steal(re, NULL);
    s->flags[s->n] = flags;
    s->ids[s->n] = id;
    s->n++;
    return WARD_OK;
}

static ward_err add_part(struct cview *db, const struct body_part *bp)
{
    if (db->n_parts == db->cap_parts) {
        uint32_t cap = db->cap_parts ? db->cap_parts * 2 : 256;
        struct body_part *q = realloc(db->parts, cap * sizeof *q);
        if (!q)
            return WARD_ERR_NOMEM;
        db->parts = q;
        db->cap_parts = cap;
    }
    db->parts[db->n_parts++] = *bp;
    return WARD_OK;
}

/*
 * Add pattern i's expressions: its parts when it has splitting gaps (and its
 * parts all compile alone), else its whole form.
 */
static ward_err add_pattern(struct cview *db, uint32_t i, struct expr_set *set)
{
    struct body_pat *bp = &db->pats[i];
    ward_pattern *p;
    if (parse_pat(bp, &p)) {
        bp->flags |= BP_NEVER | BP_UNCOMPILED;
        return WARD_OK;
    }
    ward_err e = WARD_OK;
    unsigned count = ward_pattern_part_count(p);
    bp->flags &= (uint8_t)~(BP_SPLIT | BP_SOM);
    if (count > 1 && !(bp->flags & (BP_WHOLE | BP_PREFILTER))) {
        uint32_t first = db->n_parts;
        bool exact = bp->off_kind == WARD_OFF_ANY;
        unsigned base_flags = HS_FLAG_DOTALL | ((bp->flags & BP_NOCASE) ? HS_FLAG_CASELESS : 0);
        struct expr_set local = {0};
        for (unsigned k = 0; k < count && !e; k++) {
            ward_buf re;
            ward_buf_init(&re, WARD_SIG_MAX_REGEX + 256);
            struct ward_pattern_part info;
            struct body_part part = {i, (uint16_t)k, 0, 0, 0, 0, 0, 0};
            e = ward_pattern_emit_part(p, k, &re, &info);
            if (!e && !expression_width(ward_buf_str(&re), base_flags, &part.min_len,
                                        &part.max_len)) {
                /* a part Vectorscan cannot take alone: compile the whole instead */
                ward_buf_free(&re);
                db->n_parts = first;
                set_free(&local);
                bp->flags |= BP_WHOLE;
                ward_pattern_free(p);
                return add_pattern(db, i, set);
            }
            part.exact = info.exact;
            part.gap_min = info.gap_min;
            part.gap_max = info.gap_max;
            exact = exact && info.exact;
            unsigned f = base_flags;
            if (!e)
                e = add_part(db, &part);
            if (!e)
                e = set_add(&local, &re, f, WARD_PART_ID + db->n_parts - 1);
            ward_buf_free(&re);
        }
        /* Part 0 before a gap with no upper bound: its first end is the best one. */
        if (!e && db->parts[first + 1].gap_max == WARD_PAT_INF)
            local.flags[0] |= HS_FLAG_SINGLEMATCH;
        for (unsigned k = 0; k < local.n && !e; k++) {
            ward_buf re;
            ward_buf_init(&re, WARD_SIG_MAX_REGEX + 256);
            e = ward_buf_puts(&re, local.exprs[k]);
            if (!e)
                e = set_add(set, &re, local.flags[k], local.ids[k]);
            ward_buf_free(&re);
        }
        set_free(&local);
        bp->flags |= BP_SPLIT;
        bp->first_part = first;
        bp->n_parts = (uint16_t)count;
        /* the matcher's gap checks are exact only for exact, fixed-length parts */
        for (unsigned k = 0; k < count; k++)
            if (db->parts[first + k].min_len != db->parts[first + k].max_len)
                exact = false;
        if (exact)
            bp->flags &= (uint8_t)~BP_VERIFY;
        else
            bp->flags |= BP_VERIFY;
        ward_pattern_free(p);
        return e;
    }
    ward_buf re;
    ward_buf_init(&re, WARD_SIG_MAX_REGEX + 512);
    e = emit_whole(bp, p, &re);
    /* An ldb count is of distinct starts: have Vectorscan report them when the
       pattern's length varies. */
    if (!e && bp->subsig != WARD_NO_SUBSIG && !(bp->flags & (BP_VERIFY | BP_PREFILTER)) &&
        bp->min_len != bp->max_len && !(bp->flags & BP_WHOLE))
        bp->flags |= BP_SOM;
    if (!e)
        e = set_add(set, &re, hs_flags_for(bp), i);
    ward_buf_free(&re);
    ward_pattern_free(p);
    return e;
}

static ward_err build_set(struct cview *db, unsigned target, struct expr_set *set)
{
    ward_err e = WARD_OK;
    for (uint32_t i = 0; i < db->n_pats && !e; i++) {
        const struct body_pat *bp = &db->pats[i];
        if (bp->target != target || (bp->flags & BP_NEVER))
            continue;
        e = add_pattern(db, i, set);
    }
    return e;
}

/* ---- units ---------------------------------------------------------------- */

void ward_unit_ref(ward_unit *u)
{
    __atomic_add_fetch(&u->refs, 1, __ATOMIC_RELAXED);
}

void ward_unit_unref(ward_unit *u)
{
    if (!u || __atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (int t = 0; t < WARD_TARGET_COUNT; t++)
        hs_free_database(u->hs[t]);
    free(u->flags);
    free(u->parts);
    free(u->spans);
    free(u);
}

void ward_unit_key(ward_seg *const *segs, size_t n, uint8_t key[32])
{
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    hs_populate_platform(&plat);
    const char *ver = hs_version();
    uint32_t level = WARD_FLEVEL;
    ward_digest d;
    ward_digest_init(&d);
    ward_digest_update(&d, CACHE_MAGIC, sizeof CACHE_MAGIC);
    ward_digest_update(&d, WARD_ENGINE_ID, sizeof WARD_ENGINE_ID);
    ward_digest_update(&d, ver, strlen(ver) + 1);
    ward_digest_update(&d, &plat, sizeof plat);
    ward_digest_update(&d, &level, sizeof level);
    for (size_t i = 0; i < n; i++) {
        ward_digest_update(&d, segs[i]->pat_key, 32);
        ward_digest_update(&d, &segs[i]->n_pats, sizeof segs[i]->n_pats);
    }
    ward_digest_final(&d, key);
}

/* A unit shell for these segments: spans and key, nothing compiled yet. */
static ward_unit *unit_new(ward_seg *const *segs, size_t n, const uint8_t key[32])
{
    ward_unit *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->refs = 1;
    memcpy(u->key, key, 32);
    u->spans = calloc(n + 1, sizeof *u->spans);
    if (!u->spans) {
        free(u);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(u->spans[i].pat_key, segs[i]->pat_key, 32);
        u->spans[i].base = u->n_pats;
        u->spans[i].n = segs[i]->n_pats;
        u->n_pats += segs[i]->n_pats;
    }
    u->n_spans = (uint32_t)n;
    return u;
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
 * Cache file: magic, pattern count, each pattern's flags, the part count and
 * the parts, then per target: target, size, serialized database.
 */
static bool cache_load(ward_unit *u, const char *path)
{
    ward_buf b;
    ward_buf_init(&b, 1ull << 32);
    if (ward_file_read_all(path, &b, NULL)) {
        ward_buf_free(&b);
        return false;
    }
    const uint8_t *p = b.data, *end = b.data + b.len;
    bool ok = false;
    uint32_t n, np;
    hs_database_t *dbs[WARD_TARGET_COUNT] = {0};
    if (b.len < 12 || memcmp(p, CACHE_MAGIC, 8) != 0)
        goto out;
    memcpy(&n, p + 8, 4);
    p += 12;
    if (n != u->n_pats || (size_t)(end - p) < (size_t)n + 4)
        goto out;
    const uint8_t *flags = p;
    p += n;
    memcpy(&np, p, 4);
    p += 4;
    if ((size_t)(end - p) / sizeof(struct body_part) < np)
        goto out;
    const uint8_t *parts = p;
    p += (size_t)np * sizeof(struct body_part);
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
    u->flags = malloc((size_t)n + 1);
    u->parts = np ? malloc((size_t)np * sizeof *u->parts) : NULL;
    if (!u->flags || (np && !u->parts))
        goto out;
    memcpy(u->flags, flags, n);
    if (np)
        memcpy(u->parts, parts, (size_t)np * sizeof *u->parts);
    u->n_parts = np;
    /* parts name their pattern and are grouped by it, first part first */
    for (uint32_t i = 0; i < np; i++) {
        const struct body_part *bp = &u->parts[i];
        if (bp->pat >= n || (bp->index > 0 && (i == 0 || u->parts[i - 1].pat != bp->pat ||
                                               u->parts[i - 1].index + 1 != bp->index)))
            goto out;
    }
    memcpy(u->hs, dbs, sizeof dbs);
    ok = true;
out:
    if (!ok) {
        for (int t = 0; t < WARD_TARGET_COUNT; t++)
            hs_free_database(dbs[t]);
        free(u->flags);
        free(u->parts);
        u->flags = NULL;
        u->parts = NULL;
        u->n_parts = 0;
    }
    ward_buf_free(&b);
    return ok;
}

static void cache_store(const ward_unit *u, const char *dir, const char *path)
{
    ward_buf b;
    ward_buf_init(&b, 1ull << 32);
    uint32_t n = u->n_pats, np = u->n_parts;
    bool ok = !ward_buf_append(&b, CACHE_MAGIC, 8) && !ward_buf_append(&b, &n, 4) &&
              (!n || !ward_buf_append(&b, u->flags, n));
    ok = ok && !ward_buf_append(&b, &np, 4) &&
         (!np || !ward_buf_append(&b, u->parts, (size_t)np * sizeof *u->parts));
    for (uint32_t t = 0; t < WARD_TARGET_COUNT && ok; t++) {
        if (!u->hs[t])
            continue;
        char *bytes = NULL;
        size_t size = 0;
        if (hs_serialize_database(u->hs[t], &bytes, &size) != HS_SUCCESS) {
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

ward_unit *ward_unit_from_cache(const char *cache_dir, const uint8_t key[32],
                                ward_seg *const *segs, size_t n)
{
    if (!cache_dir || !*cache_dir)
        return NULL;
    char *path = cache_path(cache_dir, key);
    ward_unit *u = path ? unit_new(segs, n, key) : NULL;
    if (u && !cache_load(u, path)) {
        ward_unit_unref(u);
        u = NULL;
    }
    if (u)
        u->cached = true;
    free(path);
    return u;
}

/* ---- compiling -------------------------------------------------------------- */

static bool compiles_alone(const char *re, unsigned flags)
{
    hs_database_t *d = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t r = hs_compile(re, flags, HS_MODE_STREAM, NULL, &d, &ce);
    hs_free_compile_error(ce);
    hs_free_database(d);
    return r == HS_SUCCESS;
}

/* The pattern behind a Vectorscan id. */
static struct body_pat *pat_of(struct cview *db, unsigned id)
{
    return id >= WARD_PART_ID ? &db->pats[db->parts[id - WARD_PART_ID].pat] : &db->pats[id];
}

/*
 * Make a pattern the set could not take simpler: parts become the whole
 * form, reporting starts is dropped, the whole form becomes a prefilter; as
 * a last resort the pattern is left out.
 */
static void demote(struct cview *db, struct body_pat *bp)
{
    if (bp->flags & BP_SPLIT) {
        bp->flags |= BP_WHOLE;
        return;
    }
    if (bp->flags & BP_SOM) {
        bp->flags = (uint8_t)((bp->flags & ~BP_SOM) | BP_WHOLE);
        return;
    }
    if (!(bp->flags & BP_PREFILTER)) {
        bp->flags |= BP_PREFILTER | BP_VERIFY;
        ward_buf re;
        ward_buf_init(&re, WARD_SIG_MAX_REGEX + 512);
        ward_pattern *p;
        bool ok = false;
        if (!parse_pat(bp, &p)) {
            ok = !emit_whole(bp, p, &re) && compiles_alone(ward_buf_str(&re), hs_flags_for(bp));
            bp->flags |= BP_VERIFY; /* emit_whole may have cleared it */
            ward_pattern_free(p);
        }
        ward_buf_free(&re);
        (void)db;
        if (ok)
            return;
    }
    bp->flags |= BP_NEVER | BP_UNCOMPILED;
}

static bool expression_ok(const char *re, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t r = hs_expression_info(re, flags, &info, &ce);
    hs_free_compile_error(ce);
    free(info);
    return r == HS_SUCCESS;
}

static ward_err compile_target(struct cview *db, unsigned t, struct ward_diag *diag)
{
    bool triaged = false;
    for (;;) {
        struct expr_set set = {0};
        ward_err e = build_set(db, t, &set);
        if (e) {
            set_free(&set);
            return ward_diag_set(diag, e, "out of memory");
        }
        if (set.n == 0) {
            set_free(&set);
            return WARD_OK;
        }
        hs_compile_error_t *ce = NULL;
        hs_error_t r = hs_compile_multi((const char *const *)set.exprs, set.flags, set.ids,
                                        set.n, HS_MODE_STREAM, NULL, &db->hs[t], &ce);
        if (r == HS_SUCCESS) {
            hs_free_compile_error(ce);
            set_free(&set);
            return WARD_OK;
        }
        int bad = ce ? ce->expression : -1;
        char msg[200];
        snprintf(msg, sizeof msg, "%s", ce && ce->message ? ce->message : "unknown");
        hs_free_compile_error(ce);
        if (bad < 0 || (unsigned)bad >= set.n) {
            set_free(&set);
            return ward_diag_set(diag, WARD_ERR_INTERNAL,
                                 "cannot compile body signatures for target %u: %s", t, msg);
        }
        /*
         * The first failure: check every expression on its own (cheap), so
         * a database with many unusual patterns costs one more compile, not
         * one per pattern. Later failures demote the one pattern named.
         */
        if (!triaged) {
            for (unsigned i = 0; i < set.n; i++)
                if (i == (unsigned)bad || !expression_ok(set.exprs[i], set.flags[i]))
                    demote(db, pat_of(db, set.ids[i]));
            triaged = true;
        } else {
            demote(db, pat_of(db, set.ids[bad]));
        }
        set_free(&set);
        /* the set is built again, and the parts of this target with it */
        for (uint32_t i = 0; i < db->n_pats; i++)
            if (db->pats[i].target == t)
                db->pats[i].flags &= (uint8_t)~BP_SPLIT;
        /* drop the parts this target added: they are made again */
        uint32_t k = 0;
        for (uint32_t i = 0; i < db->n_parts; i++)
            if (db->pats[db->parts[i].pat].target != t)
                db->parts[k++] = db->parts[i];
        db->n_parts = k;
    }
}

ward_err ward_unit_compile(ward_seg *const *segs, size_t n, const char *cache_dir,
                           ward_unit **out, struct ward_diag *diag)
{
    uint8_t key[32];
    ward_unit_key(segs, n, key);
    ward_unit *u = unit_new(segs, n, key);
    struct cview v = {0};
    v.pats = u ? calloc((size_t)u->n_pats + 1, sizeof *v.pats) : NULL;
    u = v.pats ? u : (ward_unit_unref(u), NULL);
    if (!u)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (segs[i]->n_pats)
            memcpy(v.pats + v.n_pats, segs[i]->pats, segs[i]->n_pats * sizeof *v.pats);
        v.n_pats += segs[i]->n_pats;
    }
    for (uint32_t i = 0; i < v.n_pats; i++)
        v.pats[i].exact = NULL; /* the copies share the segments' sources */
    ward_err e = WARD_OK;
    for (unsigned t = 0; t < WARD_TARGET_COUNT && !e; t++)
        e = compile_target(&v, t, diag);
    u->flags = malloc((size_t)v.n_pats + 1);
    if (!e && !u->flags)
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    if (e) {
        for (unsigned t = 0; t < WARD_TARGET_COUNT; t++)
            hs_free_database(v.hs[t]);
        free(v.pats);
        free(v.parts);
        ward_unit_unref(u);
        return e;
    }
    for (uint32_t i = 0; i < v.n_pats; i++)
        u->flags[i] = v.pats[i].flags;
    /* each pattern's parts are consecutive, first part first: the matcher and
       the cache rely on it (Vectorscan ids are indexes into this table) */
    u->parts = v.parts;
    u->n_parts = v.n_parts;
    memcpy(u->hs, v.hs, sizeof v.hs);
    free(v.pats);
    if (cache_dir && *cache_dir) {
        char *path = cache_path(cache_dir, key);
        if (path)
            cache_store(u, cache_dir, path);
        free(path);
    }
    *out = u;
    return WARD_OK;
}
