/* handlers_labels: take labels (one or a batch, all or nothing), undo
 * them, list one annotator's, export the current labels as a stream.
 *
 * A label through a lease is accepted while the lease is live, and also
 * after it expired as long as nobody else has leased or labeled the
 * sample since: the annotator's work is not thrown away for being slow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fault.h"
#include "handlers.h"
#include "txn.h"
#include "util.h"

typedef struct label_item {
    int64_t lease_id, sample_id;
    int64_t model_version; /* of the ranking that served the sample */
    int label;
    char annotator[STORE_NAME_MAX];
} label_item;

/* model_version, or null for the random order (-1). */
static void set_version(json *o, int64_t v)
{
    if (v >= 0)
        json_set_int(o, "model_version", v);
    else
        json_set_null(o, "model_version");
}

static void item_error(json *errors, int index, const char *code,
                       const char *detail)
{
    json *e = json_new_object();
    json_set_int(e, "index", index);
    json_set_str(e, "code", code);
    json_set_str(e, "detail", detail);
    json_push(errors, e);
}

static void parse_item(const struct req *rq, const json *j, int idx,
                       label_item *it, json *errors)
{
    const json *lid = json_get(j, "lease_id"), *sid = json_get(j, "sample_id");
    const json *ann = json_get(j, "annotator");
    static const char *const fields[] = {"lease_id", "sample_id", "label",
                                         "annotator", NULL};
    char why[100];
    memset(it, 0, sizeof(*it));
    if (json_unknown_why(j, fields, why, sizeof(why))) {
        item_error(errors, idx, "bad_item", why);
        return;
    }
    if (!json_is_object(j) || (lid != NULL) == (sid != NULL)) {
        item_error(errors, idx, "bad_item",
                   "give exactly one of lease_id or sample_id");
        return;
    }
    if ((lid && (!json_int(lid, &it->lease_id) || it->lease_id < 1)) ||
        (sid && (!json_int(sid, &it->sample_id) || it->sample_id < 1)))
        item_error(errors, idx, "bad_id", "ids are positive integers");
    it->label = app_class_index(rq->app, json_str(json_get(j, "label")));
    if (it->label < 0)
        item_error(errors, idx, "unknown_class",
                   "label must be one of the project's class names");
    const char *who = ann ? json_str(ann) : rq->token.name;
    if (!who || !*who || strlen(who) >= STORE_NAME_MAX)
        item_error(errors, idx, "bad_annotator", "annotator is 1-63 bytes");
    else
        snprintf(it->annotator, sizeof(it->annotator), "%s", who);
}

/* Parses a single item or {"items": [...]} into *items (caller frees). */
static int parse_labels(const struct req *rq, struct resp *rs, json *body,
                        label_item **items, int *n)
{
    json *list = json_get(body, "items"), *errors;
    int count = list ? json_size(list) : 1, i = 0;
    if (list && json_size(body) > 1) { /* a batch and a single label */
        resp_problem(rs, rq, 400, "bad_request",
                     "a batch body holds items alone");
        return ARAL_EINVAL;
    }
    if ((list && !json_is_array(list)) || count < 1 ||
        count > rq->app->cfg.max_batch) {
        resp_problem(
            rs, rq, count > rq->app->cfg.max_batch ? 413 : 400,
            count > rq->app->cfg.max_batch ? "batch_too_large" : "bad_request",
            "items is an array of 1..%d labels", rq->app->cfg.max_batch);
        return ARAL_EINVAL;
    }
    *items =
        fault_hit("alloc") ? NULL : calloc((size_t)count, sizeof(label_item));
    if (!*items) {
        resp_problem(rs, rq, 503, "no_memory",
                     "out of memory; no label was recorded");
        resp_header(rs, "Retry-After", "1");
        return ARAL_ENOMEM;
    }
    errors = json_new_array();
    if (!list)
        parse_item(rq, body, 0, *items, errors);
    for (json *j = json_first(list); j; j = json_next(j), i++)
        parse_item(rq, j, i, &(*items)[i], errors);
    *n = count;
    if (json_size(errors) == 0) {
        json_free(errors);
        return 0;
    }
    resp_problem_list(rs, rq, 422, "invalid_labels", errors,
                      "some labels were refused; none was recorded");
    return ARAL_EINVAL;
}

