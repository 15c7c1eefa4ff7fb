/*
 * file.h - whole-file reads and atomic writes.
 *
 * Contract: ward_file_read_all reads at most buf->cap bytes and fails with
 * WARD_ERR_LIMIT beyond; ward_file_write_atomic writes to a temporary file in
 * the same directory, fsyncs and renames it into place, so readers see the
 * old file or the new one, never a half-written one.
 */
#ifndef WARD_UTIL_FILE_H
#define WARD_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

ward_err ward_file_read_all(const char *path, ward_buf *buf, struct ward_diag *diag)
    WARD_MUST_CHECK;
ward_err ward_fd_read_all(int fd, const char *name, ward_buf *buf, struct ward_diag *diag)
    WARD_MUST_CHECK;
ward_err ward_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                struct ward_diag *diag) WARD_MUST_CHECK;
/* read() until n bytes or EOF, retrying EINTR; returns bytes read or -1. */
ssize_t ward_read_full(int fd, void *p, size_t n);
ssize_t ward_pread_full(int fd, void *p, size_t n, off_t off);
/* write() all n bytes, retrying EINTR and short writes. */
ward_err ward_write_full(int fd, const void *p, size_t n) WARD_MUST_CHECK;
/*
 * Copy the first `size` bytes of `from` (read with pread from offset 0) to
 * `to` at its current offset, through a 64 KiB stack buffer (copy_file_range
 * refuses tmpfs or memfd to another filesystem on many kernels).
 */
ward_err ward_fd_copy(int from, int to, uint64_t size) WARD_MUST_CHECK;
/* mkdir -p with mode for created directories. */
ward_err ward_mkdir_p(const char *path, mode_t mode, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
