/*
 * conf.h - the INI file reader behind ward.conf and user_config files.
 *
 * Syntax: `[section]` headers, `key = value` lines, `#` or `;` comment lines.
 * A value may be "double quoted" (with \" and \\ escapes); an unquoted value
 * ends at a ` #` or ` ;` comment. Keys before any section belong to
 * "global". Every entry remembers its line so that errors name file:line.
 *
 * Contract: the ward_conf owns all strings. Parsing is bounded (file size and
 * line length, see limits.h) and fails with a message naming file and line.
 * This module only reads syntax; option names and types are checked by
 * options.h.
 */
#ifndef WARD_UTIL_CONF_H
#define WARD_UTIL_CONF_H

#include <stddef.h>

#include "util/err.h"

struct ward_conf_entry {
    char *section;
    char *key;
    char *value;
    unsigned line;
};

struct ward_conf_section {
    char *name;
    unsigned line;
};

typedef struct ward_conf {
    char *path;
    struct ward_conf_entry *entries;
    size_t n_entries, cap_entries;
    struct ward_conf_section *sections; /* in file order, each name once */
    size_t n_sections, cap_sections;
} ward_conf;

ward_err ward_conf_parse_file(const char *path, ward_conf **out, struct ward_diag *diag)
    WARD_MUST_CHECK;
/* `name` is used in messages in place of a path. */
ward_err ward_conf_parse_mem(const char *name, const char *text, size_t len, ward_conf **out,
                             struct ward_diag *diag) WARD_MUST_CHECK;
void ward_conf_free(ward_conf *conf);

/* The last entry for section/key, or NULL. */
const struct ward_conf_entry *ward_conf_find(const ward_conf *conf, const char *section,
                                             const char *key);
/* The section record, or NULL. */
const struct ward_conf_section *ward_conf_section(const ward_conf *conf, const char *section);

#endif
