/* test_strutil.c - strict number, size, duration and hex parsing. */
#include "check.h"
#include "util/strutil.h"

int main(void)
{
    uint64_t v;
    CHECK(ward_parse_u64("0", &v) && v == 0);
    CHECK(ward_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    CHECK(!ward_parse_u64("18446744073709551616", &v));
    CHECK(!ward_parse_u64("", &v));
    CHECK(!ward_parse_u64("12a", &v));
    CHECK(!ward_parse_u64("-1", &v));
    CHECK(!ward_parse_u64(" 1", &v));
    CHECK(ward_parse_size("512K", &v) && v == 512 * 1024);
    CHECK(ward_parse_size("25M", &v) && v == 25u << 20);
    CHECK(ward_parse_size("25mb", &v) && v == 25u << 20);
    CHECK(ward_parse_size("4G", &v) && v == 4ull << 30);
    CHECK(ward_parse_size("1048576", &v) && v == 1048576);
    CHECK(!ward_parse_size("25Q", &v));
    CHECK(!ward_parse_size("M", &v));
    CHECK(!ward_parse_size("99999999999999999999T", &v));
    CHECK(!ward_parse_size("16777216T", &v)); /* overflows 64 bits */
    CHECK(ward_parse_duration("30", &v) && v == 30);
    CHECK(ward_parse_duration("5m", &v) && v == 300);
    CHECK(ward_parse_duration("2h", &v) && v == 7200);
    CHECK(ward_parse_duration("1d", &v) && v == 86400);
    CHECK(!ward_parse_duration("1y", &v));
    bool b;
    CHECK(ward_parse_bool("Yes", &b) && b);
    CHECK(ward_parse_bool("off", &b) && !b);
    CHECK(!ward_parse_bool("maybe", &b));
    uint8_t out[4];
    CHECK(ward_hex_decode("00ff7A", 6, out) && out[0] == 0 && out[1] == 0xff && out[2] == 0x7a);
    CHECK(!ward_hex_decode("0g", 2, out));
    CHECK(!ward_hex_decode("abc", 3, out));
    char s[] = "  a b \t\n";
    CHECK_STR(ward_str_trim(s), "a b");
    char line[] = "a:b:c:d";
    char *f[3];
    CHECK(ward_str_split(line, ':', f, 3) == 3);
    CHECK_STR(f[0], "a");
    CHECK_STR(f[2], "c:d");
    CHECK(ward_str_endswith("x.cvd", ".cvd") && !ward_str_endswith("cvd", ".cvd"));
    return CHECK_DONE();
}
