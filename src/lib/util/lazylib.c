/* lazylib.c - dlopen and dlsym a table of functions. */
#include "util/lazylib.h"

#include <dlfcn.h>
#include <stdio.h>

bool ward_lazy_load(const char *soname, const struct ward_lazy_sym *syms, size_t n,
                    char *err, size_t errcap)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errcap, "cannot load %s: %s", soname, why ? why : "unknown error");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            snprintf(err, errcap, "%s lacks %s", soname, syms[i].name);
            for (size_t k = 0; k < i; k++)
                *syms[k].slot = NULL;
            dlclose(h);
            return false;
        }
        *syms[i].slot = p;
    }
    return true;
}
