/*
 * session.c - the per-connection milter loop (see session.h).
 *
 * Input is read through one buffer: a read() takes in as many packets as the
 * MTA has written (Postfix writes the packets it wants no reply for back to
 * back), and they are handled without another system call. Replies and
 * modifications collect in an output buffer that is written just before the
 * session would wait for input, so a message costs few system calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

#define IN_START ((64u << 10) + 64u) /* a full body chunk and its header fit */
#define OUT_CAP (4u << 20)
#define OUT_FLUSH (64u << 10) /* write out modifications past this much */
#define MAX_ARGS 8            /* of MAIL and RCPT only the address is used */

/* Macro slots, one per stage command the MTA sends macros for; the last for others. */
static const char stage_cmds[] = "CHMRTENL";
#define N_SLOTS (sizeof stage_cmds)

struct milter_sess {
    const struct milter_io *io;
    uint8_t *in;
    size_t in_cap, in_start, in_end;
    ward_buf out;
    struct milter_optneg agreed;
    ward_buf macros[N_SLOTS];
    char reply[600];
    struct milter_conn conn;
};

static size_t slot_of(char stage)
{
    const char *p = stage ? strchr(stage_cmds, stage) : NULL;
    return p ? (size_t)(p - stage_cmds) : N_SLOTS - 1;
}

/* Forget the macros of the message stages (from MAIL on), or of all stages. */
static void macros_clear(struct milter_sess *s, bool all)
{
    for (size_t i = 0; i < N_SLOTS; i++)
        if (all || (stage_cmds[i] != 'C' && stage_cmds[i] != 'H'))
            ward_buf_reset(&s->macros[i]);
}

const char *milter_sess_macro(const struct milter_sess *s, const char *name)
{
    /* the latest stage first: Sendmail may send the queue id before the end */
    static const char order[] = "ENLTRMHC";
    const char *v = NULL;
    for (size_t i = 0; !v && i < N_SLOTS; i++) {
        const ward_buf *b = &s->macros[i < sizeof order - 1 ? slot_of(order[i]) : N_SLOTS - 1];
        if (b->len)
            v = milter_macro_find(b->data, b->len, name);
    }
    return v;
}

struct milter_conn *milter_sess_conn(struct milter_sess *s)
{
    return &s->conn;
}

static ward_err flush(struct milter_sess *s)
{
    if (s->out.len == 0)
        return WARD_OK;
    int rc = s->io->write(s->io->ctx, s->out.data, s->out.len);
    ward_buf_reset(&s->out);
    return rc ? WARD_ERR_IO : WARD_OK;
}

/* Queue one packet; written at once when much is queued. */
static ward_err send_pkt(struct milter_sess *s, ward_err enc)
{
    if (enc)
        return enc;
    return s->out.len >= OUT_FLUSH ? flush(s) : WARD_OK;
}

static ward_err need_action(const struct milter_sess *s, uint32_t flag)
{
    return s->agreed.actions & flag ? WARD_OK : WARD_ERR_UNSUPPORTED;
}

ward_err milter_sess_insheader(struct milter_sess *s, uint32_t index, const char *name,
                               const char *value)
{
    ward_err err = need_action(s, MILTER_F_ADDHDRS);
    return err ? err
               : send_pkt(s, milter_enc_header(&s->out, MILTER_R_INSHEADER, index, name, value));
}

ward_err milter_sess_chgheader(struct milter_sess *s, uint32_t index, const char *name,
                               const char *value)
{
    ward_err err = need_action(s, MILTER_F_CHGHDRS);
    return err ? err
               : send_pkt(s, milter_enc_header(&s->out, MILTER_R_CHGHEADER, index, name, value));
}

