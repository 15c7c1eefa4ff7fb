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
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats.h"
#include "formats/libs.h"
#include "util/limits.h"

/* GMime, loaded and initialised at the first message (formats/libs.h) */
#define GL ward_gmime_lib()

static bool is_a(GMimeObject *o, GType type)
{
    return GL->type_check_instance_is_a((GTypeInstance *)o, type);
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
    member_name(mw, GL->part_get_filename(part), name, sizeof name);
    GMimeDataWrapper *content = GL->part_get_content(part);
    if (!content)
        return;
    GMimeStream *out = GL->stream_mem_new();
    if (!out) {
        mw->err = WARD_ERR_NOMEM;
        return;
    }
    if (GL->data_wrapper_write_to_stream(content, out) < 0) {
        ward_walk_report(mw->w, parent, name, WARD_VERDICT_NOT_SCANNED, WARD_REASON_CORRUPTED,
                         "undecodable part");
    } else {
        mw->err = scan_bytes(mw, parent, name,
                             GL->stream_mem_get_byte_array(GMIME_STREAM_MEM(out)));
    }
    GL->object_unref(out);
}

static void walk_message_part(struct mail_walk *mw, const struct ward_obj *parent,
                              GMimeMessagePart *mp)
{
    GMimeMessage *msg = GL->message_part_get_message(mp);
    if (!msg)
        return;
    char name[64];
    mw->parts++;
    snprintf(name, sizeof name, "part-%u.eml", mw->parts);
    GMimeStream *out = GL->stream_mem_new();
    if (!out) {
        mw->err = WARD_ERR_NOMEM;
        return;
    }
    if (GL->object_write_to_stream(GMIME_OBJECT(msg), NULL, out) >= 0)
        mw->err = scan_bytes(mw, parent, name,
                             GL->stream_mem_get_byte_array(GMIME_STREAM_MEM(out)));
    GL->object_unref(out);
}

static void walk_object(struct mail_walk *mw, const struct ward_obj *parent, GMimeObject *o)
{
    if (!o || mw->err || ward_walk_stopped(mw->w))
        return;
    if (is_a(o, GL->multipart_get_type())) {
        if (++mw->nesting > 64) {
            ward_walk_report(mw->w, parent, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_LIMIT,
                             "MIME nesting limit");
            mw->nesting--;
            return;
        }
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        const char *prologue = GL->multipart_get_prologue(mp);
        if (prologue && *prologue) {
            char name[64];
            mw->parts++;
            snprintf(name, sizeof name, "prologue-%u", mw->parts);
            mw->err = ward_walk_child(mw->w, parent, name, (const uint8_t *)prologue,
                                      strlen(prologue));
        }
        int n = GL->multipart_get_count(mp);
        for (int i = 0; i < n && !mw->err && !ward_walk_stopped(mw->w); i++)
            walk_object(mw, parent, GL->multipart_get_part(mp, i));
        mw->nesting--;
    } else if (is_a(o, GL->message_part_get_type())) {
        walk_message_part(mw, parent, GMIME_MESSAGE_PART(o));
    } else if (is_a(o, GL->part_get_type())) {
        walk_part(mw, parent, GMIME_PART(o));
    }
}

/* A GMime stream over the object's bytes (copied for memory, a dup'd fd for files). */
static GMimeStream *open_stream(const struct ward_obj *obj)
{
    if (obj->src.mem)
        return GL->stream_mem_new_with_buffer((const char *)obj->src.mem,
                                                 (size_t)obj->src.size);
    int fd = dup(obj->src.fd);
    if (fd < 0)
        return NULL;
    GMimeStream *s = GL->stream_fs_new_with_bounds(fd, 0, (gint64)obj->src.size);
    if (!s)
        close(fd);
    return s;
}

ward_err ward_fmt_mail_unpack(struct ward_walk *w, const struct ward_obj *obj)
{
    if (!GL) {
        ward_walk_report(w, obj, NULL, WARD_VERDICT_NOT_SCANNED, WARD_REASON_ERROR,
                         ward_libs_error());
        return WARD_OK;
    }
    GMimeStream *stream = open_stream(obj);
    if (!stream)
        return WARD_ERR_NOMEM;
    GMimeParser *parser = GL->parser_new_with_stream(stream);
    GL->object_unref(stream);
    if (!parser)
        return WARD_ERR_NOMEM;
    bool mbox = obj->type == WARD_FT_MBOX;
    GL->parser_set_format(parser, mbox ? GMIME_FORMAT_MBOX : GMIME_FORMAT_MESSAGE);
    struct mail_walk mw = {w, 0, 0, WARD_OK};
    for (unsigned count = 1; !mw.err && !ward_walk_stopped(w); count++) {
        GMimeMessage *msg = GL->parser_construct_message(parser, NULL);
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
        walk_object(&mw, parent, GL->message_get_mime_part(msg));
        GL->object_unref(msg);
        if (!mbox || GL->parser_eos(parser))
            break;
    }
    GL->object_unref(parser);
    return mw.err;
}
