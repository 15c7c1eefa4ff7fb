/*
 * mailjob.c - what MAILSCAN does in a worker thread: one message through
 * ward_mail_process with the current database, ward.conf and its
 * user_config file (re-read on SIGHUP), the quarantine store (opened at the
 * first message a policy quarantines) and this host's name; then the reply block and the changed
 * message, as a descriptor or as chunks (proto/mailproto.h).
 *
 * The configuration is shared by reference: a SIGHUP installs a new one,
 * and a message being processed keeps the one it started with.
 *
 * A failure anywhere is a defer reply with the reason, never an accept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/policy.h"
#include "mail/outbox.h"
#include "mail/process.h"
#include "proto/mailproto.h"
#include "util/log.h"
#include "util/options.h"
#include "wardd.h"

#define STORE_RETRY 60 /* seconds between attempts to open a store that failed */
#define REPLY_CHUNK (1u << 20)

struct mail_cfg {
    unsigned refs;
    ward_conf *conf;  /* ward.conf, or NULL (defaults) */
    ward_conf *users; /* its user_config file, or NULL */
    char hostname[256];
    char qdir[PATH_MAX], qkey[PATH_MAX];
    struct ward_qopts qopts;
};

static struct {
    pthread_mutex_t lock;
    struct mail_cfg *cur;
    ward_quarantine *store;
    char store_dir[PATH_MAX];
    time_t store_failed; /* last failed open */
    ward_outbox *outbox;  /* made at the first message (its thread after any fork) */
    bool outbox_failed;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Notices and exec_script runs wait here for after the answer (mail/outbox.h). */
#define OUTBOX_ITEMS 1000
#define OUTBOX_BYTES (256u << 20)
#define OUTBOX_DRAIN_MS 10000

static ward_outbox *outbox(void)
{
    pthread_mutex_lock(&M.lock);
    if (!M.outbox && !M.outbox_failed && ward_outbox_new(OUTBOX_ITEMS, OUTBOX_BYTES, &M.outbox)) {
        M.outbox_failed = true; /* then notices are sent before the answer */
        ward_log(WARD_LOG_WARNING, "cannot start the notice thread: notices delay answers");
    }
    ward_outbox *o = M.outbox;
    pthread_mutex_unlock(&M.lock);
    return o;
}

static void cfg_unref(struct mail_cfg *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&M.lock);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&M.lock);
    if (!last)
        return;
    ward_conf_free(c->conf);
    ward_conf_free(c->users);
    free(c);
}

static void report_user_config(void *ctx, const char *msg)
{
    (void)ctx;
    ward_log(WARD_LOG_ERROR, "%s", msg);
}

