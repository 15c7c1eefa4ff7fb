/*
 * mailproto.c - MAILSCAN's envelope and reply blocks, both directions
 * (mailproto.h). The socket side of the client is mailclient.c.
 *
 * Both blocks are "key=value\n" lines: readable in a packet trace, and a
 * line parser over a bounded cursor is all either side needs.
 */
#include "proto/mailproto.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cursor.h"
#include "util/strutil.h"

/* ---- names -------------------------------------------------------------- */

/*
 * The wire names are the protocol's own, not the library's display names
 * (ward_mail_status_name): they stay stable, have no spaces, and an agent
 * does not pull the mail engine in to read a reply.
 */
static const char *const action_names[] = {
    [WARD_MAIL_ACCEPT] = "accept",
    [WARD_MAIL_DEFER] = "defer",
    [WARD_MAIL_DISCARD] = "discard",
    [WARD_MAIL_REJECT] = "reject",
};
static const char *const status_names[] = {
    [WARD_MAIL_CLEAN] = "clean",           [WARD_MAIL_INFECTED] = "infected",
    [WARD_MAIL_SUSPICIOUS] = "suspicious", [WARD_MAIL_NOTSCANNED] = "not_scanned",
    [WARD_MAIL_PROTECTED] = "protected",   [WARD_MAIL_FILTERED] = "filtered",
    [WARD_MAIL_CLEANED] = "cleaned",       [WARD_MAIL_UNSCANNED] = "unscanned",
};
/* detection verdicts on the wire (scan.h's names, kept here so that an agent
   does not link the engine, and its start-up stays a few hundred microseconds) */
static const char *verdict_name(enum ward_verdict v)
{
    switch (v) {
    case WARD_VERDICT_CLEAN: return "clean";
    case WARD_VERDICT_NOT_SCANNED: return "not_scanned";
    case WARD_VERDICT_SUSPICIOUS: return "suspicious";
    case WARD_VERDICT_INFECTED: return "infected";
    }
    return "not_scanned";
}
#define N_ACTIONS (sizeof action_names / sizeof action_names[0])
#define N_STATUSES (sizeof status_names / sizeof status_names[0])

const char *ward_mailproto_action_name(enum ward_mail_action a)
{
    return (unsigned)a < N_ACTIONS ? action_names[a] : "defer";
}

const char *ward_mailproto_status_name(enum ward_mail_status s)
{
    return (unsigned)s < N_STATUSES ? status_names[s] : "not_scanned";
}

bool ward_mailproto_action(const char *name, enum ward_mail_action *out)
{
    for (size_t a = 0; a < N_ACTIONS; a++)
        if (strcmp(name, action_names[a]) == 0) {
            *out = (enum ward_mail_action)a;
            return true;
        }
    return false;
}

bool ward_mailproto_status(const char *name, enum ward_mail_status *out)
{
    for (size_t s = 0; s < N_STATUSES; s++)
        if (strcmp(name, status_names[s]) == 0) {
            *out = (enum ward_mail_status)s;
            return true;
        }
    return false;
}

static const char *xfer_name(enum ward_mailproto_xfer x)
{
    switch (x) {
    case WARD_MAILPROTO_FD: return "fd";
    case WARD_MAILPROTO_STREAM: return "stream";
    case WARD_MAILPROTO_NONE: return "none";
    case WARD_MAILPROTO_UNCHANGED: return "unchanged";
    }
    return "?";
}

static bool xfer_parse(const char *v, enum ward_mailproto_xfer *out)
{
    for (int x = WARD_MAILPROTO_FD; x <= WARD_MAILPROTO_UNCHANGED; x++)
        if (strcmp(v, xfer_name((enum ward_mailproto_xfer)x)) == 0) {
            *out = (enum ward_mailproto_xfer)x;
            return true;
        }
    return false;
}

/* ---- lines -------------------------------------------------------------- */

