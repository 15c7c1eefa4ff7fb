/* test_options.c - option table, validation messages, layered lookup. */
#include "check.h"
#include "util/options.h"

static char last[1024];
static unsigned count;

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    snprintf(last, sizeof last, "%s", msg);
    count++;
}

int main(void)
{
    ward_conf *c;
    struct ward_diag d;
    const char *text = "[global]\nmax_filesize = 25M\nmax_recursion = 99\nbogus = 1\n"
                       "[scan]\nthreads = 4\nexclude = (\n[nosuch]\nx = 1\n";
    CHECK(ward_conf_parse_mem("w.conf", text, strlen(text), &c, &d) == WARD_OK);
    count = 0;
    unsigned n = ward_options_check(c, collect, NULL);
    CHECK(n == 4 && count == 4);
    /* the last problem names file, line and option */
    static const char *const scan[] = {"scan", "global", NULL};
    CHECK(ward_opt_u64(c, scan, "max_filesize") == 25u << 20);
    CHECK(ward_opt_u64(c, scan, "threads") == 4);
    CHECK(ward_opt_u64(c, scan, "max_files") == 10000); /* default */
    CHECK(ward_opt_u64(NULL, scan, "max_scantime") == 120000);
    ward_conf_free(c);

    text = "[global]\nmax_scantime = 30s\n[global]\nmax_scantime = 5\n";
    CHECK(ward_conf_parse_mem("w.conf", text, strlen(text), &c, &d) == WARD_OK);
    count = 0;
    CHECK(ward_options_check(c, collect, NULL) == 1);
    CHECK(strstr(last, "w.conf:4:") && strstr(last, "max_scantime") && strstr(last, "more than once"));
    ward_conf_free(c);

    text = "[global]\nmax_recursion = 65\n";
    CHECK(ward_conf_parse_mem("w.conf", text, strlen(text), &c, &d) == WARD_OK);
    count = 0;
    CHECK(ward_options_check(c, collect, NULL) == 1);
    CHECK(strstr(last, "w.conf:2: [global] max_recursion:") != NULL);
    ward_conf_free(c);

    uint64_t v;
    const char *why;
    const struct ward_opt *o = ward_option_find("global", "max_scantime");
    CHECK(o && ward_opt_parse(o, "2m", &v, &why) && v == 120000);
    CHECK(ward_opt_parse(o, "500ms", &v, &why) && v == 500);
    CHECK(!ward_opt_parse(o, "soon", &v, &why));
    return CHECK_DONE();
}
