/*
 * scan.c - the spooled message to wardd (MAILSCAN, proto/mailproto.h) and
 * the policy's answer back to the session.
 *
 * With wardd on a unix socket the request goes from the event loop itself
 * and the reply is read there (scan_async.c). Otherwise the call to wardd
 * blocks, so it runs in a small pool of worker threads; the event loop never
 * waits. A worker hands its result back by activating the session's
 * scan_done event (libevent is set up for threads). While a scan runs, the
 * session stays allocated even if its client goes away.
 *
 * Any failure to get an answer (wardd down, timeout, garbage) is a 4xx:
 * the client keeps the message and tries again.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/script.h"
#include "proto/mailproto.h"
#include "scan_async.h"
#include "smtpd.h"
#include "util/log.h"

struct smtpd_scanjob {
    struct smtpd_scanjob *next;
    struct smtpd_session *s;
    struct ward_mail_env env;
    const char **rcpts;
    ward_err err;
    struct ward_diag diag;
    struct ward_mailproto_reply reply;
    int64_t deadline_ms; /* end of data + scan_timeout: a wait for a thread counts too */
};

struct smtpd_scanpool {
    struct smtpd *sd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct smtpd_scanjob *head, *tail;
    pthread_t *threads;
    unsigned n_threads;
    bool stop;
};

/* The one place that talks to wardd, with what is left of the job's time. */
static ward_err scan_call(const struct smtpd_cfg *cfg, int fd, struct smtpd_scanjob *j)
{
    int64_t left = j->deadline_ms - ward_clock_ms();
    if (left <= 0)
        return ward_diag_set(&j->diag, WARD_ERR_TIMEOUT,
                             "scan_timeout passed while waiting for a scanning thread");
    return ward_mailproto_scan(cfg->wardd, fd, &j->env, (unsigned)left, cfg->tmp_dir, &j->reply,
                               &j->diag);
}

static void *worker(void *arg)
{
    struct smtpd_scanpool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        struct smtpd_scanjob *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->err = scan_call(p->sd->cfg, j->s->spool_fd, j);
        event_active(j->s->scan_done, EV_READ, 0);
    }
}

struct smtpd_scanpool *smtpd_scanpool_new(struct smtpd *sd, unsigned threads)
{
    struct smtpd_scanpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sd = sd;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc(threads, sizeof *p->threads);
    for (unsigned i = 0; p->threads && i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->n_threads++;
    }
    if (!p->n_threads) {
        smtpd_scanpool_free(p);
        return NULL;
    }
    return p;
}

