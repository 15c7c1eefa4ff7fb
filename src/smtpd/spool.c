/*
 * spool.c - DATA from the client into a spool, decoded as it arrives (end
 * of data, dot-unstuffing, bare line ends: see proto/smtp.h). The spool is
 * what wardd reads through a passed descriptor and what goes to the next
 * hop. It starts as a memfd (no filesystem work for the many small
 * messages: on ext4 an O_TMPFILE costs journal work per message) and moves
 * to an unlinked file in tmp_dir past MEM_SPOOL, so big messages do not sit
 * in RAM. Either disappears with its descriptor, so a crash leaves nothing
 * behind and the client's retry is the only copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "smtpd.h"
#include "util/file.h"
#include "util/log.h"
#include "util/spool.h"

#define FLUSH_AT (128 * 1024)
#define MEM_SPOOL (2u << 20)

bool smtpd_spool_begin(struct smtpd_session *s)
{
    if (!s->dbuf && !(s->dbuf = malloc(3 * SMTPD_CHUNK + 8)))
        return false;
    if (s->spool_fd >= 0 && (ftruncate(s->spool_fd, 0) != 0 || lseek(s->spool_fd, 0, SEEK_SET))) {
        close(s->spool_fd);
        s->spool_fd = -1;
    }
    if (s->spool_fd < 0)
        s->spool_fd = memfd_create("ward-smtpd", MFD_CLOEXEC);
    s->spool_in_mem = s->spool_fd >= 0;
    s->spool_lent = false;
    if (s->spool_fd < 0)
        s->spool_fd = ward_tmpfile(s->sd->cfg->tmp_dir);
    if (s->spool_fd < 0) {
        ward_log(WARD_LOG_ERROR, "cannot make a spool file in %s: %s", s->sd->cfg->tmp_dir,
                 strerror(errno));
        return false;
    }
    ward_smtp_data_init(&s->dec);
    ward_buf_reset(&s->wbuf);
    s->msg_size = s->spooled = 0;
    s->too_big = s->spool_failed = false;
    return true;
}

/* Past MEM_SPOOL the message moves from its memfd to a file. */
static bool to_file(struct smtpd_session *s)
{
    int fd = ward_tmpfile(s->sd->cfg->tmp_dir);
    if (fd < 0 || ward_fd_copy(s->spool_fd, fd, s->spooled)) {
        ward_log(WARD_LOG_ERROR, "%s: cannot make a spool file in %s: %s", s->peer,
                 s->sd->cfg->tmp_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(s->spool_fd);
    s->spool_fd = fd;
    s->spool_in_mem = false;
    return true;
}

static void flush(struct smtpd_session *s)
{
    if (s->wbuf.len && !s->spool_failed && s->spool_in_mem &&
        s->spooled + s->wbuf.len > MEM_SPOOL && !to_file(s))
        s->spool_failed = true;
    if (!s->spool_failed)
        s->spooled += s->wbuf.len;
    if (s->wbuf.len && !s->spool_failed && ward_write_full(s->spool_fd, s->wbuf.data, s->wbuf.len)) {
        ward_log(WARD_LOG_ERROR, "%s: cannot write the spool file: %s", s->peer, strerror(errno));
        s->spool_failed = true;
    }
    ward_buf_reset(&s->wbuf);
}

bool smtpd_spool_read(struct smtpd_session *s, struct evbuffer *in)
{
    uint64_t max = s->sd->cfg->max_message_size;
    while (evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, SMTPD_CHUNK, NULL, &v, 1) < 1)
            break;
        size_t take = v.iov_len < SMTPD_CHUNK ? v.iov_len : SMTPD_CHUNK, got;
        bool done;
        size_t used = ward_smtp_data_feed(&s->dec, v.iov_base, take, s->dbuf, &got, &done);
        evbuffer_drain(in, used);
        s->msg_size += got;
        if (max && s->msg_size > max)
            s->too_big = true; /* read on to the end, keep nothing */
        else if (!s->spool_failed && ward_buf_append(&s->wbuf, s->dbuf, got) == WARD_OK) {
            if (s->wbuf.len >= FLUSH_AT)
                flush(s);
        } else if (!s->spool_failed) {
            flush(s);
            if (ward_buf_append(&s->wbuf, s->dbuf, got))
                s->spool_failed = true;
        }
        if (done) {
            flush(s);
            return true;
        }
    }
    return false;
}

void smtpd_spool_end(struct smtpd_session *s)
{
    s->state = ST_SCAN;
    bufferevent_disable(s->bev, EV_READ);
    if (s->dec.bare)
        ward_log(WARD_LOG_INFO, "%s: %llu bare CR or LF made CR LF", s->peer,
                 (unsigned long long)s->dec.bare);
    if (!s->hop) {
        smtpd_reply(s, "451 4.4.2 %s Error: next hop unavailable", s->sd->cfg->hostname);
        smtpd_close_after(s);
        return;
    }
    if (s->too_big) {
        smtpd_forward_discard(s, "552 5.3.4 Error: message size exceeds fixed limit");
        return;
    }
    if (s->spool_failed) {
        smtpd_forward_discard(s, "451 4.3.0 Error: cannot spool the message");
        return;
    }
    if (s->sd->cfg->scan)
        smtpd_scan_start(s);
    else
        smtpd_forward_start(s, s->spool_fd);
}
