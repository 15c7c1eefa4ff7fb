/* publish.c - writing bundles into a publishing tree, and verifying trees. */
#include "update/publish.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "update/dbtree.h"
#include "update/filesum.h"
#include "update/manifest.h"
#include "util/file.h"
#include "util/hash.h"
#include "ward_config.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of a directory, sorted, dot files skipped. */
static ward_err list_files(const char *dir, char ***out, size_t *n, struct ward_diag *d)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return ward_diag_set(d, WARD_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t cnt = 0;
    ward_err e = WARD_OK;
    struct dirent *de;
    while (!e && (de = readdir(dh)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (de->d_name[0] == '.' ||
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!ward_manifest_name_ok(de->d_name, strlen(de->d_name)))
            e = ward_diag_set(d, WARD_ERR_PARSE,
                              "%s: file names must be letters, digits, '.', '_' or '-'", path);
        else if (cnt >= WARD_MANIFEST_MAX_FILES)
            e = ward_diag_set(d, WARD_ERR_LIMIT, "%s: more than %u files", dir,
                              WARD_MANIFEST_MAX_FILES);
        else {
            char **g = realloc(names, (cnt + 1) * sizeof *g);
            if (!g || !(g[cnt] = strdup(de->d_name))) {
                if (g)
                    names = g;
                e = WARD_ERR_NOMEM;
            } else {
                names = g;
                cnt++;
            }
        }
    }
    closedir(dh);
    if (cnt)
        qsort(names, cnt, sizeof *names, cmp_str);
    *out = names;
    *n = cnt;
    return e;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static ward_err read_manifest(const char *path, struct ward_manifest *m, ward_buf *text,
                              struct ward_diag *d)
{
    ward_err e = ward_file_read_all(path, text, d);
    return e ? e : ward_manifest_parse(path, text->data, text->len, m, d);
}

/* Copy src to the object path unless it is there (temporary name, then rename). */
static ward_err put_object(const char *src, const char *obj, bool *added, struct ward_diag *d)
{
    *added = false;
    if (access(obj, F_OK) == 0)
        return WARD_OK;
    ward_buf data;
    ward_buf_init(&data, (size_t)1 << 40);
    ward_err e = ward_file_read_all(src, &data, d);
    if (!e)
        e = ward_file_write_atomic(obj, data.data, data.len, 0644, d);
    ward_buf_free(&data);
    *added = !e;
    return e;
}

ward_err ward_bundle_publish(const struct ward_publish *p, struct ward_publish_stats *st,
                             struct ward_diag *d)
{
    char path[PATH_MAX], objdir[PATH_MAX], mpath[PATH_MAX], spath[PATH_MAX + 16];
    memset(st, 0, sizeof *st);
    if (!ward_manifest_name_ok(p->name, strlen(p->name)))
        return ward_diag_set(d, WARD_ERR_PARSE, "bad bundle name '%s'", p->name);
    if (snprintf(objdir, sizeof objdir, "%s/ward/objects", p->out_dir) >= (int)sizeof objdir ||
        snprintf(mpath, sizeof mpath, "%s/ward/%s.manifest", p->out_dir, p->name) >=
            (int)sizeof mpath)
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: path too long", p->out_dir);
    snprintf(spath, sizeof spath, "%s.minisig", mpath);
    /* a tree never goes back: the version must be newer than what it has */
    struct ward_manifest prev;
    ward_buf text;
    ward_buf_init(&text, WARD_MANIFEST_MAX_SIZE);
    if (access(mpath, F_OK) == 0) {
        ward_err e = read_manifest(mpath, &prev, &text, d);
        if (e) {
            ward_buf_free(&text);
            return e;
        }
        uint64_t pv = prev.version;
        ward_manifest_free(&prev);
        if (p->version <= pv) {
            ward_buf_free(&text);
            return ward_diag_set(d, WARD_ERR_PARSE, "%s: version %llu is published; the new "
                                                    "version must be greater",
                                 mpath, (unsigned long long)pv);
        }
    }
    ward_buf_reset(&text);
    char **names;
    size_t n;
    ward_err e = list_files(p->source_dir, &names, &n, d);
    if (!e && n == 0)
        e = ward_diag_set(d, WARD_ERR_NOTFOUND, "%s: no files to publish", p->source_dir);
    if (!e)
        e = ward_mkdir_p(objdir, 0755, d);
    struct ward_manifest m = {0};
    snprintf(m.name, sizeof m.name, "%s", p->name);
    snprintf(m.min_engine, sizeof m.min_engine, "%s", p->min_engine ? p->min_engine : WARD_VERSION);
    m.version = p->version;
    m.created = (int64_t)time(NULL);
    for (size_t i = 0; !e && i < n; i++) {
        uint64_t size;
        uint8_t sha[32];
        char hex[65], obj[PATH_MAX + 80];
        bool added;
        snprintf(path, sizeof path, "%s/%s", p->source_dir, names[i]);
        e = ward_filesum(path, &size, sha, d);
        if (e)
            break;
        ward_hex_encode(sha, 32, hex);
        snprintf(obj, sizeof obj, "%s/%s", objdir, hex);
        e = put_object(path, obj, &added, d);
        if (!e && (e = ward_manifest_add(&m, names[i], size, sha)))
            e = ward_diag_set(d, e, "%s: cannot add to the manifest", names[i]);
        st->files++;
        st->bytes += size;
        st->new_objects += added;
    }
    free_list(names, n);
    char trusted[WARD_MINISIGN_MAX_COMMENT];
    snprintf(trusted, sizeof trusted, "timestamp:%lld\tfile:%s.manifest\tbundle:%s\tversion:%llu",
             (long long)m.created, p->name, p->name, (unsigned long long)p->version);
    ward_buf sig;
    ward_buf_init(&sig, WARD_MINISIGN_MAX_FILE);
    if (!e && (e = ward_manifest_write(&m, &text)))
        e = ward_diag_set(d, e, "cannot write the manifest");
    if (!e && (e = ward_minisign_sign(p->key, text.data, text.len, trusted, &sig)))
        e = ward_diag_set(d, e, "cannot sign the manifest");
    /* signature first: a reader between the two renames sees a mismatch and retries */
    if (!e)
        e = ward_file_write_atomic(spath, sig.data, sig.len, 0644, d);
    if (!e)
        e = ward_file_write_atomic(mpath, text.data, text.len, 0644, d);
    ward_buf_free(&sig);
    ward_buf_free(&text);
    ward_manifest_free(&m);
    return e;
}

/* Verify one manifest at mpath; files are found by `files_dir/NAME` or by digest. */
static ward_err verify_one(const char *mpath, const char *objdir, const char *filedir,
                           const struct ward_minisign_pub *keys, size_t n_keys,
                           ward_verified_fn fn, void *ctx, struct ward_diag *d)
{
    char spath[PATH_MAX + 300], trusted[WARD_MINISIGN_MAX_COMMENT + 1];
    struct ward_manifest m;
    ward_buf text, sig;
    ward_buf_init(&text, WARD_MANIFEST_MAX_SIZE);
    ward_buf_init(&sig, WARD_MINISIGN_MAX_FILE);
    snprintf(spath, sizeof spath, "%s.minisig", mpath);
    ward_err e = ward_file_read_all(mpath, &text, d);
    if (!e)
        e = ward_file_read_all(spath, &sig, d);
    if (!e && (e = ward_minisign_verify(keys, n_keys, text.data, text.len, sig.data, sig.len,
                                        trusted, sizeof trusted, d)))
        ward_diag_prefix(d, e, "%s: ", mpath);
    if (!e && !(e = ward_manifest_parse(mpath, text.data, text.len, &m, d))) {
        for (size_t i = 0; !e && i < m.n_files; i++) {
            char hex[65], path[2 * PATH_MAX];
            ward_hex_encode(m.files[i].sha256, 32, hex);
            if (objdir)
                snprintf(path, sizeof path, "%s/%s", objdir, hex);
            else
                snprintf(path, sizeof path, "%s/%s", filedir, m.files[i].name);
            if (!ward_filesum_matches(path, m.files[i].size, m.files[i].sha256))
                e = ward_diag_set(d, WARD_ERR_SIGNATURE,
                                  "%s: %s is missing or does not match the signed manifest",
                                  path, m.files[i].name);
        }
        if (!e && fn)
            fn(ctx, m.name, m.version, m.n_files);
        ward_manifest_free(&m);
    }
    ward_buf_free(&text);
    ward_buf_free(&sig);
    return e;
}

ward_err ward_bundle_verify(const char *dir, const struct ward_minisign_pub *keys, size_t n_keys,
                            ward_verified_fn fn, void *ctx, struct ward_diag *d)
{
    char mdir[PATH_MAX], objdir[PATH_MAX + 16];
    bool tree = snprintf(mdir, sizeof mdir, "%s/ward", dir) < (int)sizeof mdir &&
                access(mdir, F_OK) == 0;
    if (tree)
        snprintf(objdir, sizeof objdir, "%s/objects", mdir);
    else if (snprintf(mdir, sizeof mdir, "%s/" WARD_DBTREE_STATE, dir) >= (int)sizeof mdir)
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: path too long", dir);
    char **names;
    size_t n, found = 0;
    ward_err e = list_files(mdir, &names, &n, d);
    if (e == WARD_ERR_IO)
        return ward_diag_set(d, WARD_ERR_NOTFOUND, "%s: no bundle manifests (neither ward/ nor "
                                                   "an installed database)", dir);
    for (size_t i = 0; !e && i < n; i++) {
        char mpath[PATH_MAX + 256];
        size_t l = strlen(names[i]);
        if (l <= 9 || strcmp(names[i] + l - 9, ".manifest") != 0)
            continue;
        snprintf(mpath, sizeof mpath, "%s/%s", mdir, names[i]);
        e = verify_one(mpath, tree ? objdir : NULL, dir, keys, n_keys, fn, ctx, d);
        found++;
    }
    free_list(names, n);
    if (!e && !found)
        e = ward_diag_set(d, WARD_ERR_NOTFOUND, "%s: no bundle manifests", dir);
    return e;
}