ward_err milter_sess_replbody(struct milter_sess *s, const void *p, size_t n)
{
    ward_err err = need_action(s, MILTER_F_CHGBODY);
    const uint8_t *b = p;
    do {
        size_t k = n < MILTER_CHUNK ? n : MILTER_CHUNK;
        if (!err)
            err = send_pkt(s, milter_enc(&s->out, MILTER_R_REPLBODY, b, k));
        b += k;
        n -= k;
    } while (!err && n > 0);
    return err;
}

ward_err milter_sess_delrcpt(struct milter_sess *s, const char *rcpt)
{
    ward_err err = need_action(s, MILTER_F_DELRCPT);
    return err ? err : send_pkt(s, milter_enc_str(&s->out, MILTER_R_DELRCPT, rcpt));
}

ward_err milter_sess_quarantine(struct milter_sess *s, const char *reason)
{
    ward_err err = need_action(s, MILTER_F_QUARANTINE);
    return err ? err : send_pkt(s, milter_enc_str(&s->out, MILTER_R_QUARANTINE, reason));
}

void milter_sess_setreply(struct milter_sess *s, const char *line)
{
    size_t n = strlen(line);
    if (n < sizeof s->reply)
        memcpy(s->reply, line, n + 1);
}

/*
 * The next packet, read as needed: 1 and *p (valid until the next call), 0 at
 * the end of the stream between packets, or an error.
 */
static ward_err next_packet(struct milter_sess *s, struct milter_pkt *p, int *got,
                            struct ward_diag *diag)
{
    for (;;) {
        size_t used, need;
        int r = milter_frame(s->in + s->in_start, s->in_end - s->in_start, p, &used, &need);
        if (r < 0)
            return ward_diag_set(diag, WARD_ERR_PARSE, "malformed or oversize packet");
        if (r > 0) {
            s->in_start += used;
            *got = 1;
            return WARD_OK;
        }
        if (need > s->in_cap) { /* a packet larger than the buffer: grow it, bounded */
            uint8_t *n = realloc(s->in, need);
            if (!n)
                return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
            s->in = n;
            s->in_cap = need;
        }
        if (s->in_start + need > s->in_cap || s->in_start == s->in_end) {
            memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
            s->in_end -= s->in_start;
            s->in_start = 0;
        }
        if (flush(s))
            return ward_diag_set(diag, WARD_ERR_IO, "write: %s", strerror(errno));
        /* inside a packet: wait for its rest at once; between packets: take what is there */
        size_t have = s->in_end - s->in_start;
        bool inside = have >= 4 && need > have;
        size_t want = inside ? need - have : s->in_cap - s->in_end;
        ssize_t n = s->io->read(s->io->ctx, s->in + s->in_end, want, inside);
        if (n < 0)
            return ward_diag_set(diag, errno == EAGAIN || errno == EWOULDBLOCK ? WARD_ERR_TIMEOUT
                                                                                : WARD_ERR_IO,
                                 "read: %s", errno == EAGAIN ? "timeout" : strerror(errno));
        if (n == 0) {
            *got = 0;
            return s->in_end == s->in_start
                       ? WARD_OK
                       : ward_diag_set(diag, WARD_ERR_PARSE, "connection closed inside a packet");
        }
        s->in_end += (size_t)n;
    }
}

