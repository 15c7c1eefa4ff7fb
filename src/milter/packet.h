/*
 * packet.h - the Sendmail milter protocol's packets (version 2 to 6), as
 * Ward reads and writes them: a 4-byte big-endian length that counts the
 * command byte, the command byte, then the payload.
 *
 * The codec is pure: decoders look only inside the bytes they are given,
 * return WARD_ERR_PARSE for anything malformed, and hand out pointers into
 * the packet (valid as long as the packet's bytes are). Encoders append to a
 * capped ward_buf. Constants are the protocol's (libmilter's mfdef.h and
 * mfapi.h); Ward does not include libmilter's headers.
 */
#ifndef WARD_MILTER_PACKET_H
#define WARD_MILTER_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define MILTER_VERSION 6u     /* the newest protocol version Ward speaks */
#define MILTER_MIN_VERSION 2u /* the oldest an MTA may offer */
#define MILTER_CHUNK 65535u   /* largest body chunk MTAs send and we send */
/* Largest packet length accepted (command byte included): MTAs send body
   chunks of at most 64 KiB unless a bigger size is negotiated (we never do). */
#define MILTER_MAX_LEN ((1u << 20) + 1u)

/* MTA commands. */
enum {
    MILTER_C_ABORT = 'A', MILTER_C_BODY = 'B', MILTER_C_CONNECT = 'C', MILTER_C_MACRO = 'D',
    MILTER_C_EOM = 'E', MILTER_C_HELO = 'H', MILTER_C_QUIT_NC = 'K', MILTER_C_HEADER = 'L',
    MILTER_C_MAIL = 'M', MILTER_C_EOH = 'N', MILTER_C_OPTNEG = 'O', MILTER_C_QUIT = 'Q',
    MILTER_C_RCPT = 'R', MILTER_C_DATA = 'T', MILTER_C_UNKNOWN = 'U',
};

/* Filter replies and modifications. */
enum {
    MILTER_R_DELRCPT = '-', MILTER_R_ACCEPT = 'a', MILTER_R_REPLBODY = 'b',
    MILTER_R_CONTINUE = 'c', MILTER_R_DISCARD = 'd', MILTER_R_ADDHEADER = 'h',
    MILTER_R_INSHEADER = 'i', MILTER_R_CHGHEADER = 'm', MILTER_R_OPTNEG = 'O',
    MILTER_R_PROGRESS = 'p', MILTER_R_QUARANTINE = 'q', MILTER_R_REJECT = 'r',
    MILTER_R_TEMPFAIL = 't', MILTER_R_REPLYCODE = 'y',
};

/* Actions the filter may take (SMFIF_*). */
#define MILTER_F_ADDHDRS 0x001u
#define MILTER_F_CHGBODY 0x002u
#define MILTER_F_ADDRCPT 0x004u
#define MILTER_F_DELRCPT 0x008u
#define MILTER_F_CHGHDRS 0x010u
#define MILTER_F_QUARANTINE 0x020u
#define MILTER_F_CHGFROM 0x040u
#define MILTER_F_ADDRCPT_PAR 0x080u
#define MILTER_F_SETSYMLIST 0x100u

/* Protocol flags (SMFIP_*): steps not sent, steps not answered. */
#define MILTER_P_NOCONNECT 0x00000001u
#define MILTER_P_NOHELO 0x00000002u
#define MILTER_P_NOMAIL 0x00000004u
#define MILTER_P_NORCPT 0x00000008u
#define MILTER_P_NOBODY 0x00000010u
#define MILTER_P_NOHDRS 0x00000020u
#define MILTER_P_NOEOH 0x00000040u
#define MILTER_P_NR_HDR 0x00000080u
#define MILTER_P_NOUNKNOWN 0x00000100u
#define MILTER_P_NODATA 0x00000200u
#define MILTER_P_SKIP 0x00000400u
#define MILTER_P_RCPT_REJ 0x00000800u
#define MILTER_P_NR_CONN 0x00001000u
#define MILTER_P_NR_HELO 0x00002000u
#define MILTER_P_NR_MAIL 0x00004000u
#define MILTER_P_NR_RCPT 0x00008000u
#define MILTER_P_NR_DATA 0x00010000u
#define MILTER_P_NR_UNKN 0x00020000u
#define MILTER_P_NR_EOH 0x00040000u
#define MILTER_P_NR_BODY 0x00080000u
#define MILTER_P_HDR_LEADSPC 0x00100000u

