/* filesum.c - SHA-256 of a file by streaming it. */
#include "update/filesum.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/hash.h"

ward_err ward_filesum(const char *path, uint64_t *size, uint8_t sha256[32],
                      struct ward_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", path, strerror(errno));
    ward_hasher *h = NULL;
    ward_err e = ward_hasher_new(&h);
    if (!e)
        e = ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_SHA256));
    uint8_t buf[1 << 16];
    uint64_t total = 0;
    ssize_t n = 0;
    while (!e && (n = ward_read_full(fd, buf, sizeof buf)) > 0) {
        e = ward_hasher_update(h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    uint8_t out[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    if (!e && n < 0)
        e = WARD_ERR_IO;
    if (!e)
        e = ward_hasher_end(h, out);
    ward_hasher_free(h);
    close(fd);
    if (e)
        return ward_diag_set(diag, e, "%s: cannot read or hash", path);
    *size = total;
    memcpy(sha256, out[WARD_HASH_SHA256], 32);
    return WARD_OK;
}

bool ward_filesum_matches(const char *path, uint64_t size, const uint8_t sha256[32])
{
    struct stat st;
    uint64_t got;
    uint8_t sha[32];
    struct ward_diag d;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
           !ward_filesum(path, &got, sha, &d) && got == size && memcmp(sha, sha256, 32) == 0;
}
