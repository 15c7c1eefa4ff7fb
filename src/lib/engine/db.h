/*
 * db.h - a loaded signature database.
 *
 * A database is loaded from files and directories of ClamAV-format signature
 * sources (.hdb .hsb .ndb .ldb .fp .sfp .ign2 and the .cvd/.cld containers),
 * compiled (body patterns into Vectorscan databases, cached on disk), and then
 * shared read-only by every scanning thread. It is reference-counted so that
 * a daemon can swap in a new database while scans on the old one finish.
 *
 * Errors: a malformed signature line fails the load with a message naming
 * file and line. Kinds of signatures this version cannot use (bytecode,
 * phishing lists, PE-relative offsets, ...) are counted as skipped, never
 * fatal; ward_db_stats() reports them.
 */
#ifndef WARD_ENGINE_DB_H
#define WARD_ENGINE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

/* ClamAV functionality level Ward implements (that of ClamAV 1.4.6). */
#define WARD_FLEVEL 216

/* Kinds of signature sources, for statistics. */
enum ward_sigkind {
    WARD_KIND_HDB,
    WARD_KIND_HSB,
    WARD_KIND_MDB,
    WARD_KIND_MSB,
    WARD_KIND_IMP,
    WARD_KIND_NDB,
    WARD_KIND_LDB,
    WARD_KIND_FP,
    WARD_KIND_SFP,
    WARD_KIND_IGN,
    WARD_KIND_CDB,
    WARD_KIND_CRB,
    WARD_KIND_CBC,
    WARD_KIND_PDB,
    WARD_KIND_GDB,
    WARD_KIND_WDB,
    WARD_KIND_FTM,
    WARD_KIND_IDB,
    WARD_KIND_CFG,
    WARD_KIND_PWDB,
    WARD_KIND_YARA,
    WARD_KIND_COUNT
};

struct ward_kind_stats {
    uint64_t loaded;
    uint64_t skipped;
};

struct ward_db_stats {
    struct ward_kind_stats kind[WARD_KIND_COUNT];
    uint64_t files;             /* source files read */
    uint64_t skipped_files;     /* files of unknown extension in a directory */
    uint64_t body_patterns;     /* patterns in the Vectorscan databases */
    uint64_t prefilter_patterns; /* compiled approximately, confirmed by PCRE2 */
    uint64_t uncompiled_patterns; /* Vectorscan cannot take them: they never match */
    uint64_t ignored;           /* signatures dropped by .ign2 */
    uint64_t flevel_skipped;    /* signatures for other functionality levels */
    uint32_t version;           /* highest daily/main container version, or 0 */
    time_t build_time;          /* of that container, or newest source mtime */
    bool compile_cached;        /* the compiled form came from the cache */
    uint64_t files_reused;      /* source files taken unchanged from the previous database */
    uint64_t overlay_patterns;  /* compiled alone beside the previous compiled form */
    bool partial;               /* matched with two compiled units until a full compile */
    double load_seconds;
    double compile_seconds;
};

/* Container public keys (decimal modulus and exponent); NULL fields = ClamAV's. */
struct ward_db_keys {
    const char *cvd_n, *cvd_e;   /* header signature of .cvd */
    const char *info_n, *info_e; /* DSIG line of .info inside containers */
};

struct ward_db_opts {
    const char *cache_dir;        /* where compiled pattern sets are kept; NULL: none */
    unsigned flevel;              /* 0: WARD_FLEVEL */
    struct ward_db_keys keys;
    bool check_only;              /* parse and check, do not compile */
    bool collect_errors;          /* keep going after malformed lines */
    /* With collect_errors: every error is passed here (may be NULL). */
    void (*on_error)(void *ctx, const char *msg);
    void *error_ctx;
    /*
     * A database loaded before from the same paths: files whose identity
     * (device, inode, size, times) did not change are taken from it without
     * reading them, and so is its compiled form where it still applies.
     */
    const struct ward_db *reuse;
    /*
     * With reuse, when the whole set is not in the cache: compile up to this
     * many new patterns alone and match them beside reuse's compiled form
     * (ward_db_stats()->partial), instead of compiling everything (0: never).
     */
    uint32_t overlay_max;
    /* Fail with WARD_ERR_AGAIN rather than compile the whole set here. */
    bool no_full_compile;
};

typedef struct ward_db ward_db;

/* Load from files or directories (directories: not recursive, by extension). */
ward_err ward_db_load(const char *const *paths, size_t n_paths, const struct ward_db_opts *opts,
                      ward_db **out, struct ward_diag *diag) WARD_MUST_CHECK;
/*
 * Would loading the same paths again give something else? Compares every
 * source file's identity with what db loaded (cheap: stat only). A file that
 * changed within two seconds of its loading always counts as changed, since
 * its times may not show a later change.
 */
bool ward_db_stale(const ward_db *db, const char *const *paths, size_t n_paths);
void ward_db_ref(ward_db *db);
void ward_db_unref(ward_db *db);

const struct ward_db_stats *ward_db_stats(const ward_db *db);
const char *ward_kind_name(enum ward_sigkind kind);
/* Call fn for the name of every detection the database can report. */
void ward_db_each_name(const ward_db *db, void (*fn)(void *ctx, const char *name), void *ctx);
/* A digest identifying the loaded content (for verdict caches). */
const uint8_t *ward_db_digest(const ward_db *db);

#endif
