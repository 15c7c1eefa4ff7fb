/* test_partscan.c - messages scanned part by part: paths, names, types, protected parts. */
#include <zlib.h>

#include "check.h"
#include "mail/mime_int.h"
#include "mail/partscan.h"
#include "testdb.h"

static void le16(uint8_t **p, unsigned v)
{
    *(*p)++ = (uint8_t)v;
    *(*p)++ = (uint8_t)(v >> 8);
}

static void le32(uint8_t **p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p, v >> 16);
}

/* The fields a zip's local and central headers share, from "flags" to "extra length". */
static void zip_common(uint8_t **p, unsigned flags, uint32_t crc, size_t csize, size_t len,
                       size_t nl)
{
    le16(p, flags);
    le16(p, 0);    /* stored */
    le16(p, 0);    /* time */
    le16(p, 0x21); /* date */
    le32(p, crc);
    le32(p, (uint32_t)csize);
    le32(p, (uint32_t)len);
    le16(p, (unsigned)nl);
    le16(p, 0);
}

/*
 * A one-member stored zip. `encrypted` sets the traditional PKWARE
 * encryption flag and puts the 12-byte encryption header before the data,
 * which is all a reader needs to call the member encrypted.
 */
static size_t make_zip(const char *name, const void *data, size_t len, bool encrypted, uint8_t *out)
{
    uint8_t *p = out;
    uint32_t crc = (uint32_t)crc32(0, data, (uInt)len);
    size_t nl = strlen(name), csize = len + (encrypted ? 12 : 0);
    unsigned flags = encrypted ? 1 : 0;
    le32(&p, 0x04034b50);
    le16(&p, 20);
    zip_common(&p, flags, crc, csize, len, nl);
    memcpy(p, name, nl);
    p += nl;
    if (encrypted) {
        memcpy(p, "\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc", 12);
        p += 12;
    }
    memcpy(p, data, len);
    p += len;
    uint8_t *cd = p;
    le32(&p, 0x02014b50);
    le16(&p, 20);
    le16(&p, 20);
    zip_common(&p, flags, crc, csize, len, nl);
    le16(&p, 0); /* comment */
    le16(&p, 0); /* disk */
    le16(&p, 0); /* internal attributes */
    le32(&p, 0); /* external attributes */
    le32(&p, 0); /* local header offset */
    memcpy(p, name, nl);
    p += nl;
    uint32_t cdsize = (uint32_t)(p - cd);
    le32(&p, 0x06054b50);
    le16(&p, 0);
    le16(&p, 0);
    le16(&p, 1);
    le16(&p, 1);
    le32(&p, cdsize);
    le32(&p, (uint32_t)(cd - out));
    le16(&p, 0);
    return (size_t)(p - out);
}

static const char *b64(const void *p, size_t n)
{
    static ward_buf b;
    ward_buf_free(&b);
    ward_buf_init(&b, 1 << 20);
    if (ward_mime_b64_encode(p, n, "\r\n", &b))
        return "";
    return ward_buf_str(&b);
}

/* A multipart/mixed message: a text part, then an attachment in base64. */
static const char *with_attachment(const char *fname, const char *ctype, const void *p, size_t n)
{
    static char msg[1 << 16];
    snprintf(msg, sizeof msg,
             "From: a@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
             "--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
             "--XX\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--XX--\r\n",
             ctype, fname, b64(p, n));
    return msg;
}

static ward_scanner *S;
static struct ward_mail_scan R;
static ward_mime M;

static void scan(const char *msg, bool types, uint64_t max_filesize)
{
    ward_mail_scan_free(&R);
    ward_mime_free(&M);
    CHECK(ward_mime_parse((const uint8_t *)msg, strlen(msg), NULL, &M, NULL) == WARD_OK);
    struct ward_mail_scan_opts o = {0};
    ward_scan_limits_default(&o.scan.limits);
    if (max_filesize)
        o.scan.limits.max_filesize = max_filesize;
    o.want_types = types;
    struct ward_diag d;
    CHECK(ward_mail_scan(S, &M, &o, &R, &d) == WARD_OK);
}

