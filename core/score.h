/* score: the acquisition strategies behind one interface. Each ranks
 * candidate samples best first (the first is the one to label next):
 *   aral          lowest S(mu) first: least like anything labeled (the
 *                 paper's acquisition);
 *   entropy       highest entropy of D's softmax first: most uncertain;
 *   random        a seeded permutation (the baseline);
 *   typical       typical members of the least-labeled clusters of D's
 *                 feature layer (select.h);
 *   typical-aral  the same, lowest S(mu) first within each cluster's
 *                 typical half;
 *   typical-entropy  the same, highest entropy first there;
 *   typical-mass  typical, but among clusters with as few labels the one
 *                 with the most entropy summed over its members first;
 *                 from uncertain_from labels a class on (score_in), each
 *                 cluster's typical half most uncertain first.
 * Ranking allocates its working arrays (once per call, outside training).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "aral.h"
#include "pca.h"

typedef enum strategy {
    STRATEGY_ARAL,
    STRATEGY_RANDOM,
    STRATEGY_ENTROPY,
    STRATEGY_TYPICAL,
    STRATEGY_TYPICAL_ARAL,
    STRATEGY_TYPICAL_ENTROPY,
    STRATEGY_TYPICAL_MASS,
    STRATEGY_COUNT
} strategy;

/* The strategy a model orders the pool by unless told otherwise (the
 * daemon and aral-sim alike): the winner in bench/results. */
#define STRATEGY_DEFAULT STRATEGY_TYPICAL_MASS

/* Labels a class from which typical-mass takes the most uncertain of a
 * cluster's typical half first (the daemon and aral-sim alike): typicality
 * wins while D is weak, uncertainty once it knows the classes. On the
 * validation split (bench/results, typical-mass-tr-tw-n12-u30, 10 seeds)
 * from 30 on: +0.5 and +0.2 points at 400 and 500 labels, the same picks
 * before; from 20 on (-u20): -0.6 and -0.4; from the first label on
 * (-u1): -0.2 and -0.4 at 200 and 300. After a random start, with the
 * join (typical-mass-tr-n12-u30-pw): +0.1 and +0.4 +- 0.15 (5 seeds); on
 * the long tail there +0.25 +- 0.3 and +0.3 +- 0.2 on balanced accuracy
 * (10 seeds); after the label-free start -0.3 and -0.3 (5 seeds), a cost
 * kept for the balanced pool's gain. */
#define SCORE_UNCERTAIN_FROM 30

/* A name above -> 0 and *out; ARAL_EINVAL otherwise. */
int strategy_parse(const char *name, strategy *out);
const char *strategy_name(strategy s);
/* "aral|random|..." for usage lines; a static string. */
const char *strategy_names(void);
/* What the strategy reads besides the candidates (score_in). */
bool strategy_needs_sampler(strategy s);
bool strategy_needs_entropy(strategy s);
bool strategy_needs_features(strategy s);

/* What a strategy reads about n candidates; only what it needs must be
 * set (borrowed for the call). */
typedef struct score_in {
    int n;
    const float *sampler, *entropy; /* n values each */
    const float *feat;              /* n x feat_dim: D's feature layer */
    int feat_dim;
    const float *lab_feat; /* n_lab x feat_dim: the labeled set */
    int n_lab;
    float *scratch;          /* or both in one buffer the call may
                              * overwrite (select.h) */
    int budget;              /* labels expected before the next */
    int k_factor;            /* clusters per label and budget
                              * (select.h); 0 is 1, TypiClust's */
    int classes;             /* typical-mass: the model's classes, and */
    int uncertain_from;      /* the labels a class (n_lab / classes) from
                              * which it goes most uncertain first; 0:
                              * never */
    bool (*stop)(void *ctx); /* the typical ones poll it (select.h) */
    void *stop_ctx;
} score_in;

/* order[0..n) gets candidate positions, best first. key (may be NULL)
 * gets each candidate's sort key: S(mu) for aral, -entropy for entropy,
 * the draw for random, the rank for the typical ones. seed feeds random
 * and the clustering. */
int score_order(strategy s, const score_in *in, uint64_t seed, int *order,
                float *key);
/* Whether score_order(s, in) puts D's most uncertain candidates first:
 * entropy always, typical-entropy within each cluster's typical half,
 * typical-mass likewise from in->uncertain_from labels a class on. What a
 * round reports, so that its rule can be seen from outside. */
bool score_uncertain_first(strategy s, const score_in *in);

/* Whether typical-mass clusters D's feature layer joined with the pixels'
 * whitened principal components (pca.h; select_join_row) instead of D's
 * features alone (the daemon and aral-sim alike): after a random start
 * (typical_start false: the daemon's start_strategy = random, aral-sim's
 * --initial-strategy random), whose labels do not cover the pool's groups
 * as the label-free start's do, for rows that pca.h takes (dim at most
 * PCA_MAX_DIM). On the validation split, paired with D's features alone
 * (bench/results, typical-mass-tr-n12-u30-pw): from the random start
 * +1.2, +0.65, +0.5 and +0.3 +- 0.2 points at 200-500 labels (10 seeds);
 * on the long tail from it +2.5, +0.9, +0.2 and -0.1 +- 0.7 (balanced
 * accuracy, 5 seeds); from the label-free start -0.1, -0.5, -0.1 and -0.0
 * (5 seeds), where it stays off. */
bool score_joins_components(strategy s, bool typical_start, int dim);

/* Where the candidates and the labeled set are rows of x. */
typedef struct score_pool {
    const aral_data *x;
    const int *cand; /* n candidate rows */
    int n;
    const int *lab; /* n_lab labeled rows */
    int n_lab;
    int budget;
    int k_factor;       /* as in score_in */
    int uncertain_from; /* as in score_in; the classes are the model's */
    const float *pcs;   /* NULL, or x's rows in whitened components (pca.h),
                         * pc_dim each, indexed by x's row: the typical
                         * strategies then cluster D's feature layer
                         * joined with them (score_joins_components) */
    int pc_dim;
} score_pool;

/* Infers what s needs with m and orders the candidates (score_order). */
int score_rank(aral *m, strategy s, const score_pool *p, uint64_t seed,
               int *order, float *key);
