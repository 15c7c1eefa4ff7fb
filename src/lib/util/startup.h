/*
 * startup.h - the start-up every Ward daemon shares, so that each behaves
 * the same: one command line (--foreground, --config, --version, --help),
 * the pid file
 * written before going to the background, and the log opened where the
 * settings say.
 *
 * Contract: only ward_startup_usage and ward_startup_answer print (what the
 * command line asked for); the others return errors with a message.
 */
#ifndef WARD_UTIL_STARTUP_H
#define WARD_UTIL_STARTUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/err.h"

enum ward_startup_cmd {
    WARD_STARTUP_RUN,
    WARD_STARTUP_VERSION, /* print the version, exit 0 */
    WARD_STARTUP_HELP,    /* print the usage, exit 0 */
    WARD_STARTUP_BAD,     /* print the usage on stderr, exit 2 */
};

struct ward_startup {
    bool foreground;
    bool compile_only; /* --compile-only (wardd's own helper mode) */
    /* the file given with --config, else the installed ward.conf when it
       exists, else NULL (built-in defaults) */
    const char *config;
    char default_config[PATH_MAX];
};

/* Read a daemon's command line. `extra_compile_only` accepts --compile-only. */
enum ward_startup_cmd ward_startup_args(int argc, char **argv, bool extra_compile_only,
                                        struct ward_startup *st);

/* The usage text of `prog` into f. */
void ward_startup_usage(FILE *f, const char *prog);

/*
 * For a command line that does not run the daemon: print the version or
 * the usage as it asked, and return the exit status (0, or 2 for a bad one).
 */
int ward_startup_answer(enum ward_startup_cmd cmd, const char *prog);

/*
 * The pid file (when `pid_file` is not empty) and, unless `foreground`, the
 * move to the background with the pid rewritten. *pid_fd is -1 without one.
 */
ward_err ward_startup_detach(const char *pid_file, bool foreground, int *pid_fd,
                             struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * The daemon's log: `log_file` when set, else syslog when asked for or in the
 * background, else standard error.
 */
ward_err ward_startup_log(const char *prog, const char *log_file, int level, bool syslog,
                          bool foreground, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
