/*
 * mailclient.c - ward_mailproto_scan(): one MAILSCAN request to wardd, the
 * client half every mail agent uses (mailproto.h).
 *
 * On a unix socket the message goes as a descriptor with the request and a
 * changed message comes back the same way, so no message byte crosses the
 * socket. On TCP both go as chunks. Every wait is bounded by one deadline.
 *
 * When the agent keeps connections (mailpool.h), the request asks wardd to
 * keep this one (keep=yes) and it goes back to the pool after a whole
 * reply. A kept connection that fails before any reply byte came (wardd
 * closed it meanwhile) is retried once on a new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/mailpool.h"
#include "proto/mailproto.h"
#include "util/fdpass.h"
#include "proto/resolve.h"
#include "util/spool.h"
#include "util/tcp.h"

#define CHUNK (1u << 20)
#define DEFAULT_TIMEOUT_MS (10u * 60 * 1000)

struct peer {
    int sock;
    int64_t deadline_ms;
    int fd_in;           /* first descriptor received, or -1 */
    size_t got;          /* bytes received */
    uint8_t *buf;        /* CHUNK bytes, for streaming both ways */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ward_err connect_target(const char *target, int *out, struct ward_diag *diag)
{
    if (target[0] == '/' || !strchr(target, ':')) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(target) >= sizeof sa.sun_path)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "socket path too long: %s", target);
        memcpy(sa.sun_path, target, strlen(target) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            *out = fd;
            return WARD_OK;
        }
        int e = errno;
        if (fd >= 0)
            close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "cannot connect to %s: %s", target, strerror(e));
    }
    struct sockaddr_storage sa;
    socklen_t sa_len;
    ward_err err = ward_resolve_target(target, &sa, &sa_len, diag);
    if (err)
        return err;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sa_len) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "cannot connect to %s: %s", target, strerror(e));
    }
    ward_tcp_nodelay(fd); /* the request's last piece must not wait for an ACK */
    *out = fd;
    return WARD_OK;
}

/* Wait for `events` until the deadline. */
static ward_err wait_for(struct peer *p, short events, struct ward_diag *diag)
{
    for (;;) {
        int64_t left = p->deadline_ms - now_ms();
        if (left <= 0)
            return ward_diag_set(diag, WARD_ERR_TIMEOUT, "wardd did not answer in time");
        struct pollfd pfd = {p->sock, events, 0};
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return WARD_OK;
        if (r < 0 && errno != EINTR)
            return ward_diag_set(diag, WARD_ERR_IO, "poll: %s", strerror(errno));
    }
}

/* Send n bytes; the first sendmsg carries `fd` when it is not -1. */
static ward_err send_all(struct peer *p, const void *data, size_t n, int fd,
                         struct ward_diag *diag)
{
    const uint8_t *s = data;
    /* the socket is usually writable: try first, wait only when it is full */
    while (n) {
        ssize_t w = ward_send_with_fd(p->sock, s, n, fd, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            ward_err err = wait_for(p, POLLOUT, diag);
            if (err)
                return err;
            continue;
        }
        if (w <= 0)
            return ward_diag_set(diag, WARD_ERR_IO, "sending to wardd: %s",
                                 w < 0 ? strerror(errno) : "connection closed");
        fd = -1;
        s += w;
        n -= (size_t)w;
    }
    return WARD_OK;
}

/*
 * Read exactly n bytes (n 0: none); a descriptor that comes along is kept.
 * `wait_first`: the bytes are not expected yet (a reply being computed), so
 * wait before reading; otherwise try first (the rest of a reply that has
 * begun is usually there already) and wait only when it is not.
 */
static ward_err recv_exact(struct peer *p, void *data, size_t n, bool wait_first,
                          struct ward_diag *diag)
{
    uint8_t *d = data;
    while (n) {
        if (wait_first) {
            ward_err err = wait_for(p, POLLIN, diag);
            if (err)
                return err;
        }
        wait_first = true;
        ssize_t r = ward_recv_keep_fd(p->sock, d, n, &p->fd_in);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue; /* waits first on the next round */
        if (r <= 0)
            return ward_diag_set(diag, WARD_ERR_IO, "reading from wardd: %s",
                                 r < 0 ? strerror(errno) : "connection closed");
        d += r;
        n -= (size_t)r;
        p->got += (size_t)r;
    }
    return WARD_OK;
}

static ward_err recv_all(struct peer *p, void *data, size_t n, struct ward_diag *diag)
{
    return recv_exact(p, data, n, true, diag);
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Stream msg_fd from offset 0 as chunks, then the zero length. */
static ward_err stream_out(struct peer *p, int msg_fd, struct ward_diag *diag)
{
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(msg_fd, p->buf + 4, CHUNK - 4, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ward_diag_set(diag, WARD_ERR_IO, "reading the message: %s", strerror(errno));
        p->buf[0] = (uint8_t)(n >> 24);
        p->buf[1] = (uint8_t)(n >> 16);
        p->buf[2] = (uint8_t)(n >> 8);
        p->buf[3] = (uint8_t)n;
        ward_err err = send_all(p, p->buf, (size_t)n + 4, -1, diag);
        if (err || n == 0)
            return err;
        off += (uint64_t)n;
    }
}

/* Chunks back into an unlinked file in tmpdir, no more than the announced size. */
static ward_err stream_in(struct peer *p, uint64_t size, const char *tmpdir, int *out,
                          struct ward_diag *diag)
{
    if (!p->buf && !(p->buf = malloc(CHUNK)))
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    int fd = ward_tmpfile(tmpdir);
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "temporary file in %s: %s", tmpdir,
                             strerror(errno));
    uint64_t got = 0;
    ward_err err = WARD_OK;
    for (;;) {
        uint8_t lb[4];
        if ((err = recv_all(p, lb, 4, diag)))
            break;
        uint32_t len = be32(lb);
        if (len == 0)
            break;
        if (len > size - got) {
            err = ward_diag_set(diag, WARD_ERR_PARSE, "changed message longer than announced");
            break;
        }
        while (len && !err) {
            size_t take = len < CHUNK ? len : CHUNK;
            if ((err = recv_all(p, p->buf, take, diag)))
                break;
            if (pwrite(fd, p->buf, take, (off_t)got) != (ssize_t)take)
                err = ward_diag_set(diag, WARD_ERR_IO, "writing the changed message: %s",
                                    strerror(errno));
            got += take;
            len -= (uint32_t)take;
        }
        if (err)
            break;
    }
    if (!err && got != size)
        err = ward_diag_set(diag, WARD_ERR_PARSE, "changed message shorter than announced");
    if (err) {
        close(fd);
        return err;
    }
    *out = fd;
    return WARD_OK;
}

