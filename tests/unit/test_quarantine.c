/*
 * test_quarantine.c - the quarantine store: round trips, tampering, the key,
 * permissions, filters, limits, crash leftovers, concurrent writers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store/qfs.h"
#include "store/qobj.h"
#include "store/quarantine.h"

static char root[256], store[512], keyfile[600];
static int pass; /* file names differ between passes */

static struct ward_qmeta meta(const char *path)
{
    struct ward_qmeta m = {0};
    m.kind = WARD_QKIND_QUARANTINE;
    m.program = "test";
    m.path = path;
    m.verdict = "infected";
    return m;
}

static ward_quarantine *open_store(uint64_t max_size, uint64_t max_age)
{
    struct ward_qopts o = {max_size, max_age, true};
    ward_quarantine *q = NULL;
    struct ward_diag d;
    if (ward_quarantine_open(store, NULL, &o, &q, &d) != WARD_OK) {
        fprintf(stderr, "open: %s\n", d.msg);
        return NULL;
    }
    return q;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *p = malloc((size_t)st.st_size + 1);
    *n = (size_t)read(fd, p, (size_t)st.st_size);
    close(fd);
    return p;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd >= 0) {
        (void)!write(fd, p, n);
        close(fd);
    }
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 07777 : 0xffff;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void object_path(const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/objects/%.2s/%s", store, id, id);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static bool count_cb(void *ctx, const struct ward_qrecord *r)
{
    (void)r;
    (*(size_t *)ctx)++;
    return true;
}

static size_t count(ward_quarantine *q, const struct ward_qfilter *f)
{
    size_t n = 0;
    struct ward_diag d;
    if (ward_quarantine_list(q, f, count_cb, &n, &d) != WARD_OK)
        fprintf(stderr, "list: %s\n", d.msg);
    return n;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    if (pread(fd, &b, 1, off) == 1) {
        b ^= 0x40;
        (void)!pwrite(fd, &b, 1, off);
    }
    close(fd);
}

/* ---- round trips ------------------------------------------------------- */

static void test_round_trips(void)
{
    ward_quarantine *q = open_store(0, 0);
    CHECK(q != NULL);
    if (!q)
        return;
    CHECK(mode_of(store) == 0700);
    CHECK(mode_of(keyfile) == 0600);
    char idx[1024];
    snprintf(idx, sizeof idx, "%s/index.db", store);
    CHECK(mode_of(idx) == 0600);
    CHECK(ward_quarantine_key_problem(q) == NULL);

    static const size_t sizes[] = {0,
                                   1,
                                   100,
                                   WARD_QOBJ_CHUNK - 1,
                                   WARD_QOBJ_CHUNK,
                                   WARD_QOBJ_CHUNK + 1,
                                   3 * WARD_QOBJ_CHUNK + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint8_t *data = malloc(n + 1);
        randombytes_buf(data, n);
        char id[WARD_QID_LEN + 1], out[1024], src[1024];
        struct ward_diag d;
        snprintf(src, sizeof src, "%s/src%d_%zu.bin", root, pass, i);
        struct ward_qmeta m = meta(src);
        const char *names[] = {"Eicar-Test", "Second.Name"};
        m.names = names;
        m.n_names = 2;
        ward_err e;
        if (i % 2) {
            write_file(src, data, n, 0640);
            int fd = open(src, O_RDONLY);
            e = ward_quarantine_put_fd(q, &m, fd, id, &d);
            close(fd);
        } else {
            e = ward_quarantine_put_mem(q, &m, data, n, id, &d);
        }
        CHECK(e == WARD_OK);
        if (e) {
            fprintf(stderr, "put %zu: %s\n", n, d.msg);
            free(data);
            continue;
        }
        char obj[1024];
        object_path(id, obj, sizeof obj);
        CHECK(mode_of(obj) == 0600);
        struct ward_qrecord r;
        CHECK(ward_quarantine_get(q, id, &r, &d) == WARD_OK);
        CHECK(r.size == n);
        CHECK_STR(r.path, src);
        CHECK_STR(r.names, "Eicar-Test\nSecond.Name");
        CHECK_STR(r.verdict, "infected");
        CHECK(r.kind == WARD_QKIND_QUARANTINE);
        CHECK(r.host && r.host[0]);
        uint8_t sha[32];
        char hex[65];
        crypto_hash_sha256(sha, data, n);
        sodium_bin2hex(hex, sizeof hex, sha, sizeof sha);
        CHECK_STR(r.sha256, hex);
        ward_qrecord_free(&r);

        snprintf(out, sizeof out, "%s/restored%d_%zu.bin", root, pass, i);
        CHECK(ward_quarantine_restore(q, id, out, 0, NULL, 0, &d) == WARD_OK);
        size_t got_n = 0;
        uint8_t *got = read_file(out, &got_n);
        CHECK(got && got_n == n && memcmp(got, data, n) == 0);
        CHECK(mode_of(out) == 0600);
        free(got);
        /* never replaced without force */
        CHECK(ward_quarantine_restore(q, id, out, 0, NULL, 0, &d) != WARD_OK);
        CHECK(strstr(d.msg, "exists") != NULL);
        CHECK(ward_quarantine_restore(q, id, out, WARD_QRESTORE_FORCE, NULL, 0, &d) == WARD_OK);
        got = read_file(out, &got_n);
        CHECK(got && got_n == n && memcmp(got, data, n) == 0);
        free(got);
        CHECK(ward_quarantine_check(q, id, &d) == WARD_OK);
        free(data);
    }
    CHECK(count_entries(root) > 0);
    ward_quarantine_close(q);
}

/* restore to the original path with the recorded attributes; a pipe as the source */
static void test_attrs_and_pipe(void)
{
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    char src[1024], id[WARD_QID_LEN + 1], where[512];
    struct ward_diag d;
    snprintf(src, sizeof src, "%s/attrs.txt", root);
    write_file(src, "hello", 5, 0751);
    struct ward_qmeta m = meta(src);
    m.have_attrs = true;
    m.mode = 0751;
    m.mtime = 1000000000;
    CHECK(ward_quarantine_put_mem(q, &m, "hello", 5, id, &d) == WARD_OK);
    unlink(src);
    CHECK(ward_quarantine_restore(q, id, NULL, WARD_QRESTORE_ATTRS, where, sizeof where, &d) ==
          WARD_OK);
    CHECK_STR(where, src);
    struct stat st;
    CHECK(stat(src, &st) == 0 && (st.st_mode & 07777) == 0751 && st.st_mtime == 1000000000);

    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (int i = 0; i < 3000; i++)
            (void)!write(p[1], "0123456789", 10);
        _exit(0);
    }
    close(p[1]);
    CHECK(ward_quarantine_put_fd(q, &m, p[0], id, &d) == WARD_OK);
    close(p[0]);
    waitpid(pid, NULL, 0);
    struct ward_qrecord r;
    CHECK(ward_quarantine_get(q, id, &r, &d) == WARD_OK && r.size == 30000);
    ward_qrecord_free(&r);
    /* read to a descriptor */
    char out[1024];
    snprintf(out, sizeof out, "%s/read.out", root);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(ward_quarantine_read(q, id, fd, &d) == WARD_OK);
    close(fd);
    CHECK(stat(out, &st) == 0 && st.st_size == 30000);
    ward_quarantine_close(q);
}

