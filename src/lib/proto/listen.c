/* listen.c - a listening TCP socket (see listen.h). */
#include "proto/listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ward_listen_tcp(const char *host, const char *port, int family, bool wildcard,
                    struct ward_diag *diag)
{
    char name[300];
    snprintf(name, sizeof name, "%s", host ? host : "");
    size_t n = strlen(name);
    char *h = name;
    if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
        name[n - 1] = 0;
        h++;
    }
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (wildcard ? AI_PASSIVE : 0)};
    struct addrinfo *ai = NULL;
    int gr = getaddrinfo(*h ? h : NULL, port, &hints, &ai);
    if (gr != 0) {
        ward_diag_set(diag, WARD_ERR_PARSE, "%s port %s: %s", *h ? h : "*", port,
                      gai_strerror(gr));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "cannot listen on %s port %s: %s", *h ? h : "*", port,
                      strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}
