/*
 * clamav.c - a ClamAV database (main, daily, bytecode...) into the staging
 * directory, as freshclam updates it: the remote .cvd header (Range, with
 * If-Modified-Since) tells the version; from an installed copy the .cdiff
 * increments are applied and the result kept as NAME.cld, else (or when an
 * increment is missing or fails) the whole .cvd is downloaded. Every result
 * is checked by loading it with the engine: the .cvd header signature, or
 * the signed .info list that the increments carry. 403 and 429 replies put
 * the server in a cool-down (Retry-After, else a day for 403) instead of
 * asking again at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "update/cdiff.h"
#include "update/update_int.h"
#include "update/vdb.h"
#include "util/file.h"
#include "util/log.h"

#define CVD_MAX (2ull << 30)
#define CDIFF_MAX (64u << 20)
#define FORBIDDEN_COOLDOWN (24 * 3600)

struct local {
    char path[PATH_MAX];
    char file[80]; /* NAME.cld or NAME.cvd */
    struct ward_vdb_head head;
    bool have;
};

static bool read_head(const char *path, struct ward_vdb_head *h)
{
    uint8_t buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = ward_read_full(fd, buf, sizeof buf);
    close(fd);
    return n == (ssize_t)sizeof buf && !ward_vdb_head_parse(buf, sizeof buf, h);
}

static void find_local(struct upd *u, const char *name, struct local *l)
{
    static const char *const exts[] = {"cld", "cvd"};
    memset(l, 0, sizeof *l);
    for (int i = 0; i < 2 && u->tree.current[0]; i++) {
        snprintf(l->file, sizeof l->file, "%s.%s", name, exts[i]);
        if (upd_path(l->path, sizeof l->path, u->tree.current, l->file, NULL) &&
            read_head(l->path, &l->head)) {
            l->have = true;
            return;
        }
    }
}

/* Apply NAME-(v+1..to).cdiff to the installed copy; the result is staging/NAME.cld. */
static ward_err by_cdiff(struct upd *u, const char *server, const char *name,
                         const struct local *l, unsigned to, struct ward_diag *d)
{
    ward_buf data;
    struct ward_vdb v;
    ward_buf_init(&data, CVD_MAX);
    ward_err e = ward_file_read_all(l->path, &data, d);
    if (!e)
        e = ward_vdb_read(name, data.data, data.len, &v, d);
    ward_buf_free(&data);
    if (e)
        return e;
    ward_buf_init(&data, CDIFF_MAX);
    for (unsigned ver = l->head.version + 1; !e && ver <= to; ver++) {
        char file[96];
        snprintf(file, sizeof file, "%s-%u.cdiff", name, ver);
        if ((e = upd_get_ok(u, server, file, &data, d)))
            break;
        e = ward_cdiff_apply(&v, file, data.data, data.len, u->cfg->info_n, u->cfg->info_e, d);
        if (!e && u->cfg->mirror_dir) {
            char mp[PATH_MAX];
            if (upd_path(mp, sizeof mp, u->cfg->mirror_dir, file, NULL))
                e = upd_write(mp, data.data, data.len, d);
        }
        if (!e)
            u->st->fetched++;
    }
    ward_buf_free(&data);
    char out[PATH_MAX], file[96];
    snprintf(file, sizeof file, "%s.cld", name);
    if (!e && !upd_path(out, sizeof out, u->staging, file, NULL))
        e = ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
    if (!e) {
        ward_buf cld;
        ward_buf_init(&cld, CVD_MAX);
        e = ward_vdb_write_cld(&v, &cld, d);
        if (!e)
            e = ward_file_write_atomic(out, cld.data, cld.len, 0644, d);
        ward_buf_free(&cld);
    }
    ward_vdb_free(&v);
    struct ward_vdb_head h;
    if (!e && (!read_head(out, &h) || h.version != to))
        e = ward_diag_set(d, WARD_ERR_CORRUPT, "%s: the increments do not lead to version %u",
                          file, to);
    if (!e && (e = upd_check_load(u, out, false, d)))
        unlink(out);
    if (!e)
        e = ward_dbtree_adopt(&u->tree, u->staging, file, out, true, d);
    return e;
}

