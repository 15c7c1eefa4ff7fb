/*
 * dbtree.h - the installed database as versions and one symlink.
 *
 * database_dir (say /var/lib/ward/db) is a symbolic link to one of the
 * numbered directories beside it in db.versions/ (000007, 000008...). An
 * update fills a staging directory there, checks it completely, renames it
 * to the next number and then replaces the link with rename(2) of a new
 * link: one atomic step, so that a reader opening database_dir/FILE sees
 * the old version or the new one, never a mixture or a missing file.
 * Directories cannot be replaced atomically by rename(2) while they hold
 * files, and renameat2(RENAME_EXCHANGE) would leave the old version under
 * a temporary name; a link also lets `ward update --rollback` go back by
 * relinking, and earlier versions stay where they are until pruned.
 *
 * A database_dir that is still a plain directory (a first update) is
 * swapped for the link with renameat2(RENAME_EXCHANGE), also atomic, and
 * kept as version 000000.
 *
 * The files themselves live once, by content, in NAME.versions/.objects/
 * (named by their SHA-256); a version directory holds symbolic links to
 * them (db.versions/000008/daily.ndb -> ../.objects/SHA256). A file that
 * did not change between versions is the same inode with the same size,
 * mtime and ctime, so the engine can reuse what it made of it: a hard link
 * per version would do as well for the data, but link(2) and unlink(2)
 * change the inode's ctime and would defeat that. Objects no kept version
 * links to are removed when old versions are pruned.
 *
 * Contract: one updater at a time (an exclusive lock on db.versions/.lock,
 * held from ward_dbtree_open to ward_dbtree_close). Functions report errors
 * with the path involved.
 */
#ifndef WARD_UPDATE_DBTREE_H
#define WARD_UPDATE_DBTREE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* State the updater keeps inside each version (ignored by the engine). */
#define WARD_DBTREE_STATE ".ward-update"

struct ward_dbtree {
    char live[PATH_MAX];     /* database_dir */
    char versions[PATH_MAX]; /* its sibling NAME.versions */
    char current[PATH_MAX];  /* the directory live points to now; "" if none */
    int lock_fd;
};

ward_err ward_dbtree_open(const char *database_dir, struct ward_dbtree *t,
                          struct ward_diag *diag) WARD_MUST_CHECK;
void ward_dbtree_close(struct ward_dbtree *t);

/* A new empty staging directory (with its state subdirectory). */
ward_err ward_dbtree_stage(struct ward_dbtree *t, char *staging, size_t cap,
                           struct ward_diag *diag) WARD_MUST_CHECK;
/* Remove a staging directory that will not be installed. */
void ward_dbtree_discard(const char *dir);

/* Rename staging to the next version and switch the link to it. */
ward_err ward_dbtree_commit(struct ward_dbtree *t, const char *staging, char *installed,
                            size_t cap, struct ward_diag *diag) WARD_MUST_CHECK;
/* Switch the link to the newest version older than the current one. */
ward_err ward_dbtree_rollback(struct ward_dbtree *t, char *to, size_t cap,
                              struct ward_diag *diag) WARD_MUST_CHECK;
/* Remove all but the current version and the `keep` newest others. */
ward_err ward_dbtree_prune(struct ward_dbtree *t, unsigned keep, struct ward_diag *diag)
    WARD_MUST_CHECK;

/*
 * Put `file` into the content store and link dir/name to it. With `move`
 * the file is renamed into the store (it was made for this version),
 * otherwise hard-linked (a file of a plain directory being adopted).
 */
ward_err ward_dbtree_adopt(struct ward_dbtree *t, const char *dir, const char *name,
                           const char *file, bool move, struct ward_diag *diag) WARD_MUST_CHECK;
/* dir/name becomes what `from` (a file of another version) is: the same object. */
ward_err ward_dbtree_keep(struct ward_dbtree *t, const char *dir, const char *name,
                          const char *from, struct ward_diag *diag) WARD_MUST_CHECK;
/* The stored object with this digest and size, if present: link dir/name to it. */
bool ward_dbtree_reuse(struct ward_dbtree *t, const char *dir, const char *name,
                       const uint8_t sha256[32], uint64_t size);

/* Hard-link a file, following a symbolic link (or copy when links are impossible). */
ward_err ward_link_or_copy(const char *from, const char *to, struct ward_diag *diag)
    WARD_MUST_CHECK;
/* Remove a directory tree of files (no symlinks are followed). */
void ward_rm_tree(const char *dir);

#endif
