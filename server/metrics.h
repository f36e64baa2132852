/* metrics: request counters and latency histograms per route, kept in
 * atomics (HTTP threads update them without locks), rendered as
 * Prometheus text. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics;

#define METRICS_MAX_ROUTES 48

/* Caller frees with metrics_free. */
metrics *metrics_new(void);
void metrics_free(metrics *m);
/* Records one request of route index r (see router.c; METRICS_MAX_ROUTES-1
 * for unrouted) with its status and duration. */
void metrics_observe(metrics *m, int route, int status, int64_t us);
void metrics_count_labels(metrics *m, int n);
void metrics_count_leases(metrics *m, int n);

typedef struct metrics_gauges {
    int64_t pool, labeled, leased, free;
    int64_t model_version, labels_since_model;
    int64_t rounds_total;    /* published since start */
    int round_running;       /* 1 while the worker trains or scores */
    double round_seconds[5]; /* the last published round: read, train,
                                score, store, publish */
} metrics_gauges;

/* Prometheus text; route_names[i] names route i. Caller frees. */
char *metrics_render(metrics *m, const char *const *route_names, int n,
                     const metrics_gauges *g);
