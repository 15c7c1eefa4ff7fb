/*
 * agent.h - what the one-shot mail agents (ward-pipe, ward-mda) share: their
 * settings from ward.conf, the message on standard input made into a file
 * that can be passed to wardd, and the exit codes MTAs understand.
 *
 * An agent runs once per message under the MTA's user, sends the message
 * to wardd with MAILSCAN (proto/mailproto.h) and turns the reply into an
 * exit code. A failure to read, spool or reach wardd is always a temporary
 * failure, never a pass.
 *
 * Contract: nothing here prints or exits; errors come back in a ward_diag.
 */
#ifndef WARD_PROTO_AGENT_H
#define WARD_PROTO_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "mail/process.h"
#include "util/conf.h"
#include "util/err.h"

/* Which exit codes the MTA expects. */
enum ward_agent_codes {
    WARD_CODES_AUTO = 0, /* qmail's when run under qmail, else sysexits */
    WARD_CODES_QMAIL,
    WARD_CODES_SYSEXITS,
};

struct ward_agent_cfg {
    char wardd[PATH_MAX];       /* wardd's socket or HOST:PORT */
    unsigned timeout_ms;        /* for wardd's reply */
    char tmp_dir[PATH_MAX];
    enum ward_agent_codes codes;
    char mda_path[PATH_MAX];    /* [mda] only */
};

/*
 * Read the agent's section (`section`: "pipe" or "mda") of the file at
 * `path` (NULL: the installed default, if any). Every problem goes to
 * report as "FILE:LINE: [section] key: problem"; false when there was one.
 */
bool ward_agent_load(const char *path, const char *section, struct ward_agent_cfg *cfg,
                     void (*report)(void *ctx, const char *msg), void *ctx);

/* "auto", "qmail", "sysexits"; false otherwise. */
bool ward_agent_codes_parse(const char *s, enum ward_agent_codes *out);

/*
 * The message on descriptor `in` as a file readable from offset 0: `in`
 * itself when it is a regular file at offset 0 (qmail-qfilter's temporary
 * file), else an unlinked copy in tmp_dir. *owned tells whether the caller
 * closes *out.
 */
ward_err ward_agent_spool(int in, const char *tmp_dir, int *out, bool *owned,
                          struct ward_diag *diag) WARD_MUST_CHECK;

/* Copy the whole of `from` (from offset 0) to `to`. */
ward_err ward_agent_copy(int from, int to, struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * qmail-qfilter's envelope: QMAILUSER@QMAILHOST and the recipients of
 * QMAILRCPTS (one a line). Returns false when not run under it. The
 * strings point into `storage` (freed by the caller) and the environment.
 */
bool ward_agent_qmail_env(const char **sender, char ***rcpts, size_t *n, char **storage);

#endif
