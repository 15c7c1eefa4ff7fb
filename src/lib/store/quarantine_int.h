/*
 * quarantine_int.h - what the files of the quarantine store share: the
 * handle, paths of objects and intents, and the removal steps.
 *
 * Removing an object takes three steps so that a crash never leaves a row
 * without its object: doom (inside the index transaction: link the object
 * to tmp/ID.del, delete the row), then after the commit bury (unlink the
 * object and the mark), or after a rollback spare (unlink the mark only).
 */
#ifndef WARD_STORE_QUARANTINE_INT_H
#define WARD_STORE_QUARANTINE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "store/qindex.h"
#include "store/qkey.h"
#include "store/quarantine.h"

/* Files a writer locks a moment after making them (tmp/ID.part, and object
   files seen by verify) are never taken for a crashed writer's before this age. */
#define WARD_Q_GRACE_SECONDS 60

struct ward_quarantine {
    pthread_mutex_t lock; /* the index connection, one thread at a time */
    sqlite3 *db;
    char dir[PATH_MAX], objdir[PATH_MAX], tmpdir[PATH_MAX], key_path[PATH_MAX];
    uint8_t key[WARD_QKEY_LEN];
    bool key_ok;
    char key_problem[PATH_MAX + 512];
    struct ward_qopts opts;
    uid_t uid; /* owner given to new files; (uid_t)-1: the process's */
    gid_t gid;
    char host[256];
};

bool ward_q_id_valid(const char *id);
/* DIR/objects/XX/ID, and DIR/objects/XX */
bool ward_q_object_path(const ward_quarantine *q, const char *id, char *out, size_t cap);
bool ward_q_object_dir(const ward_quarantine *q, const char *id, char *out, size_t cap);
/* DIR/tmp/ID.put, ID.del or ID.part */
bool ward_q_mark_path(const ward_quarantine *q, const char *id, const char *suffix, char *out,
                      size_t cap);

/* The removal steps; doom runs with the lock held, inside a transaction. */
ward_err ward_q_doom(ward_quarantine *q, const char *id, struct ward_diag *diag) WARD_MUST_CHECK;
void ward_q_bury(ward_quarantine *q, const char *id);
void ward_q_spare(ward_quarantine *q, const char *id);

/* The key, or why it cannot be used. */
ward_err ward_q_need_key(const ward_quarantine *q, struct ward_diag *diag) WARD_MUST_CHECK;

/*
 * Finish what interrupted writers and deleters left in tmp/ (qsweep.c).
 * Each thing done is reported (report may be NULL) and counted.
 */
void ward_q_sweep_tmp(ward_quarantine *q, ward_qreport_fn report, void *ctx, uint64_t *count);

#endif
