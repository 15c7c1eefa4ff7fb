/*
 * cmd_quarantine.c - `ward quarantine`: list, show, restore, export,
 * delete, purge, verify and add objects of the quarantine and backup store.
 *
 * The store is the one of [global] quarantine_dir; every subcommand but
 * `add` opens it without creating anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "store/quarantine.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/options.h"
#include "util/strutil.h"

#define MAX_LIST_ITEMS 1024 /* --name, --recipient given to add */

static void usage(FILE *f)
{
    fputs("usage: ward quarantine [-c FILE] COMMAND [OPTIONS]\n\n"
          "  list [--json] [--since WHEN] [--name TEXT] [--kind quarantine|backup]\n"
          "       [--sender TEXT] [--recipient TEXT] [--path TEXT]\n"
          "                            objects in the store, oldest first\n"
          "  show [--json] ID          everything recorded about one object\n"
          "  restore ID [--to PATH] [--force] [--sendmail]\n"
          "                            put an object back where it was (or at PATH), or\n"
          "                            re-deliver a message through sendmail\n"
          "  export ID --to FILE|- [--force]\n"
          "                            write an object out in the clear\n"
          "  delete ID...              remove objects\n"
          "  purge [--older-than WHEN] remove old objects and enforce the configured limits\n"
          "  verify [--quick] [--fix]  check the store; remove what crashed writers left\n"
          "  add [--kind K] [--name NAME]... [--verdict V] [--sender ADDR]\n"
          "      [--recipient ADDR]... [--subject S] [--message-id ID] [--path P] FILE|-\n"
          "                            store a file or message by hand\n\n"
          "ID: the object's id, or its first 4 or more digits when they are unique.\n"
          "WHEN: a duration back from now (30m, 12h, 7d, 2w) or a date (2026-11-25,\n"
          "2026-11-25T14:30, 2026-11-25 14:30:00, a Z at the end for UTC).\n",
          f);
}

/* ---- time --------------------------------------------------------------- */

/* A duration back from now, or an absolute date (local time, or UTC with Z). */
static bool parse_when(const char *s, int64_t *out)
{
    uint64_t d;
    time_t now = time(NULL);
    if (ward_parse_duration(s, &d)) {
        *out = d > (uint64_t)now ? 0 : (int64_t)now - (int64_t)d;
        return true;
    }
    static const char *const forms[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                                        "%Y-%m-%dT%H:%M",    "%Y-%m-%d %H:%M",
                                        "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        struct tm tm = {0};
        const char *end = strptime(s, forms[i], &tm);
        if (!end)
            continue;
        bool utc = *end == 'Z' && end[1] == 0;
        if (*end && !utc)
            continue;
        tm.tm_isdst = -1;
        time_t t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t)-1)
            return false;
        *out = (int64_t)t;
        return true;
    }
    return false;
}

static void fmt_local(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

static void fmt_utc(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

/* ---- output ------------------------------------------------------------- */

/* Text for a terminal: control characters become '?'. */
static void put_clean(ward_buf *b, const char *s)
{
    for (; s && *s; s++)
        (void)!ward_buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : (uint8_t)*s);
}

static void json_field(ward_buf *b, const char *key, const char *value)
{
    (void)!ward_buf_printf(b, ",\"%s\":", key);
    if (value)
        (void)!ward_json_str(b, value);
    else
        (void)!ward_buf_puts(b, "null");
}

/* A newline-joined list as a JSON array (null when absent). */
static void json_list(ward_buf *b, const char *key, const char *joined)
{
    (void)!ward_buf_printf(b, ",\"%s\":", key);
    if (!joined) {
        (void)!ward_buf_puts(b, "null");
        return;
    }
    (void)!ward_buf_putc(b, '[');
    const char *p = joined;
    for (bool first = true;; first = false) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!first)
            (void)!ward_buf_putc(b, ',');
        (void)!ward_json_strn(b, p, n);
        if (!nl)
            break;
        p = nl + 1;
    }
    (void)!ward_buf_putc(b, ']');
}

