/*
 * scan_async.h - MAILSCAN from the event loop (scan_async.c), for a wardd
 * on a unix socket with kept connections.
 */
#ifndef WARD_SMTPD_SCAN_ASYNC_H
#define WARD_SMTPD_SCAN_ASYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto/mailproto.h"

/*
 * The result, in the loop: err WARD_OK with wardd's reply (the callee owns
 * it now), or an error with diag saying why (reply NULL).
 */
typedef void (*smtpd_ascan_cb)(void *arg, ward_err err, struct ward_diag *diag,
                               struct ward_mailproto_reply *reply);

/*
 * Send the request for msg_fd with env (copied at once) to wardd at target;
 * cb runs once, by deadline_ms (monotonic) at the latest. false: nothing was
 * sent and cb will not run; the caller scans another way (a TCP target, a
 * request too big for one send, a connection that would have to wait).
 */
bool smtpd_ascan_start(struct event_base *base, const char *target, int msg_fd,
                       const struct ward_mail_env *env, int64_t deadline_ms, smtpd_ascan_cb cb,
                       void *arg);

#endif
