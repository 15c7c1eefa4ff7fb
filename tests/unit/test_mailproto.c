/*
 * test_mailproto.c - MAILSCAN blocks both ways, refusals of malformed or
 * oversized envelopes, and ward_mailproto_scan over a unix socket and TCP
 * against a small in-process server speaking the documented bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "proto/mailproto.h"
#include "util/spool.h"

static const char *rcpts2[] = {"a@example.org", "b@example.net"};

static size_t parse_encoded(ward_buf *b, struct ward_mailproto_req *req, ward_err *err)
{
    struct ward_diag d;
    size_t head = sizeof "zMAILSCAN" + 4;
    *err = ward_mailproto_parse_request(b->data + head, b->len - head, req, &d);
    return head;
}

static void test_request_roundtrip(void)
{
    struct ward_mail_env env = {"s@example.com", rcpts2, 2, "192.0.2.1", "mx.example.com",
                                "pipe", NULL, "4XyZ"};
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    struct ward_diag d;
    CHECK(ward_mailproto_encode_request(&env, WARD_MAILPROTO_FD, WARD_MAILPROTO_FD, false, &b, &d) ==
          WARD_OK);
    CHECK(memcmp(b.data, "zMAILSCAN\0", 10) == 0);
    struct ward_mailproto_req req;
    ward_err err;
    parse_encoded(&b, &req, &err);
    CHECK(err == WARD_OK);
    if (!err) {
        CHECK_STR(req.sender, "s@example.com");
        CHECK(req.n_rcpts == 2);
        CHECK_STR(req.rcpts[1], "b@example.net");
        CHECK_STR(req.helo, "mx.example.com");
        CHECK_STR(req.agent, "pipe");
        CHECK(req.user == NULL);
        CHECK(req.message == WARD_MAILPROTO_FD && req.ret == WARD_MAILPROTO_FD);
        CHECK(!req.keep);
        struct ward_mail_env e2;
        ward_mailproto_req_env(&req, &e2);
        CHECK_STR(e2.queue_id, "4XyZ");
        ward_mailproto_req_free(&req);
    }
    /* the null sender, streaming, no changed message wanted */
    ward_buf_reset(&b);
    env.sender = "";
    CHECK(ward_mailproto_encode_request(&env, WARD_MAILPROTO_STREAM, WARD_MAILPROTO_NONE, true,
                                        &b, &d) == WARD_OK);
    parse_encoded(&b, &req, &err);
    CHECK(err == WARD_OK);
    if (!err) {
        CHECK_STR(req.sender, "");
        CHECK(req.ret == WARD_MAILPROTO_NONE);
        CHECK(req.keep); /* the connection may carry another request */
        ward_mailproto_req_free(&req);
    }
    /* a line break inside a value cannot be encoded */
    ward_buf_reset(&b);
    env.helo = "evil\r\nrcpt=x@y";
    CHECK(ward_mailproto_encode_request(&env, WARD_MAILPROTO_FD, WARD_MAILPROTO_FD, false, &b, &d) ==
          WARD_ERR_PARSE);
    CHECK(b.len == 0);
    ward_buf_free(&b);
}

static ward_err parse_text(const char *s)
{
    struct ward_mailproto_req req;
    struct ward_diag d;
    ward_err err = ward_mailproto_parse_request((const uint8_t *)s, strlen(s), &req, &d);
    if (!err)
        ward_mailproto_req_free(&req);
    return err;
}