static void print_json(const struct ward_qrecord *r)
{
    ward_buf b;
    ward_buf_init(&b, 64u << 20);
    char iso[32];
    fmt_utc(r->time, iso, sizeof iso);
    (void)!ward_buf_puts(&b, "{\"id\":");
    (void)!ward_json_str(&b, r->id);
    (void)!ward_buf_printf(&b, ",\"time\":%lld", (long long)r->time);
    json_field(&b, "time_iso", iso);
    json_field(&b, "kind", ward_qkind_name(r->kind));
    json_field(&b, "program", r->program);
    json_field(&b, "host", r->host);
    json_field(&b, "path", r->path);
    json_field(&b, "sender", r->sender);
    json_list(&b, "recipients", r->recipients);
    json_field(&b, "subject", r->subject);
    json_field(&b, "message_id", r->message_id);
    json_field(&b, "verdict", r->verdict);
    json_list(&b, "names", r->names);
    (void)!ward_buf_printf(&b, ",\"size\":%llu", (unsigned long long)r->size);
    json_field(&b, "sha256", r->sha256);
    (void)!ward_buf_printf(&b, ",\"stored_size\":%llu", (unsigned long long)r->stored_size);
    if (r->have_attrs)
        (void)!ward_buf_printf(&b, ",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"mtime\":%lld",
                               (unsigned)r->mode, (unsigned)r->uid, (unsigned)r->gid,
                               (long long)r->mtime);
    (void)!ward_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    ward_buf_free(&b);
}

/* "first (+N)" of a newline-joined list. */
static void first_of(ward_buf *b, const char *joined)
{
    if (!joined || !*joined) {
        (void)!ward_buf_putc(b, '-');
        return;
    }
    const char *nl = strchr(joined, '\n');
    size_t more = 0;
    for (const char *p = nl; p; p = strchr(p + 1, '\n'))
        more++;
    char first[512];
    snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - joined) : (int)strlen(joined),
             joined);
    put_clean(b, first);
    if (more)
        (void)!ward_buf_printf(b, " (+%zu)", more);
}

static void print_row(const struct ward_qrecord *r)
{
    char when[32];
    fmt_local(r->time, when, sizeof when);
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    (void)!ward_buf_printf(&b, "%-16s  %-19s  %-10s  %-11s %12llu  ", r->id, when,
                           ward_qkind_name(r->kind), r->verdict ? r->verdict : "-",
                           (unsigned long long)r->size);
    first_of(&b, r->names);
    (void)!ward_buf_puts(&b, "  ");
    if (r->sender || r->recipients) {
        (void)!ward_buf_puts(&b, "from <");
        put_clean(&b, r->sender);
        (void)!ward_buf_puts(&b, "> to ");
        first_of(&b, r->recipients);
        if (r->subject) {
            (void)!ward_buf_puts(&b, ": ");
            put_clean(&b, r->subject);
        }
    } else {
        put_clean(&b, r->path ? r->path : "-");
    }
    (void)!ward_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    ward_buf_free(&b);
}

static void show_line(const char *key, const char *value)
{
    if (!value)
        return;
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    (void)!ward_buf_printf(&b, "%-12s ", key);
    put_clean(&b, value);
    (void)!ward_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    ward_buf_free(&b);
}

/* A list, one item per line under its key. */
static void show_list(const char *key, const char *joined)
{
    if (!joined)
        return;
    char *copy = strdup(joined);
    if (!copy)
        return;
    char *save = NULL;
    bool first = true;
    for (char *item = strtok_r(copy, "\n", &save); item; item = strtok_r(NULL, "\n", &save)) {
        show_line(first ? key : "", item);
        first = false;
    }
    free(copy);
}

