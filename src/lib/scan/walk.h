/*
 * walk.h - what format modules see of a scan in progress.
 *
 * A format module's unpack function receives the container object and hands
 * each member back with ward_walk_child() (bytes already in memory) or
 * through a spool (bytes produced piece by piece: decompressed data). The
 * walk scans the child at once, depth first, enforcing every limit; the
 * module only has to stop when ward_walk_stopped() says so.
 *
 * Contract: objects and spools live on the caller's stack; names are copied
 * where they need to outlive the call. Spools keep small members in memory
 * and move larger ones to an unlinked temporary file.
 */
#ifndef WARD_SCAN_WALK_H
#define WARD_SCAN_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/match.h"
#include "formats/ftype.h"
#include "scan/scan.h"
#include "util/buf.h"
#include "util/spool.h"

struct ward_walk;

struct ward_obj {
    const struct ward_obj *parent;
    const char *name; /* path component; NULL for a hidden layer (normalized text) */
    unsigned depth;   /* containers above this object */
    enum ward_ftype type;
    int forced_target; /* -1, or the target type of a normalized layer */
    bool stream;       /* the content of a compressed stream (x.gz -> x) */
    struct ward_src src;
};

struct ward_spool {
    struct ward_tmpspool s;
    enum ward_reason over; /* set when a write went past the cap or failed */
    bool same_level; /* another encoding of the parent (a compressed stream), not a
                        member: it does not count as a level of nesting */
};

/* Start a spool for a member of `parent`. */
void ward_spool_init(struct ward_walk *w, const struct ward_obj *parent, struct ward_spool *sp);
/*
 * Append bytes. Past the cap the spool stops growing, records why in
 * sp->over and returns WARD_ERR_LIMIT; the module should stop extracting
 * that member and still call ward_walk_spooled(), which reports it.
 */
ward_err ward_spool_write(struct ward_walk *w, struct ward_spool *sp, const void *p, size_t n)
    WARD_MUST_CHECK;
void ward_spool_free(struct ward_spool *sp);

/* Scan a member whose bytes are in a spool (and free the spool). */
ward_err ward_walk_spooled(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                           struct ward_spool *sp) WARD_MUST_CHECK;
/* Scan a member whose bytes are in memory. */
ward_err ward_walk_child(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                         const uint8_t *p, size_t n) WARD_MUST_CHECK;
/* Scan a hidden layer (normalized text) of `parent` with the given target. */
ward_err ward_walk_layer(struct ward_walk *w, const struct ward_obj *parent, int target,
                         struct ward_spool *sp) WARD_MUST_CHECK;

/* Report a finding about a member that cannot be scanned (encrypted, ...). */
void ward_walk_report(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                      enum ward_verdict v, enum ward_reason r, const char *text);
/* True once the scan should end (first detection, a global limit, or stop). */
bool ward_walk_stopped(const struct ward_walk *w);
/* The database this scan matches against. */
ward_db *ward_walk_db(const struct ward_walk *w);
/* Temporary directory for spills. */
const char *ward_walk_tmpdir(const struct ward_walk *w);

/* Format modules: unpack `obj` (its type says which). */
typedef ward_err (*ward_unpack_fn)(struct ward_walk *w, const struct ward_obj *obj);
ward_unpack_fn ward_format_unpacker(enum ward_ftype type);

/* Read bytes [off, off+n) of an object; returns bytes read or -1. */
ssize_t ward_obj_read(const struct ward_obj *obj, uint64_t off, void *p, size_t n);

#endif
