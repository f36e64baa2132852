/* ranking: an immutable order of the pool, published by one pointer swap.
 *
 * The worker (or, before any model exists, startup and imports) builds a
 * ranking and publishes it; readers take a reference and release it when
 * done, so a reader never blocks a publisher and a snapshot is freed by
 * its last holder. A ranking is never changed after publication.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ranking {
    atomic_int refs;
    char strategy[16];     /* "random" or a name of core/score.h */
    int64_t model_version; /* -1 while there is no model */
    size_t n;
    int64_t *ids;      /* sample ids, best first */
    float *scores;     /* per position; NULL for random */
    int *pseudo;       /* per position; NULL for random */
    float *confidence; /* per position; NULL for random */
    float *sampler;    /* S(z) per position; NULL if not known */
    int64_t max_id;
    int32_t *pos_of; /* by sample id (0..max_id): position or -1 */
} ranking;

/* A seeded random order of ids (copied). Caller owns one reference. NULL
 * on allocation failure. */
ranking *ranking_new_random(const int64_t *ids, size_t n, uint64_t seed);
/* A model's order: takes over the five malloc'd arrays (sampler may be
 * NULL; all freed on failure too). Caller owns one reference; NULL on
 * allocation failure. */
ranking *ranking_new_scored(const char *strategy, int64_t model_version,
                            size_t n, int64_t *ids, float *scores, int *pseudo,
                            float *confidence, float *sampler);
/* base's order, then the ids of `ids` that base does not rank, in a
 * seeded random order and unscored (score NaN, pseudo-label -1). Caller
 * owns one reference; NULL on allocation failure. */
ranking *ranking_extend(const ranking *base, const int64_t *ids, size_t n,
                        uint64_t seed);
/* Position of sample id, or -1 if it is not ranked. */
int32_t ranking_pos(const ranking *r, int64_t id);
/* r's strategy, or "random" without a ranking: the order served then. */
const char *ranking_strategy(const ranking *r);

typedef struct ranking_slot {
    _Atomic(ranking *) cur;
    atomic_flag lock; /* taken for the few instructions of acquire/swap */
} ranking_slot;

/* Takes a reference to the current ranking (NULL if none); release it
 * with ranking_release. */
ranking *ranking_acquire(ranking_slot *s);
/* Publishes r (takes over the caller's reference) and drops the slot's
 * reference to the previous ranking. */
void ranking_publish(ranking_slot *s, ranking *r);
/* A reference more, and one less (the last frees r). Both take NULL. */
void ranking_retain(ranking *r);
void ranking_release(ranking *r);