static void print_show(const struct ward_qrecord *r)
{
    char buf[512], when[32], iso[32];
    fmt_local(r->time, when, sizeof when);
    fmt_utc(r->time, iso, sizeof iso);
    show_line("id:", r->id);
    snprintf(buf, sizeof buf, "%s (%s)", when, iso);
    show_line("time:", buf);
    show_line("kind:", ward_qkind_name(r->kind));
    snprintf(buf, sizeof buf, "%s@%s", r->program ? r->program : "?", r->host ? r->host : "?");
    show_line("source:", buf);
    show_line("path:", r->path);
    if (r->sender)
        show_line("sender:", *r->sender ? r->sender : "<>");
    show_list("recipients:", r->recipients);
    show_line("subject:", r->subject);
    show_line("message-id:", r->message_id);
    show_line("verdict:", r->verdict);
    show_list("names:", r->names);
    snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)r->size);
    show_line("size:", buf);
    show_line("sha256:", r->sha256);
    snprintf(buf, sizeof buf, "%llu bytes, encrypted", (unsigned long long)r->stored_size);
    show_line("stored:", buf);
    if (r->have_attrs) {
        char mt[32];
        fmt_local(r->mtime, mt, sizeof mt);
        snprintf(buf, sizeof buf, "mode %04o, uid %u, gid %u, modified %s", (unsigned)r->mode,
                 (unsigned)r->uid, (unsigned)r->gid, mt);
        show_line("file:", buf);
    }
}

/* ---- subcommands -------------------------------------------------------- */

struct ctx {
    struct cli_env env;
    ward_quarantine *q;
};

enum {
    OPT_JSON = 256, OPT_SINCE, OPT_NAME, OPT_KIND, OPT_SENDER, OPT_RECIPIENT, OPT_PATH, OPT_TO,
    OPT_FORCE, OPT_SENDMAIL, OPT_OLDER, OPT_QUICK, OPT_FIX, OPT_VERDICT, OPT_SUBJECT,
    OPT_MESSAGE_ID, OPT_HELP,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {"since", required_argument, NULL, OPT_SINCE},
    {"name", required_argument, NULL, OPT_NAME},
    {"kind", required_argument, NULL, OPT_KIND},
    {"sender", required_argument, NULL, OPT_SENDER},
    {"recipient", required_argument, NULL, OPT_RECIPIENT},
    {"path", required_argument, NULL, OPT_PATH},
    {"to", required_argument, NULL, OPT_TO},
    {"force", no_argument, NULL, OPT_FORCE},
    {"sendmail", no_argument, NULL, OPT_SENDMAIL},
    {"older-than", required_argument, NULL, OPT_OLDER},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"fix", no_argument, NULL, OPT_FIX},
    {"verdict", required_argument, NULL, OPT_VERDICT},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"message-id", required_argument, NULL, OPT_MESSAGE_ID},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Options of one subcommand, as parsed. */
struct args {
    bool json, force, sendmail, quick, fix, have_since, have_older;
    int64_t since, older;
    int kind;
    const char *name, *sender, *recipient, *path, *to, *verdict, *subject, *message_id;
    const char *names[MAX_LIST_ITEMS], *recipients[MAX_LIST_ITEMS];
    size_t n_names, n_recipients;
};

/* Parse options; which are allowed is the subcommand's `allowed` list of option values. */
static bool parse_args(int argc, char **argv, const int *allowed, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->kind = -1;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:", long_opts, NULL)) != -1) {
        if (ch == '?')
            return false;
        bool ok = ch == 'c';
        for (const int *p = allowed; *p && !ok; p++)
            ok = *p == ch;
        if (!ok) {
            for (const struct option *o = long_opts; o->name; o++)
                if (o->val == ch)
                    cli_error("quarantine %s: --%s does not apply here", argv[0], o->name);
            return false;
        }
        switch (ch) {
        case 'c': break;
        case OPT_JSON: a->json = true; break;
        case OPT_FORCE: a->force = true; break;
        case OPT_SENDMAIL: a->sendmail = true; break;
        case OPT_QUICK: a->quick = true; break;
        case OPT_FIX: a->fix = true; break;
        case OPT_SINCE:
        case OPT_OLDER: {
            int64_t t;
            if (!parse_when(optarg, &t)) {
                cli_error("%s: '%s' is neither a duration (7d, 12h) nor a date (2026-11-25)",
                          ch == OPT_SINCE ? "--since" : "--older-than", optarg);
                return false;
            }
            if (ch == OPT_SINCE) {
                a->since = t;
                a->have_since = true;
            } else {
                a->older = t;
                a->have_older = true;
            }
            break;
        }
        case OPT_KIND: {
            enum ward_qkind k;
            if (!ward_qkind_parse(optarg, &k)) {
                cli_error("--kind: '%s' must be quarantine or backup", optarg);
                return false;
            }
            a->kind = (int)k;
            break;
        }
        case OPT_NAME:
            a->name = optarg;
            if (a->n_names < MAX_LIST_ITEMS)
                a->names[a->n_names++] = optarg;
            break;
        case OPT_RECIPIENT:
            a->recipient = optarg;
            if (a->n_recipients < MAX_LIST_ITEMS)
                a->recipients[a->n_recipients++] = optarg;
            break;
        case OPT_SENDER: a->sender = optarg; break;
        case OPT_PATH: a->path = optarg; break;
        case OPT_TO: a->to = optarg; break;
        case OPT_VERDICT: a->verdict = optarg; break;
        case OPT_SUBJECT: a->subject = optarg; break;
        case OPT_MESSAGE_ID: a->message_id = optarg; break;
        case OPT_HELP:
            usage(stdout);
            exit(EXIT_CLEAN);
        }
    }
    return true;
}

