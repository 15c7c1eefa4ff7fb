/*
 * bundle.c - a Ward bundle into the staging directory: its signed manifest
 * from the first server that has a valid one, then each file either linked
 * from the installed version (same digest) or downloaded by digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "update/filesum.h"
#include "update/manifest.h"
#include "update/update_int.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/log.h"
#include "ward_config.h"

/* The manifest installed with the current version, if any (it was verified then). */
static bool installed_manifest(struct upd *u, const char *name, struct ward_manifest *m)
{
    char path[PATH_MAX], file[WARD_MANIFEST_MAX_NAME + 16];
    ward_buf b;
    struct ward_diag d;
    snprintf(file, sizeof file, "%s.manifest", name);
    if (!u->tree.current[0] ||
        !upd_path(path, sizeof path, u->tree.current, WARD_DBTREE_STATE, file))
        return false;
    ward_buf_init(&b, WARD_MANIFEST_MAX_SIZE);
    bool ok = !ward_file_read_all(path, &b, &d) &&
              !ward_manifest_parse(path, b.data, b.len, m, &d);
    ward_buf_free(&b);
    return ok;
}

/* A file of the new manifest: linked from the installed version, else downloaded. */
static ward_err place_file(struct upd *u, const char *server, const struct ward_manifest *old,
                           const struct ward_manifest_file *f, struct ward_diag *d)
{
    char to[PATH_MAX], from[PATH_MAX], hex[65], obj[96];
    if (!upd_path(to, sizeof to, u->staging, f->name, NULL))
        return ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
    unlink(to); /* from a server tried before */
    /* stored already (by any kept version): the same object, not a copy */
    if (ward_dbtree_reuse(&u->tree, u->staging, f->name, f->sha256, f->size)) {
        u->st->linked++;
        return WARD_OK;
    }
    for (size_t i = 0; old && i < old->n_files; i++) {
        const struct ward_manifest_file *o = &old->files[i];
        if (o->size != f->size || memcmp(o->sha256, f->sha256, 32) != 0 ||
            !upd_path(from, sizeof from, u->tree.current, o->name, NULL))
            continue;
        struct stat st;
        if (stat(from, &st) == 0 && (uint64_t)st.st_size == f->size &&
            !ward_dbtree_keep(&u->tree, u->staging, f->name, from, d)) {
            u->st->linked++;
            return WARD_OK;
        }
    }
    ward_hex_encode(f->sha256, 32, hex);
    snprintf(obj, sizeof obj, "ward/objects/%s", hex);
    struct ward_fetch_res res;
    ward_err e = upd_get_file(u, server, obj, to, f->size, &res, d);
    if (e)
        return e;
    if (res.status < 200 || res.status > 299)
        return ward_diag_set(d, WARD_ERR_NOTFOUND, "%s/%s: HTTP status %ld", server, obj,
                             res.status);
    if (!ward_filesum_matches(to, f->size, f->sha256)) {
        unlink(to);
        return ward_diag_set(d, WARD_ERR_SIGNATURE,
                             "%s/%s: %s does not match the signed manifest (damaged or forged)",
                             server, obj, f->name);
    }
    if ((e = ward_dbtree_adopt(&u->tree, u->staging, f->name, to, true, d)))
        return e;
    u->st->fetched++;
    ward_log(WARD_LOG_INFO, "%s: downloaded %s (%llu bytes)", server, f->name,
             (unsigned long long)f->size);
    return WARD_OK;
}

/* Keep the mirror tree exact: objects first, then the signature and manifest. */
static ward_err mirror_bundle(struct upd *u, const char *name, const struct ward_manifest *m,
                              const ward_buf *text, const ward_buf *sig, struct ward_diag *d)
{
    const char *mdir = u->cfg->mirror_dir;
    char path[PATH_MAX], from[PATH_MAX], hex[65], file[WARD_MANIFEST_MAX_NAME + 32];
    snprintf(path, sizeof path, "%s/ward/objects", mdir);
    ward_err e = ward_mkdir_p(path, 0755, d);
    for (size_t i = 0; !e && i < m->n_files; i++) {
        ward_hex_encode(m->files[i].sha256, 32, hex);
        if (!upd_path(path, sizeof path, mdir, "ward/objects", hex) ||
            !upd_path(from, sizeof from, u->staging, m->files[i].name, NULL))
            return ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
        if (access(path, F_OK) == 0)
            continue;
        char tmp[PATH_MAX + 16];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        unlink(tmp);
        e = ward_link_or_copy(from, tmp, d);
        if (!e && rename(tmp, path) != 0)
            e = ward_diag_set(d, WARD_ERR_IO, "%s: %s", path, strerror(errno));
    }
    snprintf(file, sizeof file, "%s.manifest.minisig", name);
    if (!e && upd_path(path, sizeof path, mdir, "ward", file))
        e = upd_write(path, sig->data, sig->len, d);
    snprintf(file, sizeof file, "%s.manifest", name);
    if (!e && upd_path(path, sizeof path, mdir, "ward", file))
        e = upd_write(path, text->data, text->len, d);
    return e;
}

enum verdict { V_FAIL, V_OLDER, V_SAME, V_NEWER };

