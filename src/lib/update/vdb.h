/*
 * vdb.h - a ClamAV database container (.cvd, .cld) opened as a list of
 * members, so that .cdiff scripts can edit it and a new .cld can be written.
 *
 * A container is a 512-byte header ("ClamAV-VDB:time:version:sigs:flevel:
 * md5:dsig:builder:stime", space padded) and a tar, gzip-compressed in a
 * .cvd. ward_vdb_read does not check signatures: the updater checks the
 * .cvd header signature and the signed .info list by test-loading the
 * result with the engine, exactly as the scanner will read it.
 *
 * ward_vdb_write_cld writes what freshclam writes: the first line of
 * NAME.info as the header, then COPYING, NAME.info, then the other members;
 * the tar is gzip-compressed when there is no COPYING to start it, since
 * that is how readers tell the two apart.
 *
 * Contract: parsers are bounded by the input length and the limits below;
 * the vdb owns its members.
 */
#ifndef WARD_UPDATE_VDB_H
#define WARD_UPDATE_VDB_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WARD_VDB_MAX_MEMBERS 1024u
#define WARD_VDB_MAX_TAR (2ull << 30) /* uncompressed payload */

struct ward_vdb_head {
    unsigned version, sigs, flevel;
    uint64_t stime;
};

struct ward_vdb_member {
    char name[101];
    ward_buf data;
};

struct ward_vdb {
    char base[64]; /* "daily" for daily.cvd */
    struct ward_vdb_head head;
    struct ward_vdb_member *m;
    size_t n;
};

/* Parse the 512-byte header (data may be longer). */
ward_err ward_vdb_head_parse(const void *data, size_t len, struct ward_vdb_head *h)
    WARD_MUST_CHECK;
/* Read a whole container; `base` is the database name (daily, main, ...). */
ward_err ward_vdb_read(const char *base, const void *data, size_t len, struct ward_vdb *v,
                       struct ward_diag *diag) WARD_MUST_CHECK;
void ward_vdb_free(struct ward_vdb *v);

struct ward_vdb_member *ward_vdb_find(struct ward_vdb *v, const char *name);
/* Find or create an empty member. */
ward_err ward_vdb_open(struct ward_vdb *v, const char *name, struct ward_vdb_member **out)
    WARD_MUST_CHECK;
void ward_vdb_remove(struct ward_vdb *v, const char *name);

/* Write a .cld (header from BASE.info) into out. */
ward_err ward_vdb_write_cld(const struct ward_vdb *v, ward_buf *out, struct ward_diag *diag)
    WARD_MUST_CHECK;

/* gunzip into out (capped by out->cap). */
ward_err ward_gunzip(const void *in, size_t len, ward_buf *out) WARD_MUST_CHECK;

#endif
