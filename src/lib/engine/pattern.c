/* pattern.c - ClamAV hex body signatures: parser, checks and regex emitters. */
#include "engine/pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/limits.h"
#include "util/strutil.h"

enum node_kind { N_BYTE, N_CLASS, N_GAP, N_ALT, N_SPEC };
enum spec_kind { SP_B, SP_L, SP_W };

/*
 * libclamav splits a signature at `*` and `{}` ranges and reads each part on
 * its own, so (B), (L) and (W) at the start (not negated) or at the end of a
 * PART are zero-width tests of the byte outside the part, exactly as at the
 * ends of the whole signature: `aa{-5}(W)bbcc` is up to 5 bytes, then bbcc
 * with a non-alphanumeric byte before it (the gap's last byte).
 */
enum { PART_LEFT = 1, PART_RIGHT = 2 };

/* ClamAV's boundary table: which bytes count as a word boundary for (B). */
#define BND_LEFT 1u  /* may precede a match: value 1 or 3 */
#define BND_RIGHT 2u /* may follow a match: value 2 or 3 */

struct node {
    uint8_t kind;
    uint8_t neg;
    uint8_t spec;
    uint8_t byte;
    uint8_t split; /* a gap that splits the signature into parts */
    uint8_t edge;  /* N_SPEC at a part's edge: PART_LEFT or PART_RIGHT */
    uint8_t nibble; /* N_CLASS from `a?` or `?a`: ::i does not fold its case */
    uint8_t brace;  /* N_GAP written with {} */
    uint32_t min, max;
    uint32_t cls;             /* N_CLASS: index into classes */
    uint32_t alt_first, alt_n; /* N_ALT: sequences alts[alt_first..+alt_n] */
};

struct seq {
    uint32_t first, n; /* items[first..first+n) */
};

struct ward_pattern {
    struct node *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *items;
    uint32_t n_items, cap_items;
    struct seq *alts;
    uint32_t n_alts, cap_alts;
    uint8_t (*classes)[32];
    uint32_t n_classes, cap_classes;
    struct seq body;
    unsigned mods;
    /* Left edge: a zero-width test before the first byte. */
    int left_spec;       /* -1 or enum spec_kind */
    int left_anchor;     /* -1 or the byte of an `aa[n-m]` anchor */
    uint32_t anchor_min, anchor_max;
    /* Right edge. */
    int right_spec;
    bool right_neg;
    bool never;
    bool scan_superset; /* the scan form over-matches (long negations): confirm hits */
};

struct parser {
    ward_pattern *p;
    const char *s;
    size_t len, pos;
    unsigned depth;
    const char *err;
};

#define NEG_TRIE_MAX 32 /* see emit_negated_alt */

/* ---- storage ---------------------------------------------------------- */

static bool grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint32_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > WARD_SIG_MAX_PATTERN_NODES * 4)
            return false;
        n *= 2;
    }
    void *q = realloc(*arr, (size_t)n * elem);
    if (!q)
        return false;
    *arr = q;
    *cap = n;
    return true;
}

static int new_node(struct parser *ps, uint8_t kind)
{
    ward_pattern *p = ps->p;
    if (p->n_nodes >= WARD_SIG_MAX_PATTERN_NODES) {
        ps->err = "signature too long";
        return -1;
    }
    if (!grow((void **)&p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof *p->nodes)) {
        ps->err = "out of memory";
        return -1;
    }
    struct node *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return (int)p->n_nodes++;
}

static int new_class(struct parser *ps)
{
    ward_pattern *p = ps->p;
    if (!grow((void **)&p->classes, &p->cap_classes, p->n_classes + 1, sizeof *p->classes)) {
        ps->err = "out of memory";
        return -1;
    }
    memset(p->classes[p->n_classes], 0, 32);
    return (int)p->n_classes++;
}

static void cls_set(uint8_t *c, unsigned b)
{
    c[b >> 3] |= (uint8_t)(1u << (b & 7));
}

static bool cls_has(const uint8_t *c, unsigned b)
{
    return c[b >> 3] >> (b & 7) & 1;
}

static unsigned cls_count(const uint8_t *c)
{
    unsigned n = 0;
    for (int i = 0; i < 32; i++)
        n += (unsigned)__builtin_popcount(c[i]);
    return n;
}

/* Append a finished sequence (list of node indexes) to items. */
static bool store_seq(struct parser *ps, const uint32_t *tmp, uint32_t n, struct seq *out)
{
    ward_pattern *p = ps->p;
    if (!grow((void **)&p->items, &p->cap_items, p->n_items + n, sizeof *p->items)) {
        ps->err = "out of memory";
        return false;
    }
    if (n)
        memcpy(p->items + p->n_items, tmp, n * sizeof *tmp);
    out->first = p->n_items;
    out->n = n;
    p->n_items += n;
    return true;
}

/* ---- parser ------------------------------------------------------------ */

static bool parse_seq(struct parser *ps, bool in_alt, struct seq *out);

static bool parse_num(struct parser *ps, uint32_t *v)
{
    uint64_t x = 0;
    size_t start = ps->pos;
    while (ps->pos < ps->len && ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
        x = x * 10 + (uint64_t)(ps->s[ps->pos] - '0');
        if (x > WARD_SIG_MAX_GAP) {
            ps->err = "wildcard range too large";
            return false;
        }
        ps->pos++;
    }
    *v = (uint32_t)x;
    return ps->pos > start;
}

