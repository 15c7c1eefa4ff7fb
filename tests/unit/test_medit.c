/* test_medit.c - minimal message edits: untouched bytes stay byte-identical. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "mail/edit.h"
#include "mail/mime.h"
#include "mail/mime_int.h"

static ward_mime M;
static ward_medit *E;
static char *OUT;
static size_t OUT_LEN;

static void start(const char *msg)
{
    ward_medit_free(E);
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)msg, strlen(msg), NULL, &M, NULL) == WARD_OK);
    CHECK(ward_medit_new(&M, &E) == WARD_OK);
}

/* Write the edited message into OUT (NUL-terminated). */
static const char *out(void)
{
    int fd = memfd_create("medit", 0);
    CHECK(fd >= 0);
    CHECK(ward_medit_write(E, fd, NULL) == WARD_OK);
    off_t n = lseek(fd, 0, SEEK_END);
    free(OUT);
    OUT = malloc((size_t)n + 1);
    CHECK(pread(fd, OUT, (size_t)n, 0) == n);
    OUT[n] = 0;
    OUT_LEN = (size_t)n;
    close(fd);
    return OUT;
}

/* A message with CRLF, 8-bit text and a 1200-byte line, multipart with QP, base64 and HTML. */
static char *make_message(void)
{
    static char msg[8192];
    char longline[1201];
    memset(longline, 'x', 1200);
    longline[1200] = 0;
    snprintf(msg, sizeof msg,
             "Received: from a by b\r\n"
             "Subject: =?ISO-8859-1?Q?caf=E9?=\r\n"
             "X-Ward-Result: clean (forged)\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"B\"\r\n"
             "\r\n"
             "--B\r\n"
             "Content-Type: multipart/alternative; boundary=\"A\"\r\n"
             "\r\n"
             "--A\r\n"
             "Content-Type: text/plain; charset=iso-8859-1\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "\r\n"
             "Gr=FC=DFe, =\r\nsoft\r\nline two\r\n"
             "--A\r\n"
             "Content-Type: text/html; charset=utf-8\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "PGh0bWw+PGJvZHk+SGk8L2JvZHk+PC9odG1sPg==\r\n"
             "--A--\r\n"
             "--B\r\n"
             "Content-Type: text/plain; charset=iso-8859-1\r\n"
             "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
             "Content-Transfer-Encoding: 8bit\r\n"
             "\r\n"
             "8-bit \xe9\xe8 %s\r\n"
             "--B\r\n"
             "Content-Type: application/x-msdownload; name=\"evil.exe\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
             "--B--\r\n",
             longline);
    return msg;
}

static uint32_t find_part(const ward_mime *m, const char *type, const char *subtype)
{
    for (uint32_t i = 0; i < m->n_parts; i++)
        if (!strcmp(m->parts[i].type, type) && !strcmp(m->parts[i].subtype, subtype))
            return i;
    return WARD_MIME_NONE;
}

static void test_identity(void)
{
    const char *msg = make_message();
    start(msg);
    CHECK(!ward_medit_changed(E));
    out();
    CHECK(OUT_LEN == strlen(msg) && memcmp(OUT, msg, OUT_LEN) == 0);
    /* LF, no final line break, an mbox From line */
    const char *lf = "From x Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody";
    start(lf);
    CHECK_STR(out(), lf);
}

