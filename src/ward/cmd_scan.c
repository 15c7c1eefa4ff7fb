/*
 * cmd_scan.c - `ward scan`: the on-demand scanner.
 *
 * The main thread walks the paths given (directories recursively) and feeds
 * a bounded queue; N worker threads, each with its own scanner, take files
 * from it. Each file's findings are printed together once it is done, then
 * the configured action runs on the file on disk.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "daemon_client.h"
#include "engine/db.h"
#include "scan/action.h"
#include "scan/scan.h"
#include "util/json.h"
#include "util/log.h"
#include "util/options.h"
#include "util/strutil.h"

#define QUEUE_CAP 64  /* batches */
#define BATCH 64      /* paths per batch: one hand-off per 64 files, not per file */
#define MAX_DIR_DEPTH 256

enum { VERDICT_KINDS = 3 }; /* infected, suspicious, not scanned */

struct scan_cfg {
    struct cli_env env;
    bool json, summary, verbose, all_matches, follow_symlinks, cross_fs;
    unsigned threads;
    bool have_exclude, have_exclude_dir, have_include;
    regex_t exclude, exclude_dir, include;
    struct ward_action actions[VERDICT_KINDS];
    struct ward_scan_limits limits;
    FILE *log;
    const char *tmpdir;
    const char *daemon;  /* --daemon: the socket (or HOST:PORT) of wardd */
    enum dclient_mode daemon_mode;
    bool multiscan;
    bool backup;            /* --backup: into the store before delete, move, exec */
    ward_quarantine *store; /* opened when an action needs it */
};

struct stats {
    atomic_ullong files, bytes_read, bytes_scanned, infected, not_scanned, errors;
};

struct batch {
    char *paths[BATCH];
    unsigned n;
};

struct job_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch *items[QUEUE_CAP];
    size_t head, count;
    bool closed;
};

struct app {
    struct scan_cfg cfg;
    ward_db *db;
    struct job_queue q;
    struct batch *filling; /* the walker's batch in progress */
    unsigned batch_cap;    /* grows 1, 2, 4 ... BATCH: a few big files still spread out */
    struct stats st;
    pthread_mutex_t out_lock;
    dev_t root_dev;
};

/* ---- output ------------------------------------------------------------- */

struct finding_rec {
    enum ward_verdict verdict;
    enum ward_reason reason;
    char *name;
    char **path; /* path[0] is the file as given */
    unsigned depth;
};

struct file_result {
    struct finding_rec *f;
    size_t n, cap;
};

static bool on_finding(void *ctx, const struct ward_finding *f)
{
    struct file_result *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        struct finding_rec *q = realloc(r->f, cap * sizeof *q);
        if (!q)
            return true;
        r->f = q;
        r->cap = cap;
    }
    struct finding_rec *rec = &r->f[r->n];
    rec->verdict = f->verdict;
    rec->reason = f->reason;
    rec->name = f->name ? strdup(f->name) : NULL;
    rec->depth = f->depth;
    rec->path = calloc(f->depth + 1, sizeof *rec->path);
    if (rec->path)
        for (unsigned i = 0; i < f->depth; i++)
            rec->path[i] = strdup(f->path[i]);
    r->n++;
    return true;
}

static void free_result(struct file_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->f[i].name);
        if (r->f[i].path)
            for (unsigned k = 0; k < r->f[i].depth; k++)
                free(r->f[i].path[k]);
        free(r->f[i].path);
    }
    free(r->f);
}

/* Text for a terminal or a log: control characters become '?'. */
static void put_clean(ward_buf *b, const char *s)
{
    for (; *s; s++)
        (void)!ward_buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : (uint8_t)*s);
}

static void text_path(ward_buf *b, const struct finding_rec *f)
{
    for (unsigned i = 0; i < f->depth; i++) {
        if (i)
            (void)!ward_buf_putc(b, '/');
        put_clean(b, f->path[i] ? f->path[i] : "?");
    }
}

static void emit(struct app *a, ward_buf *line)
{
    pthread_mutex_lock(&a->out_lock);
    fwrite(line->data, 1, line->len, stdout);
    if (a->cfg.log && !a->cfg.json)
        fwrite(line->data, 1, line->len, a->cfg.log);
    pthread_mutex_unlock(&a->out_lock);
}

static int verdict_kind(enum ward_verdict v)
{
    return v == WARD_VERDICT_INFECTED ? 0 : v == WARD_VERDICT_SUSPICIOUS ? 1 : 2;
}

static void print_text(struct app *a, const struct finding_rec *f)
{
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    text_path(&b, f);
    if (f->verdict == WARD_VERDICT_NOT_SCANNED) {
        (void)!ward_buf_printf(&b, ": not scanned (%s", ward_reason_name(f->reason));
        if (f->name && strcmp(f->name, ward_reason_name(f->reason)) != 0) {
            (void)!ward_buf_puts(&b, ": ");
            put_clean(&b, f->name);
        }
        (void)!ward_buf_puts(&b, ")\n");
    } else {
        (void)!ward_buf_puts(&b, ": ");
        put_clean(&b, f->name ? f->name : "?");
        (void)!ward_buf_puts(&b, " FOUND\n");
    }
    emit(a, &b);
    ward_buf_free(&b);
}

