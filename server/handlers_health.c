/* handlers_health: liveness, readiness, version, metrics, project. */
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "handlers.h"
#include "worker.h"

void handle_health(const struct req *rq, struct resp *rs)
{
    (void)rq;
    json *o = json_new_object();
    json_set_str(o, "status", "ok");
    resp_json(rs, 200, o);
}

void handle_ready(const struct req *rq, struct resp *rs)
{
    if (!atomic_load(&rq->app->ready) || !rq->st) {
        resp_problem(rs, rq, 503, "not_ready", "starting or stopping");
        return;
    }
    json *o = json_new_object();
    json_set_str(o, "status", "ready");
    resp_json(rs, 200, o);
}

void handle_version(const struct req *rq, struct resp *rs)
{
    json *o = json_new_object();
    json_set_str(o, "version", ARALD_VERSION);
    json_set_int(o, "schema_version", store_schema_version(rq->st));
    ranking *r = ranking_acquire(&rq->app->ranking);
    if (r && r->model_version >= 0)
        json_set_int(o, "model_version", r->model_version);
    else
        json_set_null(o, "model_version");
    ranking_release(r);
    json_set_str(o, "blas", blas_config());
    resp_json(rs, 200, o);
}

void handle_metrics(const struct req *rq, struct resp *rs)
{
    lease_counts_t c;
    lease_counts(rq->app->leases, rq->now, &c);
    worker_status s;
    worker_status_get(rq->app->worker, &s);
    metrics_gauges g = {c.pool,
                        c.labeled,
                        c.leased,
                        c.free,
                        s.model_version,
                        c.labeled - s.labels_at_model,
                        s.rounds_total,
                        strcmp(s.state, "idle") != 0,
                        {0}};
    memcpy(g.round_seconds, s.round_seconds, sizeof(g.round_seconds));
    int n;
    const char *const *names = router_route_names(&n);
    rs->status = 200;
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    rs->body = metrics_render(rq->app->metrics, names, n, &g);
    rs->len = rs->body ? strlen(rs->body) : 0;
}

void handle_project(const struct req *rq, struct resp *rs)
{
    const project_info *p = &rq->app->project;
    json *o = json_new_object(), *classes = json_new_array();
    json_set_str(o, "name", p->name);
    for (int i = 0; i < p->n_classes; i++) {
        json *c = json_new_object();
        json_set_int(c, "index", i);
        json_set_str(c, "name", p->classes[i]);
        json_set_str(c, "key", p->keys[i]);
        json_push(classes, c);
    }
    json_set(o, "classes", classes);
    json *in = json_new_object();
    if (p->dim > 0) {
        json_set_str(in, "kind", "vector");
        json_set_int(in, "dim", p->dim);
    } else {
        json_set_str(in, "kind", "image");
        json_set_int(in, "height", p->height);
        json_set_int(in, "width", p->width);
        json_set_int(in, "channels", p->channels);
    }
    json_set(o, "input", in);
    ranking *r = ranking_acquire(&rq->app->ranking);
    json_set_str(o, "strategy", ranking_strategy(r));
    ranking_release(r);
    const app_config *cfg = &rq->app->cfg;
    json *policy = json_new_object();
    json_set_str(policy, "strategy", cfg->strategy);
    json_set_str(policy, "start_strategy",
                 cfg->start_typical ? "typical" : "random");
    json_set_int(policy, "retrain_every", cfg->retrain_every);
    json_set_int(policy, "min_labels", cfg->min_labels);
    json_set_int(policy, "round_iters", cfg->round_iters);
    json_set_int(policy, "round_candidates", cfg->round_candidates);
    json_set(o, "retrain_policy", policy);
    json_set_str(o, "strategy_setting", cfg->strategy);
    json_set_int(o, "retrain_every", cfg->retrain_every);
    json_set_int(o, "min_labels", cfg->min_labels);
    json_set_int(o, "round_iters", cfg->round_iters);
    lease_counts_t c;
    lease_counts(rq->app->leases, rq->now, &c);
    json *counts = json_new_object();
    json_set_int(counts, "pool", c.pool);
    json_set_int(counts, "labeled", c.labeled);
    json_set_int(counts, "leased", c.leased);
    json_set_int(counts, "queue", c.free);
    json_set(o, "counts", counts);
    json_set_int(o, "lease_ttl_seconds", rq->app->cfg.lease_ttl_s);
    resp_json(rs, 200, o);
}
