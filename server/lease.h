/* lease: who may be handed which sample. At most one live lease per
 * sample; a sample is free when it is in the pool, has no current label
 * and no live lease. Read by HTTP threads at ~10k/s, written once per
 * lease.
 *
 * The table mirrors the store's sample states in memory so that picking
 * the next free samples in ranking order costs O(n) amortised, not a
 * query: a `hint` position in the ranking has every sample before it
 * taken; expiry is checked lazily from a min-heap of lease deadlines, and
 * any sample that becomes free again (expiry, release, undo) moves the
 * hint back to its position.
 *
 * Locking: every mutating call must run inside store_begin..store_commit
 * (the process-wide write lock), and takes the table's own mutex inside
 * it. If the transaction then fails, call lease_table_reload. Readers
 * (lease_peek, lease_counts) take only the table's mutex.
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

/* Caller frees with lease_table_free. */
lease_table *lease_table_new(void);
void lease_table_free(lease_table *lt);
/* Loads every pool sample's state from st and serves r (takes a
 * reference of its own). Runs its own write transaction. */
int lease_table_reload(lease_table *lt, store *st, ranking *r);
/* Serves from r from now on (takes its own reference). */
void lease_table_set_ranking(lease_table *lt, ranking *r);
/* A reference to the ranking served (release with ranking_release). */
ranking *lease_table_ranking(lease_table *lt);

/* Leases up to n free samples to annotator (inside a transaction). */
int lease_take(lease_table *lt, store *st, const char *annotator, int n,
               int64_t now, int64_t ttl_ms, lease_grant *out, int *got);
/* The live lease on sample_id at now (0 if none). */
int64_t lease_holder(lease_table *lt, int64_t sample_id, int64_t now);
/* After a label is committed (labeled) or undone (!labeled). */
void lease_note_label(lease_table *lt, int64_t sample_id, bool labeled);
/* After a lease is released or closed by a label. */
void lease_note_closed(lease_table *lt, int64_t sample_id, int64_t lease_id);

/* The next free samples in ranking order, without leasing them. */
int lease_peek(lease_table *lt, int64_t now, int limit, int64_t *ids,
               int32_t *pos);

typedef struct lease_counts_t {
    int64_t pool, labeled, leased, free;
} lease_counts_t;
void lease_counts(lease_table *lt, int64_t now, lease_counts_t *out);
