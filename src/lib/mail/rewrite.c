/* rewrite.c - a policy's changes to a message, and its quarantine copy. */
#include "mail/rewrite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/edit.h"
#include "mail/mime_int.h"
#include "util/spool.h"
#include "ward_config.h"

ward_err ward_msginfo_init(struct ward_msginfo *mi, const struct ward_mail_ctx *ctx,
                           const struct ward_mail_env *env, const ward_mime *m,
                           const struct ward_judgement *j)
{
    memset(mi, 0, sizeof *mi);
    if (m && m->n_parts) {
        /* the subject as a reader sees it: RFC 2047 words decoded to UTF-8 */
        char raw[sizeof mi->subject];
        if (ward_mime_header(m, 0, "Subject", raw, sizeof raw, NULL, NULL)) {
            size_t k = ward_mime_words(raw, strlen(raw), mi->subject, sizeof mi->subject);
            mi->subject[k < sizeof mi->subject ? k : sizeof mi->subject - 1] = 0;
        }
        ward_mime_header(m, 0, "Message-ID", mi->messageid, sizeof mi->messageid, NULL, NULL);
        ward_mime_header(m, 0, "Date", mi->date, sizeof mi->date, NULL, NULL);
    }
    if (!mi->date[0]) {
        time_t now = time(NULL);
        struct tm tm;
        strftime(mi->date, sizeof mi->date, "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));
    }
    if (ctx->hostname && *ctx->hostname)
        snprintf(mi->hostname, sizeof mi->hostname, "%s", ctx->hostname);
    else if (gethostname(mi->hostname, sizeof mi->hostname - 1) != 0)
        snprintf(mi->hostname, sizeof mi->hostname, "localhost");
    ward_buf r;
    ward_buf_init(&r, 64u << 10);
    ward_err err = ward_buf_puts(&r, "");
    for (size_t i = 0; i < env->n_rcpts && !err; i++)
        err = ward_buf_printf(&r, "%s%s", i ? ", " : "", env->rcpts[i] ? env->rcpts[i] : "");
    if (err == WARD_ERR_LIMIT)
        err = WARD_OK; /* a long list is cut; the notice stays readable */
    if (err) {
        ward_buf_free(&r);
        return err;
    }
    mi->recipients = (char *)ward_buf_steal(&r, NULL);
    mi->v = (struct ward_tmpl_vars){
        .virusname = j->names,
        .sender = env->sender && *env->sender ? env->sender : "<>",
        .recipients = mi->recipients,
        .subject = mi->subject,
        .messageid = mi->messageid,
        .date = mi->date,
        .action = ward_mail_action_name(j->action),
        .hostname = mi->hostname,
    };
    return WARD_OK;
}

void ward_msginfo_free(struct ward_msginfo *mi)
{
    free(mi->recipients);
    mi->recipients = NULL;
}

ward_err ward_rewrite_result_value(const struct ward_judgement *j, ward_buf *out)
{
    static const char *const fmt[] = {
        [WARD_MAIL_CLEAN] = "clean",
        [WARD_MAIL_INFECTED] = "infected (%VIRUSNAME%)",
        [WARD_MAIL_SUSPICIOUS] = "suspicious (%VIRUSNAME%)",
        [WARD_MAIL_NOTSCANNED] = "not scanned (%VIRUSNAME%)",
        [WARD_MAIL_PROTECTED] = "protected (%VIRUSNAME%)",
        [WARD_MAIL_FILTERED] = "filtered (%VIRUSNAME%)",
        [WARD_MAIL_CLEANED] = "cleaned (%VIRUSNAME%)",
        [WARD_MAIL_UNSCANNED] = "not scanned (policy)",
    };
    struct ward_tmpl_vars v = {.virusname = j->names};
    const char *f = (unsigned)j->status < sizeof fmt / sizeof fmt[0] ? fmt[j->status] : NULL;
    return ward_template_expand(f ? f : "not scanned (error)", &v, WARD_TMPL_HEADER, out);
}

/* The body texts' family for a status: clean, infected or notscanned. */
static const char *body_kind(enum ward_mail_status s)
{
    switch (s) {
    case WARD_MAIL_CLEAN:
        return "clean";
    case WARD_MAIL_NOTSCANNED:
    case WARD_MAIL_PROTECTED:
    case WARD_MAIL_UNSCANNED:
        return "notscanned";
    default:
        return "infected";
    }
}

static const char *subject_key(enum ward_mail_status s)
{
    switch (s) {
    case WARD_MAIL_INFECTED:
    case WARD_MAIL_SUSPICIOUS:
    case WARD_MAIL_FILTERED:
        return "subject_infected";
    case WARD_MAIL_CLEANED:
        return "subject_cleaned";
    case WARD_MAIL_NOTSCANNED:
    case WARD_MAIL_PROTECTED:
        return "subject_notscanned";
    default:
        return NULL;
    }
}

/* A template file expanded into out (reset first). */
static ward_err expand_file(const char *dir, const char *name, const struct ward_msginfo *mi,
                            enum ward_tmpl_ctx tctx, ward_buf *tmp, ward_buf *out,
                            struct ward_diag *diag)
{
    ward_buf_reset(out);
    ward_err err = ward_template_load(dir, name, tmp, diag);
    if (!err)
        err = ward_template_expand(ward_buf_str(tmp), &mi->v, tctx, out);
    if (!err)
        err = ward_buf_puts(out, ""); /* a C string even when empty */
    return err;
}

static ward_err add_body_notes(ward_medit *e, const char *dir, enum ward_mail_status s,
                               const struct ward_msginfo *mi, struct ward_diag *diag)
{
    static const char *const pos[4] = {"header", "footer", "header", "footer"};
    static const char *const ext[4] = {"txt", "txt", "html", "html"};
    ward_buf tmp, text[4];
    ward_buf_init(&tmp, WARD_TMPL_MAX_FILE);
    ward_err err = WARD_OK;
    for (int i = 0; i < 4; i++)
        ward_buf_init(&text[i], 4 * WARD_TMPL_MAX_FILE);
    for (int i = 0; i < 4 && !err; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%s.%s", pos[i], body_kind(s), ext[i]);
        err = expand_file(dir, name, mi, i < 2 ? WARD_TMPL_TEXT : WARD_TMPL_HTML, &tmp, &text[i],
                          diag);
    }
    const char *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = text[i].len ? ward_buf_str(&text[i]) : NULL;
    if (!err && (t[0] || t[1] || t[2] || t[3]))
        err = ward_medit_add_notes(e, t[0], t[1], t[2], t[3]);
    for (int i = 0; i < 4; i++)
        ward_buf_free(&text[i]);
    ward_buf_free(&tmp);
    return err;
}

static ward_err record_edits(ward_medit *e, const struct ward_mail_ctx *ctx,
                             const struct ward_policy *p, const struct ward_judgement *j,
                             const struct ward_msginfo *mi, struct ward_diag *diag)
{
    const char *dir = ward_policy_str(p, "template_dir");
    ward_buf tmp, val;
    ward_buf_init(&tmp, WARD_TMPL_MAX_FILE);
    ward_buf_init(&val, 4 * WARD_TMPL_MAX_FILE);
    ward_err err = WARD_OK;

    for (size_t i = 0; i < j->n_remove && !err; i++) {
        err = expand_file(dir, "removed.txt", mi, WARD_TMPL_TEXT, &tmp, &val, diag);
        if (!err)
            err = ward_medit_replace_part(e, j->remove[i], ward_buf_str(&val));
    }

    unsigned wh = ward_policy_enum(p, "write_to_header"); /* none|infected|all */
    if (!err && (wh == 2 || (wh == 1 && j->status != WARD_MAIL_CLEAN))) {
        ward_buf_reset(&val);
        err = ward_medit_remove_header(e, "X-Ward-Result");
        if (!err)
            err =
                ward_buf_printf(&val, "Ward %s, database %s", WARD_VERSION,
                                ctx->db_version && *ctx->db_version ? ctx->db_version : "unknown");
        if (!err)
            err = ward_medit_add_header(e, "X-Virus-Scanner", ward_buf_str(&val));
        ward_buf_reset(&val);
        if (!err)
            err = ward_rewrite_result_value(j, &val);
        if (!err)
            err = ward_medit_add_header(e, "X-Ward-Result", ward_buf_str(&val));
    }

    const char *sk = subject_key(j->status);
    if (!err && sk && ward_policy_bool(p, "write_to_subject")) {
        const char *t = ward_policy_str(p, sk);
        ward_buf_reset(&val);
        if (t && *t) {
            err = ward_template_expand(t, &mi->v, WARD_TMPL_HEADER, &val);
            if (!err)
                err = ward_medit_set_subject(e, ward_buf_str(&val));
        }
    }

    unsigned wb = ward_policy_enum(p, "write_to_body"); /* none|infected|all */
    if (!err && (wb == 2 || (wb == 1 && j->status != WARD_MAIL_CLEAN)))
        err = add_body_notes(e, dir, j->status, mi, diag);

    ward_buf_free(&tmp);
    ward_buf_free(&val);
    return err;
}

ward_err ward_rewrite_message(const struct ward_mail_ctx *ctx, const struct ward_policy *p,
                              const ward_mime *m, const struct ward_judgement *j,
                              const struct ward_msginfo *mi, int *out_fd, struct ward_diag *diag)
{
    ward_medit *e = NULL;
    *out_fd = -1;
    struct ward_diag local = {{0}};
    ward_err err = ward_medit_new(m, &e);
    if (!err)
        err = record_edits(e, ctx, p, j, mi, &local);
    if (!err && ward_medit_changed(e)) {
        int fd = ward_tmpfile(ctx->scan.tmpdir);
        if (fd < 0) {
            err = ward_diag_set(diag, WARD_ERR_IO, "changed message: temporary file in %s: %s",
                                ctx->scan.tmpdir ? ctx->scan.tmpdir : "$TMPDIR", strerror(errno));
        } else {
            err = ward_medit_write(e, fd, diag);
            if (!err && lseek(fd, 0, SEEK_SET) != 0)
                err =
                    ward_diag_set(diag, WARD_ERR_IO, "changed message: seek: %s", strerror(errno));
            if (err)
                close(fd);
            else
                *out_fd = fd;
        }
    } else if (err) {
        if (local.msg[0])
            ward_diag_set(diag, err, "%s", local.msg);
        else
            ward_diag_set(diag, err, "changing the message: %s", ward_err_str(err));
    }
    ward_medit_free(e);
    return err;
}

ward_err ward_rewrite_quarantine(const struct ward_mail_ctx *ctx, const struct ward_mail_env *env,
                                 int msg_fd, const ward_buf *msg, const struct ward_mail_scan *scan,
                                 const struct ward_judgement *j, const struct ward_msginfo *mi,
                                 char id[WARD_QID_LEN + 1], struct ward_diag *diag)
{
    ward_quarantine *store = ctx->store;
    if (!store && !ctx->open_store)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND,
                             "quarantine asked by policy, but no quarantine store is open");
    ward_err oe = store ? WARD_OK : ctx->open_store(ctx->open_store_arg, &store, diag);
    if (oe)
        return oe;
    size_t n = scan ? scan->n_det : 0;
    const char **names = calloc(n + 1, sizeof *names);
    if (!names)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (scan->det[i].name && scan->det[i].verdict != WARD_VERDICT_NOT_SCANNED)
            names[k++] = scan->det[i].name;
    if (!k && j->names[0])
        names[k++] = j->names;
    struct ward_qmeta meta = {
        .kind = WARD_QKIND_QUARANTINE,
        .program = "wardd",
        .host = mi->hostname,
        .sender = env->sender ? env->sender : "",
        .recipients = env->rcpts,
        .n_recipients = env->n_rcpts,
        .subject = mi->subject[0] ? mi->subject : NULL,
        .message_id = mi->messageid[0] ? mi->messageid : NULL,
        .verdict = ward_mail_status_name(j->found),
        .names = names,
        .n_names = k,
    };
    ward_err err;
    if (msg && msg->data) {
        err = ward_quarantine_put_mem(store, &meta, msg->data, msg->len, id, diag);
    } else if (lseek(msg_fd, 0, SEEK_SET) != 0) {
        err = ward_diag_set(diag, WARD_ERR_IO, "quarantine: the message cannot be read again: %s",
                            strerror(errno));
    } else {
        err = ward_quarantine_put_fd(store, &meta, msg_fd, id, diag);
    }
    free(names);
    return err;
}
