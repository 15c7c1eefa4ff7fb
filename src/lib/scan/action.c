/* action.c - delete, move, copy or run a command on a file after a verdict. */
#include "scan/action.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/file.h"

const char *ward_action_name(enum ward_action_kind kind)
{
    static const char *names[] = {"report", "delete", "move", "copy", "exec", "quarantine"};
    return kind <= WARD_ACT_QUARANTINE ? names[kind] : "?";
}

ward_err ward_action_parse(const char *spec, struct ward_action *out, const char **why)
{
    static const struct {
        const char *word;
        enum ward_action_kind kind;
        bool arg;
    } forms[] = {
        {"report", WARD_ACT_REPORT, false}, {"delete", WARD_ACT_DELETE, false},
        {"move", WARD_ACT_MOVE, true},      {"copy", WARD_ACT_COPY, true},
        {"exec", WARD_ACT_EXEC, true},      {"quarantine", WARD_ACT_QUARANTINE, false},
    };
    out->kind = WARD_ACT_REPORT;
    out->arg = NULL;
    const char *eq = strchr(spec, '=');
    size_t n = eq ? (size_t)(eq - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        if (strlen(forms[i].word) != n || strncmp(spec, forms[i].word, n) != 0)
            continue;
        if (forms[i].arg != (eq != NULL) || (eq && !eq[1])) {
            *why = forms[i].arg ? "needs an argument: move=DIR, copy=DIR or exec=COMMAND"
                                : "takes no argument";
            return WARD_ERR_PARSE;
        }
        if (eq && forms[i].kind != WARD_ACT_EXEC && eq[1] != '/') {
            *why = "the directory must be an absolute path";
            return WARD_ERR_PARSE;
        }
        if (eq && forms[i].kind == WARD_ACT_EXEC) {
            char **w = ward_split_words(eq + 1, why);
            if (!w)
                return WARD_ERR_PARSE;
            ward_free_words(w);
        }
        out->kind = forms[i].kind;
        if (eq && !(out->arg = strdup(eq + 1)))
            return WARD_ERR_NOMEM;
        return WARD_OK;
    }
    *why = "must be report, delete, move=DIR, copy=DIR, exec=COMMAND or quarantine";
    return WARD_ERR_PARSE;
}

void ward_action_free(struct ward_action *a)
{
    free(a->arg);
    a->arg = NULL;
}

void ward_free_words(char **words)
{
    if (!words)
        return;
    for (char **w = words; *w; w++)
        free(*w);
    free(words);
}

char **ward_split_words(const char *cmd, const char **why)
{
    size_t cap = 8, n = 0;
    char **words = calloc(cap, sizeof *words);
    ward_buf cur;
    ward_buf_init(&cur, 65536);
    if (!words) {
        *why = "out of memory";
        return NULL;
    }
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        char quote = 0;
        bool any = false;
        ward_buf_reset(&cur);
        while (*p && (quote || (*p != ' ' && *p != '\t'))) {
            char c = *p++;
            if (quote) {
                if (c == quote) {
                    quote = 0;
                    continue;
                }
                if (c == '\\' && quote == '"' && (*p == '"' || *p == '\\'))
                    c = *p++;
            } else if (c == '\'' || c == '"') {
                quote = c;
                any = true;
                continue;
            } else if (c == '\\' && *p) {
                c = *p++;
            }
            any = true;
            if (ward_buf_putc(&cur, (uint8_t)c))
                goto fail;
        }
        if (quote) {
            *why = "unterminated quote in command";
            goto fail_quiet;
        }
        if (!any)
            continue;
        if (n + 2 > cap) {
            cap *= 2;
            char **q = realloc(words, cap * sizeof *q);
            if (!q)
                goto fail;
            words = q;
        }
        if (!(words[n++] = strdup(ward_buf_str(&cur))))
            goto fail;
        words[n] = NULL;
    }
    ward_buf_free(&cur);
    if (n == 0) {
        *why = "empty command";
        ward_free_words(words);
        return NULL;
    }
    return words;
fail:
    *why = "out of memory or command too long";
fail_quiet:
    ward_buf_free(&cur);
    ward_free_words(words);
    return NULL;
}

