/* testlib: a table of named cases, one line per case with its wall time
 * (so that the slow ones show in CI's log: the suite has a time limit)
 * and the closing "N passed, M failed" line; exit status 1 on any
 * failure. A case returns 0 for pass; CHECK prints the failing expression
 * and returns 1. */
#pragma once
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct test_case {
    const char *name;
    int (*fn)(void);
} test_case;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
                    #cond);                                                    \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static inline double test_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Runs every case, or only those whose name contains argv[1]. */
static inline int test_run(const test_case *cases, int n, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1]))
            continue;
        double t0 = test_seconds();
        int rc = cases[i].fn();
        printf("%s %s (%.1f s)\n", rc ? "FAIL" : "ok  ", cases[i].name,
               test_seconds() - t0);
        fflush(stdout);
        rc ? failed++ : passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