/* `{n}`, `{-n}`, `{n-}`, `{n-m}` after the opening brace. */
static int parse_brace(struct parser *ps)
{
    uint32_t lo = 0, hi = 0;
    bool has_lo = parse_num(ps, &lo), dash = false, has_hi = false;
    if (ps->err)
        return -1;
    if (ps->pos < ps->len && ps->s[ps->pos] == '-') {
        dash = true;
        ps->pos++;
        has_hi = parse_num(ps, &hi);
        if (ps->err)
            return -1;
    }
    if (ps->pos >= ps->len || ps->s[ps->pos] != '}' || (!has_lo && !has_hi)) {
        ps->err = "malformed {} wildcard";
        return -1;
    }
    ps->pos++;
    int id = new_node(ps, N_GAP);
    if (id < 0)
        return -1;
    struct node *n = &ps->p->nodes[id];
    n->split = 1;
    n->brace = 1;
    if (!dash) {
        n->min = n->max = lo;
        if (lo > 0 && lo < 128)
            n->split = 0; /* ClamAV rewrites small {n} as n "??" */
    } else {
        n->min = has_lo ? lo : 0;
        n->max = has_hi ? hi : WARD_PAT_INF;
    }
    /* libclamav treats a maximum distance of 0 as "no limit": {0}, {0-0}, {-0}. */
    if (n->max == 0)
        n->max = WARD_PAT_INF;
    if (n->min > n->max)
        ps->p->never = true;
    return id;
}

/* `[n]` or `[n-m]`: a short range that does not split the signature. */
static int parse_bracket(struct parser *ps)
{
    uint32_t lo = 0, hi;
    if (!parse_num(ps, &lo)) {
        ps->err = ps->err ? ps->err : "malformed [] range";
        return -1;
    }
    hi = lo;
    if (ps->pos < ps->len && ps->s[ps->pos] == '-') {
        ps->pos++;
        if (!parse_num(ps, &hi)) {
            ps->err = ps->err ? ps->err : "malformed [] range";
            return -1;
        }
    }
    if (ps->pos >= ps->len || ps->s[ps->pos] != ']') {
        ps->err = "malformed [] range";
        return -1;
    }
    ps->pos++;
    if (lo > hi || hi > 32) {
        ps->err = "[n-m] range must have n <= m <= 32";
        return -1;
    }
    int id = new_node(ps, N_GAP);
    if (id < 0)
        return -1;
    ps->p->nodes[id].min = lo;
    ps->p->nodes[id].max = hi;
    ps->p->nodes[id].split = 0;
    ps->p->nodes[id].neg = 1; /* marks an anchor range */
    return id;
}

/* A two-character byte unit: `xx`, `??`, `x?`, `?x`. */
static int parse_unit(struct parser *ps)
{
    if (ps->len - ps->pos < 2) {
        ps->err = "odd number of hex digits";
        return -1;
    }
    unsigned char a = (unsigned char)ps->s[ps->pos], b = (unsigned char)ps->s[ps->pos + 1];
    int ha = ward_hexval(a), hb = ward_hexval(b);
    if ((ha < 0 && a != '?') || (hb < 0 && b != '?')) {
        ps->err = "invalid character in hex signature";
        return -1;
    }
    ps->pos += 2;
    if (ha >= 0 && hb >= 0) {
        int id = new_node(ps, N_BYTE);
        if (id >= 0)
            ps->p->nodes[id].byte = (uint8_t)(ha << 4 | hb);
        return id;
    }
    int id = new_node(ps, N_CLASS);
    int c = id < 0 ? -1 : new_class(ps);
    if (c < 0)
        return -1;
    ps->p->nodes[id].cls = (uint32_t)c;
    ps->p->nodes[id].nibble = 1;
    for (unsigned v = 0; v < 256; v++)
        if ((ha < 0 || (v >> 4) == (unsigned)ha) && (hb < 0 || (v & 15) == (unsigned)hb))
            cls_set(ps->p->classes[c], v);
    return id;
}

static bool seq_all_bytes(const ward_pattern *p, const struct seq *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (p->nodes[p->items[s->first + i]].kind != N_BYTE)
            return false;
    return true;
}

/* `(...)` or `!(...)` after the opening parenthesis. */
static int parse_group(struct parser *ps, bool neg)
{
    static const char specs[] = "BLW";
    if (ps->len - ps->pos >= 2 && ps->s[ps->pos + 1] == ')') {
        const char *k = memchr(specs, ps->s[ps->pos], 3);
        if (k && ps->s[ps->pos]) {
            ps->pos += 2;
            int id = new_node(ps, N_SPEC);
            if (id >= 0) {
                ps->p->nodes[id].spec = (uint8_t)(k - specs);
                ps->p->nodes[id].neg = neg;
            }
            return id;
        }
    }
    if (++ps->depth > 15) {
        ps->err = "alternatives nested too deeply";
        return -1;
    }
    struct seq alts[256];
    uint32_t n = 0;
    for (;;) {
        if (n == sizeof alts / sizeof *alts) {
            ps->err = "too many alternatives";
            return -1;
        }
        if (!parse_seq(ps, true, &alts[n]))
            return -1;
        if (alts[n].n == 0) {
            ps->err = "empty alternative";
            return -1;
        }
        n++;
        if (ps->pos >= ps->len) {
            ps->err = "unterminated alternative group";
            return -1;
        }
        char c = ps->s[ps->pos++];
        if (c == ')')
            break;
        if (c != '|') {
            ps->err = "malformed alternative group";
            return -1;
        }
    }
    ps->depth--;

    ward_pattern *p = ps->p;
    bool single = true, fixed = true;
    for (uint32_t i = 0; i < n; i++) {
        const struct node *first = &p->nodes[p->items[alts[i].first]];
        if (alts[i].n != 1 || (first->kind != N_BYTE && first->kind != N_CLASS))
            single = false;
        if (!seq_all_bytes(p, &alts[i]) || alts[i].n != alts[0].n)
            fixed = false;
        /* With ::i, `(4?|62)` is 4? exactly or b in either case: keep apart. */
        if ((p->mods & WARD_PAT_NOCASE) && !neg && first->kind == N_CLASS && first->nibble)
            single = false;
    }
    if (single) {
        /* One byte from a set: fold into a class (negated: its complement). */
        int id = new_node(ps, N_CLASS);
        int c = id < 0 ? -1 : new_class(ps);
        if (c < 0)
            return -1;
        uint8_t *set = p->classes[c];
        for (uint32_t i = 0; i < n; i++) {
            const struct node *e = &p->nodes[p->items[alts[i].first]];
            if (e->kind == N_BYTE) {
                cls_set(set, e->byte);
            } else {
                for (int k = 0; k < 32; k++)
                    set[k] |= p->classes[e->cls][k];
            }
        }
        if (neg)
            for (int k = 0; k < 32; k++)
                set[k] = (uint8_t)~set[k];
        if (cls_count(set) == 0)
            p->never = true; /* no byte is left: the signature cannot match */
        p->nodes[id].cls = (uint32_t)c;
        return id;
    }
    if (neg && !fixed) {
        ps->err = "negation needs alternatives of equal length without wildcards";
        return -1;
    }
    if (!grow((void **)&p->alts, &p->cap_alts, p->n_alts + n, sizeof *p->alts)) {
        ps->err = "out of memory";
        return -1;
    }
    int id = new_node(ps, N_ALT);
    if (id < 0)
        return -1;
    memcpy(p->alts + p->n_alts, alts, n * sizeof *alts);
    p->nodes[id].alt_first = p->n_alts;
    p->nodes[id].alt_n = n;
    p->nodes[id].neg = neg;
    if (neg && alts[0].n > NEG_TRIE_MAX)
        p->scan_superset = true;
    p->n_alts += n;
    return id;
}

