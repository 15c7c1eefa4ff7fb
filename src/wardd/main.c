/*
 * main.c - wardd: start-up, signals and the event loop.
 *
 * Order of start-up: read and check the configuration (a bad file stops us
 * with file:line messages), bind the sockets and write the pid file while
 * still privileged, go to the background, drop to [wardd] user, then load the
 * database as that user (parsing signature files is work for the
 * unprivileged), start the workers and serve.
 *
 * Signals: SIGTERM/SIGINT stop (running scans finish, bounded by
 * SHUTDOWN_GRACE), SIGHUP re-reads the configuration and reopens the log
 * (a configuration with errors is refused, the old one stays), SIGUSR2
 * reloads the database.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/dsig.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/startup.h"
#include "ward_config.h"
#include "wardd.h"

#define SHUTDOWN_GRACE 30 /* seconds for running scans at shutdown */

struct ward_scan_limits wardd_limits;
char wardd_tmpdir[PATH_MAX];
struct wardd_stats wardd_stats;

static struct {
    struct event_base *base;
    struct wardd_cfg cfg;
    int listen_fds[2];
    struct event *listen_ev[2];
    int done_fd; /* eventfd: workers -> loop */
    pthread_mutex_t done_lock;
    struct job *done_head, *done_tail;
    bool stopping;
    time_t stop_deadline;
    int pid_fd;
    bool foreground;
} M = {.listen_fds = {-1, -1}, .done_fd = -1, .done_lock = PTHREAD_MUTEX_INITIALIZER,
       .pid_fd = -1};

/* ---- completions from workers ------------------------------------------- */

/*
 * A worker's finished job goes to the loop. Only the job that finds the list
 * empty wakes the loop: on_done reads the eventfd before it takes the list,
 * so a job added to a list not yet taken is in the batch that wake-up takes
 * (under load, one write and one wake-up serve several jobs).
 */
void loop_complete(struct job *j)
{
    pthread_mutex_lock(&M.done_lock);
    j->next = NULL;
    bool wake = M.done_head == NULL;
    if (M.done_tail)
        M.done_tail->next = j;
    else
        M.done_head = j;
    M.done_tail = j;
    pthread_mutex_unlock(&M.done_lock);
    uint64_t one = 1;
    if (wake)
        (void)!write(M.done_fd, &one, sizeof one);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    uint64_t v;
    (void)!read(fd, &v, sizeof v);
    pthread_mutex_lock(&M.done_lock);
    struct job *j = M.done_head;
    M.done_head = M.done_tail = NULL;
    pthread_mutex_unlock(&M.done_lock);
    while (j) {
        struct job *next = j->next;
        conn_finish_job(j);
        j = next;
    }
    conn_pump_waiting();
}

/* ---- stopping ------------------------------------------------------------ */

void loop_request_stop(void)
{
    if (M.stopping)
        return;
    M.stopping = true;
    M.stop_deadline = time(NULL) + SHUTDOWN_GRACE;
    for (int i = 0; i < 2; i++) {
        if (M.listen_ev[i]) {
            event_free(M.listen_ev[i]);
            M.listen_ev[i] = NULL;
        }
        if (M.listen_fds[i] >= 0) {
            close(M.listen_fds[i]);
            M.listen_fds[i] = -1;
        }
    }
    if (M.cfg.socket_path[0])
        unlink(M.cfg.socket_path);
    conn_drain_all();
}

/* ---- events ------------------------------------------------------------- */

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bool unix_sock = arg != NULL;
    for (int i = 0; i < 64; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                ward_log(WARD_LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        conn_accept(c, unix_sock);
    }
}

static void apply_runtime_settings(const struct wardd_cfg *cfg)
{
    wardd_limits = cfg->limits;
    snprintf(wardd_tmpdir, sizeof wardd_tmpdir, "%s", cfg->tmp_dir);
}

static bool open_log(const struct wardd_cfg *cfg, struct ward_diag *d)
{
    return ward_startup_log("wardd", cfg->log_file, cfg->log_level, cfg->syslog, M.foreground,
                            d) == WARD_OK;
}

