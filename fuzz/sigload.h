/*
 * sigload.h - helpers shared by the signature-source fuzz targets.
 *
 * A source is loaded into a segment through the loader's internal entry
 * point (ward_load_source, engine/db_int.h) from a private NUL-terminated
 * copy of the input, as dbload.c does for a file, so no temporary files are
 * needed. A segment is freed with ward_seg_unref; linked into a database
 * (ward_db_link) it is scanned with like any other.
 */
#ifndef WARD_FUZZ_SIGLOAD_H
#define WARD_FUZZ_SIGLOAD_H

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_int.h"
#include "scan/scan.h"

static inline void fuzz_on_error(void *ctx, const char *msg)
{
    (void)ctx;
    /* Messages are bounded, NUL-terminated and never empty. */
    if (!msg[0] || strlen(msg) >= 512)
        abort();
}

static inline ward_seg *fuzz_seg_new(void)
{
    ward_seg *seg = ward_seg_new();
    if (!seg)
        abort();
    return seg;
}

/* Load data[0..size) into db as a source called `name`; *errors counts problems. */
static inline ward_err fuzz_load(ward_seg *seg, const struct ward_db_opts *opts,
                                 const char *name, const uint8_t *data, size_t size,
                                 uint64_t *errors)
{
    uint8_t *text = malloc(size + 1);
    if (!text)
        abort();
    if (size)
        memcpy(text, data, size);
    text[size] = 0; /* loaders expect a NUL after the text, as ward_buf provides */
    struct ward_diag diag;
    diag.msg[0] = 0;
    struct load_ctx lc = {0};
    lc.seg = seg;
    lc.opts = opts;
    lc.flevel = opts->flevel ? opts->flevel : WARD_FLEVEL;
    lc.file = name;
    lc.diag = &diag;
    ward_err e = ward_load_source(&lc, name, text, size);
    ward_seg_finish(seg);
    if (strnlen(diag.msg, sizeof diag.msg) == sizeof diag.msg)
        abort();
    free(text);
    if (errors)
        *errors = lc.errors;
    return e;
}

static inline void fuzz_check_pats(const ward_seg *seg);

/* Load once collecting every error, then (if there were any) once stopping at the first. */
static inline void fuzz_load_both(const char *name, const uint8_t *data, size_t size,
                                  ward_seg **keep)
{
    struct ward_db_opts opts = {0};
    opts.check_only = true;
    opts.collect_errors = true;
    opts.on_error = fuzz_on_error;
    uint64_t errors = 0;
    ward_seg *seg = fuzz_seg_new();
    ward_err e = fuzz_load(seg, &opts, name, data, size, &errors);
    fuzz_check_pats(seg);
    if (errors) {
        ward_seg *strict = fuzz_seg_new();
        opts.collect_errors = false;
        (void)fuzz_load(strict, &opts, name, data, size, NULL);
        ward_seg_unref(strict);
    }
    if (keep && !e && !errors) {
        *keep = seg;
        return;
    }
    ward_seg_unref(seg);
}

/* Parentheses of a generated regex balance (bytes are always written as \xNN);
 * returns the deepest nesting, or -1. */
static inline long fuzz_nesting(const char *re)
{
    long depth = 0, deepest = 0;
    for (const char *p = re; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '(' && ++depth > deepest)
            deepest = depth;
        else if (*p == ')' && --depth < 0)
            return -1;
    }
    return depth == 0 ? deepest : -1;
}

static inline bool fuzz_big_repeat(const char *re, unsigned long max);

/*
 * Oracle for every body pattern the loader kept: its forms (and the parts of
 * a split signature), emitted from the kept source as compiling does, are
 * balanced; and where a match must be confirmed (a signature with an
 * offset), the exact form compiles with PCRE2, or it could never be found.
 * Known limits of engine/pattern.c, reported and left to its owner, are not
 * checked again: repeats beyond PCRE2's {65535}, nesting beyond its 250
 * parentheses (negated alternatives of 250+ bytes), empty classes "[]" (a
 * negated set of every byte: never matches either way).
 */
