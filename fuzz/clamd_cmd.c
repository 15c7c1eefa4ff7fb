/*
 * clamd_cmd.c - wardd's command reader (proto/clamd.c) on arbitrary bytes:
 * z/n framing, unprefixed lines, command names with and without arguments.
 * Reads the input as a connection would: command after command until the
 * parser wants more, with checks that every piece it returns lies inside
 * the bytes given and that nothing is consumed twice.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cmd(const struct ward_clamd_cmd *c, const uint8_t *p, size_t n)
{
    const char *lo = (const char *)p, *hi = lo + n;
    if ((unsigned)c->kind >= WARD_CLAMD_KIND_COUNT)
        abort();
    if (c->name < lo || c->name + c->name_len > hi)
        abort();
    if (c->arg && (c->arg < lo || c->arg + c->arg_len > hi))
        abort();
    if (c->arg && !ward_clamd_needs_path(c->kind))
        abort();
    (void)ward_clamd_kind_name(c->kind);
    (void)ward_clamd_session_ok(c->kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exactly-sized copy, so that a read past the end shows */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    size_t off = 0;
    for (int rounds = 0; off < size && rounds < 1000; rounds++) {
        struct ward_clamd_cmd cmd;
        size_t used = 0;
        enum ward_clamd_parse_result r = ward_clamd_parse(buf + off, size - off, 4102, &cmd, &used);
        if (r == WARD_CLAMD_LEGACY_LINE) {
            ward_clamd_parse_legacy(buf + off, size - off, &cmd, &used);
            if (!ward_clamd_legacy_ok(cmd.kind) && cmd.kind != WARD_CLAMD_UNKNOWN)
                abort();
        } else if (r != WARD_CLAMD_COMMAND) {
            break;
        }
        if (used == 0 || used > size - off)
            abort();
        check_cmd(&cmd, buf + off, used);
        off += used;
    }
    free(buf);
    return 0;
}
