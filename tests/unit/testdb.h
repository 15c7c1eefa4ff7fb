/*
 * testdb.h - helpers for tests: a temporary directory of signature files,
 * loaded into a database, and a scan of a memory buffer that collects the
 * findings as "verdict path name" lines.
 */
#ifndef WARD_TEST_TESTDB_H
#define WARD_TEST_TESTDB_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/db.h"
#include "scan/scan.h"
#include "util/buf.h"

__attribute__((unused)) static const char *test_eicar(void)
{
    static char s[70];
    snprintf(s, sizeof s, "%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
             "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    return s;
}

static char test_dir[64];

static void test_dir_make(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/ward-test-XXXXXX");
    if (!mkdtemp(test_dir))
        abort();
}

static void test_dir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    (void)!system(cmd);
}

static void test_write(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", test_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
}

static void test_write_str(const char *name, const char *text)
{
    test_write(name, text, strlen(text));
}

/* Load everything in test_dir (or one file in it); NULL on failure, message in diag. */
__attribute__((unused)) static ward_db *test_load(const char *file, struct ward_diag *d)
{
    char path[256];
    if (file)
        snprintf(path, sizeof path, "%s/%s", test_dir, file);
    else
        snprintf(path, sizeof path, "%s", test_dir);
    const char *paths[] = {path};
    struct ward_db_opts o = {0};
    ward_db *db = NULL;
    if (ward_db_load(paths, 1, &o, &db, d) != WARD_OK)
        return NULL;
    return db;
}

struct collected {
    ward_buf text;
};

static bool collect_finding(void *ctx, const struct ward_finding *f)
{
    struct collected *c = ctx;
    (void)!ward_buf_printf(&c->text, "%s ", ward_verdict_name(f->verdict));
    for (unsigned i = 0; i < f->depth; i++)
        (void)!ward_buf_printf(&c->text, "%s%s", i ? "/" : "", f->path[i]);
    (void)!ward_buf_printf(&c->text, " %s\n", f->name ? f->name : "-");
    return true;
}

/* Scan a buffer; returns the findings text (static, overwritten by the next call). */
static const char *test_scan(ward_db *db, const void *p, size_t n,
                             const struct ward_scan_limits *limits, bool all,
                             ward_vcache *cache, struct ward_scan_result *res)
{
    static struct collected c;
    static bool init;
    if (!init) {
        ward_buf_init(&c.text, 1 << 20);
        init = true;
    }
    ward_buf_reset(&c.text);
    ward_scanner *s;
    if (ward_scanner_new(db, &s))
        return "scanner failed";
    struct ward_scan_opts o = {0};
    if (limits)
        o.limits = *limits;
    else
        ward_scan_limits_default(&o.limits);
    o.all_matches = all;
    o.cache = cache;
    o.on_finding = collect_finding;
    o.ctx = &c;
    struct ward_scan_result r;
    if (ward_scan_mem(s, p, n, "obj", &o, res ? res : &r, NULL))
        (void)!ward_buf_puts(&c.text, "ERROR\n");
    ward_scanner_free(s);
    return ward_buf_str(&c.text);
}

#endif
