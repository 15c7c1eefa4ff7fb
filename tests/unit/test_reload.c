/*
 * test_reload.c - loading again with a previous database: unchanged files
 * are reused, new patterns are compiled alone beside the previous compiled
 * form, removed files stop detecting, and a file changed right after it was
 * read is never taken for unchanged.
 */
#include <unistd.h>

#include "check.h"
#include "testdb.h"

static char cache[128];

static ward_db *load_with(const ward_db *prev, uint32_t overlay_max, bool no_full,
                          ward_err *err)
{
    const char *paths[] = {test_dir};
    struct ward_db_opts o = {0};
    o.cache_dir = cache;
    o.reuse = prev;
    o.overlay_max = overlay_max;
    o.no_full_compile = no_full;
    struct ward_diag d;
    ward_db *db = NULL;
    ward_err e = ward_db_load(paths, 1, &o, &db, &d);
    if (err)
        *err = e;
    if (e && e != WARD_ERR_AGAIN)
        fprintf(stderr, "load: %s\n", d.msg);
    return e ? NULL : db;
}

static bool detects(ward_db *db, const char *text, const char *name)
{
    const char *r = test_scan(db, text, strlen(text), NULL, false, NULL, NULL);
    return strstr(r, name) != NULL;
}

static bool stale(const ward_db *db)
{
    const char *paths[] = {test_dir};
    return ward_db_stale(db, paths, 1);
}

