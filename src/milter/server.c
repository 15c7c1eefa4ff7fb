/*
 * server.c - the accept loop (see server.h).
 *
 * One thread per MTA connection, as libmilter and clamav-milter have, but
 * each thread reads its own socket with blocking reads into a big buffer
 * (session.c): no central poll thread, no hand-off per packet.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"
#include "server.h"
#include "util/file.h"
#include "util/log.h"
#include "util/tcp.h"

#define MAX_SESSIONS 1000u        /* far above what MTAs open; guards memory and threads */
#define THREAD_STACK (256u << 10) /* the handlers keep nothing big on the stack */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static unsigned active;

struct mta_sock {
    int fd;
    bool tcp;
};

static ssize_t sock_read(void *ctx, void *buf, size_t n, bool wait_all)
{
    const struct mta_sock *m = ctx;
    for (;;) {
        ssize_t r = recv(m->fd, buf, n, wait_all ? MSG_WAITALL : 0);
        /* Postfix writes MAIL and RCPT from smtpd, then the message from cleanup, with
           Nagle on and no reply wanted in between: without an ACK at once, the
           message's last write waits for our delayed ACK (40 ms) */
        if (r > 0 && m->tcp)
            ward_tcp_quickack(m->fd);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int sock_write(void *ctx, const void *buf, size_t n)
{
    /* SIGPIPE is ignored (main.c): a gone MTA is an error here */
    return ward_write_full(((const struct mta_sock *)ctx)->fd, buf, n) == WARD_OK ? 0 : -1;
}

static void *session_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct mta_sock m = {fd, ward_is_tcp(fd)};
    if (m.tcp)
        ward_tcp_nodelay(fd); /* replies are written whole (util/tcp.h) */
    struct milter_io io = {sock_read, sock_write, &m};
    struct ward_diag d;
    if (milter_session_run(&io, &d))
        ward_log(WARD_LOG_WARNING, "MTA connection ended: %s", d.msg);
    close(fd);
    pthread_mutex_lock(&lock);
    active--;
    pthread_cond_signal(&ended);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void start_session(int fd, unsigned timeout_s, const pthread_attr_t *attr)
{
    struct timeval tv = {.tv_sec = timeout_s};
    if (timeout_s && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
                      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0))
        ward_log(WARD_LOG_WARNING, "cannot set the MTA timeout: %s", strerror(errno));
    pthread_mutex_lock(&lock);
    bool full = active >= MAX_SESSIONS;
    if (!full)
        active++;
    pthread_mutex_unlock(&lock);
    if (full) {
        ward_log(WARD_LOG_WARNING, "%u MTA connections open: connection refused", MAX_SESSIONS);
        close(fd);
        return;
    }
    pthread_t t;
    int rc = pthread_create(&t, attr, session_thread, (void *)(intptr_t)fd);
    if (rc != 0) {
        ward_log(WARD_LOG_ERROR, "cannot start a session thread: %s", strerror(rc));
        close(fd);
        pthread_mutex_lock(&lock);
        active--;
        pthread_mutex_unlock(&lock);
    }
}

/* Wait up to drain_s seconds for the sessions to end; how many are still open. */
static unsigned drain(unsigned drain_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += drain_s;
    pthread_mutex_lock(&lock);
    while (active > 0 && pthread_cond_timedwait(&ended, &lock, &until) != ETIMEDOUT)
        ;
    unsigned left = active;
    pthread_mutex_unlock(&lock);
    return left;
}

ward_err milter_serve(int lfd, unsigned timeout_s, unsigned drain_s, struct ward_diag *diag)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "signalfd: %s", strerror(errno));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    ward_err err = WARD_OK;
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            err = ward_diag_set(diag, WARD_ERR_IO, "poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                ward_log(WARD_LOG_NOTICE, "%s: no new MTA connections, finishing the open ones",
                         strsignal((int)si.ssi_signo));
            break;
        }
        if (!p[0].revents)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                ward_log(WARD_LOG_WARNING, "accept: %s", strerror(errno));
            if (errno == EMFILE || errno == ENFILE)
                usleep(100000); /* let sessions end before trying again */
            continue;
        }
        start_session(fd, timeout_s, &attr);
    }
    pthread_attr_destroy(&attr);
    close(sfd);
    close(lfd);
    unsigned left = drain(drain_s);
    if (left)
        ward_log(WARD_LOG_WARNING, "%u MTA connections still open after %us: closed", left,
                 drain_s);
    return err;
}
