/*
 * smtpd.h - ward-smtpd, Ward's SMTP/LMTP proxy and Postfix content filter.
 *
 * One event loop (libevent) runs every session. A session is two
 * connections: the client (an MTA handing us mail) and the next hop (the
 * MTA or LMTP server we hand it to). Envelope commands are passed through
 * in lock step, so the client sees the next hop's own replies to MAIL and
 * RCPT; the message is spooled to an unlinked file, scanned by wardd in a
 * worker thread (scan.c), and only then sent on. The client gets its final
 * reply after the next hop gave its own: no early acknowledgement, and
 * every failure of the next hop or of wardd is a 4xx.
 *
 * Files: config.c ([smtp] options), acl.c (allowed_clients), listen.c
 * (accepting, connection limits), session.c (the client-side state
 * machine), nexthop.c (the next-hop connection and its replies),
 * spool.c (DATA into the spool file), forward.c (the message to the next
 * hop), scan.c (wardd), tls.c (STARTTLS).
 */
#ifndef WARD_SMTPD_H
#define WARD_SMTPD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proto/smtp.h"
#include "util/buf.h"

/* ---- configuration ------------------------------------------------------- */

enum smtpd_hop_kind { HOP_SMTP, HOP_LMTP, HOP_LMTP_CMD };

#define SMTPD_MAX_NETS 64

struct smtpd_net {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned bits;
};

struct smtpd_cfg {
    char config_path[PATH_MAX];
    char listen_addr[64];
    unsigned listen_port;
    bool listen_lmtp;
    enum smtpd_hop_kind hop;
    char hop_host[256];
    unsigned hop_port;
    char hop_cmd[1024];
    struct smtpd_net nets[SMTPD_MAX_NETS];
    size_t n_nets;
    unsigned max_connections, max_per_client, max_recipients;
    uint64_t max_message_size;
    unsigned client_timeout, server_timeout; /* seconds */
    uint64_t min_data_rate;                  /* bytes per second inside DATA, 0: none */
    unsigned scan_timeout_ms;
    char hostname[256];
    char tls_cert[PATH_MAX], tls_key[PATH_MAX];
    bool scan;
    char wardd[PATH_MAX]; /* socket path or HOST:PORT */
    unsigned scan_threads;
    bool hop_chunking; /* BDAT to a next hop that offers CHUNKING */
    char tmp_dir[PATH_MAX];
    char pid_file[PATH_MAX];
    char user[64];
    int log_level;
    char log_file[PATH_MAX];
    bool syslog;
};

/* Read and check the configuration; problems go to report (false: do not start). */
bool smtpd_cfg_load(const char *path, struct smtpd_cfg *cfg,
                    void (*report)(void *ctx, const char *msg), void *ctx);
/* "smtp:HOST:PORT", "lmtp:HOST:PORT", "lmtp:(COMMAND)"; false with *why when bad. */
bool smtpd_parse_forward(const char *s, struct smtpd_cfg *cfg, const char **why);

/* allowed_clients: a list of ADDR[/BITS] separated by spaces or commas. */
bool smtpd_acl_parse(const char *list, struct smtpd_cfg *cfg, const char **why);
bool smtpd_acl_allows(const struct smtpd_cfg *cfg, const struct sockaddr *sa);

/* ---- the server ---------------------------------------------------------- */

struct smtpd_session;

/* The next hop's EHLO keywords, from the last EHLO it answered. */
struct smtpd_caps {
    unsigned ext;
    uint64_t size;
    bool xf[7];
    bool known;
};

struct smtpd {
    const struct smtpd_cfg *cfg;
    struct smtpd_caps caps; /* sessions greet with these and connect at MAIL */
    struct event_base *base;
    struct evconnlistener *listener;
    struct smtpd_session *sessions; /* doubly linked */
    unsigned n_sessions;
    void *tls_ctx; /* SSL_CTX, or NULL without a certificate */
    struct smtpd_scanpool *pool;
    uint64_t n_msgs, n_next;
};

bool smtpd_listen(struct smtpd *sd, struct ward_diag *diag);