static ward_err negotiate(struct milter_sess *s, const struct milter_pkt *p, struct ward_diag *diag)
{
    struct milter_optneg mta, o;
    if (milter_dec_optneg(p, &mta))
        return ward_diag_set(diag, WARD_ERR_PARSE, "malformed option negotiation");
    if (mta.version < MILTER_MIN_VERSION)
        return ward_diag_set(diag, WARD_ERR_UNSUPPORTED, "MTA protocol version %u too old",
                             (unsigned)mta.version);
    o.version = mta.version < MILTER_VERSION ? mta.version : MILTER_VERSION;
    o.actions = mta.actions & (MILTER_F_ADDHDRS | MILTER_F_CHGHDRS | MILTER_F_CHGBODY |
                               MILTER_F_QUARANTINE | MILTER_F_DELRCPT | MILTER_F_SETSYMLIST);
    /* Fewer round trips: no replies to steps that never refuse anything. */
    uint32_t nr = MILTER_P_NR_CONN | MILTER_P_NR_HELO | MILTER_P_NR_MAIL | MILTER_P_NR_RCPT |
                  MILTER_P_NR_DATA | MILTER_P_NR_UNKN | MILTER_P_NR_EOH | MILTER_P_NR_HDR |
                  MILTER_P_NR_BODY;
    o.proto = mta.proto & (MILTER_P_HDR_LEADSPC | MILTER_P_NOUNKNOWN | MILTER_P_NODATA | nr);
    s->agreed = o;
    s->conn.nr = mta.proto & nr;
    s->conn.leadspc = (mta.proto & MILTER_P_HDR_LEADSPC) != 0;
    /* The only macro used is the queue id at the end; the MTA need not send the rest
       (Postfix sends a packet of macros before nearly every command otherwise). */
    static const struct milter_symlist lists[] = {
        {MILTER_M_CONNECT, ""}, {MILTER_M_HELO, ""}, {MILTER_M_ENVFROM, ""},
        {MILTER_M_ENVRCPT, ""}, {MILTER_M_DATA, ""}, {MILTER_M_EOH, ""}, {MILTER_M_EOM, "i"},
    };
    bool sym = (o.actions & MILTER_F_SETSYMLIST) != 0;
    if (milter_enc_optneg(&s->out, &o, lists, sym ? sizeof lists / sizeof lists[0] : 0))
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "cannot encode the negotiation");
    return WARD_OK;
}

/* Answer a step unless the MTA agreed not to wait for it. */
static ward_err step_reply(struct milter_sess *s, uint32_t nr_flag)
{
    if (s->conn.nr & nr_flag)
        return WARD_OK;
    return milter_enc(&s->out, MILTER_R_CONTINUE, NULL, 0);
}

static ward_err end_of_message(struct milter_sess *s)
{
    s->reply[0] = 0;
    enum milter_verdict v = milter_on_eom(s);
    ward_err err = WARD_OK;
    bool coded = false; /* a reply line goes instead of the plain reject or tempfail */
    char c = MILTER_R_CONTINUE;
    switch (v) {
    case MILTER_CONTINUE:
        break;
    case MILTER_ACCEPT:
        c = MILTER_R_ACCEPT;
        break;
    case MILTER_DISCARD:
        c = MILTER_R_DISCARD;
        break;
    case MILTER_REJECT:
    case MILTER_TEMPFAIL:
        c = v == MILTER_REJECT ? MILTER_R_REJECT : MILTER_R_TEMPFAIL;
        coded = s->reply[0] == (v == MILTER_REJECT ? '5' : '4');
        break;
    }
    err = coded ? milter_enc_str(&s->out, MILTER_R_REPLYCODE, s->reply)
                : milter_enc(&s->out, c, NULL, 0);
    macros_clear(s, false);
    return err;
}

