/* match.c - per-thread matching of object bytes: Vectorscan streams, hashes,
 * PCRE2 confirmations and logical signature evaluation. */
#include "engine/match.h"

#include <hs/hs.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/db_int.h"
#include "engine/parts.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/buf.h"
#include "util/file.h"

/* Confirmation reads larger than this are mapped instead of copied. */
#define WINDOW_COPY_MAX (64u << 20)

struct ward_matcher;

/* What a Vectorscan callback needs: the matcher and the unit it scans with. */
struct unit_ctx {
    struct ward_matcher *m;
    const struct db_unit *du;
};

struct ward_matcher {
    ward_db *db;
    hs_scratch_t *scratch;
    /* one reusable stream per unit and target */
    hs_stream_t *streams[WARD_MAX_UNITS][WARD_TARGET_COUNT];
    struct unit_ctx uctx[WARD_MAX_UNITS];
    struct {
        uint8_t unit, target;
    } active[2 * WARD_MAX_UNITS];
    unsigned n_active;
    ward_hasher *hasher;
    struct ward_match_opts o;
    unsigned detect_algs, allow_algs;
    uint64_t fed;
    bool halted; /* Vectorscan was told to stop */
    bool hs_failed;

    const char *names[WARD_MATCH_MAX_HITS];
    unsigned n_names;

    uint32_t *cands;
    uint32_t n_cands, cap_cands;
    uint8_t *cand_seen; /* bit per body pattern */

    uint32_t *counts;     /* per ldb subsignature, indexed by first_sub + i */
    uint64_t *last_start; /* per ldb subsignature: the start last counted, or UINT64_MAX */
    struct ward_parts *parts; /* order and gaps of split signatures */
    uint32_t *touched;    /* ldb indexes with a count */
    uint32_t n_touched;
    uint8_t *ldb_seen;    /* bit per ldb */

    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    ward_buf window;
};

static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;

static bool bit_test_set(uint8_t *bits, uint32_t i)
{
    uint8_t m = (uint8_t)(1u << (i & 7));
    bool was = bits[i >> 3] & m;
    bits[i >> 3] |= m;
    return was;
}

bool ward_db_has_target(const ward_db *db, enum ward_target t)
{
    for (unsigned u = 0; t < WARD_TARGET_COUNT && u < db->n_units; u++)
        if (db->units[u].u->hs[t])
            return true;
    return false;
}

ward_db *ward_matcher_db(const ward_matcher *m)
{
    return m->db;
}

ward_err ward_matcher_new(ward_db *db, ward_matcher **out)
{
    ward_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return WARD_ERR_NOMEM;
    m->db = db;
    ward_db_ref(db);
    ward_buf_init(&m->window, WINDOW_COPY_MAX);
    ward_err e = ward_hasher_new(&m->hasher);
    for (unsigned u = 0; u < db->n_units; u++) {
        m->uctx[u].m = m;
        m->uctx[u].du = &db->units[u];
        for (unsigned t = 0; t < WARD_TARGET_COUNT && !e; t++) {
            hs_database_t *hs = db->units[u].u->hs[t];
            if (!hs)
                continue;
            if (hs_alloc_scratch(hs, &m->scratch) != HS_SUCCESS ||
                hs_open_stream(hs, 0, &m->streams[u][t]) != HS_SUCCESS)
                e = WARD_ERR_NOMEM;
        }
    }
    if (!e) {
        m->cand_seen = calloc(db->n_pats / 8 + 1, 1);
        m->counts = calloc(db->max_subs_total + 1, sizeof *m->counts);
        m->last_start = malloc((db->max_subs_total + 1) * sizeof *m->last_start);
        if (m->last_start)
            memset(m->last_start, 0xff, (db->max_subs_total + 1) * sizeof *m->last_start);
        m->touched = calloc(db->n_ldbs + 1, sizeof *m->touched);
        m->ldb_seen = calloc(db->n_ldbs / 8 + 1, 1);
        m->md = pcre2_match_data_create(1, NULL);
        m->mctx = pcre2_match_context_create(NULL);
        m->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
        if (!e)
            e = ward_parts_new(&m->parts);
        if (!m->cand_seen || !m->counts || !m->last_start || !m->touched || !m->ldb_seen ||
            !m->md || !m->mctx || !m->parts ||
            !m->jstack)
            e = WARD_ERR_NOMEM;
        else
            pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
    }
    if (e) {
        ward_matcher_free(m);
        return e;
    }
    *out = m;
    return WARD_OK;
}

