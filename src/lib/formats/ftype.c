/* ftype.c - content-based type recognition (magic numbers and light checks). */
#include "formats/ftype.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/cursor.h"

static const char *names[WARD_FT_COUNT] = {
    "binary", "text", "html", "mail", "mbox", "uuencoded", "msdos", "pe", "elf", "macho",
    "pdf", "swf", "java", "graphics", "ole2", "rtf", "zip", "rar", "7z", "gzip", "bzip2", "xz",
    "lzma", "zstd", "lz4", "tar", "cpio", "cab", "iso9660", "xar", "lha", "ar",
};

const char *ward_ftype_name(enum ward_ftype t)
{
    return t < WARD_FT_COUNT ? names[t] : "?";
}

enum ward_target ward_ftype_target(enum ward_ftype t)
{
    switch (t) {
    case WARD_FT_PE: return WARD_TARGET_PE;
    case WARD_FT_OLE2: return WARD_TARGET_OLE2;
    case WARD_FT_HTML: return WARD_TARGET_HTML;
    case WARD_FT_MAIL:
    case WARD_FT_MBOX: return WARD_TARGET_MAIL;
    case WARD_FT_GRAPHICS: return WARD_TARGET_GRAPHICS;
    case WARD_FT_ELF: return WARD_TARGET_ELF;
    case WARD_FT_TEXT:
    case WARD_FT_UUENCODED: return WARD_TARGET_ASCII;
    case WARD_FT_MACHO: return WARD_TARGET_MACHO;
    case WARD_FT_PDF: return WARD_TARGET_PDF;
    case WARD_FT_SWF: return WARD_TARGET_FLASH;
    case WARD_FT_JAVA: return WARD_TARGET_JAVA;
    default: return WARD_TARGET_ANY;
    }
}

bool ward_ftype_is_container(enum ward_ftype t)
{
    switch (t) {
    case WARD_FT_MAIL:
    case WARD_FT_MBOX:
    case WARD_FT_UUENCODED:
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
    case WARD_FT_AR: return true;
    default: return false;
    }
}

static bool at(const uint8_t *p, size_t len, size_t off, const void *magic, size_t n)
{
    return off <= len && n <= len - off && memcmp(p + off, magic, n) == 0;
}

static bool is_pe(const uint8_t *p, size_t len)
{
    ward_cur c = ward_cur_make(p, len);
    uint32_t lfanew;
    if (!ward_cur_seek(&c, 0x3c) || !ward_cur_le32(&c, &lfanew))
        return false;
    return at(p, len, lfanew, "PE\0\0", 4);
}

/* POSIX/GNU tar has "ustar" at 257; an old v7 header is recognised by checksum. */
static bool is_tar(const uint8_t *p, size_t len)
{
    if (len < 512)
        return false;
    if (at(p, len, 257, "ustar", 5))
        return true;
    /* v7: name must be text, checksum field octal and equal to the header sum. */
    if (p[0] == 0)
        return false;
    unsigned long want = 0;
    size_t i = 148;
    while (i < 156 && p[i] == ' ')
        i++;
    if (i == 156 || p[i] < '0' || p[i] > '7')
        return false;
    for (; i < 156 && p[i] >= '0' && p[i] <= '7'; i++)
        want = want * 8 + (unsigned)(p[i] - '0');
    for (; i < 156; i++)
        if (p[i] != ' ' && p[i] != 0)
            return false;
    unsigned long sum = 0;
    for (i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : p[i];
    return sum == want;
}

static bool is_lzma_alone(const uint8_t *p, size_t len)
{
    if (len < 13 || p[0] > 224)
        return false;
    if (p[0] != 0x5d)
        return false;
    uint32_t dict = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 |
                    (uint32_t)p[4] << 24;
    /* Dictionary sizes lzma tools write: 2^n or 2^n + 2^(n-1). */
    bool pow2 = dict && !(dict & (dict - 1));
    uint32_t d2 = dict - (dict >> 1);
    bool pow15 = dict && !(d2 & (d2 - 1)) && dict == d2 + (d2 >> 1);
    if (!pow2 && !pow15 && dict != 0xffffffffu)
        return false;
    bool unknown = true;
    for (int i = 5; i < 13; i++)
        unknown = unknown && p[i] == 0xff;
    return unknown || p[12] == 0;
}

static bool is_lha(const uint8_t *p, size_t len)
{
    if (len < 22 || p[2] != '-' || p[6] != '-' || p[3] != 'l')
        return false;
    if (p[4] == 'h')
        return strchr("01234567d", p[5]) != NULL && p[5] != 0;
    if (p[4] == 'z')
        return p[5] == 's' || p[5] == '4' || p[5] == '5';
    return false;
}

static bool is_cpio(const uint8_t *p, size_t len)
{
    if (at(p, len, 0, "070707", 6) || at(p, len, 0, "070701", 6) || at(p, len, 0, "070702", 6))
        return true;
    return len >= 26 && ((p[0] == 0xc7 && p[1] == 0x71) || (p[0] == 0x71 && p[1] == 0xc7));
}

static const char *mail_headers[] = {
    "from:", "received:", "return-path:", "delivered-to:", "message-id:", "mime-version:",
    "date:", "subject:", "to:", "cc:", "reply-to:", "sender:", "content-type:",
    "content-transfer-encoding:", "x-", "dkim-signature:", "arc-", "authentication-results:",
    "envelope-to:", "references:", "in-reply-to:", "user-agent:", "x-mailer:", "organization:",
    "thread-", "list-", "precedence:", "importance:", "bcc:", "resent-", "errors-to:",
};

static bool known_header(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < sizeof mail_headers / sizeof *mail_headers; i++) {
        size_t m = strlen(mail_headers[i]);
        if (n >= m && strncasecmp((const char *)p, mail_headers[i], m) == 0)
            return true;
    }
    return false;
}

