/*
 * conn.c - one client connection of wardd: reading commands (three
 * framings), sessions, INSTREAM chunks, descriptors passed with FILDES, and
 * writing replies. Runs in the event loop thread only.
 *
 * Life of a connection outside a session: one command, its reply, then the
 * connection is closed. Inside IDSESSION: commands are read as they come,
 * each runs at once (several may run in parallel), and each reply line is
 * prefixed "N: " with the request's number, in the order replies finish.
 */
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "ward_config.h"
#include "wardd.h"

#define MAX_LINE 4096       /* a command with its path */
#define READ_CHUNK 65536
#define MAX_FDS 16          /* descriptors received and not yet used */

enum conn_state { ST_CMD, ST_STREAM_LEN, ST_STREAM_DATA, ST_DONE };

struct conn {
    int fd;
    bool unix_sock;
    struct event *ev_read, *ev_write;
    ward_buf in, out;
    size_t out_off;
    int fds[MAX_FDS];
    unsigned n_fds;
    enum conn_state state;
    bool session, ending, eof, closed, reading_paused;
    enum ward_clamd_framing framing;
    unsigned next_id;
    unsigned pending;          /* jobs in flight */
    struct job *stream;        /* INSTREAM being received */
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

char conn_delim(const struct conn *c)
{
    return ward_clamd_delim(c->framing);
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

static void conn_free(struct conn *c)
{
    for (unsigned i = 0; i < c->n_fds; i++)
        close(c->fds[i]);
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
    if (c->prev)
        c->prev->next = c->next;
    else
        L.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    L.count--;
    if (c->pending == 0)
        conn_free(c);
}

/* ---- replies ----------------------------------------------------------- */

/* Queue reply text (lines ended by the delimiter), prefixing "N: " in a session. */
static void reply(struct conn *c, unsigned id, const char *text, size_t len)
{
    if (c->closed)
        return;
    char delim = conn_delim(c);
    if (!id) {
        (void)!ward_buf_append(&c->out, text, len);
    } else {
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (text[i] != delim)
                continue;
            (void)!ward_buf_printf(&c->out, "%u: ", id);
            (void)!ward_buf_append(&c->out, text + start, i + 1 - start);
            start = i + 1;
        }
    }
    update_events(c);
}

static void replyf(struct conn *c, unsigned id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void replyf(struct conn *c, unsigned id, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = conn_delim(c);
    reply(c, id, buf, (size_t)n);
}

/* A job finished in a worker: send its reply (loop thread). */
static void finish_job(struct job *j)
{
    struct conn *c = j->conn;
    c->pending--;
    if (!c->closed)
        reply(c, j->id, (const char *)j->reply.data, j->reply.len);
    job_free(j);
    if (c->closed && c->pending == 0)
        conn_free(c);
    else if (!c->closed)
        update_events(c);
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
                           unsigned id)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->cmd = cmd;
    j->conn = c;
    j->id = id;
    j->fd = -1;
    ward_buf_init(&j->reply, 1 << 24);
    ward_tmpspool_init(&j->stream, L.cfg->stream_max_length, 16u << 20, L.cfg->tmp_dir);
    return j;
}

/* ---- commands ----------------------------------------------------------- */

static void stats_reply(struct conn *c, unsigned id)
{
    unsigned live, idle, max, queued;
    pool_stats(&live, &idle, &max, &queued);
    struct ward_vcache_stats vs = {0};
    if (wardd_cache())
        ward_vcache_get_stats(wardd_cache(), &vs);
    char text[2048];
    char d = conn_delim(c);
    int n = snprintf(text, sizeof text,
                     "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live %u  idle %u max %u "
                     "idle-timeout %u\nQUEUE: %u items\n\tSTATS 0.000000 \n\n"
                     "CACHE: entries %zu capacity %zu hits %llu misses %llu hit-rate %.1f%%\n"
                     "SCANS: %llu infected %llu errors %llu connections %llu\n"
                     "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 "
                     "pools_used N/A pools_total N/A\nEND%c",
                     live, idle, max, L.cfg->idle_timeout, queued, vs.entries, vs.capacity,
                     (unsigned long long)vs.hits, (unsigned long long)vs.misses,
                     vs.hits + vs.misses ? 100.0 * (double)vs.hits / (double)(vs.hits + vs.misses)
                                         : 0.0,
                     (unsigned long long)wardd_stats.scans,
                     (unsigned long long)wardd_stats.infected,
                     (unsigned long long)wardd_stats.errors,
                     (unsigned long long)wardd_stats.connections, d);
    if (n > 0)
        reply(c, id, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void version_text(char *out, size_t cap)
{
    char db[128];
    wardd_db_version(db, sizeof db);
    snprintf(out, cap, "Ward %s/%s", WARD_VERSION, db);
}

/* After a command outside a session the connection ends with its reply. */
static void one_shot(struct conn *c)
{
    if (!c->session)
        c->state = ST_DONE;
}

static void do_command(struct conn *c, const struct ward_clamd_cmd *cmd)
{
    __atomic_add_fetch(&wardd_stats.commands, 1, __ATOMIC_RELAXED);
    if (!c->session)
        c->framing = cmd->framing;
    unsigned id = c->session ? ++c->next_id : 0;
    char text[512];
    switch (cmd->kind) {
    case WARD_CLAMD_PING:
        replyf(c, id, "PONG");
        break;
    case WARD_CLAMD_VERSION:
        version_text(text, sizeof text);
        replyf(c, id, "%s", text);
        break;
    case WARD_CLAMD_VERSIONCOMMANDS:
        version_text(text, sizeof text);
        replyf(c, id, "%s| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION "
                      "END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR "
                      "DETSTATS ALLMATCHSCAN",
               text);
        break;
    case WARD_CLAMD_STATS:
        stats_reply(c, id);
        break;
    case WARD_CLAMD_RELOAD:
        wardd_db_request_reload("RELOAD command");
        replyf(c, id, "RELOADING");
        break;
    case WARD_CLAMD_SHUTDOWN:
        ward_log(WARD_LOG_NOTICE, "SHUTDOWN command received");
        loop_request_stop();
        break;
    case WARD_CLAMD_IDSESSION:
        if (c->session) {
            replyf(c, id, "Command invalid inside IDSESSION. ERROR");
            break;
        }
        c->session = true;
        c->framing = cmd->framing;
        return;
    case WARD_CLAMD_END:
        if (c->session)
            c->ending = true;
        c->state = ST_DONE;
        return;
    case WARD_CLAMD_SCAN:
    case WARD_CLAMD_CONTSCAN:
    case WARD_CLAMD_MULTISCAN:
    case WARD_CLAMD_ALLMATCHSCAN: {
        struct job *j = new_job(c, JOB_PATH, cmd->kind, id);
        if (!j || !(j->path = strndup(cmd->arg ? cmd->arg : "", cmd->arg_len))) {
            job_free(j);
            replyf(c, id, "Can't allocate memory ERROR");
            break;
        }
        submit(c, j);
        break;
    }
    case WARD_CLAMD_INSTREAM: {
        struct job *j = new_job(c, JOB_STREAM, cmd->kind, id);
        if (!j) {
            replyf(c, id, "Can't allocate memory ERROR");
            break;
        }
        c->stream = j;
        c->state = ST_STREAM_LEN;
        c->len_have = 0;
        return; /* the command continues with its chunks */
    }
    case WARD_CLAMD_FILDES: {
        if (!c->unix_sock || c->n_fds == 0) {
            replyf(c, id, "No file descriptor received. ERROR");
            break;
        }
        struct job *j = new_job(c, JOB_FD, cmd->kind, id);
        if (!j) {
            replyf(c, id, "Can't allocate memory ERROR");
            break;
        }
        j->fd = c->fds[0];
        memmove(c->fds, c->fds + 1, (c->n_fds - 1) * sizeof *c->fds);
        c->n_fds--;
        submit(c, j);
        break;
    }
    case WARD_CLAMD_DETSTATSCLEAR:
    case WARD_CLAMD_DETSTATS:
    case WARD_CLAMD_UNKNOWN:
    default:
        replyf(c, id, "UNKNOWN COMMAND");
        break;
    }
    one_shot(c);
}

/* ---- reading ------------------------------------------------------------ */

static void stream_chunk_len(struct conn *c)
{
    uint32_t len = (uint32_t)c->len_buf[0] << 24 | (uint32_t)c->len_buf[1] << 16 |
                   (uint32_t)c->len_buf[2] << 8 | c->len_buf[3];
    c->len_have = 0;
    struct job *j = c->stream;
    if (len == 0) {
        c->stream = NULL;
        c->state = ST_CMD;
        submit(c, j);
        one_shot(c);
        return;
    }
    if ((uint64_t)len > j->stream.cap - j->stream.size) {
        /* clamd's reply, then the connection ends: the rest is not read. */
        unsigned id = j->id;
        job_free(j);
        c->stream = NULL;
        replyf(c, id, "INSTREAM size limit exceeded. ERROR");
        ward_log(WARD_LOG_INFO, "INSTREAM: size limit exceeded");
        c->session = false;
        c->state = ST_DONE;
        return;
    }
    c->chunk_left = len;
    c->state = ST_STREAM_DATA;
}

static void process_input(struct conn *c)
{
    while (!c->closed && !c->reading_paused) {
        ward_buf *in = &c->in;
        if (c->state == ST_DONE) {
            ward_buf_reset(in);
            return;
        }
        if (c->state == ST_STREAM_LEN) {
            if (in->len == 0)
                return;
            size_t take = 4 - c->len_have < in->len ? 4 - c->len_have : in->len;
            memcpy(c->len_buf + c->len_have, in->data, take);
            c->len_have += (unsigned)take;
            memmove(in->data, in->data + take, in->len - take);
            in->len -= take;
            if (c->len_have == 4)
                stream_chunk_len(c);
            continue;
        }
        if (c->state == ST_STREAM_DATA) {
            if (in->len == 0)
                return;
            size_t take = c->chunk_left < in->len ? c->chunk_left : in->len;
            if (ward_tmpspool_write(&c->stream->stream, in->data, take)) {
                unsigned id = c->stream->id;
                job_free(c->stream);
                c->stream = NULL;
                replyf(c, id, "Can't write to temporary file ERROR");
                c->state = ST_DONE;
                return;
            }
            memmove(in->data, in->data + take, in->len - take);
            in->len -= take;
            c->chunk_left -= (uint32_t)take;
            if (c->chunk_left == 0)
                c->state = ST_STREAM_LEN;
            continue;
        }
        /* ST_CMD */
        struct ward_clamd_cmd cmd;
        size_t used = 0;
        enum ward_clamd_parse_result r =
            ward_clamd_parse(in->data ? in->data : (const uint8_t *)"", in->len, MAX_LINE,
                             &cmd, &used);
        if (r == WARD_CLAMD_NEED_MORE && c->eof && in->len && !c->session) {
            /* "CMD" then a closed write side: clamd takes it as the command. */
            if (ward_buf_putc(in, cmd.framing == WARD_CLAMD_Z ? '\0' : '\n'))
                return;
            continue;
        }
        if (r == WARD_CLAMD_NEED_MORE)
            return;
        if (r == WARD_CLAMD_TOO_LONG) {
            replyf(c, 0, "COMMAND READ TIMED OUT");
            c->state = ST_DONE;
            return;
        }
        if (c->session && (cmd.kind == WARD_CLAMD_IDSESSION || cmd.kind == WARD_CLAMD_SHUTDOWN ||
                           cmd.kind == WARD_CLAMD_RELOAD)) {
            unsigned id = ++c->next_id;
            replyf(c, id, "Command invalid inside IDSESSION. ERROR");
            memmove(in->data, in->data + used, in->len - used);
            in->len -= used;
            continue;
        }
        /* Copy out what the command refers to before the buffer moves. */
        char arg[MAX_LINE + 1];
        size_t arg_len = cmd.arg_len < MAX_LINE ? cmd.arg_len : MAX_LINE;
        if (cmd.arg)
            memcpy(arg, cmd.arg, arg_len);
        arg[arg_len] = 0;
        struct ward_clamd_cmd local = cmd;
        local.arg = cmd.arg ? arg : NULL;
        local.arg_len = arg_len;
        memmove(in->data, in->data + used, in->len - used);
        in->len -= used;
        do_command(c, &local);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (c->in.len >= MAX_LINE + READ_CHUNK) {
        /* the parser keeps at most a line; more unparsed bytes mean a stuck peer */
        process_input(c);
        if (c->in.len >= MAX_LINE + READ_CHUNK)
            return;
    }
    if (ward_buf_reserve(&c->in, READ_CHUNK)) {
        conn_close(c);
        return;
    }
    struct iovec iov = {c->in.data + c->in.len, READ_CHUNK};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
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
    for (struct cmsghdr *cm = msg.msg_controllen ? CMSG_FIRSTHDR(&msg) : NULL; cm;
         cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(cm);
        for (size_t i = 0; i < k; i++) {
            if (c->n_fds < MAX_FDS)
                c->fds[c->n_fds++] = fds[i];
            else
                close(fds[i]);
        }
    }
    c->last_io = time(NULL);
    if (n == 0) {
        c->eof = true;
        event_del(c->ev_read);
    } else {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = 0;
    }
    process_input(c);
    if (c->closed)
        return;
    if (c->eof && c->pending == 0 && c->out.len == c->out_off &&
        (c->state != ST_CMD || c->session || c->in.len == 0)) {
        /* nothing more can come and nothing is owed */
        if (c->state == ST_STREAM_DATA || c->state == ST_STREAM_LEN || c->in.len == 0 ||
            c->session)
            conn_close(c);
    }
}

/* ---- writing ------------------------------------------------------------ */

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    while (c->out_off < c->out.len) {
        ssize_t n = send(fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
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
    }
    update_events(c);
}

/* Decide which events the connection waits for, and whether it is done. */
static void update_events(struct conn *c)
{
    if (c->closed)
        return;
    bool owed = c->out_off < c->out.len;
    if (!owed && c->pending == 0 && (c->state == ST_DONE || c->ending) && !c->stream) {
        conn_close(c);
        return;
    }
    if (owed)
        event_add(c->ev_write, NULL);
    else
        event_del(c->ev_write);
    bool want_read = !c->eof && !c->reading_paused && c->state != ST_DONE && !c->ending;
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
        if (c->pending || c->out_off < c->out.len)
            continue; /* working for it, or waiting for it to read */
        bool idle_in_session = c->session && c->state == ST_CMD && c->in.len == 0;
        unsigned limit = idle_in_session ? L.cfg->idle_timeout : L.cfg->read_timeout;
        if (limit && now - c->last_io >= (time_t)limit) {
            ward_log(WARD_LOG_INFO, "closing a connection idle for %u s", limit);
            if (!idle_in_session && c->state == ST_CMD)
                replyf(c, 0, "COMMAND READ TIMED OUT");
            conn_close(c);
        }
    }
}

/* Stop reading new commands everywhere (shutdown); running jobs finish. */
void conn_drain_all(void)
{
    for (struct conn *c = L.all, *next; c; c = next) {
        next = c->next;
        if (c->pending == 0 && c->out_off == c->out.len)
            conn_close(c);
        else {
            c->state = ST_DONE;
            update_events(c);
        }
    }
}

bool conn_busy(void)
{
    return L.all != NULL || L.waiting_head != NULL;
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
    c->unix_sock = unix_sock;
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
