/*
 * mime.c - the structure of a raw message as byte ranges (see mime.h).
 *
 * One forward walk in document order: a part's header block is read field
 * by field; a multipart's body is cut at its boundary lines into child
 * ranges, each parsed the same way; a message/rfc822 part's body is parsed
 * as a message. A child's range is cut by its parent's boundaries before the
 * child looks at it, so a child that never closes cannot swallow its
 * siblings. Each nesting level scans its own range once.
 */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_int.h"

#define VALUE_MAX 8192 /* unfolded Content-* value kept for parsing */
#define DEPTH_HARD_MAX 1000u
#define BOUNDARY_MAX VALUE_MAX /* RFC 2046 says 70; longer ones are seen, and readers take them */

struct parser {
    ward_mime *m;
    struct ward_mime_limits lim;
    uint32_t alloc;
    bool nomem;
    char ctype[VALUE_MAX], cdisp[VALUE_MAX], bnd[BOUNDARY_MAX];
};

/* ---- lines and fields ------------------------------------------------------ */

/* The line at p: content [p, *le) without its line break; returns the next line's start. */
static size_t line_at(const uint8_t *d, size_t p, size_t end, size_t *le)
{
    const uint8_t *nl = memchr(d + p, '\n', end - p);
    size_t e = nl ? (size_t)(nl - d) : end;
    size_t next = nl ? e + 1 : end;
    if (e > p && d[e - 1] == '\r')
        e--;
    *le = e;
    return next;
}

static bool is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

bool ward_mime_next_field(const uint8_t *d, size_t end, size_t *pos, struct ward_mime_field *f,
                          size_t *body)
{
    size_t p = *pos, le;
    for (;;) {
        if (p >= end) {
            *pos = *body = end;
            return false;
        }
        size_t next = line_at(d, p, end, &le);
        if (le == p) { /* the blank line */
            *pos = p;
            *body = next;
            return false;
        }
        if (is_wsp(d[p])) { /* a continuation with no field before it */
            p = next;
            continue;
        }
        size_t i = p;
        /* 8-bit bytes in a name are invalid but seen: readers still take the field */
        while (i < le && d[i] > 32 && d[i] != 127 && d[i] != ':')
            i++;
        size_t name_end = i;
        while (i < le && is_wsp(d[i]))
            i++;
        if (name_end == p || i >= le || d[i] != ':') {
            *pos = *body = p; /* not a field: the body starts here */
            return false;
        }
        f->start = p;
        f->name_end = name_end;
        f->value = i + 1;
        while (next < end && is_wsp(d[next]))
            next = line_at(d, next, end, &le);
        f->end = next;
        *pos = next;
        return true;
    }
}

size_t ward_mime_fields_start(const ward_mime *m, uint32_t part)
{
    const struct ward_mime_part *p = &m->parts[part];
    size_t s = (size_t)p->start, le;
    /* an mbox "From " line before the first field of a stored message */
    if (part == 0 && m->len - s >= 5 && memcmp(m->data + s, "From ", 5) == 0)
        s = line_at(m->data, s, (size_t)p->end, &le);
    return s;
}

size_t ward_mime_unfold(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (!cap)
        return 0;
    while (i < n && (is_wsp(p[i]) || p[i] == '\r' || p[i] == '\n'))
        i++;
    for (; i < n && o + 1 < cap; i++)
        if (p[i] != '\r' && p[i] != '\n')
            out[o++] = p[i] ? (char)p[i] : ' ';
    while (o && (is_wsp((uint8_t)out[o - 1])))
        o--;
    out[o] = 0;
    return o;
}

static bool name_is(const uint8_t *d, const struct ward_mime_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_end - f->start == n && strncasecmp((const char *)d + f->start, name, n) == 0;
}