static void test_request_refusals(void)
{
    CHECK(parse_text("message=fd\nsender=\nrcpt=a@b\n") == WARD_OK);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a@b\nfuture=1\n") == WARD_OK);
    CHECK(parse_text("sender=\nrcpt=a@b\n") == WARD_ERR_PARSE);           /* no message= */
    CHECK(parse_text("message=fd\nrcpt=a@b\n") == WARD_ERR_PARSE);        /* no sender */
    CHECK(parse_text("message=fd\nsender=\n") == WARD_ERR_PARSE);         /* no rcpt */
    CHECK(parse_text("message=fd\nsender=\nsender=\nrcpt=a\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=none\nsender=\nrcpt=a\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a") == WARD_ERR_PARSE);   /* no newline */
    CHECK(parse_text("message=fd\nsender=\nrcpt=a\tb\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=fd\nsender=\n=x\nrcpt=a\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a\r\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a\nkeep=no\n") == WARD_OK);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a\nkeep=1\n") == WARD_ERR_PARSE);
    CHECK(parse_text("message=fd\nsender=\nrcpt=a\nkeep=yes\nkeep=yes\n") == WARD_ERR_PARSE);
    /* too many recipients, too long a value */
    ward_buf b;
    ward_buf_init(&b, 1 << 21);
    CHECK(ward_buf_puts(&b, "message=fd\nsender=\n") == WARD_OK);
    for (int i = 0; i <= WARD_MAILPROTO_MAX_RCPTS; i++)
        CHECK(ward_buf_printf(&b, "rcpt=r%d@x\n", i) == WARD_OK);
    struct ward_mailproto_req req;
    struct ward_diag d;
    CHECK(ward_mailproto_parse_request(b.data, b.len, &req, &d) == WARD_ERR_LIMIT);
    ward_buf_reset(&b);
    CHECK(ward_buf_puts(&b, "message=fd\nsender=") == WARD_OK);
    for (int i = 0; i < WARD_MAILPROTO_MAX_VALUE + 1; i++)
        CHECK(ward_buf_putc(&b, 'x') == WARD_OK);
    CHECK(ward_buf_puts(&b, "\nrcpt=a\n") == WARD_OK);
    CHECK(ward_mailproto_parse_request(b.data, b.len, &req, &d) != WARD_OK);
    ward_buf_free(&b);
}

static void test_reply_roundtrip(void)
{
    struct ward_mail_rcpt rc[2] = {
        {"a@example.org", WARD_MAIL_REJECT, WARD_MAIL_INFECTED, "550 5.7.1 virus"},
        {"b@example.net", WARD_MAIL_ACCEPT, WARD_MAIL_INFECTED, NULL},
    };
    struct ward_mail_detection det = {1, WARD_VERDICT_INFECTED, WARD_REASON_NONE,
                                      "Eicar-Signature", "eicar.zip/eic\tar.com"};
    struct ward_mail_result res;
    memset(&res, 0, sizeof res);
    res.action = WARD_MAIL_REJECT;
    res.status = WARD_MAIL_INFECTED;
    snprintf(res.reply, sizeof res.reply, "550 5.7.1 Message contains a virus");
    res.rcpts_differ = true;
    res.rcpts = rc;
    res.n_rcpts = 2;
    res.scan.det = &det;
    res.scan.n_det = 1;
    memcpy(res.quarantine_id, "0123456789abcdef", 17);
    res.out_fd = -1;
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    struct ward_diag d;
    CHECK(ward_mailproto_encode_reply(&res, NULL, WARD_MAILPROTO_FD, 1234, &b, &d) == WARD_OK);
    CHECK(memcmp(b.data, "WML1", 4) == 0);
    struct ward_mailproto_reply r;
    CHECK(ward_mailproto_parse_reply(b.data + 8, b.len - 8, &r, &d) == WARD_OK);
    CHECK(r.action == WARD_MAIL_REJECT && r.status == WARD_MAIL_INFECTED);
    CHECK_STR(r.reply, "550 5.7.1 Message contains a virus");
    CHECK(r.n_rcpts == 2);
    if (r.n_rcpts == 2) {
        CHECK_STR(r.rcpts[0].reply, "550 5.7.1 virus");
        CHECK(r.rcpts[1].action == WARD_MAIL_ACCEPT);
        CHECK_STR(r.rcpts[1].rcpt, "b@example.net");
    }
    CHECK(r.n_det == 1);
    if (r.n_det == 1) {
        CHECK_STR(r.det[0].verdict, "infected");
        CHECK_STR(r.det[0].name, "Eicar-Signature");
        CHECK_STR(r.det[0].path, "eicar.zip/eic ar.com");
    }
    CHECK_STR(r.quarantine_id, "0123456789abcdef");
    CHECK(r.message == WARD_MAILPROTO_FD && r.size == 1234 && r.msg_fd == -1);
    ward_mailproto_reply_free(&r);

    /* a failure is a defer with the reason */
    ward_buf_reset(&b);
    CHECK(ward_mailproto_encode_reply(NULL, "cannot read\nthe message", WARD_MAILPROTO_FD, 0, &b,
                                      &d) == WARD_OK);
    CHECK(ward_mailproto_parse_reply(b.data + 8, b.len - 8, &r, &d) == WARD_OK);
    CHECK(r.action == WARD_MAIL_DEFER);
    CHECK(strncmp(r.reply, "451 ", 4) == 0);
    CHECK_STR(r.error, "cannot read the message");
    CHECK(r.message == WARD_MAILPROTO_UNCHANGED);
    ward_mailproto_reply_free(&r);
    const char *bad = "action=accept\nstatus=clean\nmessage=unchanged\n"; /* no reply= */
    CHECK(ward_mailproto_parse_reply((const uint8_t *)bad, strlen(bad), &r, &d) ==
          WARD_ERR_PARSE);
    bad = "action=maybe\nstatus=clean\nreply=250 ok\nmessage=unchanged\n";
    CHECK(ward_mailproto_parse_reply((const uint8_t *)bad, strlen(bad), &r, &d) ==
          WARD_ERR_PARSE);
    ward_buf_free(&b);
}

