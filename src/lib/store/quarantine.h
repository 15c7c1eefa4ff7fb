/*
 * quarantine.h - the quarantine and backup store shared by every Ward program.
 *
 * One directory holds the store:
 *
 *   DIR/key                 32 random bytes, mode 0600 (or quarantine_key_file)
 *   DIR/index.db            SQLite index (WAL mode): one row per object
 *   DIR/objects/XX/ID       the objects, encrypted (store/qobj.h)
 *   DIR/tmp/                objects being written, and intents (see below)
 *   DIR/lock                serialises the opening of the store
 *
 * Every object is encrypted at rest with libsodium's secretstream
 * (XChaCha20-Poly1305) under the store's key, so a quarantined file can
 * neither run nor be found by another scanner, and any change to it, its
 * header, its id or the key is detected before a byte is restored.
 *
 * Crash safety. A put writes the object to an unnamed file in tmp/ (named
 * tmp/ID.part where the filesystem has no O_TMPFILE), syncs it, names it
 * tmp/ID.put (the intent), links it to objects/XX/ID, syncs the directory and
 * only then inserts the index row in a transaction; a delete links the
 * object to tmp/ID.del, deletes the row and then the files. A writer holds
 * an flock on the object while an intent of its own exists. So
 * a crash or a full disk at any point leaves either nothing visible or a
 * complete object with its row, never a row without its object; the intents
 * tell the next opener (or verify) which files to remove, without walking
 * the objects directory.
 *
 * Concurrency. Any number of processes may use a store at once; the index
 * is SQLite in WAL mode with a busy timeout, writes are IMMEDIATE
 * transactions. One handle may be shared by threads: it serialises its index
 * use, while encryption and decryption run in parallel. A handle is not
 * carried across fork(): a child opens its own.
 *
 * Limits. quarantine_max_size (bytes on disk) and quarantine_max_age are
 * enforced after each put, in the put's transaction, oldest objects first;
 * ward_quarantine_purge() enforces them on request.
 *
 * Permissions. The directory must not be accessible by group or others
 * (0700), nor the key file (0600); the store refuses to open otherwise. New
 * files are 0600, directories 0700. When root uses a store owned by another
 * user (wardd's), the files it creates are given to that user.
 *
 * Contract: nothing here prints or exits; every failure returns a ward_err
 * with a message in `diag`. Objects stream in chunks of 1 MiB: their size is
 * not limited by memory (over 4 GB is fine).
 */
#ifndef WARD_STORE_QUARANTINE_H
#define WARD_STORE_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define WARD_QID_LEN 16 /* ids are 16 lowercase hex digits */

typedef struct ward_quarantine ward_quarantine;

enum ward_qkind {
    WARD_QKIND_QUARANTINE = 0, /* an object taken away after a verdict */
    WARD_QKIND_BACKUP = 1,     /* a copy made before a file was changed or deleted */
};

const char *ward_qkind_name(enum ward_qkind kind);
/* "quarantine" or "backup"; false otherwise. */
bool ward_qkind_parse(const char *s, enum ward_qkind *out);

struct ward_qopts {
    uint64_t max_size; /* bytes on disk, all objects; 0: no limit */
    uint64_t max_age;  /* seconds; 0: no limit */
    bool create;       /* make the directory, key and index when missing */
};

/* What a caller records with an object. Strings are copied; NULL: absent. */
struct ward_qmeta {
    enum ward_qkind kind;
    const char *program; /* "ward scan", "wardd", "ward-smtpd" ... */
    const char *host;    /* NULL: this host's name */
    int64_t time;        /* seconds since the epoch; 0: now */
    const char *path;    /* a file's original absolute path */
    /* a message: envelope sender ("" for <>), recipients, headers */
    const char *sender;
    const char *const *recipients;
    size_t n_recipients;
    const char *subject;
    const char *message_id;
    const char *verdict;      /* clean, infected, suspicious, not_scanned ... */
    const char *const *names; /* detection names */
    size_t n_names;
    /* a file's attributes, given back by a restore; have_attrs false: unknown */
    bool have_attrs;
    uint32_t mode, uid, gid;
    int64_t mtime;
};

/*
 * One object as the index knows it. Lists (recipients, names) are joined
 * with '\n'; absent fields are NULL. From ward_quarantine_list the strings
 * live until the callback returns; from ward_quarantine_get until
 * ward_qrecord_free.
 */
struct ward_qrecord {
    char id[WARD_QID_LEN + 1];
    int64_t time;
    enum ward_qkind kind;
    const char *program, *host, *path, *sender, *recipients, *subject, *message_id;
    const char *verdict, *names;
    uint64_t size;        /* the original's size */
    char sha256[65];      /* the original's SHA-256, hex */
    uint64_t stored_size; /* bytes on disk */
    bool have_attrs;
    uint32_t mode, uid, gid;
    int64_t mtime;
    char *storage; /* ward_quarantine_get: owns the strings */
};

void ward_qrecord_free(struct ward_qrecord *r);

/* Which objects to list; zero fields (and kind -1) match everything. */
struct ward_qfilter {
    int64_t since;  /* time >= since */
    int64_t before; /* time < before */
    int kind;       /* -1: any, else enum ward_qkind */
    /* case-insensitive substrings of a detection name, the sender, a recipient, the path */
    const char *name, *sender, *recipient, *path;
};

/* Return false to stop the listing. Do not call back into the store. */
typedef bool (*ward_qlist_fn)(void *ctx, const struct ward_qrecord *r);

