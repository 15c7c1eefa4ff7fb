/*
 * ward-mda - stands where the MTA runs its delivery agent (docs/ward-mda.md):
 *
 *     ward-mda [MDA ARGUMENTS...] [-- WARD OPTIONS]
 *
 * scans the message on standard input through wardd, then replaces itself
 * with [mda] mda_path, given exactly the MDA arguments and the message
 * (changed when the policy changed it) as a file on its standard input, so
 * the MTA sees the MDA's own exit code.
 *
 * Otherwise: a rejected message is a permanent failure (EX_NOPERM, 77), a
 * deferred one or an unreachable wardd a temporary one (EX_TEMPFAIL, 75), a
 * discarded one success without delivery (0). Under qmail (qmail-local sets
 * DTLINE and RPLINE) the codes are qmail's: 100, 111, and 99 for a discard
 * (success, and no further .qmail lines).
 *
 * The envelope comes from --sender and --recipient, else from SENDER and
 * RECIPIENT, which Postfix's local(8) and qmail-local both set.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto/agent.h"
#include "proto/mailproto.h"
#include "ward_config.h"

#define MAX_RCPTS 1000

enum { QMAIL_DROP = 99, QMAIL_PERM = 100, QMAIL_TEMP = 111 };

static bool qmail;

static void report(const char *msg)
{
    fprintf(stderr, "ward-mda: %s\n", msg);
}

static void report_cfg(void *ctx, const char *msg)
{
    (void)ctx;
    report(msg);
}

static int temp_code(void)
{
    return qmail ? QMAIL_TEMP : EX_TEMPFAIL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ward-mda [MDA ARGUMENTS...] [-- WARD OPTIONS]\n"
               "ward options:\n"
               "  -c, --config FILE      ward.conf (default: the installed one)\n"
               "  -f, --sender ADDR      envelope sender (default: $SENDER)\n"
               "  -r, --recipient ADDR   envelope recipient, repeatable (default: $RECIPIENT)\n"
               "  -u, --user NAME        select the [NAME] section of user_config\n"
               "      --socket PATH      wardd's socket or HOST:PORT ([mda] wardd_socket)\n"
               "      --mda PATH         the delivery agent ([mda] mda_path)\n"
               "      --exit-codes=auto|qmail|sysexits   ([mda] exit_codes)\n"
               "  -h, --help, --version\n");
}

static bool takes_value(const char *a)
{
    static const char *const v[] = {"-c",     "-f",        "-r",       "-u",
                                    "--config", "--sender", "--recipient", "--user",
                                    "--socket", "--mda",    "--exit-codes", NULL};
    for (const char *const *p = v; *p; p++)
        if (strcmp(a, *p) == 0)
            return true;
    return false;
}

/*
 * Where the Ward options start: at the last "--" when everything after it
 * is Ward options and their values; otherwise all arguments are the MDA's.
 */
static int split_args(int argc, char **argv)
{
    for (int i = argc - 1; i >= 1; i--) {
        if (strcmp(argv[i], "--") != 0)
            continue;
        for (int k = i + 1; k < argc; k++) {
            if (argv[k][0] != '-')
                return argc;
            if (takes_value(argv[k]))
                k++;
        }
        return i;
    }
    return argc;
}

