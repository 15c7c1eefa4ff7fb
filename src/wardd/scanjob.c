/*
 * scanjob.c - what SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN, INSTREAM and
 * FILDES do in a worker thread, and the reply lines they produce, as clamd
 * words them:
 *     PATH: NAME FOUND        PATH: OK        PATH: MESSAGE ERROR
 *
 * Objects Ward could not fully scan (encrypted, over a limit, corrupted) are
 * not reported OK: they are reported FOUND with a Heuristics name, as clamd
 * does with its AlertEncrypted and AlertExceedsMax options.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "wardd.h"

struct multi {
    pthread_mutex_t lock;
    struct job *origin;   /* the MULTISCAN job: its reply collects every line */
    unsigned pending;     /* file jobs not finished yet, plus 1 while walking */
    bool found;
};

/* What one scan found: the first line and whether anything was found. */
struct collect {
    ward_buf *out;
    const char *shown; /* the name clamd uses in the reply */
    char delim;
    bool all;
    unsigned found;
};

static const char *not_scanned_name(enum ward_reason r)
{
    switch (r) {
    case WARD_REASON_ENCRYPTED: return "Heuristics.Encrypted";
    case WARD_REASON_LIMIT: return "Heuristics.Limits.Exceeded";
    case WARD_REASON_CORRUPTED: return "Heuristics.Broken.Container";
    default: return "Heuristics.Scan.Error";
    }
}

static bool on_finding(void *ctx, const struct ward_finding *f)
{
    struct collect *c = ctx;
    const char *name = f->verdict == WARD_VERDICT_NOT_SCANNED ? not_scanned_name(f->reason)
                                                              : f->name;
    if (c->found && !c->all)
        return false;
    (void)!ward_buf_printf(c->out, "%s: %s FOUND%c", c->shown, name ? name : "?", c->delim);
    c->found++;
    if (f->verdict == WARD_VERDICT_NOT_SCANNED)
        ward_log(WARD_LOG_INFO, "%s: not scanned (%s: %s)", c->shown,
                 ward_reason_name(f->reason), f->name ? f->name : "");
    return c->all;
}

static void scan_opts(struct ward_scan_opts *o, struct collect *c, bool all, bool cache)
{
    memset(o, 0, sizeof *o);
    o->limits = wardd_limits;
    o->all_matches = all;
    o->tmpdir = wardd_tmpdir;
    o->cache = cache ? wardd_cache() : NULL;
    o->on_finding = on_finding;
    o->ctx = c;
}

static char reply_delim(const struct job *j);

/* Scan one open file; appends FOUND lines; returns how many. */
static unsigned scan_fd(struct job *j, ward_scanner *sc, int fd, const char *shown, bool all,
                        ward_buf *out)
{
    struct collect c = {out, shown, reply_delim(j), all, 0};
    struct ward_scan_opts o;
    scan_opts(&o, &c, all, false);
    struct ward_scan_result res;
    struct ward_diag d;
    if (ward_scan_fd(sc, fd, shown, &o, &res, &d)) {
        (void)!ward_buf_printf(out, "%s: %s ERROR%c", shown, d.msg, reply_delim(j));
        __atomic_add_fetch(&wardd_stats.errors, 1, __ATOMIC_RELAXED);
        return 0;
    }
    __atomic_add_fetch(&wardd_stats.scans, 1, __ATOMIC_RELAXED);
    if (c.found)
        __atomic_add_fetch(&wardd_stats.infected, 1, __ATOMIC_RELAXED);
    return c.found;
}

static void error_line(ward_buf *out, const char *path, const char *msg, char delim)
{
    (void)!ward_buf_printf(out, "%s: %s ERROR%c", path, msg, delim);
    __atomic_add_fetch(&wardd_stats.errors, 1, __ATOMIC_RELAXED);
}

/* Scan a path (file or tree). Returns -1 on an error line, else files found. */
static int scan_file_path(struct job *j, ward_scanner *sc, const char *path, bool all,
                          ward_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        error_line(out, path, errno == EACCES ? "Access denied." : strerror(errno),
                   reply_delim(j));
        return -1;
    }
    int n = (int)scan_fd(j, sc, fd, path, all, out);
    close(fd);
    return n;
}

struct tree {
    struct job *j;
    ward_scanner *sc;
    bool stop_at_first, all;
    unsigned found, errors;
    struct multi *multi; /* MULTISCAN: queue files instead of scanning here */
};

static void multi_file_done(struct multi *m, struct job *file);

static void walk(struct tree *t, const char *dir, unsigned depth)
{
    if (depth > 256)
        return;
    DIR *d = opendir(dir);
    if (!d) {
        error_line(&t->j->reply, dir, errno == EACCES ? "Access denied." : strerror(errno),
                   reply_delim(t->j));
        t->errors++;
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (t->stop_at_first && t->found)
            break;
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s%s%s", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(t, path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (t->multi) {
                struct job *f = calloc(1, sizeof *f);
                if (!f || !(f->path = strdup(path))) {
                    free(f);
                    continue;
                }
                f->kind = JOB_MULTI_FILE;
                f->cmd = t->j->cmd;
                f->conn = t->j->conn;
                f->id = t->j->id;
                f->fd = -1;
                f->multi = t->multi;
                ward_buf_init(&f->reply, 1 << 20);
                ward_tmpspool_init(&f->stream, 0, 0, NULL);
                pthread_mutex_lock(&t->multi->lock);
                t->multi->pending++;
                pthread_mutex_unlock(&t->multi->lock);
                pool_submit_force(f);
                continue;
            }
            int r = scan_file_path(t->j, t->sc, path, t->all, &t->j->reply);
            if (r > 0)
                t->found += (unsigned)r;
            else if (r < 0)
                t->errors++;
        }
        /* symlinks, sockets, devices and fifos inside a tree are skipped, as clamd does */
    }
    closedir(d);
}