static bool parse_seq(struct parser *ps, bool in_alt, struct seq *out)
{
    uint32_t *tmp = NULL, n = 0, cap = 0;
    bool ok = false;
    while (ps->pos < ps->len) {
        char c = ps->s[ps->pos];
        int id;
        if (in_alt && (c == '|' || c == ')'))
            break;
        if (c == '*' || c == '{' || c == '[') {
            if (in_alt) {
                ps->err = "wildcard ranges are not allowed inside alternatives";
                goto out;
            }
            ps->pos++;
            if (c == '*') {
                id = new_node(ps, N_GAP);
                if (id >= 0) {
                    ps->p->nodes[id].max = WARD_PAT_INF;
                    ps->p->nodes[id].split = 1;
                }
            } else {
                id = c == '{' ? parse_brace(ps) : parse_bracket(ps);
            }
        } else if (c == '(') {
            ps->pos++;
            id = parse_group(ps, false);
        } else if (c == '!') {
            if (ps->len - ps->pos < 2 || ps->s[ps->pos + 1] != '(') {
                ps->err = "'!' must be followed by '('";
                goto out;
            }
            ps->pos += 2;
            id = parse_group(ps, true);
        } else {
            id = parse_unit(ps);
        }
        if (id < 0)
            goto out;
        if (!grow((void **)&tmp, &cap, n + 1, sizeof *tmp)) {
            ps->err = "out of memory";
            goto out;
        }
        tmp[n++] = (uint32_t)id;
    }
    ok = store_seq(ps, tmp, n, out);
out:
    free(tmp);
    return ok;
}

/* ---- checks ------------------------------------------------------------ */

static unsigned unit_width(const ward_pattern *p)
{
    return (p->mods & WARD_PAT_WIDE) ? 2 : 1;
}

static void seq_lengths(const ward_pattern *p, const struct seq *s, uint64_t *mn, uint64_t *mx);

static void node_lengths(const ward_pattern *p, const struct node *n, uint64_t *mn, uint64_t *mx)
{
    *mn = *mx = 0;
    switch (n->kind) {
    case N_BYTE:
    case N_CLASS:
        *mn = *mx = unit_width(p);
        return;
    case N_GAP:
        *mn = n->min;
        *mx = n->max == WARD_PAT_INF ? UINT64_MAX : n->max;
        return;
    case N_SPEC:
        if (n->edge)
            return; /* zero-width */
        *mn = 1;
        *mx = (n->spec == SP_L && !n->neg) ? 2 : 1;
        return;
    case N_ALT: {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint32_t i = 0; i < n->alt_n; i++) {
            uint64_t a, b;
            seq_lengths(p, &p->alts[n->alt_first + i], &a, &b);
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        *mn = lo;
        *mx = hi;
        return;
    }
    }
}

static void seq_lengths(const ward_pattern *p, const struct seq *s, uint64_t *mn, uint64_t *mx)
{
    uint64_t lo = 0, hi = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t a = 0, b = 0;
        node_lengths(p, &p->nodes[p->items[s->first + i]], &a, &b);
        lo += a;
        hi = (hi == UINT64_MAX || b == UINT64_MAX) ? UINT64_MAX : hi + b;
    }
    *mn = lo;
    *mx = hi;
}

/*
 * ClamAV needs a run of two literal bytes in every part of a signature (the
 * parts are what `*` and `{}` separate) to place it in its Aho-Corasick trie.
 * A wide signature is checked in its expanded form, as ClamAV does.
 */
static const char *check_static_runs(const ward_pattern *p)
{
    unsigned run = 0, best = 0;
    bool wide = p->mods & WARD_PAT_WIDE;
    for (uint32_t i = 0; i <= p->body.n; i++) {
        const struct node *n = i < p->body.n ? &p->nodes[p->items[p->body.first + i]] : NULL;
        if (!n || (n->kind == N_GAP && n->split)) {
            if (best < 2)
                return "a signature part needs at least two consecutive literal bytes";
            run = best = 0;
            continue;
        }
        if (n->kind == N_BYTE) {
            run += wide ? 2 : 1;
        } else if (n->kind == N_CLASS && wide) {
            run = 1; /* the 00 after the class is literal */
        } else if (n->kind == N_GAP && n->max == 0) {
            /* no bytes */
        } else {
            run = 0;
        }
        if (run > best)
            best = run;
    }
    return NULL;
}

static bool is_split_gap(const ward_pattern *p, const struct seq *s, uint32_t i)
{
    const struct node *n = &p->nodes[p->items[s->first + i]];
    return n->kind == N_GAP && n->split;
}

