/* startup.c - the start-up every Ward daemon shares (see startup.h). */
#include "util/startup.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "util/daemon.h"
#include "util/log.h"
#include "util/paths.h"
#include "ward_config.h"

enum ward_startup_cmd ward_startup_args(int argc, char **argv, bool extra_compile_only,
                                        struct ward_startup *st)
{
    static const struct option opts[] = {
        {"foreground", no_argument, NULL, 'F'},   {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"compile-only", no_argument, NULL, 'C'}, {NULL, 0, NULL, 0}};
    memset(st, 0, sizeof *st);
    int ch;
    while ((ch = getopt_long(argc, argv, "Fc:Vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'F': st->foreground = true; break;
        case 'c': st->config = optarg; break;
        case 'V': return WARD_STARTUP_VERSION;
        case 'h': return WARD_STARTUP_HELP;
        case 'C':
            if (!extra_compile_only)
                return WARD_STARTUP_BAD;
            st->compile_only = true;
            break;
        default: return WARD_STARTUP_BAD;
        }
    }
    if (optind != argc)
        return WARD_STARTUP_BAD;
    if (!st->config && ward_path_default_config(st->default_config, sizeof st->default_config) &&
        access(st->default_config, F_OK) == 0)
        st->config = st->default_config;
    return WARD_STARTUP_RUN;
}

void ward_startup_usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--foreground] [--config FILE]\n"
            "  -F, --foreground   stay in the foreground, log to standard error\n"
            "  -c, --config FILE  configuration file (default: the installed ward.conf)\n"
            "  -V, --version      print the version\n",
            prog);
}

int ward_startup_answer(enum ward_startup_cmd cmd, const char *prog)
{
    switch (cmd) {
    case WARD_STARTUP_VERSION: printf("%s (Ward) %s\n", prog, WARD_VERSION); return 0;
    case WARD_STARTUP_HELP: ward_startup_usage(stdout, prog); return 0;
    case WARD_STARTUP_RUN:
    case WARD_STARTUP_BAD: break;
    }
    ward_startup_usage(stderr, prog);
    return 2;
}

ward_err ward_startup_detach(const char *pid_file, bool foreground, int *pid_fd,
                             struct ward_diag *diag)
{
    *pid_fd = -1;
    ward_err e;
    if (pid_file && *pid_file && (e = ward_pidfile_create(pid_file, pid_fd, diag)))
        return e;
    if (foreground)
        return WARD_OK;
    if ((e = ward_daemonize(diag))) {
        ward_pidfile_remove(pid_file, *pid_fd);
        *pid_fd = -1;
        return e;
    }
    if (*pid_fd >= 0 && ward_pidfile_update(*pid_fd))
        ward_log(WARD_LOG_WARNING, "cannot update the pid file %s", pid_file);
    return WARD_OK;
}

ward_err ward_startup_log(const char *prog, const char *log_file, int level, bool syslog,
                          bool foreground, struct ward_diag *diag)
{
    enum ward_log_sink sink = WARD_LOG_STDERR;
    if (log_file && *log_file)
        sink = WARD_LOG_FILE;
    else if (syslog || !foreground)
        sink = WARD_LOG_SYSLOG;
    return ward_log_open(sink, prog, log_file, (enum ward_log_level)level, diag);
}
