/* scan.c - the recursive scan driver: limits, matching, unpacking, findings. */
#include "scan/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/match.h"
#include "formats/ftype.h"
#include "scan/walk.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/limits.h"

/* Members up to this size stay in memory; larger ones spill to a temp file. */
#define SPOOL_MEM_MAX (8u << 20)
/* Unpacking below this many bytes is never a compression-ratio problem. */
#define RATIO_FLOOR (1u << 20)

struct ward_scanner {
    ward_matcher *matcher;
    uint8_t *chunk;
};

struct ward_walk {
    ward_scanner *s;
    const struct ward_scan_opts *o;
    struct ward_scan_result *res;
    uint64_t start_ms;
    uint64_t bytes;
    uint32_t objects;
    bool stop;
    bool limit_hit; /* a limit cut the scan somewhere: results are context-dependent */
    /* the first detection, for the verdict cache */
    char first_name[256];
    const char *first_path[WARD_PATH_MAX_DEPTH];
    unsigned first_depth;
    char first_path_buf[1024];
    /* recent findings, so a normalized layer does not repeat its parent's */
    uint64_t recent[32];
    unsigned n_recent;
};

const char *ward_verdict_name(enum ward_verdict v)
{
    switch (v) {
    case WARD_VERDICT_CLEAN: return "clean";
    case WARD_VERDICT_NOT_SCANNED: return "not_scanned";
    case WARD_VERDICT_SUSPICIOUS: return "suspicious";
    case WARD_VERDICT_INFECTED: return "infected";
    }
    return "?";
}

const char *ward_reason_name(enum ward_reason r)
{
    switch (r) {
    case WARD_REASON_NONE: return "";
    case WARD_REASON_ENCRYPTED: return "encrypted";
    case WARD_REASON_LIMIT: return "limit";
    case WARD_REASON_CORRUPTED: return "corrupted";
    case WARD_REASON_ERROR: return "error";
    }
    return "?";
}

