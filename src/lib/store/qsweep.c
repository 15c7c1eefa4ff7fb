/*
 * qsweep.c - bring the store back to a consistent state after a crash, and
 * check it: finish the intents in tmp/, find rows without objects, objects
 * without rows and (deep) objects that do not decrypt to their record.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/quarantine_int.h"

static void say(ward_qreport_fn report, void *ctx, const char *fmt, ...) WARD_PRINTF(3, 4);

static void say(ward_qreport_fn report, void *ctx, const char *fmt, ...)
{
    if (!report)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

static bool row_exists(ward_quarantine *q, const char *id, bool *yes)
{
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_exists(q->db, id, yes, NULL);
    pthread_mutex_unlock(&q->lock);
    return e == WARD_OK;
}

/*
 * Open `path` and take its lock without waiting: false when it is gone, in
 * use (a live writer holds the lock) or, when `grace` is set, too recent to
 * be a crashed writer's.
 */
static bool take(const char *path, bool grace, int *fd, struct stat *st)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (*fd < 0)
        return false;
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode) || flock(*fd, LOCK_EX | LOCK_NB) != 0 ||
        (grace && st->st_mtime > time(NULL) - WARD_Q_GRACE_SECONDS)) {
        close(*fd);
        *fd = -1;
        return false;
    }
    return true;
}

/* Unlink the object file of `id` if it is the inode `st` (the mark's). */
static void unlink_object_if(ward_quarantine *q, const char *id, const struct stat *st)
{
    char obj[PATH_MAX];
    struct stat os;
    if (ward_q_object_path(q, id, obj, sizeof obj) && lstat(obj, &os) == 0 &&
        os.st_dev == st->st_dev && os.st_ino == st->st_ino)
        unlink(obj);
}

void ward_q_sweep_tmp(ward_quarantine *q, ward_qreport_fn report, void *ctx, uint64_t *count)
{
    DIR *d = opendir(q->tmpdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < WARD_QID_LEN + 4)
            continue;
        const char *suffix = de->d_name + WARD_QID_LEN;
        bool put = strcmp(suffix, ".put") == 0, del = strcmp(suffix, ".del") == 0;
        bool part = strcmp(suffix, ".part") == 0;
        char id[WARD_QID_LEN + 1];
        memcpy(id, de->d_name, WARD_QID_LEN);
        id[WARD_QID_LEN] = 0;
        if ((!put && !del && !part) || !ward_q_id_valid(id))
            continue;
        char mark[PATH_MAX];
        int fd;
        struct stat st;
        bool exists;
        /* A .part is locked a moment after it is made: only an old one is a dead writer's.
           A .put or .del is made complete, and a live writer's is locked. */
        if (!ward_q_mark_path(q, id, suffix, mark, sizeof mark) || !take(mark, part, &fd, &st))
            continue;
        if (part) {
            unlink(mark);
            if (count)
                (*count)++;
            say(report, ctx, "%s: removed an object whose write was interrupted", id);
        } else if (row_exists(q, id, &exists)) {
            /* No row: the put never committed, or the delete did. Either way the
               object goes; with a row only the mark does. */
            if (!exists)
                unlink_object_if(q, id, &st);
            unlink(mark);
            if (count)
                (*count)++;
            if (!exists && put)
                say(report, ctx, "%s: removed an object whose write was interrupted", id);
            else if (!exists)
                say(report, ctx, "%s: finished an interrupted removal", id);
            else
                say(report, ctx, "%s: removed a leftover %s mark", id, put ? "write" : "removal");
        }
        close(fd);
    }
    closedir(d);
}

/* ---- verify ------------------------------------------------------------- */

struct idlist {
    struct ward_qvictim *v; /* id and stored size */
    size_t n, cap;
    bool nomem;
};

static bool collect(void *ctx, const struct ward_qrecord *r)
{
    struct idlist *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        struct ward_qvictim *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->nomem = true;
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].id, sizeof l->v[l->n].id, "%s", r->id);
    l->v[l->n].stored_size = r->stored_size;
    l->n++;
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const struct ward_qvictim *)a)->id, ((const struct ward_qvictim *)b)->id);
}

static bool listed(const struct idlist *l, const char *id)
{
    struct ward_qvictim key;
    snprintf(key.id, sizeof key.id, "%.16s", id);
    return bsearch(&key, l->v, l->n, sizeof *l->v, cmp_id) != NULL;
}

static ward_err drop_row(ward_quarantine *q, const char *id, struct ward_diag *diag)
{
    pthread_mutex_lock(&q->lock);
    ward_err e = ward_qindex_begin(q->db, diag);
    if (!e)
        e = ward_qindex_delete(q->db, id, diag);
    if (!e)
        e = ward_qindex_commit(q->db, diag);
    else
        ward_qindex_rollback(q->db);
    pthread_mutex_unlock(&q->lock);
    return e;
}

