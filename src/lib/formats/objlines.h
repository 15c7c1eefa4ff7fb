/*
 * objlines.h - read an object line by line through a fixed buffer.
 *
 * Contract: lines longer than OBJLINES_MAX come back in pieces (the flag
 * `partial` says so); no line is ever larger than the buffer. The returned
 * pointer is valid until the next call.
 */
#ifndef WARD_FORMATS_OBJLINES_H
#define WARD_FORMATS_OBJLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/walk.h"

#define OBJLINES_MAX 8192

struct objlines {
    const struct ward_obj *obj;
    uint64_t off;   /* next object offset to read */
    uint8_t buf[OBJLINES_MAX * 2];
    size_t start, end;
    bool eof;
};

void objlines_init(struct objlines *ol, const struct ward_obj *obj);
/* Next line without its end-of-line bytes; false at the end or on a read error. */
bool objlines_next(struct objlines *ol, const uint8_t **line, size_t *len, bool *partial);

#endif