/* A value may not break the line format. */
static bool value_ok(const char *v, size_t n, bool tabs_ok)
{
    if (n > WARD_MAILPROTO_MAX_VALUE)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == 0 || c == '\r' || c == '\n' || (c == '\t' && !tabs_ok))
            return false;
    }
    return true;
}

/*
 * Next "key=value\n" line: key and value are copied NUL-terminated into
 * line (which is WARD_MAILPROTO_MAX_VALUE + 64 bytes). false at the end;
 * *bad set when the line is malformed.
 */
struct kv {
    char line[WARD_MAILPROTO_MAX_VALUE + 64];
    const char *key;
    char *val;
    size_t val_len;
    unsigned lineno;
};

static bool next_kv(ward_cur *c, struct kv *kv, bool tabs_ok, struct ward_diag *diag,
                    ward_err *err)
{
    *err = WARD_OK;
    if (ward_cur_left(c) == 0)
        return false;
    kv->lineno++;
    const uint8_t *start = c->p + c->pos;
    const uint8_t *nl = memchr(start, '\n', ward_cur_left(c));
    if (!nl) {
        *err = ward_diag_set(diag, WARD_ERR_PARSE, "line %u: no newline at the end", kv->lineno);
        return false;
    }
    size_t n = (size_t)(nl - start);
    (void)ward_cur_skip(c, n + 1);
    if (n >= sizeof kv->line) {
        *err = ward_diag_set(diag, WARD_ERR_LIMIT, "line %u: longer than %zu bytes", kv->lineno,
                             sizeof kv->line - 1);
        return false;
    }
    const uint8_t *eq = memchr(start, '=', n);
    if (!eq || eq == start) {
        *err = ward_diag_set(diag, WARD_ERR_PARSE, "line %u: not key=value", kv->lineno);
        return false;
    }
    memcpy(kv->line, start, n);
    kv->line[n] = 0;
    size_t klen = (size_t)(eq - start);
    kv->line[klen] = 0;
    kv->key = kv->line;
    kv->val = kv->line + klen + 1;
    kv->val_len = n - klen - 1;
    if (!value_ok(kv->val, kv->val_len, tabs_ok)) {
        *err = ward_diag_set(diag, WARD_ERR_PARSE, "line %u: bad value for %s", kv->lineno,
                             kv->key);
        return false;
    }
    return true;
}

/* Set a once-only string field. */
static ward_err set_once(char **field, const struct kv *kv, struct ward_diag *diag)
{
    if (*field)
        return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: %s given twice", kv->lineno,
                             kv->key);
    *field = strdup(kv->val);
    return *field ? WARD_OK : ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
}

/*
 * Make room for element n of a vector whose capacity is 4, 8, 16...: it is
 * full only when n is 0 or such a power of two. NULL on failure (vec stays).
 */
static void *grow(void *vec, size_t n, size_t sz)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return vec;
    return realloc(vec, (n ? n * 2 : 4) * sz);
}

/* ---- request ------------------------------------------------------------ */

void ward_mailproto_req_free(struct ward_mailproto_req *req)
{
    free(req->sender);
    for (size_t i = 0; i < req->n_rcpts; i++)
        free(req->rcpts[i]);
    free(req->rcpts);
    free(req->client_addr);
    free(req->helo);
    free(req->agent);
    free(req->user);
    free(req->queue_id);
    memset(req, 0, sizeof *req);
}

