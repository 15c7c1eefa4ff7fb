/*
 * update_int.h - what the parts of the updater share (update.c runs one
 * update; bundle.c and clamav.c each bring one kind of source into the
 * staging directory; mirror.c keeps the mirror tree).
 */
#ifndef WARD_UPDATE_INT_H
#define WARD_UPDATE_INT_H

#include <time.h>

#include "update/dbtree.h"
#include "update/update.h"
#include "util/buf.h"

#define MAX_CLAIMS 8192

struct upd {
    const struct ward_update_cfg *cfg;
    ward_fetch *fetch;
    struct ward_dbtree tree;
    char staging[PATH_MAX];
    struct ward_update_stats *st;
    bool changed;
    /* names of the current version that the sources replace or drop */
    char *claims[MAX_CLAIMS];
    size_t n_claims;
    time_t now;
};

/* Remember that a file name of the current version belongs to a source. */
void upd_claim(struct upd *u, const char *name);
/* Staging, current, state and mirror paths. */
bool upd_path(char *out, size_t cap, const char *dir, const char *a, const char *b);
/* Fetch a URL into a buffer, retrying transport errors cfg->retries times. */
ward_err upd_get(struct upd *u, const char *server, const char *path, ward_buf *buf,
                 time_t ims, uint64_t first, struct ward_fetch_res *res, struct ward_diag *d)
    WARD_MUST_CHECK;
/* As upd_get, and anything but 200 is an error naming the URL and status. */
ward_err upd_get_ok(struct upd *u, const char *server, const char *path, ward_buf *buf,
                    struct ward_diag *d) WARD_MUST_CHECK;
/* Fetch into a new file (replaced if present), at most max bytes. */
ward_err upd_get_file(struct upd *u, const char *server, const char *path, const char *dest,
                      uint64_t max, struct ward_fetch_res *res, struct ward_diag *d)
    WARD_MUST_CHECK;
/* Servers in cool-down after 403/429 are skipped until the time passes. */
bool upd_cooling(struct upd *u, const char *server);
void upd_cool(struct upd *u, const char *server, long seconds);
/* Write a file atomically (0644) creating its directory. */
ward_err upd_write(const char *path, const void *p, size_t n, struct ward_diag *d)
    WARD_MUST_CHECK;
/* Check-only load of one file or directory with the configured keys. */
ward_err upd_check_load(struct upd *u, const char *path, bool compile, struct ward_diag *d)
    WARD_MUST_CHECK;

ward_err upd_bundle(struct upd *u, const char *name, struct ward_diag *d) WARD_MUST_CHECK;
ward_err upd_clamav(struct upd *u, const char *name, struct ward_diag *d) WARD_MUST_CHECK;

#endif
