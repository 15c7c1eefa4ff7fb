/*
 * tcp.h - socket options for request/reply protocols over TCP.
 *
 * Ward's protocols write a request or reply whole and then wait for the
 * other side. Over TCP two kernel habits then cost a delayed-ACK timeout
 * (40 ms on Linux) per message: Nagle's algorithm holds a small write while
 * earlier bytes are unacknowledged, and the receiver of a one-way stream
 * delays its ACK. Both calls are no-ops on other sockets.
 */
#ifndef WARD_UTIL_TCP_H
#define WARD_UTIL_TCP_H

#include <stdbool.h>

/* True when fd is a TCP socket (IPv4 or IPv6). */
bool ward_is_tcp(int fd);

/* Our own writes go out at once (TCP_NODELAY). */
void ward_tcp_nodelay(int fd);

/*
 * ACK what has arrived at once, and keep doing so for a while
 * (TCP_QUICKACK, which the kernel turns off again by itself): for a peer
 * that streams several writes without waiting and keeps Nagle on, as
 * Postfix does towards a milter. Called after each read.
 */
void ward_tcp_quickack(int fd);

#endif
