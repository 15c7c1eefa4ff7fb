/* hdiff.c - header block differences as milter operations (hdiff.h). */
#include "mail/hdiff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

ward_err ward_hdiff_parse(const uint8_t *p, size_t len, struct ward_hblock *out,
                          struct ward_diag *diag)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, pos = 0;
    while (pos < len) {
        if (p[pos] == '\n' || (p[pos] == '\r' && pos + 1 < len && p[pos + 1] == '\n')) {
            out->len = pos + (p[pos] == '\n' ? 1 : 2);
            return WARD_OK;
        }
        if (out->n == WARD_HDIFF_MAX_FIELDS) {
            ward_hdiff_block_free(out);
            return ward_diag_set(diag, WARD_ERR_LIMIT, "more than %u header fields",
                                 WARD_HDIFF_MAX_FIELDS);
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 32;
            struct ward_hfield *f = realloc(out->f, cap * sizeof *f);
            if (!f) {
                ward_hdiff_block_free(out);
                return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
            }
            out->f = f;
        }
        struct ward_hfield *f = &out->f[out->n++];
        f->start = pos;
        const uint8_t *nl = memchr(p + pos, '\n', len - pos);
        const uint8_t *colon = memchr(p + pos, ':', (nl ? (size_t)(nl - p) : len) - pos);
        /* the field goes on while the next line starts with white space */
        for (;;) {
            if (!nl) {
                pos = len;
                break;
            }
            pos = (size_t)(nl - p) + 1;
            if (pos >= len || (p[pos] != ' ' && p[pos] != '\t'))
                break;
            nl = memchr(p + pos, '\n', len - pos);
        }
        f->end = pos;
        f->colon = colon ? (size_t)(colon - p) : pos;
        f->eol = pos > f->start && p[pos - 1] == '\n'
                     ? (pos - 1 > f->start && p[pos - 2] == '\r' ? 2 : 1)
                     : 0;
    }
    out->len = len;
    return WARD_OK;
}

void ward_hdiff_block_free(struct ward_hblock *b)
{
    free(b->f);
    memset(b, 0, sizeof *b);
}

static bool same(const uint8_t *a, const struct ward_hfield *fa, const uint8_t *b,
                 const struct ward_hfield *fb)
{
    return fa->end - fa->start == fb->end - fb->start &&
           memcmp(a + fa->start, b + fb->start, fa->end - fa->start) == 0;
}

static size_t name_len(const uint8_t *p, const struct ward_hfield *f)
{
    size_t n = f->colon - f->start;
    while (n > 0 && (p[f->start + n - 1] == ' ' || p[f->start + n - 1] == '\t'))
        n--;
    return n;
}

/* Names equal as the MTA compares them (case-insensitive), or byte for byte. */
static bool name_eq(const uint8_t *a, const struct ward_hfield *fa, const uint8_t *b,
                    const struct ward_hfield *fb, bool exact)
{
    size_t na = name_len(a, fa), nb = name_len(b, fb);
    if (fa->colon >= fa->end || fb->colon >= fb->end || na != nb)
        return false;
    return exact ? memcmp(a + fa->start, b + fb->start, na) == 0
                 : strncasecmp((const char *)a + fa->start, (const char *)b + fb->start, na) == 0;
}

static bool same_name(const uint8_t *a, const struct ward_hfield *fa, const uint8_t *b,
                      const struct ward_hfield *fb)
{
    return name_eq(a, fa, b, fb, true);
}

/* One step of the alignment. */
enum step { KEEP, DEL, INS };
struct edit {
    enum step step;
    size_t a, b;
    size_t paired; /* DEL: index+1 of the INS edit it pairs with; INS: of its DEL; 0: none */
};