static const struct ward_mail_part_result *result_of(uint32_t part)
{
    for (size_t i = 0; i < R.n_parts; i++)
        if (R.parts[i].part == part)
            return &R.parts[i];
    return NULL;
}

int main(void)
{
    struct ward_diag d;
    const char *e = test_eicar();
    size_t elen = strlen(e);
    (void)test_scan;
    test_dir_make();
    /* the signatures: EICAR at offset 0, and a marker anywhere */
    char sigs[512];
    size_t k = (size_t)snprintf(sigs, sizeof sigs, "Ward.Test.EICAR:0:0:");
    for (size_t i = 0; i < elen; i++)
        k += (size_t)snprintf(sigs + k, sizeof sigs - k, "%02x", (unsigned char)e[i]);
    snprintf(sigs + k, sizeof sigs - k, "\nWard.Test.Anywhere:0:*:%s\n", "77617264616e7973696720");
    test_write_str("ward.ndb", sigs);
    ward_db *db = test_load(NULL, &d);
    CHECK(db != NULL);
    if (!db || ward_scanner_new(db, &S))
        return 1;

    /* clean */
    scan(with_attachment("a.txt", "text/plain", "hello", 5), true, 0);
    CHECK(R.verdict == WARD_VERDICT_CLEAN && R.n_det == 0 && R.n_parts == 2);
    CHECK(!R.protected);

    /* EICAR as a plain base64 attachment */
    scan(with_attachment("eicar.com", "application/octet-stream", e, elen), false, 0);
    CHECK(R.verdict == WARD_VERDICT_INFECTED && R.n_det == 1);
    if (R.n_det) {
        CHECK_STR(R.det[0].path, "eicar.com");
        CHECK_STR(R.det[0].name, "Ward.Test.EICAR");
        CHECK(R.det[0].part == 2);
    }
    const struct ward_mail_part_result *pr = result_of(2);
    CHECK(pr && pr->verdict == WARD_VERDICT_INFECTED && pr->size == elen);
    CHECK(pr && pr->n_names == 1 && !strcmp(pr->names[0], "eicar.com"));
    CHECK(result_of(1) && result_of(1)->verdict == WARD_VERDICT_CLEAN);

    /* in a 7bit part: the raw message matches too, reported once, by the part */
    char msg[1 << 16];
    snprintf(msg, sizeof msg,
             "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
             "--b\nContent-Type: text/plain; name=\"e.txt\"\n\n%s\n--b--\n",
             e);
    scan(msg, false, 0);
    CHECK(R.n_det == 1 && R.det[0].part == 1);
    if (R.n_det)
        CHECK_STR(R.det[0].path, "e.txt");
    scan("Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
         "--b\nContent-Type: text/plain; name=\"e.txt\"\n\nx wardanysig y\n--b--\n",
         false, 0);
    CHECK(R.n_det == 1 && R.det[0].part == 1);
    /* only the raw message shows it: a signature over the structure */
    scan("Subject: wardanysig here\n\nbody\n", false, 0);
    CHECK(R.n_det == 1 && R.det[0].part == 0);
    if (R.n_det)
        CHECK_STR(R.det[0].path, "message");

    /* in a zip, in base64: the member's name and both true types */
    static uint8_t zip[4096];
    size_t zn = make_zip("docs/eicar.com", e, elen, false, zip);
    scan(with_attachment("files.zip", "application/zip", zip, zn), true, 0);
    CHECK(R.verdict == WARD_VERDICT_INFECTED && R.n_det == 1);
    if (R.n_det)
        CHECK_STR(R.det[0].path, "files.zip/docs/eicar.com");
    pr = result_of(2);
    CHECK(pr && pr->n_names == 2);
    if (pr && pr->n_names == 2) {
        CHECK_STR(pr->names[0], "files.zip");
        CHECK_STR(pr->names[1], "docs/eicar.com");
    }
    CHECK(pr && pr->n_types == 2);
    if (pr && pr->n_types == 2) {
        CHECK_STR(pr->types[0], "application/zip");
        CHECK_STR(pr->types[1], "text/plain");
    }

    /* inside an attached message */
    snprintf(msg, sizeof msg,
             "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
             "--o\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n"
             "--o\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--o--\r\n",
             with_attachment("eicar.com", "application/octet-stream", e, elen));
    scan(msg, false, 0);
    CHECK(R.verdict == WARD_VERDICT_INFECTED && R.n_det == 1);
    if (R.n_det) {
        CHECK_STR(R.det[0].path, "part-2.eml/eicar.com");
        CHECK(M.parts[R.det[0].part].parent != WARD_MIME_NONE &&
              !strcmp(M.parts[R.det[0].part].filename, "eicar.com"));
    }

    /* a password-protected zip: protected, not_scanned(encrypted), never clean */
    zn = make_zip("secret.doc", "confidential", 12, true, zip);
    scan(with_attachment("secret.zip", "application/zip", zip, zn), false, 0);
    CHECK(R.protected && R.verdict == WARD_VERDICT_NOT_SCANNED);
    pr = result_of(2);
    CHECK(pr && pr->protected && pr->verdict == WARD_VERDICT_NOT_SCANNED);
    CHECK(R.n_det >= 1 && R.det[0].reason == WARD_REASON_ENCRYPTED);
    CHECK(pr && pr->n_names == 2);

    /* a part over the size limit: not_scanned(limit) */
    static char big[4096];
    memset(big, 'A', sizeof big - 1);
    scan(with_attachment("big.bin", "application/octet-stream", big, sizeof big - 1), false, 1000);
    CHECK(R.verdict == WARD_VERDICT_NOT_SCANNED && R.n_det >= 1);
    if (R.n_det)
        CHECK(R.det[0].reason == WARD_REASON_LIMIT);

    /* a large attachment is decoded piece by piece into a temporary file */
    size_t bign = 20u << 20;
    uint8_t *bigp = calloc(1, bign);
    ward_buf enc, bigmsg;
    ward_buf_init(&enc, 64u << 20);
    ward_buf_init(&bigmsg, 64u << 20);
    memcpy(bigp, e, elen);
    CHECK(ward_mime_b64_encode(bigp, bign, "\r\n", &enc) == WARD_OK);
    CHECK(ward_buf_puts(&bigmsg,
                        "Subject: big\r\nContent-Type: multipart/mixed; boundary=z\r\n"
                        "\r\n--z\r\nContent-Type: application/octet-stream; "
                        "name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n") == WARD_OK);
    CHECK(ward_buf_append(&bigmsg, enc.data, enc.len) == WARD_OK);
    CHECK(ward_buf_puts(&bigmsg, "\r\n--z--\r\n") == WARD_OK);
    scan(ward_buf_str(&bigmsg), false, 0);
    CHECK(R.verdict == WARD_VERDICT_INFECTED && R.n_parts == 1 && R.parts[0].size == bign);
    if (R.n_det)
        CHECK_STR(R.det[0].path, "big.bin");
    scan(ward_buf_str(&bigmsg), false, 1u << 20); /* and over the size limit */
    CHECK(R.verdict == WARD_VERDICT_NOT_SCANNED && R.n_det == 1 &&
          R.det[0].reason == WARD_REASON_LIMIT);
    ward_buf_free(&enc);
    ward_buf_free(&bigmsg);
    free(bigp);

    /* a uuencoded body in a multipart's long preamble */
    char pre[1024];
    snprintf(pre, sizeof pre, "%0200d", 0);
    snprintf(msg, sizeof msg,
             "Content-Type: multipart/mixed; boundary=b\n\n%s\n%s\n--b\n\nx\n--b--\n", e, pre);
    scan(msg, false, 0);
    CHECK(R.verdict == WARD_VERDICT_INFECTED);

    ward_mail_scan_free(&R);
    ward_mime_free(&M);
    ward_scanner_free(S);
    ward_db_unref(db);
    test_dir_remove();
    return CHECK_DONE();
}
