/* test_pattern.c - ClamAV hex signatures: what they match, and load-time checks. */
#include <hs/hs.h>
#include <pcre2.h>

#include "check.h"
#include "engine/pattern.h"

/* Does the exact form match somewhere in data? */
static int exact_match(const char *sig, unsigned mods, const void *data, size_t len)
{
    ward_pattern *p;
    struct ward_diag d;
    if (ward_pattern_parse(sig, strlen(sig), mods, &p, &d) != WARD_OK)
        return -1;
    ward_buf b;
    ward_buf_init(&b, 1 << 22);
    int r = -1;
    if (ward_pattern_emit_exact(p, &b) == WARD_OK) {
        int err;
        PCRE2_SIZE off;
        uint32_t opts = PCRE2_DOTALL | (ward_pattern_nocase(p) ? PCRE2_CASELESS : 0);
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)ward_buf_str(&b), b.len, opts, &err, &off, NULL);
        if (c) {
            pcre2_match_data *md = pcre2_match_data_create(1, NULL);
            r = pcre2_match(c, data, len, 0, 0, md, NULL) >= 0;
            pcre2_match_data_free(md);
            pcre2_code_free(c);
        }
    }
    ward_buf_free(&b);
    ward_pattern_free(p);
    return r;
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                  void *ctx)
{
    (void)id, (void)from, (void)to, (void)fl;
    *(int *)ctx = 1;
    return 0;
}

/* Does the Vectorscan scan form match? (it may over-match at edges, never under-match) */
static int scan_match(const char *sig, unsigned mods, const void *data, size_t len)
{
    ward_pattern *p;
    struct ward_diag d;
    if (ward_pattern_parse(sig, strlen(sig), mods, &p, &d) != WARD_OK)
        return -1;
    ward_buf b;
    ward_buf_init(&b, 1 << 22);
    int r = -1;
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    unsigned fl = HS_FLAG_DOTALL | (ward_pattern_nocase(p) ? HS_FLAG_CASELESS : 0);
    if (ward_pattern_emit_scan(p, &b) == WARD_OK &&
        hs_compile(ward_buf_str(&b), fl, HS_MODE_BLOCK, NULL, &db, &ce) == HS_SUCCESS) {
        hs_scratch_t *s = NULL;
        int hit = 0;
        hs_alloc_scratch(db, &s);
        hs_scan(db, data, (unsigned)len, 0, s, on_hit, &hit);
        r = hit;
        hs_free_scratch(s);
        hs_free_database(db);
    }
    hs_free_compile_error(ce);
    ward_buf_free(&b);
    ward_pattern_free(p);
    return r;
}

#define M(sig, data) exact_match(sig, 0, data, sizeof(data) - 1)
#define MW(sig, mods, data) exact_match(sig, mods, data, sizeof(data) - 1)
#define S(sig, data) scan_match(sig, 0, data, sizeof(data) - 1)

static bool rejects(const char *sig)
{
    ward_pattern *p;
    struct ward_diag d;
    if (ward_pattern_parse(sig, strlen(sig), 0, &p, &d) == WARD_OK) {
        ward_pattern_free(p);
        return false;
    }
    return true;
}

