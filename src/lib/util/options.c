/* options.c - the table of ward.conf options and their validation. */
#include "util/options.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/strutil.h"

const struct ward_opt ward_options[] = {
    /* [global]: shared by every program */
    {"global", "database_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "cache_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "tmp_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "log_level", WARD_OPT_LOGLEVEL, "notice", NULL, 0},
    {"global", "log_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "syslog", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "max_filesize", WARD_OPT_SIZE, "100M", NULL, 0},
    {"global", "max_scansize", WARD_OPT_SIZE, "400M", NULL, 0},
    {"global", "max_recursion", WARD_OPT_UINT, "17", NULL, 64},
    {"global", "max_files", WARD_OPT_UINT, "10000", NULL, 0},
    {"global", "max_scantime", WARD_OPT_MSEC, "120000", NULL, 0},
    {"global", "max_ratio", WARD_OPT_UINT, "1000", NULL, 0},
    {"global", "cache_size", WARD_OPT_UINT, "65536", NULL, 0},
    {"global", "clamav_cvd_key", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "clamav_info_key", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "quarantine_dir", WARD_OPT_PATH, "/var/lib/ward/quarantine", NULL, 0},
    {"global", "quarantine_key_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "quarantine_max_size", WARD_OPT_SIZE, "0", NULL, 0},
    {"global", "quarantine_max_age", WARD_OPT_DURATION, "0", NULL, 0},
    {"global", "sendmail_path", WARD_OPT_PATH, "/usr/sbin/sendmail", NULL, 0},
    /* [wardd]: the scanning daemon; the limits and logging of [global] may be set here too */
    {"wardd", "socket", WARD_OPT_PATH, "/run/ward/wardd.sock", NULL, 0},
    {"wardd", "socket_mode", WARD_OPT_MODE, "0666", NULL, 0},
    {"wardd", "socket_group", WARD_OPT_STRING, "", NULL, 0},
    {"wardd", "tcp_listen", WARD_OPT_HOSTPORT, "", NULL, 0},
    {"wardd", "pid_file", WARD_OPT_PATH, "/run/ward/wardd.pid", NULL, 0},
    {"wardd", "user", WARD_OPT_STRING, "", NULL, 0},
    {"wardd", "max_threads", WARD_OPT_UINT, "0", NULL, 1024},
    {"wardd", "max_queue", WARD_OPT_UINT, "100", NULL, 1000000},
    {"wardd", "max_connections", WARD_OPT_UINT, "1000", NULL, 1000000},
    {"wardd", "read_timeout", WARD_OPT_DURATION, "120", NULL, 0},
    {"wardd", "idle_timeout", WARD_OPT_DURATION, "30", NULL, 0},
    {"wardd", "stream_max_length", WARD_OPT_SIZE, "100M", NULL, 0},
    {"wardd", "self_check", WARD_OPT_DURATION, "600", NULL, 0},
    {"wardd", "log_level", WARD_OPT_LOGLEVEL, NULL, NULL, 0},
    {"wardd", "log_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"wardd", "syslog", WARD_OPT_BOOL, NULL, NULL, 0},
    {"wardd", "max_filesize", WARD_OPT_SIZE, NULL, NULL, 0},
    {"wardd", "max_scansize", WARD_OPT_SIZE, NULL, NULL, 0},
    {"wardd", "max_recursion", WARD_OPT_UINT, NULL, NULL, 64},
    {"wardd", "max_files", WARD_OPT_UINT, NULL, NULL, 0},
    {"wardd", "max_scantime", WARD_OPT_MSEC, NULL, NULL, 0},
    {"wardd", "max_ratio", WARD_OPT_UINT, NULL, NULL, 0},
    {"wardd", "cache_size", WARD_OPT_UINT, NULL, NULL, 0},
    /* [scan]: the on-demand scanner, ward scan */
    {"scan", "threads", WARD_OPT_UINT, "0", NULL, 1024},
    {"scan", "all_matches", WARD_OPT_BOOL, "no", NULL, 0},
    {"scan", "follow_symlinks", WARD_OPT_BOOL, "no", NULL, 0},
    {"scan", "cross_filesystems", WARD_OPT_BOOL, "yes", NULL, 0},
    {"scan", "exclude", WARD_OPT_REGEX, NULL, NULL, 0},
    {"scan", "exclude_dir", WARD_OPT_REGEX, NULL, NULL, 0},
    {"scan", "include", WARD_OPT_REGEX, NULL, NULL, 0},
    {"scan", "on_infected", WARD_OPT_STRING, "report", NULL, 0},
    {"scan", "on_suspicious", WARD_OPT_STRING, "report", NULL, 0},
    {"scan", "on_not_scanned", WARD_OPT_STRING, "report", NULL, 0},
    {"scan", "backup", WARD_OPT_BOOL, "no", NULL, 0},
    /* [update]: ward update (and wardd's periodic updates) */
    {"update", "servers", WARD_OPT_STRING, "", NULL, 0},
    {"update", "servers_only", WARD_OPT_BOOL, "no", NULL, 0},
    {"update", "bundles", WARD_OPT_STRING, "ward", NULL, 0},
    {"update", "clamav_databases", WARD_OPT_STRING, "", NULL, 0},
    {"update", "public_keys", WARD_OPT_STRING, "/etc/ward/keys/*.pub", NULL, 0},
    {"update", "connect_timeout", WARD_OPT_DURATION, "30", NULL, 0},
    {"update", "receive_timeout", WARD_OPT_DURATION, "60", NULL, 0},
    {"update", "retries", WARD_OPT_UINT, "2", NULL, 10},
    {"update", "proxy_addr", WARD_OPT_STRING, "", NULL, 0},
    {"update", "proxy_port", WARD_OPT_UINT, "0", NULL, 65535},
    {"update", "proxy_username", WARD_OPT_STRING, "", NULL, 0},
    {"update", "proxy_password", WARD_OPT_STRING, "", NULL, 0},
    {"update", "username", WARD_OPT_STRING, "", NULL, 0},
    {"update", "password", WARD_OPT_STRING, "", NULL, 0},
    {"update", "auth_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"update", "mirror_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"update", "keep_versions", WARD_OPT_UINT, "2", NULL, 100},
    {"update", "post_update_command", WARD_OPT_STRING, "", NULL, 0},
    {"update", "update_period", WARD_OPT_UINT, "0", NULL, 0},
    /* [mirror]: ward-mirrord, the HTTP server of an update mirror */
    {"mirror", "dir", WARD_OPT_PATH, "/var/lib/ward/mirror", NULL, 0},
    {"mirror", "listen_addr", WARD_OPT_STRING, "0.0.0.0", NULL, 0},
    {"mirror", "listen_port", WARD_OPT_UINT, "2221", NULL, 65535},
    {"mirror", "tls_cert", WARD_OPT_PATH, NULL, NULL, 0},
    {"mirror", "tls_key", WARD_OPT_PATH, NULL, NULL, 0},
    {"mirror", "username", WARD_OPT_STRING, "", NULL, 0},
    {"mirror", "password", WARD_OPT_STRING, "", NULL, 0},
    {"mirror", "max_connections", WARD_OPT_UINT, "100", NULL, 100000},
    {"mirror", "pid_file", WARD_OPT_PATH, "/run/ward/ward-mirrord.pid", NULL, 0},
    {"mirror", "user", WARD_OPT_STRING, "", NULL, 0},
    {"mirror", "log_level", WARD_OPT_LOGLEVEL, NULL, NULL, 0},
    {"mirror", "log_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"mirror", "syslog", WARD_OPT_BOOL, NULL, NULL, 0},
    /* [milter]: ward-milter, the Sendmail/Postfix mail filter (and the mail policy options) */
    {"milter", "socket", WARD_OPT_STRING, "unix:/run/ward/ward-milter.sock", NULL, 0},
    {"milter", "socket_mode", WARD_OPT_MODE, "0660", NULL, 0},
    {"milter", "socket_group", WARD_OPT_STRING, "", NULL, 0},
    {"milter", "wardd_socket", WARD_OPT_STRING, "/run/ward/wardd.sock", NULL, 0},
    {"milter", "scan_timeout", WARD_OPT_MSEC, "240000", NULL, 0},
    {"milter", "mta_timeout", WARD_OPT_DURATION, "600", NULL, 0},
    {"milter", "max_message_size", WARD_OPT_SIZE, "100M", NULL, 0},
    {"milter", "quarantine_hold", WARD_OPT_BOOL, "no", NULL, 0},
    {"milter", "pid_file", WARD_OPT_PATH, "/run/ward/ward-milter.pid", NULL, 0},
    {"milter", "user", WARD_OPT_STRING, "", NULL, 0},
    {"milter", "tmp_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"milter", "log_level", WARD_OPT_LOGLEVEL, NULL, NULL, 0},
    {"milter", "log_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"milter", "syslog", WARD_OPT_BOOL, NULL, NULL, 0},
    /* [smtp]: ward-smtpd, the SMTP/LMTP proxy and Postfix content filter (and the mail policy options) */
    {"smtp", "listen_addr", WARD_OPT_STRING, "127.0.0.1", NULL, 0},
    {"smtp", "listen_port", WARD_OPT_UINT, "10025", NULL, 65535},
    {"smtp", "listen_protocol", WARD_OPT_ENUM, "smtp", "smtp|lmtp", 0},
    {"smtp", "server_addr", WARD_OPT_STRING, "127.0.0.1", NULL, 0},
    {"smtp", "server_port", WARD_OPT_UINT, "10026", NULL, 65535},
    {"smtp", "forward", WARD_OPT_STRING, "", NULL, 0},
    {"smtp", "allowed_clients", WARD_OPT_STRING, "127.0.0.0/8 ::1", NULL, 0},
    {"smtp", "max_connections", WARD_OPT_UINT, "1000", NULL, 1000000},
    {"smtp", "max_per_client", WARD_OPT_UINT, "200", NULL, 1000000},
    {"smtp", "max_recipients", WARD_OPT_UINT, "1000", NULL, 100000},
    {"smtp", "max_message_size", WARD_OPT_SIZE, "100M", NULL, 0},
    {"smtp", "client_timeout", WARD_OPT_DURATION, "240", NULL, 0},
    {"smtp", "server_timeout", WARD_OPT_DURATION, "100", NULL, 0},
    {"smtp", "min_data_rate", WARD_OPT_SIZE, "500", NULL, 0},
    {"smtp", "scan_timeout", WARD_OPT_MSEC, "240000", NULL, 0},
    {"smtp", "hostname", WARD_OPT_STRING, "", NULL, 0},
    {"smtp", "tls_cert", WARD_OPT_PATH, NULL, NULL, 0},
    {"smtp", "tls_key", WARD_OPT_PATH, NULL, NULL, 0},
    {"smtp", "scan", WARD_OPT_BOOL, "yes", NULL, 0},
    {"smtp", "wardd_socket", WARD_OPT_STRING, "", NULL, 0},
    {"smtp", "scan_threads", WARD_OPT_UINT, "16", NULL, 1024},
    {"smtp", "next_hop_chunking", WARD_OPT_BOOL, "yes", NULL, 0},
    {"smtp", "tmp_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {"smtp", "pid_file", WARD_OPT_PATH, "/run/ward/ward-smtpd.pid", NULL, 0},
    {"smtp", "user", WARD_OPT_STRING, "", NULL, 0},
    {"smtp", "log_level", WARD_OPT_LOGLEVEL, NULL, NULL, 0},
    {"smtp", "log_file", WARD_OPT_PATH, NULL, NULL, 0},
    {"smtp", "syslog", WARD_OPT_BOOL, NULL, NULL, 0},
    /* [pipe]: ward-pipe, the stdin-to-stdout filter (and the mail policy options) */
    {"pipe", "wardd_socket", WARD_OPT_STRING, "", NULL, 0},
    {"pipe", "scan_timeout", WARD_OPT_MSEC, "600000", NULL, 0},
    {"pipe", "exit_codes", WARD_OPT_ENUM, "auto", "auto|qmail|sysexits", 0},
    {"pipe", "tmp_dir", WARD_OPT_PATH, NULL, NULL, 0},
    /* [mda]: ward-mda, in front of the delivery agent (and the mail policy options) */
    {"mda", "mda_path", WARD_OPT_PATH, "/usr/bin/procmail", NULL, 0},
    {"mda", "wardd_socket", WARD_OPT_STRING, "", NULL, 0},
    {"mda", "scan_timeout", WARD_OPT_MSEC, "600000", NULL, 0},
    {"mda", "exit_codes", WARD_OPT_ENUM, "auto", "auto|qmail|sysexits", 0},
    {"mda", "tmp_dir", WARD_OPT_PATH, NULL, NULL, 0},
    {NULL, NULL, 0, NULL, NULL, 0},
};

/*
 * The mail policy (docs/mail.md): set in [global], overridden in a mail
 * agent's section and in the sections of the user_config file, so these are
 * found under any of those names (ward_option_find, ward_mail_option_find).
 */
const struct ward_opt ward_mail_options[] = {
    {"global", "user_config", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "action_av", WARD_OPT_ENUM, "scan", "scan|accept|defer|discard|reject", 0},
    {"global", "action_av_infected", WARD_OPT_ENUM, "reject", "accept|defer|discard|reject", 0},
    {"global", "action_av_suspicious", WARD_OPT_ENUM, "reject", "accept|defer|discard|reject", 0},
    {"global", "action_av_notscanned", WARD_OPT_ENUM, "accept", "accept|defer|discard|reject", 0},
    {"global", "action_av_deleted", WARD_OPT_ENUM, "accept", "accept|defer|discard|reject", 0},
    {"global", "action_av_protected", WARD_OPT_ENUM, "accept", "accept|defer|discard|reject", 0},
    {"global", "action_filtered", WARD_OPT_ENUM, "reject", "accept|defer|discard|reject", 0},
    {"global", "av_clean_mode", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "av_quarantine", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "quarantine_infected", WARD_OPT_BOOL, "yes", NULL, 0},
    {"global", "quarantine_suspicious", WARD_OPT_BOOL, "yes", NULL, 0},
    {"global", "quarantine_notscanned", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "quarantine_filtered", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "filter_name", WARD_OPT_REGEX, NULL, NULL, 0},
    {"global", "filter_type", WARD_OPT_STRING, "", NULL, 0},
    {"global", "filter_max_size", WARD_OPT_SIZE, "0", NULL, 0},
    {"global", "write_to_header", WARD_OPT_ENUM, "infected", "none|infected|all", 0},
    {"global", "write_to_subject", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "subject_infected", WARD_OPT_STRING, "[virus %VIRUSNAME%] %SUBJECT%", NULL, 0},
    {"global", "subject_cleaned", WARD_OPT_STRING, "[cleaned %VIRUSNAME%] %SUBJECT%", NULL, 0},
    {"global", "subject_notscanned", WARD_OPT_STRING, "[not scanned] %SUBJECT%", NULL, 0},
    {"global", "write_to_body", WARD_OPT_ENUM, "none", "none|infected|all", 0},
    {"global", "template_dir", WARD_OPT_PATH, "/etc/ward/templates", NULL, 0},
    {"global", "notify_sender", WARD_OPT_ENUM, "none", "none|filtered|all", 0},
    {"global", "notify_recipients", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "notify_admin", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "admin_address", WARD_OPT_STRING, "postmaster", NULL, 0},
    {"global", "notify_from", WARD_OPT_STRING, "", NULL, 0},
    {"global", "notify_attach_report", WARD_OPT_BOOL, "yes", NULL, 0},
    {"global", "notify_attach_original", WARD_OPT_BOOL, "no", NULL, 0},
    {"global", "notify_relay", WARD_OPT_HOSTPORT, "", NULL, 0},
    {"global", "exec_script", WARD_OPT_PATH, NULL, NULL, 0},
    {"global", "exec_script_timeout", WARD_OPT_DURATION, "30", NULL, 0},
    {NULL, NULL, 0, NULL, NULL, 0},
};

/* The sections of mail agents, where the mail policy may be overridden. */
static const char *const mail_sections[] = {
    "global", "smtp", "milter", "mda", "pipe", "cgp", "pop3", "imap", NULL,
};

const struct ward_opt *ward_mail_option_find(const char *key)
{
    for (const struct ward_opt *o = ward_mail_options; o->key; o++)
        if (strcmp(o->key, key) == 0)
            return o;
    return NULL;
}

/* Sections later programs own; accepted (and ignored) until they define options. */
static const char *const reserved_sections[] = {
    "wardd", "smtp", "milter", "mda", "pipe", "cgp", "pop3", "imap", "oad", "preload",
    "update", "web", "mirror", NULL,
};

const struct ward_opt *ward_option_find(const char *section, const char *key)
{
    for (const struct ward_opt *o = ward_options; o->key; o++)
        if (strcmp(o->section, section) == 0 && strcmp(o->key, key) == 0)
            return o;
    for (const char *const *s = mail_sections; *s; s++)
        if (strcmp(*s, section) == 0)
            return ward_mail_option_find(key);
    return NULL;
}

static bool section_known(const char *section)
{
    for (const struct ward_opt *o = ward_options; o->key; o++)
        if (strcmp(o->section, section) == 0)
            return true;
    for (const char *const *s = reserved_sections; *s; s++)
        if (strcmp(*s, section) == 0)
            return true;
    return false;
}

/*
 * glibc's regcomp copies the operand of every repetition (a+ becomes aa*,
 * a{n} n copies), so nested repetitions grow exponentially: "(((a+)+)+)..."
 * or "((a{99}){99}){99}" take gigabytes before failing or succeeding; and
 * since optional atoms ("a?a?a?...") make its memory grow with the square of
 * the nodes, long ones cost gigabytes too. Bound the nodes, estimated from
 * the text: a group counts the sum of its alternatives, a repeated atom or
 * group its size times the repeat. 3000 nodes cost glibc at most about
 * 70 MB; ".{1,1000}" or a list of a hundred extensions still pass.
 */
#define REGEX_MAX_NODES 3000.0
#define REGEX_MAX_GROUPS 64
/* Repetitions nested in repeated groups, "((a+)*)+" is 3: glibc's epsilon
   closure grows exponentially with them when the groups can match empty
   ("(((()+$)+)+)+..." takes minutes with few nodes). */
#define REGEX_MAX_NESTED_REPEATS 3

static bool regex_size_ok(const char *re)
{
    /* Per open group: nodes of the finished part, and of the last atom. */
    double sum[REGEX_MAX_GROUPS + 1] = {0}, last[REGEX_MAX_GROUPS + 1] = {0};
    /* Per open group: deepest nesting of repetitions so far, and of the last atom. */
    unsigned rep[REGEX_MAX_GROUPS + 1] = {0}, last_rep[REGEX_MAX_GROUPS + 1] = {0};
    unsigned d = 0;
    for (const char *p = re; *p; p++) {
        double factor = 0; /* 0: p starts an atom, else it repeats the last one */
        if (*p == '(') {
            if (d == REGEX_MAX_GROUPS)
                return false;
            sum[d] += last[d];
            last[d] = 0;
            rep[d] = rep[d] > last_rep[d] ? rep[d] : last_rep[d];
            last_rep[d] = 0;
            d++;
            sum[d] = last[d] = 0;
            rep[d] = last_rep[d] = 0;
            continue;
        } else if (*p == ')' && d > 0) {
            double group = sum[d] + last[d] + 1;
            unsigned inner = rep[d] > last_rep[d] ? rep[d] : last_rep[d];
            d--;
            last[d] = group;
            last_rep[d] = inner;
        } else if (*p == '|') {
            sum[d] += last[d];
            last[d] = 0;
            rep[d] = rep[d] > last_rep[d] ? rep[d] : last_rep[d];
            last_rep[d] = 0;
        } else if (*p == '+') {
            factor = 2;
        } else if (*p == '*' || *p == '?') {
            factor = 1;
        } else if (*p == '{') {
            char *end;
            unsigned long lo = strtoul(p + 1, &end, 10), hi = lo;
            if (*end == ',')
                hi = end[1] == '}' ? lo : strtoul(end + 1, &end, 10);
            if (end[0] == ',' && end[1] == '}')
                end++;
            if (*end == '}') {
                factor = (double)(hi > lo ? hi : lo) + 1;
                p = end;
            }
        } else if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '[') {
            /* A bracket expression is one atom: skip to its closing ']'. */
            const char *q = p + 1;
            q += *q == '^';
            q += *q == ']';
            while (*q && *q != ']') {
                const char *close = NULL;
                if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '='))
                    close = strstr(q + 2, q[1] == ':' ? ":]" : q[1] == '.' ? ".]" : "=]");
                q = close ? close + 2 : q + 1;
            }
            p = *q ? q : q - 1;
        }
        if (factor) {
            last[d] *= factor;
            if (++last_rep[d] > REGEX_MAX_NESTED_REPEATS)
                return false;
        } else if (*p != ')' && *p != '|') {
            sum[d] += last[d];
            last[d] = 1;
            rep[d] = rep[d] > last_rep[d] ? rep[d] : last_rep[d];
            last_rep[d] = 0;
        }
        double total = 0;
        for (unsigned k = 0; k <= d; k++)
            total += sum[k] + last[k];
        if (total > REGEX_MAX_NODES)
            return false;
    }
    return true;
}

bool ward_opt_parse(const struct ward_opt *opt, const char *value, uint64_t *num,
                    const char **why)
{
    uint64_t v = 0;
    bool b;
    switch (opt->type) {
    case WARD_OPT_STRING:
        return true;
    case WARD_OPT_PATH:
        if (value[0] && value[0] != '/') {
            *why = "must be an absolute path";
            return false;
        }
        return true;
    case WARD_OPT_BOOL:
        if (!ward_parse_bool(value, &b)) {
            *why = "must be yes or no";
            return false;
        }
        v = b;
        break;
    case WARD_OPT_UINT:
        if (!ward_parse_u64(value, &v) || (opt->max && v > opt->max)) {
            static char msg[64];
            snprintf(msg, sizeof msg, "must be a whole number%s%llu", opt->max ? " up to " : "",
                     opt->max ? (unsigned long long)opt->max : 0ull);
            *why = opt->max ? msg : "must be a whole number";
            return false;
        }
        break;
    case WARD_OPT_SIZE:
        if (!ward_parse_size(value, &v)) {
            *why = "must be a size such as 1048576, 512K, 25M or 4G";
            return false;
        }
        break;
    case WARD_OPT_DURATION:
        if (!ward_parse_duration(value, &v)) {
            *why = "must be a duration such as 30, 30s, 5m, 2h or 1d";
            return false;
        }
        break;
    case WARD_OPT_MSEC: {
        size_t n = strlen(value);
        if (ward_parse_u64(value, &v))
            break; /* plain milliseconds */
        if (n > 2 && strcmp(value + n - 2, "ms") == 0) {
            if (!ward_parse_u64n(value, n - 2, &v)) {
                *why = "must be a duration such as 120000, 500ms, 30s or 2m";
                return false;
            }
            break;
        }
        if (!ward_parse_duration(value, &v) || v > UINT64_MAX / 1000) {
            *why = "must be a duration such as 120000, 500ms, 30s or 2m";
            return false;
        }
        v *= 1000;
        break;
    }
    case WARD_OPT_ENUM: {
        size_t n = strlen(value);
        for (const char *c = opt->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t k = bar ? (size_t)(bar - c) : strlen(c);
            if (k == n && strncmp(c, value, n) == 0)
                return true;
            c = bar ? bar + 1 : c + k;
        }
        *why = "is not one of the allowed values";
        return false;
    }
    case WARD_OPT_REGEX: {
        regex_t re;
        if (!regex_size_ok(value)) {
            *why = "is a regular expression too large to compile";
            return false;
        }
        if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0) {
            *why = "is not a valid POSIX extended regular expression";
            return false;
        }
        regfree(&re);
        return true;
    }
    case WARD_OPT_MODE: {
        char *end;
        unsigned long m = strtoul(value, &end, 8);
        if (!*value || *end || m > 07777) {
            *why = "must be an octal file mode such as 0660";
            return false;
        }
        v = m;
        break;
    }
    case WARD_OPT_HOSTPORT: {
        const char *colon = strrchr(value, ':');
        uint64_t port;
        if (!*value)
            return true; /* off */
        if (!colon || colon == value || !ward_parse_u64(colon + 1, &port) || port == 0 ||
            port > 65535) {
            *why = "must be ADDRESS:PORT, such as 127.0.0.1:3310";
            return false;
        }
        v = port;
        break;
    }
    case WARD_OPT_LOGLEVEL: {
        enum ward_log_level l;
        if (!ward_log_level_parse(value, &l)) {
            *why = "must be error, warning, notice, info, debug or trace";
            return false;
        }
        v = l;
        break;
    }
    }
    if (num)
        *num = v;
    return true;
}

bool ward_options_load(const char *path, ward_conf **out,
                       void (*report)(void *ctx, const char *msg), void *ctx)
{
    *out = NULL;
    if (!path)
        return true;
    struct ward_diag d;
    ward_conf *conf = NULL;
    if (ward_conf_parse_file(path, &conf, &d)) {
        report(ctx, d.msg);
        return false;
    }
    if (ward_options_check(conf, report, ctx)) {
        ward_conf_free(conf);
        return false;
    }
    *out = conf;
    return true;
}

unsigned ward_options_check(const ward_conf *conf, void (*report)(void *ctx, const char *msg),
                            void *ctx)
{
    unsigned problems = 0;
    char msg[1024];
    for (size_t i = 0; i < conf->n_sections; i++) {
        if (section_known(conf->sections[i].name))
            continue;
        snprintf(msg, sizeof msg, "%s:%u: [%s]: unknown section", conf->path,
                 conf->sections[i].line, conf->sections[i].name);
        report(ctx, msg);
        problems++;
    }
    for (size_t i = 0; i < conf->n_entries; i++) {
        const struct ward_conf_entry *e = &conf->entries[i];
        if (!section_known(e->section))
            continue; /* reported once above */
        const struct ward_opt *o = ward_option_find(e->section, e->key);
        const char *why = NULL;
        if (!o)
            why = "unknown option";
        else if (!ward_opt_parse(o, e->value, NULL, &why))
            ;
        else {
            /* an option set twice in one section is most likely a mistake */
            for (size_t k = 0; k < i; k++) {
                const struct ward_conf_entry *p = &conf->entries[k];
                if (strcmp(p->section, e->section) == 0 && strcmp(p->key, e->key) == 0) {
                    why = "set more than once in this section";
                    break;
                }
            }
        }
        if (why) {
            snprintf(msg, sizeof msg, "%s:%u: [%s] %s: %s", conf->path, e->line, e->section,
                     e->key, why);
            report(ctx, msg);
            problems++;
        }
    }
    return problems;
}

const char *ward_opt_str(const ward_conf *conf, const char *const *sections, const char *key)
{
    const struct ward_opt *def = NULL;
    for (const char *const *s = sections; *s; s++) {
        if (conf) {
            const struct ward_conf_entry *e = ward_conf_find(conf, *s, key);
            if (e)
                return e->value;
        }
        const struct ward_opt *o = ward_option_find(*s, key);
        if (!def || (!def->def && o && o->def))
            def = o ? o : def;
    }
    return def ? def->def : NULL;
}

static const struct ward_opt *opt_for(const char *const *sections, const char *key)
{
    for (const char *const *s = sections; *s; s++) {
        const struct ward_opt *o = ward_option_find(*s, key);
        if (o)
            return o;
    }
    return NULL;
}

uint64_t ward_opt_u64(const ward_conf *conf, const char *const *sections, const char *key)
{
    const struct ward_opt *o = opt_for(sections, key);
    const char *v = ward_opt_str(conf, sections, key);
    uint64_t n = 0;
    const char *why;
    if (o && v && !ward_opt_parse(o, v, &n, &why) && o->def)
        (void)ward_opt_parse(o, o->def, &n, &why);
    return n;
}

bool ward_opt_bool(const ward_conf *conf, const char *const *sections, const char *key)
{
    return ward_opt_u64(conf, sections, key) != 0;
}
