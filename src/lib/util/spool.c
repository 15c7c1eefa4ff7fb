/* spool.c - memory first, then an unlinked temporary file. */
#include "util/spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/file.h"

int ward_tmpfile(const char *dir)
{
    if (!dir || !*dir) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
    }
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* Filesystems without O_TMPFILE: create, then unlink at once. */
    char path[4096];
    snprintf(path, sizeof path, "%s/ward-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

void ward_tmpspool_init(struct ward_tmpspool *sp, uint64_t cap, size_t mem_max,
                        const char *tmpdir)
{
    ward_buf_init(&sp->mem, mem_max);
    sp->fd = -1;
    sp->size = 0;
    sp->cap = cap;
    sp->mem_max = mem_max;
    sp->tmpdir = tmpdir;
}

ward_err ward_tmpspool_write(struct ward_tmpspool *sp, const void *p, size_t n)
{
    if (n > sp->cap - sp->size)
        return WARD_ERR_LIMIT;
    if (sp->fd < 0 && sp->mem.len + n <= sp->mem_max) {
        ward_err e = ward_buf_append(&sp->mem, p, n);
        if (!e)
            sp->size += n;
        return e;
    }
    if (sp->fd < 0) {
        int fd = ward_tmpfile(sp->tmpdir);
        if (fd < 0)
            return WARD_ERR_IO;
        if (ward_write_full(fd, sp->mem.data, sp->mem.len)) {
            close(fd);
            return WARD_ERR_IO;
        }
        sp->fd = fd;
        ward_buf_free(&sp->mem);
    }
    if (ward_write_full(sp->fd, p, n))
        return WARD_ERR_IO;
    sp->size += n;
    return WARD_OK;
}

void ward_tmpspool_view(const struct ward_tmpspool *sp, const uint8_t **mem, int *fd)
{
    *fd = sp->fd;
    *mem = sp->fd >= 0 ? NULL : (sp->mem.data ? sp->mem.data : (const uint8_t *)"");
}

void ward_tmpspool_free(struct ward_tmpspool *sp)
{
    ward_buf_free(&sp->mem);
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    sp->size = 0;
}
