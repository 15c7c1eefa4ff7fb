/* load.c - load signature sources from files and directories into a ward_db. */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <hs/hs.h>

#include "engine/db_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/limits.h"
#include "util/strutil.h"

static const struct {
    const char *ext;
    enum ward_sigkind kind;
} kinds[] = {
    {".hdb", WARD_KIND_HDB}, {".hsb", WARD_KIND_HSB}, {".mdb", WARD_KIND_MDB},
    {".msb", WARD_KIND_MSB}, {".imp", WARD_KIND_IMP}, {".ndb", WARD_KIND_NDB},
    {".ndu", WARD_KIND_NDB}, {".ldb", WARD_KIND_LDB}, {".ldu", WARD_KIND_LDB},
    {".fp", WARD_KIND_FP},   {".sfp", WARD_KIND_SFP}, {".ign", WARD_KIND_IGN},
    {".ign2", WARD_KIND_IGN}, {".cdb", WARD_KIND_CDB}, {".crb", WARD_KIND_CRB},
    {".cbc", WARD_KIND_CBC}, {".pdb", WARD_KIND_PDB}, {".gdb", WARD_KIND_GDB},
    {".wdb", WARD_KIND_WDB}, {".ftm", WARD_KIND_FTM}, {".idb", WARD_KIND_IDB},
    {".cfg", WARD_KIND_CFG}, {".pwdb", WARD_KIND_PWDB}, {".yar", WARD_KIND_YARA},
    {".yara", WARD_KIND_YARA},
};

static const char *kind_names[WARD_KIND_COUNT] = {
    "hdb", "hsb", "mdb", "msb", "imp", "ndb", "ldb", "fp", "sfp", "ign2", "cdb",
    "crb", "cbc", "pdb", "gdb", "wdb", "ftm", "idb", "cfg", "pwdb", "yara",
};

const char *ward_kind_name(enum ward_sigkind kind)
{
    return kind < WARD_KIND_COUNT ? kind_names[kind] : "?";
}

int ward_kind_of_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcasecmp(dot, kinds[i].ext) == 0)
            return (int)kinds[i].kind;
    return -1;
}

static bool is_container_name(const char *name, bool *cld)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    *cld = strcasecmp(dot, ".cld") == 0;
    return *cld || strcasecmp(dot, ".cvd") == 0 || strcasecmp(dot, ".cud") == 0;
}

ward_err ward_load_report(struct load_ctx *lc, const char *fmt, ...)
{
    char msg[400], full[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lc->line)
        snprintf(full, sizeof full, "%s:%u: %s", lc->file, lc->line, msg);
    else
        snprintf(full, sizeof full, "%s: %s", lc->file, msg);
    lc->errors++;
    if (lc->opts->collect_errors) {
        if (lc->opts->on_error)
            lc->opts->on_error(lc->opts->error_ctx, full);
        if (lc->errors == 1)
            ward_diag_set(lc->diag, WARD_ERR_PARSE, "%s", full);
        return WARD_OK;
    }
    return ward_diag_set(lc->diag, WARD_ERR_PARSE, "%s", full);
}

ward_err ward_db_add_name(struct load_ctx *lc, const char *name, size_t len, uint32_t *out)
{
    /* ClamAV marks names from unsigned sources; Ward's own names are never marked. */
    static const char suffix[] = ".UNOFFICIAL";
    char tmp[WARD_SIG_MAX_NAME + sizeof suffix];
    if (len == 0 || len > WARD_SIG_MAX_NAME)
        return ward_load_report(lc, "bad signature name length");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return ward_load_report(lc, "control character in signature name");
    memcpy(tmp, name, len);
    if (!lc->official && !(len > 5 && memcmp(name, "Ward.", 5) == 0) &&
        !(len >= sizeof suffix - 1 && memcmp(name + len - (sizeof suffix - 1), suffix,
                                              sizeof suffix - 1) == 0)) {
        memcpy(tmp + len, suffix, sizeof suffix - 1);
        len += sizeof suffix - 1;
    }
    ward_err e = ward_strpool_add(&lc->db->names, tmp, len, out);
    return e ? ward_diag_set(lc->diag, e, "%s: cannot store signature names", lc->file) : e;
}

