/*
 * edit.h - minimal changes to a raw message.
 *
 * Edits are recorded against the parsed structure (mail/mime.h) and applied
 * when the message is written: every byte outside the ranges an edit
 * replaces is copied as it was. New lines use the line ending of the part
 * they go into. Header values are given as UTF-8 and written as RFC 2047
 * encoded words when they are not plain ASCII, folded at 78 columns.
 *
 * Contract: a ward_medit borrows the ward_mime (and through it the message
 * bytes) until it is freed. Edits may be recorded in any order; two edits of
 * overlapping ranges fail with WARD_ERR_UNSUPPORTED (the caller records the
 * wider one: replacing a part makes edits inside it moot).
 */
#ifndef WARD_MAIL_EDIT_H
#define WARD_MAIL_EDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/mime.h"
#include "util/err.h"

typedef struct ward_medit ward_medit;

ward_err ward_medit_new(const ward_mime *m, ward_medit **out) WARD_MUST_CHECK;
void ward_medit_free(ward_medit *e);

/* Add a field at the top of the message's header block (before the first field);
   fields added are written in the order they were added. */
ward_err ward_medit_add_header(ward_medit *e, const char *name, const char *value)
    WARD_MUST_CHECK;
/* Remove every top-level field of this name (for X-Ward-* fields a sender forged). */
ward_err ward_medit_remove_header(ward_medit *e, const char *name) WARD_MUST_CHECK;
/* Set the top-level Subject: the first Subject field is replaced, or one is added. */
ward_err ward_medit_set_subject(ward_medit *e, const char *value) WARD_MUST_CHECK;

/*
 * Replace a part (its headers and body) by a text/plain part holding
 * `notice` (UTF-8). Replacing part 0 of a single-part message keeps its
 * other header fields and replaces the Content-* fields and the body.
 */
ward_err ward_medit_replace_part(ward_medit *e, uint32_t part, const char *notice)
    WARD_MUST_CHECK;

/*
 * Add a header (at the start) and a footer (at the end) to the visible text
 * of the message: `text_*` to text/plain parts, `html_*` to text/html parts
 * (inside <body> when there is one), of the message's main body (the first
 * text part of each kind that is not an attachment, in the parts a reader
 * is shown). Parts in base64 or quoted-printable are decoded, changed and
 * encoded again in the same encoding (7bit and 8bit parts get two
 * insertions); notes are converted to the part's charset. Parts already
 * replaced are skipped. Any argument may be NULL.
 */
ward_err ward_medit_add_notes(ward_medit *e, const char *text_header, const char *text_footer,
                              const char *html_header, const char *html_footer)
    WARD_MUST_CHECK;

bool ward_medit_changed(const ward_medit *e);

/* Write the message with the edits applied. */
ward_err ward_medit_write(const ward_medit *e, int fd, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
