/*
 * smtp_cmd.c - the SMTP proxy's wire syntax (proto/smtp.c) on arbitrary
 * bytes. The first byte chooses a chunk size; the input is read as a
 * session: command lines (verbs, MAIL/RCPT paths and parameters, reply
 * lines) until a DATA line, then the data up to its end. Oracles:
 *   - every piece the parsers return lies inside the line given;
 *   - decoding in chunks gives the same message as decoding at once;
 *   - the decoded message has no bare CR or LF;
 *   - stuffing it and decoding again gives the same message back (with its
 *     last line ended when the input had no end of data), and the
 *     end is found exactly at the end of the stuffed bytes (no smuggled
 *     end of data can survive the proxy).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const void *p, size_t n, const void *lo, size_t len)
{
    const char *a = p, *b = lo;
    if (n && (a < b || a + n > b + len))
        abort();
}

static void check_line(const char *line, size_t len)
{
    struct ward_smtp_cmd cmd;
    ward_smtp_parse_cmd(line, len, &cmd);
    if (cmd.arg)
        inside(cmd.arg, cmd.arg_len, line, len);
    (void)ward_smtp_verb_name(cmd.verb);
    static const char *const prefixes[] = {"FROM:", "TO:"};
    for (int k = 0; k < 2; k++) {
        struct ward_smtp_path path;
        if (ward_smtp_parse_path(cmd.arg, cmd.arg_len, prefixes[k], &path) != WARD_SMTP_PATH_OK)
            continue;
        inside(path.addr, path.addr_len, line, len);
        inside(path.params, path.params_len, line, len);
        if (path.addr_len > WARD_SMTP_MAX_PATH || path.n_params > WARD_SMTP_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < path.n_params; i++) {
            inside(path.param[i].key, path.param[i].key_len, line, len);
            if (path.param[i].val)
                inside(path.param[i].val, path.param[i].val_len, line, len);
        }
        (void)ward_smtp_param_get(&path, "SIZE");
    }
    unsigned code;
    bool last;
    if (ward_smtp_parse_reply(line, len, &code, &last) && (code < 200 || code > 599))
        abort();
}

/* Decode all of in, in chunks of `chunk` bytes; returns the message length. */
static size_t decode(const uint8_t *in, size_t n, size_t chunk, uint8_t *out, size_t *used,
                     bool *done)
{
    struct ward_smtp_data d;
    ward_smtp_data_init(&d);
    size_t off = 0, o = 0;
    *done = false;
    while (off < n && !*done) {
        size_t take = n - off < chunk ? n - off : chunk, got;
        size_t u = ward_smtp_data_feed(&d, in + off, take, out + o, &got, done);
        if (u > take || (!*done && u != take))
            abort();
        off += u;
        o += got;
    }
    *used = off;
    if (d.out != o)
        abort();
    return o;
}

static void check_data(const uint8_t *in, size_t n, size_t chunk)
{
    uint8_t *m1 = malloc(2 * n + 4), *m2 = malloc(2 * n + 4);
    size_t u1, u2;
    bool done1, done2;
    if (!m1 || !m2)
        abort();
    size_t l1 = decode(in, n, n ? n : 1, m1, &u1, &done1);
    size_t l2 = decode(in, n, chunk, m2, &u2, &done2);
    if (l1 != l2 || u1 != u2 || done1 != done2 || memcmp(m1, m2, l1) != 0)
        abort();
    for (size_t i = 0; i < l1; i++) {
        if (m1[i] == '\r' && (i + 1 == l1 || m1[i + 1] != '\n'))
            abort();
        if (m1[i] == '\n' && (i == 0 || m1[i - 1] != '\r'))
            abort();
    }
    /* the way out: stuff in chunks too */
    uint8_t *w = malloc(2 * l1 + 2 * (l1 / chunk + 1) + 8), *m3 = malloc(4 * l1 + 32);
    if (!w || !m3)
        abort();
    struct ward_smtp_stuff s;
    ward_smtp_stuff_init(&s);
    size_t wl = 0;
    for (size_t off = 0; off < l1; off += chunk)
        wl += ward_smtp_stuff_feed(&s, m1 + off, l1 - off < chunk ? l1 - off : chunk, w + wl);
    wl += ward_smtp_stuff_end(&s, w + wl);
    size_t u3;
    bool done3;
    size_t l3 = decode(w, wl, wl, m3, &u3, &done3);
    /* a message cut short (no end seen) gets its last line ended on the way out */
    size_t extra = l1 && m1[l1 - 1] != '\n' ? 2 : 0;
    if (!done3 || u3 != wl || l3 != l1 + extra || memcmp(m1, m3, l1) != 0)
        abort();
    if (extra && memcmp(m3 + l1, "\r\n", 2) != 0)
        abort();
    free(m1);
    free(m2);
    free(w);
    free(m3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    uint8_t *buf = malloc(size);
    if (!buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1, off = 0;
    while (off < n) {
        size_t len = 0, used = 0;
        enum ward_smtp_line_result r =
            ward_smtp_line(buf + off, n - off, WARD_SMTP_MAX_CMD, &len, &used);
        if (r == WARD_SMTP_LINE_TOO_LONG) {
            bool found;
            size_t skip = ward_smtp_skip_line(buf + off, n - off, &found);
            if (skip == 0 || skip > n - off)
                abort();
            off += skip;
            continue;
        }
        if (r == WARD_SMTP_LINE_MORE)
            break;
        if (used == 0 || used > n - off || len > used)
            abort();
        /* an exact copy so that a read past the line shows */
        char *line = malloc(len ? len : 1);
        if (!line)
            abort();
        memcpy(line, buf + off, len);
        check_line(line, len);
        struct ward_smtp_cmd cmd;
        ward_smtp_parse_cmd(line, len, &cmd);
        free(line);
        off += used;
        if (cmd.verb == WARD_SMTP_DATA)
            break;
    }
    check_data(buf + off, n - off, chunk);
    free(buf);
    return 0;
}
