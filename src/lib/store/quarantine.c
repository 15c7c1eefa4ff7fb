/* quarantine.c - the store: open, put, look up, list, delete, purge. */
#include "store/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/qfs.h"
#include "store/qobj.h"
#include "store/quarantine_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/hash.h"

#define META_CAP (4u << 20) /* one joined list (names, recipients) */
#define VICTIMS_PER_TXN 512

const char *ward_qkind_name(enum ward_qkind kind)
{
    return kind == WARD_QKIND_BACKUP ? "backup" : "quarantine";
}

bool ward_qkind_parse(const char *s, enum ward_qkind *out)
{
    if (strcmp(s, "quarantine") == 0)
        *out = WARD_QKIND_QUARANTINE;
    else if (strcmp(s, "backup") == 0)
        *out = WARD_QKIND_BACKUP;
    else
        return false;
    return true;
}

bool ward_q_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return false;
    return n == WARD_QID_LEN;
}

static bool fits(int n, size_t cap)
{
    return n >= 0 && (size_t)n < cap;
}

bool ward_q_object_dir(const ward_quarantine *q, const char *id, char *out, size_t cap)
{
    return fits(snprintf(out, cap, "%s/%.2s", q->objdir, id), cap);
}

bool ward_q_object_path(const ward_quarantine *q, const char *id, char *out, size_t cap)
{
    return fits(snprintf(out, cap, "%s/%.2s/%s", q->objdir, id, id), cap);
}

bool ward_q_mark_path(const ward_quarantine *q, const char *id, const char *suffix, char *out,
                      size_t cap)
{
    return fits(snprintf(out, cap, "%s/%s%s", q->tmpdir, id, suffix), cap);
}

ward_err ward_q_need_key(const ward_quarantine *q, struct ward_diag *diag)
{
    if (q->key_ok)
        return WARD_OK;
    return ward_diag_set(diag, WARD_ERR_CORRUPT, "%s", q->key_problem);
}

const char *ward_quarantine_key_problem(const ward_quarantine *q)
{
    return q->key_ok ? NULL : q->key_problem;
}

/* ---- removal ------------------------------------------------------------ */

ward_err ward_q_doom(ward_quarantine *q, const char *id, struct ward_diag *diag)
{
    char obj[PATH_MAX], mark[PATH_MAX];
    if (!ward_q_object_path(q, id, obj, sizeof obj) ||
        !ward_q_mark_path(q, id, ".del", mark, sizeof mark))
        return ward_diag_set(diag, WARD_ERR_LIMIT, "quarantine path too long");
    /* A mark left by a crash is the same object: keep it. A missing object
       (a damaged store) only needs its row gone. */
    if (link(obj, mark) != 0 && errno != EEXIST && errno != ENOENT)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot mark %s for removal: %s", obj,
                             strerror(errno));
    ward_err e = ward_qindex_delete(q->db, id, diag);
    if (e)
        unlink(mark);
    return e;
}

void ward_q_bury(ward_quarantine *q, const char *id)
{
    char obj[PATH_MAX], mark[PATH_MAX];
    if (ward_q_object_path(q, id, obj, sizeof obj))
        unlink(obj);
    if (ward_q_mark_path(q, id, ".del", mark, sizeof mark))
        unlink(mark);
}

void ward_q_spare(ward_quarantine *q, const char *id)
{
    char mark[PATH_MAX];
    if (ward_q_mark_path(q, id, ".del", mark, sizeof mark))
        unlink(mark);
}

/* ---- open --------------------------------------------------------------- */

static ward_err make_dir(const ward_quarantine *q, const char *path, struct ward_diag *diag)
{
    if (mkdir(path, 0700) == 0) {
        if (q->uid != (uid_t)-1 && chown(path, q->uid, q->gid) != 0)
            return ward_diag_set(diag, WARD_ERR_IO, "cannot give %s to the store's owner: %s", path,
                                 strerror(errno));
        return WARD_OK;
    }
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return WARD_OK;
    return ward_diag_set(diag, WARD_ERR_IO, "cannot create directory %s: %s", path,
                         strerror(errno));
}

