/*
 * ftype.c - content type recognition (formats/ftype.c, ward_ftype_detect)
 * on arbitrary bytes: every magic check, PE, tar checksum, lzma-alone, LHA,
 * cpio, mail header, HTML, uuencode and text heuristics. Also detects every
 * prefix length that the scanner's first read could give (the type of a
 * truncated object) and checks that results are in range.
 */
#include <stdlib.h>

#include "formats/ftype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *p, size_t len, uint64_t size)
{
    enum ward_ftype t = ward_ftype_detect(p, len, size);
    if ((unsigned)t >= WARD_FT_COUNT || !ward_ftype_name(t)[0] ||
        (unsigned)ward_ftype_target(t) >= WARD_TARGET_COUNT)
        abort();
    (void)ward_ftype_is_container(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, size);
    check(data, size, (uint64_t)size << 20); /* a larger object, first chunk only */
    /* Short reads: a few prefixes, each in an exactly-sized copy so overreads show. */
    static const size_t cuts[] = {0, 1, 2, 7, 13, 26, 512};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts && cuts[i] < size; i++) {
        uint8_t *p = malloc(cuts[i] ? cuts[i] : 1);
        if (!p)
            abort();
        for (size_t k = 0; k < cuts[i]; k++)
            p[k] = data[k];
        check(p, cuts[i], size);
        free(p);
    }
    return 0;
}