/* Download NAME.cvd whole into dir (staging or the mirror) and check it. */
static ward_err by_cvd(struct upd *u, const char *server, const char *name, const char *dir,
                       unsigned want, struct ward_diag *d)
{
    char path[PATH_MAX], tmpdir[PATH_MAX], tmp[PATH_MAX], file[96];
    struct ward_fetch_res res;
    snprintf(file, sizeof file, "%s.cvd", name);
    /* downloaded under its own name (the engine goes by it) in a hidden directory */
    if (!upd_path(path, sizeof path, dir, file, NULL) ||
        !upd_path(tmpdir, sizeof tmpdir, dir, ".part", NULL) ||
        !upd_path(tmp, sizeof tmp, dir, ".part", file))
        return ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
    ward_err e = ward_mkdir_p(tmpdir, 0755, d);
    if (!e)
        e = upd_get_file(u, server, file, tmp, CVD_MAX, &res, d);
    if (!e && res.status != 200)
        e = ward_diag_set(d, WARD_ERR_NOTFOUND, "%s/%s: HTTP status %ld", server, file,
                          res.status);
    struct ward_vdb_head h;
    if (!e && (!read_head(tmp, &h) || h.version < want))
        e = ward_diag_set(d, WARD_ERR_CORRUPT, "%s/%s: not version %u", server, file, want);
    if (!e)
        e = upd_check_load(u, tmp, false, d);
    if (!e && dir == u->staging)
        e = ward_dbtree_adopt(&u->tree, dir, file, tmp, true, d);
    else if (!e && rename(tmp, path) != 0)
        e = ward_diag_set(d, WARD_ERR_IO, "%s: %s", path, strerror(errno));
    if (e)
        unlink(tmp);
    else
        u->st->fetched++;
    rmdir(tmpdir);
    return e;
}

/* The remote version from the header, or 0 when not modified since `ims`. */
static ward_err remote_version(struct upd *u, const char *server, const char *name, time_t ims,
                               unsigned *version, struct ward_diag *d)
{
    ward_buf b;
    struct ward_fetch_res res;
    char file[96];
    snprintf(file, sizeof file, "%s.cvd", name);
    ward_buf_init(&b, 512);
    ward_err e = upd_get(u, server, file, &b, ims, 512, &res, d);
    struct ward_vdb_head h;
    *version = 0;
    if (e) {
    } else if (res.status == 304) {
    } else if (res.status == 403 || res.status == 429) {
        upd_cool(u, server, res.retry_after > 0 ? res.retry_after
                            : res.status == 403 ? FORBIDDEN_COOLDOWN
                                                : 3600);
        e = ward_diag_set(d, WARD_ERR_IO, "%s/%s: HTTP status %ld (cool-down)", server, file,
                          res.status);
    } else if (res.status != 200 && res.status != 206) {
        e = ward_diag_set(d, WARD_ERR_NOTFOUND, "%s/%s: HTTP status %ld", server, file,
                          res.status);
    } else if (ward_vdb_head_parse(b.data, b.len, &h)) {
        e = ward_diag_set(d, WARD_ERR_CORRUPT, "%s/%s: not a ClamAV database", server, file);
    } else {
        *version = h.version;
    }
    ward_buf_free(&b);
    return e;
}