/*
 * Open (with opts->create: create) the store in `dir`. `key_file` NULL means
 * DIR/key. A key that is missing from an existing store, or is not the key
 * the store was made with, does not stop the store from opening: listing,
 * deleting and purging work, and the operations that need the key fail with
 * the reason (ward_quarantine_key_problem). Opening also removes what a
 * crashed writer left behind.
 */
ward_err ward_quarantine_open(const char *dir, const char *key_file, const struct ward_qopts *opts,
                              ward_quarantine **out, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_quarantine_close(ward_quarantine *q);
/* NULL when the key is usable, else why not. */
const char *ward_quarantine_key_problem(const ward_quarantine *q);

/*
 * Store the bytes read from `fd` (from its current offset to its end) or
 * the `n` bytes at `p`; `id` receives the new id. A regular file larger than
 * quarantine_max_size is refused (WARD_ERR_LIMIT) before anything is written.
 */
ward_err ward_quarantine_put_fd(ward_quarantine *q, const struct ward_qmeta *meta, int fd,
                                char id[WARD_QID_LEN + 1], struct ward_diag *diag) WARD_MUST_CHECK;
ward_err ward_quarantine_put_mem(ward_quarantine *q, const struct ward_qmeta *meta, const void *p,
                                 size_t n, char id[WARD_QID_LEN + 1],
                                 struct ward_diag *diag) WARD_MUST_CHECK;

/* The record of one id (exact). WARD_ERR_NOTFOUND when there is none. */
ward_err ward_quarantine_get(ward_quarantine *q, const char *id, struct ward_qrecord *rec,
                             struct ward_diag *diag) WARD_MUST_CHECK;
/* The full id of the only object whose id starts with `prefix` (4 digits or more). */
ward_err ward_quarantine_resolve(ward_quarantine *q, const char *prefix, char id[WARD_QID_LEN + 1],
                                 struct ward_diag *diag) WARD_MUST_CHECK;
/* Records matching `f` (NULL: all), oldest first. */
ward_err ward_quarantine_list(ward_quarantine *q, const struct ward_qfilter *f, ward_qlist_fn fn,
                              void *ctx, struct ward_diag *diag) WARD_MUST_CHECK;
/* Objects in the store and their bytes on disk. */
ward_err ward_quarantine_usage(ward_quarantine *q, uint64_t *count, uint64_t *bytes,
                               struct ward_diag *diag) WARD_MUST_CHECK;

enum {
    WARD_QRESTORE_FORCE = 1, /* replace an existing file */
    WARD_QRESTORE_ATTRS = 2, /* give back the recorded mode, times and (as root) owner */
};

/*
 * Write the object, byte-exact, to `dest` (NULL: its original path). It is
 * decrypted into a temporary file beside `dest`, checked (every chunk, the
 * size and the SHA-256 in the index) and only then put in place: a damaged
 * object, a wrong key or an existing `dest` without WARD_QRESTORE_FORCE
 * leave nothing written. Without WARD_QRESTORE_ATTRS the file is mode 0600.
 * `written` (may be NULL) receives the path written. The object stays in
 * the store.
 */
ward_err ward_quarantine_restore(ward_quarantine *q, const char *id, const char *dest,
                                 unsigned flags, char *written, size_t cap,
                                 struct ward_diag *diag) WARD_MUST_CHECK;
/*
 * Write the object in the clear to `dest` (mode 0600, like restore without
 * WARD_QRESTORE_ATTRS): an explicit export, for analysis or another tool.
 */
ward_err ward_quarantine_export(ward_quarantine *q, const char *id, const char *dest, bool force,
                                struct ward_diag *diag) WARD_MUST_CHECK;
/*
 * Check the object completely, then write its bytes to `fd` (a pipe to
 * sendmail, standard output). Should the object change between the two
 * passes, the error comes after some bytes were written: a reader must
 * honour the return value.
 */
ward_err ward_quarantine_read(ward_quarantine *q, const char *id, int fd,
                              struct ward_diag *diag) WARD_MUST_CHECK;
/* Decrypt and check one object without writing it anywhere. */
ward_err ward_quarantine_check(ward_quarantine *q, const char *id,
                               struct ward_diag *diag) WARD_MUST_CHECK;

ward_err ward_quarantine_delete(ward_quarantine *q, const char *id,
                                struct ward_diag *diag) WARD_MUST_CHECK;

struct ward_qpurged {
    uint64_t count, bytes;
};

/*
 * Remove the objects older than `before` (0: none by age) and then enforce
 * the store's limits, oldest first. `out` (may be NULL) adds what went.
 */
ward_err ward_quarantine_purge(ward_quarantine *q, int64_t before, struct ward_qpurged *out,
                               struct ward_diag *diag) WARD_MUST_CHECK;

enum {
    WARD_QVERIFY_DEEP = 1, /* decrypt and check every object */
    WARD_QVERIFY_FIX = 2,  /* drop index rows whose object file is missing */
};

struct ward_qverified {
    uint64_t objects, ok, missing, corrupt, orphans, leftovers, fixed;
};

/* One problem found or repaired, as "ID: what". */
typedef void (*ward_qreport_fn)(void *ctx, const char *msg);

/*
 * Check the store: every row has its object (and with DEEP, the object
 * decrypts to the recorded size and SHA-256); object files without a row
 * and what crashed writers left in tmp/ are removed.
 */
ward_err ward_quarantine_verify(ward_quarantine *q, unsigned flags, ward_qreport_fn report,
                                void *ctx, struct ward_qverified *out,
                                struct ward_diag *diag) WARD_MUST_CHECK;

#endif
