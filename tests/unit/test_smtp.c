/* test_smtp.c - SMTP wire syntax: lines, commands, paths, replies, DATA both ways. */
#include "check.h"
#include "proto/smtp.h"

/* Decode all of s at once: the message into out (NUL-ended), the bytes used. */
static size_t decode(const char *s, char *out, bool *done, uint64_t *bare)
{
    struct ward_smtp_data d;
    size_t n = strlen(s), got;
    ward_smtp_data_init(&d);
    size_t used = ward_smtp_data_feed(&d, (const uint8_t *)s, n, (uint8_t *)out, &got, done);
    out[got] = 0;
    *bare = d.bare;
    return used;
}

static void stuff(const char *s, char *out)
{
    struct ward_smtp_stuff st;
    ward_smtp_stuff_init(&st);
    size_t o = ward_smtp_stuff_feed(&st, (const uint8_t *)s, strlen(s), (uint8_t *)out);
    o += ward_smtp_stuff_end(&st, (uint8_t *)out + o);
    out[o] = 0;
}

int main(void)
{
    size_t len, used;
    /* lines: LF ends, a CR before it is dropped, no LF within the limit is too long */
    CHECK(ward_smtp_line((const uint8_t *)"NOOP\r\nX", 7, 100, &len, &used) == WARD_SMTP_LINE_OK &&
          len == 4 && used == 6);
    CHECK(ward_smtp_line((const uint8_t *)"NOOP\n", 5, 100, &len, &used) == WARD_SMTP_LINE_OK &&
          len == 4 && used == 5);
    CHECK(ward_smtp_line((const uint8_t *)"NOOP", 4, 100, &len, &used) == WARD_SMTP_LINE_MORE);
    CHECK(ward_smtp_line((const uint8_t *)"NOOPNOOP", 8, 8, &len, &used) ==
          WARD_SMTP_LINE_TOO_LONG);

    struct ward_smtp_cmd c;
    ward_smtp_parse_cmd("mail FROM:<a@b>  ", 17, &c);
    CHECK(c.verb == WARD_SMTP_MAIL && c.arg_len == 10 && memcmp(c.arg, "FROM:<a@b>", 10) == 0);
    ward_smtp_parse_cmd("QUIT", 4, &c);
    CHECK(c.verb == WARD_SMTP_QUIT && !c.arg && !c.bad_bytes);
    ward_smtp_parse_cmd("NO\0OP", 5, &c);
    CHECK(c.bad_bytes && c.verb == WARD_SMTP_UNKNOWN);

    struct ward_smtp_path p;
    const char *a = "FROM:<alice@example.org> SIZE=100 BODY=8BITMIME SMTPUTF8";
    CHECK(ward_smtp_parse_path(a, strlen(a), "FROM:", &p) == WARD_SMTP_PATH_OK);
    CHECK(p.addr_len == 17 && p.n_params == 3);
    const struct ward_smtp_param *q = ward_smtp_param_get(&p, "body");
    CHECK(q && q->val_len == 8 && memcmp(q->val, "8BITMIME", 8) == 0);
    CHECK(ward_smtp_param_get(&p, "SMTPUTF8") && !ward_smtp_param_get(&p, "SMTPUTF8")->val);
    a = "FROM: <>";
    CHECK(ward_smtp_parse_path(a, strlen(a), "FROM:", &p) == WARD_SMTP_PATH_OK && p.addr_len == 0);
    a = "TO:<\"quoted >x\"@example.com> NOTIFY=SUCCESS,FAILURE";
    CHECK(ward_smtp_parse_path(a, strlen(a), "TO:", &p) == WARD_SMTP_PATH_OK &&
          p.addr_len == 23 && p.n_params == 1);
    a = "TO:b@example.com";
    CHECK(ward_smtp_parse_path(a, strlen(a), "TO:", &p) == WARD_SMTP_PATH_SYNTAX);
    a = "TO:<b@example.com> =x";
    CHECK(ward_smtp_parse_path(a, strlen(a), "TO:", &p) == WARD_SMTP_PATH_PARAM);
    a = "TO:<b@example.com> A=";
    CHECK(ward_smtp_parse_path(a, strlen(a), "TO:", &p) == WARD_SMTP_PATH_PARAM);

    unsigned code;
    bool last;
    CHECK(ward_smtp_parse_reply("250-PIPELINING", 14, &code, &last) && code == 250 && !last);
    CHECK(ward_smtp_parse_reply("354 go", 6, &code, &last) && code == 354 && last);
    CHECK(!ward_smtp_parse_reply("25O ok", 6, &code, &last));
    CHECK(!ward_smtp_parse_reply("199 x", 5, &code, &last));

    char out[256];
    bool done;
    uint64_t bare;
    /* unstuffing; the end is CRLF.CRLF and what follows stays unread */
    const char *in = "a\r\n..b\r\n.\r\nQUIT\r\n";
    CHECK(decode(in, out, &done, &bare) == 11 && done && bare == 0);
    CHECK_STR(out, "a\r\n.b\r\n");
    /* smuggling: "\n.\n" and "\r.\r" are content, line ends made CR LF */
    in = "x\n.\nMAIL\r.\rY\r\n.\r\n";
    CHECK(decode(in, out, &done, &bare) == strlen(in) && done && bare == 4);
    CHECK_STR(out, "x\r\n.\r\nMAIL\r\n.\r\nY\r\n");
    /* an empty message, and one cut short */
    CHECK(decode(".\r\n", out, &done, &bare) == 3 && done && out[0] == 0);
    CHECK(decode("abc\r\n.", out, &done, &bare) == 6 && !done);
    CHECK_STR(out, "abc\r\n");

    /* stuffing: leading dots doubled, bare line ends made CR LF, the end added */
    stuff(".a\r\nb\n.\n", out);
    CHECK_STR(out, "..a\r\nb\r\n..\r\n.\r\n");
    stuff("no end", out);
    CHECK_STR(out, "no end\r\n.\r\n");
    stuff("", out);
    CHECK_STR(out, ".\r\n");
    return CHECK_DONE();
}