void ward_matcher_free(ward_matcher *m)
{
    if (!m)
        return;
    for (unsigned u = 0; u < WARD_MAX_UNITS; u++)
        for (unsigned t = 0; t < WARD_TARGET_COUNT; t++)
            if (m->streams[u][t])
                hs_close_stream(m->streams[u][t], m->scratch, NULL, NULL);
    hs_free_scratch(m->scratch);
    ward_hasher_free(m->hasher);
    free(m->cands);
    free(m->cand_seen);
    free(m->counts);
    free(m->touched);
    free(m->ldb_seen);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jstack);
    ward_buf_free(&m->window);
    ward_parts_free(m->parts);
    free(m->last_start);
    ward_db_unref(m->db);
    free(m);
}

static void add_name(ward_matcher *m, const char *s)
{
    for (unsigned i = 0; i < m->n_names; i++)
        if (m->names[i] == s)
            return;
    if (m->n_names < WARD_MATCH_MAX_HITS)
        m->names[m->n_names++] = s;
}

static bool want_more(const ward_matcher *m)
{
    return m->o.all_matches || m->n_names == 0;
}

static void touch_ldb(ward_matcher *m, uint32_t ldb)
{
    if (!bit_test_set(m->ldb_seen, ldb))
        m->touched[m->n_touched++] = ldb;
}

static void add_candidate(ward_matcher *m, uint32_t pat)
{
    const struct body_pat *bp = &m->db->pats[pat];
    if (bit_test_set(m->cand_seen, pat))
        return;
    if (m->n_cands == m->cap_cands) {
        uint32_t cap = m->cap_cands ? m->cap_cands * 2 : 64;
        uint32_t *q = realloc(m->cands, cap * sizeof *q);
        if (!q)
            return; /* an unconfirmed candidate is simply dropped */
        m->cands = q;
        m->cap_cands = cap;
    }
    m->cands[m->n_cands++] = pat;
    if (bp->subsig != WARD_NO_SUBSIG)
        touch_ldb(m, bp->owner);
}

/* A pattern matched for certain; `start` is where, or UINT64_MAX if unknown. */
static int matched(ward_matcher *m, const struct body_pat *bp, uint64_t start, uint64_t end,
                   bool split)
{
    if (bp->subsig == WARD_NO_SUBSIG) {
        add_name(m, m->db->ndb_names[bp->owner]);
        if (!m->o.all_matches) {
            m->halted = true;
            return 1;
        }
        return 0;
    }
    const struct ldb_sig *l = &m->db->ldbs[bp->owner];
    uint32_t k = l->first_sub + bp->subsig;
    touch_ldb(m, bp->owner);
    /*
     * libclamav counts a subsignature once per start offset greater than the
     * last one counted, and a split one once per completed last part.
     */
    if (!split) {
        uint64_t key = start != UINT64_MAX ? start : end;
        if (m->last_start[k] != UINT64_MAX && key <= m->last_start[k])
            return 0;
        m->last_start[k] = key;
    }
    m->counts[k]++;
    return 0;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)flags;
    const struct unit_ctx *uc = ctx;
    ward_matcher *m = uc->m;
    const ward_db *db = m->db;
    const struct db_unit *du = uc->du;
    if (id >= WARD_PART_ID) {
        uint32_t part = id - WARD_PART_ID;
        uint32_t pat = du->u->parts[part].pat;
        if (du->map && (pat = du->map[pat]) == WARD_NO_PAT)
            return 0; /* a file this database no longer has */
        enum ward_parts_result r =
            ward_parts_hit(m->parts, du->u->parts, part, pat, db->pats[pat].n_parts, to);
        if (r == WARD_PARTS_NONE)
            return 0;
        if (r == WARD_PARTS_POSSIBLE || (db->pats[pat].flags & BP_VERIFY)) {
            add_candidate(m, pat);
            return 0;
        }
        return matched(m, &db->pats[pat], UINT64_MAX, to, true);
    }
    if (du->map && (id = du->map[id]) == WARD_NO_PAT)
        return 0;
    const struct body_pat *bp = &db->pats[id];
    if (bp->flags & BP_VERIFY) {
        add_candidate(m, id);
        return 0;
    }
    uint64_t start = UINT64_MAX;
    if (bp->flags & BP_SOM)
        start = from;
    else if (bp->min_len == bp->max_len && to >= bp->min_len)
        start = to - bp->min_len;
    return matched(m, bp, start, to, false);
}

