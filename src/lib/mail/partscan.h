/*
 * partscan.h - scan a parsed message part by part.
 *
 * The raw message is matched once as a whole, without unpacking it (mail
 * signatures, target 4, and target 0 over the raw bytes); then every leaf
 * part is decoded and scanned through the engine, which walks what is inside
 * (archives, nested encodings). A message/rfc822 part's message is walked
 * here like the top one, so that a part deep inside can be removed alone.
 *
 * For each leaf part the result says what was found and also what policy
 * filters look at: the declared file names (the part's own and those of the
 * members of archives inside it), the true MIME types detected from content
 * (libmagic, loaded at first use), and the decoded size.
 *
 * Contract: results own their strings; free with ward_mail_scan_free. A
 * part that cannot be decoded or scanned is not_scanned, never clean.
 */
#ifndef WARD_MAIL_PARTSCAN_H
#define WARD_MAIL_PARTSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mime.h"
#include "scan/scan.h"

struct ward_mail_detection {
    uint32_t part;           /* the leaf part (0: the raw message as a whole) */
    enum ward_verdict verdict; /* infected, suspicious or not_scanned */
    enum ward_reason reason;
    char *name;              /* signature name or not_scanned explanation */
    char *path;              /* "part name/member/..." inside the message, '/'-separated */
};

struct ward_mail_part_result {
    uint32_t part;
    enum ward_verdict verdict; /* the worst of its detections, or clean */
    bool protected;          /* an encrypted (password-protected) archive inside */
    uint64_t size;           /* decoded */
    char **names;            /* declared file names: the part's, then archive members' */
    size_t n_names;
    char **types;            /* true MIME types ("application/x-dosexec"): part's, members' */
    size_t n_types;
};

struct ward_mail_scan {
    enum ward_verdict verdict; /* worst over the message */
    bool protected;
    struct ward_mail_detection *det;
    size_t n_det;
    struct ward_mail_part_result *parts; /* one per leaf part, in document order */
    size_t n_parts;
};

struct ward_mail_scan_opts {
    struct ward_scan_opts scan;  /* limits, cache, tmpdir (on_finding is set here) */
    bool want_types;             /* run libmagic (only when a filter_type policy needs it) */
};

ward_err ward_mail_scan(ward_scanner *s, const ward_mime *m, const struct ward_mail_scan_opts *o,
                        struct ward_mail_scan *out, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_mail_scan_free(struct ward_mail_scan *r);

#endif
