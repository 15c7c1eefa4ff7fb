/*
 * ftype.h - true file types, recognised from content bytes (never from names).
 *
 * Contract: ward_ftype_detect() looks only at the bytes it is given (the first
 * read of an object, up to WARD_READ_CHUNK) and the object's total size; it
 * never reads past `len`. Types map to ClamAV target types so that signatures
 * for a target apply to the objects of that type.
 */
#ifndef WARD_FORMATS_FTYPE_H
#define WARD_FORMATS_FTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ward_ftype {
    WARD_FT_BINARY = 0, /* nothing more specific */
    WARD_FT_TEXT,
    WARD_FT_HTML,
    WARD_FT_MAIL,
    WARD_FT_MBOX,
    WARD_FT_UUENCODED,
    WARD_FT_MSDOS,
    WARD_FT_PE,
    WARD_FT_ELF,
    WARD_FT_MACHO,
    WARD_FT_PDF,
    WARD_FT_SWF,
    WARD_FT_JAVA,
    WARD_FT_GRAPHICS,
    WARD_FT_OLE2,
    WARD_FT_RTF,
    WARD_FT_ZIP,
    WARD_FT_RAR,
    WARD_FT_7Z,
    WARD_FT_GZIP,
    WARD_FT_BZIP2,
    WARD_FT_XZ,
    WARD_FT_LZMA,
    WARD_FT_ZSTD,
    WARD_FT_LZ4,
    WARD_FT_TAR,
    WARD_FT_CPIO,
    WARD_FT_CAB,
    WARD_FT_ISO9660,
    WARD_FT_XAR,
    WARD_FT_LHA,
    WARD_FT_AR,
    WARD_FT_COUNT
};

/* ClamAV target types (the second field of an .ndb line). */
enum ward_target {
    WARD_TARGET_ANY = 0,
    WARD_TARGET_PE = 1,
    WARD_TARGET_OLE2 = 2,
    WARD_TARGET_HTML = 3,
    WARD_TARGET_MAIL = 4,
    WARD_TARGET_GRAPHICS = 5,
    WARD_TARGET_ELF = 6,
    WARD_TARGET_ASCII = 7,
    WARD_TARGET_UNUSED = 8,
    WARD_TARGET_MACHO = 9,
    WARD_TARGET_PDF = 10,
    WARD_TARGET_FLASH = 11,
    WARD_TARGET_JAVA = 12,
    WARD_TARGET_INTERNAL = 13,
    WARD_TARGET_OTHER = 14,
    WARD_TARGET_COUNT = 15
};

enum ward_ftype ward_ftype_detect(const uint8_t *p, size_t len, uint64_t size);
const char *ward_ftype_name(enum ward_ftype t);
/* The ClamAV target type of a file type (WARD_TARGET_ANY when none). */
enum ward_target ward_ftype_target(enum ward_ftype t);
/* Is the type a container or encoding the scanner unpacks? */
bool ward_ftype_is_container(enum ward_ftype t);

#endif
