/*
 * scan.c - the container walk: ward_scan_mem on arbitrary bytes (scan/scan.c,
 * formats: type detection, libarchive formats, GMime, uuencode, text
 * normalization; engine/match.c: streams, hashes, confirmations, logical
 * signatures; scan/vcache.c) against the tiny database of scanner.h, with
 * tight limits: 8 MB per object, 32 MB per scan, 200 objects, depth 8, 5 s.
 */
#include "scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_scan(data, size, "fuzz.bin");
    return 0;
}