/* Is the field name p[0..n) (with its colon) exactly `name`, ignoring case? */
static bool header_is(const uint8_t *p, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp((const char *)p, name, n) == 0;
}

/*
 * An RFC 822 message: the text up to the first empty line is made of header
 * fields ("Name: value") and continuation lines, and at least two known
 * header names occur (one suffices for a strong one such as Received).
 */
static bool is_mail(const uint8_t *p, size_t len)
{
    size_t lim = len < 65536 ? len : 65536;
    size_t pos = 0;
    int known = 0, strong = 0, fields = 0;
    while (pos < lim) {
        const uint8_t *nl = memchr(p + pos, '\n', lim - pos);
        size_t end = nl ? (size_t)(nl - p) : lim;
        size_t n = end - pos;
        if (n && p[end - 1] == '\r')
            n--;
        if (n == 0)
            break; /* end of header block */
        const uint8_t *l = p + pos;
        if (l[0] == ' ' || l[0] == '\t') {
            if (fields == 0)
                return false;
        } else {
            size_t k = 0;
            while (k < n && l[k] > 32 && l[k] < 127 && l[k] != ':')
                k++;
            if (k == 0 || k == n || l[k] != ':') {
                /* mbox-style "From " line is allowed only first. */
                if (!(fields == 0 && pos == 0 && n > 5 && memcmp(l, "From ", 5) == 0))
                    return false;
            } else {
                fields++;
                if (known_header(l, k + 1)) {
                    known++;
                    /* Compare the k + 1 bytes of "Name:" only: a short last line
                       must not make strncasecmp read past the buffer. */
                    if (header_is(l, k + 1, "received:") ||
                        header_is(l, k + 1, "return-path:") ||
                        header_is(l, k + 1, "mime-version:") ||
                        header_is(l, k + 1, "message-id:") ||
                        header_is(l, k + 1, "delivered-to:"))
                        strong++;
                }
            }
        }
        if (!nl)
            break;
        pos = end + 1;
    }
    return strong > 0 || known >= 2;
}

static bool is_html(const uint8_t *p, size_t len)
{
    static const char *tags[] = {"<!doctype html", "<html", "<head", "<body", "<script",
                                 "<iframe", "<meta", "<title", "<!--", "<?xml"};
    size_t i = 0;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && i < 1024 && isspace(p[i]))
        i++;
    for (size_t t = 0; t < sizeof tags / sizeof *tags; t++) {
        size_t n = strlen(tags[t]);
        if (len - i >= n && strncasecmp((const char *)p + i, tags[t], n) == 0) {
            if (t < 8)
                return true;
            /* comments and XML declarations: HTML only if an <html tag follows soon */
            size_t lim = len < 4096 ? len : 4096;
            for (size_t j = i; j + 5 <= lim; j++)
                if (strncasecmp((const char *)p + j, "<html", 5) == 0)
                    return true;
            return false;
        }
    }
    return false;
}

static bool is_uuencoded(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && i < 256 && isspace(p[i]))
        i++;
    if (len - i < 10 || memcmp(p + i, "begin ", 6) != 0)
        return false;
    i += 6;
    if (len - i >= 7 && memcmp(p + i, "base64 ", 7) == 0)
        return false;
    int digits = 0;
    while (i < len && p[i] >= '0' && p[i] <= '7') {
        i++;
        digits++;
    }
    return digits >= 3 && digits <= 4 && i < len && p[i] == ' ';
}

