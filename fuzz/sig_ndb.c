/*
 * sig_ndb.c - the .ndb loader: ward_load_source with a ".ndb" name (no temp
 * file), i.e. line splitting, target, offset and FLEVEL fields, the ClamAV
 * hex pattern parser and checks, both regex emitters and offset anchoring
 * (engine/pattern.c through ward_db_add_body), with every emitted regex
 * checked (fuzz_check_pats). Loads check-only; a deterministic share of small
 * inputs is also compiled with Vectorscan and matched against a sample.
 */
#include "sigload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ward_seg *db = NULL;
    fuzz_load_both("fuzz.ndb", data, size, &db);
    if (db)
        fuzz_compile_and_scan(db, data, size);
    return 0;
}