static ward_err check_dir(ward_quarantine *q, const char *dir, bool create, struct ward_diag *diag)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return ward_diag_set(diag, WARD_ERR_IO, "quarantine directory %s: %s", dir,
                                 strerror(errno));
        if (!create)
            return ward_diag_set(diag, WARD_ERR_NOTFOUND,
                                 "there is no quarantine in %s (nothing was stored there yet)",
                                 dir);
        ward_err e = ward_mkdir_p(dir, 0700, diag);
        if (e)
            return e;
        if (stat(dir, &st) != 0)
            return ward_diag_set(diag, WARD_ERR_IO, "quarantine directory %s: %s", dir,
                                 strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return ward_diag_set(diag, WARD_ERR_IO, "quarantine directory %s is not a directory", dir);
    if (st.st_mode & 077)
        return ward_diag_set(diag, WARD_ERR_IO,
                             "quarantine directory %s is accessible by group or others (mode "
                             "%04o); it must be private to its owner: chmod 700 %s",
                             dir, (unsigned)(st.st_mode & 07777), dir);
    /* root working in a store that belongs to a daemon's user keeps it theirs */
    q->uid = (uid_t)-1;
    q->gid = (gid_t)-1;
    if (geteuid() == 0 && st.st_uid != 0) {
        q->uid = st.st_uid;
        q->gid = st.st_gid;
    }
    return WARD_OK;
}

/* Load the key and check it is the one the store was made with. */
static ward_err setup_key(ward_quarantine *q, bool create, struct ward_diag *diag)
{
    char stored[WARD_QKEY_ID_LEN + 8] = "", have[WARD_QKEY_ID_LEN + 1];
    ward_err e = ward_qindex_meta_get(q->db, "key_id", stored, sizeof stored, diag);
    if (e && e != WARD_ERR_NOTFOUND)
        return e;
    bool fresh = e == WARD_ERR_NOTFOUND;
    e = ward_qkey_load(q->key_path, create && fresh, q->uid, q->gid, q->key, NULL, diag);
    if (e == WARD_ERR_NOTFOUND) {
        snprintf(q->key_problem, sizeof q->key_problem,
                 fresh ? "the quarantine key %s does not exist yet"
                       : "the quarantine key %s is missing: the objects in this store cannot "
                         "be decrypted without it (put back the key file from a backup)",
                 q->key_path);
        return WARD_OK;
    }
    if (e)
        return e; /* unsafe permissions, not a key: refuse the store */
    ward_qkey_id(q->key, have);
    if (fresh) {
        if ((e = ward_qindex_begin(q->db, diag)))
            return e;
        /* another process may have set it since we looked */
        if (ward_qindex_meta_get(q->db, "key_id", stored, sizeof stored, NULL) != WARD_OK) {
            snprintf(stored, sizeof stored, "%s", have);
            e = ward_qindex_meta_set(q->db, "key_id", have, diag);
        }
        if (!e)
            e = ward_qindex_commit(q->db, diag);
        else
            ward_qindex_rollback(q->db);
        if (e)
            return e;
    }
    if (strcmp(stored, have) != 0) {
        snprintf(q->key_problem, sizeof q->key_problem,
                 "the quarantine key %s is not the key this store was made with "
                 "(fingerprint %s, the store expects %s): objects cannot be decrypted",
                 q->key_path, have, stored);
        sodium_memzero(q->key, sizeof q->key);
        return WARD_OK;
    }
    q->key_ok = true;
    return WARD_OK;
}

