/*
 * cmd_update.c - `ward update`: download, verify and install signature
 * updates (update/update.h), then have wardd reload and run the
 * administrator's post_update_command.
 *
 * Exit status: 0 a new database was installed (or rolled back to), 1 it
 * was already current, 2 an error (nothing was changed).
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "update/update.h"
#include "util/file.h"
#include "util/log.h"
#include "util/options.h"
#include "util/paths.h"

enum { EXIT_UPDATED = 0, EXIT_CURRENT = 1 };

#define MAX_LIST 64
#define MAX_KEYS 32

static const char *const update_sec[] = {"update", NULL};
static const char *const global_sec[] = {"global", NULL};
static const char *const wardd_sec[] = {"wardd", NULL};

static void usage(FILE *f)
{
    fputs("usage: ward update [-c FILE] [--mirror DIR] [--quiet] [--log FILE]\n"
          "                   [--log-level LEVEL] [--no-reload]\n"
          "       ward update [-c FILE] --rollback\n"
          "Exit status: 0 updated, 1 already current, 2 error.\n",
          f);
}

/* Split a list option ("a, b c") in place into at most max words. */
static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ", \t"); tok && n < max; tok = strtok(NULL, ", \t"))
        out[n++] = tok;
    return n;
}

static bool load_keys(const char *list, struct ward_minisign_pub *keys, size_t *n)
{
    char *copy = strdup(list ? list : "");
    const char *pats[MAX_LIST];
    size_t np = copy ? split_list(copy, pats, MAX_LIST) : 0;
    bool ok = copy != NULL;
    *n = 0;
    for (size_t i = 0; ok && i < np; i++) {
        glob_t g;
        if (glob(pats[i], 0, NULL, &g) != 0)
            continue; /* no such key files: bundles will say they have no key */
        for (size_t k = 0; ok && k < g.gl_pathc && *n < MAX_KEYS; k++) {
            ward_buf b;
            struct ward_diag d;
            ward_buf_init(&b, WARD_MINISIGN_MAX_FILE);
            if (ward_file_read_all(g.gl_pathv[k], &b, &d) ||
                ward_minisign_pub_parse(g.gl_pathv[k], b.data, b.len, &keys[*n], &d)) {
                cli_error("public_keys: %s", d.msg);
                ok = false;
            } else {
                (*n)++;
            }
            ward_buf_free(&b);
        }
        globfree(&g);
    }
    free(copy);
    return ok;
}

/* The auth file holds passwords: refuse one that others can read. */
static bool auth_file_ok(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("auth_file %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        cli_error("auth_file %s must be a regular file of mode 0600 (it is %04o): it holds "
                  "passwords; chmod 600 %s",
                  path, (unsigned)(st.st_mode & 07777), path);
        return false;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        cli_error("auth_file %s must belong to this user or root", path);
        return false;
    }
    return true;
}

/* Tell wardd to reload: "zRELOAD\0" on its socket, "RELOADING" back. */
static void reload_wardd(const char *sock)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!sock || !*sock || strlen(sock) >= sizeof sa.sun_path)
        return;
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        ward_log(WARD_LOG_INFO, "wardd is not running on %s (%s): no reload", sock,
                 strerror(errno));
        close(fd);
        return;
    }
    char reply[64] = "";
    size_t got = 0;
    if (!ward_write_full(fd, "zRELOAD", 8)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (got < sizeof reply - 1 && poll(&p, 1, 10000) == 1) {
            ssize_t r = read(fd, reply + got, sizeof reply - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            if (memchr(reply, 0, got))
                break;
        }
    }
    close(fd);
    reply[got] = 0;
    if (strncmp(reply, "RELOADING", 9) == 0)
        ward_log(WARD_LOG_NOTICE, "wardd is reloading the database");
    else
        ward_log(WARD_LOG_WARNING, "wardd on %s did not confirm the reload", sock);
}

