/*
 * daemon_client.h - `ward scan --daemon`: scanning through wardd (or any
 * clamd-compatible daemon) the way clamdscan does, by path, by stream
 * (INSTREAM) or by passing the descriptor (FILDES).
 *
 * Each worker thread keeps one IDSESSION open and sends its files over it
 * one at a time; ALLMATCHSCAN, which clamd refuses inside a session, takes a
 * connection per file. Replies are mapped back to verdicts: "NAME FOUND" is
 * infected, and the Heuristics names wardd uses for objects it could not
 * fully scan become not_scanned with their reason.
 */
#ifndef WARD_CLI_DAEMON_CLIENT_H
#define WARD_CLI_DAEMON_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/scan.h"

enum dclient_mode { DCLIENT_PATH, DCLIENT_STREAM, DCLIENT_FDPASS };

struct dclient;

/* One finding of a reply line. */
typedef void (*dclient_fn)(void *ctx, enum ward_verdict v, enum ward_reason r, const char *name,
                           const char *path);

/* target: a unix socket path, or HOST:PORT for TCP. */
struct dclient *dclient_new(const char *target, enum dclient_mode mode, bool all_matches);
void dclient_free(struct dclient *c);

/*
 * Scan one file: `path` (absolute, for DCLIENT_PATH) and `fd` (open, for the
 * other modes; stdin is always streamed). Returns 0, or -1 with a message
 * when the daemon could not be asked or answered with an error.
 */
int dclient_scan(struct dclient *c, const char *path, int fd, bool is_stdin, dclient_fn fn,
                 void *ctx, char *err, size_t errcap);

/* MULTISCAN of a path (file or tree) on its own connection; every line to fn. */
int dclient_multiscan(const char *target, const char *path, dclient_fn fn, void *ctx, char *err,
                      size_t errcap);

#endif
