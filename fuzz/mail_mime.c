/*
 * mail_mime.c - the offset MIME parser (mail/mime.h), with oracles:
 *   - every part's ranges lie inside its parent's, in document order, and
 *     depths and limits hold; file names are UTF-8;
 *   - every leaf decodes within a cap without error other than the cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORACLE(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "oracle failed: %s (line %d)\n", #cond, __LINE__);             \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static bool utf8_ok(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        size_t k = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
        if (*p >= 0x80 && (*p < 0xc2 || *p > 0xf4))
            return false;
        for (size_t i = 1; i < k; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += k;
    }
    return true;
}

static void check_structure(const ward_mime *m, size_t size)
{
    ORACLE(m->n_parts >= 1 && m->n_parts <= 10000);
    ORACLE(m->parts[0].start == 0 && m->parts[0].end == size);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < m->n_parts; i++) {
        const struct ward_mime_part *p = &m->parts[i];
        ORACLE(p->start <= p->body && p->body <= p->end && p->end <= size);
        ORACLE(p->start >= prev);
        prev = p->start;
        ORACLE(memchr(p->filename, 0, sizeof p->filename) && utf8_ok(p->filename));
        ORACLE(memchr(p->boundary, 0, sizeof p->boundary));
        if (i == 0) {
            ORACLE(p->parent == WARD_MIME_NONE && p->depth == 0);
            continue;
        }
        ORACLE(p->parent < i);
        const struct ward_mime_part *q = &m->parts[p->parent];
        ORACLE(q->multipart || q->message);
        ORACLE(p->depth == q->depth + 1 && p->depth <= 32);
        ORACLE(p->start >= q->body && p->end <= q->end);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ward_mime m;
    struct ward_diag d;
    if (ward_mime_parse(data, size, NULL, &m, &d) != WARD_OK)
        return 0;
    check_structure(&m, size);
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    for (uint32_t i = 0; i < m.n_parts; i++) {
        char v[256];
        (void)ward_mime_header(&m, i, "content-type", v, sizeof v, NULL, NULL);
        if (!ward_mime_is_leaf(&m.parts[i]))
            continue;
        ward_buf_reset(&b);
        ward_err e = ward_mime_decode(&m, i, &b, &d);
        ORACLE(e == WARD_OK || e == WARD_ERR_LIMIT);
        ORACLE(b.len <= b.cap);
    }
    ward_buf_free(&b);
    ward_mime_free(&m);
    return 0;
}
