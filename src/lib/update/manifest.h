/*
 * manifest.h - the signed list of files of a Ward signature bundle.
 *
 * A bundle is a set of signature source files (any format the engine
 * loads) published under a name. Its manifest is text, one field a line:
 *
 *     ward-bundle 1
 *     name NAME
 *     version N
 *     created UNIX-TIME
 *     min_engine X.Y.Z
 *     file FILE-NAME SIZE SHA256-HEX      (one line per file)
 *
 * and is signed as a whole (minisign.h). Lines with other keywords are
 * ignored, so later versions may add fields that older clients skip.
 * Names (of bundles and files) are 1-128 characters of [A-Za-z0-9._-], not
 * starting with '.', so that they are safe as file names everywhere.
 *
 * Contract: the parser takes untrusted bytes and their length; every
 * field is checked against the limits below before use. The manifest owns
 * its file list; ward_manifest_free releases it.
 */
#ifndef WARD_UPDATE_MANIFEST_H
#define WARD_UPDATE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WARD_MANIFEST_MAX_SIZE (1u << 20)
#define WARD_MANIFEST_MAX_FILES 4096u
#define WARD_MANIFEST_MAX_NAME 128u

struct ward_manifest_file {
    char name[WARD_MANIFEST_MAX_NAME + 1];
    uint64_t size;
    uint8_t sha256[32];
};

struct ward_manifest {
    char name[WARD_MANIFEST_MAX_NAME + 1];
    uint64_t version;
    int64_t created;
    char min_engine[32];
    struct ward_manifest_file *files;
    size_t n_files;
};

/* `origin` names the manifest in messages (a URL or a path). */
ward_err ward_manifest_parse(const char *origin, const void *text, size_t len,
                             struct ward_manifest *m, struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_manifest_write(const struct ward_manifest *m, ward_buf *out) WARD_MUST_CHECK;
/* Add a file (names must be unique). */
ward_err ward_manifest_add(struct ward_manifest *m, const char *name, uint64_t size,
                           const uint8_t sha256[32]) WARD_MUST_CHECK;
void ward_manifest_free(struct ward_manifest *m);
const struct ward_manifest_file *ward_manifest_find(const struct ward_manifest *m,
                                                    const char *name);

bool ward_manifest_name_ok(const char *name, size_t len);
/* Compare dotted version numbers ("0.1.10" > "0.1.9"); -1, 0 or 1. */
int ward_version_cmp(const char *a, const char *b);

#endif
