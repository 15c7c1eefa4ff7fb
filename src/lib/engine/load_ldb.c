/* load_ldb.c - .ldb logical signatures: Name;TargetDescription;Logic;Subsig0;... */
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_int.h"
#include "engine/lines.h"
#include "util/limits.h"
#include "util/strutil.h"

/* ClamAV's CL_TYPE names for the container types Ward recognises. */
static const struct {
    const char *name;
    enum ward_ftype type;
} cl_types[] = {
    {"CL_TYPE_ZIP", WARD_FT_ZIP},       {"CL_TYPE_RAR", WARD_FT_RAR},
    {"CL_TYPE_7Z", WARD_FT_7Z},         {"CL_TYPE_GZ", WARD_FT_GZIP},
    {"CL_TYPE_BZ", WARD_FT_BZIP2},      {"CL_TYPE_XZ", WARD_FT_XZ},
    {"CL_TYPE_POSIX_TAR", WARD_FT_TAR}, {"CL_TYPE_OLD_TAR", WARD_FT_TAR},
    {"CL_TYPE_CPIO_OLD", WARD_FT_CPIO}, {"CL_TYPE_CPIO_ODC", WARD_FT_CPIO},
    {"CL_TYPE_CPIO_NEWC", WARD_FT_CPIO}, {"CL_TYPE_CPIO_CRC", WARD_FT_CPIO},
    {"CL_TYPE_MSCAB", WARD_FT_CAB},     {"CL_TYPE_ISO9660", WARD_FT_ISO9660},
    {"CL_TYPE_XAR", WARD_FT_XAR},       {"CL_TYPE_MAIL", WARD_FT_MAIL},
    {"CL_TYPE_MSEXE", WARD_FT_PE},      {"CL_TYPE_ELF", WARD_FT_ELF},
    {"CL_TYPE_MACHO", WARD_FT_MACHO},   {"CL_TYPE_PDF", WARD_FT_PDF},
    {"CL_TYPE_HTML", WARD_FT_HTML},     {"CL_TYPE_TEXT_ASCII", WARD_FT_TEXT},
    {"CL_TYPE_MSOLE2", WARD_FT_OLE2},   {"CL_TYPE_RTF", WARD_FT_RTF},
    {"CL_TYPE_SWF", WARD_FT_SWF},       {"CL_TYPE_JAVA", WARD_FT_JAVA},
    {"CL_TYPE_GRAPHICS", WARD_FT_GRAPHICS},
};

enum tdb_result { TDB_OK, TDB_SKIP, TDB_BAD };

static bool parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dash = strchr(s, '-');
    if (!dash)
        return ward_parse_u64(s, lo) && (*hi = *lo, true);
    return ward_parse_u64n(s, (size_t)(dash - s), lo) && ward_parse_u64(dash + 1, hi);
}

static enum tdb_result parse_tdb(struct load_ctx *lc, char *tdb, struct ldb_sig *sig,
                                 const char **why)
{
    char *f[32];
    size_t n = ward_str_split(tdb, ',', f, 32);
    bool have_target = false, have_engine = false;
    sig->size_min = 0;
    sig->size_max = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(f[i], ':');
        if (!colon) {
            *why = "malformed target description block";
            return TDB_BAD;
        }
        *colon = 0;
        const char *key = f[i], *val = colon + 1;
        uint64_t lo, hi;
        if (strcmp(key, "Target") == 0) {
            if (!ward_parse_u64(val, &lo)) {
                *why = "malformed Target";
                return TDB_BAD;
            }
            if (lo >= WARD_TARGET_COUNT)
                return TDB_SKIP;
            sig->target = (uint8_t)lo;
            have_target = true;
        } else if (strcmp(key, "Engine") == 0) {
            if (i != 0 || !parse_range(val, &lo, &hi)) {
                *why = "Engine must come first as Engine:MIN-MAX";
                return TDB_BAD;
            }
            have_engine = lo >= 51;
            if (lo > lc->flevel || hi < lc->flevel) {
                lc->seg->stats.flevel_skipped++;
                return TDB_SKIP;
            }
        } else if (strcmp(key, "FileSize") == 0) {
            if (!parse_range(val, &lo, &hi)) {
                *why = "malformed FileSize range";
                return TDB_BAD;
            }
            sig->size_min = lo;
            sig->size_max = hi;
        } else if (strcmp(key, "Container") == 0) {
            size_t k;
            for (k = 0; k < sizeof cl_types / sizeof *cl_types; k++)
                if (strcmp(val, cl_types[k].name) == 0)
                    break;
            if (k == sizeof cl_types / sizeof *cl_types)
                return TDB_SKIP;
            sig->container = (uint8_t)(cl_types[k].type + 1);
        } else {
            /* EntryPoint, NumberOfSections, Intermediates, IconGroup, HandlerType
               and unknown keys: features this version does not have. */
            return TDB_SKIP;
        }
        if (strcmp(key, "Target") != 0 && strcmp(key, "Engine") != 0 && !have_engine) {
            *why = "target description keys other than Target need Engine:51 or later";
            return TDB_BAD;
        }
    }
    if (!have_target) {
        *why = "target description block without Target";
        return TDB_BAD;
    }
    return TDB_OK;
}

