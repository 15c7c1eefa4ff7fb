/*
 * fetch.h - downloads for the updater: HTTP, HTTPS and file:// (libcurl).
 *
 * One ward_fetch holds the settings every request shares: timeouts, a
 * proxy (else curl's http_proxy/https_proxy/no_proxy environment), server
 * credentials (a user and password, or a netrc-style auth file), and
 * counts the bytes received, so that `ward update` can say what an update
 * cost. A request fetches a whole file or its first bytes (Range), with
 * If-Modified-Since, into a capped buffer or a file descriptor.
 *
 * Contract: a transfer that completes returns WARD_OK with the status
 * (file:// is mapped to 200, 304 and 404); only 2xx bodies reach the sink.
 * Transport failures (refused, reset, timed out, a body over the cap, a
 * body shorter than its Content-Length) are errors with a message naming
 * the URL. A server that stops sending for `stall_timeout` seconds is cut
 * off, so a hanging server costs bounded time.
 */
#ifndef WARD_UPDATE_FETCH_H
#define WARD_UPDATE_FETCH_H

#include <stdint.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

struct ward_fetch_opts {
    unsigned connect_timeout; /* seconds; 0: 30 */
    unsigned stall_timeout;   /* seconds without a byte; 0: 60 */
    const char *proxy;        /* "host:port" or a URL; NULL: the environment */
    const char *proxy_user, *proxy_pass;
    const char *user, *pass;  /* basic auth for every server */
    const char *netrc;        /* auth file, "machine HOST login USER password PASS" */
};

struct ward_fetch_req {
    const char *url;
    time_t if_modified_since; /* 0: none */
    uint64_t first_bytes;     /* > 0: only the first bytes (Range) */
    ward_buf *buf;            /* sink: a buffer (its cap bounds the body), or */
    int fd;                   /* an open file, with */
    uint64_t max;             /* at most this many bytes */
};

struct ward_fetch_res {
    long status;      /* 200, 206, 304, 404, 403, 429, ... */
    time_t modified;  /* Last-Modified, or -1 */
    long retry_after; /* seconds from Retry-After, or 0 */
    uint64_t bytes;   /* body bytes kept */
};

typedef struct ward_fetch ward_fetch;

ward_err ward_fetch_new(const struct ward_fetch_opts *opts, ward_fetch **out,
                        struct ward_diag *diag) WARD_MUST_CHECK;
void ward_fetch_free(ward_fetch *f);
ward_err ward_fetch_get(ward_fetch *f, const struct ward_fetch_req *req,
                        struct ward_fetch_res *res, struct ward_diag *diag) WARD_MUST_CHECK;
/* Bytes received by every request so far (bodies and headers). */
uint64_t ward_fetch_total(const ward_fetch *f);

/* Join a server URL and a path ("http://h/base" + "ward/x" -> "http://h/base/ward/x"). */
ward_err ward_fetch_url(const char *server, const char *path, char *out, size_t cap)
    WARD_MUST_CHECK;

#endif
