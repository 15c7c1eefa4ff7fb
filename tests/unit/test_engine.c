/* test_engine.c - loading signature files and matching buffers end to end. */
#include "check.h"
#include "engine/match.h"
#include "testdb.h"
#include "util/hash.h"

static void hex_digest(enum ward_hash_alg alg, const char *data, char *out)
{
    ward_hasher *h;
    uint8_t d[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    if (ward_hasher_new(&h) || ward_hasher_begin(h, WARD_HASH_BIT(alg)) ||
        ward_hasher_update(h, data, strlen(data)) || ward_hasher_end(h, d))
        abort();
    ward_hasher_free(h);
    ward_hex_encode(d[alg], ward_hash_len(alg), out);
}

int main(void)
{
    struct ward_diag d;
    char md5[33], sha1[41], sha256[65], line[512];
    const char *e = test_eicar();
    test_dir_make();

    /* hash signatures, matched only at the right size */
    hex_digest(WARD_HASH_MD5, "malware one", md5);
    hex_digest(WARD_HASH_SHA1, "malware two", sha1);
    hex_digest(WARD_HASH_SHA256, "malware three", sha256);
    snprintf(line, sizeof line, "%s:11:Test.Md5\n%s:11:Test.Sha1\n", md5, sha1);
    test_write_str("a.hdb", line);
    snprintf(line, sizeof line, "%s:13:Test.Sha256\n%s:*:Test.Any:73\n", sha256, md5);
    test_write_str("b.hsb", line);
    test_write_str("c.ndb", "Test.Body:0:*:6576696c626f6479\n"      /* evilbody */
                            "Test.Off:0:4:4142434445\n"             /* ABCDE at 4 */
                            "Test.Shift:0:2,3:78797a7a79\n"          /* xyzzy at 2..5 */
                            "Test.Eof:0:EOF-7:454e444d41524b\n"      /* ENDMARK at the end */
                            "Ward.Test.Own:0:*:77617264776172640a\n" /* "wardward\n" */
                            "Test.Gap:0:*:67617031{2-4}67617032\n");
    test_write_str("d.ldb", "Test.Logic;Engine:51-255,Target:0;0&1&2=2;"
                            "6c6f676963;616161::i;7a7a7a\n"
                            "Test.Pcre;Engine:81-255,Target:0;0&1;70637265;0/pcre[0-9]{3}x/\n");
    test_write_str("e.cbc", "bytecode line 1\nbytecode line 2\n");
    test_write_str("f.ndb", "Test.EP:1:EP+0:4142434445\nTest.Skip:0:*:6161616161:9999\n");
    test_write_str("g.ign2", "Test.Ignored\n");
    test_write_str("h.ndb", "Test.Ignored:0:*:69676e6f72656d65\n");
    test_write_str("readme.txt", "not a database\n");

    ward_db *db = test_load(NULL, &d);
    CHECK(db != NULL);
    if (!db) {
        fprintf(stderr, "load: %s\n", d.msg);
        return 1;
    }
    const struct ward_db_stats *st = ward_db_stats(db);
    CHECK(st->kind[WARD_KIND_HDB].loaded == 2);
    CHECK(st->kind[WARD_KIND_HSB].loaded == 2);
    CHECK(st->kind[WARD_KIND_NDB].loaded == 6);
    CHECK(st->kind[WARD_KIND_NDB].skipped == 1); /* EP+0 needs PE support */
    CHECK(st->flevel_skipped == 1);
    CHECK(st->kind[WARD_KIND_LDB].loaded == 2);
    CHECK(st->kind[WARD_KIND_CBC].skipped == 2);
    CHECK(st->ignored == 1);
    CHECK(st->skipped_files == 1);

    const char *r;
    r = test_scan(db, "malware one", 11, NULL, false, NULL, NULL);
    CHECK(strstr(r, "infected obj Test.Md5.UNOFFICIAL") || strstr(r, "Test.Any.UNOFFICIAL"));
    r = test_scan(db, "malware one!", 12, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "malware two", 11, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Sha1.UNOFFICIAL") != NULL);
    r = test_scan(db, "malware three", 13, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Sha256.UNOFFICIAL") != NULL);
    r = test_scan(db, "xx evilbody xx", 14, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Body.UNOFFICIAL") != NULL);
    r = test_scan(db, "1234ABCDE", 9, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Off.UNOFFICIAL") != NULL);
    r = test_scan(db, "12345ABCDE", 10, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "12345xyzzy", 10, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Shift.UNOFFICIAL") != NULL);
    r = test_scan(db, "123456xyzzy", 11, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "....ENDMARK", 11, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Eof.UNOFFICIAL") != NULL);
    r = test_scan(db, "ENDMARK", 7, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Eof.UNOFFICIAL") != NULL);
    r = test_scan(db, "....ENDMARKx", 12, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "ENDMARK.....", 12, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "NDMARK", 6, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "gap1xxgap2", 10, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Gap.UNOFFICIAL") != NULL);
    r = test_scan(db, "gap1xxxxxgap2", 13, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "wardward\n", 9, NULL, false, NULL, NULL);
    CHECK(strstr(r, "infected obj Ward.Test.Own\n") != NULL);
    r = test_scan(db, "logic AAA zzz zzz", 17, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Logic.UNOFFICIAL") != NULL);
    r = test_scan(db, "logic AAA zzz", 13, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "pcre pcre123x", 13, NULL, false, NULL, NULL);
    CHECK(strstr(r, "Test.Pcre.UNOFFICIAL") != NULL);
    r = test_scan(db, "pcre pcre12x", 12, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    r = test_scan(db, "ignoreme", 8, NULL, false, NULL, NULL);
    CHECK(r[0] == 0);
    /* all matches */
    r = test_scan(db, "evilbody wardward\n", 18, NULL, true, NULL, NULL);
    CHECK(strstr(r, "Test.Body") && strstr(r, "Ward.Test.Own"));
    r = test_scan(db, "evilbody wardward\n", 18, NULL, false, NULL, NULL);
    CHECK(!(strstr(r, "Test.Body") && strstr(r, "Ward.Test.Own")));
    ward_db_unref(db);

    /* an allow list entry silences detections on that object */
    hex_digest(WARD_HASH_MD5, "xx evilbody xx", md5);
    snprintf(line, sizeof line, "%s:14:Allowed\n", md5);
    test_write_str("z.fp", line);
    db = test_load(NULL, &d);
    CHECK(db != NULL);
    if (db) {
        r = test_scan(db, "xx evilbody xx", 14, NULL, false, NULL, NULL);
        CHECK(r[0] == 0);
        r = test_scan(db, "xx evilbody xy", 14, NULL, false, NULL, NULL);
        CHECK(strstr(r, "Test.Body") != NULL);
        ward_db_unref(db);
    }

    /* a malformed line names file and line */
    test_write_str("bad.ndb", "Good:0:*:41424344\nBad:0:*:41zz\n");
    db = test_load("bad.ndb", &d);
    CHECK(db == NULL);
    CHECK(strstr(d.msg, "bad.ndb:2:") != NULL);
    test_write_str("bad.ldb", "L;Target:0;0&1;41424344\n");
    db = test_load("bad.ldb", &d);
    CHECK(db == NULL && strstr(d.msg, "bad.ldb:1:") != NULL);
    test_write_str("bad.hdb", "nothex:12:X\n");
    db = test_load("bad.hdb", &d);
    CHECK(db == NULL && strstr(d.msg, "bad.hdb:1:") != NULL);
    test_write_str("bad2.hdb", "d41d8cd98f00b204e9800998ecf8427e:*:X\n");
    db = test_load("bad2.hdb", &d);
    CHECK(db == NULL && strstr(d.msg, "bad2.hdb:1:") != NULL);

    /* the compiled form is cached: a second load does not compile */
    char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", test_dir);
    test_write_str("one.ndb", "One:0:*:6f6e656f6e65\n");
    char path[256];
    snprintf(path, sizeof path, "%s/one.ndb", test_dir);
    const char *paths[] = {path};
    struct ward_db_opts o = {.cache_dir = cache};
    ward_db *a = NULL, *b = NULL;
    CHECK(ward_db_load(paths, 1, &o, &a, &d) == WARD_OK);
    CHECK(ward_db_load(paths, 1, &o, &b, &d) == WARD_OK);
    if (a && b) {
        CHECK(!ward_db_stats(a)->compile_cached && ward_db_stats(b)->compile_cached);
        CHECK(memcmp(ward_db_digest(a), ward_db_digest(b), 32) == 0);
        r = test_scan(b, "xoneonex", 8, NULL, false, NULL, NULL);
        CHECK(strstr(r, "One.UNOFFICIAL") != NULL);
    }
    ward_db_unref(a);
    ward_db_unref(b);

    /* a missing database is an error */
    const char *none[] = {"/nonexistent/db"};
    CHECK(ward_db_load(none, 1, NULL, &a, &d) == WARD_ERR_NOTFOUND);
    (void)e;
    test_dir_remove();
    return CHECK_DONE();
}
