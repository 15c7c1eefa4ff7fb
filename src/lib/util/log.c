/* log.c - stderr, file and syslog sinks. */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *level_names[] = {"error", "warning", "notice", "info", "debug", "trace"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG, LOG_DEBUG};

static struct {
    pthread_mutex_t lock;
    enum ward_log_sink sink;
    enum ward_log_level level;
    int fd;
    char ident[64];
    char *path;
} g = {PTHREAD_MUTEX_INITIALIZER, WARD_LOG_NONE, WARD_LOG_NOTICE, -1, "ward", NULL};

bool ward_log_level_parse(const char *s, enum ward_log_level *out)
{
    for (int i = 0; i <= WARD_LOG_TRACE; i++) {
        if (strcasecmp(s, level_names[i]) == 0 || (s[0] == '0' + i && s[1] == 0)) {
            *out = (enum ward_log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warn") == 0) {
        *out = WARD_LOG_WARNING;
        return true;
    }
    return false;
}

const char *ward_log_level_name(enum ward_log_level level)
{
    return level <= WARD_LOG_TRACE ? level_names[level] : "?";
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

ward_err ward_log_open(enum ward_log_sink sink, const char *ident, const char *path,
                       enum ward_log_level level, struct ward_diag *diag)
{
    int fd = -1;
    char *dup = NULL;
    if (sink == WARD_LOG_FILE) {
        fd = open_file(path);
        if (fd < 0)
            return ward_diag_set(diag, WARD_ERR_IO, "cannot open log file %s: %s", path,
                                 strerror(errno));
        dup = strdup(path);
        if (!dup) {
            close(fd);
            return WARD_ERR_NOMEM;
        }
    }
    pthread_mutex_lock(&g.lock);
    if (g.sink == WARD_LOG_SYSLOG)
        closelog();
    if (g.fd >= 0)
        close(g.fd);
    free(g.path);
    g.fd = fd;
    g.path = dup;
    g.sink = sink;
    g.level = level;
    snprintf(g.ident, sizeof g.ident, "%s", ident ? ident : "ward");
    if (sink == WARD_LOG_SYSLOG)
        openlog(g.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    pthread_mutex_unlock(&g.lock);
    return WARD_OK;
}

ward_err ward_log_reopen(struct ward_diag *diag)
{
    ward_err err = WARD_OK;
    pthread_mutex_lock(&g.lock);
    if (g.sink == WARD_LOG_FILE && g.path) {
        int fd = open_file(g.path);
        if (fd < 0) {
            err = ward_diag_set(diag, WARD_ERR_IO, "cannot reopen log file %s: %s", g.path,
                                strerror(errno));
        } else {
            close(g.fd);
            g.fd = fd;
        }
    }
    pthread_mutex_unlock(&g.lock);
    return err;
}

void ward_log_set_level(enum ward_log_level level)
{
    g.level = level;
}

bool ward_log_enabled(enum ward_log_level level)
{
    return g.sink != WARD_LOG_NONE && level <= g.level;
}

void ward_log_close(void)
{
    pthread_mutex_lock(&g.lock);
    if (g.sink == WARD_LOG_SYSLOG)
        closelog();
    if (g.fd >= 0)
        close(g.fd);
    g.fd = -1;
    free(g.path);
    g.path = NULL;
    g.sink = WARD_LOG_NONE;
    pthread_mutex_unlock(&g.lock);
}

void ward_log(enum ward_log_level level, const char *fmt, ...)
{
    if (!ward_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Control characters from hostile names must not forge log lines. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';

    pthread_mutex_lock(&g.lock);
    if (g.sink == WARD_LOG_SYSLOG) {
        syslog(syslog_prio[level], "%s", msg);
    } else {
        char line[2300];
        int n;
        if (g.sink == WARD_LOG_FILE) {
            char ts[32];
            struct tm tm;
            time_t now = time(NULL);
            localtime_r(&now, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
            n = snprintf(line, sizeof line, "%s %s[%d]: %s: %s\n", ts, g.ident, (int)getpid(),
                         level_names[level], msg);
        } else {
            n = snprintf(line, sizeof line, "%s: %s: %s\n", g.ident, level_names[level], msg);
        }
        if (n > (int)sizeof line - 1)
            n = (int)sizeof line - 1;
        int fd = g.sink == WARD_LOG_FILE ? g.fd : STDERR_FILENO;
        if (n > 0 && write(fd, line, (size_t)n) < 0) {
            /* Nowhere left to report a failed log write. */
        }
    }
    pthread_mutex_unlock(&g.lock);
}
