/* handlers_leases: hand out samples, take them back, show the queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "handlers.h"
#include "txn.h"
#include "util.h"

#define LEASE_MAX_N LEASE_TAKE_MAX
#define QUEUE_LIMIT_MAX 1000

typedef struct lease_job {
    const char *who;
    int n;
} lease_job;

static int write_leases(const struct req *rq, struct resp *rs, struct txn *t,
                        void *ctx)
{
    lease_job *job = ctx;
    lease_grant g[LEASE_MAX_N];
    int got = 0;
    ranking *r;
    lease_holder who = {job->who, rq->token.id};
    int rc = lease_take(rq->app->leases, rq->st, &who, job->n, rq->now,
                        rq->app->cfg.lease_ttl_s * 1000LL, g, &got, &r);
    for (int i = 0; !rc && i < got; i++)
        rc = txn_note(t, (lease_change){g[i].sample_id, false, g[i].lease_id,
                                        g[i].expires_at});
    if (rc) {
        ranking_release(r);
        return rc;
    }
    json *o = json_new_object(), *items = json_new_array();
    for (int i = 0; i < got; i++)
        json_push(items, render_lease(rq, &g[i], r));
    ranking_release(r);
    json_set(o, "items", items);
    t->leases += got;
    resp_json(rs, 200, o);
    return 0;
}

void handle_leases_post(const struct req *rq, struct resp *rs)
{
    static const char *const fields[] = {"annotator", "n", NULL};
    json *body = req_json_fields(rq, rs, fields);
    if (!body)
        return;
    int64_t n = 1;
    const json *jn = json_get(body, "n");
    lease_job job = {req_annotator(rq, body, rs), 1};
    if (job.who && jn && (!json_int(jn, &n) || n < 1 || n > LEASE_MAX_N)) {
        resp_problem(rs, rq, 422, "bad_n", "n is an integer in 1..%d",
                     LEASE_MAX_N);
        job.who = NULL;
    }
    job.n = (int)n;
    if (job.who)
        app_write(rq, rs, write_leases, &job);
    json_free(body);
}

typedef struct release_job {
    int64_t id;
    bool skip; /* false: handed back unseen (?reason=return) */
} release_job;

static int write_release(const struct req *rq, struct resp *rs, struct txn *t,
                         void *ctx)
{
    const release_job *job = ctx;
    int64_t id = job->id;
    lease_row l;
    int rc = store_lease_get(rq->st, id, &l);
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_lease", "no lease %lld",
                     (long long)id);
    if (rc)
        return rc;
    if (strcmp(l.state, "active")) {
        resp_problem(rs, rq, 409, "lease_closed", "lease %lld is %s",
                     (long long)id, l.state);
        return ARAL_ECONFLICT;
    }
    rc = store_lease_release(rq->st, id, l.sample_id, job->skip);
    if (!rc)
        rc = txn_note_sample(t, rq->st, l.sample_id);
    if (rc)
        return rc;
    json *o = json_new_object();
    json_set_int(o, "lease_id", id);
    json_set_int(o, "sample_id", l.sample_id);
    json_set_str(o, "state", "released");
    json_set_bool(o, "skipped", job->skip);
    resp_json(rs, 200, o);
    return 0;
}

/* A skip (the default, or ?reason=skip) keeps the sample from the
 * lease's annotator from now on: whoever pressed "skip" does not want it
 * back a few samples later. ?reason=return hands it back unseen. */
void handle_lease_delete(const struct req *rq, struct resp *rs)
{
    const char *reason = req_query(rq, "reason");
    release_job job = {0, !reason || !strcmp(reason, "skip")};
    if (reason && !job.skip && strcmp(reason, "return")) {
        resp_problem(rs, rq, 400, "bad_query", "reason is skip or return");
        return;
    }
    if (req_param_id(rq, rs, 0, "lease", &job.id))
        app_write(rq, rs, write_release, &job);
}

void handle_queue(const struct req *rq, struct resp *rs)
{
    const char *lim = req_query(rq, "limit");
    int64_t limit = 20;
    if (lim && util_parse_i64(lim, 1, QUEUE_LIMIT_MAX, &limit)) {
        resp_problem(rs, rq, 400, "bad_query", "limit is 1..%d",
                     QUEUE_LIMIT_MAX);
        return;
    }
    int64_t ids[QUEUE_LIMIT_MAX];
    int32_t pos[QUEUE_LIMIT_MAX];
    ranking *r = lease_table_ranking(rq->app->leases);
    int n = lease_peek(rq->app->leases, rq->now, (int)limit, ids, pos);
    json *o = json_new_object(), *items = json_new_array();
    for (int i = 0; i < n; i++) {
        json *it = json_new_object();
        json_set_int(it, "sample_id", ids[i]);
        render_rank_fields(it, r, pos[i]);
        json_push(items, it);
    }
    lease_counts_t c;
    lease_counts(rq->app->leases, rq->now, &c);
    json_set_str(o, "strategy", ranking_strategy(r));
    json_set(o, "items", items);
    json_set_null(o, "next_cursor");
    json_set_int(o, "total", c.free);
    ranking_release(r);
    resp_json(rs, 200, o);
}
