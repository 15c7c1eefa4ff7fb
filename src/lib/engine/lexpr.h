/*
 * lexpr.h - the logical expressions of .ldb signatures.
 *
 * Grammar, as libclamav's cli_ac_chklsig reads it, with no operator
 * precedence: outside parentheses an expression is split at its first
 * top-level operator (`0&1|2` is `0&(1|2)`), while a whole parenthesized
 * block is split at its last one (`(0&1|2)` is `((0&1)|2)`):
 *     operand := ( NUMBER | '(' expr ')' ) [ ('=' | '>' | '<') NUMBER [ ',' NUMBER ] ]
 *     expr    := operand { ('&' | '|') operand }
 *
 * Evaluation over per-subsignature match counts follows ClamAV: a subsignature
 * contributes its count and its id when it is true; a group's count is the sum
 * of its true sides; `op X` compares the count, `,Y` asks for at least Y
 * distinct subsignatures (ignored on a single subsignature); a modified group
 * passes its count up but not its ids.
 *
 * Contract: nodes live in a caller-owned pool; parsing is bounded by length
 * and nesting (WARD_SIG_MAX_EXPR_DEPTH) and rejects ids >= max_ids.
 */
#ifndef WARD_ENGINE_LEXPR_H
#define WARD_ENGINE_LEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum lexpr_type { LX_LEAF, LX_AND, LX_OR };
enum lexpr_mod { LX_NONE, LX_EQ, LX_GT, LX_LT };

struct lexpr_node {
    uint8_t type;
    uint8_t mod;
    uint16_t id;      /* LX_LEAF: subsignature index */
    uint32_t x, y;    /* modifier operands (y = 0: none) */
    uint32_t left, right;
};

struct lexpr_pool {
    struct lexpr_node *nodes;
    uint32_t n, cap;
};

void ward_lexpr_pool_init(struct lexpr_pool *pool);
void ward_lexpr_pool_free(struct lexpr_pool *pool);

/*
 * Parse s[0..len) into the pool; *root receives the top node, *max_id the
 * highest subsignature id used. On error, *why names the problem.
 */
ward_err ward_lexpr_parse(struct lexpr_pool *pool, const char *s, size_t len, unsigned max_ids,
                          uint32_t *root, unsigned *max_id, const char **why) WARD_MUST_CHECK;

/* Evaluate with counts[i] = matches of subsignature i. */
bool ward_lexpr_eval(const struct lexpr_pool *pool, uint32_t root, const uint32_t *counts);

#endif
