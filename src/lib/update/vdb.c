/* vdb.c - ClamAV containers as editable member lists, and .cld output. */
#include "update/vdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/limits.h"
#include "util/strutil.h"

ward_err ward_vdb_head_parse(const void *data, size_t len, struct ward_vdb_head *h)
{
    char head[WARD_CVD_HEADER + 1];
    if (len < WARD_CVD_HEADER || memcmp(data, "ClamAV-VDB:", 11) != 0)
        return WARD_ERR_PARSE;
    memcpy(head, data, WARD_CVD_HEADER);
    head[WARD_CVD_HEADER] = 0;
    head[strcspn(head, "\r\n")] = 0;
    size_t n = strlen(head);
    while (n && head[n - 1] == ' ')
        head[--n] = 0;
    char *f[10];
    uint64_t v[3];
    size_t nf = ward_str_split(head, ':', f, 10);
    if (nf < 8)
        return WARD_ERR_PARSE;
    for (int i = 0; i < 3; i++)
        if (!ward_parse_u64(f[2 + i], &v[i]) || v[i] > UINT32_MAX)
            return WARD_ERR_PARSE;
    memset(h, 0, sizeof *h);
    h->version = (unsigned)v[0];
    h->sigs = (unsigned)v[1];
    h->flevel = (unsigned)v[2];
    if (nf > 8)
        (void)ward_parse_u64(f[8], &h->stime);
    return WARD_OK;
}

ward_err ward_gunzip(const void *in, size_t len, ward_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return WARD_ERR_NOMEM;
    uint8_t chunk[1 << 16];
    ward_err e = WARD_OK;
    const uint8_t *p = in;
    size_t left = len;
    for (;;) {
        if (zs.avail_in == 0 && left) {
            zs.next_in = (Bytef *)p;
            zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            p += zs.avail_in;
            left -= zs.avail_in;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        int r = inflate(&zs, Z_NO_FLUSH);
        size_t got = sizeof chunk - zs.avail_out;
        if (got && (e = ward_buf_append(out, chunk, got)))
            break;
        if (r == Z_STREAM_END)
            break;
        if ((r != Z_OK && r != Z_BUF_ERROR) || (got == 0 && zs.avail_in == 0 && !left)) {
            e = WARD_ERR_CORRUPT;
            break;
        }
    }
    inflateEnd(&zs);
    return e;
}

static ward_err gzip(const uint8_t *in, size_t len, ward_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* level 1: a .cld is rewritten at every update; size matters less than time */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return WARD_ERR_NOMEM;
    uint8_t chunk[1 << 16];
    ward_err e = WARD_OK;
    size_t left = len;
    int r;
    do {
        if (zs.avail_in == 0 && left) {
            zs.next_in = (Bytef *)(in + (len - left));
            zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            left -= zs.avail_in;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        r = deflate(&zs, left || zs.avail_in ? Z_NO_FLUSH : Z_FINISH);
        if ((e = ward_buf_append(out, chunk, sizeof chunk - zs.avail_out)))
            break;
    } while (r != Z_STREAM_END && r != Z_STREAM_ERROR);
    deflateEnd(&zs);
    return e ? e : r == Z_STREAM_END ? WARD_OK : WARD_ERR_INTERNAL;
}

struct ward_vdb_member *ward_vdb_find(struct ward_vdb *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->m[i].name, name) == 0)
            return &v->m[i];
    return NULL;
}

ward_err ward_vdb_open(struct ward_vdb *v, const char *name, struct ward_vdb_member **out)
{
    if ((*out = ward_vdb_find(v, name)))
        return WARD_OK;
    if (strlen(name) >= sizeof v->m->name || strchr(name, '/'))
        return WARD_ERR_PARSE;
    if (v->n >= WARD_VDB_MAX_MEMBERS)
        return WARD_ERR_LIMIT;
    struct ward_vdb_member *m = realloc(v->m, (v->n + 1) * sizeof *m);
    if (!m)
        return WARD_ERR_NOMEM;
    v->m = m;
    *out = &v->m[v->n++];
    snprintf((*out)->name, sizeof (*out)->name, "%s", name);
    ward_buf_init(&(*out)->data, WARD_DB_MAX_FILE);
    return WARD_OK;
}

void ward_vdb_remove(struct ward_vdb *v, const char *name)
{
    struct ward_vdb_member *m = ward_vdb_find(v, name);
    if (!m)
        return;
    ward_buf_free(&m->data);
    size_t i = (size_t)(m - v->m);
    memmove(&v->m[i], &v->m[i + 1], (v->n - i - 1) * sizeof *m);
    v->n--;
}

void ward_vdb_free(struct ward_vdb *v)
{
    for (size_t i = 0; i < v->n; i++)
        ward_buf_free(&v->m[i].data);
    free(v->m);
    memset(v, 0, sizeof *v);
}

