/* test_update.c - the updater's parts: minisign, manifests, .cdiff scripts,
 * containers, HTTP header values and the versioned install tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "update/cdiff.h"
#include "update/dbtree.h"
#include "update/httphdr.h"
#include "update/manifest.h"
#include "update/minisign.h"
#include "update/vdb.h"

/* Made by `minisign -G -W` and `minisign -S` over "ward fuzz" (as fuzz/update.c). */
static const char pub_text[] = "untrusted comment: minisign public key EF498C959F5AFBF2\n"
                               "RWTy+1qflYxJ78/skh+EFPczek1D946jmYZK+7vYEwSFjoN7+qwmtWCU\n";
static const char sig_text[] =
    "untrusted comment: signature from minisign secret key\n"
    "RUTy+1qflYxJ7wL5MT17ejQjjQxzKIzt7IpT+kFXT8POO6UxsMjG6KXe7VVjyatuBpHdNmJjrFz6Ni6Mq2P1FidTztDu2"
    "3f1HgU=\n"
    "trusted comment: timestamp:1767225600\tfile:fz.msg\thashed\n"
    "v6QyJZORnjNmBXrZJ+oGQY9i2Fr3tPUaF78qnS5c7Q6rtO3yn8nxLJl6CgRHbblgM+dlk3nRp5jvtKf4is5sBA==\n";

static void test_minisign(void)
{
    struct ward_minisign_pub pub, mpub;
    struct ward_minisign_sec sec, sec2;
    struct ward_diag d;
    char trusted[128], id[17];
    CHECK(!ward_minisign_pub_parse("t", pub_text, strlen(pub_text), &mpub, &d));
    ward_minisign_id_hex(mpub.id, id);
    CHECK_STR(id, "EF498C959F5AFBF2");
    CHECK(!ward_minisign_verify(&mpub, 1, "ward fuzz", 9, sig_text, strlen(sig_text), trusted,
                                sizeof trusted, &d));
    CHECK_STR(trusted, "timestamp:1767225600\tfile:fz.msg\thashed");
    CHECK(ward_minisign_verify(&mpub, 1, "ward fuzZ", 9, sig_text, strlen(sig_text), trusted,
                               sizeof trusted, &d) == WARD_ERR_SIGNATURE);

    CHECK(!ward_minisign_keygen(&pub, &sec));
    ward_buf s, p, sig;
    ward_buf_init(&s, 4096);
    ward_buf_init(&p, 4096);
    ward_buf_init(&sig, 4096);
    CHECK(!ward_minisign_sec_write(&sec, &s) && !ward_minisign_pub_write(&pub, &p));
    struct ward_minisign_pub pub2;
    CHECK(!ward_minisign_sec_parse("s", s.data, s.len, &sec2, &d));
    CHECK(!ward_minisign_pub_parse("p", p.data, p.len, &pub2, &d));
    CHECK(!memcmp(&sec, &sec2, sizeof sec) && !memcmp(&pub, &pub2, sizeof pub));
    CHECK(!ward_minisign_sign(&sec, "data", 4, "version:1", &sig));
    struct ward_minisign_pub both[2] = {mpub, pub};
    CHECK(!ward_minisign_verify(both, 2, "data", 4, sig.data, sig.len, trusted, sizeof trusted,
                                &d));
    CHECK_STR(trusted, "version:1");
    CHECK(ward_minisign_verify(&mpub, 1, "data", 4, sig.data, sig.len, NULL, 0, &d) ==
          WARD_ERR_SIGNATURE);
    CHECK(strstr(d.msg, "not trusted"));
    /* a changed trusted comment breaks the global signature */
    char *t = strstr((char *)sig.data, "version:1");
    t[8] = '2';
    CHECK(ward_minisign_verify(&pub, 1, "data", 4, sig.data, sig.len, NULL, 0, &d) ==
          WARD_ERR_SIGNATURE);
    /* a password-protected key is refused with a reason */
    s.data[strlen("untrusted comment: minisign secret key (unencrypted; keep it private)\n") + 3] =
        'T';
    CHECK(ward_minisign_sec_parse("s", s.data, s.len, &sec2, &d) != WARD_OK);
    ward_buf_free(&s);
    ward_buf_free(&p);
    ward_buf_free(&sig);
}