bool ward_mime_header(const ward_mime *m, uint32_t part, const char *name, char *out, size_t cap,
                      uint64_t *field_start, uint64_t *field_end)
{
    if (part >= m->n_parts)
        return false;
    const struct ward_mime_part *p = &m->parts[part];
    size_t pos = ward_mime_fields_start(m, part), body;
    struct ward_mime_field f;
    while (ward_mime_next_field(m->data, (size_t)p->body, &pos, &f, &body)) {
        if (!name_is(m->data, &f, name))
            continue;
        if (out)
            ward_mime_unfold(m->data + f.value, f.end - f.value, out, cap);
        if (field_start)
            *field_start = f.start;
        if (field_end)
            *field_end = f.end;
        return true;
    }
    return false;
}

/* ---- Content-* values ------------------------------------------------------ */

static void copy_lower(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    out[n] = 0;
}

/* A token of a Content-* value: stops at '/', ';', whitespace and comments. */
static size_t token(const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != '/' && s[n] != ';' && s[n] != ' ' && s[n] != '\t' && s[n] != '(')
        n++;
    return n;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '(') { /* a comment before the type, as some mailers write */
        const char *e = strchr(s, ')');
        s = e ? e + 1 : s + strlen(s);
        while (*s == ' ' || *s == '\t')
            s++;
    }
    return s;
}

/* bnd (BOUNDARY_MAX) receives the whole boundary; the part keeps what fits. */
static void parse_ctype(struct ward_mime_part *p, const char *v, bool digest_child, char *bnd)
{
    const char *s = skip_ws(v);
    size_t t = token(s);
    const char *sub = s + t;
    while (*sub == ' ' || *sub == '\t')
        sub++;
    size_t st = 0;
    if (*sub == '/') {
        sub = skip_ws(sub + 1);
        st = token(sub);
    }
    if (t && st) {
        copy_lower(p->type, sizeof p->type, s, t);
        copy_lower(p->subtype, sizeof p->subtype, sub, st);
    } else {
        /* RFC 2045 5.2: a missing or invalid type is text/plain (message/rfc822 in a digest) */
        strcpy(p->type, digest_child ? "message" : "text");
        strcpy(p->subtype, digest_child ? "rfc822" : "plain");
    }
    char cs[sizeof p->charset];
    if (ward_mime_param(v, "charset", false, cs, sizeof cs))
        copy_lower(p->charset, sizeof p->charset, cs, strlen(cs));
    bnd[0] = 0;
    if (!strcmp(p->type, "multipart") && ward_mime_param(v, "boundary", false, bnd, BOUNDARY_MAX) &&
        bnd[0] && strlen(bnd) < BOUNDARY_MAX - 1) {
        size_t n = strlen(bnd) < sizeof p->boundary ? strlen(bnd) : sizeof p->boundary - 1;
        memcpy(p->boundary, bnd, n);
        p->boundary[n] = 0;
        p->multipart = true;
    }
    if (!p->filename[0])
        ward_mime_param(v, "name", true, p->filename, sizeof p->filename);
}

static void parse_cdisp(struct ward_mime_part *p, const char *v)
{
    const char *s = skip_ws(v);
    size_t t = token(s);
    p->attachment = t == 10 && strncasecmp(s, "attachment", 10) == 0;
    char name[sizeof p->filename];
    if (ward_mime_param(v, "filename", true, name, sizeof name) && name[0])
        memcpy(p->filename, name, sizeof name);
}

static enum ward_mime_enc parse_cte(const char *v)
{
    static const struct {
        const char *name;
        enum ward_mime_enc enc;
    } names[] = {
        {"7bit", WARD_MIME_7BIT},         {"8bit", WARD_MIME_8BIT},
        {"binary", WARD_MIME_BINARY},     {"quoted-printable", WARD_MIME_QP},
        {"base64", WARD_MIME_BASE64},     {"x-uuencode", WARD_MIME_UUENCODE},
        {"uuencode", WARD_MIME_UUENCODE}, {"x-uue", WARD_MIME_UUENCODE},
        {"uue", WARD_MIME_UUENCODE},
    };
    const char *s = skip_ws(v);
    size_t t = token(s);
    if (!t)
        return WARD_MIME_7BIT;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i].name) == t && strncasecmp(s, names[i].name, t) == 0)
            return names[i].enc;
    return WARD_MIME_UNKNOWN;
}

/* ---- the walk -------------------------------------------------------------- */