ward_err ward_quarantine_open(const char *dir, const char *key_file, const struct ward_qopts *opts,
                              ward_quarantine **out, struct ward_diag *diag)
{
    *out = NULL;
    if (sodium_init() < 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "libsodium cannot be initialised");
    ward_quarantine *q = calloc(1, sizeof *q);
    if (!q)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&q->lock, NULL);
    if (opts)
        q->opts = *opts;
    bool create = q->opts.create;
    char index[PATH_MAX], lockpath[PATH_MAX];
    ward_err e = WARD_OK;
    int lockfd = -1;
    if (!fits(snprintf(q->dir, sizeof q->dir, "%s", dir), sizeof q->dir) ||
        !fits(snprintf(q->objdir, sizeof q->objdir, "%s/objects", dir), sizeof q->objdir) ||
        !fits(snprintf(q->tmpdir, sizeof q->tmpdir, "%s/tmp", dir), sizeof q->tmpdir) ||
        !fits(snprintf(index, sizeof index, "%s/index.db", dir), sizeof index) ||
        !fits(snprintf(lockpath, sizeof lockpath, "%s/lock", dir), sizeof lockpath) ||
        !fits(
            snprintf(q->key_path, sizeof q->key_path, "%s", key_file && *key_file ? key_file : ""),
            sizeof q->key_path) ||
        (!q->key_path[0] &&
         !fits(snprintf(q->key_path, sizeof q->key_path, "%s/key", dir), sizeof q->key_path))) {
        e = ward_diag_set(diag, WARD_ERR_LIMIT, "quarantine directory path too long: %s", dir);
        goto fail;
    }
    if ((e = check_dir(q, dir, create, diag)))
        goto fail;
    if (create && ((e = make_dir(q, q->objdir, diag)) || (e = make_dir(q, q->tmpdir, diag))))
        goto fail;

    /* Setting up (schema, key, sweep) is serialised between processes. */
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lockfd < 0 && (errno == EACCES || errno == EROFS) && !create)
        lockfd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (lockfd < 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot open %s: %s", lockpath, strerror(errno));
        goto fail;
    }
    if (q->uid != (uid_t)-1)
        (void)!fchown(lockfd, q->uid, q->gid);
    while (flock(lockfd, LOCK_EX) != 0 && errno == EINTR)
        ;
    if ((e = ward_qindex_open(index, create, q->uid, q->gid, &q->db, diag))) {
        if (e == WARD_ERR_NOTFOUND)
            e = ward_diag_set(diag, e,
                              "there is no quarantine in %s (nothing was stored there "
                              "yet)",
                              dir);
        goto fail;
    }
    if ((e = setup_key(q, create, diag)))
        goto fail;
    ward_q_sweep_tmp(q, NULL, NULL, NULL);
    close(lockfd);
    if (gethostname(q->host, sizeof q->host - 1) != 0 || !q->host[0])
        snprintf(q->host, sizeof q->host, "localhost");
    *out = q;
    return WARD_OK;
fail:
    if (lockfd >= 0)
        close(lockfd);
    ward_quarantine_close(q);
    return e;
}

void ward_quarantine_close(ward_quarantine *q)
{
    if (!q)
        return;
    if (q->db)
        ward_qindex_close(q->db);
    pthread_mutex_destroy(&q->lock);
    sodium_memzero(q->key, sizeof q->key);
    free(q);
}

/* ---- put ---------------------------------------------------------------- */

/* Join a list with '\n'; a newline inside an item would split it, so it becomes a space. */
static ward_err join(const char *const *items, size_t n, char **out)
{
    *out = NULL;
    if (!items || n == 0)
        return WARD_OK;
    ward_buf b;
    ward_buf_init(&b, META_CAP);
    for (size_t i = 0; i < n; i++) {
        if (i && ward_buf_putc(&b, '\n'))
            goto fail;
        for (const char *p = items[i] ? items[i] : ""; *p; p++)
            if (ward_buf_putc(&b, *p == '\n' || *p == '\r' ? ' ' : (uint8_t)*p))
                goto fail;
    }
    if (ward_buf_reserve(&b, 0))
        goto fail;
    *out = (char *)ward_buf_steal(&b, NULL);
    return WARD_OK;
fail:
    ward_buf_free(&b);
    return WARD_ERR_LIMIT;
}

static void new_id(char id[WARD_QID_LEN + 1])
{
    uint8_t r[WARD_QID_LEN / 2];
    randombytes_buf(r, sizeof r);
    ward_hex_encode(r, sizeof r, id);
}

/* Bytes on disk for an object of n bytes. */
static uint64_t stored_size_of(uint64_t n)
{
    uint64_t chunks = n / WARD_QOBJ_CHUNK + 1;
    return WARD_QOBJ_HEADER_LEN + n + chunks * 17;
}