/* Text: no NULs and few control characters in the first 4 KiB. */
static bool is_text(const uint8_t *p, size_t len)
{
    size_t lim = len < 4096 ? len : 4096, bad = 0;
    if (lim == 0)
        return false;
    for (size_t i = 0; i < lim; i++) {
        uint8_t c = p[i];
        if (c == 0)
            return false;
        if (c < 32 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 27 && c != 8)
            bad++;
    }
    return bad * 100 <= lim;
}

enum ward_ftype ward_ftype_detect(const uint8_t *p, size_t len, uint64_t size)
{
    (void)size;
    if (len < 2)
        return len ? (is_text(p, len) ? WARD_FT_TEXT : WARD_FT_BINARY) : WARD_FT_BINARY;
    if (at(p, len, 0, "MZ", 2))
        return is_pe(p, len) ? WARD_FT_PE : WARD_FT_MSDOS;
    if (at(p, len, 0, "\x7f" "ELF", 4))
        return WARD_FT_ELF;
    if (at(p, len, 0, "PK\x03\x04", 4) || at(p, len, 0, "PK\x05\x06", 4) ||
        at(p, len, 0, "PK\x07\x08", 4) || at(p, len, 0, "PK00PK\x03\x04", 8))
        return WARD_FT_ZIP;
    if (at(p, len, 0, "Rar!\x1a\x07", 6))
        return WARD_FT_RAR;
    if (at(p, len, 0, "7z\xbc\xaf\x27\x1c", 6))
        return WARD_FT_7Z;
    if (at(p, len, 0, "\x1f\x8b", 2))
        return WARD_FT_GZIP;
    if (at(p, len, 0, "BZh", 3) && len > 3 && p[3] >= '1' && p[3] <= '9')
        return WARD_FT_BZIP2;
    if (at(p, len, 0, "\xfd" "7zXZ\0", 6))
        return WARD_FT_XZ;
    if (at(p, len, 0, "\x28\xb5\x2f\xfd", 4))
        return WARD_FT_ZSTD;
    if (at(p, len, 0, "\x04\x22\x4d\x18", 4) || at(p, len, 0, "\x02\x21\x4c\x18", 4))
        return WARD_FT_LZ4;
    if (at(p, len, 0, "MSCF\0\0\0\0", 8))
        return WARD_FT_CAB;
    if (at(p, len, 0, "xar!", 4))
        return WARD_FT_XAR;
    if (at(p, len, 0, "!<arch>\n", 8))
        return WARD_FT_AR;
    if (at(p, len, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
        return WARD_FT_OLE2;
    if (at(p, len, 0, "%PDF-", 5))
        return WARD_FT_PDF;
    if (at(p, len, 0, "{\\rtf", 5))
        return WARD_FT_RTF;
    if (at(p, len, 0, "FWS", 3) || at(p, len, 0, "CWS", 3) || at(p, len, 0, "ZWS", 3))
        return WARD_FT_SWF;
    if (at(p, len, 0, "\xca\xfe\xba\xbe", 4) && len >= 8) {
        /* Java class files and fat Mach-O share a magic; Mach-O stores a small count. */
        uint32_t v = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
        return v < 40 ? WARD_FT_MACHO : WARD_FT_JAVA;
    }
    if (at(p, len, 0, "\xfe\xed\xfa\xce", 4) || at(p, len, 0, "\xfe\xed\xfa\xcf", 4) ||
        at(p, len, 0, "\xce\xfa\xed\xfe", 4) || at(p, len, 0, "\xcf\xfa\xed\xfe", 4))
        return WARD_FT_MACHO;
    if (at(p, len, 0, "GIF87a", 6) || at(p, len, 0, "GIF89a", 6) ||
        at(p, len, 0, "\x89PNG\r\n\x1a\n", 8) || at(p, len, 0, "\xff\xd8\xff", 3) ||
        at(p, len, 0, "II*\0", 4) || at(p, len, 0, "MM\0*", 4))
        return WARD_FT_GRAPHICS;
    if (is_cpio(p, len))
        return WARD_FT_CPIO;
    if (is_lha(p, len))
        return WARD_FT_LHA;
    if (is_tar(p, len))
        return WARD_FT_TAR;
    if (at(p, len, 32769, "CD001", 5) || at(p, len, 34817, "CD001", 5) ||
        at(p, len, 36865, "CD001", 5))
        return WARD_FT_ISO9660;
    if (is_lzma_alone(p, len))
        return WARD_FT_LZMA;
    if (at(p, len, 0, "From ", 5) && is_mail(p, len))
        return WARD_FT_MBOX;
    if (is_mail(p, len))
        return WARD_FT_MAIL;
    if (is_uuencoded(p, len))
        return WARD_FT_UUENCODED;
    if (is_html(p, len))
        return WARD_FT_HTML;
    if (is_text(p, len))
        return WARD_FT_TEXT;
    return WARD_FT_BINARY;
}