/* ---- the next hop -------------------------------------------------------- */

/* EHLO keywords (ours and the next hop's). */
enum {
    EXT_PIPELINING = 1 << 0,
    EXT_SIZE = 1 << 1,
    EXT_8BITMIME = 1 << 2,
    EXT_SMTPUTF8 = 1 << 3,
    EXT_ENHANCED = 1 << 4,
    EXT_DSN = 1 << 5,
    EXT_XFORWARD = 1 << 6,
    EXT_CHUNKING = 1 << 7, /* the next hop's only: we do not take BDAT */
};

/* XFORWARD attributes, as Postfix names them. */
enum { XF_NAME, XF_ADDR, XF_PORT, XF_PROTO, XF_HELO, XF_IDENT, XF_SOURCE, XF_COUNT };
extern const char *const smtpd_xf_names[XF_COUNT];

struct smtpd_hop;
/* A complete reply: code, and all its lines with CR LF. */
typedef void (*smtpd_hop_cb)(struct smtpd_session *s, unsigned code, const char *text, size_t len);

struct smtpd_hop *smtpd_hop_open(struct smtpd_session *s, struct ward_diag *diag);
void smtpd_hop_free(struct smtpd_hop *h);
/* Replies still due from the next hop. */
unsigned smtpd_hop_due(const struct smtpd_hop *h);
/* Send a command line (without CR LF) and wait for `replies` replies, each to
   cb (NULL: ignored), after those already due. */
void smtpd_hop_command(struct smtpd_hop *h, const char *line, unsigned replies, smtpd_hop_cb cb);
/* Expect replies without sending (the greeting, LMTP's per-recipient replies). */
void smtpd_hop_expect(struct smtpd_hop *h, unsigned replies, smtpd_hop_cb cb);
struct bufferevent *smtpd_hop_bev(struct smtpd_hop *h);
/* Called when the output to the next hop fell below its low mark (NULL: off). */
void smtpd_hop_on_drain(struct smtpd_hop *h, void (*cb)(struct smtpd_session *s));
unsigned smtpd_hop_ext(const struct smtpd_hop *h);
uint64_t smtpd_hop_size(const struct smtpd_hop *h);
bool smtpd_hop_xf(const struct smtpd_hop *h, int attr);
/* Parse an EHLO reply into the hop's keywords. */
void smtpd_hop_set_ehlo(struct smtpd_hop *h, const char *text, size_t len);

/* ---- the session --------------------------------------------------------- */

enum smtpd_state {
    ST_HOP_CONNECT, /* waiting for the next hop's greeting and EHLO */
    ST_CMD,         /* reading client commands */
    ST_HOP_WAIT,    /* a command went to the next hop */
    ST_DATA,        /* receiving the message */
    ST_SCAN,        /* wardd has it */
    ST_FORWARD,     /* the next hop has it */
    ST_CLOSING,     /* flush the last reply, then close */
};

struct smtpd_rcpt {
    char *addr;
    char *params; /* RCPT parameters as passed on ("" when none) */
    char *reply;  /* the final reply for this recipient (lines with CR LF), once known */
    bool fwd;     /* goes to the next hop in this transaction */
};

