/*
 * main.c - ward-mirrord: start-up, signals, and the libmicrohttpd daemon.
 *
 * Order of start-up, as wardd: read and check the configuration, bind the
 * port and write the pid file while still privileged, go to the
 * background, drop to [mirror] user. SIGTERM/SIGINT stop; SIGHUP reopens
 * the log (the rest of the configuration changes with a restart).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mirrord.h"
#include "util/conf.h"
#include "util/daemon.h"
#include "util/file.h"
#include "util/log.h"
#include "util/options.h"
#include "util/startup.h"
#include "ward_config.h"

static const char *const sec[] = {"mirror", "global", NULL};
static volatile sig_atomic_t stop_sig, hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup = 1;
    else
        stop_sig = sig;
}

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    ward_log(WARD_LOG_ERROR, "%s", msg);
}

/* libmicrohttpd's error logger: its own format strings. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    ward_log(WARD_LOG_WARNING, "http: %s", msg);
}

/* Bind address and port into a sockaddr (IPv4 or IPv6). */
static bool make_addr(const char *addr, unsigned port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    *v6 = strchr(addr, ':') != NULL;
    if (*v6) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1;
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, *addr ? addr : "0.0.0.0", &in4->sin_addr) == 1;
}

static struct MHD_Daemon *start(const ward_conf *conf, struct mirrord_cfg *cfg,
                                ward_buf *cert, ward_buf *key, struct ward_diag *d)
{
    const char *addr = ward_opt_str(conf, sec, "listen_addr");
    unsigned port = (unsigned)ward_opt_u64(conf, sec, "listen_port");
    struct sockaddr_storage ss;
    bool v6;
    if (!make_addr(addr ? addr : "", port, &ss, &v6)) {
        ward_diag_set(d, WARD_ERR_PARSE, "[mirror] listen_addr %s is not an IP address", addr);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    const char *cert_path = ward_opt_str(conf, sec, "tls_cert");
    const char *key_path = ward_opt_str(conf, sec, "tls_key");
    bool tls = cert_path && *cert_path;
    if (tls) {
        if (!key_path || !*key_path) {
            ward_diag_set(d, WARD_ERR_PARSE, "[mirror] tls_cert needs tls_key");
            return NULL;
        }
        if (ward_file_read_all(cert_path, cert, d) || ward_file_read_all(key_path, key, d))
            return NULL;
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            ward_diag_set(d, WARD_ERR_UNSUPPORTED, "this libmicrohttpd has no TLS support");
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    unsigned limit = (unsigned)ward_opt_u64(conf, sec, "max_connections");
    struct MHD_Daemon *mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, (MHD_AccessHandlerCallback)mirrord_serve, cfg,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, ward_buf_str(cert),
        MHD_OPTION_HTTPS_MEM_KEY, ward_buf_str(key), MHD_OPTION_END);
    if (!mhd)
        ward_diag_set(d, WARD_ERR_IO, "cannot listen on %s port %u: %s", *addr ? addr : "*", port,
                      strerror(errno));
    else
        ward_log(WARD_LOG_NOTICE, "ward-mirrord %s serving %s on %s port %u%s", WARD_VERSION,
                 cfg->dir, *addr ? addr : "*", port, tls ? " (HTTPS)" : "");
    return mhd;
}

int main(int argc, char **argv)
{
    struct ward_startup st;
    enum ward_startup_cmd cmd = ward_startup_args(argc, argv, false, &st);
    if (cmd != WARD_STARTUP_RUN)
        return ward_startup_answer(cmd, "ward-mirrord");
    struct ward_diag d;
    ward_conf *conf = NULL;
    if (ward_log_open(WARD_LOG_STDERR, "ward-mirrord", NULL, WARD_LOG_NOTICE, &d))
        return 2;
    if (!ward_options_load(st.config, &conf, report, NULL)) {
        ward_log(WARD_LOG_ERROR, "%s: configuration has errors; not starting", st.config);
        return 2;
    }
    bool foreground = st.foreground;
    static struct mirrord_cfg cfg;
    snprintf(cfg.dir, sizeof cfg.dir, "%s", ward_opt_str(conf, sec, "dir"));
    snprintf(cfg.user, sizeof cfg.user, "%s", ward_opt_str(conf, sec, "username"));
    snprintf(cfg.pass, sizeof cfg.pass, "%s", ward_opt_str(conf, sec, "password"));
    if (access(cfg.dir, R_OK | X_OK) != 0) {
        ward_log(WARD_LOG_ERROR, "[mirror] dir %s: %s", cfg.dir, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Signals are blocked (in the server's threads too, which inherit the mask)
       except inside sigsuspend below: none is lost between checks. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block, old;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    const char *pid_file = ward_opt_str(conf, sec, "pid_file");
    int pid_fd;
    if (ward_startup_detach(pid_file, foreground, &pid_fd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (ward_startup_log("ward-mirrord", ward_opt_str(conf, sec, "log_file"),
                         (int)ward_opt_u64(conf, sec, "log_level"),
                         ward_opt_bool(conf, sec, "syslog"), foreground, &d)) {
        fprintf(stderr, "ward-mirrord: %s\n", d.msg);
        return 2;
    }
    ward_buf cert, key;
    ward_buf_init(&cert, 1 << 20);
    ward_buf_init(&key, 1 << 20);
    struct MHD_Daemon *mhd = start(conf, &cfg, &cert, &key, &d);
    if (!mhd) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        ward_pidfile_remove(pid_file, pid_fd);
        return 2;
    }
    if (ward_drop_privileges(ward_opt_str(conf, sec, "user"), &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        MHD_stop_daemon(mhd);
        ward_pidfile_remove(pid_file, pid_fd);
        return 2;
    }
    while (!stop_sig) {
        sigsuspend(&old);
        if (hup) {
            hup = 0;
            if (ward_log_reopen(&d))
                fprintf(stderr, "ward-mirrord: %s\n", d.msg);
            ward_log(WARD_LOG_NOTICE, "SIGHUP: log reopened");
        }
    }
    ward_log(WARD_LOG_NOTICE, "stopping (signal %d)", (int)stop_sig);
    MHD_stop_daemon(mhd);
    memset(key.data, 0, key.len);
    ward_buf_free(&cert);
    ward_buf_free(&key);
    ward_pidfile_remove(pid_file, pid_fd);
    ward_conf_free(conf);
    ward_log_close();
    return 0;
}
