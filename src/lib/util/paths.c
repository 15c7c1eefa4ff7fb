/* paths.c - install-prefix-relative resolution of Ward's files. */
#include "util/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ward_config.h"

bool ward_path_prefix(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    /* PREFIX/bin/ward -> PREFIX */
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = 0;
    }
    if (!exe[0])
        strcpy(exe, "/");
    return (size_t)snprintf(out, cap, "%s", exe) < cap;
}

/* A build-time path, moved under the runtime prefix when it was under the build prefix. */
static bool relocate(const char *built, char *out, size_t cap)
{
    char prefix[PATH_MAX];
    size_t plen = strlen(WARD_PREFIX);
    if (!ward_path_prefix(prefix, sizeof prefix))
        return (size_t)snprintf(out, cap, "%s", built) < cap;
    if (strncmp(built, WARD_PREFIX, plen) == 0 && (built[plen] == '/' || !built[plen]))
        return (size_t)snprintf(out, cap, "%s%s", strcmp(prefix, "/") ? prefix : "",
                                built + plen) < cap;
    /* /etc for a /usr install: keep it absolute. */
    return (size_t)snprintf(out, cap, "%s", built) < cap;
}

bool ward_path_default_config(char *out, size_t cap)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/ward.conf", WARD_SYSCONFDIR);
    return relocate(p, out, cap);
}

bool ward_path_default_database(char *out, size_t cap)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s/db", WARD_PREFIX, WARD_DATADIR_REL);
    return relocate(p, out, cap);
}

bool ward_path_default_cache(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        return (size_t)snprintf(out, cap, "%s/ward", xdg) < cap;
    if (geteuid() == 0)
        return (size_t)snprintf(out, cap, "/var/cache/ward") < cap;
    if (home && home[0] == '/')
        return (size_t)snprintf(out, cap, "%s/.cache/ward", home) < cap;
    return false;
}