/* ---- tampering ----------------------------------------------------------- */

static void expect_restore_fails(ward_quarantine *q, const char *id, const char *why)
{
    char out[1024];
    struct ward_diag d;
    snprintf(out, sizeof out, "%s/tampered.out", root);
    unlink(out);
    size_t before = count_entries(root);
    ward_err e = ward_quarantine_restore(q, id, out, 0, NULL, 0, &d);
    CHECK(e == WARD_ERR_CORRUPT);
    if (e == WARD_ERR_CORRUPT && why && !strstr(d.msg, why))
        fprintf(stderr, "unexpected message: %s\n", d.msg);
    CHECK(!why || strstr(d.msg, why));
    CHECK(!exists(out));
    CHECK(count_entries(root) == before); /* no temporary left behind */
}

static void test_tampering(void)
{
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    size_t n = 2 * WARD_QOBJ_CHUNK + 100;
    uint8_t *data = malloc(n);
    randombytes_buf(data, n);
    char id[5][WARD_QID_LEN + 1], obj[5][1024];
    struct ward_diag d;
    for (int i = 0; i < 5; i++) {
        struct ward_qmeta m = meta("/x");
        CHECK(ward_quarantine_put_mem(q, &m, data, n, id[i], &d) == WARD_OK);
        object_path(id[i], obj[i], sizeof obj[i]);
    }
    /* a flipped bit in the second chunk */
    flip_byte(obj[0], WARD_QOBJ_HEADER_LEN + WARD_QOBJ_CHUNK + 17 + 5);
    expect_restore_fails(q, id[0], "modified");
    /* the last chunk cut off */
    CHECK(truncate(obj[1], WARD_QOBJ_HEADER_LEN + 2 * (WARD_QOBJ_CHUNK + 17)) == 0);
    expect_restore_fails(q, id[1], "truncated");
    /* a byte appended */
    int fd = open(obj[2], O_WRONLY | O_APPEND);
    (void)!write(fd, "x", 1);
    close(fd);
    expect_restore_fails(q, id[2], "modified");
    /* the id in the header changed */
    flip_byte(obj[3], 20);
    expect_restore_fails(q, id[3], "another id");
    /* one object's file put in place of another's */
    CHECK(rename(obj[4], obj[3]) == 0);
    expect_restore_fails(q, id[3], "another id");
    /* deep verify finds them all */
    struct ward_qverified v;
    CHECK(ward_quarantine_verify(q, WARD_QVERIFY_DEEP, NULL, NULL, &v, &d) == WARD_OK);
    CHECK(v.corrupt == 4 && v.missing == 1);
    for (int i = 0; i < 4; i++)
        CHECK(ward_quarantine_delete(q, id[i], &d) == WARD_OK);
    CHECK(ward_quarantine_verify(q, WARD_QVERIFY_FIX, NULL, NULL, &v, &d) == WARD_OK);
    CHECK(v.missing == 1 && v.fixed == 1);
    free(data);
    ward_quarantine_close(q);
}

