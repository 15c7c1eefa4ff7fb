/* objlines.c - bounded line reader over a scanned object. */
#include "formats/objlines.h"

#include <string.h>

void objlines_init(struct objlines *ol, const struct ward_obj *obj)
{
    ol->obj = obj;
    ol->off = 0;
    ol->start = ol->end = 0;
    ol->eof = false;
}

static void refill(struct objlines *ol)
{
    if (ol->start > 0) {
        memmove(ol->buf, ol->buf + ol->start, ol->end - ol->start);
        ol->end -= ol->start;
        ol->start = 0;
    }
    if (ol->eof || ol->end == sizeof ol->buf)
        return;
    ssize_t got = ward_obj_read(ol->obj, ol->off, ol->buf + ol->end, sizeof ol->buf - ol->end);
    if (got <= 0) {
        ol->eof = true;
        return;
    }
    ol->off += (uint64_t)got;
    ol->end += (size_t)got;
}

bool objlines_next(struct objlines *ol, const uint8_t **line, size_t *len, bool *partial)
{
    for (;;) {
        const uint8_t *s = ol->buf + ol->start;
        size_t avail = ol->end - ol->start;
        const uint8_t *nl = memchr(s, '\n', avail < OBJLINES_MAX ? avail : OBJLINES_MAX);
        if (nl) {
            size_t n = (size_t)(nl - s);
            ol->start += n + 1;
            if (n && s[n - 1] == '\r')
                n--;
            *line = s;
            *len = n;
            *partial = false;
            return true;
        }
        if (avail >= OBJLINES_MAX || (ol->eof && avail > 0)) {
            size_t n = avail < OBJLINES_MAX ? avail : OBJLINES_MAX;
            ol->start += n;
            *line = s;
            *len = n;
            *partial = avail >= OBJLINES_MAX;
            return true;
        }
        if (ol->eof)
            return false;
        refill(ol); /* either adds bytes or sets eof: the loop ends */
    }
}