static bool resolve(struct ctx *c, const char *arg, char id[WARD_QID_LEN + 1])
{
    struct ward_diag d;
    if (ward_quarantine_resolve(c->q, arg, id, &d)) {
        cli_error("quarantine: %s", d.msg);
        return false;
    }
    return true;
}

static bool list_one(void *ctx, const struct ward_qrecord *r)
{
    if (*(bool *)ctx)
        print_json(r);
    else
        print_row(r);
    return true;
}

static int do_list(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_JSON, OPT_SINCE, OPT_NAME, OPT_KIND, OPT_SENDER,
                             OPT_RECIPIENT, OPT_PATH, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind < argc) {
        cli_error("quarantine list: unexpected argument '%s'", argv[optind]);
        return EXIT_ERROR;
    }
    struct ward_qfilter f = {a.since, 0, a.kind, a.name, a.sender, a.recipient, a.path};
    if (!(c->q = cli_open_quarantine(&c->env, false)))
        return EXIT_ERROR;
    if (!a.json)
        printf("%-16s  %-19s  %-10s  %-11s %12s  %s  %s\n", "ID", "TIME", "KIND", "VERDICT",
               "SIZE", "NAME", "OBJECT");
    struct ward_diag d;
    if (ward_quarantine_list(c->q, &f, list_one, &a.json, &d)) {
        cli_error("quarantine: %s", d.msg);
        return EXIT_ERROR;
    }
    return EXIT_CLEAN;
}

static int do_show(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_JSON, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind + 1 != argc) {
        cli_error("usage: ward quarantine show [--json] ID");
        return EXIT_ERROR;
    }
    char id[WARD_QID_LEN + 1];
    struct ward_qrecord r;
    struct ward_diag d;
    if (!(c->q = cli_open_quarantine(&c->env, false)) || !resolve(c, argv[optind], id))
        return EXIT_ERROR;
    if (ward_quarantine_get(c->q, id, &r, &d)) {
        cli_error("quarantine: %s", d.msg);
        return EXIT_ERROR;
    }
    if (a.json)
        print_json(&r);
    else
        print_show(&r);
    ward_qrecord_free(&r);
    return EXIT_CLEAN;
}