void ward_scan_limits_default(struct ward_scan_limits *l)
{
    l->max_filesize = 100ull << 20;
    l->max_scansize = 400ull << 20;
    l->max_recursion = 17;
    l->max_files = 10000;
    l->max_scantime = 120000;
    l->max_ratio = 1000;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

ward_err ward_scanner_new(ward_db *db, ward_scanner **out)
{
    ward_scanner *s = calloc(1, sizeof *s);
    if (!s)
        return WARD_ERR_NOMEM;
    s->chunk = malloc(WARD_READ_CHUNK);
    ward_err e = s->chunk ? ward_matcher_new(db, &s->matcher) : WARD_ERR_NOMEM;
    if (e) {
        free(s->chunk);
        free(s);
        return e;
    }
    *out = s;
    return WARD_OK;
}

void ward_scanner_free(ward_scanner *s)
{
    if (!s)
        return;
    ward_matcher_free(s->matcher);
    free(s->chunk);
    free(s);
}

ward_db *ward_scanner_db(const ward_scanner *s)
{
    return ward_matcher_db(s->matcher);
}

ssize_t ward_obj_read(const struct ward_obj *obj, uint64_t off, void *p, size_t n)
{
    if (off >= obj->src.size)
        return 0;
    if (n > obj->src.size - off)
        n = (size_t)(obj->src.size - off);
    if (obj->src.mem) {
        memcpy(p, obj->src.mem + off, n);
        return (ssize_t)n;
    }
    return ward_pread_full(obj->src.fd, p, n, (off_t)off);
}

ward_db *ward_walk_db(const struct ward_walk *w)
{
    return ward_scanner_db(w->s);
}

const char *ward_walk_tmpdir(const struct ward_walk *w)
{
    if (w->o->tmpdir && *w->o->tmpdir)
        return w->o->tmpdir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

bool ward_walk_stopped(const struct ward_walk *w)
{
    if (w->stop)
        return true;
    if (w->o->limits.max_scantime && now_ms() - w->start_ms > w->o->limits.max_scantime) {
        ((struct ward_walk *)w)->stop = true;
        ((struct ward_walk *)w)->limit_hit = true;
        return true;
    }
    return false;
}

/* ---- findings ---------------------------------------------------------- */

static unsigned build_path(const struct ward_obj *obj, const char *extra, const char **path)
{
    const char *rev[WARD_PATH_MAX_DEPTH + 1];
    unsigned n = 0;
    if (extra)
        rev[n++] = extra;
    for (const struct ward_obj *o = obj; o && n < WARD_PATH_MAX_DEPTH; o = o->parent)
        if (o->name)
            rev[n++] = o->name;
    for (unsigned i = 0; i < n; i++)
        path[i] = rev[n - 1 - i];
    return n;
}

/* Number of objects from the top down to obj, nameless ones included. */
static unsigned chain_length(const struct ward_obj *obj)
{
    unsigned n = 0;
    for (const struct ward_obj *o = obj; o; o = o->parent)
        n++;
    return n;
}

/* Number of named components on the path down to obj. */
static unsigned path_depth(const struct ward_obj *obj)
{
    unsigned n = 0;
    for (const struct ward_obj *o = obj; o; o = o->parent)
        n += o->name != NULL;
    return n;
}

static uint64_t finding_key(const char **path, unsigned depth, enum ward_verdict v,
                            const char *text)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)v;
    for (unsigned i = 0; i <= depth; i++) {
        const char *s = i < depth ? path[i] : (text ? text : "");
        for (; *s; s++)
            h = (h ^ (uint8_t)*s) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

static void emit_finding(struct ward_walk *w, const char **path, unsigned depth,
                         enum ward_verdict v, enum ward_reason r, const char *text)
{
    struct ward_scan_result *res = w->res;
    /* the same name on the same path once only (raw bytes and their normalized layer) */
    uint64_t key = finding_key(path, depth, v, text);
    for (unsigned i = 0; i < w->n_recent && i < 32; i++)
        if (w->recent[i] == key)
            return;
    w->recent[w->n_recent++ % 32] = key;
    res->findings++;
    if (v > res->verdict) {
        res->verdict = v;
        res->reason = r;
    }
    if (v == WARD_VERDICT_NOT_SCANNED && r == WARD_REASON_LIMIT)
        w->limit_hit = true;
    if ((v == WARD_VERDICT_INFECTED || v == WARD_VERDICT_SUSPICIOUS) && !w->first_name[0]) {
        snprintf(w->first_name, sizeof w->first_name, "%s", text ? text : "");
        /* keep a copy of the path for the verdict cache */
        size_t used = 0;
        w->first_depth = 0;
        for (unsigned i = 0; i < depth; i++) {
            size_t len = strlen(path[i]) + 1;
            if (used + len > sizeof w->first_path_buf)
                break;
            memcpy(w->first_path_buf + used, path[i], len);
            w->first_path[w->first_depth++] = w->first_path_buf + used;
            used += len;
        }
    }
    struct ward_finding f = {v, r, text, path, depth};
    if (w->o->on_finding && !w->o->on_finding(w->o->ctx, &f))
        w->stop = true;
    if ((v == WARD_VERDICT_INFECTED || v == WARD_VERDICT_SUSPICIOUS) && !w->o->all_matches)
        w->stop = true;
}

static void report(struct ward_walk *w, const struct ward_obj *obj, const char *extra,
                   enum ward_verdict v, enum ward_reason r, const char *text)
{
    const char *path[WARD_PATH_MAX_DEPTH + 1];
    unsigned n = build_path(obj, extra, path);
    emit_finding(w, path, n, v, r, text);
}

void ward_walk_report(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                      enum ward_verdict v, enum ward_reason r, const char *text)
{
    report(w, parent, name, v, r, text);
}

/* ---- spools ------------------------------------------------------------ */

void ward_spool_init(struct ward_walk *w, const struct ward_obj *parent, struct ward_spool *sp)
{
    const struct ward_scan_limits *l = &w->o->limits;
    uint64_t cap = l->max_filesize ? l->max_filesize : UINT64_MAX;
    if (l->max_scansize) {
        uint64_t left = w->bytes < l->max_scansize ? l->max_scansize - w->bytes : 0;
        cap = left < cap ? left : cap;
    }
    if (l->max_ratio && parent && parent->src.size) {
        uint64_t r = parent->src.size * l->max_ratio;
        if (r / l->max_ratio == parent->src.size) {
            r = r < RATIO_FLOOR ? RATIO_FLOOR : r;
            cap = r < cap ? r : cap;
        }
    }
    ward_tmpspool_init(&sp->s, cap, SPOOL_MEM_MAX, ward_walk_tmpdir(w));
    sp->over = WARD_REASON_NONE;
    sp->same_level = false;
}

ward_err ward_spool_write(struct ward_walk *w, struct ward_spool *sp, const void *p, size_t n)
{
    (void)w;
    if (sp->over)
        return WARD_ERR_LIMIT;
    ward_err e = ward_tmpspool_write(&sp->s, p, n);
    if (e)
        sp->over = e == WARD_ERR_LIMIT ? WARD_REASON_LIMIT : WARD_REASON_ERROR;
    return e;
}

void ward_spool_free(struct ward_spool *sp)
{
    ward_tmpspool_free(&sp->s);
}

/* ---- scanning one object ----------------------------------------------- */

static void scan_object(struct ward_walk *w, struct ward_obj *obj);

static enum ward_target target_for(const struct ward_obj *obj)
{
    if (obj->forced_target >= 0)
        return (enum ward_target)obj->forced_target;
    /* Text and HTML signatures match normalized layers, not the raw bytes. */
    if (obj->type == WARD_FT_TEXT || obj->type == WARD_FT_HTML)
        return WARD_TARGET_ANY;
    return ward_ftype_target(obj->type);
}

/* Match the object's bytes; returns false on a read error (already reported). */
static bool match_object(struct ward_walk *w, struct ward_obj *obj, const uint8_t *first,
                         size_t first_len, struct ward_match_result *mr, unsigned extra_hashes)
{
    ward_matcher *m = w->s->matcher;
    struct ward_match_opts mo = {
        .type = obj->type,
        .target = target_for(obj),
        .parent = obj->parent ? obj->parent->type : WARD_FT_BINARY,
        .top_level = obj->parent == NULL,
        .size = obj->src.size,
        .extra_hashes = extra_hashes,
        .all_matches = w->o->all_matches,
    };
    if (ward_match_begin(m, &mo)) {
        report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR, "hashing failed");
        return false;
    }
    bool done = false;
    uint64_t off = first_len;
    ward_err e = ward_match_feed(m, first, first_len, &done);
    while (!e && !done && off < obj->src.size) {
        if (ward_walk_stopped(w)) {
            ward_match_abort(m);
            report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "scan time limit");
            return false;
        }
        size_t want = obj->src.size - off > WARD_READ_CHUNK ? WARD_READ_CHUNK
                                                            : (size_t)(obj->src.size - off);
        const uint8_t *p;
        if (obj->src.mem) {
            p = obj->src.mem + off;
        } else {
            ssize_t got = ward_pread_full(obj->src.fd, w->s->chunk, want, (off_t)off);
            if (got != (ssize_t)want) {
                ward_match_abort(m);
                report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR,
                       got < 0 ? strerror(errno) : "file shrank while being read");
                return false;
            }
            p = w->s->chunk;
        }
        e = ward_match_feed(m, p, want, &done);
        off += want;
    }
    if (!e)
        e = ward_match_end(m, &obj->src, mr);
    else
        ward_match_abort(m);
    if (e) {
        report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR, "matching failed");
        return false;
    }
    return true;
}

