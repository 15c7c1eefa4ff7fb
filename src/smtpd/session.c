/*
 * session.c - the client side of a session: greeting, commands, the
 * envelope passed through to the next hop in lock step.
 *
 * Commands are taken from the input one at a time; while one waits for the
 * next hop (or for wardd), reading stops, so pipelined commands stay in the
 * input buffer and are answered in order afterwards. That is all
 * PIPELINING asks of a server.
 *
 * Two client timeouts, both client_timeout: the read timeout (no byte for
 * that long, restarted by every byte) and the line deadline (a command
 * line, or a line of the message, that has begun must end within that
 * long). The read timeout alone lets a client that trickles one byte a
 * second hold its session for ever. Either ends the session with 421.
 *
 * A session is freed only from the top of a libevent callback
 * (session_drop defers it), never from inside the command loop; while
 * wardd holds its message it is only marked dead, and the scan completion
 * frees it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/script.h"
#include "smtpd.h"
#include "util/log.h"
#include "util/tcp.h"
#include "util/strutil.h"

#define MAX_ERRORS 10
/* Commands that move no mail (NOOP, RSET, VRFY, HELP): past this many in a
   session each one counts as an error, as Postfix's smtpd_junk_command_limit,
   so a client cannot hold a session for ever with them. */
#define MAX_JUNK 100
#define MAX_XF_VALUE 255

static void client_read(struct bufferevent *bev, void *arg);
static void client_write(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);

void smtpd_reply_raw(struct smtpd_session *s, const char *text, size_t len)
{
    bufferevent_write(s->bev, text, len);
}

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
    char line[WARD_SMTP_MAX_REPLY];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 3)
        n = (int)sizeof line - 3;
    line[n++] = '\r';
    line[n++] = '\n';
    bufferevent_write(s->bev, line, (size_t)n);
}

/* The next hop's keywords: its own when connected, else the last seen. */
static unsigned hop_ext(const struct smtpd_session *s)
{
    return s->hop ? smtpd_hop_ext(s->hop) : s->sd->caps.ext;
}

static uint64_t hop_size(const struct smtpd_session *s)
{
    return s->hop ? smtpd_hop_size(s->hop) : s->sd->caps.size;
}

static void deferred_free(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;
    (void)fd, (void)what;
    if (s->busy_scan) {
        s->dead = true; /* the scan completion frees it */
        return;
    }
    smtpd_session_free(s);
}

static void session_drop(struct smtpd_session *s)
{
    if (s->free_pending)
        return;
    s->free_pending = true;
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    struct timeval zero = {0, 0};
    event_base_once(s->sd->base, -1, EV_TIMEOUT, deferred_free, s, &zero);
}

void smtpd_close_after(struct smtpd_session *s)
{
    s->state = ST_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        session_drop(s);
}

void smtpd_txn_reset(struct smtpd_session *s)
{
    free(s->sender);
    s->sender = NULL;
    for (size_t i = 0; i < s->n_rcpts; i++) {
        free(s->rcpts[i].addr);
        free(s->rcpts[i].params);
        free(s->rcpts[i].reply);
    }
    s->n_rcpts = 0;
    for (size_t i = 0; i < s->pq_len; i++) {
        free(s->pq[s->pq_head + i].addr);
        free(s->pq[s->pq_head + i].params);
    }
    s->pq_head = s->pq_len = 0;
    s->mail_pending = false;
    free(s->mail_params);
    s->mail_params = NULL;
    s->in_mail = false;
    if (s->fwd_fd >= 0 && s->fwd_fd != s->spool_fd)
        close(s->fwd_fd);
    s->fwd_fd = -1;
    /* A memfd serves the session's next message too (emptied then): no
       inode made and freed per message. One wardd may still read is not. */
    if (s->spool_fd >= 0 && (!s->spool_in_mem || s->spool_lent)) {
        close(s->spool_fd);
        s->spool_fd = -1;
    }
    ward_buf_reset(&s->wbuf);
    ward_buf_reset(&s->replies);
    s->n_ok = s->n_temp = s->n_perm = 0;
    s->lmtp_left = 0;
    s->first_fail[0] = 0;
    s->fwd_ended = false;
}