static char reply_delim(const struct job *j)
{
    return conn_delim(j->conn);
}

static void run_path(struct job *j, ward_scanner *sc)
{
    char delim = reply_delim(j);
    const char *path = j->path;
    struct stat st;
    if (!path || path[0] != '/') {
        /* clamd wants absolute paths: the client's working directory is not ours */
        error_line(&j->reply, path ? path : "", "File path check failure: Relative paths are "
                   "not allowed.", delim);
        loop_complete(j);
        return;
    }
    if (lstat(path, &st) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "File path check failure: %s.", strerror(errno));
        error_line(&j->reply, path, msg, delim);
        loop_complete(j);
        return;
    }
    bool all = j->cmd == WARD_CLAMD_ALLMATCHSCAN;
    if (S_ISDIR(st.st_mode)) {
        struct tree t = {j, sc, j->cmd == WARD_CLAMD_SCAN, all, 0, 0, NULL};
        if (j->cmd == WARD_CLAMD_MULTISCAN) {
            struct multi *m = calloc(1, sizeof *m);
            if (m) {
                pthread_mutex_init(&m->lock, NULL);
                m->origin = j;
                m->pending = 1; /* the walk itself */
                t.multi = m;
                walk(&t, path, 0);
                multi_file_done(m, NULL);
                return;
            }
        }
        walk(&t, path, 0);
        if (!t.found && !t.errors)
            (void)!ward_buf_printf(&j->reply, "%s: OK%c", path, delim);
    } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        int r = scan_file_path(j, sc, path, all, &j->reply);
        if (r == 0)
            (void)!ward_buf_printf(&j->reply, "%s: OK%c", path, delim);
    } else {
        error_line(&j->reply, path, "Not supported file type.", delim);
    }
    loop_complete(j);
}

/* A MULTISCAN file finished (or, with file NULL, the walk did). */
static void multi_file_done(struct multi *m, struct job *file)
{
    pthread_mutex_lock(&m->lock);
    if (file) {
        if (file->reply.len) {
            (void)!ward_buf_append(&m->origin->reply, file->reply.data, file->reply.len);
            m->found = true;
        }
    }
    bool last = --m->pending == 0;
    pthread_mutex_unlock(&m->lock);
    if (file)
        job_free(file);
    if (!last)
        return;
    struct job *j = m->origin;
    if (!m->found && !j->reply.len)
        (void)!ward_buf_printf(&j->reply, "%s: OK%c", j->path, reply_delim(j));
    pthread_mutex_destroy(&m->lock);
    free(m);
    loop_complete(j);
}

static void run_stream(struct job *j, ward_scanner *sc)
{
    char delim = reply_delim(j);
    const uint8_t *mem;
    int fd;
    ward_tmpspool_view(&j->stream, &mem, &fd);
    struct collect c = {&j->reply, "stream", delim, false, 0};
    struct ward_scan_opts o;
    scan_opts(&o, &c, false, true);
    struct ward_scan_result res;
    struct ward_diag d;
    ward_err e = mem ? ward_scan_mem(sc, mem, (size_t)j->stream.size, "stream", &o, &res, &d)
                     : ward_scan_fd(sc, fd, "stream", &o, &res, &d);
    if (e) {
        error_line(&j->reply, "stream", d.msg, delim);
    } else {
        __atomic_add_fetch(&wardd_stats.scans, 1, __ATOMIC_RELAXED);
        if (c.found)
            __atomic_add_fetch(&wardd_stats.infected, 1, __ATOMIC_RELAXED);
        else
            (void)!ward_buf_printf(&j->reply, "stream: OK%c", delim);
    }
    loop_complete(j);
}

static void run_fd(struct job *j, ward_scanner *sc)
{
    char delim = reply_delim(j);
    char shown[32];
    snprintf(shown, sizeof shown, "fd[%d]", j->fd);
    unsigned n = scan_fd(j, sc, j->fd, shown, false, &j->reply);
    if (n == 0 && j->reply.len == 0)
        (void)!ward_buf_printf(&j->reply, "%s: OK%c", shown, delim);
    loop_complete(j);
}

void scanjob_run(struct job *j, ward_scanner *sc, ward_db *db)
{
    (void)db;
    if (!sc) {
        error_line(&j->reply, j->kind == JOB_STREAM ? "stream" : j->path ? j->path : "",
                   "Can't allocate memory", reply_delim(j));
        if (j->kind == JOB_MULTI_FILE)
            multi_file_done(j->multi, j);
        else
            loop_complete(j);
        return;
    }
    switch (j->kind) {
    case JOB_PATH: run_path(j, sc); return;
    case JOB_STREAM: run_stream(j, sc); return;
    case JOB_FD: run_fd(j, sc); return;
    case JOB_MULTI_FILE: {
        (void)scan_file_path(j, sc, j->path, false, &j->reply);
        multi_file_done(j->multi, j);
        return;
    }
    }
}