/*
 * Worth a digest: objects that are unpacked or normalized. A flat object is
 * matched faster than it is hashed (Vectorscan runs faster than SHA-256), so
 * the cache could only slow it down; that includes a container the caller
 * asked to match without unpacking (a mail agent's raw message, whose parts
 * are scanned one by one afterwards).
 */
static bool cache_usable(const struct ward_walk *w, const struct ward_obj *obj)
{
    return w->o->cache && !w->o->all_matches && !w->o->on_object && obj->src.mem != NULL &&
           !(w->o->no_unpack && !obj->parent) && ward_format_unpacker(obj->type) != NULL;
}

/* Report a cached result as if the subtree had been scanned. */
static void replay_cached(struct ward_walk *w, const struct ward_obj *obj,
                          const struct ward_cached *c)
{
    if (c->verdict == WARD_VERDICT_CLEAN)
        return;
    const char *path[WARD_PATH_MAX_DEPTH + 1];
    unsigned n = build_path(obj, NULL, path);
    char sub[sizeof c->subpath];
    memcpy(sub, c->subpath, sizeof sub);
    for (char *p = sub; *p && n < WARD_PATH_MAX_DEPTH;) {
        char *sep = strchr(p, '\x1f');
        if (sep)
            *sep = 0;
        path[n++] = p;
        if (!sep)
            break;
        p = sep + 1;
    }
    emit_finding(w, path, n, (enum ward_verdict)c->verdict, (enum ward_reason)c->reason,
                 c->name);
}

