/*
 * archive.c - every archive and compression format libarchive reads: zip, 7z,
 * rar, tar, cpio, cab, iso9660, xar, lha, ar, and the single-stream
 * compressors gzip, bzip2, xz, lzma, zstd and lz4.
 *
 * libarchive reads the container through callbacks over the object's bytes
 * (memory or pread on a descriptor, with seeking, so that zip's central
 * directory and 7z's header at the end are read as the format intends).
 * Each regular member is spooled and scanned as a child. An encrypted member
 * is reported not_scanned(encrypted); a container libarchive cannot read is
 * not_scanned(corrupted), except where our type check was only a guess
 * (lzma-alone, old tar, binary cpio, lha): then it was just bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "formats/formats.h"
#include "formats/libs.h"
#include "scan/walk.h"
#include "util/limits.h"

#define ARCHIVE_IO_BUF (64u << 10)
#define ARCHIVE_IO_PAD 64 /* zeros after the block: a name read past it stops there */

/* libarchive, loaded at the first archive (formats/libs.h) */
#define AL ward_archive_lib()

struct reader {
    const struct ward_obj *obj;
    uint64_t pos;
    uint8_t *buf;
};

static la_ssize_t on_read(struct archive *a, void *ctx, const void **out)
{
    (void)a;
    struct reader *r = ctx;
    const struct ward_obj *obj = r->obj;
    if (r->pos >= obj->src.size)
        return 0;
    uint64_t left = obj->src.size - r->pos;
    if (obj->src.mem && !r->buf) {
        size_t n = left > (1u << 30) ? (1u << 30) : (size_t)left;
        *out = obj->src.mem + r->pos;
        r->pos += n;
        return (la_ssize_t)n;
    }
    size_t want = left > ARCHIVE_IO_BUF ? ARCHIVE_IO_BUF : (size_t)left;
    if (obj->src.mem) {
        memcpy(r->buf, obj->src.mem + r->pos, want);
        *out = r->buf;
        r->pos += want;
        return (la_ssize_t)want;
    }
    ssize_t got = ward_obj_read(obj, r->pos, r->buf, want);
    if (got < 0) {
        AL->set_error(a, errno, "read error");
        return -1;
    }
    *out = r->buf;
    r->pos += (uint64_t)got;
    return got;
}

static la_int64_t on_seek(struct archive *a, void *ctx, la_int64_t off, int whence)
{
    (void)a;
    struct reader *r = ctx;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)r->pos
                                                                : (int64_t)r->obj->src.size;
    int64_t np = base + off;
    if (np < 0)
        return ARCHIVE_FATAL;
    r->pos = (uint64_t)np;
    return np;
}

static la_int64_t on_skip(struct archive *a, void *ctx, la_int64_t n)
{
    (void)a;
    struct reader *r = ctx;
    uint64_t left = r->obj->src.size - (r->pos < r->obj->src.size ? r->pos : r->obj->src.size);
    if (n < 0)
        return 0;
    if ((uint64_t)n > left)
        n = (la_int64_t)left;
    r->pos += (uint64_t)n;
    return n;
}

/* Types recognised by a heuristic rather than a strong magic number. */
static bool weak_type(enum ward_ftype t)
{
    return t == WARD_FT_LZMA || t == WARD_FT_CPIO || t == WARD_FT_TAR || t == WARD_FT_LHA;
}

static void enable_formats(struct archive *a, enum ward_ftype t, bool zip_streaming)
{
    switch (t) {
    case WARD_FT_ZIP:
        if (zip_streaming)
            AL->support_format_zip_streamable(a);
        else
            AL->support_format_zip_seekable(a);
        break;
    case WARD_FT_RAR:
        AL->support_format_rar(a);
        AL->support_format_rar5(a);
        break;
    case WARD_FT_7Z: AL->support_format_7zip(a); break;
    case WARD_FT_TAR: AL->support_format_tar(a); break;
    case WARD_FT_CPIO: AL->support_format_cpio(a); break;
    case WARD_FT_CAB: AL->support_format_cab(a); break;
    case WARD_FT_ISO9660: AL->support_format_iso9660(a); break;
    case WARD_FT_XAR: AL->support_format_xar(a); break;
    case WARD_FT_LHA: AL->support_format_lha(a); break;
    case WARD_FT_AR: AL->support_format_ar(a); break;
    default:
        /*
         * A compressed stream comes out whole, as one member typed again from
         * its own bytes. Letting libarchive look for a tar inside in the same
         * pass would let 1024 zero bytes (a tar end marker) hide whatever
         * follows them.
         */
        AL->support_filter_all(a);
        AL->support_format_raw(a);
        break;
    }
}

/* The member name of a compressed single stream: "x.exe.gz" holds "x.exe". */
static void stream_name(const struct ward_obj *obj, char *out, size_t cap)
{
    static const char *const sfx[] = {".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz",
                                      ".lzma", ".zst", ".lz4", ".z"};
    const char *name = NULL;
    for (const struct ward_obj *o = obj; o && !name; o = o->parent)
        name = o->name;
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (!base || !*base) {
        snprintf(out, cap, "data");
        return;
    }
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && strcasecmp(base + n - k, sfx[i]) == 0) {
            bool tar = sfx[i][1] == 't';
            snprintf(out, cap, "%.*s%s", (int)(n - k), base, tar ? ".tar" : "");
            return;
        }
    }
    snprintf(out, cap, "%s.data", base);
}

static bool mentions_encryption(struct archive *a)
{
    const char *msg = AL->error_string(a);
    return msg && (strstr(msg, "ncrypt") || strstr(msg, "assphrase"));
}

