/* router: the route table, then authentication, then (for POSTs with an
 * Idempotency-Key) one transaction around the handler that also stores
 * its response, so a replay can never half-apply (DEPS.md 3.5). */
#include "router.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "fault.h"
#include "handlers.h"
#include "import.h"
#include "txn.h"
#include "util.h"

enum {
    ROLE_TOKEN = 0, /* any valid token */
    ROLE_ANNOTATE = 1,
    ROLE_INGEST = 2,
    ROLE_PUBLIC = 8, /* no token needed */
    ROLE_ADMIN_ONLY = 16,
};

struct route {
    const char *method, *pattern, *name;
    handler_fn fn;
    int roles;
    bool args; /* reads query arguments: a repeated one is refused */
};

static const struct route ROUTES[] = {
    {"GET", "/v1/health", "health", handle_health, ROLE_PUBLIC, false},
    {"GET", "/v1/ready", "ready", handle_ready, ROLE_PUBLIC, false},
    {"GET", "/v1/openapi.yaml", "openapi", handle_openapi, ROLE_PUBLIC, false},
    {"GET", "/v1/version", "version", handle_version, ROLE_TOKEN, false},
    {"GET", "/v1/metrics", "metrics", handle_metrics, ROLE_ADMIN_ONLY, false},
    {"GET", "/v1/project", "project", handle_project, ROLE_TOKEN, false},
    {"GET", "/v1/samples", "samples_list", handle_samples_list, ROLE_TOKEN,
     true},
    {"POST", "/v1/samples", "samples_post", handle_samples_post, ROLE_INGEST,
     true},
    {"GET", "/v1/samples/:id", "sample_get", handle_sample_get, ROLE_TOKEN,
     false},
    {"GET", "/v1/samples/:id/image", "sample_image", handle_sample_image,
     ROLE_TOKEN, false},
    {"POST", "/v1/leases", "leases_post", handle_leases_post, ROLE_ANNOTATE,
     false},
    {"DELETE", "/v1/leases/:id", "lease_delete", handle_lease_delete,
     ROLE_ANNOTATE, true},
    {"GET", "/v1/queue", "queue", handle_queue, ROLE_TOKEN, true},
    {"GET", "/v1/labels", "labels_list", handle_labels_list,
     ROLE_ANNOTATE | ROLE_INGEST, true},
    {"POST", "/v1/labels", "labels_post", handle_labels_post, ROLE_ANNOTATE,
     false},
    {"POST", "/v1/labels/:id/undo", "label_undo", handle_label_undo,
     ROLE_ANNOTATE, false},
    {"GET", "/v1/export", "export", handle_export, ROLE_INGEST, true},
    {"GET", "/v1/stats", "stats", handle_stats, ROLE_INGEST, false},
    {"GET", "/v1/model", "model", handle_model, ROLE_TOKEN, false},
    {"POST", "/v1/model/retrain", "model_retrain", handle_model_retrain,
     ROLE_ADMIN_ONLY, false},
    {"GET", "/v1/rounds", "rounds", handle_rounds, ROLE_TOKEN, true},
    {"GET", "/v1/rounds/:id", "round", handle_round, ROLE_TOKEN, false},
    {"GET", "/v1/events", "events", handle_events, ROLE_TOKEN, false},
    {"GET", "/v1/me", "me", handle_me, ROLE_TOKEN, false},
    {"GET", "/v1/tokens", "tokens_list", handle_tokens_list, ROLE_ADMIN_ONLY,
     true},
    {"POST", "/v1/tokens", "tokens_post", handle_tokens_post, ROLE_ADMIN_ONLY,
     false},
    {"DELETE", "/v1/tokens/:id", "token_delete", handle_token_delete,
     ROLE_ADMIN_ONLY, false},
};
#define N_ROUTES ((int)(sizeof(ROUTES) / sizeof(ROUTES[0])))
#define ROUTE_STATIC N_ROUTES
#define ROUTE_NONE (N_ROUTES + 1)

static const char *route_names[N_ROUTES + 2];

static void fill_route_names(void)
{
    for (int i = 0; i < N_ROUTES; i++)
        route_names[i] = ROUTES[i].name;
    route_names[ROUTE_STATIC] = "static";
    route_names[ROUTE_NONE] = "unrouted";
}

/* Filled once: concurrent /v1/metrics scrapes each filling it were a data
 * race (same values, but undefined behaviour; found by ThreadSanitizer). */
const char *const *router_route_names(int *n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_route_names);
    *n = N_ROUTES + 2;
    return route_names;
}

/* ---- helpers for handlers. */

const char *req_query(const struct req *rq, const char *key)
{
    for (int i = 0; i < rq->n_query; i++)
        if (!strcmp(rq->query[i].k, key))
            return rq->query[i].v;
    return NULL;
}

