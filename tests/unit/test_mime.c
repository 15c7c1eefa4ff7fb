/* test_mime.c - the offset MIME parser: structure, header values, decodings, limits. */
#include <string.h>

#include "check.h"
#include "mail/mime.h"

static ward_mime M;

static void parse(const char *s)
{
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)s, strlen(s), NULL, &M, NULL) == WARD_OK);
}

/* A part's body as a string (static). */
static const char *body(uint32_t i)
{
    static char b[4096];
    size_t n = (size_t)(M.parts[i].end - M.parts[i].body);
    if (i >= M.n_parts || n >= sizeof b)
        return "?";
    memcpy(b, M.data + M.parts[i].body, n);
    b[n] = 0;
    return b;
}

static const char *decoded(uint32_t i)
{
    static ward_buf b;
    static bool init;
    if (!init) {
        ward_buf_init(&b, 1 << 20);
        init = true;
    }
    ward_buf_reset(&b);
    if (ward_mime_decode(&M, i, &b, NULL))
        return "ERROR";
    return ward_buf_str(&b);
}

static void test_single(void)
{
    parse("From: a@b\nSubject: hi\n\nbody\n");
    CHECK(M.n_parts == 1);
    CHECK_STR(M.parts[0].type, "text");
    CHECK_STR(M.parts[0].subtype, "plain");
    CHECK_STR(body(0), "body\n");
    CHECK(!M.parts[0].crlf);
    CHECK(M.parts[0].parent == WARD_MIME_NONE);
    char v[64];
    uint64_t s, e;
    CHECK(ward_mime_header(&M, 0, "subject", v, sizeof v, &s, &e));
    CHECK_STR(v, "hi");
    CHECK(s == 10 && e == 22);
    CHECK(!ward_mime_header(&M, 0, "x-none", v, sizeof v, NULL, NULL));

    /* no header at all, no blank line, empty input, a lone line */
    parse("just text\nmore\n");
    CHECK(M.n_parts == 1 && M.parts[0].body == 0);
    parse("");
    CHECK(M.n_parts == 1 && M.parts[0].body == 0 && M.parts[0].end == 0);
    parse("Subject: x");
    CHECK(M.n_parts == 1 && M.parts[0].body == 10);
    parse("\r\n\r\n");
    CHECK(M.n_parts == 1 && M.parts[0].body == 2);
}

static const char *mixed_crlf = "From: a@b\r\n"
                                "Content-Type: multipart/mixed;\r\n"
                                "\tboundary=\"=_outer\"\r\n"
                                "\r\n"
                                "preamble\r\n"
                                "--=_outer\r\n"
                                "Content-Type: text/plain; charset=ISO-8859-1\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n"
                                "\r\n"
                                "caf=E9 =3D soft=\r\n"
                                "break  \r\n"
                                "--=_outer\r\n"
                                "Content-Type: application/octet-stream; name=\"x.bin\"\r\n"
                                "Content-Disposition: attachment;\r\n"
                                " filename=\"report.pdf\"\r\n"
                                "Content-Transfer-Encoding: base64\r\n"
                                "\r\n"
                                "aGVs\r\nbG8g\r\nd29y!bGQ=\r\n"
                                "--=_outer--\r\n"
                                "epilogue\r\n";

static void test_multipart(void)
{
    parse(mixed_crlf);
    CHECK(M.n_parts == 3);
    CHECK(M.parts[0].multipart && M.parts[0].crlf);
    CHECK_STR(M.parts[0].boundary, "=_outer");
    CHECK(M.parts[1].parent == 0 && M.parts[2].parent == 0 && M.parts[1].depth == 1);
    CHECK_STR(M.parts[1].charset, "iso-8859-1");
    CHECK(M.parts[1].enc == WARD_MIME_QP && M.parts[1].crlf);
    /* the CRLF before the boundary belongs to the boundary */
    CHECK_STR(body(1), "caf=E9 =3D soft=\r\nbreak  ");
    CHECK_STR(decoded(1), "caf\xe9 = softbreak");
    CHECK(M.parts[2].attachment && M.parts[2].enc == WARD_MIME_BASE64);
    CHECK_STR(M.parts[2].filename, "report.pdf");
    CHECK_STR(decoded(2), "hello world");
    CHECK(ward_mime_is_leaf(&M.parts[1]) && !ward_mime_is_leaf(&M.parts[0]));
    CHECK(!M.truncated);
}

