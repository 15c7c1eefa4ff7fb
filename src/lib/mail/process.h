/*
 * process.h - one message through Ward's mail policy: parse, scan, decide,
 * change, quarantine, notify. Every mail agent (ward-pipe, ward-mda, the
 * SMTP proxy, the milter, the POP3/IMAP proxies) reaches this through wardd,
 * so they all behave the same.
 *
 * Policy (docs/mail.md): options from [global], overridden by the agent's
 * section ([pipe], [mda], [smtp], ...), overridden by the first matching
 * section of the user_config file, per recipient: [rcpt@domain],
 * [|sender@domain], [@domain], then the first [group:NAME] whose recipients
 * and senders regexes both match.
 *
 * Recipients whose policies differ get their own action; the one changed
 * message is made by the policy of the first recipient whose action delivers
 * (accept), so that what is delivered is what that policy asked for.
 *
 * Notices (notify_*) and exec_script run before the return, bounded in
 * time; their failures are logged (util/log.h), never the message's.
 *
 * Contract: a failure to parse, scan or write is an error return; callers
 * turn it into a temporary failure (defer), never into a pass. The message
 * descriptor is read from offset 0 with pread and never written.
 */
#ifndef WARD_MAIL_PROCESS_H
#define WARD_MAIL_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/partscan.h"
#include "scan/scan.h"
#include "store/quarantine.h"
#include "util/conf.h"
#include "util/err.h"

enum ward_mail_action {
    WARD_MAIL_ACCEPT = 0,
    WARD_MAIL_DEFER,   /* 4xx: try again later */
    WARD_MAIL_DISCARD, /* accepted and dropped, by explicit policy */
    WARD_MAIL_REJECT,  /* 5xx */
};

/* What the message is, after policy. */
enum ward_mail_status {
    WARD_MAIL_CLEAN = 0,
    WARD_MAIL_INFECTED,
    WARD_MAIL_SUSPICIOUS,
    WARD_MAIL_NOTSCANNED,
    WARD_MAIL_PROTECTED, /* a password-protected archive could not be scanned */
    WARD_MAIL_FILTERED,  /* an attachment filter matched */
    WARD_MAIL_CLEANED,   /* infected or filtered parts were removed ("deleted") */
    WARD_MAIL_UNSCANNED, /* action_av said not to scan (accept, defer, ...) */
};

const char *ward_mail_action_name(enum ward_mail_action a);
const char *ward_mail_status_name(enum ward_mail_status s);

struct ward_mail_env {
    const char *sender; /* envelope sender; "" for the null sender */
    const char *const *rcpts;
    size_t n_rcpts;
    const char *client_addr, *helo; /* NULL when unknown */
    const char *agent;              /* the agent's section: "pipe", "mda", "smtp" ... */
    const char *user;               /* selects [user] ahead of recipients; NULL: none */
    const char *queue_id;           /* for logs; NULL when unknown */
};

struct ward_mail_rcpt {
    char *rcpt;
    enum ward_mail_action action;
    enum ward_mail_status status;
    char *reply; /* SMTP reply for defer and reject ("550 5.7.1 ..."), else NULL */
};

struct ward_mail_result {
    enum ward_mail_action action; /* the recipients' common action, or the first's */
    enum ward_mail_status status;
    char reply[512]; /* SMTP reply line for action (2xx for accept) */
    bool rcpts_differ;
    struct ward_mail_rcpt *rcpts; /* one per envelope recipient, in order */
    size_t n_rcpts;
    struct ward_mail_scan scan;           /* detections with their paths */
    int out_fd;                           /* the changed message at offset 0, or -1: unchanged */
    char quarantine_id[WARD_QID_LEN + 1]; /* "" when not kept */
};

/* What the caller (wardd) provides; everything is borrowed. */
struct ward_mail_ctx {
    ward_scanner *scanner;
    const ward_conf *conf;      /* ward.conf */
    const ward_conf *users;     /* the user_config file, or NULL */
    ward_quarantine *store;     /* NULL: open_store is asked, when set */
    /* Open (or give the open) store at the first message that quarantines, so
       that a policy without quarantine never creates one. NULL or an error:
       quarantining fails (and defers). */
    ward_err (*open_store)(void *arg, ward_quarantine **out, struct ward_diag *diag);
    void *open_store_arg;
    struct ward_scan_opts scan; /* limits, cache, tmpdir */
    const char *hostname;
    const char *db_version; /* for X-Virus-Scanner: "27000/Tue Nov 25 10:08:42 2026" */
    /* Notices and exec_script after the answer (mail/outbox.h); NULL: done
       before ward_mail_process returns. */
    struct ward_outbox *outbox;
};

ward_err ward_mail_process(const struct ward_mail_ctx *ctx, int msg_fd,
                           const struct ward_mail_env *env, struct ward_mail_result *res,
                           struct ward_diag *diag) WARD_MUST_CHECK;
/* Frees the result and closes out_fd (a caller keeping it sets it to -1 first). */
void ward_mail_result_free(struct ward_mail_result *res);

#endif
