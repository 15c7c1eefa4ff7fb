/*
 * partscan.c - a parsed message scanned part by part (see partscan.h).
 *
 * The raw message is matched once, unpacked by nobody; then each leaf part
 * (and each part a limit kept the parser from entering, whole) is decoded
 * and handed to the engine, which walks whatever is inside. Text bodies in
 * 7bit/8bit are scanned in place, without a copy. One decode buffer serves
 * every part. The scan limits of the caller bound the whole message: what
 * one part used is taken from the budget of the next.
 */
#include "mail/partscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/mime_int.h"
#include "mail/mtype.h"
#include "util/spool.h"

#define RAW_NAME "message"
#define GAP_MIN 128 /* preambles and epilogues shorter than this are boilerplate */
#define MAX_NAMES_PER_PART 10000u
#define LARGE_PART (16u << 20) /* encoded bytes: decoded into a spool, not a buffer */
#define PIECE (1u << 20)       /* encoded bytes decoded at a time into the spool */
#define SPOOL_MEM (8u << 20)   /* decoded bytes kept in memory before a temp file */

struct pscan {
    struct ward_mail_scan *out;
    const struct ward_mail_scan_opts *o;
    uint32_t part;
    const char *prefix;               /* names of the enclosing attached messages, "a.eml/" */
    struct ward_mail_part_result *pr; /* NULL for the raw message and gaps */
    bool nomem;
    size_t det_alloc;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool push_str(char ***v, size_t *n, const char *s)
{
    if (*n >= MAX_NAMES_PER_PART)
        return true;
    char **q = realloc(*v, (*n + 1) * sizeof *q);
    if (!q)
        return false;
    *v = q;
    if (!(q[*n] = strdup(s)))
        return false;
    (*n)++;
    return true;
}

static void add_detection(struct pscan *ps, enum ward_verdict v, enum ward_reason r,
                          const char *name, const char *path)
{
    struct ward_mail_scan *out = ps->out;
    if (out->n_det == ps->det_alloc) {
        size_t n = ps->det_alloc ? ps->det_alloc * 2 : 8;
        struct ward_mail_detection *q = realloc(out->det, n * sizeof *q);
        if (!q) {
            ps->nomem = true;
            return;
        }
        out->det = q;
        ps->det_alloc = n;
    }
    struct ward_mail_detection *d = &out->det[out->n_det];
    d->part = ps->part;
    d->verdict = v;
    d->reason = r;
    d->name = strdup(name ? name : "");
    d->path = strdup(path);
    if (!d->name || !d->path) {
        free(d->name);
        free(d->path);
        ps->nomem = true;
        return;
    }
    out->n_det++;
    if (v > out->verdict)
        out->verdict = v;
    if (ps->pr && v > ps->pr->verdict)
        ps->pr->verdict = v;
    if (v == WARD_VERDICT_NOT_SCANNED && r == WARD_REASON_ENCRYPTED) {
        out->protected = true;
        if (ps->pr)
            ps->pr->protected = true;
    }
}

static bool on_finding(void *ctx, const struct ward_finding *f)
{
    struct pscan *ps = ctx;
    char path[2048];
    size_t o = (size_t)snprintf(path, sizeof path, "%s", ps->prefix);
    for (unsigned i = 0; i < f->depth && o < sizeof path; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%s%s", i ? "/" : "", f->path[i]);
    add_detection(ps, f->verdict, f->reason, f->name, path);
    /* a member that was not opened (encrypted, too big) still has a declared name */
    struct ward_mail_part_result *pr = ps->pr;
    const char *member = f->depth > 1 ? f->path[f->depth - 1] : NULL;
    if (pr && member && f->verdict == WARD_VERDICT_NOT_SCANNED &&
        !(pr->n_names && !strcmp(pr->names[pr->n_names - 1], member)) &&
        !push_str(&pr->names, &pr->n_names, member))
        ps->nomem = true;
    return !ps->nomem;
}

static void on_object(void *ctx, const struct ward_object_seen *obj)
{
    struct pscan *ps = ctx;
    struct ward_mail_part_result *pr = ps->pr;
    if (!pr || ps->nomem)
        return;
    /* the part itself is named by its declaration, members by their archives */
    if (obj->depth > 1 && !push_str(&pr->names, &pr->n_names, obj->path[obj->depth - 1]))
        ps->nomem = true;
    char type[128];
    if (ps->o->want_types && ward_mtype_of(obj->head, obj->head_len, type, sizeof type) &&
        !push_str(&pr->types, &pr->n_types, type))
        ps->nomem = true;
}

/* A part or piece the scan did not reach: not_scanned, with its path. */
static ward_err not_scanned(struct pscan *ps, enum ward_reason r, const char *why, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s%s", ps->prefix, name);
    add_detection(ps, WARD_VERDICT_NOT_SCANNED, r, why, path);
    return ps->nomem ? WARD_ERR_NOMEM : WARD_OK;
}

/* A path component from a declared name: no '/', no control characters. */
static void component(const char *given, uint32_t part, const char *suffix, char *out, size_t cap)
{
    if (!given[0]) {
        snprintf(out, cap, "part-%u%s", part, suffix);
        return;
    }
    size_t k = 0;
    for (const char *p = given; *p && k + 1 < cap; p++)
        out[k++] = (*p == '/' || (unsigned char)*p < 32) ? '_' : *p;
    out[k] = 0;
}

/* "outer.eml/inner.eml/" for a part inside attached messages. */
static void message_prefix(const ward_mime *m, uint32_t part, char *out, size_t cap)
{
    uint32_t chain[64];
    unsigned n = 0;
    for (uint32_t p = m->parts[part].parent; p != WARD_MIME_NONE && n < 64; p = m->parts[p].parent)
        if (m->parts[p].message)
            chain[n++] = p;
    size_t o = 0;
    out[0] = 0;
    while (n-- > 0 && o < cap) {
        char c[300];
        component(m->parts[chain[n]].filename, chain[n], ".eml", c, sizeof c);
        o += (size_t)snprintf(out + o, cap - o, "%s/", c);
    }
}

struct budget {
    uint64_t start_ms, bytes;
    uint32_t objects;
};

/* The caller's limits less what earlier parts used; false when none is left. */
static bool limits_left(const struct ward_scan_limits *all, const struct budget *b,
                        struct ward_scan_limits *l)
{
    *l = *all;
    if (all->max_scansize) {
        if (b->bytes >= all->max_scansize)
            return false;
        l->max_scansize = all->max_scansize - b->bytes;
    }
    if (all->max_files) {
        if (b->objects >= all->max_files)
            return false;
        l->max_files = all->max_files - b->objects;
    }
    if (all->max_scantime) {
        uint64_t used = now_ms() - b->start_ms;
        if (used >= all->max_scantime)
            return false;
        l->max_scantime = all->max_scantime - (uint32_t)used;
    }
    return true;
}

/* Scan bytes in memory, or in fd when it is not -1; the part's size is n. */
static ward_err scan_src(ward_scanner *s, struct pscan *ps, struct budget *b, const uint8_t *p,
                         size_t n, int fd, const char *name, bool whole)
{
    struct ward_scan_opts so = ps->o->scan;
    so.on_finding = on_finding;
    so.on_object = ps->pr ? on_object : NULL;
    so.ctx = ps;
    so.no_unpack = whole;
    if (ps->pr)
        ps->pr->size = n;
    if (!limits_left(&ps->o->scan.limits, b, &so.limits))
        return not_scanned(ps, WARD_REASON_LIMIT, "message scan limit", name);
    struct ward_scan_result res;
    struct ward_diag d;
    ward_err e = fd < 0 ? ward_scan_mem(s, p, n, name, &so, &res, &d)
                        : ward_scan_fd(s, fd, name, &so, &res, &d);
    if (e) /* a read error of the temporary file: not scanned, never clean */
        return not_scanned(ps, WARD_REASON_ERROR, d.msg, name);
    b->bytes += res.bytes;
    b->objects += res.objects;
    return ps->nomem ? WARD_ERR_NOMEM : WARD_OK;
}

static ward_err scan_bytes(ward_scanner *s, struct pscan *ps, struct budget *b, const uint8_t *p,
                           size_t n, const char *name, bool whole)
{
    return scan_src(s, ps, b, p, n, -1, name, whole);
}

/*
 * A large base64 or quoted-printable body is decoded a piece at a time into
 * a spool, which moves to a temporary file past SPOOL_MEM: the decoded copy
 * of a big attachment does not stay in memory beside the message. Pieces end
 * at line breaks, where both encodings start afresh.
 */
static ward_err decode_spooled(const ward_mime *m, uint32_t i, struct ward_tmpspool *sp,
                               ward_buf *piece)
{
    const struct ward_mime_part *pt = &m->parts[i];
    const uint8_t *p = m->data + pt->body;
    size_t n = (size_t)(pt->end - pt->body), pos = 0;
    ward_err e = WARD_OK;
    while (!e && pos < n) {
        size_t take = n - pos < PIECE ? n - pos : PIECE;
        if (pos + take < n) {
            const uint8_t *nl = memrchr(p + pos, '\n', take);
            if (nl)
                take = (size_t)(nl - (p + pos)) + 1;
        }
        ward_buf_reset(piece);
        e = pt->enc == WARD_MIME_BASE64 ? ward_mime_b64_decode(p + pos, take, piece)
                                        : ward_mime_qp_decode(p + pos, take, piece);
        if (!e)
            e = ward_tmpspool_write(sp, piece->data, piece->len);
        pos += take;
    }
    return e;
}

static ward_err scan_large(ward_scanner *s, const ward_mime *m, uint32_t i, struct pscan *ps,
                           struct budget *b, ward_buf *piece, const char *name)
{
    uint64_t cap = ps->o->scan.limits.max_filesize ? ps->o->scan.limits.max_filesize : UINT64_MAX;
    const char *tmp = ps->o->scan.tmpdir && *ps->o->scan.tmpdir ? ps->o->scan.tmpdir : NULL;
    if (!tmp)
        tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct ward_tmpspool sp;
    ward_tmpspool_init(&sp, cap, SPOOL_MEM, tmp);
    ward_err e = decode_spooled(m, i, &sp, piece);
    ps->pr->size = sp.size;
    if (e) {
        ward_tmpspool_free(&sp);
        return e == WARD_ERR_LIMIT
                   ? not_scanned(ps, WARD_REASON_LIMIT, "file size limit", name)
                   : not_scanned(ps, WARD_REASON_ERROR, "cannot store decoded part", name);
    }
    const uint8_t *mem;
    int fd;
    ward_tmpspool_view(&sp, &mem, &fd);
    e = scan_src(s, ps, b, mem, (size_t)sp.size, mem ? -1 : fd, name, false);
    ward_tmpspool_free(&sp);
    return ps->nomem ? WARD_ERR_NOMEM : e;
}

/* A leaf part (or a part a limit left whole): decoded, then scanned. */
static ward_err scan_part(ward_scanner *s, const ward_mime *m, uint32_t i, struct pscan *ps,
                          struct budget *b, ward_buf *dec)
{
    const struct ward_mime_part *p = &m->parts[i];
    char name[300];
    component(p->filename, i, "", name, sizeof name);
    if (p->filename[0] && !push_str(&ps->pr->names, &ps->pr->n_names, p->filename))
        return WARD_ERR_NOMEM;
    if (p->cut) /* the engine's own mail walk takes it from here */
        return scan_bytes(s, ps, b, m->data + p->start, (size_t)(p->end - p->start), name, false);
    bool raw = p->enc != WARD_MIME_BASE64 && p->enc != WARD_MIME_QP && p->enc != WARD_MIME_UUENCODE;
    if (raw)
        return scan_bytes(s, ps, b, m->data + p->body, (size_t)(p->end - p->body), name, false);
    if ((p->enc == WARD_MIME_BASE64 || p->enc == WARD_MIME_QP) && p->end - p->body > LARGE_PART)
        return scan_large(s, m, i, ps, b, dec, name);
    ward_buf_reset(dec);
    struct ward_diag d;
    ward_err e = ward_mime_decode(m, i, dec, &d);
    if (e) {
        ps->pr->size = dec->len;
        return e == WARD_ERR_LIMIT ? not_scanned(ps, WARD_REASON_LIMIT, "file size limit", name)
                                   : not_scanned(ps, WARD_REASON_ERROR, "undecodable part", name);
    }
    return scan_bytes(s, ps, b, dec->data, dec->len, name, false);
}

/* Text of a multipart outside its parts (preamble, epilogue) can carry a payload too. */
static ward_err scan_gaps(ward_scanner *s, const ward_mime *m, uint32_t i, struct pscan *ps,
                          struct budget *b)
{
    const struct ward_mime_part *p = &m->parts[i];
    uint64_t first = p->end, last = p->body;
    for (uint32_t j = i + 1; j < m->n_parts && m->parts[j].start < p->end; j++) {
        if (m->parts[j].parent != i)
            continue;
        if (m->parts[j].start < first)
            first = m->parts[j].start;
        last = m->parts[j].end;
    }
    if (first == p->end) /* no children: the body is one gap */
        last = p->end;
    char name[64];
    ward_err e = WARD_OK;
    if (first > p->body && first - p->body >= GAP_MIN) {
        snprintf(name, sizeof name, "preamble-%u", i);
        e = scan_bytes(s, ps, b, m->data + p->body, (size_t)(first - p->body), name, false);
    }
    if (!e && p->end > last && p->end - last >= GAP_MIN) {
        snprintf(name, sizeof name, "epilogue-%u", i);
        e = scan_bytes(s, ps, b, m->data + last, (size_t)(p->end - last), name, false);
    }
    return e;
}

/* A raw-message finding that a part also reported says nothing more: drop it. */
static void drop_repeats(struct ward_mail_scan *r, size_t n_raw)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_det; i++) {
        bool repeat = false;
        for (size_t j = n_raw; i < n_raw && j < r->n_det && !repeat; j++)
            repeat =
                r->det[j].verdict == r->det[i].verdict && !strcmp(r->det[j].name, r->det[i].name);
        if (repeat) {
            free(r->det[i].name);
            free(r->det[i].path);
            continue;
        }
        r->det[k++] = r->det[i];
    }
    r->n_det = k;
}

