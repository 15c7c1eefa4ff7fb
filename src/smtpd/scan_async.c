/*
 * scan_async.c - MAILSCAN from the event loop itself, for a wardd on a unix
 * socket: the request and the spool's descriptor go out with one sendmsg on
 * a kept connection (proto/mailpool.h), the reply is read as it comes, and
 * the session goes on in the same loop turn. Per message that saves the two
 * thread hand-offs of the scanning threads (scan.c), which stay for what
 * cannot be done here without blocking: a TCP wardd (the message is
 * streamed), an envelope too big for one send, a full listen backlog.
 *
 * Failures are the caller's 4xx, as with the threads; a kept connection
 * that turns out closed before any reply byte came is retried once on a new
 * one (wardd restarted).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mail/script.h"
#include "proto/mailpool.h"
#include "scan_async.h"
#include "util/fdpass.h"

/* one sendmsg on an idle unix socket takes this much without waiting */
#define MAX_REQUEST (64u << 10)
#define HEAD 8

struct smtpd_ascan {
    const char *target;
    int msg_fd;
    int sock;
    bool reused;
    ward_buf req;
    struct event *ev;
    int64_t deadline_ms;
    uint8_t head[HEAD];
    uint8_t *block;
    size_t have, need; /* bytes of head + block read, and expected */
    int fd_in;
    smtpd_ascan_cb cb;
    void *arg;
};

static void ascan_free(struct smtpd_ascan *a)
{
    if (a->ev)
        event_free(a->ev);
    if (a->sock >= 0)
        close(a->sock);
    if (a->fd_in >= 0)
        close(a->fd_in);
    ward_buf_free(&a->req);
    free(a->block);
    free(a);
}

/* Non-blocking connect; false when it would have to wait (a full backlog). */
static bool connect_now(const char *path, int *out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return false;
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return false;
    }
    *out = fd;
    return true;
}