/*
 * libclamav rewrites `[n-m]` as `{n-m}` for ::f and ::w (one byte becomes two
 * in the wide form, so the single-byte anchor is gone): the range is then an
 * ordinary gap, one that splits the signature unless it is a short `{n}`.
 */
static void brackets_to_braces(ward_pattern *p)
{
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        struct node *n = &p->nodes[i];
        if (n->kind != N_GAP || !n->neg)
            continue;
        n->neg = 0;
        n->brace = 1;
        n->split = !(n->min == n->max && n->min > 0 && n->min < 128);
        if (n->max == 0)
            n->max = WARD_PAT_INF;
    }
}

/*
 * libclamav rewrites a short `{n}` as n `??` only while no other kind of
 * `{}` came before it in the signature: from the first `{n-m}`, `{-n}`,
 * `{n-}` or `{0}` on, every `{}` splits the signature into parts, short
 * `{n}` included (`aa{1-2}bb{2}cc` has three parts). Nodes are numbered in
 * the order of the text.
 */
static void split_later_braces(ward_pattern *p)
{
    bool splitting = false;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        struct node *n = &p->nodes[i];
        if (n->kind != N_GAP || !n->brace)
            continue;
        if (n->split)
            splitting = true;
        else if (splitting)
            n->split = 1;
    }
}

/* Mark the specials next to a splitting gap as part edges (see PART_LEFT). */
static void mark_part_edges(ward_pattern *p)
{
    const struct seq *b = &p->body;
    for (uint32_t i = 0; i < b->n; i++) {
        struct node *n = &p->nodes[p->items[b->first + i]];
        if (n->kind != N_SPEC)
            continue;
        if (i + 1 < b->n && is_split_gap(p, b, i + 1))
            n->edge = PART_RIGHT; /* libclamav tests the end first */
        else if (i > 0 && is_split_gap(p, b, i - 1) && !n->neg)
            n->edge = PART_LEFT;
    }
}

/* ---- public: parse ----------------------------------------------------- */

ward_err ward_pattern_parse(const char *hex, size_t len, unsigned mods, ward_pattern **out,
                            struct ward_diag *diag)
{
    ward_pattern *p = calloc(1, sizeof *p);
    if (!p)
        return WARD_ERR_NOMEM;
    p->mods = mods;
    p->left_spec = p->right_spec = p->left_anchor = -1;
    struct parser ps = {p, hex, len, 0, 0, NULL};

    if (len == 0)
        ps.err = "empty signature";
    else if (!parse_seq(&ps, false, &p->body) && !ps.err)
        ps.err = "malformed signature";
    else if (!ps.err && ps.pos != len)
        ps.err = "unbalanced ')'";

    if (!ps.err && (mods & (WARD_PAT_FULLWORD | WARD_PAT_WIDE)))
        brackets_to_braces(p);
    if (!ps.err)
        split_later_braces(p);
    if (!ps.err && (mods & WARD_PAT_FULLWORD)) {
        /*
         * libclamav implements ::f by writing "(W)" before and after the
         * signature, so a special already at either end is now inside it
         * (it takes a byte) and the edges are word tests.
         */
        p->left_spec = p->right_spec = SP_W;
        p->right_neg = false;
    } else if (!ps.err) {
        /* Edge tests: a special as the first item (not negated) or the last item. */
        struct seq *b = &p->body;
        if (b->n > 1) {
            struct node *f = &p->nodes[p->items[b->first]];
            if (f->kind == N_SPEC && !f->neg) {
                p->left_spec = f->spec;
                b->first++;
                b->n--;
            }
        }
        if (b->n > 1) {
            struct node *l = &p->nodes[p->items[b->first + b->n - 1]];
            if (l->kind == N_SPEC) {
                p->right_spec = l->spec;
                p->right_neg = l->neg;
                b->n--;
            }
        }
        /* `aa[n-m]` at the very start: the byte is tested, not part of the match. */
        if (b->n > 2) {
            struct node *f = &p->nodes[p->items[b->first]];
            struct node *g = &p->nodes[p->items[b->first + 1]];
            if (f->kind == N_BYTE && g->kind == N_GAP && g->neg) {
                p->left_anchor = f->byte;
                p->anchor_min = g->min;
                p->anchor_max = g->max;
                b->first += 2;
                b->n -= 2;
            }
        }
    }
    if (!ps.err) {
        struct seq *b = &p->body;
        mark_part_edges(p);
        uint64_t mn, mx;
        seq_lengths(p, b, &mn, &mx);
        if (b->n == 0 || mn + (p->left_anchor >= 0) < 2)
            ps.err = "signature too short";
        else
            ps.err = check_static_runs(p);
        if (!ps.err && b->n) {
            const struct node *f = &p->nodes[p->items[b->first]];
            const struct node *l = &p->nodes[p->items[b->first + b->n - 1]];
            if ((f->kind == N_GAP) || (l->kind == N_GAP))
                ps.err = "signature cannot start or end with a wildcard range";
        }
    }
    if (ps.err) {
        ward_pattern_free(p);
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s", ps.err);
    }
    *out = p;
    return WARD_OK;
}

void ward_pattern_free(ward_pattern *p)
{
    if (!p)
        return;
    free(p->nodes);
    free(p->items);
    free(p->alts);
    free(p->classes);
    free(p);
}

bool ward_pattern_nocase(const ward_pattern *p)
{
    return p->mods & WARD_PAT_NOCASE;
}