bool ward_db_ignored(const ward_db *db, const char *name, size_t len, const char *line,
                     size_t line_len)
{
    for (size_t i = 0; i < db->n_ignores; i++) {
        const char *ig = db->ignores[i];
        const char *colon = strchr(ig, ':');
        size_t n = colon ? (size_t)(colon - ig) : strlen(ig);
        if (n != len || memcmp(ig, name, len) != 0)
            continue;
        if (!colon)
            return true;
        /* Name:md5 ignores the signature only while its line is unchanged. */
        uint8_t digest[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
        char hex[33];
        ward_hasher *h;
        if (ward_hasher_new(&h))
            return false;
        bool same = false;
        if (!ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_MD5)) &&
            !ward_hasher_update(h, line, line_len) && !ward_hasher_end(h, digest)) {
            ward_hex_encode(digest[WARD_HASH_MD5], 16, hex);
            same = strcasecmp(hex, colon + 1) == 0;
        }
        ward_hasher_free(h);
        if (same)
            return true;
    }
    return false;
}

ward_err ward_db_add_pat(ward_db *db, struct body_pat **out, uint32_t *idx)
{
    if (db->n_pats == db->cap_pats) {
        uint32_t cap = db->cap_pats ? db->cap_pats * 2 : 1024;
        struct body_pat *p = realloc(db->pats, cap * sizeof *p);
        if (!p)
            return WARD_ERR_NOMEM;
        db->pats = p;
        db->cap_pats = cap;
    }
    *idx = db->n_pats;
    *out = &db->pats[db->n_pats++];
    memset(*out, 0, sizeof **out);
    return WARD_OK;
}

enum offset_result ward_parse_offset(const char *s, uint8_t *kind, uint32_t *off, uint32_t *shift)
{
    uint64_t a = 0, b = 0;
    *shift = 0;
    if (strcmp(s, "*") == 0) {
        *kind = WARD_OFF_ANY;
        *off = 0;
        return OFFSET_OK;
    }
    if (strlen(s) > 64)
        return OFFSET_BAD;
    const char *p = s;
    if (strncmp(p, "EOF-", 4) == 0) {
        *kind = WARD_OFF_EOF;
        p += 4;
    } else if (*p >= '0' && *p <= '9') {
        *kind = WARD_OFF_ABS;
    } else if (!strncmp(p, "EP", 2) || *p == 'S' || !strcmp(p, "VI") || *p == '$') {
        return OFFSET_UNSUPPORTED;
    } else {
        return OFFSET_BAD;
    }
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (!ward_parse_u64n(p, n, &a) || a > UINT32_MAX)
        return OFFSET_BAD;
    if (comma && (!ward_parse_u64(comma + 1, &b) || b > UINT32_MAX))
        return OFFSET_BAD;
    *off = (uint32_t)a;
    *shift = (uint32_t)b;
    return OFFSET_OK;
}

ward_err ward_db_add_body(struct load_ctx *lc, const char *hex, size_t len, unsigned mods,
                          uint8_t target, uint8_t off_kind, uint32_t off, uint32_t shift,
                          uint32_t owner, uint16_t subsig, uint32_t *idx,
                          struct ward_pattern_info *info)
{
    /* Parse now to check the line and learn its lengths; the regex forms are
       written only when the database is compiled (not on a cached start). */
    struct ward_diag pd;
    ward_pattern *pat;
    ward_err e = ward_pattern_parse(hex, len, mods, &pat, &pd);
    if (e == WARD_ERR_PARSE)
        return ward_load_report(lc, "%s", pd.msg) ? WARD_ERR_PARSE : WARD_ERR_UNSUPPORTED;
    if (e)
        return ward_diag_set(lc->diag, e, "%s: out of memory", lc->file);
    ward_pattern_info(pat, info);
    bool nocase = ward_pattern_nocase(pat);
    ward_pattern_free(pat);

    struct body_pat *bp;
    char *src = strndup(hex, len);
    if (!src || (e = ward_db_add_pat(lc->db, &bp, idx))) {
        free(src);
        return ward_diag_set(lc->diag, WARD_ERR_NOMEM, "%s: out of memory", lc->file);
    }
    bp->owner = owner;
    bp->subsig = subsig;
    bp->target = target;
    bp->off_kind = off_kind;
    bp->off = off;
    bp->shift = shift;
    bp->mods = (uint8_t)mods;
    bp->min_len = info->min_len;
    bp->max_len = info->max_len;
    bp->src = src;
    if (nocase)
        bp->flags |= BP_NOCASE;
    if (info->never)
        bp->flags |= BP_NEVER;
    return WARD_OK;
}

