/*
 * mail_hdiff.c - fuzz target for mail/hdiff.h: two header blocks (the input
 * split at its first NUL byte) are parsed and diffed; the operations applied
 * to the first block the way an MTA applies milter edits must give the second
 * block field for field.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/hdiff.h"

struct fld {
    const uint8_t *p;
    size_t len;
};

static size_t nlen(const uint8_t *p, const struct ward_hfield *f)
{
    size_t n = f->colon - f->start;
    while (n > 0 && (p[f->start + n - 1] == ' ' || p[f->start + n - 1] == '\t'))
        n--;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t la = nul ? (size_t)(nul - data) : size / 2;
    const uint8_t *a = data, *b = data + la + (nul ? 1 : 0);
    size_t lb = size - (size_t)(b - data);
    struct ward_hblock ba, bb;
    if (ward_hdiff_parse(a, la, &ba, NULL))
        return 0;
    if (ward_hdiff_parse(b, lb, &bb, NULL)) {
        ward_hdiff_block_free(&ba);
        return 0;
    }
    if (ba.len > la || bb.len > lb)
        abort();
    struct ward_hop *ops;
    size_t n;
    if (ward_hdiff(a, &ba, b, &bb, &ops, &n, NULL) == WARD_OK) {
        /* the MTA's list: fields with the block they come from */
        struct fld *list = malloc((ba.n + bb.n + 1) * sizeof *list);
        const uint8_t **src = malloc((ba.n + bb.n + 1) * sizeof *src);
        const struct ward_hfield **fs = malloc((ba.n + bb.n + 1) * sizeof *fs);
        size_t m = 0;
        for (size_t i = 0; i < ba.n; i++, m++) {
            src[m] = a;
            fs[m] = &ba.f[i];
        }
        for (size_t k = 0; k < n; k++) {
            const struct ward_hop *h = &ops[k];
            if (h->kind == WARD_HOP_INSERT) {
                if (h->pos > m)
                    abort();
                memmove(src + h->pos + 1, src + h->pos, (m - h->pos) * sizeof *src);
                memmove(fs + h->pos + 1, fs + h->pos, (m - h->pos) * sizeof *fs);
                src[h->pos] = b;
                fs[h->pos] = &bb.f[h->new];
                m++;
                continue;
            }
            /* find the occurrence-th field of that name, as the MTA does */
            const struct ward_hfield *of = &ba.f[h->orig];
            size_t on = nlen(a, of), occ = 0, at = m;
            for (size_t i = 0; i < m; i++) {
                const struct ward_hfield *f = fs[i];
                if (f->colon < f->end && nlen(src[i], f) == on &&
                    strncasecmp((const char *)src[i] + f->start, (const char *)a + of->start, on) ==
                        0 &&
                    ++occ == h->occurrence) {
                    at = i;
                    break;
                }
            }
            if (at == m)
                abort();
            if (h->kind == WARD_HOP_DELETE) {
                memmove(src + at, src + at + 1, (m - at - 1) * sizeof *src);
                memmove(fs + at, fs + at + 1, (m - at - 1) * sizeof *fs);
                m--;
            } else {
                src[at] = b;
                fs[at] = &bb.f[h->new];
            }
        }
        if (m != bb.n)
            abort();
        for (size_t i = 0; i < m; i++) {
            const struct ward_hfield *x = fs[i], *y = &bb.f[i];
            if (x->end - x->start != y->end - y->start ||
                memcmp(src[i] + x->start, b + y->start, x->end - x->start) != 0)
                abort();
        }
        free(list);
        free(src);
        free(fs);
        free(ops);
    }
    ward_hdiff_block_free(&ba);
    ward_hdiff_block_free(&bb);
    return 0;
}
