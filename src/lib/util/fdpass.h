/*
 * fdpass.h - sending a descriptor with bytes over a unix socket (SCM_RIGHTS).
 *
 * Contract: the descriptor rides on the first byte of what sendmsg takes;
 * the caller keeps its own copy and closes it. Returns what sendmsg returns.
 */
#ifndef WARD_UTIL_FDPASS_H
#define WARD_UTIL_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* sendmsg of n bytes at p with `fd` attached (fd -1: none); flags as for send. */
ssize_t ward_send_with_fd(int sock, const void *p, size_t n, int fd, int flags);

/*
 * recvmsg of up to n bytes into p without waiting (close-on-exec
 * descriptors); a descriptor that comes along goes to *fd_in when that is
 * -1, any other is closed. Returns what recvmsg returns.
 */
ssize_t ward_recv_keep_fd(int sock, void *p, size_t n, int *fd_in);

#endif