int main(int argc, char **argv)
{
    qmail = getenv("DTLINE") != NULL && getenv("RPLINE") != NULL;
    int split = split_args(argc, argv);
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"sender", required_argument, NULL, 'f'},
        {"recipient", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'u'},
        {"socket", required_argument, NULL, 's'},
        {"mda", required_argument, NULL, 'm'},
        {"exit-codes", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *socket = NULL, *mda = NULL, *codes_opt = NULL;
    struct ward_mail_env env = {.agent = "mda"};
    static const char *rcpts[MAX_RCPTS];
    size_t n_rcpts = 0;
    if (split < argc) {
        /* getopt over "ward-mda OPTIONS..." only */
        int wargc = argc - split;
        char **wargv = argv + split; /* wargv[0] is "--", standing in for the name */
        int c;
        optind = 1;
        while ((c = getopt_long(wargc, wargv, "c:f:r:u:h", longopts, NULL)) != -1) {
            switch (c) {
            case 'c': config = optarg; break;
            case 'f': env.sender = optarg; break;
            case 'r':
                if (n_rcpts == MAX_RCPTS) {
                    report("too many recipients");
                    return temp_code();
                }
                rcpts[n_rcpts++] = optarg;
                break;
            case 'u': env.user = optarg; break;
            case 's': socket = optarg; break;
            case 'm': mda = optarg; break;
            case 'x': codes_opt = optarg; break;
            case 'h': usage(stdout); return 0;
            case 'V': printf("ward-mda %s\n", WARD_VERSION); return 0;
            default: usage(stderr); return temp_code();
            }
        }
        if (optind != wargc) {
            usage(stderr);
            return temp_code();
        }
    }
    struct ward_agent_cfg cfg;
    if (!ward_agent_load(config, "mda", &cfg, report_cfg, NULL))
        return temp_code();
    if (codes_opt && !ward_agent_codes_parse(codes_opt, &cfg.codes)) {
        report("--exit-codes: auto, qmail or sysexits");
        return temp_code();
    }
    if (cfg.codes != WARD_CODES_AUTO)
        qmail = cfg.codes == WARD_CODES_QMAIL;
    if (!mda)
        mda = cfg.mda_path;
    if (!env.sender)
        env.sender = getenv("SENDER") ? getenv("SENDER") : "";
    if (n_rcpts == 0 && getenv("RECIPIENT") && *getenv("RECIPIENT"))
        rcpts[n_rcpts++] = getenv("RECIPIENT");
    if (n_rcpts == 0) {
        report("no recipient (--recipient, or RECIPIENT in the environment)");
        return temp_code();
    }
    env.rcpts = rcpts;
    env.n_rcpts = n_rcpts;
    struct ward_diag d;
    int msg;
    bool owned;
    if (ward_agent_spool(0, cfg.tmp_dir, &msg, &owned, &d)) {
        report(d.msg);
        return temp_code();
    }
    struct ward_mailproto_reply r;
    if (ward_mailproto_scan(socket ? socket : cfg.wardd, msg, &env, cfg.timeout_ms, cfg.tmp_dir,
                            &r, &d)) {
        report(d.msg);
        return temp_code();
    }
    switch (r.action) {
    case WARD_MAIL_ACCEPT:
        break;
    case WARD_MAIL_DISCARD:
        ward_mailproto_reply_free(&r);
        return qmail ? QMAIL_DROP : 0;
    case WARD_MAIL_REJECT:
        fprintf(stderr, "%s\n", r.reply);
        ward_mailproto_reply_free(&r);
        return qmail ? QMAIL_PERM : EX_NOPERM;
    case WARD_MAIL_DEFER:
    default:
        fprintf(stderr, "%s%s%s\n", r.reply, r.error ? ": " : "", r.error ? r.error : "");
        ward_mailproto_reply_free(&r);
        return temp_code();
    }
    /* the message the MDA reads: the changed one, or the original, from its start */
    int in = r.msg_fd >= 0 ? r.msg_fd : msg;
    if (lseek(in, 0, SEEK_SET) != 0 || (in != 0 && dup2(in, 0) != 0)) {
        report(strerror(errno));
        return temp_code();
    }
    /* exactly the arguments the MTA gave, before "--" */
    char **mda_argv = calloc((size_t)split + 1, sizeof *mda_argv);
    if (!mda_argv) {
        report("out of memory");
        return temp_code();
    }
    mda_argv[0] = (char *)mda;
    for (int i = 1; i < split; i++)
        mda_argv[i] = argv[i];
    execv(mda, mda_argv);
    fprintf(stderr, "ward-mda: cannot run %s: %s\n", mda, strerror(errno));
    return temp_code();
}