/* Longest common subsequence of the middles, walked into a list of edits. */
static ward_err align(const uint8_t *a, const struct ward_hblock *ba, const uint8_t *b,
                      const struct ward_hblock *bb, struct edit **out, size_t *n_out,
                      struct ward_diag *diag)
{
    size_t na = ba->n, nb = bb->n, k = 0, s = 0;
    while (k < na && k < nb && same(a, &ba->f[k], b, &bb->f[k]))
        k++;
    while (s < na - k && s < nb - k && same(a, &ba->f[na - 1 - s], b, &bb->f[nb - 1 - s]))
        s++;
    size_t m1 = na - k - s, m2 = nb - k - s;
    if (m1 && m2 && (m1 + 1) > WARD_HDIFF_MAX_CELLS / (m2 + 1))
        return ward_diag_set(diag, WARD_ERR_LIMIT,
                             "header blocks too different (%zu and %zu "
                             "fields)",
                             m1, m2);
    uint32_t *L = calloc((m1 + 1) * (m2 + 1), sizeof *L);
    struct edit *e = malloc((na + nb + 1) * sizeof *e);
    if (!L || !e) {
        free(L);
        free(e);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    }
#define AT(i, j) L[(i) * (m2 + 1) + (j)]
    for (size_t i = m1; i-- > 0;)
        for (size_t j = m2; j-- > 0;)
            AT(i, j) = same(a, &ba->f[k + i], b, &bb->f[k + j])
                           ? AT(i + 1, j + 1) + 1
                           : (AT(i + 1, j) >= AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
    size_t n = 0, i = 0, j = 0;
    for (size_t x = 0; x < k; x++)
        e[n++] = (struct edit){KEEP, x, x, 0};
    while (i < m1 || j < m2) {
        if (i < m1 && j < m2 && same(a, &ba->f[k + i], b, &bb->f[k + j])) {
            e[n++] = (struct edit){KEEP, k + i, k + j, 0};
            i++, j++;
        } else if (i < m1 && (j == m2 || AT(i + 1, j) >= AT(i, j + 1))) {
            e[n++] = (struct edit){DEL, k + i, 0, 0};
            i++;
        } else {
            e[n++] = (struct edit){INS, 0, k + j, 0};
            j++;
        }
    }
#undef AT
    for (size_t x = 0; x < s; x++)
        e[n++] = (struct edit){KEEP, na - s + x, nb - s + x, 0};
    free(L);
    *out = e;
    *n_out = n;
    return WARD_OK;
}

/*
 * Within each run of edits between kept fields, a removal and an addition of
 * the same name (same bytes: the MTA keeps the original's name) pair up into
 * a change. Pairs never cross, so the changed fields keep the order the new
 * block gives them.
 */
static void pair_up(const uint8_t *a, const struct ward_hblock *ba, const uint8_t *b,
                    const struct ward_hblock *bb, struct edit *e, size_t n)
{
    size_t run = 0;
    while (run < n) {
        if (e[run].step == KEEP) {
            run++;
            continue;
        }
        size_t end = run, next = run; /* next: the first INS a pair may still use */
        while (end < n && e[end].step != KEEP)
            end++;
        for (size_t d = run; d < end; d++) {
            if (e[d].step != DEL)
                continue;
            for (size_t x = next; x < end; x++)
                if (e[x].step == INS && same_name(a, &ba->f[e[d].a], b, &bb->f[e[x].b])) {
                    e[d].paired = x + 1;
                    e[x].paired = d + 1;
                    next = x + 1;
                    break;
                }
        }
        run = end;
    }
}

static size_t occurrence(const uint8_t *a, const struct ward_hblock *ba, size_t i)
{
    size_t occ = 1;
    for (size_t x = 0; x < i; x++)
        if (name_eq(a, &ba->f[x], a, &ba->f[i], false))
            occ++;
    return occ;
}

ward_err ward_hdiff(const uint8_t *a, const struct ward_hblock *ba, const uint8_t *b,
                    const struct ward_hblock *bb, struct ward_hop **ops, size_t *n_ops,
                    struct ward_diag *diag)
{
    struct edit *e = NULL;
    size_t n = 0;
    *ops = NULL;
    *n_ops = 0;
    /* an MTA's fields all have a name; a line without a colon cannot be edited */
    for (size_t i = 0; i < ba->n + bb->n; i++) {
        const struct ward_hfield *f = i < ba->n ? &ba->f[i] : &bb->f[i - ba->n];
        if (f->colon >= f->end)
            return ward_diag_set(diag, WARD_ERR_PARSE, "a header line without a colon");
    }
    ward_err err = align(a, ba, b, bb, &e, &n, diag);
    if (err)
        return err;
    pair_up(a, ba, b, bb, e, n);
    size_t n_mod = 0, n_ins = 0;
    for (size_t x = 0; x < n; x++) {
        if (e[x].step == DEL)
            n_mod++;
        else if (e[x].step == INS && !e[x].paired)
            n_ins++;
    }
    struct ward_hop *o = n_mod + n_ins ? calloc(n_mod + n_ins, sizeof *o) : NULL;
    if (n_mod + n_ins && !o) {
        free(e);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    }
    /* changes and deletions, last field first */
    size_t k = 0;
    for (size_t x = n; x-- > 0;) {
        if (e[x].step != DEL)
            continue;
        struct ward_hop *h = &o[k++];
        h->orig = e[x].a;
        h->occurrence = occurrence(a, ba, e[x].a);
        if (e[x].paired) {
            h->kind = WARD_HOP_CHANGE;
            h->new = e[e[x].paired - 1].b;
        } else {
            h->kind = WARD_HOP_DELETE;
        }
    }
    /* insertions at their place in the final list, counted in the new block's order
       (a changed field counts where its new value stands) */
    size_t final = 0;
    for (size_t x = 0; x < n; x++) {
        if (e[x].step == KEEP || (e[x].step == INS && e[x].paired)) {
            final++;
        } else if (e[x].step == INS) {
            o[k++] = (struct ward_hop){.kind = WARD_HOP_INSERT, .new = e[x].b, .pos = final};
            final++;
        }
    }
    free(e);
    *ops = o;
    *n_ops = k;
    return WARD_OK;
}
