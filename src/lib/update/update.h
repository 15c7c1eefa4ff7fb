/*
 * update.h - `ward update`: bring the installed database up to date.
 *
 * Sources are Ward bundles (signed manifests, manifest.h) and ClamAV
 * databases (.cvd with .cdiff increments, as freshclam keeps them). Each
 * source is tried on the servers in order until one gives a verified copy;
 * a server that fails (unreachable, hanging, forged or damaged data, older
 * than what is installed) only moves us to the next one. Nothing is
 * installed unless every configured source is verified: the new version is
 * built in a staging directory (unchanged files hard-linked, changed ones
 * downloaded), test-loaded and compiled with the engine, and switched in
 * atomically (dbtree.h).
 *
 * A publishing tree, which `ward db build` writes, `ward update --mirror`
 * keeps, and any web server (or ward-mirrord) can serve as it is:
 *     ward/NAME.manifest            a bundle's manifest
 *     ward/NAME.manifest.minisig    its signature
 *     ward/objects/SHA256           the files, by content
 *     NAME.cvd, NAME-N.cdiff        ClamAV databases, as ClamAV mirrors lay them out
 * Content addressing makes a bundle's files immutable: a client fetches a
 * file only when its digest is new to it, and readers of a tree being
 * updated never see a file change under them.
 *
 * Contract: progress and problems are logged (util/log.h); errors are
 * returned with a message.
 */
#ifndef WARD_UPDATE_UPDATE_H
#define WARD_UPDATE_UPDATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "update/fetch.h"
#include "update/minisign.h"
#include "util/err.h"

/* ClamAV's public mirror, tried last unless servers_only is set. */
#define WARD_CLAMAV_MIRROR "https://database.clamav.net"

struct ward_update_cfg {
    const char *database_dir;
    const char *const *servers;
    size_t n_servers;
    bool servers_only;
    const char *const *bundles;
    size_t n_bundles;
    const char *const *clamav; /* main, daily, bytecode... */
    size_t n_clamav;
    const struct ward_minisign_pub *keys;
    size_t n_keys;
    /* ClamAV keys (decimal); NULL: ClamAV's own */
    const char *cvd_n, *cvd_e, *info_n, *info_e;
    struct ward_fetch_opts fetch;
    unsigned retries;       /* further tries of a server after a transport error */
    const char *mirror_dir; /* NULL: not a mirror */
    unsigned keep_versions; /* earlier versions kept for rollback */
    const char *cache_dir;  /* compiled-database cache for the test load */
};

enum ward_update_result {
    WARD_UPDATE_CURRENT = 0, /* nothing newer anywhere */
    WARD_UPDATE_INSTALLED,   /* a new version is live */
};

struct ward_update_stats {
    uint64_t bytes;          /* received from servers */
    unsigned fetched;        /* files downloaded */
    unsigned linked;         /* files kept from the previous version */
    char installed[PATH_MAX];
};

ward_err ward_update_run(const struct ward_update_cfg *cfg, enum ward_update_result *result,
                         struct ward_update_stats *st, struct ward_diag *diag) WARD_MUST_CHECK;

/* Switch back to the previous version; its path in `to`. */
ward_err ward_update_rollback(const char *database_dir, char *to, size_t cap,
                              struct ward_diag *diag) WARD_MUST_CHECK;

#endif