void smtpd_scanpool_free(struct smtpd_scanpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static void job_free(struct smtpd_scanjob *j)
{
    if (!j)
        return;
    ward_mailproto_reply_free(&j->reply);
    free(j->rcpts);
    free(j);
}

/* wardd's reply text when it has the class the action needs, else ours. */
static const char *text_or(const char *text, char cls, const char *fallback)
{
    return text && text[0] == cls && strlen(text) >= 3 ? text : fallback;
}

/* The message fd for the next hop: wardd's changed copy, or the spool. */
static int message_fd(struct smtpd_session *s, struct ward_mailproto_reply *r)
{
    int out = r->msg_fd >= 0 ? r->msg_fd : s->spool_fd;
    r->msg_fd = -1;
    return out;
}

/*
 * Recipients whose policies differ: those to accept keep the message, the
 * others get their own reply (an LMTP client sees each; an SMTP client the
 * next hop's reply for the kept ones). An SMTP client can take one reply
 * only, so one deferred recipient defers the message for all: nothing is
 * lost, and nothing was delivered yet.
 */
static void per_rcpt(struct smtpd_session *s, struct smtpd_scanjob *j)
{
    struct ward_mailproto_reply *r = &j->reply;
    const char *defer = NULL;
    for (size_t i = 0; i < s->n_rcpts; i++) {
        const struct ward_mailproto_rcpt *q = &r->rcpts[i];
        struct smtpd_rcpt *d = &s->rcpts[i];
        if (q->action == WARD_MAIL_ACCEPT)
            continue;
        const char *t = q->action == WARD_MAIL_DISCARD ? "250 2.7.0 Ok: discarded by policy"
                        : q->action == WARD_MAIL_REJECT
                            ? text_or(q->reply, '5', "554 5.7.1 Error: message rejected")
                            : text_or(q->reply, '4', "451 4.7.1 Error: message deferred");
        if (q->action == WARD_MAIL_DEFER && !defer)
            defer = t;
        ward_log(WARD_LOG_NOTICE, "%s: <%s>: %s %s", s->peer, d->addr,
                 ward_mail_action_name(q->action), ward_mail_status_name(q->status));
        d->fwd = false;
        free(d->reply);
        size_t n = strlen(t);
        d->reply = malloc(n + 3);
        if (d->reply)
            snprintf(d->reply, n + 3, "%s\r\n", t);
    }
    if (defer && !s->sd->cfg->listen_lmtp) {
        char t[WARD_SMTP_MAX_REPLY];
        snprintf(t, sizeof t, "%s", defer);
        job_free(j);
        smtpd_forward_discard(s, t);
        return;
    }
    int fd = message_fd(s, r);
    job_free(j);
    smtpd_forward_some(s, fd);
}

static void scan_done(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;
    struct smtpd_scanjob *j = s->job;
    (void)fd, (void)what;
    s->busy_scan = false;
    s->job = NULL;
    if (s->dead) {
        job_free(j);
        smtpd_session_free(s);
        return;
    }
    if (j->err) {
        s->spool_lent = true;
        ward_log(WARD_LOG_WARNING, "%s: from=<%s> nrcpt=%zu: scan failed, deferred: %s",
                 s->peer, s->sender, s->n_rcpts, j->diag.msg);
        job_free(j);
        smtpd_forward_discard(s, "451 4.3.0 Error: virus scanner unavailable, try again later");
        return;
    }
    struct ward_mailproto_reply *r = &j->reply;
    char dets[512] = "";
    for (size_t i = 0; i < r->n_det && strlen(dets) < sizeof dets - 64; i++)
        snprintf(dets + strlen(dets), sizeof dets - strlen(dets), " %s=%s", r->det[i].verdict,
                 r->det[i].name);
    ward_log(WARD_LOG_NOTICE, "%s: from=<%s> nrcpt=%zu size=%llu: %s %s%s%s%s", s->peer,
             s->sender, s->n_rcpts, (unsigned long long)s->msg_size,
             ward_mail_action_name(r->action), ward_mail_status_name(r->status), dets,
             r->quarantine_id ? " quarantine=" : "", r->quarantine_id ? r->quarantine_id : "");
    if (r->n_rcpts && r->n_rcpts == s->n_rcpts) {
        per_rcpt(s, j);
        return;
    }
    switch (r->action) {
    case WARD_MAIL_ACCEPT: {
        int out = message_fd(s, r);
        job_free(j);
        smtpd_forward_start(s, out);
        return;
    }
    case WARD_MAIL_DISCARD:
        smtpd_forward_discard(s, "250 2.7.0 Ok: discarded by policy");
        break;
    case WARD_MAIL_REJECT:
        smtpd_forward_discard(s, text_or(r->reply, '5', "554 5.7.1 Error: message rejected"));
        break;
    default:
        smtpd_forward_discard(s, text_or(r->reply, '4', "451 4.7.1 Error: message deferred"));
        break;
    }
    job_free(j);
}

/* The answer of a scan sent from the loop: on as a worker's would go. */
static void ascan_done(void *arg, ward_err err, struct ward_diag *diag,
                       struct ward_mailproto_reply *reply)
{
    struct smtpd_session *s = arg;
    struct smtpd_scanjob *j = s->job;
    j->err = err;
    if (err)
        j->diag = *diag;
    else
        j->reply = *reply; /* the job owns it now */
    scan_done(-1, 0, s);
}

void smtpd_scan_start(struct smtpd_session *s)
{
    struct smtpd_scanpool *p = s->sd->pool;
    struct smtpd_scanjob *j = calloc(1, sizeof *j);
    if (j)
        j->rcpts = calloc(s->n_rcpts, sizeof *j->rcpts);
    if (!s->scan_done)
        s->scan_done = event_new(s->sd->base, -1, 0, scan_done, s);
    if (!j || !j->rcpts || !s->scan_done || !p) {
        job_free(j);
        smtpd_forward_discard(s, "451 4.3.0 Error: out of memory");
        return;
    }
    j->reply.msg_fd = -1;
    j->s = s;
    unsigned t = s->sd->cfg->scan_timeout_ms;
    j->deadline_ms = ward_clock_ms() + (t ? t : 240000); /* 0: the default */
    for (size_t i = 0; i < s->n_rcpts; i++)
        j->rcpts[i] = s->rcpts[i].addr;
    /* XFORWARD tells who the client's client was: that is what policy wants */
    j->env.sender = s->sender;
    j->env.rcpts = j->rcpts;
    j->env.n_rcpts = s->n_rcpts;
    j->env.client_addr = s->xf[XF_ADDR] ? s->xf[XF_ADDR] : s->peer;
    j->env.helo = s->xf[XF_HELO] ? s->xf[XF_HELO] : s->helo;
    j->env.agent = "smtp";
    s->job = j;
    s->busy_scan = true;
    s->state = ST_SCAN;
    if (smtpd_ascan_start(s->sd->base, s->sd->cfg->wardd, s->spool_fd, &j->env, j->deadline_ms,
                          ascan_done, s))
        return;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
