/*
 * server.h - ward-milter's listening socket and its accept loop: one
 * detached thread per MTA connection, blocking I/O with the MTA timeout.
 * (The MTA bounds its number of connections; a fixed cap guards the rest.)
 */
#ifndef WARD_MILTER_SERVER_H
#define WARD_MILTER_SERVER_H

#include "util/err.h"

/* The path of a unix:, local: or /PATH socket specification, or NULL. */
const char *milter_unix_path(const char *spec);

/* A listening socket for `spec` (non-blocking), or -1 and diag. */
int milter_listen(const char *spec, struct ward_diag *diag);

/*
 * Accept MTA connections on lfd until SIGTERM, SIGINT or SIGHUP (which the
 * caller has blocked in every thread: they are read here with signalfd),
 * then wait up to `drain_s` seconds for the open sessions to end.
 * timeout_s bounds every read and write on an MTA connection (0: none).
 * lfd is closed on return.
 */
ward_err milter_serve(int lfd, unsigned timeout_s, unsigned drain_s,
                      struct ward_diag *diag) WARD_MUST_CHECK;

#endif
