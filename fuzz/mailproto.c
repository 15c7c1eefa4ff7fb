/*
 * mailproto.c - MAILSCAN's two parsers (proto/mailproto.c) on arbitrary
 * bytes: the envelope block wardd reads from agents (first byte even) and
 * the reply block agents read from wardd (first byte odd).
 *
 * Oracles: whatever parses is encoded again and must parse back to the same
 * values (the encoder never produces what the parser refuses, and nothing
 * is lost or invented on the way).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mailproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void request(const uint8_t *p, size_t n)
{
    struct ward_mailproto_req req, again;
    struct ward_diag d;
    if (ward_mailproto_parse_request(p, n, &req, &d) != WARD_OK)
        return;
    struct ward_mail_env env;
    ward_mailproto_req_env(&req, &env);
    ward_buf b;
    ward_buf_init(&b, WARD_MAILPROTO_MAX_ENV + 64);
    if (ward_mailproto_encode_request(&env, req.message, req.ret, req.keep, &b, &d) != WARD_OK)
        abort();
    /* "zMAILSCAN\0", BE32 length, block */
    size_t head = sizeof "zMAILSCAN" + 4;
    if (b.len < head || memcmp(b.data, "zMAILSCAN", 10) != 0)
        abort();
    uint32_t len = (uint32_t)b.data[head - 4] << 24 | (uint32_t)b.data[head - 3] << 16 |
                   (uint32_t)b.data[head - 2] << 8 | b.data[head - 1];
    if (len != b.len - head)
        abort();
    if (ward_mailproto_parse_request(b.data + head, len, &again, &d) != WARD_OK)
        abort();
    if (again.message != req.message || again.ret != req.ret || again.keep != req.keep || again.n_rcpts != req.n_rcpts ||
        !same(again.sender, req.sender) || !same(again.helo, req.helo) ||
        !same(again.client_addr, req.client_addr) || !same(again.agent, req.agent) ||
        !same(again.user, req.user) || !same(again.queue_id, req.queue_id))
        abort();
    for (size_t i = 0; i < req.n_rcpts; i++)
        if (!same(again.rcpts[i], req.rcpts[i]))
            abort();
    ward_mailproto_req_free(&again);
    ward_mailproto_req_free(&req);
    ward_buf_free(&b);
}

static void reply(const uint8_t *p, size_t n)
{
    struct ward_mailproto_reply r, again;
    struct ward_diag d;
    if (ward_mailproto_parse_reply(p, n, &r, &d) != WARD_OK)
        return;
    if (r.msg_fd != -1 || !r.reply)
        abort();
    /* back through the daemon's encoder */
    struct ward_mail_result res;
    memset(&res, 0, sizeof res);
    res.action = r.action;
    res.status = r.status;
    snprintf(res.reply, sizeof res.reply, "%s", r.reply);
    struct ward_mail_rcpt rc[16];
    struct ward_mail_detection det[16];
    res.rcpts_differ = r.n_rcpts > 0 && r.n_rcpts <= 16;
    for (size_t i = 0; res.rcpts_differ && i < r.n_rcpts; i++) {
        rc[i] = (struct ward_mail_rcpt){r.rcpts[i].rcpt, r.rcpts[i].action, r.rcpts[i].status,
                                        r.rcpts[i].reply};
    }
    res.rcpts = rc;
    res.n_rcpts = res.rcpts_differ ? r.n_rcpts : 0;
    for (size_t i = 0; i < r.n_det && i < 16; i++)
        det[i] = (struct ward_mail_detection){0, WARD_VERDICT_INFECTED, WARD_REASON_NONE,
                                              r.det[i].name, r.det[i].path};
    res.scan.det = det;
    res.scan.n_det = r.n_det < 16 ? r.n_det : 16;
    if (r.quarantine_id)
        snprintf(res.quarantine_id, sizeof res.quarantine_id, "%s", r.quarantine_id);
    ward_buf b;
    ward_buf_init(&b, WARD_MAILPROTO_MAX_REPLY + 64);
    if (strlen(r.reply) < sizeof res.reply &&
        ward_mailproto_encode_reply(&res, NULL, WARD_MAILPROTO_UNCHANGED, 0, &b, &d) == WARD_OK) {
        if (b.len < 8 || memcmp(b.data, "WML1", 4) != 0)
            abort();
        if (ward_mailproto_parse_reply(b.data + 8, b.len - 8, &again, &d) != WARD_OK)
            abort();
        if (again.action != r.action || again.status != r.status ||
            strcmp(again.reply, r.reply) != 0 || again.n_rcpts != res.n_rcpts ||
            again.n_det != res.scan.n_det)
            abort();
        for (size_t i = 0; i < again.n_rcpts; i++)
            if (strcmp(again.rcpts[i].rcpt, r.rcpts[i].rcpt) != 0 ||
                again.rcpts[i].action != r.rcpts[i].action)
                abort();
        for (size_t i = 0; i < again.n_det; i++)
            if (strcmp(again.det[i].verdict, "infected") != 0)
                abort();
        ward_mailproto_reply_free(&again);
    }
    ward_buf_free(&b);
    ward_mailproto_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* an exactly-sized copy, so that a read past the end shows */
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    if (data[0] & 1)
        reply(buf, size - 1);
    else
        request(buf, size - 1);
    free(buf);
    return 0;
}