static void test_key(void)
{
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    char id[WARD_QID_LEN + 1], out[1024];
    struct ward_diag d;
    struct ward_qmeta m = meta("/k");
    CHECK(ward_quarantine_put_mem(q, &m, "secret", 6, id, &d) == WARD_OK);
    ward_quarantine_close(q);

    size_t kn;
    uint8_t *saved = read_file(keyfile, &kn);
    CHECK(saved && kn == 32);
    uint8_t other[32];
    randombytes_buf(other, sizeof other);
    /* another key: the store opens, lists, but refuses to decrypt or store */
    write_file(keyfile, other, sizeof other, 0600);
    q = open_store(0, 0);
    CHECK(q != NULL);
    if (q) {
        CHECK(ward_quarantine_key_problem(q) != NULL);
        CHECK(count(q, NULL) > 0);
        snprintf(out, sizeof out, "%s/key.out", root);
        CHECK(ward_quarantine_restore(q, id, out, 0, NULL, 0, &d) != WARD_OK);
        CHECK(strstr(d.msg, "not the key") != NULL);
        CHECK(!exists(out));
        char id2[WARD_QID_LEN + 1];
        CHECK(ward_quarantine_put_mem(q, &m, "x", 1, id2, &d) != WARD_OK);
        ward_quarantine_close(q);
    }
    /* a missing key is not silently replaced by a new one */
    unlink(keyfile);
    q = open_store(0, 0);
    CHECK(q != NULL);
    if (q) {
        CHECK(ward_quarantine_key_problem(q) && strstr(ward_quarantine_key_problem(q), "missing"));
        CHECK(!exists(keyfile));
        ward_quarantine_close(q);
    }
    /* a key readable by others is refused */
    write_file(keyfile, saved, 32, 0600);
    chmod(keyfile, 0644);
    struct ward_qopts o = {0, 0, true};
    CHECK(ward_quarantine_open(store, NULL, &o, &q, &d) != WARD_OK);
    CHECK(strstr(d.msg, "chmod 600") != NULL);
    chmod(keyfile, 0600);
    /* and so is a store directory others can enter */
    chmod(store, 0755);
    CHECK(ward_quarantine_open(store, NULL, &o, &q, &d) != WARD_OK);
    CHECK(strstr(d.msg, "chmod 700") != NULL);
    chmod(store, 0700);
    /* a key of the wrong size, or a symbolic link */
    write_file(keyfile, saved, 16, 0600);
    CHECK(ward_quarantine_open(store, NULL, &o, &q, &d) == WARD_ERR_CORRUPT);
    unlink(keyfile);
    char target[1024];
    snprintf(target, sizeof target, "%s/keytarget", root);
    write_file(target, saved, 32, 0600);
    CHECK(symlink(target, keyfile) == 0);
    CHECK(ward_quarantine_open(store, NULL, &o, &q, &d) != WARD_OK);
    unlink(keyfile);
    unlink(target);
    write_file(keyfile, saved, 32, 0600);
    q = open_store(0, 0);
    CHECK(q && ward_quarantine_key_problem(q) == NULL);
    if (q) {
        snprintf(out, sizeof out, "%s/key.out", root);
        CHECK(ward_quarantine_restore(q, id, out, 0, NULL, 0, &d) == WARD_OK);
        ward_quarantine_close(q);
    }
    free(saved);
    /* a store that does not exist is not made by a reader */
    char none[1024];
    snprintf(none, sizeof none, "%s/nowhere", root);
    o.create = false;
    CHECK(ward_quarantine_open(none, NULL, &o, &q, &d) == WARD_ERR_NOTFOUND);
    CHECK(!exists(none));
}