/* The live lease on a sample as the transaction sees it (0: none). */
static int64_t live_lease(const sample_row *s, int64_t now)
{
    return s->lease_id && s->lease_expires > now ? s->lease_id : 0;
}

/* Resolves a lease into its sample, checking it is not lost. */
static int resolve_lease(const struct req *rq, struct resp *rs, label_item *it)
{
    lease_row l;
    sample_row s;
    int rc = store_lease_get(rq->st, it->lease_id, &l);
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_lease", "no lease %lld",
                     (long long)it->lease_id);
    if (rc || (rc = store_sample_get(rq->st, l.sample_id, &s)) != 0)
        return rc;
    it->sample_id = l.sample_id;
    it->model_version = l.model_version;
    snprintf(it->annotator, sizeof(it->annotator), "%s", l.annotator);
    int64_t holder = live_lease(&s, rq->now);
    /* A live lease and a current label cannot coexist (a label closes
     * the labeler's lease), so a labeled sample means the lease is lost. */
    bool lost =
        !strcmp(l.state, "done") || (holder && holder != l.id) || s.label >= 0;
    if (lost) {
        resp_problem(rs, rq, 409, "lease_expired",
                     "lease %lld is no longer valid: the sample was %s",
                     (long long)l.id,
                     !strcmp(l.state, "done") ? "labeled through it already"
                                              : "leased or labeled since");
        return ARAL_ECONFLICT;
    }
    if (strcmp(l.state, "active"))
        it->lease_id = 0; /* released: nothing to close */
    return 0;
}

/* Checks a sample_id label: the sample exists, is in the pool, and is
 * not leased to someone else. Closes the annotator's own lease on it. */
static int resolve_sample(const struct req *rq, struct resp *rs, label_item *it)
{
    sample_row s;
    lease_row l;
    int rc = store_sample_get(rq->st, it->sample_id, &s);
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_sample", "no sample %lld",
                     (long long)it->sample_id);
    if (rc)
        return rc;
    if (strcmp(s.split, "pool")) {
        resp_problem(rs, rq, 409, "not_in_pool",
                     "sample %lld is in the eval split",
                     (long long)it->sample_id);
        return ARAL_ECONFLICT;
    }
    int64_t holder = live_lease(&s, rq->now);
    if (holder && (rc = store_lease_get(rq->st, holder, &l)) != 0)
        return rc;
    if (holder && strcmp(l.annotator, it->annotator)) {
        resp_problem(rs, rq, 409, "leased_to_other",
                     "sample %lld is leased to another annotator",
                     (long long)s.id);
        return ARAL_ECONFLICT;
    }
    it->lease_id = holder;
    if (holder) {
        it->model_version = l.model_version;
    } else { /* labeled without a lease: the ranking it stands in now */
        ranking *r = lease_table_ranking(rq->app->leases);
        it->model_version = r ? r->model_version : -1;
        ranking_release(r);
    }
    return 0;
}

static int record(const struct req *rq, struct resp *rs, struct txn *t,
                  label_item *it, json *out)
{
    int rc =
        it->lease_id ? resolve_lease(rq, rs, it) : resolve_sample(rq, rs, it);
    int64_t label_id;
    if (!rc)
        rc = store_label_insert(rq->st, it->sample_id, it->label, it->annotator,
                                it->lease_id, rq->now, it->model_version,
                                &label_id);
    /* A label closes the sample's lease: labeled, nothing leased. */
    if (!rc)
        rc = txn_note(t, (lease_change){it->sample_id, true, 0, 0});
    if (rc)
        return rc;
    json *o = json_new_object();
    json_set_int(o, "label_id", label_id);
    json_set_int(o, "sample_id", it->sample_id);
    json_set_str(o, "label", rq->app->project.classes[it->label]);
    set_version(o, it->model_version);
    json_push(out, o);
    return 0;
}

