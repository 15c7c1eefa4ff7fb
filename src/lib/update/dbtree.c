/* dbtree.c - numbered versions of the database and the link that selects one. */
#include "update/dbtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "update/filesum.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/strutil.h"

#define SEQ_DIGITS 6

static void split_path(const char *path, char *parent, size_t pcap, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(parent, pcap, ".");
    else if (slash == path)
        snprintf(parent, pcap, "/");
    else
        snprintf(parent, pcap, "%.*s", (int)(slash - path), path);
}

/* The sequence number of a version directory name, or -1. */
static long seq_of(const char *name)
{
    uint64_t v;
    if (strlen(name) != SEQ_DIGITS || !ward_parse_u64(name, &v))
        return -1;
    return (long)v;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

void ward_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[PATH_MAX];
            struct stat st;
            if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p)
                continue;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                ward_rm_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

ward_err ward_link_or_copy(const char *from, const char *to, struct ward_diag *diag)
{
    if (linkat(AT_FDCWD, from, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0)
        return WARD_OK;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot link %s to %s: %s", from, to,
                             strerror(errno));
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ward_err e = in < 0 || out < 0 ? WARD_ERR_IO : WARD_OK;
    char buf[1 << 16];
    ssize_t n;
    while (!e && (n = ward_read_full(in, buf, sizeof buf)) > 0)
        e = ward_write_full(out, buf, (size_t)n);
    if (!e && n < 0)
        e = WARD_ERR_IO;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        e = WARD_ERR_IO;
    if (e) {
        unlink(to);
        return ward_diag_set(diag, e, "cannot copy %s to %s: %s", from, to, strerror(errno));
    }
    return WARD_OK;
}

#define STORE ".objects"

static bool store_path(const struct ward_dbtree *t, const uint8_t sha[32], char *out, size_t cap,
                       char *target, size_t tcap)
{
    char hex[65];
    ward_hex_encode(sha, 32, hex);
    /* the link is relative: versions/NNNNNN/name -> ../.objects/HEX */
    return snprintf(out, cap, "%s/" STORE "/%s", t->versions, hex) < (int)cap &&
           snprintf(target, tcap, "../" STORE "/%s", hex) < (int)tcap;
}

static ward_err make_link(const char *target, const char *dir, const char *name,
                          struct ward_diag *d)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: path too long", dir);
    unlink(path);
    if (symlink(target, path) != 0)
        return ward_diag_set(d, WARD_ERR_IO, "%s: %s", path, strerror(errno));
    return WARD_OK;
}

ward_err ward_dbtree_adopt(struct ward_dbtree *t, const char *dir, const char *name,
                           const char *file, bool move, struct ward_diag *d)
{
    uint64_t size;
    uint8_t sha[32];
    char obj[PATH_MAX], target[128], store[PATH_MAX];
    ward_err e = ward_filesum(file, &size, sha, d);
    if (e)
        return e;
    if (!store_path(t, sha, obj, sizeof obj, target, sizeof target) ||
        snprintf(store, sizeof store, "%s/" STORE, t->versions) >= (int)sizeof store)
        return ward_diag_set(d, WARD_ERR_LIMIT, "%s: path too long", t->versions);
    if ((e = ward_mkdir_p(store, 0755, d)))
        return e;
    if (access(obj, F_OK) == 0) {
        if (move)
            unlink(file); /* the same content is stored already */
    } else if (move) {
        if (rename(file, obj) != 0)
            return ward_diag_set(d, WARD_ERR_IO, "cannot move %s to %s: %s", file, obj,
                                 strerror(errno));
    } else if ((e = ward_link_or_copy(file, obj, d))) {
        return e;
    }
    return make_link(target, dir, name, d);
}

ward_err ward_dbtree_keep(struct ward_dbtree *t, const char *dir, const char *name,
                          const char *from, struct ward_diag *d)
{
    struct stat st;
    char target[PATH_MAX];
    if (lstat(from, &st) == 0 && S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(from, target, sizeof target - 1);
        if (n > 0 && (size_t)n < sizeof target - 1) {
            target[n] = 0;
            if (strncmp(target, "../" STORE "/", strlen(STORE) + 4) == 0)
                return make_link(target, dir, name, d);
        }
    }
    return ward_dbtree_adopt(t, dir, name, from, false, d);
}

