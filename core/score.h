/* score: the acquisition strategies behind one interface. Each ranks
 * candidate samples best first (the first is the one to label next):
 *   aral     lowest S(mu) first: least like anything labeled;
 *   entropy  highest entropy of D's softmax first: most uncertain;
 *   random   a seeded permutation (the baseline).
 * Ranking allocates its working arrays (once per call, outside training).
 */
#pragma once
#include <stdint.h>

#include "aral.h"

typedef enum strategy {
    STRATEGY_ARAL,
    STRATEGY_RANDOM,
    STRATEGY_ENTROPY,
} strategy;

/* "aral", "random", "entropy" -> 0 and *out; ARAL_EINVAL otherwise. */
int strategy_parse(const char *name, strategy *out);
const char *strategy_name(strategy s);

/* Ranks rows idx[0..n) of x: order[0..n) gets positions into idx, best
 * first. key (may be NULL) gets each candidate's sort key (S(mu) for
 * aral, -entropy for entropy, the draw for random). seed feeds random. */
int score_rank(aral *m, strategy s, const aral_data *x, const int *idx,
               int n, uint64_t seed, int *order, float *key);
/* The same order from values already inferred (aral_infer): sampler
 * scores for aral, entropies for entropy (the other may be NULL). */
int score_order(strategy s, const float *sampler, const float *entropy,
                int n, uint64_t seed, int *order, float *key);
