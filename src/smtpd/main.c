/*
 * main.c - ward-smtpd: start-up, signals and the event loop.
 *
 * Order of start-up, as the other daemons: read and check the
 * configuration, bind the port and write the pid file while still
 * privileged, go to the background, drop to [smtp] user. SIGTERM/SIGINT
 * stop at once: a message whose final reply was not sent is the client's
 * to retry, so nothing is lost. SIGHUP reopens the log.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>
#include <event2/thread.h>

#include "proto/mailproto.h"
#include "smtpd.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/startup.h"
#include "ward_config.h"

#define KEPT_WARDD_CONNECTIONS 64

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    ward_log(WARD_LOG_ERROR, "%s", msg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct smtpd *sd = arg;
    (void)what;
    if (sig == SIGHUP) {
        struct ward_diag d;
        if (ward_log_reopen(&d))
            fprintf(stderr, "ward-smtpd: %s\n", d.msg);
        ward_log(WARD_LOG_NOTICE, "SIGHUP: log reopened");
        return;
    }
    ward_log(WARD_LOG_NOTICE, "stopping (signal %d) after %llu messages", (int)sig,
             (unsigned long long)sd->n_msgs);
    event_base_loopbreak(sd->base);
}

int main(int argc, char **argv)
{
    struct ward_startup st;
    enum ward_startup_cmd cmd = ward_startup_args(argc, argv, false, &st);
    if (cmd != WARD_STARTUP_RUN)
        return ward_startup_answer(cmd, "ward-smtpd");
    const char *config = st.config;
    bool foreground = st.foreground;
    struct ward_diag d;
    if (ward_log_open(WARD_LOG_STDERR, "ward-smtpd", NULL, WARD_LOG_NOTICE, &d))
        return 2;
    static struct smtpd_cfg cfg;
    if (!smtpd_cfg_load(config, &cfg, report, NULL)) {
        ward_log(WARD_LOG_ERROR, "%s: configuration has errors; not starting",
                 config ? config : "defaults");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* lmtp:(COMMAND) children are reaped by the kernel */
    struct sigaction sa = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    evthread_use_pthreads();
    static struct smtpd sd;
    sd.cfg = &cfg;
    /* the changelist folds the add and delete of a write event around one write
       into at most one epoll_ctl (ward-smtpd makes no dup'ed descriptors, the
       changelist's one caveat) */
    struct event_config *ecfg = event_config_new();
    if (ecfg)
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    sd.base = ecfg ? event_base_new_with_config(ecfg) : NULL;
    if (ecfg)
        event_config_free(ecfg);
    if (!sd.base) {
        ward_log(WARD_LOG_ERROR, "cannot create the event loop");
        return 2;
    }
    sd.tls_ctx = smtpd_tls_ctx(&cfg, &d);
    if (cfg.tls_cert[0] && !sd.tls_ctx) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (!smtpd_listen(&sd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    int pid_fd;
    if (ward_startup_detach(cfg.pid_file, foreground, &pid_fd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (ward_startup_log("ward-smtpd", cfg.log_file, cfg.log_level, cfg.syslog, foreground, &d)) {
        fprintf(stderr, "ward-smtpd: %s\n", d.msg);
        return 2;
    }
    if (ward_drop_privileges(cfg.user, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        ward_pidfile_remove(cfg.pid_file, pid_fd);
        return 2;
    }
    /* wardd connections kept from message to message: as many as messages are
       scanned at once, which is not bounded by the threads (the loop sends
       most requests itself) */
    ward_mailproto_keep_connections(cfg.scan_threads > KEPT_WARDD_CONNECTIONS
                                        ? cfg.scan_threads : KEPT_WARDD_CONNECTIONS);
    /* after the fork: threads do not survive it */
    if (cfg.scan && !(sd.pool = smtpd_scanpool_new(&sd, cfg.scan_threads))) {
        ward_log(WARD_LOG_ERROR, "cannot start the scanning threads");
        ward_pidfile_remove(cfg.pid_file, pid_fd);
        return 2;
    }
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct event *sev[3];
    for (int i = 0; i < 3; i++) {
        sev[i] = evsignal_new(sd.base, sigs[i], on_signal, &sd);
        event_add(sev[i], NULL);
    }
    char hop[1100];
    if (cfg.hop == HOP_LMTP_CMD)
        snprintf(hop, sizeof hop, "LMTP to (%s)", cfg.hop_cmd);
    else
        snprintf(hop, sizeof hop, "%s %s port %u", cfg.hop == HOP_SMTP ? "SMTP" : "LMTP",
                 cfg.hop_host, cfg.hop_port);
    ward_log(WARD_LOG_NOTICE, "ward-smtpd %s listening (%s) on %s port %u, next hop %s%s",
             WARD_VERSION, cfg.listen_lmtp ? "LMTP" : "SMTP",
             cfg.listen_addr[0] ? cfg.listen_addr : "127.0.0.1", cfg.listen_port, hop,
             cfg.scan ? "" : " (not scanning)");
    event_base_dispatch(sd.base);
    evconnlistener_free(sd.listener);
    while (sd.sessions)
        if (sd.sessions->busy_scan) {
            /* a worker still uses it: leave it to the exit */
            struct smtpd_session *s = sd.sessions;
            sd.sessions = s->next;
        } else {
            smtpd_session_free(sd.sessions);
        }
    for (int i = 0; i < 3; i++)
        event_free(sev[i]);
    ward_pidfile_remove(cfg.pid_file, pid_fd);
    smtpd_tls_ctx_free(sd.tls_ctx);
    ward_log_close();
    return 0;
}
