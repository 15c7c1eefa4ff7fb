/*
 * strpool.h - an append-only pool of NUL-terminated strings addressed by
 * 32-bit offsets, for the hundreds of thousands of signature names a
 * database holds (one allocation instead of one per name).
 *
 * Contract: the pool owns its storage; offsets stay valid until
 * ward_strpool_free; pointers returned by ward_strpool_get are invalidated by
 * the next add.
 */
#ifndef WARD_ENGINE_STRPOOL_H
#define WARD_ENGINE_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct ward_strpool {
    char *data;
    size_t len, alloc;
} ward_strpool;

void ward_strpool_init(ward_strpool *p);
void ward_strpool_free(ward_strpool *p);
ward_err ward_strpool_add(ward_strpool *p, const char *s, size_t n, uint32_t *off) WARD_MUST_CHECK;

static inline const char *ward_strpool_get(const ward_strpool *p, uint32_t off)
{
    return p->data + off;
}

#endif