/* Insert the row and enforce the limits, in one transaction. */
static ward_err commit_row(ward_quarantine *q, const struct ward_qrecord *r,
                           struct ward_qvictim *victims, size_t *nv, struct ward_diag *diag)
{
    *nv = 0;
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_begin(q->db, diag);
    if (!e)
        e = ward_qindex_insert(q->db, r, diag);
    if (!e && (q->opts.max_size || q->opts.max_age)) {
        int64_t before = q->opts.max_age ? (int64_t)time(NULL) - (int64_t)q->opts.max_age : 0;
        e = ward_qindex_victims(q->db, before, q->opts.max_size, r->id, victims, VICTIMS_PER_TXN,
                                nv, diag);
        for (size_t i = 0; !e && i < *nv; i++)
            if ((e = ward_q_doom(q, victims[i].id, diag)))
                for (size_t k = 0; k < i; k++)
                    ward_q_spare(q, victims[k].id);
    }
    if (!e) {
        e = ward_qindex_commit(q->db, diag);
        if (e)
            for (size_t k = 0; k < *nv; k++)
                ward_q_spare(q, victims[k].id);
    } else {
        ward_qindex_rollback(q->db);
    }
    pthread_mutex_unlock(&q->lock);
    if (e)
        *nv = 0;
    return e;
}

static ward_err put(ward_quarantine *q, const struct ward_qmeta *m, const struct ward_qobj_src *src,
                    char id[WARD_QID_LEN + 1], struct ward_diag *diag)
{
    ward_err e = ward_q_need_key(q, diag);
    if (e)
        return e;
    if (m->kind != WARD_QKIND_QUARANTINE && m->kind != WARD_QKIND_BACKUP)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "bad quarantine kind %d", (int)m->kind);
    if (q->opts.max_size) {
        uint64_t n = src->len;
        struct stat st;
        bool known = src->fd < 0;
        if (src->fd >= 0 && fstat(src->fd, &st) == 0 && S_ISREG(st.st_mode)) {
            off_t at = lseek(src->fd, 0, SEEK_CUR);
            n = at >= 0 && at <= st.st_size ? (uint64_t)(st.st_size - at) : (uint64_t)st.st_size;
            known = true;
        }
        if (known && stored_size_of(n) > q->opts.max_size)
            return ward_diag_set(diag, WARD_ERR_LIMIT,
                                 "%llu bytes do not fit in the quarantine (quarantine_max_size "
                                 "is %llu)",
                                 (unsigned long long)n, (unsigned long long)q->opts.max_size);
    }

    char put_mark[PATH_MAX], part[PATH_MAX], obj[PATH_MAX], objdir[PATH_MAX];
    new_id(id);
    if (!ward_q_mark_path(q, id, ".put", put_mark, sizeof put_mark) ||
        !ward_q_mark_path(q, id, ".part", part, sizeof part) ||
        !ward_q_object_path(q, id, obj, sizeof obj) ||
        !ward_q_object_dir(q, id, objdir, sizeof objdir))
        return ward_diag_set(diag, WARD_ERR_LIMIT, "quarantine path too long");

    struct ward_qfs_tmp t;
    /* Unnamed while written; where the filesystem cannot, named ID.part. */
    if ((e = ward_qfs_tmp_open(q->tmpdir, part, &t, diag)))
        return e;
    /* The lock tells a sweeping process that this object's marks are alive. */
    while (flock(t.fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    bool marked = false, linked = false;
    char *names = NULL, *rcpts = NULL;
    struct ward_qvictim *victims = NULL;
    size_t nv = 0;
    struct ward_qobj_sum sum;
    if (q->uid != (uid_t)-1 && fchown(t.fd, q->uid, q->gid) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot give the object to the store's owner: %s",
                          strerror(errno));
        goto out;
    }
    if ((e = ward_qobj_encrypt(t.fd, q->key, id, src, &sum, diag)))
        goto out;
    if (fsync(t.fd) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot write the object: %s",
                          errno == ENOSPC ? "no space left on the device" : strerror(errno));
        goto out;
    }
    if (q->opts.max_size && sum.stored > q->opts.max_size) {
        e = ward_diag_set(diag, WARD_ERR_LIMIT,
                          "%llu bytes do not fit in the quarantine (quarantine_max_size is %llu)",
                          (unsigned long long)sum.size, (unsigned long long)q->opts.max_size);
        goto out;
    }
    /* The intent appears complete and locked: a sweeper can trust an unlocked one. */
    if (ward_qfs_tmp_link(&t, put_mark) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot name %s: %s", put_mark, strerror(errno));
        goto out;
    }
    marked = true;
    if ((e = make_dir(q, objdir, diag)))
        goto out;
    if (link(put_mark, obj) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot store %s: %s", obj, strerror(errno));
        goto out;
    }
    linked = true;
    if (ward_qfs_sync_dir(objdir) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot sync %s: %s", objdir, strerror(errno));
        goto out;
    }

    if (join(m->names, m->n_names, &names) || join(m->recipients, m->n_recipients, &rcpts)) {
        e = ward_diag_set(diag, WARD_ERR_LIMIT, "object metadata too large");
        goto out;
    }
    struct ward_qrecord r = {0};
    snprintf(r.id, sizeof r.id, "%s", id);
    r.time = m->time ? m->time : (int64_t)time(NULL);
    r.kind = m->kind;
    r.program = m->program && *m->program ? m->program : "?";
    r.host = m->host && *m->host ? m->host : q->host;
    r.path = m->path;
    r.sender = m->sender;
    r.recipients = rcpts;
    r.subject = m->subject;
    r.message_id = m->message_id;
    r.verdict = m->verdict ? m->verdict : "";
    r.names = names;
    r.size = sum.size;
    sodium_bin2hex(r.sha256, sizeof r.sha256, sum.sha256, sizeof sum.sha256);
    r.stored_size = sum.stored;
    r.have_attrs = m->have_attrs;
    r.mode = m->mode;
    r.uid = m->uid;
    r.gid = m->gid;
    r.mtime = m->mtime;
    if (!(victims = calloc(VICTIMS_PER_TXN, sizeof *victims))) {
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        goto out;
    }
    e = commit_row(q, &r, victims, &nv, diag);
