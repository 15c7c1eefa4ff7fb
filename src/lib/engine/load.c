/* load.c - what every signature loader shares: names, ignore lists, body
 * patterns, offsets, and dispatching a source by its kind. */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <hs/hs.h>

#include "engine/db_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/limits.h"
#include "util/strutil.h"

static const struct {
    const char *ext;
    enum ward_sigkind kind;
} kinds[] = {
    {".hdb", WARD_KIND_HDB}, {".hsb", WARD_KIND_HSB}, {".mdb", WARD_KIND_MDB},
    {".msb", WARD_KIND_MSB}, {".imp", WARD_KIND_IMP}, {".ndb", WARD_KIND_NDB},
    {".ndu", WARD_KIND_NDB}, {".ldb", WARD_KIND_LDB}, {".ldu", WARD_KIND_LDB},
    {".fp", WARD_KIND_FP},   {".sfp", WARD_KIND_SFP}, {".ign", WARD_KIND_IGN},
    {".ign2", WARD_KIND_IGN}, {".cdb", WARD_KIND_CDB}, {".crb", WARD_KIND_CRB},
    {".cbc", WARD_KIND_CBC}, {".pdb", WARD_KIND_PDB}, {".gdb", WARD_KIND_GDB},
    {".wdb", WARD_KIND_WDB}, {".ftm", WARD_KIND_FTM}, {".idb", WARD_KIND_IDB},
    {".cfg", WARD_KIND_CFG}, {".pwdb", WARD_KIND_PWDB}, {".yar", WARD_KIND_YARA},
    {".yara", WARD_KIND_YARA},
};

static const char *kind_names[WARD_KIND_COUNT] = {
    "hdb", "hsb", "mdb", "msb", "imp", "ndb", "ldb", "fp", "sfp", "ign2", "cdb",
    "crb", "cbc", "pdb", "gdb", "wdb", "ftm", "idb", "cfg", "pwdb", "yara",
};

const char *ward_kind_name(enum ward_sigkind kind)
{
    return kind < WARD_KIND_COUNT ? kind_names[kind] : "?";
}

int ward_kind_of_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcasecmp(dot, kinds[i].ext) == 0)
            return (int)kinds[i].kind;
    return -1;
}

bool ward_is_container_name(const char *name, bool *cld)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    *cld = strcasecmp(dot, ".cld") == 0;
    return *cld || strcasecmp(dot, ".cvd") == 0 || strcasecmp(dot, ".cud") == 0;
}

ward_err ward_load_report(struct load_ctx *lc, const char *fmt, ...)
{
    char msg[400], full[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lc->line)
        snprintf(full, sizeof full, "%s:%u: %s", lc->file, lc->line, msg);
    else
        snprintf(full, sizeof full, "%s: %s", lc->file, msg);
    lc->errors++;
    if (lc->opts->collect_errors) {
        if (lc->opts->on_error)
            lc->opts->on_error(lc->opts->error_ctx, full);
        if (lc->errors == 1)
            ward_diag_set(lc->diag, WARD_ERR_PARSE, "%s", full);
        return WARD_OK;
    }
    return ward_diag_set(lc->diag, WARD_ERR_PARSE, "%s", full);
}

ward_err ward_db_add_name(struct load_ctx *lc, const char *name, size_t len, uint32_t *out)
{
    /* ClamAV marks names from unsigned sources; Ward's own names are never marked. */
    static const char suffix[] = ".UNOFFICIAL";
    char tmp[WARD_SIG_MAX_NAME + sizeof suffix];
    if (len == 0 || len > WARD_SIG_MAX_NAME)
        return ward_load_report(lc, "bad signature name length");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return ward_load_report(lc, "control character in signature name");
    memcpy(tmp, name, len);
    if (!lc->official && !(len > 5 && memcmp(name, "Ward.", 5) == 0) &&
        !(len >= sizeof suffix - 1 && memcmp(name + len - (sizeof suffix - 1), suffix,
                                              sizeof suffix - 1) == 0)) {
        memcpy(tmp + len, suffix, sizeof suffix - 1);
        len += sizeof suffix - 1;
    }
    ward_err e = ward_strpool_add(&lc->seg->names, tmp, len, out);
    return e ? ward_diag_set(lc->diag, e, "%s: cannot store signature names", lc->file) : e;
}

static bool ignored_by(const ward_seg *seg, const char *name, size_t len, const char *line,
                       size_t line_len)
{
    for (size_t i = 0; i < seg->n_ignores; i++) {
        const char *ig = seg->ignores[i];
        const char *colon = strchr(ig, ':');
        size_t n = colon ? (size_t)(colon - ig) : strlen(ig);
        if (n != len || memcmp(ig, name, len) != 0)
            continue;
        if (!colon)
            return true;
        /* Name:md5 ignores the signature only while its line is unchanged. */
        uint8_t digest[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
        char hex[33];
        ward_hasher *h;
        if (ward_hasher_new(&h))
            return false;
        bool same = false;
        if (!ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_MD5)) &&
            !ward_hasher_update(h, line, line_len) && !ward_hasher_end(h, digest)) {
            ward_hex_encode(digest[WARD_HASH_MD5], 16, hex);
            same = strcasecmp(hex, colon + 1) == 0;
        }
        ward_hasher_free(h);
        if (same)
            return true;
    }
    return false;
}

