/* daemon.c - pid files, backgrounding and privilege dropping. */
#include "util/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

ward_err ward_pidfile_update(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return WARD_ERR_IO;
    return WARD_OK;
}

ward_err ward_pidfile_create(const char *path, int *out, struct ward_diag *diag)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot create pid file %s: %s", path,
                             strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        (void)!pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "%s: already running as pid %ld", path,
                             strtol(buf, NULL, 10));
    }
    if (ward_pidfile_update(fd)) {
        close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "cannot write pid file %s: %s", path,
                             strerror(errno));
    }
    *out = fd;
    return WARD_OK;
}

void ward_pidfile_remove(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

ward_err ward_daemonize(struct ward_diag *diag)
{
    pid_t pid = fork();
    if (pid < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "setsid: %s", strerror(errno));
    pid = fork(); /* no controlling terminal can be acquired again */
    if (pid < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    if (chdir("/") != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "chdir /: %s", strerror(errno));
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "/dev/null: %s", strerror(errno));
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO)
        close(null);
    return WARD_OK;
}

ward_err ward_user_ids(const char *user, uid_t *uid, gid_t *gid, struct ward_diag *diag)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "unknown user '%s'", user);
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return WARD_OK;
}

ward_err ward_group_id(const char *group, gid_t *gid, struct ward_diag *diag)
{
    struct group gr, *res = NULL;
    char buf[4096];
    if (getgrnam_r(group, &gr, buf, sizeof buf, &res) != 0 || !res)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "unknown group '%s'", group);
    *gid = gr.gr_gid;
    return WARD_OK;
}

ward_err ward_drop_privileges(const char *user, struct ward_diag *diag)
{
    if (!user || !*user)
        return WARD_OK;
    uid_t uid;
    gid_t gid;
    ward_err e = ward_user_ids(user, &uid, &gid, diag);
    if (e)
        return e;
    if (getuid() == uid && geteuid() == uid)
        return WARD_OK;
    if (geteuid() != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot switch to user '%s': not root", user);
    if (setgroups(0, NULL) != 0 || initgroups(user, gid) != 0 || setgid(gid) != 0 ||
        setuid(uid) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot switch to user '%s': %s", user,
                             strerror(errno));
    /* Make sure there is no way back. */
    if (setuid(0) == 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "privileges could be regained");
    return WARD_OK;
}
