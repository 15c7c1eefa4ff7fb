/* clamd.c - framing and parsing of clamd commands. */
#include "proto/clamd.h"

#include <string.h>

static const char *const names[WARD_CLAMD_KIND_COUNT] = {
    "", "PING", "VERSION", "VERSIONCOMMANDS", "RELOAD", "SHUTDOWN", "SCAN", "CONTSCAN",
    "MULTISCAN", "ALLMATCHSCAN", "INSTREAM", "FILDES", "STATS", "IDSESSION", "END",
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

static enum ward_clamd_kind lookup(const char *w, size_t n)
{
    for (int k = 1; k < WARD_CLAMD_KIND_COUNT; k++)
        if (strlen(names[k]) == n && memcmp(names[k], w, n) == 0)
            return (enum ward_clamd_kind)k;
    return WARD_CLAMD_UNKNOWN;
}

enum ward_clamd_parse_result ward_clamd_parse(const uint8_t *buf, size_t len, size_t max_line,
                                              struct ward_clamd_cmd *cmd, size_t *used)
{
    if (len == 0)
        return WARD_CLAMD_NEED_MORE;
    size_t start = 0;
    char delim = '\n';
    cmd->framing = WARD_CLAMD_LEGACY;
    if (buf[0] == 'z') {
        cmd->framing = WARD_CLAMD_Z;
        delim = '\0';
        start = 1;
    } else if (buf[0] == 'n') {
        cmd->framing = WARD_CLAMD_N;
        start = 1;
    }
    size_t lim = len < max_line + 1 ? len : max_line + 1;
    const uint8_t *end = memchr(buf + start, delim, lim - start);
    if (!end)
        return len > max_line ? WARD_CLAMD_TOO_LONG : WARD_CLAMD_NEED_MORE;
    size_t line_end = (size_t)(end - buf);
    *used = line_end + 1;
    /* A legacy line may end in CRLF. */
    size_t stop = line_end;
    if (cmd->framing == WARD_CLAMD_LEGACY && stop > start && buf[stop - 1] == '\r')
        stop--;
    const char *w = (const char *)buf + start;
    size_t n = stop - start;
    const char *sp = memchr(w, ' ', n);
    cmd->name = w;
    cmd->name_len = sp ? (size_t)(sp - w) : n;
    cmd->arg = sp ? sp + 1 : NULL;
    cmd->arg_len = sp ? n - cmd->name_len - 1 : 0;
    cmd->kind = lookup(w, cmd->name_len);
    return WARD_CLAMD_COMMAND;
}
