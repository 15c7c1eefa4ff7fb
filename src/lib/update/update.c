/* update.c - one run of the updater: stage, verify, test-load, switch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/db.h"
#include "update/update_int.h"
#include "util/file.h"
#include "util/log.h"

bool upd_path(char *out, size_t cap, const char *dir, const char *a, const char *b)
{
    int n = b ? snprintf(out, cap, "%s/%s/%s", dir, a, b) : snprintf(out, cap, "%s/%s", dir, a);
    return n > 0 && (size_t)n < cap;
}

void upd_claim(struct upd *u, const char *name)
{
    for (size_t i = 0; i < u->n_claims; i++)
        if (strcmp(u->claims[i], name) == 0)
            return;
    if (u->n_claims < MAX_CLAIMS && (u->claims[u->n_claims] = strdup(name)))
        u->n_claims++;
}

static bool claimed(const struct upd *u, const char *name)
{
    for (size_t i = 0; i < u->n_claims; i++)
        if (strcmp(u->claims[i], name) == 0)
            return true;
    return false;
}

ward_err upd_write(const char *path, const void *p, size_t n, struct ward_diag *d)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        ward_err e = ward_mkdir_p(dir, 0755, d);
        if (e)
            return e;
    }
    return ward_file_write_atomic(path, p, n, 0644, d);
}

ward_err upd_get(struct upd *u, const char *server, const char *path, ward_buf *buf,
                 time_t ims, uint64_t first, struct ward_fetch_res *res, struct ward_diag *d)
{
    char url[PATH_MAX + 256];
    if (ward_fetch_url(server, path, url, sizeof url))
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: URL too long", server);
    struct ward_fetch_req req = {.url = url, .if_modified_since = ims, .first_bytes = first,
                                 .buf = buf, .fd = -1};
    ward_err e;
    unsigned tries = 0;
    do {
        ward_buf_reset(buf);
        e = ward_fetch_get(u->fetch, &req, res, d);
        /* a server that hangs (timeout) is not retried: it would hang again */
    } while (e && e != WARD_ERR_TIMEOUT && e != WARD_ERR_LIMIT && tries++ < u->cfg->retries);
    u->st->bytes = ward_fetch_total(u->fetch);
    return e;
}

ward_err upd_get_ok(struct upd *u, const char *server, const char *path, ward_buf *buf,
                    struct ward_diag *d)
{
    struct ward_fetch_res res;
    ward_err e = upd_get(u, server, path, buf, 0, 0, &res, d);
    if (!e && res.status != 200)
        e = ward_diag_set(d, WARD_ERR_NOTFOUND, "%s/%s: HTTP status %ld", server, path,
                          res.status);
    return e;
}

ward_err upd_get_file(struct upd *u, const char *server, const char *path, const char *dest,
                      uint64_t max, struct ward_fetch_res *res, struct ward_diag *d)
{
    char url[PATH_MAX + 256];
    if (ward_fetch_url(server, path, url, sizeof url))
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: URL too long", server);
    ward_err e;
    unsigned tries = 0;
    do {
        int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return ward_diag_set(d, WARD_ERR_IO, "%s: %s", dest, strerror(errno));
        struct ward_fetch_req req = {.url = url, .fd = fd, .max = max};
        e = ward_fetch_get(u->fetch, &req, res, d);
        if (close(fd) != 0 && !e)
            e = ward_diag_set(d, WARD_ERR_IO, "%s: %s", dest, strerror(errno));
    } while (e && e != WARD_ERR_TIMEOUT && e != WARD_ERR_LIMIT && tries++ < u->cfg->retries);
    u->st->bytes = ward_fetch_total(u->fetch);
    if (!e && (res->status < 200 || res->status > 299))
        unlink(dest);
    return e;
}

/* Cool-down times live in NAME.versions/.cooldown: "UNTIL URL" lines. */
bool upd_cooling(struct upd *u, const char *server)
{
    char path[PATH_MAX + 16], line[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.cooldown", u->tree.versions);
    FILE *f = fopen(path, "r");
    bool cooling = false;
    while (f && fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp++ = 0;
        sp[strcspn(sp, "\n")] = 0;
        if (strcmp(sp, server) == 0 && strtoll(line, NULL, 10) > (long long)u->now)
            cooling = true;
    }
    if (f)
        fclose(f);
    return cooling;
}

void upd_cool(struct upd *u, const char *server, long seconds)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.cooldown", u->tree.versions);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%lld %s\n", (long long)u->now + seconds, server);
        fclose(f);
    }
    ward_log(WARD_LOG_WARNING, "%s asked us to wait: not contacted again for %ld s", server,
             seconds);
}

