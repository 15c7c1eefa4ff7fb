/*
 * mail.c - RFC 822 / MIME messages and mbox files, parsed with GMime.
 *
 * Every leaf part is decoded (base64, quoted-printable, uuencode) and scanned
 * as a member named after its file name ("part-N" when it has none); the
 * prologue of a multipart is scanned too, since text outside the MIME
 * structure can carry payloads; an attached message (message/rfc822) is
 * written out and scanned as a message of its own. In an mbox, each message's
 * parts appear under "message-N".
 */
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats.h"
#include "util/limits.h"

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_setup(void)
{
    g_mime_init();
}

struct mail_walk {
    struct ward_walk *w;
    unsigned parts;
    unsigned nesting;
    ward_err err;
};

static ward_err scan_bytes(struct mail_walk *mw, const struct ward_obj *parent,
                           const char *name, GByteArray *bytes)
{
    return ward_walk_child(mw->w, parent, name, bytes->data, bytes->len);
}

static void member_name(struct mail_walk *mw, const char *given, char *out, size_t cap)
{
    mw->parts++;
    if (given && *given) {
        size_t k = 0;
        for (const char *p = given; *p && k + 1 < cap; p++)
            out[k++] = (*p == '/' || (unsigned char)*p < 32) ? '_' : *p;
        out[k] = 0;
    } else {
        snprintf(out, cap, "part-%u", mw->parts);
    }
}

static void walk_object(struct mail_walk *mw, const struct ward_obj *parent, GMimeObject *o);

static void walk_part(struct mail_walk *mw, const struct ward_obj *parent, GMimePart *part)
{
    char name[WARD_MAX_NAME];
    member_name(mw, g_mime_part_get_filename(part), name, sizeof name);
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (!content)
        return;
    GMimeStream *out = g_mime_stream_mem_new();
    if (!out) {
        mw->err = WARD_ERR_NOMEM;
        return;
    }
    if (g_mime_data_wrapper_write_to_stream(content, out) < 0) {
        ward_walk_report(mw->w, parent, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_CORRUPTED,
                         "undecodable part");
    } else {
        mw->err = scan_bytes(mw, parent, name,
                             g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out)));
    }
    g_object_unref(out);
}

static void walk_message_part(struct mail_walk *mw, const struct ward_obj *parent,
                              GMimeMessagePart *mp)
{
    GMimeMessage *msg = g_mime_message_part_get_message(mp);
    if (!msg)
        return;
    char name[64];
    mw->parts++;
    snprintf(name, sizeof name, "part-%u.eml", mw->parts);
    GMimeStream *out = g_mime_stream_mem_new();
    if (!out) {
        mw->err = WARD_ERR_NOMEM;
        return;
    }
    if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, out) >= 0)
        mw->err = scan_bytes(mw, parent, name,
                             g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out)));
    g_object_unref(out);
}

static void walk_object(struct mail_walk *mw, const struct ward_obj *parent, GMimeObject *o)
{
    if (!o || mw->err || ward_walk_stopped(mw->w))
        return;
    if (GMIME_IS_MULTIPART(o)) {
        if (++mw->nesting > 64) {
            ward_walk_report(mw->w, parent, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT,
                             "MIME nesting limit");
            mw->nesting--;
            return;
        }
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        const char *prologue = g_mime_multipart_get_prologue(mp);
        if (prologue && *prologue) {
            char name[64];
            mw->parts++;
            snprintf(name, sizeof name, "prologue-%u", mw->parts);
            mw->err = ward_walk_child(mw->w, parent, name, (const uint8_t *)prologue,
                                      strlen(prologue));
        }
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && !mw->err && !ward_walk_stopped(mw->w); i++)
            walk_object(mw, parent, g_mime_multipart_get_part(mp, i));
        mw->nesting--;
    } else if (GMIME_IS_MESSAGE_PART(o)) {
        walk_message_part(mw, parent, GMIME_MESSAGE_PART(o));
    } else if (GMIME_IS_PART(o)) {
        walk_part(mw, parent, GMIME_PART(o));
    }
}

/* A GMime stream over the object's bytes (copied for memory, a dup'd fd for files). */
static GMimeStream *open_stream(const struct ward_obj *obj)
{
    if (obj->src.mem)
        return g_mime_stream_mem_new_with_buffer((const char *)obj->src.mem,
                                                 (size_t)obj->src.size);
    int fd = dup(obj->src.fd);
    if (fd < 0)
        return NULL;
    GMimeStream *s = g_mime_stream_fs_new_with_bounds(fd, 0, (gint64)obj->src.size);
    if (!s)
        close(fd);
    return s;
}

ward_err ward_fmt_mail_unpack(struct ward_walk *w, const struct ward_obj *obj)
{
    pthread_once(&gmime_once, gmime_setup);
    GMimeStream *stream = open_stream(obj);
    if (!stream)
        return WARD_ERR_NOMEM;
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    if (!parser)
        return WARD_ERR_NOMEM;
    bool mbox = obj->type == WARD_FT_MBOX;
    g_mime_parser_set_format(parser, mbox ? GMIME_FORMAT_MBOX : GMIME_FORMAT_MESSAGE);
    struct mail_walk mw = {w, 0, 0, WARD_OK};
    for (unsigned count = 1; !mw.err && !ward_walk_stopped(w); count++) {
        GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
        if (!msg)
            break;
        char name[64];
        struct ward_obj msgobj = *obj;
        const struct ward_obj *parent = obj;
        if (mbox) {
            /* A message of an mbox: a path level of its own, no bytes of its own. */
            snprintf(name, sizeof name, "message-%u", count);
            msgobj.parent = obj;
            msgobj.name = name;
            msgobj.depth = obj->depth + 1;
            msgobj.type = WARD_FT_MAIL;
            parent = &msgobj;
        }
        walk_object(&mw, parent, g_mime_message_get_mime_part(msg));
        g_object_unref(msg);
        if (!mbox || g_mime_parser_eos(parser))
            break;
    }
    g_object_unref(parser);
    return mw.err;
}
