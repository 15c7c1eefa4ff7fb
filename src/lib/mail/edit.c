/*
 * edit.c - minimal changes to a raw message (see edit.h).
 *
 * Every edit becomes a splice: a byte range of the original [start, end)
 * and the bytes that take its place (an insertion when the range is empty).
 * Writing copies the original between splices unchanged, so bytes no edit
 * names come out exactly as they came in.
 */
#include "mail/edit.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_int.h"
#include "util/file.h"

#define EDIT_MAX_BYTES (64u << 20) /* a replacement body (a decoded and re-encoded text part) */

struct splice {
    uint64_t start, end;
    uint8_t *bytes;
    size_t len;
    uint32_t seq; /* insertions at one point keep the order they were made in */
};

struct ward_medit {
    const ward_mime *m;
    struct splice *sp;
    size_t n, alloc;
    uint32_t seq;
    uint32_t n_added; /* added top fields, kept in the order they were added */
    bool block_made;  /* the line breaks that make a header block for added fields */
};

/*
 * Order of insertions at one point: a line break that starts a line first,
 * then added header fields, then the blank line that ends a header block made
 * for them, then everything else (notes at the start of a body) in the order
 * made.
 */
#define SEQ_FIRST 0u
#define SEQ_BLOCK_END (1u << 30)

ward_err ward_medit_new(const ward_mime *m, ward_medit **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return WARD_ERR_NOMEM;
    (*out)->m = m;
    return WARD_OK;
}

void ward_medit_free(ward_medit *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->sp[i].bytes);
    free(e->sp);
    free(e);
}

bool ward_medit_changed(const ward_medit *e)
{
    return e->n > 0;
}

static bool overlaps(const struct splice *a, uint64_t start, uint64_t end)
{
    if (a->start == a->end) /* an insertion conflicts only strictly inside a range */
        return start < a->start && a->start < end;
    if (start == end)
        return a->start < start && start < a->end;
    return start < a->end && a->start < end;
}

static ward_err add_splice_seq(ward_medit *e, uint64_t start, uint64_t end, ward_buf *b,
                               uint32_t seq);

/* Record a splice; takes the bytes of b (left empty). */
static ward_err add_splice(ward_medit *e, uint64_t start, uint64_t end, ward_buf *b)
{
    return add_splice_seq(e, start, end, b, SEQ_BLOCK_END + ++e->seq);
}

static ward_err add_splice_seq(ward_medit *e, uint64_t start, uint64_t end, ward_buf *b,
                               uint32_t seq)
{
    for (size_t i = 0; i < e->n; i++)
        if (overlaps(&e->sp[i], start, end))
            return WARD_ERR_UNSUPPORTED;
    if (e->n == e->alloc) {
        size_t n = e->alloc ? e->alloc * 2 : 8;
        struct splice *q = realloc(e->sp, n * sizeof *q);
        if (!q)
            return WARD_ERR_NOMEM;
        e->sp = q;
        e->alloc = n;
    }
    struct splice *s = &e->sp[e->n++];
    s->start = start;
    s->end = end;
    s->seq = seq;
    s->bytes = b ? ward_buf_steal(b, &s->len) : NULL;
    if (!b)
        s->len = 0;
    return WARD_OK;
}

static const char *eol_of(const ward_mime *m, uint32_t part)
{
    return m->parts[part].crlf ? "\r\n" : "\n";
}

/* Text put right before `off` must end its line itself: an empty part sits at a boundary. */
static bool needs_break(const ward_mime *m, uint64_t off)
{
    return off < m->len && m->data[off] != '\n' && m->data[off] != '\r';
}

/* ---- header fields ---------------------------------------------------------- */

/* Insert one line break at `at` as the first or last of the insertions there. */
static ward_err add_break(ward_medit *e, uint64_t at, uint32_t seq)
{
    ward_buf b;
    ward_buf_init(&b, 8);
    ward_err err = ward_buf_puts(&b, eol_of(e->m, 0));
    if (!err)
        err = add_splice_seq(e, at, at, &b, seq);
    ward_buf_free(&b);
    return err;
}

ward_err ward_medit_add_header(ward_medit *e, const char *name, const char *value)
{
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    ward_err err = ward_mime_field_encode(name, value, eol_of(e->m, 0), &b);
    /* before the first field (stray continuation lines would join ours); a
       message with no header block gets one, ended by one blank line after
       all the added fields */
    const ward_mime *m = e->m;
    size_t pos = ward_mime_fields_start(m, 0), body, at;
    struct ward_mime_field f;
    bool headless = false;
    if (ward_mime_next_field(m->data, (size_t)m->parts[0].body, &pos, &f, &body))
        at = f.start;
    else
        headless = (at = pos) == body && pos < m->len;
    if (!err && !e->block_made) {
        if (headless)
            err = add_break(e, at, SEQ_BLOCK_END);
        if (!err && at > 0 && m->data[at - 1] != '\n') /* after a From line with no break */
            err = add_break(e, at, SEQ_FIRST);
        e->block_made = !err;
    }
    if (!err)
        err = add_splice_seq(e, at, at, &b, ++e->n_added);
    ward_buf_free(&b);
    return err;
}

