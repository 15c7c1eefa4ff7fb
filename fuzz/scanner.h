/*
 * scanner.h - a scanner over a tiny database, shared by the scan and mime
 * fuzz targets.
 *
 * LLVMFuzzerInitialize writes the database into a private temporary
 * directory, loads and compiles it with ward_db_load (the public path), and
 * removes the files again. The signatures give the walk something to find at
 * every layer: a marker string (any target), the EICAR test string at offset
 * 0, a marker near the end of the object (a PCRE2 confirmation), text and
 * HTML markers (which make the scanner build normalized layers), a logical
 * signature with a PCRE subsignature, and a hash and an allow-list entry.
 *
 * Each input is scanned with tight limits and a fresh verdict cache (so
 * identical members within one input replay cached verdicts); when it finds
 * something, it is scanned again with all_matches, which walks on.
 */
#ifndef WARD_FUZZ_SCANNER_H
#define WARD_FUZZ_SCANNER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/db.h"
#include "scan/scan.h"
#include "util/hash.h"

/* The contents the .hsb and .fp lines name (make-seeds.py uses the same). */
#define FUZZ_HASH_TEXT "Ward fuzz hash signature target\n"
#define FUZZ_ALLOW_TEXT "Ward fuzz allow-listed WARDFUZZMARKER\n"

static ward_scanner *fuzz_scanner;

static inline void fuzz_write(const char *dir, const char *name, const char *text)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static inline void fuzz_unlink(const char *dir, const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* "sha256:size:name" of a text, as an .hsb or .fp line. */
static inline void fuzz_hash_line(char *out, size_t cap, const char *text, const char *name)
{
    uint8_t d[32];
    char hex[65];
    if (ward_sha256(text, strlen(text), d))
        abort();
    ward_hex_encode(d, 32, hex);
    snprintf(out, cap, "%s:%zu:%s\n", hex, strlen(text), name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char ndb[] =
        /* "WARDFUZZMARKER" anywhere */
        "Ward.Fuzz.Marker:0:*:5741524446555a5a4d41524b4552\n"
        /* the 68-byte EICAR test string at offset 0 (as db/ward.ndb has it) */
        "Ward.Test.EICAR:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445"
        "494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n"
        /* "WARDEOF" within the last 16 bytes */
        "Ward.Fuzz.Tail:0:EOF-16,9:57415244454f46\n"
        /* normalized text "ward fuzz text" and HTML "<script>wardfuzz" */
        "Ward.Fuzz.Text:7:*:776172642066757a7a2074657874\n"
        "Ward.Fuzz.Html:3:*:3c7363726970743e776172646675\n";
    static const char ldb[] =
        "Ward.Fuzz.Logic;Engine:51-255,Target:0;0&1;5741524431::i;0/WARD1[0-9]X/i\n";
    char tmpl[256], hsb[256], fp[256];
    const char *t = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%.200s/ward-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror(tmpl);
        abort();
    }
    fuzz_hash_line(hsb, sizeof hsb, FUZZ_HASH_TEXT, "Ward.Fuzz.Hash");
    fuzz_hash_line(fp, sizeof fp, FUZZ_ALLOW_TEXT, "Ward.Fuzz.Allowed");
    fuzz_write(tmpl, "fuzz.ndb", ndb);
    fuzz_write(tmpl, "fuzz.ldb", ldb);
    fuzz_write(tmpl, "fuzz.hsb", hsb);
    fuzz_write(tmpl, "fuzz.fp", fp);
    const char *paths[] = {tmpl};
    struct ward_db_opts opts = {0};
    struct ward_diag diag;
    ward_db *db;
    ward_err e = ward_db_load(paths, 1, &opts, &db, &diag);
    fuzz_unlink(tmpl, "fuzz.ndb");
    fuzz_unlink(tmpl, "fuzz.ldb");
    fuzz_unlink(tmpl, "fuzz.hsb");
    fuzz_unlink(tmpl, "fuzz.fp");
    rmdir(tmpl);
    if (e || ward_scanner_new(db, &fuzz_scanner)) {
        fprintf(stderr, "fuzz database: %s\n", e ? diag.msg : "no scanner");
        abort();
    }
    ward_db_unref(db); /* the scanner holds its own reference */
    return 0;
}

static inline bool fuzz_on_finding(void *ctx, const struct ward_finding *f)
{
    (void)ctx;
    /* Paths are bounded lists of strings; detections have names. */
    if (f->depth > WARD_PATH_MAX_DEPTH + 1 || (unsigned)f->verdict > WARD_VERDICT_INFECTED ||
        (f->verdict == WARD_VERDICT_INFECTED && (!f->name || !f->name[0])))
        abort();
    for (unsigned i = 0; i < f->depth; i++)
        if (!f->path[i] || strlen(f->path[i]) > 65536)
            abort();
    if (getenv("WARD_FUZZ_VERBOSE")) { /* to see what a seed reaches */
        for (unsigned i = 0; i < f->depth; i++)
            fprintf(stderr, "%s%s", i ? "/" : "", f->path[i]);
        fprintf(stderr, ": %s %s %s\n", ward_verdict_name(f->verdict), ward_reason_name(f->reason),
                f->name ? f->name : "");
    }
    return true;
}

static inline void fuzz_scan(const uint8_t *data, size_t size, const char *name)
{
    struct ward_scan_opts o = {0};
    o.limits.max_filesize = 8u << 20;
    o.limits.max_scansize = 32u << 20;
    o.limits.max_files = 200;
    o.limits.max_recursion = 8;
    o.limits.max_scantime = 5000;
    o.limits.max_ratio = 1000;
    o.on_finding = fuzz_on_finding;
    if (ward_vcache_new(64, &o.cache))
        abort();
    struct ward_scan_result res;
    struct ward_diag diag;
    (void)!ward_scan_mem(fuzz_scanner, data, size, name, &o, &res, &diag);
    if (res.objects > o.limits.max_files)
        abort();
    ward_vcache_free(o.cache);
    if (res.verdict == WARD_VERDICT_INFECTED) {
        o.cache = NULL;
        o.all_matches = true;
        (void)!ward_scan_mem(fuzz_scanner, data, size, name, &o, &res, &diag);
    }
}

#endif
