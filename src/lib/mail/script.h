/*
 * script.h - programs the mail policy runs: exec_script, and the sendmail
 * program behind notices.
 *
 * A program runs without a shell (argv as given, nothing from a message is
 * ever parsed as shell syntax), in its own process group, with standard
 * output and error on /dev/null; after its deadline the whole group is
 * killed. exec_script gets the details of the message in WARD_* variables
 * (WARD_STATUS, WARD_ACTION, WARD_VIRUSNAME, WARD_SENDER, WARD_RECIPIENTS,
 * WARD_SUBJECT, WARD_MESSAGEID, WARD_QUARANTINE_ID, WARD_HOSTNAME,
 * WARD_AGENT, WARD_CLIENT_ADDR, WARD_HELO, WARD_QUEUE_ID), each stripped of
 * control bytes and cut at 1000 bytes, with PATH=/usr/bin:/bin and nothing
 * else from wardd's environment.
 *
 * Contract: errors name the program and why (exit status, signal, time).
 */
#ifndef WARD_MAIL_SCRIPT_H
#define WARD_MAIL_SCRIPT_H

#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct ward_mail_ctx;
struct ward_mail_env;
struct ward_mail_result;
struct ward_msginfo;
struct ward_outbox;

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ward_clock_ms(void);

/* Start argv[0] (an absolute path) with stdin from stdin_fd (-1: /dev/null). */
ward_err ward_spawn(const char *const *argv, const char *const *envp, int stdin_fd, pid_t *pid,
                    struct ward_diag *diag) WARD_MUST_CHECK;
/* Wait for it until deadline_ms (ward_clock_ms), else kill its group; non-zero exit is an error. */
ward_err ward_spawn_wait(pid_t pid, int64_t deadline_ms, const char *what,
                         struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * Run exec_script (path) for a processed message, bounded by timeout_s; with
 * an outbox it is queued there and runs after the answer (an error is then
 * only about building its environment).
 */
ward_err ward_mail_script(const char *path, uint64_t timeout_s, const struct ward_mail_env *env,
                          const struct ward_mail_result *res, const struct ward_msginfo *mi,
                          struct ward_outbox *outbox, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
