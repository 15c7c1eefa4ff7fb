/*
 * conn.c - one client connection of wardd, speaking clamd's protocol as
 * clamd does (docs/protocol.md): reading commands in three framings,
 * sessions, INSTREAM chunks, descriptors passed with FILDES, writing
 * replies, timeouts. Runs in the event loop thread only.
 *
 * Outside a session a connection carries one command; its reply ends it.
 * Inside IDSESSION commands are read as they come, scans run in parallel,
 * and each reply is prefixed "N: " with the request's number, in the order
 * replies finish, each in the framing of its own command.
 *
 * MAILSCAN (Ward's extension, proto/mailproto.h) is read here too: its
 * envelope block, the descriptor that came with it or the message's
 * chunks; its reply is a block sent as it is, with a descriptor attached
 * to its first byte when the changed message goes back that way. With
 * keep=yes the connection then reads the next command, as a new one would:
 * agents keep a few connections open instead of one per message. Nothing
 * more is read until the reply has gone, so replies keep their order and a
 * descriptor rides on the right one.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/fdpass.h"
#include "util/log.h"
#include "util/tcp.h"
#include "ward_config.h"
#include "wardd.h"

#define MAX_LINE 4102       /* clamd's longest command line (prefix and terminator aside) */
#define READ_CHUNK 65536
#define MAX_FD_CHUNKS 16    /* reads that brought descriptors, not yet consumed */
#define MAX_FDS_PER_READ 8

enum conn_state {
    ST_CMD,         /* waiting for a command */
    ST_STREAM_LEN,  /* INSTREAM: a chunk length */
    ST_STREAM_DATA, /* INSTREAM: chunk bytes */
    ST_FILDES,      /* FILDES: the byte that carries the descriptor */
    ST_MAIL_LEN,    /* MAILSCAN: the envelope's length */
    ST_MAIL_ENV,    /* MAILSCAN: envelope bytes */
    ST_MAIL_BUSY,   /* MAILSCAN with keep=yes: scanning, then its reply is sent */
    ST_DONE,        /* no more commands: reply, then close */
};

/* A read that brought descriptors: which input bytes came with them. */
struct fd_chunk {
    uint64_t start, end; /* input offsets */
    int fds[MAX_FDS_PER_READ];
    unsigned n;
};

struct conn {
    int fd;
    bool unix_sock;
    struct event *ev_read, *ev_write;
    ward_buf in, out;
    size_t out_off;
    uint64_t in_base; /* input offset of in.data[0] */
    struct fd_chunk chunks[MAX_FD_CHUNKS];
    unsigned n_chunks;
    enum conn_state state;
    bool session, ending, eof, closed, reading_paused, stalled;
    bool got_command;     /* a complete command arrived (timeouts change) */
    bool scan_pending;    /* a path or descriptor scan runs outside a session */
    bool garbage_said;    /* "Error processing command" sent */
    enum ward_clamd_framing framing; /* of the last command (FILDES, garbage after it) */
    unsigned next_id;
    unsigned cur_id;      /* id of the command being read (INSTREAM, FILDES) */
    unsigned pending;     /* jobs in flight */
    unsigned busy;        /* event callbacks running on it: it is freed after they return */
    struct job *stream;   /* INSTREAM being received (or a MAILSCAN's chunks) */
    struct job *mail;     /* MAILSCAN whose envelope is being received */
    ward_buf env;         /* its envelope */
    uint32_t env_len;
    int mail_fd;          /* the descriptor that came with it, or -1 */
    int out_fd;           /* a descriptor to attach to the next reply byte sent, or -1 */
    uint32_t chunk_left;
    uint8_t len_buf[4];
    unsigned len_have;
    time_t last_io;
    struct conn *prev, *next;
};

static struct {
    struct event_base *base;
    const struct wardd_cfg *cfg;
    struct conn *all;
    unsigned count;
    struct job *waiting_head, *waiting_tail; /* jobs the full pool could not take yet */
} L;

static void update_events(struct conn *c);
static void process_input(struct conn *c);
static void write_some(evutil_socket_t fd, short what, void *arg);
static void consume(struct conn *c, size_t n);

char job_delim(const struct job *j)
{
    return ward_clamd_delim(j->framing);
}

unsigned conn_count(void)
{
    return L.count;
}

void conn_setup(struct event_base *base, const struct wardd_cfg *cfg)
{
    L.base = base;
    L.cfg = cfg;
}