static bool run_post_command(const char *cmd)
{
    if (!cmd || !*cmd)
        return true;
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        ward_log(WARD_LOG_ERROR, "post_update_command failed (status %d): %s", st, cmd);
        return false;
    }
    return true;
}

static bool open_log(const char *file, const char *level, bool quiet)
{
    enum ward_log_level l = quiet ? WARD_LOG_ERROR : WARD_LOG_NOTICE;
    if (level && !ward_log_level_parse(level, &l)) {
        cli_error("--log-level: error, warning, notice, info, debug or trace");
        return false;
    }
    struct ward_diag d;
    if (ward_log_open(file ? WARD_LOG_FILE : WARD_LOG_STDERR, "ward update", file, l, &d)) {
        cli_error("%s", d.msg);
        return false;
    }
    return true;
}

/* Settings from [update] into cfg; strings point into `lists` and the config. */
static bool read_settings(struct cli_env *env, struct ward_update_cfg *cfg, char **lists,
                          const char **servers, const char **bundles, const char **clamav,
                          struct ward_minisign_pub *keys, char *proxy, size_t proxy_cap)
{
    const ward_conf *c = env->conf;
    const char *names[3] = {"servers", "bundles", "clamav_databases"};
    const char **outs[3] = {servers, bundles, clamav};
    size_t *counts[3] = {&cfg->n_servers, &cfg->n_bundles, &cfg->n_clamav};
    for (int i = 0; i < 3; i++) {
        lists[i] = strdup(ward_opt_str(c, update_sec, names[i]) ?: "");
        if (!lists[i])
            return false;
        *counts[i] = split_list(lists[i], outs[i], MAX_LIST);
    }
    cfg->servers = servers;
    cfg->bundles = bundles;
    cfg->clamav = clamav;
    cfg->servers_only = ward_opt_bool(c, update_sec, "servers_only");
    if (!load_keys(ward_opt_str(c, update_sec, "public_keys"), keys, &cfg->n_keys))
        return false;
    cfg->keys = keys;
    cfg->fetch.connect_timeout = (unsigned)ward_opt_u64(c, update_sec, "connect_timeout");
    cfg->fetch.stall_timeout = (unsigned)ward_opt_u64(c, update_sec, "receive_timeout");
    cfg->retries = (unsigned)ward_opt_u64(c, update_sec, "retries");
    cfg->keep_versions = (unsigned)ward_opt_u64(c, update_sec, "keep_versions");
    const char *paddr = ward_opt_str(c, update_sec, "proxy_addr");
    uint64_t pport = ward_opt_u64(c, update_sec, "proxy_port");
    if (paddr && *paddr) {
        if (pport)
            snprintf(proxy, proxy_cap, "%s:%llu", paddr, (unsigned long long)pport);
        else
            snprintf(proxy, proxy_cap, "%s", paddr);
        cfg->fetch.proxy = proxy;
        cfg->fetch.proxy_user = ward_opt_str(c, update_sec, "proxy_username");
        cfg->fetch.proxy_pass = ward_opt_str(c, update_sec, "proxy_password");
    }
    cfg->fetch.user = ward_opt_str(c, update_sec, "username");
    cfg->fetch.pass = ward_opt_str(c, update_sec, "password");
    const char *auth = ward_opt_str(c, update_sec, "auth_file");
    if (auth && *auth) {
        if (!auth_file_ok(auth))
            return false;
        cfg->fetch.netrc = auth;
    }
    if (!cfg->mirror_dir) {
        const char *m = ward_opt_str(c, update_sec, "mirror_dir");
        cfg->mirror_dir = m && *m ? m : NULL;
    }
    return true;
}

static int after_switch(struct cli_env *env, bool reload)
{
    if (reload)
        reload_wardd(ward_opt_str(env->conf, wardd_sec, "socket"));
    return run_post_command(ward_opt_str(env->conf, update_sec, "post_update_command"));
}

