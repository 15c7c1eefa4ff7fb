/*
 * err.h - error codes and diagnostics for libward.
 *
 * Contract: library functions never print and never exit. A function that can
 * fail returns a ward_err (WARD_OK on success) and, when the caller passed a
 * struct ward_diag, a one-line message the caller may show. The message names
 * the object involved (file and line for parsers) so that programs can report
 * it unchanged.
 */
#ifndef WARD_UTIL_ERR_H
#define WARD_UTIL_ERR_H

#include <stddef.h>

#define WARD_MUST_CHECK __attribute__((warn_unused_result))
#define WARD_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum ward_err {
    WARD_OK = 0,
    WARD_ERR_NOMEM,       /* allocation failed */
    WARD_ERR_IO,          /* read, write, open failed (errno in the message) */
    WARD_ERR_PARSE,       /* malformed input: signature line, config, header */
    WARD_ERR_LIMIT,       /* a configured or built-in limit was reached */
    WARD_ERR_UNSUPPORTED, /* valid input that this version cannot handle */
    WARD_ERR_NOTFOUND,    /* a named file, key or record does not exist */
    WARD_ERR_CORRUPT,     /* data failed a consistency check */
    WARD_ERR_SIGNATURE,   /* a digital signature or digest did not verify */
    WARD_ERR_ENCRYPTED,   /* content is encrypted and cannot be read */
    WARD_ERR_TIMEOUT,     /* a time limit expired */
    WARD_ERR_INTERNAL,    /* a library we use failed unexpectedly */
    WARD_ERR_AGAIN,       /* declined as asked (e.g. a long compile): do it another way */
} ward_err;

/* A caller-owned message buffer; functions fill it only on failure. */
struct ward_diag {
    char msg[512];
};

/* Name of an error code, for logs ("parse error", "out of memory", ...). */
const char *ward_err_str(ward_err err);

/*
 * Set the diagnostic message (if diag is not NULL) and return err, so that a
 * failure reads: return ward_diag_set(diag, WARD_ERR_PARSE, "%s:%u: ...", ...);
 */
ward_err ward_diag_set(struct ward_diag *diag, ward_err err, const char *fmt, ...)
    WARD_PRINTF(3, 4);

/* Prefix an existing message with context ("while loading X: "). */
ward_err ward_diag_prefix(struct ward_diag *diag, ward_err err, const char *fmt, ...)
    WARD_PRINTF(3, 4);

#endif
