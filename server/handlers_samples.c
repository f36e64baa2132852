/* handlers_samples: list, read, render as PNG, and import samples. An
 * import decodes and validates every item before it writes anything, so a
 * bad item refuses the whole request and changes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fault.h"
#include "handlers.h"
#include "import.h"
#include "txn.h"
#include "util.h"

static void list_one(void *ctx, const sample_row *r)
{
    struct list_ctx *c = ctx;
    json_push(c->items, render_sample(c->rq, r));
    c->last = r->id;
    c->count++;
}

static bool valid_filter(const char *state, const char *split)
{
    bool st_ok = !state || !strcmp(state, "unlabeled") ||
                 !strcmp(state, "leased") || !strcmp(state, "labeled");
    bool sp_ok = !split || !strcmp(split, "pool") || !strcmp(split, "eval");
    return st_ok && sp_ok;
}

/* A listing's total: the pool's samples in a state as the lease table
 * counts them (it follows every commit, and another process's import
 * within a second), and the eval split's, which are never leased or
 * labeled, from its index. Counting them in SQLite scanned the whole
 * pool for every page: 70-235 ms a page at 1,000,000 samples
 * (bench/run_pool_reads.sh). */
static int list_total(const struct req *rq, const char *state,
                      const char *split, int64_t *total)
{
    lease_counts_t c;
    lease_counts(rq->app->leases, rq->now, &c);
    bool pool = !split || !strcmp(split, "pool");
    bool eval = (!split || !strcmp(split, "eval")) &&
                (!state || !strcmp(state, "unlabeled"));
    *total = !pool                         ? 0
             : !state                      ? c.pool
             : !strcmp(state, "unlabeled") ? c.free
             : !strcmp(state, "leased")    ? c.leased
                                           : c.labeled;
    int64_t n = 0;
    int rc = eval ? store_eval_count(rq->st, &n) : 0;
    *total += n;
    return rc;
}

void handle_samples_list(const struct req *rq, struct resp *rs)
{
    const char *state = req_query(rq, "state"), *split = req_query(rq, "split");
    const char *cursor = req_query(rq, "cursor"), *lim = req_query(rq, "limit");
    int64_t after = 0, limit = 100, total;
    if (!valid_filter(state, split) ||
        (cursor && util_parse_i64(cursor, 0, (int64_t)1 << 53, &after)) ||
        (lim && util_parse_i64(lim, 1, LIST_LIMIT_MAX, &limit))) {
        resp_problem(rs, rq, 400, "bad_query",
                     "state is unlabeled|leased|labeled, split is pool|eval, "
                     "cursor is a sample id, limit is 1..%d",
                     LIST_LIMIT_MAX);
        return;
    }
    struct list_ctx c = {rq, json_new_array(), 0, 0};
    int rc = store_samples_list(rq->st, state, split, rq->now, after,
                                (int)limit, list_one, &c);
    if (!rc)
        rc = list_total(rq, state, split, &total);
    if (rc) {
        json_free(c.items);
        resp_problem(rs, rq, 503, "storage_error", "could not read samples");
        return;
    }
    resp_json(rs, 200, render_list(&c, limit, total));
}

/* Loads sample :id or answers 404. */
static bool load_sample(const struct req *rq, struct resp *rs, sample_row *s)
{
    int64_t id;
    if (!req_param_id(rq, rs, 0, "sample", &id))
        return false;
    int rc = store_sample_get(rq->st, id, s);
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_sample", "no sample %lld",
                     (long long)id);
    else if (rc)
        resp_problem(rs, rq, 503, "storage_error", "could not read sample");
    return rc == 0;
}

void handle_sample_get(const struct req *rq, struct resp *rs)
{
    sample_row s;
    if (load_sample(rq, rs, &s))
        resp_json(rs, 200, render_sample(rq, &s));
}