/* ---- index: filters, lookups, delete, limits ------------------------------ */

static void test_filters(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/filters", root);
    struct ward_qopts o = {0, 0, true};
    ward_quarantine *q;
    struct ward_diag d;
    CHECK(ward_quarantine_open(dir, NULL, &o, &q, &d) == WARD_OK);
    if (!q)
        return;
    const char *rc1[] = {"alice@example.com", "bob@example.org"};
    const char *names1[] = {"Win.Trojan.Agent"};
    struct ward_qmeta m = {0};
    m.program = "ward-smtpd";
    m.sender = "spammer@evil.test";
    m.recipients = rc1;
    m.n_recipients = 2;
    m.subject = "Invoice";
    m.message_id = "<1@evil.test>";
    m.names = names1;
    m.n_names = 1;
    m.verdict = "infected";
    m.time = 1000;
    char id1[WARD_QID_LEN + 1], id2[WARD_QID_LEN + 1], id3[WARD_QID_LEN + 1];
    CHECK(ward_quarantine_put_mem(q, &m, "msg", 3, id1, &d) == WARD_OK);
    struct ward_qmeta f = meta("/srv/a.doc");
    f.kind = WARD_QKIND_BACKUP;
    f.time = 2000;
    CHECK(ward_quarantine_put_mem(q, &f, "doc", 3, id2, &d) == WARD_OK);
    f.kind = WARD_QKIND_QUARANTINE;
    f.time = 3000;
    f.path = "/srv/b.exe";
    const char *names3[] = {"Eicar-Signature"};
    f.names = names3;
    f.n_names = 1;
    CHECK(ward_quarantine_put_mem(q, &f, "exe", 3, id3, &d) == WARD_OK);

    struct ward_qfilter flt = {0, 0, -1, NULL, NULL, NULL, NULL};
    CHECK(count(q, &flt) == 3);
    flt.since = 2000;
    CHECK(count(q, &flt) == 2);
    flt.since = 0;
    flt.before = 2000;
    CHECK(count(q, &flt) == 1);
    flt.before = 0;
    flt.kind = WARD_QKIND_BACKUP;
    CHECK(count(q, &flt) == 1);
    flt.kind = -1;
    flt.name = "trojan";
    CHECK(count(q, &flt) == 1);
    flt.name = NULL;
    flt.sender = "EVIL.test";
    CHECK(count(q, &flt) == 1);
    flt.sender = NULL;
    flt.recipient = "bob@";
    CHECK(count(q, &flt) == 1);
    flt.recipient = "carol";
    CHECK(count(q, &flt) == 0);
    flt.recipient = NULL;
    flt.path = "/srv/";
    CHECK(count(q, &flt) == 2);

    struct ward_qrecord r;
    CHECK(ward_quarantine_get(q, id1, &r, &d) == WARD_OK);
    CHECK_STR(r.recipients, "alice@example.com\nbob@example.org");
    CHECK_STR(r.subject, "Invoice");
    CHECK_STR(r.message_id, "<1@evil.test>");
    CHECK_STR(r.sender, "spammer@evil.test");
    CHECK_STR(r.program, "ward-smtpd");
    CHECK(r.path == NULL && r.time == 1000);
    ward_qrecord_free(&r);

    char full[WARD_QID_LEN + 1], pre[8];
    snprintf(pre, sizeof pre, "%.6s", id2);
    CHECK(ward_quarantine_resolve(q, pre, full, &d) == WARD_OK && !strcmp(full, id2));
    CHECK(ward_quarantine_resolve(q, "abc", full, &d) != WARD_OK);
    CHECK(ward_quarantine_resolve(q, "ZZZZ", full, &d) != WARD_OK);

    char obj[1024];
    snprintf(obj, sizeof obj, "%s/objects/%.2s/%s", dir, id2, id2);
    CHECK(exists(obj));
    CHECK(ward_quarantine_delete(q, id2, &d) == WARD_OK);
    CHECK(!exists(obj));
    CHECK(ward_quarantine_get(q, id2, &r, &d) == WARD_ERR_NOTFOUND);
    CHECK(ward_quarantine_delete(q, id2, &d) == WARD_ERR_NOTFOUND);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    CHECK(count_entries(tmp) == 0);

    struct ward_qpurged p = {0};
    CHECK(ward_quarantine_purge(q, 2500, &p, &d) == WARD_OK);
    CHECK(p.count == 1 && count(q, NULL) == 1);
    ward_quarantine_close(q);
}