static ward_err req_line(struct ward_mailproto_req *req, const struct kv *kv, bool *have_msg,
                         bool *have_ret, bool *have_keep, struct ward_diag *diag)
{
    const char *k = kv->key;
    if (strcmp(k, "rcpt") == 0) {
        if (req->n_rcpts >= WARD_MAILPROTO_MAX_RCPTS)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "more than %u recipients",
                                 WARD_MAILPROTO_MAX_RCPTS);
        char **v = grow(req->rcpts, req->n_rcpts, sizeof *v);
        char *s = v ? strdup(kv->val) : NULL;
        if (v)
            req->rcpts = v;
        if (!s)
            return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        req->rcpts[req->n_rcpts++] = s;
        return WARD_OK;
    }
    if (strcmp(k, "message") == 0 || strcmp(k, "return") == 0) {
        bool is_msg = k[0] == 'm';
        bool *have = is_msg ? have_msg : have_ret;
        enum ward_mailproto_xfer x;
        if (*have)
            return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: %s given twice", kv->lineno, k);
        if (!xfer_parse(kv->val, &x) || x == WARD_MAILPROTO_UNCHANGED ||
            (is_msg && x == WARD_MAILPROTO_NONE))
            return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: bad %s: %s", kv->lineno, k,
                                 kv->val);
        *have = true;
        *(is_msg ? &req->message : &req->ret) = x;
        return WARD_OK;
    }
    if (strcmp(k, "keep") == 0) {
        if (*have_keep)
            return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: keep given twice", kv->lineno);
        if (strcmp(kv->val, "yes") != 0 && strcmp(kv->val, "no") != 0)
            return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: bad keep: %s", kv->lineno,
                                 kv->val);
        *have_keep = true;
        req->keep = kv->val[0] == 'y';
        return WARD_OK;
    }
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"sender", offsetof(struct ward_mailproto_req, sender)},
        {"client_addr", offsetof(struct ward_mailproto_req, client_addr)},
        {"helo", offsetof(struct ward_mailproto_req, helo)},
        {"agent", offsetof(struct ward_mailproto_req, agent)},
        {"user", offsetof(struct ward_mailproto_req, user)},
        {"queue_id", offsetof(struct ward_mailproto_req, queue_id)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(k, fields[i].key) == 0)
            return set_once((char **)((char *)req + fields[i].off), kv, diag);
    return WARD_OK; /* a newer client's key: ignored */
}

ward_err ward_mailproto_parse_request(const uint8_t *p, size_t len, struct ward_mailproto_req *req,
                                      struct ward_diag *diag)
{
    memset(req, 0, sizeof *req);
    if (len > WARD_MAILPROTO_MAX_ENV)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "envelope longer than %u bytes",
                             WARD_MAILPROTO_MAX_ENV);
    ward_cur c = ward_cur_make(p, len);
    struct kv *kv = malloc(sizeof *kv);
    if (!kv)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    kv->lineno = 0;
    bool have_msg = false, have_ret = false, have_keep = false;
    ward_err err = WARD_OK;
    while (!err && next_kv(&c, kv, false, diag, &err))
        err = req_line(req, kv, &have_msg, &have_ret, &have_keep, diag);
    free(kv);
    if (!err && !have_msg)
        err = ward_diag_set(diag, WARD_ERR_PARSE, "no message= line");
    if (!err && !req->sender)
        err = ward_diag_set(diag, WARD_ERR_PARSE, "no sender= line");
    if (!err && req->n_rcpts == 0)
        err = ward_diag_set(diag, WARD_ERR_PARSE, "no rcpt= line");
    if (err) {
        ward_mailproto_req_free(req);
        return err;
    }
    if (!have_ret)
        req->ret = req->message;
    return WARD_OK;
}

void ward_mailproto_req_env(const struct ward_mailproto_req *req, struct ward_mail_env *env)
{
    env->sender = req->sender;
    env->rcpts = (const char *const *)req->rcpts;
    env->n_rcpts = req->n_rcpts;
    env->client_addr = req->client_addr;
    env->helo = req->helo;
    env->agent = req->agent;
    env->user = req->user;
    env->queue_id = req->queue_id;
}

/* Append "key=value\n", refusing values that would break the format. */
static ward_err put_kv(ward_buf *out, const char *key, const char *val, bool tabs_ok,
                       struct ward_diag *diag)
{
    size_t n = strlen(val);
    if (!value_ok(val, n, tabs_ok))
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s: value too long or with a line break",
                             key);
    if (ward_buf_printf(out, "%s=%s\n", key, val))
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: block too long", key);
    return WARD_OK;
}

