/* manifest.c - reading and writing bundle manifests. */
#include "update/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/limits.h"
#include "util/strutil.h"

bool ward_manifest_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > WARD_MANIFEST_MAX_NAME || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int ward_version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        unsigned long x = 0, y = 0;
        while (*a >= '0' && *a <= '9' && x < 100000000)
            x = x * 10 + (unsigned long)(*a++ - '0');
        while (*b >= '0' && *b <= '9' && y < 100000000)
            y = y * 10 + (unsigned long)(*b++ - '0');
        if (x != y)
            return x < y ? -1 : 1;
        /* skip one separator (or anything that is not a digit) */
        if (*a)
            a++;
        if (*b)
            b++;
    }
    return 0;
}

const struct ward_manifest_file *ward_manifest_find(const struct ward_manifest *m,
                                                    const char *name)
{
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i].name, name) == 0)
            return &m->files[i];
    return NULL;
}

ward_err ward_manifest_add(struct ward_manifest *m, const char *name, uint64_t size,
                           const uint8_t sha256[32])
{
    size_t len = strlen(name);
    if (!ward_manifest_name_ok(name, len))
        return WARD_ERR_PARSE;
    if (ward_manifest_find(m, name))
        return WARD_ERR_CORRUPT;
    if (m->n_files >= WARD_MANIFEST_MAX_FILES)
        return WARD_ERR_LIMIT;
    /* grow by doubling: n_files is a power of two whenever the array is full */
    if ((m->n_files & (m->n_files - 1)) == 0) {
        size_t cap = m->n_files ? m->n_files * 2 : 1;
        struct ward_manifest_file *f = realloc(m->files, cap * sizeof *f);
        if (!f)
            return WARD_ERR_NOMEM;
        m->files = f;
    }
    struct ward_manifest_file *f = &m->files[m->n_files++];
    memcpy(f->name, name, len + 1);
    f->size = size;
    memcpy(f->sha256, sha256, 32);
    return WARD_OK;
}

void ward_manifest_free(struct ward_manifest *m)
{
    free(m->files);
    memset(m, 0, sizeof *m);
}

/* Split a line (copied, NUL-terminated) into at most max space-separated words. */
static size_t words(char *line, char **w, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    return *p ? max + 1 : n; /* more words than max: report as too many */
}

static ward_err parse_line(struct ward_manifest *m, char *line, unsigned *seen)
{
    char *w[5];
    size_t n = words(line, w, 4);
    uint64_t v;
    if (n == 0)
        return WARD_OK;
    if (strcmp(w[0], "ward-bundle") == 0) {
        if (n != 2 || strcmp(w[1], "1") != 0)
            return WARD_ERR_UNSUPPORTED;
        *seen |= 1;
    } else if (strcmp(w[0], "name") == 0) {
        if (n != 2 || !ward_manifest_name_ok(w[1], strlen(w[1])))
            return WARD_ERR_PARSE;
        snprintf(m->name, sizeof m->name, "%s", w[1]);
        *seen |= 2;
    } else if (strcmp(w[0], "version") == 0) {
        if (n != 2 || !ward_parse_u64(w[1], &m->version))
            return WARD_ERR_PARSE;
        *seen |= 4;
    } else if (strcmp(w[0], "created") == 0) {
        if (n != 2 || !ward_parse_u64(w[1], &v) || v > INT64_MAX)
            return WARD_ERR_PARSE;
        m->created = (int64_t)v;
    } else if (strcmp(w[0], "min_engine") == 0) {
        if (n != 2 || strlen(w[1]) >= sizeof m->min_engine)
            return WARD_ERR_PARSE;
        snprintf(m->min_engine, sizeof m->min_engine, "%s", w[1]);
    } else if (strcmp(w[0], "file") == 0) {
        uint8_t sha[32];
        if (n != 4 || !ward_parse_u64(w[2], &v) || v > WARD_DB_MAX_FILE ||
            strlen(w[3]) != 64 || !ward_hex_decode(w[3], 64, sha))
            return WARD_ERR_PARSE;
        return ward_manifest_add(m, w[1], v, sha);
    }
    return WARD_OK; /* a field of a later format version */
}

ward_err ward_manifest_parse(const char *origin, const void *text, size_t len,
                             struct ward_manifest *m, struct ward_diag *diag)
{
    memset(m, 0, sizeof *m);
    if (len > WARD_MANIFEST_MAX_SIZE)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: manifest larger than %u bytes", origin,
                             WARD_MANIFEST_MAX_SIZE);
    const char *p = text, *end = p + len;
    unsigned lineno = 0, seen = 0;
    char line[512];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        lineno++;
        ward_err e = WARD_OK;
        if (n >= sizeof line)
            e = WARD_ERR_LIMIT;
        else if (memchr(p, 0, n))
            e = WARD_ERR_PARSE;
        if (!e) {
            memcpy(line, p, n);
            line[n] = 0;
            if (n && line[n - 1] == '\r')
                line[n - 1] = 0;
            if (lineno == 1 && strncmp(line, "ward-bundle ", 12) != 0)
                e = WARD_ERR_PARSE;
            else
                e = parse_line(m, line, &seen);
        }
        if (e) {
            static const char *const why[] = {
                [WARD_ERR_PARSE] = "malformed line", [WARD_ERR_LIMIT] = "too long or too many files",
                [WARD_ERR_UNSUPPORTED] = "unknown manifest format version",
                [WARD_ERR_CORRUPT] = "file listed twice", [WARD_ERR_NOMEM] = "out of memory"};
            const char *w = (size_t)e < sizeof why / sizeof *why && why[e] ? why[e] : "error";
            ward_manifest_free(m);
            return ward_diag_set(diag, e, "%s:%u: %s", origin, lineno, w);
        }
        p = nl ? nl + 1 : end;
    }
    if ((seen & 7) != 7) {
        ward_manifest_free(m);
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s: not a bundle manifest (%s missing)",
                             origin, !(seen & 1) ? "ward-bundle" : !(seen & 2) ? "name" : "version");
    }
    return WARD_OK;
}

ward_err ward_manifest_write(const struct ward_manifest *m, ward_buf *out)
{
    ward_err e = ward_buf_printf(out, "ward-bundle 1\nname %s\nversion %llu\ncreated %lld\n",
                                 m->name, (unsigned long long)m->version, (long long)m->created);
    if (!e && m->min_engine[0])
        e = ward_buf_printf(out, "min_engine %s\n", m->min_engine);
    for (size_t i = 0; !e && i < m->n_files; i++) {
        char hex[65];
        ward_hex_encode(m->files[i].sha256, 32, hex);
        e = ward_buf_printf(out, "file %s %llu %s\n", m->files[i].name,
                            (unsigned long long)m->files[i].size, hex);
    }
    return e;
}
