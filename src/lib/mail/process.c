/*
 * process.c - one message through the mail policy (see process.h).
 *
 * The message is read once (pread into one buffer), parsed once and scanned
 * once; what is scanned does not depend on the policy, only what is made of
 * it does. Each recipient's policy is then judged (mail/judge.c), the
 * original quarantined once if any policy asks, the first recipient whose
 * action delivers decides the changes (mail/rewrite.c), and notices and
 * exec_script follow (mail/notify.c, mail/script.c).
 */
#include "mail/process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/judge.h"
#include "mail/mime.h"
#include "mail/policy.h"
#include "mail/notify.h"
#include "mail/rewrite.h"
#include "mail/script.h"
#include "util/file.h"
#include "util/log.h"

/* A message held in memory whole; beyond this it is not scanned (limit). */
#define PROCESS_MAX_MESSAGE (1ull << 31)

const char *ward_mail_action_name(enum ward_mail_action a)
{
    switch (a) {
    case WARD_MAIL_ACCEPT:
        return "accept";
    case WARD_MAIL_DEFER:
        return "defer";
    case WARD_MAIL_DISCARD:
        return "discard";
    case WARD_MAIL_REJECT:
        return "reject";
    }
    return "?";
}

const char *ward_mail_status_name(enum ward_mail_status s)
{
    switch (s) {
    case WARD_MAIL_CLEAN:
        return "clean";
    case WARD_MAIL_INFECTED:
        return "infected";
    case WARD_MAIL_SUSPICIOUS:
        return "suspicious";
    case WARD_MAIL_NOTSCANNED:
        return "not scanned";
    case WARD_MAIL_PROTECTED:
        return "protected";
    case WARD_MAIL_FILTERED:
        return "filtered";
    case WARD_MAIL_CLEANED:
        return "cleaned";
    case WARD_MAIL_UNSCANNED:
        return "unscanned";
    }
    return "?";
}

/* The whole message into a new buffer; *too_big when it is beyond `max` (nothing read). */
static ward_err read_message(int fd, uint64_t max, ward_buf *b, bool *too_big,
                             struct ward_diag *diag)
{
    struct stat st;
    *too_big = false;
    if (fstat(fd, &st) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "message: fstat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        /* a pipe cannot be read twice: one capped read to the end */
        ward_buf_init(b, (size_t)max);
        ward_err err = ward_fd_read_all(fd, "message", b, diag);
        if (err == WARD_ERR_LIMIT)
            err = ward_diag_set(diag, err, "message: larger than %llu bytes",
                                (unsigned long long)max);
        return err;
    }
    if ((uint64_t)st.st_size > max) {
        *too_big = true;
        return WARD_OK;
    }
    size_t n = (size_t)st.st_size;
    ward_buf_init(b, n);
    if (ward_buf_reserve(b, n))
        return ward_diag_set(diag, WARD_ERR_NOMEM, "message: out of memory (%zu bytes)", n);
    ssize_t r = ward_pread_full(fd, b->data, n, 0);
    if (r < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "message: read: %s", strerror(errno));
    if ((size_t)r != n)
        return ward_diag_set(diag, WARD_ERR_IO, "message: shrank while read (%zd of %zu bytes)", r,
                             n);
    b->len = n;
    b->data[n] = 0;
    return WARD_OK;
}

/* Which of the recipients' policies to judge: one per distinct policy. */
struct plan {
    struct ward_policy pol;
    struct ward_judgement j;
    size_t same_as; /* index of the first recipient with the same policy, or itself */
};