typedef struct labels_job {
    label_item *items;
    int n;
} labels_job;

static int write_labels(const struct req *rq, struct resp *rs, struct txn *t,
                        void *ctx)
{
    labels_job *job = ctx;
    json *out = json_new_array();
    int rc = 0;
    for (int i = 0; !rc && i < job->n; i++)
        rc = record(rq, rs, t, &job->items[i], out);
    if (rc) {
        json_free(out);
        return rc;
    }
    t->labels += job->n;
    t->labels_changed = true;
    json *o = json_new_object();
    json_set(o, "items", out);
    resp_json(rs, 200, o);
    return 0;
}

void handle_labels_post(const struct req *rq, struct resp *rs)
{
    json *body = req_json_object(rq, rs);
    labels_job job = {NULL, 0};
    if (body && !parse_labels(rq, rs, body, &job.items, &job.n))
        app_write(rq, rs, write_labels, &job);
    free(job.items);
    json_free(body);
}

typedef struct undo_job {
    int64_t id;
    const char *who;       /* recorded as the retraction's annotator */
    const char *lease_for; /* NULL: no lease asked for */
} undo_job;

/* The undone sample, free again, leased to who, so that they can label
 * it again: it ranked high enough to be picked, so the next lease
 * request of anyone would take it first. Null when it is not free (an
 * earlier label stays in force) or who skipped it. */
static int lease_undone(const struct req *rq, struct txn *t, int64_t sample,
                        const char *who, json **out)
{
    ranking *r = lease_table_ranking(rq->app->leases);
    lease_grant g = {0, sample, rq->now + rq->app->cfg.lease_ttl_s * 1000LL,
                     r ? ranking_pos(r, sample) : -1};
    lease_holder holder = {who, rq->token.id};
    int rc = store_lease_insert(rq->st, sample, &holder, rq->now, g.expires_at,
                                r ? r->model_version : -1, &g.lease_id);
    *out = NULL;
    if (!rc) { /* shown as POST /v1/leases shows a lease */
        *out = render_lease(rq, &g, r);
        t->leases++;
    }
    ranking_release(r);
    return rc == ARAL_ECONFLICT ? 0 : rc;
}

static int write_undo(const struct req *rq, struct resp *rs, struct txn *t,
                      void *ctx)
{
    const undo_job *job = ctx;
    int64_t id = job->id, retraction;
    int current;
    label_row l;
    json *lease = NULL;
    int rc = store_label_get(rq->st, id, &l);
    if (!rc)
        rc = store_label_undo(rq->st, id, job->who, rq->now, &retraction,
                              &current);
    if (!rc && job->lease_for && current < 0)
        rc = lease_undone(rq, t, l.sample_id, job->lease_for, &lease);
    if (!rc)
        rc = txn_note_sample(t, rq->st, l.sample_id);
    t->labels_changed = !rc;
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_label", "no label %lld",
                     (long long)id);
    else if (rc == ARAL_ECONFLICT)
        resp_problem(rs, rq, 409, "already_retracted",
                     "label %lld is a retraction or already retracted",
                     (long long)id);
    if (rc) {
        json_free(lease);
        return rc;
    }
    json *o = json_new_object();
    json_set_int(o, "label_id", retraction);
    json_set_int(o, "retracts", id);
    json_set_int(o, "sample_id", l.sample_id);
    json_set_str(o, "label",
                 current >= 0 ? rq->app->project.classes[current] : NULL);
    if (lease)
        json_set(o, "lease", lease);
    else if (job->lease_for)
        json_set_null(o, "lease");
    resp_json(rs, 200, o);
    return 0;
}

/* An empty body undoes; {"lease": true} also leases the sample back.
 * Both are recorded under "annotator", else the token's name, as POST
 * /v1/labels and /v1/leases record theirs. */
