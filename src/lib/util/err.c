/* err.c - error names and diagnostic messages. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ward_err_str(ward_err err)
{
    switch (err) {
    case WARD_OK: return "success";
    case WARD_ERR_NOMEM: return "out of memory";
    case WARD_ERR_IO: return "I/O error";
    case WARD_ERR_PARSE: return "parse error";
    case WARD_ERR_LIMIT: return "limit exceeded";
    case WARD_ERR_UNSUPPORTED: return "not supported";
    case WARD_ERR_NOTFOUND: return "not found";
    case WARD_ERR_CORRUPT: return "corrupted data";
    case WARD_ERR_SIGNATURE: return "signature verification failed";
    case WARD_ERR_ENCRYPTED: return "encrypted";
    case WARD_ERR_TIMEOUT: return "timed out";
    case WARD_ERR_INTERNAL: return "internal error";
    case WARD_ERR_AGAIN: return "declined";
    }
    return "unknown error";
}

ward_err ward_diag_set(struct ward_diag *diag, ward_err err, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

ward_err ward_diag_prefix(struct ward_diag *diag, ward_err err, const char *fmt, ...)
{
    if (diag) {
        char prefix[256], old[sizeof diag->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, diag->msg, sizeof old);
        old[sizeof old - 1] = '\0';
        size_t n = strlen(prefix);
        if (n >= sizeof diag->msg)
            n = sizeof diag->msg - 1;
        memcpy(diag->msg, prefix, n);
        size_t m = strlen(old);
        if (m > sizeof diag->msg - 1 - n)
            m = sizeof diag->msg - 1 - n;
        memcpy(diag->msg + n, old, m);
        diag->msg[n + m] = 0;
    }
    return err;
}
