/*
 * listen.c - the milter socket from its specification, as MTAs and
 * libmilter write it: unix:PATH, local:PATH or /PATH; inet:PORT[@HOST] and
 * inet6:PORT[@HOST] (HOST an address or a name; loopback when omitted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/listen.h"
#include "server.h"

const char *milter_unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    return spec[0] == '/' ? spec : NULL;
}

static int listen_unix(const char *path, struct ward_diag *diag)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!*path || strlen(path) >= sizeof sa.sun_path) {
        ward_diag_set(diag, WARD_ERR_LIMIT, "bad socket path: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* A socket file left by a dead milter is replaced; a live one is not. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            ward_diag_set(diag, WARD_ERR_IO, "%s exists and is not a socket", path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            ward_diag_set(diag, WARD_ERR_IO, "%s: another milter is listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        ward_diag_set(diag, WARD_ERR_IO, "socket: %s", strerror(errno));
        return -1;
    }
    /* nobody may connect before the caller sets the mode and group */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r != 0 || listen(fd, 512) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int listen_inet(const char *spec, int family, struct ward_diag *diag)
{
    char port[16];
    const char *at = strchr(spec, '@');
    size_t pl = at ? (size_t)(at - spec) : strlen(spec);
    if (pl == 0 || pl >= sizeof port || strspn(spec, "0123456789") != pl) {
        ward_diag_set(diag, WARD_ERR_PARSE, "expected PORT@HOST, not %s", spec);
        return -1;
    }
    memcpy(port, spec, pl);
    port[pl] = 0;
    return ward_listen_tcp(at ? at + 1 : NULL, port, family, false, diag); /* no host: loopback */
}

int milter_listen(const char *spec, struct ward_diag *diag)
{
    const char *path = milter_unix_path(spec);
    if (path)
        return listen_unix(path, diag);
    if (strncmp(spec, "inet:", 5) == 0)
        return listen_inet(spec + 5, AF_INET, diag);
    if (strncmp(spec, "inet6:", 6) == 0)
        return listen_inet(spec + 6, AF_INET6, diag);
    ward_diag_set(diag, WARD_ERR_PARSE, "expected unix:PATH, inet:PORT@HOST or inet6:PORT@HOST");
    return -1;
}