bool mailjob_configure(const char *config_path)
{
    struct mail_cfg *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->refs = 1;
    struct ward_diag d;
    /* wardd_cfg_load has checked the file already */
    if (config_path && ward_conf_parse_file(config_path, &c->conf, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        cfg_unref(c);
        return false;
    }
    static const char *const global[] = {"global", NULL};
    const char *uc = ward_opt_str(c->conf, global, "user_config");
    if (uc && *uc) {
        if (ward_conf_parse_file(uc, &c->users, &d)) {
            ward_log(WARD_LOG_ERROR, "user_config: %s", d.msg);
            cfg_unref(c);
            return false;
        }
        if (ward_policy_check(c->users, report_user_config, NULL)) {
            cfg_unref(c);
            return false;
        }
    }
    if (gethostname(c->hostname, sizeof c->hostname - 1) != 0)
        snprintf(c->hostname, sizeof c->hostname, "localhost");
    snprintf(c->qdir, sizeof c->qdir, "%s", ward_opt_str(c->conf, global, "quarantine_dir"));
    const char *key = ward_opt_str(c->conf, global, "quarantine_key_file");
    snprintf(c->qkey, sizeof c->qkey, "%s", key ? key : "");
    c->qopts.max_size = ward_opt_u64(c->conf, global, "quarantine_max_size");
    c->qopts.max_age = ward_opt_u64(c->conf, global, "quarantine_max_age");
    c->qopts.create = true;
    pthread_mutex_lock(&M.lock);
    struct mail_cfg *old = M.cur;
    M.cur = c;
    /* a new store place: the next message opens it */
    if (M.store && strcmp(M.store_dir, c->qdir) != 0) {
        ward_quarantine_close(M.store);
        M.store = NULL;
    }
    M.store_failed = 0;
    pthread_mutex_unlock(&M.lock);
    cfg_unref(old);
    return true;
}

void mailjob_stop(void)
{
    pthread_mutex_lock(&M.lock);
    struct mail_cfg *c = M.cur;
    M.cur = NULL;
    if (M.store)
        ward_quarantine_close(M.store);
    M.store = NULL;
    ward_outbox *o = M.outbox;
    M.outbox = NULL;
    pthread_mutex_unlock(&M.lock);
    cfg_unref(c);
    ward_outbox_free(o, OUTBOX_DRAIN_MS);
}

/* The current configuration. */
static struct mail_cfg *acquire(void)
{
    pthread_mutex_lock(&M.lock);
    struct mail_cfg *c = M.cur;
    if (c)
        c->refs++;
    pthread_mutex_unlock(&M.lock);
    return c;
}

/*
 * The store, opened at the first message a policy quarantines (a handle is
 * shared by threads): wardd never makes a store nobody asked for. A store
 * that cannot be opened is tried again after STORE_RETRY seconds; meanwhile
 * the messages that need it are deferred.
 */
static ward_err open_store(void *arg, ward_quarantine **out, struct ward_diag *d)
{
    const struct mail_cfg *c = arg;
    ward_err e = WARD_OK;
    pthread_mutex_lock(&M.lock);
    if (!M.store && M.store_failed && time(NULL) - M.store_failed < STORE_RETRY) {
        e = ward_diag_set(d, WARD_ERR_IO, "quarantine %s could not be opened lately", c->qdir);
    } else if (!M.store) {
        e = ward_quarantine_open(c->qdir, c->qkey[0] ? c->qkey : NULL, &c->qopts, &M.store, d);
        if (e) {
            ward_log(WARD_LOG_WARNING, "quarantine %s: %s", c->qdir, d->msg);
            M.store = NULL;
            M.store_failed = time(NULL);
        } else {
            snprintf(M.store_dir, sizeof M.store_dir, "%s", c->qdir);
        }
    }
    *out = M.store;
    pthread_mutex_unlock(&M.lock);
    return e;
}

/* Append the changed message as chunks, then the zero length. */
static ward_err append_chunks(ward_buf *out, int fd, uint64_t size, struct ward_diag *d)
{
    if (ward_buf_reserve(out, size + (size / REPLY_CHUNK + 2) * 4))
        return ward_diag_set(d, WARD_ERR_LIMIT, "changed message too large to stream back");
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < REPLY_CHUNK ? (size_t)(size - off) : REPLY_CHUNK;
        uint8_t *p = out->data + out->len;
        ssize_t n = pread(fd, p + 4, want, (off_t)off);
        if (n <= 0)
            return ward_diag_set(d, WARD_ERR_IO, "reading the changed message: %s",
                                 n < 0 ? strerror(errno) : "short file");
        p[0] = (uint8_t)(n >> 24);
        p[1] = (uint8_t)(n >> 16);
        p[2] = (uint8_t)(n >> 8);
        p[3] = (uint8_t)n;
        out->len += (size_t)n + 4;
        off += (uint64_t)n;
    }
    return ward_buf_append(out, "\0\0\0\0", 4);
}

static void log_result(const struct ward_mailproto_req *rq, const struct ward_mail_result *res)
{
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < res->scan.n_det && used < sizeof names - 1; i++) {
        int n = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                         res->scan.det[i].name ? res->scan.det[i].name : "?");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    ward_log(res->status == WARD_MAIL_CLEAN ? WARD_LOG_INFO : WARD_LOG_NOTICE,
             "MAILSCAN %s from <%s> to %zu recipient(s), agent %s: %s, %s%s%s%s%s",
             rq->queue_id ? rq->queue_id : "-", rq->sender, rq->n_rcpts,
             rq->agent ? rq->agent : "-", ward_mailproto_status_name(res->status),
             ward_mailproto_action_name(res->action), used ? " (" : "", names, used ? ")" : "",
             res->quarantine_id[0] ? ", quarantined" : "");
}