static uint32_t add_part(struct parser *ps, uint32_t parent, uint32_t depth, size_t start,
                         size_t end)
{
    ward_mime *m = ps->m;
    if (m->n_parts >= ps->lim.max_parts) {
        m->truncated = true;
        return WARD_MIME_NONE;
    }
    if (m->n_parts == ps->alloc) {
        uint32_t n = ps->alloc ? ps->alloc * 2 : 16;
        struct ward_mime_part *q = realloc(m->parts, (size_t)n * sizeof *q);
        if (!q) {
            ps->nomem = true;
            return WARD_MIME_NONE;
        }
        m->parts = q;
        ps->alloc = n;
    }
    struct ward_mime_part *p = &m->parts[m->n_parts];
    memset(p, 0, sizeof *p);
    p->parent = parent;
    p->depth = depth;
    p->start = start;
    p->body = end;
    p->end = end;
    return m->n_parts++;
}

static void parse_entity(struct parser *ps, uint32_t idx);

/*
 * A boundary line: "--B", then "--" (the close), or the line's end, or
 * whitespace; what follows is ignored, as readers do (RFC 2046 asks only that
 * the boundary appear whole at a line start). "--B2" is not a line of "B".
 */
static bool boundary_line(const uint8_t *d, size_t p, size_t le, const char *b, size_t bl,
                          bool *close)
{
    if (le - p < 2 + bl || d[p] != '-' || d[p + 1] != '-' || memcmp(d + p + 2, b, bl) != 0)
        return false;
    size_t r = p + 2 + bl;
    *close = le - r >= 2 && d[r] == '-' && d[r + 1] == '-';
    return *close || r == le || is_wsp(d[r]);
}

static bool add_child(struct parser *ps, uint32_t parent, size_t start, size_t end)
{
    uint32_t c = add_part(ps, parent, ps->m->parts[parent].depth + 1, start, end);
    if (c == WARD_MIME_NONE) {
        ps->m->parts[parent].cut = true;
        return false;
    }
    parse_entity(ps, c);
    return !ps->nomem;
}

/* Cut the body at boundary b (the caller's copy: children reuse the parser's buffers). */
static void parse_multipart(struct parser *ps, uint32_t idx, const char *b)
{
    const uint8_t *d = ps->m->data;
    size_t bl = strlen(b), pos = (size_t)ps->m->parts[idx].body;
    size_t body = pos, end = (size_t)ps->m->parts[idx].end, cur = SIZE_MAX, le;
    while (pos < end) {
        /* only a '-' at a line start can begin a boundary: base64 has none at all,
           so a large attachment is passed over at memchr speed */
        const uint8_t *dash = memchr(d + pos, '-', end - pos);
        if (!dash)
            break;
        pos = (size_t)(dash - d);
        if (pos > body && d[pos - 1] != '\n') {
            pos++;
            continue;
        }
        size_t next = line_at(d, pos, end, &le);
        bool close;
        if (boundary_line(d, pos, le, b, bl, &close)) {
            if (cur != SIZE_MAX) {
                /* the line break before the boundary belongs to the boundary */
                size_t ce = pos;
                if (ce > cur && d[ce - 1] == '\n')
                    ce--;
                if (ce > cur && d[ce - 1] == '\r')
                    ce--;
                if (!add_child(ps, idx, cur, ce))
                    return;
            }
            if (close)
                return; /* the epilogue belongs to the multipart's body */
            cur = next;
        }
        pos = next;
    }
    if (cur != SIZE_MAX)
        (void)add_child(ps, idx, cur, end); /* no closing boundary */
}

