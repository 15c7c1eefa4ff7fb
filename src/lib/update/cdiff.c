/* cdiff.c - checking and running ClamAV .cdiff scripts on a container. */
#include "update/cdiff.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsig.h"
#include "util/hash.h"
#include "util/strutil.h"

#define DSIG_MAX 350 /* the signature is found in the last 350 bytes, as ClamAV does */
#define MAX_EDITS (1u << 22)

struct span {
    const char *p;
    size_t n;
};

struct edit {
    size_t line;
    struct span prefix, repl;
};

struct run {
    struct ward_vdb *v;
    const char *name; /* of the .cdiff, for messages */
    unsigned lineno;  /* of the script */
    struct ward_diag *diag;
    char open[101];
    bool is_open;
    struct span *adds;
    size_t n_adds, cap_adds;
    struct edit *dels, *xchg;
    size_t n_dels, cap_dels, n_xchg, cap_xchg;
};

static ward_err fail(struct run *r, const char *what)
{
    return ward_diag_set(r->diag, WARD_ERR_CORRUPT, "%s: line %u: %s", r->name, r->lineno, what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Cut the next whitespace-separated token off *s. */
static bool token(struct span *s, struct span *tok)
{
    while (s->n && is_space(*s->p))
        s->p++, s->n--;
    if (!s->n)
        return false;
    tok->p = s->p;
    while (s->n && !is_space(*s->p))
        s->p++, s->n--;
    tok->n = (size_t)(s->p - tok->p);
    return true;
}

static bool number(struct span t, size_t *out)
{
    uint64_t v;
    if (!ward_parse_u64n(t.p, t.n, &v) || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static bool name_of(struct span t, char out[101])
{
    if (t.n == 0 || t.n > 100)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        char c = t.p[i];
        /* ClamAV allows letters, digits and '.'; no paths */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.'))
            return false;
    }
    if (t.n <= 2 && t.p[0] == '.' && (t.n == 1 || t.p[1] == '.'))
        return false;
    memcpy(out, t.p, t.n);
    out[t.n] = 0;
    return true;
}

static bool grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    if (n >= MAX_EDITS)
        return false;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * size);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

/* Each line of text (without "\n" or "\r\n"), numbered from 1. */
static bool next_line(const ward_buf *b, size_t *pos, struct span *line)
{
    if (*pos >= b->len)
        return false;
    const char *p = (const char *)b->data + *pos;
    const char *nl = memchr(p, '\n', b->len - *pos);
    size_t n = nl ? (size_t)(nl - p) : b->len - *pos;
    *pos += n + (nl != NULL);
    if (n && p[n - 1] == '\r')
        n--;
    line->p = p;
    line->n = n;
    return true;
}

static bool has_prefix(struct span line, struct span prefix)
{
    return line.n >= prefix.n && memcmp(line.p, prefix.p, prefix.n) == 0;
}

static ward_err put_line(ward_buf *out, struct span s)
{
    ward_err e = ward_buf_append(out, s.p, s.n);
    return e ? e : ward_buf_putc(out, '\n');
}

static ward_err do_close(struct run *r)
{
    struct ward_vdb_member *m;
    ward_err e = WARD_OK;
    if (!r->is_open)
        return fail(r, "CLOSE without OPEN");
    if (r->n_dels || r->n_xchg) {
        if (!(m = ward_vdb_find(r->v, r->open)))
            return fail(r, "edits a file that does not exist");
        ward_buf out;
        ward_buf_init(&out, m->data.cap);
        size_t pos = 0, no = 0, di = 0, xi = 0;
        struct span line;
        while (!e && next_line(&m->data, &pos, &line)) {
            no++;
            if (di < r->n_dels && no == r->dels[di].line) {
                if (!has_prefix(line, r->dels[di++].prefix))
                    e = fail(r, "DEL: the line does not match");
            } else if (xi < r->n_xchg && no == r->xchg[xi].line) {
                if (!has_prefix(line, r->xchg[xi].prefix))
                    e = fail(r, "XCHG: the line does not match");
                else
                    e = put_line(&out, r->xchg[xi++].repl);
            } else {
                e = put_line(&out, line);
            }
        }
        if (!e && (di < r->n_dels || xi < r->n_xchg))
            e = fail(r, "DEL or XCHG of a line that does not exist");
        if (e) {
            ward_buf_free(&out);
            return e == WARD_ERR_CORRUPT ? e : fail(r, "out of memory or file too large");
        }
        ward_buf_free(&m->data);
        m->data = out;
    }
    if (r->n_adds) {
        if (ward_vdb_open(r->v, r->open, &m))
            return fail(r, "cannot create the file");
        for (size_t i = 0; !e && i < r->n_adds; i++)
            e = put_line(&m->data, r->adds[i]);
        if (e)
            return fail(r, "file too large");
    }
    r->is_open = false;
    r->n_adds = r->n_dels = r->n_xchg = 0;
    return WARD_OK;
}

static ward_err do_move(struct run *r, struct span args)
{
    struct span src, dst, n1, p1, n2, p2;
    char sname[101], dname[101];
    size_t l1, l2;
    if (r->is_open)
        return fail(r, "MOVE while a file is open");
    if (!token(&args, &src) || !token(&args, &dst) || !token(&args, &n1) ||
        !token(&args, &p1) || !token(&args, &n2) || !token(&args, &p2) ||
        !name_of(src, sname) || !name_of(dst, dname) || !number(n1, &l1) || !number(n2, &l2) ||
        l2 < l1 || strcmp(sname, dname) == 0)
        return fail(r, "malformed MOVE");
    struct ward_vdb_member *d, *s;
    if (ward_vdb_open(r->v, dname, &d) || !(s = ward_vdb_find(r->v, sname)))
        return fail(r, "MOVE: no such file");
    ward_buf keep;
    ward_buf_init(&keep, s->data.cap);
    size_t pos = 0, no = 0;
    struct span line;
    ward_err e = WARD_OK;
    while (!e && next_line(&s->data, &pos, &line)) {
        no++;
        if ((no == l1 && !has_prefix(line, p1)) || (no == l2 && !has_prefix(line, p2)))
            e = fail(r, "MOVE: the line does not match");
        else
            e = put_line(no >= l1 && no <= l2 ? &d->data : &keep, line);
    }
    if (!e && no < l2)
        e = fail(r, "MOVE past the end of the file");
    if (e) {
        ward_buf_free(&keep);
        return e == WARD_ERR_CORRUPT ? e : fail(r, "file too large");
    }
    ward_buf_free(&s->data);
    s->data = keep;
    return WARD_OK;
}

static ward_err command(struct run *r, struct span line)
{
    struct span cmd, args = line, t;
    if (!token(&args, &cmd))
        return fail(r, "empty line");
    /* the rest of the line, trimmed at both ends as ClamAV does */
    while (args.n && is_space(*args.p))
        args.p++, args.n--;
    while (args.n && is_space(args.p[args.n - 1]))
        args.n--;
#define IS(word) (cmd.n == strlen(word) && memcmp(cmd.p, word, cmd.n) == 0)
    if (IS("OPEN")) {
        if (r->is_open)
            return fail(r, "OPEN while another file is open");
        if (!token(&args, &t) || !name_of(t, r->open))
            return fail(r, "OPEN: bad file name");
        r->is_open = true;
    } else if (IS("ADD")) {
        if (!r->is_open || !grow((void **)&r->adds, &r->cap_adds, r->n_adds, sizeof *r->adds))
            return fail(r, r->is_open ? "too many edits" : "ADD without OPEN");
        r->adds[r->n_adds++] = args;
    } else if (IS("DEL") || IS("XCHG")) {
        bool del = IS("DEL");
        struct edit ed;
        struct span no;
        if (!r->is_open)
            return fail(r, "DEL or XCHG without OPEN");
        if (!token(&args, &no) || !number(no, &ed.line) || !args.n || is_space(*args.p) == false)
            return fail(r, "malformed DEL or XCHG");
        args.p++, args.n--; /* the one separator */
        if (del) {
            if (!token(&args, &ed.prefix))
                return fail(r, "malformed DEL");
            ed.repl = (struct span){NULL, 0};
        } else {
            const char *sp = args.p;
            while (sp < args.p + args.n && !is_space(*sp))
                sp++;
            if (sp == args.p + args.n)
                return fail(r, "malformed XCHG");
            ed.prefix = (struct span){args.p, (size_t)(sp - args.p)};
            ed.repl = (struct span){sp + 1, args.n - ed.prefix.n - 1};
        }
        struct edit **arr = del ? &r->dels : &r->xchg;
        size_t *n = del ? &r->n_dels : &r->n_xchg, *cap = del ? &r->cap_dels : &r->cap_xchg;
        if (!grow((void **)arr, cap, *n, sizeof **arr))
            return fail(r, "too many edits");
        /* deletions are kept in line order; exchanges in script order */
        size_t at = *n;
        if (del)
            while (at > 0 && (*arr)[at - 1].line > ed.line)
                at--;
        memmove(&(*arr)[at + 1], &(*arr)[at], (*n - at) * sizeof ed);
        (*arr)[at] = ed;
        (*n)++;
    } else if (IS("CLOSE")) {
        return do_close(r);
    } else if (IS("MOVE")) {
        return do_move(r, args);
    } else if (IS("UNLINK")) {
        char name[101];
        if (token(&args, &t)) {
            if (r->is_open || !name_of(t, name))
                return fail(r, r->is_open ? "UNLINK while a file is open" : "UNLINK: bad name");
        } else if (r->is_open) {
            memcpy(name, r->open, sizeof name); /* ClamAV 1.x: the open file */
        } else {
            return fail(r, "UNLINK of nothing");
        }
        if (!ward_vdb_find(r->v, name))
            return fail(r, "UNLINK: no such file");
        ward_vdb_remove(r->v, name);
    } else {
        return fail(r, "unknown command");
    }
#undef IS
    return WARD_OK;
}

ward_err ward_cdiff_run(struct ward_vdb *v, const char *name, const char *script, size_t len,
                        struct ward_diag *diag)
{
    struct run r = {.v = v, .name = name, .diag = diag};
    const char *p = script, *end = script + len;
    ward_err e = WARD_OK;
    while (!e && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct span line = {p, (size_t)((nl ? nl : end) - p)};
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        r.lineno++;
        p = nl ? nl + 1 : end;
        if (line.n && line.p[0] == '#')
            continue;
        e = command(&r, line);
    }
    free(r.adds);
    free(r.dels);
    free(r.xchg);
    return e;
}

ward_err ward_cdiff_verify(const char *name, const void *data, size_t len, const char *n_key,
                           const char *e_key, unsigned *version, const uint8_t **gz,
                           size_t *gz_len, struct ward_diag *diag)
{
    const uint8_t *d = data;
    if (len < DSIG_MAX || len < 12 || memcmp(d, "ClamAV-Diff:", 12) != 0)
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: not a .cdiff file", name);
    /* the signature: after the last ':' of the last DSIG_MAX bytes */
    size_t colon = len;
    for (size_t i = len; i > len - DSIG_MAX; i--)
        if (d[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    if (colon == len)
        return ward_diag_set(diag, WARD_ERR_SIGNATURE, "%s: no signature", name);
    uint8_t sha[32];
    if (ward_sha256(d, colon, sha))
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "%s: cannot hash", name);
    if (!ward_dsig_verify_pss(sha, (const char *)d + colon + 1, len - colon - 1,
                              n_key ? n_key : WARD_INFO_KEY_N, e_key ? e_key : WARD_INFO_KEY_E))
        return ward_diag_set(diag, WARD_ERR_SIGNATURE, "%s: digital signature does not verify",
                             name);
    /* "ClamAV-Diff:VERSION:SIZE:" then the gzip data */
    char head[64];
    size_t hn = colon < sizeof head - 1 ? colon : sizeof head - 1;
    memcpy(head, d, hn);
    head[hn] = 0;
    char *f[4];
    uint64_t ver;
    if (ward_str_split(head, ':', f, 4) != 4 || !ward_parse_u64(f[1], &ver) || ver > UINT32_MAX)
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s: malformed header", name);
    size_t off = (size_t)(f[3] - head);
    *version = (unsigned)ver;
    *gz = d + off;
    *gz_len = colon - off;
    return WARD_OK;
}

ward_err ward_cdiff_apply(struct ward_vdb *v, const char *name, const void *data, size_t len,
                          const char *n_key, const char *e_key, struct ward_diag *diag)
{
    unsigned version;
    const uint8_t *gz;
    size_t gz_len;
    ward_err e = ward_cdiff_verify(name, data, len, n_key, e_key, &version, &gz, &gz_len, diag);
    if (e)
        return e;
    ward_buf script;
    ward_buf_init(&script, WARD_CDIFF_MAX_SCRIPT);
    if ((e = ward_gunzip(gz, gz_len, &script)))
        e = ward_diag_set(diag, e, "%s: cannot decompress the script", name);
    else
        e = ward_cdiff_run(v, name, (const char *)script.data, script.len, diag);
    ward_buf_free(&script);
    return e;
}