/* Fetch and verify NAME's manifest from one server. */
static enum verdict fetch_manifest(struct upd *u, const char *server, const char *name,
                                   const struct ward_manifest *old, ward_buf *text, ward_buf *sig,
                                   struct ward_manifest *m, struct ward_diag *d)
{
    char path[WARD_MANIFEST_MAX_NAME + 32], spath[WARD_MANIFEST_MAX_NAME + 32];
    snprintf(path, sizeof path, "ward/%s.manifest", name);
    snprintf(spath, sizeof spath, "ward/%s.manifest.minisig", name);
    if (upd_get_ok(u, server, path, text, d) || upd_get_ok(u, server, spath, sig, d))
        return V_FAIL;
    char trusted[WARD_MINISIGN_MAX_COMMENT + 1];
    if (ward_minisign_verify(u->cfg->keys, u->cfg->n_keys, text->data, text->len, sig->data,
                             sig->len, trusted, sizeof trusted, d)) {
        ward_diag_prefix(d, WARD_ERR_SIGNATURE, "%s/ward/%s.manifest: ", server, name);
        return V_FAIL;
    }
    if (ward_manifest_parse(server, text->data, text->len, m, d))
        return V_FAIL;
    if (strcmp(m->name, name) != 0) {
        ward_diag_set(d, WARD_ERR_SIGNATURE, "%s: manifest of bundle '%s' served as '%s'", server,
                      m->name, name);
        ward_manifest_free(m);
        return V_FAIL;
    }
    if (m->min_engine[0] && ward_version_cmp(m->min_engine, WARD_VERSION) > 0) {
        ward_diag_set(d, WARD_ERR_UNSUPPORTED, "%s: bundle %s version %llu needs Ward %s or later",
                      server, name, (unsigned long long)m->version, m->min_engine);
        ward_manifest_free(m);
        return V_FAIL;
    }
    if (!old || m->version > old->version)
        return V_NEWER;
    return m->version == old->version ? V_SAME : V_OLDER;
}

static ward_err write_state(struct upd *u, const char *name, const ward_buf *text,
                            const ward_buf *sig, struct ward_diag *d)
{
    char path[PATH_MAX], file[WARD_MANIFEST_MAX_NAME + 32];
    snprintf(file, sizeof file, "%s.manifest", name);
    if (!upd_path(path, sizeof path, u->staging, WARD_DBTREE_STATE, file))
        return ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
    ward_err e = upd_write(path, text->data, text->len, d);
    snprintf(file, sizeof file, "%s.manifest.minisig", name);
    if (!e && upd_path(path, sizeof path, u->staging, WARD_DBTREE_STATE, file))
        e = upd_write(path, sig->data, sig->len, d);
    return e;
}

ward_err upd_bundle(struct upd *u, const char *name, struct ward_diag *d)
{
    struct ward_manifest old, m;
    bool have_old = installed_manifest(u, name, &old);
    for (size_t i = 0; have_old && i < old.n_files; i++)
        upd_claim(u, old.files[i].name);
    ward_buf text, sig;
    ward_buf_init(&text, WARD_MANIFEST_MAX_SIZE);
    ward_buf_init(&sig, WARD_MINISIGN_MAX_FILE);
    ward_err e = WARD_ERR_NOTFOUND;
    bool behind = false;
    for (size_t s = 0; s < u->cfg->n_servers; s++) {
        const char *server = u->cfg->servers[s];
        enum verdict v = fetch_manifest(u, server, name, have_old ? &old : NULL, &text, &sig, &m, d);
        if (v == V_FAIL) {
            ward_log(WARD_LOG_WARNING, "bundle %s: %s", name, d->msg);
            e = WARD_ERR_NOTFOUND;
            continue;
        }
        if (v == V_OLDER) {
            ward_log(WARD_LOG_WARNING, "bundle %s: %s has version %llu, older than the installed "
                                       "%llu; trying the next server",
                     name, server, (unsigned long long)m.version, (unsigned long long)old.version);
            ward_manifest_free(&m);
            behind = true;
            continue;
        }
        e = WARD_OK;
        for (size_t k = 0; !e && k < m.n_files; k++) {
            upd_claim(u, m.files[k].name);
            e = place_file(u, server, have_old ? &old : NULL, &m.files[k], d);
        }
        if (!e)
            e = write_state(u, name, &text, &sig, d);
        if (!e && u->cfg->mirror_dir && (e = mirror_bundle(u, name, &m, &text, &sig, d)))
            ward_diag_prefix(d, e, "mirror: ");
        if (!e) {
            if (v == V_NEWER) {
                u->changed = true;
                ward_log(WARD_LOG_NOTICE, "bundle %s: version %llu from %s", name,
                         (unsigned long long)m.version, server);
            } else {
                ward_log(WARD_LOG_INFO, "bundle %s: version %llu is current", name,
                         (unsigned long long)m.version);
            }
            ward_manifest_free(&m);
            break;
        }
        ward_log(WARD_LOG_WARNING, "bundle %s: %s", name, d->msg);
        ward_manifest_free(&m);
        e = WARD_ERR_NOTFOUND;
    }
    if (e && behind && have_old) {
        /* every server that answered is behind us: keep what we have */
        e = WARD_OK;
        for (size_t k = 0; !e && k < old.n_files; k++)
            e = place_file(u, "(installed)", &old, &old.files[k], d);
        for (int k = 0; !e && k < 2; k++) {
            char file[WARD_MANIFEST_MAX_NAME + 32], from[PATH_MAX], to[PATH_MAX];
            snprintf(file, sizeof file, "%s.manifest%s", name, k ? ".minisig" : "");
            if (upd_path(from, sizeof from, u->tree.current, WARD_DBTREE_STATE, file) &&
                upd_path(to, sizeof to, u->staging, WARD_DBTREE_STATE, file))
                e = ward_link_or_copy(from, to, d);
        }
    }
    if (e == WARD_ERR_NOTFOUND)
        ward_diag_prefix(d, e, "bundle %s: no server had a valid copy; last problem: ", name);
    if (have_old)
        ward_manifest_free(&old);
    ward_buf_free(&text);
    ward_buf_free(&sig);
    return e;
}
