/*
 * scan.h - the recursive scan of one object (a file, a buffer, a message).
 *
 * A scan is a tree walk: each object is typed from its bytes, matched against
 * the database, then, if it is a container or an encoding, unpacked by its
 * format module, and each child is scanned the same way. Findings are passed
 * to a callback as they happen, each with the path of names from the top
 * object down through the containers ("mail.eml", "files.zip", "doc.exe").
 *
 * Limits (struct ward_scan_limits) bound every scan; an object beyond a
 * limit is reported not_scanned(limit), an encrypted member
 * not_scanned(encrypted), an unreadable container not_scanned(corrupted):
 * none of these is ever reported clean.
 *
 * Contract: a ward_scanner belongs to one thread at a time and holds a
 * reference to its database. A ward_vcache may be shared by all scanners.
 */
#ifndef WARD_SCAN_SCAN_H
#define WARD_SCAN_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/db.h"
#include "scan/vcache.h"
#include "util/err.h"

enum ward_verdict {
    WARD_VERDICT_CLEAN = 0,
    WARD_VERDICT_NOT_SCANNED,
    WARD_VERDICT_SUSPICIOUS,
    WARD_VERDICT_INFECTED,
};

enum ward_reason {
    WARD_REASON_NONE = 0,
    WARD_REASON_ENCRYPTED,
    WARD_REASON_LIMIT,
    WARD_REASON_CORRUPTED,
    WARD_REASON_ERROR,
};

const char *ward_verdict_name(enum ward_verdict v);
const char *ward_reason_name(enum ward_reason r);

struct ward_scan_limits {
    uint64_t max_filesize;  /* one object */
    uint64_t max_scansize;  /* all bytes read or unpacked in one scan */
    uint32_t max_recursion; /* container depth */
    uint32_t max_files;     /* objects in one scan */
    uint32_t max_scantime;  /* milliseconds, 0: none */
    uint32_t max_ratio;     /* unpacked / packed size, 0: none */
};

/* ClamAV-like defaults. */
void ward_scan_limits_default(struct ward_scan_limits *l);

#define WARD_PATH_MAX_DEPTH 64

struct ward_finding {
    enum ward_verdict verdict;
    enum ward_reason reason;
    const char *name;   /* signature name, or a short explanation for not_scanned */
    const char *const *path; /* path[0] is the top object's name */
    unsigned depth;          /* number of entries in path */
};

/* Return false to stop the scan. */
typedef bool (*ward_finding_fn)(void *ctx, const struct ward_finding *f);

/*
 * An object the walk reached (the top one and every named member), before it
 * is matched: for callers that look at names and true types (mail filters).
 */
struct ward_object_seen {
    const char *const *path; /* path[depth - 1] is its own name */
    unsigned depth;
    uint64_t size;
    const uint8_t *head;     /* its first bytes (up to WARD_READ_CHUNK) */
    size_t head_len;
};
typedef void (*ward_object_fn)(void *ctx, const struct ward_object_seen *obj);

struct ward_scan_opts {
    struct ward_scan_limits limits;
    bool all_matches;        /* report every detection, not only the first */
    bool no_unpack;          /* match the top object as it is: no container walk */
    const char *tmpdir;      /* for large unpacked members; NULL: $TMPDIR or /tmp */
    ward_vcache *cache;      /* NULL: no verdict cache; unused while on_object is set,
                                since a cached subtree is not walked */
    ward_finding_fn on_finding;
    ward_object_fn on_object; /* NULL: none */
    void *ctx;               /* for both callbacks */
};

struct ward_scan_result {
    enum ward_verdict verdict; /* the worst finding */
    enum ward_reason reason;
    uint64_t top_size;         /* size of the object itself */
    uint64_t bytes;            /* bytes matched, all layers */
    uint32_t objects;          /* objects scanned, all layers */
    uint32_t findings;
};

typedef struct ward_scanner ward_scanner;

ward_err ward_scanner_new(ward_db *db, ward_scanner **out) WARD_MUST_CHECK;
void ward_scanner_free(ward_scanner *s);
ward_db *ward_scanner_db(const ward_scanner *s);

/*
 * Scan an open file (read with pread from offset 0; size from fstat or, for
 * pipes, by reading to the end into a temporary file first).
 * Errors are reading errors of the top object; problems inside are findings.
 */
ward_err ward_scan_fd(ward_scanner *s, int fd, const char *name, const struct ward_scan_opts *o,
                      struct ward_scan_result *res, struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_scan_mem(ward_scanner *s, const void *p, size_t len, const char *name,
                       const struct ward_scan_opts *o, struct ward_scan_result *res,
                       struct ward_diag *diag) WARD_MUST_CHECK;

#endif
