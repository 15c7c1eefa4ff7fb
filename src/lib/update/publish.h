/*
 * publish.h - the publisher's side of Ward bundles: write a bundle into a
 * publishing tree (update.h describes the layout), and verify a tree or an
 * installed database against trusted keys.
 *
 * Publishing copies each source file to ward/objects/SHA256 (once: objects
 * already there are kept, so a tree accumulates versions and old clients
 * can still fetch what they miss), then writes the signature and the
 * manifest, each atomically. The version must grow: a tree never goes back.
 */
#ifndef WARD_UPDATE_PUBLISH_H
#define WARD_UPDATE_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "update/minisign.h"
#include "util/err.h"

struct ward_publish {
    const char *name;       /* bundle name */
    uint64_t version;
    const char *min_engine; /* NULL: this Ward's version */
    const char *source_dir; /* signature files, not recursive; dot files skipped */
    const char *out_dir;    /* the publishing tree */
    const struct ward_minisign_sec *key;
};

struct ward_publish_stats {
    size_t files, new_objects;
    uint64_t bytes;
};

ward_err ward_bundle_publish(const struct ward_publish *p, struct ward_publish_stats *st,
                             struct ward_diag *diag) WARD_MUST_CHECK;

/* Called for each verified bundle. */
typedef void (*ward_verified_fn)(void *ctx, const char *name, uint64_t version, size_t files);

/*
 * Verify every bundle of `dir`: a publishing tree (ward/NAME.manifest and
 * objects) or an installed database (its .ward-update state and files).
 * Each manifest's signature, then each file's size and digest. Stops at the
 * first problem; WARD_ERR_NOTFOUND when there is no manifest at all.
 */
ward_err ward_bundle_verify(const char *dir, const struct ward_minisign_pub *keys, size_t n_keys,
                            ward_verified_fn fn, void *ctx, struct ward_diag *diag)
    WARD_MUST_CHECK;

#endif