static void test_manifest(void)
{
    static const char text[] =
        "ward-bundle 1\nname ward\nversion 12\ncreated 1767225600\nmin_engine 0.1.0\n"
        "file a.ndb 3 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n"
        "later_field whatever\n";
    struct ward_manifest m;
    struct ward_diag d;
    CHECK(!ward_manifest_parse("m", text, strlen(text), &m, &d));
    CHECK(m.version == 12 && m.n_files == 1 && m.files[0].size == 3);
    CHECK_STR(m.name, "ward");
    CHECK(ward_manifest_find(&m, "a.ndb") && !ward_manifest_find(&m, "b.ndb"));
    ward_buf out;
    ward_buf_init(&out, 1 << 20);
    CHECK(!ward_manifest_write(&m, &out));
    CHECK(strncmp((char *)out.data, text, strlen(text) - strlen("later_field whatever\n")) == 0);
    ward_buf_free(&out);
    ward_manifest_free(&m);
    static const char *const bad[] = {
        "name x\nversion 1\n",                          /* no ward-bundle line */
        "ward-bundle 2\nname x\nversion 1\n",           /* unknown format */
        "ward-bundle 1\nname ../x\nversion 1\n",        /* unsafe name */
        "ward-bundle 1\nname x\n",                      /* no version */
        "ward-bundle 1\nname x\nversion 1\nfile a 1 zz\n",
        "ward-bundle 1\nname x\nversion 1\nfile .a 1 "
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n",
        "ward-bundle 1\nname x\nversion 1\nfile a 1 "
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\nfile a 1 "
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n",
        "ward-bundle 1\nname x\nversion 1 2\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(ward_manifest_parse("bad", bad[i], strlen(bad[i]), &m, &d) != WARD_OK);
        CHECK(strncmp(d.msg, "bad", 3) == 0);
    }
    CHECK(ward_version_cmp("0.1.10", "0.1.9") > 0 && ward_version_cmp("1.0", "1.0.0") == 0 &&
          ward_version_cmp("0.2", "0.10") < 0);
}

static void put(struct ward_vdb *v, const char *name, const char *text)
{
    struct ward_vdb_member *m;
    CHECK(!ward_vdb_open(v, name, &m));
    ward_buf_reset(&m->data);
    CHECK(!ward_buf_append(&m->data, text, strlen(text)));
}

static const char *member(struct ward_vdb *v, const char *name)
{
    struct ward_vdb_member *m = ward_vdb_find(v, name);
    return m ? ward_buf_str(&m->data) : NULL;
}

static void base(struct ward_vdb *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->base, sizeof v->base, "daily");
    put(v, "COPYING", "c\n");
    put(v, "daily.info", "ClamAV-VDB:x:7:3:216:x:x:t:1767225600\n");
    put(v, "daily.ndb", "A:1\nB:2\r\nC:3\nD:4\n");
    put(v, "daily.hdb", "h\n");
}

static void test_cdiff(void)
{
    struct ward_vdb v;
    struct ward_diag d;
    base(&v);
    static const char script[] = "# comment\nOPEN daily.ndb\nDEL 1 A\nXCHG 3 C:3 C:33 x\n"
                                 "ADD E:5\nCLOSE\nOPEN daily.new\nADD N:1\nCLOSE\n"
                                 "MOVE daily.ndb daily.new 1 B 1 B\nUNLINK daily.hdb\n"
                                 "OPEN daily.info\nXCHG 1 ClamAV ClamAV-VDB:x:8:3:216:x:x:t:1\n"
                                 "CLOSE\n";
    CHECK(!ward_cdiff_run(&v, "s", script, strlen(script), &d));
    CHECK_STR(member(&v, "daily.ndb"), "C:33 x\nD:4\nE:5\n");
    CHECK_STR(member(&v, "daily.new"), "N:1\nB:2\n");
    CHECK(member(&v, "daily.hdb") == NULL);
    /* the result is a .cld whose header comes from the new .info */
    ward_buf cld;
    ward_buf_init(&cld, 1 << 20);
    CHECK(!ward_vdb_write_cld(&v, &cld, &d));
    struct ward_vdb back;
    CHECK(!ward_vdb_read("daily", cld.data, cld.len, &back, &d));
    CHECK(back.head.version == 8 && back.n == v.n);
    CHECK(memcmp(cld.data + 512, "COPYING", 7) == 0);
    CHECK_STR(member(&back, "daily.new"), "N:1\nB:2\n");
    ward_vdb_free(&back);
    ward_buf_free(&cld);
    ward_vdb_free(&v);

    static const char *const bad[] = {
        "OPEN daily.ndb\nDEL 1 X\nCLOSE\n",  /* the line does not match */
        "OPEN daily.ndb\nDEL 9 A\nCLOSE\n",  /* no such line */
        "ADD x\n",                           /* nothing open */
        "OPEN ../etc\n",                     /* a path */
        "OPEN a\nOPEN b\n",                  /* two open */
        "FROB\n",                            /* unknown command */
        "\n",                                /* empty line */
        "UNLINK nothere\n",
        "MOVE daily.ndb daily.x 3 C 9 Z\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        base(&v);
        CHECK(ward_cdiff_run(&v, "bad", bad[i], strlen(bad[i]), &d) != WARD_OK);
        CHECK(strncmp(d.msg, "bad: line", 9) == 0);
        ward_vdb_free(&v);
    }
    /* a .cdiff file without a valid signature */
    char file[400] = "ClamAV-Diff:8:10:";
    memset(file + 17, 'x', sizeof file - 18);
    file[300] = ':';
    CHECK(ward_cdiff_apply(&v, "f.cdiff", file, sizeof file - 1, NULL, NULL, &d) ==
          WARD_ERR_SIGNATURE);
}

