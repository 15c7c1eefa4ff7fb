/* qobj.c - encrypt and decrypt one quarantined object, chunk by chunk. */
#include "store/qobj.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/qfs.h"
#include "util/file.h"
#include "util/hash.h"

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define AD_LEN 32
#define MIN_CHUNK (1u << 12)
#define MAX_CHUNK (1u << 24)

_Static_assert(crypto_secretstream_xchacha20poly1305_HEADERBYTES == 24, "header layout");
_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == WARD_QOBJ_KEY_LEN, "key size");

static const uint8_t magic[8] = {'W', 'A', 'R', 'D', 'Q', 'O', 'B', 'J'};

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool id_ok(const char *id)
{
    if (strlen(id) != WARD_QOBJ_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Fill up to n bytes from the source; returns bytes read (short only at the end), -1 on error. */
static ssize_t src_read(const struct ward_qobj_src *src, size_t *off, uint8_t *buf, size_t n)
{
    if (src->fd >= 0)
        return ward_read_full(src->fd, buf, n);
    size_t left = src->len - *off;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, src->mem + *off, n);
    *off += n;
    return (ssize_t)n;
}

static ward_err write_out(int fd, const void *p, size_t n, struct ward_diag *diag)
{
    if (ward_write_full(fd, p, n) == WARD_OK)
        return WARD_OK;
    return ward_diag_set(diag, WARD_ERR_IO, "cannot write the object: %s",
                         errno == ENOSPC ? "no space left on the device" : strerror(errno));
}

ward_err ward_qobj_encrypt(int out_fd, const uint8_t key[WARD_QOBJ_KEY_LEN], const char *id,
                           const struct ward_qobj_src *src, struct ward_qobj_sum *sum,
                           struct ward_diag *diag)
{
    if (!id_ok(id))
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "bad object id '%s'", id);
    if (sodium_init() < 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "libsodium cannot be initialised");
    uint8_t hdr[WARD_QOBJ_HEADER_LEN] = {0};
    memcpy(hdr, magic, sizeof magic);
    hdr[8] = 1;
    hdr[9] = 1;
    put_le32(hdr + 12, WARD_QOBJ_CHUNK);
    memcpy(hdr + 16, id, WARD_QOBJ_ID_LEN);

    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + AD_LEN, key);

    uint8_t *plain = malloc(WARD_QOBJ_CHUNK), *cipher = malloc(WARD_QOBJ_CHUNK + ABYTES);
    ward_hasher *h = NULL;
    ward_err e = WARD_OK;
    if (!plain || !cipher || ward_hasher_new(&h)) {
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_SHA256))) {
        e = ward_diag_set(diag, WARD_ERR_INTERNAL, "cannot compute SHA-256 (libcrypto)");
        goto out;
    }
    if ((e = write_out(out_fd, hdr, sizeof hdr, diag)))
        goto out;
    uint64_t size = 0, stored = sizeof hdr, synced = 0;
    size_t off = 0;
    for (bool first = true;; first = false) {
        ssize_t n = src_read(src, &off, plain, WARD_QOBJ_CHUNK);
        if (n < 0) {
            e = ward_diag_set(diag, WARD_ERR_IO, "cannot read the object: %s", strerror(errno));
            goto out;
        }
        /* A short read is the end: ward_read_full returns less only at EOF. */
        bool last = (size_t)n < WARD_QOBJ_CHUNK;
        if (n && ward_hasher_update(h, plain, (size_t)n)) {
            e = ward_diag_set(diag, WARD_ERR_INTERNAL, "SHA-256 failed");
            goto out;
        }
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(
            &st, cipher, &clen, plain, (unsigned long long)n, first ? hdr : NULL,
            first ? AD_LEN : 0,
            last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                 : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
        if ((e = write_out(out_fd, cipher, (size_t)clen, diag)))
            goto out;
        size += (uint64_t)n;
        stored += clen;
        ward_qfs_writeback(out_fd, &synced, stored);
        if (last)
            break;
    }
    uint8_t d[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    if (ward_hasher_end(h, d)) {
        e = ward_diag_set(diag, WARD_ERR_INTERNAL, "SHA-256 failed");
        goto out;
    }
    sum->size = size;
    sum->stored = stored;
    memcpy(sum->sha256, d[WARD_HASH_SHA256], 32);
out:
    sodium_memzero(&st, sizeof st);
    if (plain)
        sodium_memzero(plain, WARD_QOBJ_CHUNK);
    free(plain);
    free(cipher);
    ward_hasher_free(h);
    return e;
}

static ward_err corrupt(struct ward_diag *diag, const char *what)
{
    return ward_diag_set(diag, WARD_ERR_CORRUPT, "object %s", what);
}

ward_err ward_qobj_decrypt(int in_fd, const uint8_t key[WARD_QOBJ_KEY_LEN], const char *id,
                           ward_qobj_sink sink, void *ctx, struct ward_qobj_sum *sum,
                           struct ward_diag *diag)
{
    if (sodium_init() < 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "libsodium cannot be initialised");
    uint8_t hdr[WARD_QOBJ_HEADER_LEN];
    ssize_t got = ward_pread_full(in_fd, hdr, sizeof hdr, 0);
    if (got < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot read the object: %s", strerror(errno));
    if ((size_t)got < sizeof hdr || memcmp(hdr, magic, sizeof magic) != 0)
        return corrupt(diag, "is not a Ward quarantine object (bad header)");
    if (hdr[8] != 1 || hdr[9] != 1 || hdr[10] || hdr[11])
        return corrupt(diag, "has an unknown format version or cipher");
    uint32_t chunk = get_le32(hdr + 12);
    if (chunk < MIN_CHUNK || chunk > MAX_CHUNK || (chunk & (chunk - 1)))
        return corrupt(diag, "header has a bad chunk size");
    if (!id || strlen(id) != WARD_QOBJ_ID_LEN || memcmp(hdr + 16, id, WARD_QOBJ_ID_LEN) != 0)
        return corrupt(diag, "file belongs to another id (renamed or swapped)");
    if (lseek(in_fd, sizeof hdr, SEEK_SET) < 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot read the object: %s", strerror(errno));

    crypto_secretstream_xchacha20poly1305_state st;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, hdr + AD_LEN, key) != 0)
        return corrupt(diag, "header is damaged");
    uint8_t *plain = malloc(chunk), *cipher = malloc((size_t)chunk + ABYTES);
    ward_hasher *h = NULL;
    ward_err e = WARD_OK;
    if (!plain || !cipher || ward_hasher_new(&h)) {
        e = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ward_hasher_begin(h, WARD_HASH_BIT(WARD_HASH_SHA256))) {
        e = ward_diag_set(diag, WARD_ERR_INTERNAL, "cannot compute SHA-256 (libcrypto)");
        goto out;
    }
    uint64_t size = 0, stored = sizeof hdr;
    for (bool first = true;; first = false) {
        ssize_t n = ward_read_full(in_fd, cipher, (size_t)chunk + ABYTES);
        if (n < 0) {
            e = ward_diag_set(diag, WARD_ERR_IO, "cannot read the object: %s", strerror(errno));
            goto out;
        }
        if ((size_t)n < ABYTES) {
            e = corrupt(diag, "is truncated");
            goto out;
        }
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&st, plain, &plen, &tag, cipher,
                                                       (unsigned long long)n, first ? hdr : NULL,
                                                       first ? AD_LEN : 0) != 0) {
            e = corrupt(diag, first ? "does not authenticate: it was modified, or the key is not "
                                      "the one it was stored with"
                                    : "does not authenticate: it was modified or truncated");
            goto out;
        }
        bool full = (size_t)n == (size_t)chunk + ABYTES;
        bool final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        if (full == final || (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE && !final)) {
            e = corrupt(diag, "has a bad chunk sequence");
            goto out;
        }
        stored += (uint64_t)n;
        if (plen && ward_hasher_update(h, plain, (size_t)plen)) {
            e = ward_diag_set(diag, WARD_ERR_INTERNAL, "SHA-256 failed");
            goto out;
        }
        if (sink && plen && (e = sink(ctx, plain, (size_t)plen)))
            goto out;
        size += plen;
        if (final)
            break;
    }
    uint8_t extra;
    ssize_t more = ward_read_full(in_fd, &extra, 1);
    if (more != 0) {
        e = more < 0
                ? ward_diag_set(diag, WARD_ERR_IO, "cannot read the object: %s", strerror(errno))
                : corrupt(diag, "has bytes after its end");
        goto out;
    }
    uint8_t d[WARD_HASH_COUNT][WARD_HASH_MAX_LEN];
    if (ward_hasher_end(h, d)) {
        e = ward_diag_set(diag, WARD_ERR_INTERNAL, "SHA-256 failed");
        goto out;
    }
    if (sum) {
        sum->size = size;
        sum->stored = stored;
        memcpy(sum->sha256, d[WARD_HASH_SHA256], 32);
    }
out:
    sodium_memzero(&st, sizeof st);
    if (plain)
        sodium_memzero(plain, chunk);
    free(plain);
    free(cipher);
    ward_hasher_free(h);
    return e;
}