void handle_sample_image(const struct req *rq, struct resp *rs)
{
    sample_row s;
    if (!load_sample(rq, rs, &s))
        return;
    const project_info *p = &rq->app->project;
    if (p->dim > 0) {
        resp_problem(rs, rq, 404, "no_image",
                     "samples of this project are vectors, not images");
        return;
    }
    uint8_t *px = NULL, *png = NULL;
    size_t len = 0, plen = 0;
    int rc = store_sample_data(rq->st, s.id, &px, &len);
    if (!rc && len != project_sample_bytes(p))
        rc = ARAL_EINVAL;
    if (!rc)
        rc = import_png_encode(p, px, &png, &plen);
    free(px);
    if (rc) {
        resp_problem(rs, rq, 503, "storage_error", "could not render");
        return;
    }
    rs->status = 200;
    rs->content_type = "image/png";
    rs->body = (char *)png;
    rs->len = plen;
    /* A sample's bytes never change once stored. */
    resp_header(rs, "Cache-Control", "private, max-age=86400, immutable");
}

/* ---- import. */

typedef struct item {
    uint8_t *data;
    char *external_id;
    const char *split;
    int known_label;
} item;

typedef struct batch {
    item *items;
    int n;
    json *errors;
} batch;

static void batch_free(batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->items[i].data);
        free(b->items[i].external_id);
    }
    free(b->items);
    json_free(b->errors);
}

static void item_error(batch *b, int index, const char *code, const char *msg)
{
    json *e = json_new_object();
    json_set_int(e, "index", index);
    json_set_str(e, "code", code);
    json_set_str(e, "detail", msg);
    json_push(b->errors, e);
}

/* 0, or ARAL_EINVAL (not dim numbers) or ARAL_ETOOBIG (a value out of
 * range). */
static int decode_vector(const project_info *p, const json *v, uint8_t *out)
{
    if (!json_is_array(v) || json_size(v) != p->dim)
        return ARAL_EINVAL;
    int i = 0;
    for (json *x = json_first(v); x; x = json_next(x), i++) {
        if (!json_is_number(x))
            return ARAL_EINVAL;
        double d = json_num(x);
        if (!isfinite(d) || fabs(d) > PROJECT_VECTOR_MAX)
            return ARAL_ETOOBIG;
        float f = (float)d;
        memcpy(out + 4 * i, &f, 4); /* x86-64 and arm64: little-endian */
    }
    return 0;
}

/* Decodes one JSON item's payload into it->data. */
static void decode_payload(const struct req *rq, batch *b, int idx,
                           const json *j, item *it)
{
    const project_info *p = &rq->app->project;
    const json *vec = json_get(j, "vector");
    const char *b64 = json_str(json_get(j, "image_base64"));
    char why[200];
    if ((vec != NULL) == (b64 != NULL)) {
        item_error(b, idx, "bad_item",
                   "give exactly one of vector or image_base64");
    } else if (vec) {
        int rc = p->dim ? decode_vector(p, vec, it->data) : ARAL_EINVAL;
        if (rc == ARAL_ETOOBIG) {
            item_error(b, idx, "bad_value",
                       "vector values are numbers of magnitude at most 1e9");
        } else if (rc) {
            snprintf(why, sizeof(why),
                     "wrong shape: the project takes %s%d floats",
                     p->dim ? "vectors of " : "images, not vectors; ", p->dim);
            item_error(b, idx, "wrong_shape", why);
        }
    } else {
        uint8_t *raw;
        size_t len;
        if (import_base64(b64, &raw, &len)) {
            item_error(b, idx, "bad_base64", "image_base64 is not base64");
            return;
        }
        if (import_decode_image(p, raw, len, it->data, why, sizeof(why)))
            item_error(b, idx,
                       strstr(why, "wrong shape") ? "wrong_shape" : "bad_image",
                       why);
        free(raw);
    }
}

/* Fields common to every kind of item: external_id, split, label. */
static void decode_meta(const struct req *rq, batch *b, int idx,
                        const char *ext, const char *split, const char *label,
                        item *it)
{
    if (ext && (strlen(ext) == 0 || strlen(ext) > 255))
        item_error(b, idx, "bad_external_id", "external_id is 1-255 chars");
    else if (ext && !(it->external_id = strdup(ext)))
        item_error(b, idx, "no_memory", "out of memory");
    split = split ? split : "pool";
    if (strcmp(split, "pool") && strcmp(split, "eval"))
        item_error(b, idx, "bad_split", "split is pool or eval");
    it->split = !strcmp(split, "eval") ? "eval" : "pool";
    it->known_label = label ? app_class_index(rq->app, label) : -1;
    if (label && it->known_label < 0)
        item_error(b, idx, "unknown_class", "label is not one of the classes");
}