static void print_json(struct app *a, const struct finding_rec *f, const char *action,
                       const char *action_result, const char *qid, const char *backup_id)
{
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    (void)!ward_buf_puts(&b, "{\"path\":");
    (void)!ward_json_str(&b, f->path[0]);
    (void)!ward_buf_puts(&b, ",\"object\":[");
    for (unsigned i = 0; i < f->depth; i++) {
        const char *s = f->path[i];
        if (i == 0) {
            const char *slash = strrchr(s, '/');
            if (slash && slash[1])
                s = slash + 1;
        }
        if (i)
            (void)!ward_buf_putc(&b, ',');
        (void)!ward_json_str(&b, s);
    }
    (void)!ward_buf_printf(&b, "],\"verdict\":\"%s\",\"name\":", ward_verdict_name(f->verdict));
    if (f->verdict == WARD_VERDICT_NOT_SCANNED) {
        (void)!ward_buf_puts(&b, "null,\"reason\":");
        (void)!ward_json_str(&b, ward_reason_name(f->reason));
        (void)!ward_buf_puts(&b, ",\"detail\":");
        (void)!ward_json_str(&b, f->name);
    } else {
        (void)!ward_json_str(&b, f->name);
    }
    if (action) {
        (void)!ward_buf_puts(&b, ",\"action\":");
        (void)!ward_json_str(&b, action);
        (void)!ward_buf_puts(&b, ",\"action_result\":");
        (void)!ward_json_str(&b, action_result);
        if (qid && *qid) {
            (void)!ward_buf_puts(&b, ",\"quarantine_id\":");
            (void)!ward_json_str(&b, qid);
        }
        if (backup_id && *backup_id) {
            (void)!ward_buf_puts(&b, ",\"backup_id\":");
            (void)!ward_json_str(&b, backup_id);
        }
    }
    (void)!ward_buf_puts(&b, "}\n");
    emit(a, &b);
    ward_buf_free(&b);
}

static void print_action(struct app *a, const char *path, bool whole, const char *inner,
                         const char *result, bool ok)
{
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    put_clean(&b, path);
    (void)!ward_buf_puts(&b, ": ");
    put_clean(&b, result);
    if (whole) {
        (void)!ward_buf_puts(&b, " (the whole file: ");
        put_clean(&b, inner);
        (void)!ward_buf_puts(&b, " is inside it)");
    }
    (void)!ward_buf_puts(&b, ok ? "\n" : " ERROR\n");
    emit(a, &b);
    ward_buf_free(&b);
}

/* ---- one file ------------------------------------------------------------ */

static void report_error(struct app *a, const char *path, const char *msg)
{
    atomic_fetch_add(&a->st.errors, 1);
    if (a->cfg.json) {
        ward_buf b;
        ward_buf_init(&b, 1 << 20);
        (void)!ward_buf_puts(&b, "{\"path\":");
        (void)!ward_json_str(&b, path);
        (void)!ward_buf_puts(&b, ",\"verdict\":\"error\",\"error\":");
        (void)!ward_json_str(&b, msg);
        (void)!ward_buf_puts(&b, "}\n");
        emit(a, &b);
        ward_buf_free(&b);
    } else {
        ward_buf b;
        ward_buf_init(&b, 1 << 20);
        put_clean(&b, path);
        (void)!ward_buf_puts(&b, ": ");
        put_clean(&b, msg);
        (void)!ward_buf_puts(&b, " ERROR\n");
        pthread_mutex_lock(&a->out_lock);
        fwrite(b.data, 1, b.len, stderr);
        if (a->cfg.log)
            fwrite(b.data, 1, b.len, a->cfg.log);
        pthread_mutex_unlock(&a->out_lock);
        ward_buf_free(&b);
    }
}

/* The absolute path of a file, for the store's record (its directory resolved). */
static void absolute_path(const char *path, char *out, size_t cap)
{
    if (path[0] == '/') {
        snprintf(out, cap, "%s", path);
        return;
    }
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    int n = -1;
    if (realpath(dir, real))
        n = snprintf(out, cap, "%s/%s", strcmp(real, "/") ? real : "", base);
    if (n < 0 || (size_t)n >= cap)
        snprintf(out, cap, "%s", path);
}

/* Act on the file, with the store for quarantine and backups. */
static bool act_on(struct app *a, const struct ward_action *act, const char *path,
                   const struct file_result *fr, const struct finding_rec *worst,
                   enum ward_verdict verdict, char *result, size_t cap, char *qid,
                   char *backup_id)
{
    enum { MAX_NAMES = 64 };
    const char *names[MAX_NAMES];
    size_t nn = 0;
    for (size_t i = 0; i < fr->n && nn < MAX_NAMES; i++) {
        const struct finding_rec *f = &fr->f[i];
        if (f->verdict != worst->verdict || !f->name)
            continue;
        bool dup = false;
        for (size_t k = 0; k < nn && !dup; k++)
            dup = strcmp(names[k], f->name) == 0;
        if (!dup)
            names[nn++] = f->name;
    }
    char abs[PATH_MAX];
    absolute_path(path, abs, sizeof abs);
    struct ward_qmeta m = {
        .program = "ward scan",
        .path = abs,
        .verdict = ward_verdict_name(verdict),
        .names = names,
        .n_names = nn,
    };
    struct ward_action_ctx ctx = {a->cfg.store, &m, a->cfg.backup, backup_id};
    char dest[PATH_MAX] = "";
    bool ok = ward_action_run_ctx(act, &ctx, path, worst->name, result, cap, dest,
                                  sizeof dest) == WARD_OK;
    if (act->kind == WARD_ACT_QUARANTINE)
        snprintf(qid, WARD_QID_LEN + 1, "%s", dest);
    return ok;
}