static inline void fuzz_check_pats(const ward_seg *db)
{
    ward_buf scan, exact, part;
    ward_buf_init(&scan, 1u << 24);
    ward_buf_init(&exact, 1u << 24);
    ward_buf_init(&part, 1u << 24);
    for (uint32_t i = 0; i < db->n_pats; i++) {
        const struct body_pat *bp = &db->pats[i];
        long nest;
        ward_buf_reset(&scan);
        ward_buf_reset(&exact);
        /* the forms are written from the source the loader kept */
        if (ward_pat_emit_forms(bp, &scan, &exact) != WARD_OK)
            abort();
        const char *scan_re = ward_buf_str(&scan), *exact_re = ward_buf_str(&exact);
        if (fuzz_nesting(scan_re) < 0 || (nest = fuzz_nesting(exact_re)) < 0)
            abort();
        /* and so are the parts of a split signature */
        ward_pattern *p;
        if (ward_pattern_parse(bp->src, strlen(bp->src), bp->mods, &p, NULL) != WARD_OK)
            abort();
        unsigned parts = ward_pattern_part_count(p);
        for (unsigned k = 0; parts > 1 && k < parts; k++) {
            struct ward_pattern_part info;
            ward_buf_reset(&part);
            if (ward_pattern_emit_part(p, k, &part, &info) != WARD_OK ||
                fuzz_nesting(ward_buf_str(&part)) < 0)
                abort();
        }
        ward_pattern_free(p);
        /* (BP_VERIFY itself is only set while compiling, on the real entry) */
        if (bp->off_kind == WARD_OFF_ANY || (bp->flags & BP_NEVER) ||
            fuzz_big_repeat(exact_re, 65535) || nest > 250 || strstr(exact_re, "[]"))
            continue;
        int err;
        PCRE2_SIZE off;
        uint32_t o = PCRE2_DOTALL | ((bp->flags & BP_NOCASE) ? PCRE2_CASELESS : 0);
        pcre2_code *c =
            pcre2_compile((PCRE2_SPTR)exact_re, PCRE2_ZERO_TERMINATED, o, &err, &off, NULL);
        if (!c) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            fprintf(stderr, "exact form does not compile at %zu: %s\n%.300s\n", (size_t)off,
                    (const char *)msg, exact_re);
            abort();
        }
        pcre2_code_free(c);
    }
    ward_buf_free(&scan);
    ward_buf_free(&exact);
    ward_buf_free(&part);
}

/* FNV-1a, to pick a deterministic share of the inputs for the slow path. */
static inline uint32_t fuzz_hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Does a generated regex use a repeat bound above `max`? (slow to compile) */
static inline bool fuzz_big_repeat(const char *re, unsigned long max)
{
    for (const char *p = re; p && (p = strchr(p, '{')) != NULL; p++) {
        char *end;
        unsigned long a = strtoul(p + 1, &end, 10);
        if (a > max || (*end == ',' && strtoul(end + 1, NULL, 10) > max))
            return true;
    }
    return false;
}

/*
 * The slow path for a few small databases: compile with Vectorscan and scan
 * a sample (every byte value, some text, then the input itself), so that
 * the matcher's confirmations and logical evaluation see fuzzed signatures.
 * Takes ownership of seg.
 */
static inline void fuzz_compile_and_scan(ward_seg *db, const uint8_t *data, size_t size)
{
    bool ok = db->n_pats + db->n_pcres <= 8 && size <= 2048 && fuzz_hash(data, size) % 8 == 0;
    ward_buf scan;
    ward_buf_init(&scan, 1u << 24);
    for (uint32_t i = 0; ok && i < db->n_pats; i++) {
        ward_buf_reset(&scan);
        ok = ward_pat_emit_forms(&db->pats[i], &scan, NULL) == WARD_OK &&
             !fuzz_big_repeat(ward_buf_str(&scan), 256);
    }
    ward_buf_free(&scan);
    for (uint32_t i = 0; ok && i < db->n_pcres; i++)
        ok = !strpbrk(db->pcres[i].re, "{*+?"); /* no quantifiers: cheap backtracking */
    struct ward_db_opts opts = {0};
    struct ward_diag diag;
    ward_scanner *s = NULL;
    ward_db *linked = NULL;
    if (ok && !ward_db_link(&db, 1, &opts, 0, &linked, &diag) &&
        !ward_scanner_new(linked, &s)) {
        static const char text[] = "Hello World\r\nward fuzz <b>bold</b> 0123456789 WARD1\n";
        size_t n = 256 + sizeof text - 1 + size;
        uint8_t *sample = malloc(n);
        if (!sample)
            abort();
        for (unsigned i = 0; i < 256; i++)
            sample[i] = (uint8_t)i;
        memcpy(sample + 256, text, sizeof text - 1);
        if (size)
            memcpy(sample + 256 + sizeof text - 1, data, size);
        struct ward_scan_opts so = {0};
        ward_scan_limits_default(&so.limits);
        so.limits.max_scantime = 5000;
        so.all_matches = true;
        struct ward_scan_result res;
        (void)!ward_scan_mem(s, sample, n, "sample", &so, &res, &diag);
        (void)!ward_scan_mem(s, data, size, "input", &so, &res, &diag);
        free(sample);
        ward_scanner_free(s);
    }
    ward_db_unref(linked);
    ward_seg_unref(db);
}

#endif