/* Pipe a stored message to sendmail -i -f SENDER -- RECIPIENTS. */
static int resend(struct ctx *c, const struct ward_qrecord *r)
{
    static const char *const global[] = {"global", NULL};
    const char *sendmail = ward_opt_str(c->env.conf, global, "sendmail_path");
    if (!r->sender || !r->recipients) {
        cli_error("quarantine: %s is not a message (no envelope sender and recipients)", r->id);
        return EXIT_ERROR;
    }
    char *rcpts = strdup(r->recipients);
    size_t n = 1;
    for (const char *p = r->recipients; *p; p++)
        n += *p == '\n';
    char **argv = calloc(n + 7, sizeof *argv);
    if (!rcpts || !argv) {
        free(rcpts);
        free(argv);
        cli_error("out of memory");
        return EXIT_ERROR;
    }
    size_t k = 0;
    argv[k++] = (char *)sendmail;
    argv[k++] = "-i";
    argv[k++] = "-f";
    argv[k++] = (char *)(*r->sender ? r->sender : "<>");
    argv[k++] = "--";
    size_t nr = 0;
    char *save = NULL;
    for (char *t = strtok_r(rcpts, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        argv[k++] = t;
        nr++;
    }
    int rc = EXIT_ERROR, p[2];
    struct ward_diag d;
    if (nr == 0) {
        cli_error("quarantine: message %s has no recipients", r->id);
        goto out;
    }
    /* sendmail is not even started for a message that does not check out */
    if (ward_quarantine_check(c->q, r->id, &d)) {
        cli_error("quarantine: %s; nothing was delivered", d.msg);
        goto out;
    }
    if (pipe(p) != 0) {
        cli_error("pipe: %s", strerror(errno));
        goto out;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        if (p[0] != STDIN_FILENO) {
            dup2(p[0], STDIN_FILENO);
            close(p[0]);
        }
        execv(sendmail, argv);
        fprintf(stderr, "ward: cannot run %s: %s\n", sendmail, strerror(errno));
        _exit(127);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        cli_error("fork: %s", strerror(errno));
        goto out;
    }
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    ward_err e = ward_quarantine_read(c->q, r->id, p[1], &d);
    if (e)
        kill(pid, SIGKILL); /* never let a partial message be delivered */
    close(p[1]);
    signal(SIGPIPE, old);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (e) {
        cli_error("quarantine: %s; nothing was delivered", d.msg);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            cli_error("quarantine: %s exited with status %d", sendmail, WEXITSTATUS(status));
        else
            cli_error("quarantine: %s was killed by signal %d", sendmail, WTERMSIG(status));
    } else {
        printf("%s: handed to %s for %zu recipient%s\n", r->id, sendmail, nr,
               nr == 1 ? "" : "s");
        rc = EXIT_CLEAN;
    }
out:
    free(rcpts);
    free(argv);
    return rc;
}

static int do_restore(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_TO, OPT_FORCE, OPT_SENDMAIL, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind + 1 != argc || (a.sendmail && (a.to || a.force))) {
        cli_error("usage: ward quarantine restore ID [--to PATH] [--force] | --sendmail");
        return EXIT_ERROR;
    }
    char id[WARD_QID_LEN + 1];
    struct ward_qrecord r;
    struct ward_diag d;
    if (!(c->q = cli_open_quarantine(&c->env, false)) || !resolve(c, argv[optind], id))
        return EXIT_ERROR;
    if (ward_quarantine_get(c->q, id, &r, &d)) {
        cli_error("quarantine: %s", d.msg);
        return EXIT_ERROR;
    }
    if (a.sendmail) {
        int rc = resend(c, &r);
        ward_qrecord_free(&r);
        return rc;
    }
    /* --to DIR puts the object in DIR under its original name (or its id) */
    char dest[PATH_MAX], written[PATH_MAX];
    struct stat st;
    const char *to = a.to;
    if (to && stat(to, &st) == 0 && S_ISDIR(st.st_mode)) {
        const char *base = r.path ? strrchr(r.path, '/') : NULL;
        base = base && base[1] ? base + 1 : r.path && !strchr(r.path, '/') ? r.path : id;
        snprintf(dest, sizeof dest, "%s%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/", base);
        to = dest;
    }
    if (!to && !r.path) {
        cli_error("quarantine: %s has no original path: give --to PATH, or --sendmail for a "
                  "message", id);
        ward_qrecord_free(&r);
        return EXIT_ERROR;
    }
    ward_qrecord_free(&r);
    unsigned flags = WARD_QRESTORE_ATTRS | (a.force ? WARD_QRESTORE_FORCE : 0);
    if (ward_quarantine_restore(c->q, id, to, flags, written, sizeof written, &d)) {
        if (strstr(d.msg, "not replaced without force"))
            cli_error("quarantine: %s (use --force)", d.msg);
        else
            cli_error("quarantine: %s; nothing was written", d.msg);
        return EXIT_ERROR;
    }
    printf("%s: restored to %s\n", id, written);
    return EXIT_CLEAN;
}

