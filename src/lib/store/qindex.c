/* qindex.c - the quarantine's SQLite index. */
#include "store/qindex.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 30000
#define SCHEMA_VERSION "1"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects ("
    "  seq INTEGER PRIMARY KEY," /* insertion order: oldest first within a second */
    "  id TEXT NOT NULL UNIQUE,"
    "  time INTEGER NOT NULL," /* seconds since the epoch */
    "  kind TEXT NOT NULL CHECK (kind IN ('quarantine', 'backup')),"
    "  program TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  path TEXT,"       /* a file's original path */
    "  sender TEXT,"     /* a message's envelope sender ('' for <>) */
    "  recipients TEXT," /* joined with newlines */
    "  subject TEXT,"
    "  message_id TEXT,"
    "  verdict TEXT NOT NULL,"
    "  names TEXT,"                   /* detection names, joined with newlines */
    "  size INTEGER NOT NULL,"        /* of the original */
    "  sha256 TEXT NOT NULL,"         /* of the original, hex */
    "  stored_size INTEGER NOT NULL," /* the object file's size */
    "  mode INTEGER, uid INTEGER, gid INTEGER, mtime INTEGER);"
    "CREATE INDEX IF NOT EXISTS objects_time ON objects (time, seq);";

#define COLUMNS                                                                                    \
    "id, time, kind, program, host, path, sender, recipients, subject, message_id, verdict, "      \
    "names, size, sha256, stored_size, mode, uid, gid, mtime"

static ward_err db_error(sqlite3 *db, struct ward_diag *diag, const char *what)
{
    int rc = sqlite3_errcode(db);
    ward_err e = WARD_ERR_IO;
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        e = WARD_ERR_CORRUPT;
    else if (rc == SQLITE_NOMEM)
        e = WARD_ERR_NOMEM;
    else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        e = WARD_ERR_TIMEOUT;
    const char *msg = rc == SQLITE_FULL ? "no space left on the device" : sqlite3_errmsg(db);
    return ward_diag_set(diag, e, "quarantine index: %s: %s", what, msg);
}

static ward_err exec(sqlite3 *db, const char *sql, struct ward_diag *diag)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(db, diag, sql);
    return WARD_OK;
}

static ward_err prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct ward_diag *diag)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return db_error(db, diag, "prepare");
    return WARD_OK;
}

/* WAL mode cannot be entered while another connection holds a lock; retry. */
static ward_err set_wal(sqlite3 *db, struct ward_diag *diag)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int tries = 0;; tries++) {
        sqlite3_stmt *st;
        ward_err e = prepare(db, "PRAGMA journal_mode=WAL", &st, diag);
        if (e)
            return e;
        int rc = sqlite3_step(st);
        bool wal = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        sqlite3_finalize(st);
        if (wal)
            return WARD_OK;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries * 10 > BUSY_TIMEOUT_MS)
            return ward_diag_set(diag, WARD_ERR_IO, "quarantine index: cannot enter WAL mode: %s",
                                 sqlite3_errmsg(db));
        nanosleep(&pause, NULL);
    }
}

