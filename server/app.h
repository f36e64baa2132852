/* app: what every handler may reach. One per daemon, built by main.c
 * before the HTTP threads start and torn down after they stop.
 *
 * Threads (the full list; see main.c):
 * - main: parses arguments, opens the database, starts and stops MHD,
 *   waits for SIGTERM/SIGINT on a self-pipe.
 * - MHD pool threads (`threads`, at least 2): HTTP only. Each opens its own
 *   store connection on first use (thread-local). Never call BLAS.
 * - arald-ckpt: WAL checkpoints on its own connection (app.c); it also
 *   prunes old idempotency keys, ends revoked tokens' event streams and
 *   serves again the samples their leases held (another process may
 *   have revoked them: `arald token revoke`), and reloads the pool when
 *   `arald import` added to it.
 * - arald-worker: the retrain worker (worker.h), started after the pool
 *   is published and before HTTP, stopped after HTTP. The only thread
 *   that calls BLAS (train_threads OpenBLAS threads); its own store.
 * Shared state: `leases` (own mutex), `ranking` (atomic slot), `metrics`
 * (atomics), `worker` (its own mutex), `project` and `cfg` (read-only
 * after start).
 *
 * Rankings reach their two holders (the `ranking` slot, read by sample
 * views, and the lease table, which serves) through app_publish only.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "events.h"
#include "lease.h"
#include "metrics.h"
#include "ranking.h"
#include "store.h"

typedef struct app_config {
    char db[512];
    char bind[64];
    int port;    /* 0: any free port */
    int threads; /* MHD pool size */
    int lease_ttl_s;
    long max_body; /* bytes */
    int max_batch; /* items in one POST /v1/labels or /v1/samples */
    int conn_timeout_s;
    int max_connections;
    bool open;         /* allow binding beyond loopback */
    bool durable_full; /* synchronous=FULL */
    bool access_log;
    uint64_t seed;        /* of the random order and the models */
    char strategy[16];    /* a model's order: a name of core/score.h */
    bool start_typical;   /* before a model: typical picks of the inputs
                           * (their whitened principal components) */
    int retrain_every;    /* new labels that start a round */
    int min_labels;       /* labels (2 classes at least) for a first one */
    int round_iters;      /* training iterations a round */
    int round_candidates; /* unlabeled samples a round reads at most; 0 all */
    int train_threads;    /* OpenBLAS threads of the worker */
    char port_file[512];  /* write the bound port here (tests) */
} app_config;

struct app {
    app_config cfg;
    project_info project;
    lease_table *leases;
    ranking_slot ranking;
    metrics *metrics;
    int64_t started_ms;
    atomic_bool ready;
    atomic_bool pool_stale; /* an import committed but its publish failed */
    struct worker *worker;  /* the retrain worker (worker.h) */
    struct events *events;  /* /v1/events subscribers (events.h) */
};

/* The calling thread's store connection (opened on first use; NULL when
 * the database cannot be opened). Borrowed: closed by app_stores_close. */
store *app_store(struct app *a);
void app_stores_close(void);
/* Starts and stops the checkpointer thread ("arald-ckpt"): a PASSIVE WAL
 * checkpoint every 100 ms on its own connection, so that HTTP threads
 * (whose connections have autocheckpoint off) never pay for one, and a
 * RESTART one when the WAL passes ~64 MiB. Once a second it also ends
 * the event streams of tokens revoked in the last minute, applies to
 * the lease table the leases their revocation gave back, and reloads
 * the pool when another process (`arald import`) added to it. */
int app_checkpointer_start(struct app *a);
void app_checkpointer_stop(void);
/* The single publish point: r (the caller's reference, taken over)
 * becomes the ranking of both holders. With st, the lease table first
 * reloads every pool sample's state from the database (the pool
 * changed); never call it inside a transaction. On failure both holders
 * keep what they had. */
int app_publish(struct app *a, store *st, ranking *r);
/* The pool as the database holds it now, published with a reload (at
 * start and after imports): the order of base (borrowed; NULL: the one
 * served) with new samples at its end, or a seeded random order when
 * that has no model. Publishes are serialised, so the last one to finish
 * saw the latest pool. On failure pool_stale is set and the next write
 * retries. */
int app_publish_pool(struct app *a, store *st, ranking *base);
/* A ranking of the pool as it was read some time ago (the worker's), r
 * taken over: published with the pool samples the lease table knows and
 * r lacks (imported since) after its order, as an import would have put
 * them. No database read: every import reloads the table itself, and
 * publishes are serialised, so none can slip in between. */
void app_publish_read(struct app *a, ranking *r);
