/*
 * sig_ldb.c - the .ldb loader: target description blocks, the logical
 * expression parser (engine/lexpr.c), body subsignatures with ::i ::w ::f ::a
 * modifiers (engine/pattern.c) and PCRE subsignatures with triggers, offsets
 * and flags, including the roll-back of a rejected line. Every logical
 * expression that loaded is evaluated over a few count vectors. A share of
 * small inputs is compiled and matched against a sample (PCRE without
 * quantifiers only, to keep backtracking cheap).
 */
#include "sigload.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ward_seg *db = NULL;
    fuzz_load_both("fuzz.ldb", data, size, &db);
    if (!db)
        return 0;
    /* Evaluation must stay inside the pool and the counts of its signature. */
    uint32_t counts[WARD_SIG_MAX_SUBSIGS];
    for (uint32_t i = 0; i < db->n_ldbs; i++) {
        const struct ldb_sig *l = &db->ldbs[i];
        for (unsigned round = 0; round < 3; round++) {
            for (unsigned k = 0; k < WARD_SIG_MAX_SUBSIGS; k++)
                counts[k] = round == 0 ? 0 : round == 1 ? 1 : (k * 7 + size) % 5;
            (void)ward_lexpr_eval(&db->exprs, l->expr, counts);
            for (unsigned k = 0; k < l->n_subs; k++) {
                const struct ldb_sub *s = &db->ldb_subs[l->first_sub + k];
                if (s->kind == SUB_PCRE)
                    (void)ward_lexpr_eval(&db->exprs, db->pcres[s->ref].trigger, counts);
            }
        }
    }
    fuzz_compile_and_scan(db, data, size);
    return 0;
}