ward_err upd_check_load(struct upd *u, const char *path, bool compile, struct ward_diag *d)
{
    struct ward_db_opts o = {0};
    o.check_only = !compile;
    o.cache_dir = compile ? u->cfg->cache_dir : NULL;
    o.keys.cvd_n = u->cfg->cvd_n;
    o.keys.cvd_e = u->cfg->cvd_e;
    o.keys.info_n = u->cfg->info_n;
    o.keys.info_e = u->cfg->info_e;
    ward_db *db = NULL;
    const char *paths[] = {path};
    ward_err e = ward_db_load(paths, 1, &o, &db, d);
    if (db)
        ward_db_unref(db);
    return e;
}

/* Link every file of the current version that no source claimed. */
static ward_err carry_over(struct upd *u, struct ward_diag *d)
{
    if (!u->tree.current[0])
        return WARD_OK;
    DIR *dir = opendir(u->tree.current);
    if (!dir)
        return ward_diag_set(d, WARD_ERR_IO, "%s: %s", u->tree.current, strerror(errno));
    struct dirent *de;
    ward_err e = WARD_OK;
    while (!e && (de = readdir(dir)) != NULL) {
        char from[PATH_MAX], to[PATH_MAX];
        struct stat st;
        if (de->d_name[0] == '.' || claimed(u, de->d_name))
            continue;
        if (!upd_path(from, sizeof from, u->tree.current, de->d_name, NULL) ||
            !upd_path(to, sizeof to, u->staging, de->d_name, NULL))
            continue;
        if (lstat(from, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) ||
            access(to, F_OK) == 0)
            continue;
        if (!(e = ward_dbtree_keep(&u->tree, u->staging, de->d_name, from, d)))
            u->st->linked++;
    }
    closedir(dir);
    return e;
}

ward_err ward_update_run(const struct ward_update_cfg *cfg, enum ward_update_result *result,
                         struct ward_update_stats *st, struct ward_diag *diag)
{
    struct upd u = {.cfg = cfg, .st = st, .now = time(NULL)};
    memset(st, 0, sizeof *st);
    *result = WARD_UPDATE_CURRENT;
    if (!cfg->n_bundles && !cfg->n_clamav)
        return ward_diag_set(diag, WARD_ERR_PARSE, "nothing to update: no bundles and no ClamAV "
                                                   "databases configured");
    if (!cfg->n_servers && (cfg->servers_only || !cfg->n_clamav))
        return ward_diag_set(diag, WARD_ERR_PARSE, "no update servers configured");
    if (cfg->n_bundles && !cfg->n_keys)
        return ward_diag_set(diag, WARD_ERR_PARSE, "no trusted public keys for bundles "
                                                   "(public_keys)");
    ward_err e = ward_fetch_new(&cfg->fetch, &u.fetch, diag);
    if (e)
        return e;
    if ((e = ward_dbtree_open(cfg->database_dir, &u.tree, diag))) {
        ward_fetch_free(u.fetch);
        return e;
    }
    e = ward_dbtree_stage(&u.tree, u.staging, sizeof u.staging, diag);
    for (size_t i = 0; !e && i < cfg->n_bundles; i++)
        e = upd_bundle(&u, cfg->bundles[i], diag);
    for (size_t i = 0; !e && i < cfg->n_clamav; i++)
        e = upd_clamav(&u, cfg->clamav[i], diag);
    if (!e && u.changed)
        e = carry_over(&u, diag);
    if (!e && u.changed) {
        /* the engine reads it exactly as wardd will, and leaves it compiled in the cache */
        ward_log(WARD_LOG_INFO, "test-loading %s", u.staging);
        e = upd_check_load(&u, u.staging, true, diag);
        if (e)
            e = ward_diag_prefix(diag, e, "the new database does not load, not installed: ");
    }
    if (!e && u.changed) {
        e = ward_dbtree_commit(&u.tree, u.staging, st->installed, sizeof st->installed, diag);
        if (!e) {
            *result = WARD_UPDATE_INSTALLED;
            ward_log(WARD_LOG_NOTICE, "installed %s", st->installed);
            if (ward_dbtree_prune(&u.tree, cfg->keep_versions, diag))
                ward_log(WARD_LOG_WARNING, "%s", diag->msg);
        }
    }
    if (u.staging[0] && (e || !u.changed))
        ward_dbtree_discard(u.staging);
    st->bytes = ward_fetch_total(u.fetch);
    ward_dbtree_close(&u.tree);
    ward_fetch_free(u.fetch);
    for (size_t i = 0; i < u.n_claims; i++)
        free(u.claims[i]);
    return e;
}

ward_err ward_update_rollback(const char *database_dir, char *to, size_t cap,
                              struct ward_diag *diag)
{
    struct ward_dbtree t;
    ward_err e = ward_dbtree_open(database_dir, &t, diag);
    if (e)
        return e;
    e = ward_dbtree_rollback(&t, to, cap, diag);
    ward_dbtree_close(&t);
    return e;
}