static void test_headers(void)
{
    const char *msg = make_message();
    start(msg);
    CHECK(ward_medit_remove_header(E, "x-ward-result") == WARD_OK);
    CHECK(ward_medit_add_header(E, "X-Ward-Result", "infected (Eicar-Test-Signature)") == WARD_OK);
    CHECK(ward_medit_add_header(E, "X-Virus-Scanner", "Ward 1.0, database 27000") == WARD_OK);
    CHECK(ward_medit_changed(E));
    out();
    const char *want_top = "X-Ward-Result: infected (Eicar-Test-Signature)\r\n"
                           "X-Virus-Scanner: Ward 1.0, database 27000\r\n";
    CHECK(strncmp(OUT, want_top, strlen(want_top)) == 0);
    /* the rest: the original without the forged field */
    const char *forged = strstr(msg, "X-Ward-Result: clean (forged)\r\n");
    size_t before = (size_t)(forged - msg), flen = strlen("X-Ward-Result: clean (forged)\r\n");
    CHECK(OUT_LEN == strlen(want_top) + strlen(msg) - flen);
    CHECK(memcmp(OUT + strlen(want_top), msg, before) == 0);
    CHECK(strcmp(OUT + strlen(want_top) + before, msg + before + flen) == 0);

    /* a non-ASCII subject becomes encoded words that decode back */
    start(msg);
    const char *subj = "[virus Eicar] caf\xc3\xa9 \xe2\x82\xac and a rather long subject line "
                       "that has to be folded over several encoded words";
    CHECK(ward_medit_set_subject(E, subj) == WARD_OK);
    out();
    ward_mime m2;
    CHECK(ward_mime_parse((const uint8_t *)OUT, OUT_LEN, NULL, &m2, NULL) == WARD_OK);
    char raw[512], dec[512];
    CHECK(ward_mime_header(&m2, 0, "subject", raw, sizeof raw, NULL, NULL));
    CHECK(strncmp(raw, "=?UTF-8?B?", 10) == 0);
    ward_mime_words(raw, strlen(raw), dec, sizeof dec);
    CHECK_STR(dec, subj);
    CHECK(m2.n_parts == M.n_parts);
    /* folded: no line over 78 columns */
    for (const char *l = OUT; l && *l;) {
        const char *nl = strchr(l, '\n');
        if (!strncmp(l, "Subject", 7) || (l[0] == ' ' && l < OUT + 400))
            CHECK(nl && nl - l <= 79);
        l = nl ? nl + 1 : NULL;
        if (l && !strncmp(l, "X-Ward", 6))
            break;
    }
    ward_mime_free(&m2);

    /* an ASCII subject where there was none; LF stays LF; CR/LF in values are blanks */
    start("From: a\n\nbody\n");
    CHECK(ward_medit_set_subject(E, "[SPAM] hello") == WARD_OK);
    CHECK_STR(out(), "Subject: [SPAM] hello\nFrom: a\n\nbody\n");
    start("From: a\n\nbody\n");
    CHECK(ward_medit_add_header(E, "X-A", "one\r\nInjected: yes") == WARD_OK);
    CHECK(strstr(out(), "\nInjected:") == NULL);
    /* a message with no header block gets a blank line after the new field */
    start("body line\n");
    CHECK(ward_medit_add_header(E, "X-A", "b") == WARD_OK);
    CHECK_STR(out(), "X-A: b\n\nbody line\n");
    /* ... one blank line after all the new fields, and notes stay in the body */
    start("body line\n");
    CHECK(ward_medit_add_header(E, "X-A", "b") == WARD_OK);
    CHECK(ward_medit_add_notes(E, "top\n", NULL, NULL, NULL) == WARD_OK);
    CHECK(ward_medit_add_header(E, "X-B", "c") == WARD_OK);
    CHECK_STR(out(), "X-A: b\nX-B: c\n\ntop\n\nbody line\n");
    /* an mbox From line with no line break: the fields start a line of their own */
    start("From x Mon Jan  1 00:00:00 2024");
    CHECK(ward_medit_add_header(E, "X-A", "b") == WARD_OK);
    CHECK(ward_medit_add_header(E, "X-B", "c") == WARD_OK);
    CHECK_STR(out(), "From x Mon Jan  1 00:00:00 2024\nX-A: b\nX-B: c\n");
}