/* Store BE32 len at p. */
static void put_be32(uint8_t *p, size_t len)
{
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

ward_err ward_mailproto_encode_request(const struct ward_mail_env *env,
                                       enum ward_mailproto_xfer message,
                                       enum ward_mailproto_xfer ret, bool keep, ward_buf *out,
                                       struct ward_diag *diag)
{
    if (env->n_rcpts == 0 || env->n_rcpts > WARD_MAILPROTO_MAX_RCPTS)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%zu recipients (1 to %u allowed)",
                             env->n_rcpts, WARD_MAILPROTO_MAX_RCPTS);
    size_t base = out->len;
    static const uint8_t cmd[] = "z" WARD_MAILPROTO_CMD; /* with its NUL */
    if (ward_buf_append(out, cmd, sizeof cmd) || ward_buf_append(out, "\0\0\0\0", 4))
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    size_t start = out->len;
    ward_err err = put_kv(out, "message", xfer_name(message), false, diag);
    if (!err && ret != message)
        err = put_kv(out, "return", xfer_name(ret), false, diag);
    if (!err)
        err = put_kv(out, "sender", env->sender ? env->sender : "", false, diag);
    for (size_t i = 0; !err && i < env->n_rcpts; i++)
        err = put_kv(out, "rcpt", env->rcpts[i], false, diag);
    const char *opt[][2] = {{"client_addr", env->client_addr}, {"helo", env->helo},
                            {"agent", env->agent},             {"user", env->user},
                            {"queue_id", env->queue_id}};
    for (size_t i = 0; !err && i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i][1])
            err = put_kv(out, opt[i][0], opt[i][1], false, diag);
    if (!err && keep)
        err = put_kv(out, "keep", "yes", false, diag);
    if (!err && out->len - start > WARD_MAILPROTO_MAX_ENV)
        err = ward_diag_set(diag, WARD_ERR_LIMIT, "envelope longer than %u bytes",
                            WARD_MAILPROTO_MAX_ENV);
    if (err) {
        out->len = base;
        return err;
    }
    put_be32(out->data + start - 4, out->len - start);
    return WARD_OK;
}

/* ---- reply -------------------------------------------------------------- */