static void report_config(void *ctx, const char *msg)
{
    (void)ctx;
    ward_log(WARD_LOG_ERROR, "%s", msg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGTERM || sig == SIGINT) {
        ward_log(WARD_LOG_NOTICE, "stopping (signal %d)", (int)sig);
        loop_request_stop();
    } else if (sig == SIGUSR2) {
        wardd_db_request_reload("SIGUSR2");
    } else if (sig == SIGHUP) {
        struct wardd_cfg next;
        struct ward_diag d;
        if (!wardd_cfg_load(M.cfg.config_path[0] ? M.cfg.config_path : NULL, &next,
                            report_config, NULL)) {
            ward_log(WARD_LOG_ERROR, "SIGHUP: the configuration has errors; keeping the "
                                     "current one");
            return;
        }
        if (strcmp(next.socket_path, M.cfg.socket_path) || strcmp(next.tcp_listen, M.cfg.tcp_listen) ||
            next.max_threads != M.cfg.max_threads || strcmp(next.user, M.cfg.user))
            ward_log(WARD_LOG_WARNING, "SIGHUP: sockets, threads and user change only with a "
                                       "restart");
        /* Keep what needs a restart, take the rest. */
        memcpy(next.socket_path, M.cfg.socket_path, sizeof next.socket_path);
        memcpy(next.tcp_listen, M.cfg.tcp_listen, sizeof next.tcp_listen);
        next.max_threads = M.cfg.max_threads;
        memcpy(next.user, M.cfg.user, sizeof next.user);
        M.cfg = next;
        if (!open_log(&M.cfg, &d))
            fprintf(stderr, "wardd: %s\n", d.msg);
        apply_runtime_settings(&M.cfg);
        wardd_db_configure(&M.cfg);
        wardd_autoupdate_configure(M.cfg.config_path[0] ? M.cfg.config_path : NULL);
        if (!mailjob_configure(M.cfg.config_path[0] ? M.cfg.config_path : NULL))
            ward_log(WARD_LOG_ERROR, "SIGHUP: the mail policy (user_config) has errors; keeping "
                                     "the current one");
        ward_log(WARD_LOG_NOTICE, "SIGHUP: configuration re-read, log reopened");
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    conn_sweep();
    wardd_db_tick();
    if (!M.stopping)
        wardd_autoupdate_tick();
    if (M.stopping && (!conn_busy() || time(NULL) >= M.stop_deadline))
        event_base_loopbreak(M.base);
}

/* ---- start-up ----------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct ward_startup st;
    enum ward_startup_cmd cmd = ward_startup_args(argc, argv, true, &st);
    if (cmd != WARD_STARTUP_RUN)
        return ward_startup_answer(cmd, "wardd");
    M.foreground = st.foreground;
    bool compile_only = st.compile_only;
    const char *config = st.config;

    struct ward_diag d;
    if (ward_log_open(WARD_LOG_STDERR, "wardd", NULL, WARD_LOG_NOTICE, &d))
        return 2;
    if (!wardd_cfg_load(config, &M.cfg, report_config, NULL)) {
        ward_log(WARD_LOG_ERROR, "%s: configuration has errors; not starting",
                 config ? config : "(defaults)");
        return 2;
    }
    if (!compile_only && !mailjob_configure(M.cfg.config_path[0] ? M.cfg.config_path : NULL)) {
        ward_log(WARD_LOG_ERROR, "the mail policy has errors; not starting");
        return 2;
    }
    apply_runtime_settings(&M.cfg);
    if (compile_only) {
        /* the daemon's helper: load and compile into the cache, then exit */
        struct ward_db_opts o = {0};
        const char *paths[] = {M.cfg.database_dir};
        o.cache_dir = M.cfg.cache_dir;
        char *keys[4] = {NULL, NULL, NULL, NULL};
        const char *pems[2] = {M.cfg.cvd_key, M.cfg.info_key};
        for (int i = 0; i < 2; i++)
            if (pems[i][0] && ward_dsig_load_pem(pems[i], &keys[2 * i], &keys[2 * i + 1], &d))
                return 2;
        o.keys.cvd_n = keys[0];
        o.keys.cvd_e = keys[1];
        o.keys.info_n = keys[2];
        o.keys.info_e = keys[3];
        ward_db *db = NULL;
        ward_err e = ward_db_load(paths, 1, &o, &db, &d);
        ward_db_unref(db);
        return e ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The socket exists before the database is loaded (clients queue rather
       than fail), so a reload or SIGHUP may come before its handler is set:
       hold them until then rather than die by their default action. Threads
       started meanwhile keep them blocked; the event loop's thread takes them. */
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGHUP);
    sigaddset(&held, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &held, NULL);

    /* Privileged part: sockets and the pid file. */
    if (M.cfg.socket_path[0] && (M.listen_fds[0] = listen_unix(&M.cfg, &d)) < 0) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (M.cfg.tcp_listen[0] && (M.listen_fds[1] = listen_tcp(M.cfg.tcp_listen, &d)) < 0) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (ward_startup_detach(M.cfg.pid_file, M.foreground, &M.pid_fd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (!open_log(&M.cfg, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (M.cfg.pid_file[0] && M.cfg.user[0] && geteuid() == 0) {
        uid_t uid;
        gid_t gid;
        if (!ward_user_ids(M.cfg.user, &uid, &gid, &d) && fchown(M.pid_fd, uid, gid) != 0)
            ward_log(WARD_LOG_WARNING, "cannot chown the pid file");
    }
    if (ward_drop_privileges(M.cfg.user, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }

    /* Unprivileged from here. */
    if (!wardd_db_start(&M.cfg, &d)) {
        ward_log(WARD_LOG_ERROR, "cannot load the database: %s", d.msg);
        ward_pidfile_remove(M.cfg.pid_file, M.pid_fd);
        return 2;
    }
    if (!pool_start(M.cfg.max_threads, M.cfg.max_queue)) {
        ward_log(WARD_LOG_ERROR, "cannot start worker threads");
        return 2;
    }
    M.base = event_base_new();
    M.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!M.base || M.done_fd < 0) {
        ward_log(WARD_LOG_ERROR, "cannot set up the event loop");
        return 2;
    }
    conn_setup(M.base, &M.cfg);
    wardd_autoupdate_configure(M.cfg.config_path[0] ? M.cfg.config_path : NULL);
    for (int i = 0; i < 2; i++)
        if (M.listen_fds[i] >= 0) {
            M.listen_ev[i] = event_new(M.base, M.listen_fds[i], EV_READ | EV_PERSIST, on_accept,
                                       i == 0 ? (void *)1 : NULL);
            event_add(M.listen_ev[i], NULL);
        }
    struct event *done = event_new(M.base, M.done_fd, EV_READ | EV_PERSIST, on_done, NULL);
    event_add(done, NULL);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2};
    struct event *sev[4];
    for (int i = 0; i < 4; i++) {
        sev[i] = evsignal_new(M.base, sigs[i], on_signal, NULL);
        event_add(sev[i], NULL);
    }
    pthread_sigmask(SIG_UNBLOCK, &held, NULL);
    struct timeval second = {1, 0};
    struct event *tick = event_new(M.base, -1, EV_PERSIST, on_tick, NULL);
    event_add(tick, &second);

    ward_log(WARD_LOG_NOTICE, "wardd %s ready%s%s%s%s", WARD_VERSION,
             M.cfg.socket_path[0] ? " on " : "", M.cfg.socket_path,
             M.cfg.tcp_listen[0] ? " and tcp " : "", M.cfg.tcp_listen);
    event_base_dispatch(M.base);

    ward_log(WARD_LOG_NOTICE, "shutting down");
    pool_stop();
    mailjob_stop();
    /* the last completions */
    on_done(M.done_fd, 0, NULL);
    event_free(tick);
    for (int i = 0; i < 4; i++)
        event_free(sev[i]);
    event_free(done);
    for (int i = 0; i < 2; i++)
        if (M.listen_ev[i])
            event_free(M.listen_ev[i]);
    event_base_free(M.base);
    wardd_db_stop();
    ward_pidfile_remove(M.cfg.pid_file, M.pid_fd);
    ward_log(WARD_LOG_NOTICE, "stopped");
    ward_log_close();
    return 0;
}
