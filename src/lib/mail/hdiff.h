/*
 * hdiff.h - the difference between two header blocks as milter header
 * operations: which fields were added (and where), changed or removed.
 *
 * wardd returns a whole changed message; a milter can only ask the MTA for
 * edits. Fields are compared as raw bytes (name, colon, value, line end);
 * the alignment is a longest common subsequence, after trimming the common
 * start and end (the usual change, fields prepended and a Subject replaced,
 * leaves a tiny middle). A removed field and an added field of the same
 * name (same bytes) between the same kept fields are one change, so a new
 * Subject stays where the old one was. Applying the operations in order to
 * block a, as Sendmail and Postfix apply milter edits, gives block b field
 * for field.
 *
 * Contract: both blocks are untrusted bytes and are read within their
 * lengths; a block ends at its first empty line or at its end. Fields
 * beyond WARD_HDIFF_MAX_FIELDS, or a middle beyond WARD_HDIFF_MAX_CELLS,
 * are WARD_ERR_LIMIT; a field without a colon is WARD_ERR_PARSE.
 */
#ifndef WARD_MAIL_HDIFF_H
#define WARD_MAIL_HDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define WARD_HDIFF_MAX_FIELDS 20000
#define WARD_HDIFF_MAX_CELLS (4u << 20)

struct ward_hfield {
    size_t start; /* offset of the name */
    size_t colon; /* offset of the ':' (== end when there is none) */
    size_t end;   /* after the line break */
    size_t eol;   /* bytes of the final line break (0, 1 or 2) */
};

/* A header block split into fields; `len` is the block with its empty line. */
struct ward_hblock {
    struct ward_hfield *f;
    size_t n;
    size_t len;
};

ward_err ward_hdiff_parse(const uint8_t *p, size_t len, struct ward_hblock *out,
                          struct ward_diag *diag) WARD_MUST_CHECK;
void ward_hdiff_block_free(struct ward_hblock *b);

enum ward_hop_kind {
    WARD_HOP_CHANGE, /* field `orig` (its `occurrence` of that name) gets new's value */
    WARD_HOP_DELETE, /* field `orig` (its `occurrence`) goes */
    WARD_HOP_INSERT, /* field `new` is inserted at `pos` of the final list */
};

struct ward_hop {
    enum ward_hop_kind kind;
    size_t orig;       /* index in the original block (CHANGE, DELETE) */
    size_t occurrence; /* 1-based among original fields of the same name */
    size_t new;        /* index in the changed block (CHANGE, INSERT) */
    size_t pos;        /* INSERT: index in the final list */
};

/*
 * The operations that turn block a into block b, in the order to apply
 * them: changes and deletions from the last field up (so occurrences stay
 * valid whatever the MTA counts), then insertions by ascending position.
 */
ward_err ward_hdiff(const uint8_t *a, const struct ward_hblock *ba, const uint8_t *b,
                    const struct ward_hblock *bb, struct ward_hop **ops, size_t *n_ops,
                    struct ward_diag *diag) WARD_MUST_CHECK;

#endif
