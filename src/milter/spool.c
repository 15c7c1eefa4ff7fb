/*
 * spool.c - where a message is rebuilt for wardd.
 *
 * A message starts in memory (memfd: no filesystem work for the many small
 * messages) and moves to an unlinked file in tmp_dir when it grows past
 * MEM_SPOOL, so that big messages do not sit in RAM.
 *
 * Per message the spool costs few system calls: a connection keeps its memfd
 * for the next message (overwritten from offset 0, cut to size at the end;
 * wardd reads it with pread from 0 and only until the reply), and the header
 * block waits in memory to go out with the first body chunk in one write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "milter.h"
#include "util/file.h"
#include "util/spool.h"

#define MEM_SPOOL (2u << 20)
#define KEEP_MAX (256u << 10) /* a kept memfd is cut to this much at most */
#define COPY_CHUNK (64u << 10)

static void fail_errno(struct milter_msg *m, const char *what)
{
    char why[128];
    snprintf(why, sizeof why, "%s: %s", what, strerror(errno));
    milter_msg_fail(m, why);
}

/* Write iov (no empty entries) at offset off, all of it. */
static bool pwritev_full(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (uint64_t)w;
        size_t k = (size_t)w;
        while (n > 0 && k >= iov->iov_len) {
            k -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= k;
        }
    }
    return true;
}

/* Write the pending header block and p[0, n) at the end of the spool. */
static bool put(struct milter_msg *m, const void *p, size_t n)
{
    struct iovec iov[2];
    int k = 0;
    uint64_t off = m->size;
    if (m->head_pending) {
        iov[k++] = (struct iovec){m->head.data, m->head.len};
        off = 0;
    }
    if (n)
        iov[k++] = (struct iovec){(void *)p, n};
    if (k && !pwritev_full(m->fd, iov, k, off))
        return false;
    m->head_pending = false;
    if (m->size + n > m->file_size)
        m->file_size = m->size + n;
    return true;
}

static bool to_file(struct milter_msg *m)
{
    if (!put(m, NULL, 0))
        return false;
    int fd = ward_tmpfile(milter_cfg.tmpdir[0] ? milter_cfg.tmpdir : NULL);
    char *buf = fd >= 0 ? malloc(COPY_CHUNK) : NULL;
    if (!buf) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    /* copy_file_range refuses tmpfs to another filesystem on many kernels */
    for (uint64_t off = 0; off < m->size;) {
        size_t want = m->size - off < COPY_CHUNK ? (size_t)(m->size - off) : COPY_CHUNK;
        if (ward_pread_full(m->fd, buf, want, (off_t)off) != (ssize_t)want ||
            ward_write_full(fd, buf, want)) {
            free(buf);
            close(fd);
            return false;
        }
        off += want;
    }
    free(buf);
    close(m->fd);
    m->fd = fd;
    m->file_size = m->size;
    m->in_mem = false;
    return true;
}

void milter_spool_add(struct milter_msg *m, const void *p, size_t n)
{
    if (m->failed || m->fd < 0)
        return;
    if (milter_cfg.max_size && m->size + n > milter_cfg.max_size) {
        m->too_big = true;
        milter_msg_fail(m, "message too big");
        return;
    }
    if (m->in_mem && m->size + n > MEM_SPOOL && !to_file(m)) {
        fail_errno(m, "cannot create a spool file");
        return;
    }
    if (!put(m, p, n)) {
        fail_errno(m, "cannot spool the message");
        return;
    }
    m->size += n;
}

void milter_spool_open(struct milter_conn *c)
{
    struct milter_msg *m = &c->msg;
    if (m->fd >= 0 || m->failed)
        return;
    if (c->spare_fd >= 0) {
        m->fd = c->spare_fd;
        m->file_size = c->spare_size;
        c->spare_fd = -1;
        m->in_mem = true;
    } else {
        m->fd = memfd_create("ward-milter", MFD_CLOEXEC);
        m->in_mem = m->fd >= 0;
        m->file_size = 0;
        if (m->fd < 0)
            m->fd = ward_tmpfile(milter_cfg.tmpdir[0] ? milter_cfg.tmpdir : NULL);
    }
    if (m->fd < 0) {
        fail_errno(m, "cannot create a spool file");
        return;
    }
    if (ward_buf_append(&m->head, "\r\n", 2)) {
        m->too_big = true;
        milter_msg_fail(m, "header block too big");
        return;
    }
    if (milter_cfg.max_size && m->head.len > milter_cfg.max_size) {
        m->too_big = true;
        milter_msg_fail(m, "message too big");
        return;
    }
    m->head_pending = true;
    m->size = m->head.len;
}

void milter_spool_finish(struct milter_msg *m)
{
    if (m->failed || m->fd < 0)
        return;
    if (!put(m, NULL, 0)) {
        fail_errno(m, "cannot spool the message");
        return;
    }
    /* a kept memfd may be longer than this message: wardd reads to its end */
    if (m->file_size > m->size) {
        if (ftruncate(m->fd, (off_t)m->size) != 0) {
            fail_errno(m, "cannot cut the spool");
            return;
        }
        m->file_size = m->size;
    }
}

void milter_spool_release(struct milter_conn *c)
{
    struct milter_msg *m = &c->msg;
    if (m->fd < 0)
        return;
    if (m->in_mem && c->spare_fd < 0 &&
        (m->file_size <= KEEP_MAX || ftruncate(m->fd, KEEP_MAX) == 0)) {
        c->spare_fd = m->fd;
        c->spare_size = m->file_size < KEEP_MAX ? m->file_size : KEEP_MAX;
    } else {
        close(m->fd);
    }
    m->fd = -1;
}
