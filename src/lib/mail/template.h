/*
 * template.h - the texts Ward writes into messages and notices, with macros.
 *
 * Macros: %VIRUSNAME% %SENDER% %RECIPIENTS% %SUBJECT% %MESSAGEID% %DATE%
 * %ACTION% %HOSTNAME% (%% is a percent sign; an unknown %WORD% stays as
 * it is). Many values come from a hostile message, so each is made safe for
 * where it goes: in a header no CR, LF or other control byte survives (a
 * subject cannot grow a second header field), in HTML the markup characters
 * are escaped, in plain text control bytes other than tab are dropped and
 * line breaks become spaces. A value is cut at 1000 bytes.
 *
 * Templates are files named like "footer_infected.txt" in template_dir;
 * a built-in text stands in for a file that does not exist.
 *
 * Contract: nothing is allocated beyond the caller's capped buffers; a
 * template file is read up to 64 KiB.
 */
#ifndef WARD_MAIL_TEMPLATE_H
#define WARD_MAIL_TEMPLATE_H

#include "util/buf.h"
#include "util/err.h"

enum ward_tmpl_ctx {
    WARD_TMPL_HEADER = 0, /* a header field value (subject) */
    WARD_TMPL_TEXT,       /* a text/plain body or notice */
    WARD_TMPL_HTML,       /* a text/html body */
};

struct ward_tmpl_vars {
    const char *virusname, *sender, *recipients, *subject, *messageid, *date, *action,
        *hostname; /* NULL: empty */
};

#define WARD_TMPL_MAX_FILE (64u << 10)
#define WARD_TMPL_MAX_VALUE 1000u

/* Append tmpl with its macros replaced to out. */
ward_err ward_template_expand(const char *tmpl, const struct ward_tmpl_vars *v,
                              enum ward_tmpl_ctx ctx, ward_buf *out) WARD_MUST_CHECK;

/* Append one value (from the message or the envelope) made safe for ctx. */
ward_err ward_template_put(ward_buf *out, const char *val, enum ward_tmpl_ctx ctx) WARD_MUST_CHECK;

/* The built-in text of a template ("footer_infected.txt"), "" for an unknown name. */
const char *ward_template_builtin(const char *name);

/*
 * Read dir/name into out (replacing its contents); a missing file (or dir
 * NULL) gives the built-in text. Any other failure is an error naming the file.
 */
ward_err ward_template_load(const char *dir, const char *name, ward_buf *out,
                            struct ward_diag *diag) WARD_MUST_CHECK;

#endif
