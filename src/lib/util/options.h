/*
 * options.h - every ward.conf option: name, section, type, default.
 *
 * The table in options.c is the one list of options; the default config file
 * and the configuration reference are checked against it by the test suite.
 * ward_options_check() validates a parsed file and reports every problem with
 * file, line and option; the typed getters then read values (or defaults)
 * without further checks.
 */
#ifndef WARD_UTIL_OPTIONS_H
#define WARD_UTIL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/conf.h"
#include "util/err.h"

enum ward_opt_type {
    WARD_OPT_STRING,
    WARD_OPT_PATH,
    WARD_OPT_BOOL,
    WARD_OPT_UINT,
    WARD_OPT_SIZE,
    WARD_OPT_DURATION, /* seconds */
    WARD_OPT_MSEC,     /* milliseconds, written as a duration or a number of ms */
    WARD_OPT_ENUM,
    WARD_OPT_REGEX,
    WARD_OPT_LOGLEVEL,
    WARD_OPT_MODE,     /* octal file mode */
    WARD_OPT_HOSTPORT, /* ADDRESS:PORT, or empty for off */
};

struct ward_opt {
    const char *section;
    const char *key;
    enum ward_opt_type type;
    const char *def;     /* default as text; NULL: unset */
    const char *choices; /* WARD_OPT_ENUM: "a|b|c" */
    uint64_t max;        /* WARD_OPT_UINT: upper bound (0: none) */
};

/* The table, ended by an entry with key NULL. */
extern const struct ward_opt ward_options[];

/*
 * The mail policy options (ward_mail_options, ended like ward_options) are
 * declared once for [global] and found under every mail agent's section too
 * (smtp, milter, mda, pipe, cgp, pop3, imap); ward_mail_option_find looks
 * one up by key alone, for the sections of a user_config file.
 */
extern const struct ward_opt ward_mail_options[];

const struct ward_opt *ward_option_find(const char *section, const char *key);
const struct ward_opt *ward_mail_option_find(const char *key);

/*
 * Check every entry of `conf`; each problem is passed to `report` as
 * "FILE:LINE: [section] key: problem". Returns the number of problems.
 */
unsigned ward_options_check(const ward_conf *conf, void (*report)(void *ctx, const char *msg),
                            void *ctx);

/*
 * Parse `path` and check every option, each problem to `report` as above
 * (a file that cannot be read too). NULL path: *out = NULL, the defaults.
 * Returns false on any problem; *out is then NULL.
 */
bool ward_options_load(const char *path, ward_conf **out,
                       void (*report)(void *ctx, const char *msg), void *ctx);

/*
 * Value of an option: the first of `sections` (NULL-terminated, most specific
 * first) that sets it, else the table default (NULL when unset). `conf` may
 * be NULL (defaults only).
 */
const char *ward_opt_str(const ward_conf *conf, const char *const *sections, const char *key);
uint64_t ward_opt_u64(const ward_conf *conf, const char *const *sections, const char *key);
bool ward_opt_bool(const ward_conf *conf, const char *const *sections, const char *key);

/* Parse a value of the given option type (used by command-line overrides too). */
bool ward_opt_parse(const struct ward_opt *opt, const char *value, uint64_t *num,
                    const char **why);

#endif