static ward_err from_server(struct upd *u, const char *server, const char *name,
                            const struct local *l, struct ward_diag *d)
{
    char mpath[PATH_MAX], file[96];
    struct ward_vdb_head mh = {0};
    snprintf(file, sizeof file, "%s.cvd", name);
    bool mirror = u->cfg->mirror_dir &&
                  upd_path(mpath, sizeof mpath, u->cfg->mirror_dir, file, NULL);
    bool mirror_has = mirror && read_head(mpath, &mh);
    /* If-Modified-Since only when nothing here needs the file again */
    time_t ims = l->have && (!mirror || (mirror_has && mh.version >= l->head.version))
                     ? (time_t)l->head.stime
                     : 0;
    unsigned rv;
    ward_err e = remote_version(u, server, name, ims, &rv, d);
    if (e)
        return e;
    unsigned have = l->have ? l->head.version : 0;
    if (rv > have) {
        e = WARD_ERR_NOTFOUND;
        if (l->have) {
            e = by_cdiff(u, server, name, l, rv, d);
            if (e)
                ward_log(WARD_LOG_WARNING, "%s: increments failed (%s); downloading %s.cvd",
                         name, d->msg, name);
        }
        if (e && (e = by_cvd(u, server, name, u->staging, rv, d)))
            return e;
        u->changed = true;
        ward_log(WARD_LOG_NOTICE, "%s: version %u from %s", name, rv, server);
    } else {
        char to[PATH_MAX];
        if (!l->have)
            return ward_diag_set(d, WARD_ERR_NOTFOUND, "%s: %s has nothing newer than nothing",
                                 name, server);
        if (!upd_path(to, sizeof to, u->staging, l->file, NULL))
            return ward_diag_set(d, WARD_ERR_LIMIT, "path too long");
        if ((e = ward_dbtree_keep(&u->tree, u->staging, l->file, l->path, d)))
            return e;
        ward_log(WARD_LOG_INFO, "%s: version %u is current", name, have);
        if (rv == 0)
            rv = have;
    }
    if (mirror && (!mirror_has || mh.version < rv)) {
        char staged[PATH_MAX];
        struct ward_vdb_head sh;
        if (upd_path(staged, sizeof staged, u->staging, file, NULL) && read_head(staged, &sh) &&
            sh.version == rv) {
            char tmp[PATH_MAX + 8];
            snprintf(tmp, sizeof tmp, "%s.tmp", mpath);
            unlink(tmp);
            e = ward_mkdir_p(u->cfg->mirror_dir, 0755, d);
            if (!e)
                e = ward_link_or_copy(staged, tmp, d);
            if (!e && rename(tmp, mpath) != 0)
                e = ward_diag_set(d, WARD_ERR_IO, "%s: %s", mpath, strerror(errno));
        } else {
            e = by_cvd(u, server, name, u->cfg->mirror_dir, rv, d);
        }
        if (e)
            ward_diag_prefix(d, e, "mirror: ");
    }
    return e;
}

ward_err upd_clamav(struct upd *u, const char *name, struct ward_diag *d)
{
    static const char *const exts[] = {"cvd", "cld", "cud"};
    for (int i = 0; i < 3; i++) {
        char file[96];
        snprintf(file, sizeof file, "%s.%s", name, exts[i]);
        upd_claim(u, file);
    }
    struct local l;
    find_local(u, name, &l);
    size_t n = u->cfg->n_servers + (u->cfg->servers_only ? 0 : 1);
    unsigned cooling = 0;
    ward_err e = WARD_ERR_NOTFOUND;
    ward_diag_set(d, e, "no server to try");
    for (size_t s = 0; s < n; s++) {
        const char *server = s < u->cfg->n_servers ? u->cfg->servers[s] : WARD_CLAMAV_MIRROR;
        if (upd_cooling(u, server)) {
            ward_log(WARD_LOG_NOTICE, "%s: %s is in cool-down, skipped", name, server);
            cooling++;
            continue;
        }
        if (!(e = from_server(u, server, name, &l, d)))
            return WARD_OK;
        ward_log(WARD_LOG_WARNING, "%s: %s", name, d->msg);
    }
    if (cooling == n)
        return ward_diag_set(d, WARD_ERR_IO, "%s: every server is in cool-down after refusing us "
                                             "(403 or 429); try later",
                             name);
    return ward_diag_prefix(d, e, "%s: no server had a valid copy; last problem: ", name);
}
