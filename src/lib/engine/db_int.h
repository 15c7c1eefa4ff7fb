/*
 * db_int.h - the inside of a ward_db, shared by the loaders, the compiler and
 * the matcher. Nothing outside src/lib/engine includes this.
 */
#ifndef WARD_ENGINE_DB_INT_H
#define WARD_ENGINE_DB_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine/db.h"
#include "engine/hashidx.h"
#include "engine/lexpr.h"
#include "engine/pattern.h"
#include "engine/strpool.h"
#include "formats/ftype.h"
#include "util/buf.h"

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

/* Identity of a source file as stat(2) saw it when it was read. */
struct seg_ident {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
};

/* What a signed container said about itself (the database version). */
struct seg_cvd {
    uint32_t version;
    time_t stime;
    bool present, daily;
};

/*
 * A segment: everything one source file (or one container with its members)
 * loaded into. Immutable once loaded and shared by reference between
 * successive databases, so that a reload parses only the files that changed.
 * Indexes inside a segment (owner, first_sub, ref, expr, name) are its own;
 * linking a database rebases them.
 */
typedef struct ward_seg {
    int refs;
    char *path;              /* the file, or NULL when loaded from memory */
    struct seg_ident ident;
    bool racy;               /* changed too near its loading for the identity to be trusted */
    uint8_t ctx[32];         /* the loading context (ignore lists, level, keys) */
    uint8_t digest[32];      /* identifies what was loaded */
    uint8_t pat_key[32];     /* what compiling its body patterns depends on */
    time_t mtime;
    struct seg_cvd cvd;
    ward_strpool names;
    ward_hashidx hashes; /* .hdb .hsb */
    ward_hashidx allow;  /* .fp .sfp */
    struct body_pat *pats;
    uint32_t n_pats, cap_pats;
    struct ndb_sig *ndbs;
    uint32_t n_ndbs, cap_ndbs;
    struct ldb_sig *ldbs;
    uint32_t n_ldbs, cap_ldbs;
    struct ldb_sub *ldb_subs;
    uint32_t n_ldb_subs, cap_ldb_subs;
    struct pcre_sub *pcres;
    uint32_t n_pcres, cap_pcres;
    struct lexpr_pool exprs;
    uint32_t max_subs_total; /* sum of n_subs */
    uint32_t *zero_true;     /* ldbs whose logic holds with no match at all */
    uint32_t n_zero_true;
    struct ward_db_stats stats; /* this file's counts */
    /* entries of .ign2 sources in this segment; they apply to what loads after them */
    char **ignores;
    size_t n_ignores, cap_ignores;
} ward_seg;

ward_seg *ward_seg_new(void);
void ward_seg_ref(ward_seg *seg);
void ward_seg_unref(ward_seg *seg);
/* After loading: seal the hash indexes and compute pat_key. */
void ward_seg_finish(ward_seg *seg);

/*
 * A compiled unit: the Vectorscan databases of the body patterns of a run of
 * segments, with what compiling decided (each pattern's flags, the parts of
 * split patterns). Vectorscan ids are the unit's own pattern indexes (and
 * WARD_PART_ID + its part indexes). Shared by reference: a reload that adds a
 * file keeps the unit of the files that did not change and compiles the new
 * patterns alone beside it.
 */
struct unit_span {
    uint8_t pat_key[32]; /* of the segment these patterns came from */
    uint32_t base, n;    /* unit pattern indexes */
};

typedef struct ward_unit {
    int refs;
    uint8_t key[32];
    struct hs_database *hs[WARD_TARGET_COUNT];
    uint32_t n_pats;
    uint8_t *flags;          /* per unit pattern: BP_* as compiled */
    struct body_part *parts; /* .pat is a unit pattern index */
    uint32_t n_parts;
    struct unit_span *spans;
    uint32_t n_spans;
    bool cached;             /* came from the on-disk cache */
} ward_unit;

