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
    size_t len, pos;
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

static bool read_num(struct lx_parser *ps, uint32_t *v)
{
    uint64_t x = 0;
    size_t start = ps->pos;
    while (ps->pos < ps->len && ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
        x = x * 10 + (uint64_t)(ps->s[ps->pos++] - '0');
        if (x > UINT32_MAX) {
            ps->why = "number too large in logical expression";
            return false;
        }
    }
    if (ps->pos == start) {
        ps->why = "number expected in logical expression";
        return false;
    }
    *v = (uint32_t)x;
    return true;
}

static int64_t parse_expr(struct lx_parser *ps);

static int64_t parse_operand(struct lx_parser *ps)
{
    int64_t id;
    if (ps->pos < ps->len && ps->s[ps->pos] == '(') {
        if (++ps->depth > WARD_SIG_MAX_EXPR_DEPTH) {
            ps->why = "logical expression nested too deeply";
            return -1;
        }
        ps->pos++;
        id = parse_expr(ps);
        if (id < 0)
            return -1;
        if (ps->pos >= ps->len || ps->s[ps->pos] != ')') {
            ps->why = "missing ')' in logical expression";
            return -1;
        }
        ps->pos++;
        ps->depth--;
    } else {
        uint32_t v;
        if (!read_num(ps, &v))
            return -1;
        if (v >= ps->max_ids) {
            ps->why = "subsignature index out of range";
            return -1;
        }
        id = new_lnode(ps);
        if (id < 0)
            return -1;
        ps->pool->nodes[id].type = LX_LEAF;
        ps->pool->nodes[id].id = (uint16_t)v;
        if (v > ps->max_id || ps->max_id == UINT32_MAX)
            ps->max_id = v;
    }
    if (ps->pos < ps->len && (ps->s[ps->pos] == '=' || ps->s[ps->pos] == '>' ||
                              ps->s[ps->pos] == '<')) {
        char op = ps->s[ps->pos++];
        uint32_t x, y = 0;
        if (!read_num(ps, &x))
            return -1;
        if (ps->pos < ps->len && ps->s[ps->pos] == ',') {
            ps->pos++;
            if (!read_num(ps, &y))
                return -1;
        }
        struct lexpr_node *n = &ps->pool->nodes[id];
        if (n->mod != LX_NONE) {
            ps->why = "two count operators on one operand";
            return -1;
        }
        n->mod = op == '=' ? LX_EQ : op == '>' ? LX_GT : LX_LT;
        n->x = x;
        n->y = y;
    }
    return id;
}

static int64_t parse_expr(struct lx_parser *ps)
{
    int64_t left = parse_operand(ps);
    if (left < 0)
        return -1;
    if (ps->pos < ps->len && (ps->s[ps->pos] == '&' || ps->s[ps->pos] == '|')) {
        char op = ps->s[ps->pos++];
        if (++ps->depth > WARD_SIG_MAX_EXPR_DEPTH * 4) {
            ps->why = "logical expression too long";
            return -1;
        }
        int64_t right = parse_expr(ps);
        ps->depth--;
        if (right < 0)
            return -1;
        int64_t id = new_lnode(ps);
        if (id < 0)
            return -1;
        struct lexpr_node *n = &ps->pool->nodes[id];
        n->type = op == '&' ? LX_AND : LX_OR;
        n->left = (uint32_t)left;
        n->right = (uint32_t)right;
        return id;
    }
    return left;
}

ward_err ward_lexpr_parse(struct lexpr_pool *pool, const char *s, size_t len, unsigned max_ids,
                          uint32_t *root, unsigned *max_id, const char **why)
{
    struct lx_parser ps = {pool, s, len, 0, max_ids, UINT32_MAX, 0, NULL};
    uint32_t mark = pool->n;
    int64_t r = parse_expr(&ps);
    if (r >= 0 && ps.pos != len) {
        ps.why = "unexpected character in logical expression";
        r = -1;
    }
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
            v.ids = c ? 1ull << (n->id & 63) : 0;
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
