/*
 * nexthop.c - the connection to the next hop: SMTP or LMTP over TCP, or
 * LMTP to a command's standard input and output (lmtp:(COMMAND), the
 * classic ForwardMailer form). Replies are read whole (all lines of a
 * multi-line reply) and handed to the waiting session one by one.
 *
 * A reply nobody waits for, a malformed line or a silence longer than
 * server_timeout ends the session with a 4xx: the client tries again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpd.h"
#include "util/log.h"
#include "util/tcp.h"

const char *const smtpd_xf_names[XF_COUNT] = {"NAME", "ADDR", "PORT", "PROTO",
                                              "HELO", "IDENT", "SOURCE"};

/* Replies that may be due at once: XFORWARD, MAIL and pipelined RCPTs. */
#define HOP_MAX_WAIT 128

struct smtpd_hop {
    struct smtpd_session *s;
    struct bufferevent *bev;
    unsigned ext;
    uint64_t size;
    bool xf[XF_COUNT];
    unsigned want;          /* replies due */
    smtpd_hop_cb cbs[HOP_MAX_WAIT]; /* who gets each, in order (a ring) */
    unsigned head;
    ward_buf reply;
    bool in_cb, zombie;
    void (*drain)(struct smtpd_session *s);
};

void smtpd_hop_on_drain(struct smtpd_hop *h, void (*cb)(struct smtpd_session *s))
{
    h->drain = cb;
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct smtpd_hop *h = arg;
    (void)bev;
    if (h->drain)
        h->drain(h->s);
}

struct bufferevent *smtpd_hop_bev(struct smtpd_hop *h)
{
    return h->bev;
}

unsigned smtpd_hop_ext(const struct smtpd_hop *h)
{
    return h->ext;
}

uint64_t smtpd_hop_size(const struct smtpd_hop *h)
{
    return h->size;
}

unsigned smtpd_hop_due(const struct smtpd_hop *h)
{
    return h ? h->want : 0;
}

bool smtpd_hop_xf(const struct smtpd_hop *h, int attr)
{
    return attr >= 0 && attr < XF_COUNT && h->xf[attr];
}

static void set_timeout(struct smtpd_hop *h)
{
    struct timeval tv = {(time_t)h->s->sd->cfg->server_timeout, 0};
    bufferevent_set_timeouts(h->bev, h->want ? &tv : NULL, &tv);
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

void smtpd_hop_set_ehlo(struct smtpd_hop *h, const char *text, size_t len)
{
    h->ext = 0;
    h->size = 0;
    memset(h->xf, 0, sizeof h->xf);
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p + 4, *e = le;
        if (e > p && e[-1] == '\r')
            e--;
        if (!first && q < e) {
            size_t kw = 0;
            while (q + kw < e && q[kw] != ' ')
                kw++;
            const char *args = q + kw;
            if (word_is(q, kw, "PIPELINING"))
                h->ext |= EXT_PIPELINING;
            else if (word_is(q, kw, "8BITMIME"))
                h->ext |= EXT_8BITMIME;
            else if (word_is(q, kw, "SMTPUTF8"))
                h->ext |= EXT_SMTPUTF8;
            else if (word_is(q, kw, "ENHANCEDSTATUSCODES"))
                h->ext |= EXT_ENHANCED;
            else if (word_is(q, kw, "DSN"))
                h->ext |= EXT_DSN;
            else if (word_is(q, kw, "CHUNKING"))
                h->ext |= EXT_CHUNKING;
            else if (word_is(q, kw, "SIZE")) {
                h->ext |= EXT_SIZE;
                h->size = args < e ? strtoull(args + 1, NULL, 10) : 0;
            } else if (word_is(q, kw, "XFORWARD")) {
                h->ext |= EXT_XFORWARD;
                for (const char *a = args; a < e;) {
                    while (a < e && *a == ' ')
                        a++;
                    size_t al = 0;
                    while (a + al < e && a[al] != ' ')
                        al++;
                    for (int i = 0; i < XF_COUNT; i++)
                        if (word_is(a, al, smtpd_xf_names[i]))
                            h->xf[i] = true;
                    a += al;
                }
            }
        }
        first = false;
        p = nl ? nl + 1 : end;
    }
    struct smtpd_caps *c = &h->s->sd->caps;
    c->ext = h->ext;
    c->size = h->size;
    memcpy(c->xf, h->xf, sizeof c->xf);
    c->known = true;
}

