/* txn: the one way a handler writes. app_write runs the handler's write
 * function inside a transaction and ends it in one place:
 *
 *   begin            fails: 503 storage_busy, nothing held, nothing done
 *   fn(...)          fails: roll back; fn's 4xx stands, else 503
 *   commit           fails: 503 storage_error; the rows are gone
 *   apply            only now: the lease-table changes fn noted, the
 *                    metrics, and a republished pool after an import
 *
 * so a request that fails changes neither the database nor the table.
 * A write inside another (a handler under the router's Idempotency-Key
 * transaction) joins it: its changes are applied after the outer commit.
 */
#pragma once
#include <stdbool.h>

#include "app.h"
#include "router.h"

struct txn {
    lease_change *changes; /* the states rows were left in, in order */
    int n, cap;
    bool pool_changed;   /* samples were added: reload and re-rank */
    int labels, leases;  /* counted in the metrics after the commit */
    bool labels_changed; /* labels or undos: the worker may be due */
};

/* fn's result: 0 (commit), a negative ARAL_E code (roll back; a response
 * below 400 is replaced by a 503), or WRITE_UNDO (roll back, and the
 * response fn set stands: a replay, a refused request). */
#define WRITE_UNDO 1

typedef int (*write_fn)(const struct req *rq, struct resp *rs, struct txn *t,
                        void *ctx);

/* Runs fn in a transaction (or in the request's open one). Returns 0
 * when it committed. */
int app_write(const struct req *rq, struct resp *rs, write_fn fn, void *ctx);

/* Notes the state a sample is left in, as fn knows it. */
int txn_note(struct txn *t, lease_change c);
/* Notes a sample's state as the transaction now holds it. */
int txn_note_sample(struct txn *t, store *st, int64_t sample_id);

/* txn_note_sample as a store callback (ctx: a txn_on). */
typedef struct txn_on {
    struct txn *t;
    store *st;
} txn_on;
int txn_note_sample_fn(void *ctx, int64_t sample_id);