static ward_err grow_arr(void **arr, uint32_t *cap, uint32_t n, size_t elem)
{
    if (n < *cap)
        return WARD_OK;
    uint32_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*arr, (size_t)c * elem);
    if (!q)
        return WARD_ERR_NOMEM;
    *arr = q;
    *cap = c;
    return WARD_OK;
}

static bool parse_pcre_flags(const char *s, uint8_t *flags, uint32_t *copts)
{
    for (; *s; s++) {
        switch (*s) {
        case 'i': *copts |= PCRE2_CASELESS; break;
        case 's': *copts |= PCRE2_DOTALL; break;
        case 'm': *copts |= PCRE2_MULTILINE; break;
        case 'x': *copts |= PCRE2_EXTENDED; break;
        case 'A': *copts |= PCRE2_ANCHORED; break;
        case 'E': *copts |= PCRE2_DOLLAR_ENDONLY; break;
        case 'U': *copts |= PCRE2_UNGREEDY; break;
        case 'g': *flags |= PCRE_GLOBAL; break;
        case 'r': *flags |= PCRE_ROLLING; break;
        case 'e': *flags |= PCRE_ENCOMPASS; break;
        default: return false;
        }
    }
    return true;
}

/* Outcome of reading one subsignature. */
enum sub_result { SUB_OK, SUB_SKIP_SIG, SUB_BAD };

static enum sub_result add_pcre_sub(struct load_ctx *lc, char *s, uint32_t ldb, unsigned index,
                                    struct ldb_sub *out, const char **why)
{
    ward_seg *seg = lc->seg;
    char *slash = strchr(s, '/'), *last = strrchr(s, '/');
    if (slash == last) {
        *why = "PCRE subsignature needs Trigger/regex/flags";
        return SUB_BAD;
    }
    *slash = 0;
    *last = 0;
    char *trigger = s, *re = slash + 1, *flags_s = last + 1;
    uint8_t off_kind = WARD_OFF_ANY;
    uint32_t off = 0, shift = 0;
    char *colon = strchr(trigger, ':');
    if (colon) {
        *colon = 0;
        enum offset_result r = ward_parse_offset(trigger, &off_kind, &off, &shift);
        if (r == OFFSET_UNSUPPORTED)
            return SUB_SKIP_SIG;
        if (r == OFFSET_BAD) {
            *why = "malformed PCRE offset";
            return SUB_BAD;
        }
        trigger = colon + 1;
    }
    if (!*trigger || !*re) {
        *why = "PCRE subsignature needs a trigger and a regex";
        return SUB_BAD;
    }
    if (grow_arr((void **)&seg->pcres, &seg->cap_pcres, seg->n_pcres, sizeof *seg->pcres))
        return SUB_BAD;
    struct pcre_sub *ps = &seg->pcres[seg->n_pcres];
    memset(ps, 0, sizeof *ps);
    unsigned max_id;
    if (index == 0 || ward_lexpr_parse(&seg->exprs, trigger, strlen(trigger), index, &ps->trigger,
                                       &max_id, why)) {
        if (index == 0)
            *why = "a PCRE trigger can only name earlier subsignatures";
        return SUB_BAD;
    }
    if (!parse_pcre_flags(flags_s, &ps->flags, &ps->compile_flags)) {
        *why = "unknown PCRE flag";
        return SUB_BAD;
    }
    int code;
    PCRE2_SIZE erroff;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, ps->compile_flags,
                                  &code, &erroff, NULL);
    if (!c) {
        *why = "PCRE does not compile";
        return SUB_BAD;
    }
    ps->code = c;
    ps->re = strdup(re);
    ps->ldb = ldb;
    ps->sub = (uint8_t)index;
    ps->off_kind = off_kind;
    ps->off = off;
    ps->shift = shift;
    out->kind = SUB_PCRE;
    out->ref = seg->n_pcres++;
    return SUB_OK;
}