/* Report a file's findings, count it, and act on it (both scanning modes). */
static void finish_file(struct app *a, const char *path, const char *shown, bool is_stdin,
                        struct file_result *frp, enum ward_verdict verdict)
{
    struct file_result fr = *frp;
    /* The worst finding decides the action on the file. */
    const struct finding_rec *worst = NULL;
    bool read_error = false;
    for (size_t i = 0; i < fr.n; i++) {
        const struct finding_rec *f = &fr.f[i];
        if (f->verdict == WARD_VERDICT_NOT_SCANNED && f->reason == WARD_REASON_ERROR &&
            f->depth == 1)
            read_error = true;
        if (!worst || f->verdict > worst->verdict)
            worst = f;
    }
    if (verdict == WARD_VERDICT_INFECTED || verdict == WARD_VERDICT_SUSPICIOUS)
        atomic_fetch_add(&a->st.infected, 1);
    else if (read_error)
        atomic_fetch_add(&a->st.errors, 1);
    else if (verdict == WARD_VERDICT_NOT_SCANNED)
        atomic_fetch_add(&a->st.not_scanned, 1);

    const struct ward_action *act = worst ? &a->cfg.actions[verdict_kind(worst->verdict)] : NULL;
    bool acting = act && act->kind != WARD_ACT_REPORT && !is_stdin &&
                  !(worst->verdict == WARD_VERDICT_NOT_SCANNED && read_error);
    char result[1024] = "", inner[2048] = "", qid[WARD_QID_LEN + 1] = "",
         backup_id[WARD_QID_LEN + 1] = "";
    bool ok = true, whole = false;
    if (acting) {
        whole = worst->depth > 1;
        if (whole) {
            ward_buf ib;
            ward_buf_init(&ib, sizeof inner - 1);
            for (unsigned k = 1; k < worst->depth; k++) {
                if (k > 1)
                    (void)!ward_buf_putc(&ib, '/');
                (void)!ward_buf_puts(&ib, worst->path[k]);
            }
            snprintf(inner, sizeof inner, "%s", ward_buf_str(&ib));
            ward_buf_free(&ib);
        }
        ok = act_on(a, act, path, &fr, worst, verdict, result, sizeof result, qid, backup_id);
        if (!ok)
            atomic_fetch_add(&a->st.errors, 1);
    }

    for (size_t i = 0; i < fr.n; i++) {
        const struct finding_rec *f = &fr.f[i];
        if (f->depth == 0 || !f->path || !f->path[0])
            continue;
        if (a->cfg.json)
            print_json(a, f, acting && f == worst ? ward_action_name(act->kind) : NULL, result,
                       qid, backup_id);
        else
            print_text(a, f);
    }
    if (fr.n == 0 && a->cfg.verbose && !a->cfg.json) {
        ward_buf b;
        ward_buf_init(&b, 1 << 20);
        put_clean(&b, shown);
        (void)!ward_buf_puts(&b, ": OK\n");
        emit(a, &b);
        ward_buf_free(&b);
    }
    if (acting && !a->cfg.json)
        print_action(a, path, whole, inner, result, ok);
    free_result(frp);
}

static void scan_one(struct app *a, ward_scanner *sc, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "stdin" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        report_error(a, path, strerror(errno));
        return;
    }
    struct file_result fr = {0};
    struct ward_scan_opts o = {
        .limits = a->cfg.limits,
        .all_matches = a->cfg.all_matches,
        .tmpdir = a->cfg.tmpdir,
        .cache = NULL,
        .on_finding = on_finding,
        .ctx = &fr,
    };
    struct ward_scan_result res;
    struct ward_diag d;
    ward_err e = ward_scan_fd(sc, fd, shown, &o, &res, &d);
    if (!is_stdin)
        close(fd);
    if (e) {
        report_error(a, path, d.msg);
        free_result(&fr);
        return;
    }
    atomic_fetch_add(&a->st.files, 1);
    atomic_fetch_add(&a->st.bytes_scanned, res.bytes);
    atomic_fetch_add(&a->st.bytes_read, res.top_size);
    finish_file(a, path, shown, is_stdin, &fr, res.verdict);
}

/* ---- scanning through the daemon ------------------------------------------ */

struct dfound {
    struct file_result *fr;
    const char *shown;
    enum ward_verdict worst;
};

static void on_daemon_finding(void *ctx, enum ward_verdict v, enum ward_reason r,
                              const char *name, const char *path)
{
    struct dfound *df = ctx;
    (void)path;
    const char *p[1] = {df->shown};
    struct ward_finding f = {v, r, name, p, 1};
    on_finding(df->fr, &f);
    if (v > df->worst)
        df->worst = v;
}

static void scan_one_daemon(struct app *a, struct dclient *dc, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "stdin" : path;
    char abs[PATH_MAX];
    if (!is_stdin && !realpath(path, abs)) {
        report_error(a, path, strerror(errno));
        return;
    }
    int fd = -1;
    struct stat st = {0};
    if (is_stdin || a->cfg.daemon_mode != DCLIENT_PATH) {
        fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            report_error(a, path, strerror(errno));
            return;
        }
    }
    if (!is_stdin)
        (void)stat(path, &st);
    struct file_result fr = {0};
    struct dfound df = {&fr, shown, WARD_VERDICT_CLEAN};
    char err[1024] = "";
    int rc = dclient_scan(dc, is_stdin ? "stdin" : abs, fd, is_stdin, on_daemon_finding, &df, err,
                          sizeof err);
    if (fd >= 0 && !is_stdin)
        close(fd);
    if (rc < 0 && fr.n == 0) {
        report_error(a, path, err);
        free_result(&fr);
        return;
    }
    atomic_fetch_add(&a->st.files, 1);
    atomic_fetch_add(&a->st.bytes_scanned, (unsigned long long)st.st_size);
    atomic_fetch_add(&a->st.bytes_read, (unsigned long long)st.st_size);
    finish_file(a, path, shown, is_stdin, &fr, df.worst);
}