int cmd_update(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"mirror", required_argument, NULL, 'm'},
        {"rollback", no_argument, NULL, 'R'},     {"quiet", no_argument, NULL, 'q'},
        {"log", required_argument, NULL, 'l'},    {"log-level", required_argument, NULL, 'L'},
        {"no-reload", no_argument, NULL, 'N'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *log_file = NULL, *log_level = NULL, *mirror = NULL;
    bool rollback = false, quiet = false, reload = true;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'm': mirror = optarg; break;
        case 'R': rollback = true; break;
        case 'q': quiet = true; break;
        case 'l': log_file = optarg; break;
        case 'L': log_level = optarg; break;
        case 'N': reload = false; break;
        case 'h': usage(stdout); return EXIT_CLEAN;
        default: usage(stderr); return EXIT_ERROR;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_ERROR;
    }
    struct cli_env env = {0};
    if (!cli_load_config(&env, config) || !open_log(log_file, log_level, quiet))
        return EXIT_ERROR;
    int rc = EXIT_ERROR;
    const char *dbdir = ward_opt_str(env.conf, global_sec, "database_dir");
    if (!dbdir || !*dbdir) {
        cli_error("update: set [global] database_dir: the database that ward update keeps "
                  "(the bundled one is read-only)");
        goto out;
    }
    struct ward_diag d;
    if (rollback) {
        char to[PATH_MAX];
        if (ward_update_rollback(dbdir, to, sizeof to, &d)) {
            cli_error("update --rollback: %s", d.msg);
            goto out;
        }
        if (!quiet)
            printf("ward update: rolled back %s to %s\n", dbdir, to);
        rc = after_switch(&env, reload) ? EXIT_UPDATED : EXIT_ERROR;
        goto out;
    }
    struct ward_update_cfg cfg = {.database_dir = dbdir, .mirror_dir = mirror};
    char *lists[3] = {NULL, NULL, NULL}, *ckeys[4] = {NULL, NULL, NULL, NULL};
    const char *servers[MAX_LIST], *bundles[MAX_LIST], *clamav[MAX_LIST];
    struct ward_minisign_pub keys[MAX_KEYS];
    char proxy[512];
    if (!read_settings(&env, &cfg, lists, servers, bundles, clamav, keys, proxy, sizeof proxy) ||
        !cli_clamav_keys(&env, ckeys))
        goto free_lists;
    cfg.cvd_n = ckeys[0];
    cfg.cvd_e = ckeys[1];
    cfg.info_n = ckeys[2];
    cfg.info_e = ckeys[3];
    const char *cache = ward_opt_str(env.conf, global_sec, "cache_dir");
    if (cache && *cache)
        cfg.cache_dir = cache;
    else if (ward_path_default_cache(env.cache_dir, sizeof env.cache_dir))
        cfg.cache_dir = env.cache_dir;
    enum ward_update_result res;
    struct ward_update_stats st;
    if (ward_update_run(&cfg, &res, &st, &d)) {
        cli_error("update failed, the installed database is unchanged: %s", d.msg);
        goto free_lists;
    }
    if (res == WARD_UPDATE_INSTALLED) {
        if (!quiet)
            printf("ward update: installed %s (%u files downloaded, %u kept, %llu bytes "
                   "received)\n",
                   st.installed, st.fetched, st.linked, (unsigned long long)st.bytes);
        rc = after_switch(&env, reload) ? EXIT_UPDATED : EXIT_ERROR;
    } else {
        if (!quiet)
            printf("ward update: %s is current (%llu bytes received)\n", dbdir,
                   (unsigned long long)st.bytes);
        rc = EXIT_CURRENT;
    }
free_lists:
    for (int i = 0; i < 3; i++)
        free(lists[i]);
    for (int i = 0; i < 4; i++)
        free(ckeys[i]);
out:
    ward_log_close();
    cli_env_free(&env);
    return rc;
}
