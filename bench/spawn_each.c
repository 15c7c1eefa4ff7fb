/*
 * spawn_each.c - run one process per message, as an MTA's pipe delivery does,
 * with N at a time, and check each exit code. The benchmark's Python client
 * costs about a millisecond of CPU per process it starts, more than ward-pipe
 * itself; this launcher costs a few microseconds, like the fork and exec of
 * Postfix's pipe(8) or qmail-qfilter.
 *
 *   spawn_each -j N LIST -- COMMAND ARGS...
 *
 * LIST has one "EXIT PATH" line per message. An argument "{}" is replaced
 * by PATH; without one, the message comes on standard input. Standard output
 * and error go to /dev/null. Prints "messages seconds children_cpu_seconds
 * wrong" on one line, then up to five wrong ones.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSGS 100000
#define MAX_JOBS 256

extern char **environ;

struct msg {
    int want;
    char *path;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t start(struct msg *m, char **argv, int argc, int devnull)
{
    char *args[argc + 1];
    int use_stdin = 1;
    for (int i = 0; i < argc; i++) {
        args[i] = strcmp(argv[i], "{}") == 0 ? m->path : argv[i];
        if (args[i] == m->path)
            use_stdin = 0;
    }
    args[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (use_stdin)
        posix_spawn_file_actions_addopen(&fa, 0, m->path, O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, args[0], &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[1], "-j") != 0 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: spawn_each -j N LIST -- COMMAND ARGS...\n");
        return 2;
    }
    int jobs = atoi(argv[2]);
    if (jobs < 1 || jobs > MAX_JOBS)
        jobs = 1;
    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 2;
    }
    static struct msg msgs[MAX_MSGS];
    size_t n = 0;
    char line[4096];
    while (n < MAX_MSGS && fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        line[strcspn(line, "\n")] = 0;
        msgs[n].want = atoi(line);
        msgs[n].path = strdup(sp + 1);
        n++;
    }
    fclose(f);
    int devnull = open("/dev/null", O_WRONLY);
    pid_t running[MAX_JOBS];
    size_t which[MAX_JOBS];
    int active = 0;
    size_t next = 0, wrong = 0;
    double t0 = now();
    while (next < n || active > 0) {
        while (active < jobs && next < n) {
            pid_t p = start(&msgs[next], argv + 5, argc - 5, devnull);
            if (p < 0) {
                fprintf(stderr, "cannot start %s\n", argv[5]);
                return 2;
            }
            running[active] = p;
            which[active] = next++;
            active++;
        }
        int status;
        pid_t p = wait(&status);
        if (p < 0)
            break;
        for (int i = 0; i < active; i++) {
            if (running[i] != p)
                continue;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (code != msgs[which[i]].want && wrong++ < 5)
                fprintf(stderr, "%s: exit %d, expected %d\n", msgs[which[i]].path, code,
                        msgs[which[i]].want);
            running[i] = running[active - 1];
            which[i] = which[active - 1];
            active--;
            break;
        }
    }
    double dt = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("%zu %.6f %.6f %zu\n", n, dt, cpu, wrong);
    return 0;
}