void ward_pattern_info(const ward_pattern *p, struct ward_pattern_info *info)
{
    uint64_t mn, mx;
    seq_lengths(p, &p->body, &mn, &mx);
    if ((p->mods & (WARD_PAT_WIDE | WARD_PAT_ASCII)) == (WARD_PAT_WIDE | WARD_PAT_ASCII)) {
        /* both forms: ASCII is the shorter one */
        uint64_t half = 0;
        for (uint32_t i = 0; i < p->body.n; i++) {
            const struct node *n = &p->nodes[p->items[p->body.first + i]];
            uint64_t a = 0, b = 0;
            node_lengths(p, n, &a, &b);
            half += (n->kind == N_BYTE || n->kind == N_CLASS) ? 1 : a;
        }
        mn = half;
    }
    info->min_len = mn > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)mn;
    info->max_len = mx >= WARD_PAT_INF ? WARD_PAT_INF : (uint32_t)mx;
    info->has_left_edge = p->left_spec >= 0 || p->left_anchor >= 0;
    info->has_right_edge = p->right_spec >= 0;
    info->never = p->never;
    info->scan_superset = p->scan_superset;
    info->all_static = !info->has_left_edge && !info->has_right_edge;
    for (uint32_t i = 0; i < p->body.n && info->all_static; i++)
        if (p->nodes[p->items[p->body.first + i]].kind != N_BYTE)
            info->all_static = false;
}

/* ---- emitters ---------------------------------------------------------- */

struct emitter {
    const ward_pattern *p;
    ward_buf *out;
    bool exact; /* PCRE2 with look-around, else Vectorscan superset */
    bool wide;
    ward_err err;
    bool consume_edges; /* a part on its own: edge tests take their byte (superset) */
};

static void put(struct emitter *e, const char *s)
{
    if (!e->err)
        e->err = ward_buf_puts(e->out, s);
    if (!e->err && e->out->len > WARD_SIG_MAX_REGEX)
        e->err = WARD_ERR_LIMIT;
}

static void put_byte(struct emitter *e, unsigned b)
{
    char s[8];
    static const char hex[] = "0123456789abcdef";
    s[0] = '\\';
    s[1] = 'x';
    s[2] = hex[b >> 4];
    s[3] = hex[b & 15];
    s[4] = 0;
    put(e, s);
}

static void put_class(struct emitter *e, const uint8_t *set)
{
    unsigned count = cls_count(set);
    if (count == 256) {
        put(e, ".");
        return;
    }
    if (count == 1) {
        for (unsigned v = 0; v < 256; v++)
            if (cls_has(set, v))
                put_byte(e, v);
        return;
    }
    bool neg = count > 128;
    put(e, neg ? "[^" : "[");
    for (unsigned v = 0; v < 256;) {
        if (cls_has(set, v) == neg) {
            v++;
            continue;
        }
        unsigned w = v;
        while (w + 1 < 256 && cls_has(set, w + 1) != neg)
            w++;
        put_byte(e, v);
        if (w > v) {
            if (w > v + 1)
                put(e, "-");
            put_byte(e, w);
        }
        v = w + 1;
    }
    put(e, "]");
}

static void put_repeat(struct emitter *e, uint32_t lo, uint32_t hi)
{
    char s[48];
    if (lo == 0 && hi == WARD_PAT_INF)
        snprintf(s, sizeof s, "*");
    else if (hi == WARD_PAT_INF)
        snprintf(s, sizeof s, "{%u,}", lo);
    else if (lo == hi)
        snprintf(s, sizeof s, "{%u}", lo);
    else
        snprintf(s, sizeof s, "{%u,%u}", lo, hi);
    put(e, s);
}

/*
 * lo..hi arbitrary bytes; nothing for none (Vectorscan refuses `.{0}`).
 * Counts above 65535 (PCRE2's largest) are written as a run of repeats.
 */
static void put_gap(struct emitter *e, uint32_t lo, uint32_t hi)
{
    const uint32_t most = 65535;
    if (lo == 0 && hi == 0)
        return;
    while (lo > most && !e->err) {
        put(e, ".");
        put_repeat(e, most, most);
        lo -= most;
        if (hi != WARD_PAT_INF)
            hi -= most;
    }
    if (hi == WARD_PAT_INF || hi <= most) {
        if (lo || hi) {
            put(e, ".");
            put_repeat(e, lo, hi);
        }
        return;
    }
    /* lo <= most < hi: the fixed part, then optional runs */
    put(e, ".");
    put_repeat(e, lo, most);
    for (uint32_t rest = hi - most; rest && !e->err;) {
        uint32_t k = rest > most ? most : rest;
        put(e, ".");
        put_repeat(e, 0, k);
        rest -= k;
    }
}

/* The bytes (B) accepts at the left edge, right edge or in the middle. */
static void boundary_class(unsigned where, uint8_t *set)
{
    static const char left[] = " -./<@_";
    static const char right[] = "\n\r \"'-/=>_";
    memset(set, 0, 32);
    if (where & BND_LEFT)
        for (const char *c = left; *c; c++)
            cls_set(set, (unsigned char)*c);
    if (where & BND_RIGHT)
        for (const char *c = right; *c; c++)
            cls_set(set, (unsigned char)*c);
}