out:
    if (e && linked)
        unlink(obj);
    if (marked)
        unlink(put_mark);
    ward_qfs_tmp_discard(&t); /* closing releases the lock, after the marks are gone */
    for (size_t i = 0; i < nv; i++)
        ward_q_bury(q, victims[i].id);
    free(victims);
    free(names);
    free(rcpts);
    if (e)
        id[0] = 0;
    return e;
}

ward_err ward_quarantine_put_fd(ward_quarantine *q, const struct ward_qmeta *meta, int fd,
                                char id[WARD_QID_LEN + 1], struct ward_diag *diag)
{
    struct ward_qobj_src src = {fd, NULL, 0};
    return put(q, meta, &src, id, diag);
}

ward_err ward_quarantine_put_mem(ward_quarantine *q, const struct ward_qmeta *meta, const void *p,
                                 size_t n, char id[WARD_QID_LEN + 1], struct ward_diag *diag)
{
    struct ward_qobj_src src = {-1, p, n};
    return put(q, meta, &src, id, diag);
}

/* ---- look up ------------------------------------------------------------ */

struct copy_ctx {
    struct ward_qrecord *out;
    bool found, nomem;
};

static bool copy_record(void *ctx, const struct ward_qrecord *r)
{
    struct copy_ctx *c = ctx;
    const char *const *fields[] = {&r->program,    &r->host,       &r->path,
                                   &r->sender,     &r->recipients, &r->subject,
                                   &r->message_id, &r->verdict,    &r->names};
    size_t total = 0;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        total += *fields[i] ? strlen(*fields[i]) + 1 : 0;
    *c->out = *r;
    c->found = true;
    c->out->storage = malloc(total ? total : 1);
    if (!c->out->storage) {
        c->nomem = true;
        return false;
    }
    char *p = c->out->storage;
    const char **dst[] = {&c->out->program,    &c->out->host,       &c->out->path,
                          &c->out->sender,     &c->out->recipients, &c->out->subject,
                          &c->out->message_id, &c->out->verdict,    &c->out->names};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!*fields[i]) {
            *dst[i] = NULL;
            continue;
        }
        size_t n = strlen(*fields[i]) + 1;
        memcpy(p, *fields[i], n);
        *dst[i] = p;
        p += n;
    }
    return false;
}

ward_err ward_quarantine_get(ward_quarantine *q, const char *id, struct ward_qrecord *rec,
                             struct ward_diag *diag)
{
    memset(rec, 0, sizeof *rec);
    if (!ward_q_id_valid(id))
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "'%s' is not a quarantine id", id);
    struct copy_ctx c = {rec, false, false};
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_select(q->db, NULL, id, copy_record, &c, diag);
    pthread_mutex_unlock(&q->lock);
    if (e)
        return e;
    if (c.nomem) {
        ward_qrecord_free(rec);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    }
    if (!c.found)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "no object %s in the quarantine", id);
    return WARD_OK;
}