static void test_limits(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/limits", root);
    uint64_t one = WARD_QOBJ_HEADER_LEN + 1000 + 17;
    struct ward_qopts o = {3 * one, 0, true};
    ward_quarantine *q;
    struct ward_diag d;
    CHECK(ward_quarantine_open(dir, NULL, &o, &q, &d) == WARD_OK);
    if (!q)
        return;
    uint8_t data[1000] = {0};
    char ids[6][WARD_QID_LEN + 1];
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < 6; i++) {
        struct ward_qmeta m = meta("/l");
        /* inserted out of time order: limits go by time, not insertion */
        m.time = now - 100 + (i == 5 ? -50 : i);
        CHECK(ward_quarantine_put_mem(q, &m, data, sizeof data, ids[i], &d) == WARD_OK);
    }
    CHECK(count(q, NULL) == 3);
    struct ward_qrecord r;
    /* the last put, although older than the rest, is never removed by its own put */
    CHECK(ward_quarantine_get(q, ids[5], &r, &d) == WARD_OK);
    ward_qrecord_free(&r);
    CHECK(ward_quarantine_get(q, ids[4], &r, &d) == WARD_OK);
    ward_qrecord_free(&r);
    CHECK(ward_quarantine_get(q, ids[3], &r, &d) == WARD_OK);
    ward_qrecord_free(&r);
    CHECK(ward_quarantine_get(q, ids[0], &r, &d) == WARD_ERR_NOTFOUND);
    uint64_t n, bytes;
    CHECK(ward_quarantine_usage(q, &n, &bytes, &d) == WARD_OK && n == 3 && bytes == 3 * one);
    /* one object larger than the whole store is refused before it is written */
    uint8_t *big = calloc(1, 4000);
    char id[WARD_QID_LEN + 1];
    CHECK(ward_quarantine_put_mem(q, &(struct ward_qmeta){.program = "t", .verdict = "x"}, big,
                                  4000, id, &d) == WARD_ERR_LIMIT);
    free(big);
    ward_quarantine_close(q);

    /* by age */
    struct ward_qopts a = {0, 60, true};
    CHECK(ward_quarantine_open(dir, NULL, &a, &q, &d) == WARD_OK);
    if (!q)
        return;
    struct ward_qmeta m = meta("/new");
    CHECK(ward_quarantine_put_mem(q, &m, "new", 3, id, &d) == WARD_OK);
    CHECK(count(q, NULL) == 1);
    ward_quarantine_close(q);
}

/* ---- crash leftovers ----------------------------------------------------- */