static enum sub_result add_body_sub(struct load_ctx *lc, char *s, uint8_t target, uint32_t ldb,
                                    unsigned index, struct ldb_sub *out, const char **why,
                                    ward_err *fatal)
{
    unsigned mods = 0;
    char *opts = strstr(s, "::");
    if (opts) {
        *opts = 0;
        for (const char *o = opts + 2; *o; o++) {
            switch (*o) {
            case 'i': mods |= WARD_PAT_NOCASE; break;
            case 'w': mods |= WARD_PAT_WIDE; break;
            case 'f': mods |= WARD_PAT_FULLWORD; break;
            case 'a': mods |= WARD_PAT_ASCII; break;
            default: *why = "unknown subsignature modifier"; return SUB_BAD;
            }
        }
        if ((mods & WARD_PAT_ASCII) && !(mods & WARD_PAT_WIDE))
            mods &= ~(unsigned)WARD_PAT_ASCII;
    }
    uint8_t off_kind = WARD_OFF_ANY;
    uint32_t off = 0, shift = 0;
    char *hex = s, *colon = strchr(s, ':');
    if (colon) {
        *colon = 0;
        enum offset_result r = ward_parse_offset(s, &off_kind, &off, &shift);
        if (r == OFFSET_UNSUPPORTED) {
            if (target != WARD_TARGET_PE && target != WARD_TARGET_ELF &&
                target != WARD_TARGET_MACHO) {
                *why = "invalid offset type for target";
                return SUB_BAD;
            }
            return SUB_SKIP_SIG;
        }
        if (r == OFFSET_BAD) {
            *why = "malformed subsignature offset";
            return SUB_BAD;
        }
        hex = colon + 1;
    }
    /* Byte-compare, macro and fuzzy-image subsignatures are not supported yet. */
    if (hex[0] == '$' || strncmp(hex, "fuzzy_img#", 10) == 0)
        return SUB_SKIP_SIG;
    size_t k = 0;
    while (hex[k] >= '0' && hex[k] <= '9')
        k++;
    if (k && hex[k] == '(' && (hex[k + 1] == '>' || hex[k + 1] == '<'))
        return SUB_SKIP_SIG;

    uint32_t idx;
    struct ward_pattern_info info;
    ward_err e = ward_db_add_body(lc, hex, strlen(hex), mods, target, off_kind, off, shift, ldb,
                                  (uint16_t)index, &idx, &info);
    if (e == WARD_ERR_UNSUPPORTED) {
        *why = NULL; /* already reported */
        return SUB_BAD;
    }
    if (e) {
        *fatal = e;
        return SUB_BAD;
    }
    out->kind = (lc->seg->pats[idx].flags & BP_NEVER) ? SUB_NEVER : SUB_BODY;
    out->ref = idx;
    return SUB_OK;
}

/*
 * Split a line at ';' as libclamav does: from the fourth field on, a '/' not
 * preceded by a backslash opens or closes a PCRE, and a ';' inside a PCRE
 * belongs to it (`0/a;b/` is one subsignature). Same contract as
 * ward_str_split: the last field keeps the rest of the line.
 */
static size_t split_ldb(char *s, char **fields, size_t max)
{
    size_t n = 0;
    bool in_pcre = false;
    if (max == 0)
        return 0;
    fields[n++] = s;
    for (char *p = s; *p && n < max; p++) {
        if (*p == ';' && !in_pcre) {
            *p = 0;
            fields[n++] = p + 1;
        } else if (*p == '/' && n > 3 && (p == s || p[-1] != '\\')) {
            in_pcre = !in_pcre;
        }
    }
    return n;
}

