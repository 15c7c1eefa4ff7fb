/* outbox.c - notices and exec_script runs after the answer (see outbox.h). */
#include "mail/outbox.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/script.h"
#include "util/log.h"

enum item_kind { ITEM_NOTICE, ITEM_PROGRAM };

struct item {
    struct item *next;
    enum item_kind kind;
    size_t bytes; /* what it holds, for max_bytes */
    char what[256];
    /* ITEM_NOTICE */
    char *sendmail_path, *relay, *helo;
    unsigned timeout_ms;
    char **rcpts;
    size_t n_rcpts;
    ward_buf msg;
    /* ITEM_PROGRAM */
    char *path;
    char **envp; /* NULL-terminated */
    uint64_t program_timeout_ms;
};

struct ward_outbox {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    struct item *head, *tail;
    unsigned n_items, max_items, running;
    size_t bytes, max_bytes;
    bool stop;
    bool orphaned; /* left to its thread at shutdown: the thread frees it */
    pthread_t thread;
};

static void destroy(ward_outbox *o)
{
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->idle);
    free(o);
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void item_free(struct item *it)
{
    if (!it)
        return;
    free(it->sendmail_path);
    free(it->relay);
    free(it->helo);
    for (size_t i = 0; i < it->n_rcpts; i++)
        free(it->rcpts[i]);
    free(it->rcpts);
    ward_buf_free(&it->msg);
    free(it->path);
    strv_free(it->envp);
    free(it);
}

static void run(struct item *it)
{
    struct ward_diag d = {{0}};
    ward_err err;
    if (it->kind == ITEM_NOTICE) {
        struct ward_sendmsg s = {it->sendmail_path, it->relay, it->helo, it->timeout_ms};
        err = ward_sendmsg(&s, "", (const char *const *)it->rcpts, it->n_rcpts, it->msg.data,
                           it->msg.len, &d);
    } else {
        const char *argv[] = {it->path, NULL};
        pid_t pid;
        err = ward_spawn(argv, (const char *const *)it->envp, -1, &pid, &d);
        if (!err)
            err = ward_spawn_wait(pid, ward_clock_ms() + (int64_t)it->program_timeout_ms,
                                  it->path, &d);
    }
    if (err)
        WARD_LOG_WARN("%s not done: %s", it->what, d.msg);
}

static void *worker(void *arg)
{
    ward_outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->head && !o->stop)
            pthread_cond_wait(&o->wake, &o->mu);
        struct item *it = o->head;
        if (!it)
            break; /* stopped and empty */
        o->head = it->next;
        if (!o->head)
            o->tail = NULL;
        o->running = 1;
        pthread_mutex_unlock(&o->mu);
        run(it);
        pthread_mutex_lock(&o->mu);
        o->running = 0;
        o->n_items--;
        o->bytes -= it->bytes;
        item_free(it);
        pthread_cond_broadcast(&o->idle);
    }
    bool orphaned = o->orphaned;
    pthread_mutex_unlock(&o->mu);
    if (orphaned)
        destroy(o);
    return NULL;
}

ward_err ward_outbox_new(unsigned max_items, size_t max_bytes, ward_outbox **out)
{
    *out = NULL;
    ward_outbox *o = calloc(1, sizeof *o);
    if (!o)
        return WARD_ERR_NOMEM;
    o->max_items = max_items;
    o->max_bytes = max_bytes;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->wake, NULL);
    pthread_cond_init(&o->idle, NULL);
    /* the thread takes no signal: they are the daemon's main loop's */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&o->thread, NULL, worker, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        destroy(o);
        return WARD_ERR_NOMEM;
    }
    *out = o;
    return WARD_OK;
}

void ward_outbox_free(ward_outbox *o, unsigned drain_ms)
{
    if (!o)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += drain_ms / 1000;
    until.tv_nsec += (long)(drain_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&o->mu);
    while (o->n_items && pthread_cond_timedwait(&o->idle, &o->mu, &until) == 0)
        ;
    /* what has not started by now is dropped; the one running finishes */
    unsigned dropped = 0;
    while (o->head) {
        struct item *it = o->head;
        o->head = it->next;
        WARD_LOG_WARN("%s dropped at shutdown", it->what);
        item_free(it);
        dropped++;
    }
    o->tail = NULL;
    o->n_items -= dropped;
    o->stop = true;
    pthread_cond_broadcast(&o->wake);
    if (o->running) {
        /* a relay or script past the drain time: not waited for; the
           thread frees `o` when it is done, or the process ends first */
        WARD_LOG_WARN("one notice or script still running at shutdown");
        o->orphaned = true;
        pthread_detach(o->thread);
        pthread_mutex_unlock(&o->mu);
        return;
    }
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    destroy(o);
}

/* Queue it, or false (the caller keeps ownership of what it gave). */
static bool enqueue(ward_outbox *o, struct item *it)
{
    pthread_mutex_lock(&o->mu);
    bool ok = !o->stop && o->n_items < o->max_items && o->bytes + it->bytes <= o->max_bytes;
    if (ok) {
        if (o->tail)
            o->tail->next = it;
        else
            o->head = it;
        o->tail = it;
        o->n_items++;
        o->bytes += it->bytes;
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&o->mu);
    return ok;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool ward_outbox_notice(ward_outbox *o, const struct ward_sendmsg *s, const char *const *rcpts,
                        size_t n_rcpts, ward_buf *msg, const char *what)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return false;
    it->kind = ITEM_NOTICE;
    snprintf(it->what, sizeof it->what, "%s", what);
    it->sendmail_path = dup_or_null(s->sendmail_path);
    it->relay = dup_or_null(s->relay);
    it->helo = dup_or_null(s->helo);
    it->timeout_ms = s->timeout_ms;
    it->rcpts = calloc(n_rcpts ? n_rcpts : 1, sizeof *it->rcpts);
    bool ok = it->rcpts && (!s->sendmail_path || it->sendmail_path) &&
              (!s->relay || it->relay) && (!s->helo || it->helo);
    for (size_t i = 0; ok && i < n_rcpts; i++, it->n_rcpts++)
        ok = (it->rcpts[i] = strdup(rcpts[i] ? rcpts[i] : "")) != NULL;
    it->bytes = sizeof *it + msg->len;
    if (ok) {
        it->msg = *msg; /* taken only if queued: given back below otherwise */
        if (enqueue(o, it)) {
            ward_buf_init(msg, msg->cap);
            return true;
        }
        memset(&it->msg, 0, sizeof it->msg);
    }
    item_free(it);
    return false;
}

bool ward_outbox_program(ward_outbox *o, const char *path, char **envp, uint64_t timeout_ms)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it || !(it->path = strdup(path))) {
        free(it);
        return false;
    }
    it->kind = ITEM_PROGRAM;
    snprintf(it->what, sizeof it->what, "exec_script %s", path);
    it->program_timeout_ms = timeout_ms;
    it->bytes = sizeof *it;
    for (size_t i = 0; envp[i]; i++)
        it->bytes += strlen(envp[i]) + 1;
    it->envp = envp;
    if (enqueue(o, it))
        return true;
    it->envp = NULL; /* still the caller's */
    item_free(it);
    return false;
}

unsigned ward_outbox_pending(ward_outbox *o)
{
    pthread_mutex_lock(&o->mu);
    unsigned n = o->n_items;
    pthread_mutex_unlock(&o->mu);
    return n;
}
