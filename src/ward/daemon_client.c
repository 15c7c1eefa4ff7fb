/* daemon_client.c - the clamd protocol, client side (see daemon_client.h). */
#include "daemon_client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/resolve.h"
#include "util/buf.h"

#define REPLY_TIMEOUT_MS (10 * 60 * 1000) /* a scan of a large file may take long */
#define STREAM_CHUNK 65536

struct dclient {
    char target[4096];
    enum dclient_mode mode;
    bool all;
    int fd;        /* the session, or -1 */
    ward_buf in;   /* bytes read and not yet parsed */
};

static int connect_target(const char *target, char *err, size_t errcap)
{
    if (target[0] == '/' || !strchr(target, ':')) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(target) >= sizeof sa.sun_path) {
            snprintf(err, errcap, "socket path too long: %s", target);
            return -1;
        }
        strcpy(sa.sun_path, target);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        snprintf(err, errcap, "cannot connect to %s: %s", target, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t sa_len;
    struct ward_diag d;
    if (ward_resolve_target(target, &sa, &sa_len, &d)) {
        snprintf(err, errcap, "%s", d.msg);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sa_len) != 0) {
        snprintf(err, errcap, "cannot connect to %s: %s", target, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* clamdscan's way: the descriptor rides on one byte sent after "zFILDES\0". */
static int send_fd(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Read until `delim` (one reply) or EOF (delim < 0). 0: got it, -1: error or EOF. */
static int read_reply(int fd, ward_buf *in, int delim, ward_buf *out)
{
    for (;;) {
        if (delim >= 0) {
            uint8_t *e = in->len ? memchr(in->data, delim, in->len) : NULL;
            if (e) {
                size_t n = (size_t)(e - in->data);
                ward_buf_reset(out);
                if (ward_buf_append(out, in->data, n))
                    return -1;
                memmove(in->data, e + 1, in->len - n - 1);
                in->len -= n + 1;
                return 0;
            }
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0)
            return -1;
        if (ward_buf_reserve(in, 65536))
            return -1;
        ssize_t r = recv(fd, in->data + in->len, 65536, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (delim < 0) {
                ward_buf_reset(out);
                return ward_buf_append(out, in->data, in->len) ? -1 : 0;
            }
            return -1;
        }
        in->len += (size_t)r;
    }
}

/* Map one reply line "WHO: STATUS" to a verdict; returns -1 for an ERROR line. */
static int parse_line(const char *line, const char *path, dclient_fn fn, void *ctx, char *err,
                      size_t errcap)
{
    /* "N: " inside a session */
    const char *p = line;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p > line && p[0] == ':' && p[1] == ' ')
        line = p + 2;
    size_t n = strlen(line);
    bool found = n >= 6 && strcmp(line + n - 6, " FOUND") == 0;
    bool ok = n >= 4 && strcmp(line + n - 4, ": OK") == 0;
    const char *sep = NULL;
    size_t plen = path ? strlen(path) : 0;
    if (path && strncmp(line, path, plen) == 0 && strncmp(line + plen, ": ", 2) == 0)
        sep = line + plen; /* the path we sent: it may hold ": " */
    else if (strncmp(line, "stream: ", 8) == 0)
        sep = line + 6;
    else if (strncmp(line, "fd[", 3) == 0 && strstr(line, "]: "))
        sep = strstr(line, "]: ") + 1;
    else if (found || ok)
        for (const char *q = strstr(line, ": "); q; q = strstr(q + 1, ": "))
            sep = q; /* names hold no ": ", paths might */
    else
        sep = strstr(line, ": ");
    if (!sep) {
        snprintf(err, errcap, "unexpected reply: %.200s", line);
        return -1;
    }
    char who[4096];
    snprintf(who, sizeof who, "%.*s", (int)(sep - line), line);
    const char *status = sep + 2;
    const char *shown = path && (strcmp(who, "stream") == 0 || strncmp(who, "fd[", 3) == 0)
                            ? path
                            : who;
    if (found) {
        char name[1024];
        snprintf(name, sizeof name, "%.*s", (int)(line + n - 6 - status), status);
        static const struct {
            const char *name;
            enum ward_reason reason;
        } ns[] = {{"Heuristics.Encrypted", WARD_REASON_ENCRYPTED},
                  {"Heuristics.Limits.Exceeded", WARD_REASON_LIMIT},
                  {"Heuristics.Broken.Container", WARD_REASON_CORRUPTED},
                  {"Heuristics.Scan.Error", WARD_REASON_ERROR}};
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
            if (strcmp(name, ns[i].name) == 0) {
                fn(ctx, WARD_VERDICT_NOT_SCANNED, ns[i].reason, ns[i].name + 11, shown);
                return 0;
            }
        fn(ctx, WARD_VERDICT_INFECTED, WARD_REASON_NONE, name, shown);
        return 0;
    }
    if (strcmp(status, "OK") == 0)
        return 0;
    snprintf(err, errcap, "%s", status);
    return -1;
}

struct dclient *dclient_new(const char *target, enum dclient_mode mode, bool all_matches)
{
    struct dclient *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->target, sizeof c->target, "%s", target);
    c->mode = mode;
    c->all = all_matches;
    c->fd = -1;
    ward_buf_init(&c->in, 1 << 24);
    return c;
}

void dclient_free(struct dclient *c)
{
    if (!c)
        return;
    if (c->fd >= 0) {
        (void)!send_all(c->fd, "zEND", 5);
        close(c->fd);
    }
    ward_buf_free(&c->in);
    free(c);
}

static int session(struct dclient *c, char *err, size_t errcap)
{
    if (c->fd >= 0)
        return c->fd;
    c->fd = connect_target(c->target, err, errcap);
    ward_buf_reset(&c->in);
    if (c->fd >= 0 && send_all(c->fd, "zIDSESSION", 11) != 0) {
        close(c->fd);
        c->fd = -1;
        snprintf(err, errcap, "%s: cannot start a session", c->target);
    }
    return c->fd;
}

static void drop_session(struct dclient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int send_stream(int sock, int fd)
{
    if (send_all(sock, "zINSTREAM", 10))
        return -1;
    uint8_t buf[4 + STREAM_CHUNK];
    for (;;) {
        ssize_t r = read(fd, buf + 4, STREAM_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        uint32_t n = (uint32_t)r;
        buf[0] = (uint8_t)(n >> 24), buf[1] = (uint8_t)(n >> 16), buf[2] = (uint8_t)(n >> 8),
        buf[3] = (uint8_t)n;
        if (send_all(sock, buf, 4 + (size_t)r))
            return -1;
        if (r == 0)
            return 0;
    }
}

/* One request on its own connection, reading every line until EOF. */
static int one_shot(const char *target, const char *req, size_t len, const char *path,
                    dclient_fn fn, void *ctx, char *err, size_t errcap)
{
    int fd = connect_target(target, err, errcap);
    if (fd < 0)
        return -1;
    ward_buf in, out;
    ward_buf_init(&in, 1 << 24);
    ward_buf_init(&out, 1 << 24);
    int rc = -1;
    if (send_all(fd, req, len) == 0 && read_reply(fd, &in, -1, &out) == 0) {
        rc = 0;
        const char *p = ward_buf_str(&out), *end = p + out.len;
        while (p < end) {
            const char *e = memchr(p, '\0', (size_t)(end - p));
            if (!e)
                e = end;
            if (e > p) {
                char line[8192];
                snprintf(line, sizeof line, "%.*s", (int)(e - p), p);
                if (parse_line(line, path, fn, ctx, err, errcap) < 0)
                    rc = -1;
            }
            p = e + 1;
        }
    } else {
        snprintf(err, errcap, "%s: no reply", target);
    }
    close(fd);
    ward_buf_free(&in);
    ward_buf_free(&out);
    return rc;
}

int dclient_scan(struct dclient *c, const char *path, int fd, bool is_stdin, dclient_fn fn,
                 void *ctx, char *err, size_t errcap)
{
    char req[4200];
    if (c->mode == DCLIENT_PATH && !is_stdin && c->all) {
        /* clamd refuses ALLMATCHSCAN inside a session */
        int n = snprintf(req, sizeof req, "zALLMATCHSCAN %s", path);
        if (n < 0 || (size_t)n >= sizeof req) {
            snprintf(err, errcap, "path too long for the protocol");
            return -1;
        }
        return one_shot(c->target, req, (size_t)n + 1, path, fn, ctx, err, errcap);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int s = session(c, err, errcap);
        if (s < 0)
            return -1;
        int sent;
        if (is_stdin || c->mode == DCLIENT_STREAM) {
            if (attempt && lseek(fd, 0, SEEK_SET) != 0)
                return -1;
            sent = send_stream(s, fd);
        } else if (c->mode == DCLIENT_FDPASS) {
            sent = send_all(s, "zFILDES", 8) || send_fd(s, fd) ? -1 : 0;
        } else {
            int n = snprintf(req, sizeof req, "zSCAN %s", path);
            if (n < 0 || (size_t)n >= sizeof req) {
                snprintf(err, errcap, "path too long for the protocol");
                return -1;
            }
            sent = send_all(s, req, (size_t)n + 1);
        }
        ward_buf line;
        ward_buf_init(&line, 1 << 20);
        if (sent == 0 && read_reply(s, &c->in, '\0', &line) == 0) {
            int rc = parse_line(ward_buf_str(&line), path, fn, ctx, err, errcap);
            ward_buf_free(&line);
            /* an error ends a session on the daemon's side */
            if (rc < 0)
                drop_session(c);
            return rc;
        }
        ward_buf_free(&line);
        drop_session(c); /* the daemon closed (timeout, restart): once more, afresh */
        if (is_stdin)
            break;
    }
    snprintf(err, errcap, "%s: no reply", c->target);
    return -1;
}

int dclient_multiscan(const char *target, const char *path, dclient_fn fn, void *ctx, char *err,
                      size_t errcap)
{
    char req[4200];
    int n = snprintf(req, sizeof req, "zMULTISCAN %s", path);
    if (n < 0 || (size_t)n >= sizeof req) {
        snprintf(err, errcap, "path too long for the protocol");
        return -1;
    }
    return one_shot(target, req, (size_t)n + 1, NULL, fn, ctx, err, errcap);
}
