/* test_hdiff.c - header block differences as milter operations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mail/hdiff.h"

/* The operations from a to b as text: "C3#1 D0#1 I0@0 ..." (kind, field, occurrence or pos). */
static const char *ops_text(const char *a, const char *b)
{
    static char out[512];
    struct ward_hblock ba, bb;
    struct ward_hop *ops;
    size_t n, o = 0;
    if (ward_hdiff_parse((const uint8_t *)a, strlen(a), &ba, NULL))
        return "ERR";
    if (ward_hdiff_parse((const uint8_t *)b, strlen(b), &bb, NULL)) {
        ward_hdiff_block_free(&ba);
        return "ERR";
    }
    if (ward_hdiff((const uint8_t *)a, &ba, (const uint8_t *)b, &bb, &ops, &n, NULL)) {
        ward_hdiff_block_free(&ba);
        ward_hdiff_block_free(&bb);
        return "ERR";
    }
    out[0] = 0;
    for (size_t i = 0; i < n && o < sizeof out - 32; i++) {
        const struct ward_hop *h = &ops[i];
        if (h->kind == WARD_HOP_INSERT)
            o += (size_t)snprintf(out + o, sizeof out - o, "%sI%zu@%zu", i ? " " : "", h->new,
                                  h->pos);
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%c%zu#%zu", i ? " " : "",
                                  h->kind == WARD_HOP_CHANGE ? 'C' : 'D', h->orig, h->occurrence);
    }
    free(ops);
    ward_hdiff_block_free(&ba);
    ward_hdiff_block_free(&bb);
    return out;
}

int main(void)
{
    const char *m = "From: a\r\nSubject: hi\r\nTo: b\r\n\r\nbody\r\n";
    struct ward_hblock hb;
    CHECK(ward_hdiff_parse((const uint8_t *)m, strlen(m), &hb, NULL) == WARD_OK);
    CHECK(hb.n == 3 && hb.len == 31 && hb.f[1].eol == 2 && hb.f[1].colon == 16);
    ward_hdiff_block_free(&hb);
    /* folded fields are one field; a block without its empty line ends at its end */
    const char *f = "A: 1\n folded\n\tmore\nB: 2";
    CHECK(ward_hdiff_parse((const uint8_t *)f, strlen(f), &hb, NULL) == WARD_OK);
    CHECK(hb.n == 2 && hb.f[0].end == 19 && hb.len == strlen(f) && hb.f[1].eol == 0);
    ward_hdiff_block_free(&hb);

    /* unchanged: nothing to do */
    CHECK_STR(ops_text(m, m), "");
    /* two fields prepended: inserted at 0 and 1 */
    CHECK_STR(ops_text(m, "X-Ward-Result: clean\r\nX-Virus-Scanner: Ward\r\n"
                          "From: a\r\nSubject: hi\r\nTo: b\r\n\r\n"),
              "I0@0 I1@1");
    /* a tagged subject is a change in place, next to a prepended field */
    CHECK_STR(ops_text(m, "X-Ward-Result: infected\r\nFrom: a\r\nSubject: [virus] hi\r\n"
                          "To: b\r\n\r\n"),
              "C1#1 I0@0");
    /* a forged field removed; the second of two by its occurrence */
    CHECK_STR(
        ops_text("X-Ward-Result: a\r\nFrom: a\r\nX-Ward-Result: b\r\n\r\n", "From: a\r\n\r\n"),
        "D2#2 D0#1");
    /* a field without a colon cannot be edited */
    CHECK_STR(ops_text(m, "garbage\r\nFrom: a\r\n\r\n"), "ERR");
    return CHECK_DONE();
}
