/*
 * pattern.h - ClamAV body signatures: parse the hex syntax, emit regexes.
 *
 * A body signature (the fourth field of an .ndb line, a subsignature of an
 * .ldb line) is parsed into a small tree, checked with ClamAV's load-time
 * rules, and emitted as two regexes over bytes:
 *   - the scan form, for Vectorscan: a superset of the signature in which
 *     zero-width edge tests ((B), (L), (W) at either end, an `aa[n-m]`
 *     anchor) consume the byte they test;
 *   - the exact form, for PCRE2: the same language with look-behind and
 *     look-ahead, used to confirm a candidate where the position of a match
 *     matters (offsets) and where Vectorscan cannot compile the scan form.
 *
 * Semantics follow libclamav's matcher: `{0}`, `{0-0}` and `{-0}` mean "any
 * gap"; `{n-m}` with n > m can never match; `{n}` with n < 128 is n `??`
 * until the first splitting `{}`, after which every `{}` splits; (B), (L)
 * and (W) are zero-width tests at the start and end of the pattern and of
 * each part (next to a splitting gap), and consume a byte elsewhere (two for
 * (L) on CRLF); ::f adds (W) at both ends and turns `[n-m]` into `{n-m}`.
 * Signatures with splitting gaps are also emitted part by part (see below).
 *
 * Contract: parsing is bounded (WARD_SIG_MAX_PATTERN_NODES, gap bounds,
 * nesting) and never trusts lengths in the text. The caller owns the
 * ward_pattern and frees it with ward_pattern_free.
 */
#ifndef WARD_ENGINE_PATTERN_H
#define WARD_ENGINE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WARD_PAT_INF UINT32_MAX

/* Subsignature modifiers (`::i`, `::w`, `::f`, `::a`). */
enum {
    WARD_PAT_NOCASE = 1u << 0,
    WARD_PAT_WIDE = 1u << 1,
    WARD_PAT_FULLWORD = 1u << 2,
    WARD_PAT_ASCII = 1u << 3,
};

typedef struct ward_pattern ward_pattern;

struct ward_pattern_info {
    uint32_t min_len;  /* shortest match (bytes consumed, edges excluded) */
    uint32_t max_len;  /* longest match, WARD_PAT_INF when unbounded */
    bool has_left_edge;  /* zero-width test before the start */
    bool has_right_edge; /* zero-width test after the end */
    bool never;          /* can never match (an impossible {n-m}, an empty negation) */
    bool scan_superset;  /* the scan form over-matches: hits need the exact form */
    bool all_static;     /* literal bytes only: ClamAV's Boyer-Moore class */
};

/*
 * Parse `hex` (len bytes, not NUL-terminated) with the given modifiers.
 * On error, diag holds a reason without file/line (the caller adds them).
 */
ward_err ward_pattern_parse(const char *hex, size_t len, unsigned mods, ward_pattern **out,
                            struct ward_diag *diag) WARD_MUST_CHECK;
void ward_pattern_free(ward_pattern *p);
void ward_pattern_info(const ward_pattern *p, struct ward_pattern_info *info);

/* Scan form (Vectorscan syntax; compile with HS_FLAG_DOTALL, plus CASELESS for ::i). */
ward_err ward_pattern_emit_scan(const ward_pattern *p, ward_buf *out) WARD_MUST_CHECK;
/* Exact form (PCRE2 syntax; compile with DOTALL, plus CASELESS for ::i). */
ward_err ward_pattern_emit_exact(const ward_pattern *p, ward_buf *out) WARD_MUST_CHECK;
/*
 * Parts: a signature is cut at its splitting gaps (`*`, `{n-m}` and the like)
 * into parts that can be compiled on their own. ward_pattern_emit_part()
 * writes part i's Vectorscan form (edge tests taking their byte) and fills
 * `info`: the gap allowed before the part (from the end of part i-1 to the
 * start of part i; WARD_PAT_INF for no limit) and whether the form is exact.
 * A part's length comes from Vectorscan (hs_expression_info) on that form.
 */
struct ward_pattern_part {
    uint32_t gap_min, gap_max;
    bool exact;
};

unsigned ward_pattern_part_count(const ward_pattern *p);
ward_err ward_pattern_emit_part(const ward_pattern *p, unsigned i, ward_buf *out,
                                struct ward_pattern_part *info) WARD_MUST_CHECK;

/* Was the pattern parsed with ::i? */
bool ward_pattern_nocase(const ward_pattern *p);

#endif