/* Copy s (truncated) with line breaks and TABs made spaces. */
static void one_field(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
    for (char *p = dst; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
}

ward_err ward_mailproto_encode_reply(const struct ward_mail_result *res, const char *error,
                                     enum ward_mailproto_xfer message, uint64_t size, ward_buf *out,
                                     struct ward_diag *diag)
{
    size_t base = out->len;
    if (ward_buf_append(out, WARD_MAILPROTO_MAGIC "\0\0\0\0", 8))
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    size_t start = out->len;
    ward_err err;
    if (!res || error) {
        char text[WARD_MAILPROTO_MAX_VALUE];
        one_field(text, sizeof text, error ? error : "scan failed");
        err = put_kv(out, "action", ward_mailproto_action_name(WARD_MAIL_DEFER), false, diag);
        if (!err)
            err = put_kv(out, "status", ward_mailproto_status_name(WARD_MAIL_NOTSCANNED), false, diag);
        if (!err)
            err = put_kv(out, "reply", "451 4.3.0 Temporary failure in virus scanning", false,
                         diag);
        if (!err)
            err = put_kv(out, "error", text, false, diag);
        message = WARD_MAILPROTO_UNCHANGED;
    } else {
        err = put_kv(out, "action", ward_mailproto_action_name(res->action), false, diag);
        if (!err)
            err = put_kv(out, "status", ward_mailproto_status_name(res->status), false, diag);
        if (!err)
            err = put_kv(out, "reply", res->reply, false, diag);
        for (size_t i = 0; !err && res->rcpts_differ && i < res->n_rcpts; i++) {
            const struct ward_mail_rcpt *r = &res->rcpts[i];
            char reply[1024], line[WARD_MAILPROTO_MAX_VALUE + 1];
            one_field(reply, sizeof reply, r->reply);
            int n = snprintf(line, sizeof line, "%s\t%s\t%s\t%s", r->rcpt,
                             ward_mailproto_action_name(r->action), ward_mailproto_status_name(r->status),
                             reply);
            /* the address came through the request parser: no TAB, bounded */
            if (n < 0 || (size_t)n >= sizeof line || strchr(r->rcpt, '\t'))
                err = ward_diag_set(diag, WARD_ERR_PARSE, "recipient %zu cannot be sent", i);
            else
                err = put_kv(out, "rcpt", line, true, diag);
        }
        size_t n_det = res->scan.n_det < WARD_MAILPROTO_MAX_DET ? res->scan.n_det
                                                                : WARD_MAILPROTO_MAX_DET;
        for (size_t i = 0; !err && i < n_det; i++) {
            const struct ward_mail_detection *d = &res->scan.det[i];
            char name[1024], path[WARD_MAILPROTO_MAX_VALUE - 1100], line[WARD_MAILPROTO_MAX_VALUE];
            /* names and paths come from the message: one line, three fields, bounded */
            one_field(name, sizeof name, d->name);
            one_field(path, sizeof path, d->path);
            snprintf(line, sizeof line, "%s\t%s\t%s", verdict_name(d->verdict), name, path);
            err = put_kv(out, "detection", line, true, diag);
        }
        if (!err && res->quarantine_id[0])
            err = put_kv(out, "quarantine", res->quarantine_id, false, diag);
    }
    if (!err)
        err = put_kv(out, "message", xfer_name(message), false, diag);
    if (!err && (message == WARD_MAILPROTO_FD || message == WARD_MAILPROTO_STREAM) &&
        ward_buf_printf(out, "size=%llu\n", (unsigned long long)size))
        err = ward_diag_set(diag, WARD_ERR_LIMIT, "reply too long");
    if (!err && out->len - start > WARD_MAILPROTO_MAX_REPLY)
        err = ward_diag_set(diag, WARD_ERR_LIMIT, "reply longer than %u bytes",
                            WARD_MAILPROTO_MAX_REPLY);
    if (err) {
        out->len = base;
        return err;
    }
    put_be32(out->data + start - 4, out->len - start);
    return WARD_OK;
}

void ward_mailproto_reply_free(struct ward_mailproto_reply *r)
{
    free(r->reply);
    for (size_t i = 0; i < r->n_rcpts; i++) {
        free(r->rcpts[i].rcpt);
        free(r->rcpts[i].reply);
    }
    free(r->rcpts);
    for (size_t i = 0; i < r->n_det; i++) {
        free(r->det[i].verdict);
        free(r->det[i].name);
        free(r->det[i].path);
    }
    free(r->det);
    free(r->quarantine_id);
    free(r->error);
    if (r->msg_fd >= 0)
        close(r->msg_fd);
    memset(r, 0, sizeof *r);
    r->msg_fd = -1;
}

/* Split a value at TABs into exactly n fields (in place). */
static bool tab_fields(char *v, char **f, size_t n)
{
    return ward_str_split(v, '\t', f, n) == n;
}

static ward_err reply_rcpt(struct ward_mailproto_reply *r, const struct kv *kv,
                           struct ward_diag *diag)
{
    char *f[4];
    if (!tab_fields(kv->val, f, 4) || strchr(f[3], '\t'))
        return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: rcpt= needs 4 fields", kv->lineno);
    if (r->n_rcpts >= WARD_MAILPROTO_MAX_RCPTS)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "more than %u recipients",
                             WARD_MAILPROTO_MAX_RCPTS);
    struct ward_mailproto_rcpt x = {0};
    if (!ward_mailproto_action(f[1], &x.action) || !ward_mailproto_status(f[2], &x.status))
        return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: unknown action or status",
                             kv->lineno);
    struct ward_mailproto_rcpt *v = grow(r->rcpts, r->n_rcpts, sizeof *v);
    if (!v)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    r->rcpts = v;
    x.rcpt = strdup(f[0]);
    x.reply = strdup(f[3]);
    r->rcpts[r->n_rcpts++] = x;
    if (!x.rcpt || !x.reply)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    return WARD_OK;
}