static void fail(struct smtpd_hop *h, const char *why)
{
    h->want = 0;
    smtpd_session_hop_failed(h->s, why);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct smtpd_hop *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            return;
        size_t take = avail < WARD_SMTP_MAX_REPLY ? avail : WARD_SMTP_MAX_REPLY;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)take);
        size_t len, used;
        enum ward_smtp_line_result r = ward_smtp_line(p, take, WARD_SMTP_MAX_REPLY, &len, &used);
        if (r == WARD_SMTP_LINE_MORE)
            return;
        unsigned code;
        bool last;
        if (r == WARD_SMTP_LINE_TOO_LONG || !ward_smtp_parse_reply((const char *)p, len, &code, &last)) {
            fail(h, "malformed reply from the next hop");
            return;
        }
        if (ward_buf_append(&h->reply, p, len) || ward_buf_append(&h->reply, "\r\n", 2)) {
            fail(h, "reply from the next hop too long");
            return;
        }
        evbuffer_drain(in, used);
        if (!last)
            continue;
        if (!h->want) {
            ward_log(WARD_LOG_WARNING, "%s: next hop said unasked: %.*s", h->s->peer,
                     (int)strcspn(ward_buf_str(&h->reply), "\r\n"), ward_buf_str(&h->reply));
            fail(h, "next hop closed the session");
            return;
        }
        smtpd_hop_cb cb = h->cbs[h->head];
        h->head = (h->head + 1) % HOP_MAX_WAIT;
        h->want--;
        set_timeout(h);
        h->in_cb = true;
        if (cb)
            cb(h->s, code, (const char *)h->reply.data, h->reply.len);
        h->in_cb = false;
        ward_buf_reset(&h->reply);
        if (h->zombie) {
            smtpd_hop_free(h);
            return;
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtpd_hop *h = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_TIMEOUT)
        fail(h, "next hop timed out");
    else if (what & BEV_EVENT_EOF)
        fail(h, "next hop closed the connection");
    else
        fail(h, errno ? strerror(errno) : "next hop connection failed");
}

static bool spawn(struct smtpd_hop *h, const char *cmd, struct ward_diag *diag)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "socketpair: %s", strerror(errno));
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        ward_diag_set(diag, WARD_ERR_IO, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    evutil_make_socket_nonblocking(sv[0]);
    h->bev = bufferevent_socket_new(h->s->sd->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    if (!h->bev) {
        close(sv[0]);
        ward_diag_set(diag, WARD_ERR_NOMEM, "bufferevent");
        return false;
    }
    return true;
}

static bool connect_tcp(struct smtpd_hop *h, const struct smtpd_cfg *cfg, struct ward_diag *diag)
{
    char port[8];
    snprintf(port, sizeof port, "%u", cfg->hop_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gr = getaddrinfo(cfg->hop_host[0] ? cfg->hop_host : "127.0.0.1", port, &hints, &ai);
    if (gr != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "next hop %s: %s", cfg->hop_host, gai_strerror(gr));
        return false;
    }
    h->bev = bufferevent_socket_new(h->s->sd->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bool ok = h->bev && bufferevent_socket_connect(h->bev, ai->ai_addr, (int)ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    if (ok)
        ward_tcp_nodelay(bufferevent_getfd(h->bev));
    if (!ok)
        ward_diag_set(diag, WARD_ERR_IO, "cannot connect to the next hop %s port %u: %s",
                      cfg->hop_host, cfg->hop_port, strerror(errno));
    return ok;
}

struct smtpd_hop *smtpd_hop_open(struct smtpd_session *s, struct ward_diag *diag)
{
    const struct smtpd_cfg *cfg = s->sd->cfg;
    struct smtpd_hop *h = calloc(1, sizeof *h);
    if (!h) {
        ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->s = s;
    ward_buf_init(&h->reply, 64 * 1024);
    bool ok = cfg->hop == HOP_LMTP_CMD ? spawn(h, cfg->hop_cmd, diag) : connect_tcp(h, cfg, diag);
    if (!ok) {
        smtpd_hop_free(h);
        return NULL;
    }
    bufferevent_setcb(h->bev, on_read, on_write, on_event, h);
    /* forward.c refills the message below this */
    bufferevent_setwatermark(h->bev, EV_WRITE, 256 * 1024, 0);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    return h;
}

void smtpd_hop_free(struct smtpd_hop *h)
{
    if (!h)
        return;
    if (h->in_cb) {
        /* freed from inside its own callback: finish in on_read */
        h->zombie = true;
        bufferevent_disable(h->bev, EV_READ | EV_WRITE);
        return;
    }
    if (h->bev) {
        bufferevent_free(h->bev);
    }
    ward_buf_free(&h->reply);
    free(h);
}

void smtpd_hop_expect(struct smtpd_hop *h, unsigned replies, smtpd_hop_cb cb)
{
    for (unsigned i = 0; i < replies && h->want < HOP_MAX_WAIT; i++)
        h->cbs[(h->head + h->want++) % HOP_MAX_WAIT] = cb;
    set_timeout(h);
}

void smtpd_hop_command(struct smtpd_hop *h, const char *line, unsigned replies, smtpd_hop_cb cb)
{
    struct evbuffer *out = bufferevent_get_output(h->bev);
    evbuffer_add(out, line, strlen(line));
    evbuffer_add(out, "\r\n", 2);
    smtpd_hop_expect(h, replies, cb);
}