static int do_export(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_TO, OPT_FORCE, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind + 1 != argc || !a.to) {
        cli_error("usage: ward quarantine export ID --to FILE|- [--force]");
        return EXIT_ERROR;
    }
    char id[WARD_QID_LEN + 1];
    struct ward_diag d;
    if (!(c->q = cli_open_quarantine(&c->env, false)) || !resolve(c, argv[optind], id))
        return EXIT_ERROR;
    if (strcmp(a.to, "-") == 0) {
        fflush(stdout);
        if (ward_quarantine_read(c->q, id, STDOUT_FILENO, &d)) {
            cli_error("quarantine: %s", d.msg);
            return EXIT_ERROR;
        }
        return EXIT_CLEAN;
    }
    if (ward_quarantine_export(c->q, id, a.to, a.force, &d)) {
        if (strstr(d.msg, "not replaced without force"))
            cli_error("quarantine: %s (use --force)", d.msg);
        else
            cli_error("quarantine: %s; nothing was written", d.msg);
        return EXIT_ERROR;
    }
    printf("%s: exported to %s (in the clear)\n", id, a.to);
    return EXIT_CLEAN;
}

static int do_delete(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind >= argc) {
        cli_error("usage: ward quarantine delete ID...");
        return EXIT_ERROR;
    }
    if (!(c->q = cli_open_quarantine(&c->env, false)))
        return EXIT_ERROR;
    int rc = EXIT_CLEAN;
    for (int i = optind; i < argc; i++) {
        char id[WARD_QID_LEN + 1];
        struct ward_diag d;
        if (!resolve(c, argv[i], id)) {
            rc = EXIT_ERROR;
            continue;
        }
        if (ward_quarantine_delete(c->q, id, &d)) {
            cli_error("quarantine: %s", d.msg);
            rc = EXIT_ERROR;
            continue;
        }
        printf("%s: deleted\n", id);
    }
    return rc;
}

static int do_purge(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_OLDER, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind < argc) {
        cli_error("usage: ward quarantine purge [--older-than WHEN]");
        return EXIT_ERROR;
    }
    if (!(c->q = cli_open_quarantine(&c->env, false)))
        return EXIT_ERROR;
    struct ward_qpurged p = {0};
    struct ward_diag d;
    /* "older than now" takes everything: a time in the future is kept as given */
    ward_err e = ward_quarantine_purge(c->q, a.have_older ? (a.older ? a.older : 1) : 0, &p, &d);
    if (p.count || !e)
        printf("purged %llu object%s (%llu bytes)\n", (unsigned long long)p.count,
               p.count == 1 ? "" : "s", (unsigned long long)p.bytes);
    if (e) {
        cli_error("quarantine: %s", d.msg);
        return EXIT_ERROR;
    }
    return EXIT_CLEAN;
}

static void print_report(void *ctx, const char *msg)
{
    (void)ctx;
    printf("%s\n", msg);
}

static int do_verify(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_QUICK, OPT_FIX, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind < argc) {
        cli_error("usage: ward quarantine verify [--quick] [--fix]");
        return EXIT_ERROR;
    }
    if (!(c->q = cli_open_quarantine(&c->env, false)))
        return EXIT_ERROR;
    const char *kp = ward_quarantine_key_problem(c->q);
    if (kp && !a.quick) {
        cli_error("quarantine: %s", kp);
        return EXIT_ERROR;
    }
    struct ward_qverified v;
    struct ward_diag d;
    unsigned flags = (a.quick ? 0 : WARD_QVERIFY_DEEP) | (a.fix ? WARD_QVERIFY_FIX : 0);
    if (ward_quarantine_verify(c->q, flags, print_report, NULL, &v, &d)) {
        cli_error("quarantine: %s", d.msg);
        return EXIT_ERROR;
    }
    printf("%llu object%s: %llu ok, %llu missing%s, %llu damaged; removed %llu orphaned "
           "file%s and %llu leftover%s of interrupted writes\n",
           (unsigned long long)v.objects, v.objects == 1 ? "" : "s", (unsigned long long)v.ok,
           (unsigned long long)v.missing, v.fixed ? " (entries removed)" : "",
           (unsigned long long)v.corrupt, (unsigned long long)v.orphans,
           v.orphans == 1 ? "" : "s", (unsigned long long)v.leftovers,
           v.leftovers == 1 ? "" : "s");
    return (v.missing > v.fixed || v.corrupt) ? EXIT_FOUND : EXIT_CLEAN;
}

