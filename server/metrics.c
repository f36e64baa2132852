#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in microseconds. */
static const int64_t BUCKETS[] = {100,  250,   500,   1000,   2500,
                                  5000, 10000, 25000, 100000, 1000000};
#define NB (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

typedef struct route_stats {
    atomic_llong status[6]; /* by hundreds: 1xx..5xx, [0] other */
    atomic_llong bucket[NB + 1];
    atomic_llong sum_us;
} route_stats;

struct metrics {
    route_stats route[METRICS_MAX_ROUTES];
    atomic_llong labels, leases;
};

metrics *metrics_new(void)
{
    return calloc(1, sizeof(metrics));
}

void metrics_free(metrics *m)
{
    free(m);
}

void metrics_observe(metrics *m, int route, int status, int64_t us)
{
    if (route < 0 || route >= METRICS_MAX_ROUTES)
        route = METRICS_MAX_ROUTES - 1;
    route_stats *r = &m->route[route];
    int cls = status / 100;
    atomic_fetch_add(&r->status[cls >= 1 && cls <= 5 ? cls : 0], 1);
    size_t b = 0;
    while (b < NB && us > BUCKETS[b])
        b++;
    atomic_fetch_add(&r->bucket[b], 1);
    atomic_fetch_add(&r->sum_us, us);
}

void metrics_count_labels(metrics *m, int n)
{
    atomic_fetch_add(&m->labels, n);
}

void metrics_count_leases(metrics *m, int n)
{
    atomic_fetch_add(&m->leases, n);
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void put(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->len : NULL,
                          b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return;
        if (b->p && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = (b->cap + (size_t)w + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p, b->cap = cap;
    }
}

static void render_route(buf *b, const route_stats *r, const char *name)
{
    static const char *cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int c = 0; c < 6; c++) {
        long long v = atomic_load(&r->status[c]);
        if (v)
            put(b, "arald_http_requests_total{route=\"%s\",code=\"%s\"} %lld\n",
                name, cls[c], v);
    }
    long long cum = 0;
    for (size_t i = 0; i <= NB; i++) {
        cum += atomic_load(&r->bucket[i]);
        if (i < NB)
            put(b,
                "arald_http_request_seconds_bucket{route=\"%s\",le=\"%g\"}"
                " %lld\n",
                name, BUCKETS[i] / 1e6, cum);
        else
            put(b,
                "arald_http_request_seconds_bucket{route=\"%s\",le=\"+Inf\"}"
                " %lld\n",
                name, cum);
    }
    put(b, "arald_http_request_seconds_sum{route=\"%s\"} %.6f\n", name,
        atomic_load(&r->sum_us) / 1e6);
    put(b, "arald_http_request_seconds_count{route=\"%s\"} %lld\n", name, cum);
}

char *metrics_render(metrics *m, const char *const *names, int n,
                     const metrics_gauges *g)
{
    buf b = {0};
    put(&b, "# TYPE arald_http_requests_total counter\n"
            "# TYPE arald_http_request_seconds histogram\n");
    for (int i = 0; i < n && i < METRICS_MAX_ROUTES; i++) {
        long long seen = 0;
        for (size_t k = 0; k <= NB; k++)
            seen += atomic_load(&m->route[i].bucket[k]);
        if (seen)
            render_route(&b, &m->route[i], names[i]);
    }
    put(&b, "# TYPE arald_labels_total counter\narald_labels_total %lld\n",
        (long long)atomic_load(&m->labels));
    put(&b, "# TYPE arald_leases_total counter\narald_leases_total %lld\n",
        (long long)atomic_load(&m->leases));
    put(&b,
        "# TYPE arald_pool_samples gauge\narald_pool_samples %lld\n"
        "# TYPE arald_labeled_samples gauge\narald_labeled_samples %lld\n"
        "# TYPE arald_leased_samples gauge\narald_leased_samples %lld\n"
        "# TYPE arald_queue_depth gauge\narald_queue_depth %lld\n"
        "# TYPE arald_model_version gauge\narald_model_version %lld\n",
        (long long)g->pool, (long long)g->labeled, (long long)g->leased,
        (long long)g->free, (long long)g->model_version);
    put(&b,
        "# TYPE arald_labels_since_model gauge\n"
        "arald_labels_since_model %lld\n"
        "# TYPE arald_rounds_total counter\narald_rounds_total %lld\n"
        "# TYPE arald_round_running gauge\narald_round_running %d\n"
        "# TYPE arald_round_seconds gauge\n",
        (long long)g->labels_since_model, (long long)g->rounds_total,
        g->round_running);
    static const char *const phase[5] = {"read", "train", "score", "store",
                                         "publish"};
    for (int i = 0; i < 5; i++)
        put(&b, "arald_round_seconds{phase=\"%s\"} %.3f\n", phase[i],
            g->round_seconds[i]);
    return b.p;
}