static void scan_object(struct ward_walk *w, struct ward_obj *obj)
{
    const struct ward_scan_limits *l = &w->o->limits;
    if (ward_walk_stopped(w)) {
        if (w->limit_hit)
            report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "scan time limit");
        return;
    }
    if (l->max_files && w->objects >= l->max_files) {
        report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "file count limit");
        w->stop = true;
        return;
    }
    if (l->max_filesize && obj->src.size > l->max_filesize) {
        report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "file size limit");
        return;
    }
    if (l->max_scansize && obj->src.size > l->max_scansize - (w->bytes < l->max_scansize
                                                                   ? w->bytes
                                                                   : l->max_scansize)) {
        report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "scan size limit");
        w->stop = true;
        return;
    }
    w->objects++;
    w->bytes += obj->src.size;
    w->res->objects++;
    w->res->bytes += obj->src.size;

    /* The first chunk types the object. */
    size_t first_len = obj->src.size > WARD_READ_CHUNK ? WARD_READ_CHUNK : (size_t)obj->src.size;
    const uint8_t *first;
    if (obj->src.mem) {
        first = obj->src.mem;
    } else {
        ssize_t got = ward_pread_full(obj->src.fd, w->s->chunk, first_len, 0);
        if (got != (ssize_t)first_len) {
            report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR,
                   got < 0 ? strerror(errno) : "file shrank while being read");
            return;
        }
        first = w->s->chunk;
    }
    if (obj->forced_target < 0)
        obj->type = ward_ftype_detect(first, first_len, obj->src.size);
    /* x.tar.gz: the tar inside needs no path level of its own ("x.tar.gz/member"). */
    if (obj->stream && (obj->type == WARD_FT_TAR || obj->type == WARD_FT_CPIO))
        obj->name = NULL;

    if (w->o->on_object && obj->name) {
        const char *path[WARD_PATH_MAX_DEPTH + 1];
        unsigned n = build_path(obj, NULL, path);
        struct ward_object_seen seen = {path, n, obj->src.size, first, first_len};
        w->o->on_object(w->o->ctx, &seen);
    }

    /* Verdict cache: content digest first. SHA-256 (libcrypto, with SHA-NI
       about 2 GB/s here) rather than Ward's BLAKE2b (0.7 GB/s): for a unique
       attachment the digest is pure cost, so it must be the cheapest strong one. */
    uint8_t digest[32];
    bool cacheable = cache_usable(w, obj) &&
                     ward_sha256(obj->src.mem, obj->src.size, digest) == WARD_OK;
    const uint8_t *dbd = ward_db_digest(ward_scanner_db(w->s));
    if (cacheable) {
        struct ward_cached c;
        if (ward_vcache_get(w->o->cache, dbd, digest, &c)) {
            replay_cached(w, obj, &c);
            return;
        }
    }
    uint32_t findings_before = w->res->findings;
    bool limit_before = w->limit_hit;
    char first_before = w->first_name[0];

    struct ward_match_result mr;
    if (!match_object(w, obj, first, first_len, &mr, 0))
        return;
    if (mr.allowed)
        return;
    for (unsigned i = 0; i < mr.n_names; i++)
        report(w, obj, NULL, WARD_VERDICT_INFECTED, WARD_REASON_NONE, mr.names[i]);

    if (!ward_walk_stopped(w) && !(w->o->no_unpack && !obj->parent)) {
        ward_unpack_fn unpack = ward_format_unpacker(obj->type);
        /* Compressed streams and layers take no nesting level, so bound the
           whole chain of objects too: each link costs stack. */
        if (unpack &&
            (obj->depth >= l->max_recursion || chain_length(obj) >= WARD_MAX_PATH_DEPTH)) {
            report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT,
                   "recursion limit");
        } else if (unpack) {
            ward_err e = unpack(w, obj);
            if (e == WARD_ERR_ENCRYPTED)
                report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ENCRYPTED,
                       "encrypted");
            else if (e == WARD_ERR_CORRUPT)
                report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_CORRUPTED,
                       "corrupted");
            else if (e == WARD_ERR_LIMIT)
                report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT, "limit");
            else if (e)
                report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR,
                       ward_err_str(e));
        }
    }

    /* Store the subtree's outcome when it does not depend on this scan's budget. */
    if (cacheable && !w->limit_hit && !limit_before) {
        struct ward_cached c = {0};
        if (w->res->findings == findings_before) {
            c.verdict = WARD_VERDICT_CLEAN;
            ward_vcache_put(w->o->cache, dbd, digest, &c);
        } else if (!first_before && w->first_name[0]) {
            unsigned mine = path_depth(obj);
            c.verdict = WARD_VERDICT_INFECTED;
            snprintf(c.name, sizeof c.name, "%s", w->first_name);
            size_t used = 0;
            for (unsigned i = mine; i < w->first_depth; i++) {
                int k = snprintf(c.subpath + used, sizeof c.subpath - used, "%s%s",
                                 i > mine ? "\x1f" : "", w->first_path[i]);
                if (k < 0 || (size_t)k >= sizeof c.subpath - used) {
                    c.verdict = WARD_VERDICT_CLEAN; /* too long to cache */
                    break;
                }
                used += (size_t)k;
            }
            if (c.verdict == WARD_VERDICT_INFECTED && w->res->findings == findings_before + 1)
                ward_vcache_put(w->o->cache, dbd, digest, &c);
        }
    }
}