bool ward_dbtree_reuse(struct ward_dbtree *t, const char *dir, const char *name,
                       const uint8_t sha256[32], uint64_t size)
{
    char obj[PATH_MAX], target[128];
    struct stat st;
    struct ward_diag d;
    /* the store is trusted: objects are named by digest after verification */
    return store_path(t, sha256, obj, sizeof obj, target, sizeof target) &&
           stat(obj, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
           !make_link(target, dir, name, &d);
}

ward_err ward_dbtree_open(const char *database_dir, struct ward_dbtree *t,
                          struct ward_diag *diag)
{
    char parent[PATH_MAX];
    const char *base;
    memset(t, 0, sizeof *t);
    t->lock_fd = -1;
    size_t n = strlen(database_dir);
    while (n > 1 && database_dir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof t->live)
        return ward_diag_set(diag, WARD_ERR_PARSE, "database_dir is empty or too long");
    memcpy(t->live, database_dir, n);
    t->live[n] = 0;
    split_path(t->live, parent, sizeof parent, &base);
    if (snprintf(t->versions, sizeof t->versions, "%s/%s.versions", parent, base) >=
        (int)sizeof t->versions)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: path too long", t->live);
    ward_err e = ward_mkdir_p(t->versions, 0755, diag);
    if (e)
        return e;
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s/.lock", t->versions);
    t->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->lock_fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", lock, strerror(errno));
    if (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        close(t->lock_fd);
        t->lock_fd = -1;
        return ward_diag_set(diag, WARD_ERR_IO, "another update of %s is running", t->live);
    }
    /* Left over by an update that was interrupted: never installed. */
    DIR *d = opendir(t->versions);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (strncmp(de->d_name, ".staging-", 9) == 0) {
                char p[PATH_MAX * 2];
                snprintf(p, sizeof p, "%s/%s", t->versions, de->d_name);
                ward_rm_tree(p);
            }
        closedir(d);
    }
    struct stat st;
    if (lstat(t->live, &st) == 0) {
        if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
            if (!realpath(t->live, t->current))
                t->current[0] = 0; /* a dangling link: nothing to build on */
        } else {
            ward_dbtree_close(t);
            return ward_diag_set(diag, WARD_ERR_IO, "%s is not a directory", database_dir);
        }
    }
    return WARD_OK;
}

void ward_dbtree_close(struct ward_dbtree *t)
{
    if (t->lock_fd >= 0)
        close(t->lock_fd);
    t->lock_fd = -1;
}

ward_err ward_dbtree_stage(struct ward_dbtree *t, char *staging, size_t cap,
                           struct ward_diag *diag)
{
    if (snprintf(staging, cap, "%s/.staging-XXXXXX", t->versions) >= (int)cap)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: path too long", t->versions);
    if (!mkdtemp(staging))
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", staging, strerror(errno));
    chmod(staging, 0755);
    char state[PATH_MAX + 32];
    snprintf(state, sizeof state, "%s/" WARD_DBTREE_STATE, staging);
    if (mkdir(state, 0755) != 0) {
        ward_rm_tree(staging);
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", state, strerror(errno));
    }
    return WARD_OK;
}

void ward_dbtree_discard(const char *dir)
{
    ward_rm_tree(dir);
}

/* Highest version number present (-1: none), and the highest below `below`. */
static long scan_versions(const char *versions, long below, long *under)
{
    long top = -1;
    *under = -1;
    DIR *d = opendir(versions);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long s = seq_of(de->d_name);
        if (s > top)
            top = s;
        if (s >= 0 && s < below && s > *under)
            *under = s;
    }
    closedir(d);
    return top;
}

/* Point the link at versions/NAME, atomically. */
static ward_err switch_link(struct ward_dbtree *t, const char *name, struct ward_diag *diag)
{
    char parent[PATH_MAX], target[PATH_MAX], tmp[PATH_MAX + 64];
    const char *base;
    split_path(t->live, parent, sizeof parent, &base);
    /* relative, so that the whole tree can be moved or bind-mounted */
    if (snprintf(target, sizeof target, "%s.versions/%s", base, name) >= (int)sizeof target ||
        snprintf(tmp, sizeof tmp, "%s/.%s.link-%ld", parent, base, (long)getpid()) >=
            (int)sizeof tmp)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: path too long", t->live);
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", tmp, strerror(errno));
    struct stat st;
    bool plain_dir = lstat(t->live, &st) == 0 && S_ISDIR(st.st_mode);
    if (!plain_dir) {
        if (rename(tmp, t->live) != 0) {
            ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot switch %s: %s", t->live,
                                       strerror(errno));
            unlink(tmp);
            return e;
        }
    } else {
        /* First update: swap the directory for the link, keep it as version 0. */
        char keep[PATH_MAX + 16];
        snprintf(keep, sizeof keep, "%s/%0*d", t->versions, SEQ_DIGITS, 0);
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, t->live, RENAME_EXCHANGE) != 0) {
            ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot switch %s: %s", t->live,
                                       strerror(errno));
            unlink(tmp);
            return e;
        }
        if (rename(tmp, keep) != 0) {
            snprintf(keep, sizeof keep, "%s/original-%ld", t->versions, (long)time(NULL));
            (void)rename(tmp, keep);
        }
    }
    fsync_dir(parent);
    return WARD_OK;
}

