/*
 * mime_int.h - helpers shared by the MIME parser (mime.c), its header-value
 * decoding (mime_words.c, mime_decode.c) and the editor (edit.c).
 *
 * Contract: every function writes at most `cap` bytes including a NUL and
 * never fails on malformed input; what it cannot decode it keeps as it was
 * (bytes that are not UTF-8 are read as Latin-1, so the output is UTF-8).
 */
#ifndef WARD_MAIL_MIME_INT_H
#define WARD_MAIL_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mime.h"

/* One header field of a header block: [start, end) includes its line break(s). */
struct ward_mime_field {
    size_t start, name_end, value, end;
};

/*
 * The next field of the header block at *pos (bounded by end). Returns
 * false at the blank line that ends the block, or at a line that is not a
 * field (then the body starts there); *body is set to where it starts.
 */
bool ward_mime_next_field(const uint8_t *d, size_t end, size_t *pos, struct ward_mime_field *f,
                          size_t *body);
/* Where a part's header fields start (after an mbox "From " line for part 0). */
size_t ward_mime_fields_start(const ward_mime *m, uint32_t part);
/* The value of a field unfolded (line breaks removed), trimmed; returns its length. */
size_t ward_mime_unfold(const uint8_t *p, size_t n, char *out, size_t cap);

/* Decode RFC 2047 encoded words in s[0..n) to UTF-8. */
size_t ward_mime_words(const char *s, size_t n, char *out, size_t cap);
/*
 * The parameter `attr` of a Content-Type or Content-Disposition value, with
 * RFC 2231 continuations and charsets (and, when `words`, RFC 2047 words in
 * a plain value) decoded to UTF-8. False when absent.
 */
bool ward_mime_param(const char *value, const char *attr, bool words, char *out, size_t cap);
/* Convert bytes in `charset` to UTF-8 ("" or unknown: UTF-8, else Latin-1). */
size_t ward_mime_to_utf8(const char *charset, const uint8_t *in, size_t n, char *out, size_t cap);

/* Transfer decodings of a body range (lenient), appended to out. */
ward_err ward_mime_b64_decode(const uint8_t *p, size_t n, ward_buf *out) WARD_MUST_CHECK;
/* Base64 into a fixed buffer (at most cap bytes); returns the bytes written. */
size_t ward_mime_b64_mem(const uint8_t *p, size_t n, uint8_t *out, size_t cap);
ward_err ward_mime_qp_decode(const uint8_t *p, size_t n, ward_buf *out) WARD_MUST_CHECK;
ward_err ward_mime_uu_decode(const uint8_t *p, size_t n, ward_buf *out) WARD_MUST_CHECK;

/*
 * Encodings for what the editor writes (mime_encode.c), with `eol` ("\r\n"
 * or "\n") as line break: base64 in 76-column lines (no break after the last
 * line); quoted-printable with soft breaks at 76 columns, the input's line
 * breaks becoming `eol`.
 */
ward_err ward_mime_b64_encode(const uint8_t *p, size_t n, const char *eol,
                              ward_buf *out) WARD_MUST_CHECK;
ward_err ward_mime_qp_encode(const uint8_t *p, size_t n, const char *eol,
                             ward_buf *out) WARD_MUST_CHECK;
/*
 * A header field "Name: value" + eol: a value that is not plain ASCII as
 * RFC 2047 UTF-8 encoded words, folded before 78 columns; line breaks in
 * the value become spaces (no header injection).
 */
ward_err ward_mime_field_encode(const char *name, const char *value, const char *eol,
                                ward_buf *out) WARD_MUST_CHECK;

#endif
