/*
 * update.c - the updater's parsers of untrusted bytes (src/lib/update): bundle
 * manifests, minisign key and signature files, ClamAV containers as the
 * updater opens them (vdb.c), .cdiff files and scripts (cdiff.c), and the
 * Range and If-Modified-Since values ward-mirrord reads (httphdr.c).
 *
 * The first input byte selects the parser, the rest is its input:
 *   0  manifest      oracle: a parsed manifest written out parses the same
 *   1  minisign      signature over "ward fuzz" with the test key; key files
 *   2  cdiff script  run on a small container; the result writes as a .cld
 *                    that reads back with the same members
 *   3  .cdiff file   signature with the test key (the seeds are signed), then
 *                    applied as in 2
 *   4  container     read; written back as a .cld, read again, same members
 *   5  HTTP values   "RANGE\nDATE": a range lies inside the file; a date
 *                    formats and parses back to itself
 * The test key is fuzz/cvd.c's, so that make-seeds.py can sign .cdiff seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "update/cdiff.h"
#include "update/httphdr.h"
#include "update/manifest.h"
#include "update/minisign.h"
#include "update/vdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char test_n[] =
    "248145363955819944916021262968882637567337546344771366126168901256607520354828741247"
    "296324706355993906598336748268607583022670449918416261260663167263544192909452833218"
    "721562990918243506649049813144268958935860276168661600488173078309430986801418418490"
    "287485845501319723311895490302944963492793397823858055180916047097570058299544864631"
    "119428647589995327149279045593584116611276881281379383551701415202121505051265159113"
    "211380214952764603675850554582639516561154026278920482643104861907206705530622151583"
    "284108009742614740920482683540254280747699209992291375493920014158127495244562209008"
    "84439101139883326840119365683";

/* A fixed Ed25519 public key; make-seeds.py holds signatures it made. */
static const char test_pub[] = "RWTy+1qflYxJ78/skh+EFPczek1D946jmYZK+7vYEwSFjoN7+qwmtWCU";

#define CHECK(c)                                                                           \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "oracle failed: %s\n", #c);                                    \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static void fuzz_manifest(const uint8_t *p, size_t n)
{
    struct ward_manifest m, m2;
    struct ward_diag d;
    if (ward_manifest_parse("fuzz", p, n, &m, &d))
        return;
    ward_buf out;
    ward_buf_init(&out, 4u << 20);
    CHECK(!ward_manifest_write(&m, &out));
    CHECK(!ward_manifest_parse("again", out.data, out.len, &m2, &d));
    CHECK(m.version == m2.version && m.n_files == m2.n_files && !strcmp(m.name, m2.name));
    for (size_t i = 0; i < m.n_files; i++)
        CHECK(!strcmp(m.files[i].name, m2.files[i].name) && m.files[i].size == m2.files[i].size &&
              !memcmp(m.files[i].sha256, m2.files[i].sha256, 32));
    ward_buf_free(&out);
    ward_manifest_free(&m);
    ward_manifest_free(&m2);
}

static void fuzz_minisign(const uint8_t *p, size_t n)
{
    struct ward_minisign_pub key, other;
    struct ward_minisign_sec sec;
    struct ward_diag d;
    char trusted[64];
    CHECK(!ward_minisign_pub_parse("key", test_pub, strlen(test_pub), &key, &d));
    (void)!ward_minisign_verify(&key, 1, "ward fuzz", 9, p, n, trusted, sizeof trusted, &d);
    (void)!ward_minisign_pub_parse("fuzz", p, n, &other, &d);
    (void)!ward_minisign_sec_parse("fuzz", p, n, &sec, &d);
}

/* A small daily container to edit. */
static bool base_vdb(struct ward_vdb *v)
{
    static const struct {
        const char *name, *text;
    } files[] = {
        {"COPYING", "fuzz\n"},
        {"daily.info", "ClamAV-VDB:01 Jan 2026 00-00 +0000:7:3:216:x:x:fuzz:1767225600\n"
                       "daily.ndb:10:00\nDSIG:abc\n"},
        {"daily.ndb", "A.Sig:0:*:41414141\nB.Sig:0:*:42424242\r\nC.Sig:0:*:43434343\n"},
        {"daily.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar"},
    };
    memset(v, 0, sizeof *v);
    snprintf(v->base, sizeof v->base, "daily");
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct ward_vdb_member *m;
        if (ward_vdb_open(v, files[i].name, &m) ||
            ward_buf_append(&m->data, files[i].text, strlen(files[i].text)))
            return false;
    }
    return true;
}

/* Write a .cld and read it back: the same members, the same bytes. */
static void roundtrip(struct ward_vdb *v)
{
    ward_buf cld;
    struct ward_diag d;
    struct ward_vdb back;
    ward_buf_init(&cld, 64u << 20);
    if (!ward_vdb_write_cld(v, &cld, &d)) {
        CHECK(!ward_vdb_read(v->base, cld.data, cld.len, &back, &d));
        CHECK(back.n == v->n);
        for (size_t i = 0; i < v->n; i++) {
            struct ward_vdb_member *m = ward_vdb_find(&back, v->m[i].name);
            CHECK(m && m->data.len == v->m[i].data.len &&
                  (!m->data.len || !memcmp(m->data.data, v->m[i].data.data, m->data.len)));
        }
        ward_vdb_free(&back);
    }
    ward_buf_free(&cld);
}

static void fuzz_script(const uint8_t *p, size_t n, bool signed_file)
{
    struct ward_vdb v;
    struct ward_diag d;
    if (!base_vdb(&v)) {
        ward_vdb_free(&v);
        return;
    }
    ward_err e = signed_file ? ward_cdiff_apply(&v, "fuzz.cdiff", p, n, test_n, "65537", &d)
                             : ward_cdiff_run(&v, "fuzz", (const char *)p, n, &d);
    if (!e)
        roundtrip(&v);
    ward_vdb_free(&v);
}

static void fuzz_container(const uint8_t *p, size_t n)
{
    struct ward_vdb v;
    struct ward_diag d;
    struct ward_vdb_head h;
    (void)!ward_vdb_head_parse(p, n, &h);
    if (ward_vdb_read("daily", p, n, &v, &d))
        return;
    roundtrip(&v);
    ward_vdb_free(&v);
}

static void fuzz_http(const uint8_t *p, size_t n)
{
    const uint8_t *nl = memchr(p, '\n', n);
    size_t rl = nl ? (size_t)(nl - p) : n;
    uint64_t size = (uint64_t)n * 37, first, last;
    if (ward_http_range((const char *)p, rl, size, &first, &last) == WARD_RANGE_OK)
        CHECK(first <= last && last < size);
    if (!nl)
        return;
    time_t t, t2;
    char out[40];
    if (ward_http_date_parse((const char *)nl + 1, n - rl - 1, &t) && t >= 0 &&
        t < 253402300800) {
        ward_http_date_format(t, out, sizeof out);
        CHECK(ward_http_date_parse(out, strlen(out), &t2) && t2 == t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0: fuzz_manifest(p, n); break;
    case 1: fuzz_minisign(p, n); break;
    case 2: fuzz_script(p, n, false); break;
    case 3: fuzz_script(p, n, true); break;
    case 4: fuzz_container(p, n); break;
    case 5: fuzz_http(p, n); break;
    }
    return 0;
}
