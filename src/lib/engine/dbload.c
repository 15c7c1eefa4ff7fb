/*
 * dbload.c - a database from files and directories: list the sources in
 * ClamAV's order, read each into a segment (or take the segment of an
 * unchanged file from the previous database), then link.
 *
 * Whether a file changed is decided from its identity as stat(2) gives it:
 * device, inode, size, modification and change times. The change time moves
 * on every write and cannot be set back by a user; but file times have the
 * granularity of the kernel's clock tick, so a file written within two
 * seconds of being read might change again with the same times. Such a
 * segment is "racy" (git's word for the same problem): it is never reused,
 * and its digest is made from its bytes rather than its identity.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/db_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/limits.h"

#define RACY_NS 2000000000ll

struct source {
    char *path;
    const char *base;
    int order; /* load order class */
    struct stat st;
};

struct source_list {
    struct source *v;
    size_t n, cap;
    uint64_t skipped_files; /* directory entries of no signature kind */
};

static void sources_free(struct source_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int source_order(const char *base)
{
    bool cld;
    if (ward_kind_of_name(base) == WARD_KIND_IGN)
        return 0;
    if (ward_is_container_name(base, &cld))
        return 1;
    return 2;
}

static int cmp_source(const void *a, const void *b)
{
    const struct source *x = a, *y = b;
    if (x->order != y->order)
        return x->order - y->order;
    return strcmp(x->base, y->base);
}

static ward_err sources_add(struct source_list *l, const char *dir, const char *name,
                            const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct source *q = realloc(l->v, cap * sizeof *q);
        if (!q)
            return WARD_ERR_NOMEM;
        l->v = q;
        l->cap = cap;
    }
    struct source *s = &l->v[l->n];
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    s->path = malloc(len);
    if (!s->path)
        return WARD_ERR_NOMEM;
    if (dir)
        snprintf(s->path, len, "%s/%s", dir, name);
    else
        snprintf(s->path, len, "%s", name);
    const char *slash = strrchr(s->path, '/');
    s->base = slash ? slash + 1 : s->path;
    s->order = source_order(s->base);
    if (st)
        s->st = *st;
    l->n++;
    return WARD_OK;
}

/* The version in a container header, for choosing between X.cvd and X.cld. */
static long container_version(const char *path)
{
    FILE *f = fopen(path, "rb");
    char head[WARD_CVD_HEADER + 1];
    if (!f)
        return -1;
    size_t n = fread(head, 1, WARD_CVD_HEADER, f);
    fclose(f);
    head[n] = 0;
    if (strncmp(head, "ClamAV-VDB:", 11) != 0)
        return -1;
    char *p = strchr(head + 11, ':');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

/* Of X.cvd and X.cld in one directory, ClamAV loads the newer; so do we. */
static bool superseded(const struct source *s, const struct source *all, size_t n)
{
    bool cld;
    if (!ward_is_container_name(s->base, &cld))
        return false;
    size_t stem = strlen(s->base) - 4;
    for (size_t i = 0; i < n; i++) {
        const struct source *o = &all[i];
        bool ocld;
        if (o == s || !ward_is_container_name(o->base, &ocld) || strlen(o->base) - 4 != stem ||
            strncmp(o->base, s->base, stem) != 0)
            continue;
        long a = container_version(s->path), b = container_version(o->path);
        if (b > a || (b == a && ocld && !cld))
            return true;
    }
    return false;
}

/* A directory's sources (not recursive), in load order. */
static ward_err list_dir(const char *dir, struct source_list *out, struct ward_diag *diag)
{
    DIR *d = opendir(dir);
    if (!d)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot open database directory %s: %s", dir,
                             strerror(errno));
    struct source_list l = {0};
    ward_err e = WARD_OK;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        bool cld;
        if (de->d_name[0] == '.')
            continue;
        if (ward_kind_of_name(de->d_name) < 0 && !ward_is_container_name(de->d_name, &cld)) {
            out->skipped_files++;
            continue;
        }
        e = sources_add(&l, dir, de->d_name, NULL);
    }
    closedir(d);
    if (!e)
        qsort(l.v, l.n, sizeof *l.v, cmp_source);
    for (size_t i = 0; i < l.n && !e; i++) {
        struct source *s = &l.v[i];
        if (stat(s->path, &s->st) != 0 || !S_ISREG(s->st.st_mode) || superseded(s, l.v, l.n))
            continue;
        e = sources_add(out, NULL, s->path, &s->st);
    }
    sources_free(&l);
    return e ? ward_diag_set(diag, e, "%s: out of memory", dir) : WARD_OK;
}

