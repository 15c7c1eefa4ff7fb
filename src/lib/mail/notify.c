/* notify.c - notices to sender, recipients and administrator. */
#include "mail/notify.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "mail/outbox.h"
#include "mail/process.h"
#include "mail/sendmsg.h"
#include "util/log.h"

#define NOTICE_MAX (64u << 20) /* a notice with the original attached */
#define NOTICE_TIMEOUT_MS 30000

static const char *const who_name[] = {"sender", "recipients", "admin"};

static bool not_clean(enum ward_mail_status s)
{
    return s != WARD_MAIL_CLEAN && s != WARD_MAIL_UNSCANNED;
}

bool ward_notify_wanted(const struct ward_notify_in *in, enum ward_notice_to to)
{
    enum ward_mail_status s = in->j->status;
    if (!not_clean(s))
        return false;
    switch (to) {
    case WARD_NOTICE_SENDER: {
        if (!in->env->sender || !*in->env->sender)
            return false;
        unsigned mode = ward_policy_enum(in->pol, "notify_sender"); /* none|filtered|all */
        bool refusal = in->j->action != WARD_MAIL_ACCEPT;
        return mode == 2 ||
               (mode == 1 && refusal && (s == WARD_MAIL_FILTERED || s == WARD_MAIL_PROTECTED));
    }
    case WARD_NOTICE_RECIPIENTS:
        return in->n_rcpts && ward_policy_bool(in->pol, "notify_recipients");
    case WARD_NOTICE_ADMIN: {
        const char *a = ward_policy_str(in->pol, "admin_address");
        return a && *a && ward_policy_bool(in->pol, "notify_admin");
    }
    }
    return false;
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char r[16] = {0};
    if (bytes > sizeof r)
        bytes = sizeof r;
    if (getrandom(r, bytes, 0) != (ssize_t)bytes) {
        /* never fatal: uniqueness, not secrecy, is what matters here */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(r, &ts, bytes < sizeof ts ? bytes : sizeof ts);
    }
    for (size_t i = 0; i < bytes; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

static ward_err report(const struct ward_notify_in *in, ward_buf *out)
{
    ward_err err =
        ward_buf_printf(out, "Status: %s\nAction: %s\n", ward_mail_status_name(in->j->status),
                        ward_mail_action_name(in->j->action));
    if (!err && in->quarantine_id && *in->quarantine_id)
        err = ward_buf_printf(out, "Quarantine: %s\n", in->quarantine_id);
    static const char *const fields[][2] = {
        {"Sender", NULL}, {"Recipients", NULL}, {"Subject", NULL}, {"Message-ID", NULL}};
    const char *vals[] = {in->mi->v.sender, in->mi->recipients, in->mi->subject, in->mi->messageid};
    for (size_t i = 0; i < 4 && !err; i++) {
        err = ward_buf_printf(out, "%s: ", fields[i][0]);
        if (!err)
            err = ward_template_put(out, vals[i], WARD_TMPL_TEXT);
        if (!err)
            err = ward_buf_putc(out, '\n');
    }
    for (size_t i = 0; in->scan && i < in->scan->n_det && !err; i++) {
        const struct ward_mail_detection *d = &in->scan->det[i];
        err = ward_buf_printf(
            out, "%s: ",
            d->verdict == WARD_VERDICT_NOT_SCANNED ? "Not scanned" : ward_verdict_name(d->verdict));
        if (!err)
            err = ward_template_put(out,
                                    d->verdict == WARD_VERDICT_NOT_SCANNED
                                        ? ward_reason_name(d->reason)
                                    : d->name ? d->name
                                              : "",
                                    WARD_TMPL_TEXT);
        if (!err)
            err = ward_buf_puts(out, " in ");
        if (!err)
            err = ward_template_put(out, d->path ? d->path : "", WARD_TMPL_TEXT);
        if (!err)
            err = ward_buf_putc(out, '\n');
    }
    return err;
}

ward_err ward_notify_compose(const struct ward_notify_in *in, enum ward_notice_to to,
                             const char *addr, ward_buf *out, struct ward_diag *diag)
{
    const struct ward_msginfo *mi = in->mi;
    const char *from = ward_policy_str(in->pol, "notify_from");
    bool attach_report = ward_policy_bool(in->pol, "notify_attach_report");
    bool attach_orig = to == WARD_NOTICE_ADMIN && in->msg && in->msg->data &&
                       ward_policy_bool(in->pol, "notify_attach_original");
    char boundary[48], id[40], date[64], name[40];
    memcpy(boundary, "=_ward_", 7);
    random_hex(boundary + 7, 12);
    random_hex(id, 16);
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));

    ward_err err = ward_buf_puts(out, "From: ");
    if (!err && from && *from)
        err = ward_template_put(out, from, WARD_TMPL_HEADER);
    else if (!err)
        err = ward_buf_printf(out, "MAILER-DAEMON@%s", mi->hostname);
    if (!err) {
        err = ward_buf_puts(out, "\nTo: ");
        if (!err)
            err = ward_template_put(out, addr, WARD_TMPL_HEADER);
    }
    if (!err)
        err = ward_buf_printf(out, "\nSubject: Ward: %s message (",
                              ward_mail_status_name(in->j->status));
    if (!err)
        err = ward_template_put(out, in->j->names, WARD_TMPL_HEADER);
    if (!err)
        err = ward_buf_printf(out,
                              ")\nDate: %s\nMessage-ID: <%s@%s>\nAuto-Submitted: auto-generated\n"
                              "MIME-Version: 1.0\n",
                              date, id, mi->hostname);
    bool multi = attach_report || attach_orig;
    if (!err && multi)
        err = ward_buf_printf(out,
                              "Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
                              "This is a MIME message.\n\n--%s\n",
                              boundary, boundary);
    if (!err)
        err = ward_buf_puts(out, "Content-Type: text/plain; charset=utf-8\n"
                                 "Content-Transfer-Encoding: 8bit\n\n");
    ward_buf tmpl;
    ward_buf_init(&tmpl, WARD_TMPL_MAX_FILE);
    snprintf(name, sizeof name, "notify_%s.txt", who_name[to]);
    if (!err)
        err = ward_template_load(ward_policy_str(in->pol, "template_dir"), name, &tmpl, diag);
    if (!err)
        err = ward_template_expand(ward_buf_str(&tmpl), &mi->v, WARD_TMPL_TEXT, out);
    ward_buf_free(&tmpl);
    if (!err && attach_report)
        err = ward_buf_printf(out,
                              "\n--%s\nContent-Type: text/plain; charset=utf-8\n"
                              "Content-Transfer-Encoding: 8bit\n"
                              "Content-Disposition: attachment; filename=\"report.txt\"\n\n",
                              boundary);
    if (!err && attach_report)
        err = report(in, out);
    if (!err && attach_orig) {
        err = ward_buf_printf(out,
                              "\n--%s\nContent-Type: message/rfc822\n"
                              "Content-Disposition: attachment; filename=\"original.eml\"\n\n",
                              boundary);
        if (!err)
            err = ward_buf_append(out, in->msg->data, in->msg->len);
    }
    if (!err && multi)
        err = ward_buf_printf(out, "\n--%s--\n", boundary);
    if (err && err != WARD_ERR_IO && err != WARD_ERR_PARSE)
        ward_diag_set(diag, err, "notice to %s: %s", who_name[to], ward_err_str(err));
    return err;
}

