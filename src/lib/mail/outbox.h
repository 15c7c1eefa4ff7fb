/*
 * outbox.h - notices and exec_script runs, done after the message's answer.
 *
 * A notice relay that is slow, or a script that takes its whole
 * exec_script_timeout, must not hold the verdict: the agent in front of
 * wardd (a milter, an SMTP proxy) waits for it with a timeout below the
 * MTA's, and a verdict that comes too late turns into a temporary failure,
 * a retry, and the notice sent again. So wardd composes each notice and
 * script environment while it has the message, and one background thread
 * sends and runs them in order.
 *
 * Bounded: at most `max_items` waiting, holding at most `max_bytes`; when
 * full, ward_outbox_* refuse and the caller does the work itself (slower
 * answers rather than unbounded memory).
 *
 * Contract: safe for concurrent use. Failures are logged (warning) by the
 * thread; nothing is retried.
 */
#ifndef WARD_MAIL_OUTBOX_H
#define WARD_MAIL_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/sendmsg.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct ward_outbox ward_outbox;

ward_err ward_outbox_new(unsigned max_items, size_t max_bytes, ward_outbox **out) WARD_MUST_CHECK;

/*
 * Stop taking work, give what is queued up to `drain_ms` to finish, then
 * free. What is still waiting then is logged and dropped; one still running
 * is left to finish on its own (only for a process about to exit).
 */
void ward_outbox_free(ward_outbox *o, unsigned drain_ms);

/*
 * Queue a notice: sent with `s` (its strings are copied) from the null
 * sender to rcpts. Takes `msg` (left empty) when it returns true; `what`
 * names it in the log ("notice to sender (a@b)").
 */
bool ward_outbox_notice(ward_outbox *o, const struct ward_sendmsg *s, const char *const *rcpts,
                        size_t n_rcpts, ward_buf *msg, const char *what);

/* Queue a program run: argv[0] = path, the environment envp (taken when true). */
bool ward_outbox_program(ward_outbox *o, const char *path, char **envp, uint64_t timeout_ms);

/* Items waiting or running now (for tests and STATS). */
unsigned ward_outbox_pending(ward_outbox *o);

#endif
