/*
 * match.h - match one object's bytes against a loaded database.
 *
 * A ward_matcher belongs to one thread and one database. For each object:
 *     ward_match_begin()   - type, size, what to hash
 *     ward_match_feed()    - the bytes, in order, in chunks of any size
 *     ward_match_end()     - hash signatures, confirmations, logical
 *                            signatures; the detections
 * Body patterns run through Vectorscan in streaming mode, so an object of any
 * size is matched in one pass with constant memory. Positions that matter
 * (offsets, edge tests, prefilter patterns) are confirmed afterwards with
 * PCRE2 on the few bytes concerned, which ward_match_end() reads back through
 * the object's ward_src.
 *
 * Contract: the matcher holds a reference to the database for its lifetime.
 * Detections are reported as name strings owned by the database.
 */
#ifndef WARD_ENGINE_MATCH_H
#define WARD_ENGINE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/db.h"
#include "formats/ftype.h"
#include "util/err.h"
#include "util/hash.h"

/* Random access to an object's bytes: memory, or a file descriptor. */
struct ward_src {
    const uint8_t *mem; /* NULL: read from fd */
    int fd;
    uint64_t size;
};

struct ward_match_opts {
    enum ward_ftype type;       /* the object's type */
    enum ward_target target;    /* target whose signatures apply besides 0 (ANY: none) */
    enum ward_ftype parent;     /* type of the enclosing container, BINARY at top */
    bool top_level;
    uint64_t size;
    unsigned extra_hashes;      /* WARD_HASH_BIT mask the caller wants too */
    bool all_matches;
};

#define WARD_MATCH_MAX_HITS 64

struct ward_match_result {
    const char *names[WARD_MATCH_MAX_HITS];
    unsigned n_names;
    bool allowed; /* the object is on an .fp/.sfp allow list */
    unsigned hash_mask;
    uint8_t digests[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
};

typedef struct ward_matcher ward_matcher;

ward_err ward_matcher_new(ward_db *db, ward_matcher **out) WARD_MUST_CHECK;
void ward_matcher_free(ward_matcher *m);
ward_db *ward_matcher_db(const ward_matcher *m);

ward_err ward_match_begin(ward_matcher *m, const struct ward_match_opts *opts) WARD_MUST_CHECK;
/*
 * Feed the next bytes. *done becomes true when nothing more is needed (a
 * detection was found, all matches are not wanted, and no digest is pending);
 * the caller may then stop reading.
 */
ward_err ward_match_feed(ward_matcher *m, const uint8_t *p, size_t n, bool *done)
    WARD_MUST_CHECK;
ward_err ward_match_end(ward_matcher *m, const struct ward_src *src,
                        struct ward_match_result *res) WARD_MUST_CHECK;
/* Abandon the object in progress (the matcher stays usable). */
void ward_match_abort(ward_matcher *m);

/* Is there a Vectorscan database for this target? (targets with no signatures skip work) */
bool ward_db_has_target(const ward_db *db, enum ward_target t);

#endif