/* ---- lifetime ---------------------------------------------------------- */

static void drop_chunks(struct conn *c, uint64_t before)
{
    unsigned k = 0;
    for (unsigned i = 0; i < c->n_chunks; i++) {
        struct fd_chunk *ch = &c->chunks[i];
        if (ch->end <= before) {
            for (unsigned f = 0; f < ch->n; f++)
                if (ch->fds[f] >= 0)
                    close(ch->fds[f]);
            continue;
        }
        c->chunks[k++] = *ch;
    }
    c->n_chunks = k;
}

static void conn_free(struct conn *c)
{
    drop_chunks(c, UINT64_MAX);
    ward_buf_free(&c->env);
    if (c->mail_fd >= 0)
        close(c->mail_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    ward_buf_free(&c->in);
    ward_buf_free(&c->out);
    free(c);
}

/* Close the socket now; the struct stays until its running jobs come back. */
static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    /* libevent's event_free does not take NULL */
    if (c->ev_read)
        event_free(c->ev_read);
    if (c->ev_write)
        event_free(c->ev_write);
    c->ev_read = c->ev_write = NULL;
    close(c->fd);
    c->fd = -1;
    if (c->stream) {
        job_free(c->stream);
        c->stream = NULL;
    }
    if (c->mail) {
        job_free(c->mail);
        c->mail = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        L.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    L.count--;
    if (c->pending == 0 && c->busy == 0)
        conn_free(c);
}

/* ---- replies ----------------------------------------------------------- */

/* One reply unit, prefixed "N: " in a session, ended by `delim`. */
static void reply_unit(struct conn *c, unsigned id, const char *text, size_t len, char delim)
{
    if (c->closed)
        return;
    if (id)
        (void)!ward_buf_printf(&c->out, "%u: ", id);
    (void)!ward_buf_append(&c->out, text, len);
    (void)!ward_buf_putc(&c->out, (uint8_t)delim);
}

static void replyf(struct conn *c, unsigned id, enum ward_clamd_framing f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void replyf(struct conn *c, unsigned id, enum ward_clamd_framing f, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reply_unit(c, id, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1,
               ward_clamd_delim(f));
    update_events(c);
}

/* A job finished in a worker: send its lines, each a reply unit (loop thread). */
static void finish_job(struct job *j)
{
    struct conn *c = j->conn;
    c->pending--;
    if (!c->closed && j->kind == JOB_MAIL) {
        /* a reply block, sent as it is; the changed message's descriptor rides on it */
        if (c->out.len == c->out_off && j->out_fd >= 0 && c->out_fd < 0) {
            c->out_fd = j->out_fd;
            j->out_fd = -1;
        }
        if (ward_buf_append(&c->out, j->reply.data, j->reply.len)) {
            /* no reply at all: the client takes that as a temporary failure */
            ward_log(WARD_LOG_ERROR, "MAILSCAN: reply of %zu bytes not queued", j->reply.len);
            c->ending = true;
            c->state = ST_DONE;
        }
        c->scan_pending = false;
        if (!c->ending) {
            /* the socket is almost always writable: send now, not a loop turn later */
            c->busy++;
            write_some(c->fd, EV_WRITE, c);
            c->busy--;
        }
    } else if (!c->closed) {
        char d = job_delim(j);
        const char *p = (const char *)j->reply.data, *end = p + j->reply.len;
        while (p && p < end) {
            const char *e = memchr(p, d, (size_t)(end - p));
            size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
            reply_unit(c, j->id, p, n, d);
            p = e ? e + 1 : end;
        }
        if (j->kind != JOB_STREAM)
            c->scan_pending = false;
    }
    job_free(j);
    if (c->closed && c->pending == 0 && c->busy == 0)
        conn_free(c);
    else if (!c->closed)
        update_events(c);
}

/* Bytes after a scan command outside a session: clamd says so before the result. */
static void garbage_after_command(struct conn *c)
{
    if (c->garbage_said || !c->scan_pending)
        return;
    c->garbage_said = true;
    ward_log(WARD_LOG_WARNING, "client sent garbage after its last command");
    replyf(c, 0, c->framing, "Error processing command. ERROR");
}

/* ---- submitting work ---------------------------------------------------- */

static void submit(struct conn *c, struct job *j)
{
    c->pending++;
    if (L.waiting_head || !pool_submit(j)) {
        /* The queue is full: hold the job here and stop reading until it is taken. */
        j->next = NULL;
        if (L.waiting_tail)
            L.waiting_tail->next = j;
        else
            L.waiting_head = j;
        L.waiting_tail = j;
        c->reading_paused = true;
    }
}

/* Feed held jobs to the pool as it drains. */
void conn_pump_waiting(void)
{
    while (L.waiting_head && !pool_full()) {
        struct job *j = L.waiting_head;
        struct job *next = j->next;
        if (!pool_submit(j))
            break;
        L.waiting_head = next;
        if (!next)
            L.waiting_tail = NULL;
        struct conn *c = j->conn;
        c->reading_paused = false;
        if (!c->closed) {
            update_events(c);
            process_input(c);
        }
    }
}

static struct job *new_job(struct conn *c, enum job_kind kind, enum ward_clamd_kind cmd,
                           unsigned id, enum ward_clamd_framing framing)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->cmd = cmd;
    j->conn = c;
    j->id = id;
    j->framing = framing;
    j->fd = -1;
    j->out_fd = -1;
    ward_buf_init(&j->reply, 1 << 24);
    ward_tmpspool_init(&j->stream, L.cfg->stream_max_length, 16u << 20, L.cfg->tmp_dir);
    return j;
}

/* ---- commands ----------------------------------------------------------- */

static void stats_reply(struct conn *c, unsigned id, enum ward_clamd_framing f)
{
    unsigned live, idle, max, queued;
    pool_stats(&live, &idle, &max, &queued);
    struct ward_vcache_stats vs = {0};
    if (wardd_cache())
        ward_vcache_get_stats(wardd_cache(), &vs);
    char text[2048];
    double rate = vs.hits + vs.misses
                      ? 100.0 * (double)vs.hits / (double)(vs.hits + vs.misses)
                      : 0.0;
    /* clamd's layout line by line (clamdtop reads it); Ward's own lines before END */
    int n = snprintf(
        text, sizeof text,
        "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live %u  idle %u max %u idle-timeout %u\n"
        "QUEUE: %u items\n\tSTATS 0.000000 \n\n"
        "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used N/A "
        "pools_total N/A\n"
        "CACHE: entries %zu capacity %zu hits %llu misses %llu hit-rate %.1f%%\n"
        "SCANS: %llu infected %llu errors %llu connections %llu\nEND",
        live, idle, max, L.cfg->idle_timeout, queued, vs.entries, vs.capacity,
        (unsigned long long)vs.hits, (unsigned long long)vs.misses, rate,
        (unsigned long long)wardd_stats.scans, (unsigned long long)wardd_stats.infected,
        (unsigned long long)wardd_stats.errors, (unsigned long long)wardd_stats.connections);
    if (n > 0)
        reply_unit(c, id, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1,
                   ward_clamd_delim(f));
    update_events(c);
}

static void version_text(char *out, size_t cap)
{
    char db[128];
    wardd_db_version(db, sizeof db);
    snprintf(out, cap, "Ward %s/%s", WARD_VERSION, db);
}

/* The command ended the connection's commands (outside a session, or END). */
static void no_more_commands(struct conn *c)
{
    c->state = ST_DONE;
}

/* ---- MAILSCAN ------------------------------------------------------------ */

static void mail_start(struct conn *c, enum ward_clamd_framing f)
{
    c->mail = new_job(c, JOB_MAIL, WARD_CLAMD_UNKNOWN, 0, f);
    if (!c->mail) {
        replyf(c, 0, f, "Can't allocate memory ERROR");
        no_more_commands(c);
        return;
    }
    /* the message goes to a file at once: ward_mail_process reads a descriptor */
    ward_tmpspool_free(&c->mail->stream);
    ward_tmpspool_init(&c->mail->stream, L.cfg->stream_max_length, 0, L.cfg->tmp_dir);
    ward_buf_init(&c->env, WARD_MAILPROTO_MAX_ENV);
    c->len_have = 0;
    c->mail_fd = -1;
    c->state = ST_MAIL_LEN;
}

/* Keep the first descriptor that came with input [from, to); the others are closed. */
static void mail_grab_fds(struct conn *c, uint64_t from, uint64_t to)
{
    for (unsigned i = 0; i < c->n_chunks; i++) {
        struct fd_chunk *ch = &c->chunks[i];
        if (ch->start >= to || ch->end <= from)
            continue;
        for (unsigned k = 0; k < ch->n; k++)
            if (ch->fds[k] >= 0 && c->mail_fd < 0) {
                c->mail_fd = ch->fds[k];
                ch->fds[k] = -1;
            }
    }
}

/* Answer the MAILSCAN being read with a defer and end the connection. */
static void mail_refuse(struct conn *c, struct job *j, const char *why)
{
    mailjob_fail(j, why);
    j->kind = JOB_MAIL;
    c->pending++; /* finish_job counts it back */
    finish_job(j);
    c->ending = true;
    no_more_commands(c);
}

/* The envelope is complete: parse it and go on with the message. */
static void mail_envelope(struct conn *c)
{
    struct job *j = c->mail;
    c->mail = NULL;
    struct ward_diag d;
    j->mail = calloc(1, sizeof *j->mail);
    ward_err err = j->mail ? ward_mailproto_parse_request(c->env.data, c->env.len, j->mail, &d)
                           : ward_diag_set(&d, WARD_ERR_NOMEM, "out of memory");
    ward_buf_free(&c->env);
    int fd = c->mail_fd;
    c->mail_fd = -1;
    if (err) {
        free(j->mail);
        j->mail = NULL;
        if (fd >= 0)
            close(fd);
        mail_refuse(c, j, d.msg);
        return;
    }
    if (!c->unix_sock && j->mail->ret == WARD_MAILPROTO_FD)
        j->mail->ret = WARD_MAILPROTO_STREAM; /* no descriptors on TCP */
    if (j->mail->message == WARD_MAILPROTO_STREAM) {
        if (fd >= 0)
            close(fd);
        c->stream = j;
        c->state = ST_STREAM_LEN;
        c->len_have = 0;
        return;
    }
    if (fd < 0) {
        mail_refuse(c, j, "message=fd but no descriptor came with the envelope");
        return;
    }
    j->fd = fd;
    if (j->mail->keep)
        c->state = ST_MAIL_BUSY;
    else
        no_more_commands(c);
    submit(c, j);
}

/* Envelope length and bytes, as they come. */
static void mail_input(struct conn *c)
{
    ward_buf *in = &c->in;
    if (c->state == ST_MAIL_LEN) {
        size_t take = 4 - c->len_have < in->len ? 4 - c->len_have : in->len;
        mail_grab_fds(c, c->in_base, c->in_base + take);
        memcpy(c->len_buf + c->len_have, in->data, take);
        c->len_have += (unsigned)take;
        consume(c, take);
        if (c->len_have < 4)
            return;
        c->len_have = 0;
        c->env_len = (uint32_t)c->len_buf[0] << 24 | (uint32_t)c->len_buf[1] << 16 |
                     (uint32_t)c->len_buf[2] << 8 | c->len_buf[3];
        if (c->env_len == 0 || c->env_len > WARD_MAILPROTO_MAX_ENV) {
            struct job *j = c->mail;
            c->mail = NULL;
            mail_refuse(c, j, "envelope length out of range");
            return;
        }
        c->state = ST_MAIL_ENV;
        return;
    }
    size_t left = c->env_len - c->env.len;
    size_t take = left < in->len ? left : in->len;
    mail_grab_fds(c, c->in_base, c->in_base + take);
    if (ward_buf_append(&c->env, in->data, take)) {
        struct job *j = c->mail;
        c->mail = NULL;
        mail_refuse(c, j, "out of memory");
        return;
    }
    consume(c, take);
    if (c->env.len == c->env_len)
        mail_envelope(c);
}

static void do_command(struct conn *c, const struct ward_clamd_cmd *cmd)
{
    __atomic_add_fetch(&wardd_stats.commands, 1, __ATOMIC_RELAXED);
    c->got_command = true;
    enum ward_clamd_framing f = cmd->framing;
    /* "Error processing command" for bytes after it ends as this command's replies do */
    c->framing = f;
    if (c->session && cmd->kind == WARD_CLAMD_END) {
        c->ending = true;
        no_more_commands(c);
        update_events(c);
        return;
    }
    unsigned id = c->session ? ++c->next_id : 0;
    if (c->session && !ward_clamd_session_ok(cmd->kind)) {
        replyf(c, id, f, "Command invalid inside IDSESSION. ERROR");
        c->ending = true;
        no_more_commands(c);
        update_events(c);
        return;
    }
    char text[512];
    switch (cmd->kind) {
    case WARD_CLAMD_PING:
        replyf(c, id, f, "PONG");
        break;
    case WARD_CLAMD_VERSION:
        version_text(text, sizeof text);
        replyf(c, id, f, "%s", text);
        break;
    case WARD_CLAMD_VERSIONCOMMANDS:
        version_text(text, sizeof text);
        replyf(c, id, f,
               "%s| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END "
               "SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS "
               "ALLMATCHSCAN",
               text);
        break;
    case WARD_CLAMD_STATS:
        stats_reply(c, id, f);
        break;
    case WARD_CLAMD_RELOAD:
        wardd_db_request_reload("RELOAD command");
        replyf(c, id, f, "RELOADING");
        break;
    case WARD_CLAMD_SHUTDOWN:
    case WARD_CLAMD_QUIT:
        ward_log(WARD_LOG_NOTICE, "%s command received", ward_clamd_kind_name(cmd->kind));
        loop_request_stop();
        break;
    case WARD_CLAMD_DETSTATS:
    case WARD_CLAMD_DETSTATSCLEAR:
        break; /* clamd answers nothing and closes */
    case WARD_CLAMD_IDSESSION:
        c->session = true;
        return;
    case WARD_CLAMD_SCAN:
    case WARD_CLAMD_CONTSCAN:
    case WARD_CLAMD_MULTISCAN:
    case WARD_CLAMD_ALLMATCHSCAN: {
        struct job *j = new_job(c, JOB_PATH, cmd->kind, id, f);
        if (!j || !(j->path = strndup(cmd->arg, cmd->arg_len))) {
            job_free(j);
            replyf(c, id, f, "Can't allocate memory ERROR");
            break;
        }
        if (!c->session)
            c->scan_pending = true;
        submit(c, j);
        break;
    }
    case WARD_CLAMD_INSTREAM: {
        struct job *j = new_job(c, JOB_STREAM, cmd->kind, id, f);
        if (!j) {
            replyf(c, id, f, "Can't allocate memory ERROR");
            break;
        }
        c->stream = j;
        c->state = ST_STREAM_LEN;
        c->len_have = 0;
        return; /* the command goes on with its chunks */
    }
    case WARD_CLAMD_FILDES:
        c->state = ST_FILDES;
        c->cur_id = id;
        c->framing = f;
        return; /* the descriptor comes with the next byte */
    case WARD_CLAMD_UNKNOWN:
        if (!c->session && cmd->name_len == strlen(WARD_MAILPROTO_CMD) &&
            memcmp(cmd->name, WARD_MAILPROTO_CMD, cmd->name_len) == 0 && !cmd->arg &&
            cmd->framing != WARD_CLAMD_LEGACY) {
            mail_start(c, f);
            return;
        }
        replyf(c, id, f, "UNKNOWN COMMAND");
        break;
    case WARD_CLAMD_END:
    default:
        replyf(c, id, f, "UNKNOWN COMMAND");
        break;
    }
    if (!c->session)
        no_more_commands(c);
}

/* ---- reading ------------------------------------------------------------ */

static void consume(struct conn *c, size_t n)
{
    ward_buf *in = &c->in;
    memmove(in->data, in->data + n, in->len - n);
    in->len -= n;
    in->data[in->len] = 0;
    c->in_base += n;
    drop_chunks(c, c->in_base);
}

static void stream_chunk_len(struct conn *c)
{
    uint32_t len = (uint32_t)c->len_buf[0] << 24 | (uint32_t)c->len_buf[1] << 16 |
                   (uint32_t)c->len_buf[2] << 8 | c->len_buf[3];
    c->len_have = 0;
    struct job *j = c->stream;
    if (len == 0) {
        c->stream = NULL;
        c->state = ST_CMD;
        if (j->kind == JOB_MAIL && j->mail->keep)
            c->state = ST_MAIL_BUSY;
        else if (!c->session)
            no_more_commands(c);
        submit(c, j);
        return;
    }
    /* clamd checks each chunk's length against what is left, before its data */
    if ((uint64_t)len > j->stream.cap - j->stream.size) {
        ward_log(WARD_LOG_WARNING, "INSTREAM: size limit reached (requested %u, max %llu)",
                 len, (unsigned long long)(j->stream.cap - j->stream.size));
        c->stream = NULL;
        if (j->kind == JOB_MAIL) {
            mail_refuse(c, j, "message larger than stream_max_length");
            return;
        }
        replyf(c, j->id, j->framing, "INSTREAM size limit exceeded. ERROR");
        job_free(j);
        c->ending = true;
        no_more_commands(c);
        return;
    }
    c->chunk_left = len;
    c->state = ST_STREAM_DATA;
}

/* The read that brought input offset `off`, or NULL. */
static struct fd_chunk *chunk_at(struct conn *c, uint64_t off)
{
    for (unsigned i = 0; i < c->n_chunks; i++)
        if (c->chunks[i].start <= off && off < c->chunks[i].end)
            return &c->chunks[i];
    return NULL;
}

/* FILDES: the byte after the command carries exactly one descriptor. */
static void fildes_byte(struct conn *c)
{
    struct fd_chunk *ch = chunk_at(c, c->in_base);
    int fd = -1;
    if (ch && ch->n == 1 && ch->fds[0] >= 0) {
        fd = ch->fds[0];
        ch->fds[0] = -1; /* the job owns it now */
    }
    consume(c, 1);
    c->state = c->session ? ST_CMD : ST_DONE;
    if (fd < 0) {
        /* an error that ends a session too, as clamd's protocol errors do */
        replyf(c, c->cur_id, c->framing, "No file descriptor received. ERROR");
        c->ending = true;
        no_more_commands(c);
        update_events(c);
        return;
    }
    struct job *j = new_job(c, JOB_FD, WARD_CLAMD_FILDES, c->cur_id, c->framing);
    if (!j) {
        close(fd);
        replyf(c, c->cur_id, c->framing, "Can't allocate memory ERROR");
        return;
    }
    j->fd = fd;
    if (!c->session)
        c->scan_pending = true;
    submit(c, j);
}

/* A descriptor that came with the command's own bytes and nothing after: clamd's error. */
static bool fildes_fd_too_early(struct conn *c, uint64_t cmd_end)
{
    for (unsigned i = 0; i < c->n_chunks; i++) {
        const struct fd_chunk *ch = &c->chunks[i];
        if (ch->n && ch->end == cmd_end && ch->start < cmd_end)
            return true;
    }
    return false;
}

static void process_input(struct conn *c)
{
    while (!c->closed && !c->reading_paused && !c->stalled) {
        ward_buf *in = &c->in;
        if (c->state == ST_DONE) {
            /* bytes after the last command */
            if (in->len)
                garbage_after_command(c);
            if (in->len)
                consume(c, in->len);
            return;
        }
        if (in->len == 0 || c->state == ST_MAIL_BUSY)
            return;
        if (c->state == ST_STREAM_LEN) {
            size_t take = 4 - c->len_have < in->len ? 4 - c->len_have : in->len;
            memcpy(c->len_buf + c->len_have, in->data, take);
            c->len_have += (unsigned)take;
            consume(c, take);
            if (c->len_have == 4)
                stream_chunk_len(c);
            continue;
        }
        if (c->state == ST_STREAM_DATA) {
            size_t take = c->chunk_left < in->len ? c->chunk_left : in->len;
            if (ward_tmpspool_write(&c->stream->stream, in->data, take)) {
                struct job *j = c->stream;
                c->stream = NULL;
                if (j->kind == JOB_MAIL) {
                    mail_refuse(c, j, "cannot write the message to a temporary file");
                    return;
                }
                replyf(c, j->id, j->framing, "Can't write to temporary file ERROR");
                job_free(j);
                c->ending = true;
                no_more_commands(c);
                return;
            }
            consume(c, take);
            c->chunk_left -= (uint32_t)take;
            if (c->chunk_left == 0)
                c->state = ST_STREAM_LEN;
            continue;
        }
        if (c->state == ST_FILDES) {
            fildes_byte(c);
            continue;
        }
        if (c->state == ST_MAIL_LEN || c->state == ST_MAIL_ENV) {
            mail_input(c);
            continue;
        }
        /* ST_CMD */
        struct ward_clamd_cmd cmd;
        size_t used = 0;
        enum ward_clamd_parse_result r = ward_clamd_parse(in->data, in->len, MAX_LINE, &cmd,
                                                          &used);
        if (r == WARD_CLAMD_LEGACY_LINE) {
            if (c->session) {
                /* clamd gives an unprefixed line in a session no answer at all */
                c->stalled = true;
                return;
            }
            ward_clamd_parse_legacy(in->data, in->len, &cmd, &used);
        } else if (r == WARD_CLAMD_NEED_MORE) {
            return;
        } else if (r == WARD_CLAMD_TOO_LONG) {
            ward_log(WARD_LOG_WARNING, "command line too long: closing");
            conn_close(c);
            return;
        }
        uint64_t cmd_end = c->in_base + used;
        /* copy what the command refers to before the buffer moves */
        char arg[MAX_LINE + 1];
        size_t arg_len = cmd.arg_len < MAX_LINE ? cmd.arg_len : MAX_LINE;
        if (cmd.arg)
            memcpy(arg, cmd.arg, arg_len);
        arg[arg_len] = 0;
        struct ward_clamd_cmd local = cmd;
        local.arg = cmd.arg ? arg : NULL;
        local.arg_len = arg_len;
        /* the name too, for commands clamd does not have (MAILSCAN) */
        char name[16] = "";
        if (cmd.name_len < sizeof name)
            memcpy(name, cmd.name, cmd.name_len);
        local.name = name;
        bool cr = cmd.trailing_cr;
        if (cmd.kind == WARD_CLAMD_FILDES && fildes_fd_too_early(c, cmd_end)) {
            /* both lines end with NUL whatever the framing; in a session they carry
               the FILDES command's id */
            unsigned id = c->session ? ++c->next_id : 0;
            consume(c, used);
            reply_unit(c, id, "PROTOCOL ERROR: ancillary data sent without FILDES. ERROR", 57,
                       '\0');
            reply_unit(c, id, "Error processing command. ERROR", 31, '\0');
            c->ending = true;
            no_more_commands(c);
            update_events(c);
            return;
        }
        consume(c, used);
        do_command(c, &local);
        if (cr && !c->session)
            garbage_after_command(c);
    }
}

static void read_some(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (ward_buf_reserve(&c->in, READ_CHUNK)) {
        /* the parser keeps at most a command line: more means a stuck peer */
        conn_close(c);
        return;
    }
    struct iovec iov = {c->in.data + c->in.len, READ_CHUNK};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (c->unix_sock) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
    }
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        conn_close(c);
        return;
    }
    struct fd_chunk ch = {c->in_base + c->in.len, c->in_base + c->in.len + (uint64_t)n, {0}, 0};
    for (struct cmsghdr *cm = msg.msg_controllen ? CMSG_FIRSTHDR(&msg) : NULL; cm;
         cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[MAX_FDS_PER_READ];
        memcpy(fds, CMSG_DATA(cm), (k < MAX_FDS_PER_READ ? k : MAX_FDS_PER_READ) * sizeof(int));
        for (size_t i = 0; i < k && i < MAX_FDS_PER_READ; i++) {
            if (ch.n < MAX_FDS_PER_READ && n > 0)
                ch.fds[ch.n++] = fds[i];
            else
                close(fds[i]);
        }
    }
    if (ch.n) {
        if (c->n_chunks < MAX_FD_CHUNKS) {
            c->chunks[c->n_chunks++] = ch;
        } else {
            for (unsigned i = 0; i < ch.n; i++)
                close(ch.fds[i]);
        }
    }
    if (!c->unix_sock && n > 0)
        ward_tcp_quickack(fd); /* a client streaming with Nagle on waits for our ACK */
    c->last_io = time(NULL);
    bool first = c->in_base == 0 && c->in.len == 0;
    if (n == 0) {
        c->eof = true;
        if (c->ev_read)
            event_del(c->ev_read);
    } else {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = 0;
    }
    (void)first;
    process_input(c);
    if (c->closed)
        return;
    if (c->eof) {
        /* Nothing more can come: an unfinished command is dropped without a reply;
           what is running or owed is still sent, then the connection ends. */
        if (c->state != ST_DONE) {
            if (c->stream) {
                job_free(c->stream);
                c->stream = NULL;
            }
            if (c->mail) {
                job_free(c->mail);
                c->mail = NULL;
            }
            c->ending = true;
            c->state = ST_DONE;
        }
    }
    update_events(c);
}

