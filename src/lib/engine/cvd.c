/*
 * cvd.c - ClamAV database containers: .cvd (signed), .cld (local, after
 * .cdiff updates) and .cud (unsigned).
 *
 * Layout: a 512-byte text header
 *     ClamAV-VDB:time:version:signatures:flevel:md5:dsig:builder[:stime]
 * padded with spaces, then a tar (a .cld) or a gzip-compressed tar. For a
 * .cvd the header's MD5 covers the bytes after the header and the dsig signs
 * that MD5. Inside, NAME.info lists every database file with its size and
 * SHA-256 and ends with a DSIG line signing everything before it; every
 * member with a database extension must match its entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "engine/db_int.h"
#include "engine/dsig.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/limits.h"
#include "util/strutil.h"

#define CVD_MAX_PAYLOAD (4ull << 30)

struct cvd_header {
    unsigned version, sigs, flevel;
    uint64_t stime;
    char md5[33];
    char dsig[400];
};

static bool parse_header(const uint8_t *data, size_t len, struct cvd_header *h)
{
    char head[WARD_CVD_HEADER + 1];
    if (len < WARD_CVD_HEADER)
        return false;
    memcpy(head, data, WARD_CVD_HEADER);
    head[WARD_CVD_HEADER] = 0;
    if (strncmp(head, "ClamAV-VDB:", 11) != 0)
        return false;
    char *cut = strpbrk(head, "\r\n");
    if (cut)
        *cut = 0;
    size_t n = strlen(head);
    while (n && head[n - 1] == ' ')
        head[--n] = 0;
    char *f[10];
    size_t nf = ward_str_split(head, ':', f, 10);
    if (nf < 8)
        return false;
    uint64_t v;
    memset(h, 0, sizeof *h);
    if (!ward_parse_u64(f[2], &v) || v > UINT32_MAX)
        return false;
    h->version = (unsigned)v;
    if (!ward_parse_u64(f[3], &v) || v > UINT32_MAX)
        return false;
    h->sigs = (unsigned)v;
    if (!ward_parse_u64(f[4], &v) || v > UINT32_MAX)
        return false;
    h->flevel = (unsigned)v;
    snprintf(h->md5, sizeof h->md5, "%s", f[5]);
    snprintf(h->dsig, sizeof h->dsig, "%s", f[6]);
    if (nf > 8 && ward_parse_u64(f[8], &v))
        h->stime = v;
    return true;
}

static ward_err gunzip(const uint8_t *in, size_t len, ward_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return WARD_ERR_NOMEM;
    uint8_t chunk[1 << 16];
    ward_err e = WARD_OK;
    zs.next_in = (Bytef *)in;
    zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    for (;;) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        int r = inflate(&zs, Z_NO_FLUSH);
        size_t got = sizeof chunk - zs.avail_out;
        if (got && (e = ward_buf_append(out, chunk, got)))
            break;
        if (r == Z_STREAM_END)
            break;
        if (r != Z_OK || (got == 0 && zs.avail_in == 0)) {
            e = WARD_ERR_CORRUPT;
            break;
        }
    }
    inflateEnd(&zs);
    return e;
}

struct tar_member {
    char name[101];
    const uint8_t *data;
    size_t size;
};

/* ClamAV's tar subset: regular files only, names without '/'. */
static ward_err tar_next(const uint8_t *tar, size_t len, size_t *pos, struct tar_member *m,
                         bool *end)
{
    *end = false;
    if (*pos + 512 > len || tar[*pos] == 0) {
        *end = true;
        return WARD_OK;
    }
    const uint8_t *h = tar + *pos;
    memcpy(m->name, h, 100);
    m->name[100] = 0;
    if (strchr(m->name, '/') || (h[156] != '0' && h[156] != 0))
        return WARD_ERR_CORRUPT;
    uint64_t size = 0;
    for (int i = 124; i < 136 && h[i]; i++) {
        if (h[i] == ' ')
            continue;
        if (h[i] < '0' || h[i] > '7')
            return WARD_ERR_CORRUPT;
        size = size * 8 + (uint64_t)(h[i] - '0');
        if (size > len)
            return WARD_ERR_CORRUPT;
    }
    if (size > len - *pos - 512)
        return WARD_ERR_CORRUPT;
    m->data = h + 512;
    m->size = (size_t)size;
    *pos += 512 + ((size + 511) / 512) * 512;
    return WARD_OK;
}

