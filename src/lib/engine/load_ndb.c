/* load_ndb.c - .ndb extended body signatures: Name:Target:Offset:Hex[:MinFL[:MaxFL]]. */
#include <stdlib.h>
#include <string.h>

#include "engine/db_int.h"
#include "engine/lines.h"
#include "util/strutil.h"

static ward_err add_ndb(ward_seg *seg, uint32_t name, uint32_t *idx)
{
    if (seg->n_ndbs == seg->cap_ndbs) {
        uint32_t cap = seg->cap_ndbs ? seg->cap_ndbs * 2 : 256;
        struct ndb_sig *q = realloc(seg->ndbs, cap * sizeof *q);
        if (!q)
            return WARD_ERR_NOMEM;
        seg->ndbs = q;
        seg->cap_ndbs = cap;
    }
    *idx = seg->n_ndbs;
    seg->ndbs[seg->n_ndbs].name = name;
    seg->ndbs[seg->n_ndbs].pat = UINT32_MAX;
    seg->n_ndbs++;
    return WARD_OK;
}

/* Is `name` in a family the engine leaves to features it does not have? */
static bool phishing_name(const char *name)
{
    return strncmp(name, "HTML.Phishing", 13) == 0 || strncmp(name, "Email.Phishing", 14) == 0;
}

ward_err ward_load_ndb(struct load_ctx *lc, char *text, size_t len)
{
    struct line_iter it;
    char *line;
    size_t n;
    bool nul;
    ward_seg *seg = lc->seg;
    struct ward_kind_stats *st = &seg->stats.kind[WARD_KIND_NDB];

    line_iter_init(&it, text, len);
    while (line_iter_next(&it, &line, &n, &nul)) {
        lc->line = lc->line_base + it.lineno;
        if (nul) {
            if (ward_load_report(lc, "NUL byte in signature line"))
                return WARD_ERR_PARSE;
            continue;
        }
        char copy[1024];
        size_t copy_len = n < sizeof copy ? n : 0;
        if (copy_len)
            memcpy(copy, line, n + 1);
        char *f[7];
        size_t nf = ward_str_split(line, ':', f, 7);
        if (nf < 4 || nf > 6) {
            if (ward_load_report(lc, "expected Name:Target:Offset:HexSignature[:MinFL[:MaxFL]]"))
                return WARD_ERR_PARSE;
            continue;
        }
        uint64_t target = 0, minfl = 0, maxfl = UINT32_MAX;
        if (strcmp(f[1], "*") != 0 && !ward_parse_u64(f[1], &target)) {
            if (ward_load_report(lc, "malformed target type '%.20s'", f[1]))
                return WARD_ERR_PARSE;
            continue;
        }
        if ((nf > 4 && f[4][0] && !ward_parse_u64(f[4], &minfl)) ||
            (nf > 5 && f[5][0] && !ward_parse_u64(f[5], &maxfl))) {
            if (ward_load_report(lc, "malformed functionality level"))
                return WARD_ERR_PARSE;
            continue;
        }
        if (minfl > lc->flevel || maxfl < lc->flevel) {
            seg->stats.flevel_skipped++;
            continue;
        }
        if (target >= WARD_TARGET_COUNT || phishing_name(f[0])) {
            st->skipped++;
            continue;
        }
        uint8_t ok;
        uint32_t off, shift;
        enum offset_result r = ward_parse_offset(f[2], &ok, &off, &shift);
        if (r == OFFSET_BAD || (r == OFFSET_UNSUPPORTED && target != WARD_TARGET_PE &&
                                target != WARD_TARGET_ELF && target != WARD_TARGET_MACHO)) {
            if (ward_load_report(lc, "invalid offset '%.64s' for target %u", f[2],
                                 (unsigned)target))
                return WARD_ERR_PARSE;
            continue;
        }
        if (r == OFFSET_UNSUPPORTED) {
            /* Entry-point and section offsets need executable parsing. */
            st->skipped++;
            continue;
        }
        size_t name_len = strlen(f[0]);
        if (ward_db_ignored(lc, f[0], name_len, copy, copy_len)) {
            seg->stats.ignored++;
            continue;
        }
        uint32_t name, idx, pat;
        ward_err e = ward_db_add_name(lc, f[0], name_len, &name);
        if (e)
            return e;
        if ((e = add_ndb(seg, name, &idx)))
            return ward_diag_set(lc->diag, e, "%s: out of memory", lc->file);
        struct ward_pattern_info info;
        e = ward_db_add_body(lc, f[3], strlen(f[3]), 0, (uint8_t)target, ok, off, shift, idx,
                             WARD_NO_SUBSIG, &pat, &info);
        if (e == WARD_ERR_UNSUPPORTED) {
            seg->n_ndbs--;
            continue;
        }
        if (e)
            return e;
        /* ClamAV's Boyer-Moore matcher (plain literals for targets 0 and 1) needs 3 bytes. */
        bool bm = info.all_static &&
                  (target == 0 || (target == 1 && ok == WARD_OFF_ABS && shift == 0));
        if (bm && info.min_len < 3) {
            seg->n_ndbs--;
            seg->n_pats--;
            free(seg->pats[pat].src);
            if (ward_load_report(lc, "signature too short"))
                return WARD_ERR_PARSE;
            continue;
        }
        seg->ndbs[idx].pat = pat;
        st->loaded++;
    }
    lc->line = 0;
    return WARD_OK;
}
