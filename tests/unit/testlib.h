/* testlib.h - a minimal test harness for the unit-test binaries.
 *
 * Each tests/unit/test_*.c is one program:
 *     TEST(test_name) { EXPECT(x == 1, "x is %d", x); }
 *     int main(void) { RUN(test_name); return testlib_finish(); }
 * It prints "PASS <name>" or "FAIL <name>: file:line: message" per test and a
 * closing "N passed, N failed" line; tests/run.sh adds the counts up.
 */
#ifndef HPTUNE_TESTLIB_H
#define HPTUNE_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int testlib_passed, testlib_failed, testlib_current_failed;

#define TEST(name) static void name(void)
#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            testlib_current_failed++;                                              \
            printf("    %s:%d: expected %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                                   \
            printf("\n");                                                          \
        }                                                                          \
    } while (0)
/* |a - b| <= tol, printing both values on failure */
#define EXPECT_NEAR(a, b, tol, what)                                               \
    EXPECT(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what, \
           (double)(a), (double)(b), (double)(tol))
#define RUN(name)                                                                  \
    do {                                                                           \
        testlib_current_failed = 0;                                                \
        name();                                                                    \
        if (testlib_current_failed) {                                              \
            testlib_failed++;                                                      \
            printf("FAIL %s\n", #name);                                            \
        } else {                                                                   \
            testlib_passed++;                                                      \
            printf("PASS %s\n", #name);                                            \
        }                                                                          \
        fflush(stdout);                                                            \
    } while (0)

static inline int testlib_finish(void)
{
    printf("%d passed, %d failed\n", testlib_passed, testlib_failed);
    return testlib_failed ? 1 : 0;
}

#endif
