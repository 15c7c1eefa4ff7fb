/*
 * session.h - one MTA connection speaking the milter protocol: negotiate,
 * read the MTA's commands through a buffered reader, call the handlers in
 * milter.h, answer only the steps the MTA waits for, and at the end of each
 * message send the modifications and the final reply.
 *
 * The session knows nothing of sockets: it reads and writes through a
 * milter_io, so that the daemon runs it on a socket and the fuzz target on a
 * memory buffer.
 */
#ifndef WARD_MILTER_SESSION_H
#define WARD_MILTER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "packet.h"
#include "util/buf.h"
#include "util/err.h"

struct milter_io {
    /*
     * Read up to n bytes: the count, 0 at the end of the stream, -1 on error
     * (errno). wait_all: the rest of a packet, which the MTA is bound to send:
     * the reader may wait for all n bytes (fewer returns for a body chunk
     * that the MTA writes in pieces).
     */
    ssize_t (*read)(void *ctx, void *buf, size_t n, bool wait_all);
    /* Write all n bytes: 0, or -1 on error (errno). */
    int (*write)(void *ctx, const void *buf, size_t n);
    void *ctx;
};

/* The final answer for a message. */
enum milter_verdict {
    MILTER_CONTINUE,
    MILTER_ACCEPT,
    MILTER_REJECT,
    MILTER_TEMPFAIL,
    MILTER_DISCARD,
};

struct milter_sess;

/*
 * Serve one MTA connection until the MTA quits or closes it. WARD_OK for an
 * orderly end; otherwise the reason (I/O error or timeout, a malformed,
 * oversize or unexpected packet) in diag. The handlers' state lives and dies
 * with the call.
 */
ward_err milter_session_run(const struct milter_io *io, struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * For the end-of-message handler: modifications, sent before the final
 * reply. Each fails (WARD_ERR_UNSUPPORTED) when the MTA did not agree to the
 * action, or with the I/O error that ends the session.
 */
ward_err milter_sess_insheader(struct milter_sess *s, uint32_t index, const char *name,
                               const char *value) WARD_MUST_CHECK;
/* value NULL deletes the index'th field (1-based) of that name. */
ward_err milter_sess_chgheader(struct milter_sess *s, uint32_t index, const char *name,
                               const char *value) WARD_MUST_CHECK;
/* A piece of the new body; the pieces concatenate. n == 0 still starts a replacement. */
ward_err milter_sess_replbody(struct milter_sess *s, const void *p, size_t n) WARD_MUST_CHECK;
ward_err milter_sess_delrcpt(struct milter_sess *s, const char *rcpt) WARD_MUST_CHECK;
ward_err milter_sess_quarantine(struct milter_sess *s, const char *reason) WARD_MUST_CHECK;
/* The reply line ("550 5.7.1 text") sent with a reject or tempfail verdict. */
void milter_sess_setreply(struct milter_sess *s, const char *line);
/* A macro's value from any stage the MTA sent it for ("i": the queue id), or NULL. */
const char *milter_sess_macro(const struct milter_sess *s, const char *name);
/* The connection state of the handlers. */
struct milter_conn *milter_sess_conn(struct milter_sess *s);

#endif