ward_err ward_qindex_open(const char *path, bool create, uid_t uid, gid_t gid, sqlite3 **out,
                          struct ward_diag *diag)
{
    *out = NULL;
    /* Made here, not by SQLite, so that it is 0600 from the start; SQLite gives
       its -wal and -shm files the mode and (as root) the owner of this file. */
    if (create) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            if (uid != (uid_t)-1 && fchown(fd, uid, gid) != 0) {
                ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot give %s to its owner: %s",
                                           path, strerror(errno));
                close(fd);
                unlink(path);
                return e;
            }
            close(fd);
        } else if (errno != EEXIST) {
            return ward_diag_set(diag, WARD_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        }
    } else if (access(path, F_OK) != 0) {
        return ward_diag_set(diag, WARD_ERR_NOTFOUND, "%s: %s", path, strerror(errno));
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ward_err e = ward_diag_set(diag, WARD_ERR_IO, "cannot open %s: %s", path,
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    ward_err e = set_wal(db, diag);
    if (!e)
        e = exec(db, "PRAGMA synchronous=FULL", diag);
    if (!e && !(e = ward_qindex_begin(db, diag))) {
        e = exec(db, schema, diag);
        char v[16];
        if (!e && ward_qindex_meta_get(db, "schema", v, sizeof v, NULL) == WARD_ERR_NOTFOUND)
            e = ward_qindex_meta_set(db, "schema", SCHEMA_VERSION, diag);
        else if (!e && strcmp(v, SCHEMA_VERSION) != 0)
            e = ward_diag_set(diag, WARD_ERR_UNSUPPORTED,
                              "%s: index schema version %s is not supported", path, v);
        if (!e)
            e = ward_qindex_commit(db, diag);
        else
            ward_qindex_rollback(db);
    }
    if (e) {
        if (e == WARD_ERR_CORRUPT)
            ward_diag_prefix(diag, e, "%s: ", path);
        sqlite3_close(db);
        return e;
    }
    *out = db;
    return WARD_OK;
}

void ward_qindex_close(sqlite3 *db)
{
    sqlite3_close(db);
}

ward_err ward_qindex_begin(sqlite3 *db, struct ward_diag *diag)
{
    return exec(db, "BEGIN IMMEDIATE", diag);
}

ward_err ward_qindex_commit(sqlite3 *db, struct ward_diag *diag)
{
    ward_err e = exec(db, "COMMIT", diag);
    if (e)
        ward_qindex_rollback(db);
    return e;
}

void ward_qindex_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

ward_err ward_qindex_insert(sqlite3 *db, const struct ward_qrecord *r, struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db,
                         "INSERT INTO objects (" COLUMNS ") VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                         "?16, ?17, ?18, ?19)",
                         &st, diag);
    if (e)
        return e;
    bind_text(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->time);
    bind_text(st, 3, ward_qkind_name(r->kind));
    bind_text(st, 4, r->program);
    bind_text(st, 5, r->host);
    bind_text(st, 6, r->path);
    bind_text(st, 7, r->sender);
    bind_text(st, 8, r->recipients);
    bind_text(st, 9, r->subject);
    bind_text(st, 10, r->message_id);
    bind_text(st, 11, r->verdict);
    bind_text(st, 12, r->names);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)r->size);
    bind_text(st, 14, r->sha256);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)r->stored_size);
    if (r->have_attrs) {
        sqlite3_bind_int64(st, 16, r->mode);
        sqlite3_bind_int64(st, 17, r->uid);
        sqlite3_bind_int64(st, 18, r->gid);
        sqlite3_bind_int64(st, 19, r->mtime);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        e = db_error(db, diag, "insert");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_delete(sqlite3 *db, const char *id, struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db, "DELETE FROM objects WHERE id = ?1", &st, diag);
    if (e)
        return e;
    bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        e = db_error(db, diag, "delete");
    else if (sqlite3_changes(db) == 0)
        e = ward_diag_set(diag, WARD_ERR_NOTFOUND, "no object %s in the quarantine", id);
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_exists(sqlite3 *db, const char *id, bool *yes, struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db, "SELECT 1 FROM objects WHERE id = ?1", &st, diag);
    if (e)
        return e;
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        *yes = rc == SQLITE_ROW;
    else
        e = db_error(db, diag, "select");
    sqlite3_finalize(st);
    return e;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i); /* NULL for NULL */
}

static void row_to_record(sqlite3_stmt *st, struct ward_qrecord *r)
{
    memset(r, 0, sizeof *r);
    const char *id = col_text(st, 0);
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
    r->time = sqlite3_column_int64(st, 1);
    const char *kind = col_text(st, 2);
    if (!kind || !ward_qkind_parse(kind, &r->kind))
        r->kind = WARD_QKIND_QUARANTINE;
    r->program = col_text(st, 3);
    r->host = col_text(st, 4);
    r->path = col_text(st, 5);
    r->sender = col_text(st, 6);
    r->recipients = col_text(st, 7);
    r->subject = col_text(st, 8);
    r->message_id = col_text(st, 9);
    r->verdict = col_text(st, 10);
    r->names = col_text(st, 11);
    r->size = (uint64_t)sqlite3_column_int64(st, 12);
    const char *sha = col_text(st, 13);
    snprintf(r->sha256, sizeof r->sha256, "%s", sha ? sha : "");
    r->stored_size = (uint64_t)sqlite3_column_int64(st, 14);
    r->have_attrs = sqlite3_column_type(st, 15) != SQLITE_NULL;
    r->mode = (uint32_t)sqlite3_column_int64(st, 15);
    r->uid = (uint32_t)sqlite3_column_int64(st, 16);
    r->gid = (uint32_t)sqlite3_column_int64(st, 17);
    r->mtime = sqlite3_column_int64(st, 18);
}

