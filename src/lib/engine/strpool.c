/* strpool.c - append-only string pool. */
#include "engine/strpool.h"

#include <stdlib.h>
#include <string.h>

void ward_strpool_init(ward_strpool *p)
{
    p->data = NULL;
    p->len = 0;
    p->alloc = 0;
}

void ward_strpool_free(ward_strpool *p)
{
    free(p->data);
    ward_strpool_init(p);
}

ward_err ward_strpool_add(ward_strpool *p, const char *s, size_t n, uint32_t *off)
{
    if (n >= UINT32_MAX || p->len > UINT32_MAX - n - 1)
        return WARD_ERR_LIMIT;
    if (p->len + n + 1 > p->alloc) {
        size_t a = p->alloc ? p->alloc : 4096;
        while (a < p->len + n + 1)
            a *= 2;
        char *d = realloc(p->data, a);
        if (!d)
            return WARD_ERR_NOMEM;
        p->data = d;
        p->alloc = a;
    }
    *off = (uint32_t)p->len;
    memcpy(p->data + p->len, s, n);
    p->data[p->len + n] = 0;
    p->len += n + 1;
    return WARD_OK;
}