ward_err ward_load_source(struct load_ctx *lc, const char *name, uint8_t *text, size_t len)
{
    bool cld;
    if (is_container_name(name, &cld))
        return ward_load_container(lc, name, text, len, cld);
    int kind = ward_kind_of_name(name);
    lc->line = 0;
    switch (kind) {
    case WARD_KIND_HDB:
    case WARD_KIND_HSB:
    case WARD_KIND_FP:
    case WARD_KIND_SFP:
    case WARD_KIND_MDB:
    case WARD_KIND_MSB:
    case WARD_KIND_IMP:
        return ward_load_hash(lc, (enum ward_sigkind)kind, (char *)text, len);
    case WARD_KIND_NDB:
        return ward_load_ndb(lc, (char *)text, len);
    case WARD_KIND_LDB:
        return ward_load_ldb(lc, (char *)text, len);
    case WARD_KIND_IGN:
        return ward_load_ign(lc, (char *)text, len);
    case -1:
        return WARD_OK;
    default: {
        /* A kind this version does not use: count its entries as skipped. */
        uint64_t n = 0;
        const char *p = (const char *)text, *end = p + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            if (e > p && *p != '#' && !(e - p == 1 && *p == '\r'))
                n++;
            p = nl ? nl + 1 : end;
        }
        if (kind == WARD_KIND_CFG || kind == WARD_KIND_FTM)
            n = n ? n : 0;
        lc->db->stats.kind[kind].skipped += n;
        return WARD_OK;
    }
    }
}

/* ---- files and directories -------------------------------------------- */

struct source {
    char *path;
    const char *base;
    int order; /* load order class */
};

