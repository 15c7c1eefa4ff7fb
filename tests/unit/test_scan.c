/* test_scan.c - the container walk: archives, mail, limits, verdict cache. */
#include <archive.h>
#include <archive_entry.h>

#include "check.h"
#include "testdb.h"

/* Write an archive of n members into out; returns its size (0 on failure). */
static size_t make_archive(const char *format, const char *filter, const char *pass,
                           int n, const char *const *names, const void *const *data,
                           const size_t *lens, uint8_t *out, size_t cap)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    if (archive_write_set_format_by_name(a, format) != ARCHIVE_OK)
        goto fail;
    if (filter && archive_write_add_filter_by_name(a, filter) != ARCHIVE_OK)
        goto fail;
    if (pass && (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
                 archive_write_set_passphrase(a, pass) != ARCHIVE_OK))
        goto fail;
    if (archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK)
        goto fail;
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)lens[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, data[i], lens[i]) != (la_ssize_t)lens[i]) {
            archive_entry_free(e);
            goto fail;
        }
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        goto fail;
    archive_write_free(a);
    return used;
fail:
    archive_write_free(a);
    return 0;
}

static size_t one(const char *format, const char *filter, const char *name, const void *p,
                  size_t len, uint8_t *out, size_t cap)
{
    const char *names[] = {name};
    const void *data[] = {p};
    size_t lens[] = {len};
    return make_archive(format, filter, NULL, 1, names, data, lens, out, cap);
}

static uint8_t bufs[8][1 << 20];

