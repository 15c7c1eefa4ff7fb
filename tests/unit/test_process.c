/* test_process.c - a message through the mail policy: actions, cleaning, quarantine,
 * headers, subject, footers, user sections and groups, protected archives, filters,
 * exec_script. */
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include "check.h"
#include "mail/notify.h"
#include "mail/process.h"
#include "mail/sendmsg.h"
#include "testdb.h"
#include "util/conf.h"
#include "util/file.h"
#include "util/spool.h"

static ward_scanner *scanner;
static ward_quarantine *store;
static char msgbuf[1 << 16];

static ward_conf *parse(const char *text)
{
    ward_conf *c = NULL;
    struct ward_diag d;
    if (ward_conf_parse_mem("t.conf", text, strlen(text), &c, &d) != WARD_OK) {
        fprintf(stderr, "conf: %s\n", d.msg);
        abort();
    }
    return c;
}

static int message_fd(const char *text, size_t len)
{
    int fd = ward_tmpfile(test_dir);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len)
        abort();
    return fd;
}

/* The changed message as text ("" when unchanged). */
static const char *out_text(const struct ward_mail_result *r)
{
    static char out[1 << 17];
    out[0] = 0;
    if (r->out_fd < 0)
        return out;
    ssize_t n = pread(r->out_fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = 0;
    return out;
}

/* Process msg for rcpts under a ward.conf ([global] text) and a user_config text. */
static ward_err run(const char *conf_text, const char *users_text, const char *msg,
                    const char *const *rcpts, size_t n_rcpts, struct ward_mail_result *res)
{
    ward_conf *conf = parse(conf_text ? conf_text : "");
    ward_conf *users = users_text ? parse(users_text) : NULL;
    struct ward_mail_ctx ctx = {
        .scanner = scanner,
        .conf = conf,
        .users = users,
        .store = store,
        .hostname = "mx.test",
        .db_version = "1/test",
    };
    ward_scan_limits_default(&ctx.scan.limits);
    ctx.scan.tmpdir = test_dir;
    static const char *const one[] = {"rcpt@example.org"};
    struct ward_mail_env env = {
        .sender = "sender@example.com",
        .rcpts = rcpts ? rcpts : one,
        .n_rcpts = rcpts ? n_rcpts : 1,
        .agent = "pipe",
    };
    int fd = message_fd(msg, strlen(msg));
    struct ward_diag d = {{0}};
    ward_err err = ward_mail_process(&ctx, fd, &env, res, &d);
    if (err)
        fprintf(stderr, "process: %s\n", d.msg);
    close(fd);
    ward_conf_free(conf);
    ward_conf_free(users);
    return err;
}

static const char *clean_msg = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hello\r\n"
                               "Message-ID: <1@example.com>\r\n\r\nJust text,\r\nnothing else.\r\n";

static const char *infected_msg(void)
{
    snprintf(msgbuf, sizeof msgbuf,
             "From: a@example.com\nTo: b@example.org\nSubject: invoice\n"
             "X-Ward-Result: clean\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
             "--XX\nContent-Type: text/plain\n\nSee the attachment.\n"
             "--XX\nContent-Type: application/octet-stream\n"
             "Content-Disposition: attachment; filename=\"eicar.com\"\n\n%s\n"
             "--XX--\n",
             test_eicar());
    return msgbuf;
}

static void test_clean(void)
{
    struct ward_mail_result r;
    CHECK(run(NULL, NULL, clean_msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_CLEAN && r.action == WARD_MAIL_ACCEPT);
    CHECK(r.out_fd == -1);
    CHECK(strncmp(r.reply, "250 2.0.0", 9) == 0);
    CHECK(r.n_rcpts == 1 && !r.rcpts_differ && r.rcpts[0].reply == NULL);
    CHECK(r.quarantine_id[0] == 0);
    ward_mail_result_free(&r);

    /* write_to_header = all labels clean messages; write_to_body = all adds the footer */
    CHECK(run("write_to_header = all\nwrite_to_body = all\n", NULL, clean_msg, NULL, 0, &r) ==
          WARD_OK);
    const char *o = out_text(&r);
    CHECK(strstr(o, "X-Ward-Result: clean\r\n") != NULL);
    CHECK(strstr(o, "X-Virus-Scanner: Ward ") && strstr(o, "database 1/test"));
    CHECK(strstr(o, "Scanned by Ward on mx.test: no virus found.") != NULL);
    CHECK(strstr(o, "Just text,\r\nnothing else.\r\n") != NULL);
    ward_mail_result_free(&r);
}

static void test_infected_actions(void)
{
    static const struct {
        const char *conf;
        enum ward_mail_action action;
        const char *reply;
    } cases[] = {
        {"", WARD_MAIL_REJECT, "550 5.7.1 Message rejected: virus found (Ward.Test.EICAR)"},
        {"action_av_infected = defer\n", WARD_MAIL_DEFER, "451 4.7.1 "},
        {"action_av_infected = discard\n", WARD_MAIL_DISCARD, "250 2.0.0 Ok"},
        {"action_av_infected = accept\n", WARD_MAIL_ACCEPT, "250 2.0.0 Ok: virus found"},
        {"[pipe]\naction_av_infected = discard\n", WARD_MAIL_DISCARD, "250 "},
        {"[smtp]\naction_av_infected = discard\n", WARD_MAIL_REJECT, "550 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ward_mail_result r;
        CHECK(run(cases[i].conf, NULL, infected_msg(), NULL, 0, &r) == WARD_OK);
        CHECK(r.status == WARD_MAIL_INFECTED);
        if (r.action != cases[i].action ||
            strncmp(r.reply, cases[i].reply, strlen(cases[i].reply)) != 0) {
            fprintf(stderr, "case %zu: action %s, reply %s\n", i, ward_mail_action_name(r.action),
                    r.reply);
            check_failures++;
        }
        CHECK(r.scan.n_det >= 1 && strstr(r.scan.det[0].path, "eicar.com"));
        if (cases[i].action == WARD_MAIL_ACCEPT) {
            const char *o = out_text(&r);
            CHECK(strstr(o, "X-Ward-Result: infected (Ward.Test.EICAR)\n") != NULL);
            /* the forged label is gone */
            CHECK(strstr(o, "X-Ward-Result: clean") == NULL);
        } else {
            CHECK(r.out_fd == -1);
        }
        ward_mail_result_free(&r);
    }
}

static void test_cleaning(void)
{
    struct ward_mail_result r;
    CHECK(run("av_clean_mode = yes\nwrite_to_subject = yes\n", NULL, infected_msg(), NULL, 0, &r) ==
          WARD_OK);
    CHECK(r.status == WARD_MAIL_CLEANED && r.action == WARD_MAIL_ACCEPT);
    const char *o = out_text(&r);
    CHECK(strstr(o, "EICAR-STANDARD") == NULL);
    CHECK(strstr(o, "Ward removed an attachment from this message: Ward.Test.EICAR.") != NULL);
    CHECK(strstr(o, "See the attachment.\n") != NULL);
    CHECK(strstr(o, "X-Ward-Result: cleaned (Ward.Test.EICAR)") != NULL);
    CHECK(strstr(o, "Subject: [cleaned Ward.Test.EICAR] invoice\n") != NULL);
    ward_mail_result_free(&r);

    CHECK(run("av_clean_mode = yes\naction_av_deleted = reject\n", NULL, infected_msg(), NULL, 0,
              &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_CLEANED && r.action == WARD_MAIL_REJECT && r.out_fd == -1);
    ward_mail_result_free(&r);

    /* subject tag for an infected message let through */
    CHECK(run("action_av_infected = accept\nwrite_to_subject = yes\n", NULL, infected_msg(), NULL,
              0, &r) == WARD_OK);
    CHECK(strstr(out_text(&r), "Subject: [virus Ward.Test.EICAR] invoice\n") != NULL);
    ward_mail_result_free(&r);
}

/* A subject is decoded for the templates, and what it decodes to cannot add a header field. */
static void test_subject_injection(void)
{
    snprintf(
        msgbuf, sizeof msgbuf,
        "From: a@example.com\nSubject: =?utf-8?q?r=C3=A9sum=C3=A9=0D=0ABcc:_victim@example.net?=\n"
        "Content-Type: text/plain\n\n%s\n",
        test_eicar());
    struct ward_mail_result r;
    CHECK(run("action_av_infected = accept\nwrite_to_subject = yes\n", NULL, msgbuf, NULL, 0, &r) ==
          WARD_OK);
    const char *o = out_text(&r);
    CHECK(strstr(o, "\nBcc:") == NULL);
    CHECK(strstr(o, "Subject: =?") != NULL); /* the new subject, encoded again */
    const char *first = strstr(o, "\nSubject:");
    CHECK(first && !strstr(first + 1, "\nSubject:")); /* one Subject field */
    ward_mail_result_free(&r);
}

static void test_quarantine(void)
{
    struct ward_mail_result r;
    CHECK(run("av_quarantine = yes\n", NULL, infected_msg(), NULL, 0, &r) == WARD_OK);
    CHECK(strlen(r.quarantine_id) == WARD_QID_LEN);
    struct ward_qrecord rec;
    struct ward_diag d;
    if (r.quarantine_id[0] && ward_quarantine_get(store, r.quarantine_id, &rec, &d) == WARD_OK) {
        CHECK_STR(rec.verdict, "infected");
        CHECK_STR(rec.sender, "sender@example.com");
        CHECK_STR(rec.recipients, "rcpt@example.org");
        CHECK(rec.names && strstr(rec.names, "Ward.Test.EICAR"));
        CHECK(rec.size == strlen(infected_msg()));
        ward_qrecord_free(&rec);
    } else {
        check_failures++;
    }
    ward_mail_result_free(&r);
    /* a clean message is never kept; nor one the switches leave out */
    CHECK(run("av_quarantine = yes\n", NULL, clean_msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.quarantine_id[0] == 0);
    ward_mail_result_free(&r);
    CHECK(run("av_quarantine = yes\nquarantine_infected = no\n", NULL, infected_msg(), NULL, 0,
              &r) == WARD_OK);
    CHECK(r.quarantine_id[0] == 0);
    ward_mail_result_free(&r);
}

static void test_users_and_groups(void)
{
    const char *users = "[bob@example.org]\naction_av_infected = accept\n"
                        "[group:whitelist]\nsenders = .*@partner\\.example\naction_av = accept\n"
                        "[group:sales]\nrecipients = .*@sales\\.example\n"
                        "action_av_infected = discard\n";
    const char *rcpts[] = {"bob@example.org", "carol@sales.example", "dave@example.net"};
    struct ward_mail_result r;
    CHECK(run(NULL, users, infected_msg(), rcpts, 3, &r) == WARD_OK);
    CHECK(r.n_rcpts == 3 && r.rcpts_differ);
    if (r.n_rcpts == 3) {
        CHECK(r.rcpts[0].action == WARD_MAIL_ACCEPT && r.rcpts[0].reply == NULL);
        CHECK(r.rcpts[1].action == WARD_MAIL_DISCARD);
        CHECK(r.rcpts[2].action == WARD_MAIL_REJECT);
        CHECK(r.rcpts[2].reply && strncmp(r.rcpts[2].reply, "550 5.7.1", 9) == 0);
        CHECK_STR(r.rcpts[1].rcpt, "carol@sales.example");
    }
    /* the delivered copy is made by bob's policy (the first that accepts) */
    CHECK(strstr(out_text(&r), "X-Ward-Result: infected") != NULL);
    ward_mail_result_free(&r);

    /* all recipients in one group: the same action, no difference */
    const char *two[] = {"x@sales.example", "y@sales.example"};
    CHECK(run(NULL, users, infected_msg(), two, 2, &r) == WARD_OK);
    CHECK(!r.rcpts_differ && r.action == WARD_MAIL_DISCARD);
    ward_mail_result_free(&r);
}

/* An encrypted zip holding the test file, as an attachment; 0 when libarchive cannot. */
static size_t protected_msg(void)
{
    static uint8_t zip[4096];
    struct archive *a = archive_write_new();
    size_t used = 0;
    const char *e = test_eicar();
    if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
        archive_write_set_passphrase(a, "secret") != ARCHIVE_OK ||
        archive_write_open_memory(a, zip, sizeof zip, &used) != ARCHIVE_OK) {
        archive_write_free(a);
        return 0;
    }
    struct archive_entry *en = archive_entry_new();
    archive_entry_set_pathname(en, "doc.com");
    archive_entry_set_size(en, (la_int64_t)strlen(e));
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    bool ok = archive_write_header(a, en) == ARCHIVE_OK &&
              archive_write_data(a, e, strlen(e)) == (la_ssize_t)strlen(e) &&
              archive_write_close(a) == ARCHIVE_OK;
    archive_entry_free(en);
    archive_write_free(a);
    if (!ok)
        return 0;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = (size_t)snprintf(msgbuf, sizeof msgbuf,
                                "From: a@example.com\nSubject: papers\nMIME-Version: 1.0\n"
                                "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
                                "--B\nContent-Type: text/plain\n\nThe password is secret.\n"
                                "--B\nContent-Type: application/zip\n"
                                "Content-Transfer-Encoding: base64\n"
                                "Content-Disposition: attachment; filename=\"papers.zip\"\n\n");
    for (size_t i = 0; i < used; i += 3) {
        uint32_t v = (uint32_t)zip[i] << 16 | (i + 1 < used ? (uint32_t)zip[i + 1] << 8 : 0) |
                     (i + 2 < used ? zip[i + 2] : 0);
        msgbuf[k++] = b64[v >> 18 & 63];
        msgbuf[k++] = b64[v >> 12 & 63];
        msgbuf[k++] = i + 1 < used ? b64[v >> 6 & 63] : '=';
        msgbuf[k++] = i + 2 < used ? b64[v & 63] : '=';
        if (i % 57 == 54)
            msgbuf[k++] = '\n';
    }
    k += (size_t)snprintf(msgbuf + k, sizeof msgbuf - k, "\n--B--\n");
    return k;
}

static void test_protected(void)
{
    if (!protected_msg()) {
        fprintf(stderr, "note: libarchive cannot write encrypted zip here, skipped\n");
        return;
    }
    struct ward_mail_result r;
    CHECK(run(NULL, NULL, msgbuf, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_PROTECTED && r.action == WARD_MAIL_ACCEPT);
    CHECK(strstr(out_text(&r), "X-Ward-Result: protected") != NULL);
    CHECK(strstr(out_text(&r), "clean") == NULL);
    ward_mail_result_free(&r);
    CHECK(run("action_av_protected = reject\n", NULL, msgbuf, NULL, 0, &r) == WARD_OK);
    CHECK(r.action == WARD_MAIL_REJECT && strstr(r.reply, "password-protected"));
    ward_mail_result_free(&r);
}

static void test_filters(void)
{
    const char *msg = "From: a@example.com\nSubject: run me\nMIME-Version: 1.0\n"
                      "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
                      "--B\nContent-Type: text/plain\n\nhi\n"
                      "--B\nContent-Type: application/octet-stream\n"
                      "Content-Disposition: attachment; filename=\"Run.EXE\"\n\nharmless\n"
                      "--B--\n";
    struct ward_mail_result r;
    CHECK(run("filter_name = \\.(exe|scr)$\n", NULL, msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_FILTERED && r.action == WARD_MAIL_REJECT);
    CHECK(strstr(r.reply, "attachment not allowed (name Run.EXE)") != NULL);
    ward_mail_result_free(&r);
    CHECK(run("filter_name = \\.(exe|scr)$\nav_clean_mode = yes\n", NULL, msg, NULL, 0, &r) ==
          WARD_OK);
    CHECK(r.status == WARD_MAIL_CLEANED && r.action == WARD_MAIL_ACCEPT);
    CHECK(strstr(out_text(&r), "harmless") == NULL);
    ward_mail_result_free(&r);
    CHECK(run("filter_max_size = 4\n", NULL, msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_FILTERED);
    ward_mail_result_free(&r);
    CHECK(run("filter_name = \\.zip$\n", NULL, msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_CLEAN && r.out_fd == -1);
    ward_mail_result_free(&r);
}

static void test_action_av_and_script(void)
{
    struct ward_mail_result r;
    CHECK(run("action_av = reject\n", NULL, clean_msg, NULL, 0, &r) == WARD_OK);
    CHECK(r.status == WARD_MAIL_UNSCANNED && r.action == WARD_MAIL_REJECT);
    CHECK(strncmp(r.reply, "550 5.7.1 Message rejected: refused by policy", 45) == 0);
    ward_mail_result_free(&r);
    /* whitelisted: delivered as is, unlabelled (it was not scanned) */
    CHECK(run("action_av = accept\nwrite_to_header = all\n", NULL, infected_msg(), NULL, 0, &r) ==
          WARD_OK);
    CHECK(r.action == WARD_MAIL_ACCEPT && r.out_fd == -1 && r.scan.n_det == 0);
    ward_mail_result_free(&r);

    char script[256], out[256], conf[600];
    snprintf(script, sizeof script, "%s/hook.sh", test_dir);
    snprintf(out, sizeof out, "%s/hook.out", test_dir);
    char body[512];
    snprintf(body, sizeof body, "#!/bin/sh\nenv > '%s'\n", out);
    test_write_str("hook.sh", body);
    chmod(script, 0755);
    snprintf(conf, sizeof conf, "exec_script = %s\n", script);
    CHECK(run(conf, NULL, infected_msg(), NULL, 0, &r) == WARD_OK);
    ward_mail_result_free(&r);
    ward_buf b;
    ward_buf_init(&b, 1 << 16);
    struct ward_diag d;
    CHECK(ward_file_read_all(out, &b, &d) == WARD_OK);
    const char *env = ward_buf_str(&b);
    CHECK(strstr(env, "WARD_VIRUSNAME=Ward.Test.EICAR\n") != NULL);
    CHECK(strstr(env, "WARD_STATUS=infected\n") != NULL);
    CHECK(strstr(env, "WARD_ACTION=reject\n") != NULL);
    CHECK(strstr(env, "WARD_SENDER=sender@example.com\n") != NULL);
    CHECK(strstr(env, "WARD_SUBJECT=invoice\n") != NULL);
    ward_buf_free(&b);
}

/* Notices: who is told, what they get (the original to the administrator only), sendmail's argv. */
static void test_notices(void)
{
    ward_conf *conf = parse("notify_sender = filtered\nnotify_admin = yes\n"
                            "admin_address = admin@example.net\nnotify_attach_original = yes\n");
    struct ward_mail_ctx ctx = {.conf = conf, .hostname = "mx.test"};
    const char *rcpts[] = {"r@example.org"};
    struct ward_mail_env env = {
        .sender = "s@example.com", .rcpts = rcpts, .n_rcpts = 1, .agent = "pipe"};
    struct ward_judgement j = {
        .status = WARD_MAIL_INFECTED, .found = WARD_MAIL_INFECTED, .action = WARD_MAIL_REJECT};
    snprintf(j.names, sizeof j.names, "Ward.Test.EICAR\r\nX-Injected: yes");
    struct ward_policy p;
    ward_policy_select(&p, conf, NULL, "pipe", NULL, env.sender, rcpts[0]);
    struct ward_msginfo mi;
    CHECK(ward_msginfo_init(&mi, &ctx, &env, NULL, &j) == WARD_OK);
    ward_buf orig;
    ward_buf_init(&orig, 1024);
    CHECK(ward_buf_puts(&orig, "Subject: the original\n\nbody\n") == WARD_OK);
    struct ward_notify_in in = {.ctx = &ctx,
                                .env = &env,
                                .pol = &p,
                                .j = &j,
                                .mi = &mi,
                                .rcpts = rcpts,
                                .n_rcpts = 1,
                                .msg = &orig,
                                .quarantine_id = "0123456789abcdef"};
    /* viruses forge senders: "filtered" does not tell them */
    CHECK(!ward_notify_wanted(&in, WARD_NOTICE_SENDER));
    CHECK(!ward_notify_wanted(&in, WARD_NOTICE_RECIPIENTS));
    CHECK(ward_notify_wanted(&in, WARD_NOTICE_ADMIN));
    j.status = WARD_MAIL_FILTERED;
    CHECK(ward_notify_wanted(&in, WARD_NOTICE_SENDER));
    j.status = WARD_MAIL_INFECTED;

    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    struct ward_diag d;
    CHECK(ward_notify_compose(&in, WARD_NOTICE_ADMIN, "admin@example.net", &b, &d) == WARD_OK);
    const char *t = ward_buf_str(&b);
    CHECK(strncmp(t, "From: MAILER-DAEMON@mx.test\nTo: admin@example.net\n", 50) == 0);
    CHECK(strstr(t, "\nX-Injected") == NULL);
    CHECK(strstr(t, "Auto-Submitted: auto-generated\n") != NULL);
    CHECK(strstr(t, "Content-Type: message/rfc822") && strstr(t, "Subject: the original"));
    CHECK(strstr(t, "Quarantine: 0123456789abcdef\n") != NULL);
    ward_buf_reset(&b);
    CHECK(ward_notify_compose(&in, WARD_NOTICE_SENDER, "s@example.com", &b, &d) == WARD_OK);
    t = ward_buf_str(&b);
    CHECK(strstr(t, "message/rfc822") == NULL && strstr(t, "the original") == NULL);
    CHECK(strstr(t, "Your message to r@example.org") != NULL);

    /* sendmail_path runs without a shell, null sender, recipients after "--" */
    char script[256], args[256], body[256], text[600];
    snprintf(script, sizeof script, "%s/sendmail", test_dir);
    snprintf(args, sizeof args, "%s/sendmail.args", test_dir);
    snprintf(body, sizeof body, "%s/sendmail.body", test_dir);
    snprintf(text, sizeof text, "#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\ncat > '%s'\n", args,
             body);
    test_write_str("sendmail", text);
    chmod(script, 0755);
    struct ward_sendmsg sm = {.sendmail_path = script, .timeout_ms = 10000};
    const char *to[] = {"admin@example.net", "$(touch /tmp/ward-pwned)"};
    CHECK(ward_sendmsg(&sm, "", to, 1, b.data, b.len, &d) == WARD_OK);
    CHECK(ward_sendmsg(&sm, "", to, 2, b.data, b.len, &d) == WARD_ERR_PARSE);
    ward_buf got;
    ward_buf_init(&got, 1 << 20);
    CHECK(ward_file_read_all(args, &got, &d) == WARD_OK);
    CHECK_STR(ward_buf_str(&got), "-i\n-f\n<>\n--\nadmin@example.net\n");
    ward_buf_reset(&got);
    CHECK(ward_file_read_all(body, &got, &d) == WARD_OK);
    CHECK(got.len == b.len && memcmp(got.data, b.data, b.len) == 0);
    /* a program that hangs is killed at its deadline */
    test_write_str("sendmail", "#!/bin/sh\nsleep 30\n");
    sm.timeout_ms = 300;
    CHECK(ward_sendmsg(&sm, "", to, 1, b.data, b.len, &d) == WARD_ERR_TIMEOUT);
    ward_buf_free(&got);
    ward_buf_free(&b);
    ward_buf_free(&orig);
    ward_msginfo_free(&mi);
    ward_conf_free(conf);
}

int main(void)
{
    struct ward_diag d;
    (void)test_scan; /* testdb.h's, not needed here */
    test_dir_make();
    test_write_str("ward.ndb", "Ward.Test.EICAR:0:*:58354f2150254041505b345c505a58353428505e29"
                               "37434329377d2445494341522d5354414e444152442d414e54495649525553"
                               "2d544553542d46494c452124482b482a\n");
    ward_db *db = test_load("ward.ndb", &d);
    CHECK(db && ward_scanner_new(db, &scanner) == WARD_OK);
    char qdir[128];
    snprintf(qdir, sizeof qdir, "%s/q", test_dir);
    struct ward_qopts qo = {.create = true};
    CHECK(ward_quarantine_open(qdir, NULL, &qo, &store, &d) == WARD_OK);
    if (!scanner || !store)
        return CHECK_DONE();
    test_clean();
    test_infected_actions();
    test_cleaning();
    test_quarantine();
    test_subject_injection();
    test_users_and_groups();
    test_protected();
    test_filters();
    test_action_av_and_script();
    test_notices();
    ward_quarantine_close(store);
    ward_scanner_free(scanner);
    ward_db_unref(db);
    test_dir_remove();
    return CHECK_DONE();
}
