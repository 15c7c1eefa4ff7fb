/* listen.c - wardd's listening sockets: a unix socket (mode and group set
 * before privileges are dropped) and an optional TCP address. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/daemon.h"
#include "proto/listen.h"
#include "wardd.h"

int listen_unix(const struct wardd_cfg *cfg, struct ward_diag *diag)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(cfg->socket_path) >= sizeof sa.sun_path) {
        ward_diag_set(diag, WARD_ERR_LIMIT, "socket path too long: %s", cfg->socket_path);
        return -1;
    }
    strcpy(sa.sun_path, cfg->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        ward_diag_set(diag, WARD_ERR_IO, "socket: %s", strerror(errno));
        return -1;
    }
    /* A socket file left by a dead daemon is replaced; a live one is not. */
    struct stat st;
    if (lstat(cfg->socket_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            ward_diag_set(diag, WARD_ERR_IO, "%s exists and is not a socket", cfg->socket_path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            close(fd);
            ward_diag_set(diag, WARD_ERR_IO, "%s: another daemon is listening there",
                          cfg->socket_path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(cfg->socket_path);
    }
    mode_t old = umask(0777 & ~cfg->socket_mode);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "cannot bind %s: %s", cfg->socket_path,
                      strerror(errno));
        close(fd);
        return -1;
    }
    if (chmod(cfg->socket_path, cfg->socket_mode) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "chmod %s: %s", cfg->socket_path, strerror(errno));
        close(fd);
        return -1;
    }
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (cfg->user[0] && geteuid() == 0 && ward_user_ids(cfg->user, &uid, &gid, diag)) {
        close(fd);
        return -1;
    }
    if (cfg->socket_group[0] && ward_group_id(cfg->socket_group, &gid, diag)) {
        close(fd);
        return -1;
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(cfg->socket_path, uid, gid) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "chown %s: %s", cfg->socket_path, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 512) != 0) {
        ward_diag_set(diag, WARD_ERR_IO, "listen %s: %s", cfg->socket_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int listen_tcp(const char *hostport, struct ward_diag *diag)
{
    char host[300];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon) {
        ward_diag_set(diag, WARD_ERR_PARSE, "tcp_listen: expected ADDRESS:PORT");
        return -1;
    }
    *colon = 0;
    int fd = ward_listen_tcp(host, colon + 1, AF_UNSPEC, true, diag);
    if (fd < 0)
        ward_diag_prefix(diag, WARD_ERR_IO, "tcp_listen %s: ", hostport);
    return fd;
}
