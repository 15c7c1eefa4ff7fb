/*
 * modify.c - wardd's changed message as the smallest set of milter
 * modifications: header fields inserted, changed or deleted (hdiff.h), and
 * the body replaced only when its bytes differ. What the MTA keeps is its
 * own copy, so every byte no modification touches stays as it came.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/hdiff.h"
#include "milter.h"
#include "util/file.h"
#include "util/log.h"

#define CHUNK (256u << 10)
#define CHANGED_HEAD_CAP (8u << 20) /* the changed header block: ours plus what policy adds */

/* The changed message's header block, read until its empty line. */
static ward_err read_head(int fd, uint64_t size, ward_buf *b, struct ward_hblock *hb,
                          struct ward_diag *diag)
{
    for (;;) {
        size_t want = b->len ? b->len : CHUNK;
        if (b->len + want > CHANGED_HEAD_CAP)
            want = CHANGED_HEAD_CAP - b->len;
        if (want == 0 || ward_buf_reserve(b, want))
            return ward_diag_set(diag, WARD_ERR_LIMIT, "changed header block too big");
        ssize_t got = ward_pread_full(fd, b->data + b->len, want, (off_t)b->len);
        if (got < 0)
            return ward_diag_set(diag, WARD_ERR_IO, "cannot read the changed message");
        b->len += (size_t)got;
        ward_err err = ward_hdiff_parse(b->data, b->len, hb, diag);
        if (err)
            return err;
        if (hb->len < b->len || b->len >= size)
            return WARD_OK; /* found the empty line, or the message has no body */
        ward_hdiff_block_free(hb);
    }
}

/* A field's name and value as the milter packets carry them (NUL-terminated; folds as LF). */
static bool field_strings(const uint8_t *p, const struct ward_hfield *f, bool leadspc, char **name,
                          char **value)
{
    size_t nl = f->colon - f->start;
    while (nl > 0 && (p[f->start + nl - 1] == ' ' || p[f->start + nl - 1] == '\t'))
        nl--;
    size_t v = f->colon < f->end ? f->colon + 1 : f->end, ve = f->end - f->eol;
    if (!leadspc && v < ve && p[v] == ' ')
        v++; /* the MTA writes "name: value" itself */
    *name = strndup((const char *)p + f->start, nl);
    *value = malloc(ve - v + 1);
    if (!*name || !*value) {
        free(*name);
        free(*value);
        return false;
    }
    size_t o = 0;
    for (size_t i = v; i < ve; i++)
        if (!(p[i] == '\r' && i + 1 < ve && p[i + 1] == '\n'))
            (*value)[o++] = (char)p[i];
    (*value)[o] = 0;
    return true;
}

static ward_err apply_headers(struct milter_sess *s, const struct milter_conn *c, const uint8_t *nb,
                              const struct ward_hblock *bn, struct ward_diag *diag)
{
    const uint8_t *ob = c->msg.head.data;
    struct ward_hblock bo;
    ward_err err = ward_hdiff_parse(ob, c->msg.head.len, &bo, diag);
    if (err)
        return err;
    struct ward_hop *ops;
    size_t n, top = 0, first_ins = 0;
    err = ward_hdiff(ob, &bo, nb, bn, &ops, &n, diag);
    /*
     * Fields that go to the very top are inserted last first, each at index
     * 0: MTAs differ in how they count the rest (Postfix counts its own
     * Received: field, which milters never see, and reads 0 as 1), but "at
     * 0" is the top for all of them.
     */
    while (first_ins < n && ops[first_ins].kind != WARD_HOP_INSERT)
        first_ins++;
    while (first_ins + top < n && ops[first_ins + top].pos == top)
        top++;
    for (size_t k = 0; !err && k < n; k++) {
        size_t i = k;
        if (k >= first_ins && k < first_ins + top)
            i = first_ins + top - 1 - (k - first_ins);
        const struct ward_hop *h = &ops[i];
        char *name, *value, *oname = NULL, *ovalue = NULL;
        const uint8_t *src = h->kind == WARD_HOP_DELETE ? ob : nb;
        const struct ward_hfield *f = h->kind == WARD_HOP_DELETE ? &bo.f[h->orig] : &bn->f[h->new];
        if (!field_strings(src, f, c->leadspc, &name, &value)) {
            err = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
            break;
        }
        ward_err rc;
        switch (h->kind) {
        case WARD_HOP_CHANGE:
            /* the original's name: the MTA finds the field by it */
            if (!field_strings(ob, &bo.f[h->orig], c->leadspc, &oname, &ovalue)) {
                rc = WARD_ERR_NOMEM;
                break;
            }
            rc = milter_sess_chgheader(s, (uint32_t)h->occurrence, oname, value);
            break;
        case WARD_HOP_DELETE:
            rc = milter_sess_chgheader(s, (uint32_t)h->occurrence, name, NULL);
            break;
        default:
            rc = milter_sess_insheader(s, i < first_ins + top ? 0 : (uint32_t)h->pos, name, value);
            break;
        }
        if (rc)
            err = ward_diag_set(diag, WARD_ERR_IO, "the MTA refused a header change (%s)", name);
        free(name);
        free(value);
        free(oname);
        free(ovalue);
    }
    free(ops);
    ward_hdiff_block_free(&bo);
    return err;
}

