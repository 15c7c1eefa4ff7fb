/* script.c - run a program without a shell, bounded in time; exec_script. */
#include "mail/script.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail/outbox.h"
#include "mail/process.h"
#include "mail/rewrite.h"

int64_t ward_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ward_err ward_spawn(const char *const *argv, const char *const *envp, int stdin_fd, pid_t *pid,
                    struct ward_diag *diag)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    sigemptyset(&none);
    sigfillset(&def);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* its own group (so a timeout kills what it started), default signals, none blocked */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    if (stdin_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(pid, argv[0], &fa, &at, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: cannot run: %s", argv[0], strerror(rc));
    return WARD_OK;
}

ward_err ward_spawn_wait(pid_t pid, int64_t deadline_ms, const char *what, struct ward_diag *diag)
{
    int status = 0;
    for (unsigned naps = 0;; naps++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return ward_diag_set(diag, WARD_ERR_IO, "%s: wait: %s", what, strerror(errno));
        if (ward_clock_ms() >= deadline_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return ward_diag_set(diag, WARD_ERR_TIMEOUT, "%s: killed after its time ran out", what);
        }
        /* short naps first: most programs finish in milliseconds */
        struct timespec ts = {0, (naps < 20 ? 1 : 20) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return WARD_OK;
    if (WIFEXITED(status))
        return ward_diag_set(diag, WARD_ERR_IO, "%s: exited with status %d", what,
                             WEXITSTATUS(status));
    return ward_diag_set(diag, WARD_ERR_IO, "%s: killed by signal %d", what,
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

#define SCRIPT_VARS 14
#define SCRIPT_VALUE_MAX 1000

/* "NAME=value" with control bytes dropped and the value cut. */
static char *env_var(const char *name, const char *value)
{
    size_t n = strlen(name);
    char *s = malloc(n + 2 + SCRIPT_VALUE_MAX);
    if (!s)
        return NULL;
    memcpy(s, name, n);
    s[n++] = '=';
    for (size_t i = 0; value && value[i] && i < SCRIPT_VALUE_MAX; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= 0x20 && c != 0x7f)
            s[n++] = (char)c;
    }
    s[n] = 0;
    return s;
}

ward_err ward_mail_script(const char *path, uint64_t timeout_s, const struct ward_mail_env *env,
                          const struct ward_mail_result *res, const struct ward_msginfo *mi,
                          struct ward_outbox *outbox, struct ward_diag *diag)
{
    const char *const vars[SCRIPT_VARS][2] = {
        {"WARD_STATUS", ward_mail_status_name(res->status)},
        {"WARD_ACTION", ward_mail_action_name(res->action)},
        {"WARD_VIRUSNAME", mi->v.virusname},
        {"WARD_SENDER", env->sender},
        {"WARD_RECIPIENTS", mi->recipients},
        {"WARD_SUBJECT", mi->subject},
        {"WARD_MESSAGEID", mi->messageid},
        {"WARD_QUARANTINE_ID", res->quarantine_id},
        {"WARD_HOSTNAME", mi->hostname},
        {"WARD_AGENT", env->agent},
        {"WARD_CLIENT_ADDR", env->client_addr},
        {"WARD_HELO", env->helo},
        {"WARD_QUEUE_ID", env->queue_id},
        {"PATH", "/usr/bin:/bin"},
    };
    char **envp = calloc(SCRIPT_VARS + 1, sizeof *envp);
    if (!envp)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    ward_err err = WARD_OK;
    for (size_t i = 0; i < SCRIPT_VARS && !err; i++)
        if (!(envp[i] = env_var(vars[i][0], vars[i][1])))
            err = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    uint64_t timeout_ms = (timeout_s ? timeout_s : 30) * 1000;
    if (!err && outbox && ward_outbox_program(outbox, path, envp, timeout_ms))
        return WARD_OK; /* runs after the answer; a failure is logged then */
    const char *argv[] = {path, NULL};
    pid_t pid;
    if (!err)
        err = ward_spawn(argv, (const char *const *)envp, -1, &pid, diag);
    if (!err)
        err = ward_spawn_wait(pid, ward_clock_ms() + (int64_t)timeout_ms, path, diag);
    for (size_t i = 0; i < SCRIPT_VARS; i++)
        free(envp[i]);
    free(envp);
    return err;
}
