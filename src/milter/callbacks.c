/*
 * callbacks.c - the libmilter callbacks: collect the envelope, rebuild the
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
 * past 2 MiB (see spool()).
 *
 * Callbacks whose reply the MTA agreed to skip (SMFIP_NR_*) return
 * SMFIS_NOREPLY; a failure before the end of the message is remembered and
 * turns into a temporary failure there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "milter.h"
#include "util/file.h"
#include "util/log.h"
#include "util/spool.h"

#define HEAD_CAP (4u << 20) /* a header block beyond this is refused (Postfix: 100 KB) */

static struct milter_conn *conn_get(SMFICTX *ctx)
{
    struct milter_conn *c = smfi_getpriv(ctx);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->msg.fd = -1;
        ward_buf_init(&c->msg.head, HEAD_CAP);
        if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
            free(c);
            return NULL;
        }
    }
    return c;
}

/* The reply for a step: none when the MTA agreed not to wait for one. */
static sfsistat cont(const struct milter_conn *c, unsigned long nr_flag)
{
    return c && (c->nr & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static void msg_reset(struct milter_msg *m)
{
    free(m->sender);
    for (size_t i = 0; i < m->n_rcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    if (m->fd >= 0)
        close(m->fd);
    size_t cap = m->head.cap;
    ward_buf_free(&m->head);
    memset(m, 0, sizeof *m);
    ward_buf_init(&m->head, cap ? cap : HEAD_CAP);
    m->fd = -1;
}

static void msg_fail(struct milter_msg *m, const char *why)
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

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_DELRCPT |
                 SMFIF_SETSYMLIST);
    /* The only macro used is the queue id at the end; the MTA need not send the rest
       (Postfix sends a packet of macros before nearly every command otherwise). */
    if (f0 & SMFIF_SETSYMLIST) {
        static const int none[] = {SMFIM_CONNECT, SMFIM_HELO, SMFIM_ENVFROM,
                                   SMFIM_ENVRCPT, SMFIM_DATA, SMFIM_EOH};
        bool ok = smfi_setsymlist(ctx, SMFIM_EOM, "i") == MI_SUCCESS;
        for (size_t i = 0; ok && i < sizeof none / sizeof none[0]; i++)
            ok = smfi_setsymlist(ctx, none[i], "") == MI_SUCCESS;
        if (!ok)
            *pf0 &= ~(unsigned long)SMFIF_SETSYMLIST;
    }
    /* Fewer round trips: no replies to steps that never refuse anything. */
    unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
                       SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_HDR | SMFIP_NR_BODY;
    unsigned long want = SMFIP_HDR_LEADSPC | SMFIP_NOUNKNOWN | SMFIP_NODATA | nr;
    *pf1 = f1 & want;
    c->nr = f1 & nr;
    c->leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)host;
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    c->client_addr[0] = 0;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->client_addr,
                  sizeof c->client_addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->client_addr,
                  sizeof c->client_addr);
    return cont(c, SMFIP_NR_CONN);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    free(c->helo);
    c->helo = helo ? strdup(helo) : NULL;
    return cont(c, SMFIP_NR_HELO);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    msg_reset(&c->msg);
    c->msg.sender = addr_dup(argv && argv[0] ? argv[0] : "");
    if (!c->msg.sender)
        msg_fail(&c->msg, "out of memory");
    return cont(c, SMFIP_NR_MAIL);
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    struct milter_msg *m = &c->msg;
    if (m->n_rcpts == m->cap_rcpts) {
        size_t cap = m->cap_rcpts ? 2 * m->cap_rcpts : 8;
        char **r = cap <= WARD_MAILPROTO_MAX_RCPTS ? realloc(m->rcpts, cap * sizeof *r) : NULL;
        if (!r) {
            msg_fail(m, "too many recipients");
            return cont(c, SMFIP_NR_RCPT);
        }
        m->rcpts = r;
        m->cap_rcpts = cap;
    }
    char *a = addr_dup(argv && argv[0] ? argv[0] : "");
    if (!a)
        msg_fail(m, "out of memory");
    else
        m->rcpts[m->n_rcpts++] = a;
    return cont(c, SMFIP_NR_RCPT);
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

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    struct milter_msg *m = &c->msg;
    if (m->failed)
        return cont(c, SMFIP_NR_HDR);
    ward_buf *b = &m->head;
    if (ward_buf_puts(b, name) || ward_buf_putc(b, ':') || (!c->leadspc && ward_buf_putc(b, ' ')) ||
        put_value(b, value ? value : "") || ward_buf_append(b, "\r\n", 2)) {
        m->too_big = true;
        msg_fail(m, "header block too big");
    }
    return cont(c, SMFIP_NR_HDR);
}