ward_err ward_load_ldb(struct load_ctx *lc, char *text, size_t len)
{
    struct line_iter it;
    char *line;
    size_t n;
    bool nul;
    ward_seg *seg = lc->seg;
    struct ward_kind_stats *st = &seg->stats.kind[WARD_KIND_LDB];

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
        char *f[3 + WARD_SIG_MAX_SUBSIGS + 1];
        size_t nf = split_ldb(line, f, sizeof f / sizeof *f);
        const char *why = NULL;
        if (nf < 4) {
            why = "expected Name;TargetDescription;Logic;Subsig0[;Subsig1...]";
        } else if (nf > 3 + WARD_SIG_MAX_SUBSIGS) {
            why = "more than 64 subsignatures";
        }
        struct ldb_sig sig;
        memset(&sig, 0, sizeof sig);
        enum tdb_result tr = TDB_OK;
        if (!why)
            tr = parse_tdb(lc, f[1], &sig, &why);
        if (tr == TDB_SKIP) {
            st->skipped++;
            continue;
        }
        unsigned n_subs = (unsigned)(nf - 3), max_id = 0;
        uint32_t expr_mark = seg->exprs.n;
        if (!why && ward_lexpr_parse(&seg->exprs, f[2], strlen(f[2]), n_subs, &sig.expr, &max_id,
                                     &why) == WARD_OK &&
            max_id + 1 != n_subs)
            why = "the number of subsignatures does not match the logical expression";
        if (why) {
            seg->exprs.n = expr_mark;
            if (ward_load_report(lc, "%s", why))
                return WARD_ERR_PARSE;
            continue;
        }
        if (ward_db_ignored(lc, f[0], strlen(f[0]), copy, copy_len)) {
            seg->stats.ignored++;
            seg->exprs.n = expr_mark;
            continue;
        }

        uint32_t ldb_idx = seg->n_ldbs;
        uint32_t pats_mark = seg->n_pats, pcres_mark = seg->n_pcres, subs_mark = seg->n_ldb_subs;
        if (grow_arr((void **)&seg->ldb_subs, &seg->cap_ldb_subs, seg->n_ldb_subs + n_subs,
                     sizeof *seg->ldb_subs) ||
            grow_arr((void **)&seg->ldbs, &seg->cap_ldbs, seg->n_ldbs, sizeof *seg->ldbs))
            return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
        /* grow_arr only ensures one free slot; make room for all subsigs. */
        while (seg->cap_ldb_subs < seg->n_ldb_subs + n_subs) {
            uint32_t c = seg->cap_ldb_subs * 2;
            struct ldb_sub *q = realloc(seg->ldb_subs, c * sizeof *q);
            if (!q)
                return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
            seg->ldb_subs = q;
            seg->cap_ldb_subs = c;
        }
        sig.first_sub = seg->n_ldb_subs;
        sig.n_subs = (uint8_t)n_subs;
        enum sub_result sr = SUB_OK;
        ward_err fatal = WARD_OK;
        for (unsigned i = 0; i < n_subs && sr == SUB_OK; i++) {
            struct ldb_sub *sub = &seg->ldb_subs[sig.first_sub + i];
            char *s = f[3 + i];
            if (strchr(s, '/')) {
                sr = add_pcre_sub(lc, s, ldb_idx, i, sub, &why);
                sig.has_pcre = 1;
            } else {
                sr = add_body_sub(lc, s, sig.target, ldb_idx, i, sub, &why, &fatal);
            }
        }
        if (fatal)
            return fatal;
        if (sr != SUB_OK) {
            /* roll back what this line added */
            for (uint32_t k = pats_mark; k < seg->n_pats; k++) {
                free(seg->pats[k].src);
            }
            for (uint32_t k = pcres_mark; k < seg->n_pcres; k++) {
                free(seg->pcres[k].re);
                pcre2_code_free(seg->pcres[k].code);
            }
            if (sr == SUB_BAD && seg->n_pcres < seg->cap_pcres &&
                seg->pcres[seg->n_pcres].code == NULL) {
                /* nothing allocated for a failed PCRE */
            }
            seg->n_pats = pats_mark;
            seg->n_pcres = pcres_mark;
            seg->n_ldb_subs = subs_mark;
            seg->exprs.n = expr_mark;
            if (sr == SUB_SKIP_SIG) {
                st->skipped++;
                continue;
            }
            if (why && ward_load_report(lc, "%s", why))
                return WARD_ERR_PARSE;
            if (!why && !lc->opts->collect_errors)
                return WARD_ERR_PARSE;
            continue;
        }
        ward_err e = ward_db_add_name(lc, f[0], strlen(f[0]), &sig.name);
        if (e)
            return e;
        seg->n_ldb_subs += n_subs;
        /* A logic true with no match at all (0=0, (0|1)<1) applies to every object of
           its target, not only to those where a subsignature matched. */
        static const uint32_t zeros[WARD_SIG_MAX_SUBSIGS];
        if (ward_lexpr_eval(&seg->exprs, sig.expr, zeros)) {
            uint32_t *z = realloc(seg->zero_true, (seg->n_zero_true + 1) * sizeof *z);
            if (!z)
                return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
            seg->zero_true = z;
            seg->zero_true[seg->n_zero_true++] = seg->n_ldbs;
        }
        seg->ldbs[seg->n_ldbs++] = sig;
        seg->max_subs_total += n_subs;
        st->loaded++;
    }
    lc->line = 0;
    return WARD_OK;
}