void smtpd_session_free(struct smtpd_session *s)
{
    struct smtpd *sd = s->sd;
    smtpd_txn_reset(s);
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    if (s->prev)
        s->prev->next = s->next;
    else
        sd->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    sd->n_sessions--;
    smtpd_hop_free(s->hop);
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->scan_done)
        event_free(s->scan_done);
    if (s->line_timer)
        event_free(s->line_timer);
    for (int i = 0; i < XF_COUNT; i++)
        free(s->xf[i]);
    free(s->rcpts);
    free(s->dbuf);
    ward_buf_free(&s->wbuf);
    ward_buf_free(&s->replies);
    free(s);
}

void smtpd_session_hop_failed(struct smtpd_session *s, const char *why)
{
    smtpd_hop_free(s->hop);
    s->hop = NULL;
    if (s->state == ST_CMD && !s->in_mail && !s->mail_pending && !s->pq_len) {
        /* between transactions: the next MAIL connects again */
        ward_log(WARD_LOG_INFO, "%s: idle next-hop connection ended: %s", s->peer, why);
        return;
    }
    ward_log(WARD_LOG_WARNING, "%s: %s", s->peer, why);
    switch (s->state) {
    case ST_DATA:
    case ST_SCAN:
        /* answered (451) when the message is complete or scanned */
        return;
    case ST_FORWARD:
        if (s->fwd_ended)
            /* RFC 1047: it may have committed the message and died before
               saying so. A 4xx risks a second copy, a 2xx a lost one. */
            ward_log(WARD_LOG_WARNING,
                     "%s: from=<%s>: the next hop went away after the end of the data; "
                     "if it kept the message, the client's retry delivers it twice",
                     s->peer, s->sender ? s->sender : "");
        smtpd_reply(s, "451 4.4.2 %s Error: next hop failed: %s", s->sd->cfg->hostname, why);
        break;
    case ST_CLOSING:
        return;
    default:
        smtpd_reply(s, "421 4.4.2 %s Error: next hop unavailable: %s", s->sd->cfg->hostname,
                    why);
        break;
    }
    smtpd_close_after(s);
}

/* ---- waiting for the next hop -------------------------------------------- */

static void wait_hop(struct smtpd_session *s)
{
    s->state = ST_HOP_WAIT;
    bufferevent_disable(s->bev, EV_READ);
}

static void back_to_commands(struct smtpd_session *s)
{
    s->state = ST_CMD;
    smtpd_session_resume(s);
}

static void relay(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    smtpd_reply_raw(s, text, len);
    if (code == 421) {
        smtpd_hop_free(s->hop);
        s->hop = NULL;
        smtpd_close_after(s);
    }
}

static void on_hop_rset(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code / 100 != 2)
        ward_log(WARD_LOG_WARNING, "%s: next hop refused RSET (%u)", s->peer, code);
    smtpd_txn_reset(s);
    smtpd_reply(s, "250 2.0.0 Ok");
    back_to_commands(s);
}

/* A reply the client waited for came: go on once no other is due. */
static void hop_replied(struct smtpd_session *s)
{
    if (s->state == ST_CLOSING || smtpd_hop_due(s->hop))
        return;
    back_to_commands(s);
}

static void on_hop_mail(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    relay(s, code, text, len);
    s->mail_pending = false;
    if (s->state == ST_CLOSING)
        return;
    if (code / 100 == 2)
        s->in_mail = true;
    else {
        free(s->sender);
        s->sender = NULL;
    }
    hop_replied(s);
}

void smtpd_send_mail(struct smtpd_session *s, unsigned replies, smtpd_hop_cb cb)
{
    char line[2 * WARD_SMTP_MAX_CMD + 32];
    snprintf(line, sizeof line, "MAIL FROM:<%s>%s", s->sender,
             s->mail_params ? s->mail_params : "");
    smtpd_hop_command(s->hop, line, replies, cb);
}

static void on_hop_xforward(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code / 100 != 2)
        ward_log(WARD_LOG_WARNING, "%s: next hop refused XFORWARD (%u)", s->peer, code);
    smtpd_send_mail(s, 1, on_hop_mail);
}

/* XFORWARD pipelined with MAIL: its reply is only logged. */
static void on_hop_xf_reply(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code / 100 != 2)
        ward_log(WARD_LOG_WARNING, "%s: next hop refused XFORWARD (%u)", s->peer, code);
}

static void on_hop_rcpt(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    relay(s, code, text, len);
    if (s->state == ST_CLOSING)
        return;
    struct smtpd_rcpt q = s->pq[s->pq_head++];
    if (--s->pq_len == 0)
        s->pq_head = 0;
    if (code / 100 == 2) {
        struct smtpd_rcpt *r = &s->rcpts[s->n_rcpts++];
        *r = q;
        r->reply = NULL;
        r->fwd = true;
    } else {
        free(q.addr);
        free(q.params);
    }
    hop_replied(s);
}

