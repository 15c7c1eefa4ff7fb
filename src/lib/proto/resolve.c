/* resolve.c - TCP addresses of wardd: numbers, else the name service (resolve.h). */
#include <netdb.h>
#include <string.h>

#include "proto/resolve.h"

ward_err ward_resolve_tcp(const char *host, const char *port, struct sockaddr_storage *out,
                          socklen_t *len, struct ward_diag *diag)
{
    if (ward_resolve_numeric(host, port, out, len, NULL) == WARD_OK)
        return WARD_OK;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s:%s: %s", host, port, gai_strerror(r));
    if (ai->ai_addrlen > sizeof *out) {
        freeaddrinfo(ai);
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: address too long", host);
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return WARD_OK;
}
