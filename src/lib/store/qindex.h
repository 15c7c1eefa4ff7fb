/*
 * qindex.h - the quarantine's SQLite index: schema, rows, queries.
 *
 * One table, `objects`, has a row per stored object (see the columns in
 * qindex.c); `meta` keeps the schema version and the fingerprint of the key.
 * The database runs in WAL mode with synchronous=FULL (a committed put
 * survives a power cut) and a busy timeout, so several processes write at
 * once; writes go through IMMEDIATE transactions.
 *
 * Contract: a connection is used by one thread at a time (the store's lock);
 * callbacks get records whose strings live until they return. Errors come
 * back with SQLite's message in `diag`.
 */
#ifndef WARD_STORE_QINDEX_H
#define WARD_STORE_QINDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/quarantine.h"
#include "util/err.h"

typedef struct sqlite3 sqlite3;

/* Open (creating when missing, mode 0600, owned by uid:gid unless -1) and set up. */
ward_err ward_qindex_open(const char *path, bool create, uid_t uid, gid_t gid, sqlite3 **out,
                          struct ward_diag *diag) WARD_MUST_CHECK;
void ward_qindex_close(sqlite3 *db);

ward_err ward_qindex_begin(sqlite3 *db, struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_qindex_commit(sqlite3 *db, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_qindex_rollback(sqlite3 *db);

ward_err ward_qindex_insert(sqlite3 *db, const struct ward_qrecord *r,
                            struct ward_diag *diag) WARD_MUST_CHECK;
/* WARD_ERR_NOTFOUND when no row has this id. */
ward_err ward_qindex_delete(sqlite3 *db, const char *id, struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_qindex_exists(sqlite3 *db, const char *id, bool *yes,
                            struct ward_diag *diag) WARD_MUST_CHECK;
/* Rows matching `f` (NULL: all) oldest first; with `id` set, only that row. */
ward_err ward_qindex_select(sqlite3 *db, const struct ward_qfilter *f, const char *id,
                            ward_qlist_fn fn, void *ctx, struct ward_diag *diag) WARD_MUST_CHECK;
/* Ids starting with `prefix`: how many (counting stops at 2) and the first. */
ward_err ward_qindex_prefix(sqlite3 *db, const char *prefix, unsigned *n, char id[WARD_QID_LEN + 1],
                            struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_qindex_usage(sqlite3 *db, uint64_t *count, uint64_t *bytes,
                           struct ward_diag *diag) WARD_MUST_CHECK;

/* One object chosen for removal. */
struct ward_qvictim {
    char id[WARD_QID_LEN + 1];
    uint64_t stored_size;
};

/*
 * Oldest first, at most `max` rows other than `keep` (may be NULL) that
 * must go: those older than `before` (0: none), then as many more as bring
 * the total stored size down to `max_size` (0: no limit). Read inside the
 * caller's transaction.
 */
ward_err ward_qindex_victims(sqlite3 *db, int64_t before, uint64_t max_size, const char *keep,
                             struct ward_qvictim *out, size_t max, size_t *n,
                             struct ward_diag *diag) WARD_MUST_CHECK;

/* SQLite's quick_check: `out` receives "ok" or the first problem. */
ward_err ward_qindex_quick_check(sqlite3 *db, char *out, size_t cap,
                                 struct ward_diag *diag) WARD_MUST_CHECK;

/* meta values; WARD_ERR_NOTFOUND when unset. */
ward_err ward_qindex_meta_get(sqlite3 *db, const char *key, char *out, size_t cap,
                              struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_qindex_meta_set(sqlite3 *db, const char *key, const char *value,
                              struct ward_diag *diag) WARD_MUST_CHECK;

#endif
