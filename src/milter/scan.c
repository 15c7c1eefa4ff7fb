/*
 * scan.c - the one call from ward-milter to wardd.
 *
 * Skeleton: until wardd's MAILSCAN (proto/mailproto.h) is in the library,
 * every message is answered "accept, unchanged" here, so that the rest of
 * the milter (spooling, replies, modifications) can be run against a real
 * MTA.
 */
#include <string.h>

#include "milter.h"

struct milter_cfg milter_cfg;

ward_err milter_scan(SMFICTX *ctx, struct milter_conn *c, struct ward_mailproto_reply *out,
                     struct ward_diag *diag)
{
    (void)ctx;
    memset(out, 0, sizeof *out);
    out->msg_fd = -1;
    out->message = WARD_MAILPROTO_UNCHANGED;
    if (c->msg.n_rcpts == 0)
        return ward_diag_set(diag, WARD_ERR_PARSE, "no recipient");
    return WARD_OK;
}

void ward_mailproto_reply_free(struct ward_mailproto_reply *r)
{
    (void)r;
}
const char *ward_mail_status_name(enum ward_mail_status s)
{
    return s == WARD_MAIL_CLEAN ? "clean" : "not clean";
}
const char *ward_mail_action_name(enum ward_mail_action a)
{
    return a == WARD_MAIL_ACCEPT ? "accept" : "other";
}
