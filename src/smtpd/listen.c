/*
 * listen.c - the listening socket and the checks made at connect, before a
 * byte is read: allowed_clients (5xx: never a relay for strangers), then
 * max_connections and max_per_client (4xx: come back later).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "smtpd.h"
#include "util/log.h"

static void refuse(int fd, const char *msg)
{
    /* a fresh socket has room for one line; best effort */
    ssize_t r = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)r;
    close(fd);
}

static unsigned count_from(const struct smtpd *sd, const char *peer)
{
    unsigned n = 0;
    for (const struct smtpd_session *s = sd->sessions; s; s = s->next)
        n += strcmp(s->peer, peer) == 0;
    return n;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct smtpd *sd = arg;
    const struct smtpd_cfg *cfg = sd->cfg;
    char peer[64] = "?", line[400];
    (void)l;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    if (!smtpd_acl_allows(cfg, sa)) {
        ward_log(WARD_LOG_WARNING, "%s: refused: not in allowed_clients", peer);
        snprintf(line, sizeof line, "554 5.7.1 %s Error: access denied for %s\r\n",
                 cfg->hostname, peer);
        refuse(fd, line);
        return;
    }
    if (cfg->max_connections && sd->n_sessions >= cfg->max_connections) {
        ward_log(WARD_LOG_WARNING, "%s: refused: max_connections (%u) reached", peer,
                 cfg->max_connections);
        snprintf(line, sizeof line, "421 4.7.0 %s Error: too many connections\r\n",
                 cfg->hostname);
        refuse(fd, line);
        return;
    }
    if (cfg->max_per_client && count_from(sd, peer) >= cfg->max_per_client) {
        ward_log(WARD_LOG_WARNING, "%s: refused: max_per_client (%u) reached", peer,
                 cfg->max_per_client);
        snprintf(line, sizeof line,
                 "421 4.7.0 %s Error: too many connections from your address\r\n",
                 cfg->hostname);
        refuse(fd, line);
        return;
    }
    smtpd_session_start(sd, fd, sa, salen);
}

static void on_error(struct evconnlistener *l, void *arg)
{
    (void)l, (void)arg;
    ward_log(WARD_LOG_ERROR, "accept: %s", strerror(errno));
}

bool smtpd_listen(struct smtpd *sd, struct ward_diag *diag)
{
    const struct smtpd_cfg *cfg = sd->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    const char *addr = cfg->listen_addr[0] ? cfg->listen_addr : "127.0.0.1";
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->listen_port);
        len = sizeof *in6;
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            goto bad;
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->listen_port);
        len = sizeof *in4;
        if (inet_pton(AF_INET, addr, &in4->sin_addr) != 1)
            goto bad;
    }
    sd->listener = evconnlistener_new_bind(
        sd->base, on_accept, sd, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&ss, (int)len);
    if (!sd->listener) {
        ward_diag_set(diag, WARD_ERR_IO, "cannot listen on %s port %u: %s", addr,
                      cfg->listen_port, strerror(errno));
        return false;
    }
    evconnlistener_set_error_cb(sd->listener, on_error);
    return true;
bad:
    ward_diag_set(diag, WARD_ERR_PARSE, "[smtp] listen_addr %s is not an IP address", addr);
    return false;
}
