#include "lease.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fault.h"
#include "util.h"

typedef struct slot {
    int64_t lease_id; /* 0: none */
    int64_t expires;
    uint64_t seq; /* the latest write applied to this sample */
    bool in_pool, labeled;
} slot;

typedef struct deadline {
    int64_t expires, sample_id, lease_id;
} deadline;

/* What a reload replaces as a whole. */
typedef struct pool_state {
    slot *slots; /* by sample id, 0..max_id */
    int64_t max_id;
    deadline *heap; /* min-heap on expires */
    size_t heap_n, heap_cap;
    int64_t pool, labeled, leased;
} pool_state;

/* A change applied while a reload reads the database. */
typedef struct logged {
    uint64_t seq;
    lease_change c;
} logged;

struct lease_table {
    pthread_mutex_t mu;
    pool_state s;
    bool heap_lost; /* a deadline could not be pushed: scan instead */
    ranking *rank;
    size_t hint; /* every ranked sample before it is taken */
    /* From a reload's start to its swap, every change applied to the old
     * state is kept here and applied again to the new one: a write that
     * commits after the reload read the database may apply before the
     * swap, and would otherwise be lost with the old state. */
    bool logging, log_lost;
    logged *log;
    size_t log_n, log_cap;
};

lease_table *lease_table_new(void)
{
    lease_table *lt = calloc(1, sizeof(*lt));
    if (lt)
        pthread_mutex_init(&lt->mu, NULL);
    return lt;
}

static void state_free(pool_state *s)
{
    free(s->slots);
    free(s->heap);
}

void lease_table_free(lease_table *lt)
{
    if (!lt)
        return;
    ranking_release(lt->rank);
    state_free(&lt->s);
    free(lt->log);
    pthread_mutex_destroy(&lt->mu);
    free(lt);
}

/* ---- the deadline heap. */

static int heap_grow(pool_state *s, size_t need)
{
    if (need <= s->heap_cap)
        return 0;
    size_t cap = s->heap_cap ? s->heap_cap : 256;
    while (cap < need)
        cap *= 2;
    deadline *h = realloc(s->heap, cap * sizeof(*h));
    if (!h)
        return ARAL_ENOMEM;
    s->heap = h, s->heap_cap = cap;
    return 0;
}

/* Room is there (heap_grow). */
static void heap_push(pool_state *s, deadline d)
{
    size_t i = s->heap_n++;
    while (i > 0 && s->heap[(i - 1) / 2].expires > d.expires) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = d;
}

static deadline heap_pop(pool_state *s)
{
    deadline top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->heap[c + 1].expires < s->heap[c].expires)
            c++;
        if (s->heap[c].expires >= last.expires)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* ---- state. */

