/*
 * clamd.h - the clamd protocol: command framing and parsing.
 *
 * A command is "zCMD ARG\0", "nCMD ARG\n" or, in clamd's legacy form,
 * "CMD ARG\n". The parser reads one command from the front of a buffer that
 * may hold a partial command, several commands (a session), or a command
 * followed by binary data (INSTREAM chunks), and never reads past `len`.
 *
 * Contract: the parsed command points into the caller's buffer (arg is not
 * NUL-terminated). Lines longer than `max_line` are an error, not a wait.
 */
#ifndef WARD_PROTO_CLAMD_H
#define WARD_PROTO_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ward_clamd_kind {
    WARD_CLAMD_UNKNOWN = 0,
    WARD_CLAMD_PING,
    WARD_CLAMD_VERSION,
    WARD_CLAMD_VERSIONCOMMANDS,
    WARD_CLAMD_RELOAD,
    WARD_CLAMD_SHUTDOWN,
    WARD_CLAMD_QUIT,
    WARD_CLAMD_SCAN,
    WARD_CLAMD_CONTSCAN,
    WARD_CLAMD_MULTISCAN,
    WARD_CLAMD_ALLMATCHSCAN,
    WARD_CLAMD_INSTREAM,
    WARD_CLAMD_FILDES,
    WARD_CLAMD_STATS,
    WARD_CLAMD_IDSESSION,
    WARD_CLAMD_END,
    WARD_CLAMD_DETSTATSCLEAR,
    WARD_CLAMD_DETSTATS,
    WARD_CLAMD_KIND_COUNT
};

enum ward_clamd_framing {
    WARD_CLAMD_Z,      /* "zCMD\0" */
    WARD_CLAMD_N,      /* "nCMD\n" */
    WARD_CLAMD_LEGACY, /* "CMD\n" */
};

struct ward_clamd_cmd {
    enum ward_clamd_kind kind;
    enum ward_clamd_framing framing;
    const char *name; /* the command word as sent (for logs) */
    size_t name_len;
    const char *arg;  /* after the name and one separator byte; NULL when none */
    size_t arg_len;
    bool trailing_cr; /* an `n` command ended in CR LF: clamd sees a garbage byte */
};

enum ward_clamd_parse_result {
    WARD_CLAMD_NEED_MORE = 0,
    WARD_CLAMD_COMMAND = 1,
    WARD_CLAMD_TOO_LONG = -1,   /* clamd closes without a reply */
    WARD_CLAMD_LEGACY_LINE = 2, /* no z/n prefix: see ward_clamd_parse_legacy */
};

/*
 * Parse the `z` or `n` command at the front of buf; *used is the bytes it
 * takes. A line (between prefix and terminator) longer than max_line is
 * WARD_CLAMD_TOO_LONG (clamd: 4102 bytes).
 */
enum ward_clamd_parse_result ward_clamd_parse(const uint8_t *buf, size_t len, size_t max_line,
                                              struct ward_clamd_cmd *cmd, size_t *used);
/*
 * An unprefixed command: clamd takes the first read of a connection as the
 * whole command, up to its first newline, and accepts only some commands so.
 */
void ward_clamd_parse_legacy(const uint8_t *buf, size_t len, struct ward_clamd_cmd *cmd,
                             size_t *used);
/* Name the command of a line (no prefix, no terminator). */
void ward_clamd_identify(const char *line, size_t n, struct ward_clamd_cmd *cmd);
/* May the command be sent without prefix? Inside an IDSESSION? */
bool ward_clamd_legacy_ok(enum ward_clamd_kind k);
bool ward_clamd_session_ok(enum ward_clamd_kind k);

/* The byte that ends replies for a framing: '\0' for z, '\n' otherwise. */
char ward_clamd_delim(enum ward_clamd_framing f);
const char *ward_clamd_kind_name(enum ward_clamd_kind k);
/* Does the command take a path argument? */
bool ward_clamd_needs_path(enum ward_clamd_kind k);

#endif
