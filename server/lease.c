#include "lease.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

typedef struct slot {
    int64_t lease_id; /* 0: none */
    int64_t expires;
    bool in_pool, labeled;
} slot;

typedef struct deadline {
    int64_t expires, sample_id, lease_id;
} deadline;

struct lease_table {
    pthread_mutex_t mu;
    slot *slots;        /* by sample id, 0..max_id */
    int64_t max_id;
    deadline *heap;     /* min-heap on expires */
    size_t heap_n, heap_cap;
    ranking *rank;
    size_t hint;        /* every ranked sample before it is taken */
    int64_t pool, labeled, leased;
};

lease_table *lease_table_new(void)
{
    lease_table *lt = calloc(1, sizeof(*lt));
    if (lt)
        pthread_mutex_init(&lt->mu, NULL);
    return lt;
}

void lease_table_free(lease_table *lt)
{
    if (!lt)
        return;
    ranking_release(lt->rank);
    free(lt->slots);
    free(lt->heap);
    pthread_mutex_destroy(&lt->mu);
    free(lt);
}

/* ---- the deadline heap. */

static int heap_push(lease_table *lt, deadline d)
{
    if (lt->heap_n == lt->heap_cap) {
        size_t cap = lt->heap_cap ? lt->heap_cap * 2 : 256;
        deadline *h = realloc(lt->heap, cap * sizeof(*h));
        if (!h)
            return ARAL_ENOMEM;
        lt->heap = h, lt->heap_cap = cap;
    }
    size_t i = lt->heap_n++;
    while (i > 0 && lt->heap[(i - 1) / 2].expires > d.expires) {
        lt->heap[i] = lt->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    lt->heap[i] = d;
    return 0;
}

static deadline heap_pop(lease_table *lt)
{
    deadline top = lt->heap[0], last = lt->heap[--lt->heap_n];
    size_t i = 0, n = lt->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && lt->heap[c + 1].expires < lt->heap[c].expires)
            c++;
        if (lt->heap[c].expires >= last.expires)
            break;
        lt->heap[i] = lt->heap[c];
        i = c;
    }
    if (n)
        lt->heap[i] = last;
    return top;
}

/* ---- state. */

static slot *slot_of(lease_table *lt, int64_t id)
{
    return id > 0 && id <= lt->max_id ? &lt->slots[id] : NULL;
}

static bool is_free(const slot *s, int64_t now)
{
    return s && s->in_pool && !s->labeled &&
           (s->lease_id == 0 || s->expires <= now);
}

/* A sample became free: the hint must not have passed it. */
static void became_free(lease_table *lt, int64_t id)
{
    int32_t pos = lt->rank ? ranking_pos(lt->rank, id) : -1;
    if (pos >= 0 && (size_t)pos < lt->hint)
        lt->hint = (size_t)pos;
}

/* Pops every deadline that has passed; leases still current become free. */
static void expire(lease_table *lt, int64_t now)
{
    while (lt->heap_n && lt->heap[0].expires <= now) {
        deadline d = heap_pop(lt);
        slot *s = slot_of(lt, d.sample_id);
        if (s && s->lease_id == d.lease_id) {
            s->lease_id = 0;
            lt->leased--;
            if (!s->labeled)
                became_free(lt, d.sample_id);
        }
    }
}

struct load_ctx {
    lease_table *lt;
    int64_t now;
    int rc;
};

static void load_one(void *ctx, int64_t id, int label, int64_t lease_id,
                     int64_t expires)
{
    struct load_ctx *c = ctx;
    slot *s = slot_of(c->lt, id);
    if (!s)
        return;
    s->in_pool = true;
    s->labeled = label >= 0;
    c->lt->pool++;
    c->lt->labeled += s->labeled;
    if (lease_id && expires > c->now && !s->labeled) {
        s->lease_id = lease_id, s->expires = expires;
        c->lt->leased++;
        if (heap_push(c->lt, (deadline){expires, id, lease_id}))
            c->rc = ARAL_ENOMEM;
    }
}

static int load_locked(lease_table *lt, store *st, ranking *r)
{
    int64_t *ids;
    size_t n;
    int rc = store_pool_ids(st, &ids, &n);
    if (rc)
        return rc;
    int64_t max_id = n ? ids[n - 1] : 0;
    free(ids);
    slot *slots = calloc((size_t)max_id + 1, sizeof(slot));
    if (!slots)
        return ARAL_ENOMEM;
    free(lt->slots);
    lt->slots = slots, lt->max_id = max_id;
    lt->heap_n = 0;
    lt->pool = lt->labeled = lt->leased = 0;
    struct load_ctx c = {lt, util_now_ms(), 0};
    rc = store_pool_states(st, load_one, &c);
    if (r)
        atomic_fetch_add(&r->refs, 1);
    ranking_release(lt->rank);
    lt->rank = r;
    lt->hint = 0;
    return rc ? rc : c.rc;
}

