/* conf.c - a small, bounded INI reader with line numbers. */
#include "util/conf.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/file.h"
#include "util/limits.h"

static ward_err add_section(ward_conf *c, const char *name, size_t len, unsigned line)
{
    for (size_t i = 0; i < c->n_sections; i++)
        if (strlen(c->sections[i].name) == len && memcmp(c->sections[i].name, name, len) == 0)
            return WARD_OK;
    if (c->n_sections == c->cap_sections) {
        size_t n = c->cap_sections ? c->cap_sections * 2 : 8;
        void *p = realloc(c->sections, n * sizeof *c->sections);
        if (!p)
            return WARD_ERR_NOMEM;
        c->sections = p;
        c->cap_sections = n;
    }
    char *s = strndup(name, len);
    if (!s)
        return WARD_ERR_NOMEM;
    c->sections[c->n_sections].name = s;
    c->sections[c->n_sections].line = line;
    c->n_sections++;
    return WARD_OK;
}

static ward_err add_entry(ward_conf *c, const char *section, const char *key, size_t keylen,
                          char *value, unsigned line)
{
    if (c->n_entries == c->cap_entries) {
        size_t n = c->cap_entries ? c->cap_entries * 2 : 32;
        void *p = realloc(c->entries, n * sizeof *c->entries);
        if (!p)
            return WARD_ERR_NOMEM;
        c->entries = p;
        c->cap_entries = n;
    }
    struct ward_conf_entry *e = &c->entries[c->n_entries];
    e->section = strdup(section);
    e->key = strndup(key, keylen);
    e->value = value;
    e->line = line;
    if (!e->section || !e->key) {
        free(e->section);
        free(e->key);
        return WARD_ERR_NOMEM;
    }
    c->n_entries++;
    return WARD_OK;
}

/* Parse the value part of a line [p, end) into a new string. */
static ward_err parse_value(const char *p, const char *end, char **out, const char **why)
{
    ward_buf b;
    ward_buf_init(&b, WARD_CONF_MAX_LINE);
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p >= end) {
                *why = "unterminated quoted value";
                ward_buf_free(&b);
                return WARD_ERR_PARSE;
            }
            char ch = *p++;
            if (ch == '"')
                break;
            if (ch == '\\' && p < end && (*p == '"' || *p == '\\'))
                ch = *p++;
            if (ward_buf_putc(&b, (uint8_t)ch)) {
                ward_buf_free(&b);
                return WARD_ERR_NOMEM;
            }
        }
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p != '#' && *p != ';') {
            *why = "text after quoted value";
            ward_buf_free(&b);
            return WARD_ERR_PARSE;
        }
    } else {
        const char *v = p;
        const char *stop = end;
        for (const char *q = p; q < end; q++) {
            if ((*q == '#' || *q == ';') && q > v && isspace((unsigned char)q[-1])) {
                stop = q;
                break;
            }
        }
        while (stop > v && isspace((unsigned char)stop[-1]))
            stop--;
        if (ward_buf_append(&b, v, (size_t)(stop - v))) {
            ward_buf_free(&b);
            return WARD_ERR_NOMEM;
        }
    }
    if (!b.data && ward_buf_reserve(&b, 0)) {
        return WARD_ERR_NOMEM;
    }
    *out = (char *)ward_buf_steal(&b, NULL);
    return WARD_OK;
}

static bool key_char(unsigned char ch)
{
    return isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
}

