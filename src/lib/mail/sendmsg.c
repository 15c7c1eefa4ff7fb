/* sendmsg.c - a notice to sendmail or, by a small bounded SMTP client, to a relay. */
#include "mail/sendmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/script.h"
#include "proto/resolve.h"
#include "proto/smtp.h"

#define SEND_MAX_RCPTS 1000
#define REPLY_MAX_LINES 100

/* An address we put in a command or an argument: no control bytes, no brackets. */
static bool addr_ok(const char *a)
{
    if (strlen(a) > WARD_SMTP_MAX_PATH)
        return false;
    for (; *a; a++)
        if ((unsigned char)*a < 0x21 || *a == 0x7f || *a == '<' || *a == '>')
            return false;
    return true;
}

static ward_err wait_fd(int fd, short ev, int64_t deadline, const char *what,
                        struct ward_diag *diag)
{
    for (;;) {
        int64_t left = deadline - ward_clock_ms();
        if (left <= 0)
            return ward_diag_set(diag, WARD_ERR_TIMEOUT, "%s: no answer in time", what);
        struct pollfd p = {fd, ev, 0};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return WARD_OK;
        if (r < 0 && errno != EINTR)
            return ward_diag_set(diag, WARD_ERR_IO, "%s: poll: %s", what, strerror(errno));
    }
}

/* send() with MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
static ward_err send_all(int fd, const void *p, size_t n, int64_t deadline, const char *what,
                         struct ward_diag *diag)
{
    const char *s = p;
    while (n) {
        ward_err err = wait_fd(fd, POLLOUT, deadline, what, diag);
        if (err)
            return err;
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return ward_diag_set(diag, WARD_ERR_IO, "%s: write: %s", what, strerror(errno));
        s += w;
        n -= (size_t)w;
    }
    return WARD_OK;
}

struct smtp {
    int fd;
    int64_t deadline;
    const char *relay;
    char buf[2 * WARD_SMTP_MAX_REPLY];
    size_t len;
};

/* One reply (all its lines); its code and its first line, for messages. */
static ward_err read_reply(struct smtp *c, unsigned *code, char *first, size_t cap,
                           struct ward_diag *diag)
{
    first[0] = 0;
    for (unsigned lines = 0; lines < REPLY_MAX_LINES;) {
        size_t len, used;
        enum ward_smtp_line_result r =
            ward_smtp_line((const uint8_t *)c->buf, c->len, WARD_SMTP_MAX_REPLY, &len, &used);
        if (r == WARD_SMTP_LINE_TOO_LONG)
            return ward_diag_set(diag, WARD_ERR_PARSE, "%s: reply line too long", c->relay);
        if (r == WARD_SMTP_LINE_MORE) {
            ward_err err = wait_fd(c->fd, POLLIN, c->deadline, c->relay, diag);
            if (err)
                return err;
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                return ward_diag_set(diag, WARD_ERR_IO, "%s: connection closed", c->relay);
            c->len += (size_t)n;
            continue;
        }
        bool last;
        if (!ward_smtp_parse_reply(c->buf, len, code, &last))
            return ward_diag_set(diag, WARD_ERR_PARSE, "%s: not an SMTP reply", c->relay);
        if (!lines++)
            snprintf(first, cap, "%.*s", (int)(len < 200 ? len : 200), c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (last)
            return WARD_OK;
    }
    return ward_diag_set(diag, WARD_ERR_PARSE, "%s: reply of too many lines", c->relay);
}

/* Send a command (NULL: none, read the greeting) and expect a reply of class `want`. */
static ward_err command(struct smtp *c, const char *cmd, unsigned want, unsigned *got,
                        struct ward_diag *diag)
{
    ward_err err = WARD_OK;
    if (cmd)
        err = send_all(c->fd, cmd, strlen(cmd), c->deadline, c->relay, diag);
    unsigned code = 0;
    char first[256];
    if (!err)
        err = read_reply(c, &code, first, sizeof first, diag);
    if (got)
        *got = code;
    if (!err && code / 100 != want) {
        size_t k = cmd ? strcspn(cmd, "\r") : 0;
        err = ward_diag_set(diag, WARD_ERR_IO, "%s: %.*s%s%s", c->relay, (int)k, cmd ? cmd : "",
                            cmd ? ": " : "greeting: ", first);
    }
    return err;
}

static ward_err smtp_connect(struct smtp *c, struct ward_diag *diag)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    ward_err err = ward_resolve_target(c->relay, &sa, &sa_len, diag);
    if (err)
        return ward_diag_prefix(diag, err, "notify_relay: ");
    c->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        err = ward_diag_set(diag, WARD_ERR_IO, "%s: socket: %s", c->relay, strerror(errno));
    } else if (connect(c->fd, (struct sockaddr *)&sa, sa_len) != 0 && errno != EINPROGRESS) {
        err = ward_diag_set(diag, WARD_ERR_IO, "%s: connect: %s", c->relay, strerror(errno));
    } else {
        err = wait_fd(c->fd, POLLOUT, c->deadline, c->relay, diag);
        int so = 0;
        socklen_t sl = sizeof so;
        if (!err && (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0))
            err = ward_diag_set(diag, WARD_ERR_IO, "%s: connect: %s", c->relay, strerror(so));
    }
    return err;
}

