/*
 * milter_packet.c - ward-milter's protocol code on arbitrary bytes, as an
 * MTA (or anyone who reaches the milter socket) could send them:
 *
 *   1. the input as one packet through every decoder; what decodes is
 *      encoded again and must decode to the same values;
 *   2. the input as the MTA's side of a whole session (negotiation, macros,
 *      envelope, header, body, end of message, abort, quit-nc), fed in
 *      reads of varying size, with everything ward-milter writes checked to
 *      be well-framed packets.
 *
 * wardd is not asked: a stand-in for milter_scan (scan.c) answers from the
 * size of the spooled message with accept, reject, defer, discard or a
 * changed message (a header field added), so that the reply mapping and the
 * modifications run too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "milter.h"
#include "util/file.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct ward_diag d;
    if (ward_log_open(WARD_LOG_NONE, "fuzz", NULL, WARD_LOG_ERROR, &d))
        abort();
    snprintf(milter_cfg.wardd, sizeof milter_cfg.wardd, "/nonexistent");
    milter_cfg.max_size = 256u << 10; /* keeps every spool in memory */
    return 0;
}

/* A changed message: "X-Fuzz: 1" on top of the spooled one. */
static int changed(const struct milter_msg *m)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    static const char top[] = "X-Fuzz: 1\r\n";
    if (fd < 0 || ward_write_full(fd, top, sizeof top - 1))
        abort();
    uint8_t buf[4096];
    for (uint64_t off = 0; off < m->size;) {
        size_t want = m->size - off < sizeof buf ? (size_t)(m->size - off) : sizeof buf;
        if (ward_pread_full(m->fd, buf, want, (off_t)off) != (ssize_t)want ||
            ward_write_full(fd, buf, want))
            abort();
        off += want;
    }
    return fd;
}

ward_err milter_scan(struct milter_sess *s, struct milter_conn *c, struct ward_mailproto_reply *out,
                     struct ward_diag *diag)
{
    (void)s;
    struct milter_msg *m = &c->msg;
    if (m->n_rcpts == 0)
        return ward_diag_set(diag, WARD_ERR_PARSE, "no recipient");
    memset(out, 0, sizeof *out);
    out->msg_fd = -1;
    out->status = WARD_MAIL_CLEAN;
    out->action = WARD_MAIL_ACCEPT;
    switch (m->size % 6) {
    case 1:
        out->action = WARD_MAIL_REJECT;
        out->status = WARD_MAIL_INFECTED;
        break;
    case 2:
        out->action = WARD_MAIL_DEFER;
        break;
    case 3:
        out->action = WARD_MAIL_DISCARD;
        break;
    case 4:
        out->msg_fd = changed(m);
        break;
    case 5:
        return ward_diag_set(diag, WARD_ERR_IO, "wardd is a stand-in");
    }
    out->reply = strdup(out->action == WARD_MAIL_REJECT   ? "550 5.7.1 %s refused"
                        : out->action == WARD_MAIL_DEFER ? "451 4.7.1 later"
                                                         : "250 2.0.0 ok");
    if (!out->reply)
        abort();
    return WARD_OK;
}

/* ---- 1. one packet through the decoders ---- */

static void check_str(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort();
}

static void decoders(const uint8_t *data, size_t size)
{
    struct milter_pkt p;
    size_t used, need;
    if (milter_frame(data, size, &p, &used, &need) != 1) {
        /* a payload without the frame still goes through every decoder */
        p.cmd = size ? (char)data[0] : 0;
        p.data = size ? data + 1 : data;
        p.len = size ? size - 1 : 0;
    }
    ward_buf b;
    ward_buf_init(&b, 2 * MILTER_MAX_LEN);
    struct milter_pkt q;
    struct milter_optneg o, o2;
    if (milter_dec_optneg(&p, &o) == WARD_OK) {
        if (milter_enc_optneg(&b, &o, NULL, 0) ||
            milter_frame(b.data, b.len, &q, &used, &need) != 1 || milter_dec_optneg(&q, &o2) ||
            memcmp(&o, &o2, sizeof o) != 0)
            abort();
        ward_buf_reset(&b);
    }
    struct milter_connect ci;
    if (milter_dec_connect(&p, &ci) == WARD_OK && ci.family == 'U' && ci.port != 0)
        abort();
    const char *name, *value;
    if (milter_dec_header(&p, &name, &value) == WARD_OK) {
        const char *n2, *v2;
        if (milter_enc_header(&b, MILTER_R_CHGHEADER, 7, name, value) ||
            milter_frame(b.data, b.len, &q, &used, &need) != 1 || q.len < 4)
            abort();
        q.data += 4; /* past the index */
        q.len -= 4;
        if (milter_dec_header(&q, &n2, &v2))
            abort();
        check_str(name, n2);
        check_str(value, v2);
        ward_buf_reset(&b);
    }
    const char *v[4];
    size_t n, more;
    if (milter_dec_strings(p.data, p.len, v, 4, &n, &more) == WARD_OK && n > 0) {
        if (milter_enc_str(&b, MILTER_R_DELRCPT, v[0]) ||
            milter_frame(b.data, b.len, &q, &used, &need) != 1)
            abort();
        check_str(v[0], (const char *)q.data);
    }
    char stage;
    const uint8_t *pairs;
    size_t len;
    if (milter_dec_macros(&p, &stage, &pairs, &len) == WARD_OK)
        (void)milter_macro_find(pairs, len, "i");
    ward_buf_free(&b);
}

/* ---- 2. a whole session on a memory buffer ---- */

struct mem {
    const uint8_t *p;
    size_t n, off;
    unsigned step;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n, bool wait_all)
{
    (void)wait_all;
    struct mem *m = ctx;
    size_t k = m->n - m->off;
    size_t chunk = 1 + (m->off * 7 + m->step++ * 13) % 4099; /* reads of varying size */
    if (k > n)
        k = n;
    if (k > chunk)
        k = chunk;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

static int mem_write(void *ctx, const void *buf, size_t n)
{
    (void)ctx;
    /* everything ward-milter writes is whole, well-framed packets */
    const uint8_t *p = buf;
    while (n > 0) {
        struct milter_pkt q;
        size_t used, need;
        if (milter_frame(p, n, &q, &used, &need) != 1)
            abort();
        p += used;
        n -= used;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoders(data, size);
    struct mem m = {data, size, 0, 0};
    struct milter_io io = {mem_read, mem_write, &m};
    struct ward_diag d;
    ward_err err = milter_session_run(&io, &d); /* any end is fine; no crash, no leak */
    (void)err;
    return 0;
}