struct smtpd_session {
    struct smtpd_session *prev, *next;
    struct smtpd *sd;
    struct bufferevent *bev;
    struct smtpd_hop *hop;
    enum smtpd_state state;
    char peer[64];   /* client address as text */
    char helo[256];
    bool greeted, esmtp, tls, busy_scan, dead, free_pending, skipping;
    struct event *line_timer; /* a started line must end within client_timeout */
    bool data_mid_line;       /* inside DATA: the last byte read was not LF */
    int64_t data_t0;          /* when the 354 went out (ms, monotonic) */
    unsigned errors;
    unsigned junk; /* NOOP, RSET, VRFY, HELP so far */
    /* the transaction */
    bool in_mail;
    char *sender;
    struct smtpd_rcpt *rcpts;
    size_t n_rcpts, cap_rcpts;
    /* RCPTs sent to the next hop whose replies are due, oldest first */
    struct smtpd_rcpt *pq;
    size_t pq_head, pq_len, pq_cap;
    bool mail_pending;  /* MAIL sent, its reply due */
    char *mail_params;  /* MAIL parameters as passed on (" KEY=VALUE..." or "") */
    size_t retx_next;   /* resending the envelope: the next recipient to send */
    char *xf[XF_COUNT]; /* XFORWARD values as the client sent them (xtext) */
    /* DATA */
    struct ward_smtp_data dec;
    int spool_fd;
    bool spool_in_mem; /* a memfd, until MEM_SPOOL bytes */
    bool spool_lent;   /* wardd may still read it (a scan that did not answer) */
    uint64_t msg_size, spooled;
    bool too_big, spool_failed;
    ward_buf wbuf;  /* decoded bytes waiting for one write() */
    uint8_t *dbuf;  /* decoder output, 2 * SMTPD_CHUNK + 4 */
    /* scanning and forwarding */
    struct event *scan_done;
    struct smtpd_scanjob *job;
    int fwd_fd;     /* what goes to the next hop: the spool, or wardd's changed copy */
    uint64_t fwd_off, fwd_size;
    struct ward_smtp_stuff stuff;
    bool fwd_ended;
    bool fwd_bdat;      /* the message goes as one BDAT LAST: raw, not stuffed */
    unsigned lmtp_left; /* LMTP replies still due */
    ward_buf replies;   /* per-recipient replies gathered */
    unsigned n_ok, n_temp, n_perm;
    char first_fail[WARD_SMTP_MAX_REPLY];
};

#define SMTPD_CHUNK 65536

void smtpd_session_start(struct smtpd *sd, int fd, const struct sockaddr *sa, int salen);
/* Reply to the client (text without the final CR LF). */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...) WARD_PRINTF(2, 3);
void smtpd_reply_raw(struct smtpd_session *s, const char *text, size_t len);
/* Send the reply, then close (421 and the like). */
void smtpd_close_after(struct smtpd_session *s);
void smtpd_session_free(struct smtpd_session *s);
/* Process client input in the current state (after a wait ended). */
void smtpd_session_resume(struct smtpd_session *s);
/* The next hop went away or failed: 421 to the client and close. */
void smtpd_session_hop_failed(struct smtpd_session *s, const char *why);
/* MAIL FROM with the sender and parameters to the next hop. */
void smtpd_send_mail(struct smtpd_session *s, unsigned replies, smtpd_hop_cb cb);
/* The transaction is over (after the final reply): forget it. */
void smtpd_txn_reset(struct smtpd_session *s);

/* spool.c */
bool smtpd_spool_begin(struct smtpd_session *s);
/* Consume DATA bytes from the client's input; true when the end was seen. */
bool smtpd_spool_read(struct smtpd_session *s, struct evbuffer *in);
void smtpd_spool_end(struct smtpd_session *s);

/* forward.c: the scanned message to the next hop. */
void smtpd_forward_start(struct smtpd_session *s, int fd);
/*
 * Only the recipients marked fwd get the message; the others already have
 * their reply. The next hop's transaction is made again (RSET, MAIL, RCPT)
 * when some recipients drop out.
 */
void smtpd_forward_some(struct smtpd_session *s, int fd);
void smtpd_forward_discard(struct smtpd_session *s, const char *reply);

/* scan.c */
struct smtpd_scanpool *smtpd_scanpool_new(struct smtpd *sd, unsigned threads);
void smtpd_scanpool_free(struct smtpd_scanpool *p);
/* Hand the spooled message to wardd; smtpd_scan_finish runs in the loop later. */
void smtpd_scan_start(struct smtpd_session *s);

/* tls.c */
void *smtpd_tls_ctx(const struct smtpd_cfg *cfg, struct ward_diag *diag);
void smtpd_tls_ctx_free(void *ctx);
/* Put TLS over the client's bufferevent (after "220 Ready"). */
bool smtpd_tls_start(struct smtpd_session *s);

#endif
