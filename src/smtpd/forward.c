/*
 * forward.c - the message to the next hop, and the final reply back.
 *
 * DATA goes to the next hop only once the message is complete and
 * scanned; the next hop's final reply (per recipient over LMTP) is what the
 * client gets, so a message is acknowledged only when the next hop has it.
 * The body is read from the spool with pread in 64 KiB pieces and
 * dot-stuffed on the way; the next hop's output buffer is refilled as it
 * drains, so a large message never sits in memory. A message that fits in
 * that buffer goes to a next hop offering CHUNKING (RFC 3030) as one
 * "BDAT size LAST" with the command, unstuffed: no wait for a 354, one
 * round trip less per message.
 *
 * LMTP next hop, SMTP client: the client can take one reply only. When
 * the next hop's per-recipient replies differ and some were temporary, the
 * client gets 451 so that nobody's mail is lost (the recipients that took
 * it may get it again, logged); when the others were permanent, 250 (and
 * the refusals are logged). Listening in LMTP avoids both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

static void set_reply(struct smtpd_rcpt *r, const char *text, size_t len)
{
    free(r->reply);
    r->reply = strndup(text, len);
}

/*
 * Every recipient has its reply: an LMTP client gets them in order; an SMTP
 * client one reply for all (see the top of the file).
 */
static void finish(struct smtpd_session *s)
{
    if (s->sd->cfg->listen_lmtp) {
        for (size_t i = 0; i < s->n_rcpts; i++) {
            const char *r = s->rcpts[i].reply ? s->rcpts[i].reply
                                              : "451 4.3.0 Error: no reply from the next hop\r\n";
            smtpd_reply_raw(s, r, strlen(r));
        }
        done(s);
        return;
    }
    unsigned ok = 0, temp = 0, perm = 0, fwd = 0;
    const char *first_ok = NULL, *fail = NULL;
    for (size_t i = 0; i < s->n_rcpts; i++) {
        const struct smtpd_rcpt *r = &s->rcpts[i];
        if (!r->fwd)
            continue; /* dropped by policy: its reply went into the log */
        fwd++;
        const char *t = r->reply ? r->reply : "451 4.3.0 Error: no reply from the next hop\r\n";
        if (t[0] == '2') {
            ok++;
            first_ok = first_ok ? first_ok : t;
        } else {
            if (t[0] == '4')
                temp++;
            else
                perm++;
            if (!fail || (t[0] == '4' && fail[0] != '4'))
                fail = t;
        }
    }
    if (fwd == 0) {
        /* nobody left: refused by policy or by the next hop when asked again */
        for (size_t i = 0; i < s->n_rcpts; i++)
            if (s->rcpts[i].reply && (!fail || (fail[0] == '2' && s->rcpts[i].reply[0] != '2')))
                fail = s->rcpts[i].reply;
        if (fail)
            smtpd_reply_raw(s, fail, strlen(fail));
        else
            smtpd_reply(s, "451 4.3.0 Error: no recipient left");
    } else if (ok == fwd && first_ok) {
        smtpd_reply_raw(s, first_ok, strlen(first_ok));
    } else if (ok == 0 || temp) {
        if (ok)
            ward_log(WARD_LOG_WARNING,
                     "%s: %u of %u recipients deferred by the next hop: all deferred "
                     "(the others may get this message twice)",
                     s->peer, temp, fwd);
        if (ok)
            smtpd_reply(s, "451 4.3.0 Error: some recipients deferred by the next hop");
        else
            smtpd_reply_raw(s, fail, strlen(fail));
    } else {
        ward_log(WARD_LOG_WARNING, "%s: %u of %u recipients refused by the next hop", s->peer,
                 perm, fwd);
        smtpd_reply(s, "250 2.0.0 Ok: delivered to %u of %u recipients", ok, fwd);
    }
    done(s);
}

/* The next forwarded recipient at or after i (n_rcpts when none). */
static size_t next_fwd(const struct smtpd_session *s, size_t i)
{
    while (i < s->n_rcpts && !s->rcpts[i].fwd)
        i++;
    return i;
}

static void on_final(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    char l[256];
    first_line(text, len, l, sizeof l);
    if (s->sd->cfg->hop == HOP_SMTP) {
        /* one reply for all */
        for (size_t i = next_fwd(s, 0); i < s->n_rcpts; i = next_fwd(s, i + 1))
            set_reply(&s->rcpts[i], text, len);
        ward_log(WARD_LOG_INFO, "%s: from=<%s> nrcpt=%zu size=%llu: next hop said %s", s->peer,
                 s->sender, s->n_rcpts, (unsigned long long)s->fwd_size, l);
        finish(s);
        return;
    }
    /* LMTP: one reply per forwarded recipient, in order */
    size_t idx = next_fwd(s, s->retx_next);
    if (idx < s->n_rcpts) {
        set_reply(&s->rcpts[idx], text, len);
        s->retx_next = idx + 1;
        if (code / 100 != 2)
            ward_log(WARD_LOG_NOTICE, "%s: <%s>: next hop said %s", s->peer, s->rcpts[idx].addr,
                     l);
    }
    if (--s->lmtp_left)
        return;
    finish(s);
}

/* ---- the envelope again, for the recipients that keep the message -------- */

static void on_retx_rcpt(struct smtpd_session *s, unsigned code, const char *text, size_t len);

static void on_rset_finish(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)code, (void)text, (void)len;
    finish(s);
}

