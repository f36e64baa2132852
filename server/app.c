/* app: thread-local store connections and pool refresh. Connections are
 * registered in a list so that main can close them after the MHD threads
 * have stopped (a thread-local destructor would run on thread exit, which
 * MHD does not promise to reach before stop returns). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "app.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "txn.h"
#include "util.h"

#define MAX_STORES 256

static _Thread_local store *tls_store;
static pthread_mutex_t stores_mu = PTHREAD_MUTEX_INITIALIZER;
static store *stores[MAX_STORES];
static int n_stores;

store *app_store(struct app *a)
{
    if (tls_store)
        return tls_store;
    char err[256];
    store_opts o = {.create = false,
                    .durable_full = a->cfg.durable_full,
                    .no_autocheckpoint = true};
    store *st = store_open(a->cfg.db, o, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "arald: %s\n", err);
        return NULL;
    }
    pthread_mutex_lock(&stores_mu);
    if (n_stores < MAX_STORES) {
        stores[n_stores++] = st;
        tls_store = st;
    }
    pthread_mutex_unlock(&stores_mu);
    if (!tls_store)
        store_close(st);
    return tls_store;
}

void app_stores_close(void)
{
    pthread_mutex_lock(&stores_mu);
    for (int i = 0; i < n_stores; i++)
        store_close(stores[i]);
    n_stores = 0;
    pthread_mutex_unlock(&stores_mu);
}

/* Publishes are serialised: a pool republish reads the ranking served
 * and must not overwrite one the worker published meanwhile. */
static pthread_mutex_t publish_mu = PTHREAD_MUTEX_INITIALIZER;

static int publish_locked(struct app *a, store *st, ranking *r)
{
    int rc = 0;
    if (st)
        rc = lease_table_reload(a->leases, st, r);
    else
        lease_table_set_ranking(a->leases, r);
    if (rc) {
        ranking_release(r);
        return rc;
    }
    ranking_publish(&a->ranking, r); /* hands over our reference */
    return 0;
}

int app_publish(struct app *a, store *st, ranking *r)
{
    pthread_mutex_lock(&publish_mu);
    int rc = publish_locked(a, st, r);
    pthread_mutex_unlock(&publish_mu);
    return rc;
}

int app_publish_pool(struct app *a, store *st, ranking *base)
{
    int64_t *ids;
    size_t n;
    pthread_mutex_lock(&publish_mu);
    int rc = store_pool_ids(st, &ids, &n);
    /* A model's order stays, with new samples after it; else random. */
    ranking *cur = base ? base : rc ? NULL : lease_table_ranking(a->leases);
    if (cur == base)
        ranking_retain(base);
    ranking *r = rc                   ? NULL
                 : cur && cur->scores ? ranking_extend(cur, ids, n, a->cfg.seed)
                                      : ranking_new_random(ids, n, a->cfg.seed);
    ranking_release(cur);
    if (!rc)
        free(ids);
    rc = rc ? rc : !r ? ARAL_ENOMEM : publish_locked(a, st, r);
    atomic_store(&a->pool_stale, rc != 0);
    pthread_mutex_unlock(&publish_mu);
    if (rc)
        fprintf(stderr,
                "arald: the pool could not be reloaded (%s); "
                "retrying on the next write\n",
                aral_strerror(rc));
    return rc;
}

void app_publish_read(struct app *a, ranking *r)
{
    int64_t *ids;
    size_t n;
    pthread_mutex_lock(&publish_mu);
    ranking *x = lease_table_pool_ids(a->leases, &ids, &n) == 0
                     ? ranking_extend(r, ids, n, a->cfg.seed)
                     : NULL;
    free(ids);
    if (x)
        ranking_release(r);
    else
        x = r;                  /* no memory to extend it: as read */
    publish_locked(a, NULL, x); /* without a reload it cannot fail */
    pthread_mutex_unlock(&publish_mu);
}

/* 16384 frames of 4 KiB: the WAL stays under ~64 MiB under any load. */
#define WAL_RESTART_FRAMES 16384

/* Idempotency keys are kept a day (as Stripe keeps them): a retry comes
 * within seconds or minutes, and each label the page sends stores one,
 * so kept for good they would grow the file with every label. The page
 * resends a label by sample_id only within 23 h (web/app.js,
 * RESEND_BY_SAMPLE_MS): shortening this below that would let it store one
 * twice. */
#define IDEM_KEEP_MS (24 * 3600 * 1000LL)
#define IDEM_PRUNE_EVERY_MS (3600 * 1000LL)

