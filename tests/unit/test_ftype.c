/* test_ftype.c - recognising types from bytes. */
#include "check.h"
#include "formats/ftype.h"

#define T(bytes) ward_ftype_detect((const uint8_t *)(bytes), sizeof(bytes) - 1, sizeof(bytes) - 1)

int main(void)
{
    CHECK(T("PK\x03\x04rest") == WARD_FT_ZIP);
    CHECK(T("Rar!\x1a\x07\x00") == WARD_FT_RAR);
    CHECK(T("7z\xbc\xaf\x27\x1c\x00\x04") == WARD_FT_7Z);
    CHECK(T("\x1f\x8b\x08\x00") == WARD_FT_GZIP);
    CHECK(T("BZh91AY&SY") == WARD_FT_BZIP2);
    CHECK(T("\xfd" "7zXZ\0\0") == WARD_FT_XZ);
    CHECK(T("\x28\xb5\x2f\xfd\x00") == WARD_FT_ZSTD);
    CHECK(T("\x04\x22\x4d\x18\x00") == WARD_FT_LZ4);
    CHECK(T("MSCF\0\0\0\0xxxx") == WARD_FT_CAB);
    CHECK(T("!<arch>\nfoo") == WARD_FT_AR);
    CHECK(T("070701000000") == WARD_FT_CPIO);
    CHECK(T("\x7f" "ELF\x02\x01") == WARD_FT_ELF);
    CHECK(T("%PDF-1.7\n") == WARD_FT_PDF);
    CHECK(T("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") == WARD_FT_OLE2);
    CHECK(T("\x89PNG\r\n\x1a\nxxxx") == WARD_FT_GRAPHICS);
    CHECK(T("{\\rtf1\\ansi") == WARD_FT_RTF);
    CHECK(T("From: a@b\nTo: c@d\nSubject: x\n\nbody\n") == WARD_FT_MAIL);
    CHECK(T("Received: from x\n\tby y\nX-Foo: 1\n\nbody") == WARD_FT_MAIL);
    CHECK(T("From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: x\n\nhi\n") ==
          WARD_FT_MBOX);
    CHECK(T("begin 644 file.exe\nM35H\nend\n") == WARD_FT_UUENCODED);
    CHECK(T("<!DOCTYPE html><html>") == WARD_FT_HTML);
    CHECK(T("just some text\nwith lines\n") == WARD_FT_TEXT);
    CHECK(T("Subject: only one header\n\nbody") == WARD_FT_TEXT);
    CHECK(T("\x00\x01\x02\x03\xff") == WARD_FT_BINARY);
    CHECK(ward_ftype_detect((const uint8_t *)"", 0, 0) == WARD_FT_BINARY);
    /* PE: MZ with a valid PE header offset */
    uint8_t pe[256] = {'M', 'Z'};
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    CHECK(ward_ftype_detect(pe, sizeof pe, sizeof pe) == WARD_FT_PE);
    pe[0x3c] = 0xff; /* header offset past the data */
    CHECK(ward_ftype_detect(pe, sizeof pe, sizeof pe) == WARD_FT_MSDOS);
    /* tar: ustar magic at 257 */
    uint8_t tar[512] = {'a'};
    memcpy(tar + 257, "ustar", 5);
    CHECK(ward_ftype_detect(tar, sizeof tar, sizeof tar) == WARD_FT_TAR);
    /* ISO 9660 descriptor at 32769 */
    static uint8_t iso[40000];
    memcpy(iso + 32769, "CD001", 5);
    CHECK(ward_ftype_detect(iso, sizeof iso, sizeof iso) == WARD_FT_ISO9660);
    CHECK(ward_ftype_target(WARD_FT_PE) == WARD_TARGET_PE);
    CHECK(ward_ftype_target(WARD_FT_ZIP) == WARD_TARGET_ANY);
    CHECK(ward_ftype_is_container(WARD_FT_ZIP) && !ward_ftype_is_container(WARD_FT_PE));
    return CHECK_DONE();
}
