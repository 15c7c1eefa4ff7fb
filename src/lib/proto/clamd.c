/* clamd.c - framing and parsing of clamd commands, with clamd's exact rules. */
#include "proto/clamd.h"

#include <string.h>

static const char *const names[WARD_CLAMD_KIND_COUNT] = {
    "", "PING", "VERSION", "VERSIONCOMMANDS", "RELOAD", "SHUTDOWN", "QUIT", "SCAN",
    "CONTSCAN", "MULTISCAN", "ALLMATCHSCAN", "INSTREAM", "FILDES", "STATS", "IDSESSION", "END",
    "DETSTATSCLEAR", "DETSTATS",
};

const char *ward_clamd_kind_name(enum ward_clamd_kind k)
{
    return k < WARD_CLAMD_KIND_COUNT ? names[k] : "";
}

char ward_clamd_delim(enum ward_clamd_framing f)
{
    return f == WARD_CLAMD_Z ? '\0' : '\n';
}

bool ward_clamd_needs_path(enum ward_clamd_kind k)
{
    return k == WARD_CLAMD_SCAN || k == WARD_CLAMD_CONTSCAN || k == WARD_CLAMD_MULTISCAN ||
           k == WARD_CLAMD_ALLMATCHSCAN;
}

bool ward_clamd_legacy_ok(enum ward_clamd_kind k)
{
    switch (k) {
    case WARD_CLAMD_PING:
    case WARD_CLAMD_VERSION:
    case WARD_CLAMD_RELOAD:
    case WARD_CLAMD_SHUTDOWN:
    case WARD_CLAMD_QUIT:
    case WARD_CLAMD_SCAN:
    case WARD_CLAMD_CONTSCAN:
    case WARD_CLAMD_MULTISCAN:
    case WARD_CLAMD_FILDES: return true;
    default: return false;
    }
}

bool ward_clamd_session_ok(enum ward_clamd_kind k)
{
    switch (k) {
    case WARD_CLAMD_PING:
    case WARD_CLAMD_VERSION:
    case WARD_CLAMD_VERSIONCOMMANDS:
    case WARD_CLAMD_STATS:
    case WARD_CLAMD_SCAN:
    case WARD_CLAMD_INSTREAM:
    case WARD_CLAMD_FILDES:
    case WARD_CLAMD_END: return true;
    default: return false;
    }
}

/*
 * Name the command in line[0..n): a command without argument must be the
 * whole line; one with an argument is its name, any one byte, then the
 * argument verbatim (clamd trims nothing: "SCAN  /p" scans " /p").
 */
void ward_clamd_identify(const char *line, size_t n, struct ward_clamd_cmd *cmd)
{
    cmd->kind = WARD_CLAMD_UNKNOWN;
    cmd->name = line;
    cmd->name_len = n;
    cmd->arg = NULL;
    cmd->arg_len = 0;
    for (int k = 1; k < WARD_CLAMD_KIND_COUNT; k++) {
        size_t len = strlen(names[k]);
        if (n < len || memcmp(line, names[k], len) != 0)
            continue;
        bool takes_arg = ward_clamd_needs_path((enum ward_clamd_kind)k);
        if (takes_arg ? n <= len : n != len)
            continue;
        cmd->kind = (enum ward_clamd_kind)k;
        cmd->name_len = len;
        if (takes_arg) {
            cmd->arg = line + len + 1;
            cmd->arg_len = n - len - 1;
        }
        return;
    }
}

enum ward_clamd_parse_result ward_clamd_parse(const uint8_t *buf, size_t len, size_t max_line,
                                              struct ward_clamd_cmd *cmd, size_t *used)
{
    if (len == 0)
        return WARD_CLAMD_NEED_MORE;
    char delim;
    if (buf[0] == 'z') {
        cmd->framing = WARD_CLAMD_Z;
        delim = '\0';
    } else if (buf[0] == 'n') {
        cmd->framing = WARD_CLAMD_N;
        delim = '\n';
    } else {
        return WARD_CLAMD_LEGACY_LINE;
    }
    /* the line between the prefix and the terminator is at most max_line bytes */
    size_t lim = len - 1 < max_line + 1 ? len - 1 : max_line + 1;
    const uint8_t *end = memchr(buf + 1, delim, lim);
    if (!end)
        return len - 1 > max_line ? WARD_CLAMD_TOO_LONG : WARD_CLAMD_NEED_MORE;
    size_t n = (size_t)(end - buf) - 1;
    *used = n + 2;
    cmd->trailing_cr = false;
    if (cmd->framing == WARD_CLAMD_N && n && buf[n] == '\r') {
        /* clamd drops the CR and leaves a byte behind it: garbage after the command */
        n--;
        cmd->trailing_cr = true;
    }
    ward_clamd_identify((const char *)buf + 1, n, cmd);
    return WARD_CLAMD_COMMAND;
}

void ward_clamd_parse_legacy(const uint8_t *buf, size_t len, struct ward_clamd_cmd *cmd,
                             size_t *used)
{
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) : len;
    *used = nl ? n + 1 : len;
    while (n && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        n--;
    cmd->framing = WARD_CLAMD_LEGACY;
    cmd->trailing_cr = false;
    ward_clamd_identify((const char *)buf, n, cmd);
    if (!ward_clamd_legacy_ok(cmd->kind)) {
        cmd->kind = WARD_CLAMD_UNKNOWN;
        cmd->arg = NULL;
        cmd->arg_len = 0;
    }
}