/* Spool one member's data and scan it. */
static ward_err extract_member(struct ward_walk *w, const struct ward_obj *obj,
                               struct archive *a, const char *name)
{
    struct ward_spool sp;
    ward_spool_init(w, obj, &sp);
    sp.same_level = AL->format(a) == ARCHIVE_FORMAT_RAW;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = AL->read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            ward_spool_free(&sp);
            if (mentions_encryption(a)) {
                ward_walk_report(w, obj, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ENCRYPTED,
                                 "encrypted");
                return r == ARCHIVE_FATAL ? WARD_ERR_ENCRYPTED : WARD_OK;
            }
            /* A compression method libarchive lacks (deflate64, implode) is not
               damage: say which, so the administrator knows. */
            const char *msg = AL->error_string(a);
            if (msg && strstr(msg, "nsupported"))
                ward_walk_report(w, obj, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR, msg);
            else
                ward_walk_report(w, obj, name, WARD_VERDICT_NOT_SCANNED,
                                 WARD_REASON_CORRUPTED, "corrupted member");
            return r == ARCHIVE_FATAL ? WARD_ERR_IO : WARD_OK;
        }
        /* Sparse members come with offsets: fill the holes with zeros. */
        if (off >= 0 && (uint64_t)off > sp.s.size) {
            static const uint8_t zeros[4096];
            uint64_t gap = (uint64_t)off - sp.s.size;
            while (gap && !sp.over) {
                size_t k = gap > sizeof zeros ? sizeof zeros : (size_t)gap;
                (void)!ward_spool_write(w, &sp, zeros, k);
                gap -= k;
            }
        }
        if (len && ward_spool_write(w, &sp, buf, len))
            break;
        if (ward_walk_stopped(w)) {
            ward_spool_free(&sp);
            return WARD_OK;
        }
    }
    return ward_walk_spooled(w, obj, name, &sp);
}

static ward_err unpack_with(struct ward_walk *w, const struct ward_obj *obj, bool zip_streaming,
                            bool *opened)
{
    struct archive *a = AL->read_new();
    struct reader r = {obj, 0, NULL};
    if (!a)
        return WARD_ERR_NOMEM;
    /* libarchive 3.6's cpio reader can compare a member name past the end of
       the block it was given (found by fuzz_scan): cpio in memory is served
       through our block buffer, which ends in zeros, like files are. */
    bool copy = !obj->src.mem || obj->type == WARD_FT_CPIO;
    if (copy && !(r.buf = calloc(1, ARCHIVE_IO_BUF + ARCHIVE_IO_PAD))) {
        AL->read_free(a);
        return WARD_ERR_NOMEM;
    }
    enable_formats(a, obj->type, zip_streaming);
    AL->set_read_callback(a, on_read);
    AL->set_seek_callback(a, on_seek);
    AL->set_skip_callback(a, on_skip);
    AL->set_callback_data(a, &r);
    ward_err e = WARD_OK;
    *opened = false;
    unsigned entries = 0;
    if (AL->read_open1(a) != ARCHIVE_OK) {
        e = mentions_encryption(a) ? WARD_ERR_ENCRYPTED : WARD_ERR_CORRUPT;
        goto out;
    }
    *opened = true;
    char name_buf[64];
    for (;;) {
        struct archive_entry *ent;
        int rc = AL->read_next_header(a, &ent);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc < ARCHIVE_WARN) {
            if (entries == 0)
                *opened = false;
            e = mentions_encryption(a) ? WARD_ERR_ENCRYPTED : WARD_ERR_CORRUPT;
            break;
        }
        entries++;
        if (AL->entry_filetype(ent) != AE_IFREG)
            continue;
        const char *name = AL->entry_pathname(ent);
        char stream[WARD_MAX_NAME];
        if (AL->format(a) == ARCHIVE_FORMAT_RAW) {
            /*
             * No decompression filter bid (only libarchive's "none" is in
             * the pipeline): the bytes only looked compressed, and the raw
             * member would be the object itself, typed the same again and
             * unpacked again without end (a stream is no nesting level).
             */
            if (AL->filter_count(a) < 2) {
                *opened = false;
                e = WARD_ERR_CORRUPT;
                break;
            }
            stream_name(obj, stream, sizeof stream);
            name = stream;
        } else if (!name || !*name) {
            snprintf(name_buf, sizeof name_buf, "member-%u", entries);
            name = name_buf;
        }
        if (AL->entry_is_data_encrypted(ent)) {
            ward_walk_report(w, obj, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ENCRYPTED,
                             "encrypted");
            continue;
        }
        e = extract_member(w, obj, a, name);
        if (e == WARD_ERR_ENCRYPTED) {
            e = WARD_OK; /* reported on the member already */
            break;
        }
        if (e == WARD_ERR_IO) {
            e = WARD_OK; /* the member was reported; the stream cannot go on */
            break;
        }
        if (e || ward_walk_stopped(w))
            break;
    }
out:
    AL->read_free(a);
    free(r.buf);
    return e;
}

ward_err ward_fmt_archive_unpack(struct ward_walk *w, const struct ward_obj *obj)
{
    if (!AL) {
        ward_walk_report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR,
                         ward_libs_error());
        return WARD_OK;
    }
    bool opened;
    ward_err e = unpack_with(w, obj, false, &opened);
    /* A zip whose central directory is missing or damaged: read it front to back. */
    if (e == WARD_ERR_CORRUPT && obj->type == WARD_FT_ZIP && !opened)
        e = unpack_with(w, obj, true, &opened);
    if (e == WARD_ERR_CORRUPT && !opened && weak_type(obj->type))
        return WARD_OK;
    return e;
}
