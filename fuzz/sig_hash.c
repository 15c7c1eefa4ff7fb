/*
 * sig_hash.c - the hash signature loaders (engine/load_hash.c) and the hash
 * index (engine/hashidx.c). The input is loaded as .ign2 first (so that
 * ignore entries, with and without an MD5 of the line, apply), then as
 * .hdb, .hsb, .fp, .sfp and .mdb into one database. Oracle: every entry in
 * the detection and allow indexes is found again by lookup, and its size asks
 * for its algorithm.
 */
#include "sigload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_array(const ward_hashidx *h, const struct hashidx_array *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct hashidx_entry *e = &a->v[i];
        uint32_t name;
        if (!ward_hashidx_lookup(h, (enum ward_hash_alg)e->alg, e->digest, e->size, &name))
            abort();
        if (!(ward_hashidx_algs_for_size(h, e->size) & WARD_HASH_BIT(e->alg)))
            abort();
    }
}

static void check_index(ward_hashidx *h)
{
    /* The loader seals at the end of a whole load; here each file is loaded alone. */
    ward_hashidx_seal(h);
    check_array(h, &h->sized);
    check_array(h, &h->any);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"fuzz.ign2", "fuzz.hdb", "fuzz.hsb",
                                        "fuzz.fp",   "fuzz.sfp", "fuzz.mdb"};
    struct ward_db_opts opts = {0};
    opts.check_only = true;
    opts.collect_errors = true;
    opts.on_error = fuzz_on_error;
    ward_seg *db = fuzz_seg_new();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        (void)fuzz_load(db, &opts, names[i], data, size, NULL);
    check_index(&db->hashes);
    check_index(&db->allow);
    ward_seg_unref(db);

    /* And once stopping at the first error, as a normal load does. */
    opts.collect_errors = false;
    db = fuzz_seg_new();
    (void)fuzz_load(db, &opts, "fuzz.hdb", data, size, NULL);
    ward_seg_unref(db);
    return 0;
}
