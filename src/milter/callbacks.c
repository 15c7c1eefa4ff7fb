/*
 * callbacks.c - the session's handlers: collect the envelope, rebuild the
 * message into a spool file, and at the end of the message ask wardd.
 *
 * The message is rebuilt as the MTA will deliver it: each header field as
 * "name:value" with the value exactly as the MTA passes it (with
 * SMFIP_HDR_LEADSPC, Sendmail 8.14+ and Postfix 2.? pass the original
 * leading space; without it the MTA strips it and one space is put back, as
 * both MTAs write it), CRLF line ends as on the wire, then the body bytes as
 * received (the milter protocol carries the body in SMTP form, CRLF).
 *
 * The spool starts as a memfd and moves to an unlinked file in tmp_dir
 * past 2 MiB (spool.c).
 *
 * No handler but the end of the message refuses anything (the session
 * answers the steps the MTA waits for); a failure before the end of the
 * message is remembered and turns into a temporary failure there.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "milter.h"
#include "util/log.h"

#define HEAD_CAP (4u << 20) /* a header block beyond this is refused (Postfix: 100 KB) */
#define HEAD_KEEP (64u << 10) /* a header buffer this big is kept for the next message */

struct milter_cfg milter_cfg;

/* The message is done: free the envelope, keep the buffers worth reusing. */
static void msg_reset(struct milter_conn *c)
{
    struct milter_msg *m = &c->msg;
    free(m->sender);
    for (size_t i = 0; i < m->n_rcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    milter_spool_release(c);
    ward_buf head = m->head;
    if (head.alloc > HEAD_KEEP) {
        ward_buf_free(&head);
        ward_buf_init(&head, HEAD_CAP);
    }
    ward_buf_reset(&head);
    memset(m, 0, sizeof *m);
    m->head = head;
    m->fd = -1;
}

void milter_msg_fail(struct milter_msg *m, const char *why)
{
    if (!m->failed)
        snprintf(m->why, sizeof m->why, "%s", why);
    m->failed = true;
}

/* An address as the MTA passes it ("<a@b>", "<>", "a@b") without the brackets. */
static char *addr_dup(const char *a)
{
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
        a++;
        n -= 2;
    }
    return strndup(a, n);
}

void milter_conn_init(struct milter_conn *c)
{
    memset(c, 0, sizeof *c);
    c->msg.fd = -1;
    c->spare_fd = -1;
    ward_buf_init(&c->msg.head, HEAD_CAP);
}

void milter_conn_free(struct milter_conn *c)
{
    msg_reset(c);
    ward_buf_free(&c->msg.head);
    if (c->spare_fd >= 0)
        close(c->spare_fd);
    c->spare_fd = -1;
    free(c->helo);
    c->helo = NULL;
}

void milter_on_connect(struct milter_conn *c, const struct milter_connect *ci)
{
    /* the address as the MTA's socket layer would print it (Sendmail may write "IPv6:") */
    const char *a = ci->addr;
    if (strncasecmp(a, "IPv6:", 5) == 0)
        a += 5;
    uint8_t bin[16];
    int af = ci->family == '4' ? AF_INET : ci->family == '6' ? AF_INET6 : AF_UNSPEC;
    c->client_addr[0] = 0;
    if (af != AF_UNSPEC && inet_pton(af, a, bin) == 1)
        inet_ntop(af, bin, c->client_addr, sizeof c->client_addr);
}

void milter_on_helo(struct milter_conn *c, const char *helo)
{
    free(c->helo);
    c->helo = strdup(helo);
}

void milter_on_mail(struct milter_conn *c, const char *addr)
{
    msg_reset(c);
    c->msg.sender = addr_dup(addr);
    if (!c->msg.sender)
        milter_msg_fail(&c->msg, "out of memory");
}

void milter_on_rcpt(struct milter_conn *c, const char *addr)
{
    struct milter_msg *m = &c->msg;
    if (m->n_rcpts == m->cap_rcpts) {
        size_t cap = m->cap_rcpts ? 2 * m->cap_rcpts : 8;
        char **r = cap <= WARD_MAILPROTO_MAX_RCPTS ? realloc(m->rcpts, cap * sizeof *r) : NULL;
        if (!r) {
            milter_msg_fail(m, "too many recipients");
            return;
        }
        m->rcpts = r;
        m->cap_rcpts = cap;
    }
    char *a = addr_dup(addr);
    if (!a)
        milter_msg_fail(m, "out of memory");
    else
        m->rcpts[m->n_rcpts++] = a;
}

/* Append a header value, its folds turned into CRLF line ends. */
static ward_err put_value(ward_buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\n' && (p == v || p[-1] != '\r') && ward_buf_putc(b, '\r'))
            return WARD_ERR_LIMIT;
        if (ward_buf_putc(b, (uint8_t)*p))
            return WARD_ERR_LIMIT;
    }
    return WARD_OK;
}

void milter_on_header(struct milter_conn *c, const char *name, const char *value)
{
    struct milter_msg *m = &c->msg;
    if (m->failed)
        return;
    ward_buf *b = &m->head;
    if (ward_buf_puts(b, name) || ward_buf_putc(b, ':') || (!c->leadspc && ward_buf_putc(b, ' ')) ||
        put_value(b, value) || ward_buf_append(b, "\r\n", 2)) {
        m->too_big = true;
        milter_msg_fail(m, "header block too big");
    }
}

void milter_on_eoh(struct milter_conn *c)
{
    milter_spool_open(c);
}

void milter_on_body(struct milter_conn *c, const uint8_t *p, size_t n)
{
    milter_spool_open(c);
    if (n)
        milter_spool_add(&c->msg, p, n);
}

enum milter_verdict milter_on_eom(struct milter_sess *s)
{
    struct milter_conn *c = milter_sess_conn(s);
    struct milter_msg *m = &c->msg;
    milter_spool_open(c);
    milter_spool_finish(m);
    const char *qid = milter_sess_macro(s, "i");
    enum milter_verdict st;
    if (m->too_big) {
        ward_log(WARD_LOG_NOTICE, "%s: %s (%s): refused", qid ? qid : "-", m->why,
                 m->sender ? m->sender : "");
        milter_setreply(s, "552 5.3.4 Message too big to be scanned", '5', NULL);
        st = MILTER_REJECT;
    } else if (m->failed) {
        ward_log(WARD_LOG_ERROR, "%s: %s: temporary failure", qid ? qid : "-", m->why);
        milter_setreply(s, "451 4.3.0 Virus scanner failure, try again later", '4', NULL);
        st = MILTER_TEMPFAIL;
    } else {
        struct ward_mailproto_reply r;
        struct ward_diag d;
        if (milter_scan(s, c, &r, &d)) {
            ward_log(WARD_LOG_ERROR, "%s: wardd: %s: temporary failure", qid ? qid : "-", d.msg);
            milter_setreply(s, "451 4.3.0 Virus scanner not available, try again later", '4',
                            NULL);
            st = MILTER_TEMPFAIL;
        } else {
            st = milter_result(s, c, &r);
            ward_mailproto_reply_free(&r);
        }
    }
    msg_reset(c);
    return st;
}

void milter_on_abort(struct milter_conn *c)
{
    msg_reset(c);
}