/* Macro stages of the optneg macro list (SMFIM_*). */
enum milter_stage {
    MILTER_M_CONNECT = 0, MILTER_M_HELO = 1, MILTER_M_ENVFROM = 2, MILTER_M_ENVRCPT = 3,
    MILTER_M_DATA = 4, MILTER_M_EOM = 5, MILTER_M_EOH = 6,
};

/* One packet: the command and its payload (not NUL-terminated). */
struct milter_pkt {
    char cmd;
    const uint8_t *data;
    size_t len;
};

/*
 * Frame the first packet of buf[0, n): 1 and *out, *used (bytes taken) when
 * complete; 0 when more bytes are needed (*need: how many in all, once the
 * length is known, else 5); WARD_ERR_PARSE-style -1 when the length is 0 or
 * above MILTER_MAX_LEN.
 */
int milter_frame(const uint8_t *buf, size_t n, struct milter_pkt *out, size_t *used,
                 size_t *need);

struct milter_optneg {
    uint32_t version, actions, proto;
};
ward_err milter_dec_optneg(const struct milter_pkt *p, struct milter_optneg *out) WARD_MUST_CHECK;

struct milter_connect {
    const char *host;
    char family;      /* '4', '6', 'L' (unix), 'U' (unknown: no port, no address) */
    uint16_t port;
    const char *addr; /* "" for 'U' */
};
ward_err milter_dec_connect(const struct milter_pkt *p, struct milter_connect *out) WARD_MUST_CHECK;

/*
 * The payload as NUL-terminated strings (H, M, R, L, U, and D after its stage
 * byte): at most `cap` pointers stored, *n the number stored; *more tells
 * that some were left out. Fails unless the payload ends with NUL.
 */
ward_err milter_dec_strings(const uint8_t *p, size_t len, const char **v, size_t cap, size_t *n,
                            size_t *more) WARD_MUST_CHECK;
/* 'L': exactly a name and a value. */
ward_err milter_dec_header(const struct milter_pkt *p, const char **name,
                           const char **value) WARD_MUST_CHECK;
/* 'D': the stage command (e.g. 'M') and its name/value pairs (raw, see milter_macro_find). */
ward_err milter_dec_macros(const struct milter_pkt *p, char *stage, const uint8_t **pairs,
                           size_t *len) WARD_MUST_CHECK;
/* The value of macro `name` in a pair list ("i" also finds "{i}"), or NULL. */
const char *milter_macro_find(const uint8_t *pairs, size_t len, const char *name);

/* Encoders: append one packet to out (WARD_ERR_LIMIT when out's cap is reached). */
ward_err milter_enc(ward_buf *out, char cmd, const void *p, size_t n) WARD_MUST_CHECK;
/* cmd with one string (y replycode, - delrcpt, q quarantine). */
ward_err milter_enc_str(ward_buf *out, char cmd, const char *s) WARD_MUST_CHECK;
struct milter_symlist {
    uint32_t stage;
    const char *names; /* space-separated; "" for none */
};
ward_err milter_enc_optneg(ward_buf *out, const struct milter_optneg *o,
                           const struct milter_symlist *l, size_t n) WARD_MUST_CHECK;
/* h addheader (index ignored), i insheader, m chgheader (value NULL: delete). */
ward_err milter_enc_header(ward_buf *out, char cmd, uint32_t index, const char *name,
                           const char *value) WARD_MUST_CHECK;

#endif
