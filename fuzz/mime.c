/*
 * mime.c - the MIME and mbox walk (formats/mail.c with GMime, then the parts
 * through the same scan as the scan target): multiparts, prologues,
 * base64, quoted-printable and uuencoded bodies, message/rfc822 parts and
 * broken boundaries. Inputs that are not typed as mail or mbox are skipped,
 * so that the fuzzer's time goes to messages.
 */
#include "formats/ftype.h"
#include "scanner.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t first = size < WARD_READ_CHUNK ? size : WARD_READ_CHUNK;
    enum ward_ftype t = ward_ftype_detect(data, first, size);
    if (t != WARD_FT_MAIL && t != WARD_FT_MBOX)
        return 0;
    fuzz_scan(data, size, "fuzz.eml");
    return 0;
}