static ward_err fill_rcpts(struct ward_mail_result *res, const struct ward_mail_env *env,
                           const struct plan *plans, const struct ward_judge_in *in)
{
    res->rcpts = calloc(env->n_rcpts ? env->n_rcpts : 1, sizeof *res->rcpts);
    if (!res->rcpts)
        return WARD_ERR_NOMEM;
    res->n_rcpts = env->n_rcpts;
    for (size_t i = 0; i < env->n_rcpts; i++) {
        const struct ward_judgement *j = &plans[plans[i].same_as].j;
        struct ward_mail_rcpt *r = &res->rcpts[i];
        r->action = j->action;
        r->status = j->status;
        if (!(r->rcpt = strdup(env->rcpts[i] ? env->rcpts[i] : "")))
            return WARD_ERR_NOMEM;
        if (j->action == WARD_MAIL_DEFER || j->action == WARD_MAIL_REJECT) {
            char line[512];
            ward_judge_reply(j, in, line, sizeof line);
            if (!(r->reply = strdup(line)))
                return WARD_ERR_NOMEM;
        }
        if (j->action != plans[0].j.action || j->status != plans[0].j.status)
            res->rcpts_differ = true;
    }
    return WARD_OK;
}

/*
 * Notices (per distinct policy, sender and administrator once) and
 * exec_script (once, by the first policy that names one): their failures
 * are logged, never the message's.
 */
static void after_effects(const struct ward_mail_ctx *ctx, const struct ward_mail_env *env,
                          const struct plan *plans, size_t n, const ward_buf *msg,
                          const ward_mime *mime, const struct ward_mail_result *res)
{
    bool done[3] = {false, false, false}, script_done = false;
    const char **rcpts = calloc(n, sizeof *rcpts);
    if (!rcpts)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct plan *p = &plans[i];
        if (p->same_as != i || p->j.status == WARD_MAIL_CLEAN || p->j.status == WARD_MAIL_UNSCANNED)
            continue;
        size_t k = 0;
        for (size_t r = 0; r < env->n_rcpts; r++)
            if (plans[r].same_as == i && env->rcpts[r])
                rcpts[k++] = env->rcpts[r];
        struct ward_msginfo mi;
        if (ward_msginfo_init(&mi, ctx, env, mime, &p->j) != WARD_OK)
            break;
        struct ward_notify_in in = {
            .ctx = ctx,
            .env = env,
            .pol = &p->pol,
            .j = &p->j,
            .mi = &mi,
            .rcpts = rcpts,
            .n_rcpts = k,
            .msg = msg,
            .scan = mime ? &res->scan : NULL,
            .quarantine_id = res->quarantine_id,
        };
        (void)ward_notify(&in, done);
        const char *script = ward_policy_str(&p->pol, "exec_script");
        if (!script_done && script && *script) {
            struct ward_diag d;
            script_done = true;
            if (ward_mail_script(script, ward_policy_u64(&p->pol, "exec_script_timeout"), env, res,
                                 &mi, ctx->outbox, &d))
                WARD_LOG_WARN("exec_script: %s", d.msg);
        }
        ward_msginfo_free(&mi);
    }
    free(rcpts);
}

ward_err ward_mail_process(const struct ward_mail_ctx *ctx, int msg_fd,
                           const struct ward_mail_env *env, struct ward_mail_result *res,
                           struct ward_diag *diag)
{
    memset(res, 0, sizeof *res);
    res->out_fd = -1;
    size_t n = env->n_rcpts ? env->n_rcpts : 1; /* no recipient: judge the message alone */
    struct plan *plans = calloc(n, sizeof *plans);
    ward_buf msg = {0};
    ward_mime mime = {0};
    bool parsed = false, too_big = false, any_scan = false, want_types = false;
    ward_err err = WARD_OK;
    if (!plans)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");

    for (size_t i = 0; i < n; i++) {
        struct plan *p = &plans[i];
        ward_policy_select(&p->pol, ctx->conf, ctx->users, env->agent, env->user, env->sender,
                           env->n_rcpts ? env->rcpts[i] : NULL);
        p->same_as = i;
        for (size_t k = 0; k < i; k++)
            if (ward_policy_same(&plans[k].pol, &p->pol)) {
                p->same_as = k;
                break;
            }
        if (ward_policy_enum(&p->pol, "action_av") == 0) {
            any_scan = true;
            const char *t = ward_policy_str(&p->pol, "filter_type");
            want_types |= t && *t;
        }
    }

