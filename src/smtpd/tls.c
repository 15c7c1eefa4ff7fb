/*
 * tls.c - STARTTLS on the client side (OpenSSL through libevent's
 * bufferevent_openssl), offered only when [smtp] tls_cert is set. The next
 * hop is on loopback or a trusted network and is spoken to in the clear.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/bufferevent_ssl.h>

#include "smtpd.h"
#include "util/log.h"

void *smtpd_tls_ctx(const struct smtpd_cfg *cfg, struct ward_diag *diag)
{
    if (!cfg->tls_cert[0])
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ward_diag_set(diag, WARD_ERR_INTERNAL, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        ward_diag_set(diag, WARD_ERR_PARSE, "[smtp] tls_cert %s / tls_key %s: %s", cfg->tls_cert,
                      cfg->tls_key, e);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void smtpd_tls_ctx_free(void *ctx)
{
    if (ctx)
        SSL_CTX_free(ctx);
}

bool smtpd_tls_start(struct smtpd_session *s)
{
    SSL *ssl = SSL_new(s->sd->tls_ctx);
    if (!ssl)
        return false;
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(s->bev, &rd, &wr, &ev, &arg);
    struct bufferevent *tb = bufferevent_openssl_filter_new(
        s->sd->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!tb) {
        SSL_free(ssl);
        return false;
    }
    struct timeval tv = {(time_t)s->sd->cfg->client_timeout, 0};
    s->bev = tb;
    s->tls = true;
    bufferevent_setcb(tb, rd, wr, ev, arg);
    bufferevent_set_timeouts(tb, &tv, &tv);
    bufferevent_enable(tb, EV_READ | EV_WRITE);
    return true;
}