/*
 * A message starts in memory (memfd: no filesystem work for the many small
 * messages) and moves to an unlinked file in tmp_dir when it grows past
 * MEM_SPOOL, so that big messages do not sit in RAM.
 */
#define MEM_SPOOL (2u << 20)

static bool to_file(struct milter_msg *m)
{
    int fd = ward_tmpfile(milter_cfg.tmpdir[0] ? milter_cfg.tmpdir : NULL);
    if (fd < 0)
        return false;
    /* copy_file_range refuses tmpfs to another filesystem on many kernels */
    char buf[64 << 10];
    for (uint64_t off = 0; off < m->size;) {
        size_t want = m->size - off < sizeof buf ? (size_t)(m->size - off) : sizeof buf;
        if (ward_pread_full(m->fd, buf, want, (off_t)off) != (ssize_t)want ||
            ward_write_full(fd, buf, want)) {
            close(fd);
            return false;
        }
        off += want;
    }
    close(m->fd);
    m->fd = fd;
    m->in_mem = false;
    return true;
}

static void spool(struct milter_msg *m, const void *p, size_t n)
{
    if (m->failed)
        return;
    if (milter_cfg.max_size && m->size + n > milter_cfg.max_size) {
        m->too_big = true;
        msg_fail(m, "message too big");
        return;
    }
    if (m->in_mem && m->size + n > MEM_SPOOL && !to_file(m)) {
        char why[128];
        snprintf(why, sizeof why, "cannot create a spool file: %s", strerror(errno));
        msg_fail(m, why);
        return;
    }
    if (ward_write_full(m->fd, p, n)) {
        char why[128];
        snprintf(why, sizeof why, "cannot spool the message: %s", strerror(errno));
        msg_fail(m, why);
        return;
    }
    m->size += n;
}

/* The header block ends: open the spool file and put the header block first. */
static void open_spool(struct milter_msg *m)
{
    if (m->fd >= 0 || m->failed)
        return;
    m->fd = memfd_create("ward-milter", MFD_CLOEXEC);
    m->in_mem = m->fd >= 0;
    if (m->fd < 0)
        m->fd = ward_tmpfile(milter_cfg.tmpdir[0] ? milter_cfg.tmpdir : NULL);
    if (m->fd < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot create a spool file: %s", strerror(errno));
        msg_fail(m, why);
        return;
    }
    if (ward_buf_append(&m->head, "\r\n", 2)) {
        m->too_big = true;
        msg_fail(m, "header block too big");
        return;
    }
    spool(m, m->head.data, m->head.len);
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    open_spool(&c->msg);
    return cont(c, SMFIP_NR_EOH);
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    open_spool(&c->msg);
    spool(&c->msg, p, n);
    return cont(c, SMFIP_NR_BODY);
}

static sfsistat on_eom(SMFICTX *ctx)
{
    struct milter_conn *c = conn_get(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    struct milter_msg *m = &c->msg;
    open_spool(m);
    const char *qid = smfi_getsymval(ctx, "i");
    sfsistat st;
    if (m->too_big) {
        ward_log(WARD_LOG_NOTICE, "%s: %s (%s): refused", qid ? qid : "-", m->why,
                 m->sender ? m->sender : "");
        milter_setreply(ctx, "552 5.3.4 Message too big to be scanned", '5', NULL);
        st = SMFIS_REJECT;
    } else if (m->failed) {
        ward_log(WARD_LOG_ERROR, "%s: %s: temporary failure", qid ? qid : "-", m->why);
        milter_setreply(ctx, "451 4.3.0 Virus scanner failure, try again later", '4', NULL);
        st = SMFIS_TEMPFAIL;
    } else {
        struct ward_mailproto_reply r;
        struct ward_diag d;
        if (milter_scan(ctx, c, &r, &d)) {
            ward_log(WARD_LOG_ERROR, "%s: wardd: %s: temporary failure", qid ? qid : "-", d.msg);
            milter_setreply(ctx, "451 4.3.0 Virus scanner not available, try again later", '4',
                            NULL);
            st = SMFIS_TEMPFAIL;
        } else {
            st = milter_result(ctx, c, &r);
            ward_mailproto_reply_free(&r);
        }
    }
    msg_reset(m);
    return st;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    struct milter_conn *c = smfi_getpriv(ctx);
    if (c)
        msg_reset(&c->msg);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    struct milter_conn *c = smfi_getpriv(ctx);
    if (c) {
        msg_reset(&c->msg);
        ward_buf_free(&c->msg.head);
        free(c->helo);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
    .xxfi_name = "ward-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_DELRCPT,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_envrcpt = on_envrcpt,
    .xxfi_header = on_header,
    .xxfi_eoh = on_eoh,
    .xxfi_body = on_body,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
    .xxfi_negotiate = on_negotiate,
};