/* ---- commands ------------------------------------------------------------ */

static void reply_ehlo(struct smtpd_session *s)
{
    const struct smtpd_cfg *cfg = s->sd->cfg;
    unsigned ext = hop_ext(s);
    uint64_t size = cfg->max_message_size, hs = hop_size(s);
    if (hs && (!size || hs < size))
        size = hs;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "250-%s\r\n250-PIPELINING\r\n", cfg->hostname);
    if (size)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-SIZE %llu\r\n",
                      (unsigned long long)size);
    else
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-SIZE\r\n");
    if (ext & EXT_8BITMIME)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-8BITMIME\r\n");
    if (ext & EXT_SMTPUTF8)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-SMTPUTF8\r\n");
    if (ext & EXT_DSN)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-DSN\r\n");
    if (s->sd->tls_ctx && !s->tls)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-STARTTLS\r\n");
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n");
    if (ext & EXT_ENHANCED)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "250-ENHANCEDSTATUSCODES\r\n");
    /* the last line: "250-X" becomes "250 X" */
    char *last = buf + n - 2;
    while (last > buf && last[-1] != '\n')
        last--;
    last[3] = ' ';
    smtpd_reply_raw(s, buf, (size_t)n);
}

static void cmd_hello(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    bool lmtp = s->sd->cfg->listen_lmtp;
    if ((c->verb == WARD_SMTP_LHLO) != lmtp) {
        smtpd_reply(s, "500 5.5.1 Error: %s", lmtp ? "this is LMTP, send LHLO" :
                                                     "command not recognized");
        s->errors++;
        return;
    }
    if (!c->arg) {
        smtpd_reply(s, "501 5.5.4 Syntax: %s hostname", ward_smtp_verb_name(c->verb));
        return;
    }
    snprintf(s->helo, sizeof s->helo, "%.*s", (int)c->arg_len, c->arg);
    smtpd_txn_reset(s);
    s->greeted = true;
    s->esmtp = c->verb != WARD_SMTP_HELO;
    if (c->verb == WARD_SMTP_HELO)
        smtpd_reply(s, "250 %s", s->sd->cfg->hostname);
    else
        reply_ehlo(s);
}

/* May these MAIL/RCPT parameters go on? (Only what we offered.) */
static const char *param_problem(struct smtpd_session *s, const struct ward_smtp_path *p,
                                 bool mail)
{
    unsigned ext = hop_ext(s);
    if (p->n_params && !s->esmtp)
        return "555 5.5.4 Error: parameters need EHLO";
    for (size_t i = 0; i < p->n_params; i++) {
        const struct ward_smtp_param *q = &p->param[i];
#define IS(k) (q->key_len == strlen(k) && strncasecmp(q->key, k, q->key_len) == 0)
        if (mail && IS("SIZE")) {
            uint64_t v;
            if (!q->val || !ward_parse_u64n(q->val, q->val_len, &v))
                return "501 5.5.4 Error: bad SIZE";
            if (s->sd->cfg->max_message_size && v > s->sd->cfg->max_message_size)
                return "552 5.3.4 Error: message size exceeds fixed limit";
        } else if (mail && IS("BODY")) {
            if (!q->val || !((q->val_len == 4 && strncasecmp(q->val, "7BIT", 4) == 0) ||
                             (q->val_len == 8 && strncasecmp(q->val, "8BITMIME", 8) == 0 &&
                              (ext & EXT_8BITMIME))))
                return "555 5.5.4 Error: unsupported BODY";
        } else if (mail && IS("SMTPUTF8") && (ext & EXT_SMTPUTF8)) {
            if (q->val)
                return "555 5.5.4 Error: SMTPUTF8 takes no value";
        } else if (mail && (IS("RET") || IS("ENVID")) && (ext & EXT_DSN)) {
        } else if (!mail && (IS("NOTIFY") || IS("ORCPT")) && (ext & EXT_DSN)) {
        } else {
            return "555 5.5.4 Error: unsupported parameter";
        }
#undef IS
    }
    return NULL;
}

static void mail_go(struct smtpd_session *s);
static void connect_hop(struct smtpd_session *s);

