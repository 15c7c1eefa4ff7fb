/*
 * notify.h - notices about a message that was not clean: to its envelope
 * sender, to its recipients, to the administrator.
 *
 * Who is told is the policy's: notify_sender (none, filtered: only refusals
 * for a filter or a protected archive, never for viruses, whose senders are
 * forged; all), notify_recipients, notify_admin to admin_address. A notice
 * is a short text from the template notify_{sender,recipients,admin}.txt,
 * with a report (detections and their paths) when notify_attach_report,
 * and, to the administrator only, the original as message/rfc822 when
 * notify_attach_original. Notices come from notify_from (default
 * MAILER-DAEMON@hostname), with the null envelope sender so they never
 * bounce, marked Auto-Submitted; they go through sendmail_path, or by SMTP
 * to notify_relay.
 *
 * Contract: failing to send a notice never fails the message: each failure
 * is logged (warning) and counted.
 */
#ifndef WARD_MAIL_NOTIFY_H
#define WARD_MAIL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/rewrite.h"

enum ward_notice_to {
    WARD_NOTICE_SENDER = 0,
    WARD_NOTICE_RECIPIENTS,
    WARD_NOTICE_ADMIN,
};

struct ward_notify_in {
    const struct ward_mail_ctx *ctx;
    const struct ward_mail_env *env;
    const struct ward_policy *pol; /* the policy of these recipients */
    const struct ward_judgement *j;
    const struct ward_msginfo *mi;
    const char *const *rcpts; /* the recipients this policy covers */
    size_t n_rcpts;
    const ward_buf *msg;               /* the original; NULL when it was not read */
    const struct ward_mail_scan *scan; /* NULL when not scanned */
    const char *quarantine_id;         /* "" when not kept */
};

/* Does the policy want a notice to `to` for this judgement? */
bool ward_notify_wanted(const struct ward_notify_in *in, enum ward_notice_to to);

/* Write the notice (headers and body) for `to`, addressed to `addr`, into out. */
ward_err ward_notify_compose(const struct ward_notify_in *in, enum ward_notice_to to,
                             const char *addr, ward_buf *out,
                             struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * Send the notices the policy wants, except those whose `done` flag is set
 * (indexed by enum ward_notice_to; the sender and the administrator are told
 * once per message); sets the flags of those sent or tried. Returns the
 * number of failures (each logged).
 */
unsigned ward_notify(const struct ward_notify_in *in, bool done[3]);

#endif