void handle_label_undo(const struct req *rq, struct resp *rs)
{
    static const char *const fields[] = {"lease", "annotator", NULL};
    undo_job job = {0, rq->token.name, NULL};
    json *body = NULL;
    if (rq->body_len) {
        if (!(body = req_json_fields(rq, rs, fields)))
            return;
        const json *want = json_get(body, "lease");
        if (want && !json_is_bool(want)) {
            resp_problem(rs, rq, 400, "bad_request", "lease is true or false");
            json_free(body);
            return;
        }
        if (!(job.who = req_annotator(rq, body, rs))) {
            json_free(body);
            return;
        }
        job.lease_for = json_true(want) ? job.who : NULL;
    }
    if (req_param_id(rq, rs, 0, "label", &job.id))
        app_write(rq, rs, write_undo, &job);
    json_free(body);
}

/* ---- export: pages of 512 rows, rendered into a buffer per page.
 *
 * The first page is built before the response starts, so that a failure
 * there is a 503 problem. A later page that cannot be built (out of
 * memory, a storage error) ends the stream with an error: the connection
 * is cut before the last chunk, and the client sees a truncated
 * transfer, never a short export that looks complete. */

#define EXPORT_PAGE 512

typedef struct export_stream {
    struct app *app;
    bool csv, header_done, finished, failed;
    int64_t after;     /* the last row's key (export_row.key) */
    int64_t cursor;    /* the newest label id when it started */
    bool changed_only; /* ?since=: what changed after `after` */
    char *buf;
    size_t len, pos, cap;
    fault_plan fault;
} export_stream;