/* Replace every %path% and %name% in a word. */
static char *expand(const char *word, const char *path, const char *name)
{
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    for (const char *p = word; *p;) {
        ward_err e;
        if (strncmp(p, "%path%", 6) == 0) {
            e = ward_buf_puts(&b, path);
            p += 6;
        } else if (strncmp(p, "%name%", 6) == 0) {
            e = ward_buf_puts(&b, name ? name : "");
            p += 6;
        } else {
            e = ward_buf_putc(&b, (uint8_t)*p++);
        }
        if (e) {
            ward_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data && ward_buf_reserve(&b, 0))
        return NULL;
    return (char *)ward_buf_steal(&b, NULL);
}

static ward_err run_command(const char *cmd, const char *path, const char *name, char *result,
                            size_t cap)
{
    const char *why;
    char **words = ward_split_words(cmd, &why);
    if (!words) {
        snprintf(result, cap, "bad command: %s", why);
        return WARD_ERR_PARSE;
    }
    size_t n = 0;
    while (words[n])
        n++;
    char **argv = calloc(n + 1, sizeof *argv);
    ward_err e = argv ? WARD_OK : WARD_ERR_NOMEM;
    for (size_t i = 0; i < n && !e; i++)
        if (!(argv[i] = expand(words[i], path, name)))
            e = WARD_ERR_NOMEM;
    ward_free_words(words);
    if (e) {
        ward_free_words(argv);
        snprintf(result, cap, "out of memory");
        return e;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0) {
        snprintf(result, cap, "cannot start %s: %s", argv[0], strerror(errno));
        ward_free_words(argv);
        return WARD_ERR_IO;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(result, cap, "cannot run %s", argv[0]);
    else if (WIFEXITED(status))
        snprintf(result, cap, "command exited with %d", WEXITSTATUS(status));
    else
        snprintf(result, cap, "command killed by signal %d", WTERMSIG(status));
    e = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? WARD_OK : WARD_ERR_IO;
    ward_free_words(argv);
    return e;
}

/* A free name DIR/BASE, DIR/BASE.1, ... */
static bool dest_name(const char *dir, const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (unsigned i = 0; i < 10000; i++) {
        int n = i ? snprintf(out, cap, "%s/%s.%u", dir, base, i)
                  : snprintf(out, cap, "%s/%s", dir, base);
        if (n < 0 || (size_t)n >= cap)
            return false;
        struct stat st;
        if (lstat(out, &st) != 0 && errno == ENOENT)
            return true;
    }
    return false;
}

/* Copy to a new file; the copy is not executable and readable by the owner only. */
static ward_err copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return WARD_ERR_IO;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return WARD_ERR_IO;
    }
    uint8_t buf[65536];
    ward_err e = WARD_OK;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = WARD_ERR_IO;
            break;
        }
        if (r == 0)
            break;
        if ((e = ward_write_full(out, buf, (size_t)r)))
            break;
    }
    if (fsync(out) != 0 && !e)
        e = WARD_ERR_IO;
    close(in);
    if (close(out) != 0 && !e)
        e = WARD_ERR_IO;
    if (e)
        unlink(to);
    return e;
}

bool ward_action_changes_file(enum ward_action_kind kind)
{
    return kind == WARD_ACT_DELETE || kind == WARD_ACT_MOVE || kind == WARD_ACT_EXEC;
}

/* Copy the file at `path` into the store as `kind`; `id` receives its id. */
static ward_err store_file(const struct ward_action_ctx *ctx, enum ward_qkind kind,
                           const char *path, char id[WARD_QID_LEN + 1], struct ward_diag *diag)
{
    if (!ctx || !ctx->store)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "no quarantine store");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ward_diag_set(diag, WARD_ERR_IO, "not a regular file");
    }
    struct ward_qmeta m = {0};
    if (ctx->meta)
        m = *ctx->meta;
    m.kind = kind;
    if (!m.path)
        m.path = path;
    m.have_attrs = true;
    m.mode = (uint32_t)(st.st_mode & 07777);
    m.uid = (uint32_t)st.st_uid;
    m.gid = (uint32_t)st.st_gid;
    m.mtime = (int64_t)st.st_mtime;
    ward_err e = ward_quarantine_put_fd(ctx->store, &m, fd, id, diag);
    close(fd);
    return e;
}

