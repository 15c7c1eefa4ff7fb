/*
 * buf.h - a growable byte buffer with a hard size cap.
 *
 * Contract: the buffer owns its storage; ward_buf_free releases it. Appends
 * beyond `cap` fail with WARD_ERR_LIMIT and leave the contents unchanged, so a
 * hostile length can never make us allocate more than the caller allowed. The
 * data is always followed by a NUL byte (not counted in len), so text can be
 * used as a C string.
 */
#ifndef WARD_UTIL_BUF_H
#define WARD_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct ward_buf {
    uint8_t *data;
    size_t len;   /* bytes in use */
    size_t alloc; /* bytes allocated (len + 1 <= alloc) */
    size_t cap;   /* maximum len */
} ward_buf;

void ward_buf_init(ward_buf *b, size_t cap);
void ward_buf_free(ward_buf *b);
/* Forget the contents, keep the storage for reuse. */
void ward_buf_reset(ward_buf *b);
ward_err ward_buf_reserve(ward_buf *b, size_t extra) WARD_MUST_CHECK;
ward_err ward_buf_append(ward_buf *b, const void *p, size_t n) WARD_MUST_CHECK;
ward_err ward_buf_putc(ward_buf *b, uint8_t c) WARD_MUST_CHECK;
ward_err ward_buf_puts(ward_buf *b, const char *s) WARD_MUST_CHECK;
ward_err ward_buf_printf(ward_buf *b, const char *fmt, ...) WARD_PRINTF(2, 3) WARD_MUST_CHECK;
/* The contents as a C string ("" when empty and never allocated). */
const char *ward_buf_str(const ward_buf *b);
/* Hand the storage to the caller (who frees it); the buffer becomes empty. */
uint8_t *ward_buf_steal(ward_buf *b, size_t *len);

#endif
