/* file.c - bounded reads, full writes, atomic replacement. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t ward_read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t ward_pread_full(int fd, void *p, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ward_err ward_fd_copy(int from, int to, uint64_t size)
{
    char buf[64 << 10];
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        if (ward_pread_full(from, buf, want, (off_t)off) != (ssize_t)want)
            return WARD_ERR_IO;
        ward_err e = ward_write_full(to, buf, want);
        if (e)
            return e;
        off += want;
    }
    return WARD_OK;
}

ward_err ward_write_full(int fd, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)p + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return WARD_ERR_IO;
        }
        done += (size_t)w;
    }
    return WARD_OK;
}

ward_err ward_fd_read_all(int fd, const char *name, ward_buf *buf, struct ward_diag *diag)
{
    /* A regular file is read straight into a buffer of its size. */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > buf->cap)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: larger than %zu bytes", name,
                                 buf->cap);
        if (ward_buf_reserve(buf, (size_t)st.st_size))
            return ward_diag_set(diag, WARD_ERR_NOMEM, "%s: out of memory", name);
        for (;;) {
            size_t room = buf->alloc - buf->len - 1;
            if (room == 0)
                break; /* the file grew: read the rest below */
            ssize_t r = read(fd, buf->data + buf->len, room);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return ward_diag_set(diag, WARD_ERR_IO, "%s: read failed: %s", name,
                                     strerror(errno));
            buf->len += (size_t)r;
            buf->data[buf->len] = 0;
            if (r == 0)
                return WARD_OK;
        }
    }
    uint8_t chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ward_diag_set(diag, WARD_ERR_IO, "%s: read failed: %s", name, strerror(errno));
        }
        if (r == 0)
            return WARD_OK;
        ward_err e = ward_buf_append(buf, chunk, (size_t)r);
        if (e == WARD_ERR_LIMIT)
            return ward_diag_set(diag, e, "%s: larger than %zu bytes", name, buf->cap);
        if (e)
            return ward_diag_set(diag, e, "%s: out of memory", name);
    }
}

ward_err ward_file_read_all(const char *path, ward_buf *buf, struct ward_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ward_diag_set(diag, errno == ENOENT ? WARD_ERR_NOTFOUND : WARD_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "%s: is a directory", path);
    }
    ward_err e = ward_fd_read_all(fd, path, buf, diag);
    close(fd);
    return e;
}

ward_err ward_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                struct ward_diag *diag)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 32);
    if (!tmp)
        return WARD_ERR_NOMEM;
    snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return e;
    }
    ward_err e = ward_write_full(fd, data, len);
    if (!e && fsync(fd) != 0)
        e = WARD_ERR_IO;
    if (close(fd) != 0 && !e)
        e = WARD_ERR_IO;
    if (!e && rename(tmp, path) != 0)
        e = WARD_ERR_IO;
    if (e) {
        ward_diag_set(diag, e, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return e;
}

ward_err ward_mkdir_p(const char *path, mode_t mode, struct ward_diag *diag)
{
    char *p = strdup(path);
    if (!p)
        return WARD_ERR_NOMEM;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char saved = *s;
            *s = 0;
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot create directory %s: %s",
                                           p, strerror(errno));
                free(p);
                return e;
            }
            *s = saved;
            if (!saved)
                break;
        }
    }
    free(p);
    return WARD_OK;
}