static ward_err list_sources(const char *const *paths, size_t n_paths, struct source_list *out,
                             struct ward_diag *diag)
{
    if (n_paths == 0)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "no signature database given");
    for (size_t i = 0; i < n_paths; i++) {
        struct stat st;
        ward_err e;
        if (stat(paths[i], &st) != 0)
            return ward_diag_set(diag, errno == ENOENT ? WARD_ERR_NOTFOUND : WARD_ERR_IO,
                                 "cannot open database %s: %s", paths[i], strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            e = list_dir(paths[i], out, diag);
        } else {
            bool cld;
            const char *base = strrchr(paths[i], '/');
            base = base ? base + 1 : paths[i];
            if (ward_kind_of_name(base) < 0 && !ward_is_container_name(base, &cld))
                return ward_diag_set(diag, WARD_ERR_UNSUPPORTED,
                                     "%s: unknown signature database extension", paths[i]);
            e = sources_add(out, NULL, paths[i], &st);
            if (e)
                e = ward_diag_set(diag, e, "out of memory");
        }
        if (e)
            return e;
    }
    return WARD_OK;
}

/* ---- identity ------------------------------------------------------------- */

static int64_t ns_of(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void ident_of(const struct stat *st, struct seg_ident *id)
{
    memset(id, 0, sizeof *id);
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = ns_of(st->st_mtim);
    id->ctime_ns = ns_of(st->st_ctim);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ns_of(ts);
}

static bool is_racy(const struct seg_ident *id, int64_t started)
{
    return id->ctime_ns >= started - RACY_NS || id->mtime_ns >= started - RACY_NS;
}

/* What loading depends on besides the file: level, keys, the ignore lists before it. */
static void base_context(const struct ward_db_opts *opts, unsigned flevel, uint8_t out[32])
{
    const char *keys[4] = {opts->keys.cvd_n, opts->keys.cvd_e, opts->keys.info_n,
                           opts->keys.info_e};
    ward_digest d;
    ward_digest_init(&d);
    ward_digest_update(&d, &flevel, sizeof flevel);
    for (int i = 0; i < 4; i++)
        ward_digest_update(&d, keys[i] ? keys[i] : "", keys[i] ? strlen(keys[i]) + 1 : 1);
    ward_digest_final(&d, out);
}

/* ---- reading one file ------------------------------------------------------ */

/* Lines in a file (a cheap pass, so that tables are sized once). */
static uint64_t count_lines(int fd)
{
    uint8_t buf[1 << 16];
    uint64_t n = 0;
    off_t off = 0;
    for (;;) {
        ssize_t r = ward_pread_full(fd, buf, sizeof buf, off);
        if (r <= 0)
            break;
        for (const uint8_t *p = buf, *end = buf + r; (p = memchr(p, '\n', (size_t)(end - p)));
             p++)
            n++;
        off += r;
    }
    return n + 1;
}

/* Feed a plain source to its loader in chunks that end at a line break. */
static ward_err load_chunks(struct load_ctx *lc, int fd, const char *path, const char *base,
                            ward_digest *content)
{
    enum { CHUNK = 1 << 20 };
    ward_buf b;
    ward_buf_init(&b, WARD_SIG_MAX_LINE + CHUNK + 1);
    ward_err e = WARD_OK;
    for (bool eof = false; !e && !eof;) {
        if ((e = ward_buf_reserve(&b, CHUNK))) {
            e = ward_diag_set(lc->diag, e, "%s: out of memory", path);
            break;
        }
        ssize_t r = ward_read_full(fd, b.data + b.len, CHUNK);
        if (r < 0) {
            e = ward_diag_set(lc->diag, WARD_ERR_IO, "%s: read failed: %s", path,
                              strerror(errno));
            break;
        }
        if (content)
            ward_digest_update(content, b.data + b.len, (size_t)r);
        b.len += (size_t)r;
        b.data[b.len] = 0;
        eof = r < CHUNK;
        /* Load up to the last line break; keep the rest for the next chunk. */
        size_t upto = b.len;
        if (!eof) {
            uint8_t *nl = memrchr(b.data, '\n', b.len);
            if (!nl) {
                if (b.len > WARD_SIG_MAX_LINE) {
                    e = ward_diag_set(lc->diag, WARD_ERR_PARSE, "%s: a line longer than %u bytes",
                                      path, WARD_SIG_MAX_LINE);
                    break;
                }
                continue;
            }
            upto = (size_t)(nl - b.data) + 1;
        }
        uint8_t saved = b.data[upto];
        b.data[upto] = 0;
        unsigned lines = 0;
        for (const uint8_t *p = b.data, *end = b.data + upto;
             (p = memchr(p, '\n', (size_t)(end - p))); p++)
            lines++;
        e = ward_load_source(lc, base, b.data, upto);
        b.data[upto] = saved;
        lc->line_base += lines;
        memmove(b.data, b.data + upto, b.len - upto);
        b.len -= upto;
        b.data[b.len] = 0;
    }
    ward_buf_free(&b);
    return e;
}

/*
 * Read one source into a new segment. A plain file is read in chunks, so a
 * large .hsb never sits in memory whole next to the tables built from it;
 * a container is read whole, since its signature covers all its bytes.
 */
static ward_err load_file(struct load_ctx *lc, const struct source *src, int64_t started,
                          const uint8_t ctx[32])
{
    ward_seg *seg = lc->seg;
    lc->file = src->path;
    lc->official = false;
    lc->line_base = 0;
    lc->lines_hint = 0;
    int fd = open(src->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ward_err e = ward_diag_set(lc->diag, errno == ENOENT ? WARD_ERR_NOTFOUND : WARD_ERR_IO,
                                   "cannot open %s: %s", src->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return e;
    }
    seg->path = strdup(src->path);
    if (!seg->path) {
        close(fd);
        return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "out of memory");
    }
    ident_of(&st, &seg->ident);
    seg->racy = is_racy(&seg->ident, started);
    seg->mtime = st.st_mtime;
    seg->stats.files = 1;
    memcpy(seg->ctx, ctx, 32);

    ward_digest content;
    ward_digest_init(&content);
    ward_digest_update(&content, src->base, strlen(src->base) + 1);
    ward_err e;
    bool cld;
    if (ward_is_container_name(src->base, &cld)) {
        ward_buf b;
        ward_buf_init(&b, WARD_DB_MAX_FILE);
        e = ward_fd_read_all(fd, src->path, &b, lc->diag);
        if (e == WARD_OK && seg->racy)
            ward_digest_update(&content, b.data ? b.data : (const uint8_t *)"", b.len);
        if (e == WARD_OK)
            e = ward_load_source(lc, src->base, b.data ? b.data : (uint8_t *)"", b.len);
        ward_buf_free(&b);
    } else {
        lc->lines_hint = count_lines(fd);
        e = load_chunks(lc, fd, src->path, src->base, seg->racy ? &content : NULL);
    }
    close(fd);
    lc->line_base = 0;
    if (!seg->racy)
        ward_digest_update(&content, &seg->ident, sizeof seg->ident);
    ward_digest_update(&content, ctx, 32);
    ward_digest_final(&content, seg->digest);
    ward_seg_finish(seg);
    return e;
}

static bool same_ident(const struct seg_ident *a, const struct seg_ident *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* The previous database's segment for this unchanged source, if any. */
static ward_seg *find_reusable(const ward_db *prev, size_t hint, const struct source *src,
                               const uint8_t ctx[32])
{
    if (!prev)
        return NULL;
    struct seg_ident id;
    ident_of(&src->st, &id);
    for (uint32_t k = 0; k < prev->n_segs; k++) {
        ward_seg *s = prev->segs[(hint + k) % prev->n_segs];
        if (!s->racy && s->path && strcmp(s->path, src->path) == 0 &&
            same_ident(&s->ident, &id) && memcmp(s->ctx, ctx, 32) == 0)
            return s;
    }
    return NULL;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

ward_err ward_db_load(const char *const *paths, size_t n_paths, const struct ward_db_opts *opts,
                      ward_db **out, struct ward_diag *diag)
{
    static const struct ward_db_opts defaults;
    if (!opts)
        opts = &defaults;
    double t0 = mono_seconds();
    int64_t started = now_ns();
    unsigned flevel = opts->flevel ? opts->flevel : WARD_FLEVEL;
    struct source_list list = {0};
    ward_err e = list_sources(paths, n_paths, &list, diag);
    ward_seg **segs = e ? NULL : calloc(list.n + 1, sizeof *segs);
    const ward_seg **ign = e ? NULL : calloc(list.n + 1, sizeof *ign);
    if (!e && (!segs || !ign))
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    struct ignore_list ign_list = {ign, 0};
    uint8_t base_ctx[32], ign_digest[32] = {0};
    if (!e)
        base_context(opts, flevel, base_ctx);
    uint64_t errors = 0, reused = 0;
    size_t n = 0;
    for (size_t i = 0; i < list.n && !e; i++) {
        uint8_t ctx[32];
        ward_digest d;
        ward_digest_init(&d);
        ward_digest_update(&d, base_ctx, 32);
        ward_digest_update(&d, ign_digest, 32);
        ward_digest_final(&d, ctx);
        ward_seg *seg = opts->collect_errors ? NULL : find_reusable(opts->reuse, i, &list.v[i], ctx);
        if (seg) {
            ward_seg_ref(seg);
            reused++;
        } else if (!(seg = ward_seg_new())) {
            e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
            break;
        } else {
            struct load_ctx lc = {0};
            lc.seg = seg;
            lc.ign = &ign_list;
            lc.opts = opts;
            lc.flevel = flevel;
            lc.diag = diag;
            e = load_file(&lc, &list.v[i], started, ctx);
            errors += lc.errors;
        }
        segs[n++] = seg;
        if (seg->n_ignores) {
            ign[ign_list.n++] = seg;
            ward_digest_init(&d);
            ward_digest_update(&d, ign_digest, 32);
            ward_digest_update(&d, seg->digest, 32);
            ward_digest_final(&d, ign_digest);
        }
    }
    if (!e && errors)
        e = WARD_ERR_PARSE;
    ward_db *db = NULL;
    if (!e)
        e = ward_db_link(segs, n, opts, list.skipped_files, &db, diag);
    for (size_t i = 0; i < n; i++)
        ward_seg_unref(segs[i]);
    free(segs);
    free(ign);
    sources_free(&list);
    if (e)
        return e;
    db->stats.files_reused = reused;
    db->stats.load_seconds = mono_seconds() - t0 - db->stats.compile_seconds;
    *out = db;
    return WARD_OK;
}

bool ward_db_stale(const ward_db *db, const char *const *paths, size_t n_paths)
{
    struct source_list list = {0};
    struct ward_diag diag;
    bool stale = list_sources(paths, n_paths, &list, &diag) != WARD_OK || list.n != db->n_segs;
    for (size_t i = 0; i < list.n && !stale; i++) {
        const ward_seg *s = db->segs[i];
        struct seg_ident id;
        ident_of(&list.v[i].st, &id);
        stale = s->racy || !s->path || strcmp(s->path, list.v[i].path) != 0 ||
                !same_ident(&s->ident, &id);
    }
    sources_free(&list);
    return stale;
}
