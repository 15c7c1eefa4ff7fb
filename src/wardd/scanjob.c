/*
 * scanjob.c - what SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN, INSTREAM and
 * FILDES do in a worker thread, and the reply lines they produce, worded as
 * clamd words them (docs/protocol.md):
 *     PATH: NAME FOUND        PATH: OK        PATH: MESSAGE ERROR
 *
 * SCAN of a tree stops at the first infected file, CONTSCAN and MULTISCAN
 * go on (MULTISCAN scanning files in parallel), ALLMATCHSCAN stops at the
 * first infected file and reports every signature that matches it. Clean
 * files are not listed; a tree with nothing found and no error is one line
 * "PATH: OK". Replies name the file scanned, not the member inside it.
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

/* What one scan found. */
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
    ward_log(WARD_LOG_NOTICE, "%s: %s FOUND%s%s%s", c->shown, name ? name : "?",
             f->verdict == WARD_VERDICT_NOT_SCANNED ? " (not scanned: " : "",
             f->verdict == WARD_VERDICT_NOT_SCANNED ? ward_reason_name(f->reason) : "",
             f->verdict == WARD_VERDICT_NOT_SCANNED ? ")" : "");
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

static void error_line(ward_buf *out, const char *path, const char *msg, char delim)
{
    (void)!ward_buf_printf(out, "%s: %s ERROR%c", path, msg, delim);
    __atomic_add_fetch(&wardd_stats.errors, 1, __ATOMIC_RELAXED);
}

/* Scan one open file; appends FOUND lines; returns how many, or -1 on an error line. */
static int scan_fd(struct job *j, ward_scanner *sc, int fd, const char *shown, bool all,
                   ward_buf *out)
{
    struct collect c = {out, shown, job_delim(j), all, 0};
    struct ward_scan_opts o;
    scan_opts(&o, &c, all, false);
    struct ward_scan_result res;
    struct ward_diag d;
    if (ward_scan_fd(sc, fd, shown, &o, &res, &d)) {
        error_line(out, shown, d.msg, job_delim(j));
        return -1;
    }
    __atomic_add_fetch(&wardd_stats.scans, 1, __ATOMIC_RELAXED);
    if (c.found)
        __atomic_add_fetch(&wardd_stats.infected, 1, __ATOMIC_RELAXED);
    return (int)c.found;
}

static int scan_file_path(struct job *j, ward_scanner *sc, const char *path, bool all,
                          ward_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        error_line(out, path, errno == EACCES || errno == EPERM ? "Access denied."
                                                                : strerror(errno),
                   job_delim(j));
        return -1;
    }
    int n = scan_fd(j, sc, fd, path, all, out);
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

static void path_error(struct tree *t, const char *path, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "File path check failure: %s.", strerror(err));
    /* during a MULTISCAN walk, workers append to the same reply */
    if (t->multi)
        pthread_mutex_lock(&t->multi->lock);
    error_line(&t->j->reply, path, msg, job_delim(t->j));
    if (t->multi)
        pthread_mutex_unlock(&t->multi->lock);
    t->errors++;
}

static void queue_file(struct tree *t, const char *path)
{
    struct job *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return;
    }
    f->kind = JOB_MULTI_FILE;
    f->cmd = t->j->cmd;
    f->framing = t->j->framing;
    f->conn = t->j->conn;
    f->id = t->j->id;
    f->fd = -1;
    f->out_fd = -1;
    f->multi = t->multi;
    ward_buf_init(&f->reply, 1 << 20);
    ward_tmpspool_init(&f->stream, 0, 0, NULL);
    pthread_mutex_lock(&t->multi->lock);
    t->multi->pending++;
    pthread_mutex_unlock(&t->multi->lock);
    pool_submit_force(f);
}

/* An entry of a directory, held until the directory is sorted. */
struct dir_entry {
    char *name;
    ino_t ino;
    bool is_dir;
};

/*
 * clamd's order (libclamav's cli_ftw): each directory's files before its
 * subdirectories, each group by inode number. It decides which file SCAN
 * stops at and the order of CONTSCAN's lines.
 */
static int entry_order(const void *a, const void *b)
{
    const struct dir_entry *x = a, *y = b;
    if (x->is_dir != y->is_dir)
        return x->is_dir ? 1 : -1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * The regular files and directories in `dir`, sorted; symlinks, FIFOs,
 * devices and entries that vanish meanwhile are left out, as clamd (not
 * following symlinks) leaves them. Returns the count, or -1 with errno set
 * when the directory cannot be opened; *out is for free_entries.
 */
static ssize_t read_entries(const char *dir, struct dir_entry **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dir_entry *v = NULL;
    size_t n = 0, cap = 0;
    size_t dlen = strlen(dir);
    bool slash = dlen && dir[dlen - 1] == '/';
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            /* some filesystems do not fill d_type: ask the inode */
            char path[PATH_MAX];
            int k = snprintf(path, sizeof path, "%s%s%s", dir, slash ? "" : "/", de->d_name);
            struct stat st;
            if (k < 0 || (size_t)k >= sizeof path || lstat(path, &st) != 0)
                continue;
            if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                continue;
            is_dir = S_ISDIR(st.st_mode);
        } else if (de->d_type != DT_DIR && de->d_type != DT_REG) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            struct dir_entry *nv = realloc(v, ncap * sizeof *nv);
            if (!nv)
                break; /* scan what fits */
            v = nv;
            cap = ncap;
        }
        if (!(v[n].name = strdup(de->d_name)))
            break;
        v[n].ino = de->d_ino;
        v[n].is_dir = is_dir;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof *v, entry_order);
    *out = v;
    return (ssize_t)n;
}