ward_err ward_match_begin(ward_matcher *m, const struct ward_match_opts *opts)
{
    ward_db *db = m->db;
    m->o = *opts;
    m->fed = 0;
    m->halted = false;
    m->hs_failed = false;
    m->n_names = 0;
    m->n_active = 0;
    for (unsigned u = 0; u < db->n_units; u++) {
        if (m->streams[u][WARD_TARGET_ANY])
            m->active[m->n_active].unit = (uint8_t)u,
            m->active[m->n_active++].target = WARD_TARGET_ANY;
        if (opts->target != WARD_TARGET_ANY && opts->target < WARD_TARGET_COUNT &&
            m->streams[u][opts->target])
            m->active[m->n_active].unit = (uint8_t)u,
            m->active[m->n_active++].target = (uint8_t)opts->target;
    }
    m->detect_algs = m->allow_algs = 0;
    for (uint32_t i = 0; i < db->n_segs; i++) {
        m->detect_algs |= ward_hashidx_algs_for_size(&db->segs[i]->hashes, opts->size);
        m->allow_algs |= ward_hashidx_algs_for_size(&db->segs[i]->allow, opts->size);
    }
    return ward_hasher_begin(m->hasher, m->detect_algs | m->allow_algs | opts->extra_hashes);
}

ward_err ward_match_feed(ward_matcher *m, const uint8_t *p, size_t n, bool *done)
{
    m->fed += n;
    if (ward_hasher_mask(m->hasher)) {
        ward_err e = ward_hasher_update(m->hasher, p, n);
        if (e)
            return e;
    }
    for (unsigned i = 0; i < m->n_active && !m->halted; i++) {
        unsigned u = m->active[i].unit, t = m->active[i].target;
        /* Vectorscan takes 32-bit lengths. */
        for (size_t off = 0; off < n && !m->halted;) {
            unsigned len = n - off > (1u << 30) ? (1u << 30) : (unsigned)(n - off);
            hs_error_t r = hs_scan_stream(m->streams[u][t], (const char *)p + off, len, 0,
                                          m->scratch, on_match, &m->uctx[u]);
            if (r != HS_SUCCESS && r != HS_SCAN_TERMINATED) {
                m->hs_failed = true;
                return WARD_ERR_INTERNAL;
            }
            off += len;
        }
    }
    *done = m->halted && !(m->allow_algs | m->o.extra_hashes);
    return WARD_OK;
}

/* ---- confirmation with PCRE2 ------------------------------------------- */

/* The exact form of pattern `pat`, written and compiled on first use. */
static pcre2_code *exact_code(ward_db *db, uint32_t pat)
{
    struct body_pat *bp = &db->pats[pat];
    pcre2_code *c = __atomic_load_n(&bp->exact, __ATOMIC_ACQUIRE);
    if (c)
        return c;
    pthread_mutex_lock(&jit_lock);
    c = bp->exact;
    if (!c) {
        ward_buf re;
        ward_buf_init(&re, WARD_SIG_MAX_REGEX + 256);
        if (ward_pat_emit_forms(bp, NULL, &re) == WARD_OK) {
            int err;
            PCRE2_SIZE off;
            uint32_t opts = PCRE2_DOTALL | ((bp->flags & BP_NOCASE) ? PCRE2_CASELESS : 0);
            c = pcre2_compile((PCRE2_SPTR)ward_buf_str(&re), re.len, opts, &err, &off, NULL);
        }
        ward_buf_free(&re);
        if (c) {
            pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
            __atomic_store_n(&bp->exact, c, __ATOMIC_RELEASE);
        } else if (!(bp->flags & BP_UNCOMPILED)) {
            /* said once: such a signature can never be confirmed */
            bp->flags |= BP_UNCOMPILED;
            ward_log(WARD_LOG_WARNING, "signature pattern %u (%.60s) cannot be confirmed: "
                                       "its exact form does not compile", pat, bp->src);
        }
    }
    pthread_mutex_unlock(&jit_lock);
    return c;
}