ward_err ward_dbtree_commit(struct ward_dbtree *t, const char *staging, char *installed,
                            size_t cap, struct ward_diag *diag)
{
    long under, top = scan_versions(t->versions, 0, &under);
    char name[24];
    snprintf(name, sizeof name, "%0*ld", SEQ_DIGITS, top < 0 ? 1 : top + 1);
    if (snprintf(installed, cap, "%s/%s", t->versions, name) >= (int)cap)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "path too long");
    fsync_dir(staging);
    if (rename(staging, installed) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot rename %s to %s: %s", staging,
                             installed, strerror(errno));
    fsync_dir(t->versions);
    ward_err e = switch_link(t, name, diag);
    if (e)
        return e;
    snprintf(t->current, sizeof t->current, "%s", installed);
    return WARD_OK;
}

ward_err ward_dbtree_rollback(struct ward_dbtree *t, char *to, size_t cap,
                              struct ward_diag *diag)
{
    const char *cur = strrchr(t->current, '/');
    long now = cur ? seq_of(cur + 1) : -1, under;
    if (now < 0)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "%s is not a version installed by ward "
                                                      "update", t->live);
    scan_versions(t->versions, now, &under);
    if (under < 0)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "no earlier version of %s is kept",
                             t->live);
    char name[24];
    snprintf(name, sizeof name, "%0*ld", SEQ_DIGITS, under);
    ward_err e = switch_link(t, name, diag);
    if (e)
        return e;
    if (snprintf(t->current, sizeof t->current, "%s/%s", t->versions, name) >=
        (int)sizeof t->current)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "path too long");
    snprintf(to, cap, "%s", t->current);
    return WARD_OK;
}

static int cmp_long_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

struct hexset {
    char (*hex)[65];
    size_t n, cap;
};

static int cmp_hex(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The store objects the links of one version directory name. */
static bool collect_links(const char *vdir, struct hexset *set)
{
    DIR *v = opendir(vdir);
    struct dirent *fe;
    size_t prefix = strlen("../" STORE "/");
    while (v && (fe = readdir(v)) != NULL) {
        char p[PATH_MAX * 2], target[256];
        snprintf(p, sizeof p, "%s/%s", vdir, fe->d_name);
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n != (ssize_t)(prefix + 64) || strncmp(target, "../" STORE "/", prefix) != 0)
            continue;
        if (set->n == set->cap) {
            size_t cap = set->cap ? set->cap * 2 : 256;
            char(*h)[65] = realloc(set->hex, cap * sizeof *h);
            if (!h) {
                closedir(v);
                return false;
            }
            set->hex = h;
            set->cap = cap;
        }
        memcpy(set->hex[set->n], target + prefix, 64);
        set->hex[set->n++][64] = 0;
    }
    if (v)
        closedir(v);
    return true;
}

/* Remove store objects that no kept version links to. */
static void collect_garbage(struct ward_dbtree *t)
{
    char store[PATH_MAX];
    struct hexset set = {0};
    bool ok = true;
    if (snprintf(store, sizeof store, "%s/" STORE, t->versions) >= (int)sizeof store)
        return;
    DIR *d = opendir(t->versions);
    struct dirent *de;
    while (ok && d && (de = readdir(d)) != NULL) {
        char vdir[PATH_MAX];
        if (seq_of(de->d_name) >= 0 &&
            snprintf(vdir, sizeof vdir, "%s/%s", t->versions, de->d_name) < (int)sizeof vdir)
            ok = collect_links(vdir, &set);
    }
    if (d)
        closedir(d);
    if (!ok) { /* out of memory: keeping everything is safe */
        free(set.hex);
        return;
    }
    if (set.n)
        qsort(set.hex, set.n, sizeof *set.hex, cmp_hex);
    d = opendir(store);
    while (d && (de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 64 ||
            (set.n && bsearch(de->d_name, set.hex, set.n, sizeof *set.hex, cmp_hex)))
            continue;
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, "%s/%s", store, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    free(set.hex);
}

ward_err ward_dbtree_prune(struct ward_dbtree *t, unsigned keep, struct ward_diag *diag)
{
    (void)diag;
    const char *cur = strrchr(t->current, '/');
    long now = cur ? seq_of(cur + 1) : -1;
    long seqs[4096];
    size_t n = 0;
    DIR *d = opendir(t->versions);
    if (!d)
        return WARD_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < sizeof seqs / sizeof *seqs) {
        long s = seq_of(de->d_name);
        if (s >= 0 && s != now)
            seqs[n++] = s;
    }
    closedir(d);
    qsort(seqs, n, sizeof *seqs, cmp_long_desc);
    for (size_t i = keep; i < n; i++) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/%0*ld", t->versions, SEQ_DIGITS, seqs[i]);
        ward_rm_tree(p);
    }
    collect_garbage(t);
    return WARD_OK;
}
