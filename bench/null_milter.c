/*
 * null_milter.c - a milter that does nothing (accepts every message, asks for no
 * replies it does not need): the ceiling of Postfix with any milter, for
 * milter_bench.py, which compiles it with cc -lmilter. An optional second
 * argument makes it wait that many microseconds at the end of each message
 * (what a scan costs the MTA in waiting alone, without any CPU).
 */
#include <libmilter/mfapi.h>
#include <stdlib.h>
#include <unistd.h>

static useconds_t eom_wait;
static sfsistat neg(SMFICTX *c, unsigned long f0, unsigned long f1, unsigned long f2,
                    unsigned long f3, unsigned long *p0, unsigned long *p1, unsigned long *p2,
                    unsigned long *p3)
{
    (void)f2;
    (void)f3;
    /* no macros either, as ward-milter asks (it wants only the queue id at the end) */
    *p0 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        *p0 = SMFIF_SETSYMLIST;
        for (int w = SMFIM_CONNECT; w <= SMFIM_EOH; w++)
            smfi_setsymlist(c, w, w == SMFIM_EOM ? "i" : "");
    }
    *p1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_CONN | SMFIP_NR_HELO |
                SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH |
                SMFIP_NR_HDR | SMFIP_NR_BODY);
    *p2 = 0;
    *p3 = 0;
    return SMFIS_CONTINUE;
}
static sfsistat nr(SMFICTX *c)
{
    (void)c;
    return SMFIS_NOREPLY;
}
static sfsistat nr2(SMFICTX *c, char **a)
{
    (void)c;
    (void)a;
    return SMFIS_NOREPLY;
}
static sfsistat hdr(SMFICTX *c, char *n, char *v)
{
    (void)c;
    (void)n;
    (void)v;
    return SMFIS_NOREPLY;
}
static sfsistat body(SMFICTX *c, unsigned char *b, size_t n)
{
    (void)c;
    (void)b;
    (void)n;
    return SMFIS_NOREPLY;
}
static sfsistat eom(SMFICTX *c)
{
    (void)c;
    if (eom_wait)
        usleep(eom_wait);
    return SMFIS_ACCEPT;
}
static sfsistat conn(SMFICTX *c, char *h, _SOCK_ADDR *a)
{
    (void)c;
    (void)h;
    (void)a;
    return SMFIS_NOREPLY;
}
static sfsistat helo(SMFICTX *c, char *h)
{
    (void)c;
    (void)h;
    return SMFIS_NOREPLY;
}
int main(int argc, char **argv)
{
    struct smfiDesc d = {"null", SMFI_VERSION, 0,   conn, helo, nr2,  nr2,  hdr,
                         nr,     body,         eom, NULL, NULL, NULL, NULL, neg};
    if (argc < 2)
        return 2;
    if (argc > 2)
        eom_wait = (useconds_t)strtoul(argv[2], NULL, 10);
    smfi_setconn(argv[1]);
    smfi_register(d);
    smfi_opensocket(1);
    return smfi_main();
}