/* The whole request in one send; false when it did not all go (nothing is owed then). */
static bool send_request(struct smtpd_ascan *a)
{
    ssize_t n = ward_send_with_fd(a->sock, a->req.data, a->req.len, a->msg_fd,
                                  MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == (ssize_t)a->req.len;
}

static void finish(struct smtpd_ascan *a, ward_err err, struct ward_diag *diag,
                   struct ward_mailproto_reply *reply)
{
    if (a->ev) {
        /* before the socket may be closed: the event goes with its descriptor */
        event_free(a->ev);
        a->ev = NULL;
    }
    if (!err && a->have == a->need) {
        /* the reply was read whole: the connection is ready for the next */
        ward_mailpool_give(a->target, a->sock);
        a->sock = -1;
    }
    smtpd_ascan_cb cb = a->cb;
    void *arg = a->arg;
    ascan_free(a);
    cb(arg, err, diag, reply);
}

static void on_reply(evutil_socket_t fd, short what, void *arg);

/* Send on the connection we have, else on a new one; false: nothing went. */
static bool start_on_connection(struct smtpd_ascan *a, struct event_base *base)
{
    for (;;) {
        if (a->sock < 0) {
            a->sock = ward_mailpool_take(a->target);
            a->reused = a->sock >= 0;
            if (!a->reused && !connect_now(a->target, &a->sock))
                return false;
        }
        if (send_request(a))
            break;
        close(a->sock);
        a->sock = -1;
        if (!a->reused)
            return false;
        a->reused = false; /* wardd closed it: a new one, once */
    }
    if (a->ev)
        event_free(a->ev);
    a->ev = event_new(base, a->sock, EV_READ | EV_PERSIST, on_reply, a);
    int64_t left = a->deadline_ms - ward_clock_ms();
    struct timeval tv = {left > 0 ? left / 1000 : 0, left > 0 ? (left % 1000) * 1000 : 0};
    return a->ev && event_add(a->ev, &tv) == 0;
}

static void on_reply(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_ascan *a = arg;
    struct ward_diag d;
    (void)fd;
    if (what & EV_TIMEOUT) {
        ward_diag_set(&d, WARD_ERR_TIMEOUT, "wardd at %s did not answer in time", a->target);
        finish(a, WARD_ERR_TIMEOUT, &d, NULL);
        return;
    }
    for (;;) {
        uint8_t *dst = a->have < HEAD ? a->head + a->have : a->block + (a->have - HEAD);
        size_t want = a->have < HEAD ? HEAD - a->have : a->need - a->have;
        /* the descriptor of a changed message rides on the reply's first byte */
        ssize_t r = ward_recv_keep_fd(a->sock, dst, want, &a->fd_in);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            if (a->have == 0 && a->reused) {
                /* closed before this request reached it: once more on a new one */
                close(a->sock);
                a->sock = -1;
                a->reused = false;
                if (start_on_connection(a, event_get_base(a->ev)))
                    return;
            }
            ward_diag_set(&d, WARD_ERR_IO, "wardd at %s: %s", a->target,
                          r < 0 ? strerror(errno) : "connection closed");
            finish(a, WARD_ERR_IO, &d, NULL);
            return;
        }
        a->have += (size_t)r;
        if (a->have == HEAD) {
            if (memcmp(a->head, WARD_MAILPROTO_MAGIC, 4) != 0) {
                ward_diag_set(&d, WARD_ERR_UNSUPPORTED, "wardd at %s: not a Ward mail reply",
                              a->target);
                finish(a, WARD_ERR_UNSUPPORTED, &d, NULL);
                return;
            }
            uint32_t len = (uint32_t)a->head[4] << 24 | (uint32_t)a->head[5] << 16 |
                           (uint32_t)a->head[6] << 8 | a->head[7];
            if (len > WARD_MAILPROTO_MAX_REPLY || !(a->block = malloc(len ? len : 1))) {
                ward_diag_set(&d, WARD_ERR_LIMIT, "wardd at %s: reply of %u bytes", a->target,
                              len);
                finish(a, WARD_ERR_LIMIT, &d, NULL);
                return;
            }
            a->need = HEAD + len;
        }
        if (a->have >= HEAD && a->have == a->need)
            break;
    }
    struct ward_mailproto_reply reply;
    ward_err err = ward_mailproto_parse_reply(a->block, a->need - HEAD, &reply, &d);
    if (!err && reply.message == WARD_MAILPROTO_FD) {
        if (a->fd_in < 0 || lseek(a->fd_in, 0, SEEK_SET) != 0)
            err = ward_diag_set(&d, WARD_ERR_PARSE, "wardd at %s: changed message announced, "
                                "no descriptor", a->target);
        reply.msg_fd = a->fd_in;
        a->fd_in = -1;
    } else if (!err && reply.message == WARD_MAILPROTO_STREAM) {
        /* asked for fd on a unix socket: a stream back is a confused daemon */
        err = ward_diag_set(&d, WARD_ERR_PARSE, "wardd at %s: changed message streamed",
                            a->target);
    }
    if (err) {
        ward_mailproto_reply_free(&reply); /* again after a parse error: harmless */
        a->have = 0; /* not reusable */
        finish(a, err, &d, NULL);
        return;
    }
    finish(a, WARD_OK, NULL, &reply);
}

bool smtpd_ascan_start(struct event_base *base, const char *target, int msg_fd,
                       const struct ward_mail_env *env, int64_t deadline_ms, smtpd_ascan_cb cb,
                       void *arg)
{
    if (!ward_mailpool_on() || !target[0] || (target[0] != '/' && strchr(target, ':')))
        return false; /* TCP: the threads stream it */
    struct smtpd_ascan *a = calloc(1, sizeof *a);
    if (!a)
        return false;
    a->target = target;
    a->msg_fd = msg_fd;
    a->sock = a->fd_in = -1;
    a->deadline_ms = deadline_ms;
    a->cb = cb;
    a->arg = arg;
    ward_buf_init(&a->req, MAX_REQUEST);
    struct ward_diag d;
    if (ward_mailproto_encode_request(env, WARD_MAILPROTO_FD, WARD_MAILPROTO_FD, true, &a->req,
                                      &d) ||
        !start_on_connection(a, base)) {
        ascan_free(a);
        return false;
    }
    return true;
}
