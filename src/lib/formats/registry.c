/* registry.c - which format module unpacks which file type. */
#include "formats/formats.h"

ward_unpack_fn ward_format_unpacker(enum ward_ftype type)
{
    switch (type) {
    case WARD_FT_ZIP:
    case WARD_FT_RAR:
    case WARD_FT_7Z:
    case WARD_FT_GZIP:
    case WARD_FT_BZIP2:
    case WARD_FT_XZ:
    case WARD_FT_LZMA:
    case WARD_FT_ZSTD:
    case WARD_FT_LZ4:
    case WARD_FT_TAR:
    case WARD_FT_CPIO:
    case WARD_FT_CAB:
    case WARD_FT_ISO9660:
    case WARD_FT_XAR:
    case WARD_FT_LHA:
    case WARD_FT_AR:
        return ward_fmt_archive_unpack;
    case WARD_FT_MAIL:
    case WARD_FT_MBOX:
        return ward_fmt_mail_unpack;
    case WARD_FT_UUENCODED:
        return ward_fmt_uu_unpack;
    case WARD_FT_TEXT:
    case WARD_FT_HTML:
        return ward_fmt_text_unpack;
    default:
        return NULL;
    }
}
