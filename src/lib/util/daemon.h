/*
 * daemon.h - what every Ward daemon does the same way: a pid file, going to
 * the background, dropping privileges, blocking signals for threads.
 *
 * Contract: these functions return errors with a message; they print
 * nothing. ward_daemonize() keeps the caller's file descriptors (listening
 * sockets) open and points stdin/stdout/stderr at /dev/null.
 */
#ifndef WARD_UTIL_DAEMON_H
#define WARD_UTIL_DAEMON_H

#include <sys/types.h>

#include "util/err.h"

/*
 * Create PATH with our pid, exclusively locked for the process lifetime. A
 * stale file (no live process holds its lock) is replaced; a live one is an
 * error naming the other pid. The descriptor stays open in *fd.
 */
ward_err ward_pidfile_create(const char *path, int *fd, struct ward_diag *diag) WARD_MUST_CHECK;
/* Rewrite our pid (after ward_daemonize changed it). */
ward_err ward_pidfile_update(int fd) WARD_MUST_CHECK;
void ward_pidfile_remove(const char *path, int fd);

/* Fork into the background and start a new session. */
ward_err ward_daemonize(struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * Switch to `user` (its uid, primary gid and groups). An empty or NULL user,
 * or one equal to the current one, is a no-op. Fails if not root.
 */
ward_err ward_drop_privileges(const char *user, struct ward_diag *diag) WARD_MUST_CHECK;
/* uid and gid of a user name (for chown of sockets before dropping). */
ward_err ward_user_ids(const char *user, uid_t *uid, gid_t *gid, struct ward_diag *diag)
    WARD_MUST_CHECK;
ward_err ward_group_id(const char *group, gid_t *gid, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