static void test_replace(void)
{
    const char *msg = make_message();
    start(msg);
    uint32_t exe = find_part(&M, "application", "x-msdownload");
    CHECK(exe != WARD_MIME_NONE);
    uint64_t s = M.parts[exe].start, e = M.parts[exe].end;
    CHECK(ward_medit_replace_part(E, exe, "Removed evil.exe: infected (Eicar)\n") == WARD_OK);
    /* an edit inside a replaced part overlaps it */
    CHECK(ward_medit_replace_part(E, exe, "again") == WARD_ERR_UNSUPPORTED);
    out();
    CHECK(memcmp(OUT, msg, (size_t)s) == 0);
    size_t tail = strlen(msg) - (size_t)e;
    CHECK(OUT_LEN > tail && memcmp(OUT + OUT_LEN - tail, msg + e, tail) == 0);
    ward_mime m2;
    CHECK(ward_mime_parse((const uint8_t *)OUT, OUT_LEN, NULL, &m2, NULL) == WARD_OK);
    CHECK(m2.n_parts == M.n_parts);
    CHECK_STR(m2.parts[exe].type, "text");
    CHECK(m2.parts[exe].crlf);
    CHECK(strncmp((const char *)m2.data + m2.parts[exe].body, "Removed evil.exe", 16) == 0);
    CHECK(m2.parts[exe].end - m2.parts[exe].body ==
          strlen("Removed evil.exe: infected (Eicar)\r\n"));
    ward_mime_free(&m2);

    /* an empty part between two boundary lines: the notice ends its own line */
    start("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n");
    CHECK(M.n_parts == 2);
    CHECK(ward_medit_replace_part(E, 1, "removed") == WARD_OK);
    CHECK_STR(out(), "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; "
                     "charset=utf-8\nContent-Transfer-Encoding: 7bit\n\nremoved\n--b--\n");

    /* a single-part message keeps its other fields */
    start("Subject: s\nContent-Type: application/zip\nX-Other: 1\n"
          "Content-Transfer-Encoding: base64\n\nUEsDBA==\n");
    CHECK(ward_medit_replace_part(E, 0, "removed") == WARD_OK);
    CHECK_STR(out(), "Subject: s\nX-Other: 1\nContent-Type: text/plain; charset=utf-8\n"
                     "Content-Transfer-Encoding: 7bit\n\nremoved\n");
}

static const char *decoded(const ward_mime *m, uint32_t i)
{
    static ward_buf b;
    ward_buf_free(&b);
    ward_buf_init(&b, 1 << 20);
    CHECK(ward_mime_decode(m, i, &b, NULL) == WARD_OK);
    return ward_buf_str(&b);
}

static void test_notes(void)
{
    const char *msg = make_message();
    start(msg);
    CHECK(ward_medit_add_notes(E, "-- head --", "-- foot \xc3\xa9 --", "<p>head</p>",
                               "<p>foot</p>") == WARD_OK);
    out();
    ward_mime m2;
    CHECK(ward_mime_parse((const uint8_t *)OUT, OUT_LEN, NULL, &m2, NULL) == WARD_OK);
    CHECK(m2.n_parts == M.n_parts);
    uint32_t t = find_part(&m2, "text", "plain"), h = find_part(&m2, "text", "html");
    /* the note in the part's charset (Latin-1), line breaks CRLF, still QP */
    CHECK_STR(decoded(&m2, t), "-- head --\r\nGr\xfc\xdf"
                               "e, soft\r\nline two\r\n"
                               "-- foot \xe9 --");
    CHECK(m2.parts[t].enc == WARD_MIME_QP);
    CHECK_STR(decoded(&m2, h), "<html><body><p>head</p>\r\nHi\r\n<p>foot</p>\r\n</body></html>");
    /* the attachments are untouched: everything from the 8-bit part on */
    const char *att =
        strstr(msg, "--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-D");
    CHECK(att && strstr(OUT, att) != NULL);
    ward_mime_free(&m2);

    /* 7bit text: two insertions, LF kept */
    start("Subject: s\n\nline one\nline two\n");
    CHECK(ward_medit_add_notes(E, "HEAD", "FOOT", NULL, NULL) == WARD_OK);
    CHECK_STR(out(), "Subject: s\n\nHEAD\nline one\nline two\nFOOT\n");
    /* html without <body>, and a replaced part gets no notes */
    start("Content-Type: text/html\n\n<p>x</p>");
    CHECK(ward_medit_add_notes(E, NULL, NULL, "<b>h</b>", "<b>f</b>") == WARD_OK);
    CHECK_STR(out(), "Content-Type: text/html\n\n<b>h</b>\n<p>x</p>\n<b>f</b>\n");
    start("Subject: s\n\nbody\n");
    CHECK(ward_medit_replace_part(E, 0, "gone") == WARD_OK);
    CHECK(ward_medit_add_notes(E, "H", "F", NULL, NULL) == WARD_OK);
    CHECK_STR(out(), "Subject: s\nContent-Type: text/plain; charset=utf-8\n"
                     "Content-Transfer-Encoding: 7bit\n\ngone\n");
}

int main(void)
{
    test_identity();
    test_headers();
    test_replace();
    test_notes();
    ward_medit_free(E);
    ward_mime_free(&M);
    free(OUT);
    return CHECK_DONE();
}