static ward_err reply_det(struct ward_mailproto_reply *r, const struct kv *kv,
                          struct ward_diag *diag)
{
    char *f[3];
    if (!tab_fields(kv->val, f, 3))
        return ward_diag_set(diag, WARD_ERR_PARSE, "line %u: detection= needs 3 fields",
                             kv->lineno);
    if (r->n_det >= WARD_MAILPROTO_MAX_DET)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "more than %u detections",
                             WARD_MAILPROTO_MAX_DET);
    struct ward_mailproto_det *v = grow(r->det, r->n_det, sizeof *v);
    if (!v)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    r->det = v;
    struct ward_mailproto_det x = {strdup(f[0]), strdup(f[1]), strdup(f[2])};
    r->det[r->n_det++] = x;
    if (!x.verdict || !x.name || !x.path)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    return WARD_OK;
}

static ward_err reply_line(struct ward_mailproto_reply *r, const struct kv *kv, unsigned *seen,
                           struct ward_diag *diag)
{
    const char *k = kv->key;
    if (strcmp(k, "action") == 0) {
        *seen |= 1;
        if (!ward_mailproto_action(kv->val, &r->action))
            return ward_diag_set(diag, WARD_ERR_PARSE, "unknown action: %s", kv->val);
        return WARD_OK;
    }
    if (strcmp(k, "status") == 0) {
        *seen |= 2;
        if (!ward_mailproto_status(kv->val, &r->status))
            return ward_diag_set(diag, WARD_ERR_PARSE, "unknown status: %s", kv->val);
        return WARD_OK;
    }
    if (strcmp(k, "reply") == 0)
        return set_once(&r->reply, kv, diag);
    if (strcmp(k, "quarantine") == 0)
        return set_once(&r->quarantine_id, kv, diag);
    if (strcmp(k, "error") == 0)
        return set_once(&r->error, kv, diag);
    if (strcmp(k, "rcpt") == 0)
        return reply_rcpt(r, kv, diag);
    if (strcmp(k, "detection") == 0)
        return reply_det(r, kv, diag);
    if (strcmp(k, "message") == 0) {
        *seen |= 4;
        if (!xfer_parse(kv->val, &r->message))
            return ward_diag_set(diag, WARD_ERR_PARSE, "bad message: %s", kv->val);
        return WARD_OK;
    }
    if (strcmp(k, "size") == 0) {
        if (!ward_parse_u64(kv->val, &r->size))
            return ward_diag_set(diag, WARD_ERR_PARSE, "bad size: %s", kv->val);
        return WARD_OK;
    }
    return WARD_OK; /* a newer daemon's key */
}

ward_err ward_mailproto_parse_reply(const uint8_t *p, size_t len, struct ward_mailproto_reply *out,
                                    struct ward_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->msg_fd = -1;
    out->message = WARD_MAILPROTO_UNCHANGED;
    if (len > WARD_MAILPROTO_MAX_REPLY)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "reply longer than %u bytes",
                             WARD_MAILPROTO_MAX_REPLY);
    ward_cur c = ward_cur_make(p, len);
    struct kv *kv = malloc(sizeof *kv);
    if (!kv)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    kv->lineno = 0;
    unsigned seen = 0;
    ward_err err = WARD_OK;
    while (!err && next_kv(&c, kv, true, diag, &err))
        err = reply_line(out, kv, &seen, diag);
    free(kv);
    if (!err && (seen != 7 || !out->reply))
        err = ward_diag_set(diag, WARD_ERR_PARSE, "reply without action, status, reply or message");
    if (err)
        ward_mailproto_reply_free(out);
    return err;
}
