/* router: requests as plain structs, the route table, authentication and
 * idempotency. http.c fills a struct req and hands it to router_dispatch;
 * handlers are plain functions req -> resp that never see MHD.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "json.h"

#define REQ_MAX_QUERY 16
#define REQ_MAX_PARAMS 4

struct kv {
    const char *k, *v;
};

struct req {
    struct app *app;
    store *st;                          /* this thread's connection */
    const char *method, *path;          /* path: percent-decoded by MHD */
    const char *params[REQ_MAX_PARAMS]; /* ":x" path segments, in order */
    struct kv query[REQ_MAX_QUERY];
    int n_query;
    bool query_overflow;
    const char *content_type, *idem_key, *authorization, *if_none_match;
    const char *body; /* NUL-terminated, body_len bytes */
    size_t body_len;
    char request_id[24];
    int64_t now;       /* unix ms at arrival */
    token_row token;   /* the authenticated principal (id 0: none) */
    int route;         /* index in the route table, -1 if none */
    const char *fault; /* X-Arald-Fault (tests; see fault.h) */
    struct txn *txn;   /* the open write transaction (txn.h) */
};

/* A streamed body: called until it returns STREAM_END; 0..max bytes per
 * call (0 only after suspending, see stream_attach), or STREAM_ERROR to cut the
 * connection before the last chunk (the status line is gone already: a
 * truncated transfer is the only honest signal left). Runs on the connection's
 * own MHD thread. */
typedef long (*stream_fn)(void *ctx, char *buf, size_t max);
#define STREAM_END (-1L)
#define STREAM_ERROR (-2L)

struct resp {
    int status;
    const char *content_type;
    char *body; /* malloc'd (freed by http.c) unless body_static */
    size_t len;
    /* What an Idempotency-Key replay answers, when it must differ from
     * body (a secret shown once); malloc'd, NULL: body. */
    char *replay_body;
    bool body_static;
    const char *hdr_name[4];
    char hdr_value[4][160];
    int n_hdr;
    stream_fn stream;
    void *stream_ctx;
    void (*stream_free)(void *ctx);
    /* A stream that waits for data (events.h): http.c hands it how to
     * suspend and resume its connection; the stream_fn then returns 0
     * after suspending. */
    void (*stream_attach)(void *ctx, void (*suspend)(void *),
                          void (*resume)(void *), void *handle);
};

/* Routes and answers rq, filling rs. Never fails: errors become 4xx/5xx
 * problem bodies. */
void router_dispatch(struct req *rq, struct resp *rs);
/* Route names for metrics, and their count. */
const char *const *router_route_names(int *n);

/* ---- helpers for handlers. */

/* Value of query argument key (exact, case-sensitive) or NULL. */
const char *req_query(const struct req *rq, const char *key);
/* Sets a JSON body (consumes j). */
void resp_json(struct resp *rs, int status, json *j);
/* A problem+json error; detail is printf-formatted. */
void resp_problem(struct resp *rs, const struct req *rq, int status,
                  const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The same with an errors array (consumed). */
void resp_problem_list(struct resp *rs, const struct req *rq, int status,
                       const char *code, json *errors, const char *detail);
void resp_header(struct resp *rs, const char *name, const char *value);
/* 503 storage_busy with Retry-After: 1, for a read that failed ("the
 * <what> could not be read; try again"). */
void resp_read_failed(struct resp *rs, const struct req *rq, const char *what);
/* Parses the body as a JSON object, or answers 400 and returns NULL. */
json *req_json_object(const struct req *rq, struct resp *rs);
/* The same, also answering 400 bad_request for a member not in allowed
 * (NULL-terminated). */
json *req_json_fields(const struct req *rq, struct resp *rs,
                      const char *const *allowed);
/* The annotator the body names (borrowed from it), else the token's
 * name; answers 422 bad_annotator and returns NULL for a bad one. */
const char *req_annotator(const struct req *rq, const json *body,
                          struct resp *rs);
/* The class index of a class name, or -1. */
int app_class_index(const struct app *a, const char *name);
/* Path parameter i as a positive id; answers 404 with code
 * "unknown_<what>" and returns false otherwise. */
bool req_param_id(const struct req *rq, struct resp *rs, int i,
                  const char *what, int64_t *out);
/* A keyset page being filled (GET /v1/samples, /v1/labels, /v1/tokens): its
 * items, how many, and the key of the last, which the next page starts after.
 */
#define LIST_LIMIT_MAX 1000
struct list_ctx {
    const struct req *rq;
    json *items;
    int64_t last;
    int count;
};
/* {items (taken from c), next_cursor (the last key if the page is full,
 * else null), total}. */
json *render_list(struct list_ctx *c, int64_t limit, int64_t total);
/* A sample as the API shows it (GET /v1/samples/{id}, lists). */
json *render_sample(const struct req *rq, const sample_row *s);
/* Adds score, rank, pseudo_label, confidence, model_version and
 * strategy for position pos of r (nulls for a random order). */
void render_rank_fields(json *o, const ranking *r, int32_t pos);
/* A lease as the API hands it out (POST /v1/leases, an undo's lease): its
 * ids, the sample's external_id, the expiry and the rank fields of
 * position g->pos of r. */
json *render_lease(const struct req *rq, const lease_grant *g,
                   const ranking *r);