/* ---- writing ------------------------------------------------------------ */

static void write_some(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    while (c->out_off < c->out.len) {
        ssize_t n;
        if (c->out_fd >= 0) {
            /* the changed message of a MAILSCAN rides on the reply's first byte */
            n = ward_send_with_fd(fd, c->out.data + c->out_off, c->out.len - c->out_off,
                                  c->out_fd, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                close(c->out_fd);
                c->out_fd = -1;
            }
        } else {
            n = send(fd, c->out.data + c->out_off, c->out.len - c->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
        c->last_io = time(NULL);
    }
    if (c->out_off == c->out.len) {
        ward_buf_reset(&c->out);
        c->out_off = 0;
        if (c->state == ST_MAIL_BUSY && c->pending == 0 && c->out_fd < 0) {
            /* the kept MAILSCAN's reply is out: the connection waits for the next,
               as idle as a new one */
            c->state = ST_CMD;
            c->got_command = false;
            update_events(c);
            process_input(c);
            return;
        }
    }
    update_events(c);
}

/* Decide which events the connection waits for, and whether it is done. */
static void update_events(struct conn *c)
{
    if (c->closed)
        return;
    bool owed = c->out_off < c->out.len;
    if (!owed && c->pending == 0 && c->state == ST_DONE && !c->stream) {
        conn_close(c);
        return;
    }
    if (owed)
        event_add(c->ev_write, NULL);
    else
        event_del(c->ev_write);
    /* keep reading after the last command too: garbage is reported, EOF noticed */
    bool want_read = !c->eof && !c->reading_paused && !c->ending && c->state != ST_MAIL_BUSY;
    if (want_read)
        event_add(c->ev_read, NULL);
    else
        event_del(c->ev_read);
}

/* Once a second: drop clients that stalled past their timeout. */
void conn_sweep(void)
{
    time_t now = time(NULL);
    for (struct conn *c = L.all, *next; c; c = next) {
        next = c->next;
        if (c->pending || c->out_off < c->out.len || c->state == ST_DONE)
            continue; /* working for it, or waiting for it to read */
        /* before the first command: idle_timeout; after one: read_timeout */
        unsigned limit = c->got_command ? L.cfg->read_timeout : L.cfg->idle_timeout;
        if (limit && now - c->last_io >= (time_t)limit) {
            ward_log(WARD_LOG_INFO, "closing a connection silent for %u s", limit);
            reply_unit(c, 0, "COMMAND READ TIMED OUT", 22, '\n');
            c->ending = true;
            c->state = ST_DONE;
            if (c->stream) {
                job_free(c->stream);
                c->stream = NULL;
            }
            update_events(c);
        }
    }
}

/* Stop reading new commands everywhere (shutdown); running jobs finish. */
void conn_drain_all(void)
{
    for (struct conn *c = L.all, *next; c; c = next) {
        next = c->next;
        if (c->pending == 0 && c->out_off == c->out.len) {
            conn_close(c);
        } else {
            c->ending = true;
            c->state = ST_DONE;
            update_events(c);
        }
    }
}

bool conn_busy(void)
{
    return L.all != NULL || L.waiting_head != NULL;
}

/*
 * The event callbacks: the handlers below them may close the connection at
 * any depth; the struct is freed only once they have all returned.
 */
static void guarded(void (*fn)(evutil_socket_t, short, void *), evutil_socket_t fd, short what,
                    struct conn *c)
{
    c->busy++;
    fn(fd, what, c);
    c->busy--;
    if (c->closed && c->pending == 0 && c->busy == 0)
        conn_free(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    guarded(read_some, fd, what, arg);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    guarded(write_some, fd, what, arg);
}

void conn_accept(int fd, bool unix_sock)
{
    if (L.count >= L.cfg->max_connections) {
        ward_log(WARD_LOG_WARNING, "too many connections (%u): refusing one", L.count);
        close(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->mail_fd = c->out_fd = -1;
    c->unix_sock = unix_sock;
    if (!unix_sock)
        ward_tcp_nodelay(fd); /* replies are written whole (util/tcp.h) */
    c->framing = WARD_CLAMD_N;
    c->last_io = time(NULL);
    ward_buf_init(&c->in, MAX_LINE + 2 * READ_CHUNK);
    ward_buf_init(&c->out, 1u << 30);
    c->ev_read = event_new(L.base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->ev_write = event_new(L.base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->ev_read || !c->ev_write) {
        if (c->ev_read)
            event_free(c->ev_read);
        if (c->ev_write)
            event_free(c->ev_write);
        close(fd);
        free(c);
        return;
    }
    c->next = L.all;
    if (L.all)
        L.all->prev = c;
    L.all = c;
    L.count++;
    __atomic_add_fetch(&wardd_stats.connections, 1, __ATOMIC_RELAXED);
    event_add(c->ev_read, NULL);
}

void conn_finish_job(struct job *j)
{
    finish_job(j);
}