int main(void)
{
    CHECK(M("414243", "xxABCxx") == 1);
    CHECK(M("414243", "xxABxCx") == 0);
    CHECK(M("4142??44", "AB\x00" "D") == 1);
    CHECK(M("41424?44", "ABMD") == 1);  /* M = 0x4d */
    CHECK(M("41424?44", "ABQD") == 0);  /* Q = 0x51 */
    CHECK(M("4142?444", "AB\x54" "D") == 1);
    CHECK(M("4142*4344", "AB......CD") == 1);
    CHECK(M("4142*4344", "CDAB") == 0);
    CHECK(M("4142{2}4344", "ABxxCD") == 1);
    CHECK(M("4142{2}4344", "ABxCD") == 0);
    CHECK(M("4142{-2}4344", "ABCD") == 1);
    CHECK(M("4142{-2}4344", "ABxxxCD") == 0);
    CHECK(M("4142{3-}4344", "ABxxCD") == 0);
    CHECK(M("4142{3-}4344", "ABxxxxxxCD") == 1);
    CHECK(M("4142{1-2}4344", "ABxCD") == 1);
    CHECK(M("4142{1-2}4344", "ABxxxCD") == 0);
    CHECK(M("4142{0}4344", "ABxxxxxxCD") == 1); /* ClamAV: {0} is any gap */
    CHECK(M("4142(43|44)4546", "ABDEF") == 1);
    CHECK(M("4142(43|44)4546", "ABXEF") == 0);
    CHECK(M("4142(4344|4546)4748", "ABEFGH") == 1);
    CHECK(M("4142!(43|44)4546", "ABXEF") == 1);
    CHECK(M("4142!(43|44)4546", "ABCEF") == 0);
    CHECK(M("4142!(4344|4546)4748", "ABCXGH") == 1);
    CHECK(M("4142!(4344|4546)4748", "ABCDGH") == 0);
    CHECK(M("4142!(4344|4546)4748", "ABEFGH") == 0);
    /* (B) at the edges is zero-width, in the middle it consumes a byte */
    CHECK(M("(B)414243", "ABC") == 1);
    CHECK(M("(B)414243", " ABC") == 1);
    CHECK(M("(B)414243", "xABC") == 0);
    CHECK(M("414243(B)", "ABC\n") == 1);
    CHECK(M("414243(B)", "ABCx") == 0);
    CHECK(M("414243(B)", "ABC") == 1);
    CHECK(M("4142(B)4344", "AB CD") == 1);
    CHECK(M("4142(B)4344", "ABxCD") == 0);
    CHECK(M("(L)414243", "x\nABC") == 1);
    CHECK(M("(L)414243", "x ABC") == 0);
    CHECK(M("414243(L)", "ABC\r\n") == 1);
    CHECK(M("4142(L)4344", "AB\r\nCD") == 1);
    CHECK(M("(W)414243(W)", "-ABC-") == 1);
    CHECK(M("(W)414243(W)", "xABC-") == 0);
    CHECK(M("414243!(W)", "ABC-") == 0);
    CHECK(M("414243!(W)", "ABCx") == 1);
    /* [n-m]: the anchor byte, then n..m bytes, then the rest */
    CHECK(M("41[1-2]424344", "AxBCD") == 1);
    CHECK(M("41[1-2]424344", "AxxxBCD") == 0);
    /* modifiers */
    CHECK(MW("616263", WARD_PAT_NOCASE, "xABCx") == 1);
    CHECK(MW("616263", WARD_PAT_WIDE, "a\0b\0c\0") == 1);
    CHECK(MW("616263", WARD_PAT_WIDE, "abc") == 0);
    CHECK(MW("616263", WARD_PAT_WIDE | WARD_PAT_ASCII, "abc") == 1);
    CHECK(MW("616263", WARD_PAT_FULLWORD, "x abc y") == 1);
    CHECK(MW("616263", WARD_PAT_FULLWORD, "xabcy") == 0);
    /* the Vectorscan form never misses what the exact form finds */
    CHECK(S("(B)414243", " ABC") == 1);
    CHECK(S("414243(L)", "ABC\r\n") == 1);
    CHECK(S("4142!(4344|4546)4748", "ABCXGH") == 1);
    CHECK(S("4142!(4344|4546)4748", "ABCDGH") == 0);
    /* ClamAV's load-time rules */
    CHECK(rejects(""));
    CHECK(rejects("41"));
    CHECK(rejects("414"));
    CHECK(rejects("41g2"));
    CHECK(rejects("4142*43"));       /* a part without two literal bytes */
    CHECK(rejects("41??42??43"));
    CHECK(rejects("4142(43|44"));
    CHECK(rejects("4142()4344"));
    CHECK(rejects("4142(43{2}|44)4546"));
    CHECK(rejects("4142!(43??|4445)4647"));
    CHECK(rejects("41[40]424344"));
    CHECK(rejects("*41424344"));
    CHECK(!rejects("41424344"));
    CHECK(!rejects("4142{1-2}4344"));
    /* {n-m} with n > m never matches */
    ward_pattern *p;
    struct ward_diag d;
    struct ward_pattern_info info;
    CHECK(ward_pattern_parse("4142{5-2}4344", 13, 0, &p, &d) == WARD_OK);
    ward_pattern_info(p, &info);
    CHECK(info.never);
    ward_pattern_free(p);
    CHECK(ward_pattern_parse("41424344", 8, 0, &p, &d) == WARD_OK);
    ward_pattern_info(p, &info);
    CHECK(info.all_static && info.min_len == 4 && info.max_len == 4);
    ward_pattern_free(p);
    CHECK(ward_pattern_parse("4142*4344", 9, 0, &p, &d) == WARD_OK);
    ward_pattern_info(p, &info);
    CHECK(!info.all_static && info.min_len == 4 && info.max_len == WARD_PAT_INF);
    ward_pattern_free(p);
    /* deep nesting is bounded */
    char deep[200];
    size_t k = 0;
    deep[k++] = '4';
    deep[k++] = '1';
    deep[k++] = '4';
    deep[k++] = '2';
    for (int i = 0; i < 20; i++)
        deep[k++] = '(';
    deep[k++] = '4';
    deep[k++] = '3';
    for (int i = 0; i < 20; i++) {
        deep[k++] = '|';
        deep[k++] = '4';
        deep[k++] = '4';
        deep[k++] = ')';
    }
    deep[k] = 0;
    CHECK(rejects(deep));
    return CHECK_DONE();
}