/* One MTA command. *quit: the MTA ends the connection. */
static ward_err dispatch(struct milter_sess *s, const struct milter_pkt *p, bool *quit,
                         struct ward_diag *diag)
{
    struct milter_conn *c = &s->conn;
    const char *v[MAX_ARGS];
    size_t n, more;
    ward_err err = WARD_OK;
    switch (p->cmd) {
    case MILTER_C_OPTNEG:
        return negotiate(s, p, diag);
    case MILTER_C_MACRO: {
        char stage;
        const uint8_t *pairs;
        size_t len;
        if (milter_dec_macros(p, &stage, &pairs, &len))
            break;
        ward_buf *b = &s->macros[slot_of(stage)];
        ward_buf_reset(b);
        if (ward_buf_append(b, pairs, len))
            return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        return WARD_OK;
    }
    case MILTER_C_CONNECT: {
        struct milter_connect ci;
        if (milter_dec_connect(p, &ci))
            break;
        milter_on_connect(c, &ci);
        return step_reply(s, MILTER_P_NR_CONN);
    }
    case MILTER_C_HELO:
        if (milter_dec_strings(p->data, p->len, v, 1, &n, &more) || n < 1)
            break;
        milter_on_helo(c, v[0]);
        return step_reply(s, MILTER_P_NR_HELO);
    case MILTER_C_MAIL:
    case MILTER_C_RCPT:
        if (milter_dec_strings(p->data, p->len, v, MAX_ARGS, &n, &more) || n < 1)
            break;
        if (p->cmd == MILTER_C_MAIL)
            milter_on_mail(c, v[0]);
        else
            milter_on_rcpt(c, v[0]);
        return step_reply(s, p->cmd == MILTER_C_MAIL ? MILTER_P_NR_MAIL : MILTER_P_NR_RCPT);
    case MILTER_C_DATA:
        return step_reply(s, MILTER_P_NR_DATA);
    case MILTER_C_UNKNOWN:
        return step_reply(s, MILTER_P_NR_UNKN);
    case MILTER_C_HEADER:
        if (milter_dec_header(p, &v[0], &v[1]))
            break;
        milter_on_header(c, v[0], v[1]);
        return step_reply(s, MILTER_P_NR_HDR);
    case MILTER_C_EOH:
        milter_on_eoh(c);
        return step_reply(s, MILTER_P_NR_EOH);
    case MILTER_C_BODY:
        milter_on_body(c, p->data, p->len);
        return step_reply(s, MILTER_P_NR_BODY);
    case MILTER_C_EOM:
        if (p->len)
            milter_on_body(c, p->data, p->len);
        err = end_of_message(s);
        return err ? ward_diag_set(diag, err, "cannot queue the reply") : WARD_OK;
    case MILTER_C_ABORT:
        milter_on_abort(c);
        macros_clear(s, false);
        return WARD_OK;
    case MILTER_C_QUIT:
        *quit = true;
        return WARD_OK;
    case MILTER_C_QUIT_NC: { /* the MTA reuses the connection for another SMTP session */
        uint32_t nr = c->nr;
        bool leadspc = c->leadspc;
        milter_conn_free(c);
        milter_conn_init(c);
        c->nr = nr;
        c->leadspc = leadspc;
        macros_clear(s, true);
        return WARD_OK;
    }
    default:
        return ward_diag_set(diag, WARD_ERR_PARSE, "unknown command 0x%02x",
                             (unsigned)(uint8_t)p->cmd);
    }
    return ward_diag_set(diag, WARD_ERR_PARSE, "malformed '%c' packet", p->cmd);
}

ward_err milter_session_run(const struct milter_io *io, struct ward_diag *diag)
{
    struct milter_sess *s = calloc(1, sizeof *s);
    if (!s)
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    s->io = io;
    s->in_cap = IN_START;
    s->in = malloc(s->in_cap);
    ward_buf_init(&s->out, OUT_CAP);
    for (size_t i = 0; i < N_SLOTS; i++)
        ward_buf_init(&s->macros[i], MILTER_MAX_LEN);
    milter_conn_init(&s->conn);
    ward_err err = s->in ? WARD_OK : ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    for (bool quit = false; !err && !quit;) {
        struct milter_pkt p;
        int got = 0;
        err = next_packet(s, &p, &got, diag);
        if (!err && !got)
            break;
        if (!err)
            err = dispatch(s, &p, &quit, diag);
    }
    if (!err && flush(s))
        err = ward_diag_set(diag, WARD_ERR_IO, "write: %s", strerror(errno));
    milter_conn_free(&s->conn);
    for (size_t i = 0; i < N_SLOTS; i++)
        ward_buf_free(&s->macros[i]);
    ward_buf_free(&s->out);
    free(s->in);
    free(s);
    return err;
}
