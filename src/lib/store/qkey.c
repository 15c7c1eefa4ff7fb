/* qkey.c - create and load the quarantine key, race-free, mode 0600. */
#include "store/qkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/hash.h"

static ward_err load(const char *path, uint8_t key[WARD_QKEY_LEN], struct ward_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return ward_diag_set(diag, WARD_ERR_NOTFOUND, "key file %s does not exist", path);
        if (errno == ELOOP)
            return ward_diag_set(diag, WARD_ERR_IO, "key file %s is a symbolic link", path);
        return ward_diag_set(diag, WARD_ERR_IO, "cannot open key file %s: %s", path,
                             strerror(errno));
    }
    struct stat st;
    ward_err e = WARD_OK;
    if (fstat(fd, &st) != 0) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot stat key file %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        e = ward_diag_set(diag, WARD_ERR_IO, "key file %s is not a regular file", path);
    } else if (st.st_mode & 077) {
        e = ward_diag_set(diag, WARD_ERR_IO,
                          "key file %s is accessible by group or others (mode %04o); it must "
                          "be readable by its owner only: chmod 600 %s",
                          path, (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size != WARD_QKEY_LEN) {
        e = ward_diag_set(diag, WARD_ERR_CORRUPT,
                          "key file %s is not a quarantine key (%lld bytes, expected %d)", path,
                          (long long)st.st_size, WARD_QKEY_LEN);
    } else if (ward_read_full(fd, key, WARD_QKEY_LEN) != WARD_QKEY_LEN) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot read key file %s: %s", path,
                          errno ? strerror(errno) : "short read");
    }
    close(fd);
    return e;
}

static void sync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static ward_err create(const char *path, uid_t uid, gid_t gid, bool *created,
                       struct ward_diag *diag)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.new.XXXXXX", path) >= (int)sizeof tmp)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "key file path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot create key file %s: %s", path,
                             strerror(errno));
    uint8_t key[WARD_QKEY_LEN];
    randombytes_buf(key, sizeof key);
    ward_err e = ward_write_full(fd, key, sizeof key);
    sodium_memzero(key, sizeof key);
    if (!e && fchmod(fd, 0600) != 0)
        e = WARD_ERR_IO;
    if (!e && uid != (uid_t)-1 && fchown(fd, uid, gid) != 0)
        e = WARD_ERR_IO;
    if (!e && fsync(fd) != 0)
        e = WARD_ERR_IO;
    if (close(fd) != 0 && !e)
        e = WARD_ERR_IO;
    if (e) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot write key file %s: %s", path, strerror(errno));
        unlink(tmp);
        return e;
    }
    /* link() publishes the complete file, and fails if another process won the race. */
    if (link(tmp, path) == 0) {
        *created = true;
        sync_dir_of(path);
    } else if (errno != EEXIST) {
        e = ward_diag_set(diag, WARD_ERR_IO, "cannot create key file %s: %s", path,
                          strerror(errno));
    }
    unlink(tmp);
    return e;
}

ward_err ward_qkey_load(const char *path, bool create_missing, uid_t uid, gid_t gid,
                        uint8_t key[WARD_QKEY_LEN], bool *created, struct ward_diag *diag)
{
    if (sodium_init() < 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "libsodium cannot be initialised");
    bool made = false;
    ward_err e = load(path, key, diag);
    if (e == WARD_ERR_NOTFOUND && create_missing) {
        e = create(path, uid, gid, &made, diag);
        if (!e)
            e = load(path, key, diag);
    }
    if (created)
        *created = made && !e;
    return e;
}

void ward_qkey_id(const uint8_t key[WARD_QKEY_LEN], char out[WARD_QKEY_ID_LEN + 1])
{
    static const char label[] = "ward quarantine key id";
    uint8_t h[crypto_generichash_BYTES_MIN];
    _Static_assert(sizeof h >= WARD_QKEY_ID_LEN / 2, "fingerprint size");
    crypto_generichash(h, sizeof h, (const uint8_t *)label, sizeof label - 1, key, WARD_QKEY_LEN);
    ward_hex_encode(h, WARD_QKEY_ID_LEN / 2, out);
}