struct info_entry {
    char name[101];
    uint64_t size;
    uint8_t sha256[32];
};

/* Verify NAME.info (its DSIG line) and read its file list. */
static ward_err read_info(struct load_ctx *lc, const struct tar_member *m, bool need_sig,
                          struct info_entry **out, size_t *n_out)
{
    const char *n_key = lc->opts->keys.info_n ? lc->opts->keys.info_n : WARD_INFO_KEY_N;
    const char *e_key = lc->opts->keys.info_e ? lc->opts->keys.info_e : WARD_INFO_KEY_E;
    const char *p = (const char *)m->data, *end = p + m->size;
    struct info_entry *list = NULL;
    size_t n = 0, cap = 0;
    bool signed_ok = false, first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t l = (size_t)(e - p);
        if (l >= 5 && memcmp(p, "DSIG:", 5) == 0) {
            uint8_t digest[32];
            size_t sl = l - 5;
            while (sl && (p[5 + sl - 1] == '\r' || p[5 + sl - 1] == ' '))
                sl--;
            if (!ward_sha256(m->data, (size_t)(p - (const char *)m->data), digest))
                signed_ok = ward_dsig_verify_pss(digest, p + 5, sl, n_key, e_key);
            if (!signed_ok) {
                free(list);
                return ward_diag_set(lc->diag, WARD_ERR_SIGNATURE,
                                     "%s: %s: digital signature does not verify", lc->file,
                                     m->name);
            }
            break;
        }
        if (first) {
            first = false; /* the header line */
        } else if (l > 0) {
            char line[256];
            if (l >= sizeof line) {
                free(list);
                return ward_diag_set(lc->diag, WARD_ERR_CORRUPT, "%s: %s: line too long",
                                     lc->file, m->name);
            }
            memcpy(line, p, l);
            line[l] = 0;
            char *f[4];
            uint64_t size;
            if (ward_str_split(line, ':', f, 4) != 3 || strlen(f[0]) > 100 ||
                !ward_parse_u64(f[1], &size) || strlen(f[2]) != 64) {
                free(list);
                return ward_diag_set(lc->diag, WARD_ERR_CORRUPT, "%s: %s: malformed entry",
                                     lc->file, m->name);
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct info_entry *q = realloc(list, cap * sizeof *q);
                if (!q) {
                    free(list);
                    return WARD_ERR_NOMEM;
                }
                list = q;
            }
            snprintf(list[n].name, sizeof list[n].name, "%s", f[0]);
            list[n].size = size;
            if (!ward_hex_decode(f[2], 64, list[n].sha256)) {
                free(list);
                return ward_diag_set(lc->diag, WARD_ERR_CORRUPT, "%s: %s: malformed digest",
                                     lc->file, m->name);
            }
            n++;
        }
        p = nl ? nl + 1 : end;
    }
    if (!signed_ok && need_sig) {
        free(list);
        return ward_diag_set(lc->diag, WARD_ERR_SIGNATURE, "%s: %s is not signed", lc->file,
                             m->name);
    }
    *out = list;
    *n_out = n;
    return WARD_OK;
}