static void cmd_mail(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    if (!s->greeted) {
        smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    struct ward_smtp_path p;
    enum ward_smtp_path_result r = ward_smtp_parse_path(c->arg, c->arg_len, "FROM:", &p);
    if (r != WARD_SMTP_PATH_OK) {
        smtpd_reply(s, r == WARD_SMTP_PATH_PARAM ? "555 5.5.4 Error: bad parameters"
                                                  : "501 5.1.7 Bad sender address syntax");
        s->errors++;
        return;
    }
    const char *why = param_problem(s, &p, true);
    if (why) {
        smtpd_reply(s, "%s", why);
        return;
    }
    s->sender = strndup(p.addr, p.addr_len);
    /* The parameters go on unchanged but SIZE, which we offer whether or
       not the next hop does. */
    size_t fl = 0;
    s->first_fail[0] = 0;
    for (size_t i = 0; i < p.n_params; i++) {
        const struct ward_smtp_param *q = &p.param[i];
        if (q->key_len == 4 && strncasecmp(q->key, "SIZE", 4) == 0 && !(hop_ext(s) & EXT_SIZE))
            continue;
        int n = snprintf(s->first_fail + fl, sizeof s->first_fail - fl, " %.*s",
                         (int)(q->val ? (size_t)(q->val + q->val_len - q->key) : q->key_len),
                         q->key);
        if (n > 0 && (size_t)n < sizeof s->first_fail - fl)
            fl += (size_t)n;
    }
    free(s->mail_params);
    s->mail_params = strdup(s->first_fail);
    s->first_fail[0] = 0;
    if (!s->hop) {
        connect_hop(s);
        return;
    }
    mail_go(s);
}

/* XFORWARD and MAIL to the next hop. */
static void mail_go(struct smtpd_session *s)
{
    /* With PIPELINING the RCPTs that follow go on at once (see resume) */
    bool pipe = smtpd_hop_ext(s->hop) & EXT_PIPELINING;
    if (pipe)
        s->mail_pending = true;
    else
        wait_hop(s);
    char line[2 * WARD_SMTP_MAX_CMD + 32];
    int n = snprintf(line, sizeof line, "XFORWARD");
    bool any = false;
    if (smtpd_hop_ext(s->hop) & EXT_XFORWARD) {
        for (int i = 0; i < XF_COUNT; i++) {
            if (!s->xf[i] || !smtpd_hop_xf(s->hop, i))
                continue;
            /* Postfix reads XFORWARD lines up to 512 bytes */
            if (n + strlen(s->xf[i]) + strlen(smtpd_xf_names[i]) + 2 > 500)
                break;
            n += snprintf(line + n, sizeof line - (size_t)n, " %s=%s", smtpd_xf_names[i],
                          s->xf[i]);
            any = true;
        }
    }
    if (any && pipe) {
        /* one round trip for both */
        smtpd_hop_command(s->hop, line, 1, on_hop_xf_reply);
        smtpd_send_mail(s, 1, on_hop_mail);
    } else if (any) {
        smtpd_hop_command(s->hop, line, 1, on_hop_xforward);
    } else {
        smtpd_send_mail(s, 1, on_hop_mail);
    }
}

/* NULL when the RCPT goes to the next hop, else our own reply to it. */
static const char *rcpt_problem(struct smtpd_session *s, const struct ward_smtp_cmd *c,
                                struct ward_smtp_path *p)
{
    if (c->bad_bytes)
        return "500 5.5.2 Error: bad characters in command";
    if (!s->in_mail && !s->mail_pending)
        return "503 5.5.1 Error: need MAIL command";
    if (s->n_rcpts + s->pq_len >= s->sd->cfg->max_recipients)
        return "452 4.5.3 Error: too many recipients";
    enum ward_smtp_path_result r = ward_smtp_parse_path(c->arg, c->arg_len, "TO:", p);
    if (r != WARD_SMTP_PATH_OK || p->addr_len == 0)
        return r == WARD_SMTP_PATH_PARAM ? "555 5.5.4 Error: bad parameters"
                                          : "501 5.1.3 Bad recipient address syntax";
    return param_problem(s, p, false);
}

/* Room for one more recipient, both pending and taken. */
static bool rcpt_room(struct smtpd_session *s)
{
    size_t want = s->n_rcpts + s->pq_len + 1;
    if (want > s->cap_rcpts) {
        size_t cap = s->cap_rcpts ? s->cap_rcpts * 2 : 8;
        struct smtpd_rcpt *n = realloc(s->rcpts, cap * sizeof *n);
        if (!n)
            return false;
        s->rcpts = n;
        s->cap_rcpts = cap;
    }
    if (s->pq_head + s->pq_len == s->pq_cap) {
        size_t cap = s->pq_cap ? s->pq_cap * 2 : 8;
        struct smtpd_rcpt *n = realloc(s->pq, cap * sizeof *n);
        if (!n)
            return false;
        s->pq = n;
        s->pq_cap = cap;
    }
    return true;
}

static void cmd_rcpt(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    struct ward_smtp_path p;
    const char *why = rcpt_problem(s, c, &p);
    if (why) {
        smtpd_reply(s, "%s", why);
        if (strncmp(why, "501", 3) == 0 || strncmp(why, "555", 3) == 0)
            s->errors++;
        return;
    }
    if (!rcpt_room(s)) {
        smtpd_reply(s, "452 4.3.0 Error: out of memory");
        return;
    }
    struct smtpd_rcpt *q = &s->pq[s->pq_head + s->pq_len++];
    memset(q, 0, sizeof *q);
    q->addr = strndup(p.addr, p.addr_len);
    q->params = malloc(p.params_len + 2);
    if (q->params)
        snprintf(q->params, p.params_len + 2, "%s%.*s", p.params_len ? " " : "",
                 (int)p.params_len, p.params);
    char line[WARD_SMTP_MAX_CMD + 16];
    snprintf(line, sizeof line, "RCPT TO:<%.*s>%s", (int)p.addr_len, p.addr,
             q->params ? q->params : "");
    if (!(hop_ext(s) & EXT_PIPELINING))
        wait_hop(s);
    smtpd_hop_command(s->hop, line, 1, on_hop_rcpt);
}

static void cmd_data(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    if (!s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->n_rcpts == 0) {
        smtpd_reply(s, "554 5.5.1 Error: no valid recipients");
        return;
    }
    if (c->arg) {
        smtpd_reply(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (!smtpd_spool_begin(s)) {
        smtpd_reply(s, "451 4.3.0 Error: cannot spool the message");
        return;
    }
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    s->state = ST_DATA;
    s->data_mid_line = false;
    s->data_t0 = ward_clock_ms();
}

static bool xf_value_ok(const char *v, size_t n)
{
    if (n == 0 || n > MAX_XF_VALUE)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
            return false;
    return true;
}

static void cmd_xforward(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    if (!s->greeted || s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: XFORWARD not permitted here");
        return;
    }
    if (!c->arg) {
        smtpd_reply(s, "501 5.5.4 Syntax: XFORWARD attribute=value...");
        return;
    }
    char *val[XF_COUNT] = {0};
    const char *p = c->arg, *end = c->arg + c->arg_len;
    bool ok = true;
    while (ok && p < end) {
        const char *e = memchr(p, ' ', (size_t)(end - p));
        if (!e)
            e = end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        int attr = -1;
        for (int i = 0; eq && i < XF_COUNT; i++)
            if (strlen(smtpd_xf_names[i]) == (size_t)(eq - p) &&
                strncasecmp(p, smtpd_xf_names[i], (size_t)(eq - p)) == 0)
                attr = i;
        if (attr < 0 || !xf_value_ok(eq + 1, (size_t)(e - eq - 1))) {
            ok = false;
            break;
        }
        free(val[attr]);
        val[attr] = strndup(eq + 1, (size_t)(e - eq - 1));
        for (p = e; p < end && *p == ' '; p++)
            ;
    }
    if (!ok) {
        for (int i = 0; i < XF_COUNT; i++)
            free(val[i]);
        smtpd_reply(s, "501 5.5.4 Bad XFORWARD attribute");
        return;
    }
    for (int i = 0; i < XF_COUNT; i++) {
        if (!val[i])
            continue;
        free(s->xf[i]);
        s->xf[i] = val[i];
    }
    smtpd_reply(s, "250 2.0.0 Ok");
}

static void cmd_starttls(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    if (!s->sd->tls_ctx || s->tls) {
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
        return;
    }
    if (c->arg) {
        smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    smtpd_reply(s, "220 2.0.0 Ready to start TLS");
    /* Anything the client pipelined after STARTTLS was sent in the clear:
       dropped, never run as if it came over TLS (CVE-2011-0411). */
    struct evbuffer *in = bufferevent_get_input(s->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    smtpd_txn_reset(s);
    s->greeted = false;
    if (!smtpd_tls_start(s)) {
        smtpd_reply(s, "454 4.7.0 TLS not available due to local problem");
        smtpd_close_after(s);
    }
}

static void handle(struct smtpd_session *s, const struct ward_smtp_cmd *c)
{
    if (c->bad_bytes) {
        smtpd_reply(s, "500 5.5.2 Error: bad characters in command");
        s->errors++;
        return;
    }
    if ((c->verb == WARD_SMTP_NOOP || c->verb == WARD_SMTP_RSET || c->verb == WARD_SMTP_VRFY ||
         c->verb == WARD_SMTP_HELP) &&
        ++s->junk > MAX_JUNK)
        s->errors++;
    switch (c->verb) {
    case WARD_SMTP_HELO:
    case WARD_SMTP_EHLO:
    case WARD_SMTP_LHLO: cmd_hello(s, c); break;
    case WARD_SMTP_MAIL: cmd_mail(s, c); break;
    case WARD_SMTP_RCPT: cmd_rcpt(s, c); break;
    case WARD_SMTP_DATA: cmd_data(s, c); break;
    case WARD_SMTP_XFORWARD: cmd_xforward(s, c); break;
    case WARD_SMTP_STARTTLS: cmd_starttls(s, c); break;
    case WARD_SMTP_RSET:
        if (c->arg) {
            smtpd_reply(s, "501 5.5.4 Syntax: RSET");
            break;
        }
        if (!s->in_mail) {
            smtpd_txn_reset(s);
            smtpd_reply(s, "250 2.0.0 Ok");
            break;
        }
        wait_hop(s);
        smtpd_hop_command(s->hop, "RSET", 1, on_hop_rset);
        break;
    case WARD_SMTP_NOOP: smtpd_reply(s, "250 2.0.0 Ok"); break;
    case WARD_SMTP_QUIT:
        smtpd_reply(s, "221 2.0.0 Bye");
        smtpd_close_after(s);
        break;
    case WARD_SMTP_VRFY: smtpd_reply(s, "252 2.0.0 Send some mail, I'll try my best"); break;
    case WARD_SMTP_HELP: smtpd_reply(s, "214 2.0.0 See RFC 5321"); break;
    case WARD_SMTP_EXPN:
    case WARD_SMTP_BDAT:
    case WARD_SMTP_AUTH: smtpd_reply(s, "502 5.5.1 Error: command not implemented"); break;
    default:
        smtpd_reply(s, "500 5.5.2 Error: command not recognized");
        s->errors++;
        break;
    }
}

/* ---- client timeouts ------------------------------------------------------ */

static void client_timed_out(struct smtpd_session *s, const char *what)
{
    ward_log(WARD_LOG_INFO, "%s: timeout%s%s", s->peer,
             s->state == ST_DATA ? " inside DATA" : "", what);
    smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->sd->cfg->hostname);
    /* give the reply a moment; the session goes with the next event */
    smtpd_close_after(s);
    struct timeval tv = {5, 0};
    bufferevent_set_timeouts(s->bev, NULL, &tv);
}

static void line_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;
    (void)fd, (void)what;
    if (s->free_pending || (s->state != ST_CMD && s->state != ST_DATA))
        return;
    client_timed_out(s, " (a line took too long)");
}

/*
 * After the input was taken: a line begun and not ended runs against the
 * deadline, set when its first byte came (or when the line before it
 * ended). While we wait for the next hop or wardd, the client waits too:
 * no deadline.
 */
static void line_timer(struct smtpd_session *s, bool mid_line, bool line_ended)
{
    unsigned t = s->sd->cfg->client_timeout;
    if (!mid_line || !t) {
        if (s->line_timer)
            evtimer_del(s->line_timer);
        return;
    }
    if (!s->line_timer && !(s->line_timer = evtimer_new(s->sd->base, line_deadline, s)))
        return;
    if (line_ended || !evtimer_pending(s->line_timer, NULL)) {
        struct timeval tv = {(time_t)t, 0};
        evtimer_add(s->line_timer, &tv);
    }
}

/* Before DATA bytes go to the spool: does a line end among them, and does
   the last one end a line? */
static bool data_line_ended(struct smtpd_session *s, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);
    if (!n)
        return false;
    struct evbuffer_ptr at;
    uint8_t last = 0;
    if (evbuffer_ptr_set(in, &at, n - 1, EVBUFFER_PTR_SET) == 0)
        (void)evbuffer_copyout_from(in, &at, &last, 1);
    s->data_mid_line = last != '\n';
    return !s->data_mid_line || evbuffer_search(in, "\n", 1, NULL).pos >= 0;
}

/*
 * Inside DATA the client has client_timeout plus one second for every
 * min_data_rate bytes so far (Postfix's smtpd_min_data_rate): a message
 * sent a short line every few seconds cannot hold the session for ever.
 */
static bool data_too_slow(const struct smtpd_session *s)
{
    uint64_t rate = s->sd->cfg->min_data_rate;
    if (!rate)
        return false;
    uint64_t allowed_ms = (uint64_t)s->sd->cfg->client_timeout * 1000 + s->msg_size * 1000 / rate;
    return (uint64_t)(ward_clock_ms() - s->data_t0) > allowed_ms;
}

/*
 * Inside DATA, what the socket has beyond libevent's read: libevent 2.1 reads
 * at most 4 KiB per wake-up, five wake-ups for a 20 KB message. Plain
 * connections only (TLS reads go through OpenSSL); an end of stream or an
 * error is left for libevent's next read to report.
 */
static bool data_read_more(struct smtpd_session *s, struct evbuffer *in)
{
    if (s->tls)
        return false;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(in, SMTPD_CHUNK, &v, 1) < 1)
        return false;
    ssize_t n = recv(bufferevent_getfd(s->bev), v.iov_base,
                     v.iov_len < SMTPD_CHUNK ? v.iov_len : SMTPD_CHUNK, MSG_DONTWAIT);
    v.iov_len = n > 0 ? (size_t)n : 0;
    evbuffer_commit_space(in, &v, 1);
    return n > 0;
}

/* ---- the command loop ----------------------------------------------------- */

/* direct reads per wake-up inside DATA (1 MiB): other sessions get their turn */
#define MAX_DATA_READS 16

void smtpd_session_resume(struct smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    bool waiting = false, line_ended = false;
    unsigned data_reads = 0;
    while (s->state == ST_CMD || s->state == ST_DATA) {
        if (s->state == ST_DATA) {
            line_ended |= data_line_ended(s, in);
            bool ended = smtpd_spool_read(s, in);
            if (!ended && data_reads < MAX_DATA_READS && data_read_more(s, in)) {
                data_reads++;
                continue;
            }
            if (!ended && data_too_slow(s)) {
                client_timed_out(s, " (slower than min_data_rate)");
                return;
            }
            if (!ended)
                break;
            smtpd_spool_end(s);
            continue;
        }
        if (s->errors > MAX_ERRORS) {
            smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->sd->cfg->hostname);
            smtpd_close_after(s);
            return;
        }
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            break;
        size_t take = avail < WARD_SMTP_MAX_CMD ? avail : WARD_SMTP_MAX_CMD;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)take);
        if (s->skipping) {
            bool found;
            evbuffer_drain(in, ward_smtp_skip_line(p, take, &found));
            s->skipping = !found;
            line_ended |= found;
            continue;
        }
        size_t len, used;
        enum ward_smtp_line_result r = ward_smtp_line(p, take, WARD_SMTP_MAX_CMD, &len, &used);
        if (r == WARD_SMTP_LINE_MORE)
            break;
        if (r == WARD_SMTP_LINE_TOO_LONG) {
            s->skipping = true;
            smtpd_reply(s, "500 5.5.2 Error: line too long");
            s->errors++;
            continue;
        }
        char line[WARD_SMTP_MAX_CMD];
        memcpy(line, p, len);
        struct ward_smtp_cmd cmd;
        ward_smtp_parse_cmd(line, len, &cmd);
        if (smtpd_hop_due(s->hop)) {
            /* Pipelined to the next hop: replies are due, and ours must come
               after them. Only a RCPT the next hop answers may go on now. */
            struct ward_smtp_path path;
            if (cmd.verb != WARD_SMTP_RCPT || rcpt_problem(s, &cmd, &path)) {
                waiting = true;
                break;
            }
        }
        evbuffer_drain(in, used);
        line_ended = true;
        handle(s, &cmd);
    }
    bool reading = (s->state == ST_CMD || s->state == ST_DATA) && !waiting;
    if (reading)
        bufferevent_enable(s->bev, EV_READ);
    else
        bufferevent_disable(s->bev, EV_READ);
    /* STARTTLS put a new bufferevent in place */
    in = bufferevent_get_input(s->bev);
    line_timer(s, reading && (s->state == ST_DATA ? s->data_mid_line
                                                   : evbuffer_get_length(in) > 0 || s->skipping),
               line_ended);
}

