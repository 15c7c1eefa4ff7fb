/*
 * lines.h - iterate over the lines of a signature source held in a mutable
 * buffer. Each line is NUL-terminated in place (the '\n' and a '\r' before it
 * are overwritten) so that loaders can use string functions on it.
 */
#ifndef WARD_ENGINE_LINES_H
#define WARD_ENGINE_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct line_iter {
    char *p, *end;
    unsigned lineno;
};

static inline void line_iter_init(struct line_iter *it, char *text, size_t len)
{
    it->p = text;
    it->end = text + len;
    it->lineno = 0;
}

/*
 * Next line that is neither empty nor a '#' comment. A NUL inside a line
 * makes *has_nul true (loaders reject such lines).
 */
static inline bool line_iter_next(struct line_iter *it, char **line, size_t *len, bool *has_nul)
{
    while (it->p < it->end) {
        char *s = it->p;
        char *nl = memchr(s, '\n', (size_t)(it->end - s));
        char *e = nl ? nl : it->end;
        it->p = nl ? nl + 1 : it->end;
        it->lineno++;
        if (e > s && e[-1] == '\r')
            e--;
        if (e == s || *s == '#')
            continue;
        *has_nul = memchr(s, '\0', (size_t)(e - s)) != NULL;
        if (e < it->end)
            *e = '\0';
        else if (nl == NULL) {
            /* Last line without newline: the buffer has a NUL after it (ward_buf). */
        }
        *line = s;
        *len = (size_t)(e - s);
        return true;
    }
    return false;
}

#endif