ward_err ward_load_container(struct load_ctx *lc, const char *path, const uint8_t *data,
                             size_t len, bool is_cld)
{
    struct cvd_header h;
    const char *dot = strrchr(path, '.');
    bool is_cud = dot && strcasecmp(dot, ".cud") == 0;
    if (!parse_header(data, len, &h))
        return ward_diag_set(lc->diag, WARD_ERR_CORRUPT, "%s: not a ClamAV database container",
                             lc->file);
    const uint8_t *payload = data + WARD_CVD_HEADER;
    size_t plen = len - WARD_CVD_HEADER;

    if (!is_cld && !is_cud) {
        uint8_t md5[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
        char hex[33];
        ward_hasher *hs;
        ward_err e = ward_hasher_new(&hs);
        if (!e)
            e = ward_hasher_begin(hs, WARD_HASH_BIT(WARD_HASH_MD5));
        if (!e)
            e = ward_hasher_update(hs, payload, plen);
        if (!e)
            e = ward_hasher_end(hs, md5);
        ward_hasher_free(hs);
        if (e)
            return ward_diag_set(lc->diag, e, "%s: cannot hash", lc->file);
        ward_hex_encode(md5[WARD_HASH_MD5], 16, hex);
        const char *n_key = lc->opts->keys.cvd_n ? lc->opts->keys.cvd_n : WARD_CVD_KEY_N;
        const char *e_key = lc->opts->keys.cvd_e ? lc->opts->keys.cvd_e : WARD_CVD_KEY_E;
        if (strcmp(hex, h.md5) != 0)
            return ward_diag_set(lc->diag, WARD_ERR_SIGNATURE,
                                 "%s: MD5 does not match the header (corrupted download?)",
                                 lc->file);
        if (!ward_dsig_verify_md5(md5[WARD_HASH_MD5], h.dsig, strlen(h.dsig), n_key, e_key))
            return ward_diag_set(lc->diag, WARD_ERR_SIGNATURE,
                                 "%s: digital signature does not verify", lc->file);
    }

    ward_buf tar;
    ward_buf_init(&tar, CVD_MAX_PAYLOAD);
    const uint8_t *t = payload;
    size_t tlen = plen;
    if (!(plen >= 7 && memcmp(payload, "COPYING", 7) == 0)) {
        ward_err e = gunzip(payload, plen, &tar);
        if (e) {
            ward_buf_free(&tar);
            return ward_diag_set(lc->diag, WARD_ERR_CORRUPT, "%s: cannot decompress payload",
                                 lc->file);
        }
        t = tar.data;
        tlen = tar.len;
    }

    /* Pass 1: the .info member. */
    struct info_entry *info = NULL;
    size_t n_info = 0, pos = 0;
    bool have_info = false, end = false;
    struct tar_member m;
    ward_err e = WARD_OK;
    while (!e && !have_info) {
        e = tar_next(t, tlen, &pos, &m, &end);
        if (e || end)
            break;
        if (ward_str_endswith(m.name, ".info")) {
            e = read_info(lc, &m, !is_cud, &info, &n_info);
            have_info = !e;
        }
    }
    if (!e && !have_info && !is_cud)
        e = ward_diag_set(lc->diag, WARD_ERR_SIGNATURE, "%s: no .info file in container",
                          lc->file);
    else if (e == WARD_ERR_CORRUPT && !have_info)
        e = ward_diag_set(lc->diag, e, "%s: malformed tar payload", lc->file);

    /* Pass 2: every database member, checked against .info, then loaded. */
    pos = 0;
    char member_path[512];
    const char *saved_file = lc->file;
    bool saved_official = lc->official;
    while (!e) {
        e = tar_next(t, tlen, &pos, &m, &end);
        if (e) {
            e = ward_diag_set(lc->diag, e, "%s: malformed tar payload", saved_file);
            break;
        }
        if (end)
            break;
        if (ward_kind_of_name(m.name) < 0 || ward_str_endswith(m.name, ".info"))
            continue;
        if (have_info) {
            size_t i;
            uint8_t digest[32];
            for (i = 0; i < n_info; i++)
                if (strcmp(info[i].name, m.name) == 0)
                    break;
            if (i == n_info || info[i].size != m.size || ward_sha256(m.data, m.size, digest) ||
                memcmp(digest, info[i].sha256, 32) != 0) {
                e = ward_diag_set(lc->diag, WARD_ERR_SIGNATURE,
                                  "%s: %s does not match the signed file list", saved_file,
                                  m.name);
                break;
            }
        }
        /* Loaders edit text in place and expect a NUL after it. */
        uint8_t *copy = malloc(m.size + 1);
        if (!copy) {
            e = ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", saved_file);
            break;
        }
        memcpy(copy, m.data, m.size);
        copy[m.size] = 0;
        snprintf(member_path, sizeof member_path, "%s:%s", saved_file, m.name);
        lc->file = member_path;
        lc->official = !is_cud;
        e = ward_load_source(lc, m.name, copy, m.size);
        lc->file = saved_file;
        lc->official = saved_official;
        free(copy);
    }
    free(info);
    ward_buf_free(&tar);
    if (!e) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        /* which container's version the database reports is decided when linking */
        lc->seg->cvd.present = true;
        lc->seg->cvd.daily = strncmp(base, "daily.", 6) == 0;
        lc->seg->cvd.version = h.version;
        lc->seg->cvd.stime = (time_t)h.stime;
    }
    return e;
}
