/* test_vcache.c - verdict cache: keys, replacement, stats, concurrency. */
#include <pthread.h>

#include "check.h"
#include "scan/vcache.h"

static ward_vcache *shared;

static void *hammer(void *arg)
{
    uint8_t db[32] = {1}, obj[32];
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct ward_cached v = {0}, out;
    for (int i = 0; i < 20000; i++) {
        memset(obj, 0, sizeof obj);
        unsigned k = (unsigned)rand_r(&seed) % 5000;
        memcpy(obj, &k, sizeof k);
        if (i % 3 == 0) {
            v.verdict = (uint8_t)(k % 2 ? 3 : 0);
            snprintf(v.name, sizeof v.name, "N%u", k);
            ward_vcache_put(shared, db, obj, &v);
        } else if (ward_vcache_get(shared, db, obj, &out)) {
            char want[32];
            snprintf(want, sizeof want, "N%u", k);
            if (strcmp(out.name, want) != 0)
                return (void *)1;
        }
    }
    return NULL;
}

int main(void)
{
    ward_vcache *c;
    CHECK(ward_vcache_new(64, &c) == WARD_OK);
    uint8_t db1[32] = {1}, db2[32] = {2}, obj[32] = {9};
    struct ward_cached v = {3, 0, "Eicar", "a.zip\x1f" "b.exe"}, out;
    CHECK(!ward_vcache_get(c, db1, obj, &out));
    ward_vcache_put(c, db1, obj, &v);
    CHECK(ward_vcache_get(c, db1, obj, &out) && out.verdict == 3);
    CHECK_STR(out.name, "Eicar");
    CHECK_STR(out.subpath, "a.zip\x1f" "b.exe");
    /* another database never sees this verdict */
    CHECK(!ward_vcache_get(c, db2, obj, &out));
    /* capacity is bounded: many inserts keep at most capacity entries */
    for (int i = 0; i < 1000; i++) {
        uint8_t o[32] = {0};
        memcpy(o, &i, sizeof i);
        ward_vcache_put(c, db1, o, &v);
    }
    struct ward_vcache_stats st;
    ward_vcache_get_stats(c, &st);
    CHECK(st.entries <= st.capacity && st.capacity >= 64 && st.hits == 1 && st.misses == 2);
    ward_vcache_clear(c);
    ward_vcache_get_stats(c, &st);
    CHECK(st.entries == 0);
    ward_vcache_free(c);

    CHECK(ward_vcache_new(0, &c) == WARD_OK);
    ward_vcache_put(c, db1, obj, &v);
    CHECK(!ward_vcache_get(c, db1, obj, &out));
    ward_vcache_free(c);

    CHECK(ward_vcache_new(4096, &shared) == WARD_OK);
    pthread_t t[8];
    for (uintptr_t i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    ward_vcache_free(shared);
    return CHECK_DONE();
}
