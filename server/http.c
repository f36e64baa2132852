/* http: libmicrohttpd 0.9.75 glue (see DEPS.md section 1).
 *
 * - A body larger than max_body is refused with 413: at once when
 *   Content-Length says so (MHD then drops the rest), or after counting
 *   (chunked uploads), without buffering past the limit.
 * - A body whose length the headers give two ways is refused with 400
 *   before it is read (ambiguous_framing).
 * - Every response gets X-Request-Id and X-Content-Type-Options.
 * - Handlers run on the MHD pool thread that owns the connection and use
 *   that thread's own store connection.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router.h"
#include "util.h"

struct http_server {
    struct MHD_Daemon *d;
    struct app *app;
};

typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_big;
    const char *bad_framing; /* why the body's length is unclear, or NULL */
    int64_t start_us, now;
    char request_id[24];
} conn_state;

static atomic_ullong request_counter;
static unsigned int request_prefix;

static conn_state *conn_new(void)
{
    conn_state *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->start_us = util_mono_us();
    cs->now = util_now_ms();
    snprintf(cs->request_id, sizeof(cs->request_id), "%08x-%llu",
             request_prefix,
             (unsigned long long)atomic_fetch_add(&request_counter, 1));
    return cs;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn_state *cs = *con_cls;
    if (cs) {
        free(cs->body);
        free(cs);
    }
    *con_cls = NULL;
}

static void append_body(conn_state *cs, const char *data, size_t n, size_t max)
{
    if (cs->too_big || cs->len + n > max) {
        cs->too_big = true;
        return;
    }
    if (cs->len + n + 1 > cs->cap) {
        size_t cap = cs->cap ? cs->cap : 4096;
        while (cap < cs->len + n + 1)
            cap *= 2;
        char *b = realloc(cs->body, cap);
        if (!b) {
            cs->too_big = true;
            return;
        }
        cs->body = b, cs->cap = cap;
    }
    memcpy(cs->body + cs->len, data, n);
    cs->len += n;
    cs->body[cs->len] = 0;
}

/* ---- response conversion. */

typedef struct stream_box {
    stream_fn fn;
    void *ctx;
    void (*free_ctx)(void *);
} stream_box;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_box *b = cls;
    long n = b->fn(b->ctx, buf, max);
    if (n == STREAM_ERROR)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_box *b = cls;
    if (b->free_ctx)
        b->free_ctx(b->ctx);
    free(b);
}

static void suspend_conn(void *c)
{
    MHD_suspend_connection(c);
}

static void resume_conn(void *c)
{
    MHD_resume_connection(c);
}

static struct MHD_Response *make_response(struct resp *rs,
                                          struct MHD_Connection *c)
{
    if (rs->stream) {
        stream_box *b = malloc(sizeof(*b));
        if (!b)
            return NULL;
        *b = (stream_box){rs->stream, rs->stream_ctx, rs->stream_free};
        rs->stream_free = NULL; /* owned by the box now */
        if (rs->stream_attach)
            rs->stream_attach(rs->stream_ctx, suspend_conn, resume_conn, c);
        return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
                                                 stream_read, b, stream_free);
    }
    if (rs->body_static)
        return MHD_create_response_from_buffer(rs->len, rs->body,
                                               MHD_RESPMEM_PERSISTENT);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        rs->len, rs->body ? rs->body : (char *)"",
        rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r)
        rs->body = NULL; /* MHD frees it */
    return r;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct resp *rs,
                                 const char *request_id)
{
    struct MHD_Response *r = make_response(rs, c);
    if (!r)
        return MHD_NO;
    if (rs->content_type)
        MHD_add_response_header(r, "Content-Type", rs->content_type);
    MHD_add_response_header(r, "X-Request-Id", request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (int i = 0; i < rs->n_hdr; i++)
        MHD_add_response_header(r, rs->hdr_name[i], rs->hdr_value[i]);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ok;
}

static void resp_cleanup(struct resp *rs)
{
    if (!rs->body_static)
        free(rs->body);
    free(rs->replay_body);
    if (rs->stream_free)
        rs->stream_free(rs->stream_ctx);
}

/* ---- requests. */

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    (void)kind;
    struct req *rq = cls;
    if (rq->n_query >= REQ_MAX_QUERY) {
        rq->query_overflow = true;
        return MHD_NO;
    }
    rq->query[rq->n_query++] = (struct kv){key, value ? value : ""};
    return MHD_YES;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void fill_req(struct req *rq, struct app *a, struct MHD_Connection *c,
                     const char *url, const char *method, conn_state *cs)
{
    memset(rq, 0, sizeof(*rq));
    rq->app = a;
    rq->method = method;
    rq->path = url;
    rq->body = cs->body ? cs->body : "";
    rq->body_len = cs->len;
    rq->now = cs->now;
    rq->route = -1;
    snprintf(rq->request_id, sizeof(rq->request_id), "%s", cs->request_id);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, rq);
    rq->content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
    rq->idem_key = header(c, "Idempotency-Key");
    rq->fault = header(c, "X-Arald-Fault");
    rq->authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    rq->if_none_match = header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
}