/* ---- start-up: the next hop first, then our greeting ---------------------- */

static void greet(struct smtpd_session *s)
{
    smtpd_reply(s, "220 %s %s Ward", s->sd->cfg->hostname,
                s->sd->cfg->listen_lmtp ? "LMTP" : "ESMTP");
    back_to_commands(s);
}

static void on_hop_ehlo(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    if (code / 100 != 2) {
        smtpd_session_hop_failed(s, "next hop refused EHLO");
        return;
    }
    smtpd_hop_set_ehlo(s->hop, text, len);
    if (s->state == ST_HOP_CONNECT)
        greet(s);
    else
        mail_go(s); /* connected for this MAIL */
}

static void on_hop_greeting(struct smtpd_session *s, unsigned code, const char *text, size_t len)
{
    (void)text, (void)len;
    if (code != 220) {
        smtpd_session_hop_failed(s, "next hop refused the connection");
        return;
    }
    char line[300];
    snprintf(line, sizeof line, "%s %s", s->sd->cfg->hop == HOP_SMTP ? "EHLO" : "LHLO",
             s->sd->cfg->hostname);
    smtpd_hop_command(s->hop, line, 1, on_hop_ehlo);
}

/*
 * Connect to the next hop; its greeting and EHLO reply come to
 * on_hop_greeting and on_hop_ehlo. The first session does this before its
 * greeting, to learn the keywords to offer; later ones at their first MAIL,
 * so that idle clients hold no connection to the next hop.
 */
