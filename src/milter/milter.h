/*
 * milter.h - ward-milter: Ward as a Sendmail/Postfix mail filter. Ward
 * speaks the milter protocol itself (packet.h, session.h): libmilter's
 * central poll thread cost more CPU per message than the scan hand-off.
 *
 * The MTA streams one message per transaction: envelope, header fields,
 * body chunks. ward-milter rebuilds the message as the MTA will deliver it
 * into memory or an unlinked temporary file, hands that file to wardd (MAILSCAN,
 * proto/mailproto.h) at end of message and maps wardd's policy result to
 * milter replies and the smallest set of milter modifications.
 *
 * Contract: every failure inside Ward (spool, wardd down or late, a result
 * that cannot be applied) ends the transaction with a temporary failure,
 * never with a pass or a bounce.
 */
#ifndef WARD_MILTER_H
#define WARD_MILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"
#include "proto/mailproto.h"
#include "session.h"
#include "util/buf.h"
#include "util/err.h"

/* Settings read once at start-up ([milter] over [global]). */
struct milter_cfg {
    char wardd[4096];         /* unix socket path or HOST:PORT */
    char tmpdir[4096];        /* where messages are spooled ("" : $TMPDIR or /tmp) */
    unsigned scan_timeout_ms; /* bound for every wait for wardd */
    uint64_t max_size;        /* spool cap: bigger messages are refused */
    bool quarantine_hold;     /* held by the MTA when policy judged them not clean */
};

extern struct milter_cfg milter_cfg;

/* One message of a connection: envelope, header block and spool file. */
struct milter_msg {
    char *sender; /* without <>; "" for the null sender */
    char **rcpts;
    size_t n_rcpts, cap_rcpts;
    ward_buf head; /* the header block as spooled (fields, then the empty line) */
    int fd;        /* memfd or unlinked spool file, -1 until the end of the headers */
    bool in_mem;   /* fd is a memfd */
    bool head_pending;  /* the header block is not written yet (it goes with the body) */
    uint64_t size;      /* bytes in the spool, the pending header block included */
    uint64_t file_size; /* bytes in the file (a reused memfd may hold more than size) */
    bool failed;   /* something went wrong: temporary failure at the end */
    bool too_big;
    char why[256]; /* what failed, for the log */
};

/* One SMTP connection: the handlers' state in a session. */
struct milter_conn {
    char client_addr[64];
    char *helo;
    bool leadspc;     /* the MTA sends header values with their leading space */
    uint32_t nr;      /* MILTER_P_NR_* steps the MTA does not wait a reply for */
    struct milter_msg msg;
    int spare_fd;        /* the memfd of the previous message, for the next, or -1 */
    uint64_t spare_size; /* its size */
};

/* The handlers (callbacks.c), called by the session for each MTA command. */
void milter_conn_init(struct milter_conn *c);
void milter_conn_free(struct milter_conn *c);
void milter_on_connect(struct milter_conn *c, const struct milter_connect *ci);
void milter_on_helo(struct milter_conn *c, const char *helo);
void milter_on_mail(struct milter_conn *c, const char *addr);
void milter_on_rcpt(struct milter_conn *c, const char *addr);
void milter_on_header(struct milter_conn *c, const char *name, const char *value);
void milter_on_eoh(struct milter_conn *c);
void milter_on_body(struct milter_conn *c, const uint8_t *p, size_t n);
enum milter_verdict milter_on_eom(struct milter_sess *s);
void milter_on_abort(struct milter_conn *c);

/* A failure before the end of the message: a temporary failure there (callbacks.c). */
void milter_msg_fail(struct milter_msg *m, const char *why);

/*
 * The spool (spool.c): open it when the header block ends, add body bytes,
 * finish it (all written, the file exactly the message) before wardd reads
 * it, release it when the message is done. Failures are recorded in the
 * message (milter_msg_fail).
 */
void milter_spool_open(struct milter_conn *c);
void milter_spool_add(struct milter_msg *m, const void *p, size_t n);
void milter_spool_finish(struct milter_msg *m);
void milter_spool_release(struct milter_conn *c);

/* Ask wardd about the spooled message (scan.c); an error means: tempfail. */
ward_err milter_scan(struct milter_sess *s, struct milter_conn *c, struct ward_mailproto_reply *out,
                     struct ward_diag *diag) WARD_MUST_CHECK;

/* Turn wardd's answer into a verdict and modifications (result.c). */
enum milter_verdict milter_result(struct milter_sess *s, struct milter_conn *c,
                                  const struct ward_mailproto_reply *r);

/*
 * Apply the difference between the spooled message and the changed one
 * (changed_fd, from offset 0) as milter modifications (modify.c): header
 * fields added, changed or removed, and the body replaced only when it
 * differs. WARD_ERR_* when the changed message cannot be read or applied.
 */
ward_err milter_modify(struct milter_sess *s, const struct milter_conn *c, int changed_fd,
                       struct ward_diag *diag) WARD_MUST_CHECK;

/* Set the reply "CODE X.Y.Z text", or the default when it is not of class `cls`. */
void milter_setreply(struct milter_sess *s, const char *reply, char cls, const char *def);

#endif
