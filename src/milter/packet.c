/*
 * packet.c - the milter packet codec (see packet.h). Every cursor stays
 * inside the packet: lengths are checked before each read, strings must end
 * with a NUL byte inside the payload.
 */
#include <string.h>

#include "packet.h"

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int milter_frame(const uint8_t *buf, size_t n, struct milter_pkt *out, size_t *used, size_t *need)
{
    *need = 5;
    if (n < 4)
        return 0;
    uint32_t len = get32(buf);
    if (len == 0 || len > MILTER_MAX_LEN)
        return -1;
    *need = 4 + (size_t)len;
    if (n < *need)
        return 0;
    out->cmd = (char)buf[4];
    out->data = buf + 5;
    out->len = len - 1;
    *used = *need;
    return 1;
}

ward_err milter_dec_optneg(const struct milter_pkt *p, struct milter_optneg *out)
{
    /* Newer MTAs may append fields; the three words are what every version has. */
    if (p->len < 12)
        return WARD_ERR_PARSE;
    out->version = get32(p->data);
    out->actions = get32(p->data + 4);
    out->proto = get32(p->data + 8);
    return WARD_OK;
}

/* The NUL-terminated string at p[*off, len), moving *off past it; NULL when unterminated. */
static const char *take_str(const uint8_t *p, size_t len, size_t *off)
{
    if (*off >= len)
        return NULL;
    const uint8_t *z = memchr(p + *off, 0, len - *off);
    if (!z)
        return NULL;
    const char *s = (const char *)p + *off;
    *off = (size_t)(z - p) + 1;
    return s;
}

ward_err milter_dec_connect(const struct milter_pkt *p, struct milter_connect *out)
{
    size_t off = 0;
    out->host = take_str(p->data, p->len, &off);
    if (!out->host || off >= p->len)
        return WARD_ERR_PARSE;
    out->family = (char)p->data[off++];
    out->port = 0;
    out->addr = "";
    if (out->family == 'U')
        return WARD_OK;
    if (out->family != '4' && out->family != '6' && out->family != 'L')
        return WARD_ERR_PARSE;
    if (p->len - off < 2)
        return WARD_ERR_PARSE;
    out->port = (uint16_t)(p->data[off] << 8 | p->data[off + 1]);
    off += 2;
    out->addr = take_str(p->data, p->len, &off);
    return out->addr ? WARD_OK : WARD_ERR_PARSE;
}

ward_err milter_dec_strings(const uint8_t *p, size_t len, const char **v, size_t cap, size_t *n,
                            size_t *more)
{
    *n = 0;
    *more = 0;
    if (len > 0 && p[len - 1] != 0)
        return WARD_ERR_PARSE;
    for (size_t off = 0; off < len;) {
        const char *s = take_str(p, len, &off);
        if (!s)
            return WARD_ERR_PARSE;
        if (*n < cap)
            v[(*n)++] = s;
        else
            (*more)++;
    }
    return WARD_OK;
}

ward_err milter_dec_header(const struct milter_pkt *p, const char **name, const char **value)
{
    const char *v[2];
    size_t n, more;
    if (milter_dec_strings(p->data, p->len, v, 2, &n, &more) || n != 2 || more)
        return WARD_ERR_PARSE;
    *name = v[0];
    *value = v[1];
    return WARD_OK;
}

ward_err milter_dec_macros(const struct milter_pkt *p, char *stage, const uint8_t **pairs,
                           size_t *len)
{
    if (p->len < 1 || (p->len > 1 && p->data[p->len - 1] != 0))
        return WARD_ERR_PARSE;
    *stage = (char)p->data[0];
    *pairs = p->data + 1;
    *len = p->len - 1;
    return WARD_OK;
}

/* Does a macro's wire name match `name`, with or without braces? */
static int macro_is(const char *wire, const char *name)
{
    size_t wl = strlen(wire), nl = strlen(name);
    if (wl == nl + 2 && wire[0] == '{' && wire[wl - 1] == '}')
        return memcmp(wire + 1, name, nl) == 0;
    return strcmp(wire, name) == 0;
}

const char *milter_macro_find(const uint8_t *pairs, size_t len, const char *name)
{
    for (size_t off = 0; off < len;) {
        const char *k = take_str(pairs, len, &off);
        const char *v = take_str(pairs, len, &off);
        if (!k || !v)
            return NULL;
        if (macro_is(k, name))
            return v;
    }
    return NULL;
}

ward_err milter_enc(ward_buf *out, char cmd, const void *p, size_t n)
{
    if (n >= MILTER_MAX_LEN)
        return WARD_ERR_LIMIT;
    uint8_t h[5];
    put32(h, (uint32_t)n + 1);
    h[4] = (uint8_t)cmd;
    size_t keep = out->len;
    if (ward_buf_reserve(out, 5 + n) || ward_buf_append(out, h, 5) ||
        (n && ward_buf_append(out, p, n))) {
        out->len = keep;
        return WARD_ERR_LIMIT;
    }
    return WARD_OK;
}

ward_err milter_enc_str(ward_buf *out, char cmd, const char *s)
{
    return milter_enc(out, cmd, s, strlen(s) + 1);
}

/* Append a packet whose payload is already in parts: header first, then the parts. */
static ward_err enc_parts(ward_buf *out, char cmd, const void *const *part, const size_t *plen,
                          size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (plen[i] >= MILTER_MAX_LEN || total + plen[i] >= MILTER_MAX_LEN)
            return WARD_ERR_LIMIT;
        total += plen[i];
    }
    uint8_t h[5];
    put32(h, (uint32_t)total + 1);
    h[4] = (uint8_t)cmd;
    size_t keep = out->len;
    ward_err err = ward_buf_reserve(out, 5 + total);
    if (!err)
        err = ward_buf_append(out, h, 5);
    for (size_t i = 0; !err && i < n; i++)
        if (plen[i])
            err = ward_buf_append(out, part[i], plen[i]);
    if (err)
        out->len = keep;
    return err ? WARD_ERR_LIMIT : WARD_OK;
}

#define MAX_SYMLISTS 8

ward_err milter_enc_optneg(ward_buf *out, const struct milter_optneg *o,
                           const struct milter_symlist *l, size_t n)
{
    if (n > MAX_SYMLISTS)
        return WARD_ERR_LIMIT;
    uint8_t words[3 * 4], stage[MAX_SYMLISTS][4];
    put32(words, o->version);
    put32(words + 4, o->actions);
    put32(words + 8, o->proto);
    const void *part[1 + 2 * MAX_SYMLISTS];
    size_t plen[1 + 2 * MAX_SYMLISTS], k = 0;
    part[k] = words;
    plen[k++] = sizeof words;
    for (size_t i = 0; i < n; i++) {
        put32(stage[i], l[i].stage);
        part[k] = stage[i];
        plen[k++] = 4;
        part[k] = l[i].names;
        plen[k++] = strlen(l[i].names) + 1;
    }
    return enc_parts(out, MILTER_R_OPTNEG, part, plen, k);
}

ward_err milter_enc_header(ward_buf *out, char cmd, uint32_t index, const char *name,
                           const char *value)
{
    uint8_t idx[4];
    put32(idx, index);
    if (!value)
        value = "";
    const void *part[3] = {idx, name, value};
    size_t plen[3] = {4, strlen(name) + 1, strlen(value) + 1};
    if (cmd == MILTER_R_ADDHEADER)
        return enc_parts(out, cmd, part + 1, plen + 1, 2);
    return enc_parts(out, cmd, part, plen, 3);
}
