/* test_conf.c - the INI reader: syntax, quoting, comments, errors with lines. */
#include "check.h"
#include "util/conf.h"

static ward_conf *parse(const char *text, struct ward_diag *d)
{
    ward_conf *c = NULL;
    if (ward_conf_parse_mem("t.conf", text, strlen(text), &c, d) != WARD_OK)
        return NULL;
    return c;
}

int main(void)
{
    struct ward_diag d;
    ward_conf *c = parse("top = 1\n[global]\n# comment\n; other\n  database_dir = /x/y  # tail\n"
                         "[scan]\nexclude = \"a;b # c\"\nq = \"say \\\"hi\\\"\"\nempty =\n",
                         &d);
    CHECK(c != NULL);
    if (c) {
        const struct ward_conf_entry *e = ward_conf_find(c, "global", "top");
        CHECK(e && strcmp(e->value, "1") == 0 && e->line == 1);
        e = ward_conf_find(c, "global", "database_dir");
        CHECK(e && strcmp(e->value, "/x/y") == 0 && e->line == 5);
        e = ward_conf_find(c, "scan", "exclude");
        CHECK(e && strcmp(e->value, "a;b # c") == 0);
        e = ward_conf_find(c, "scan", "q");
        CHECK(e && strcmp(e->value, "say \"hi\"") == 0);
        e = ward_conf_find(c, "scan", "empty");
        CHECK(e && strcmp(e->value, "") == 0);
        CHECK(ward_conf_section(c, "scan") && ward_conf_section(c, "scan")->line == 6);
        ward_conf_free(c);
    }
    /* a regex with ';' and '#' not preceded by space stays whole */
    c = parse("[scan]\nexclude = ^a;b#c$\n", &d);
    CHECK(c && strcmp(ward_conf_find(c, "scan", "exclude")->value, "^a;b#c$") == 0);
    ward_conf_free(c);

    CHECK(parse("[global\nx=1\n", &d) == NULL);
    CHECK(strstr(d.msg, "t.conf:1:") != NULL);
    CHECK(parse("x=1\nnot an option line\n", &d) == NULL);
    CHECK(strstr(d.msg, "t.conf:2:") != NULL);
    CHECK(parse("x = \"unterminated\n", &d) == NULL);
    CHECK(strstr(d.msg, "t.conf:1:") && strstr(d.msg, "unterminated"));
    CHECK(parse("x = \"a\" junk\n", &d) == NULL);
    CHECK(parse("[]\n", &d) == NULL);
    char nul[] = "x = a\0b\n";
    ward_conf *cn = NULL;
    CHECK(ward_conf_parse_mem("t.conf", nul, sizeof nul - 1, &cn, &d) != WARD_OK);
    /* CRLF and a BOM */
    c = parse("\xEF\xBB\xBF[a]\r\nk = v\r\n", &d);
    CHECK(c && strcmp(ward_conf_find(c, "a", "k")->value, "v") == 0);
    ward_conf_free(c);
    return CHECK_DONE();
}
