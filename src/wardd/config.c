/* config.c - wardd's settings from [wardd] (first) and [global]. */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/options.h"
#include "util/paths.h"
#include "wardd.h"

static const char *const sections[] = {"wardd", "global", NULL};

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

bool wardd_cfg_load(const char *path, struct wardd_cfg *cfg,
                    void (*report)(void *ctx, const char *msg), void *ctx)
{
    ward_conf *conf = NULL;
    memset(cfg, 0, sizeof *cfg);
    if (!ward_options_load(path, &conf, report, ctx))
        return false;
    if (path)
        copy(cfg->config_path, sizeof cfg->config_path, path);
    const char *v = ward_opt_str(conf, sections, "database_dir");
    if (v && *v)
        copy(cfg->database_dir, sizeof cfg->database_dir, v);
    else if (!ward_path_default_database(cfg->database_dir, sizeof cfg->database_dir))
        cfg->database_dir[0] = 0;
    v = ward_opt_str(conf, sections, "cache_dir");
    if (v && *v)
        copy(cfg->cache_dir, sizeof cfg->cache_dir, v);
    else if (!ward_path_default_cache(cfg->cache_dir, sizeof cfg->cache_dir))
        cfg->cache_dir[0] = 0;
    copy(cfg->tmp_dir, sizeof cfg->tmp_dir, ward_opt_str(conf, sections, "tmp_dir"));
    copy(cfg->socket_path, sizeof cfg->socket_path, ward_opt_str(conf, sections, "socket"));
    cfg->socket_mode = (unsigned)ward_opt_u64(conf, sections, "socket_mode");
    copy(cfg->socket_group, sizeof cfg->socket_group,
         ward_opt_str(conf, sections, "socket_group"));
    copy(cfg->tcp_listen, sizeof cfg->tcp_listen, ward_opt_str(conf, sections, "tcp_listen"));
    copy(cfg->pid_file, sizeof cfg->pid_file, ward_opt_str(conf, sections, "pid_file"));
    copy(cfg->user, sizeof cfg->user, ward_opt_str(conf, sections, "user"));
    cfg->max_threads = (unsigned)ward_opt_u64(conf, sections, "max_threads");
    cfg->max_queue = (unsigned)ward_opt_u64(conf, sections, "max_queue");
    cfg->max_connections = (unsigned)ward_opt_u64(conf, sections, "max_connections");
    cfg->read_timeout = (unsigned)ward_opt_u64(conf, sections, "read_timeout");
    cfg->idle_timeout = (unsigned)ward_opt_u64(conf, sections, "idle_timeout");
    cfg->stream_max_length = ward_opt_u64(conf, sections, "stream_max_length");
    cfg->self_check = (unsigned)ward_opt_u64(conf, sections, "self_check");
    cfg->log_level = (int)ward_opt_u64(conf, sections, "log_level");
    copy(cfg->log_file, sizeof cfg->log_file, ward_opt_str(conf, sections, "log_file"));
    cfg->syslog = ward_opt_bool(conf, sections, "syslog");
    cfg->cache_size = ward_opt_u64(conf, sections, "cache_size");
    copy(cfg->cvd_key, sizeof cfg->cvd_key, ward_opt_str(conf, sections, "clamav_cvd_key"));
    copy(cfg->info_key, sizeof cfg->info_key, ward_opt_str(conf, sections, "clamav_info_key"));
    cfg->limits.max_filesize = ward_opt_u64(conf, sections, "max_filesize");
    cfg->limits.max_scansize = ward_opt_u64(conf, sections, "max_scansize");
    cfg->limits.max_recursion = (uint32_t)ward_opt_u64(conf, sections, "max_recursion");
    cfg->limits.max_files = (uint32_t)ward_opt_u64(conf, sections, "max_files");
    cfg->limits.max_scantime = (uint32_t)ward_opt_u64(conf, sections, "max_scantime");
    cfg->limits.max_ratio = (uint32_t)ward_opt_u64(conf, sections, "max_ratio");
    ward_conf_free(conf);
    if (!cfg->database_dir[0]) {
        report(ctx, "no database_dir configured and no bundled database found");
        return false;
    }
    if (!cfg->socket_path[0] && !cfg->tcp_listen[0]) {
        report(ctx, "neither [wardd] socket nor [wardd] tcp_listen is set: nothing to listen on");
        return false;
    }
    return true;
}
