/*
 * acl.c - allowed_clients: which client addresses may talk to the proxy.
 * Checked first, at connect, so that the proxy never makes the MTA behind
 * it an open relay. IPv4 clients on an IPv6 socket (::ffff:a.b.c.d) match
 * IPv4 networks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"

static bool parse_net(const char *s, size_t n, struct smtpd_net *net)
{
    char buf[80];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        char *end;
        *slash = 0;
        bits = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || bits < 0)
            return false;
    }
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        if (bits > 32)
            return false;
        net->bits = bits < 0 ? 32 : (unsigned)bits;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->family = AF_INET6;
        if (bits > 128)
            return false;
        net->bits = bits < 0 ? 128 : (unsigned)bits;
    } else {
        return false;
    }
    return true;
}

bool smtpd_acl_parse(const char *list, struct smtpd_cfg *cfg, const char **why)
{
    cfg->n_nets = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ,\t");
        if (cfg->n_nets == SMTPD_MAX_NETS) {
            *why = "too many networks (at most 64)";
            return false;
        }
        if (!parse_net(p, n, &cfg->nets[cfg->n_nets])) {
            *why = "expected IP addresses or networks (ADDRESS/BITS)";
            return false;
        }
        cfg->n_nets++;
        p += n;
    }
    return true;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool smtpd_acl_allows(const struct smtpd_cfg *cfg, const struct sockaddr *sa)
{
    uint8_t a4[4], a6[16];
    bool has4 = false, has6 = false;
    if (sa->sa_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        has4 = true;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(a6, in6, 16);
        has6 = true;
        if (IN6_IS_ADDR_V4MAPPED(in6)) {
            memcpy(a4, a6 + 12, 4);
            has4 = true;
        }
    }
    for (size_t i = 0; i < cfg->n_nets; i++) {
        const struct smtpd_net *n = &cfg->nets[i];
        if (n->family == AF_INET && has4 && prefix_eq(a4, n->addr, n->bits))
            return true;
        if (n->family == AF_INET6 && has6 && prefix_eq(a6, n->addr, n->bits))
            return true;
    }
    return false;
}