static ward_err smtp_data(struct smtp *c, const uint8_t *msg, size_t len, struct ward_diag *diag)
{
    enum { CHUNK = 32768 };
    uint8_t *out = malloc(2 * CHUNK + 8);
    if (!out)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    struct ward_smtp_stuff st;
    ward_smtp_stuff_init(&st);
    ward_err err = WARD_OK;
    for (size_t off = 0; off < len && !err; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        size_t k = ward_smtp_stuff_feed(&st, msg + off, n, out);
        err = send_all(c->fd, out, k, c->deadline, c->relay, diag);
    }
    if (!err) {
        size_t k = ward_smtp_stuff_end(&st, out);
        err = send_all(c->fd, out, k, c->deadline, c->relay, diag);
    }
    free(out);
    if (!err)
        err = command(c, NULL, 2, NULL, diag);
    return err;
}

static ward_err smtp_send(const struct ward_sendmsg *s, int64_t deadline, const char *from,
                          const char *const *rcpts, size_t n, const void *msg, size_t len,
                          struct ward_diag *diag)
{
    struct smtp *c = calloc(1, sizeof *c);
    if (!c)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    c->fd = -1;
    c->deadline = deadline;
    c->relay = s->relay;
    char line[WARD_SMTP_MAX_CMD];
    const char *helo = s->helo && addr_ok(s->helo) ? s->helo : "localhost";
    unsigned code;
    ward_err err = smtp_connect(c, diag);
    if (!err)
        err = command(c, NULL, 2, NULL, diag);
    if (!err) {
        snprintf(line, sizeof line, "EHLO %s\r\n", helo);
        if (command(c, line, 2, &code, diag)) {
            snprintf(line, sizeof line, "HELO %s\r\n", helo);
            err = command(c, line, 2, NULL, diag);
        }
    }
    if (!err) {
        snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", from);
        err = command(c, line, 2, NULL, diag);
    }
    for (size_t i = 0; i < n && !err; i++) {
        snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpts[i]);
        err = command(c, line, 2, NULL, diag);
    }
    if (!err)
        err = command(c, "DATA\r\n", 3, NULL, diag);
    if (!err)
        err = smtp_data(c, msg, len, diag);
    if (!err) {
        struct ward_diag ignore;
        (void)command(c, "QUIT\r\n", 2, NULL, &ignore);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return err;
}

static ward_err sendmail_send(const struct ward_sendmsg *s, int64_t deadline, const char *from,
                              const char *const *rcpts, size_t n, const void *msg, size_t len,
                              struct ward_diag *diag)
{
    const char *path =
        s->sendmail_path && *s->sendmail_path ? s->sendmail_path : "/usr/sbin/sendmail";
    const char **argv = calloc(n + 6, sizeof *argv);
    if (!argv)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    size_t k = 0;
    argv[k++] = path;
    argv[k++] = "-i";
    argv[k++] = "-f";
    argv[k++] = *from ? from : "<>";
    argv[k++] = "--";
    for (size_t i = 0; i < n; i++)
        argv[k++] = rcpts[i];
    /* a socket, not a pipe, for its stdin: send() can refuse SIGPIPE */
    int sv[2];
    ward_err err = WARD_OK;
    pid_t pid = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        err = ward_diag_set(diag, WARD_ERR_IO, "socketpair: %s", strerror(errno));
    } else {
        extern char **environ;
        err = ward_spawn(argv, (const char *const *)environ, sv[1], &pid, diag);
        close(sv[1]);
        if (!err) {
            (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
            err = send_all(sv[0], msg, len, deadline, path, diag);
            close(sv[0]);
            ward_err w = ward_spawn_wait(pid, deadline, path, err ? NULL : diag);
            if (!err)
                err = w;
        } else {
            close(sv[0]);
        }
    }
    free(argv);
    return err;
}

ward_err ward_sendmsg(const struct ward_sendmsg *s, const char *from, const char *const *rcpts,
                      size_t n_rcpts, const void *msg, size_t len, struct ward_diag *diag)
{
    if (!from)
        from = "";
    if (n_rcpts == 0 || n_rcpts > SEND_MAX_RCPTS)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "notice: %zu recipients", n_rcpts);
    if (*from && !addr_ok(from))
        return ward_diag_set(diag, WARD_ERR_PARSE, "notice: bad sender address");
    for (size_t i = 0; i < n_rcpts; i++)
        if (!rcpts[i] || !*rcpts[i] || !addr_ok(rcpts[i]) || rcpts[i][0] == '-')
            return ward_diag_set(diag, WARD_ERR_PARSE, "notice: bad recipient address");
    int64_t deadline = ward_clock_ms() + (s->timeout_ms ? s->timeout_ms : 60000);
    if (s->relay && *s->relay)
        return smtp_send(s, deadline, from, rcpts, n_rcpts, msg, len, diag);
    return sendmail_send(s, deadline, from, rcpts, n_rcpts, msg, len, diag);
}