    if (any_scan) {
        uint64_t max = ctx->scan.limits.max_scansize;
        if (!max || max > PROCESS_MAX_MESSAGE)
            max = PROCESS_MAX_MESSAGE;
        err = read_message(msg_fd, max, &msg, &too_big, diag);
        if (!err && !too_big) {
            err = ward_mime_parse(msg.data ? msg.data : (const uint8_t *)"", msg.len, NULL, &mime,
                                  diag);
            parsed = !err;
        }
        if (!err && parsed) {
            struct ward_mail_scan_opts so = {.scan = ctx->scan, .want_types = want_types};
            err = ward_mail_scan(ctx->scanner, &mime, &so, &res->scan, diag);
        }
    }

    struct ward_judge_in in = {
        .mime = parsed ? &mime : NULL,
        .scan = parsed ? &res->scan : NULL,
        .too_big = too_big,
    };
    for (size_t i = 0; i < n && !err; i++)
        if (plans[i].same_as == i)
            err = ward_judge(&plans[i].pol, &in, &plans[i].j, diag);

    if (!err) {
        const struct ward_judgement *first = &plans[0].j;
        res->action = first->action;
        res->status = first->status;
        ward_judge_reply(first, &in, res->reply, sizeof res->reply);
        err = fill_rcpts(res, env, plans, &in);
        if (err == WARD_ERR_NOMEM)
            ward_diag_set(diag, err, "out of memory");
    }

    /* The original goes to quarantine once, when any recipient's policy asks. */
    for (size_t i = 0; i < n && !err && !res->quarantine_id[0]; i++) {
        const struct plan *p = &plans[plans[i].same_as];
        if (!p->j.quarantine)
            continue;
        struct ward_msginfo mi;
        err = ward_msginfo_init(&mi, ctx, env, parsed ? &mime : NULL, &p->j);
        if (!err)
            err = ward_rewrite_quarantine(ctx, env, msg_fd, parsed ? &msg : NULL,
                                          parsed ? &res->scan : NULL, &p->j, &mi,
                                          res->quarantine_id, diag);
        else
            ward_diag_set(diag, err, "out of memory");
        ward_msginfo_free(&mi);
    }

    /* One changed message, made by the first delivering recipient's policy. */
    for (size_t i = 0; i < n && !err && parsed; i++) {
        const struct plan *p = &plans[plans[i].same_as];
        if (p->j.action != WARD_MAIL_ACCEPT || p->j.status == WARD_MAIL_UNSCANNED)
            continue;
        struct ward_msginfo mi;
        err = ward_msginfo_init(&mi, ctx, env, &mime, &p->j);
        if (!err)
            err = ward_rewrite_message(ctx, &p->pol, &mime, &p->j, &mi, &res->out_fd, diag);
        else
            ward_diag_set(diag, err, "out of memory");
        ward_msginfo_free(&mi);
        break;
    }

    if (!err)
        after_effects(ctx, env, plans, n, parsed ? &msg : NULL, parsed ? &mime : NULL, res);

    for (size_t i = 0; i < n; i++)
        ward_judgement_free(&plans[i].j);
    free(plans);
    if (parsed)
        ward_mime_free(&mime);
    ward_buf_free(&msg);
    if (err)
        ward_mail_result_free(res);
    return err;
}

void ward_mail_result_free(struct ward_mail_result *res)
{
    for (size_t i = 0; i < res->n_rcpts; i++) {
        free(res->rcpts[i].rcpt);
        free(res->rcpts[i].reply);
    }
    free(res->rcpts);
    res->rcpts = NULL;
    res->n_rcpts = 0;
    ward_mail_scan_free(&res->scan);
    memset(&res->scan, 0, sizeof res->scan);
    if (res->out_fd >= 0)
        close(res->out_fd);
    res->out_fd = -1;
}