static void age(const char *path)
{
    struct timespec ts[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

static void test_leftovers(void)
{
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    struct ward_diag d;
    char keep[WARD_QID_LEN + 1], gone[WARD_QID_LEN + 1];
    struct ward_qmeta m = meta("/c");
    CHECK(ward_quarantine_put_mem(q, &m, "keep", 4, keep, &d) == WARD_OK);
    CHECK(ward_quarantine_put_mem(q, &m, "gone", 4, gone, &d) == WARD_OK);
    char okeep[1024], ogone[1024], mark[1024], orphan[1024], omark[1024];
    object_path(keep, okeep, sizeof okeep);
    object_path(gone, ogone, sizeof ogone);
    uint64_t before = 0, bytes;
    CHECK(ward_quarantine_usage(q, &before, &bytes, &d) == WARD_OK);

    /* a put that died after linking its object, before its row: swept at open */
    const char *dead = "00112233aabbccdd";
    object_path(dead, orphan, sizeof orphan);
    snprintf(omark, sizeof omark, "%s/tmp/%s.put", store, dead);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/objects/00", store);
    mkdir(sub, 0700);
    write_file(omark, "junk", 4, 0600);
    CHECK(link(omark, orphan) == 0);
    age(omark);
    /* a delete that died before its commit: the mark goes, the object stays */
    snprintf(mark, sizeof mark, "%s/tmp/%s.del", store, keep);
    CHECK(link(okeep, mark) == 0);
    ward_quarantine_close(q);

    q = open_store(0, 0);
    if (!q)
        return;
    CHECK(!exists(orphan) && !exists(omark));
    CHECK(!exists(mark) && exists(okeep));
    CHECK(ward_quarantine_check(q, keep, &d) == WARD_OK);

    /* a delete that died after its commit: the row is gone, the object and its
       mark are still there; finished at open */
    CHECK(ward_quarantine_delete(q, gone, &d) == WARD_OK);
    write_file(ogone, "x", 1, 0600);
    snprintf(mark, sizeof mark, "%s/tmp/%s.del", store, gone);
    CHECK(link(ogone, mark) == 0);
    ward_quarantine_close(q);
    q = open_store(0, 0);
    if (!q)
        return;
    CHECK(!exists(ogone) && !exists(mark));

    /* a fresh .part (a live writer about to lock it, perhaps) is left alone; an
       unlocked .put is a dead writer's whatever its age */
    char part[1024];
    snprintf(part, sizeof part, "%s/tmp/%s.part", store, dead);
    write_file(part, "junk", 4, 0600);
    snprintf(omark, sizeof omark, "%s/tmp/%s.put", store, dead);
    write_file(omark, "junk", 4, 0600);
    ward_quarantine_close(q);
    q = open_store(0, 0);
    if (!q)
        return;
    CHECK(exists(part) && !exists(omark));
    /* a live writer's .put (locked) is left alone */
    write_file(omark, "junk", 4, 0600);
    int lfd = open(omark, O_RDONLY);
    CHECK(lfd >= 0 && flock(lfd, LOCK_EX) == 0);
    ward_quarantine_close(q);
    q = open_store(0, 0);
    if (!q)
        return;
    CHECK(exists(omark) && exists(part));
    close(lfd);
    unlink(omark);
    age(part);
    /* an orphan without a mark (power loss): removed by verify */
    write_file(orphan, "junk", 4, 0600);
    age(orphan);
    struct ward_qverified v;
    CHECK(ward_quarantine_verify(q, WARD_QVERIFY_DEEP, NULL, NULL, &v, &d) == WARD_OK);
    CHECK(v.orphans == 1 && v.leftovers == 1 && v.corrupt == 0 && v.missing == 0);
    CHECK(!exists(orphan) && !exists(part));
    uint64_t after = 0;
    CHECK(ward_quarantine_usage(q, &after, &bytes, &d) == WARD_OK && after == before - 1);
    ward_quarantine_close(q);
}

/* A writer killed in the middle of a put leaves nothing visible. */
static void test_killed_writer(void)
{
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    uint64_t before = 0, bytes;
    struct ward_diag d;
    CHECK(ward_quarantine_usage(q, &before, &bytes, &d) == WARD_OK);
    ward_quarantine_close(q);
    for (int round = 0; round < 3; round++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[1]);
            ward_quarantine *cq = open_store(0, 0);
            char id[WARD_QID_LEN + 1];
            struct ward_qmeta m = meta("/killed");
            struct ward_diag cd;
            if (cq)
                (void)!ward_quarantine_put_fd(cq, &m, p[0], id, &cd);
            _exit(0);
        }
        close(p[0]);
        uint8_t buf[65536] = {0};
        for (int i = 0; i < 40 * (round + 1); i++)
            (void)!write(p[1], buf, sizeof buf);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[1]);
    }
    q = open_store(0, 0);
    if (!q)
        return;
    uint64_t after = 0;
    CHECK(ward_quarantine_usage(q, &after, &bytes, &d) == WARD_OK && after == before);
    struct ward_qverified v;
    CHECK(ward_quarantine_verify(q, WARD_QVERIFY_DEEP, NULL, NULL, &v, &d) == WARD_OK);
    CHECK(v.corrupt == 0 && v.missing == 0 && v.orphans == 0);
    ward_quarantine_close(q);
}

