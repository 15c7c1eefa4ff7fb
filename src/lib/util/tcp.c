/*
 * tcp.c - socket options for request/reply protocols over TCP (see tcp.h).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "util/tcp.h"

bool ward_is_tcp(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return false;
    if (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)
        return false;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM;
}

void ward_tcp_nodelay(int fd)
{
    int one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void ward_tcp_quickack(int fd)
{
    int one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}
