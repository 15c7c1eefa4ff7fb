/*
 * mime.h - the structure of a raw message with byte offsets, so that a
 * change touches only the bytes it must: headers, parts and bodies left
 * alone come out exactly as they came in (8-bit text, long lines and CRLF
 * included).
 *
 * GMime gives decoded content but not the byte ranges of parts, and writing
 * a message back through it is not byte-exact; so the structure is read here
 * (bounded: depth, part count, header size), and contents are decoded from
 * those ranges.
 *
 * Part 0 is the message itself. A part's header block is [start, body), its
 * body [body, end). For a part inside a multipart, `end` stops before the
 * line break that precedes the next boundary line (RFC 2046: that line break
 * belongs to the boundary). The children of a multipart, and the message
 * inside a message/rfc822 part, follow their parent in document order.
 *
 * Contract: the message bytes are borrowed and must outlive the ward_mime.
 * Malformed input never fails the parse: what cannot be read as structure is
 * body (a multipart with no closing boundary ends at its parent's end);
 * `truncated` says a limit stopped the walk below some part (that part is
 * marked `cut`). A multipart or message/rfc822 part with a transfer
 * encoding other than 7bit/8bit/binary is a leaf (RFC 2045 forbids it; its
 * decoded body is scanned whole), as is a multipart with no boundary or no
 * boundary line.
 *
 * Header values (filenames) are decoded with iconv; thread-safe.
 */
#ifndef WARD_MAIL_MIME_H
#define WARD_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WARD_MIME_NONE UINT32_MAX

enum ward_mime_enc {
    WARD_MIME_7BIT = 0,
    WARD_MIME_8BIT,
    WARD_MIME_BINARY,
    WARD_MIME_QP,
    WARD_MIME_BASE64,
    WARD_MIME_UUENCODE, /* x-uuencode and friends */
    WARD_MIME_UNKNOWN,  /* an encoding RFC 2045 does not name: scanned as is */
};

struct ward_mime_part {
    uint32_t parent;        /* enclosing multipart or message/rfc822 part; NONE for part 0 */
    uint32_t depth;         /* 0 for the message */
    uint64_t start, body, end;
    char type[48], subtype[80]; /* lowercase; text/plain when absent (RFC 2045) */
    char charset[48];       /* lowercase, "" when absent */
    char boundary[80];      /* multipart only (cut short if longer: the parse used it whole) */
    char filename[256];     /* Content-Disposition filename or Content-Type name, RFC 2047/2231
                               decoded to UTF-8; "" when absent */
    enum ward_mime_enc enc;
    bool attachment;        /* Content-Disposition: attachment */
    bool multipart;         /* multipart/ *: its children follow */
    bool message;           /* message/rfc822 (or global): the part after it is its message */
    bool crlf;              /* its header lines end in CRLF */
    bool cut;               /* a multipart or message a limit kept us from entering: its
                               whole range [start, end) is to be scanned as one object */
};

struct ward_mime_limits {
    uint32_t max_depth;     /* nesting of multiparts and messages (default 32) */
    uint32_t max_parts;     /* parts in all (default 10000) */
    uint32_t max_header;    /* bytes of one header block (default 1 MiB) */
};

typedef struct ward_mime {
    const uint8_t *data;
    size_t len;
    struct ward_mime_part *parts;
    uint32_t n_parts;
    bool truncated;
} ward_mime;

/* Defaults for a zeroed or NULL limits struct. */
ward_err ward_mime_parse(const uint8_t *data, size_t len, const struct ward_mime_limits *lim,
                         ward_mime *out, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_mime_free(ward_mime *m);

/*
 * The first header field `name` (case-insensitive) of a part: its unfolded
 * value (RFC 2047 words left as they are) into out, and the field's byte
 * range [*field_start, *field_end) including its line break. False when
 * absent. Either offset pointer may be NULL.
 */
bool ward_mime_header(const ward_mime *m, uint32_t part, const char *name, char *out, size_t cap,
                      uint64_t *field_start, uint64_t *field_end);

/* Decode a leaf part's body by its transfer encoding, appending to out (capped by out). */
ward_err ward_mime_decode(const ward_mime *m, uint32_t part, ward_buf *out,
                          struct ward_diag *diag) WARD_MUST_CHECK;

/* Is this part a leaf (not multipart, not message/rfc822)? */
static inline bool ward_mime_is_leaf(const struct ward_mime_part *p)
{
    return !p->multipart && !p->message;
}

#endif
