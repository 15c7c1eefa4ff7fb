/* qfs.c - unnamed temporary files, published by link or rename; directory syncs. */
#include "store/qfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

bool ward_qfs_force_named;

static bool have_proc(void)
{
    return access("/proc/self/fd", X_OK) == 0;
}

ward_err ward_qfs_tmp_open(const char *dir, const char *fallback, struct ward_qfs_tmp *t,
                           struct ward_diag *diag)
{
    t->fd = -1;
    t->anon = false;
    t->name[0] = 0;
#ifdef O_TMPFILE
    /* Linking an unnamed file needs /proc (or CAP_DAC_READ_SEARCH). */
    if (!ward_qfs_force_named && have_proc()) {
        t->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (t->fd >= 0) {
            t->anon = true;
            return WARD_OK;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return ward_diag_set(diag, WARD_ERR_IO, "cannot create a file in %s: %s", dir,
                                 strerror(errno));
    }
#endif
    if (fallback) {
        if (snprintf(t->name, sizeof t->name, "%s", fallback) >= (int)sizeof t->name)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "path too long: %s", fallback);
        t->fd = open(t->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    } else {
        if (snprintf(t->name, sizeof t->name, "%s/.ward-XXXXXX", dir) >= (int)sizeof t->name)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "path too long: %s", dir);
        t->fd = mkostemp(t->name, O_CLOEXEC);
    }
    if (t->fd < 0) {
        ward_err e =
            ward_diag_set(diag, WARD_ERR_IO, "cannot create %s: %s", t->name, strerror(errno));
        t->name[0] = 0;
        return e;
    }
    return WARD_OK;
}

int ward_qfs_tmp_link(struct ward_qfs_tmp *t, const char *path)
{
    if (!t->anon)
        return link(t->name, path);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", t->fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int ward_qfs_tmp_replace(struct ward_qfs_tmp *t, const char *dir, const char *path)
{
    if (t->anon) {
        /* An unnamed file cannot be renamed: link it under a fresh name first. */
        for (int tries = 0;; tries++) {
            uint8_t r[8];
            char hex[17];
            randombytes_buf(r, sizeof r);
            sodium_bin2hex(hex, sizeof hex, r, sizeof r);
            if (snprintf(t->name, sizeof t->name, "%s/.ward-%s", dir, hex) >= (int)sizeof t->name) {
                t->name[0] = 0;
                errno = ENAMETOOLONG;
                return -1;
            }
            if (ward_qfs_tmp_link(t, t->name) == 0)
                break;
            if (errno != EEXIST || tries > 8) {
                t->name[0] = 0;
                return -1;
            }
        }
        t->anon = false;
    }
    if (rename(t->name, path) != 0)
        return -1;
    t->name[0] = 0;
    return 0;
}

void ward_qfs_tmp_discard(struct ward_qfs_tmp *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    if (!t->anon && t->name[0])
        unlink(t->name);
    t->name[0] = 0;
}

void ward_qfs_writeback(int fd, uint64_t *done, uint64_t end)
{
    if (end - *done < WARD_QFS_WRITEBACK)
        return;
    /* Only a hint: errors show up at the fsync that follows. */
    (void)sync_file_range(fd, (off_t)*done, (off_t)(end - *done), SYNC_FILE_RANGE_WRITE);
    *done = end;
}

int ward_qfs_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

bool ward_qfs_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (!slash)
        n = snprintf(out, cap, ".");
    else if (slash == path)
        n = snprintf(out, cap, "/");
    else
        n = snprintf(out, cap, "%.*s", (int)(slash - path), path);
    return n >= 0 && (size_t)n < cap;
}
