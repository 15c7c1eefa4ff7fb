/* test_lexpr.c - logical expressions with ClamAV's parsing and count rules. */
#include "check.h"
#include "engine/lexpr.h"

static int eval(const char *e, const uint32_t *counts, unsigned n)
{
    struct lexpr_pool pool;
    ward_lexpr_pool_init(&pool);
    uint32_t root;
    unsigned max;
    const char *why;
    int r = -1;
    if (ward_lexpr_parse(&pool, e, strlen(e), n, &root, &max, &why) == WARD_OK)
        r = ward_lexpr_eval(&pool, root, counts);
    ward_lexpr_pool_free(&pool);
    return r;
}

int main(void)
{
    uint32_t c[4] = {1, 0, 3, 0};
    CHECK(eval("0", c, 4) == 1);
    CHECK(eval("1", c, 4) == 0);
    CHECK(eval("0&2", c, 4) == 1);
    CHECK(eval("0&1", c, 4) == 0);
    CHECK(eval("0|1", c, 4) == 1);
    CHECK(eval("1|3", c, 4) == 0);
    /* no precedence: split at the first operator, right side recursive */
    CHECK(eval("1&0|2", c, 4) == 0); /* 1&(0|2) */
    CHECK(eval("0|1&3", c, 4) == 1); /* 0|(1&3) */
    CHECK(eval("2=3", c, 4) == 1);
    CHECK(eval("2>2", c, 4) == 1);
    CHECK(eval("2<3", c, 4) == 0);
    CHECK(eval("1=0", c, 4) == 1);
    CHECK(eval("2=3,2", c, 4) == 1); /* ",Y" ignored on a single subsignature */
    CHECK(eval("(0|2)>3", c, 4) == 1);  /* 1 + 3 */
    CHECK(eval("(0|2)>4", c, 4) == 0);
    CHECK(eval("(0|1|2)>1,2", c, 4) == 1); /* two distinct subsignatures */
    CHECK(eval("(0|1|2)>1,3", c, 4) == 0);
    CHECK(eval("(0&1)=0", c, 4) == 1);  /* a false group counts 0 */
    CHECK(eval("(1|3)<1", c, 4) == 1);
    CHECK(eval("((0|1)&(2|3))", c, 4) == 1);
    /* malformed */
    CHECK(eval("", c, 4) == -1);
    CHECK(eval("0&", c, 4) == -1);
    CHECK(eval("(0&1", c, 4) == -1);
    CHECK(eval("0&1)", c, 4) == -1);
    CHECK(eval("4", c, 4) == -1);
    CHECK(eval("0=", c, 4) == -1);
    CHECK(eval("0=1=2", c, 4) == -1);
    CHECK(eval("a", c, 4) == -1);
    char deep[400];
    memset(deep, '(', 200);
    deep[200] = '0';
    memset(deep + 201, ')', 198);
    deep[399] = 0;
    CHECK(eval(deep, c, 4) == -1);
    return CHECK_DONE();
}