static int batch_alloc(const struct req *rq, batch *b, int n)
{
    size_t each = project_sample_bytes(&rq->app->project);
    b->items = calloc((size_t)n, sizeof(item));
    b->errors = json_new_array();
    if (!b->items)
        return ARAL_ENOMEM;
    for (int i = 0; i < n; i++, b->n++)
        if (!(b->items[i].data = malloc(each)))
            return ARAL_ENOMEM;
    return 0;
}

static int parse_json_items(const struct req *rq, struct resp *rs, batch *b)
{
    static const char *const item_fields[] = {
        "vector", "image_base64", "external_id", "split", "label", NULL};
    static const char *const fields[] = {"items", NULL};
    json *body = req_json_fields(rq, rs, fields);
    if (!body)
        return ARAL_EINVAL;
    json *items = json_get(body, "items");
    int n = json_size(items);
    int max = rq->app->cfg.max_batch;
    if (!json_is_array(items) || n == 0 || n > max) {
        json_free(body);
        resp_problem(rs, rq, n > max ? 413 : 400,
                     n > max ? "batch_too_large" : "bad_request",
                     "items is an array of 1..%d samples", max);
        return ARAL_EINVAL;
    }
    int rc = batch_alloc(rq, b, n), i = 0;
    for (json *j = json_first(items); !rc && j; j = json_next(j), i++) {
        if (!json_is_object(j)) {
            item_error(b, i, "bad_item", "each item is an object");
            continue;
        }
        char why[100];
        if (json_unknown_why(j, item_fields, why, sizeof(why))) {
            item_error(b, i, "bad_item", why);
            continue;
        }
        decode_meta(rq, b, i, json_str(json_get(j, "external_id")),
                    json_str(json_get(j, "split")),
                    json_str(json_get(j, "label")), &b->items[i]);
        decode_payload(rq, b, i, j, &b->items[i]);
    }
    json_free(body);
    return rc;
}

/* A raw image body (Content-Type image/png or image/jpeg). */
static int parse_image_body(const struct req *rq, batch *b)
{
    int rc = batch_alloc(rq, b, 1);
    char why[200];
    if (rc)
        return rc;
    decode_meta(rq, b, 0, req_query(rq, "external_id"), req_query(rq, "split"),
                req_query(rq, "label"), b->items);
    if (import_decode_image(&rq->app->project, (const uint8_t *)rq->body,
                            rq->body_len, b->items[0].data, why, sizeof(why)))
        item_error(b, 0,
                   strstr(why, "wrong shape") ? "wrong_shape" : "bad_image",
                   why);
    return 0;
}

typedef struct import_job {
    batch *b;
    json *out;
} import_job;

static int insert_all(const struct req *rq, struct resp *rs, struct txn *t,
                      void *ctx)
{
    (void)rs;
    batch *b = ((import_job *)ctx)->b;
    json *out = ((import_job *)ctx)->out;
    size_t each = project_sample_bytes(&rq->app->project);
    int inserted = 0, dups = 0, rc = 0;
    json *items = json_new_array();
    for (int i = 0; !rc && i < b->n; i++) {
        item *it = &b->items[i];
        uint8_t hash[32];
        int64_t id;
        bool dup;
        import_sample_hash(it->data, each, hash);
        rc = store_sample_insert(rq->st, hash, it->external_id, it->split,
                                 it->data, each, it->known_label, rq->now, &id,
                                 &dup);
        json *o = json_new_object();
        json_set_int(o, "sample_id", id);
        json_set_bool(o, "duplicate", dup);
        json_push(items, o);
        dup ? dups++ : inserted++;
    }
    if (rc) {
        json_free(items);
        return rc;
    }
    json_set(out, "items", items);
    json_set_int(out, "inserted", inserted);
    json_set_int(out, "duplicates", dups);
    t->pool_changed = inserted > 0;
    return 0;
}

