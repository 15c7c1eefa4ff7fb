/*
 * result.c - wardd's policy result as milter replies.
 *
 *   reject  -> the reply text (5xx) and MILTER_REJECT
 *   defer   -> the reply text (4xx) and MILTER_TEMPFAIL
 *   discard -> MILTER_DISCARD
 *   accept  -> the changes as modifications, then MILTER_ACCEPT
 *
 * A milter gives one reply for the whole message, so recipients whose
 * policies differ are handled like this: if one of them is deferred, the
 * whole message is (nothing is lost, the client retries); otherwise the
 * recipients whose policy rejects or discards are removed (delrcpt)
 * and the message goes to the others.
 *
 * With [milter] quarantine_hold, a message the policy judged not clean that
 * would be delivered or discarded goes to the MTA's hold queue instead
 * (quarantine), from where the administrator releases or deletes it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "milter.h"
#include "util/log.h"

/* Reply "CODE[ X.Y.Z] text" split in its parts; false when malformed or of another class. */
static bool split_reply(const char *reply, char cls, char code[4], char xcode[32], char *text,
                        size_t cap)
{
    if (!reply || reply[0] != cls || !isdigit((unsigned char)reply[1]) ||
        !isdigit((unsigned char)reply[2]) || (reply[3] != ' ' && reply[3] != 0))
        return false;
    memcpy(code, reply, 3);
    code[3] = 0;
    const char *p = reply + 3;
    while (*p == ' ')
        p++;
    xcode[0] = 0;
    size_t n = strspn(p, "0123456789.");
    if (n > 0 && n < 32 && p[0] == cls && p[1] == '.' && (p[n] == ' ' || p[n] == 0)) {
        memcpy(xcode, p, n);
        xcode[n] = 0;
        p += n;
        while (*p == ' ')
            p++;
    }
    /* The MTAs read '%' as a format character (Sendmail's reply code is a
       format, Postfix undoes the doubling): double it; CR, LF and other
       controls cannot go into a reply line. */
    size_t o = 0;
    for (; *p && o + 2 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '%')
            text[o++] = '%';
        text[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    text[o] = 0;
    return true;
}

void milter_setreply(struct milter_sess *s, const char *reply, char cls, const char *def)
{
    char code[4], xcode[32], text[512], line[600];
    if (!split_reply(reply, cls, code, xcode, text, sizeof text) &&
        !(def && split_reply(def, cls, code, xcode, text, sizeof text)))
        return;
    snprintf(line, sizeof line, "%s%s%s%s%s", code, xcode[0] ? " " : "", xcode, text[0] ? " " : "",
             text);
    milter_sess_setreply(s, line);
}

static bool not_clean(enum ward_mail_status s)
{
    return s == WARD_MAIL_INFECTED || s == WARD_MAIL_SUSPICIOUS || s == WARD_MAIL_NOTSCANNED ||
           s == WARD_MAIL_PROTECTED || s == WARD_MAIL_FILTERED;
}

static void log_result(const char *qid, const struct ward_mailproto_reply *r, const char *what)
{
    char names[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < r->n_det && o + 2 < sizeof names; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                              r->det[i].name ? r->det[i].name : "?");
    if (o >= sizeof names)
        o = sizeof names - 1;
    ward_log(r->status == WARD_MAIL_CLEAN ? WARD_LOG_INFO : WARD_LOG_NOTICE, "%s: %s%s%s%s: %s%s%s",
             qid ? qid : "-", ward_mail_status_name(r->status), names[0] ? " (" : "", names,
             names[0] ? ")" : "", what, r->quarantine_id ? ", quarantined as " : "",
             r->quarantine_id ? r->quarantine_id : "");
}

/* Per-recipient results: remove refused recipients; the action left for the message. */
static enum ward_mail_action per_rcpt(struct milter_sess *s, const struct ward_mailproto_reply *r,
                                      const char **reply)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n_rcpts; i++)
        if (r->rcpts[i].action == WARD_MAIL_DEFER) {
            *reply = r->rcpts[i].reply;
            return WARD_MAIL_DEFER;
        }
    for (size_t i = 0; i < r->n_rcpts; i++)
        if (r->rcpts[i].action == WARD_MAIL_ACCEPT)
            kept++;
    if (kept == 0)
        return r->action;
    for (size_t i = 0; i < r->n_rcpts; i++) {
        if (r->rcpts[i].action == WARD_MAIL_ACCEPT)
            continue;
        char addr[WARD_MAILPROTO_MAX_VALUE + 3];
        snprintf(addr, sizeof addr, "<%s>", r->rcpts[i].rcpt);
        if (milter_sess_delrcpt(s, addr)) {
            *reply = NULL;
            return WARD_MAIL_DEFER;
        }
        ward_log(WARD_LOG_NOTICE, "recipient %s removed: %s", r->rcpts[i].rcpt,
                 ward_mail_action_name(r->rcpts[i].action));
    }
    return WARD_MAIL_ACCEPT;
}

enum milter_verdict milter_result(struct milter_sess *s, struct milter_conn *c,
                                  const struct ward_mailproto_reply *r)
{
    const char *qid = milter_sess_macro(s, "i");
    enum ward_mail_action action = r->action;
    const char *reply = r->reply;
    if (r->n_rcpts > 0)
        action = per_rcpt(s, r, &reply);
    switch (action) {
    case WARD_MAIL_REJECT:
        log_result(qid, r, "rejected");
        milter_setreply(s, reply, '5', "550 5.7.1 Message refused by the virus scanner");
        return MILTER_REJECT;
    case WARD_MAIL_DEFER:
        log_result(qid, r, "deferred");
        if (r->error)
            ward_log(WARD_LOG_WARNING, "%s: wardd: %s", qid ? qid : "-", r->error);
        milter_setreply(s, reply, '4', "451 4.3.0 Message deferred by the virus scanner");
        return MILTER_TEMPFAIL;
    case WARD_MAIL_DISCARD:
    case WARD_MAIL_ACCEPT:
        break;
    }
    bool hold = milter_cfg.quarantine_hold && not_clean(r->status);
    if (action == WARD_MAIL_DISCARD && !hold) {
        log_result(qid, r, "discarded");
        return MILTER_DISCARD;
    }
    struct ward_diag d;
    if (r->msg_fd >= 0 && milter_modify(s, c, r->msg_fd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s: cannot apply the changes: %s: temporary failure",
                 qid ? qid : "-", d.msg);
        milter_setreply(s, NULL, '4', "451 4.3.0 Virus scanner failure, try again later");
        return MILTER_TEMPFAIL;
    }
    if (hold) {
        char why[256];
        snprintf(why, sizeof why, "Ward: %s%s%s", ward_mail_status_name(r->status),
                 r->n_det ? " " : "", r->n_det && r->det[0].name ? r->det[0].name : "");
        if (milter_sess_quarantine(s, why)) {
            ward_log(WARD_LOG_ERROR, "%s: the MTA refused to hold the message", qid ? qid : "-");
            milter_setreply(s, NULL, '4', "451 4.3.0 Virus scanner failure, try again later");
            return MILTER_TEMPFAIL;
        }
        log_result(qid, r, "held");
        return MILTER_ACCEPT;
    }
    log_result(qid, r, r->msg_fd >= 0 ? "accepted, changed" : "accepted");
    return MILTER_ACCEPT;
}