static void free_entries(struct dir_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* Walk a directory in clamd's order; symlinks, FIFOs and devices inside are skipped. */
static void walk(struct tree *t, const char *dir, unsigned depth)
{
    if (depth > 256)
        return;
    struct dir_entry *v;
    ssize_t n = read_entries(dir, &v);
    if (n < 0) {
        path_error(t, dir, errno);
        return;
    }
    size_t dlen = strlen(dir);
    bool slash = dlen && dir[dlen - 1] == '/';
    for (size_t i = 0; i < (size_t)n; i++) {
        if (t->stop_at_first && t->found)
            break;
        char path[PATH_MAX];
        int k = snprintf(path, sizeof path, "%s%s%s", dir, slash ? "" : "/", v[i].name);
        if (k < 0 || (size_t)k >= sizeof path)
            continue;
        if (v[i].is_dir) {
            walk(t, path, depth + 1);
        } else if (t->multi) {
            queue_file(t, path);
        } else {
            int r = scan_file_path(t->j, t->sc, path, t->all, &t->j->reply);
            if (r > 0)
                t->found += (unsigned)r;
            else if (r < 0)
                t->errors++;
        }
    }
    free_entries(v, (size_t)n);
}

/*
 * The argument as clamd takes it (libclamav's cli_ftw): trailing slashes are
 * cut off, and doubled leading slashes are collapsed for the walk. Lines about
 * what the walk meets (FOUND, errors) name the collapsed path; the final
 * "PATH: OK" names the argument as sent, less its trailing slashes. The
 * argument is shortened in place; the walk's path is returned.
 */
static const char *clamd_path(char *arg)
{
    if (!arg[0] || !arg[1])
        return arg;
    const char *p = arg;
    while (p[0] == '/' && p[1] == '/')
        p++;
    char *end = arg + strlen(arg);
    while (end > p && end[-1] == '/')
        end--;
    *end = 0;
    return p;
}

static void run_path(struct job *j, ward_scanner *sc)
{
    char delim = job_delim(j);
    const char *path = clamd_path(j->path);
    const char *shown = j->path; /* for the OK line */
    struct tree t = {j, sc, j->cmd == WARD_CLAMD_SCAN || j->cmd == WARD_CLAMD_ALLMATCHSCAN,
                     j->cmd == WARD_CLAMD_ALLMATCHSCAN, 0, 0, NULL};
    struct stat st;
    /* A symlink given by name is followed (clamd, with its Follow options off,
       answers OK without scanning it: Ward does not skip what it is asked). */
    if (stat(path, &st) != 0) {
        path_error(&t, path, errno);
        loop_complete(j);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (j->cmd == WARD_CLAMD_MULTISCAN) {
            struct multi *m = calloc(1, sizeof *m);
            if (m) {
                pthread_mutex_init(&m->lock, NULL);
                m->origin = j;
                m->pending = 1; /* the walk itself */
                t.multi = m;
                walk(&t, path, 0);
                if (t.errors)
                    m->found = true; /* an error line stands instead of OK */
                multi_file_done(m, NULL);
                return;
            }
        }
        walk(&t, path, 0);
        if (!t.found && (!t.errors || j->cmd != WARD_CLAMD_MULTISCAN))
            (void)!ward_buf_printf(&j->reply, "%s: OK%c", shown, delim);
    } else if (S_ISREG(st.st_mode)) {
        int r = scan_file_path(j, sc, path, t.all, &j->reply);
        if (r == 0)
            (void)!ward_buf_printf(&j->reply, "%s: OK%c", shown, delim);
    } else {
        /* clamd's two lines for a FIFO or a device; it leaves out the first when
           the leading slashes were collapsed (it compares the walk's pointer to
           the argument's) */
        if (path == shown)
            error_line(&j->reply, path, "Not supported file type", delim);
        (void)!ward_buf_printf(&j->reply, "%s: OK%c", shown, delim);
    }
    loop_complete(j);
}

/* A MULTISCAN file finished (or, with file NULL, the walk did). */
static void multi_file_done(struct multi *m, struct job *file)
{
    pthread_mutex_lock(&m->lock);
    if (file && file->reply.len) {
        (void)!ward_buf_append(&m->origin->reply, file->reply.data, file->reply.len);
        m->found = true;
    }
    bool last = --m->pending == 0;
    pthread_mutex_unlock(&m->lock);
    if (file)
        job_free(file);
    if (!last)
        return;
    struct job *j = m->origin;
    if (!m->found)
        (void)!ward_buf_printf(&j->reply, "%s: OK%c", j->path, job_delim(j));
    pthread_mutex_destroy(&m->lock);
    free(m);
    loop_complete(j);
}

static void run_stream(struct job *j, ward_scanner *sc)
{
    char delim = job_delim(j);
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
    char delim = job_delim(j);
    char shown[32];
    snprintf(shown, sizeof shown, "fd[%d]", j->fd);
    struct stat st;
    if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error_line(&j->reply, shown, "Not a regular file", delim);
    } else {
        int n = scan_fd(j, sc, j->fd, shown, false, &j->reply);
        if (n == 0)
            (void)!ward_buf_printf(&j->reply, "%s: OK%c", shown, delim);
    }
    loop_complete(j);
}

void scanjob_run(struct job *j, ward_scanner *sc, ward_db *db)
{
    (void)db;
    if (j->kind == JOB_MAIL) {
        mailjob_run(j, sc); /* a defer reply when sc is NULL */
        return;
    }
    if (!sc) {
        error_line(&j->reply, j->kind == JOB_STREAM ? "stream" : j->path ? j->path : "",
                   "Can't allocate memory", job_delim(j));
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
    case JOB_MULTI_FILE:
        (void)scan_file_path(j, sc, j->path, false, &j->reply);
        multi_file_done(j->multi, j);
        return;
    case JOB_MAIL:
        return;
    }
}