int lease_table_reload(lease_table *lt, store *st, ranking *r)
{
    int rc = store_begin(st);
    if (rc)
        return rc;
    pthread_mutex_lock(&lt->mu);
    rc = load_locked(lt, st, r);
    pthread_mutex_unlock(&lt->mu);
    store_commit(st); /* read only: nothing to lose */
    return rc;
}

void lease_table_set_ranking(lease_table *lt, ranking *r)
{
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_lock(&lt->mu);
    ranking *old = lt->rank;
    lt->rank = r;
    lt->hint = 0;
    pthread_mutex_unlock(&lt->mu);
    ranking_release(old);
}

ranking *lease_table_ranking(lease_table *lt)
{
    pthread_mutex_lock(&lt->mu);
    ranking *r = lt->rank;
    if (r)
        atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&lt->mu);
    return r;
}

/* Moves the hint over the taken prefix of the ranking. */
static void advance_hint(lease_table *lt, int64_t now)
{
    while (lt->hint < lt->rank->n &&
           !is_free(slot_of(lt, lt->rank->ids[lt->hint]), now))
        lt->hint++;
}

static int grant(lease_table *lt, store *st, const char *annotator,
                 int64_t id, int64_t now, int64_t ttl, lease_grant *g)
{
    int64_t lease_id;
    int rc = store_lease_insert(st, id, annotator, now, now + ttl, &lease_id);
    if (rc)
        return rc;
    slot *s = slot_of(lt, id);
    if (s->lease_id)
        lt->leased--; /* an expired lease not yet popped is replaced */
    s->lease_id = lease_id, s->expires = now + ttl;
    lt->leased++;
    *g = (lease_grant){lease_id, id, now + ttl, 0};
    return heap_push(lt, (deadline){now + ttl, id, lease_id});
}

int lease_take(lease_table *lt, store *st, const char *annotator, int n,
               int64_t now, int64_t ttl_ms, lease_grant *out, int *got)
{
    int rc = 0;
    *got = 0;
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    if (lt->rank)
        advance_hint(lt, now);
    for (size_t p = lt->hint; lt->rank && p < lt->rank->n && *got < n; p++) {
        int64_t id = lt->rank->ids[p];
        if (!is_free(slot_of(lt, id), now))
            continue;
        rc = grant(lt, st, annotator, id, now, ttl_ms, &out[*got]);
        if (rc)
            break;
        out[(*got)++].pos = (int32_t)p;
    }
    pthread_mutex_unlock(&lt->mu);
    return rc;
}

int64_t lease_holder(lease_table *lt, int64_t sample_id, int64_t now)
{
    pthread_mutex_lock(&lt->mu);
    slot *s = slot_of(lt, sample_id);
    int64_t id = s && s->lease_id && s->expires > now ? s->lease_id : 0;
    pthread_mutex_unlock(&lt->mu);
    return id;
}

void lease_note_label(lease_table *lt, int64_t sample_id, bool labeled)
{
    pthread_mutex_lock(&lt->mu);
    slot *s = slot_of(lt, sample_id);
    if (s && s->in_pool && s->labeled != labeled) {
        s->labeled = labeled;
        lt->labeled += labeled ? 1 : -1;
        if (!labeled && s->lease_id == 0)
            became_free(lt, sample_id);
    }
    pthread_mutex_unlock(&lt->mu);
}

void lease_note_closed(lease_table *lt, int64_t sample_id, int64_t lease_id)
{
    pthread_mutex_lock(&lt->mu);
    slot *s = slot_of(lt, sample_id);
    if (s && s->lease_id == lease_id) {
        s->lease_id = 0;
        lt->leased--;
        if (!s->labeled)
            became_free(lt, sample_id);
    }
    pthread_mutex_unlock(&lt->mu);
}

int lease_peek(lease_table *lt, int64_t now, int limit, int64_t *ids,
               int32_t *pos)
{
    int got = 0;
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    for (size_t p = lt->hint; lt->rank && p < lt->rank->n && got < limit;
         p++) {
        int64_t id = lt->rank->ids[p];
        if (is_free(slot_of(lt, id), now)) {
            ids[got] = id;
            pos[got++] = (int32_t)p;
        }
    }
    pthread_mutex_unlock(&lt->mu);
    return got;
}

void lease_counts(lease_table *lt, int64_t now, lease_counts_t *out)
{
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    out->pool = lt->pool;
    out->labeled = lt->labeled;
    out->leased = lt->leased;
    out->free = lt->pool - lt->labeled - lt->leased;
    pthread_mutex_unlock(&lt->mu);
}
