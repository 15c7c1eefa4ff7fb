/*
 * mirrord.h - ward-mirrord, the HTTP(S) server of an update mirror.
 *
 *   main.c   options, configuration, start-up, signals
 *   serve.c  one request: path checks, basic auth, Range, If-Modified-Since
 *
 * It serves the files of [mirror] dir as they are (the tree `ward update
 * --mirror` keeps, or `ward db build` writes) and nothing else: GET and HEAD
 * of regular files, no listings, no dot files, nothing outside the tree.
 */
#ifndef WARD_MIRRORD_H
#define WARD_MIRRORD_H

#include <limits.h>
#include <stdbool.h>

struct MHD_Connection;

struct mirrord_cfg {
    char dir[PATH_MAX];
    char user[256], pass[256]; /* basic auth when user is set */
};

/* The libmicrohttpd access handler; cls is the struct mirrord_cfg. */
int mirrord_serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                  const char *version, const char *upload, size_t *upload_size, void **state);

#endif
