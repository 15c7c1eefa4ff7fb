/*
 * ward-pipe - a filter: the message on standard input, the (possibly
 * changed) message on standard output, the verdict in the exit code
 * (docs/ward-pipe.md).
 *
 * Under qmail-qfilter the envelope comes from QMAILUSER, QMAILHOST and
 * QMAILRCPTS and the exit codes are qmail's: 0 pass, 31 permanent refusal,
 * 71 temporary failure, 99 drop silently. Elsewhere (a Postfix pipe
 * transport) --sender and --recipient give the envelope and the codes are
 * sysexits: 0, 69 refused, 75 temporary; a discarded message is exit 0 with
 * nothing on standard output.
 *
 * Nothing is written to standard output before the verdict is known, and
 * when wardd cannot be asked the answer is a temporary failure, never a pass.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto/agent.h"
#include "proto/mailproto.h"
#include "ward_config.h"

#define MAX_RCPTS 10000

enum { QMAIL_OK = 0, QMAIL_PERM = 31, QMAIL_TEMP = 71, QMAIL_DROP = 99 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ward-pipe [OPTIONS] < MESSAGE > MESSAGE\n"
            "  -c, --config FILE        ward.conf (default: the installed one)\n"
            "  -f, --sender ADDR        envelope sender (\"\" for <>)\n"
            "  -r, --recipient ADDR     envelope recipient (repeat for each)\n"
            "      --user NAME          select the [NAME] section of user_config\n"
            "      --client-addr IP     the SMTP client's address, when known\n"
            "      --helo NAME          the SMTP client's HELO, when known\n"
            "      --queue-id ID        for wardd's log\n"
            "      --socket PATH        wardd's socket or HOST:PORT ([pipe] wardd_socket)\n"
            "      --exit-codes=auto|qmail|sysexits   ([pipe] exit_codes)\n"
            "  -h, --help, --version\n");
}

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ward-pipe: %s\n", msg);
}

static int temp_code(bool qmail)
{
    return qmail ? QMAIL_TEMP : EX_TEMPFAIL;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"sender", required_argument, NULL, 'f'},
        {"recipient", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'u'},
        {"client-addr", required_argument, NULL, 'a'},
        {"helo", required_argument, NULL, 'H'},
        {"queue-id", required_argument, NULL, 'q'},
        {"socket", required_argument, NULL, 's'},
        {"exit-codes", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *socket = NULL, *codes_opt = NULL;
    struct ward_mail_env env = {.agent = "pipe"};
    static const char *rcpts[MAX_RCPTS];
    size_t n_rcpts = 0;
    bool qmail_env = getenv("QMAILRCPTS") != NULL;
    /* a usage error before we know the MTA: temporary, so nothing is lost */
    int c;
    while ((c = getopt_long(argc, argv, "c:f:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': env.sender = optarg; break;
        case 'r':
            if (n_rcpts == MAX_RCPTS) {
                report(NULL, "too many recipients");
                return temp_code(qmail_env);
            }
            rcpts[n_rcpts++] = optarg;
            break;
        case 'u': env.user = optarg; break;
        case 'a': env.client_addr = optarg; break;
        case 'H': env.helo = optarg; break;
        case 'q': env.queue_id = optarg; break;
        case 's': socket = optarg; break;
        case 'x': codes_opt = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("ward-pipe %s\n", WARD_VERSION); return 0;
        default: usage(stderr); return temp_code(qmail_env);
        }
    }
    if (optind != argc) {
        usage(stderr);
        return temp_code(qmail_env);
    }
    struct ward_agent_cfg cfg;
    if (!ward_agent_load(config, "pipe", &cfg, report, NULL))
        return temp_code(qmail_env);
    if (codes_opt && !ward_agent_codes_parse(codes_opt, &cfg.codes)) {
        report(NULL, "--exit-codes: auto, qmail or sysexits");
        return temp_code(qmail_env);
    }
    bool qmail = cfg.codes == WARD_CODES_QMAIL || (cfg.codes == WARD_CODES_AUTO && qmail_env);
    char **qrcpts = NULL, *qstorage = NULL;
    if (!env.sender && n_rcpts == 0 && qmail_env) {
        size_t qn = 0;
        if (!ward_agent_qmail_env(&env.sender, &qrcpts, &qn, &qstorage)) {
            report(NULL, "cannot read qmail-qfilter's envelope");
            return temp_code(qmail);
        }
        env.rcpts = (const char *const *)qrcpts;
        env.n_rcpts = qn;
    } else {
        env.rcpts = rcpts;
        env.n_rcpts = n_rcpts;
    }
    if (!env.sender)
        env.sender = "";
    if (env.n_rcpts == 0) {
        report(NULL, "no recipient (--recipient, or QMAILRCPTS under qmail-qfilter)");
        return temp_code(qmail);
    }
    struct ward_diag d;
    int msg;
    bool owned;
    if (ward_agent_spool(0, cfg.tmp_dir, &msg, &owned, &d)) {
        report(NULL, d.msg);
        return temp_code(qmail);
    }
    struct ward_mailproto_reply r;
    if (ward_mailproto_scan(socket ? socket : cfg.wardd, msg, &env, cfg.timeout_ms, cfg.tmp_dir,
                            &r, &d)) {
        report(NULL, d.msg);
        return temp_code(qmail);
    }
    int code;
    switch (r.action) {
    case WARD_MAIL_ACCEPT:
        code = 0;
        if (ward_agent_copy(r.msg_fd >= 0 ? r.msg_fd : msg, 1, &d)) {
            report(NULL, d.msg);
            code = temp_code(qmail);
        }
        break;
    case WARD_MAIL_DISCARD:
        code = qmail ? QMAIL_DROP : 0;
        break;
    case WARD_MAIL_REJECT:
        fprintf(stderr, "%s\n", r.reply);
        code = qmail ? QMAIL_PERM : EX_UNAVAILABLE;
        break;
    case WARD_MAIL_DEFER:
    default:
        fprintf(stderr, "%s%s%s\n", r.reply, r.error ? ": " : "", r.error ? r.error : "");
        code = temp_code(qmail);
        break;
    }
    ward_mailproto_reply_free(&r);
    if (owned)
        close(msg);
    free(qrcpts);
    free(qstorage);
    if (code == 0 && close(1) != 0) {
        report(NULL, "cannot write the message to standard output");
        return temp_code(qmail);
    }
    return code;
}