/* ---- a server that answers one request as wardd would --------------------- */

struct srv {
    int listen_fd;
    bool tcp;
    char body[64];   /* what the message must hold */
    ward_err seen;
};

static int read_n(int fd, void *p, size_t n, int *got_fd)
{
    uint8_t *d = p;
    while (n) {
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {d, n};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                           .msg_controllen = sizeof ctl.buf};
        ssize_t r = recvmsg(fd, &m, 0);
        if (r <= 0)
            return -1;
        struct cmsghdr *cm = m.msg_controllen ? CMSG_FIRSTHDR(&m) : NULL;
        if (cm && cm->cmsg_type == SCM_RIGHTS && got_fd)
            memcpy(got_fd, CMSG_DATA(cm), sizeof(int));
        d += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *serve(void *arg)
{
    struct srv *s = arg;
    int c = accept(s->listen_fd, NULL, NULL);
    uint8_t head[14];
    int msg_fd = -1;
    if (c < 0 || read_n(c, head, 14, &msg_fd) != 0) {
        s->seen = WARD_ERR_IO;
        return NULL;
    }
    uint32_t len = (uint32_t)head[10] << 24 | (uint32_t)head[11] << 16 |
                   (uint32_t)head[12] << 8 | head[13];
    uint8_t *env = malloc(len);
    struct ward_mailproto_req req;
    struct ward_diag d;
    s->seen = read_n(c, env, len, &msg_fd) ? WARD_ERR_IO
                                           : ward_mailproto_parse_request(env, len, &req, &d);
    free(env);
    char body[64] = "";
    if (!s->seen && req.message == WARD_MAILPROTO_FD) {
        ssize_t n = pread(msg_fd, body, sizeof body - 1, 0);
        body[n > 0 ? n : 0] = 0;
    } else if (!s->seen) {
        size_t have = 0;
        for (;;) {
            uint8_t lb[4];
            if (read_n(c, lb, 4, NULL))
                break;
            uint32_t n = (uint32_t)lb[0] << 24 | (uint32_t)lb[1] << 16 | (uint32_t)lb[2] << 8 |
                         lb[3];
            if (n == 0 || have + n >= sizeof body || read_n(c, body + have, n, NULL))
                break;
            have += n;
        }
        body[have] = 0;
    }
    if (msg_fd >= 0)
        close(msg_fd);
    snprintf(s->body, sizeof s->body, "%s", body);
    /* answer: accepted, changed into "X-Ward: yes\n" + body */
    struct ward_mail_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.reply, sizeof res.reply, "250 2.0.0 Ok");
    char changed[128];
    int clen = snprintf(changed, sizeof changed, "X-Ward: yes\n%s", body);
    ward_buf out;
    ward_buf_init(&out, 1 << 20);
    enum ward_mailproto_xfer x = s->tcp ? WARD_MAILPROTO_STREAM : WARD_MAILPROTO_FD;
    if (ward_mailproto_encode_reply(&res, NULL, x, (uint64_t)clen, &out, &d) == WARD_OK) {
        if (s->tcp) {
            uint8_t lb[4] = {0, 0, 0, (uint8_t)clen};
            (void)!write(c, out.data, out.len);
            (void)!write(c, lb, 4);
            (void)!write(c, changed, (size_t)clen);
            (void)!write(c, "\0\0\0\0", 4);
        } else {
            int tf = ward_tmpfile("/tmp");
            (void)!pwrite(tf, changed, (size_t)clen, 0);
            union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
            } ctl;
            memset(&ctl, 0, sizeof ctl);
            struct iovec iov = {out.data, out.len};
            struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                               .msg_controllen = sizeof ctl.buf};
            struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &tf, sizeof tf);
            (void)!sendmsg(c, &m, 0);
            close(tf);
        }
    }
    ward_buf_free(&out);
    if (!s->seen)
        ward_mailproto_req_free(&req);
    close(c);
    return NULL;
}

