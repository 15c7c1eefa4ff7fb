/*
 * formats.h - the format modules and the table that maps a file type to the
 * module that unpacks it. One file per format family; each unpack function
 * reads only through the object's bounded accessors and hands members to the
 * walk (scan/walk.h).
 */
#ifndef WARD_FORMATS_FORMATS_H
#define WARD_FORMATS_FORMATS_H

#include "scan/walk.h"

/* libarchive: zip, 7z, rar, tar, cpio, cab, iso9660, xar, lha, ar, compressors. */
ward_err ward_fmt_archive_unpack(struct ward_walk *w, const struct ward_obj *obj);
/* RFC 822 / MIME messages and mbox files (GMime). */
ward_err ward_fmt_mail_unpack(struct ward_walk *w, const struct ward_obj *obj);
/* uuencoded text ("begin 644 name" ... "end"). */
ward_err ward_fmt_uu_unpack(struct ward_walk *w, const struct ward_obj *obj);
/* Text: the uuencoded blocks inside, and the normalized layer for text signatures. */
ward_err ward_fmt_text_unpack(struct ward_walk *w, const struct ward_obj *obj);

#endif
