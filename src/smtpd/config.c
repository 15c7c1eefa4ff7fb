/* config.c - ward-smtpd's settings from [smtp] (first) and [global]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"
#include "util/conf.h"
#include "util/options.h"

static const char *const sections[] = {"smtp", "global", NULL};

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

bool smtpd_parse_forward(const char *s, struct smtpd_cfg *cfg, const char **why)
{
    const char *rest;
    if (strncmp(s, "smtp:", 5) == 0) {
        cfg->hop = HOP_SMTP;
        rest = s + 5;
    } else if (strncmp(s, "lmtp:", 5) == 0) {
        cfg->hop = HOP_LMTP;
        rest = s + 5;
    } else {
        *why = "expected smtp:HOST:PORT, lmtp:HOST:PORT or lmtp:(COMMAND)";
        return false;
    }
    if (cfg->hop == HOP_LMTP && rest[0] == '(') {
        size_t n = strlen(rest);
        if (n < 3 || rest[n - 1] != ')' || n - 2 >= sizeof cfg->hop_cmd) {
            *why = "lmtp:(COMMAND) needs a command inside the parentheses";
            return false;
        }
        cfg->hop = HOP_LMTP_CMD;
        memcpy(cfg->hop_cmd, rest + 1, n - 2);
        cfg->hop_cmd[n - 2] = 0;
        return true;
    }
    const char *colon = strrchr(rest, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == rest || !colon[1] || *end || port == 0 || port > 65535 ||
        (size_t)(colon - rest) >= sizeof cfg->hop_host) {
        *why = "expected HOST:PORT after the protocol";
        return false;
    }
    /* [::1]:25 as well as 127.0.0.1:25 */
    const char *h = rest;
    size_t hl = (size_t)(colon - rest);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    memcpy(cfg->hop_host, h, hl);
    cfg->hop_host[hl] = 0;
    cfg->hop_port = (unsigned)port;
    return true;
}

/* The line of an option, for messages about a value the schema cannot check. */
static unsigned opt_line(const ward_conf *conf, const char *key)
{
    const struct ward_conf_entry *e = conf ? ward_conf_find(conf, "smtp", key) : NULL;
    return e ? e->line : 0;
}

static bool bad(const ward_conf *conf, const char *key, const char *why,
                void (*report)(void *ctx, const char *msg), void *ctx)
{
    char msg[700];
    if (conf)
        snprintf(msg, sizeof msg, "%s:%u: [smtp] %s: %s", conf->path, opt_line(conf, key), key,
                 why);
    else
        snprintf(msg, sizeof msg, "[smtp] %s: %s", key, why);
    report(ctx, msg);
    return false;
}

bool smtpd_cfg_load(const char *path, struct smtpd_cfg *cfg,
                    void (*report)(void *ctx, const char *msg), void *ctx)
{
    ward_conf *conf = NULL;
    memset(cfg, 0, sizeof *cfg);
    if (!ward_options_load(path, &conf, report, ctx))
        return false;
    if (path)
        copy(cfg->config_path, sizeof cfg->config_path, path);
    bool ok = true;
    const char *why = NULL;
    copy(cfg->listen_addr, sizeof cfg->listen_addr, ward_opt_str(conf, sections, "listen_addr"));
    cfg->listen_port = (unsigned)ward_opt_u64(conf, sections, "listen_port");
    cfg->listen_lmtp = strcmp(ward_opt_str(conf, sections, "listen_protocol"), "lmtp") == 0;
    const char *fwd = ward_opt_str(conf, sections, "forward");
    if (fwd && *fwd) {
        if (!smtpd_parse_forward(fwd, cfg, &why))
            ok = bad(conf, "forward", why, report, ctx);
    } else {
        cfg->hop = HOP_SMTP;
        copy(cfg->hop_host, sizeof cfg->hop_host, ward_opt_str(conf, sections, "server_addr"));
        cfg->hop_port = (unsigned)ward_opt_u64(conf, sections, "server_port");
        if (cfg->hop_port == 0)
            ok = bad(conf, "server_port", "must be set (or use forward)", report, ctx);
    }
    if (!smtpd_acl_parse(ward_opt_str(conf, sections, "allowed_clients"), cfg, &why))
        ok = bad(conf, "allowed_clients", why, report, ctx);
    cfg->max_connections = (unsigned)ward_opt_u64(conf, sections, "max_connections");
    cfg->max_per_client = (unsigned)ward_opt_u64(conf, sections, "max_per_client");
    cfg->max_recipients = (unsigned)ward_opt_u64(conf, sections, "max_recipients");
    cfg->max_message_size = ward_opt_u64(conf, sections, "max_message_size");
    cfg->client_timeout = (unsigned)ward_opt_u64(conf, sections, "client_timeout");
    cfg->server_timeout = (unsigned)ward_opt_u64(conf, sections, "server_timeout");
    cfg->min_data_rate = ward_opt_u64(conf, sections, "min_data_rate");
    cfg->scan_timeout_ms = (unsigned)ward_opt_u64(conf, sections, "scan_timeout");
    copy(cfg->hostname, sizeof cfg->hostname, ward_opt_str(conf, sections, "hostname"));
    if (!cfg->hostname[0] && gethostname(cfg->hostname, sizeof cfg->hostname - 1) != 0)
        copy(cfg->hostname, sizeof cfg->hostname, "localhost");
    copy(cfg->tls_cert, sizeof cfg->tls_cert, ward_opt_str(conf, sections, "tls_cert"));
    copy(cfg->tls_key, sizeof cfg->tls_key, ward_opt_str(conf, sections, "tls_key"));
    if (cfg->tls_cert[0] && !cfg->tls_key[0])
        ok = bad(conf, "tls_cert", "needs tls_key", report, ctx);
    cfg->scan = ward_opt_bool(conf, sections, "scan");
    copy(cfg->wardd, sizeof cfg->wardd, ward_opt_str(conf, sections, "wardd_socket"));
    if (!cfg->wardd[0]) {
        static const char *const wsec[] = {"wardd", NULL};
        copy(cfg->wardd, sizeof cfg->wardd, ward_opt_str(conf, wsec, "socket"));
    }
    cfg->scan_threads = (unsigned)ward_opt_u64(conf, sections, "scan_threads");
    cfg->hop_chunking = ward_opt_bool(conf, sections, "next_hop_chunking");
    copy(cfg->tmp_dir, sizeof cfg->tmp_dir, ward_opt_str(conf, sections, "tmp_dir"));
    if (!cfg->tmp_dir[0])
        copy(cfg->tmp_dir, sizeof cfg->tmp_dir, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    copy(cfg->pid_file, sizeof cfg->pid_file, ward_opt_str(conf, sections, "pid_file"));
    copy(cfg->user, sizeof cfg->user, ward_opt_str(conf, sections, "user"));
    cfg->log_level = (int)ward_opt_u64(conf, sections, "log_level");
    copy(cfg->log_file, sizeof cfg->log_file, ward_opt_str(conf, sections, "log_file"));
    cfg->syslog = ward_opt_bool(conf, sections, "syslog");
    ward_conf_free(conf);
    return ok;
}