static void parse_entity(struct parser *ps, uint32_t idx)
{
    ward_mime *m = ps->m;
    struct ward_mime_part *p = &m->parts[idx];
    const uint8_t *d = m->data;
    size_t end = (size_t)p->end, pos = ward_mime_fields_start(m, idx), body = end;
    size_t hdr_start = pos, le;
    /* CRLF or LF: from the first line of the block (the parent's when empty) */
    if (pos < end) {
        line_at(d, pos, end, &le);
        p->crlf = le < end && d[le] == '\r';
    } else {
        p->crlf = p->parent != WARD_MIME_NONE && m->parts[p->parent].crlf;
    }
    bool have_ct = false, have_cd = false, have_cte = false;
    char cte[64] = "";
    struct ward_mime_field f;
    ps->ctype[0] = ps->cdisp[0] = 0;
    while (ward_mime_next_field(d, end, &pos, &f, &body)) {
        if (f.end - hdr_start > ps->lim.max_header) {
            m->truncated = true;
            body = f.start; /* the rest is read as body */
            break;
        }
        if (!have_ct && name_is(d, &f, "content-type")) {
            have_ct = true;
            ward_mime_unfold(d + f.value, f.end - f.value, ps->ctype, sizeof ps->ctype);
        } else if (!have_cd && name_is(d, &f, "content-disposition")) {
            have_cd = true;
            ward_mime_unfold(d + f.value, f.end - f.value, ps->cdisp, sizeof ps->cdisp);
        } else if (!have_cte && name_is(d, &f, "content-transfer-encoding")) {
            have_cte = true;
            ward_mime_unfold(d + f.value, f.end - f.value, cte, sizeof cte);
        }
    }
    p->body = body;
    bool digest_child = p->parent != WARD_MIME_NONE && m->parts[p->parent].multipart &&
                        !strcmp(m->parts[p->parent].subtype, "digest");
    if (have_cd)
        parse_cdisp(p, ps->cdisp);
    parse_ctype(p, ps->ctype, digest_child, ps->bnd);
    p->enc = parse_cte(cte);

    /* Structure inside an encoded body is not ours to find (RFC 2045 forbids
       it): such a part is a leaf, decoded and scanned as a whole. */
    bool plain = p->enc == WARD_MIME_7BIT || p->enc == WARD_MIME_8BIT ||
                 p->enc == WARD_MIME_BINARY || p->enc == WARD_MIME_UNKNOWN;
    p->message = plain && !strcmp(p->type, "message") &&
                 (!strcmp(p->subtype, "rfc822") || !strcmp(p->subtype, "global"));
    if (!plain)
        p->multipart = false;
    if (!p->multipart && !p->message)
        return;
    if (p->depth + 1 > ps->lim.max_depth) {
        p->cut = true;
        m->truncated = true;
        return;
    }
    if (p->multipart) {
        char *b = strdup(ps->bnd);
        if (!b) {
            ps->nomem = true;
            return;
        }
        uint32_t before = m->n_parts;
        parse_multipart(ps, idx, b);
        free(b);
        /* no boundary line at all: the body is all there is, scanned as a leaf */
        if (m->n_parts == before && !m->parts[idx].cut)
            m->parts[idx].multipart = false;
    } else {
        size_t b = (size_t)p->body;
        (void)add_child(ps, idx, b, end);
    }
}

ward_err ward_mime_parse(const uint8_t *data, size_t len, const struct ward_mime_limits *lim,
                         ward_mime *out, struct ward_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->data = data ? data : (const uint8_t *)"";
    out->len = data ? len : 0;
    struct parser *ps = calloc(1, sizeof *ps);
    if (!ps)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "message structure: out of memory");
    ps->m = out;
    if (lim)
        ps->lim = *lim;
    if (!ps->lim.max_depth)
        ps->lim.max_depth = 32;
    if (ps->lim.max_depth > DEPTH_HARD_MAX)
        ps->lim.max_depth = DEPTH_HARD_MAX;
    if (!ps->lim.max_parts)
        ps->lim.max_parts = 10000;
    if (!ps->lim.max_header)
        ps->lim.max_header = 1u << 20;
    if (add_part(ps, WARD_MIME_NONE, 0, 0, out->len) != WARD_MIME_NONE)
        parse_entity(ps, 0);
    bool nomem = ps->nomem;
    free(ps);
    if (nomem) {
        ward_mime_free(out);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "message structure: out of memory");
    }
    return WARD_OK;
}

void ward_mime_free(ward_mime *m)
{
    if (!m)
        return;
    free(m->parts);
    m->parts = NULL;
    m->n_parts = 0;
}