static void prune_keys(store *st)
{
    int n;
    int rc = store_idem_prune(st, util_now_ms() - IDEM_KEEP_MS, &n);
    if (rc)
        fprintf(stderr, "arald: old idempotency keys not deleted (%s)\n",
                aral_strerror(rc));
}

/* A revoked token's event streams end, and its leases' samples are
 * served again, within a second, also when `arald token revoke` revoked
 * it in another process (DELETE /v1/tokens/{id} does both at once):
 * every second the tokens revoked in the last minute end theirs (a
 * stream authorised just before a revocation committed is caught by the
 * next look; ending one twice does nothing). */
#define LOOK_EVERY_MS 1000 /* at other processes' revocations and imports */
#define REVOKED_WINDOW_MS (60 * 1000LL)

typedef struct revoked_look {
    struct app *a;
    int n;
} revoked_look;

static void end_stream(void *ctx, int64_t token_id)
{
    revoked_look *look = ctx;
    events_end_token(look->a->events, token_id);
    look->n++;
}

/* The lease table learns of the samples another process's revocation
 * gave back: their states as the database has them, applied in the
 * order of writes as a request's are (txn.c). */
static int serve_given_back(struct app *a, store *st, int64_t since)
{
    struct txn t = {0};
    if (store_begin(st))
        return ARAL_EBUSY; /* the next look tries again */
    int rc = store_revoked_leases(st, since, util_now_ms(), txn_note_sample_fn,
                                  &(txn_on){&t, st});
    if (rc)
        store_rollback(st);
    else if ((rc = store_commit(st)) == 0)
        lease_apply(a->leases, store_write_seq(st), t.changes, t.n);
    free(t.changes);
    return rc;
}

static void look_at_revoked(struct app *a, store *st)
{
    int64_t since = util_now_ms() - REVOKED_WINDOW_MS;
    revoked_look look = {a, 0};
    int rc = store_tokens_revoked_since(st, since, end_stream, &look);
    if (!rc && look.n)
        rc = serve_given_back(a, st, since);
    if (rc && rc != ARAL_EBUSY)
        fprintf(stderr, "arald: revoked tokens not read (%s)\n",
                aral_strerror(rc));
}

/* `arald import` into a live database: its samples are served within a
 * second, as an import over REST's are at once (its commit reloads the
 * pool). Ids only grow, so a pool id above the table's largest is one it
 * has not read. */
static void look_for_imports(struct app *a, store *st)
{
    int64_t max_id;
    if (store_pool_max_id(st, &max_id) == 0 &&
        max_id > lease_table_max_id(a->leases))
        app_publish_pool(a, st, NULL); /* says so if it fails */
}

static pthread_t ckpt_thread;
static atomic_bool ckpt_stop;
static bool ckpt_running;

static void *checkpointer(void *arg)
{
    struct app *a = arg;
    char err[256];
    store_opts o = {.durable_full = a->cfg.durable_full};
    store *st = store_open(a->cfg.db, o, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "arald: checkpointer: %s\n", err);
        return NULL;
    }
    int frames;
    int64_t next_prune = 0; /* monotonic ms: at start, then hourly */
    int64_t next_look = 0;
    while (!atomic_load(&ckpt_stop)) {
        int64_t now = util_mono_us() / 1000;
        if (now >= next_prune) {
            next_prune = now + IDEM_PRUNE_EVERY_MS;
            prune_keys(st);
        }
        if (now >= next_look) {
            next_look = now + LOOK_EVERY_MS;
            look_at_revoked(a, st);
            look_for_imports(a, st);
        }
        /* Copy outside the write lock first, so that the restart (which
         * holds it) has only the last few frames left to copy. */
        if (store_checkpoint(st, &frames) == 0 && frames > WAL_RESTART_FRAMES)
            store_checkpoint_restart(st);
        util_sleep_ms(100);
    }
    store_checkpoint(st, &frames);
    store_close(st);
    return NULL;
}

int app_checkpointer_start(struct app *a)
{
    atomic_store(&ckpt_stop, false);
    if (pthread_create(&ckpt_thread, NULL, checkpointer, a))
        return ARAL_EIO;
    pthread_setname_np(ckpt_thread, "arald-ckpt");
    ckpt_running = true;
    return 0;
}

void app_checkpointer_stop(void)
{
    if (!ckpt_running)
        return;
    atomic_store(&ckpt_stop, true);
    pthread_join(ckpt_thread, NULL);
    ckpt_running = false;
}
