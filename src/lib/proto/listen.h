/*
 * listen.h - a listening TCP socket, as every Ward daemon opens one.
 *
 * Contract: returns a non-blocking, close-on-exec descriptor with
 * SO_REUSEADDR, bound and listening (backlog 512), or -1 with a message
 * naming the address.
 */
#ifndef WARD_PROTO_LISTEN_H
#define WARD_PROTO_LISTEN_H

#include <stdbool.h>

#include "util/err.h"

/*
 * `host` is a name or address, "[V6ADDR]" too; empty or NULL means every
 * address when `wildcard`, else loopback. `family` is AF_UNSPEC, AF_INET or
 * AF_INET6.
 */
int ward_listen_tcp(const char *host, const char *port, int family, bool wildcard,
                    struct ward_diag *diag);

#endif
