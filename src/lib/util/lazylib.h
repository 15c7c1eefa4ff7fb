/*
 * lazylib.h - load a shared library the first time it is needed.
 *
 * Why: a daemon that waits for work should not carry libraries it has not
 * used yet. libcrypto (hash signatures, container signatures), libarchive
 * and GMime with GLib are loaded by the first scan that needs them, not at
 * start; an idle wardd stays small.
 *
 * Contract: ward_lazy_load() resolves every symbol of the table or none; it
 * is called under the caller's pthread_once. The library stays loaded for
 * the life of the process. Errors are returned as a message, never printed.
 */
#ifndef WARD_UTIL_LAZYLIB_H
#define WARD_UTIL_LAZYLIB_H

#include <stdbool.h>
#include <stddef.h>

struct ward_lazy_sym {
    const char *name;
    void **slot;
};

#define WARD_LAZY(table, fn) {#fn, (void **)&(table).fn}

bool ward_lazy_load(const char *soname, const struct ward_lazy_sym *syms, size_t n,
                    char *err, size_t errcap);

#endif