static ward_err scan_child_src(struct ward_walk *w, const struct ward_obj *parent,
                               const char *name, const struct ward_src *src, int target,
                               bool same_level)
{
    struct ward_obj child = {
        .parent = parent,
        .name = name,
        .depth = parent->depth + (name && !same_level ? 1 : 0),
        .type = WARD_FT_BINARY,
        .forced_target = target,
        .stream = same_level,
        .src = *src,
    };
    scan_object(w, &child);
    return WARD_OK;
}

ward_err ward_walk_child(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                         const uint8_t *p, size_t n)
{
    struct ward_src src = {p ? p : (const uint8_t *)"", -1, n};
    return scan_child_src(w, parent, name, &src, -1, false);
}

static ward_err walk_spool(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                           struct ward_spool *sp, int target)
{
    if (sp->over) {
        report(w, parent, name, WARD_VERDICT_NOT_SCANNED, sp->over,
               sp->over == WARD_REASON_LIMIT ? "size limit" : "cannot store member");
        ward_spool_free(sp);
        return WARD_OK;
    }
    struct ward_src src = {NULL, -1, sp->s.size};
    ward_tmpspool_view(&sp->s, &src.mem, &src.fd);
    ward_err e = scan_child_src(w, parent, name, &src, target, sp->same_level);
    ward_spool_free(sp);
    return e;
}

