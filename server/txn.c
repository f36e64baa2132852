#include "txn.h"

#include <stdlib.h>

#include "err.h"
#include "metrics.h"
#include "worker.h"

int txn_note(struct txn *t, lease_change c)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        lease_change *m = realloc(t->changes, sizeof(*m) * (size_t)cap);
        if (!m)
            return ARAL_ENOMEM;
        t->changes = m, t->cap = cap;
    }
    t->changes[t->n++] = c;
    return 0;
}

int txn_note_sample(struct txn *t, store *st, int64_t sample_id)
{
    sample_row s;
    int rc = store_sample_get(st, sample_id, &s);
    if (rc)
        return rc;
    return txn_note(
        t, (lease_change){s.id, s.label >= 0, s.lease_id, s.lease_expires});
}

int txn_note_sample_fn(void *ctx, int64_t sample_id)
{
    const txn_on *on = ctx;
    return txn_note_sample(on->t, on->st, sample_id);
}

static void fail(const struct req *rq, struct resp *rs, const char *code,
                 const char *detail)
{
    resp_problem(rs, rq, 503, code, "%s", detail);
    resp_header(rs, "Retry-After", "1");
}

/* After the commit: what the request changed outside the database. */
static void apply(const struct req *rq, const struct txn *t)
{
    struct app *a = rq->app;
    lease_apply(a->leases, store_write_seq(rq->st), t->changes, t->n);
    metrics_count_labels(a->metrics, t->labels);
    metrics_count_leases(a->metrics, t->leases);
    if (t->pool_changed || atomic_load(&a->pool_stale))
        app_publish_pool(a, rq->st, NULL);
    if (t->labels_changed)
        worker_poke(a->worker);
}

int app_write(const struct req *rq, struct resp *rs, write_fn fn, void *ctx)
{
    if (rq->txn) {
        int rc = fn(rq, rs, rq->txn, ctx);
        if (rc < 0 && rs->status < 400)
            fail(rq, rs, "storage_error",
                 "the database refused a write; nothing was changed");
        return rc;
    }
    /* rq is the router's (not const there): the transaction is the
     * request's while fn runs, so that nested writes join it. */
    struct req *mut = (struct req *)rq;
    struct txn t = {0};
    if (store_begin(rq->st)) {
        fail(rq, rs, "storage_busy",
             "the database is busy; nothing was "
             "changed, try again");
        return ARAL_EBUSY;
    }
    mut->txn = &t;
    int rc = fn(rq, rs, &t, ctx);
    mut->txn = NULL;
    if (rc) {
        store_rollback(rq->st);
        if (rc != WRITE_UNDO && rs->status < 400)
            fail(rq, rs, "storage_error",
                 "the database refused a write; nothing was changed");
    } else if ((rc = store_commit(rq->st)) != 0) {
        fail(rq, rs, "storage_error",
             "the database could not commit; nothing was changed");
    } else {
        apply(rq, &t);
    }
    free(t.changes);
    return rc;
}
