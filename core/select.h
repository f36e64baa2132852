/* select: picks that are typical and diverse in an embedding, the
 * TypiClust recipe (Hacohen et al., arXiv 2202.02794) behind a full
 * ranking. The embedding (D's feature layer, or pixels before any label
 * exists) is L2-normalised and cut into k = labeled + budget clusters
 * (TypiClust's k; k_factor times as many when asked: measured in
 * bench/results, no better) by k-means++ and Lloyd's iterations; the
 * labeled samples count towards their clusters. The ranking then takes, again
 * and again, the cluster with the fewest labels so far (ties: the larger
 * cluster, or with a mass per candidate, the cluster whose candidates sum to
 * the most) and from it the most typical member left: the inverse of its mean
 * distance to its nearest neighbours in the cluster. The first `budget` picks
 * are TypiClust's; the rest keep covering the clusters round by round, so an
 * annotator who runs past the budget still gets sensible picks.
 *
 * With sampler scores (S(mu), ARAL's acquisition), each cluster's typical
 * half is taken lowest S first, then the other half by typicality: S
 * decides among samples that are typical anyway.
 *
 * Allocates its working arrays (once per call); deterministic for a seed.
 * Used by score.c; the embedding is the caller's. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct select_in {
    const float *feat; /* n rows of dim: the candidates */
    int n, dim;
    const float *lab_feat; /* n_lab rows of dim: the labeled set (may be 0) */
    int n_lab;
    float *scratch;          /* instead of feat and lab_feat: n + n_lab rows,
                              * the candidates then the labeled set, that the
                              * call may overwrite: it then normalises them in
                              * place instead of copying them (a 60k pool of
                              * pixels is 188 MB a copy) */
    int budget;              /* labels expected before the next ranking */
    const float *sampler;    /* n keys (S(mu), or minus the entropy), lowest
                              * first in a typical half; NULL: typicality */
    const float *mass;       /* n weights (D's entropy): among clusters with
                              * as few labels, the one whose candidates sum
                              * to the most goes first; NULL: the largest */
    bool (*stop)(void *ctx); /* polled between steps; true ends the call
                              * with ARAL_ECANCELED (NULL: never) */
    void *stop_ctx;
    int k_factor; /* k = k_factor * (n_lab + budget); 0 is 1 */
} select_in;

/* A value and whose it is; sorted by value ascending, ties by index (a
 * stable, portable order; score.c sorts its keys with it too). */
typedef struct select_keyed {
    float key;
    int i;
} select_keyed;
void select_sort_keyed(select_keyed *v, int n);

/* One row of two embeddings side by side: dst (da + db values) gets a,
 * then b, each part scaled to unit length (a zero part stays zero), so
 * that neither outweighs the other in the distances whatever its width
 * and scale. dst may not overlap a or b. */
void select_join_row(float *dst, const float *a, int da, const float *b,
                     int db);
/* n such rows: dst's row j (da + db values) joins a's row j with b's row
 * b_rows[j] (row j when b_rows is NULL). */
void select_join_rows(float *dst, const float *a, int da, const float *b,
                      int db, const int *b_rows, int n);

/* order[0..n) gets candidate positions, best first; key (may be NULL)
 * gets each candidate's rank in that order. 0, ARAL_ENOMEM, ARAL_EINVAL
 * (bad sizes) or ARAL_ECANCELED (stop said so; order is then partial). */
int select_typical(const select_in *in, uint64_t seed, int *order, float *key);
