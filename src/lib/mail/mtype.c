/* mtype.c - true MIME types through libmagic, loaded at first use. */
#include "mail/mtype.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>

#include "util/lazylib.h"

/* libmagic looks at the start of content; more only costs time */
#define MTYPE_BYTES_MAX (64u << 10)

static struct {
    __typeof__(&magic_open) open;
    __typeof__(&magic_load) load;
    __typeof__(&magic_buffer) buffer;
    __typeof__(&magic_close) close;
} L;
static bool have_magic;
static char magic_err[256];
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;
static pthread_key_t magic_key;

static void close_handle(void *h)
{
    L.close((magic_t)h);
}

static void load_magic(void)
{
    static const struct ward_lazy_sym syms[] = {
        {"magic_open", (void **)&L.open},
        {"magic_load", (void **)&L.load},
        {"magic_buffer", (void **)&L.buffer},
        {"magic_close", (void **)&L.close},
    };
    have_magic = ward_lazy_load("libmagic.so.1", syms, sizeof syms / sizeof *syms, magic_err,
                                sizeof magic_err) &&
                 pthread_key_create(&magic_key, close_handle) == 0;
}

static magic_t handle(void)
{
    magic_t h = pthread_getspecific(magic_key);
    if (h)
        return h;
    h = L.open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
    if (!h)
        return NULL;
    if (L.load(h, NULL) != 0 || pthread_setspecific(magic_key, h) != 0) {
        L.close(h);
        return NULL;
    }
    return h;
}

bool ward_mtype_of(const uint8_t *p, size_t n, char *out, size_t cap)
{
    pthread_once(&magic_once, load_magic);
    if (!have_magic) {
        snprintf(out, cap, "%s", magic_err[0] ? magic_err : "libmagic unavailable");
        return false;
    }
    magic_t h = handle();
    const char *t = h ? L.buffer(h, p, n > MTYPE_BYTES_MAX ? MTYPE_BYTES_MAX : n) : NULL;
    if (!t) {
        snprintf(out, cap, "%s", h ? "unknown type" : "cannot load the magic database");
        return false;
    }
    snprintf(out, cap, "%s", t);
    return true;
}