static slot *slot_of(lease_table *lt, int64_t id)
{
    return id > 0 && id <= lt->s.max_id ? &lt->s.slots[id] : NULL;
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

/* The slow way, after a deadline could not be pushed (out of memory):
 * expires leases by a scan of every slot and rebuilds the heap. */
static void expire_by_scan(lease_table *lt, int64_t now)
{
    pool_state *ps = &lt->s;
    ps->heap_n = 0;
    bool room = heap_grow(ps, (size_t)ps->leased + 1) == 0;
    for (int64_t id = 1; id <= ps->max_id; id++) {
        slot *s = &ps->slots[id];
        if (s->lease_id && s->expires <= now) {
            s->lease_id = 0;
            ps->leased--;
            if (!s->labeled)
                became_free(lt, id);
        } else if (s->lease_id && room) {
            heap_push(ps, (deadline){s->expires, id, s->lease_id});
        }
    }
    lt->heap_lost = !room;
}

/* Pops every deadline that has passed; leases still current become free. */
static void expire(lease_table *lt, int64_t now)
{
    if (lt->heap_lost)
        expire_by_scan(lt, now);
    while (lt->s.heap_n && lt->s.heap[0].expires <= now) {
        deadline d = heap_pop(&lt->s);
        slot *s = slot_of(lt, d.sample_id);
        if (s && s->lease_id == d.lease_id) {
            s->lease_id = 0;
            lt->s.leased--;
            if (!s->labeled)
                became_free(lt, d.sample_id);
        }
    }
}

/* ---- loading. */

struct load_ctx {
    pool_state *s;
    int64_t now;
    uint64_t seq;
    int rc;
};

static void load_one(void *ctx, int64_t id, int label, int64_t lease_id,
                     int64_t expires)
{
    struct load_ctx *c = ctx;
    if (id < 1 || id > c->s->max_id)
        return;
    slot *s = &c->s->slots[id];
    s->in_pool = true;
    s->labeled = label >= 0;
    s->seq = c->seq;
    c->s->pool++;
    c->s->labeled += s->labeled;
    if (lease_id && expires > c->now && !s->labeled) {
        s->lease_id = lease_id, s->expires = expires;
        c->s->leased++;
        if (heap_grow(c->s, c->s->heap_n + 1))
            c->rc = ARAL_ENOMEM;
        else
            heap_push(c->s, (deadline){expires, id, lease_id});
    }
}

/* The pool's states as the database holds them (inside a transaction). */
static int load(pool_state *out, store *st, uint64_t seq)
{
    memset(out, 0, sizeof(*out));
    int rc = store_pool_max_id(st, &out->max_id);
    if (rc)
        return rc;
    out->slots = calloc((size_t)out->max_id + 1, sizeof(slot));
    if (!out->slots)
        return ARAL_ENOMEM;
    struct load_ctx c = {out, util_now_ms(), seq, 0};
    rc = store_pool_states(st, load_one, &c);
    return rc ? rc : c.rc;
}

static void apply_one(lease_table *lt, uint64_t seq, const lease_change *c);

/* Reads the pool in a transaction of its own (the caller holds no
 * transaction); on success *fresh holds it. */
static int read_pool(store *st, pool_state *fresh)
{
    int rc = store_begin(st);
    if (rc)
        return rc;
    rc = load(fresh, st, store_write_seq(st));
    if (rc)
        store_rollback(st);
    else /* what was read is only true once its group commits */
        rc = store_commit(st);
    if (rc)
        state_free(fresh);
    return rc;
}

int lease_table_reload(lease_table *lt, store *st, ranking *r)
{
    pthread_mutex_lock(&lt->mu);
    lt->logging = true, lt->log_lost = false, lt->log_n = 0;
    pthread_mutex_unlock(&lt->mu);
    pool_state fresh;
    int rc = read_pool(st, &fresh);
    pthread_mutex_lock(&lt->mu);
    lt->logging = false;
    if (!rc && lt->log_lost) { /* a change would be missing: keep the old */
        state_free(&fresh);
        rc = ARAL_ENOMEM;
    }
    ranking *old = NULL;
    if (!rc) {
        state_free(&lt->s);
        lt->s = fresh;
        lt->heap_lost = false;
        /* Changes the read already holds are older than its slots'
         * seq, and apply_one passes over them. */
        for (size_t i = 0; i < lt->log_n; i++)
            apply_one(lt, lt->log[i].seq, &lt->log[i].c);
        ranking_retain(r);
        old = lt->rank;
        lt->rank = r;
        lt->hint = 0;
    }
    lt->log_n = 0;
    pthread_mutex_unlock(&lt->mu);
    ranking_release(old);
    return rc;
}

void lease_table_set_ranking(lease_table *lt, ranking *r)
{
    ranking_retain(r);
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
    ranking_retain(r);
    pthread_mutex_unlock(&lt->mu);
    return r;
}

/* ---- leasing. */

/* Moves the hint over the taken prefix of the ranking. */
static void advance_hint(lease_table *lt, int64_t now)
{
    while (lt->hint < lt->rank->n &&
           !is_free(slot_of(lt, lt->rank->ids[lt->hint]), now))
        lt->hint++;
}

/* Up to max positions of r, from *from on, that the table takes for
 * free; *from moves past the last one looked at. */
static int candidates(lease_table *lt, const ranking *r, int64_t now,
                      size_t *from, int32_t *pos, int max)
{
    int k = 0;
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    if (lt->rank == r) { /* else a new ranking came (see lease_take) */
        advance_hint(lt, now);
        if (*from < lt->hint)
            *from = lt->hint;
        for (; *from < r->n && k < max; (*from)++)
            if (is_free(slot_of(lt, r->ids[*from]), now))
                pos[k++] = (int32_t)*from;
    }
    pthread_mutex_unlock(&lt->mu);
    return k;
}

/* candidates beyond n, for those the table is behind on */
#define TAKE_SLACK 8

/* The ranking the table serves (retained) if it is no longer r; else
 * NULL. */
static ranking *newer_ranking(lease_table *lt, const ranking *r)
{
    pthread_mutex_lock(&lt->mu);
    ranking *now = lt->rank != r ? lt->rank : NULL;
    ranking_retain(now);
    pthread_mutex_unlock(&lt->mu);
    return now;
}

/* Moves *r to the ranking the table serves, if that is a newer one. */
static bool take_newer(lease_table *lt, ranking **r)
{
    ranking *fresh = newer_ranking(lt, *r);
    if (fresh) {
        ranking_release(*r);
        *r = fresh;
    }
    return fresh != NULL;
}

/* The test hook "lease_gap": waits, at most 5 s, until a ranking other
 * than r is published, as one can be between lease_take's first look
 * at the ranking and its first candidates. */
static void lease_gap(lease_table *lt, const ranking *r)
{
    ranking *other = NULL;
    for (int waited = 0; waited < 5000 && !other; waited += 10) {
        util_sleep_ms(10);
        other = newer_ranking(lt, r);
    }
    ranking_release(other);
}

int lease_take(lease_table *lt, store *st, const lease_holder *who, int n,
               int64_t now, int64_t ttl_ms, lease_grant *out, int *got,
               ranking **served)
{
    ranking *r = lease_table_ranking(lt);
    int32_t pos[LEASE_TAKE_MAX + TAKE_SLACK];
    size_t from = 0;
    int rc = 0, k;
    *got = 0;
    *served = r;
    if (n > LEASE_TAKE_MAX)
        n = LEASE_TAKE_MAX;
    if (fault_hit("lease_gap"))
        lease_gap(lt, r);
    /* The table's mutex is not held across the inserts: applying other
     * requests' commits must not wait on this one's I/O. */
    while (!rc && r && *got < n) {
        k = candidates(lt, r, now, &from, pos, n - *got + TAKE_SLACK);
        /* A ranking published since r was taken: before any grant, serve
         * it rather than an empty answer (after one, the answer stays in
         * one ranking and may come out short). */
        if (!k && !*got && take_newer(lt, &r)) {
            *served = r;
            from = 0;
            continue;
        }
        if (!k)
            break;
        for (int i = 0; i < k && *got < n; i++) {
            int64_t id = r->ids[pos[i]], lease_id;
            /* The database has the last word: a write earlier in this
             * transaction, or committed but not applied yet, may have
             * labeled or leased the sample. */
            rc = store_lease_insert(st, id, who, now, now + ttl_ms,
                                    r->model_version, &lease_id);
            if (rc == ARAL_ECONFLICT) {
                rc = 0;
                continue;
            }
            if (rc)
                break;
            out[(*got)++] = (lease_grant){lease_id, id, now + ttl_ms, pos[i]};
        }
    }
    return rc;
}

/* ---- applying committed writes. */

static void apply_one(lease_table *lt, uint64_t seq, const lease_change *c)
{
    slot *s = slot_of(lt, c->sample_id);
    if (!s || !s->in_pool || seq < s->seq)
        return; /* not ours to serve, or a later write already applied */
    s->seq = seq;
    int64_t lease_id = c->labeled ? 0 : c->lease_id;
    lt->s.labeled += (int64_t)c->labeled - (int64_t)s->labeled;
    lt->s.leased += (lease_id != 0) - (s->lease_id != 0);
    bool new_lease = lease_id && lease_id != s->lease_id;
    s->labeled = c->labeled;
    s->lease_id = lease_id, s->expires = lease_id ? c->expires : 0;
    if (new_lease && heap_grow(&lt->s, lt->s.heap_n + 1))
        lt->heap_lost = true; /* expire() scans until the heap is whole */
    else if (new_lease)
        heap_push(&lt->s, (deadline){c->expires, c->sample_id, lease_id});
    if (!s->labeled && !new_lease)
        became_free(lt, c->sample_id); /* or still leased: harmless */
}

/* Keeps a change for the reload under way (under mu). */
static void log_change(lease_table *lt, uint64_t seq, const lease_change *c)
{
    if (lt->log_n == lt->log_cap) {
        size_t cap = lt->log_cap ? 2 * lt->log_cap : 256;
        logged *p = realloc(lt->log, sizeof(*p) * cap);
        if (!p) {
            lt->log_lost = true;
            return;
        }
        lt->log = p, lt->log_cap = cap;
    }
    lt->log[lt->log_n++] = (logged){seq, *c};
}

void lease_apply(lease_table *lt, uint64_t seq, const lease_change *c, int n)
{
    pthread_mutex_lock(&lt->mu);
    for (int i = 0; i < n; i++) {
        apply_one(lt, seq, &c[i]);
        if (lt->logging)
            log_change(lt, seq, &c[i]);
    }
    pthread_mutex_unlock(&lt->mu);
}

/* ---- reading. */

int lease_peek(lease_table *lt, int64_t now, int limit, int64_t *ids,
               int32_t *pos)
{
    int got = 0;
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    for (size_t p = lt->hint; lt->rank && p < lt->rank->n && got < limit; p++) {
        int64_t id = lt->rank->ids[p];
        if (is_free(slot_of(lt, id), now)) {
            ids[got] = id;
            pos[got++] = (int32_t)p;
        }
    }
    pthread_mutex_unlock(&lt->mu);
    return got;
}

int lease_table_pool_ids(lease_table *lt, int64_t **ids, size_t *n)
{
    pthread_mutex_lock(&lt->mu);
    size_t k = 0, cap = (size_t)lt->s.pool;
    int64_t *out = malloc(sizeof(int64_t) * (cap ? cap : 1));
    for (int64_t id = 1; out && id <= lt->s.max_id && k < cap; id++)
        if (lt->s.slots[id].in_pool)
            out[k++] = id;
    pthread_mutex_unlock(&lt->mu);
    *ids = out, *n = k;
    return out ? 0 : ARAL_ENOMEM;
}

int64_t lease_table_max_id(lease_table *lt)
{
    pthread_mutex_lock(&lt->mu);
    int64_t id = lt->s.max_id;
    pthread_mutex_unlock(&lt->mu);
    return id;
}

void lease_counts(lease_table *lt, int64_t now, lease_counts_t *out)
{
    pthread_mutex_lock(&lt->mu);
    expire(lt, now);
    out->pool = lt->s.pool;
    out->labeled = lt->s.labeled;
    out->leased = lt->s.leased;
    out->free = lt->s.pool - lt->s.labeled - lt->s.leased;
    pthread_mutex_unlock(&lt->mu);
}
