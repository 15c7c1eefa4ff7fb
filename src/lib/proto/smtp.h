/*
 * smtp.h - SMTP/LMTP wire syntax for Ward's SMTP proxy: command lines,
 * MAIL/RCPT paths and ESMTP parameters, reply lines, the DATA decoder
 * (end of data, dot-unstuffing) and the encoder (dot-stuffing).
 *
 * Contract: every function reads only the bytes it is given and keeps no
 * pointer past its return except into those bytes. Nothing allocates.
 *
 * Lines and limits: a command line is at most WARD_SMTP_MAX_CMD bytes with
 * its line end (RFC 5321 4.5.3.1.4 asks for 512; we allow more for long
 * XFORWARD and SMTPUTF8 addresses). A command ends at LF, with an optional
 * CR before it. NUL and other control bytes in a command make it invalid.
 *
 * SMTP smuggling: in DATA only CR LF "." CR LF ends the message, and only
 * after a real CR LF does a leading dot count as stuffing. A bare LF or a
 * bare CR inside the data is turned into CR LF (RFC 5321 2.3.8 allows them
 * only as a pair), so that the next hop, whatever its own rules, sees the
 * same lines as we did: a "." line hidden behind a bare line end becomes
 * ".." on the way out and cannot end the message there.
 */
#ifndef WARD_PROTO_SMTP_H
#define WARD_PROTO_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WARD_SMTP_MAX_CMD 2048    /* command line with CR LF */
#define WARD_SMTP_MAX_REPLY 2048  /* one reply line with CR LF */
#define WARD_SMTP_MAX_PARAMS 16   /* ESMTP parameters on MAIL or RCPT */
#define WARD_SMTP_MAX_PATH 1024   /* address inside <> (with SMTPUTF8) */

enum ward_smtp_verb {
    WARD_SMTP_UNKNOWN = 0,
    WARD_SMTP_HELO,
    WARD_SMTP_EHLO,
    WARD_SMTP_LHLO,
    WARD_SMTP_MAIL,
    WARD_SMTP_RCPT,
    WARD_SMTP_DATA,
    WARD_SMTP_BDAT,
    WARD_SMTP_RSET,
    WARD_SMTP_NOOP,
    WARD_SMTP_QUIT,
    WARD_SMTP_VRFY,
    WARD_SMTP_EXPN,
    WARD_SMTP_HELP,
    WARD_SMTP_STARTTLS,
    WARD_SMTP_XFORWARD,
    WARD_SMTP_AUTH,
    WARD_SMTP_VERB_COUNT
};

enum ward_smtp_line_result {
    WARD_SMTP_LINE_MORE = 0, /* no line end yet, and under the limit */
    WARD_SMTP_LINE_OK,       /* a line: *len bytes without its end, *used with it */
    WARD_SMTP_LINE_TOO_LONG, /* no line end within the limit */
};

/*
 * Find the next line in p[0..n): ends at LF (a CR before it is dropped).
 * TOO_LONG when max bytes hold no LF; the caller then discards up to the
 * next LF (ward_smtp_skip_line) and answers 500.
 */
enum ward_smtp_line_result ward_smtp_line(const uint8_t *p, size_t n, size_t max, size_t *len,
                                          size_t *used);
/* Bytes up to and including the next LF, or n when there is none. */
size_t ward_smtp_skip_line(const uint8_t *p, size_t n, bool *found);

struct ward_smtp_cmd {
    enum ward_smtp_verb verb;
    const char *arg; /* after the verb and one space; NULL when none */
    size_t arg_len;
    bool bad_bytes;  /* NUL, CR or another control byte in the line */
};

/* Split a command line (without its line end). Unknown verbs: WARD_SMTP_UNKNOWN. */
void ward_smtp_parse_cmd(const char *line, size_t len, struct ward_smtp_cmd *cmd);
const char *ward_smtp_verb_name(enum ward_smtp_verb v);

struct ward_smtp_param {
    const char *key; /* esmtp-keyword */
    size_t key_len;
    const char *val; /* NULL for a keyword without "=" */
    size_t val_len;
};

struct ward_smtp_path {
    const char *addr; /* inside the angle brackets; "" (len 0) for <> */
    size_t addr_len;
    const char *params; /* everything after the path, trimmed; len 0 when none */
    size_t params_len;
    struct ward_smtp_param param[WARD_SMTP_MAX_PARAMS];
    size_t n_params;
};

enum ward_smtp_path_result {
    WARD_SMTP_PATH_OK = 0,
    WARD_SMTP_PATH_SYNTAX, /* 501 */
    WARD_SMTP_PATH_PARAM,  /* 555: malformed or too many parameters */
};

/*
 * Parse the argument of MAIL ("FROM:<path> params") or RCPT ("TO:<path>
 * params"); `prefix` is "FROM:" or "TO:" (case-insensitive, spaces after the
 * colon tolerated as many clients send them). Source routes (<@a,@b:x@y>)
 * are kept as given. Quoted local parts may hold ">" and spaces.
 */
enum ward_smtp_path_result ward_smtp_parse_path(const char *arg, size_t len, const char *prefix,
                                                struct ward_smtp_path *out);
/* The parameter named key (case-insensitive), or NULL. */
const struct ward_smtp_param *ward_smtp_param_get(const struct ward_smtp_path *p, const char *key);

/*
 * A reply line "DDD-text" or "DDD text" (or "DDD" alone). *code gets the
 * number, *last whether this is the last line of the reply. False for
 * anything else (a bad next hop: the caller answers 4xx).
 */
bool ward_smtp_parse_reply(const char *line, size_t len, unsigned *code, bool *last);

/* ---- DATA ---------------------------------------------------------------- */

struct ward_smtp_data {
    int state;
    uint64_t bare;   /* bare CR or LF turned into CR LF */
    uint64_t out;    /* bytes of message produced */
};

void ward_smtp_data_init(struct ward_smtp_data *d);
/*
 * Decode n bytes of DATA: writes the message (unstuffed, line ends made CR
 * LF) to out, which must hold 2 * n + 4 bytes, and returns how many input bytes
 * were used. *done turns true when the end "CR LF . CR LF" was consumed; the
 * bytes after it (pipelined commands) are left unused.
 */
size_t ward_smtp_data_feed(struct ward_smtp_data *d, const uint8_t *in, size_t n, uint8_t *out,
                           size_t *out_len, bool *done);

struct ward_smtp_stuff {
    int state;
};

void ward_smtp_stuff_init(struct ward_smtp_stuff *s);
/*
 * Encode message bytes for DATA: dot-stuffing, bare CR or LF made CR LF.
 * out must hold 2 * n + 2 bytes; returns the bytes written.
 */
size_t ward_smtp_stuff_feed(struct ward_smtp_stuff *s, const uint8_t *in, size_t n, uint8_t *out);
/*
 * The end of the data: a CR LF if the message did not end with one, then
 * ".\r\n". out must hold 6 bytes; returns the bytes written.
 */
size_t ward_smtp_stuff_end(struct ward_smtp_stuff *s, uint8_t *out);

#endif