ward_err ward_conf_parse_mem(const char *name, const char *text, size_t len, ward_conf **out,
                             struct ward_diag *diag)
{
    ward_conf *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(name))) {
        free(c);
        return WARD_ERR_NOMEM;
    }
    char section[WARD_CONF_MAX_SECTION + 1] = "global";
    const char *p = text, *end = text + len;
    unsigned line = 0;
    ward_err err = WARD_OK;

    /* A UTF-8 byte order mark is harmless; skip it. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end && !err) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol)
            eol = end;
        line++;
        if ((size_t)(eol - p) > WARD_CONF_MAX_LINE) {
            err = ward_diag_set(diag, WARD_ERR_PARSE, "%s:%u: line longer than %u bytes", name,
                                line, WARD_CONF_MAX_LINE);
            break;
        }
        const char *s = p, *e = eol;
        if (e > s && e[-1] == '\r')
            e--;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (memchr(s, '\0', (size_t)(e - s))) {
            err = ward_diag_set(diag, WARD_ERR_PARSE, "%s:%u: NUL byte in line", name, line);
        } else if (s == e || *s == '#' || *s == ';') {
            /* blank or comment */
        } else if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            const char *after = close ? close + 1 : e;
            while (after < e && isspace((unsigned char)*after))
                after++;
            if (!close || (after < e && *after != '#' && *after != ';')) {
                err = ward_diag_set(diag, WARD_ERR_PARSE, "%s:%u: malformed section header",
                                    name, line);
            } else {
                const char *n0 = s + 1, *n1 = close;
                while (n0 < n1 && isspace((unsigned char)*n0))
                    n0++;
                while (n1 > n0 && isspace((unsigned char)n1[-1]))
                    n1--;
                if (n0 == n1 || (size_t)(n1 - n0) > WARD_CONF_MAX_SECTION) {
                    err = ward_diag_set(diag, WARD_ERR_PARSE, "%s:%u: bad section name", name,
                                        line);
                } else {
                    memcpy(section, n0, (size_t)(n1 - n0));
                    section[n1 - n0] = 0;
                    err = add_section(c, n0, (size_t)(n1 - n0), line);
                }
            }
        } else {
            const char *k = s;
            while (s < e && key_char((unsigned char)*s))
                s++;
            size_t klen = (size_t)(s - k);
            while (s < e && isspace((unsigned char)*s))
                s++;
            if (klen == 0 || s >= e || *s != '=') {
                err = ward_diag_set(diag, WARD_ERR_PARSE,
                                    "%s:%u: expected 'option = value' or '[section]'", name, line);
            } else {
                char *value = NULL;
                const char *why = NULL;
                err = parse_value(s + 1, e, &value, &why);
                if (err == WARD_ERR_PARSE)
                    err = ward_diag_set(diag, err, "%s:%u: %.*s: %s", name, line, (int)klen, k,
                                        why);
                else if (!err && !ward_conf_section(c, section))
                    err = add_section(c, section, strlen(section), line);
                if (!err)
                    err = add_entry(c, section, k, klen, value, line);
                if (err)
                    free(value);
            }
        }
        p = next;
    }
    if (err) {
        if (err == WARD_ERR_NOMEM)
            ward_diag_set(diag, err, "%s: out of memory", name);
        ward_conf_free(c);
        return err;
    }
    *out = c;
    return WARD_OK;
}

ward_err ward_conf_parse_file(const char *path, ward_conf **out, struct ward_diag *diag)
{
    ward_buf b;
    ward_buf_init(&b, WARD_CONF_MAX_FILE);
    ward_err err = ward_file_read_all(path, &b, diag);
    if (!err)
        err = ward_conf_parse_mem(path, ward_buf_str(&b), b.len, out, diag);
    ward_buf_free(&b);
    return err;
}

void ward_conf_free(ward_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_entries; i++) {
        free(c->entries[i].section);
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    for (size_t i = 0; i < c->n_sections; i++)
        free(c->sections[i].name);
    free(c->entries);
    free(c->sections);
    free(c->path);
    free(c);
}

const struct ward_conf_entry *ward_conf_find(const ward_conf *c, const char *section,
                                             const char *key)
{
    for (size_t i = c->n_entries; i-- > 0;)
        if (strcmp(c->entries[i].key, key) == 0 && strcmp(c->entries[i].section, section) == 0)
            return &c->entries[i];
    return NULL;
}

const struct ward_conf_section *ward_conf_section(const ward_conf *c, const char *section)
{
    for (size_t i = 0; i < c->n_sections; i++)
        if (strcmp(c->sections[i].name, section) == 0)
            return &c->sections[i];
    return NULL;
}