/* Object files no row points to: what a crash between the link and the commit left. */
static void sweep_orphans(ward_quarantine *q, const struct idlist *l, ward_qreport_fn report,
                          void *ctx, struct ward_qverified *out)
{
    DIR *top = opendir(q->objdir);
    if (!top)
        return;
    struct dirent *de;
    while ((de = readdir(top)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", q->objdir, de->d_name) >= (int)sizeof sub)
            continue;
        DIR *d = opendir(sub);
        if (!d) {
            say(report, ctx, "objects/%s: unexpected file (left alone)", de->d_name);
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(d)) != NULL) {
            if (!strcmp(fe->d_name, ".") || !strcmp(fe->d_name, ".."))
                continue;
            char path[PATH_MAX];
            if (!ward_q_id_valid(fe->d_name) || strncmp(fe->d_name, de->d_name, 2) != 0 ||
                strlen(de->d_name) != 2) {
                say(report, ctx, "objects/%s/%s: unexpected file (left alone)", de->d_name,
                    fe->d_name);
                continue;
            }
            if (listed(l, fe->d_name) ||
                snprintf(path, sizeof path, "%s/%s", sub, fe->d_name) >= (int)sizeof path)
                continue;
            int fd;
            struct stat st;
            bool exists = true;
            /* A writer holds the lock on its object until its row is committed. */
            if (!take(path, true, &fd, &st))
                continue;
            if (row_exists(q, fe->d_name, &exists) && !exists) {
                unlink(path);
                out->orphans++;
                say(report, ctx, "%s: removed an object file that had no index entry", fe->d_name);
            }
            close(fd);
        }
        closedir(d);
    }
    closedir(top);
}

ward_err ward_quarantine_verify(ward_quarantine *q, unsigned flags, ward_qreport_fn report,
                                void *ctx, struct ward_qverified *out, struct ward_diag *diag)
{
    struct ward_qverified v = {0};
    ward_err e;
    if ((flags & WARD_QVERIFY_DEEP) && (e = ward_q_need_key(q, diag)))
        return e;
    char check[256];
    pthread_mutex_lock(&q->lock);
    e = ward_qindex_quick_check(q->db, check, sizeof check, diag);
    pthread_mutex_unlock(&q->lock);
    if (e)
        return e;
    if (strcmp(check, "ok") != 0)
        return ward_diag_set(diag, WARD_ERR_CORRUPT, "quarantine index %s/index.db: %s", q->dir,
                             check);
    ward_q_sweep_tmp(q, report, ctx, &v.leftovers);

    struct idlist l = {0};
    pthread_mutex_lock(&q->lock);
    e = ward_qindex_select(q->db, NULL, NULL, collect, &l, diag);
    pthread_mutex_unlock(&q->lock);
    if (!e && l.nomem)
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    if (e) {
        free(l.v);
        return e;
    }
    for (size_t i = 0; i < l.n; i++) {
        const char *id = l.v[i].id;
        char obj[PATH_MAX];
        struct stat st;
        v.objects++;
        if (!ward_q_object_path(q, id, obj, sizeof obj))
            continue;
        if (lstat(obj, &st) != 0) {
            bool exists = false;
            if (!row_exists(q, id, &exists) || !exists) {
                v.objects--; /* deleted meanwhile */
                continue;
            }
            v.missing++;
            if (flags & WARD_QVERIFY_FIX) {
                struct ward_diag d;
                if (drop_row(q, id, &d) == WARD_OK) {
                    v.fixed++;
                    say(report, ctx, "%s: object file missing; index entry removed", id);
                } else {
                    say(report, ctx, "%s: object file missing; %s", id, d.msg);
                }
            } else {
                say(report, ctx, "%s: object file missing", id);
            }
            continue;
        }
        if ((uint64_t)st.st_size != l.v[i].stored_size) {
            v.corrupt++;
            say(report, ctx, "%s: object file has %llu bytes, the index says %llu", id,
                (unsigned long long)st.st_size, (unsigned long long)l.v[i].stored_size);
            continue;
        }
        if (flags & WARD_QVERIFY_DEEP) {
            struct ward_diag d;
            ward_err ce = ward_quarantine_check(q, id, &d);
            if (ce == WARD_ERR_NOTFOUND) {
                v.objects--;
                continue;
            }
            if (ce) {
                v.corrupt++;
                say(report, ctx, "%s: %s", id, d.msg);
                continue;
            }
        }
        v.ok++;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_id);
    sweep_orphans(q, &l, report, ctx, &v);
    free(l.v);
    if (out)
        *out = v;
    return WARD_OK;
}
