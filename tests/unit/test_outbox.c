/* test_outbox.c - notices and scripts after the answer: order, bounds, shutdown. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mail/outbox.h"
#include "mail/script.h"

static char **env_of(const char *var)
{
    char **e = calloc(2, sizeof *e);
    e[0] = strdup(var);
    return e;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int main(void)
{
    char dir[] = "/tmp/ward-outbox-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char script[512], marker[512], var[600];
    snprintf(script, sizeof script, "%s/run.sh", dir);
    snprintf(marker, sizeof marker, "%s/ran", dir);
    FILE *f = fopen(script, "w");
    fputs("#!/bin/sh\nsleep 0.3\necho \"$WARD_TEST\" >> \"${WARD_TEST%%:*}\"\n", f);
    fclose(f);
    chmod(script, 0755);
    snprintf(var, sizeof var, "WARD_TEST=%s:one", marker);

    /* at most two waiting: the third is refused and stays the caller's */
    ward_outbox *o = NULL;
    CHECK(ward_outbox_new(2, 1 << 20, &o) == WARD_OK);
    char **e1 = env_of(var), **e2 = env_of(var), **e3 = env_of(var);
    e2[0][strlen(e2[0]) - 3] = 0;
    strcat(e2[0], "two");
    int64_t t0 = ward_clock_ms();
    CHECK(ward_outbox_program(o, script, e1, 5000));
    CHECK(ward_outbox_program(o, script, e2, 5000));
    CHECK(!ward_outbox_program(o, script, e3, 5000));
    CHECK(ward_clock_ms() - t0 < 200); /* queued, not run */
    CHECK(e3[0] != NULL);              /* refused: not taken */
    free(e3[0]);
    free(e3);
    CHECK(!exists(marker));
    ward_outbox_free(o, 5000); /* both finish, in order */
    char got[256] = "";
    f = fopen(marker, "r");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(got, 1, sizeof got - 1, f);
        got[n] = 0;
        fclose(f);
    }
    char want[1200];
    snprintf(want, sizeof want, "%s:one\n%s:two\n", marker, marker);
    CHECK_STR(got, want);

    /* shutdown with a short drain: what has not started is dropped */
    unlink(marker);
    CHECK(ward_outbox_new(10, 1 << 20, &o) == WARD_OK);
    for (int i = 0; i < 5; i++)
        CHECK(ward_outbox_program(o, script, env_of(var), 5000));
    t0 = ward_clock_ms();
    ward_outbox_free(o, 100);
    CHECK(ward_clock_ms() - t0 < 1500);

    /* a notice too big for max_bytes is refused and the buffer stays the caller's */
    CHECK(ward_outbox_new(10, 1000, &o) == WARD_OK);
    ward_buf b;
    ward_buf_init(&b, 1 << 20);
    for (int i = 0; i < 200; i++)
        CHECK(ward_buf_append(&b, "0123456789", 10) == WARD_OK);
    const char *rcpt[] = {"admin@example.net"};
    struct ward_sendmsg s = {.relay = "127.0.0.1:1", .helo = "test", .timeout_ms = 100};
    CHECK(!ward_outbox_notice(o, &s, rcpt, 1, &b, "notice to admin"));
    CHECK(b.len == 2000);
    ward_buf_free(&b);
    ward_outbox_free(o, 1000);

    sleep(1); /* let a dropped run's child end before the folder goes */
    unlink(marker);
    unlink(script);
    rmdir(dir);
    return CHECK_DONE();
}