/* Do the bodies [ooff, osize) and [noff, nsize) of the two files differ? */
static ward_err body_differs(int ofd, uint64_t ooff, uint64_t osize, int nfd, uint64_t noff,
                             uint64_t nsize, uint8_t *b1, uint8_t *b2, bool *differs)
{
    *differs = osize - ooff != nsize - noff;
    for (uint64_t done = 0; !*differs && ooff + done < osize;) {
        size_t want = osize - ooff - done < CHUNK ? (size_t)(osize - ooff - done) : CHUNK;
        if (ward_pread_full(ofd, b1, want, (off_t)(ooff + done)) != (ssize_t)want ||
            ward_pread_full(nfd, b2, want, (off_t)(noff + done)) != (ssize_t)want)
            return WARD_ERR_IO;
        *differs = memcmp(b1, b2, want) != 0;
        done += want;
    }
    return WARD_OK;
}

ward_err milter_modify(struct milter_sess *s, const struct milter_conn *c, int changed_fd,
                       struct ward_diag *diag)
{
    struct stat st;
    if (fstat(changed_fd, &st) != 0)
        return ward_diag_set(diag, WARD_ERR_IO, "cannot stat the changed message");
    uint64_t nsize = (uint64_t)st.st_size;
    ward_buf head;
    ward_buf_init(&head, CHANGED_HEAD_CAP);
    struct ward_hblock bn = {0};
    uint8_t *b1 = NULL, *b2 = NULL;
    ward_err err = read_head(changed_fd, nsize, &head, &bn, diag);
    if (!err)
        err = apply_headers(s, c, head.data, &bn, diag);
    if (!err) {
        b1 = malloc(CHUNK);
        b2 = malloc(CHUNK);
        bool differs = false;
        if (!b1 || !b2)
            err = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        else if (body_differs(c->msg.fd, c->msg.head.len, c->msg.size, changed_fd, bn.len, nsize,
                              b1, b2, &differs))
            err = ward_diag_set(diag, WARD_ERR_IO, "cannot read the messages");
        for (uint64_t off = bn.len; !err && differs && off < nsize;) {
            size_t want = nsize - off < CHUNK ? (size_t)(nsize - off) : CHUNK;
            if (ward_pread_full(changed_fd, b1, want, (off_t)off) != (ssize_t)want)
                err = ward_diag_set(diag, WARD_ERR_IO, "cannot read the changed message");
            else if (milter_sess_replbody(s, b1, want))
                err = ward_diag_set(diag, WARD_ERR_IO, "the MTA refused the new body");
            off += want;
        }
        if (!err && differs && bn.len >= nsize && milter_sess_replbody(s, b1, 0))
            err = ward_diag_set(diag, WARD_ERR_IO, "the MTA refused the new body");
    }
    free(b1);
    free(b2);
    ward_hdiff_block_free(&bn);
    ward_buf_free(&head);
    return err;
}