static void connect_hop(struct smtpd_session *s)
{
    struct ward_diag d;
    if (s->state != ST_HOP_CONNECT)
        wait_hop(s);
    s->hop = smtpd_hop_open(s, &d);
    if (!s->hop) {
        ward_log(WARD_LOG_WARNING, "%s: %s", s->peer, d.msg);
        smtpd_reply(s, "421 4.4.2 %s Error: next hop unavailable", s->sd->cfg->hostname);
        smtpd_close_after(s);
        return;
    }
    smtpd_hop_expect(s->hop, 1, on_hop_greeting);
}

static void client_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtpd_session_resume(arg);
}

static void client_write(struct bufferevent *bev, void *arg)
{
    struct smtpd_session *s = arg;
    (void)bev;
    if (s->state == ST_CLOSING)
        session_drop(s);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtpd_session *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        /* the TLS handshake after STARTTLS is done */
        ward_log(WARD_LOG_INFO, "%s: TLS established", s->peer);
        return;
    }
    if (s->free_pending)
        return;
    if (s->state == ST_CLOSING) {
        session_drop(s);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        client_timed_out(s, "");
        return;
    }
    if (s->state == ST_DATA)
        ward_log(WARD_LOG_NOTICE, "%s: client disconnected inside DATA; nothing sent on",
                 s->peer);
    else if (s->state != ST_CLOSING)
        ward_log(WARD_LOG_INFO, "%s: client disconnected", s->peer);
    session_drop(s);
}