ward_err ward_qindex_select(sqlite3 *db, const struct ward_qfilter *f, const char *id,
                            ward_qlist_fn fn, void *ctx, struct ward_diag *diag)
{
    char sql[1024];
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT " COLUMNS " FROM objects WHERE 1");
    static const struct {
        const char *cond;
    } conds[] = {
        {" AND id = ?1"},
        {" AND time >= ?2"},
        {" AND time < ?3"},
        {" AND kind = ?4"},
        {" AND instr(lower(names), lower(?5)) > 0"},
        {" AND instr(lower(sender), lower(?6)) > 0"},
        {" AND instr(lower(recipients), lower(?7)) > 0"},
        {" AND instr(lower(path), lower(?8)) > 0"},
    };
    bool use[8] = {id != NULL};
    if (f) {
        use[1] = f->since != 0;
        use[2] = f->before != 0;
        use[3] = f->kind >= 0;
        use[4] = f->name != NULL;
        use[5] = f->sender != NULL;
        use[6] = f->recipient != NULL;
        use[7] = f->path != NULL;
    }
    for (int i = 0; i < 8; i++)
        if (use[i])
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s", conds[i].cond);
    snprintf(sql + n, sizeof sql - n, " ORDER BY time, seq");

    sqlite3_stmt *st;
    ward_err e = prepare(db, sql, &st, diag);
    if (e)
        return e;
    if (use[0])
        bind_text(st, 1, id);
    if (f) {
        if (use[1])
            sqlite3_bind_int64(st, 2, f->since);
        if (use[2])
            sqlite3_bind_int64(st, 3, f->before);
        if (use[3])
            bind_text(st, 4, ward_qkind_name((enum ward_qkind)f->kind));
        if (use[4])
            bind_text(st, 5, f->name);
        if (use[5])
            bind_text(st, 6, f->sender);
        if (use[6])
            bind_text(st, 7, f->recipient);
        if (use[7])
            bind_text(st, 8, f->path);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ward_qrecord r;
        row_to_record(st, &r);
        if (!fn(ctx, &r)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        e = db_error(db, diag, "select");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_prefix(sqlite3 *db, const char *prefix, unsigned *n, char id[WARD_QID_LEN + 1],
                            struct ward_diag *diag)
{
    sqlite3_stmt *st;
    /* ids are lowercase hex: a range on the unique index, no LIKE escaping needed */
    ward_err e = prepare(db,
                         "SELECT id FROM objects WHERE id >= ?1 AND id < ?1 || 'g' "
                         "ORDER BY id LIMIT 2",
                         &st, diag);
    if (e)
        return e;
    bind_text(st, 1, prefix);
    *n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((*n)++ == 0)
            snprintf(id, WARD_QID_LEN + 1, "%s", col_text(st, 0));
    }
    if (rc != SQLITE_DONE)
        e = db_error(db, diag, "select");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_usage(sqlite3 *db, uint64_t *count, uint64_t *bytes, struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e =
        prepare(db, "SELECT count(*), COALESCE(sum(stored_size), 0) FROM objects", &st, diag);
    if (e)
        return e;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *count = (uint64_t)sqlite3_column_int64(st, 0);
        *bytes = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        e = db_error(db, diag, "select");
    }
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_victims(sqlite3 *db, int64_t before, uint64_t max_size, const char *keep,
                             struct ward_qvictim *out, size_t max, size_t *n,
                             struct ward_diag *diag)
{
    *n = 0;
    uint64_t total = 0, count = 0;
    ward_err e = WARD_OK;
    if (max_size && (e = ward_qindex_usage(db, &count, &total, diag)))
        return e;
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;
    if ((e = prepare(db,
                     "SELECT id, stored_size, time FROM objects WHERE id != ?1 "
                     "ORDER BY time, seq",
                     &st, diag)))
        return e;
    bind_text(st, 1, keep ? keep : "");
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t size = (uint64_t)sqlite3_column_int64(st, 1);
        bool old = before && sqlite3_column_int64(st, 2) < before;
        bool over = max_size && total > max_size;
        if (!old && !over) {
            rc = SQLITE_DONE;
            break;
        }
        snprintf(out[*n].id, sizeof out[*n].id, "%s", col_text(st, 0));
        out[*n].stored_size = size;
        (*n)++;
        total = total > size ? total - size : 0;
    }
    if (*n < max && rc != SQLITE_DONE)
        e = db_error(db, diag, "select");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_meta_get(sqlite3 *db, const char *key, char *out, size_t cap,
                              struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db, "SELECT value FROM meta WHERE key = ?1", &st, diag);
    if (e)
        return e;
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, cap, "%s", col_text(st, 0) ? col_text(st, 0) : "");
    else if (rc == SQLITE_DONE)
        e = ward_diag_set(diag, WARD_ERR_NOTFOUND, "quarantine index: no %s", key);
    else
        e = db_error(db, diag, "select");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_meta_set(sqlite3 *db, const char *key, const char *value,
                              struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", &st, diag);
    if (e)
        return e;
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    if (sqlite3_step(st) != SQLITE_DONE)
        e = db_error(db, diag, "insert");
    sqlite3_finalize(st);
    return e;
}

ward_err ward_qindex_quick_check(sqlite3 *db, char *out, size_t cap, struct ward_diag *diag)
{
    sqlite3_stmt *st;
    ward_err e = prepare(db, "PRAGMA quick_check(1)", &st, diag);
    if (e)
        return e;
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, cap, "%s", col_text(st, 0) ? col_text(st, 0) : "");
    else
        e = db_error(db, diag, "quick_check");
    sqlite3_finalize(st);
    return e;
}