/* The first query argument given twice, or NULL. The handlers read the
 * first of each; a second would be dropped without a word. */
static const char *query_repeated(const struct req *rq)
{
    for (int i = 1; i < rq->n_query; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(rq->query[i].k, rq->query[j].k))
                return rq->query[i].k;
    return NULL;
}

void resp_json(struct resp *rs, int status, json *j)
{
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = json_print(j);
    rs->len = rs->body ? strlen(rs->body) : 0;
    json_free(j);
}

void resp_problem_list(struct resp *rs, const struct req *rq, int status,
                       const char *code, json *errors, const char *detail)
{
    free(rs->body);
    rs->status = status;
    rs->content_type = "application/problem+json";
    rs->body = json_problem(status, code, detail, rq->request_id, errors);
    rs->len = rs->body ? strlen(rs->body) : 0;
    rs->body_static = false;
}

void resp_problem(struct resp *rs, const struct req *rq, int status,
                  const char *code, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    resp_problem_list(rs, rq, status, code, NULL, detail);
}

void resp_header(struct resp *rs, const char *name, const char *value)
{
    if (rs->n_hdr >= 4)
        return;
    rs->hdr_name[rs->n_hdr] = name;
    snprintf(rs->hdr_value[rs->n_hdr], sizeof(rs->hdr_value[0]), "%s", value);
    rs->n_hdr++;
}

void resp_read_failed(struct resp *rs, const struct req *rq, const char *what)
{
    resp_problem(rs, rq, 503, "storage_busy",
                 "the %s could not be read; try again", what);
    resp_header(rs, "Retry-After", "1");
}

json *req_json_object(const struct req *rq, struct resp *rs)
{
    char err[160];
    json *j = json_parse(rq->body, rq->body_len, err, sizeof(err));
    if (!j) {
        resp_problem(rs, rq, 400, "bad_json", "%s", err);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_free(j);
        resp_problem(rs, rq, 400, "bad_json", "the body must be an object");
        return NULL;
    }
    return j;
}

json *req_json_fields(const struct req *rq, struct resp *rs,
                      const char *const *allowed)
{
    json *j = req_json_object(rq, rs);
    char why[100];
    if (j && json_unknown_why(j, allowed, why, sizeof(why))) {
        resp_problem(rs, rq, 400, "bad_request", "%s", why);
        json_free(j);
        return NULL;
    }
    return j;
}

int app_class_index(const struct app *a, const char *name)
{
    for (int i = 0; name && i < a->project.n_classes; i++)
        if (!strcmp(a->project.classes[i], name))
            return i;
    return -1;
}

/* ---- matching. */

/* Matches path against pattern segment by segment; ":x" takes one
 * non-empty segment. */
static bool match(const char *pattern, const char *path, const char **params,
                  char store_[REQ_MAX_PARAMS][64])
{
    int np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
        if (sl == 0)
            return false;
        if (*pattern == ':') {
            if (np >= REQ_MAX_PARAMS || sl >= 64)
                return false;
            memcpy(store_[np], path, sl);
            store_[np][sl] = 0;
            params[np] = store_[np];
            np++;
        } else if (pl != sl || memcmp(pattern, path, sl)) {
            return false;
        }
        pattern += pl, path += sl;
    }
    return !*pattern && !*path;
}

/* ---- authentication. */

static bool role_allows(const char *role, int need)
{
    if (need & ROLE_PUBLIC)
        return true;
    if (!strcmp(role, "admin"))
        return true;
    if (need & ROLE_ADMIN_ONLY)
        return false;
    if (need == ROLE_TOKEN)
        return true;
    return ((need & ROLE_ANNOTATE) && !strcmp(role, "annotate")) ||
           ((need & ROLE_INGEST) && !strcmp(role, "ingest"));
}

/* The token of "Bearer <token>" and its length, or NULL. The scheme is
 * case-insensitive and one or more spaces may follow it (RFC 9110,
 * 11.4); trailing whitespace is not part of the value (5.5). */
static const char *bearer_token(const char *a, size_t *len)
{
    if (!a || strncasecmp(a, "Bearer ", 7))
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    *len = n;
    return n && n <= 200 ? a : NULL;
}

