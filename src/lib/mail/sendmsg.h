/*
 * sendmsg.h - hand one message Ward wrote (a notice) to the mail system:
 * to the sendmail program, or by SMTP to a relay.
 *
 * The sendmail program runs as `sendmail -i -f FROM -- RCPT...` without a
 * shell, the message on its standard input. The SMTP client is small and
 * bounded: one connection, EHLO (HELO when refused), MAIL, RCPT, DATA with
 * dot-stuffing, QUIT; reply lines are capped and a deadline bounds the
 * whole exchange. Both run under one deadline and never raise SIGPIPE.
 *
 * Contract: a failure is an error with the reason (the peer's reply
 * included); nothing is retried here.
 */
#ifndef WARD_MAIL_SENDMSG_H
#define WARD_MAIL_SENDMSG_H

#include <stddef.h>

#include "util/err.h"

struct ward_sendmsg {
    const char *sendmail_path; /* used when relay is NULL or "" */
    const char *relay;         /* "host:port", "[v6]:port" */
    const char *helo;          /* our name for EHLO */
    unsigned timeout_ms;       /* the whole delivery; 0: 60 s */
};

/* from "" is the null sender <> (notices use it, so they never bounce). */
ward_err ward_sendmsg(const struct ward_sendmsg *s, const char *from, const char *const *rcpts,
                      size_t n_rcpts, const void *msg, size_t len,
                      struct ward_diag *diag) WARD_MUST_CHECK;

#endif