static void append(export_stream *e, const char *s, size_t n)
{
    if (e->failed)
        return;
    if (e->len + n + 1 > e->cap) {
        size_t cap = (e->len + n + 1) * 2;
        char *b = realloc(e->buf, cap);
        if (!b) {
            e->failed = true;
            return;
        }
        e->buf = b, e->cap = cap;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

/* CSV field: quoted when it holds a comma, quote or line break. A field
 * that starts like a formula goes after an apostrophe, as OWASP advises
 * against CSV injection: annotators choose their names and importers
 * their external ids, and a spreadsheet would run "=..." for whoever
 * opens the export. The JSONL export keeps every value as it is. */
static void csv_field(export_stream *e, const char *s)
{
    bool formula = *s && strchr("=+-@\t\r", *s);
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        append(e, s, strlen(s));
        return;
    }
    append(e, formula ? "\"'" : "\"", formula ? 2 : 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            append(e, "\"", 1); /* a quote is written twice */
        append(e, p, 1);
    }
    append(e, "\"", 1);
}

static void export_json_row(export_stream *e, const export_row *r,
                            const char *label, const char *when)
{
    json *o = json_new_object();
    json_set_int(o, "sample_id", r->sample_id);
    json_set_str(o, "external_id", r->has_external_id ? r->external_id : NULL);
    json_set_str(o, "label", label);
    if (r->has_label)
        json_set_int(o, "label_id", r->label_id);
    else
        json_set_null(o, "label_id");
    json_set_str(o, "annotator", r->has_label ? r->annotator : NULL);
    json_set_str(o, "created_at", r->has_label ? when : NULL);
    set_version(o, r->has_label ? r->model_version : -1);
    char *s = json_print(o);
    json_free(o);
    if (!s) {
        e->failed = true;
        return;
    }
    append(e, s, strlen(s));
    append(e, "\n", 1);
    free(s);
}

/* A sample of a ?since= export that has no label in force now (its
 * label was undone): a CSV line with the sample's fields alone. */
static void csv_unlabeled(export_stream *e, const export_row *r)
{
    char line[40];
    snprintf(line, sizeof(line), "%lld,", (long long)r->sample_id);
    append(e, line, strlen(line));
    csv_field(e, r->has_external_id ? r->external_id : "");
    append(e, ",,,,,\n", 6);
}

static void export_row_out(void *ctx, const export_row *r)
{
    export_stream *e = ctx;
    const char *label = r->has_label ? e->app->project.classes[r->label] : NULL;
    char when[40], line[160];
    util_iso8601(r->created_at, when, sizeof(when));
    e->after = r->key;
    if (!e->csv) {
        export_json_row(e, r, label, when);
        return;
    }
    if (!label) {
        csv_unlabeled(e, r);
        return;
    }
    snprintf(line, sizeof(line), "%lld,", (long long)r->sample_id);
    append(e, line, strlen(line));
    csv_field(e, r->has_external_id ? r->external_id : "");
    append(e, ",", 1);
    csv_field(e, label);
    snprintf(line, sizeof(line), ",%lld,", (long long)r->label_id);
    append(e, line, strlen(line));
    csv_field(e, r->annotator);
    if (r->model_version >= 0)
        snprintf(line, sizeof(line), ",%s,%lld\n", when,
                 (long long)r->model_version);
    else
        snprintf(line, sizeof(line), ",%s,\n", when);
    append(e, line, strlen(line));
}

/* Renders the next page into the empty buffer; false on failure. */
static bool export_fill(export_stream *e)
{
    store *st = app_store(e->app);
    int64_t before = e->after;
    e->pos = e->len = 0;
    if (e->csv && !e->header_done) {
        const char *h = "sample_id,external_id,label,label_id,annotator,"
                        "created_at,model_version\n";
        append(e, h, strlen(h));
        e->header_done = true;
    }
    if (fault_take(&e->fault, "export") || !st ||
        store_export_page(st, e->after, EXPORT_PAGE,
                          e->changed_only ? e->cursor : -1, export_row_out, e))
        e->failed = true;
    e->finished = e->after == before;
    return !e->failed;
}

static long export_read(void *ctx, char *out, size_t max)
{
    export_stream *e = ctx;
    if (e->pos == e->len && !e->finished && !export_fill(e)) {
        fprintf(stderr, "arald: export cut short after %s %lld\n",
                e->changed_only ? "label" : "sample", (long long)e->after);
        return STREAM_ERROR;
    }
    if (e->pos == e->len)
        return STREAM_END;
    size_t n = e->len - e->pos < max ? e->len - e->pos : max;
    memcpy(out, e->buf + e->pos, n);
    e->pos += n;
    return (long)n;
}

static void export_free(void *ctx)
{
    export_stream *e = ctx;
    free(e->buf);
    free(e);
}

/* Every export names, in X-Export-Cursor, the newest label or undo it
 * covers; ?since= that cursor exports only what changed after it: each
 * sample a later label or undo touched, as it stands now (label null when
 * none is in force), so that a pipeline keeps a copy in step without
 * reading every label again. */
void handle_export(const struct req *rq, struct resp *rs)
{
    const char *fmt = req_query(rq, "format"), *since = req_query(rq, "since");
    int64_t from = -1;
    if ((fmt && strcmp(fmt, "jsonl") && strcmp(fmt, "csv")) ||
        (since && util_parse_i64(since, 0, (int64_t)1 << 53, &from))) {
        resp_problem(rs, rq, 400, "bad_query",
                     "format is jsonl or csv; since is a previous "
                     "X-Export-Cursor");
        return;
    }
    export_stream *e = calloc(1, sizeof(*e));
    if (e) {
        e->app = rq->app;
        e->csv = fmt && !strcmp(fmt, "csv");
        e->fault = fault_current();
        e->changed_only = from >= 0;
        e->after = e->changed_only ? from : 0;
    }
    if (!e || store_label_max_id(rq->st, &e->cursor) || !export_fill(e)) {
        resp_problem(rs, rq, 503, "export_failed",
                     "the export could not be read; try again");
        resp_header(rs, "Retry-After", "1");
        if (e)
            export_free(e);
        return;
    }
    char cursor[24];
    snprintf(cursor, sizeof(cursor), "%lld", (long long)e->cursor);
    resp_header(rs, "X-Export-Cursor", cursor);
    rs->status = 200;
    rs->content_type =
        e->csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    rs->stream = export_read;
    rs->stream_ctx = e;
    rs->stream_free = export_free;
}

/* ---- GET /v1/stats: what the dashboard draws, counted by SQLite, where
 * the dashboard used to read the whole export on every refresh (9 MB at
 * 60k labels, up to four times a second while labels come in). */

#define STATS_WINDOW_MS (24 * 3600 * 1000LL)

static void stats_annotator(void *ctx, const annotator_stats *a)
{
    json *o = json_new_object();
    char when[40];
    json_set_str(o, "annotator", a->annotator);
    json_set_int(o, "labels", a->labels);
    util_iso8601(a->first_at, when, sizeof(when));
    json_set_str(o, "first_at", when);
    util_iso8601(a->last_at, when, sizeof(when));
    json_set_str(o, "last_at", when);
    json_push(ctx, o);
}

void handle_stats(const struct req *rq, struct resp *rs)
{
    const project_info *p = &rq->app->project;
    int64_t per_class[STORE_MAX_CLASSES] = {0};
    int64_t since = rq->now - STATS_WINDOW_MS;
    json *o = json_new_object(), *who = json_new_array();
    if (!rq->st || store_label_stats(rq->st, since, per_class, p->n_classes,
                                     stats_annotator, who)) {
        json_free(o), json_free(who);
        resp_read_failed(rs, rq, "counts");
        return;
    }
    json *classes = json_new_array();
    for (int i = 0; i < p->n_classes; i++) {
        json *c = json_new_object();
        json_set_str(c, "class", p->classes[i]);
        json_set_int(c, "labels", per_class[i]);
        json_push(classes, c);
    }
    char when[40];
    util_iso8601(since, when, sizeof(when));
    json_set(o, "classes", classes);
    json_set_str(o, "since", when);
    json_set(o, "annotators", who);
    resp_json(rs, 200, o);
}

/* ---- GET /v1/labels: the labels one annotator gave, newest first (the
 * annotator page's "your labels", with an undo for each). */

static void history_one(void *ctx, const history_row *r)
{
    struct list_ctx *c = ctx;
    json *o = json_new_object();
    char when[40];
    json_set_int(o, "label_id", r->label_id);
    json_set_int(o, "sample_id", r->sample_id);
    json_set_str(o, "external_id", r->has_external_id ? r->external_id : NULL);
    json_set_str(o, "label", c->rq->app->project.classes[r->label]);
    util_iso8601(r->created_at, when, sizeof(when));
    json_set_str(o, "created_at", when);
    set_version(o, r->model_version);
    json_set_bool(o, "retracted", r->retracted);
    json_set_bool(o, "in_force", r->in_force);
    json_push(c->items, o);
    c->last = r->label_id, c->count++;
}

void handle_labels_list(const struct req *rq, struct resp *rs)
{
    const char *who = req_query(rq, "annotator");
    const char *cursor = req_query(rq, "cursor"), *lim = req_query(rq, "limit");
    int64_t before = INT64_MAX, limit = 50, total;
    if ((who && (!*who || strlen(who) >= STORE_NAME_MAX ||
                 !json_text_ok(who, STORE_NAME_MAX))) ||
        (cursor && util_parse_i64(cursor, 1, (int64_t)1 << 53, &before)) ||
        (lim && util_parse_i64(lim, 1, LIST_LIMIT_MAX, &limit))) {
        resp_problem(rs, rq, 400, "bad_query",
                     "annotator is 1-%d bytes of text, cursor is a label id, "
                     "limit is 1..%d",
                     STORE_NAME_MAX - 1, LIST_LIMIT_MAX);
        return;
    }
    who = who ? who : rq->token.name;
    struct list_ctx c = {rq, json_new_array(), 0, 0};
    int rc =
        store_history_page(rq->st, who, before, (int)limit, history_one, &c);
    if (!rc)
        rc = store_history_count(rq->st, who, &total);
    if (rc) {
        json_free(c.items);
        resp_read_failed(rs, rq, "labels");
        return;
    }
    json *o = render_list(&c, limit, total);
    json_set_str(o, "annotator", who);
    resp_json(rs, 200, o);
}
