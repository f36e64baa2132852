/* handlers_tokens: bearer tokens over REST: for admins GET and POST
 * /v1/tokens and DELETE /v1/tokens/{id}, for any token GET /v1/me (the
 * token itself), and what `arald token` shares with them (token.h). A
 * token's secret is in the answer that creates it and nowhere else: the
 * database keeps its SHA-256, and the response an Idempotency-Key replay
 * gets has "token": null. */
#include "token.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "handlers.h"
#include "import.h"
#include "txn.h"
#include "util.h"

bool token_role_ok(const char *role)
{
    return role && (!strcmp(role, "admin") || !strcmp(role, "ingest") ||
                    !strcmp(role, "annotate"));
}

bool token_name_ok(const char *name)
{
    return name && *name && strlen(name) < STORE_NAME_MAX &&
           json_text_ok(name, STORE_NAME_MAX);
}

int token_new(char text[TOKEN_TEXT_MAX], uint8_t hash[32])
{
    uint8_t raw[24];
    if (util_random(raw, sizeof(raw)))
        return ARAL_EIO;
    memcpy(text, "arl_", 4);
    util_hex(raw, sizeof(raw), text + 4);
    import_sha256(text, strlen(text), hash);
    return 0;
}

/* ---- the handlers. */

static json *render_token(const token_row *t)
{
    json *o = json_new_object();
    char when[40];
    json_set_int(o, "token_id", t->id);
    json_set_str(o, "name", t->name);
    json_set_str(o, "role", t->role);
    util_iso8601(t->created_at, when, sizeof(when));
    json_set_str(o, "created_at", when);
    if (t->revoked_at)
        util_iso8601(t->revoked_at, when, sizeof(when));
    json_set_str(o, "revoked_at", t->revoked_at ? when : NULL);
    return o;
}

/* Who the caller is: a pipeline checks its token's role before a long
 * job, and the annotator page takes the name from a personal token. */
void handle_me(const struct req *rq, struct resp *rs)
{
    resp_json(rs, 200, render_token(&rq->token));
}

static void list_one(void *ctx, const token_row *t)
{
    struct list_ctx *c = ctx;
    json_push(c->items, render_token(t));
    c->last = t->id, c->count++;
}

void handle_tokens_list(const struct req *rq, struct resp *rs)
{
    const char *cursor = req_query(rq, "cursor"), *lim = req_query(rq, "limit");
    int64_t after = 0, limit = 50, total;
    if ((cursor && util_parse_i64(cursor, 1, (int64_t)1 << 53, &after)) ||
        (lim && util_parse_i64(lim, 1, LIST_LIMIT_MAX, &limit))) {
        resp_problem(rs, rq, 400, "bad_query",
                     "cursor is a token id, limit is 1..%d", LIST_LIMIT_MAX);
        return;
    }
    struct list_ctx c = {rq, json_new_array(), 0, 0};
    int rc = store_token_page(rq->st, after, (int)limit, list_one, &c);
    if (!rc)
        rc = store_token_count(rq->st, &total);
    if (rc) {
        json_free(c.items);
        resp_read_failed(rs, rq, "tokens");
        return;
    }
    resp_json(rs, 200, render_list(&c, limit, total));
}

typedef struct create_job {
    const char *name, *role;
    char text[TOKEN_TEXT_MAX];
    uint8_t hash[32];
} create_job;

static int write_create(const struct req *rq, struct resp *rs, struct txn *t,
                        void *ctx)
{
    (void)t;
    create_job *job = ctx;
    token_row row;
    int rc = store_token_insert(rq->st, job->name, job->role, job->hash,
                                rq->now, &row.id);
    if (!rc)
        rc = store_token_get(rq->st, row.id, &row);
    if (rc)
        return rc;
    json *shown = render_token(&row), *kept = render_token(&row);
    json_set_str(shown, "token", job->text);
    json_set_null(kept, "token");
    rs->replay_body = json_print(kept);
    json_free(kept);
    resp_json(rs, 200, shown);
    return rs->replay_body && rs->body ? 0 : ARAL_ENOMEM;
}

void handle_tokens_post(const struct req *rq, struct resp *rs)
{
    static const char *const fields[] = {"name", "role", NULL};
    json *body = req_json_fields(rq, rs, fields);
    if (!body)
        return;
    create_job job = {.name = json_str(json_get(body, "name")),
                      .role = json_str(json_get(body, "role"))};
    if (!token_role_ok(job.role))
        resp_problem(rs, rq, 422, "bad_role",
                     "role is admin, ingest or annotate");
    else if (!token_name_ok(job.name))
        resp_problem(rs, rq, 422, "bad_name",
                     "name is 1-%d bytes of text (no control characters)",
                     STORE_NAME_MAX - 1);
    else if (token_new(job.text, job.hash))
        resp_problem(rs, rq, 503, "no_randomness",
                     "no randomness is available for a token");
    else
        app_write(rq, rs, write_create, &job);
    json_free(body);
}

/* Over REST an admin may revoke any token but the last live admin one,
 * which would leave the API without an admin until someone on the host
 * ran `arald token create`. (`arald token revoke` may revoke it.) The
 * token's live leases go back to the pool in the same transaction: the
 * samples it held are the next ones anyone should label. */
static int write_revoke(const struct req *rq, struct resp *rs, struct txn *t,
                        void *ctx)
{
    int64_t id = *(int64_t *)ctx, admins = 0;
    token_row row;
    int released = 0;
    int rc = store_token_get(rq->st, id, &row);
    if (!rc && !row.revoked_at && !strcmp(row.role, "admin"))
        rc = store_token_live_admins(rq->st, &admins);
    if (!rc && admins == 1) {
        resp_problem(rs, rq, 409, "last_admin",
                     "token %lld is the last live admin token; create "
                     "another admin token first",
                     (long long)id);
        return WRITE_UNDO;
    }
    if (!rc)
        rc = store_token_revoke(rq->st, id, rq->now);
    if (!rc)
        rc = store_token_leases_release(rq->st, id, rq->now, txn_note_sample_fn,
                                        &(txn_on){t, rq->st}, &released);
    if (rc == ARAL_ENOTFOUND)
        resp_problem(rs, rq, 404, "unknown_token", "no token %lld",
                     (long long)id);
    else if (rc == ARAL_ECONFLICT)
        resp_problem(rs, rq, 409, "already_revoked",
                     "token %lld is revoked already", (long long)id);
    if (rc)
        return rc;
    row.revoked_at = rq->now;
    json *o = render_token(&row);
    json_set_int(o, "leases_released", released);
    resp_json(rs, 200, o);
    return 0;
}

/* Its event streams end at once here; the checkpointer thread's look
 * once a second (app.c) is for revocations by `arald token revoke`. */
void handle_token_delete(const struct req *rq, struct resp *rs)
{
    int64_t id;
    if (req_param_id(rq, rs, 0, "token", &id) &&
        app_write(rq, rs, write_revoke, &id) == 0)
        events_end_token(rq->app->events, id);
}
