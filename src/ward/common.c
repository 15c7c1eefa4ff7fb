/* common.c - configuration and database loading for the ward subcommands. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/dsig.h"
#include "util/options.h"
#include "util/paths.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ward: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void print_problem(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ward: %s\n", msg);
}

bool cli_load_config(struct cli_env *env, const char *path)
{
    char def[PATH_MAX];
    if (!path) {
        struct stat st;
        if (!ward_path_default_config(def, sizeof def) || stat(def, &st) != 0)
            return true; /* no configuration: defaults */
        path = def;
    }
    snprintf(env->conf_path, sizeof env->conf_path, "%s", path);
    struct ward_diag d;
    if (ward_conf_parse_file(path, &env->conf, &d)) {
        cli_error("%s", d.msg);
        return false;
    }
    if (ward_options_check(env->conf, print_problem, NULL)) {
        cli_error("%s: configuration has errors", path);
        return false;
    }
    return true;
}

bool cli_add_database(struct cli_env *env, const char *path)
{
    if (env->n_databases == MAX_DATABASES) {
        cli_error("too many --database options (at most %d)", MAX_DATABASES);
        return false;
    }
    env->databases[env->n_databases++] = path;
    return true;
}

static void print_load_error(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ward: %s\n", msg);
}

bool cli_clamav_keys(struct cli_env *env, char *keys[4])
{
    static const char *const global[] = {"global", NULL};
    static const char *const key_opts[2] = {"clamav_cvd_key", "clamav_info_key"};
    for (int i = 0; i < 2; i++) {
        const char *path = ward_opt_str(env->conf, global, key_opts[i]);
        struct ward_diag kd;
        if (path && *path && ward_dsig_load_pem(path, &keys[2 * i], &keys[2 * i + 1], &kd)) {
            cli_error("%s: %s", key_opts[i], kd.msg);
            for (int k = 0; k < 4; k++) {
                free(keys[k]);
                keys[k] = NULL;
            }
            return false;
        }
    }
    return true;
}

ward_db *cli_load_database(struct cli_env *env, bool check_only, bool collect_errors)
{
    static const char *const global[] = {"global", NULL};
    if (env->n_databases == 0) {
        const char *dir = ward_opt_str(env->conf, global, "database_dir");
        if (dir && *dir) {
            snprintf(env->default_db, sizeof env->default_db, "%s", dir);
        } else if (!ward_path_default_database(env->default_db, sizeof env->default_db)) {
            cli_error("cannot find the bundled signature database");
            return NULL;
        }
        env->databases[env->n_databases++] = env->default_db;
    }
    const char *cache = ward_opt_str(env->conf, global, "cache_dir");
    if (cache && *cache)
        snprintf(env->cache_dir, sizeof env->cache_dir, "%s", cache);
    else if (!ward_path_default_cache(env->cache_dir, sizeof env->cache_dir))
        env->cache_dir[0] = 0;

    struct ward_db_opts o = {0};
    o.cache_dir = env->cache_dir[0] ? env->cache_dir : NULL;
    /* Keys for ClamAV containers: ClamAV's own unless the configuration names others. */
    char *keys[4] = {NULL, NULL, NULL, NULL};
    if (!cli_clamav_keys(env, keys))
        return NULL;
    o.keys.cvd_n = keys[0];
    o.keys.cvd_e = keys[1];
    o.keys.info_n = keys[2];
    o.keys.info_e = keys[3];
    o.check_only = check_only;
    o.collect_errors = collect_errors;
    o.on_error = print_load_error;
    ward_db *db = NULL;
    struct ward_diag d;
    ward_err err = ward_db_load(env->databases, env->n_databases, &o, &db, &d);
    for (int k = 0; k < 4; k++)
        free(keys[k]);
    if (err) {
        if (!collect_errors)
            cli_error("cannot load signatures: %s", d.msg);
        return NULL;
    }
    return db;
}

void cli_env_free(struct cli_env *env)
{
    ward_conf_free(env->conf);
    env->conf = NULL;
}

ward_quarantine *cli_open_quarantine(struct cli_env *env, bool create)
{
    static const char *const global[] = {"global", NULL};
    const char *dir = ward_opt_str(env->conf, global, "quarantine_dir");
    const char *key = ward_opt_str(env->conf, global, "quarantine_key_file");
    struct ward_qopts o = {
        .max_size = ward_opt_u64(env->conf, global, "quarantine_max_size"),
        .max_age = ward_opt_u64(env->conf, global, "quarantine_max_age"),
        .create = create,
    };
    ward_quarantine *q = NULL;
    struct ward_diag d;
    if (!dir || !*dir) {
        cli_error("quarantine_dir is not set");
        return NULL;
    }
    if (ward_quarantine_open(dir, key && *key ? key : NULL, &o, &q, &d)) {
        cli_error("quarantine: %s", d.msg);
        return NULL;
    }
    return q;
}
