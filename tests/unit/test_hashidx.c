/* test_hashidx.c - size-first hash signature index. */
#include "check.h"
#include "engine/hashidx.h"

int main(void)
{
    ward_hashidx h;
    ward_hashidx_init(&h);
    uint8_t d[32];
    uint32_t name;
    CHECK(ward_hashidx_algs_for_size(&h, 100) == 0);
    CHECK(!ward_hashidx_lookup(&h, WARD_HASH_MD5, d, 100, &name));
    /* many entries force growth */
    for (uint32_t i = 0; i < 5000; i++) {
        memset(d, 0, sizeof d);
        memcpy(d, &i, 4);
        d[31] = (uint8_t)i;
        CHECK(ward_hashidx_add(&h, i % 2 ? WARD_HASH_SHA256 : WARD_HASH_MD5, d, 1000 + i % 7,
                               i) == WARD_OK);
    }
    CHECK(ward_hashidx_algs_for_size(&h, 1000) == 0); /* nothing before sealing */
    ward_hashidx_seal(&h);
    CHECK(ward_hashidx_count(&h) == 5000);
    CHECK(ward_hashidx_algs_for_size(&h, 1000) != 0);
    CHECK(ward_hashidx_algs_for_size(&h, 999) == 0);
    for (uint32_t i = 0; i < 5000; i += 97) {
        memset(d, 0, sizeof d);
        memcpy(d, &i, 4);
        d[31] = (uint8_t)i;
        enum ward_hash_alg alg = i % 2 ? WARD_HASH_SHA256 : WARD_HASH_MD5;
        CHECK(ward_hashidx_lookup(&h, alg, d, 1000 + i % 7, &name) && name == i);
        CHECK(!ward_hashidx_lookup(&h, alg, d, 1000 + (i + 1) % 7, &name));
        CHECK(!ward_hashidx_lookup(&h, WARD_HASH_SHA1, d, 1000 + i % 7, &name));
    }
    /* only the algorithms a size needs */
    unsigned a = ward_hashidx_algs_for_size(&h, 1000);
    CHECK(a == (WARD_HASH_BIT(WARD_HASH_MD5) | WARD_HASH_BIT(WARD_HASH_SHA256)));
    /* wildcard size applies to every size */
    memset(d, 0xab, sizeof d);
    CHECK(ward_hashidx_add(&h, WARD_HASH_SHA1, d, WARD_HASH_ANY_SIZE, 77) == WARD_OK);
    ward_hashidx_seal(&h);
    CHECK(ward_hashidx_algs_for_size(&h, 5) == WARD_HASH_BIT(WARD_HASH_SHA1));
    CHECK(ward_hashidx_lookup(&h, WARD_HASH_SHA1, d, 123456, &name) && name == 77);
    /* duplicates keep the first */
    CHECK(ward_hashidx_add(&h, WARD_HASH_SHA1, d, WARD_HASH_ANY_SIZE, 78) == WARD_OK);
    ward_hashidx_seal(&h);
    CHECK(ward_hashidx_count(&h) == 5001);
    CHECK(ward_hashidx_lookup(&h, WARD_HASH_SHA1, d, 1, &name) && name == 77);
    ward_hashidx_free(&h);
    return CHECK_DONE();
}