/* Fill j->reply (and j->out_fd) from a processed message. */
static void reply_result(struct job *j, struct ward_mail_result *res)
{
    const struct ward_mailproto_req *rq = j->mail;
    struct ward_diag d;
    enum ward_mailproto_xfer x = WARD_MAILPROTO_UNCHANGED;
    uint64_t size = 0;
    if (res->out_fd >= 0) {
        off_t end = lseek(res->out_fd, 0, SEEK_END);
        size = end > 0 ? (uint64_t)end : 0;
        /* conn.c made return=fd on TCP a stream */
        x = rq->ret;
    }
    ward_err err = ward_mailproto_encode_reply(res, NULL, x, size, &j->reply, &d);
    if (!err && x == WARD_MAILPROTO_STREAM)
        err = append_chunks(&j->reply, res->out_fd, size, &d);
    if (err) {
        ward_buf_reset(&j->reply);
        if (ward_mailproto_encode_reply(NULL, d.msg, WARD_MAILPROTO_UNCHANGED, 0, &j->reply, &d))
            ward_log(WARD_LOG_ERROR, "MAILSCAN: cannot encode a reply: %s", d.msg);
        return;
    }
    if (x == WARD_MAILPROTO_FD) {
        j->out_fd = res->out_fd;
        res->out_fd = -1;
    }
}

void mailjob_fail(struct job *j, const char *why)
{
    struct ward_diag d;
    ward_log(WARD_LOG_WARNING, "MAILSCAN deferred: %s", why);
    __atomic_add_fetch(&wardd_stats.errors, 1, __ATOMIC_RELAXED);
    ward_buf_reset(&j->reply);
    if (ward_mailproto_encode_reply(NULL, why, WARD_MAILPROTO_UNCHANGED, 0, &j->reply, &d))
        ward_log(WARD_LOG_ERROR, "MAILSCAN: cannot encode a reply: %s", d.msg);
}

void mailjob_run(struct job *j, ward_scanner *sc)
{
    int fd = j->fd;
    if (fd < 0) {
        const uint8_t *mem;
        ward_tmpspool_view(&j->stream, &mem, &fd);
        if (fd < 0 && j->stream.size == 0)
            fd = j->fd = ward_tmpfile(wardd_tmpdir[0] ? wardd_tmpdir : NULL); /* empty */
    }
    struct mail_cfg *c = acquire();
    if (!sc || !c || fd < 0) {
        mailjob_fail(j, !sc ? "no database loaded" : !c ? "no configuration" : "no message");
        cfg_unref(c);
        loop_complete(j);
        return;
    }
    char dbv[128];
    wardd_db_version(dbv, sizeof dbv);
    struct ward_mail_ctx ctx = {
        .scanner = sc,
        .conf = c->conf,
        .users = c->users,
        .open_store = open_store,
        .open_store_arg = c,
        .hostname = c->hostname,
        .db_version = dbv,
        .outbox = outbox(),
    };
    ctx.scan.limits = wardd_limits;
    ctx.scan.tmpdir = wardd_tmpdir[0] ? wardd_tmpdir : NULL;
    ctx.scan.cache = wardd_cache();
    struct ward_mail_env env;
    ward_mailproto_req_env(j->mail, &env);
    struct ward_mail_result res;
    memset(&res, 0, sizeof res);
    res.out_fd = -1;
    struct ward_diag d;
    if (ward_mail_process(&ctx, fd, &env, &res, &d)) {
        mailjob_fail(j, d.msg);
    } else {
        __atomic_add_fetch(&wardd_stats.scans, 1, __ATOMIC_RELAXED);
        if (res.scan.n_det)
            __atomic_add_fetch(&wardd_stats.infected, 1, __ATOMIC_RELAXED);
        log_result(j->mail, &res);
        reply_result(j, &res);
    }
    ward_mail_result_free(&res);
    cfg_unref(c);
    loop_complete(j);
}