static void nonalnum_class(uint8_t *set)
{
    memset(set, 0, 32);
    for (unsigned v = 0; v < 256; v++)
        if (!((v >= '0' && v <= '9') || (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z')))
            cls_set(set, v);
}

static void emit_seq(struct emitter *e, const struct seq *s);
static void put_gap(struct emitter *e, uint32_t lo, uint32_t hi);

/*
 * The complement of a set of equal-length literal strings, as a regex that
 * matches exactly the strings of that length not in the set: walk the trie
 * of the set; at each node, any byte that leaves the trie is followed by
 * arbitrary bytes for the rest of the length.
 */
static void emit_complement(struct emitter *e, uint8_t **strs, uint32_t n, uint32_t len,
                            uint32_t depth)
{
    uint8_t seen[32] = {0};
    for (uint32_t i = 0; i < n; i++)
        cls_set(seen, strs[i][depth]);
    put(e, "(?:");
    bool first = true;
    if (cls_count(seen) < 256) {
        uint8_t rest[32];
        for (int k = 0; k < 32; k++)
            rest[k] = (uint8_t)~seen[k];
        put_class(e, rest);
        if (len - depth - 1 > 0) {
            put(e, ".");
            put_repeat(e, len - depth - 1, len - depth - 1);
        }
        first = false;
    }
    if (depth + 1 < len) {
        for (unsigned b = 0; b < 256; b++) {
            if (!cls_has(seen, b))
                continue;
            uint8_t **sub = malloc(n * sizeof *sub);
            if (!sub) {
                e->err = WARD_ERR_NOMEM;
                return;
            }
            uint32_t m = 0;
            for (uint32_t i = 0; i < n; i++)
                if (strs[i][depth] == b)
                    sub[m++] = strs[i];
            if (!first)
                put(e, "|");
            first = false;
            put_byte(e, b);
            emit_complement(e, sub, m, len, depth + 1);
            free(sub);
        }
    }
    if (first)
        put(e, "(?!)"); /* the set holds every string: nothing matches */
    put(e, ")");
}

/* Negations longer than NEG_TRIE_MAX are written as a look-ahead (exact form)
   and as any bytes (scan form), not as the trie of their complement, whose
   depth grows with the length. */

static void emit_negated_alt(struct emitter *e, const struct node *n)
{
    const ward_pattern *p = e->p;
    uint32_t plen = p->alts[n->alt_first].n, w = e->wide ? 2 : 1, len = plen * w;
    if (plen > NEG_TRIE_MAX) {
        if (e->exact) {
            put(e, "(?!(?:");
            for (uint32_t i = 0; i < n->alt_n; i++) {
                const struct seq *s = &p->alts[n->alt_first + i];
                if (i)
                    put(e, "|");
                for (uint32_t k = 0; k < plen; k++) {
                    put_byte(e, p->nodes[p->items[s->first + k]].byte);
                    if (w == 2)
                        put(e, "\\x00");
                }
            }
            put(e, "))");
        }
        put_gap(e, len, len);
        return;
    }
    uint8_t **strs = calloc(n->alt_n, sizeof *strs);
    uint8_t *store = calloc((size_t)n->alt_n, len ? len : 1);
    if (!strs || !store) {
        free(strs);
        free(store);
        e->err = WARD_ERR_NOMEM;
        return;
    }
    for (uint32_t i = 0; i < n->alt_n; i++) {
        const struct seq *s = &p->alts[n->alt_first + i];
        strs[i] = store + (size_t)i * len;
        for (uint32_t k = 0; k < plen; k++) {
            strs[i][k * w] = p->nodes[p->items[s->first + k]].byte;
            if (w == 2)
                strs[i][k * w + 1] = 0;
        }
    }
    emit_complement(e, strs, n->alt_n, len, 0);
    free(strs);
    free(store);
}

static void emit_node(struct emitter *e, const struct node *n)
{
    const ward_pattern *p = e->p;
    uint8_t set[32];
    switch (n->kind) {
    case N_BYTE:
        put_byte(e, n->byte);
        if (e->wide)
            put(e, "\\x00");
        return;
    case N_CLASS:
        /* libclamav compares nibbles without ::i's case folding */
        if (n->nibble && (p->mods & WARD_PAT_NOCASE))
            put(e, "(?-i:");
        put_class(e, p->classes[n->cls]);
        if (n->nibble && (p->mods & WARD_PAT_NOCASE))
            put(e, ")");
        if (e->wide)
            put(e, "\\x00");
        return;
    case N_GAP:
        put_gap(e, n->min, n->max);
        return;
    case N_SPEC:
        if (n->spec == SP_L) {
            /* !(L) takes one byte unless it starts a line end; a CR not
               followed by LF is such a byte (libclamav checks for CRLF). */
            put(e, n->neg ? "(?:[^\\x0a\\x0d]|\\x0d(?!\\x0a))" : "(?:\\x0a|\\x0d\\x0a)");
            return;
        }
        if (n->spec == SP_B)
            boundary_class(BND_LEFT | BND_RIGHT, set);
        else
            nonalnum_class(set);
        if (n->neg)
            for (int k = 0; k < 32; k++)
                set[k] = (uint8_t)~set[k];
        put_class(e, set);
        return;
    case N_ALT:
        if (n->neg) {
            emit_negated_alt(e, n);
            return;
        }
        put(e, "(?:");
        for (uint32_t i = 0; i < n->alt_n; i++) {
            if (i)
                put(e, "|");
            emit_seq(e, &p->alts[n->alt_first + i]);
        }
        put(e, ")");
        return;
    }
}

static void edge_class(int spec, unsigned side, uint8_t *set);

/* Can a part-edge test be folded into the byte of the gap next to it? */
static bool edge_foldable(const struct node *n, unsigned side)
{
    /* (L) after a part is LF or CRLF: two bytes, so not a single class */
    return n && n->kind == N_SPEC && n->edge == side && !(side == PART_RIGHT && n->spec == SP_L);
}

/* The bytes a part-edge test accepts in the byte it tests. */
static void edge_test_class(const struct node *n, uint8_t *set)
{
    edge_class(n->spec, n->edge == PART_LEFT ? BND_LEFT : BND_RIGHT, set);
    if (n->neg)
        for (int k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
}

static void emit_wide_word_left(struct emitter *e);
static void emit_wide_word_right(struct emitter *e, bool neg);

/* A part-edge test as a look-around (Vectorscan takes it in prefilter mode only). */
static void emit_edge_test(struct emitter *e, const struct node *n)
{
    uint8_t set[32];
    if (e->consume_edges) {
        /* A part compiled alone: the tested byte belongs to the gap and is
           taken here (a superset; the whole signature is confirmed later). */
        if (n->spec == SP_L && n->edge == PART_RIGHT && !n->neg)
            put(e, "(?:\\x0a|\\x0d\\x0a)");
        else if (n->spec == SP_W && e->wide)
            put(e, "..");
        else {
            edge_test_class(n, set);
            put_class(e, set);
        }
        return;
    }
    if (n->spec == SP_W && e->wide) {
        /* the UTF-16 reading of (W), as at the ends of a wide signature */
        bool exact = e->exact;
        e->exact = true;
        if (n->edge == PART_LEFT)
            emit_wide_word_left(e);
        else
            emit_wide_word_right(e, n->neg);
        e->exact = exact;
        return;
    }
    if (n->spec == SP_L && n->edge == PART_RIGHT) {
        put(e, n->neg ? "(?!\\x0a|\\x0d\\x0a)" : "(?=\\x0a|\\x0d\\x0a)");
        return;
    }
    edge_test_class(n, set);
    put(e, n->edge == PART_LEFT ? "(?<=" : "(?=");
    put_class(e, set);
    put(e, ")");
}

/*
 * A splitting gap with the part-edge tests around it folded in where the gap
 * is long enough: the byte after the left part is the gap's first byte and
 * the byte before the right part its last, so `X(B){2-5}Y` is
 * X[right class].{0,3}Y. Tests that do not fold are emitted as look-around.
 */
static void emit_split_gap(struct emitter *e, const struct node *r, const struct node *g,
                           const struct node *l)
{
    uint32_t need = (r != NULL) + (l != NULL);
    uint8_t set[32];
    if (g->min < need) {
        if (r)
            emit_edge_test(e, r);
        emit_node(e, g);
        if (l)
            emit_edge_test(e, l);
        return;
    }
    if (r) {
        edge_test_class(r, set);
        put_class(e, set);
    }
    put_gap(e, g->min - need, g->max == WARD_PAT_INF ? WARD_PAT_INF : g->max - need);
    if (l) {
        edge_test_class(l, set);
        put_class(e, set);
    }
}

static void emit_seq(struct emitter *e, const struct seq *s)
{
    const ward_pattern *p = e->p;
    for (uint32_t i = 0; i < s->n && !e->err; i++) {
        const struct node *n = &p->nodes[p->items[s->first + i]];
        const struct node *next = i + 1 < s->n ? &p->nodes[p->items[s->first + i + 1]] : NULL;
        const struct node *after = i + 2 < s->n ? &p->nodes[p->items[s->first + i + 2]] : NULL;
        /* a wide (W) tests two bytes: it never folds into one */
        bool fold_n = edge_foldable(n, PART_RIGHT) && !(e->wide && n->spec == SP_W);
        bool fold_next = edge_foldable(next, PART_LEFT) && !(e->wide && next->spec == SP_W);
        bool fold_after = edge_foldable(after, PART_LEFT) && !(e->wide && after->spec == SP_W);
        if (n->kind == N_SPEC && n->edge) {
            if (fold_n && next && next->kind == N_GAP && next->split) {
                emit_split_gap(e, n, next, fold_after ? after : NULL);
                i += fold_after ? 2 : 1;
            } else {
                emit_edge_test(e, n);
            }
            continue;
        }
        if (n->kind == N_GAP && n->split && fold_next) {
            emit_split_gap(e, NULL, n, next);
            i++;
            continue;
        }
        emit_node(e, n);
    }
}

/* The class an edge test accepts next to the match (left or right side). */
static void edge_class(int spec, unsigned side, uint8_t *set)
{
    if (spec == SP_B) {
        boundary_class(side, set);
    } else if (spec == SP_W) {
        nonalnum_class(set);
    } else {
        memset(set, 0, 32);
        cls_set(set, '\n');
    }
}

/*
 * In a wide (::w) signature libclamav's (W) edge looks at the neighbouring
 * UTF-16 unit: the edge holds unless that unit is an ASCII letter or digit
 * followed by 00. Before the match, a start at offset 0 or 1 also passes;
 * after it, the end of data passes, and a single last byte must not be a
 * letter or digit.
 */
#define WIDE_ALNUM "[0-9A-Za-z]"

static void emit_wide_word_left(struct emitter *e)
{
    put(e, e->exact ? "(?<!" WIDE_ALNUM "\\x00)" : "(?:\\A|\\A.|[^0-9A-Za-z].|.[^\\x00])");
}

static void emit_wide_word_right(struct emitter *e, bool neg)
{
    if (neg)
        put(e, e->exact ? "(?=" WIDE_ALNUM "(?:\\x00|\\z))" : WIDE_ALNUM "(?:\\x00|\\z)");
    else
        /* (the consuming scan form has one way to match, or an ldb count
           made of Vectorscan's end offsets would count one match twice) */
        put(e, e->exact ? "(?=\\z|[^0-9A-Za-z]|.[^\\x00])"
                        : "(?:\\z|[^0-9A-Za-z]|" WIDE_ALNUM "[^\\x00])");
}

static void emit_left_edge(struct emitter *e)
{
    const ward_pattern *p = e->p;
    uint8_t set[32];
    if (p->left_spec < 0 && p->left_anchor < 0)
        return;
    if (p->left_spec == SP_W && p->left_anchor < 0 && e->wide) {
        emit_wide_word_left(e);
        return;
    }
    /* What must come before the match: [edge class or file start] [anchor byte + gap]. */
    if (e->exact) {
        if (p->left_anchor >= 0) {
            put(e, "(?<=");
            for (uint32_t k = p->anchor_min; k <= p->anchor_max; k++) {
                if (k > p->anchor_min)
                    put(e, "|");
                if (p->left_spec >= 0) {
                    edge_class(p->left_spec, BND_LEFT, set);
                    put(e, "(?:\\A|(?<=");
                    put_class(e, set);
                    put(e, "))");
                }
                put_byte(e, (unsigned)p->left_anchor);
                if (k)
                    put(e, "."), put_repeat(e, k, k);
            }
            put(e, ")");
        } else {
            edge_class(p->left_spec, BND_LEFT, set);
            put(e, "(?:\\A|(?<=");
            put_class(e, set);
            put(e, "))");
        }
        return;
    }
    if (p->left_spec >= 0) {
        edge_class(p->left_spec, BND_LEFT, set);
        put(e, "(?:\\A|");
        put_class(e, set);
        put(e, ")");
    }
    if (p->left_anchor >= 0) {
        put_byte(e, (unsigned)p->left_anchor);
        if (p->anchor_max)
            put(e, "."), put_repeat(e, p->anchor_min, p->anchor_max);
    }
}

static void emit_right_edge(struct emitter *e)
{
    const ward_pattern *p = e->p;
    uint8_t set[32];
    if (p->right_spec < 0)
        return;
    if (p->right_spec == SP_W && e->wide) {
        emit_wide_word_right(e, p->right_neg);
        return;
    }
    if (p->right_spec == SP_L && p->right_neg) {
        /* Not a line end (LF, CRLF, end of data): a lone CR is fine. */
        put(e, e->exact ? "(?=[^\\x0a\\x0d]|\\x0d(?!\\x0a))"
                        : "(?:[^\\x0a\\x0d]|\\x0d[^\\x0a]|\\x0d\\z)");
        return;
    }
    edge_class(p->right_spec, BND_RIGHT, set);
    if (p->right_neg) {
        /* Not (end of data or an edge byte): some other byte follows. */
        for (int k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
        put(e, e->exact ? "(?=" : "(?:");
        put_class(e, set);
        put(e, ")");
        return;
    }
    put(e, e->exact ? "(?=" : "(?:");
    put_class(e, set);
    if (p->right_spec == SP_L)
        put(e, "|\\x0d\\x0a");
    put(e, "|\\z)");
}

static ward_err emit(const ward_pattern *p, ward_buf *out, bool exact)
{
    struct emitter e = {p, out, exact, false, WARD_OK, false};
    unsigned m = p->mods & (WARD_PAT_WIDE | WARD_PAT_ASCII);
    /* Each form with its own edges: (W) reads differently next to a wide string. */
    if (m == (WARD_PAT_WIDE | WARD_PAT_ASCII))
        put(&e, "(?:");
    e.wide = m == WARD_PAT_WIDE;
    emit_left_edge(&e);
    emit_seq(&e, &p->body);
    emit_right_edge(&e);
    if (m == (WARD_PAT_WIDE | WARD_PAT_ASCII)) {
        put(&e, "|");
        e.wide = true;
        emit_left_edge(&e);
        emit_seq(&e, &p->body);
        emit_right_edge(&e);
        put(&e, ")");
    }
    e.wide = false;
    return e.err;
}

ward_err ward_pattern_emit_scan(const ward_pattern *p, ward_buf *out)
{
    return emit(p, out, false);
}

ward_err ward_pattern_emit_exact(const ward_pattern *p, ward_buf *out)
{
    return emit(p, out, true);
}

/* ---- parts --------------------------------------------------------------
 *
 * A signature with `*` or `{n-m}` gaps is compiled as its parts, each its own
 * Vectorscan expression; the matcher checks the order and the gaps from the
 * end offsets Vectorscan reports, as libclamav checks its parts. Vectorscan
 * then never builds the large automata that bounded repeats cost.
 */

unsigned ward_pattern_part_count(const ward_pattern *p)
{
    unsigned n = 1;
    for (uint32_t i = 0; i < p->body.n; i++)
        n += is_split_gap(p, &p->body, i);
    return n;
}

/* Items of part i: body items [*from, *to); *gap is the splitting gap before it. */
static void part_range(const ward_pattern *p, unsigned i, uint32_t *from, uint32_t *to,
                       const struct node **gap)
{
    unsigned k = 0;
    uint32_t start = 0;
    *gap = NULL;
    for (uint32_t j = 0; j <= p->body.n; j++) {
        if (j < p->body.n && !is_split_gap(p, &p->body, j))
            continue;
        if (k == i) {
            *from = start;
            *to = j;
            return;
        }
        k++;
        start = j + 1;
        if (j < p->body.n)
            *gap = &p->nodes[p->items[p->body.first + j]];
    }
    *from = *to = 0;
}

static bool part_has_edges(const ward_pattern *p, uint32_t from, uint32_t to)
{
    for (uint32_t j = from; j < to; j++) {
        const struct node *n = &p->nodes[p->items[p->body.first + j]];
        if (n->kind == N_SPEC && n->edge)
            return true;
    }
    return false;
}

ward_err ward_pattern_emit_part(const ward_pattern *p, unsigned i, ward_buf *out,
                                struct ward_pattern_part *info)
{
    unsigned count = ward_pattern_part_count(p);
    uint32_t from, to;
    const struct node *gap;
    part_range(p, i, &from, &to, &gap);
    struct seq sub = {p->body.first + from, to - from};
    struct emitter e = {p, out, false, false, WARD_OK, true};
    unsigned m = p->mods & (WARD_PAT_WIDE | WARD_PAT_ASCII);
    bool both = m == (WARD_PAT_WIDE | WARD_PAT_ASCII);
    if (both)
        put(&e, "(?:");
    for (int form = 0; form < (both ? 2 : 1); form++) {
        if (form)
            put(&e, "|");
        e.wide = both ? form == 1 : m == WARD_PAT_WIDE;
        if (i == 0)
            emit_left_edge(&e);
        emit_seq(&e, &sub);
        if (i + 1 == count)
            emit_right_edge(&e);
    }
    if (both)
        put(&e, ")");
    info->gap_min = gap ? gap->min : 0;
    info->gap_max = gap ? gap->max : 0;
    /* Exact when nothing in or next to the part was widened into a superset. */
    bool edges = part_has_edges(p, from, to);
    bool prev_edges = false;
    if (i > 0) {
        uint32_t pf, pt;
        const struct node *g2;
        part_range(p, i - 1, &pf, &pt, &g2);
        prev_edges = part_has_edges(p, pf, pt);
    }
    if (edges || prev_edges) {
        /* an edge byte taken by a part is a byte of the gap */
        info->gap_min = info->gap_min > 2 ? info->gap_min - 2 : 0;
    }
    info->exact = !edges && !both && !p->scan_superset &&
                  !(i == 0 && (p->left_spec >= 0 || p->left_anchor >= 0)) &&
                  !(i + 1 == count && p->right_spec >= 0);
    return e.err;
}
