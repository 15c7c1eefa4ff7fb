/*
 * db_int.h - the inside of a ward_db, shared by the loaders, the compiler and
 * the matcher. Nothing outside src/lib/engine includes this.
 */
#ifndef WARD_ENGINE_DB_INT_H
#define WARD_ENGINE_DB_INT_H

#include <stdint.h>

#include "engine/db.h"
#include "engine/hashidx.h"
#include "engine/lexpr.h"
#include "engine/pattern.h"
#include "engine/strpool.h"
#include "formats/ftype.h"

struct hs_database;
struct pcre2_real_code_8;

#define WARD_NO_SUBSIG 0xffffu

enum ward_offkind {
    WARD_OFF_ANY = 0, /* anywhere */
    WARD_OFF_ABS,     /* start in [off, off+shift] */
    WARD_OFF_EOF,     /* start in [size-off, size-off+shift] */
};

enum {
    BP_VERIFY = 1u << 0,     /* a hit is only a candidate: confirm it with PCRE2 */
    BP_NOCASE = 1u << 1,     /* compile caselessly */
    BP_PREFILTER = 1u << 2,  /* compiled in Vectorscan's approximate prefilter mode */
    BP_NEVER = 1u << 3,      /* can never match (kept for counting) */
    BP_UNCOMPILED = 1u << 4, /* neither Vectorscan form compiles: never matches */
    BP_SPLIT = 1u << 5,      /* compiled as parts (db->parts), gaps checked by the matcher */
    BP_SOM = 1u << 6,        /* Vectorscan reports starts (counting by start offsets) */
    BP_WHOLE = 1u << 7,      /* a part did not compile: compile the whole pattern instead */
};

/* One body pattern: an .ndb signature or one subsignature of an .ldb. */
struct body_pat {
    uint32_t owner;  /* index into ndbs, or ldbs when subsig != WARD_NO_SUBSIG */
    uint16_t subsig;
    uint8_t target;
    uint8_t flags;
    uint8_t off_kind;
    uint8_t mods;    /* WARD_PAT_* modifiers */
    uint16_t n_parts; /* BP_SPLIT: parts db->parts[first_part ..] */
    uint32_t first_part;
    uint32_t off, shift;
    uint32_t min_len, max_len;
    char *src;       /* the hex text; forms are emitted from it when needed */
    struct pcre2_real_code_8 *exact; /* confirmation form, compiled on first use */
};

/*
 * A part of a split pattern. Vectorscan ids: a whole pattern has its index,
 * a part WARD_PART_ID + its index in db->parts.
 */
#define WARD_PART_ID 0x40000000u

struct body_part {
    uint32_t pat;
    uint16_t index;   /* 0 .. n_parts-1 */
    uint8_t exact;    /* this part's form is exact */
    uint8_t pad;
    uint32_t gap_min, gap_max; /* allowed gap before this part (WARD_PAT_INF: any) */
    uint32_t min_len, max_len; /* of the part's Vectorscan form */
};

struct ndb_sig {
    uint32_t name;
    uint32_t pat;
};

enum ldb_subkind { SUB_BODY, SUB_PCRE, SUB_NEVER };

struct ldb_sub {
    uint8_t kind;
    uint32_t ref; /* body_pat or pcre_sub index */
};

struct ldb_sig {
    uint32_t name;
    uint8_t target;
    uint8_t n_subs;
    uint8_t container; /* enum ward_ftype + 1, or 0 for any */
    uint8_t has_pcre;
    uint32_t first_sub; /* index into ldb_subs */
    uint32_t expr;      /* root in exprs */
    uint64_t size_min, size_max;
};

enum { PCRE_GLOBAL = 1u << 0, PCRE_ROLLING = 1u << 1, PCRE_ENCOMPASS = 1u << 2 };

struct pcre_sub {
    uint32_t ldb;
    uint8_t sub;
    uint8_t flags;
    uint8_t off_kind;
    uint32_t off, shift;
    uint32_t trigger;       /* root in exprs */
    uint32_t compile_flags; /* PCRE2 options */
    char *re;
    struct pcre2_real_code_8 *code;
};

