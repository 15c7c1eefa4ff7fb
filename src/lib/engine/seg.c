/*
 * seg.c - segments: what one source file loaded into (see db_int.h).
 *
 * A segment is filled by the loaders, finished once (indexes sealed, spare
 * capacity given back, the key of its patterns computed), and from then on
 * only read, by any number of databases and threads.
 */
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_int.h"
#include "util/hash.h"

ward_seg *ward_seg_new(void)
{
    ward_seg *seg = calloc(1, sizeof *seg);
    if (!seg)
        return NULL;
    seg->refs = 1;
    ward_strpool_init(&seg->names);
    ward_hashidx_init(&seg->hashes);
    ward_hashidx_init(&seg->allow);
    ward_lexpr_pool_init(&seg->exprs);
    return seg;
}

static void seg_free(ward_seg *seg)
{
    free(seg->path);
    ward_strpool_free(&seg->names);
    ward_hashidx_free(&seg->hashes);
    ward_hashidx_free(&seg->allow);
    for (uint32_t i = 0; i < seg->n_pats; i++) {
        free(seg->pats[i].src);
        pcre2_code_free(seg->pats[i].exact);
    }
    free(seg->pats);
    free(seg->ndbs);
    free(seg->ldbs);
    free(seg->ldb_subs);
    for (uint32_t i = 0; i < seg->n_pcres; i++) {
        free(seg->pcres[i].re);
        pcre2_code_free(seg->pcres[i].code);
    }
    free(seg->pcres);
    ward_lexpr_pool_free(&seg->exprs);
    free(seg->zero_true);
    for (size_t i = 0; i < seg->n_ignores; i++)
        free(seg->ignores[i]);
    free(seg->ignores);
    free(seg);
}

void ward_seg_ref(ward_seg *seg)
{
    __atomic_add_fetch(&seg->refs, 1, __ATOMIC_RELAXED);
}

void ward_seg_unref(ward_seg *seg)
{
    if (seg && __atomic_sub_fetch(&seg->refs, 1, __ATOMIC_ACQ_REL) == 0)
        seg_free(seg);
}

/* Give back what growing by doubling left unused: segments live long. */
static void shrink(void **p, size_t n, size_t size)
{
    if (!*p || !n)
        return;
    void *q = realloc(*p, n * size);
    if (q)
        *p = q;
}

/*
 * Everything compiling a pattern depends on, so that two segments with the
 * same key compile to the same unit whatever else (hashes, names) differs.
 */
static void pattern_key(const ward_seg *seg, uint8_t out[32])
{
    ward_digest d;
    ward_digest_init(&d);
    for (uint32_t i = 0; i < seg->n_pats; i++) {
        const struct body_pat *bp = &seg->pats[i];
        struct {
            uint32_t off, shift;
            uint8_t target, off_kind, mods, flags, ldb, pad[3];
        } k;
        memset(&k, 0, sizeof k);
        k.off = bp->off;
        k.shift = bp->shift;
        k.target = bp->target;
        k.off_kind = bp->off_kind;
        k.mods = bp->mods;
        k.flags = bp->flags & (BP_NOCASE | BP_NEVER);
        k.ldb = bp->subsig != WARD_NO_SUBSIG;
        ward_digest_update(&d, &k, sizeof k);
        ward_digest_update(&d, bp->src, strlen(bp->src) + 1);
    }
    uint32_t n = seg->n_pats;
    ward_digest_update(&d, &n, sizeof n);
    ward_digest_final(&d, out);
}

void ward_seg_finish(ward_seg *seg)
{
    ward_hashidx_seal(&seg->hashes);
    ward_hashidx_seal(&seg->allow);
    shrink((void **)&seg->names.data, seg->names.len, 1);
    if (seg->names.data)
        seg->names.alloc = seg->names.len;
    shrink((void **)&seg->pats, seg->n_pats, sizeof *seg->pats);
    seg->cap_pats = seg->n_pats ? seg->n_pats : seg->cap_pats;
    pattern_key(seg, seg->pat_key);
}