/* Request text as the access log shows it: a byte outside visible ASCII, or
 * a backslash, as \xNN, so that a request can neither forge a log line
 * (%0A) nor reach an operator's terminal (%1B); cut to what fits in out,
 * marked with "...". */
static void log_safe(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 8 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 0x20 && c < 0x7f && c != '\\')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
    }
    snprintf(out + k, n - k, "%s", *s ? "..." : "");
}

/* One line a request: time, request id, method, path, status, time
 * taken, and the token that made it (its id; "-" for none or a refused
 * one), for an audit of who did what. */
static void log_access(struct app *a, const struct req *rq, int status,
                       int64_t us)
{
    if (!a->cfg.access_log)
        return;
    char when[40], method[40], path[1024], who[24] = "-";
    util_iso8601(util_now_ms(), when, sizeof(when));
    log_safe(rq->method, method, sizeof(method));
    log_safe(rq->path, path, sizeof(path));
    if (rq->token.id)
        snprintf(who, sizeof(who), "%lld", (long long)rq->token.id);
    fprintf(stderr, "%s %s %s %s %d %lldus token=%s\n", when, rq->request_id,
            method, path, status, (long long)us, who);
}

static enum MHD_Result answer(struct app *a, struct MHD_Connection *c,
                              const char *url, const char *method,
                              conn_state *cs)
{
    struct req rq;
    struct resp rs = {0};
    fill_req(&rq, a, c, url, method, cs);
    rq.st = app_store(a);
    if (cs->bad_framing)
        resp_problem(&rs, &rq, 400, "bad_request", "%s", cs->bad_framing);
    else if (cs->too_big)
        resp_problem(&rs, &rq, 413, "body_too_large",
                     "the body is larger than %ld bytes", a->cfg.max_body);
    else if (!rq.st)
        resp_problem(&rs, &rq, 503, "storage_error",
                     "the database cannot be opened");
    else
        router_dispatch(&rq, &rs);
    if (!rs.status)
        resp_problem(&rs, &rq, 500, "internal", "no response was produced");
    int64_t us = util_mono_us() - cs->start_us;
    metrics_observe(a->metrics, rq.route, rs.status, us);
    log_access(a, &rq, rs.status, us);
    enum MHD_Result ok = send_resp(c, &rs, cs->request_id);
    resp_cleanup(&rs);
    return ok;
}

/* Refuses a declared Content-Length over the limit before the body. */
static bool declared_too_big(struct MHD_Connection *c, long max)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n;
    return cl && (util_parse_i64(cl, 0, INT64_MAX, &n) || n > max);
}

struct framing {
    int lengths, codings;
    bool not_chunked;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        f->lengths++;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->codings++;
        f->not_chunked |= !value || strcasecmp(value, "chunked");
    }
    return MHD_YES;
}

/* Headers that give the body's length two ways (RFC 9112, 6.3). MHD
 * 0.9.75 takes one reading (the first Content-Length; chunked over
 * Content-Length); a proxy in front of arald may take the other and send
 * the rest of the body on as the next request: request smuggling. A
 * coding other than chunked MHD cannot read, and it would wait for the
 * connection to time out. Why the request is refused, or NULL. */
static const char *ambiguous_framing(struct MHD_Connection *c)
{
    struct framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.lengths > 1)
        return "the request has more than one Content-Length header";
    if (f.lengths && f.codings)
        return "the request has both Content-Length and Transfer-Encoding";
    if (f.codings > 1 || f.not_chunked)
        return "Transfer-Encoding must be one chunked coding alone";
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct app *a = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = conn_new()))
            return MHD_NO;
        *con_cls = cs;
        if ((cs->bad_framing = ambiguous_framing(c)))
            return answer(a, c, url, method, cs);
        if (declared_too_big(c, a->cfg.max_body)) {
            cs->too_big = true;
            return answer(a, c, url, method, cs);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        append_body(cs, upload_data, *upload_data_size,
                    (size_t)a->cfg.max_body);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(a, c, url, method, cs);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoding of paths and query arguments, except that "%00" stays
 * as it is: MHD's own decoder turns it into a NUL that silently cuts the
 * string ("/app.js%00.png" would arrive as "/app.js"). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hex_digit(r[1])) >= 0 &&
            (lo = hex_digit(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static int parse_bind(const char *host, int port, struct sockaddr_in *v4)
{
    memset(v4, 0, sizeof(*v4));
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &v4->sin_addr) == 1 ? 0 : -1;
}

http_server *http_start(struct app *a, char *err, size_t n)
{
    struct sockaddr_in addr;
    if (parse_bind(a->cfg.bind, a->cfg.port, &addr)) {
        snprintf(err, n, "bind address %s is not an IPv4 address", a->cfg.bind);
        return NULL;
    }
    util_random(&request_prefix, sizeof(request_prefix));
    http_server *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->app = a;
    h->d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)a->cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)a->cfg.conn_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)a->cfg.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, n, "cannot listen on %s:%d (in use? not allowed?)",
                 a->cfg.bind, a->cfg.port);
        free(h);
        return NULL;
    }
    return h;
}

int http_port(const http_server *h)
{
    const union MHD_DaemonInfo *i =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : -1;
}

void http_stop(http_server *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
