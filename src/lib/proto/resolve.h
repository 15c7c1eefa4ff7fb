/*
 * resolve.h - the address of a TCP peer ("HOST:PORT", "[V6]:PORT") for the
 * mail agents' connection to wardd.
 *
 * Two implementations of one function: resolve.c (in libward) takes names
 * and addresses through getaddrinfo; resolve_numeric.c takes addresses only
 * and is linked into the one-shot agents (ward-pipe, ward-mda), which are
 * linked statically so that a process per message starts in a fraction of
 * the time (glibc's name service cannot be linked statically).
 */
#ifndef WARD_PROTO_RESOLVE_H
#define WARD_PROTO_RESOLVE_H

#include <sys/socket.h>

#include "util/err.h"

ward_err ward_resolve_tcp(const char *host, const char *port, struct sockaddr_storage *out,
                          socklen_t *len, struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * "HOST:PORT" or "[V6ADDR]:PORT" (the last colon splits) through
 * ward_resolve_tcp; errors name the whole target.
 */
ward_err ward_resolve_target(const char *target, struct sockaddr_storage *out, socklen_t *len,
                             struct ward_diag *diag) WARD_MUST_CHECK;

/* Numeric forms only (both implementations start with this). */
ward_err ward_resolve_numeric(const char *host, const char *port, struct sockaddr_storage *out,
                              socklen_t *len, struct ward_diag *diag) WARD_MUST_CHECK;

#endif
