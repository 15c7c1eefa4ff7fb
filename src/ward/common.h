/*
 * common.h - what the ward subcommands share: the configuration file, the
 * signature database and error reporting on stderr.
 */
#ifndef WARD_CLI_COMMON_H
#define WARD_CLI_COMMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/db.h"
#include "store/quarantine.h"
#include "util/conf.h"

/* Exit codes, as clamscan's. */
enum { EXIT_CLEAN = 0, EXIT_FOUND = 1, EXIT_ERROR = 2 };

#define MAX_DATABASES 64

struct cli_env {
    ward_conf *conf;           /* NULL: defaults only */
    char conf_path[PATH_MAX];
    const char *databases[MAX_DATABASES];
    size_t n_databases;
    char default_db[PATH_MAX];
    char cache_dir[PATH_MAX];
};

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read the configuration: `path` if given (it must exist and be valid), else
 * the installed default if present. Prints every problem; false on error.
 */
bool cli_load_config(struct cli_env *env, const char *path);
/* Add a --database argument. */
bool cli_add_database(struct cli_env *env, const char *path);
/*
 * The ClamAV container keys of [global] clamav_cvd_key and clamav_info_key
 * as decimal n, e pairs (NULL where unset: ClamAV's own); the caller frees
 * them. Prints the problem and returns false on failure.
 */
bool cli_clamav_keys(struct cli_env *env, char *keys[4]);
/* Load (and compile) the database chosen by options, config or install. */
ward_db *cli_load_database(struct cli_env *env, bool check_only, bool collect_errors);
void cli_env_free(struct cli_env *env);
/*
 * Open the quarantine configured in [global] (quarantine_dir, _key_file,
 * _max_size, _max_age); `create` makes it when missing. Prints the problem
 * and returns NULL on failure.
 */
ward_quarantine *cli_open_quarantine(struct cli_env *env, bool create);

int cmd_scan(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_update(int argc, char **argv);
/* ward db keygen|build|verify (cmd_dbsign.c) */
int cmd_db_sign(int argc, char **argv);

#endif
