/*
 * mailpool.h - wardd connections kept open between MAILSCAN requests
 * (keep=yes, proto/mailproto.h), for agents that scan one message after
 * another: connect, accept and close once per connection, not per message.
 * Process-wide and thread-safe; off until ward_mailproto_keep_connections().
 */
#ifndef WARD_PROTO_MAILPOOL_H
#define WARD_PROTO_MAILPOOL_H

#include <stdbool.h>

/* Whether connections are kept at all. */
bool ward_mailpool_on(void);

/*
 * A kept connection to `target` that is still open and silent, or -1. The
 * caller owns it; a connection wardd closed (idle_timeout, restart) is
 * dropped here, not handed out.
 */
int ward_mailpool_take(const char *target);

/* Keep `sock` (a connection to `target` whose last reply was read whole), or close it. */
void ward_mailpool_give(const char *target, int sock);

#endif
