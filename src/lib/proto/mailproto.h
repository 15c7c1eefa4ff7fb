/*
 * mailproto.h - MAILSCAN, wardd's extension for scanning one mail message
 * with its envelope under the mail policy (docs/protocol.md, "Mail
 * scanning"). Every mail agent (ward-pipe, ward-mda, ward-smtpd,
 * ward-milter, ...) talks to wardd through ward_mailproto_scan(); wardd
 * parses requests with ward_mailproto_parse_request() and answers with
 * ward_mailproto_encode_reply().
 *
 * Request, client to wardd:
 *
 *   "zMAILSCAN\0" (or "nMAILSCAN\n")
 *   BE32 length L (1 .. WARD_MAILPROTO_MAX_ENV), then L bytes of envelope:
 *   lines "key=value\n", keys in any order:
 *     message=fd|stream   required: how the message comes
 *     sender=ADDR         required, once; empty for the null sender <>
 *     rcpt=ADDR           one per envelope recipient, 1 .. WARD_MAILPROTO_MAX_RCPTS
 *     client_addr=IP  helo=NAME  agent=SECTION  user=NAME  queue_id=ID
 *                         optional, at most once each
 *     return=fd|stream|none
 *                         optional: how a changed message comes back
 *                         (default: as the message came)
 *     keep=yes|no         optional: yes keeps the connection open after the
 *                         reply for another MAILSCAN (default no: one per
 *                         connection)
 *   Unknown keys are ignored (newer clients, older daemons); a value holds
 *   no NUL, CR, LF or TAB and is at most WARD_MAILPROTO_MAX_VALUE bytes.
 *   - message=fd: the descriptor of the message (a regular file or memfd,
 *     read from offset 0 with pread, never written) comes as SCM_RIGHTS with
 *     the bytes of the length and envelope (one sendmsg). Unix socket only.
 *   - message=stream: INSTREAM-style chunks follow the envelope, each
 *     BE32 length + bytes, a zero length ends them (TCP clients).
 *
 * Reply, wardd to client:
 *
 *   "WML1" BE32 length L (.. WARD_MAILPROTO_MAX_REPLY), L bytes of lines:
 *     action=accept|defer|discard|reject      always, first
 *     status=clean|infected|not_scanned|...   always (ward_mailproto_status_name)
 *     reply=SMTP REPLY                        always ("250 2.0.0 Ok: clean")
 *     rcpt=ADDR\tACTION\tSTATUS\tREPLY        one per recipient, in order,
 *                                             only when recipients differ
 *     detection=VERDICT\tNAME\tPATH           repeated (at most
 *                                             WARD_MAILPROTO_MAX_DET)
 *     quarantine=ID                           when the original was kept
 *     message=fd|stream|unchanged|none        whether a changed message follows
 *     size=N                                  its size, when one follows
 *     error=TEXT                              why a request was deferred
 *   - message=fd: the changed message's descriptor comes as SCM_RIGHTS with
 *     the reply's first bytes; message=stream: chunks follow as in requests.
 *   Anything that does not start with "WML1" is a plain clamd reply ("UNKNOWN
 *   COMMAND": not a Ward daemon, or an older one), which the client turns
 *   into an error.
 *
 * Failure: wardd answers every request it could read with a reply; a failure
 * to read, parse, scan, change or quarantine is action=defer with a 451
 * reply and error=, never accept. A client that cannot reach wardd, or gets
 * no complete reply within its timeout, gets an error return, which every
 * agent turns into a temporary failure.
 *
 * Contract: parsers never read past the bytes given and never allocate more
 * than the limits below allow; parsed structures own their strings and are
 * freed with their _free function (which also closes a received fd).
 */
#ifndef WARD_PROTO_MAILPROTO_H
#define WARD_PROTO_MAILPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/process.h"
#include "util/buf.h"
#include "util/err.h"

#define WARD_MAILPROTO_CMD "MAILSCAN"
#define WARD_MAILPROTO_MAGIC "WML1"
#define WARD_MAILPROTO_MAX_ENV (1u << 20)     /* envelope block, bytes */
#define WARD_MAILPROTO_MAX_REPLY (4u << 20)   /* reply block, bytes */
#define WARD_MAILPROTO_MAX_RCPTS 10000
#define WARD_MAILPROTO_MAX_VALUE 4096
#define WARD_MAILPROTO_MAX_DET 1000

enum ward_mailproto_xfer {
    WARD_MAILPROTO_FD = 0,    /* a passed descriptor (unix socket) */
    WARD_MAILPROTO_STREAM,    /* BE32-length chunks, zero ends */
    WARD_MAILPROTO_NONE,      /* return=none: the client does not want it back */
    WARD_MAILPROTO_UNCHANGED, /* reply only: no changed message */
};

/* ---- server side (wardd) ------------------------------------------------- */