void ward_qrecord_free(struct ward_qrecord *r)
{
    free(r->storage);
    memset(r, 0, sizeof *r);
}

ward_err ward_quarantine_resolve(ward_quarantine *q, const char *prefix, char id[WARD_QID_LEN + 1],
                                 struct ward_diag *diag)
{
    size_t n = strlen(prefix);
    bool hex = n >= 4 && n <= WARD_QID_LEN;
    for (size_t i = 0; hex && i < n; i++)
        hex = (prefix[i] >= '0' && prefix[i] <= '9') || (prefix[i] >= 'a' && prefix[i] <= 'f');
    if (!hex)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND,
                             "'%s' is not a quarantine id (4 to 16 lowercase hex digits)", prefix);
    unsigned count = 0;
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_prefix(q->db, prefix, &count, id, diag);
    pthread_mutex_unlock(&q->lock);
    if (e)
        return e;
    if (count == 0)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "no object %s in the quarantine", prefix);
    if (count > 1)
        return ward_diag_set(diag, WARD_ERR_NOTFOUND,
                             "%s is ambiguous: several objects start with it", prefix);
    return WARD_OK;
}

ward_err ward_quarantine_list(ward_quarantine *q, const struct ward_qfilter *f, ward_qlist_fn fn,
                              void *ctx, struct ward_diag *diag)
{
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_select(q->db, f, NULL, fn, ctx, diag);
    pthread_mutex_unlock(&q->lock);
    return e;
}

ward_err ward_quarantine_usage(ward_quarantine *q, uint64_t *count, uint64_t *bytes,
                               struct ward_diag *diag)
{
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_usage(q->db, count, bytes, diag);
    pthread_mutex_unlock(&q->lock);
    return e;
}

/* ---- delete and purge --------------------------------------------------- */

ward_err ward_quarantine_delete(ward_quarantine *q, const char *id, struct ward_diag *diag)
{
    if (!ward_q_id_valid(id))
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "'%s' is not a quarantine id", id);
    pthread_mutex_lock(&q->lock);
    bool exists = false;
    ward_err e = ward_qindex_begin(q->db, diag);
    if (!e)
        e = ward_qindex_exists(q->db, id, &exists, diag);
    if (!e && !exists)
        e = ward_diag_set(diag, WARD_ERR_NOTFOUND, "no object %s in the quarantine", id);
    if (!e)
        e = ward_q_doom(q, id, diag);
    if (!e) {
        if ((e = ward_qindex_commit(q->db, diag)))
            ward_q_spare(q, id);
    } else {
        ward_qindex_rollback(q->db);
    }
    pthread_mutex_unlock(&q->lock);
    if (!e)
        ward_q_bury(q, id);
    return e;
}

ward_err ward_quarantine_purge(ward_quarantine *q, int64_t before, struct ward_qpurged *out,
                               struct ward_diag *diag)
{
    if (q->opts.max_age) {
        int64_t limit = (int64_t)time(NULL) - (int64_t)q->opts.max_age;
        if (limit > before)
            before = limit;
    }
    struct ward_qvictim *v = calloc(VICTIMS_PER_TXN, sizeof *v);
    if (!v)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    ward_err e = WARD_OK;
    size_t n;
    do {
        n = 0;
        pthread_mutex_lock(&q->lock);
        e = ward_qindex_begin(q->db, diag);
        if (!e)
            e = ward_qindex_victims(q->db, before, q->opts.max_size, NULL, v, VICTIMS_PER_TXN, &n,
                                    diag);
        size_t doomed = 0;
        for (; !e && doomed < n; doomed++)
            e = ward_q_doom(q, v[doomed].id, diag);
        if (!e)
            e = ward_qindex_commit(q->db, diag);
        else
            ward_qindex_rollback(q->db);
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; i < doomed; i++) {
            if (e) {
                ward_q_spare(q, v[i].id);
                continue;
            }
            ward_q_bury(q, v[i].id);
            if (out) {
                out->count++;
                out->bytes += v[i].stored_size;
            }
        }
    } while (!e && n == VICTIMS_PER_TXN);
    free(v);
    return e;
}