static int do_add(struct ctx *c, int argc, char **argv)
{
    static const int ok[] = {OPT_KIND,    OPT_NAME,    OPT_VERDICT, OPT_SENDER, OPT_RECIPIENT,
                             OPT_SUBJECT, OPT_MESSAGE_ID, OPT_PATH, 0};
    struct args a;
    if (!parse_args(argc, argv, ok, &a))
        return EXIT_ERROR;
    if (optind + 1 != argc) {
        cli_error("usage: ward quarantine add [OPTIONS] FILE|-");
        return EXIT_ERROR;
    }
    const char *file = argv[optind];
    bool is_stdin = strcmp(file, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cli_error("%s: %s", file, strerror(errno));
        return EXIT_ERROR;
    }
    struct stat st;
    char abs[PATH_MAX];
    struct ward_qmeta m = {0};
    m.kind = a.kind < 0 ? WARD_QKIND_QUARANTINE : (enum ward_qkind)a.kind;
    m.program = "ward quarantine";
    m.verdict = a.verdict ? a.verdict : a.n_names ? "infected" : "clean";
    m.names = a.names;
    m.n_names = a.n_names;
    m.sender = a.sender;
    if (!m.sender && a.n_recipients)
        m.sender = "";
    m.recipients = a.recipients;
    m.n_recipients = a.n_recipients;
    m.subject = a.subject;
    m.message_id = a.message_id;
    m.path = a.path;
    bool message = a.sender || a.n_recipients;
    if (!m.path && !is_stdin && !message && realpath(file, abs))
        m.path = abs;
    if (!is_stdin && !message && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        m.have_attrs = true;
        m.mode = (uint32_t)(st.st_mode & 07777);
        m.uid = (uint32_t)st.st_uid;
        m.gid = (uint32_t)st.st_gid;
        m.mtime = (int64_t)st.st_mtime;
    }
    int rc = EXIT_ERROR;
    if ((c->q = cli_open_quarantine(&c->env, true))) {
        char id[WARD_QID_LEN + 1];
        struct ward_diag d;
        if (ward_quarantine_put_fd(c->q, &m, fd, id, &d)) {
            cli_error("quarantine: %s", d.msg);
        } else {
            printf("%s\n", id);
            rc = EXIT_CLEAN;
        }
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

int cmd_quarantine(int argc, char **argv)
{
    /* The configuration may come before or after the subcommand. */
    const char *config = NULL;
    int sub = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            config = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config = argv[i] + 9;
        } else if (!sub && argv[i][0] != '-') {
            sub = i;
        } else if (!sub && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
            usage(stdout);
            return EXIT_CLEAN;
        }
    }
    if (!sub) {
        usage(stderr);
        return EXIT_ERROR;
    }
    static const struct {
        const char *name;
        int (*fn)(struct ctx *, int, char **);
    } cmds[] = {
        {"list", do_list},     {"show", do_show},   {"restore", do_restore},
        {"export", do_export}, {"delete", do_delete}, {"purge", do_purge},
        {"verify", do_verify}, {"add", do_add},
    };
    const char *name = argv[sub];
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        if (strcmp(cmds[i].name, name) != 0)
            continue;
        struct ctx c = {0};
        if (!cli_load_config(&c.env, config))
            return EXIT_ERROR;
        /* the subcommand sees argv from its name on; options before it are the config's */
        int rc = cmds[i].fn(&c, argc - sub, argv + sub);
        ward_quarantine_close(c.q);
        cli_env_free(&c.env);
        return rc;
    }
    cli_error("quarantine: unknown command '%s'", name);
    usage(stderr);
    return EXIT_ERROR;
}
