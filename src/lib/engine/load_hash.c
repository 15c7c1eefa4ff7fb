/* load_hash.c - .hdb .hsb (detections), .fp .sfp (allow lists), .mdb .msb (PE sections). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_int.h"
#include "engine/lines.h"
#include "util/strutil.h"

static bool alg_for_len(size_t n, enum ward_hash_alg *alg)
{
    switch (n) {
    case 32: *alg = WARD_HASH_MD5; return true;
    case 40: *alg = WARD_HASH_SHA1; return true;
    case 64: *alg = WARD_HASH_SHA256; return true;
    default: return false;
    }
}

/* Optional MinFL and MaxFL fields; false when this engine's level is outside. */
static bool flevel_ok(struct load_ctx *lc, char **f, size_t n, size_t first, bool *bad)
{
    uint64_t v;
    *bad = false;
    if (n > first && f[first][0]) {
        if (!ward_parse_u64(f[first], &v)) {
            *bad = true;
            return false;
        }
        if (v > lc->flevel)
            return false;
    }
    if (n > first + 1 && f[first + 1][0]) {
        if (!ward_parse_u64(f[first + 1], &v)) {
            *bad = true;
            return false;
        }
        if (v < lc->flevel)
            return false;
    }
    return true;
}

ward_err ward_load_hash(struct load_ctx *lc, enum ward_sigkind kind, char *text, size_t len)
{
    struct line_iter it;
    char *line;
    size_t n;
    bool nul;
    bool section = kind == WARD_KIND_MDB || kind == WARD_KIND_MSB || kind == WARD_KIND_IMP;
    bool allow = kind == WARD_KIND_FP || kind == WARD_KIND_SFP;
    ward_hashidx *idx = allow ? &lc->seg->allow : &lc->seg->hashes;

    /* One allocation for the whole file: count its lines first. */
    size_t lines = 0;
    for (const char *p = text, *end = text + len; p < end; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    if (lc->lines_hint > lines && lc->line_base == 0)
        lines = (size_t)lc->lines_hint;
    if (!section && ward_hashidx_reserve(idx, lines))
        return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);

    line_iter_init(&it, text, len);
    while (line_iter_next(&it, &line, &n, &nul)) {
        lc->line = lc->line_base + it.lineno;
        if (nul) {
            if (ward_load_report(lc, "NUL byte in signature line"))
                return WARD_ERR_PARSE;
            continue;
        }
        if (section) {
            /* PE section hashes need the PE parser this version lacks. */
            lc->seg->stats.kind[kind].skipped++;
            continue;
        }
        char *raw = line;
        size_t raw_len = n;
        char copy[1024];
        if (raw_len < sizeof copy)
            memcpy(copy, raw, raw_len + 1);
        char *f[6];
        size_t nf = ward_str_split(line, ':', f, 6);
        enum ward_hash_alg alg;
        uint8_t digest[WARD_HASH_MAX_LEN];
        uint64_t size = 0;
        bool bad;
        if (nf < 3 || nf > 5) {
            if (ward_load_report(lc, "expected HASH:SIZE:NAME[:MINFL[:MAXFL]]"))
                return WARD_ERR_PARSE;
            continue;
        }
        size_t hlen = strlen(f[0]);
        if (!alg_for_len(hlen, &alg) || !ward_hex_decode(f[0], hlen, digest)) {
            if (ward_load_report(lc, "malformed hash '%.80s'", f[0]))
                return WARD_ERR_PARSE;
            continue;
        }
        if (strcmp(f[1], "*") == 0) {
            uint64_t minfl = 0;
            if (nf < 4 || !ward_parse_u64(f[3], &minfl) || minfl < 73) {
                if (ward_load_report(lc, "a wildcard size needs a minimum FLEVEL of 73 or more"))
                    return WARD_ERR_PARSE;
                continue;
            }
            size = WARD_HASH_ANY_SIZE;
        } else if (!ward_parse_u64(f[1], &size) || size == 0 || size >= (1ull << 32)) {
            if (ward_load_report(lc, "malformed size '%.40s'", f[1]))
                return WARD_ERR_PARSE;
            continue;
        }
        if (!flevel_ok(lc, f, nf, 3, &bad)) {
            if (bad) {
                if (ward_load_report(lc, "malformed functionality level"))
                    return WARD_ERR_PARSE;
            } else {
                lc->seg->stats.flevel_skipped++;
            }
            continue;
        }
        size_t name_len = strlen(f[2]);
        if (name_len == 0) {
            if (ward_load_report(lc, "empty signature name"))
                return WARD_ERR_PARSE;
            continue;
        }
        uint32_t name = 0;
        if (!allow) {
            if (ward_db_ignored(lc, f[2], name_len, raw_len < sizeof copy ? copy : "",
                                raw_len < sizeof copy ? raw_len : 0)) {
                lc->seg->stats.ignored++;
                continue;
            }
            ward_err e = ward_db_add_name(lc, f[2], name_len, &name);
            if (e)
                return e;
        }
        ward_err e = ward_hashidx_add(idx, alg, digest, size, name);
        if (e)
            return ward_diag_set(lc->diag, e, "%s: out of memory", lc->file);
        lc->seg->stats.kind[kind].loaded++;
    }
    lc->line = 0;
    return WARD_OK;
}

ward_err ward_load_ign(struct load_ctx *lc, char *text, size_t len)
{
    struct line_iter it;
    char *line;
    size_t n;
    bool nul;
    ward_seg *seg = lc->seg;
    line_iter_init(&it, text, len);
    while (line_iter_next(&it, &line, &n, &nul)) {
        lc->line = lc->line_base + it.lineno;
        if (nul)
            continue;
        /* Legacy .ign lines are "x:y:Name"; .ign2 lines "Name" or "Name:md5". */
        char *f[4];
        size_t nf = ward_str_split(line, ':', f, 4);
        const char *name = f[0], *md5 = nf == 2 ? f[1] : NULL;
        if (nf >= 3)
            name = f[2];
        size_t nlen = strlen(name);
        /* A trailing ".UNOFFICIAL" on the entry is dropped, as ClamAV does. */
        if (nlen > 11 && strcmp(name + nlen - 11, ".UNOFFICIAL") == 0)
            nlen -= 11;
        if (nlen == 0)
            continue;
        if (seg->n_ignores == seg->cap_ignores) {
            size_t cap = seg->cap_ignores ? seg->cap_ignores * 2 : 64;
            char **q = realloc(seg->ignores, cap * sizeof *q);
            if (!q)
                return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
            seg->ignores = q;
            seg->cap_ignores = cap;
        }
        size_t total = nlen + (md5 ? strlen(md5) + 1 : 0) + 1;
        char *entry = malloc(total);
        if (!entry)
            return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
        memcpy(entry, name, nlen);
        entry[nlen] = 0;
        if (md5)
            snprintf(entry + nlen, total - nlen, ":%s", md5);
        seg->ignores[seg->n_ignores++] = entry;
        seg->stats.kind[WARD_KIND_IGN].loaded++;
    }
    lc->line = 0;
    return WARD_OK;
}