/* A parsed request envelope; owns its strings. */
struct ward_mailproto_req {
    enum ward_mailproto_xfer message; /* FD or STREAM */
    enum ward_mailproto_xfer ret;     /* FD, STREAM or NONE */
    char *sender;
    char **rcpts;
    size_t n_rcpts;
    char *client_addr, *helo, *agent, *user, *queue_id; /* NULL when absent */
    bool keep;                        /* keep=yes: another MAILSCAN may follow */
};

/*
 * Parse the L envelope bytes (after the BE32 length). WARD_ERR_PARSE or
 * WARD_ERR_LIMIT with a message saying which key or line is wrong.
 */
ward_err ward_mailproto_parse_request(const uint8_t *p, size_t len, struct ward_mailproto_req *req,
                                      struct ward_diag *diag) WARD_MUST_CHECK;
/* The envelope as ward_mail_process takes it; borrows from req. */
void ward_mailproto_req_env(const struct ward_mailproto_req *req, struct ward_mail_env *env);
void ward_mailproto_req_free(struct ward_mailproto_req *req);

/*
 * Append a whole reply ("WML1", length, lines) to out. `res` NULL, or
 * `error` not NULL, makes a defer reply carrying the error text. `message`
 * says what follows the block (FD, STREAM, UNCHANGED or NONE); the caller
 * sends the descriptor or the chunks.
 */
ward_err ward_mailproto_encode_reply(const struct ward_mail_result *res, const char *error,
                                     enum ward_mailproto_xfer message, uint64_t size, ward_buf *out,
                                     struct ward_diag *diag) WARD_MUST_CHECK;

/* ---- client side (agents) ------------------------------------------------ */

struct ward_mailproto_rcpt {
    char *rcpt;
    enum ward_mail_action action;
    enum ward_mail_status status;
    char *reply;
};

struct ward_mailproto_det {
    char *verdict; /* "infected", "suspicious", "not_scanned" */
    char *name;
    char *path;
};

struct ward_mailproto_reply {
    enum ward_mail_action action;
    enum ward_mail_status status;
    char *reply;                      /* SMTP reply line, never NULL after success */
    struct ward_mailproto_rcpt *rcpts; /* only when recipients differ, else NULL/0 */
    size_t n_rcpts;
    struct ward_mailproto_det *det;
    size_t n_det;
    char *quarantine_id;              /* NULL when not kept */
    char *error;                      /* wardd's reason for a defer, or NULL */
    enum ward_mailproto_xfer message; /* FD, STREAM, UNCHANGED or NONE */
    uint64_t size;                    /* of the changed message */
    int msg_fd;                       /* the changed message at offset 0, or -1 */
};

/* Append a request's command, length and envelope to out; `keep` asks wardd
   to keep the connection for another request. */
ward_err ward_mailproto_encode_request(const struct ward_mail_env *env,
                                       enum ward_mailproto_xfer message,
                                       enum ward_mailproto_xfer ret, bool keep, ward_buf *out,
                                       struct ward_diag *diag) WARD_MUST_CHECK;
/* Parse the L reply bytes (after "WML1" and the BE32 length); out->msg_fd = -1. */
ward_err ward_mailproto_parse_reply(const uint8_t *p, size_t len, struct ward_mailproto_reply *out,
                                    struct ward_diag *diag) WARD_MUST_CHECK;
void ward_mailproto_reply_free(struct ward_mailproto_reply *r);

/*
 * Scan one message through wardd at `target` (a unix socket path, or
 * HOST:PORT for TCP). msg_fd is read from offset 0: passed as a descriptor
 * on a unix socket, streamed on TCP. On WARD_OK, out holds wardd's reply
 * (which may be a defer) and out->msg_fd the changed message, or -1 when it
 * is unchanged; the caller frees out. Any other return (cannot connect,
 * timeout, malformed or non-Ward reply) means: temporary failure.
 * timeout_ms bounds every wait for the daemon (0: 10 minutes).
 * `tmpdir` holds a streamed-back message (NULL: $TMPDIR or /tmp).
 */
ward_err ward_mailproto_scan(const char *target, int msg_fd, const struct ward_mail_env *env,
                             unsigned timeout_ms, const char *tmpdir,
                             struct ward_mailproto_reply *out, struct ward_diag *diag)
    WARD_MUST_CHECK;

/*
 * Keep up to `max` connections to wardd open between ward_mailproto_scan()
 * calls, for agents that scan message after message (0, the default: one
 * connection per message). Process-wide; call before the threads start.
 */
void ward_mailproto_keep_connections(unsigned max);

/*
 * The wire names of actions and statuses ("accept", "not_scanned"): the
 * protocol's own, stable, without spaces; and back, false when unknown.
 */
const char *ward_mailproto_action_name(enum ward_mail_action a);
const char *ward_mailproto_status_name(enum ward_mail_status s);
bool ward_mailproto_action(const char *name, enum ward_mail_action *out);
bool ward_mailproto_status(const char *name, enum ward_mail_status *out);

#endif
