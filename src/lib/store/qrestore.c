/* qrestore.c - give objects back: restore to a file, export, stream, check. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/qfs.h"
#include "store/qobj.h"
#include "store/quarantine_int.h"
#include "util/file.h"

static ward_err open_object(ward_quarantine *q, const char *id, struct ward_qrecord *rec, int *fd,
                            struct ward_diag *diag)
{
    *fd = -1;
    ward_err e = ward_quarantine_get(q, id, rec, diag);
    if (e)
        return e;
    char obj[PATH_MAX];
    if (!ward_q_object_path(q, id, obj, sizeof obj)) {
        ward_qrecord_free(rec);
        return ward_diag_set(diag, WARD_ERR_LIMIT, "quarantine path too long");
    }
    *fd = open(obj, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (*fd < 0) {
        e = errno == ENOENT
                ? ward_diag_set(diag, WARD_ERR_CORRUPT,
                                "the file of object %s is missing (%s); `ward quarantine "
                                "verify` reports such damage",
                                id, obj)
                : ward_diag_set(diag, WARD_ERR_IO, "cannot open %s: %s", obj, strerror(errno));
        ward_qrecord_free(rec);
    }
    return e;
}

/* Decrypt the whole object into `sink` and compare it with its record. */
static ward_err decrypt_checked(ward_quarantine *q, int fd, const struct ward_qrecord *rec,
                                ward_qobj_sink sink, void *ctx, struct ward_diag *diag)
{
    struct ward_qobj_sum sum;
    ward_err e = ward_qobj_decrypt(fd, q->key, rec->id, sink, ctx, &sum, diag);
    if (e) {
        if (e == WARD_ERR_CORRUPT)
            ward_diag_prefix(diag, e, "quarantine object %s: ", rec->id);
        return e;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, sum.sha256, sizeof sum.sha256);
    if (sum.size != rec->size || strcmp(hex, rec->sha256) != 0)
        return ward_diag_set(diag, WARD_ERR_CORRUPT,
                             "quarantine object %s decrypts to %llu bytes with SHA-256 %s, but "
                             "the index records %llu bytes with SHA-256 %s",
                             rec->id, (unsigned long long)sum.size, hex,
                             (unsigned long long)rec->size, rec->sha256);
    return WARD_OK;
}

static ward_err to_fd(void *ctx, const void *p, size_t n)
{
    return ward_write_full(*(int *)ctx, p, n);
}

ward_err ward_quarantine_check(ward_quarantine *q, const char *id, struct ward_diag *diag)
{
    ward_err e = ward_q_need_key(q, diag);
    if (e)
        return e;
    struct ward_qrecord rec;
    int fd;
    if ((e = open_object(q, id, &rec, &fd, diag)))
        return e;
    e = decrypt_checked(q, fd, &rec, NULL, NULL, diag);
    close(fd);
    ward_qrecord_free(&rec);
    return e;
}

ward_err ward_quarantine_read(ward_quarantine *q, const char *id, int out, struct ward_diag *diag)
{
    ward_err e = ward_q_need_key(q, diag);
    if (e)
        return e;
    struct ward_qrecord rec;
    int fd;
    if ((e = open_object(q, id, &rec, &fd, diag)))
        return e;
    /* The first pass checks everything, the second writes. */
    e = decrypt_checked(q, fd, &rec, NULL, NULL, diag);
    if (!e) {
        e = decrypt_checked(q, fd, &rec, to_fd, &out, diag);
        if (e == WARD_ERR_IO)
            e = ward_diag_set(diag, e, "cannot write object %s: %s", id, strerror(errno));
    }
    close(fd);
    ward_qrecord_free(&rec);
    return e;
}

struct file_sink {
    int fd;
    int err; /* errno of a failed write */
    uint64_t written, synced;
};

static ward_err to_file(void *ctx, const void *p, size_t n)
{
    struct file_sink *s = ctx;
    if (ward_write_full(s->fd, p, n) != WARD_OK) {
        s->err = errno;
        return WARD_ERR_IO;
    }
    s->written += n;
    ward_qfs_writeback(s->fd, &s->synced, s->written);
    return WARD_OK;
}

