/* test_policy.c - the layered mail policy: global < agent < user sections, groups, checks;
 * and the templates (macros, escaping per context). */
#include "check.h"
#include "mail/policy.h"
#include "mail/template.h"
#include "util/options.h"

static ward_conf *parse(const char *text)
{
    ward_conf *c = NULL;
    struct ward_diag d;
    if (ward_conf_parse_mem("t.conf", text, strlen(text), &c, &d) != WARD_OK) {
        fprintf(stderr, "parse: %s\n", d.msg);
        return NULL;
    }
    return c;
}

static const char *av_for(const ward_conf *conf, const ward_conf *users, const char *agent,
                          const char *user, const char *sender, const char *rcpt)
{
    struct ward_policy p;
    ward_policy_select(&p, conf, users, agent, user, sender, rcpt);
    return ward_policy_str(&p, "action_av_infected");
}

static const char *section_for(const ward_conf *users, const char *sender, const char *rcpt)
{
    struct ward_policy p;
    ward_policy_select(&p, NULL, users, "smtp", NULL, sender, rcpt);
    return p.user_section ? p.user_section : "(none)";
}

static unsigned problems;
static char last[1024];
static void report(void *ctx, const char *msg)
{
    (void)ctx;
    problems++;
    snprintf(last, sizeof last, "%s", msg);
}

static void test_layers(void)
{
    ward_conf *conf = parse("[global]\naction_av_infected = discard\nwrite_to_header = all\n"
                            "[smtp]\naction_av_infected = defer\n");
    ward_conf *users = parse("[bob@example.org]\naction_av_infected = accept\n"
                             "[|spammer@bad.example]\naction_av_infected = reject\n"
                             "[@example.org]\naction_av_infected = discard\nav_clean_mode = yes\n"
                             "[alice]\naction_av_infected = defer\n");
    CHECK(conf && users);
    if (!conf || !users)
        return;
    /* defaults only, then [global], then the agent's section */
    CHECK_STR(av_for(NULL, NULL, "pipe", NULL, "a@b", "c@d"), "reject");
    CHECK_STR(av_for(conf, NULL, "pipe", NULL, "a@b", "c@d"), "discard");
    CHECK_STR(av_for(conf, NULL, "smtp", NULL, "a@b", "c@d"), "defer");
    /* the recipient beats the sender, the sender beats the domain */
    CHECK_STR(av_for(conf, users, "smtp", NULL, "spammer@bad.example", "BOB@Example.ORG"),
              "accept");
    CHECK_STR(av_for(conf, users, "smtp", NULL, "spammer@bad.example", "carol@example.org"),
              "reject");
    CHECK_STR(av_for(conf, users, "smtp", NULL, "x@y", "carol@example.org"), "discard");
    /* a user name given by the agent comes first */
    CHECK_STR(av_for(conf, users, "mda", "alice", "x@y", "bob@example.org"), "defer");
    /* what a user section does not set comes from the agent and [global] */
    struct ward_policy p;
    ward_policy_select(&p, conf, users, "smtp", NULL, "x@y", "carol@example.org");
    CHECK_STR(ward_policy_str(&p, "write_to_header"), "all");
    CHECK(ward_policy_bool(&p, "av_clean_mode"));
    CHECK(ward_policy_enum(&p, "write_to_header") == 2);
    CHECK(ward_policy_enum(&p, "action_av") == 0);
    struct ward_policy q;
    ward_policy_select(&q, conf, users, "smtp", NULL, "z@y", "dave@example.org");
    CHECK(ward_policy_same(&p, &q));
    ward_policy_select(&q, conf, users, "smtp", NULL, "z@y", "bob@example.org");
    CHECK(!ward_policy_same(&p, &q));
    ward_conf_free(conf);
    ward_conf_free(users);
}

