/*
 * cursor.h - a bounded read cursor over untrusted bytes.
 *
 * Contract: the cursor never owns the bytes. Every read checks what remains
 * first; a failed read returns false and leaves the position unchanged, so a
 * parser can never read past the end whatever lengths the data claims.
 */
#ifndef WARD_UTIL_CURSOR_H
#define WARD_UTIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ward_cur {
    const uint8_t *p;
    size_t len;
    size_t pos;
} ward_cur;

static inline ward_cur ward_cur_make(const void *p, size_t len)
{
    ward_cur c = {(const uint8_t *)p, len, 0};
    return c;
}

static inline size_t ward_cur_left(const ward_cur *c)
{
    return c->len - c->pos;
}

static inline bool ward_cur_skip(ward_cur *c, size_t n)
{
    if (n > ward_cur_left(c))
        return false;
    c->pos += n;
    return true;
}

static inline bool ward_cur_seek(ward_cur *c, size_t pos)
{
    if (pos > c->len)
        return false;
    c->pos = pos;
    return true;
}

/* Point *out at the next n bytes and advance. */
static inline bool ward_cur_take(ward_cur *c, size_t n, const uint8_t **out)
{
    if (n > ward_cur_left(c))
        return false;
    *out = c->p + c->pos;
    c->pos += n;
    return true;
}

static inline bool ward_cur_u8(ward_cur *c, uint8_t *v)
{
    if (ward_cur_left(c) < 1)
        return false;
    *v = c->p[c->pos++];
    return true;
}

static inline bool ward_cur_le16(ward_cur *c, uint16_t *v)
{
    if (ward_cur_left(c) < 2)
        return false;
    const uint8_t *b = c->p + c->pos;
    *v = (uint16_t)(b[0] | b[1] << 8);
    c->pos += 2;
    return true;
}

static inline bool ward_cur_le32(ward_cur *c, uint32_t *v)
{
    if (ward_cur_left(c) < 4)
        return false;
    const uint8_t *b = c->p + c->pos;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    c->pos += 4;
    return true;
}

static inline bool ward_cur_be32(ward_cur *c, uint32_t *v)
{
    if (ward_cur_left(c) < 4)
        return false;
    const uint8_t *b = c->p + c->pos;
    *v = (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
    c->pos += 4;
    return true;
}

/* Does the remaining input start with the n bytes at s? (no advance) */
static inline bool ward_cur_peek_eq(const ward_cur *c, const void *s, size_t n)
{
    return ward_cur_left(c) >= n && memcmp(c->p + c->pos, s, n) == 0;
}

#endif