/* The recorded mode, times and owner; set-id bits are never given back. */
static int apply_attrs(int fd, const struct ward_qrecord *r)
{
    if (geteuid() == 0 && fchown(fd, (uid_t)r->uid, (gid_t)r->gid) != 0)
        return -1;
    if (fchmod(fd, (mode_t)(r->mode & 01777)) != 0)
        return -1;
    struct timespec ts[2] = {{0, UTIME_NOW}, {(time_t)r->mtime, 0}};
    return futimens(fd, ts);
}

ward_err ward_quarantine_restore(ward_quarantine *q, const char *id, const char *dest,
                                 unsigned flags, char *written, size_t cap, struct ward_diag *diag)
{
    ward_err e = ward_q_need_key(q, diag);
    if (e)
        return e;
    struct ward_qrecord rec;
    int fd;
    if ((e = open_object(q, id, &rec, &fd, diag)))
        return e;
    char path[PATH_MAX], dir[PATH_MAX];
    struct ward_qfs_tmp t = {.fd = -1};
    struct stat st;
    if (!dest && !rec.path) {
        e = ward_diag_set(diag, WARD_ERR_NOTFOUND,
                          "object %s has no original path: say where to write it", id);
        goto out;
    }
    if (snprintf(path, sizeof path, "%s", dest ? dest : rec.path) >= (int)sizeof path ||
        !ward_qfs_dirname(path, dir, sizeof dir)) {
        e = ward_diag_set(diag, WARD_ERR_LIMIT, "path too long: %s", dest ? dest : rec.path);
        goto out;
    }
    if (lstat(path, &st) == 0) {
        if (!(flags & WARD_QRESTORE_FORCE)) {
            e = ward_diag_set(diag, WARD_ERR_IO, "%s exists; it is not replaced without force",
                              path);
            goto out;
        }
        if (S_ISDIR(st.st_mode)) {
            e = ward_diag_set(diag, WARD_ERR_IO, "%s is a directory", path);
            goto out;
        }
    }
    /* Restoring to where it came from, after its folder went too: make the
       folder again, as the file's owner would expect (an explicit --to is
       taken as given). */
    if (!dest && lstat(dir, &st) != 0 && errno == ENOENT &&
        (e = ward_mkdir_p(dir, 0755, diag)))
        goto out;
    if ((e = ward_qfs_tmp_open(dir, NULL, &t, diag)))
        goto out;
    struct file_sink sink = {t.fd, 0, 0, 0};
    if ((e = decrypt_checked(q, fd, &rec, to_file, &sink, diag))) {
        if (e == WARD_ERR_IO && sink.err)
            e = ward_diag_set(diag, e, "cannot write %s: %s", path,
                              sink.err == ENOSPC ? "no space left on the device"
                                                 : strerror(sink.err));
        goto out;
    }
    if ((flags & WARD_QRESTORE_ATTRS) && rec.have_attrs && apply_attrs(t.fd, &rec) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot set the mode, times or owner of %s: %s", path,
                          strerror(errno));
        goto out;
    }
    if (fsync(t.fd) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    int rc = (flags & WARD_QRESTORE_FORCE) ? ward_qfs_tmp_replace(&t, dir, path)
                                           : ward_qfs_tmp_link(&t, path);
    if (rc != 0) {
        e = errno == EEXIST
                ? ward_diag_set(diag, WARD_ERR_IO, "%s exists; it is not replaced without force",
                                path)
                : ward_diag_set(diag, WARD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    (void)ward_qfs_sync_dir(dir);
    if (written)
        snprintf(written, cap, "%s", path);
out:
    ward_qfs_tmp_discard(&t);
    close(fd);
    ward_qrecord_free(&rec);
    return e;
}

ward_err ward_quarantine_export(ward_quarantine *q, const char *id, const char *dest, bool force,
                                struct ward_diag *diag)
{
    if (!dest)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "export needs a destination");
    return ward_quarantine_restore(q, id, dest, force ? WARD_QRESTORE_FORCE : 0, NULL, 0, diag);
}