typedef struct idx_job {
    const idx_data *img;
    const char *split, *name;
    import_stats stats;
    char why[200];
} idx_job;

static int insert_idx(const struct req *rq, struct resp *rs, struct txn *t,
                      void *ctx)
{
    (void)rs;
    idx_job *j = ctx;
    int rc =
        import_idx_into(rq->st, &rq->app->project, j->img, NULL, j->split,
                        j->name, rq->now, &j->stats, j->why, sizeof(j->why));
    t->pool_changed = !rc && j->stats.inserted > 0;
    return rc;
}

static int parse_idx_body(const struct req *rq, struct resp *rs, json *out)
{
    idx_data img;
    char why[200];
    const char *split = req_query(rq, "split");
    const char *name = req_query(rq, "name");
    split = split ? split : "pool";
    if (strcmp(split, "pool") && strcmp(split, "eval")) {
        resp_problem(rs, rq, 400, "bad_split", "split is pool or eval");
        return ARAL_EINVAL;
    }
    /* Inflated, an upload stays within the body limit too: a gzip body
     * of 1.5 MB once made arald allocate 1.5 GB to inflate it. */
    int rc =
        fault_hit("alloc")
            ? ARAL_ENOMEM
            : idx_parse((const uint8_t *)rq->body, rq->body_len,
                        (size_t)rq->app->cfg.max_body, &img, why, sizeof(why));
    if (rc == ARAL_ETOOBIG)
        resp_problem(rs, rq, 413, "body_too_large",
                     "%s (max_body, counted after gunzip)", why);
    else if (rc == ARAL_ENOMEM) {
        resp_problem(rs, rq, 503, "no_memory",
                     "out of memory; nothing was imported");
        resp_header(rs, "Retry-After", "1");
    } else if (rc)
        resp_problem(rs, rq, 422, "bad_idx", "%s", why);
    if (rc)
        return rc;
    idx_job j = {.img = &img,
                 .split = split,
                 .name = name && *name && strlen(name) < 200 ? name : "upload"};
    /* Shapes first: a wrong file is a 422, not a failed write. */
    rc = import_idx_check(&rq->app->project, &img, NULL, j.why, sizeof(j.why));
    if (rc == ARAL_EINVAL) {
        free(img.data);
        resp_problem(rs, rq, 422,
                     strstr(j.why, "wrong shape") ? "wrong_shape" : "bad_idx",
                     "%s", j.why);
        return rc;
    }
    rc = app_write(rq, rs, insert_idx, &j);
    free(img.data);
    json_set_int(out, "inserted", j.stats.inserted);
    json_set_int(out, "duplicates", j.stats.duplicates);
    return rc;
}

static bool has_type(const struct req *rq, const char *type)
{
    const char *ct = rq->content_type;
    return ct && !strncmp(ct, type, strlen(type)) &&
           (ct[strlen(type)] == 0 || ct[strlen(type)] == ';');
}

void handle_samples_post(const struct req *rq, struct resp *rs)
{
    batch b = {0};
    json *out = json_new_object();
    int rc;
    if (has_type(rq, "application/x-idx")) {
        if (!parse_idx_body(rq, rs, out))
            resp_json(rs, 200, out);
        else
            json_free(out);
        return;
    }
    if (has_type(rq, "image/png") || has_type(rq, "image/jpeg"))
        rc = parse_image_body(rq, &b);
    else if (has_type(rq, "application/json") || !rq->content_type)
        rc = parse_json_items(rq, rs, &b);
    else {
        resp_problem(rs, rq, 415, "unsupported_media_type",
                     "send application/json, image/png, image/jpeg or "
                     "application/x-idx");
        rc = ARAL_EINVAL;
    }
    if (!rc && json_size(b.errors) > 0) {
        resp_problem_list(rs, rq, 422, "invalid_samples", b.errors,
                          "some samples were refused; none was imported");
        b.errors = NULL;
        rc = ARAL_EINVAL;
    } else if (!rc) {
        rc = app_write(rq, rs, insert_all, &(import_job){&b, out});
    }
    if (!rc)
        resp_json(rs, 200, out);
    else
        json_free(out);
    batch_free(&b);
}