static void jit_pcre_sub(struct pcre_sub *ps)
{
    /* JIT compiling is not thread-safe on a shared code object: once, under the lock. */
    if (__atomic_load_n(&ps->flags, __ATOMIC_ACQUIRE) & 0x80)
        return;
    pthread_mutex_lock(&jit_lock);
    if (!(ps->flags & 0x80)) {
        pcre2_jit_compile(ps->code, PCRE2_JIT_COMPLETE);
        __atomic_store_n(&ps->flags, (uint8_t)(ps->flags | 0x80), __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&jit_lock);
}

/* Bytes [start, end) of the object; *unmap is set when the caller must munmap. */
static const uint8_t *read_range(ward_matcher *m, const struct ward_src *src, uint64_t start,
                                 uint64_t end, void **unmap, size_t *unmap_len)
{
    *unmap = NULL;
    if (end > src->size)
        end = src->size;
    if (start >= end)
        return (const uint8_t *)"";
    if (src->mem)
        return src->mem + start;
    size_t len = (size_t)(end - start);
    if (len <= WINDOW_COPY_MAX) {
        ward_buf_reset(&m->window);
        if (ward_buf_reserve(&m->window, len))
            return NULL;
        ssize_t got = ward_pread_full(src->fd, m->window.data, len, (off_t)start);
        if (got != (ssize_t)len)
            return NULL;
        return m->window.data;
    }
    /* Rare: a confirmation over a huge range. Map the whole file. */
    void *p = mmap(NULL, (size_t)src->size, PROT_READ, MAP_PRIVATE, src->fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    *unmap = p;
    *unmap_len = (size_t)src->size;
    return (const uint8_t *)p + start;
}

/*
 * Count matches of an exact pattern whose start lies in [lo, hi], each start
 * counted once (ClamAV counts distinct start offsets). Stops at `limit`.
 */
static uint32_t confirm(ward_matcher *m, uint32_t pat, const struct ward_src *src,
                        uint64_t lo, uint64_t hi, uint32_t limit)
{
    struct body_pat *bp = &m->db->pats[pat];
    pcre2_code *code = exact_code(m->db, pat);
    if (!code || lo > src->size)
        return 0;
    /* Room for look-behind before and the match plus look-ahead after. */
    uint64_t base = lo > 40 ? lo - 40 : 0;
    uint64_t end = bp->max_len == WARD_PAT_INF ? src->size : hi + bp->max_len + 4;
    void *map;
    size_t map_len = 0;
    const uint8_t *p = read_range(m, src, base, end, &map, &map_len);
    if (!p)
        return 0;
    uint64_t stop = end > src->size ? src->size : end;
    size_t len = (size_t)(stop - base);
    uint32_t n = 0;
    /*
     * \A and \z must mean the object's ends: \A cannot match at a non-zero
     * start offset, and the subject stops short of the object's end only
     * beyond the reach of any match and its look-ahead.
     */
    for (uint64_t from = lo; from <= hi && n < limit;) {
        int r = pcre2_match(code, p, len, (PCRE2_SIZE)(from - base), 0, m->md, m->mctx);
        if (r < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        uint64_t start = base + ov[0];
        if (start > hi)
            break;
        n++;
        from = start + 1;
    }
    if (map)
        munmap(map, map_len);
    return n;
}

static void window_for(const struct body_pat *bp, uint64_t size, bool *ok, uint64_t *lo,
                       uint64_t *hi)
{
    *ok = true;
    switch (bp->off_kind) {
    case WARD_OFF_ABS:
        *lo = bp->off;
        *hi = (uint64_t)bp->off + bp->shift;
        break;
    case WARD_OFF_EOF:
        if (bp->off > size) {
            *ok = false;
            return;
        }
        *lo = size - bp->off;
        *hi = *lo + bp->shift;
        break;
    default:
        *lo = 0;
        *hi = size;
    }
    if (*lo + bp->min_len > size)
        *ok = false;
}

static void confirm_candidates(ward_matcher *m, const struct ward_src *src)
{
    for (uint32_t i = 0; i < m->n_cands && want_more(m); i++) {
        struct body_pat *bp = &m->db->pats[m->cands[i]];
        bool ok;
        uint64_t lo, hi;
        window_for(bp, src->size, &ok, &lo, &hi);
        if (!ok)
            continue;
        bool ndb = bp->subsig == WARD_NO_SUBSIG;
        uint32_t n = confirm(m, m->cands[i], src, lo, hi, ndb ? 1 : UINT32_MAX);
        if (!n)
            continue;
        if (ndb)
            add_name(m, m->db->ndb_names[bp->owner]);
        else
            m->counts[m->db->ldbs[bp->owner].first_sub + bp->subsig] += n;
    }
}

/* Run a PCRE subsignature over the object; returns its match count. */
static uint32_t run_pcre_sub(ward_matcher *m, struct pcre_sub *ps, const struct ward_src *src)
{
    jit_pcre_sub(ps);
    uint64_t lo = 0, hi = src->size, size = src->size;
    if (ps->off_kind == WARD_OFF_ABS) {
        lo = ps->off;
        hi = (uint64_t)ps->off + ps->shift;
    } else if (ps->off_kind == WARD_OFF_EOF) {
        if (ps->off > size)
            return 0;
        lo = size - ps->off;
        hi = lo + ps->shift;
    }
    if (lo > size)
        return 0;
    uint64_t end = size;
    if (ps->off_kind != WARD_OFF_ANY && (ps->flags & PCRE_ENCOMPASS) && ps->shift)
        end = hi < size ? hi : size;
    void *map;
    size_t map_len = 0;
    const uint8_t *p = read_range(m, src, 0, end, &map, &map_len);
    if (!p)
        return 0;
    uint32_t opts = 0, n = 0;
    if (ps->off_kind != WARD_OFF_ANY && !ps->shift && !(ps->flags & PCRE_ROLLING))
        opts |= PCRE2_ANCHORED;
    uint64_t from = lo;
    for (;;) {
        int r = pcre2_match(ps->code, p, (size_t)end, (PCRE2_SIZE)from, opts, m->md, m->mctx);
        if (r < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        if (ps->off_kind != WARD_OFF_ANY && ps->shift && ov[0] > hi)
            break;
        n++;
        if (!(ps->flags & PCRE_GLOBAL))
            break;
        from = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        if (from > end)
            break;
    }
    if (map)
        munmap(map, map_len);
    return n;
}

static void eval_ldbs(ward_matcher *m, const struct ward_src *src)
{
    ward_db *db = m->db;
    /* Signatures whose logic holds with no match apply to every object of their target. */
    for (uint32_t i = 0; i < db->n_zero_true; i++) {
        uint32_t k = db->zero_true[i];
        uint8_t t = db->ldbs[k].target;
        if (t == WARD_TARGET_ANY || t == m->o.target)
            touch_ldb(m, k);
    }
    for (uint32_t i = 0; i < m->n_touched && want_more(m); i++) {
        const struct ldb_sig *l = &db->ldbs[m->touched[i]];
        if (src->size < l->size_min || src->size > l->size_max)
            continue;
        if (l->container && (m->o.top_level || l->container - 1 != (int)m->o.parent))
            continue;
        uint32_t *counts = m->counts + l->first_sub;
        if (l->has_pcre) {
            for (unsigned k = 0; k < l->n_subs; k++) {
                const struct ldb_sub *s = &db->ldb_subs[l->first_sub + k];
                if (s->kind != SUB_PCRE)
                    continue;
                struct pcre_sub *ps = &db->pcres[s->ref];
                if (ward_lexpr_eval(&db->exprs, ps->trigger, counts))
                    counts[k] = run_pcre_sub(m, ps, src);
            }
        }
        if (ward_lexpr_eval(&db->exprs, l->expr, counts))
            add_name(m, db->ldb_names[m->touched[i]]);
    }
}

static bool on_allow_list(const ward_matcher *m, const struct ward_match_result *res)
{
    const ward_db *db = m->db;
    for (int a = 0; a < WARD_HASH_COUNT; a++) {
        if (!(m->allow_algs & WARD_HASH_BIT(a)))
            continue;
        for (uint32_t i = 0; i < db->n_segs; i++) {
            uint32_t dummy;
            if (ward_hashidx_lookup(&db->segs[i]->allow, (enum ward_hash_alg)a,
                                    res->digests[a], m->o.size, &dummy))
                return true;
        }
    }
    return false;
}

static void reset_object(ward_matcher *m)
{
    ward_db *db = m->db;
    for (uint32_t i = 0; i < m->n_touched; i++) {
        const struct ldb_sig *l = &db->ldbs[m->touched[i]];
        memset(m->counts + l->first_sub, 0, l->n_subs * sizeof *m->counts);
        memset(m->last_start + l->first_sub, 0xff, l->n_subs * sizeof *m->last_start);
        m->ldb_seen[m->touched[i] >> 3] = 0;
    }
    m->n_touched = 0;
    for (uint32_t i = 0; i < m->n_cands; i++)
        m->cand_seen[m->cands[i] >> 3] = 0;
    m->n_cands = 0;
    ward_parts_reset(m->parts);
}

static void flush_streams(ward_matcher *m, bool report)
{
    for (unsigned i = 0; i < m->n_active; i++) {
        unsigned u = m->active[i].unit, t = m->active[i].target;
        /* Resetting reports end-of-data matches (patterns ending in \z) first. */
        hs_reset_stream(m->streams[u][t], 0, m->scratch, report ? on_match : NULL,
                        &m->uctx[u]);
    }
}

void ward_match_abort(ward_matcher *m)
{
    flush_streams(m, false);
    uint8_t tmp[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    (void)!ward_hasher_end(m->hasher, tmp);
    reset_object(m);
}

ward_err ward_match_end(ward_matcher *m, const struct ward_src *src,
                        struct ward_match_result *res)
{
    ward_db *db = m->db;
    flush_streams(m, !m->halted);
    memset(res, 0, sizeof res->names);
    res->n_names = 0;
    res->allowed = false;
    res->hash_mask = ward_hasher_mask(m->hasher);
    ward_err e = ward_hasher_end(m->hasher, res->digests);
    if (e) {
        reset_object(m);
        return e;
    }
    bool complete = m->fed == m->o.size;
    if (complete && m->allow_algs && on_allow_list(m, res)) {
        res->allowed = true;
        reset_object(m);
        return WARD_OK;
    }
    if (complete && m->detect_algs && want_more(m)) {
        /* per algorithm, the first file (in load order) with the digest names it */
        for (int a = 0; a < WARD_HASH_COUNT && want_more(m); a++) {
            if (!(m->detect_algs & WARD_HASH_BIT(a)))
                continue;
            for (uint32_t i = 0; i < db->n_segs; i++) {
                const ward_seg *s = db->segs[i];
                uint32_t name;
                if (ward_hashidx_lookup(&s->hashes, (enum ward_hash_alg)a, res->digests[a],
                                        m->o.size, &name)) {
                    add_name(m, ward_strpool_get(&s->names, name));
                    break;
                }
            }
        }
    }
    if (want_more(m) && !m->halted)
        confirm_candidates(m, src);
    if (want_more(m) && !m->halted)
        eval_ldbs(m, src);
    reset_object(m);
    memcpy(res->names, m->names, m->n_names * sizeof *m->names);
    res->n_names = m->n_names;
    return m->hs_failed ? WARD_ERR_INTERNAL : WARD_OK;
}