/* A reply that is not ours: show what the daemon said. */
static ward_err foreign_reply(struct peer *p, const uint8_t head[8], struct ward_diag *diag)
{
    char text[256];
    size_t n = 8;
    memcpy(text, head, 8);
    while (n < sizeof text - 1 && memchr(text, 0, n) == NULL && memchr(text, '\n', n) == NULL) {
        if (recv_all(p, text + n, 1, NULL))
            break;
        n++;
    }
    text[n] = 0;
    text[strcspn(text, "\n")] = 0;
    return ward_diag_set(diag, WARD_ERR_UNSUPPORTED, "not a Ward mail reply: %s", text);
}

static ward_err converse(struct peer *p, bool unix_sock, int msg_fd,
                         const struct ward_mail_env *env, bool keep, const char *tmpdir,
                         struct ward_mailproto_reply *out, struct ward_diag *diag)
{
    enum ward_mailproto_xfer x = unix_sock ? WARD_MAILPROTO_FD : WARD_MAILPROTO_STREAM;
    ward_buf req;
    ward_buf_init(&req, WARD_MAILPROTO_MAX_ENV + 64);
    ward_err err = ward_mailproto_encode_request(env, x, x, keep, &req, diag);
    if (!err)
        err = send_all(p, req.data, req.len, unix_sock ? msg_fd : -1, diag);
    ward_buf_free(&req);
    if (!err && !unix_sock)
        err = stream_out(p, msg_fd, diag);
    uint8_t head[8];
    if (err == WARD_ERR_IO && !unix_sock) {
        /* wardd may have answered and closed early (a limit): read what it said */
        struct ward_diag ignored;
        if (recv_all(p, head, 8, &ignored))
            return err;
    } else if (err || (err = recv_all(p, head, 8, diag))) {
        return err;
    }
    if (memcmp(head, WARD_MAILPROTO_MAGIC, 4) != 0)
        return foreign_reply(p, head, diag);
    uint32_t len = be32(head + 4);
    if (len > WARD_MAILPROTO_MAX_REPLY)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "reply of %u bytes", len);
    uint8_t *block = malloc(len ? len : 1);
    if (!block)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    err = recv_exact(p, block, len, false, diag);
    if (!err)
        err = ward_mailproto_parse_reply(block, len, out, diag);
    free(block);
    if (err)
        return err;
    if (out->message == WARD_MAILPROTO_FD) {
        if (p->fd_in < 0)
            err = ward_diag_set(diag, WARD_ERR_PARSE, "changed message announced, no descriptor");
        else if (lseek(p->fd_in, 0, SEEK_SET) != 0)
            err = ward_diag_set(diag, WARD_ERR_IO, "changed message: %s", strerror(errno));
        out->msg_fd = p->fd_in;
        p->fd_in = -1;
    } else if (out->message == WARD_MAILPROTO_STREAM) {
        err = stream_in(p, out->size, tmpdir, &out->msg_fd, diag);
    }
    if (err)
        ward_mailproto_reply_free(out);
    return err;
}

ward_err ward_mailproto_scan(const char *target, int msg_fd, const struct ward_mail_env *env,
                             unsigned timeout_ms, const char *tmpdir,
                             struct ward_mailproto_reply *out, struct ward_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->msg_fd = -1;
    if (!tmpdir) {
        tmpdir = getenv("TMPDIR");
        if (!tmpdir || !*tmpdir)
            tmpdir = "/tmp";
    }
    struct peer p = {.sock = -1, .fd_in = -1};
    p.deadline_ms = now_ms() + (timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS);
    bool unix_sock = target[0] == '/' || !strchr(target, ':');
    p.buf = unix_sock ? NULL : malloc(CHUNK);
    if (!unix_sock && !p.buf)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    bool keep = ward_mailpool_on();
    ward_err err;
    for (unsigned attempt = 0;; attempt++) {
        p.sock = keep && attempt == 0 ? ward_mailpool_take(target) : -1;
        bool reused = p.sock >= 0;
        if (!reused && (err = connect_target(target, &p.sock, diag)))
            break;
        p.got = 0;
        err = converse(&p, unix_sock, msg_fd, env, keep, tmpdir, out, diag);
        if (p.fd_in >= 0)
            close(p.fd_in);
        p.fd_in = -1;
        if (!err && keep) {
            ward_mailpool_give(target, p.sock);
            break;
        }
        close(p.sock);
        /* wardd closed a kept connection before this request reached it */
        if (!(err == WARD_ERR_IO && reused && p.got == 0))
            break;
    }
    free(p.buf);
    if (err)
        ward_diag_prefix(diag, err, "wardd at %s: ", target);
    return err;
}
