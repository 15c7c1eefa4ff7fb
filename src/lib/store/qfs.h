/*
 * qfs.h - files that appear complete or not at all: the store's temporary
 * files and directory syncs.
 *
 * A temporary file is unnamed (O_TMPFILE) where the filesystem allows it, so
 * a process killed while writing leaves nothing behind; elsewhere it is a
 * named file the caller chooses (0600). Either way it gets its final name
 * only once complete: linked (never replacing anything) or renamed over an
 * existing file.
 *
 * Contract: no printing; functions return 0 or -1 with errno set, or a
 * ward_err with a message.
 */
#ifndef WARD_STORE_QFS_H
#define WARD_STORE_QFS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* Tests set this to exercise the named files of filesystems without O_TMPFILE. */
extern bool ward_qfs_force_named;

struct ward_qfs_tmp {
    int fd;
    bool anon;           /* unnamed; else `name` is its path */
    char name[PATH_MAX]; /* the named file, or empty */
};

/*
 * A new temporary file, mode 0600, in `dir`. When unnamed files are not
 * available it is created as `fallback` (exclusive), or when `fallback` is
 * NULL as DIR/.ward-XXXXXX.
 */
ward_err ward_qfs_tmp_open(const char *dir, const char *fallback, struct ward_qfs_tmp *t,
                           struct ward_diag *diag) WARD_MUST_CHECK;
/* Give the file the name `path` as well; fails with EEXIST rather than replace. */
int ward_qfs_tmp_link(struct ward_qfs_tmp *t, const char *path);
/* Put the file at `path` (in `dir`), replacing what is there; it loses its temporary name. */
int ward_qfs_tmp_replace(struct ward_qfs_tmp *t, const char *dir, const char *path);
/* Close it and remove its temporary name, if any. */
void ward_qfs_tmp_discard(struct ward_qfs_tmp *t);

/*
 * Start writing back what was written to `fd` so far, without waiting for
 * it, every `WARD_QFS_WRITEBACK` bytes: the disk works while the next chunks
 * are encrypted, the final fsync has little left to do, and a large object
 * does not fill the page cache with dirty pages. `*done` is the offset
 * already handed over; call with the current end of the file.
 */
#define WARD_QFS_WRITEBACK (8u << 20)
void ward_qfs_writeback(int fd, uint64_t *done, uint64_t end);

/* fsync a directory, so that names made or removed in it last. */
int ward_qfs_sync_dir(const char *dir);
/* The directory part of `path` into `out` ("." for a bare name). */
bool ward_qfs_dirname(const char *path, char *out, size_t cap);

#endif
