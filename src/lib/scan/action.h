/*
 * action.h - what to do with a file on disk after its verdict:
 * report (nothing), delete, move=DIR, copy=DIR, exec=COMMAND or quarantine.
 *
 * quarantine moves the file into the encrypted store (store/quarantine.h):
 * it is removed from its place only once the store has it. With a store
 * and `backup` in the context, delete, move and exec first copy the file
 * into the store as a backup, and do nothing if that copy fails.
 *
 * COMMAND is split into words (single and double quotes, backslash escapes)
 * and run without a shell; %path% and %name% inside words are replaced by
 * the file's path and the detection name. A user who wants a shell writes
 * one: exec=sh -c '...'.
 *
 * Contract: ward_action_run never prints; it describes what it did (or why
 * it failed) in `result` for the caller to show.
 */
#ifndef WARD_SCAN_ACTION_H
#define WARD_SCAN_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#include "store/quarantine.h"
#include "util/err.h"

enum ward_action_kind {
    WARD_ACT_REPORT = 0,
    WARD_ACT_DELETE,
    WARD_ACT_MOVE,
    WARD_ACT_COPY,
    WARD_ACT_EXEC,
    WARD_ACT_QUARANTINE,
};

struct ward_action {
    enum ward_action_kind kind;
    char *arg; /* directory or command */
};

/* What the store needs to know for quarantine and backup. */
struct ward_action_ctx {
    ward_quarantine *store;        /* NULL: no store (quarantine fails) */
    const struct ward_qmeta *meta; /* recorded with the object; kind, attributes are set here */
    bool backup;                   /* copy into the store before delete, move or exec */
    char *backup_id;               /* receives the backup's id (WARD_QID_LEN + 1), or NULL */
};

ward_err ward_action_parse(const char *spec, struct ward_action *out, const char **why)
    WARD_MUST_CHECK;
void ward_action_free(struct ward_action *a);
const char *ward_action_name(enum ward_action_kind kind);

/*
 * Apply the action to `path`. On success `result` says what happened
 * ("removed", "moved to /q/x", "command exited with 0", "quarantined as
 * ID"); `dest` (may be NULL) receives the new path for move and copy, and
 * the store's id for quarantine.
 */
ward_err ward_action_run(const struct ward_action *a, const char *path, const char *name,
                         char *result, size_t cap, char *dest, size_t dest_cap) WARD_MUST_CHECK;
/* The same with a store for quarantine and backups (ctx may be NULL). */
ward_err ward_action_run_ctx(const struct ward_action *a, const struct ward_action_ctx *ctx,
                             const char *path, const char *name, char *result, size_t cap,
                             char *dest, size_t dest_cap) WARD_MUST_CHECK;
/* Whether the action changes or removes the file (and so wants a backup first). */
bool ward_action_changes_file(enum ward_action_kind kind);

/* Split a command line into words (for exec); NULL-terminated, caller frees. */
char **ward_split_words(const char *cmd, const char **why);
void ward_free_words(char **words);

#endif
