/* lexpr.c - parse and evaluate ClamAV logical signature expressions. */
#include "engine/lexpr.h"

#include <stdlib.h>

#include "util/limits.h"

void ward_lexpr_pool_init(struct lexpr_pool *pool)
{
    pool->nodes = NULL;
    pool->n = pool->cap = 0;
}

void ward_lexpr_pool_free(struct lexpr_pool *pool)
{
    free(pool->nodes);
    ward_lexpr_pool_init(pool);
}

struct lx_parser {
    struct lexpr_pool *pool;
    const char *s;
    unsigned max_ids, max_id, depth;
    const char *why;
};

static int64_t new_lnode(struct lx_parser *ps)
{
    struct lexpr_pool *pool = ps->pool;
    if (pool->n == pool->cap) {
        uint32_t cap = pool->cap ? pool->cap * 2 : 256;
        struct lexpr_node *q = realloc(pool->nodes, cap * sizeof *q);
        if (!q) {
            ps->why = "out of memory";
            return -1;
        }
        pool->nodes = q;
        pool->cap = cap;
    }
    struct lexpr_node *n = &pool->nodes[pool->n];
    *n = (struct lexpr_node){0};
    return pool->n++;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal number at s[*pos], below `end`. */
static bool read_num(struct lx_parser *ps, size_t *pos, size_t end, uint32_t *v)
{
    uint64_t x = 0;
    size_t start = *pos;
    while (*pos < end && is_digit(ps->s[*pos])) {
        x = x * 10 + (uint64_t)(ps->s[(*pos)++] - '0');
        if (x > UINT32_MAX) {
            ps->why = "number too large in logical expression";
            return false;
        }
    }
    if (*pos == start) {
        ps->why = "number expected in logical expression";
        return false;
    }
    *v = (uint32_t)x;
    return true;
}

/* `op X[,Y]` at s[*pos] (the operator char included), below `end`. */
static bool read_mod(struct lx_parser *ps, size_t *pos, size_t end, struct lexpr_node *n)
{
    char op = ps->s[(*pos)++];
    uint32_t x, y = 0;
    if (!read_num(ps, pos, end, &x))
        return false;
    if (*pos < end && ps->s[*pos] == ',') {
        (*pos)++;
        if (!read_num(ps, pos, end, &y))
            return false;
    }
    n->mod = op == '=' ? LX_EQ : op == '>' ? LX_GT : LX_LT;
    n->x = x;
    n->y = y;
    return true;
}

static bool is_mod(char c)
{
    return c == '=' || c == '>' || c == '<';
}

/*
 * Parse s[a..b) the way libclamav's cli_ac_chklsig reads it, because the
 * grouping it picks is not what the grammar suggests:
 *   - an operator outside any parentheses splits the expression at the
 *     FIRST such operator; the right side is read again the same way
 *     (`0&1|2` is `0&(1|2)`);
 *   - with none, an expression that is one parenthesized block (with an
 *     optional count after it) splits at the LAST operator directly inside
 *     the block (`(0&1|2)` is `((0&1)|2)`, the left part then read again);
 *   - a block without an operator directly inside loses its first and last
 *     characters (`((0|1))` is `(0|1)`; `(0)>1` is malformed, as in ClamAV).
 * Junk that libclamav happens to skip (trailing characters, a second
 * count) is rejected here.
 */
static int64_t parse_range(struct lx_parser *ps, size_t a, size_t b)
{
    const char *s = ps->s;
    if (++ps->depth > WARD_SIG_MAX_EXPR_DEPTH * 4) {
        ps->why = "logical expression nested too deeply";
        return -1;
    }
    if (a >= b) {
        ps->why = "empty operand in logical expression";
        return -1;
    }
    unsigned pth = 0;
    size_t op_at = 0, op1_at = 0, blk_end = 0, mod_at = 0;
    bool op = false, op1 = false, blk_mod = false;
    for (size_t i = a; i < b; i++) {
        char c = s[i];
        if (c == '(') {
            pth++;
        } else if (c == ')') {
            if (!pth) {
                ps->why = "unbalanced ')' in logical expression";
                return -1;
            }
            pth--;
        } else if (c == '&' || c == '|') {
            if (!pth) {
                op = true;
                op_at = i;
                break;
            }
            if (pth == 1) {
                op1 = true; /* the last one inside the block wins */
                op1_at = i;
            }
        } else if (!is_digit(c) && !is_mod(c) && c != ',') {
            ps->why = "unexpected character in logical expression";
            return -1;
        }
        if (op1 && !pth) {
            /* a block closed: a count may follow; then the end or an operator */
            blk_end = i;
            if (i + 1 < b && is_mod(s[i + 1])) {
                blk_mod = true;
                mod_at = i + 1;
                for (i += 2; i < b && (is_digit(s[i]) || s[i] == ','); i++)
                    ;
                i--;
            }
            if (i + 1 == b)
                break;
            if (s[i + 1] != '&' && s[i + 1] != '|') {
                ps->why = "unexpected character after ')' in logical expression";
                return -1;
            }
            blk_mod = false;
        }
    }
    if (pth) {
        ps->why = "missing ')' in logical expression";
        return -1;
    }

    int64_t id;
    if (!op && !op1) {
        if (s[a] == '(') {
            id = parse_range(ps, a + 1, b - 1);
            ps->depth--;
            return id;
        }
        size_t pos = a;
        uint32_t v;
        if (!read_num(ps, &pos, b, &v))
            return -1;
        if (v >= ps->max_ids) {
            ps->why = "subsignature index out of range";
            return -1;
        }
        id = new_lnode(ps);
        if (id < 0)
            return -1;
        struct lexpr_node *n = &ps->pool->nodes[id];
        n->type = LX_LEAF;
        n->id = (uint16_t)v;
        if (v > ps->max_id || ps->max_id == UINT32_MAX)
            ps->max_id = v;
        if (pos < b && is_mod(s[pos]) && !read_mod(ps, &pos, b, n))
            return -1;
        if (pos != b) {
            ps->why = "unexpected character in logical expression";
            return -1;
        }
        ps->depth--;
        return id;
    }

    size_t l_start = a, r_end = b;
    if (!op) {
        op_at = op1_at;
        l_start = a + 1;
        r_end = blk_end;
    }
    int64_t left = parse_range(ps, l_start, op_at);
    if (left < 0)
        return -1;
    int64_t right = parse_range(ps, op_at + 1, r_end);
    if (right < 0)
        return -1;
    id = new_lnode(ps);
    if (id < 0)
        return -1;
    struct lexpr_node *n = &ps->pool->nodes[id];
    n->type = s[op_at] == '&' ? LX_AND : LX_OR;
    n->left = (uint32_t)left;
    n->right = (uint32_t)right;
    if (blk_mod) {
        size_t pos = mod_at;
        if (!read_mod(ps, &pos, b, n))
            return -1;
        if (pos != b) {
            ps->why = "unexpected character in logical expression";
            return -1;
        }
    }
    ps->depth--;
    return id;
}

ward_err ward_lexpr_parse(struct lexpr_pool *pool, const char *s, size_t len, unsigned max_ids,
                          uint32_t *root, unsigned *max_id, const char **why)
{
    struct lx_parser ps = {pool, s, max_ids, UINT32_MAX, 0, NULL};
    uint32_t mark = pool->n;
    int64_t r = parse_range(&ps, 0, len);
    if (r < 0) {
        pool->n = mark;
        *why = ps.why ? ps.why : "malformed logical expression";
        return WARD_ERR_PARSE;
    }
    *root = (uint32_t)r;
    *max_id = ps.max_id;
    return WARD_OK;
}

struct lx_val {
    bool ok;
    uint64_t count;
    uint64_t ids;
};

static bool compare(uint8_t mod, uint64_t v, uint32_t x)
{
    switch (mod) {
    case LX_EQ: return v == x;
    case LX_GT: return v > x;
    case LX_LT: return v < x;
    default: return v > 0;
    }
}

static struct lx_val eval(const struct lexpr_pool *pool, uint32_t i, const uint32_t *counts)
{
    const struct lexpr_node *n = &pool->nodes[i];
    struct lx_val v = {false, 0, 0};
    if (n->type == LX_LEAF) {
        uint64_t c = counts[n->id];
        /* a single subsignature ignores ",Y" */
        v.ok = compare(n->mod, c, n->x);
        if (v.ok) {
            v.count = c;
            /* ClamAV marks the id whenever the operand is true, so `0<1`
               counts as a distinct subsignature for an enclosing `,Y`. */
            v.ids = 1ull << (n->id & 63);
        }
        return v;
    }
    struct lx_val l = eval(pool, n->left, counts), r = eval(pool, n->right, counts);
    bool inner = n->type == LX_AND ? (l.ok && r.ok) : (l.ok || r.ok);
    if (inner) {
        v.count = (l.ok ? l.count : 0) + (r.ok ? r.count : 0);
        v.ids = (l.ok ? l.ids : 0) | (r.ok ? r.ids : 0);
    }
    if (n->mod == LX_NONE) {
        v.ok = inner;
        return v;
    }
    v.ok = compare(n->mod, v.count, n->x) &&
           (n->y == 0 || (uint64_t)__builtin_popcountll(v.ids) >= n->y);
    v.ids = 0;
    return v;
}

bool ward_lexpr_eval(const struct lexpr_pool *pool, uint32_t root, const uint32_t *counts)
{
    return eval(pool, root, counts).ok;
}
