/*
 * autoupdate.c - wardd runs `ward update` itself every [update]
 * update_period minutes (the first time shortly after it starts), for
 * machines without a systemd timer or cron.
 *
 * The update runs as a child process, the `ward` program installed with
 * wardd: it downloads and verifies with its own code and memory, never in
 * the daemon, and tells wardd to RELOAD through the socket as it does when
 * run by hand. The child runs as wardd's user, which therefore needs write
 * access to database_dir's parent directory. One update at a time; the
 * child is reaped from the once-a-second tick.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/conf.h"
#include "util/log.h"
#include "util/options.h"
#include "util/paths.h"
#include "ward_config.h"
#include "wardd.h"

#define FIRST_DELAY 5 /* seconds after start: let the daemon settle first */

extern char **environ;

static struct {
    char config[PATH_MAX];
    unsigned period; /* minutes; 0: off */
    time_t next;
    pid_t child;
} A = {.child = -1};

/* `ward` beside us, in ../bin (sbin layout) or ../ward (the build tree), else PREFIX/bin. */
static bool find_ward(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        const char *dir = dirname(self);
        static const char *const rel[] = {"ward", "../bin/ward", "../ward/ward"};
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++)
            if (snprintf(out, cap, "%s/%s", dir, rel[i]) < (int)cap && access(out, X_OK) == 0)
                return true;
    }
    char prefix[PATH_MAX];
    return ward_path_prefix(prefix, sizeof prefix) &&
           snprintf(out, cap, "%s/%s/ward", prefix, WARD_BINDIR_REL) < (int)cap &&
           access(out, X_OK) == 0;
}

void wardd_autoupdate_configure(const char *config_path)
{
    static const char *const sec[] = {"update", NULL};
    ward_conf *conf = NULL;
    struct ward_diag d;
    snprintf(A.config, sizeof A.config, "%s", config_path ? config_path : "");
    if (A.config[0] && ward_conf_parse_file(A.config, &conf, &d))
        conf = NULL; /* wardd_cfg_load reported it already */
    unsigned period = (unsigned)ward_opt_u64(conf, sec, "update_period");
    ward_conf_free(conf);
    if (period && !A.period)
        A.next = time(NULL) + FIRST_DELAY;
    else if (period != A.period && period)
        A.next = time(NULL) + (time_t)period * 60;
    A.period = period;
}

void wardd_autoupdate_tick(void)
{
    if (A.child > 0) {
        int status;
        pid_t r = waitpid(A.child, &status, WNOHANG);
        if (r == 0)
            return;
        if (r == A.child && WIFEXITED(status) && WEXITSTATUS(status) <= 1)
            ward_log(WARD_LOG_INFO, "update: %s", WEXITSTATUS(status) ? "already current"
                                                                       : "installed");
        else
            ward_log(WARD_LOG_WARNING, "update: ward update failed (status %d); see its log",
                     status);
        A.child = -1;
    }
    time_t now = time(NULL);
    if (!A.period || now < A.next)
        return;
    A.next = now + (time_t)A.period * 60;
    char ward[PATH_MAX];
    if (!find_ward(ward, sizeof ward)) {
        ward_log(WARD_LOG_ERROR, "update: cannot find the ward program to run updates");
        return;
    }
    char *argv[] = {"ward", "update", "--quiet", A.config[0] ? "--config" : NULL, A.config,
                    NULL};
    int rc = posix_spawn(&A.child, ward, NULL, NULL, argv, environ);
    if (rc != 0) {
        ward_log(WARD_LOG_ERROR, "update: cannot run %s: %s", ward, strerror(rc));
        A.child = -1;
    } else {
        ward_log(WARD_LOG_INFO, "update: running %s update", ward);
    }
}
