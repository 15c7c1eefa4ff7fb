/* agent.c - settings, spooling and envelopes of the one-shot mail agents (agent.h). */
#include "proto/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/options.h"
#include "util/paths.h"
#include "util/spool.h"

#define COPY_BUF (1u << 20)

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

bool ward_agent_codes_parse(const char *s, enum ward_agent_codes *out)
{
    static const char *const names[] = {"auto", "qmail", "sysexits"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum ward_agent_codes)i;
            return true;
        }
    return false;
}

bool ward_agent_load(const char *path, const char *section, struct ward_agent_cfg *cfg,
                     void (*report)(void *ctx, const char *msg), void *ctx)
{
    memset(cfg, 0, sizeof *cfg);
    char def[PATH_MAX];
    if (!path && ward_path_default_config(def, sizeof def) && access(def, R_OK) == 0)
        path = def;
    ward_conf *conf = NULL;
    if (!ward_options_load(path, &conf, report, ctx))
        return false;
    const char *const sections[] = {section, "global", NULL};
    copy(cfg->wardd, sizeof cfg->wardd, ward_opt_str(conf, sections, "wardd_socket"));
    if (!cfg->wardd[0]) {
        static const char *const wsec[] = {"wardd", NULL};
        copy(cfg->wardd, sizeof cfg->wardd, ward_opt_str(conf, wsec, "socket"));
    }
    cfg->timeout_ms = (unsigned)ward_opt_u64(conf, sections, "scan_timeout");
    copy(cfg->tmp_dir, sizeof cfg->tmp_dir, ward_opt_str(conf, sections, "tmp_dir"));
    if (!cfg->tmp_dir[0])
        copy(cfg->tmp_dir, sizeof cfg->tmp_dir, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    const char *codes = ward_opt_str(conf, sections, "exit_codes");
    if (codes)
        (void)ward_agent_codes_parse(codes, &cfg->codes); /* checked by ward_options_check */
    copy(cfg->mda_path, sizeof cfg->mda_path, ward_opt_str(conf, sections, "mda_path"));
    ward_conf_free(conf);
    return true;
}

ward_err ward_agent_copy(int from, int to, struct ward_diag *diag)
{
    off_t off = 0;
    /* sendfile moves file pages to a pipe or file without a user-space copy */
    for (;;) {
        ssize_t n = sendfile(to, from, &off, 1u << 30);
        if (n == 0)
            return WARD_OK;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS) && off == 0)
            break;
        if (n < 0)
            return ward_diag_set(diag, WARD_ERR_IO, "writing the message: %s", strerror(errno));
    }
    uint8_t *buf = malloc(COPY_BUF);
    if (!buf)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    ward_err err = WARD_OK;
    for (;;) {
        ssize_t n = pread(from, buf, COPY_BUF, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                err = ward_diag_set(diag, WARD_ERR_IO, "reading the message: %s",
                                    strerror(errno));
            break;
        }
        if (ward_write_full(to, buf, (size_t)n)) {
            err = ward_diag_set(diag, WARD_ERR_IO, "writing the message: %s", strerror(errno));
            break;
        }
        off += n;
    }
    free(buf);
    return err;
}

ward_err ward_agent_spool(int in, const char *tmp_dir, int *out, bool *owned,
                          struct ward_diag *diag)
{
    struct stat st;
    if (fstat(in, &st) == 0 && S_ISREG(st.st_mode) && lseek(in, 0, SEEK_CUR) == 0) {
        *out = in;
        *owned = false;
        return WARD_OK;
    }
    int fd = ward_tmpfile(tmp_dir);
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "temporary file in %s: %s", tmp_dir,
                             strerror(errno));
    uint8_t *buf = malloc(COPY_BUF);
    ward_err err = buf ? WARD_OK : ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    while (!err) {
        ssize_t n = read(in, buf, COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = ward_diag_set(diag, WARD_ERR_IO, "reading the message: %s", strerror(errno));
        if (n <= 0)
            break;
        if (ward_write_full(fd, buf, (size_t)n))
            err = ward_diag_set(diag, WARD_ERR_IO, "spooling the message to %s: %s", tmp_dir,
                                strerror(errno));
    }
    free(buf);
    if (err) {
        close(fd);
        return err;
    }
    *out = fd;
    *owned = true;
    return WARD_OK;
}

bool ward_agent_qmail_env(const char **sender, char ***rcpts, size_t *n, char **storage)
{
    const char *list = getenv("QMAILRCPTS");
    const char *user = getenv("QMAILUSER"), *host = getenv("QMAILHOST");
    *rcpts = NULL;
    *n = 0;
    *storage = NULL;
    if (!list)
        return false;
    /* "user@host", or "" for the null sender; then the recipients, one a line */
    size_t ul = user ? strlen(user) : 0, hl = host ? strlen(host) : 0, ll = strlen(list);
    char *s = malloc(ul + hl + ll + 3);
    if (!s)
        return false;
    if (ul)
        snprintf(s, ul + hl + 2, "%s%s%s", user, hl ? "@" : "", hl ? host : "");
    else
        s[0] = 0;
    char *r = s + strlen(s) + 1;
    memcpy(r, list, ll + 1);
    size_t count = 1;
    for (const char *p = r; *p; p++)
        count += *p == '\n';
    char **v = calloc(count, sizeof *v);
    if (!v) {
        free(s);
        return false;
    }
    for (char *p = r, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = 0;
        if (*p)
            v[(*n)++] = p;
    }
    *sender = s;
    *rcpts = v;
    *storage = s;
    return true;
}
