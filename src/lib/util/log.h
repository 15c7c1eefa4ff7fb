/*
 * log.h - leveled logging for Ward's programs.
 *
 * Contract: library code does not print; it may call ward_log(), which does
 * nothing until a program opens a sink with ward_log_open(). Sinks: stderr, a
 * file (appended, reopened on request) or syslog. Six levels, as syslog
 * administrators expect. Thread-safe: each message is written with a single
 * write() call.
 */
#ifndef WARD_UTIL_LOG_H
#define WARD_UTIL_LOG_H

#include <stdbool.h>

#include "util/err.h"

enum ward_log_level {
    WARD_LOG_ERROR = 0,
    WARD_LOG_WARNING,
    WARD_LOG_NOTICE,
    WARD_LOG_INFO,
    WARD_LOG_DEBUG,
    WARD_LOG_TRACE,
};

enum ward_log_sink {
    WARD_LOG_NONE = 0,
    WARD_LOG_STDERR,
    WARD_LOG_FILE,
    WARD_LOG_SYSLOG,
};

/* Parse "error", "warning", "notice", "info", "debug", "trace" (or 0..5). */
bool ward_log_level_parse(const char *s, enum ward_log_level *out);
const char *ward_log_level_name(enum ward_log_level level);

/*
 * Open a sink. `ident` names the program (syslog ident and line prefix);
 * `path` is the file for WARD_LOG_FILE. Replaces any previous sink.
 */
ward_err ward_log_open(enum ward_log_sink sink, const char *ident, const char *path,
                       enum ward_log_level level, struct ward_diag *diag) WARD_MUST_CHECK;
/* Reopen the log file (after logrotate); a no-op for other sinks. */
ward_err ward_log_reopen(struct ward_diag *diag) WARD_MUST_CHECK;
void ward_log_set_level(enum ward_log_level level);
bool ward_log_enabled(enum ward_log_level level);
void ward_log_close(void);

void ward_log(enum ward_log_level level, const char *fmt, ...) WARD_PRINTF(2, 3);

#define WARD_LOG_ERR(...) ward_log(WARD_LOG_ERROR, __VA_ARGS__)
#define WARD_LOG_WARN(...) ward_log(WARD_LOG_WARNING, __VA_ARGS__)
#define WARD_LOG_INFO(...) ward_log(WARD_LOG_INFO, __VA_ARGS__)
#define WARD_LOG_DEBUG(...) ward_log(WARD_LOG_DEBUG, __VA_ARGS__)

#endif