int main(void)
{
    struct ward_diag d;
    const char *e = test_eicar();
    size_t elen = strlen(e);
    test_dir_make();
    test_write_str("ward.ndb", "Ward.Test.EICAR:0:0:58354f2150254041505b345c505a58353428505e29"
                               "37434329377d2445494341522d5354414e444152442d414e54495649525553"
                               "2d544553542d46494c452124482b482a\n"
                               "Ward.Test.Second:0:*:7365636f6e647369676e6174757265\n");
    ward_db *db = test_load(NULL, &d);
    CHECK(db != NULL);
    if (!db)
        return 1;
    const char *r;
    size_t n;

    /* plain, and with whitespace after */
    r = test_scan(db, e, elen, NULL, false, NULL, NULL);
    CHECK_STR(r, "infected obj Ward.Test.EICAR\n");
    char padded[80];
    snprintf(padded, sizeof padded, "%s \r\n", e);
    r = test_scan(db, padded, strlen(padded), NULL, false, NULL, NULL);
    CHECK_STR(r, "infected obj Ward.Test.EICAR\n");

    /* every archive format: the member path is reported */
    static const struct {
        const char *format, *filter;
    } kinds[] = {{"zip", NULL},     {"ustar", "gzip"}, {"ustar", "bzip2"}, {"ustar", "xz"},
                 {"cpio", NULL},    {"newc", NULL},    {"7zip", NULL},     {"ar", NULL},
                 {"iso9660", NULL}, {"xar", NULL},     {"ustar", "zstd"},  {"ustar", "lz4"},
                 {"ustar", "lzma"}, {"pax", NULL},     {"gnutar", NULL}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        n = one(kinds[k].format, kinds[k].filter, "dir/eicar.com", e, elen, bufs[0],
                sizeof bufs[0]);
        if (!n) {
            fprintf(stderr, "note: cannot write %s/%s here, skipped\n", kinds[k].format,
                    kinds[k].filter ? kinds[k].filter : "-");
            continue;
        }
        r = test_scan(db, bufs[0], n, NULL, false, NULL, NULL);
        if (!strstr(r, "infected obj/") || !strstr(r, "eicar.com Ward.Test.EICAR")) {
            fprintf(stderr, "%s/%s: got '%s'\n", kinds[k].format,
                    kinds[k].filter ? kinds[k].filter : "-", r);
            CHECK(false);
        }
    }
    /* single-stream compressors name the member after the file */
    n = one("raw", "gzip", "x", e, elen, bufs[0], sizeof bufs[0]);
    if (n) {
        r = test_scan(db, bufs[0], n, NULL, false, NULL, NULL);
        CHECK(strstr(r, "infected obj/") != NULL);
    }

    /* nesting: zip in zip in tar.gz */
    n = one("zip", NULL, "inner/eicar.com", e, elen, bufs[0], sizeof bufs[0]);
    size_t n2 = one("zip", NULL, "middle.zip", bufs[0], n, bufs[1], sizeof bufs[1]);
    size_t n3 = one("ustar", "gzip", "outer/middle.zip", bufs[1], n2, bufs[2], sizeof bufs[2]);
    r = test_scan(db, bufs[2], n3, NULL, false, NULL, NULL);
    CHECK_STR(r, "infected obj/outer/middle.zip/middle.zip/inner/eicar.com Ward.Test.EICAR\n");
    struct ward_scan_limits lim;
    ward_scan_limits_default(&lim);
    lim.max_recursion = 1;
    r = test_scan(db, bufs[2], n3, &lim, false, NULL, NULL);
    CHECK(strstr(r, "not_scanned obj/outer/middle.zip") && !strstr(r, "infected"));

    /* all matches in one archive */
    const char *names[] = {"a.com", "b.txt"};
    const void *data[] = {e, "a secondsignature here"};
    size_t lens[] = {elen, 22};
    n = make_archive("zip", NULL, NULL, 2, names, data, lens, bufs[0], sizeof bufs[0]);
    r = test_scan(db, bufs[0], n, NULL, true, NULL, NULL);
    CHECK(strstr(r, "obj/a.com Ward.Test.EICAR") && strstr(r, "obj/b.txt Ward.Test.Second"));
    r = test_scan(db, bufs[0], n, NULL, false, NULL, NULL);
    CHECK(strstr(r, "obj/a.com Ward.Test.EICAR") && !strstr(r, "Second"));

    /* encrypted members are never clean */
    n = make_archive("zip", NULL, "secret", 2, names, data, lens, bufs[0], sizeof bufs[0]);
    if (n) {
        r = test_scan(db, bufs[0], n, NULL, false, NULL, NULL);
        CHECK(strstr(r, "not_scanned obj/a.com") != NULL);
        struct ward_scan_result res;
        test_scan(db, bufs[0], n, NULL, false, NULL, &res);
        CHECK(res.verdict == WARD_VERDICT_NOT_SCANNED && res.reason == WARD_REASON_ENCRYPTED);
    } else {
        fprintf(stderr, "note: libarchive cannot write encrypted zip here, skipped\n");
    }

    /* limits: a member over max_filesize, a bomb over max_ratio, the file count */
    static uint8_t zeros[8 << 20];
    n = one("ustar", "gzip", "big.bin", zeros, sizeof zeros, bufs[0], sizeof bufs[0]);
    ward_scan_limits_default(&lim);
    lim.max_filesize = 1 << 20;
    r = test_scan(db, bufs[0], n, &lim, false, NULL, NULL);
    CHECK(strstr(r, "not_scanned obj") != NULL);
    ward_scan_limits_default(&lim);
    lim.max_ratio = 10;
    r = test_scan(db, bufs[0], n, &lim, false, NULL, NULL);
    CHECK(strstr(r, "not_scanned obj") != NULL);
    /* ordinary data compresses far less: scanned, clean */
    static uint8_t text[1 << 20];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof text; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = (uint8_t)('a' + (x >> 16) % 16);
    }
    n = one("ustar", "gzip", "text.txt", text, sizeof text, bufs[0], sizeof bufs[0]);
    ward_scan_limits_default(&lim);
    r = test_scan(db, bufs[0], n, &lim, false, NULL, NULL);
    CHECK(n > 0 && r[0] == 0);
    const char *many[20];
    const void *mdata[20];
    size_t mlens[20];
    char mnames[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(mnames[i], sizeof mnames[i], "f%02d", i);
        many[i] = mnames[i];
        mdata[i] = "x";
        mlens[i] = 1;
    }
    n = make_archive("zip", NULL, NULL, 20, many, mdata, mlens, bufs[0], sizeof bufs[0]);
    lim.max_files = 5;
    r = test_scan(db, bufs[0], n, &lim, false, NULL, NULL);
    CHECK(strstr(r, "not_scanned") != NULL);

    /* corrupted: a zip cut in the middle of its only member */
    n = one("zip", NULL, "eicar.com", e, elen, bufs[0], sizeof bufs[0]);
    r = test_scan(db, bufs[0], 40, NULL, false, NULL, NULL);
    CHECK(strstr(r, "not_scanned") != NULL);

    /* mail: base64 attachment, quoted-printable body, uuencoded text, nested message */
    char msg[4096];
    snprintf(msg, sizeof msg,
             "From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n"
             "Content-Type: text/plain\r\n\r\nhello\r\n--XX\r\n"
             "Content-Type: application/octet-stream; name=\"e.com\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n"
             "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\n"
             "LUZJTEUhJEgrSCo=\r\n--XX--\r\n");
    r = test_scan(db, msg, strlen(msg), NULL, false, NULL, NULL);
    CHECK_STR(r, "infected obj/e.com Ward.Test.EICAR\n");
    const char *uu = "From: a@example.com\nSubject: uu\n\nsee below\n\nbegin 644 test.com\n"
                     "M6#5/(5 E0$%06S1<4%I8-30H4%XI-T-#*3=])$5)0T%2+5-404Y$05)$+4%.\n"
                     "75$E625)54RU415-4+49)3$4A)$@K2\"H \n`\nend\n";
    r = test_scan(db, uu, strlen(uu), NULL, false, NULL, NULL);
    CHECK(strstr(r, "test.com Ward.Test.EICAR") != NULL);
    char nested[8192];
    snprintf(nested, sizeof nested,
             "From: c@example.com\nSubject: fwd\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"YY\"\n\n--YY\n"
             "Content-Type: message/rfc822\n\n%s\n--YY--\n",
             msg);
    r = test_scan(db, nested, strlen(nested), NULL, false, NULL, NULL);
    CHECK(strstr(r, "e.com Ward.Test.EICAR") != NULL);

    /* the verdict cache replays the same finding */
    ward_vcache *cache;
    CHECK(ward_vcache_new(256, &cache) == WARD_OK);
    n = one("zip", NULL, "inner/eicar.com", e, elen, bufs[0], sizeof bufs[0]);
    char first[512];
    snprintf(first, sizeof first, "%s", test_scan(db, bufs[0], n, NULL, false, cache, NULL));
    r = test_scan(db, bufs[0], n, NULL, false, cache, NULL);
    CHECK_STR(r, first);
    struct ward_vcache_stats vst;
    ward_vcache_get_stats(cache, &vst);
    CHECK(vst.hits >= 1);
    r = test_scan(db, "clean", 5, NULL, false, cache, NULL);
    r = test_scan(db, "clean", 5, NULL, false, cache, NULL);
    CHECK(r[0] == 0);
    ward_vcache_free(cache);

    /* empty input */
    r = test_scan(db, "", 0, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    ward_db_unref(db);
    test_dir_remove();
    return CHECK_DONE();
}
