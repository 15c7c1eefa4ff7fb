/*
 * rewrite.h - what a policy changes in a message, and what it keeps.
 *
 * ward_rewrite_message records the changes of one judgement (mail/judge.h)
 * as minimal edits (mail/edit.h): removed parts replaced by a notice,
 * X-Ward-Result and X-Virus-Scanner (after removing any a sender forged),
 * a tagged subject, header and footer texts; a message they leave alone
 * gives no file. ward_rewrite_quarantine keeps the original with its
 * envelope in the quarantine store.
 *
 * The facts templates speak of (%SUBJECT%, %SENDER%, ...) are gathered once
 * into a ward_msginfo, shared with notifications.
 *
 * Contract: every failure is an error return (the caller defers); the
 * message bytes are never changed in place.
 */
#ifndef WARD_MAIL_REWRITE_H
#define WARD_MAIL_REWRITE_H

#include "mail/judge.h"
#include "mail/template.h"

struct ward_msginfo {
    char subject[1000], messageid[1000], date[200], hostname[256];
    char *recipients; /* joined with ", " */
    struct ward_tmpl_vars v;
};

ward_err ward_msginfo_init(struct ward_msginfo *mi, const struct ward_mail_ctx *ctx,
                           const struct ward_mail_env *env, const ward_mime *m,
                           const struct ward_judgement *j) WARD_MUST_CHECK;
void ward_msginfo_free(struct ward_msginfo *mi);

/* The X-Ward-Result value of a judgement ("infected (Eicar-Test-Signature)"). */
ward_err ward_rewrite_result_value(const struct ward_judgement *j, ward_buf *out) WARD_MUST_CHECK;

/* Apply the policy's changes; *out_fd: the changed message at offset 0, or -1: unchanged. */
ward_err ward_rewrite_message(const struct ward_mail_ctx *ctx, const struct ward_policy *p,
                              const ward_mime *m, const struct ward_judgement *j,
                              const struct ward_msginfo *mi, int *out_fd,
                              struct ward_diag *diag) WARD_MUST_CHECK;

/* Put the original (msg, or read from msg_fd when it was not read) in the store. */
ward_err ward_rewrite_quarantine(const struct ward_mail_ctx *ctx, const struct ward_mail_env *env,
                                 int msg_fd, const ward_buf *msg, const struct ward_mail_scan *scan,
                                 const struct ward_judgement *j, const struct ward_msginfo *mi,
                                 char id[WARD_QID_LEN + 1], struct ward_diag *diag) WARD_MUST_CHECK;

#endif