static void test_nested(void)
{
    parse("Content-Type: multipart/mixed; boundary=b\n\n"
          "--b\n"
          "Content-Type: multipart/alternative; boundary=\"b2\"\n\n"
          "--b2\n\nplain\n--b2\nContent-Type: text/html\n\n<p>html</p>\n--b2--\n"
          "--b\n"
          "Content-Type: message/rfc822\n\n"
          "Subject: inner\nContent-Type: multipart/mixed; boundary=in\n\n"
          "--in\nContent-Type: text/plain; name=a.txt\n\ninner text\n--in--\n"
          "--b--\n");
    CHECK(M.n_parts == 7);
    CHECK(M.parts[1].multipart && M.parts[1].parent == 0);
    CHECK(M.parts[2].parent == 1 && M.parts[3].parent == 1);
    CHECK_STR(body(2), "plain");
    CHECK_STR(M.parts[3].subtype, "html");
    CHECK(M.parts[4].message && M.parts[4].parent == 0);
    CHECK(M.parts[5].parent == 4 && M.parts[5].multipart && M.parts[5].depth == 2);
    CHECK(M.parts[5].start == M.parts[4].body && M.parts[5].end == M.parts[4].end);
    char v[64];
    CHECK(ward_mime_header(&M, 5, "Subject", v, sizeof v, NULL, NULL));
    CHECK_STR(v, "inner");
    CHECK(M.parts[6].parent == 5);
    CHECK_STR(M.parts[6].filename, "a.txt");
    CHECK_STR(body(6), "inner text");
}

