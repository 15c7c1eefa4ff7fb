/*
 * scan.c - the one call from ward-milter to wardd: the spooled message and
 * its envelope go as a MAILSCAN request (the descriptor on a unix socket).
 */
#include <string.h>

#include "milter.h"

ward_err milter_scan(struct milter_sess *s, struct milter_conn *c, struct ward_mailproto_reply *out,
                     struct ward_diag *diag)
{
    struct milter_msg *m = &c->msg;
    struct ward_mail_env env = {
        .sender = m->sender ? m->sender : "",
        .rcpts = (const char *const *)m->rcpts,
        .n_rcpts = m->n_rcpts,
        .client_addr = c->client_addr[0] ? c->client_addr : NULL,
        .helo = c->helo,
        .agent = "milter",
        .queue_id = milter_sess_macro(s, "i"),
    };
    if (m->n_rcpts == 0)
        return ward_diag_set(diag, WARD_ERR_PARSE, "no recipient");
    return ward_mailproto_scan(milter_cfg.wardd, m->fd, &env, milter_cfg.scan_timeout_ms,
                               milter_cfg.tmpdir[0] ? milter_cfg.tmpdir : NULL, out, diag);
}