ward_err ward_walk_spooled(struct ward_walk *w, const struct ward_obj *parent, const char *name,
                           struct ward_spool *sp)
{
    return walk_spool(w, parent, name, sp, -1);
}

ward_err ward_walk_layer(struct ward_walk *w, const struct ward_obj *parent, int target,
                         struct ward_spool *sp)
{
    return walk_spool(w, parent, NULL, sp, target);
}

/* ---- entry points ------------------------------------------------------ */

static void walk_init(struct ward_walk *w, ward_scanner *s, const struct ward_scan_opts *o,
                      struct ward_scan_result *res)
{
    memset(w, 0, sizeof *w);
    memset(res, 0, sizeof *res);
    w->s = s;
    w->o = o;
    w->res = res;
    w->start_ms = now_ms();
}

ward_err ward_scan_mem(ward_scanner *s, const void *p, size_t len, const char *name,
                       const struct ward_scan_opts *o, struct ward_scan_result *res,
                       struct ward_diag *diag)
{
    (void)diag;
    struct ward_walk w;
    walk_init(&w, s, o, res);
    res->top_size = len;
    struct ward_obj obj = {NULL, name, 0, WARD_FT_BINARY, -1, false, {p ? p : "", -1, len}};
    scan_object(&w, &obj);
    return WARD_OK;
}

ward_err ward_scan_fd(ward_scanner *s, int fd, const char *name, const struct ward_scan_opts *o,
                      struct ward_scan_result *res, struct ward_diag *diag)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", name, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ward_diag_set(diag, WARD_ERR_IO, "%s: is a directory", name);
    struct ward_walk w;
    walk_init(&w, s, o, res);
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        uint64_t size = (uint64_t)st.st_size;
        if (S_ISBLK(st.st_mode)) {
            off_t end = lseek(fd, 0, SEEK_END);
            size = end > 0 ? (uint64_t)end : 0;
        }
        if (size > WARD_READ_CHUNK)
            posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        res->top_size = size;
        struct ward_obj obj = {NULL, name, 0, WARD_FT_BINARY, -1, false, {NULL, fd, size}};
        scan_object(&w, &obj);
        return WARD_OK;
    }
    /* A pipe or socket: keep the bytes (memory, then a temp file) to read them twice. */
    struct ward_spool sp;
    ward_spool_init(&w, NULL, &sp);
    sp.s.cap = UINT64_MAX;
    for (;;) {
        ssize_t r = read(fd, s->chunk, WARD_READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ward_spool_free(&sp);
            return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", name, strerror(errno));
        }
        if (r == 0)
            break;
        if (ward_spool_write(&w, &sp, s->chunk, (size_t)r)) {
            ward_spool_free(&sp);
            return ward_diag_set(diag, WARD_ERR_IO, "%s: cannot store input: %s", name,
                                 strerror(errno));
        }
        /* Past the size limit the object will not be scanned: stop storing it. */
        if (o->limits.max_filesize && sp.s.size > o->limits.max_filesize) {
            report(&w, NULL, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT,
                   "file size limit");
            ward_spool_free(&sp);
            return WARD_OK;
        }
    }
    res->top_size = sp.s.size;
    struct ward_obj obj = {NULL, name, 0, WARD_FT_BINARY, -1, false, {NULL, -1, sp.s.size}};
    ward_tmpspool_view(&sp.s, &obj.src.mem, &obj.src.fd);
    scan_object(&w, &obj);
    ward_spool_free(&sp);
    return WARD_OK;
}
