/*
 * judge.h - what one policy makes of a scanned message: its status, the
 * action, the parts cleaning removes, whether to quarantine.
 *
 * Statuses, worst first: infected, suspicious, filtered, not scanned,
 * protected, cleaned, clean. A message is clean only when every part was
 * scanned whole: any not_scanned finding, a structure limit (mime
 * `truncated`) or a message too large to read makes it not scanned, and a
 * password-protected archive with nothing else wrong makes it protected.
 * With av_clean_mode, infected and filtered parts are marked for removal
 * (not the message itself: an infected single-part message or a detection
 * in the raw multipart message as a whole cannot be cleaned); what remains
 * is judged again, and a message that only needed removals is cleaned.
 *
 * Contract: a judgement owns its arrays (ward_judgement_free). Judging
 * fails only for memory or a filter_name that does not compile.
 */
#ifndef WARD_MAIL_JUDGE_H
#define WARD_MAIL_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mime.h"
#include "mail/partscan.h"
#include "mail/policy.h"
#include "mail/process.h"

struct ward_judge_in {
    const ward_mime *mime;             /* NULL: the message was not parsed */
    const struct ward_mail_scan *scan; /* NULL: not scanned */
    bool too_big;                      /* not read: beyond max_scansize */
};

struct ward_judgement {
    enum ward_mail_status status; /* after cleaning */
    enum ward_mail_status found;  /* before cleaning: what the message held */
    enum ward_mail_action action;
    bool quarantine;  /* this policy keeps the original */
    uint32_t *remove; /* parts to replace by a notice, in document order */
    size_t n_remove;
    char names[400]; /* %VIRUSNAME%: names, not-scanned reasons or filter hits */
};

ward_err ward_judge(const struct ward_policy *p, const struct ward_judge_in *in,
                    struct ward_judgement *j, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_judgement_free(struct ward_judgement *j);

/* The SMTP reply line for the judgement's action, with an enhanced status code. */
void ward_judge_reply(const struct ward_judgement *j, const struct ward_judge_in *in, char *out,
                      size_t cap);

#endif