static void test_broken(void)
{
    /* the inner multipart never closes: the outer boundary still cuts it */
    parse("Content-Type: multipart/mixed; boundary=out\n\n"
          "--out\nContent-Type: multipart/mixed; boundary=in\n\n"
          "--in\n\nfirst\n"
          "--out\n\nsecond\n"
          "--out--\n");
    CHECK(M.n_parts == 4);
    CHECK(M.parts[2].parent == 1);
    CHECK_STR(body(2), "first");
    CHECK(M.parts[3].parent == 0);
    CHECK_STR(body(3), "second");

    /* no closing boundary at all: the last part runs to the end */
    parse("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nonly\n");
    CHECK(M.n_parts == 2);
    CHECK_STR(body(1), "only\n");

    /* a boundary that is a prefix of a line is not a boundary; trailing blanks are */
    parse("Content-Type: multipart/mixed; boundary=x\n\n--x\n\n--xy\n--x  \n\nb\n--x--");
    CHECK(M.n_parts == 3);
    CHECK_STR(body(1), "--xy");
    CHECK_STR(body(2), "b");

    /* text after a boundary (after a blank) is ignored, as readers do */
    parse("Content-Type: multipart/mixed; boundary=x\n\n--x ignored text\n\none\n"
          "--x-- and the end\nepilogue\n");
    CHECK(M.n_parts == 2);
    CHECK_STR(body(1), "one");

    /* a boundary far longer than RFC 2046's 70 characters still cuts the body */
    char lb[600], msg[4096];
    memset(lb, 'q', sizeof lb - 1);
    lb[sizeof lb - 1] = 0;
    snprintf(msg, sizeof msg,
             "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n\nA\n--%s\n\nB\n--%s--\n", lb,
             lb, lb, lb);
    parse(msg);
    CHECK(M.n_parts == 3 && M.parts[0].multipart);
    CHECK_STR(body(2), "B");

    /* a multipart with no boundary line at all is a leaf: its body gets scanned */
    parse("Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
          "Content-Type: multipart/alternative; boundary=inner\n\nAAA\n--outer--\n");
    CHECK(M.n_parts == 2 && ward_mime_is_leaf(&M.parts[1]));
    CHECK_STR(body(1), "AAA");

    /* an 8-bit byte in a field name: still a field */
    parse("Subject: s\nX-Na\xefme: v\nContent-Type: text/html\n\nb");
    CHECK_STR(M.parts[0].subtype, "html");

    /* multipart without boundary, and with a base64 encoding: leaves */
    parse("Content-Type: multipart/mixed\n\n--x\n\nbody\n");
    CHECK(M.n_parts == 1 && !M.parts[0].multipart);
    parse("Content-Type: multipart/mixed; boundary=x\nContent-Transfer-Encoding: base64\n\n"
          "LS14Cg==\n");
    CHECK(M.n_parts == 1 && ward_mime_is_leaf(&M.parts[0]));

    /* back-to-back boundaries give an empty part; a part with no header */
    parse("Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\nno header line\n--x--\n");
    CHECK(M.n_parts == 3);
    CHECK(M.parts[1].start == M.parts[1].end);
    CHECK(M.parts[2].body == M.parts[2].start);

    /* a line that is not a field ends the header; an invalid type is text/plain */
    parse("Content-Type: garbage\nnot a field\nX: y\n\n");
    CHECK_STR(M.parts[0].type, "text");
    CHECK_STR(body(0), "not a field\nX: y\n\n");

    /* an mbox From line, a continuation before any field */
    parse("From someone Mon Jan  1 00:00:00 2024\n  stray\nSubject: s\n\nb");
    char v[32];
    CHECK(ward_mime_header(&M, 0, "subject", v, sizeof v, NULL, NULL));
    CHECK_STR(body(0), "b");

    /* digest: parts default to message/rfc822 */
    parse("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: m\n\nx\n--d--\n");
    CHECK(M.n_parts == 3 && M.parts[1].message);

    /* NUL bytes and 8-bit header bytes */
    static const char bin[] = "Subject: \xff\x00\xfe\nContent-Type: text/plain\n\n\x00\x01";
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)bin, sizeof bin - 1, NULL, &M, NULL) == WARD_OK);
    CHECK(M.n_parts == 1 && M.parts[0].end == sizeof bin - 1);
}

static void test_names(void)
{
    parse("Content-Type: application/x; name=\"=?ISO-8859-1?Q?f=E9e.txt?=\"\n\n");
    CHECK_STR(M.parts[0].filename, "f\xc3\xa9"
                                   "e.txt");
    /* a character split across two words; whitespace between words dropped */
    parse(
        "Content-Disposition: attachment; filename=\"=?UTF-8?B?4oI=?= =?UTF-8?B?rC5leGU=?=\"\n\n");
    CHECK_STR(M.parts[0].filename, "\xe2\x82\xac.exe");
    CHECK(M.parts[0].attachment);
    /* RFC 2231 continuations with a charset, mixed with plain segments */
    parse("Content-Disposition: attachment;\n filename*0*=utf-8'en'%E2%82%AC%20;\n"
          " filename*1=\"bill .exe\"; filename=\"fallback.txt\"\n\n");
    CHECK_STR(M.parts[0].filename, "\xe2\x82\xac bill .exe");
    parse("Content-Type: text/plain; name*=iso-8859-1''%E9t%E9.doc\n\n");
    CHECK_STR(M.parts[0].filename, "\xc3\xa9t\xc3\xa9.doc");
    /* Content-Disposition wins over Content-Type's name */
    parse("Content-Type: a/b; name=one.txt\nContent-Disposition: inline; filename=two.txt\n\n");
    CHECK_STR(M.parts[0].filename, "two.txt");
    CHECK(!M.parts[0].attachment);
    /* raw 8-bit Latin-1 becomes UTF-8; bad words stay as written; escapes in quotes */
    parse("Content-Type: a/b; name=\"caf\xe9.txt\"\n\n");
    CHECK_STR(M.parts[0].filename, "caf\xc3\xa9.txt");
    parse("Content-Type: a/b; name=\"=?bogus?X?abc?= a\\\"b\"\n\n");
    CHECK_STR(M.parts[0].filename, "=?bogus?X?abc?= a\"b");
    parse("Content-Type: a/b; name=\"=?x-unknown-cs?Q?ok?=\"\n\n");
    CHECK_STR(M.parts[0].filename, "ok");
    /* unfolded header value */
    parse("Subject: one\r\n two\r\n\tthree\r\n\r\n");
    char v[64];
    CHECK(ward_mime_header(&M, 0, "SUBJECT", v, sizeof v, NULL, NULL));
    CHECK_STR(v, "one two\tthree");
    CHECK(M.parts[0].crlf);
    /* charset and type are lowercased; comment before the type */
    parse("Content-Type: (c) TEXT/HTML; CHARSET=\"UTF-8\"\n\n");
    CHECK_STR(M.parts[0].subtype, "html");
    CHECK_STR(M.parts[0].charset, "utf-8");
}

