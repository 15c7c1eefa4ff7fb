/*
 * resolve_numeric.c - TCP addresses of wardd without the name service, for
 * the statically linked agents (resolve.h). ward_resolve_numeric is also
 * what resolve.c tries first.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resolve.h"

ward_err ward_resolve_numeric(const char *host, const char *port, struct sockaddr_storage *out,
                              socklen_t *len, struct ward_diag *diag)
{
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p == 0 || p > 65535)
        return ward_diag_set(diag, WARD_ERR_PARSE, "bad port: %s", port);
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof *v4;
        return WARD_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof *v6;
        return WARD_OK;
    }
    if (strcmp(host, "localhost") == 0)
        return ward_resolve_numeric("127.0.0.1", port, out, len, diag);
    return ward_diag_set(diag, WARD_ERR_NOTFOUND, "%s is not an address", host);
}

ward_err ward_resolve_target(const char *target, struct sockaddr_storage *out, socklen_t *len,
                             struct ward_diag *diag)
{
    char host[512];
    if (snprintf(host, sizeof host, "%s", target) >= (int)sizeof host)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "address too long: %.64s...", target);
    char *colon = strrchr(host, ':'), *h = host;
    if (!colon)
        return ward_diag_set(diag, WARD_ERR_PARSE, "%s: not HOST:PORT", target);
    *colon = 0;
    if (h[0] == '[' && colon > h + 1 && colon[-1] == ']') {
        colon[-1] = 0;
        h++;
    }
    return ward_resolve_tcp(h, colon + 1, out, len, diag);
}

#ifdef WARD_RESOLVE_NUMERIC_ONLY
ward_err ward_resolve_tcp(const char *host, const char *port, struct sockaddr_storage *out,
                          socklen_t *len, struct ward_diag *diag)
{
    if (ward_resolve_numeric(host, port, out, len, diag) == WARD_OK)
        return WARD_OK;
    return ward_diag_set(diag, WARD_ERR_NOTFOUND,
                         "%s:%s: this program takes wardd's TCP address as numbers "
                         "(an IPv4 or IPv6 address, or localhost), not a host name",
                         host, port);
}
#endif
