/*
 * main.c - ward-milter: configuration, the milter socket, start-up.
 *
 * Order of start-up, as Ward's other daemons: read and check the
 * configuration, open the socket and the pid file while still privileged,
 * go to the background, drop to [milter] user, then accept MTA connections
 * (server.c). SIGTERM, SIGINT and SIGHUP make it stop accepting and give
 * the open sessions up to DRAIN_S seconds to end (the service manager
 * starts the milter again to read a changed configuration).
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "milter.h"
#include "server.h"
#include "util/conf.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/options.h"
#include "util/startup.h"
#include "ward_config.h"

#define DRAIN_S 10
#define KEPT_WARDD_CONNECTIONS 64

static const char *const sec[] = {"milter", "global", NULL};

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    ward_log(WARD_LOG_ERROR, "%s", msg);
}

static bool load_cfg(const ward_conf *conf)
{
    const char *w = ward_opt_str(conf, sec, "wardd_socket");
    const char *t = ward_opt_str(conf, sec, "tmp_dir");
    snprintf(milter_cfg.wardd, sizeof milter_cfg.wardd, "%s", w ? w : "");
    snprintf(milter_cfg.tmpdir, sizeof milter_cfg.tmpdir, "%s", t ? t : "");
    milter_cfg.scan_timeout_ms = (unsigned)ward_opt_u64(conf, sec, "scan_timeout");
    milter_cfg.max_size = ward_opt_u64(conf, sec, "max_message_size");
    milter_cfg.quarantine_hold = ward_opt_bool(conf, sec, "quarantine_hold");
    if (!milter_cfg.wardd[0]) {
        ward_log(WARD_LOG_ERROR, "[milter] wardd_socket is empty");
        return false;
    }
    return true;
}

/* The milter socket, its mode and group set before anyone may connect; -1 on failure. */
static int open_socket(const ward_conf *conf)
{
    const char *spec = ward_opt_str(conf, sec, "socket");
    if (!spec || !*spec) {
        ward_log(WARD_LOG_ERROR, "[milter] socket is empty");
        return -1;
    }
    struct ward_diag d;
    int fd = milter_listen(spec, &d);
    if (fd < 0) {
        ward_log(WARD_LOG_ERROR, "[milter] socket %s: %s", spec, d.msg);
        return -1;
    }
    const char *path = milter_unix_path(spec);
    if (path) {
        mode_t mode = (mode_t)ward_opt_u64(conf, sec, "socket_mode");
        const char *group = ward_opt_str(conf, sec, "socket_group");
        gid_t gid;
        if (group && *group) {
            if (ward_group_id(group, &gid, &d)) {
                ward_log(WARD_LOG_ERROR, "[milter] socket_group: %s", d.msg);
                close(fd);
                return -1;
            }
            if (chown(path, (uid_t)-1, gid) != 0) {
                ward_log(WARD_LOG_ERROR, "%s: chown: %s", path, strerror(errno));
                close(fd);
                return -1;
            }
        }
        if (chmod(path, mode) != 0) {
            ward_log(WARD_LOG_ERROR, "%s: chmod: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Block the stop signals in every thread: the accept loop reads them (signalfd). */
static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    struct ward_startup st;
    enum ward_startup_cmd cmd = ward_startup_args(argc, argv, false, &st);
    if (cmd != WARD_STARTUP_RUN)
        return ward_startup_answer(cmd, "ward-milter");
    bool foreground = st.foreground;
    struct ward_diag d;
    ward_conf *conf = NULL;
    if (ward_log_open(WARD_LOG_STDERR, "ward-milter", NULL, WARD_LOG_NOTICE, &d))
        return 2;
    if (!ward_options_load(st.config, &conf, report, NULL)) {
        ward_log(WARD_LOG_ERROR, "%s: configuration has errors; not starting", st.config);
        return 2;
    }
    if (!load_cfg(conf))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    block_signals();
    int lfd = open_socket(conf);
    if (lfd < 0)
        return 2;
    const char *pid_file = ward_opt_str(conf, sec, "pid_file");
    int pid_fd;
    if (ward_startup_detach(pid_file, foreground, &pid_fd, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        return 2;
    }
    if (ward_startup_log("ward-milter", ward_opt_str(conf, sec, "log_file"),
                         (int)ward_opt_u64(conf, sec, "log_level"),
                         ward_opt_bool(conf, sec, "syslog"), foreground, &d)) {
        fprintf(stderr, "ward-milter: %s\n", d.msg);
        return 2;
    }
    ward_log(WARD_LOG_NOTICE, "ward-milter %s listening on %s, scanning through %s",
             WARD_VERSION, ward_opt_str(conf, sec, "socket"), milter_cfg.wardd);
    if (ward_drop_privileges(ward_opt_str(conf, sec, "user"), &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        ward_pidfile_remove(pid_file, pid_fd);
        return 2;
    }
    /* wardd connections kept from message to message: enough for the messages
       scanned at once, not one per MTA connection */
    ward_mailproto_keep_connections(KEPT_WARDD_CONNECTIONS);
    int rc = 0;
    if (milter_serve(lfd, (unsigned)ward_opt_u64(conf, sec, "mta_timeout"), DRAIN_S, &d)) {
        ward_log(WARD_LOG_ERROR, "%s", d.msg);
        rc = 1;
    }
    const char *path = milter_unix_path(ward_opt_str(conf, sec, "socket"));
    if (path)
        unlink(path); /* MTAs then fail fast instead of connecting to nobody */
    ward_log(WARD_LOG_NOTICE, "stopping");
    ward_pidfile_remove(pid_file, pid_fd);
    ward_conf_free(conf);
    ward_log_close();
    return rc;
}
