/*
 * paths.h - where an installed Ward finds its files.
 *
 * Paths are resolved relative to the running program's install prefix (the
 * directory above the one holding the executable), so that a tree installed
 * anywhere with `meson install` works without a configuration file: the
 * bundled database in PREFIX/share/ward/db, the configuration in
 * SYSCONFDIR/ward/ward.conf.
 *
 * Contract: results are written into caller buffers; false when the path does
 * not fit or cannot be determined.
 */
#ifndef WARD_UTIL_PATHS_H
#define WARD_UTIL_PATHS_H

#include <stdbool.h>
#include <stddef.h>

bool ward_path_prefix(char *out, size_t cap);
bool ward_path_default_config(char *out, size_t cap);
bool ward_path_default_database(char *out, size_t cap);
/* A per-user or system cache directory for compiled databases. */
bool ward_path_default_cache(char *out, size_t cap);

#endif