static int source_order(const char *base)
{
    int kind = ward_kind_of_name(base);
    bool cld;
    if (kind == WARD_KIND_IGN)
        return 0;
    if (is_container_name(base, &cld))
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

/*
 * A plain signature file is read in chunks that end at a line break, so a
 * large .hsb never sits in memory whole next to the tables built from it.
 * Containers (.cvd, .cld) are read whole: their signature covers all bytes.
 */
static ward_err load_file(struct load_ctx *lc, const char *path, ward_digest *digest)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    ward_digest_update(digest, base, strlen(base) + 1);
    ward_err e = WARD_OK;
    lc->file = path;
    lc->official = false;
    lc->line_base = 0;
    lc->lines_hint = 0;
    lc->db->stats.files++;
    bool cld;
    if (e)
        return e;
    if (is_container_name(base, &cld)) {
        ward_buf b;
        ward_buf_init(&b, WARD_DB_MAX_FILE);
        e = ward_file_read_all(path, &b, lc->diag);
        if (!e)
            ward_digest_update(digest, b.data ? b.data : (const uint8_t *)"", b.len);
        if (!e)
            e = ward_load_source(lc, base, b.data ? b.data : (uint8_t *)"", b.len);
        ward_buf_free(&b);
        return e;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ward_diag_set(lc->diag, errno == ENOENT ? WARD_ERR_NOTFOUND : WARD_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    lc->lines_hint = count_lines(fd);
    enum { CHUNK = 1 << 20 };
    ward_buf b;
    ward_buf_init(&b, WARD_SIG_MAX_LINE + CHUNK + 1);
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
        ward_digest_update(digest, b.data + b.len, (size_t)r);
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
    close(fd);
    ward_buf_free(&b);
    lc->line_base = 0;
    return e;
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
    if (!is_container_name(s->base, &cld))
        return false;
    size_t stem = strlen(s->base) - 4;
    for (size_t i = 0; i < n; i++) {
        const struct source *o = &all[i];
        bool ocld;
        if (o == s || !is_container_name(o->base, &ocld) || strlen(o->base) - 4 != stem ||
            strncmp(o->base, s->base, stem) != 0)
            continue;
        long a = container_version(s->path), b = container_version(o->path);
        if (b > a || (b == a && ocld && !cld))
            return true;
    }
    return false;
}

static ward_err load_dir(struct load_ctx *lc, const char *dir, ward_digest *digest)
{
    DIR *d = opendir(dir);
    if (!d)
        return ward_diag_set(lc->diag, WARD_ERR_IO, "cannot open database directory %s: %s",
                             dir, strerror(errno));
    struct source *srcs = NULL;
    size_t n = 0, cap = 0;
    ward_err e = WARD_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        bool cld;
        if (de->d_name[0] == '.')
            continue;
        if (ward_kind_of_name(de->d_name) < 0 && !is_container_name(de->d_name, &cld)) {
            lc->db->stats.skipped_files++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            struct source *q = realloc(srcs, cap * sizeof *q);
            if (!q) {
                e = WARD_ERR_NOMEM;
                break;
            }
            srcs = q;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        srcs[n].path = malloc(len);
        if (!srcs[n].path) {
            e = WARD_ERR_NOMEM;
            break;
        }
        snprintf(srcs[n].path, len, "%s/%s", dir, de->d_name);
        srcs[n].base = srcs[n].path + strlen(dir) + 1;
        srcs[n].order = source_order(srcs[n].base);
        n++;
    }
    closedir(d);
    if (!e)
        qsort(srcs, n, sizeof *srcs, cmp_source);
    for (size_t i = 0; i < n && !e; i++) {
        struct stat st;
        if (stat(srcs[i].path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (superseded(&srcs[i], srcs, n))
            continue;
        if (st.st_mtime > lc->db->stats.build_time && !lc->db->stats.version)
            lc->db->stats.build_time = st.st_mtime;
        e = load_file(lc, srcs[i].path, digest);
    }
    for (size_t i = 0; i < n; i++)
        free(srcs[i].path);
    free(srcs);
    if (e == WARD_ERR_NOMEM)
        ward_diag_set(lc->diag, e, "%s: out of memory", dir);
    return e;
}

static void db_free(ward_db *db)
{
    ward_strpool_free(&db->names);
    ward_hashidx_free(&db->hashes);
    ward_hashidx_free(&db->allow);
    for (uint32_t i = 0; i < db->n_pats; i++) {
        free(db->pats[i].src);
        pcre2_code_free(db->pats[i].exact);
    }
    free(db->pats);
    free(db->parts);
    free(db->zero_true);
    free(db->ndbs);
    free(db->ldbs);
    free(db->ldb_subs);
    for (uint32_t i = 0; i < db->n_pcres; i++) {
        free(db->pcres[i].re);
        pcre2_code_free(db->pcres[i].code);
    }
    free(db->pcres);
    ward_lexpr_pool_free(&db->exprs);
    for (int t = 0; t < WARD_TARGET_COUNT; t++)
        hs_free_database(db->hs[t]);
    for (size_t i = 0; i < db->n_ignores; i++)
        free(db->ignores[i]);
    free(db->ignores);
    free(db);
}

static double now_seconds(void)
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
    double t0 = now_seconds();
    ward_db *db = calloc(1, sizeof *db);
    if (!db)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    db->refs = 1;
    ward_strpool_init(&db->names);
    ward_hashidx_init(&db->hashes);
    ward_hashidx_init(&db->allow);
    ward_lexpr_pool_init(&db->exprs);

    ward_digest digest;
    ward_digest_init(&digest);
    ward_err e = WARD_OK;
    struct load_ctx lc = {db, opts, opts->flevel ? opts->flevel : WARD_FLEVEL, false, "", 0,
                          diag, 0};
    if (n_paths == 0)
        e = ward_diag_set(diag, WARD_ERR_NOTFOUND, "no signature database given");
    for (size_t i = 0; i < n_paths && !e; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            e = ward_diag_set(diag, errno == ENOENT ? WARD_ERR_NOTFOUND : WARD_ERR_IO,
                              "cannot open database %s: %s", paths[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            e = load_dir(&lc, paths[i], &digest);
        } else {
            bool cld;
            const char *base = strrchr(paths[i], '/');
            base = base ? base + 1 : paths[i];
            if (ward_kind_of_name(base) < 0 && !is_container_name(base, &cld))
                e = ward_diag_set(diag, WARD_ERR_UNSUPPORTED,
                                  "%s: unknown signature database extension", paths[i]);
            else {
                if (st.st_mtime > db->stats.build_time && !db->stats.version)
                    db->stats.build_time = st.st_mtime;
                e = load_file(&lc, paths[i], &digest);
            }
        }
    }
    if (!e && lc.errors)
        e = WARD_ERR_PARSE;
    ward_hashidx_seal(&db->hashes);
    ward_hashidx_seal(&db->allow);
    ward_digest_final(&digest, db->digest);
    db->stats.load_seconds = now_seconds() - t0;
    if (!e && !opts->check_only) {
        double t1 = now_seconds();
        e = ward_db_compile(db, opts, diag);
        db->stats.compile_seconds = now_seconds() - t1;
    }
    if (e) {
        db_free(db);
        return e;
    }
    *out = db;
    return WARD_OK;
}

void ward_db_ref(ward_db *db)
{
    __atomic_add_fetch(&db->refs, 1, __ATOMIC_RELAXED);
}

void ward_db_unref(ward_db *db)
{
    if (db && __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) == 0)
        db_free(db);
}

const struct ward_db_stats *ward_db_stats(const ward_db *db)
{
    return &db->stats;
}

const uint8_t *ward_db_digest(const ward_db *db)
{
    return db->digest;
}

void ward_db_each_name(const ward_db *db, void (*fn)(void *ctx, const char *name), void *ctx)
{
    /* Names are stored once per signature, in load order. */
    size_t off = 0;
    while (off < db->names.len) {
        const char *s = db->names.data + off;
        fn(ctx, s);
        off += strlen(s) + 1;
    }
}
