/* lease: who may be handed which sample. At most one live lease per
 * sample; a sample is free when it is in the pool, has no current label
 * and no live lease. Read by HTTP threads at ~10k/s.
 *
 * The table mirrors the store's sample states in memory so that picking
 * the next free samples in ranking order costs O(n) amortised, not a
 * query: a `hint` position in the ranking has every sample before it
 * taken; expiry is checked lazily from a min-heap of lease deadlines, and
 * any sample that becomes free again (expiry, release, undo) moves the
 * hint back to its position.
 *
 * The database is the truth; the table only follows it. A write request
 * changes the table only after the commit that holds its rows succeeded
 * (lease_apply, with the states its rows left), so a request that fails
 * leaves the table as it was. Until then other writers may see rows the
 * table does not show yet: lease_take checks every candidate against the
 * database inside its transaction. Changes carry the request's place in
 * the order of writes, and a sample keeps the state of the latest write
 * that touched it, so changes applied out of order (requests of one
 * group commit wake in any order) end in the database's state.
 *
 * Locking: the table's own mutex, taken inside the write lock when both
 * are held (lease_take, lease_table_reload), never the other way round.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "ranking.h"
#include "store.h"

typedef struct lease_table lease_table;

typedef struct lease_grant {
    int64_t lease_id, sample_id, expires_at;
    int32_t pos; /* position in the ranking served from */
} lease_grant;

/* The state a committed write left a pool sample in. */
typedef struct lease_change {
    int64_t sample_id;
    bool labeled;
    int64_t lease_id, expires; /* lease_id 0: none */
} lease_change;

/* Caller frees with lease_table_free. */
lease_table *lease_table_new(void);
void lease_table_free(lease_table *lt);
/* Reads every pool sample's state in a read transaction of its own and,
 * once that transaction committed, serves them with r (retained). The
 * changes applied meanwhile are applied again to what it read, so a write
 * that commits between the read and the swap is not lost. On failure the
 * table is unchanged. Never call it inside a transaction, and one at a
 * time (app.c's publish lock serialises them). */
int lease_table_reload(lease_table *lt, store *st, ranking *r);
/* Serves r from now on (retained). */
void lease_table_set_ranking(lease_table *lt, ranking *r);
/* A reference to the ranking served (release with ranking_release). */
ranking *lease_table_ranking(lease_table *lt);

#define LEASE_TAKE_MAX 100 /* samples in one lease_take */

/* Inside a write transaction: writes leases on up to n free samples to
 * who, in ranking order, passing over those who's annotator skipped
 * (the database knows them: store_lease_insert); *served is a reference to the
 * ranking the positions are of (release it). The table is not changed: the
 * caller applies the grants after its commit. */
int lease_take(lease_table *lt, store *st, const lease_holder *who, int n,
               int64_t now, int64_t ttl_ms, lease_grant *out, int *got,
               ranking **served);

/* After the commit of the write numbered seq (store_write_seq): the
 * states it left, in the order it left them. Cannot fail: if a lease
 * deadline cannot be stored, expiry falls back to scanning the table. */
void lease_apply(lease_table *lt, uint64_t seq, const lease_change *c, int n);

/* The next free samples in ranking order, without leasing them. */
int lease_peek(lease_table *lt, int64_t now, int limit, int64_t *ids,
               int32_t *pos);

typedef struct lease_counts_t {
    int64_t pool, labeled, leased, free;
} lease_counts_t;
void lease_counts(lease_table *lt, int64_t now, lease_counts_t *out);
/* The largest pool id the table knows (its last reload read it). */
int64_t lease_table_max_id(lease_table *lt);
/* The pool samples the table knows, ascending, into *ids (caller frees):
 * 0 or ARAL_ENOMEM. */
int lease_table_pool_ids(lease_table *lt, int64_t **ids, size_t *n);