static void client_once(bool tcp)
{
    struct srv s = {.tcp = tcp};
    char target[100];
    if (tcp) {
        s.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        socklen_t al = sizeof a;
        CHECK(bind(s.listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
        CHECK(getsockname(s.listen_fd, (struct sockaddr *)&a, &al) == 0);
        snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(a.sin_port));
    } else {
        snprintf(target, sizeof target, "/tmp/ward-test-mailproto.%d", (int)getpid());
        unlink(target);
        s.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", target);
        CHECK(bind(s.listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    }
    CHECK(listen(s.listen_fd, 4) == 0);
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);
    int msg = ward_tmpfile("/tmp");
    CHECK(pwrite(msg, "Subject: hi\n\nbody\n", 18, 0) == 18);
    struct ward_mail_env env = {"s@x", rcpts2, 2, NULL, NULL, "pipe", NULL, NULL};
    struct ward_mailproto_reply r;
    struct ward_diag d = {""};
    ward_err err = ward_mailproto_scan(target, msg, &env, 5000, "/tmp", &r, &d);
    pthread_join(th, NULL);
    CHECK(err == WARD_OK);
    if (err)
        fprintf(stderr, "%s\n", d.msg);
    CHECK(s.seen == WARD_OK);
    CHECK_STR(s.body, "Subject: hi\n\nbody\n");
    if (!err) {
        CHECK(r.action == WARD_MAIL_ACCEPT);
        CHECK(r.msg_fd >= 0);
        char got[128] = "";
        ssize_t n = read(r.msg_fd, got, sizeof got - 1);
        got[n > 0 ? n : 0] = 0;
        CHECK_STR(got, "X-Ward: yes\nSubject: hi\n\nbody\n");
        ward_mailproto_reply_free(&r);
    }
    close(msg);
    close(s.listen_fd);
    if (!tcp)
        unlink(target);
}

static void test_client_unreachable(void)
{
    struct ward_mail_env env = {"s@x", rcpts2, 1, NULL, NULL, "pipe", NULL, NULL};
    struct ward_mailproto_reply r;
    struct ward_diag d;
    CHECK(ward_mailproto_scan("/nonexistent/ward.sock", 0, &env, 1000, NULL, &r, &d) ==
          WARD_ERR_IO);
    CHECK(strstr(d.msg, "/nonexistent/ward.sock") != NULL);
    CHECK(r.msg_fd == -1);
}

int main(void)
{
    test_request_roundtrip();
    test_request_refusals();
    test_reply_roundtrip();
    client_once(false);
    client_once(true);
    test_client_unreachable();
    return CHECK_DONE();
}
