/* test_json.c - JSON string escaping of hostile names. */
#include "check.h"
#include "util/json.h"

static const char *js(const char *s, size_t n)
{
    static ward_buf b;
    ward_buf_free(&b);
    ward_buf_init(&b, 4096);
    if (ward_json_strn(&b, s, n))
        return "ERR";
    return ward_buf_str(&b);
}

int main(void)
{
    CHECK_STR(js("abc", 3), "\"abc\"");
    CHECK_STR(js("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_STR(js("l1\nl2\t\r", 7), "\"l1\\nl2\\t\\r\"");
    CHECK_STR(js("\x01\x7f", 2), "\"\\u0001\\u007f\"");
    CHECK_STR(js("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
    CHECK_STR(js("bad\xff\xc3", 5), "\"bad\\u00ff\\u00c3\"");
    CHECK_STR(js("a\0b", 3), "\"a\\u0000b\"");
    ward_buf b;
    ward_buf_init(&b, 100);
    CHECK(ward_json_str(&b, NULL) == WARD_OK);
    CHECK_STR(ward_buf_str(&b), "null");
    ward_buf_free(&b);
    return CHECK_DONE();
}