static bool authenticate(struct req *rq, struct resp *rs)
{
    size_t len = 0;
    const char *a = bearer_token(rq->authorization, &len);
    if (!a) {
        resp_problem(rs, rq, 401, "unauthorized",
                     "send Authorization: Bearer <token>");
        resp_header(rs, "WWW-Authenticate", "Bearer");
        return false;
    }
    uint8_t hash[32];
    import_sha256(a, len, hash);
    if (store_token_lookup(rq->st, hash, &rq->token)) {
        resp_problem(rs, rq, 401, "unauthorized", "unknown or revoked token");
        resp_header(rs, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return false;
    }
    return true;
}

/* ---- idempotency. */

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = k; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

static void body_hash(const struct req *rq, uint8_t out[32])
{
    size_t pl = strlen(rq->path);
    char *buf = malloc(pl + 1 + rq->body_len);
    if (!buf) {
        memset(out, 0, 32);
        return;
    }
    memcpy(buf, rq->path, pl);
    buf[pl] = '\n';
    memcpy(buf + pl + 1, rq->body, rq->body_len);
    import_sha256(buf, pl + 1 + rq->body_len, out);
    free(buf);
}

/* Replays a stored response, or answers 409 for another body. Returns
 * false when the key is new (inside the write transaction, so that two
 * requests with one key cannot both run). */
static bool replay(const struct req *rq, struct resp *rs, const uint8_t h[32])
{
    uint8_t stored[32];
    int status;
    char *body;
    if (store_idem_get(rq->st, rq->token.name, rq->idem_key, stored, &status,
                       &body))
        return false;
    if (memcmp(stored, h, 32)) {
        free(body);
        resp_problem(rs, rq, 409, "idempotency_conflict",
                     "Idempotency-Key %s was used with another request",
                     rq->idem_key);
        return true;
    }
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = body;
    rs->len = strlen(body);
    resp_header(rs, "Idempotent-Replayed", "true");
    return true;
}

/* The handler and the stored response in one transaction: the handler's
 * own write joins it, so its changes apply only if both commit. */
static int idempotent_write(const struct req *rq, struct resp *rs,
                            struct txn *t, void *ctx)
{
    (void)t;
    handler_fn fn = *(handler_fn *)ctx;
    uint8_t h[32];
    body_hash(rq, h);
    if (replay(rq, rs, h))
        return WRITE_UNDO;
    fn(rq, rs);
    bool ok = rs->status >= 200 && rs->status < 300 && rs->body && !rs->stream;
    if (!ok)
        return WRITE_UNDO;
    return store_idem_put(rq->st, rq->token.name, rq->idem_key, h, rs->status,
                          rs->replay_body ? rs->replay_body : rs->body,
                          rq->now);
}

static void run_idempotent(struct req *rq, struct resp *rs, handler_fn fn)
{
    if (!key_ok(rq->idem_key)) {
        resp_problem(rs, rq, 400, "bad_idempotency_key",
                     "Idempotency-Key must be 1-128 visible ASCII characters");
        return;
    }
    app_write(rq, rs, idempotent_write, &fn);
}

/* ---- dispatch. */

/* 405 with the Allow header RFC 9110 (15.5.6) asks for: allow lists the
 * methods of the routes matching the path. */
static void method_not_allowed(struct req *rq, struct resp *rs,
                               const char *allow)
{
    resp_problem(rs, rq, 405, "method_not_allowed", "%s is not allowed on %s",
                 rq->method, rq->path);
    resp_header(rs, "Allow", allow);
}

static void dispatch(struct req *rq, struct resp *rs);

void router_dispatch(struct req *rq, struct resp *rs)
{
    fault_arm(rq->fault);
    dispatch(rq, rs);
    fault_disarm();
}

static void dispatch(struct req *rq, struct resp *rs)
{
    char params[REQ_MAX_PARAMS][64], allow[64] = "";
    rq->route = ROUTE_NONE;
    if (strncmp(rq->path, "/v1/", 4) && strcmp(rq->path, "/v1")) {
        rq->route = ROUTE_STATIC;
        handle_static(rq, rs);
        return;
    }
    /* HEAD is GET without the body, which libmicrohttpd leaves out. */
    const char *method = strcmp(rq->method, "HEAD") ? rq->method : "GET";
    for (int i = 0; i < N_ROUTES; i++) {
        if (!match(ROUTES[i].pattern, rq->path, rq->params, params))
            continue;
        if (strcmp(ROUTES[i].method, method)) { /* HEAD wherever GET is */
            size_t at = strlen(allow);
            snprintf(allow + at, sizeof(allow) - at, "%s%s%s", at ? ", " : "",
                     ROUTES[i].method,
                     strcmp(ROUTES[i].method, "GET") ? "" : ", HEAD");
            continue;
        }
        rq->route = i;
        if (!(ROUTES[i].roles & ROLE_PUBLIC) && !authenticate(rq, rs))
            return;
        if (!role_allows(rq->token.role, ROUTES[i].roles)) {
            resp_problem(rs, rq, 403, "forbidden", "role %s may not call %s %s",
                         rq->token.role, rq->method, ROUTES[i].pattern);
            return;
        }
        if (rq->query_overflow) {
            resp_problem(rs, rq, 400, "bad_query", "too many query arguments");
            return;
        }
        const char *twice = ROUTES[i].args ? query_repeated(rq) : NULL;
        if (twice) {
            resp_problem(rs, rq, 400, "bad_query",
                         "query argument %s given twice", twice);
            return;
        }
        if (!strcmp(rq->method, "POST") && rq->idem_key)
            run_idempotent(rq, rs, ROUTES[i].fn);
        else
            ROUTES[i].fn(rq, rs);
        return;
    }
    if (*allow)
        method_not_allowed(rq, rs, allow);
    else
        resp_problem(rs, rq, 404, "not_found", "no such endpoint: %s",
                     rq->path);
}

const char *req_annotator(const struct req *rq, const json *body,
                          struct resp *rs)
{
    const json *a = json_get(body, "annotator");
    if (!a)
        return rq->token.name;
    const char *s = json_str(a);
    if (!s || !*s || strlen(s) >= STORE_NAME_MAX) {
        resp_problem(rs, rq, 422, "bad_annotator",
                     "annotator is a string of 1-%d bytes", STORE_NAME_MAX - 1);
        return NULL;
    }
    return s;
}

bool req_param_id(const struct req *rq, struct resp *rs, int i,
                  const char *what, int64_t *out)
{
    char code[48];
    snprintf(code, sizeof(code), "unknown_%s", what);
    if (util_parse_i64(rq->params[i], 1, (int64_t)1 << 53, out) == 0)
        return true;
    resp_problem(rs, rq, 404, code, "no %s with id '%s'", what, rq->params[i]);
    return false;
}

json *render_lease(const struct req *rq, const lease_grant *g, const ranking *r)
{
    sample_row s;
    json *o = json_new_object();
    char when[40];
    json_set_int(o, "lease_id", g->lease_id);
    json_set_int(o, "sample_id", g->sample_id);
    bool known = store_sample_get(rq->st, g->sample_id, &s) == 0;
    json_set_str(o, "external_id",
                 known && s.has_external_id ? s.external_id : NULL);
    util_iso8601(g->expires_at, when, sizeof(when));
    json_set_str(o, "expires_at", when);
    render_rank_fields(o, r, g->pos);
    return o;
}

void render_rank_fields(json *o, const ranking *r, int32_t pos)
{
    /* Samples imported after the model sit unscored at the end. */
    bool scored = r && r->scores && pos >= 0 && !isnan(r->scores[pos]);
    json_set_str(o, "strategy", ranking_strategy(r));
    if (scored) {
        json_set_num(o, "score", r->scores[pos]);
        json_set_int(o, "rank", pos + 1);
        /* the label-free start ranks without a model: these are null */
        if (r->pseudo[pos] >= 0)
            json_set_int(o, "pseudo_label", r->pseudo[pos]);
        else
            json_set_null(o, "pseudo_label");
        if (!isnan(r->confidence[pos]))
            json_set_num(o, "confidence", r->confidence[pos]);
        else
            json_set_null(o, "confidence");
        if (r->sampler)
            json_set_num(o, "sampler", r->sampler[pos]);
        else
            json_set_null(o, "sampler");
        if (r->model_version >= 0)
            json_set_int(o, "model_version", r->model_version);
        else
            json_set_null(o, "model_version");
    } else {
        json_set_null(o, "score");
        json_set_null(o, "rank");
        json_set_null(o, "pseudo_label");
        json_set_null(o, "confidence");
        json_set_null(o, "sampler");
        json_set_null(o, "model_version");
    }
}

static const char *sample_state(const sample_row *s, int64_t now)
{
    if (s->label >= 0)
        return "labeled";
    if (s->lease_id && s->lease_expires > now)
        return "leased";
    return "unlabeled";
}

json *render_list(struct list_ctx *c, int64_t limit, int64_t total)
{
    json *o = json_new_object();
    char next[24];
    snprintf(next, sizeof(next), "%lld", (long long)c->last);
    json_set(o, "items", c->items);
    c->items = NULL;
    json_set_str(o, "next_cursor", c->count == limit ? next : NULL);
    json_set_int(o, "total", total);
    return o;
}

json *render_sample(const struct req *rq, const sample_row *s)
{
    const project_info *p = &rq->app->project;
    json *o = json_new_object();
    json_set_int(o, "sample_id", s->id);
    json_set_str(o, "external_id", s->has_external_id ? s->external_id : NULL);
    json_set_str(o, "split", s->split);
    json_set_str(o, "state", sample_state(s, rq->now));
    json_set_str(o, "label", s->label >= 0 ? p->classes[s->label] : NULL);
    /* The eval split's truth is shown; the pool's hidden truth never is. */
    bool eval = !strcmp(s->split, "eval") && s->known_label >= 0;
    json_set_str(o, "known_label", eval ? p->classes[s->known_label] : NULL);
    ranking *r = ranking_acquire(&rq->app->ranking);
    render_rank_fields(o, r, r ? ranking_pos(r, s->id) : -1);
    ranking_release(r);
    return o;
}