/* The octal size field of a tar header; false when malformed. */
static bool tar_size(const uint8_t *h, uint64_t *size)
{
    uint64_t s = 0;
    for (int i = 124; i < 136 && h[i]; i++) {
        if (h[i] == ' ')
            continue;
        if (h[i] < '0' || h[i] > '7' || s > (WARD_VDB_MAX_TAR >> 3))
            return false;
        s = s * 8 + (uint64_t)(h[i] - '0');
    }
    *size = s;
    return true;
}

ward_err ward_vdb_read(const char *base, const void *data, size_t len, struct ward_vdb *v,
                       struct ward_diag *diag)
{
    memset(v, 0, sizeof *v);
    snprintf(v->base, sizeof v->base, "%s", base);
    if (ward_vdb_head_parse(data, len, &v->head))
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: not a ClamAV database container", base);
    const uint8_t *t = (const uint8_t *)data + WARD_CVD_HEADER;
    size_t tlen = len - WARD_CVD_HEADER;
    ward_buf plain;
    ward_buf_init(&plain, WARD_VDB_MAX_TAR);
    if (!(tlen >= 7 && memcmp(t, "COPYING", 7) == 0)) {
        ward_err e = ward_gunzip(t, tlen, &plain);
        if (e) {
            ward_buf_free(&plain);
            return ward_diag_set(diag, e, "%s: cannot decompress the container", base);
        }
        t = plain.data;
        tlen = plain.len;
    }
    ward_err e = WARD_OK;
    for (size_t pos = 0; pos + 512 <= tlen && t[pos];) {
        const uint8_t *h = t + pos;
        uint64_t size;
        char name[101];
        memcpy(name, h, 100);
        name[100] = 0;
        struct ward_vdb_member *m;
        if (!tar_size(h, &size) || size > tlen - pos - 512 || (h[156] != '0' && h[156] != 0)) {
            e = ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: malformed tar member", base);
            break;
        }
        if (!name[0] || ward_vdb_find(v, name) || (e = ward_vdb_open(v, name, &m)) ||
            (e = ward_buf_append(&m->data, h + 512, (size_t)size))) {
            e = ward_diag_set(diag, e ? e : WARD_ERR_CORRUPT, "%s: bad tar member '%s'", base,
                              name);
            break;
        }
        pos += 512 + (size_t)((size + 511) / 512) * 512;
    }
    ward_buf_free(&plain);
    if (e)
        ward_vdb_free(v);
    return e;
}

static ward_err tar_add(ward_buf *out, const char *name, const ward_buf *data, uint64_t mtime)
{
    uint8_t h[512] = {0};
    size_t nl = strlen(name);
    memcpy(h, name, nl < 100 ? nl : 100); /* ustar: a 100-byte name has no NUL */
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)data->len);
    snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)mtime & 077777777777ull);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    static const uint8_t zero[512];
    ward_err e = ward_buf_append(out, h, 512);
    if (!e && data->len)
        e = ward_buf_append(out, data->data, data->len);
    if (!e && data->len % 512)
        e = ward_buf_append(out, zero, 512 - data->len % 512);
    return e;
}

ward_err ward_vdb_write_cld(const struct ward_vdb *v, ward_buf *out, struct ward_diag *diag)
{
    char info_name[80];
    snprintf(info_name, sizeof info_name, "%s.info", v->base);
    const struct ward_vdb_member *info = NULL, *copying = NULL;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->m[i].name, info_name) == 0)
            info = &v->m[i];
        else if (strcmp(v->m[i].name, "COPYING") == 0)
            copying = &v->m[i];
    }
    if (!info)
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: no %s in the container", v->base,
                             info_name);
    /* The header is the first line of the .info, as freshclam writes it. */
    const char *nl = memchr(info->data.data, '\n', info->data.len);
    size_t hl = nl ? (size_t)((const uint8_t *)nl - info->data.data) : info->data.len;
    struct ward_vdb_head h;
    uint8_t head[WARD_CVD_HEADER];
    memset(head, ' ', sizeof head);
    if (hl < WARD_CVD_HEADER)
        memcpy(head, info->data.data, hl);
    if (hl >= WARD_CVD_HEADER || ward_vdb_head_parse(head, sizeof head, &h))
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: %s has no valid header line", v->base,
                             info_name);
    ward_buf tar;
    ward_buf_init(&tar, WARD_VDB_MAX_TAR);
    ward_err e = WARD_OK;
    if (copying)
        e = tar_add(&tar, "COPYING", &copying->data, h.stime);
    if (!e)
        e = tar_add(&tar, info_name, &info->data, h.stime);
    for (size_t i = 0; !e && i < v->n; i++)
        if (&v->m[i] != info && &v->m[i] != copying)
            e = tar_add(&tar, v->m[i].name, &v->m[i].data, h.stime);
    static const uint8_t zero[1024];
    if (!e)
        e = ward_buf_append(&tar, zero, sizeof zero);
    if (!e)
        e = ward_buf_append(out, head, sizeof head);
    if (!e)
        e = copying ? ward_buf_append(out, tar.data, tar.len) : gzip(tar.data, tar.len, out);
    ward_buf_free(&tar);
    if (e)
        return ward_diag_set(diag, e, "%s: cannot write the .cld", v->base);
    return WARD_OK;
}