static ward_err run(const struct ward_action *a, const char *path, const char *name,
                    char *result, size_t cap, char *dest, size_t dest_cap)
{
    char target[4096];
    switch (a->kind) {
    case WARD_ACT_REPORT:
        snprintf(result, cap, "reported");
        return WARD_OK;
    case WARD_ACT_DELETE:
        if (unlink(path) != 0) {
            snprintf(result, cap, "cannot remove: %s", strerror(errno));
            return WARD_ERR_IO;
        }
        snprintf(result, cap, "removed");
        return WARD_OK;
    case WARD_ACT_MOVE:
    case WARD_ACT_COPY:
        if (!dest_name(a->arg, path, target, sizeof target)) {
            snprintf(result, cap, "no free name in %s", a->arg);
            return WARD_ERR_IO;
        }
        if (a->kind == WARD_ACT_MOVE && rename(path, target) == 0) {
            chmod(target, 0600);
        } else if (a->kind == WARD_ACT_MOVE && errno != EXDEV) {
            snprintf(result, cap, "cannot move to %s: %s", a->arg, strerror(errno));
            return WARD_ERR_IO;
        } else if (copy_file(path, target) != WARD_OK) {
            snprintf(result, cap, "cannot copy to %s: %s", a->arg, strerror(errno));
            return WARD_ERR_IO;
        } else if (a->kind == WARD_ACT_MOVE && unlink(path) != 0) {
            snprintf(result, cap, "copied to %s but cannot remove original: %s", target,
                     strerror(errno));
            return WARD_ERR_IO;
        }
        snprintf(result, cap, "%s to %s", a->kind == WARD_ACT_MOVE ? "moved" : "copied",
                 target);
        if (dest)
            snprintf(dest, dest_cap, "%s", target);
        return WARD_OK;
    case WARD_ACT_EXEC:
        return run_command(a->arg, path, name, result, cap);
    case WARD_ACT_QUARANTINE:
        break; /* needs the store: ward_action_run_ctx */
    }
    return WARD_ERR_INTERNAL;
}

ward_err ward_action_run(const struct ward_action *a, const char *path, const char *name,
                         char *result, size_t cap, char *dest, size_t dest_cap)
{
    return ward_action_run_ctx(a, NULL, path, name, result, cap, dest, dest_cap);
}

ward_err ward_action_run_ctx(const struct ward_action *a, const struct ward_action_ctx *ctx,
                             const char *path, const char *name, char *result, size_t cap,
                             char *dest, size_t dest_cap)
{
    char id[WARD_QID_LEN + 1];
    struct ward_diag d;
    if (a->kind == WARD_ACT_QUARANTINE) {
        ward_err e = store_file(ctx, WARD_QKIND_QUARANTINE, path, id, &d);
        if (e) {
            snprintf(result, cap, "cannot quarantine: %s", d.msg);
            return e;
        }
        if (dest)
            snprintf(dest, dest_cap, "%s", id);
        /* The store has it: only now does the file leave its place. */
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(result, cap, "quarantined as %s but cannot remove the file: %s", id,
                     strerror(errno));
            return WARD_ERR_IO;
        }
        snprintf(result, cap, "quarantined as %s", id);
        return WARD_OK;
    }
    if (!ctx || !ctx->backup || !ward_action_changes_file(a->kind))
        return run(a, path, name, result, cap, dest, dest_cap);
    ward_err e = store_file(ctx, WARD_QKIND_BACKUP, path, id, &d);
    if (e) {
        snprintf(result, cap, "not %s: cannot back up: %s",
                 a->kind == WARD_ACT_DELETE ? "removed"
                 : a->kind == WARD_ACT_MOVE ? "moved"
                                            : "run",
                 d.msg);
        return e;
    }
    if (ctx->backup_id)
        snprintf(ctx->backup_id, WARD_QID_LEN + 1, "%s", id);
    char done[1024];
    e = run(a, path, name, done, sizeof done, dest, dest_cap);
    snprintf(result, cap, "backed up as %s, %s", id, done);
    return e;
}