static void test_decode(void)
{
    parse("Content-Transfer-Encoding: x-uuencode\n\n"
          "begin 644 f.txt\n%:&5L;&\\`\n`\nend\n");
    CHECK(M.parts[0].enc == WARD_MIME_UUENCODE);
    CHECK_STR(decoded(0), "hello");
    parse("Content-Transfer-Encoding: x-uuencode\n\nbegin 644 f.txt\n%:&5L;&\\`\n`\ne");
    CHECK_STR(decoded(0), "hello"); /* a cut "end" is not a line of data */
    parse("Content-Transfer-Encoding: quoted-printable\n\n=ZZ=4=\n=41=\n");
    CHECK_STR(decoded(0), "=ZZ=4A");
    parse("Content-Transfer-Encoding: base64\n\naGk=aGk\n");
    CHECK_STR(decoded(0), "hihi");
    parse("Content-Transfer-Encoding: x-weird\n\nraw");
    CHECK(M.parts[0].enc == WARD_MIME_UNKNOWN);
    CHECK_STR(decoded(0), "raw");
    /* the output cap */
    parse("Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n");
    ward_buf b;
    ward_buf_init(&b, 4);
    CHECK(ward_mime_decode(&M, 0, &b, NULL) == WARD_ERR_LIMIT);
    CHECK(b.len <= 4);
    ward_buf_free(&b);
    CHECK(ward_mime_decode(&M, 9, &b, NULL) == WARD_ERR_NOTFOUND);
}

static void test_limits(void)
{
    char msg[8192];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o,
                              "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)msg, o, NULL, &M, NULL) == WARD_OK);
    CHECK(M.truncated && M.n_parts == 33);
    CHECK(M.parts[32].cut && M.parts[32].depth == 32);
    struct ward_mime_limits lim = {.max_parts = 5};
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)msg, o, &lim, &M, NULL) == WARD_OK);
    CHECK(M.truncated && M.n_parts == 5 && M.parts[4].cut);
    /* a huge header block stops at max_header */
    lim = (struct ward_mime_limits){.max_header = 30};
    const char *h = "A: 1\nB: 2\nC: 3\nD: 4\nE: 5\nF: 6\nG: 7\n\nbody";
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)h, strlen(h), &lim, &M, NULL) == WARD_OK);
    CHECK(M.truncated && M.parts[0].body == 30);
}

int main(void)
{
    test_single();
    test_multipart();
    test_nested();
    test_broken();
    test_names();
    test_decode();
    test_limits();
    ward_mime_free(&M);
    return CHECK_DONE();
}
