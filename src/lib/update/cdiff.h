/*
 * cdiff.h - ClamAV's incremental updates (.cdiff) applied to a container.
 *
 * A .cdiff is "ClamAV-Diff:VERSION:SIZE:", a gzip-compressed script, then
 * ":" and a signature over everything before that colon: ClamAV's RSA-PSS
 * scheme over SHA-256 with the key that signs .info lists (engine/dsig.h).
 * The script edits the files of the container line by line:
 *
 *   OPEN name                  start editing a member (created when missing)
 *   ADD line                   append a line at CLOSE
 *   DEL n prefix               delete line n, which must start with prefix
 *   XCHG n prefix new line     replace line n, which must start with prefix
 *   CLOSE                      apply the DEL/XCHG edits, then the ADDs
 *   MOVE src dst n1 p1 n2 p2   move lines n1..n2 of src to the end of dst
 *   UNLINK                     remove the open member
 *
 * as ClamAV 1.4 applies it (lines starting with '#' are skipped). The
 * script usually rewrites NAME.info too, with a new DSIG line: the result
 * is checked by loading it, as a .cld.
 *
 * Contract: bounded by the input length and the limits of vdb.h; on error
 * the container may be half edited and must be thrown away.
 */
#ifndef WARD_UPDATE_CDIFF_H
#define WARD_UPDATE_CDIFF_H

#include <stddef.h>

#include "update/vdb.h"
#include "util/err.h"

#define WARD_CDIFF_MAX_SCRIPT (256u << 20)

/*
 * Check a .cdiff's signature with the key (decimal n, e; NULL: ClamAV's)
 * and read its header; *gz and *gz_len then give the gzip data.
 */
ward_err ward_cdiff_verify(const char *name, const void *data, size_t len, const char *n_key,
                           const char *e_key, unsigned *version, const uint8_t **gz,
                           size_t *gz_len, struct ward_diag *diag) WARD_MUST_CHECK;

/* Run an (uncompressed) script on the container. */
ward_err ward_cdiff_run(struct ward_vdb *v, const char *name, const char *script, size_t len,
                        struct ward_diag *diag) WARD_MUST_CHECK;

/* Verify, decompress and run a .cdiff file's contents. */
ward_err ward_cdiff_apply(struct ward_vdb *v, const char *name, const void *data, size_t len,
                          const char *n_key, const char *e_key, struct ward_diag *diag)
    WARD_MUST_CHECK;

#endif