ward_err ward_mail_scan(ward_scanner *s, const ward_mime *m, const struct ward_mail_scan_opts *o,
                        struct ward_mail_scan *out, struct ward_diag *diag)
{
    memset(out, 0, sizeof *out);
    size_t leaves = 0;
    for (uint32_t i = 0; i < m->n_parts; i++)
        leaves += ward_mime_is_leaf(&m->parts[i]) || m->parts[i].cut;
    out->parts = calloc(leaves ? leaves : 1, sizeof *out->parts);
    if (!out->parts)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "message scan: out of memory");

    struct pscan ps = {out, o, 0, "", NULL, false, 0};
    struct budget b = {now_ms(), 0, 0};
    ward_err e = scan_bytes(s, &ps, &b, m->data, m->len, RAW_NAME, true);
    size_t n_raw = out->n_det;

    uint64_t cap = o->scan.limits.max_filesize ? o->scan.limits.max_filesize : UINT64_MAX;
    ward_buf dec;
    ward_buf_init(&dec, cap > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)cap);
    char prefix[1024];
    for (uint32_t i = 0; !e && i < m->n_parts; i++) {
        const struct ward_mime_part *p = &m->parts[i];
        bool leaf = ward_mime_is_leaf(p) || p->cut;
        if (!leaf && !p->multipart)
            continue;
        message_prefix(m, i, prefix, sizeof prefix);
        ps.part = i;
        ps.prefix = prefix;
        ps.pr = NULL;
        if (!leaf) {
            e = scan_gaps(s, m, i, &ps, &b);
            continue;
        }
        ps.pr = &out->parts[out->n_parts++];
        ps.pr->part = i;
        e = scan_part(s, m, i, &ps, &b, &dec);
    }
    ward_buf_free(&dec);
    drop_repeats(out, n_raw);
    if (e || ps.nomem) {
        ward_mail_scan_free(out);
        return ward_diag_set(diag, e ? e : WARD_ERR_NOMEM, "message scan: %s",
                             ward_err_str(e ? e : WARD_ERR_NOMEM));
    }
    /* the verdict is recomputed: dropped repeats never lower it, but be exact */
    out->verdict = WARD_VERDICT_CLEAN;
    for (size_t i = 0; i < out->n_det; i++)
        if (out->det[i].verdict > out->verdict)
            out->verdict = out->det[i].verdict;
    return WARD_OK;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ward_mail_scan_free(struct ward_mail_scan *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_det; i++) {
        free(r->det[i].name);
        free(r->det[i].path);
    }
    free(r->det);
    for (size_t i = 0; i < r->n_parts; i++) {
        free_strv(r->parts[i].names, r->parts[i].n_names);
        free_strv(r->parts[i].types, r->parts[i].n_types);
    }
    free(r->parts);
    memset(r, 0, sizeof *r);
}