struct ward_db {
    int refs;
    ward_strpool names;
    ward_hashidx hashes; /* .hdb .hsb */
    ward_hashidx allow;  /* .fp .sfp */
    struct body_pat *pats;
    uint32_t n_pats, cap_pats;
    struct body_part *parts;
    uint32_t n_parts, cap_parts;
    struct ndb_sig *ndbs;
    uint32_t n_ndbs, cap_ndbs;
    struct ldb_sig *ldbs;
    uint32_t n_ldbs, cap_ldbs;
    struct ldb_sub *ldb_subs;
    uint32_t n_ldb_subs, cap_ldb_subs;
    struct pcre_sub *pcres;
    uint32_t n_pcres, cap_pcres;
    struct lexpr_pool exprs;
    uint32_t max_subs_total; /* sum of n_subs, sizes per-scan count arrays */
    uint32_t *zero_true;     /* ldbs whose logic holds with no match at all */
    uint32_t n_zero_true;
    /* One Vectorscan database per ClamAV target type (NULL when empty). */
    struct hs_database *hs[WARD_TARGET_COUNT];
    uint8_t digest[32];
    struct ward_db_stats stats;
    /* names from .ign2, consulted while loading */
    char **ignores;
    size_t n_ignores, cap_ignores;
};

/* Loading helpers (load_*.c). */
struct load_ctx {
    ward_db *db;
    const struct ward_db_opts *opts;
    unsigned flevel;
    bool official;      /* from a signed container: no ".UNOFFICIAL" suffix */
    const char *file;   /* for messages */
    unsigned line;
    struct ward_diag *diag;
    uint64_t errors;
    unsigned line_base;  /* lines of the file before the text being loaded */
    uint64_t lines_hint; /* lines in the whole file, when known (sizes tables once) */
};

ward_err ward_load_report(struct load_ctx *lc, const char *fmt, ...) WARD_PRINTF(2, 3);
ward_err ward_db_add_name(struct load_ctx *lc, const char *name, size_t len, uint32_t *out)
    WARD_MUST_CHECK;
bool ward_db_ignored(const ward_db *db, const char *name, size_t len, const char *line,
                     size_t line_len);
ward_err ward_db_add_pat(ward_db *db, struct body_pat **out, uint32_t *idx) WARD_MUST_CHECK;

/* Each loader parses one text buffer of its kind. */
ward_err ward_load_hash(struct load_ctx *lc, enum ward_sigkind kind, char *text, size_t len)
    WARD_MUST_CHECK;
ward_err ward_load_ndb(struct load_ctx *lc, char *text, size_t len) WARD_MUST_CHECK;
ward_err ward_load_ldb(struct load_ctx *lc, char *text, size_t len) WARD_MUST_CHECK;
ward_err ward_load_ign(struct load_ctx *lc, char *text, size_t len) WARD_MUST_CHECK;

/* Parse an offset field ("*", "n", "n,s", "EOF-n[,s]"); false for the
 * offsets that need executable parsing (EP, Sx, SL, SE, VI, macros). */
enum offset_result { OFFSET_OK, OFFSET_UNSUPPORTED, OFFSET_BAD };
enum offset_result ward_parse_offset(const char *s, uint8_t *kind, uint32_t *off,
                                     uint32_t *shift);

/* Parse a body pattern and append it; fills *idx. */
ward_err ward_db_add_body(struct load_ctx *lc, const char *hex, size_t len, unsigned mods,
                          uint8_t target, uint8_t off_kind, uint32_t off, uint32_t shift,
                          uint32_t owner, uint16_t subsig, uint32_t *idx,
                          struct ward_pattern_info *info) WARD_MUST_CHECK;

/* Emit a pattern's whole forms from its source (compile.c); either may be NULL. */
ward_err ward_db_emit_forms(const ward_db *db, uint32_t pat, ward_buf *scan, ward_buf *exact)
    WARD_MUST_CHECK;

/* Compile the body patterns (compile.c). */
ward_err ward_db_compile(ward_db *db, const struct ward_db_opts *opts, struct ward_diag *diag)
    WARD_MUST_CHECK;

/* Container files (cvd.c): verify, unpack, and load every member. */
ward_err ward_load_container(struct load_ctx *lc, const char *path, const uint8_t *data,
                             size_t len, bool is_cld) WARD_MUST_CHECK;
/* Dispatch a source text by its file name's extension (load.c). */
ward_err ward_load_source(struct load_ctx *lc, const char *name, uint8_t *text, size_t len)
    WARD_MUST_CHECK;
/* The kind of a file name's extension, or -1. */
int ward_kind_of_name(const char *name);

#endif