static unsigned send_one(const struct ward_notify_in *in, enum ward_notice_to to,
                         const char *const *rcpts, size_t n)
{
    ward_buf b;
    ward_buf_init(&b, NOTICE_MAX);
    struct ward_diag d = {{0}};
    char to_line[1024];
    size_t k = 0;
    to_line[0] = 0;
    for (size_t i = 0; i < n && k + 3 < sizeof to_line; i++)
        k += (size_t)snprintf(to_line + k, sizeof to_line - k, "%s%s", i ? ", " : "", rcpts[i]);
    struct ward_sendmsg s = {
        .sendmail_path = ward_policy_str(in->pol, "sendmail_path"),
        .relay = ward_policy_str(in->pol, "notify_relay"),
        .helo = in->mi->hostname,
        .timeout_ms = NOTICE_TIMEOUT_MS,
    };
    ward_err err = ward_notify_compose(in, to, to_line, &b, &d);
    char what[sizeof to_line + 32];
    snprintf(what, sizeof what, "notice to %s (%s)", who_name[to], to_line);
    if (!err && in->ctx->outbox && ward_outbox_notice(in->ctx->outbox, &s, rcpts, n, &b, what)) {
        ward_buf_free(&b);
        return 0; /* sent after the answer; a failure is logged then */
    }
    if (!err)
        err = ward_sendmsg(&s, "", rcpts, n, b.data, b.len, &d);
    ward_buf_free(&b);
    if (err)
        WARD_LOG_WARN("%s not done: %s", what, d.msg);
    return err ? 1 : 0;
}

unsigned ward_notify(const struct ward_notify_in *in, bool done[3])
{
    unsigned failed = 0;
    for (int to = WARD_NOTICE_SENDER; to <= WARD_NOTICE_ADMIN; to++) {
        if (done[to] || !ward_notify_wanted(in, (enum ward_notice_to)to))
            continue;
        if (to != WARD_NOTICE_RECIPIENTS)
            done[to] = true; /* once per message; recipients per policy */
        if (to == WARD_NOTICE_SENDER) {
            const char *r[1] = {in->env->sender};
            failed += send_one(in, WARD_NOTICE_SENDER, r, 1);
        } else if (to == WARD_NOTICE_ADMIN) {
            const char *r[1] = {ward_policy_str(in->pol, "admin_address")};
            failed += send_one(in, WARD_NOTICE_ADMIN, r, 1);
        } else {
            failed += send_one(in, WARD_NOTICE_RECIPIENTS, in->rcpts, in->n_rcpts);
        }
    }
    return failed;
}