/* --multiscan: the daemon walks each argument itself; its lines are grouped by file. */
struct mgroup {
    struct app *a;
    char **paths;
    struct file_result *frs;
    enum ward_verdict *worst;
    size_t n, cap;
};

static void on_multi_finding(void *ctx, enum ward_verdict v, enum ward_reason r,
                             const char *name, const char *path)
{
    struct mgroup *g = ctx;
    size_t i;
    for (i = 0; i < g->n; i++)
        if (strcmp(g->paths[i], path) == 0)
            break;
    if (i == g->n) {
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 16;
            char **p = realloc(g->paths, cap * sizeof *p);
            struct file_result *f = p ? realloc(g->frs, cap * sizeof *f) : NULL;
            enum ward_verdict *w = f ? realloc(g->worst, cap * sizeof *w) : NULL;
            if (p)
                g->paths = p;
            if (f)
                g->frs = f;
            if (!w)
                return;
            g->worst = w;
            g->cap = cap;
        }
        g->paths[i] = strdup(path);
        memset(&g->frs[i], 0, sizeof g->frs[i]);
        g->worst[i] = WARD_VERDICT_CLEAN;
        g->n++;
    }
    const char *p[1] = {g->paths[i]};
    struct ward_finding f = {v, r, name, p, 1};
    on_finding(&g->frs[i], &f);
    if (v > g->worst[i])
        g->worst[i] = v;
}

static void multiscan_arg(struct app *a, const char *path)
{
    char abs[PATH_MAX], err[1024] = "";
    if (!realpath(path, abs)) {
        report_error(a, path, strerror(errno));
        return;
    }
    struct mgroup g = {a, NULL, NULL, NULL, 0, 0};
    if (dclient_multiscan(a->cfg.daemon, abs, on_multi_finding, &g, err, sizeof err) < 0)
        report_error(a, path, err);
    for (size_t i = 0; i < g.n; i++) {
        atomic_fetch_add(&a->st.files, 1);
        finish_file(a, g.paths[i], g.paths[i], false, &g.frs[i], g.worst[i]);
        free(g.paths[i]);
    }
    free(g.paths);
    free(g.frs);
    free(g.worst);
}

/* ---- queue and workers --------------------------------------------------- */

