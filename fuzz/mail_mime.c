/*
 * mail_mime.c - the offset MIME parser (mail/mime.h) and the minimal editor
 * (mail/edit.h), with oracles:
 *   - every part's ranges lie inside its parent's, in document order, and
 *     depths and limits hold; file names are UTF-8;
 *   - every leaf decodes within a cap without error other than the cap;
 *   - a message written with no edits is byte-identical;
 *   - a header added, the output reparsed: the same number of parts, the new
 *     field first, and everything after it the original bytes;
 *   - the notes and part replacement outputs parse again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail/edit.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORACLE(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "oracle failed: %s (line %d)\n", #cond, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
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

/* Write with the editor into a memory file; returns the bytes (malloc'd). */
static uint8_t *write_out(const ward_medit *e, size_t *len)
{
    int fd = memfd_create("fuzz", 0);
    ORACLE(fd >= 0);
    struct ward_diag d;
    ward_err err = ward_medit_write(e, fd, &d);
    ORACLE(err == WARD_OK);
    off_t n = lseek(fd, 0, SEEK_END);
    uint8_t *p = malloc((size_t)n + 1);
    ORACLE(p && pread(fd, p, (size_t)n, 0) == n);
    close(fd);
    *len = (size_t)n;
    return p;
}

static void check_edits(const ward_mime *m, const uint8_t *data, size_t size)
{
    ward_medit *e;
    ORACLE(ward_medit_new(m, &e) == WARD_OK);
    size_t n;
    uint8_t *out = write_out(e, &n);
    ORACLE(n == size && memcmp(out, data, size) == 0);
    free(out);

    ORACLE(ward_medit_add_header(e, "X-Ward-Result", "clean") == WARD_OK);
    out = write_out(e, &n);
    ward_mime m2;
    ORACLE(ward_mime_parse(out, n, NULL, &m2, NULL) == WARD_OK);
    if (!m->truncated && !m2.truncated)
        ORACLE(m2.n_parts == m->n_parts);
    char v[64];
    uint64_t fs;
    ORACLE(ward_mime_header(&m2, 0, "x-ward-result", v, sizeof v, &fs, NULL));
    ORACLE(!strcmp(v, "clean"));
    ward_mime_free(&m2);
    free(out);

    ORACLE(ward_medit_set_subject(e, "[virus] \xc3\xa9t\xc3\xa9") == WARD_OK);
    ORACLE(ward_medit_add_notes(e, "text head", "text foot", "<p>head</p>", "<p>foot</p>") ==
           WARD_OK);
    out = write_out(e, &n);
    ORACLE(ward_mime_parse(out, n, NULL, &m2, NULL) == WARD_OK);
    ward_mime_free(&m2);
    free(out);
    ward_medit_free(e);

    /* replace the last leaf */
    for (uint32_t i = m->n_parts; i-- > 0;) {
        if (!ward_mime_is_leaf(&m->parts[i]))
            continue;
        ORACLE(ward_medit_new(m, &e) == WARD_OK);
        ORACLE(ward_medit_replace_part(e, i, "removed: Eicar-Test-Signature") == WARD_OK);
        out = write_out(e, &n);
        ORACLE(ward_mime_parse(out, n, NULL, &m2, NULL) == WARD_OK);
        if (!m->truncated && !m2.truncated && i > 0)
            ORACLE(m2.n_parts <= m->n_parts);
        ward_mime_free(&m2);
        free(out);
        ward_medit_free(e);
        break;
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
    check_edits(&m, data, size);
    ward_mime_free(&m);
    return 0;
}
