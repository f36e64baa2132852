/* fault: failure injection for the tests, off unless the daemon starts
 * with ARALD_TEST_FAULTS=1 in its environment.
 *
 * A request then may carry `X-Arald-Fault: NAME` or `NAME@K`: the K-th
 * (default first) time its thread reaches fault_hit(NAME) while serving
 * it, the call reports a failure and the code path under test runs as
 * it would on a real one. Points: "begin" (store_begin cannot take the
 * write lock), "busy" (a write statement returns SQLITE_BUSY), "commit"
 * (COMMIT fails), "read" (reading the pool's ids fails at its K-th
 * row), "alloc" (the labels batch allocation, an IDX upload's inflate
 * and parse), "export" (an export page cannot be built; counted per
 * export stream), "train" (a round's training ends in non-finite
 * losses; carried by POST /v1/model/retrain to the worker's round,
 * where the store points apply too). Two points delay instead of
 * failing: "stats_gap" (GET /v1/stats waits 0.3 s between its two
 * tables, for a test's write to land in) and "lease_gap" (POST
 * /v1/leases waits, at most 5 s, after its first look at the ranking
 * until another ranking is published).
 * Off, fault_hit is one load of a flag and never fires.
 */
#pragma once
#include <stdbool.h>

typedef struct fault_plan {
    char point[32]; /* "" : none */
    int remaining;  /* hits before it fires */
} fault_plan;

/* Reads ARALD_TEST_FAULTS once; call before any thread starts. */
void fault_init(void);
/* Arms the calling thread with a plan from a request header (NULL:
 * none); fault_disarm ends it. fault_current is the armed plan as it
 * stands (a streamed response carries it on). */
void fault_arm(const char *header);
void fault_arm_plan(fault_plan p);
void fault_disarm(void);
fault_plan fault_current(void);
/* True when the thread's plan names this point and its count is
 * reached; fault_take does the same on a plan of the caller's. */
bool fault_hit(const char *point);
bool fault_take(fault_plan *p, const char *point);
/* Milliseconds the worker thread waits before its first look at the
 * pool: ARALD_TEST_WORKER_DELAY_MS (0..10000), read by fault_init; 0
 * when faults are off. Lets a test land requests before that look. */
int fault_worker_delay_ms(void);
