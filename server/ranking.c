/* ranking: refcounted snapshots. Acquire and publish take a spinlock held
 * for a handful of instructions: without it, a reader could load the
 * pointer, be preempted while the publisher drops the last reference,
 * and increment freed memory. */
#include "ranking.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static void lock(ranking_slot *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        ;
}

static void unlock(ranking_slot *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

static void ranking_free(ranking *r)
{
    free(r->ids);
    free(r->scores);
    free(r->pseudo);
    free(r->confidence);
    free(r->sampler);
    free(r->pos_of);
    free(r);
}

static int index_positions(ranking *r)
{
    r->max_id = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] > r->max_id)
            r->max_id = r->ids[i];
    r->pos_of = malloc(sizeof(int32_t) * (size_t)(r->max_id + 1));
    if (!r->pos_of)
        return -1;
    memset(r->pos_of, 0xff, sizeof(int32_t) * (size_t)(r->max_id + 1));
    for (size_t i = 0; i < r->n; i++)
        r->pos_of[r->ids[i]] = (int32_t)i;
    return 0;
}

ranking *ranking_new_random(const int64_t *ids, size_t n, uint64_t seed)
{
    ranking *r = calloc(1, sizeof(*r));
    uint32_t *perm = malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!r || !perm || !(r->ids = malloc(sizeof(int64_t) * (n ? n : 1)))) {
        free(perm);
        if (r)
            ranking_free(r);
        return NULL;
    }
    rng g;
    rng_seed(&g, seed);
    rng_permutation(&g, perm, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        r->ids[i] = ids[perm[i]];
    free(perm);
    r->n = n;
    strcpy(r->strategy, "random");
    r->model_version = -1;
    atomic_init(&r->refs, 1);
    if (index_positions(r)) {
        ranking_free(r);
        return NULL;
    }
    return r;
}

ranking *ranking_new_scored(const char *strategy, int64_t model_version,
                            size_t n, int64_t *ids, float *scores, int *pseudo,
                            float *confidence, float *sampler)
{
    ranking *r = calloc(1, sizeof(*r));
    if (!r) {
        free(ids), free(scores), free(pseudo), free(confidence), free(sampler);
        return NULL;
    }
    *r = (ranking){.n = n,
                   .ids = ids,
                   .scores = scores,
                   .pseudo = pseudo,
                   .confidence = confidence,
                   .sampler = sampler,
                   .model_version = model_version};
    snprintf(r->strategy, sizeof(r->strategy), "%s", strategy);
    atomic_init(&r->refs, 1);
    if (index_positions(r)) {
        ranking_free(r);
        return NULL;
    }
    return r;
}

ranking *ranking_extend(const ranking *base, const int64_t *ids, size_t n,
                        uint64_t seed)
{
    size_t m = base->n + n + 1; /* an upper bound */
    int64_t *id = malloc(sizeof(int64_t) * m);
    int64_t *fresh = malloc(sizeof(int64_t) * (n + 1));
    float *sc = malloc(sizeof(float) * m), *cf = malloc(sizeof(float) * m);
    float *sm = base->sampler ? malloc(sizeof(float) * m) : NULL;
    int *ps = malloc(sizeof(int) * m);
    uint32_t *perm = malloc(sizeof(uint32_t) * (n + 1));
    if (!id || !fresh || !sc || !ps || !cf || !perm || (base->sampler && !sm)) {
        free(id), free(fresh), free(sc), free(ps), free(cf), free(perm);
        free(sm);
        return NULL;
    }
    size_t k = base->n, f = 0;
    memcpy(id, base->ids, sizeof(int64_t) * k);
    memcpy(sc, base->scores, sizeof(float) * k);
    memcpy(ps, base->pseudo, sizeof(int) * k);
    memcpy(cf, base->confidence, sizeof(float) * k);
    if (sm)
        memcpy(sm, base->sampler, sizeof(float) * k);
    for (size_t i = 0; i < n; i++)
        if (ranking_pos(base, ids[i]) < 0)
            fresh[f++] = ids[i];
    /* The new ones, unscored, in a seeded random order. */
    rng g;
    rng_seed(&g, seed);
    rng_permutation(&g, perm, (uint32_t)f);
    for (size_t j = 0; j < f; j++, k++) {
        id[k] = fresh[perm[j]], sc[k] = NAN, ps[k] = -1, cf[k] = NAN;
        if (sm)
            sm[k] = NAN;
    }
    free(fresh), free(perm);
    return ranking_new_scored(base->strategy, base->model_version, k, id, sc,
                              ps, cf, sm);
}

int32_t ranking_pos(const ranking *r, int64_t id)
{
    if (id < 0 || id > r->max_id)
        return -1;
    return r->pos_of[id];
}

const char *ranking_strategy(const ranking *r)
{
    return r ? r->strategy : "random";
}

ranking *ranking_acquire(ranking_slot *s)
{
    lock(s);
    ranking *r = atomic_load(&s->cur);
    ranking_retain(r);
    unlock(s);
    return r;
}

void ranking_publish(ranking_slot *s, ranking *r)
{
    lock(s);
    ranking *old = atomic_exchange(&s->cur, r);
    unlock(s);
    ranking_release(old);
}

void ranking_retain(ranking *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
}

void ranking_release(ranking *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        ranking_free(r);
}
