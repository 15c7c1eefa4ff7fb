/*
 * mail_policy.c - fuzz target: a message through ward_mail_process with a
 * fixed policy. The first byte picks the policy (defaults; everything on
 * with cleaning, tags, footers and filters; user sections and groups that
 * make recipients differ), the rest is the message.
 *
 * Oracles: no crash or leak; a clean status only for a message scanned
 * whole (no not_scanned finding, no protected archive, no structure
 * limit); per-recipient results that agree with the summary; a changed
 * message that parses again and carries the label its status calls for
 * (and no label a sender forged); under the default policy a clean message
 * is never changed.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include "mail/mime.h"
#include "mail/process.h"
#include "scanner.h"
#include "util/conf.h"

#define N_POLICIES 3

/* An oracle failed: say which, then crash for the fuzzer. */
#define FAIL(why)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "mail_policy oracle: %s (line %d)\n", why, __LINE__);                      \
        abort();                                                                                   \
    } while (0)

static ward_conf *confs[N_POLICIES], *users;

static const char *const conf_text[N_POLICIES] = {
    "",
    "write_to_header = all\nwrite_to_subject = yes\nwrite_to_body = all\n"
    "av_clean_mode = yes\naction_av_infected = accept\naction_av_suspicious = accept\n"
    "action_av_notscanned = accept\naction_filtered = accept\n"
    "filter_name = \\.(exe|com|scr)$\nfilter_max_size = 2000\n",
    "[pipe]\nwrite_to_header = all\naction_av_notscanned = defer\n",
};

static const char users_text[] = "[a@x]\naction_av_infected = accept\nwrite_to_body = infected\n"
                                 "[group:g]\nrecipients = .*@y\naction_av_infected = discard\n"
                                 "av_clean_mode = yes\n";

static void setup(void)
{
    struct ward_diag d;
    for (int i = 0; i < N_POLICIES; i++)
        if (ward_conf_parse_mem("fuzz.conf", conf_text[i], strlen(conf_text[i]), &confs[i], &d))
            abort();
    if (ward_conf_parse_mem("users.conf", users_text, strlen(users_text), &users, &d))
        abort();
}

/*
 * The first X-Ward-Result of the changed message must be ours, as its status
 * says.
 */
static void check_output(const struct ward_mail_result *r, int policy)
{
    struct stat st;
    if (fstat(r->out_fd, &st) != 0)
        abort();
    size_t n = (size_t)st.st_size;
    uint8_t *p = malloc(n + 1);
    if (!p || pread(r->out_fd, p, n, 0) != (ssize_t)n)
        abort();
    ward_mime m;
    struct ward_diag d;
    if (ward_mime_parse(p, n, NULL, &m, &d) != WARD_OK)
        FAIL("the changed message does not parse");
    char v[512];
    bool has = ward_mime_header(&m, 0, "X-Ward-Result", v, sizeof v, NULL, NULL);
    if (policy != 0 && !r->rcpts_differ) {
        if (!has)
            FAIL("no X-Ward-Result under write_to_header = all");
        bool says_clean = strcmp(v, "clean") == 0;
        if (says_clean != (r->status == WARD_MAIL_CLEAN))
            FAIL("X-Ward-Result disagrees with the status");
    }
    ward_mime_free(&m);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!confs[0])
        setup();
    if (size < 1)
        return 0;
    int policy = data[0] % N_POLICIES;
    data++;
    size--;
    int fd = memfd_create("msg", MFD_CLOEXEC);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
        abort();

    struct ward_mail_ctx ctx = {
        .scanner = fuzz_scanner,
        .conf = confs[policy],
        .users = policy == 2 ? users : NULL,
        .hostname = "fuzz",
        .db_version = "1",
    };
    ctx.scan.limits.max_filesize = 8u << 20;
    ctx.scan.limits.max_scansize = 32u << 20;
    ctx.scan.limits.max_files = 200;
    ctx.scan.limits.max_recursion = 8;
    ctx.scan.limits.max_scantime = 5000;
    ctx.scan.limits.max_ratio = 1000;
    static const char *const rcpts[] = {"a@x", "b@y", "c@z"};
    struct ward_mail_env env = {
        .sender = "s@w",
        .rcpts = rcpts,
        .n_rcpts = policy == 2 ? 3 : 1,
        .agent = "pipe",
    };
    struct ward_mail_result r;
    struct ward_diag d;
    ward_err err = ward_mail_process(&ctx, fd, &env, &r, &d);
    close(fd);
    if (err)
        return 0; /* an error is a defer for the caller: allowed, never a pass */

    /* clean only when scanned whole */
    bool partial = r.scan.protected || r.scan.verdict != WARD_VERDICT_CLEAN;
    for (size_t i = 0; i < r.scan.n_det; i++)
        partial |= r.scan.det[i].verdict != WARD_VERDICT_CLEAN;
    ward_mime m;
    if (ward_mime_parse(data, size, NULL, &m, &d) == WARD_OK) {
        partial |= m.truncated;
        ward_mime_free(&m);
    }
    for (size_t i = 0; i < r.n_rcpts; i++) {
        if (r.rcpts[i].status == WARD_MAIL_CLEAN && partial)
            FAIL("a recipient's copy is clean, but the message was not scanned whole");
        bool refused =
            r.rcpts[i].action == WARD_MAIL_DEFER || r.rcpts[i].action == WARD_MAIL_REJECT;
        if (refused != (r.rcpts[i].reply != NULL))
            FAIL("a refusal without a reply, or a reply without a refusal");
    }
    if (r.status == WARD_MAIL_CLEAN && partial)
        FAIL("clean, but not scanned whole");
    if ((r.action == WARD_MAIL_REJECT && r.reply[0] != '5') ||
        (r.action == WARD_MAIL_DEFER && r.reply[0] != '4') ||
        ((r.action == WARD_MAIL_ACCEPT || r.action == WARD_MAIL_DISCARD) && r.reply[0] != '2'))
        FAIL("the reply's class does not match the action");
    /* the default policy leaves a clean message alone, byte for byte */
    if (policy == 0 && r.status == WARD_MAIL_CLEAN && r.out_fd >= 0)
        FAIL("a clean message was changed under the default policy");
    if (r.out_fd >= 0)
        check_output(&r, policy);
    ward_mail_result_free(&r);
    return 0;
}