static void queue_push(struct job_queue *q, struct batch *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == QUEUE_CAP)
        pthread_cond_wait(&q->not_full, &q->lock);
    q->items[(q->head + q->count) % QUEUE_CAP] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static struct batch *queue_pop(struct job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    struct batch *item = NULL;
    if (q->count) {
        item = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        /* wake the walker only once there is room for several batches */
        if (q->count-- == QUEUE_CAP || q->count == QUEUE_CAP / 2)
            pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

static void queue_close(struct job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

struct worker {
    struct app *a;
    pthread_t tid;
    bool failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    ward_scanner *sc = NULL;
    if (w->a->cfg.daemon) {
        struct dclient *dc = dclient_new(w->a->cfg.daemon, w->a->cfg.daemon_mode,
                                         w->a->cfg.all_matches);
        struct batch *b;
        while ((b = queue_pop(&w->a->q)) != NULL) {
            for (unsigned i = 0; i < b->n; i++) {
                if (dc)
                    scan_one_daemon(w->a, dc, b->paths[i]);
                else
                    report_error(w->a, b->paths[i], "out of memory");
                free(b->paths[i]);
            }
            free(b);
        }
        dclient_free(dc);
        return NULL;
    }
    /* Each thread makes its own scanner, in parallel with the others. */
    if (ward_scanner_new(w->a->db, &sc)) {
        w->failed = true;
        cli_error("cannot create scanner: out of memory");
        sc = NULL;
    }
    struct batch *b;
    while ((b = queue_pop(&w->a->q)) != NULL) {
        for (unsigned i = 0; i < b->n; i++) {
            if (sc)
                scan_one(w->a, sc, b->paths[i]);
            else
                report_error(w->a, b->paths[i], "no scanner");
            free(b->paths[i]);
        }
        free(b);
    }
    ward_scanner_free(sc);
    return NULL;
}

/* ---- walking paths -------------------------------------------------------- */

static bool excluded(const struct scan_cfg *c, const char *path, bool dir)
{
    if (dir)
        return c->have_exclude_dir && regexec(&c->exclude_dir, path, 0, NULL, 0) == 0;
    if (c->have_exclude && regexec(&c->exclude, path, 0, NULL, 0) == 0)
        return true;
    return c->have_include && regexec(&c->include, path, 0, NULL, 0) != 0;
}

static void flush_batch(struct app *a)
{
    if (a->filling && a->filling->n)
        queue_push(&a->q, a->filling);
    else
        free(a->filling);
    a->filling = NULL;
}

static void submit(struct app *a, const char *path)
{
    char *copy = strdup(path);
    if (!copy || (!a->filling && !(a->filling = calloc(1, sizeof *a->filling)))) {
        free(copy);
        report_error(a, path, "out of memory");
        return;
    }
    a->filling->paths[a->filling->n++] = copy;
    if (a->batch_cap == 0)
        a->batch_cap = 1;
    if (a->filling->n >= a->batch_cap) {
        flush_batch(a);
        if (a->batch_cap < BATCH)
            a->batch_cap *= 2;
    }
}

static void walk_dir(struct app *a, const char *dir, unsigned depth)
{
    if (depth > MAX_DIR_DEPTH) {
        report_error(a, dir, "directory nesting too deep");
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        report_error(a, dir, strerror(errno));
        return;
    }
    /* Read the whole directory first: fewer open descriptors while recursing. */
    struct entry {
        char *name;
        unsigned char type;
    } *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *q = realloc(ents, cap * sizeof *q);
            if (!q)
                break;
            ents = q;
        }
        if (!(ents[n].name = strdup(de->d_name)))
            break;
        ents[n].type = de->d_type;
        n++;
    }
    closedir(d);
    size_t dlen = strlen(dir);
    bool slash = dlen && dir[dlen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        size_t len = dlen + strlen(ents[i].name) + 2;
        char *p = malloc(len);
        if (p) {
            snprintf(p, len, "%s%s%s", dir, slash ? "" : "/", ents[i].name);
            unsigned char t = ents[i].type;
            struct stat st;
            /* The directory entry's type saves a stat for plain files and
               directories; links, unknown types and -x need one. */
            bool need_stat = t == DT_UNKNOWN || (t == DT_LNK && a->cfg.follow_symlinks) ||
                             (t == DT_DIR && !a->cfg.cross_fs);
            if (need_stat) {
                int r = a->cfg.follow_symlinks ? stat(p, &st) : lstat(p, &st);
                if (r != 0) {
                    report_error(a, p, strerror(errno));
                    t = DT_UNKNOWN;
                } else {
                    t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
                    if (t == DT_DIR && !a->cfg.cross_fs && st.st_dev != a->root_dev)
                        t = DT_UNKNOWN;
                }
            }
            if (t == DT_DIR) {
                if (!excluded(&a->cfg, p, true))
                    walk_dir(a, p, depth + 1);
            } else if (t == DT_REG) {
                if (!excluded(&a->cfg, p, false))
                    submit(a, p);
            }
            /* symlinks (when not followed), devices, sockets and fifos are skipped */
            free(p);
        }
        free(ents[i].name);
    }
    free(ents);
}

static void walk_arg(struct app *a, const char *path)
{
    if (strcmp(path, "-") == 0) {
        submit(a, path);
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        report_error(a, path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        a->root_dev = st.st_dev;
        if (!excluded(&a->cfg, path, true))
            walk_dir(a, path, 0);
    } else if (!excluded(&a->cfg, path, false)) {
        submit(a, path);
    }
}

static void walk_file_list(struct app *a, const char *list)
{
    FILE *f = strcmp(list, "-") == 0 ? stdin : fopen(list, "r");
    if (!f) {
        report_error(a, list, strerror(errno));
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n)
            walk_arg(a, line);
    }
    free(line);
    if (f != stdin)
        fclose(f);
}

/* ---- options -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: ward scan [OPTIONS] PATH...\n"
          "Scan files and directories (recursively); '-' scans standard input.\n\n"
          "  -d, --database PATH       signature file or directory (repeatable)\n"
          "  -c, --config FILE         configuration file\n"
          "  -j, --threads N           scanning threads (default: all cores)\n"
          "      --exclude REGEX       skip files whose path matches\n"
          "      --exclude-dir REGEX   skip directories whose path matches\n"
          "      --include REGEX       scan only files whose path matches\n"
          "      --file-list FILE      read paths to scan from FILE, one per line\n"
          "      --max-filesize SIZE   --max-scansize SIZE   --max-recursion N\n"
          "      --max-files N         --max-scantime MS     --max-ratio N\n"
          "      --on-infected ACTION  --on-suspicious ACTION  --on-not-scanned ACTION\n"
          "                            report, delete, move=DIR, copy=DIR, exec=COMMAND or\n"
          "                            quarantine (into the encrypted store)\n"
          "      --backup              copy a file into the quarantine store (kind backup)\n"
          "                            before delete, move or exec\n"
          "  -z, --all-match           report every signature that matches\n"
          "      --json                one JSON object per line\n"
          "      --no-summary          no summary at the end\n"
          "  -v, --verbose             also print clean files\n"
          "  -l, --log FILE            append the report to FILE\n"
          "      --log-level LEVEL     error, warning, notice, info, debug, trace\n"
          "      --follow-symlinks     follow symbolic links inside directories\n"
          "      --daemon[=SOCKET]     scan through wardd (default: [wardd] socket), by path;\n"
          "                            SOCKET may be HOST:PORT\n"
          "      --stream              with --daemon: send the bytes (INSTREAM)\n"
          "      --fdpass              with --daemon: pass the open file (FILDES)\n"
          "      --multiscan           with --daemon: the daemon walks each path in parallel\n"
          "\nExit status: 0 nothing found, 1 something found (or not scanned), 2 error.\n",
          f);
}

enum {
    OPT_EXCLUDE = 256, OPT_EXCLUDE_DIR, OPT_INCLUDE, OPT_FILE_LIST, OPT_MAX_FILESIZE,
    OPT_MAX_SCANSIZE, OPT_MAX_RECURSION, OPT_MAX_FILES, OPT_MAX_SCANTIME, OPT_MAX_RATIO,
    OPT_ON_INFECTED, OPT_ON_SUSPICIOUS, OPT_ON_NOT_SCANNED, OPT_JSON, OPT_NO_SUMMARY,
    OPT_LOG_LEVEL, OPT_FOLLOW, OPT_HELP, OPT_DAEMON, OPT_STREAM, OPT_FDPASS, OPT_MULTISCAN,
    OPT_BACKUP,
};

static const struct option long_opts[] = {
    {"database", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 'j'},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"exclude-dir", required_argument, NULL, OPT_EXCLUDE_DIR},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"file-list", required_argument, NULL, OPT_FILE_LIST},
    {"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
    {"max-scansize", required_argument, NULL, OPT_MAX_SCANSIZE},
    {"max-recursion", required_argument, NULL, OPT_MAX_RECURSION},
    {"max-files", required_argument, NULL, OPT_MAX_FILES},
    {"max-scantime", required_argument, NULL, OPT_MAX_SCANTIME},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"on-infected", required_argument, NULL, OPT_ON_INFECTED},
    {"on-suspicious", required_argument, NULL, OPT_ON_SUSPICIOUS},
    {"on-not-scanned", required_argument, NULL, OPT_ON_NOT_SCANNED},
    {"backup", no_argument, NULL, OPT_BACKUP},
    {"all-match", no_argument, NULL, 'z'},
    {"allmatch", no_argument, NULL, 'z'},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
    {"verbose", no_argument, NULL, 'v'},
    {"log", required_argument, NULL, 'l'},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"follow-symlinks", no_argument, NULL, OPT_FOLLOW},
    {"daemon", optional_argument, NULL, OPT_DAEMON},
    {"stream", no_argument, NULL, OPT_STREAM},
    {"fdpass", no_argument, NULL, OPT_FDPASS},
    {"multiscan", no_argument, NULL, OPT_MULTISCAN},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool set_regex(regex_t *re, bool *have, const char *value, const char *opt)
{
    if (*have)
        regfree(re);
    if (regcomp(re, value, REG_EXTENDED | REG_NOSUB) != 0) {
        cli_error("%s: invalid regular expression '%s'", opt, value);
        *have = false;
        return false;
    }
    *have = true;
    return true;
}

static bool set_action(struct ward_action *act, const char *value, const char *where)
{
    const char *why;
    struct ward_action n;
    if (ward_action_parse(value, &n, &why)) {
        cli_error("%s: '%s' %s", where, value, why);
        return false;
    }
    ward_action_free(act);
    *act = n;
    return true;
}

/* A limit from the command line, checked like the same option in ward.conf. */
static bool set_limit(const char *key, const char *value, uint64_t *out)
{
    const struct ward_opt *o = ward_option_find("global", key);
    const char *why;
    if (!o || !ward_opt_parse(o, value, out, &why)) {
        cli_error("--%s: '%s' %s", key, value, o ? why : "unknown");
        return false;
    }
    return true;
}

/* Defaults from ward.conf ([scan], then [global]). */
static bool apply_config(struct scan_cfg *c)
{
    static const char *const scan[] = {"scan", "global", NULL};
    const ward_conf *conf = c->env.conf;
    c->limits.max_filesize = ward_opt_u64(conf, scan, "max_filesize");
    c->limits.max_scansize = ward_opt_u64(conf, scan, "max_scansize");
    c->limits.max_recursion = (uint32_t)ward_opt_u64(conf, scan, "max_recursion");
    c->limits.max_files = (uint32_t)ward_opt_u64(conf, scan, "max_files");
    c->limits.max_scantime = (uint32_t)ward_opt_u64(conf, scan, "max_scantime");
    c->limits.max_ratio = (uint32_t)ward_opt_u64(conf, scan, "max_ratio");
    c->threads = (unsigned)ward_opt_u64(conf, scan, "threads");
    c->all_matches = ward_opt_bool(conf, scan, "all_matches");
    c->follow_symlinks = ward_opt_bool(conf, scan, "follow_symlinks");
    c->cross_fs = ward_opt_bool(conf, scan, "cross_filesystems");
    c->tmpdir = ward_opt_str(conf, scan, "tmp_dir");
    c->backup = ward_opt_bool(conf, scan, "backup");
    static const char *keys[] = {"exclude", "exclude_dir", "include"};
    regex_t *res[] = {&c->exclude, &c->exclude_dir, &c->include};
    bool *have[] = {&c->have_exclude, &c->have_exclude_dir, &c->have_include};
    for (int i = 0; i < 3; i++) {
        const char *v = ward_opt_str(conf, scan, keys[i]);
        if (v && *v && !set_regex(res[i], have[i], v, keys[i]))
            return false;
    }
    static const char *acts[] = {"on_infected", "on_suspicious", "on_not_scanned"};
    for (int i = 0; i < VERDICT_KINDS; i++) {
        const char *v = ward_opt_str(conf, scan, acts[i]);
        char where[PATH_MAX + 64];
        const struct ward_conf_entry *e = conf ? ward_conf_find(conf, "scan", acts[i]) : NULL;
        if (e)
            snprintf(where, sizeof where, "%s:%u: [scan] %s", conf->path, e->line, acts[i]);
        else
            snprintf(where, sizeof where, "%s", acts[i]);
        if (v && !set_action(&c->actions[i], v, where))
            return false;
    }
    return true;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long sig_count(const ward_db *db)
{
    if (!db)
        return 0; /* scanning through the daemon: its database, not ours */
    const struct ward_db_stats *st = ward_db_stats(db);
    unsigned long long n = 0;
    static const enum ward_sigkind detect[] = {WARD_KIND_HDB, WARD_KIND_HSB, WARD_KIND_NDB,
                                               WARD_KIND_LDB};
    for (size_t i = 0; i < sizeof detect / sizeof *detect; i++)
        n += st->kind[detect[i]].loaded;
    return n;
}

static void print_summary(struct app *a, double load_s, double scan_s)
{
    unsigned long long files = a->st.files, read = a->st.bytes_read, scanned = a->st.bytes_scanned;
    double mb = (double)read / 1e6, rate = scan_s > 0 ? mb / scan_s : 0;
    double fps = scan_s > 0 ? (double)files / scan_s : 0;
    ward_buf b;
    ward_buf_init(&b, 1 << 16);
    if (a->cfg.json) {
        (void)!ward_buf_printf(
            &b,
            "{\"summary\":{\"signatures\":%llu,\"files\":%llu,\"bytes\":%llu,"
            "\"scanned_bytes\":%llu,\"infected\":%llu,\"not_scanned\":%llu,\"errors\":%llu,"
            "\"load_seconds\":%.3f,\"seconds\":%.3f,\"mb_per_second\":%.1f,"
            "\"files_per_second\":%.0f}}\n",
            sig_count(a->db), files, read, scanned, (unsigned long long)a->st.infected,
            (unsigned long long)a->st.not_scanned, (unsigned long long)a->st.errors, load_s,
            scan_s, rate, fps);
    } else {
        (void)!ward_buf_printf(&b,
                               "\n----------- SCAN SUMMARY -----------\n"
                               "Known signatures: %llu\n"
                               "Scanned files: %llu\n"
                               "Scanned bytes: %llu (%.2f MB read, %.2f MB scanned)\n"
                               "Infected files: %llu\n"
                               "Not scanned: %llu\n"
                               "Errors: %llu\n"
                               "Database load: %.3f sec\n"
                               "Time: %.3f sec\n"
                               "Speed: %.1f MB/s, %.0f files/s\n",
                               sig_count(a->db), files, read, mb, (double)scanned / 1e6,
                               (unsigned long long)a->st.infected,
                               (unsigned long long)a->st.not_scanned,
                               (unsigned long long)a->st.errors, load_s, scan_s, rate, fps);
    }
    emit(a, &b);
    if (a->cfg.log && a->cfg.json) {
        pthread_mutex_lock(&a->out_lock);
        fwrite(b.data, 1, b.len, a->cfg.log);
        pthread_mutex_unlock(&a->out_lock);
    }
    ward_buf_free(&b);
}

int cmd_scan(int argc, char **argv)
{
    struct app *a = calloc(1, sizeof *a);
    if (!a)
        return EXIT_ERROR;
    struct scan_cfg *c = &a->cfg;
    c->summary = true;
    c->cross_fs = true;
    ward_scan_limits_default(&c->limits);
    const char *config = NULL, *log_path = NULL, *file_list = NULL;
    int rc = EXIT_ERROR;

    /* First pass: the config file, whose values the other options override. */
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
    }
    if (!cli_load_config(&c->env, config) || !apply_config(c))
        goto out;

    optind = 1;
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "d:c:j:zvl:", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (!cli_add_database(&c->env, optarg))
                goto out;
            break;
        case 'c': break;
        case 'j':
            if (!ward_parse_u64(optarg, &v) || v == 0 || v > 1024) {
                cli_error("--threads: '%s' must be a number from 1 to 1024", optarg);
                goto out;
            }
            c->threads = (unsigned)v;
            break;
        case OPT_EXCLUDE:
            if (!set_regex(&c->exclude, &c->have_exclude, optarg, "--exclude"))
                goto out;
            break;
        case OPT_EXCLUDE_DIR:
            if (!set_regex(&c->exclude_dir, &c->have_exclude_dir, optarg, "--exclude-dir"))
                goto out;
            break;
        case OPT_INCLUDE:
            if (!set_regex(&c->include, &c->have_include, optarg, "--include"))
                goto out;
            break;
        case OPT_FILE_LIST: file_list = optarg; break;
        case OPT_MAX_FILESIZE:
            if (!set_limit("max_filesize", optarg, &c->limits.max_filesize))
                goto out;
            break;
        case OPT_MAX_SCANSIZE:
            if (!set_limit("max_scansize", optarg, &c->limits.max_scansize))
                goto out;
            break;
        case OPT_MAX_RECURSION:
            if (!set_limit("max_recursion", optarg, &v))
                goto out;
            c->limits.max_recursion = (uint32_t)v;
            break;
        case OPT_MAX_FILES:
            if (!set_limit("max_files", optarg, &v) || v > UINT32_MAX)
                goto out;
            c->limits.max_files = (uint32_t)v;
            break;
        case OPT_MAX_SCANTIME:
            if (!set_limit("max_scantime", optarg, &v) || v > UINT32_MAX)
                goto out;
            c->limits.max_scantime = (uint32_t)v;
            break;
        case OPT_MAX_RATIO:
            if (!set_limit("max_ratio", optarg, &v) || v > UINT32_MAX)
                goto out;
            c->limits.max_ratio = (uint32_t)v;
            break;
        case OPT_ON_INFECTED:
            if (!set_action(&c->actions[0], optarg, "--on-infected"))
                goto out;
            break;
        case OPT_ON_SUSPICIOUS:
            if (!set_action(&c->actions[1], optarg, "--on-suspicious"))
                goto out;
            break;
        case OPT_ON_NOT_SCANNED:
            if (!set_action(&c->actions[2], optarg, "--on-not-scanned"))
                goto out;
            break;
        case OPT_BACKUP: c->backup = true; break;
        case 'z': c->all_matches = true; break;
        case OPT_JSON: c->json = true; break;
        case OPT_NO_SUMMARY: c->summary = false; break;
        case 'v': c->verbose = true; break;
        case 'l': log_path = optarg; break;
        case OPT_LOG_LEVEL: {
            enum ward_log_level lvl;
            struct ward_diag d;
            if (!ward_log_level_parse(optarg, &lvl)) {
                cli_error("--log-level: '%s' must be error, warning, notice, info, debug or "
                          "trace", optarg);
                goto out;
            }
            if (ward_log_open(WARD_LOG_STDERR, "ward", NULL, lvl, &d)) {
                cli_error("%s", d.msg);
                goto out;
            }
            break;
        }
        case OPT_FOLLOW: c->follow_symlinks = true; break;
        case OPT_DAEMON: {
            static const char *const wardd[] = {"wardd", NULL};
            c->daemon = optarg && *optarg ? optarg : ward_opt_str(c->env.conf, wardd, "socket");
            break;
        }
        case OPT_STREAM: c->daemon_mode = DCLIENT_STREAM; break;
        case OPT_FDPASS: c->daemon_mode = DCLIENT_FDPASS; break;
        case OPT_MULTISCAN: c->multiscan = true; break;
        case OPT_HELP:
            usage(stdout);
            rc = EXIT_CLEAN;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind >= argc && !file_list) {
        cli_error("scan: no path given (use '-' for standard input)");
        usage(stderr);
        goto out;
    }
    for (int i = 0; i < VERDICT_KINDS; i++) {
        const struct ward_action *act = &c->actions[i];
        struct stat st;
        if ((act->kind == WARD_ACT_MOVE || act->kind == WARD_ACT_COPY) &&
            (stat(act->arg, &st) != 0 || !S_ISDIR(st.st_mode))) {
            cli_error("%s: directory %s does not exist", ward_action_name(act->kind), act->arg);
            goto out;
        }
    }
    bool need_store = false;
    for (int i = 0; i < VERDICT_KINDS; i++)
        need_store |= c->actions[i].kind == WARD_ACT_QUARANTINE ||
                      (c->backup && ward_action_changes_file(c->actions[i].kind));
    if (need_store && !(c->store = cli_open_quarantine(&c->env, true)))
        goto out;
    if (log_path && !(c->log = fopen(log_path, "a"))) {
        cli_error("--log: cannot open %s: %s", log_path, strerror(errno));
        goto out;
    }
    if (c->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->threads = n > 0 ? (unsigned)n : 1;
    }

    if ((c->daemon_mode != DCLIENT_PATH || c->multiscan) && !c->daemon) {
        cli_error("--stream, --fdpass and --multiscan go with --daemon");
        goto out;
    }
    double t0 = now_sec();
    if (!c->daemon) {
        a->db = cli_load_database(&c->env, false, false);
        if (!a->db)
            goto out;
    }
    double t1 = now_sec();
    pthread_mutex_init(&a->out_lock, NULL);
    if (c->multiscan) {
        /* the daemon walks and scans in parallel: one request per argument */
        for (int i = optind; i < argc; i++) {
            if (strcmp(argv[i], "-") == 0) {
                struct dclient *dc = dclient_new(c->daemon, DCLIENT_STREAM, false);
                if (dc)
                    scan_one_daemon(a, dc, "-");
                dclient_free(dc);
            } else {
                multiscan_arg(a, argv[i]);
            }
        }
        goto summary;
    }

    pthread_mutex_init(&a->q.lock, NULL);
    pthread_cond_init(&a->q.not_empty, NULL);
    pthread_cond_init(&a->q.not_full, NULL);
    struct worker *ws = calloc(c->threads, sizeof *ws);
    unsigned started = 0;
    for (unsigned i = 0; ws && i < c->threads; i++) {
        ws[i].a = a;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            break;
        started++;
    }
    if (started == 0) {
        cli_error("cannot start scanning threads");
        free(ws);
        goto out;
    }
    if (file_list)
        walk_file_list(a, file_list);
    for (int i = optind; i < argc; i++)
        walk_arg(a, argv[i]);
    flush_batch(a);
    queue_close(&a->q);
    for (unsigned i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    free(ws);
summary:;
    double t2 = now_sec();
    if (c->summary)
        print_summary(a, t1 - t0, t2 - t1);
    fflush(stdout);

    if (a->st.infected)
        rc = EXIT_FOUND;
    else if (a->st.errors)
        rc = EXIT_ERROR;
    else if (a->st.not_scanned)
        rc = EXIT_FOUND;
    else
        rc = EXIT_CLEAN;
out:
    if (a->db)
        ward_db_unref(a->db);
    for (int i = 0; i < VERDICT_KINDS; i++)
        ward_action_free(&c->actions[i]);
    if (c->have_exclude)
        regfree(&c->exclude);
    if (c->have_exclude_dir)
        regfree(&c->exclude_dir);
    if (c->have_include)
        regfree(&c->include);
    if (c->log)
        fclose(c->log);
    ward_quarantine_close(c->store);
    cli_env_free(&c->env);
    free(a);
    return rc;
}
