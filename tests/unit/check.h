/*
 * check.h - a minimal test harness for the C unit tests: CHECK() records a
 * failure with file and line and goes on; a test program's exit status is
 * the number of failures (capped), so meson reports it.
 */
#ifndef WARD_TEST_CHECK_H
#define WARD_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *check_a = (a), *check_b = (b);                                         \
        if (!check_a || !check_b || strcmp(check_a, check_b) != 0) {                       \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,    \
                    check_b ? check_b : "(null)", check_a ? check_a : "(null)");           \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_DONE() (check_failures > 100 ? 100 : check_failures)

#endif