static void test_groups(void)
{
    ward_conf *users = parse("[group:whitelist]\nsenders = .*@partner\\.example\n"
                             "senders = boss@example\\.com\naction_av = accept\n"
                             "[group:sales]\nrecipients = (sales|orders)@example\\.com\n"
                             "senders = .*\\.(cn|ru)\naction_av_infected = discard\n"
                             "[group:all-to-legal]\nrecipients = legal@example\\.com\n"
                             "action_av = reject\n");
    CHECK(users != NULL);
    if (!users)
        return;
    CHECK_STR(section_for(users, "Anyone@PARTNER.example", "x@example.com"), "group:whitelist");
    CHECK_STR(section_for(users, "boss@example.com", "x@example.com"), "group:whitelist");
    /* the expression must match the whole address */
    CHECK_STR(section_for(users, "boss@example.com.evil", "x@example.com"), "(none)");
    CHECK_STR(section_for(users, "xboss@example.com", "x@example.com"), "(none)");
    /* both lists must match */
    CHECK_STR(section_for(users, "a@shop.cn", "Orders@example.com"), "group:sales");
    CHECK_STR(section_for(users, "a@shop.de", "orders@example.com"), "(none)");
    /* no senders list: any sender, the null sender too */
    CHECK_STR(section_for(users, "", "legal@example.com"), "group:all-to-legal");
    /* the first matching group wins */
    CHECK_STR(section_for(users, "boss@example.com", "legal@example.com"), "group:whitelist");
    ward_conf_free(users);
}

static void test_check(void)
{
    ward_conf *users = parse("[a@b]\naction_av_infected = maybe\n[group:g]\nrecipients = (\n"
                             "[c@d]\nsenders = x\n[e@f]\nno_such_option = 1\n"
                             "[g@h]\nwrite_to_body = all\nwrite_to_body = none\n");
    CHECK(users != NULL);
    if (!users)
        return;
    problems = 0;
    CHECK(ward_policy_check(users, report, NULL) == 5);
    CHECK(problems == 5);
    CHECK(strstr(last, "t.conf:11: [g@h] write_to_body") != NULL);
    ward_conf_free(users);
    users = parse("[a@b]\naction_av = accept\n[group:x]\nsenders = .*@x\nwrite_to_header = all\n");
    problems = 0;
    CHECK(users && ward_policy_check(users, report, NULL) == 0);
    ward_conf_free(users);
    /* mail options are valid in agent sections of ward.conf too */
    CHECK(ward_option_find("pipe", "action_av_infected") != NULL);
    CHECK(ward_option_find("wardd", "action_av_infected") == NULL);
}

static void test_templates(void)
{
    struct ward_tmpl_vars v = {.virusname = "Eicar-Test-Signature",
                               .subject = "hello\r\nBcc: victim@example.com",
                               .sender = "<a&b>@x",
                               .hostname = "mx1"};
    ward_buf b;
    ward_buf_init(&b, 4096);
    CHECK(ward_template_expand("[virus %VIRUSNAME%] %SUBJECT% 100%% %UNKNOWN% %", &v,
                               WARD_TMPL_HEADER, &b) == WARD_OK);
    CHECK_STR(ward_buf_str(&b),
              "[virus Eicar-Test-Signature] hello  Bcc: victim@example.com 100% %UNKNOWN% %");
    ward_buf_reset(&b);
    CHECK(ward_template_expand("<p>%SENDER% on %HOSTNAME%</p>", &v, WARD_TMPL_HTML, &b) == WARD_OK);
    CHECK_STR(ward_buf_str(&b), "<p>&lt;a&amp;b&gt;@x on mx1</p>");
    ward_buf_reset(&b);
    /* the administrator's own line breaks cannot split a header either */
    CHECK(ward_template_expand("a\nb %DATE%", &v, WARD_TMPL_HEADER, &b) == WARD_OK);
    CHECK_STR(ward_buf_str(&b), "a b ");
    struct ward_diag d;
    CHECK(ward_template_load("/nonexistent-dir", "footer_clean.txt", &b, &d) == WARD_OK);
    CHECK(strstr(ward_buf_str(&b), "%HOSTNAME%") != NULL);
    CHECK(ward_template_load(WARD_SOURCE_ROOT "/conf/templates", "footer_infected.txt", &b, &d) ==
          WARD_OK);
    CHECK(strstr(ward_buf_str(&b), "%VIRUSNAME%") != NULL);
    ward_buf_free(&b);
}

int main(void)
{
    test_layers();
    test_groups();
    test_check();
    test_templates();
    return CHECK_DONE();
}