static void retx_send_rcpt(struct smtpd_session *s)
{
    size_t i = next_fwd(s, s->retx_next);
    if (i == s->n_rcpts) {
        bool any = false;
        for (size_t k = 0; k < s->n_rcpts; k++)
            any |= s->rcpts[k].fwd;
        if (any) {
            smtpd_forward_start(s, s->fwd_fd);
            return;
        }
        /* the next hop refused all that were left: RSET, and the replies */
        smtpd_hop_command(s->hop, "RSET", 1, on_rset_finish);
        return;
    }
    s->retx_next = i + 1;
    char line[2 * WARD_SMTP_MAX_CMD + 32];
    snprintf(line, sizeof line, "RCPT TO:<%s>%s", s->rcpts[i].addr,
             s->rcpts[i].params ? s->rcpts[i].params : "");
    s->lmtp_left = (unsigned)i; /* which recipient this reply is for */
    smtpd_hop_command(s->hop, line, 1, on_retx_rcpt);
}

static void on_retx_rcpt(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    struct smtpd_rcpt *r = &s->rcpts[s->lmtp_left];
    if (code / 100 != 2) {
        /* refused now although taken before: its reply is the refusal */
        set_reply(r, text, len);
        r->fwd = false;
    }
    retx_send_rcpt(s);
}

static void on_retx_mail(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    if (code / 100 != 2) {
        char l[WARD_SMTP_MAX_REPLY];
        first_line(text, len, l, sizeof l);
        if (l[0] != '4' && l[0] != '5')
            snprintf(l, sizeof l, "451 4.3.0 Error: next hop refused MAIL");
        smtpd_forward_discard(s, l);
        return;
    }
    s->retx_next = 0;
    retx_send_rcpt(s);
}

static void on_retx_rset(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code / 100 != 2) {
        smtpd_forward_discard(s, "451 4.3.0 Error: next hop refused RSET");
        return;
    }
    smtpd_send_mail(s, 1, on_retx_mail);
}

void smtpd_forward_some(struct smtpd_session *s, int fd)
{
    bool all = true, any = false;
    for (size_t i = 0; i < s->n_rcpts; i++) {
        all &= s->rcpts[i].fwd;
        any |= s->rcpts[i].fwd;
    }
    if (all || !s->hop) {
        smtpd_forward_start(s, fd);
        return;
    }
    s->fwd_fd = fd;
    s->state = ST_FORWARD;
    smtpd_hop_command(s->hop, "RSET", 1, any ? on_retx_rset : on_rset_finish);
}

/* Recipients the message goes to: an LMTP next hop answers for each. */
static unsigned forwarded(const struct smtpd_session *s)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->n_rcpts; i++)
        n += s->rcpts[i].fwd;
    return n;
}

static void feed(struct smtpd_session *s)
{
    if (!s->hop || s->fwd_ended)
        return;
    struct evbuffer *out = bufferevent_get_output(smtpd_hop_bev(s->hop));
    uint8_t *raw = s->dbuf, *enc = s->dbuf + SMTPD_CHUNK;
    while (evbuffer_get_length(out) < HIGH_MARK) {
        size_t want = SMTPD_CHUNK;
        if (s->fwd_bdat && s->fwd_size - s->fwd_off < want)
            want = (size_t)(s->fwd_size - s->fwd_off);
        ssize_t n = want ? ward_pread_full(s->fwd_fd, raw, want, (off_t)s->fwd_off) : 0;
        if (s->fwd_bdat && n == 0 && want) {
            n = -1; /* shorter than the size BDAT announced */
            errno = EIO;
        }
        if (n < 0) {
            /* the next hop must not get half a message: drop the connection */
            ward_log(WARD_LOG_ERROR, "%s: cannot read the spool: %s", s->peer, strerror(errno));
            smtpd_hop_free(s->hop);
            s->hop = NULL;
            final_reply(s, "451 4.3.0 Error: cannot read the spooled message");
            smtpd_close_after(s);
            return;
        }
        if (n == 0 && s->fwd_bdat) {
            /* its replies were asked for with the BDAT command */
            s->fwd_ended = true;
            smtpd_hop_on_drain(s->hop, NULL);
            return;
        }
        if (s->fwd_bdat) {
            evbuffer_add(out, raw, (size_t)n);
            s->fwd_off += (uint64_t)n;
            continue;
        }
        if (n == 0) {
            size_t e = ward_smtp_stuff_end(&s->stuff, enc);
            evbuffer_add(out, enc, e);
            s->fwd_ended = true;
            smtpd_hop_on_drain(s->hop, NULL);
            s->retx_next = 0;
            s->lmtp_left = s->sd->cfg->hop == HOP_SMTP ? 1 : forwarded(s);
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
    s->fwd_bdat = s->sd->cfg->hop_chunking && (smtpd_hop_ext(s->hop) & EXT_CHUNKING) &&
                  s->fwd_size <= HIGH_MARK;
    if (!s->fwd_bdat) {
        smtpd_hop_command(s->hop, "DATA", 1, on_354);
        return;
    }
    /* BDAT LAST: the replies of the end of data, the bytes right behind it */
    char line[64];
    snprintf(line, sizeof line, "BDAT %llu LAST", (unsigned long long)s->fwd_size);
    s->retx_next = 0;
    s->lmtp_left = s->sd->cfg->hop == HOP_SMTP ? 1 : forwarded(s);
    s->fwd_off = 0;
    s->fwd_ended = false;
    smtpd_hop_command(s->hop, line, s->lmtp_left, on_final);
    smtpd_hop_on_drain(s->hop, feed);
    feed(s);
}
