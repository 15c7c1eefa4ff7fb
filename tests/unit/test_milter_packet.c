/*
 * test_milter_packet.c - ward-milter's milter packet codec (src/milter/packet.c):
 * every reply encoder's bytes as the protocol has them, decoding of every
 * MTA command, and refusal of truncated, unterminated and oversize packets.
 */
#include <stdint.h>

#include "check.h"
#include "packet.h"

static ward_buf out;

/* Frame out's first packet; its command and payload. */
static struct milter_pkt framed(void)
{
    struct milter_pkt p = {0};
    size_t used = 0, need = 0;
    CHECK(milter_frame(out.data, out.len, &p, &used, &need) == 1);
    CHECK(used == out.len);
    return p;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_simple_replies(void)
{
    const char cmds[] = {MILTER_R_CONTINUE, MILTER_R_ACCEPT, MILTER_R_REJECT, MILTER_R_TEMPFAIL,
                         MILTER_R_DISCARD, MILTER_R_PROGRESS};
    for (size_t i = 0; i < sizeof cmds; i++) {
        ward_buf_reset(&out);
        CHECK(milter_enc(&out, cmds[i], NULL, 0) == WARD_OK);
        CHECK(out.len == 5 && memcmp(out.data, "\0\0\0\1", 4) == 0 && out.data[4] == cmds[i]);
        struct milter_pkt p = framed();
        CHECK(p.cmd == cmds[i] && p.len == 0);
    }
}

static void test_string_replies(void)
{
    const char cmds[] = {MILTER_R_REPLYCODE, MILTER_R_DELRCPT, MILTER_R_QUARANTINE};
    const char *text[] = {"550 5.7.1 Virus found", "<bob@example.com>", "Ward: infected"};
    for (size_t i = 0; i < sizeof cmds; i++) {
        ward_buf_reset(&out);
        CHECK(milter_enc_str(&out, cmds[i], text[i]) == WARD_OK);
        CHECK(be32(out.data) == strlen(text[i]) + 2);
        struct milter_pkt p = framed();
        CHECK(p.cmd == cmds[i] && p.len == strlen(text[i]) + 1);
        CHECK_STR((const char *)p.data, text[i]);
    }
}

static void test_header_replies(void)
{
    ward_buf_reset(&out);
    CHECK(milter_enc_header(&out, MILTER_R_INSHEADER, 3, "X-Ward", " clean") == WARD_OK);
    struct milter_pkt p = framed();
    CHECK(p.cmd == 'i' && p.len == 4 + 7 + 7 && be32(p.data) == 3);
    CHECK(memcmp(p.data + 4, "X-Ward\0 clean\0", 14) == 0);

    ward_buf_reset(&out);
    CHECK(milter_enc_header(&out, MILTER_R_CHGHEADER, 1, "Subject", NULL) == WARD_OK);
    p = framed();
    CHECK(p.cmd == 'm' && p.len == 4 + 8 + 1 && be32(p.data) == 1 && p.data[12] == 0);

    ward_buf_reset(&out);
    CHECK(milter_enc_header(&out, MILTER_R_ADDHEADER, 0, "X-A", "v") == WARD_OK);
    p = framed();
    const char *n = NULL, *v = NULL;
    CHECK(p.cmd == 'h' && milter_dec_header(&p, &n, &v) == WARD_OK);
    CHECK_STR(n, "X-A");
    CHECK_STR(v, "v");
}

static void test_body_and_optneg_replies(void)
{
    static uint8_t big[MILTER_CHUNK];
    memset(big, 'x', sizeof big);
    ward_buf_reset(&out);
    CHECK(milter_enc(&out, MILTER_R_REPLBODY, big, sizeof big) == WARD_OK);
    struct milter_pkt p = framed();
    CHECK(p.cmd == 'b' && p.len == sizeof big && p.data[0] == 'x');

    ward_buf_reset(&out);
    struct milter_optneg o = {6, 0x13b, 0x1ff080}, back;
    struct milter_symlist l[] = {{MILTER_M_EOM, "i"}, {MILTER_M_CONNECT, ""}};
    CHECK(milter_enc_optneg(&out, &o, l, 2) == WARD_OK);
    p = framed();
    CHECK(p.cmd == 'O' && p.len == 12 + 4 + 2 + 4 + 1);
    CHECK(milter_dec_optneg(&p, &back) == WARD_OK && memcmp(&o, &back, sizeof o) == 0);
    CHECK(be32(p.data + 12) == MILTER_M_EOM && memcmp(p.data + 16, "i\0", 2) == 0);
    CHECK(be32(p.data + 18) == MILTER_M_CONNECT && p.data[22] == 0);
}

/* A packet's bytes from its command and payload. */
static struct milter_pkt pkt(char cmd, const char *payload, size_t len)
{
    ward_buf_reset(&out);
    CHECK(milter_enc(&out, cmd, payload, len) == WARD_OK);
    return framed();
}

static void test_commands(void)
{
    struct milter_pkt p = pkt('O', "\0\0\0\6\0\0\1\xff\0\x1f\xff\xff", 12);
    struct milter_optneg o;
    CHECK(milter_dec_optneg(&p, &o) == WARD_OK && o.version == 6 && o.actions == 0x1ff &&
          o.proto == 0x1fffff);
    p = pkt('O', "\0\0\0\6\0\0", 6);
    CHECK(milter_dec_optneg(&p, &o) == WARD_ERR_PARSE);

    struct milter_connect ci;
    p = pkt('C', "mx.example.org\0004\x30\x39" "192.0.2.1\0", 15 + 1 + 2 + 10);
    CHECK(milter_dec_connect(&p, &ci) == WARD_OK && ci.family == '4' && ci.port == 12345);
    CHECK_STR(ci.host, "mx.example.org");
    CHECK_STR(ci.addr, "192.0.2.1");
    p = pkt('C', "localhost\0U", 11);
    CHECK(milter_dec_connect(&p, &ci) == WARD_OK && ci.family == 'U' && ci.addr[0] == 0);
    p = pkt('C', "h\0004\0", 4); /* the port cut short */
    CHECK(milter_dec_connect(&p, &ci) == WARD_ERR_PARSE);
    p = pkt('C', "h\0004\0\0" "1.2.3.4", 12); /* the address unterminated */
    CHECK(milter_dec_connect(&p, &ci) == WARD_ERR_PARSE);
    p = pkt('C', "h\0X", 3);
    CHECK(milter_dec_connect(&p, &ci) == WARD_ERR_PARSE);

    const char *v[2];
    size_t n, more;
    p = pkt('M', "<a@b>\0SIZE=10\0BODY=8BITMIME\0", 28);
    CHECK(milter_dec_strings(p.data, p.len, v, 2, &n, &more) == WARD_OK && n == 2 && more == 1);
    CHECK_STR(v[0], "<a@b>");
    p = pkt('R', "<c@d>", 5);
    CHECK(milter_dec_strings(p.data, p.len, v, 2, &n, &more) == WARD_ERR_PARSE);
    p = pkt('H', "client.example\0", 15);
    CHECK(milter_dec_strings(p.data, p.len, v, 1, &n, &more) == WARD_OK && n == 1);

    const char *name, *value;
    p = pkt('L', "Subject\0 Hi\0", 12);
    CHECK(milter_dec_header(&p, &name, &value) == WARD_OK);
    CHECK_STR(name, "Subject");
    CHECK_STR(value, " Hi");
    p = pkt('L', "Subject\0", 8);
    CHECK(milter_dec_header(&p, &name, &value) == WARD_ERR_PARSE);
    p = pkt('L', "a\0b\0c\0", 6);
    CHECK(milter_dec_header(&p, &name, &value) == WARD_ERR_PARSE);

    char stage;
    const uint8_t *pairs;
    size_t len;
    p = pkt('D', "E{mail_addr}\0a@b\0i\0" "4B2C1\0", 25);
    CHECK(milter_dec_macros(&p, &stage, &pairs, &len) == WARD_OK && stage == 'E');
    CHECK_STR(milter_macro_find(pairs, len, "i"), "4B2C1");
    CHECK_STR(milter_macro_find(pairs, len, "mail_addr"), "a@b");
    CHECK(milter_macro_find(pairs, len, "j") == NULL);
    p = pkt('D', "E{i}\0Q1\0", 8);
    CHECK(milter_dec_macros(&p, &stage, &pairs, &len) == WARD_OK);
    CHECK_STR(milter_macro_find(pairs, len, "i"), "Q1");
    p = pkt('D', "", 0);
    CHECK(milter_dec_macros(&p, &stage, &pairs, &len) == WARD_ERR_PARSE);

    /* commands without payload, and body chunks as they come */
    const char bare[] = {'N', 'T', 'A', 'Q', 'K'};
    for (size_t i = 0; i < sizeof bare; i++) {
        p = pkt(bare[i], NULL, 0);
        CHECK(p.cmd == bare[i] && p.len == 0);
    }
    p = pkt('B', "line\r\n", 6);
    CHECK(p.cmd == 'B' && p.len == 6 && memcmp(p.data, "line\r\n", 6) == 0);
    p = pkt('E', "end\r\n", 5);
    CHECK(p.cmd == 'E' && p.len == 5);
    p = pkt('U', "XYZZY\0", 6);
    CHECK(milter_dec_strings(p.data, p.len, v, 1, &n, &more) == WARD_OK && n == 1);
}

static void test_framing_limits(void)
{
    struct milter_pkt p;
    size_t used, need;
    const uint8_t two[] = {0, 0, 0, 2, 'B', 'x', 0, 0, 0, 1, 'N'};
    CHECK(milter_frame(two, 0, &p, &used, &need) == 0 && need == 5);
    CHECK(milter_frame(two, 3, &p, &used, &need) == 0);
    CHECK(milter_frame(two, 5, &p, &used, &need) == 0 && need == 6);
    CHECK(milter_frame(two, sizeof two, &p, &used, &need) == 1 && used == 6 && p.len == 1);
    CHECK(milter_frame(two + used, sizeof two - used, &p, &used, &need) == 1 && p.cmd == 'N');
    const uint8_t zero[] = {0, 0, 0, 0, 'N'};
    CHECK(milter_frame(zero, sizeof zero, &p, &used, &need) == -1);
    uint8_t huge[] = {0, 0x10, 0, 2, 'B'}; /* 1 MiB + 2: one past the limit */
    CHECK(milter_frame(huge, sizeof huge, &p, &used, &need) == -1);
    huge[3] = 1; /* exactly the limit: wait for the bytes */
    CHECK(milter_frame(huge, sizeof huge, &p, &used, &need) == 0 && need == 4 + MILTER_MAX_LEN);
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff, 'B'};
    CHECK(milter_frame(neg, sizeof neg, &p, &used, &need) == -1);

    /* encoders refuse what the decoder would, and respect the buffer's cap */
    ward_buf small;
    ward_buf_init(&small, 8);
    CHECK(milter_enc_str(&small, MILTER_R_REPLYCODE, "550 5.7.1 too long") == WARD_ERR_LIMIT);
    CHECK(small.len == 0);
    CHECK(milter_enc(&small, MILTER_R_ACCEPT, NULL, 0) == WARD_OK && small.len == 5);
    ward_buf_free(&small);
    CHECK(milter_enc(&out, MILTER_R_REPLBODY, two, MILTER_MAX_LEN) == WARD_ERR_LIMIT);
}

int main(void)
{
    ward_buf_init(&out, 4u << 20);
    test_simple_replies();
    test_string_replies();
    test_header_replies();
    test_body_and_optneg_replies();
    test_commands();
    test_framing_limits();
    ward_buf_free(&out);
    return CHECK_DONE();
}
