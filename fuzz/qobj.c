/*
 * qobj.c - the quarantine's object reader (store/qobj.c): restore treats a
 * stored file as untrusted. The first input byte chooses the case:
 *
 *   0  the rest is an object file, decrypted with a fixed key: it must fail
 *      cleanly (nothing authenticates without the key) and emit nothing;
 *   1  the rest is plaintext, encrypted then decrypted: the same bytes, size
 *      and SHA-256 come back;
 *   2-5 the plaintext is encrypted, then damaged at the position in bytes
 *      1-2 (a flipped byte, a cut, bytes appended, another id): decryption
 *      fails with WARD_ERR_CORRUPT, and what it emitted before failing is a
 *      prefix of the plaintext.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "store/qobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[WARD_QOBJ_KEY_LEN] = "ward fuzz quarantine key 32 byte";
static const char id[] = "0123456789abcdef";

struct sink {
    uint8_t *p;
    size_t len, cap;
};

static ward_err collect(void *ctx, const void *p, size_t n)
{
    struct sink *s = ctx;
    if (s->len + n > s->cap)
        abort(); /* more plaintext than any input could hold */
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return WARD_OK;
}

static int memfd(const void *p, size_t n)
{
    int fd = memfd_create("qobj", 0);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    return fd;
}

static uint8_t *file_bytes(int fd, size_t *n)
{
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t *p = malloc((size_t)end + 8);
    if (end < 0 || !p || pread(fd, p, (size_t)end, 0) != end)
        abort();
    *n = (size_t)end;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || sodium_init() < 0)
        return 0;
    unsigned op = data[0] % 6, pos = data[1] | (unsigned)data[2] << 8;
    const uint8_t *plain = data + 3;
    size_t plen = size - 3;
    struct sink s = {malloc(size + 1), 0, size + 1};
    struct ward_qobj_sum sum;
    if (!s.p)
        abort();
    if (op == 0) {
        int fd = memfd(plain, plen);
        ward_err e = ward_qobj_decrypt(fd, key, id, collect, &s, &sum, NULL);
        if (e != WARD_ERR_CORRUPT || s.len != 0)
            abort();
        close(fd);
        free(s.p);
        return 0;
    }
    int fd = memfd(NULL, 0);
    struct ward_qobj_src src = {-1, plain, plen};
    if (ward_qobj_encrypt(fd, key, id, &src, &sum, NULL) != WARD_OK || sum.size != plen)
        abort();
    size_t n;
    uint8_t *obj = file_bytes(fd, &n);
    if (n != sum.stored)
        abort();
    close(fd);
    const char *want_id = id;
    switch (op) {
    case 2:
        obj[pos % n] ^= (uint8_t)(1u << (data[1] % 8));
        break;
    case 3:
        n = pos % n;
        break;
    case 4:
        obj[n++] = data[2];
        break;
    case 5:
        want_id = "fedcba9876543210";
        break;
    }
    fd = memfd(obj, n);
    struct ward_qobj_sum got;
    ward_err e = ward_qobj_decrypt(fd, key, want_id, collect, &s, &got, NULL);
    if (s.len > plen || memcmp(s.p, plain, s.len) != 0)
        abort();
    if (op == 1) {
        uint8_t sha[32];
        crypto_hash_sha256(sha, plain, plen);
        if (e != WARD_OK || s.len != plen || got.size != plen || got.stored != n ||
            memcmp(got.sha256, sha, 32) != 0 || memcmp(sum.sha256, sha, 32) != 0)
            abort();
    } else if (e != WARD_ERR_CORRUPT) {
        abort();
    }
    close(fd);
    free(obj);
    free(s.p);
    return 0;
}