/* ---- concurrency --------------------------------------------------------- */

#define WRITERS 8
#define PUTS 15

static void *thread_writer(void *arg)
{
    ward_quarantine *q = arg;
    for (int i = 0; i < PUTS; i++) {
        uint8_t data[3000];
        randombytes_buf(data, sizeof data);
        char id[WARD_QID_LEN + 1];
        struct ward_diag d;
        struct ward_qmeta m = meta("/thread");
        if (ward_quarantine_put_mem(q, &m, data, sizeof data, id, &d) != WARD_OK) {
            fprintf(stderr, "thread put: %s\n", d.msg);
            return (void *)1;
        }
    }
    return NULL;
}

static void test_concurrency(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/busy", root);
    snprintf(store, sizeof store, "%s", dir);
    pid_t pids[WRITERS + 1];
    for (int w = 0; w <= WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] != 0)
            continue;
        ward_quarantine *q = open_store(0, 0);
        if (!q)
            _exit(1);
        int fails = 0;
        for (int i = 0; i < PUTS; i++) {
            struct ward_diag d;
            if (w == WRITERS) { /* the reader */
                size_t n = count(q, NULL);
                (void)n;
                struct ward_qverified v;
                if (ward_quarantine_verify(q, WARD_QVERIFY_DEEP, NULL, NULL, &v, &d) != WARD_OK ||
                    v.corrupt || v.missing) {
                    fprintf(stderr, "reader: verify %s corrupt %llu missing %llu\n", d.msg,
                            (unsigned long long)v.corrupt, (unsigned long long)v.missing);
                    fails++;
                }
                continue;
            }
            uint8_t data[5000];
            randombytes_buf(data, sizeof data);
            char id[WARD_QID_LEN + 1];
            struct ward_qmeta m = meta("/proc");
            if (ward_quarantine_put_mem(q, &m, data, sizeof data, id, &d) != WARD_OK) {
                fprintf(stderr, "writer %d: %s\n", w, d.msg);
                fails++;
            }
        }
        ward_quarantine_close(q);
        _exit(fails);
    }
    for (int w = 0; w <= WRITERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* threads sharing one handle */
    ward_quarantine *q = open_store(0, 0);
    if (!q)
        return;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_writer, q);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        CHECK(rv == NULL);
    }
    CHECK(count(q, NULL) == WRITERS * PUTS + 4 * PUTS);
    struct ward_qverified v;
    struct ward_diag d;
    CHECK(ward_quarantine_verify(q, WARD_QVERIFY_DEEP, NULL, NULL, &v, &d) == WARD_OK);
    CHECK(v.ok == WRITERS * PUTS + 4 * PUTS && v.orphans == 0 && v.leftovers == 0);
    ward_quarantine_close(q);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof root, "/tmp/ward-quarantine-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    snprintf(store, sizeof store, "%s/store", root);
    snprintf(keyfile, sizeof keyfile, "%s/key", store);
    test_round_trips();
    test_attrs_and_pipe();
    test_tampering();
    test_key();
    test_filters();
    test_limits();
    test_leftovers();
    test_killed_writer();
    /* again with named temporary files, as on filesystems without O_TMPFILE */
    ward_qfs_force_named = true;
    pass = 1;
    test_round_trips();
    test_attrs_and_pipe();
    test_killed_writer();
    ward_qfs_force_named = false;
    test_concurrency();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (CHECK_DONE() == 0)
        (void)!system(cmd);
    else
        fprintf(stderr, "left %s for inspection\n", root);
    return CHECK_DONE();
}
