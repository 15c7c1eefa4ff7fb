/* test_buf.c - capped buffer and bounded cursor. */
#include "check.h"
#include "util/buf.h"
#include "util/cursor.h"

int main(void)
{
    ward_buf b;
    ward_buf_init(&b, 10);
    CHECK(ward_buf_str(&b)[0] == 0);
    CHECK(ward_buf_append(&b, "hello", 5) == WARD_OK);
    CHECK(ward_buf_printf(&b, "%d", 12345) == WARD_OK);
    CHECK_STR(ward_buf_str(&b), "hello12345");
    /* the cap is hard: nothing is appended past it */
    CHECK(ward_buf_putc(&b, 'x') == WARD_ERR_LIMIT);
    CHECK(b.len == 10);
    CHECK(ward_buf_printf(&b, "%s", "more") == WARD_ERR_LIMIT);
    CHECK_STR(ward_buf_str(&b), "hello12345");
    ward_buf_reset(&b);
    CHECK(b.len == 0 && ward_buf_str(&b)[0] == 0);
    size_t n;
    CHECK(ward_buf_puts(&b, "abc") == WARD_OK);
    uint8_t *p = ward_buf_steal(&b, &n);
    CHECK(n == 3 && memcmp(p, "abc", 4) == 0);
    free(p);
    CHECK(b.data == NULL && b.len == 0);
    /* a length near SIZE_MAX must not wrap */
    CHECK(ward_buf_reserve(&b, SIZE_MAX) == WARD_ERR_LIMIT);
    ward_buf_free(&b);

    uint8_t data[] = {1, 2, 3, 4, 5, 6};
    ward_cur c = ward_cur_make(data, sizeof data);
    uint16_t v16;
    uint32_t v32;
    CHECK(ward_cur_le16(&c, &v16) && v16 == 0x0201);
    CHECK(ward_cur_le32(&c, &v32) && v32 == 0x06050403);
    CHECK(!ward_cur_le16(&c, &v16));
    CHECK(c.pos == 6);
    CHECK(ward_cur_seek(&c, 2) && ward_cur_be32(&c, &v32) && v32 == 0x03040506);
    CHECK(!ward_cur_seek(&c, 7));
    CHECK(!ward_cur_skip(&c, SIZE_MAX));
    const uint8_t *t;
    ward_cur_seek(&c, 5);
    CHECK(!ward_cur_take(&c, 2, &t) && c.pos == 5);
    return CHECK_DONE();
}