static void test_http(void)
{
    uint64_t a, b;
    CHECK(ward_http_range("bytes=0-511", 11, 1000, &a, &b) == WARD_RANGE_OK && a == 0 && b == 511);
    CHECK(ward_http_range("bytes=0-511", 11, 100, &a, &b) == WARD_RANGE_OK && b == 99);
    CHECK(ward_http_range("bytes=-10", 9, 100, &a, &b) == WARD_RANGE_OK && a == 90 && b == 99);
    CHECK(ward_http_range("bytes=50-", 9, 100, &a, &b) == WARD_RANGE_OK && a == 50 && b == 99);
    CHECK(ward_http_range("bytes=100-", 10, 100, &a, &b) == WARD_RANGE_UNSATISFIABLE);
    CHECK(ward_http_range("bytes=0-1,5-6", 13, 100, &a, &b) == WARD_RANGE_NONE);
    CHECK(ward_http_range("bytes=5-1", 9, 100, &a, &b) == WARD_RANGE_NONE);
    CHECK(ward_http_range("items=0-1", 9, 100, &a, &b) == WARD_RANGE_NONE);
    CHECK(ward_http_range("bytes=99999999999999999999-", 26, 100, &a, &b) == WARD_RANGE_NONE);
    time_t t;
    char out[40];
    CHECK(ward_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t) && t == 784111777);
    ward_http_date_format(t, out, sizeof out);
    CHECK_STR(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(!ward_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t));
    CHECK(!ward_http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", 29, &t));
}

static void test_dbtree(void)
{
    char tmpl[] = "/tmp/ward-dbtree-XXXXXX", live[128], stage[4096], inst[4096], to[4096];
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(live, sizeof live, "%s/db", tmpl);
    CHECK(mkdir(live, 0755) == 0);
    FILE *f = fopen(strcat(strcpy(inst, live), "/old.ndb"), "w");
    fputs("x\n", f);
    fclose(f);
    struct ward_dbtree t, t2;
    struct ward_diag d;
    CHECK(!ward_dbtree_open(live, &t, &d));
    CHECK(ward_dbtree_open(live, &t2, &d) != WARD_OK); /* one updater at a time */
    for (int i = 0; i < 4; i++) {
        CHECK(!ward_dbtree_stage(&t, stage, sizeof stage, &d));
        CHECK(!ward_dbtree_commit(&t, stage, inst, sizeof inst, &d));
    }
    char link[256];
    ssize_t n = readlink(live, link, sizeof link - 1);
    CHECK(n > 0);
    link[n > 0 ? n : 0] = 0;
    CHECK_STR(link, "db.versions/000004");
    CHECK(access(strcat(strcpy(to, tmpl), "/db.versions/000000/old.ndb"), F_OK) == 0);
    CHECK(!ward_dbtree_rollback(&t, to, sizeof to, &d));
    CHECK(strstr(to, "000003") != NULL);
    CHECK(!ward_dbtree_prune(&t, 1, &d)); /* keeps 000003 (current) and 000004 */
    CHECK(access(strcat(strcpy(to, tmpl), "/db.versions/000002"), F_OK) != 0);
    CHECK(access(strcat(strcpy(to, tmpl), "/db.versions/000004"), F_OK) == 0);
    ward_dbtree_close(&t);
    unlink(live);
    ward_rm_tree(strcat(strcpy(to, tmpl), "/db.versions"));
    rmdir(tmpl);
}

int main(void)
{
    test_minisign();
    test_manifest();
    test_cdiff();
    test_http();
    test_dbtree();
    return CHECK_DONE();
}