ward_err ward_medit_remove_header(ward_medit *e, const char *name)
{
    const ward_mime *m = e->m;
    size_t pos = ward_mime_fields_start(m, 0), body, nl = strlen(name);
    struct ward_mime_field f;
    while (ward_mime_next_field(m->data, (size_t)m->parts[0].body, &pos, &f, &body)) {
        if (f.name_end - f.start != nl || strncasecmp((const char *)m->data + f.start, name, nl))
            continue;
        ward_err err = add_splice(e, f.start, f.end, NULL);
        if (err)
            return err;
    }
    return WARD_OK;
}

ward_err ward_medit_set_subject(ward_medit *e, const char *value)
{
    uint64_t fs, fe;
    if (!ward_mime_header(e->m, 0, "subject", NULL, 0, &fs, &fe))
        return ward_medit_add_header(e, "Subject", value);
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    ward_err err = ward_mime_field_encode("Subject", value, eol_of(e->m, 0), &b);
    if (!err)
        err = add_splice(e, fs, fe, &b);
    ward_buf_free(&b);
    return err;
}

/* ---- replacing a part ------------------------------------------------------- */

/* The notice with its line breaks as `eol`. */
static ward_err put_text(ward_buf *b, const char *text, const char *eol)
{
    ward_err err = WARD_OK;
    for (const char *p = text; !err && *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        err = *p == '\n' ? ward_buf_puts(b, eol) : ward_buf_putc(b, (uint8_t)*p);
    }
    return err;
}

static bool ascii(const char *s)
{
    for (; *s; s++)
        if ((uint8_t)*s >= 128)
            return false;
    return true;
}

ward_err ward_medit_replace_part(ward_medit *e, uint32_t part, const char *notice)
{
    const ward_mime *m = e->m;
    if (part >= m->n_parts)
        return WARD_ERR_NOTFOUND;
    const struct ward_mime_part *p = &m->parts[part];
    const char *eol = eol_of(m, part);
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    ward_err err = ward_buf_printf(&b,
                                   "Content-Type: text/plain; charset=utf-8%s"
                                   "Content-Transfer-Encoding: %s%s",
                                   eol, ascii(notice) ? "7bit" : "8bit", eol);
    bool own_header = part == 0 || m->parts[p->parent].message;
    if (!own_header) {
        /* a member of a multipart: the whole part, up to its boundary's line break */
        if (!err)
            err = ward_buf_puts(&b, eol);
        if (!err)
            err = put_text(&b, notice, eol);
        if (!err && needs_break(m, p->end))
            err = ward_buf_puts(&b, eol);
        if (!err)
            err = add_splice(e, p->start, p->end, &b);
        ward_buf_free(&b);
        return err;
    }
    /* a message: its other fields stay; its Content-* fields and body go */
    size_t pos = ward_mime_fields_start(m, part), body;
    struct ward_mime_field f;
    while (!err && ward_mime_next_field(m->data, (size_t)p->body, &pos, &f, &body))
        if (f.name_end - f.start > 8 &&
            !strncasecmp((const char *)m->data + f.start, "content-", 8))
            err = add_splice(e, f.start, f.end, NULL);
    if (!err)
        err = ward_buf_puts(&b, eol);
    if (!err)
        err = put_text(&b, notice, eol);
    if (!err && p->end == m->len)
        err = ward_buf_puts(&b, eol);
    /* pos is where the header block ended: the blank line, or the body's first line */
    if (!err)
        err = add_splice(e, pos, p->end, &b);
    ward_buf_free(&b);
    return err;
}

/* ---- notes in the visible text ---------------------------------------------- */

/* Is this part inside an attached message (not what the reader sees first)? */
static bool in_attached_message(const ward_mime *m, uint32_t i)
{
    for (uint32_t p = m->parts[i].parent; p != WARD_MIME_NONE; p = m->parts[p].parent)
        if (m->parts[p].message)
            return true;
    return false;
}

static bool inside_splice(const ward_medit *e, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->sp[i].start < e->sp[i].end && start < e->sp[i].end && e->sp[i].start < end)
            return true;
    return false;
}

