/*
 * parts.h - the order and gap checks of split signatures, for one object.
 *
 * A signature with `*` or `{n-m}` gaps is matched as parts. Vectorscan
 * reports each part's end offsets in increasing order; the tracker keeps, per
 * signature and per part, where the signature's prefix up to that part can
 * end, and says when the last part completes it. Before a gap with no upper
 * bound only the earliest end matters; before a bounded gap the last
 * WARD_PARTS_RING ends are kept (more than libclamav's eight). When that ring
 * had to drop an end, a completion is only "possible" and the caller
 * confirms it with the exact form.
 *
 * Contract: one tracker per matcher (thread); state lives until
 * ward_parts_reset() at the end of each object. Memory grows only with the
 * number of split signatures an object touches.
 */
#ifndef WARD_ENGINE_PARTS_H
#define WARD_ENGINE_PARTS_H

#include <stdint.h>

#include "engine/db_int.h"

#define WARD_PARTS_RING 32

enum ward_parts_result {
    WARD_PARTS_NONE = 0,     /* nothing completed */
    WARD_PARTS_COMPLETE = 1, /* the signature matched, ending here */
    WARD_PARTS_POSSIBLE = 2, /* it may have matched: confirm */
};

struct ward_parts;

ward_err ward_parts_new(struct ward_parts **out) WARD_MUST_CHECK;
void ward_parts_free(struct ward_parts *t);
void ward_parts_reset(struct ward_parts *t);
/*
 * Part `part` (index into the unit's table `parts`) of pattern `pat` (the
 * database's index; the pattern has n_parts parts) ended at offset `end`
 * (one past its last byte).
 */
enum ward_parts_result ward_parts_hit(struct ward_parts *t, const struct body_part *parts,
                                      uint32_t part, uint32_t pat, uint32_t n_parts,
                                      uint64_t end);

#endif