int main(void)
{
    test_dir_make();
    snprintf(cache, sizeof cache, "%s/cache", test_dir);
    test_write_str("a.ndb", "A.Whole:0:*:616161616161\n"       /* aaaaaa */
                            "A.Split:0:*:61626364{2-4}65666768\n"); /* abcd..efgh */
    test_write_str("b.ldb", "B.Logic;Engine:51-255,Target:0;0&1;6262626262;636363{-3}6464\n"
                            "B.Pcre;Engine:81-255,Target:0;0&1;70637265;0/pcre[0-9]{3}x/\n");
    test_write_str("c.hsb", "c6f7bb3f2e8c9d2d8d2e5a2b8c2d8a2f1b1a2c3d4e5f60718293a4b5c6d7e8f9:5:C.Hash\n");
    test_write_str("d.ign2", "Nothing.Here\n");
    /* older than the racy window, so that they count as unchanged later */
    sleep(3);

    ward_db *db1 = load_with(NULL, 1000, false, NULL);
    CHECK(db1 != NULL);
    if (!db1)
        return CHECK_DONE();
    const struct ward_db_stats *st = ward_db_stats(db1);
    CHECK(!st->partial && st->files_reused == 0 && st->files == 4);
    CHECK(detects(db1, "xx aaaaaa xx", "A.Whole"));
    CHECK(detects(db1, "abcdXXXefgh", "A.Split"));
    CHECK(detects(db1, "bbbbb cccxxdd", "B.Logic"));
    CHECK(detects(db1, "pcre pcre123x", "B.Pcre"));
    CHECK(!stale(db1));

    /* nothing changed: every file and the compiled form are taken over */
    ward_db *db2 = load_with(db1, 1000, true, NULL);
    CHECK(db2 != NULL);
    if (db2) {
        st = ward_db_stats(db2);
        CHECK(st->files_reused == 4 && st->compile_cached && !st->partial);
        CHECK(memcmp(ward_db_digest(db1), ward_db_digest(db2), 32) == 0);
        CHECK(detects(db2, "abcdXXefgh", "A.Split"));
    }

    /* a new file: its patterns compiled alone, beside the previous form */
    test_write_str("n.ndb", "N.Whole:0:*:6e6e6e6e6e6e\n"
                            "N.Split:0:*:6e6f7071{1-2}72737475\n");
    test_write_str("m.ldb", "M.Logic;Engine:51-255,Target:0;0&1=2;6d6d6d6d;7a7a{1-3}7979\n");
    CHECK(stale(db2));
    ward_db *db3 = load_with(db2, 1000, true, NULL);
    CHECK(db3 != NULL);
    if (!db3)
        return CHECK_DONE();
    st = ward_db_stats(db3);
    CHECK(st->partial && st->overlay_patterns == 4 && st->files_reused == 4 && st->files == 6);
    CHECK(memcmp(ward_db_digest(db2), ward_db_digest(db3), 32) != 0);
    CHECK(detects(db3, "xx nnnnnn xx", "N.Whole"));
    CHECK(detects(db3, "nopqXrstu", "N.Split"));
    CHECK(!detects(db3, "nopqXXXrstu", "N.Split"));
    CHECK(detects(db3, "mmmm zzQyy zzQQyy", "M.Logic"));
    CHECK(!detects(db3, "mmmm zzQyy", "M.Logic"));
    CHECK(detects(db3, "xx aaaaaa xx", "A.Whole"));
    CHECK(detects(db3, "abcdXXXXefgh", "A.Split"));
    CHECK(detects(db3, "bbbbb cccxdd", "B.Logic"));
    CHECK(detects(db3, "pcre pcre123x", "B.Pcre"));

    /* a removed file stops detecting, though its patterns stay compiled */
    char path[256];
    snprintf(path, sizeof path, "%s/a.ndb", test_dir);
    CHECK(unlink(path) == 0);
    ward_db *db4 = load_with(db3, 1000, true, NULL);
    CHECK(db4 != NULL);
    if (db4) {
        st = ward_db_stats(db4);
        CHECK(st->partial && st->files == 5);
        CHECK(!detects(db4, "xx aaaaaa xx", "A.Whole"));
        CHECK(!detects(db4, "abcdXXXefgh", "A.Split"));
        CHECK(detects(db4, "nopqXrstu", "N.Split"));
        CHECK(detects(db4, "bbbbb cccxxdd", "B.Logic"));
        CHECK(detects(db4, "mmmm zzQyy zzQQyy", "M.Logic"));
    }

    /* without room for a partial compile, and no full compile allowed: declined */
    ward_err err = WARD_OK;
    ward_db *none = load_with(db4, 0, true, &err);
    CHECK(none == NULL && err == WARD_ERR_AGAIN);

    /* the full compile: one unit, the same detections */
    ward_db *db5 = load_with(db4, 0, false, NULL);
    CHECK(db5 != NULL);
    if (db5) {
        st = ward_db_stats(db5);
        /* n.ndb and m.ldb are too new to be trusted unchanged: read again */
        CHECK(!st->partial && !st->compile_cached && st->files_reused == 3);
        CHECK(memcmp(ward_db_digest(db4), ward_db_digest(db5), 32) == 0);
        CHECK(detects(db5, "nopqXXrstu", "N.Split"));
        CHECK(detects(db5, "mmmm zzQyy zzQQyy", "M.Logic"));
        CHECK(detects(db5, "pcre pcre123x", "B.Pcre"));
        CHECK(!detects(db5, "xx aaaaaa xx", "A.Whole"));
    }

    /* a changed ignore list applies to files that did not change themselves */
    test_write_str("d.ign2", "B.Logic\n");
    ward_db *db6 = load_with(db5, 1000, true, NULL);
    CHECK(db6 != NULL);
    if (db6) {
        CHECK(!detects(db6, "bbbbb cccxxdd", "B.Logic"));
        CHECK(detects(db6, "pcre pcre123x", "B.Pcre"));
        CHECK(ward_db_stats(db6)->ignored == 1);
    }

    /*
     * A file rewritten right after it was read, with the same size: its times
     * may not tell, so it is read again.
     */
    test_write_str("n.ndb", "N.Other:0:*:717171717171\n"
                            "N.Split:0:*:6e6f7071{1-2}72737475\n");
    ward_db *db7 = db6 ? load_with(db6, 1000, true, NULL) : NULL;
    test_write_str("n.ndb", "N.Third:0:*:727272727272\n"
                            "N.Split:0:*:6e6f7071{1-2}72737475\n");
    CHECK(db7 && stale(db7));
    ward_db *db8 = db7 ? load_with(db7, 1000, true, NULL) : NULL;
    CHECK(db8 != NULL);
    if (db7 && db8) {
        CHECK(detects(db7, "xx qqqqqq xx", "N.Other"));
        CHECK(!detects(db8, "xx qqqqqq xx", "N.Other"));
        CHECK(detects(db8, "xx rrrrrr xx", "N.Third"));
        CHECK(detects(db8, "nopqXrstu", "N.Split"));
        CHECK(memcmp(ward_db_digest(db7), ward_db_digest(db8), 32) != 0);
    }

    ward_db *all[] = {db1, db2, db3, db4, db5, db6, db7, db8};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ward_db_unref(all[i]);
    test_dir_remove();
    return CHECK_DONE();
}
