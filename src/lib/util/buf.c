/* buf.c - capped growable buffer. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ward_buf_init(ward_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void ward_buf_free(ward_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void ward_buf_reset(ward_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

ward_err ward_buf_reserve(ward_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return WARD_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return WARD_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > b->cap + 1)
        n = b->cap + 1 >= need ? b->cap + 1 : need;
    uint8_t *p = realloc(b->data, n);
    if (!p)
        return WARD_ERR_NOMEM;
    /* The contents stay a C string even when only reserved: a first
       allocation (an empty value, say) must not expose uninitialised bytes. */
    p[b->len] = 0;
    b->data = p;
    b->alloc = n;
    return WARD_OK;
}

ward_err ward_buf_append(ward_buf *b, const void *p, size_t n)
{
    ward_err e = ward_buf_reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return WARD_OK;
}

ward_err ward_buf_putc(ward_buf *b, uint8_t c)
{
    return ward_buf_append(b, &c, 1);
}

ward_err ward_buf_puts(ward_buf *b, const char *s)
{
    return ward_buf_append(b, s, strlen(s));
}

ward_err ward_buf_printf(ward_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return WARD_ERR_INTERNAL;
    ward_err e = ward_buf_reserve(b, (size_t)n);
    if (e)
        return e;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return WARD_OK;
}

const char *ward_buf_str(const ward_buf *b)
{
    return b->data ? (const char *)b->data : "";
}

uint8_t *ward_buf_steal(ward_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