/* Ignored by an .ign2 entry loaded before: in an earlier segment or earlier in this one. */
bool ward_db_ignored(const struct load_ctx *lc, const char *name, size_t len, const char *line,
                     size_t line_len)
{
    if (lc->ign)
        for (size_t i = 0; i < lc->ign->n; i++)
            if (ignored_by(lc->ign->segs[i], name, len, line, line_len))
                return true;
    return ignored_by(lc->seg, name, len, line, line_len);
}

ward_err ward_db_add_pat(ward_seg *db, struct body_pat **out, uint32_t *idx)
{
    if (db->n_pats == db->cap_pats) {
        uint32_t cap = db->cap_pats ? db->cap_pats * 2 : 1024;
        struct body_pat *p = realloc(db->pats, cap * sizeof *p);
        if (!p)
            return WARD_ERR_NOMEM;
        db->pats = p;
        db->cap_pats = cap;
    }
    *idx = db->n_pats;
    *out = &db->pats[db->n_pats++];
    memset(*out, 0, sizeof **out);
    return WARD_OK;
}

enum offset_result ward_parse_offset(const char *s, uint8_t *kind, uint32_t *off, uint32_t *shift)
{
    uint64_t a = 0, b = 0;
    *shift = 0;
    if (strcmp(s, "*") == 0) {
        *kind = WARD_OFF_ANY;
        *off = 0;
        return OFFSET_OK;
    }
    if (strlen(s) > 64)
        return OFFSET_BAD;
    const char *p = s;
    if (strncmp(p, "EOF-", 4) == 0) {
        *kind = WARD_OFF_EOF;
        p += 4;
    } else if (*p >= '0' && *p <= '9') {
        *kind = WARD_OFF_ABS;
    } else if (!strncmp(p, "EP", 2) || *p == 'S' || !strcmp(p, "VI") || *p == '$') {
        return OFFSET_UNSUPPORTED;
    } else {
        return OFFSET_BAD;
    }
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (!ward_parse_u64n(p, n, &a) || a > UINT32_MAX)
        return OFFSET_BAD;
    if (comma && (!ward_parse_u64(comma + 1, &b) || b > UINT32_MAX))
        return OFFSET_BAD;
    *off = (uint32_t)a;
    *shift = (uint32_t)b;
    return OFFSET_OK;
}

ward_err ward_db_add_body(struct load_ctx *lc, const char *hex, size_t len, unsigned mods,
                          uint8_t target, uint8_t off_kind, uint32_t off, uint32_t shift,
                          uint32_t owner, uint16_t subsig, uint32_t *idx,
                          struct ward_pattern_info *info)
{
    /* Parse now to check the line and learn its lengths; the regex forms are
       written only when the database is compiled (not on a cached start). */
    struct ward_diag pd;
    ward_pattern *pat;
    ward_err e = ward_pattern_parse(hex, len, mods, &pat, &pd);
    if (e == WARD_ERR_PARSE)
        return ward_load_report(lc, "%s", pd.msg) ? WARD_ERR_PARSE : WARD_ERR_UNSUPPORTED;
    if (e)
        return ward_diag_set(lc->diag, e, "%s: out of memory", lc->file);
    ward_pattern_info(pat, info);
    bool nocase = ward_pattern_nocase(pat);
    ward_pattern_free(pat);

    struct body_pat *bp;
    char *src = strndup(hex, len);
    if (!src || (e = ward_db_add_pat(lc->seg, &bp, idx))) {
        free(src);
        return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
    }
    bp->owner = owner;
    bp->subsig = subsig;
    bp->target = target;
    bp->off_kind = off_kind;
    bp->off = off;
    bp->shift = shift;
    bp->mods = (uint8_t)mods;
    bp->min_len = info->min_len;
    bp->max_len = info->max_len;
    bp->src = src;
    if (nocase)
        bp->flags |= BP_NOCASE;
    if (info->never)
        bp->flags |= BP_NEVER;
    return WARD_OK;
}

ward_err ward_load_source(struct load_ctx *lc, const char *name, uint8_t *text, size_t len)
{
    bool cld;
    if (ward_is_container_name(name, &cld))
        return ward_load_container(lc, name, text, len, cld);
    int kind = ward_kind_of_name(name);
    lc->line = 0;
    switch (kind) {
    case WARD_KIND_HDB:
    case WARD_KIND_HSB:
    case WARD_KIND_FP:
    case WARD_KIND_SFP:
    case WARD_KIND_MDB:
    case WARD_KIND_MSB:
    case WARD_KIND_IMP:
        return ward_load_hash(lc, (enum ward_sigkind)kind, (char *)text, len);
    case WARD_KIND_NDB:
        return ward_load_ndb(lc, (char *)text, len);
    case WARD_KIND_LDB:
        return ward_load_ldb(lc, (char *)text, len);
    case WARD_KIND_IGN:
        return ward_load_ign(lc, (char *)text, len);
    case -1:
        return WARD_OK;
    default: {
        /* A kind this version does not use: count its entries as skipped. */
        uint64_t n = 0;
        const char *p = (const char *)text, *end = p + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            if (e > p && *p != '#' && !(e - p == 1 && *p == '\r'))
                n++;
            p = nl ? nl + 1 : end;
        }
        if (kind == WARD_KIND_CFG || kind == WARD_KIND_FTM)
            n = n ? n : 0;
        lc->seg->stats.kind[kind].skipped += n;
        return WARD_OK;
    }
    }
}