/* The note in the part's charset (UTF-8 notes into a Latin-1 part, say). */
static ward_err put_note(ward_buf *b, const char *note, const char *charset, const char *eol)
{
    if (ascii(note) || !*charset || !strcasecmp(charset, "utf-8") || !strcasecmp(charset, "utf8"))
        return put_text(b, note, eol);
    char tocs[80];
    snprintf(tocs, sizeof tocs, "%s//TRANSLIT", charset);
    iconv_t cd = iconv_open(tocs, "UTF-8");
    char conv[4096];
    size_t il = strlen(note), ol = sizeof conv - 1;
    char *ip = (char *)note, *op = conv;
    if (cd == (iconv_t)-1 || iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
        /* no conversion: the note's ASCII only, rather than mojibake */
        op = conv;
        for (const char *s = note; *s && op < conv + sizeof conv - 1; s++)
            if ((uint8_t)*s < 128)
                *op++ = *s;
            else if (((uint8_t)*s & 0xc0) == 0xc0)
                *op++ = '?';
    }
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    *op = 0;
    return put_text(b, conv, eol);
}

/* Where to put the notes of an HTML text: after <body ...>, before the last </body>. */
static void html_points(const uint8_t *t, size_t n, size_t *head, size_t *foot)
{
    *head = 0;
    *foot = n;
    for (size_t i = 0; i + 5 <= n; i++) {
        if (t[i] == '<' && !strncasecmp((const char *)t + i + 1, "body", 4) &&
            (i + 5 == n || t[i + 5] == '>' || t[i + 5] == ' ' || t[i + 5] == '\t' ||
             t[i + 5] == '\r' || t[i + 5] == '\n')) {
            const uint8_t *gt = memchr(t + i, '>', n - i);
            *head = gt ? (size_t)(gt - t) + 1 : n;
            break;
        }
    }
    for (size_t i = n; i-- > *head;)
        if (t[i] == '<' && n - i >= 7 && !strncasecmp((const char *)t + i, "</body>", 7)) {
            *foot = i;
            break;
        }
}

/* The line break the part's body uses (its first one; else its header's). */
static const char *body_eol(const ward_mime *m, uint32_t part)
{
    const struct ward_mime_part *p = &m->parts[part];
    const uint8_t *nl = memchr(m->data + p->body, '\n', (size_t)(p->end - p->body));
    if (nl && nl > m->data + p->body)
        return nl[-1] == '\r' ? "\r\n" : "\n";
    return eol_of(m, part);
}

/* The header note and its line break. */
static ward_err head_note(ward_buf *b, const char *hn, const char *charset, const char *eol)
{
    ward_err err = put_note(b, hn, charset, eol);
    return err ? err : ward_buf_puts(b, eol);
}

/* The footer note on a line of its own after text that ends (or not) with a break. */
static ward_err foot_note(ward_buf *b, const char *fn, bool ends_nl, bool empty, bool html,
                          const char *charset, const char *eol)
{
    ward_err err = WARD_OK;
    if (!ends_nl && !empty)
        err = ward_buf_puts(b, eol);
    if (!err)
        err = put_note(b, fn, charset, eol);
    if (!err && (ends_nl || html))
        err = ward_buf_puts(b, eol);
    return err;
}

/* text[0..head) + header + text[head..foot) + footer + text[foot..n) */
static ward_err wrap(ward_buf *b, const uint8_t *t, size_t n, bool html, const char *hn,
                     const char *fn, const char *charset, const char *eol)
{
    size_t head = 0, foot = n;
    if (html)
        html_points(t, n, &head, &foot);
    ward_err err = ward_buf_append(b, t, head);
    if (!err && hn)
        err = head_note(b, hn, charset, eol);
    if (!err)
        err = ward_buf_append(b, t + head, foot - head);
    if (!err && fn)
        err = foot_note(b, fn, foot > 0 && t[foot - 1] == '\n', foot == head, html, charset, eol);
    if (!err)
        err = ward_buf_append(b, t + foot, n - foot);
    return err;
}