void smtpd_session_start(struct smtpd *sd, int fd, const struct sockaddr *sa, int salen)
{
    (void)salen;
    struct smtpd_session *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return;
    }
    s->sd = sd;
    s->spool_fd = s->fwd_fd = -1;
    ward_buf_init(&s->wbuf, 1 << 20);
    ward_buf_init(&s->replies, 1 << 20);
    evutil_inet_ntop(sa->sa_family,
                     sa->sa_family == AF_INET6
                         ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                         : (const void *)&((const struct sockaddr_in *)sa)->sin_addr,
                     s->peer, sizeof s->peer);
    s->next = sd->sessions;
    if (sd->sessions)
        sd->sessions->prev = s;
    sd->sessions = s;
    sd->n_sessions++;
    ward_tcp_nodelay(fd); /* replies are written whole (util/tcp.h) */
    s->bev = bufferevent_socket_new(sd->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!s->bev) {
        close(fd);
        smtpd_session_free(s);
        return;
    }
    bufferevent_setcb(s->bev, client_read, client_write, client_event, s);
    struct timeval tv = {(time_t)sd->cfg->client_timeout, 0};
    bufferevent_set_timeouts(s->bev, &tv, &tv);
    bufferevent_enable(s->bev, EV_WRITE);
    if (sd->caps.known) {
        greet(s);
        return;
    }
    s->state = ST_HOP_CONNECT;
    connect_hop(s);
}
