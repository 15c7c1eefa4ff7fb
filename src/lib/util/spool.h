/*
 * spool.h - bytes that arrive in pieces and are read back later: kept in
 * memory up to a threshold, then moved to an unlinked temporary file.
 *
 * Contract: the spool owns its buffer and descriptor until
 * ward_tmpspool_free(). Writes past `cap` fail with WARD_ERR_LIMIT and store
 * nothing; the spool then stays as it was.
 */
#ifndef WARD_UTIL_SPOOL_H
#define WARD_UTIL_SPOOL_H

#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct ward_tmpspool {
    ward_buf mem;
    int fd;           /* -1 while in memory */
    uint64_t size;
    uint64_t cap;
    size_t mem_max;   /* beyond this, move to a file */
    const char *tmpdir;
};

void ward_tmpspool_init(struct ward_tmpspool *sp, uint64_t cap, size_t mem_max,
                        const char *tmpdir);
ward_err ward_tmpspool_write(struct ward_tmpspool *sp, const void *p, size_t n) WARD_MUST_CHECK;
/* The bytes: in memory (*mem set) or in *fd (read with pread from 0). */
void ward_tmpspool_view(const struct ward_tmpspool *sp, const uint8_t **mem, int *fd);
void ward_tmpspool_free(struct ward_tmpspool *sp);
/* An unlinked read-write file in dir (O_TMPFILE where the filesystem has it). */
int ward_tmpfile(const char *dir);

#endif
