/* handlers_model: the retrain worker seen from outside: its status, a
 * round on demand, and the history of rounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "handlers.h"
#include "util.h"
#include "worker.h"

#define ROUNDS_LIMIT_MAX 100

static void set_losses(json *o, const aral_losses *l)
{
    json *j = json_new_object();
    json_set_num(j, "d", l->d);
    json_set_num(j, "d_class", l->d_class);
    json_set_num(j, "fm", l->fm);
    json_set_num(j, "rec", l->rec);
    json_set_num(j, "kl", l->kl);
    json_set_num(j, "ge", l->ge);
    json_set_num(j, "s", l->s);
    json_set(o, "losses", j);
}

static void set_version(json *o, const char *key, int64_t v)
{
    if (v >= 0)
        json_set_int(o, key, v);
    else
        json_set_null(o, key);
}

void handle_model(const struct req *rq, struct resp *rs)
{
    worker_status s;
    json *o = worker_status_json(rq->app->worker, &s);
    if (s.has_losses)
        set_losses(o, &s.losses);
    else
        json_set_null(o, "losses");
    json_set_int(o, "rounds_published", s.rounds_total);
    resp_json(rs, 200, o);
}

void handle_model_retrain(const struct req *rq, struct resp *rs)
{
    if (worker_retrain(rq->app->worker)) {
        resp_problem(rs, rq, 409, "round_running",
                     "a round is running or already asked for");
        return;
    }
    json *o = json_new_object();
    json_set_str(o, "status", "requested");
    resp_json(rs, 202, o);
}

/* A round's yes/no that older rounds may not know: -1 is null. */
static void set_flag(json *o, const char *name, int v)
{
    if (v < 0)
        json_set_null(o, name);
    else
        json_set_bool(o, name, v);
}

/* How the round left its classifier (aral_last_fit): the labels its
 * average and its last step got wrong, and which one it kept. */
static void set_fit(json *o, const round_row *r)
{
    if (r->kept_last_step < 0) {
        json_set_null(o, "classifier");
        json_set_null(o, "labeled_wrong");
        return;
    }
    json_set_str(o, "classifier", r->kept_last_step ? "last_step" : "average");
    json *w = json_new_object();
    json_set_int(w, "average", r->average_wrong);
    json_set_int(w, "last_step", r->last_step_wrong);
    json_set(o, "labeled_wrong", w);
}

static json *render_round(const round_row *r)
{
    static const char *const phase[5] = {"read", "train", "score", "store",
                                         "publish"};
    json *o = json_new_object(), *secs = json_new_object();
    json_set_int(o, "round", r->id);
    set_version(o, "model_version", r->model_version);
    json_set_str(o, "status", r->status);
    json_set_str(o, "reason", r->reason[0] ? r->reason : NULL);
    json_set_str(o, "strategy", r->strategy);
    set_flag(o, "uncertain_first", r->uncertain_first);
    set_flag(o, "joined_components", r->joined_components);
    set_fit(o, r);
    json_set_int(o, "labels_used", r->labels_used);
    json_set_int(o, "seed", r->seed);
    json_set_int(o, "iterations", r->iterations);
    for (int i = 0; i < 5; i++)
        json_set_num(secs, phase[i], r->seconds[i]);
    json_set(o, "seconds", secs);
    json *losses =
        r->losses[0] ? json_parse(r->losses, strlen(r->losses), NULL, 0) : NULL;
    json *pc = r->per_class[0]
                   ? json_parse(r->per_class, strlen(r->per_class), NULL, 0)
                   : NULL;
    json_set(o, "losses", losses ? losses : json_new_object());
    json_set_num(o, "eval_accuracy",
                 r->eval_accuracy >= 0 ? r->eval_accuracy : NAN);
    json_set(o, "per_class_accuracy", pc ? pc : json_new_object());
    char when[40];
    util_iso8601(r->started_at, when, sizeof(when));
    json_set_str(o, "started_at", when);
    util_iso8601(r->finished_at, when, sizeof(when));
    json_set_str(o, "finished_at", when);
    return o;
}

static void push_round(void *ctx, const round_row *r)
{
    json **c = ctx;
    json_push(c[0], render_round(r));
    json_set_int(c[1], "last", r->id);
}

void handle_rounds(const struct req *rq, struct resp *rs)
{
    int64_t after = 0, limit = 20;
    const char *cur = req_query(rq, "cursor"), *lim = req_query(rq, "limit");
    if ((cur && util_parse_i64(cur, 0, INT64_MAX, &after)) ||
        (lim && util_parse_i64(lim, 1, ROUNDS_LIMIT_MAX, &limit))) {
        resp_problem(rs, rq, 400, "bad_query",
                     "cursor is a round number, limit is 1..%d",
                     ROUNDS_LIMIT_MAX);
        return;
    }
    json *o = json_new_object(), *items = json_new_array();
    json *last = json_new_object();
    json *ctx[2] = {items, last};
    if (store_rounds_list(rq->st, after, (int)limit, push_round, ctx)) {
        json_free(o), json_free(items), json_free(last);
        resp_problem(rs, rq, 503, "storage_error", "rounds not readable");
        return;
    }
    int64_t next = 0;
    bool more =
        json_size(items) == limit && json_int(json_get(last, "last"), &next);
    json_set(o, "items", items);
    if (more) {
        char c[24];
        snprintf(c, sizeof(c), "%lld", (long long)next);
        json_set_str(o, "next_cursor", c);
    } else {
        json_set_null(o, "next_cursor");
    }
    json_free(last);
    resp_json(rs, 200, o);
}

void handle_round(const struct req *rq, struct resp *rs)
{
    int64_t id;
    if (!req_param_id(rq, rs, 0, "round", &id))
        return;
    round_row *r = malloc(sizeof(*r));
    int rc = r ? store_round_get(rq->st, id, r) : ARAL_ENOMEM;
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_round", "no round %lld",
                     (long long)id);
    else if (rc)
        resp_problem(rs, rq, 503, "storage_error", "round not readable");
    else
        resp_json(rs, 200, render_round(r));
    free(r);
}

void handle_events(const struct req *rq, struct resp *rs)
{
    char *state = worker_event_data(rq->app->worker);
    event_sub *sub =
        state ? events_subscribe(rq->app->events, rq->token.id, "state", state)
              : NULL;
    free(state);
    if (!sub) {
        resp_problem(rs, rq, 503, "no_memory", "out of memory");
        return;
    }
    rs->status = 200;
    rs->content_type = "text/event-stream";
    resp_header(rs, "Cache-Control", "no-cache");
    rs->stream = events_read;
    rs->stream_ctx = sub;
    rs->stream_free = events_unsubscribe;
    rs->stream_attach = events_attach;
}