static ward_err note_part(ward_medit *e, uint32_t i, bool html, const char *hn, const char *fn)
{
    const ward_mime *m = e->m;
    const struct ward_mime_part *p = &m->parts[i];
    const char *eol = body_eol(m, i);
    ward_buf text, out;
    ward_buf_init(&text, EDIT_MAX_BYTES);
    ward_buf_init(&out, EDIT_MAX_BYTES);
    ward_err err;
    bool raw = p->enc == WARD_MIME_7BIT || p->enc == WARD_MIME_8BIT || p->enc == WARD_MIME_BINARY;
    if (raw) {
        /* the body's own bytes are the text: two insertions, nothing else changes */
        const uint8_t *t = m->data + p->body;
        size_t n = (size_t)(p->end - p->body), head = 0, foot = n;
        if (html)
            html_points(t, n, &head, &foot);
        err = hn ? head_note(&out, hn, p->charset, eol) : WARD_OK;
        if (!err && hn)
            err = add_splice(e, p->body + head, p->body + head, &out);
        if (!err && fn)
            err = foot_note(&out, fn, foot > 0 && t[foot - 1] == '\n', foot == head, html,
                            p->charset, eol);
        if (!err && fn && foot == n && needs_break(m, p->end))
            err = ward_buf_puts(&out, eol);
        if (!err && fn)
            err = add_splice(e, p->body + foot, p->body + foot, &out);
    } else {
        struct ward_diag d;
        err = ward_mime_decode(m, i, &text, &d);
        if (!err)
            err = wrap(&out, text.data, text.len, html, hn, fn, p->charset, eol);
        ward_buf_reset(&text);
        if (!err)
            err = p->enc == WARD_MIME_QP ? ward_mime_qp_encode(out.data, out.len, eol, &text)
                                         : ward_mime_b64_encode(out.data, out.len, eol, &text);
        /* a body that ended with a line break still does */
        if (!err && p->end > p->body && m->data[p->end - 1] == '\n' &&
            !(text.len && text.data[text.len - 1] == '\n'))
            err = ward_buf_puts(&text, eol);
        if (!err && needs_break(m, p->end))
            err = ward_buf_puts(&text, eol);
        if (!err)
            err = add_splice(e, p->body, p->end, &text);
    }
    ward_buf_free(&text);
    ward_buf_free(&out);
    return err;
}

ward_err ward_medit_add_notes(ward_medit *e, const char *text_header, const char *text_footer,
                              const char *html_header, const char *html_footer)
{
    const ward_mime *m = e->m;
    bool done_text = !text_header && !text_footer, done_html = !html_header && !html_footer;
    for (uint32_t i = 0; i < m->n_parts && !(done_text && done_html); i++) {
        const struct ward_mime_part *p = &m->parts[i];
        if (!ward_mime_is_leaf(p) || p->cut || p->attachment || p->filename[0] ||
            strcmp(p->type, "text") != 0 || in_attached_message(m, i))
            continue;
        bool html = !strcmp(p->subtype, "html");
        if (!html && strcmp(p->subtype, "plain") != 0)
            continue;
        if (html ? done_html : done_text)
            continue;
        if (html)
            done_html = true;
        else
            done_text = true;
        /* a removed part, or an encoding we do not write: leave it alone */
        if (p->enc == WARD_MIME_UUENCODE || p->enc == WARD_MIME_UNKNOWN ||
            inside_splice(e, p->start, p->end))
            continue;
        ward_err err = html ? note_part(e, i, true, html_header, html_footer)
                            : note_part(e, i, false, text_header, text_footer);
        if (err)
            return err;
    }
    return WARD_OK;
}

/* ---- writing ---------------------------------------------------------------- */

static int splice_cmp(const void *a, const void *b)
{
    const struct splice *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    /* at one point: insertions first, then in the order made */
    bool xi = x->start == x->end, yi = y->start == y->end;
    if (xi != yi)
        return xi ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static ward_err write_all(int fd, const uint8_t *p, size_t n, struct ward_diag *diag)
{
    ward_err e = ward_write_full(fd, p, n);
    return e ? ward_diag_set(diag, e, "writing the message: %s", strerror(errno)) : WARD_OK;
}

ward_err ward_medit_write(const ward_medit *e, int fd, struct ward_diag *diag)
{
    const ward_mime *m = e->m;
    struct splice *order = NULL;
    if (e->n) {
        order = malloc(e->n * sizeof *order);
        if (!order)
            return ward_diag_set(diag, WARD_ERR_NOMEM, "writing the message: out of memory");
        memcpy(order, e->sp, e->n * sizeof *order);
        qsort(order, e->n, sizeof *order, splice_cmp);
    }
    uint64_t pos = 0;
    ward_err err = WARD_OK;
    for (size_t i = 0; !err && i < e->n; i++) {
        const struct splice *s = &order[i];
        if (s->start > pos)
            err = write_all(fd, m->data + pos, (size_t)(s->start - pos), diag);
        if (!err && s->len)
            err = write_all(fd, s->bytes, s->len, diag);
        if (s->end > pos)
            pos = s->end;
    }
    if (!err && pos < m->len)
        err = write_all(fd, m->data + pos, (size_t)(m->len - pos), diag);
    free(order);
    return err;
}