void ward_unit_ref(ward_unit *u);
void ward_unit_unref(ward_unit *u);

#define WARD_MAX_UNITS 2
#define WARD_NO_PAT UINT32_MAX

/* A unit as one database uses it. */
struct db_unit {
    ward_unit *u;
    uint32_t *map; /* unit pattern -> database pattern (WARD_NO_PAT: not in it); NULL: same */
};

/*
 * The database scans use: its segments in load order, and the body
 * signatures of all of them linked into one index space (copies of the small
 * records; pattern sources, regexes and names stay in the segments).
 */
struct ward_db {
    int refs;
    ward_seg **segs;
    uint32_t n_segs;
    struct body_pat *pats; /* .src borrowed; .flags, .first_part, .n_parts from its unit */
    uint32_t n_pats;
    const char **ndb_names; /* per .ndb signature */
    uint32_t n_ndbs;
    struct ldb_sig *ldbs;
    const char **ldb_names;
    uint32_t n_ldbs;
    struct ldb_sub *ldb_subs;
    uint32_t n_ldb_subs;
    struct pcre_sub *pcres; /* .re and .code borrowed */
    uint32_t n_pcres;
    struct lexpr_pool exprs;
    uint32_t max_subs_total;
    uint32_t *zero_true;
    uint32_t n_zero_true;
    struct db_unit units[WARD_MAX_UNITS];
    unsigned n_units;
    uint8_t digest[32];
    struct ward_db_stats stats;
};

/* Loading helpers (load_*.c). */
/* Ignore entries in force while a segment loads: those of earlier segments. */
struct ignore_list {
    const ward_seg *const *segs;
    size_t n;
};

struct load_ctx {
    ward_seg *seg;
    const struct ignore_list *ign;
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
bool ward_db_ignored(const struct load_ctx *lc, const char *name, size_t len, const char *line,
                     size_t line_len);
ward_err ward_db_add_pat(ward_seg *seg, struct body_pat **out, uint32_t *idx) WARD_MUST_CHECK;

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
ward_err ward_pat_emit_forms(const struct body_pat *bp, ward_buf *scan, ward_buf *exact)
    WARD_MUST_CHECK;

/*
 * The key of a unit made of these segments' patterns (compile.c): their
 * pat_keys in order, this engine, Vectorscan's version and the CPU.
 */
void ward_unit_key(ward_seg *const *segs, size_t n, uint8_t key[32]);
/* The unit with this key from the cache directory, if it is there (compile.c). */
ward_unit *ward_unit_from_cache(const char *cache_dir, const uint8_t key[32],
                                ward_seg *const *segs, size_t n);
/* Compile the body patterns of these segments into a unit, and store it in
 * the cache directory when one is given (compile.c). */
ward_err ward_unit_compile(ward_seg *const *segs, size_t n, const char *cache_dir,
                           ward_unit **out, struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * Link loaded segments (in load order) into a database (link.c): rebase
 * their signatures, sum their statistics, and find or make the compiled
 * units (from opts->reuse, the cache, or by compiling). Takes a reference to
 * each segment.
 */
ward_err ward_db_link(ward_seg *const *segs, size_t n, const struct ward_db_opts *opts,
                      uint64_t skipped_files, ward_db **out, struct ward_diag *diag)
    WARD_MUST_CHECK;

/* Container files (cvd.c): verify, unpack, and load every member. */
ward_err ward_load_container(struct load_ctx *lc, const char *path, const uint8_t *data,
                             size_t len, bool is_cld) WARD_MUST_CHECK;
/* Dispatch a source text by its file name's extension (load.c). */
ward_err ward_load_source(struct load_ctx *lc, const char *name, uint8_t *text, size_t len)
    WARD_MUST_CHECK;
/* The kind of a file name's extension, or -1. */
int ward_kind_of_name(const char *name);
/* Is this a container's name (.cvd .cld .cud)? *cld tells which. */
bool ward_is_container_name(const char *name, bool *cld);

#endif
