/*
 * forward.c - the message to the next hop, and the final reply back.
 *
 * DATA goes to the next hop only once the message is complete and
 * scanned; the next hop's final reply (per recipient over LMTP) is what the
 * client gets, so a message is acknowledged only when the next hop has it.
 * The body is read from the spool with pread in 64 KiB pieces and
 * dot-stuffed on the way; the next hop's output buffer is refilled as it
 * drains, so a large message never sits in memory.
 *
 * LMTP next hop, SMTP client: the client can take one reply only. When
 * the next hop's per-recipient replies differ and some were temporary, the
 * client gets 451 so that nobody's mail is lost (the recipients that took
 * it may get it again, logged); when the others were permanent, 250 (and
 * the refusals are logged). Listening in LMTP avoids both.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpd.h"
#include "util/file.h"
#include "util/log.h"

#define HIGH_MARK (256 * 1024)

static void done(struct smtpd_session *s)
{
    s->sd->n_msgs++;
    smtpd_txn_reset(s);
    s->state = ST_CMD;
    smtpd_session_resume(s);
}

/* Our own final reply: once, or once per recipient for an LMTP client. */
static void final_reply(struct smtpd_session *s, const char *text)
{
    size_t n = s->sd->cfg->listen_lmtp ? s->n_rcpts : 1;
    for (size_t i = 0; i < n; i++)
        smtpd_reply(s, "%s", text);
}

static void on_rset(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code / 100 != 2)
        ward_log(WARD_LOG_WARNING, "%s: next hop refused RSET (%u)", s->peer, code);
    final_reply(s, s->first_fail);
    done(s);
}

void smtpd_forward_discard(struct smtpd_session *s, const char *reply)
{
    snprintf(s->first_fail, sizeof s->first_fail, "%s", reply);
    s->state = ST_FORWARD;
    if (!s->hop) {
        final_reply(s, s->first_fail);
        smtpd_close_after(s);
        return;
    }
    smtpd_hop_command(s->hop, "RSET", 1, on_rset);
}

static void first_line(const char *text, size_t len, char *out, size_t cap)
{
    size_t n = strcspn(text, "\r\n");
    if (n > len)
        n = len;
    snprintf(out, cap, "%.*s", (int)n, text);
}

static void on_final(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    const struct smtpd_cfg *cfg = s->sd->cfg;
    if (cfg->hop == HOP_SMTP) {
        /* one reply for all */
        size_t n = cfg->listen_lmtp ? s->n_rcpts : 1;
        for (size_t i = 0; i < n; i++)
            smtpd_reply_raw(s, text, len);
        char l[256];
        first_line(text, len, l, sizeof l);
        ward_log(WARD_LOG_INFO, "%s: from=<%s> nrcpt=%zu size=%llu: next hop said %s", s->peer,
                 s->sender, s->n_rcpts, (unsigned long long)s->fwd_size, l);
        done(s);
        return;
    }
    /* LMTP: one reply per recipient, in order */
    size_t idx = s->n_rcpts - s->lmtp_left;
    if (code / 100 == 2)
        s->n_ok++;
    else {
        if (code / 100 == 4)
            s->n_temp++;
        else
            s->n_perm++;
        char l[256];
        first_line(text, len, l, sizeof l);
        ward_log(WARD_LOG_NOTICE, "%s: <%s>: next hop said %s", s->peer,
                 idx < s->n_rcpts ? s->rcpts[idx].addr : "?", l);
        if (!s->first_fail[0] || (code / 100 == 4 && s->first_fail[0] != '4'))
            first_line(text, len, s->first_fail, sizeof s->first_fail);
    }
    if (cfg->listen_lmtp)
        smtpd_reply_raw(s, text, len);
    else if (s->replies.len == 0 && ward_buf_append(&s->replies, text, len))
        ward_buf_reset(&s->replies);
    if (--s->lmtp_left)
        return;
    if (!cfg->listen_lmtp) {
        if (s->n_ok == s->n_rcpts) {
            smtpd_reply_raw(s, (const char *)s->replies.data, s->replies.len);
        } else if (s->n_ok == 0 || s->n_temp) {
            if (s->n_ok)
                ward_log(WARD_LOG_WARNING,
                         "%s: %u of %zu recipients deferred by the next hop: all deferred "
                         "(the others may get this message twice)",
                         s->peer, s->n_temp, s->n_rcpts);
            if (s->n_ok)
                smtpd_reply(s, "451 4.3.0 Error: some recipients deferred by the next hop");
            else
                smtpd_reply(s, "%s", s->first_fail);
        } else {
            ward_log(WARD_LOG_WARNING, "%s: %u of %zu recipients refused by the next hop",
                     s->peer, s->n_perm, s->n_rcpts);
            smtpd_reply(s, "250 2.0.0 Ok: delivered to %u of %zu recipients", s->n_ok,
                        s->n_rcpts);
        }
    }
    done(s);
}

static void feed(struct smtpd_session *s)
{
    if (!s->hop || s->fwd_ended)
        return;
    struct evbuffer *out = bufferevent_get_output(smtpd_hop_bev(s->hop));
    uint8_t *raw = s->dbuf, *enc = s->dbuf + SMTPD_CHUNK;
    while (evbuffer_get_length(out) < HIGH_MARK) {
        ssize_t n = ward_pread_full(s->fwd_fd, raw, SMTPD_CHUNK, (off_t)s->fwd_off);
        if (n < 0) {
            /* the next hop must not get half a message: drop the connection */
            ward_log(WARD_LOG_ERROR, "%s: cannot read the spool: %s", s->peer, strerror(errno));
            smtpd_hop_free(s->hop);
            s->hop = NULL;
            final_reply(s, "451 4.3.0 Error: cannot read the spooled message");
            smtpd_close_after(s);
            return;
        }
        if (n == 0) {
            size_t e = ward_smtp_stuff_end(&s->stuff, enc);
            evbuffer_add(out, enc, e);
            s->fwd_ended = true;
            smtpd_hop_on_drain(s->hop, NULL);
            s->lmtp_left = s->sd->cfg->hop == HOP_SMTP ? 1 : (unsigned)s->n_rcpts;
            smtpd_hop_expect(s->hop, s->lmtp_left, on_final);
            return;
        }
        size_t e = ward_smtp_stuff_feed(&s->stuff, raw, (size_t)n, enc);
        evbuffer_add(out, enc, e);
        s->fwd_off += (uint64_t)n;
    }
}

static void on_354(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    if (code != 354) {
        char l[WARD_SMTP_MAX_REPLY];
        first_line(text, len, l, sizeof l);
        if (code / 100 == 2) /* not a reply to DATA: a broken next hop */
            snprintf(l, sizeof l, "451 4.3.0 Error: next hop did not take DATA");
        smtpd_forward_discard(s, l);
        return;
    }
    ward_smtp_stuff_init(&s->stuff);
    s->fwd_off = 0;
    s->fwd_ended = false;
    smtpd_hop_on_drain(s->hop, feed);
    feed(s);
}

void smtpd_forward_start(struct smtpd_session *s, int fd)
{
    struct stat st;
    if (!s->hop) {
        /* the next hop went away while wardd had the message */
        if (fd != s->spool_fd)
            close(fd);
        smtpd_forward_discard(s, "451 4.4.2 Error: next hop unavailable, try again later");
        return;
    }
    s->fwd_fd = fd;
    s->fwd_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    s->state = ST_FORWARD;
    smtpd_hop_command(s->hop, "DATA", 1, on_354);
}
