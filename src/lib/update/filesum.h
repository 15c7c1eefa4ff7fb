/*
 * filesum.h - the SHA-256 and size of a file, read in 64 KiB steps (files
 * of a bundle may be larger than we want in memory).
 */
#ifndef WARD_UPDATE_FILESUM_H
#define WARD_UPDATE_FILESUM_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

ward_err ward_filesum(const char *path, uint64_t *size, uint8_t sha256[32],
                      struct ward_diag *diag) WARD_MUST_CHECK;
/* Does the file have this size and digest? */
bool ward_filesum_matches(const char *path, uint64_t size, const uint8_t sha256[32]);

#endif
