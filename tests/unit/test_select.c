/* select_typical on synthetic embeddings whose clusters are known: the
 * picks cover clusters before they repeat one, skip what is labeled
 * already, take typical members (near a centre, not an outlier), and let
 * S decide only inside a cluster's typical half. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"
#include "score.h"
#include "select.h"
#include "testlib.h"

#define DIM 16
#define C 10
#define MAXN 4000

typedef struct blobs {
    float x[MAXN * DIM], centre[C][DIM];
    int y[MAXN], n;
} blobs;

static blobs B;

/* C separated blobs of sizes 100 + 40c, around random unit-ish centres;
 * members spread 0.15 around them, plus one far outlier per blob. */
static void make_blobs(uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < DIM; j++)
            B.centre[c][j] = rng_normal(&r);
    B.n = 0;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < 100 + 40 * c; i++, B.n++) {
            float spread = i == 0 ? 1.5f : 0.15f; /* member 0: the outlier */
            B.y[B.n] = c;
            for (int j = 0; j < DIM; j++)
                B.x[B.n * DIM + j] = B.centre[c][j] + spread * rng_normal(&r);
        }
}

static double dist_to_centre(int i)
{
    double s = 0;
    for (int j = 0; j < DIM; j++) {
        double d = B.x[i * DIM + j] - B.centre[B.y[i]][j];
        s += d * d;
    }
    return sqrt(s);
}

/* The first C picks of order take one member of each blob. */
static bool covers_every_blob(const int *order)
{
    int seen[C] = {0};
    for (int j = 0; j < C; j++)
        seen[B.y[order[j]]]++;
    for (int c = 0; c < C; c++)
        if (seen[c] != 1)
            return false;
    return true;
}

static int t_first_picks_cover_every_cluster(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        make_blobs(seed);
        static int order[MAXN];
        select_in in = {.feat = B.x, .n = B.n, .dim = DIM, .budget = C};
        CHECK(select_typical(&in, seed, order, NULL) == 0);
        CHECK(covers_every_blob(order));
        /* typical: each first pick lies nearer its centre than the
         * cluster's typical member does (0.15 * sqrt(DIM) = 0.6) */
        for (int j = 0; j < C; j++)
            CHECK(dist_to_centre(order[j]) < 0.6);
    }
    return 0;
}

/* k_factor 2 with half the budget: still one cluster per blob, so the
 * first C picks cover every blob; score_order passes it on. */
static int t_k_factor_doubles_the_clusters(void)
{
    static int order[MAXN], again[MAXN];
    static float mass[MAXN];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        make_blobs(seed);
        select_in in = {
            .feat = B.x, .n = B.n, .dim = DIM, .budget = C / 2, .k_factor = 2};
        CHECK(select_typical(&in, seed, order, NULL) == 0);
        CHECK(covers_every_blob(order));
    }
    for (int i = 0; i < B.n; i++)
        mass[i] = 1.0f;
    score_in si = {.n = B.n,
                   .feat = B.x,
                   .feat_dim = DIM,
                   .entropy = mass,
                   .budget = C / 2,
                   .k_factor = 2};
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 9, order, NULL) == 0);
    select_in in = {.feat = B.x,
                    .n = B.n,
                    .dim = DIM,
                    .budget = C / 2,
                    .mass = mass,
                    .k_factor = 2};
    CHECK(select_typical(&in, 9, again, NULL) == 0);
    CHECK(memcmp(order, again, sizeof(int) * (size_t)B.n) == 0);
    in.k_factor = 1;
    CHECK(select_typical(&in, 9, again, NULL) == 0);
    CHECK(memcmp(order, again, sizeof(int) * (size_t)B.n) != 0);
    return 0;
}

static int t_labeled_clusters_come_last(void)
{
    make_blobs(11);
    /* clusters 0-4 hold 4 labeled samples each: the candidates are the
     * rest, and the first 5 picks must come from clusters 5-9 */
    static float cand[MAXN * DIM], lab[C * 4 * DIM];
    static int cand_row[MAXN], order[MAXN];
    int nc = 0, nl = 0, per[C] = {0};
    for (int i = 0; i < B.n; i++) {
        if (B.y[i] < 5 && per[B.y[i]] < 4 && i % 7 == 1) {
            per[B.y[i]]++;
            memcpy(lab + nl++ * DIM, B.x + i * DIM, sizeof(float) * DIM);
            continue;
        }
        memcpy(cand + nc * DIM, B.x + i * DIM, sizeof(float) * DIM);
        cand_row[nc++] = i;
    }
    CHECK(nl == 20);
    select_in in = {.feat = cand,
                    .n = nc,
                    .dim = DIM,
                    .lab_feat = lab,
                    .n_lab = nl,
                    .budget = 5};
    CHECK(select_typical(&in, 3, order, NULL) == 0);
    for (int j = 0; j < 5; j++)
        CHECK(B.y[cand_row[order[j]]] >= 5);
    /* the same rows handed over as scratch, candidates then labeled: the
     * same order, and the rows come back normalised in place */
    static float scratch[MAXN * DIM];
    static int again[MAXN];
    memcpy(scratch, cand, sizeof(float) * (size_t)(nc * DIM));
    memcpy(scratch + nc * DIM, lab, sizeof(float) * (size_t)(nl * DIM));
    in = (select_in){
        .scratch = scratch, .n = nc, .dim = DIM, .n_lab = nl, .budget = 5};
    CHECK(select_typical(&in, 3, again, NULL) == 0);
    CHECK(memcmp(order, again, sizeof(int) * (size_t)nc) == 0);
    for (int i = 0; i < nc + nl; i += nc + nl - 1) { /* first and last */
        double ss = 0;
        for (int d = 0; d < DIM; d++)
            ss += (double)scratch[i * DIM + d] * scratch[i * DIM + d];
        CHECK(fabs(ss - 1) < 1e-5);
    }
    return 0;
}

static int t_outliers_last_and_order_complete(void)
{
    make_blobs(5);
    static int order[MAXN], seen[MAXN];
    static float key[MAXN];
    select_in in = {.feat = B.x, .n = B.n, .dim = DIM, .budget = C};
    CHECK(select_typical(&in, 9, order, key) == 0);
    memset(seen, 0, sizeof(seen));
    for (int j = 0; j < B.n; j++) {
        seen[order[j]]++;
        CHECK(key[order[j]] == (float)j);
    }
    for (int i = 0; i < B.n; i++)
        CHECK(seen[i] == 1);
    /* each far outlier comes after nine tenths of its blob */
    int start = 0;
    for (int c = 0; c < C; c++) {
        int size = 100 + 40 * c, before = 0;
        for (int i = start + 1; i < start + size; i++)
            before += key[i] < key[start];
        CHECK(before > 0.9 * (size - 1));
        start += size;
    }
    /* the same seed gives the same order */
    static int again[MAXN];
    CHECK(select_typical(&in, 9, again, NULL) == 0);
    CHECK(!memcmp(order, again, sizeof(int) * (size_t)B.n));
    return 0;
}

static int t_sampler_decides_inside_the_typical_half(void)
{
    make_blobs(7);
    static int plain[MAXN], with_s[MAXN];
    static float s[MAXN];
    rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < B.n; i++)
        s[i] = rng_uniform(&r);
    select_in in = {.feat = B.x, .n = B.n, .dim = DIM, .budget = C};
    CHECK(select_typical(&in, 2, plain, NULL) == 0);
    in.sampler = s;
    CHECK(select_typical(&in, 2, with_s, NULL) == 0);
    /* still one pick per cluster, each the lowest S of a large share of
     * its cluster (its typical half), and still typical */
    int seen[C] = {0};
    for (int j = 0; j < C; j++) {
        int i = with_s[j], c = B.y[i], lower = 0, size = 0;
        seen[c]++;
        for (int k = 0; k < B.n; k++)
            if (B.y[k] == c) {
                size++;
                lower += s[k] < s[i];
            }
        CHECK(lower < 10); /* the other half only, and rarely */
        CHECK(dist_to_centre(i) < 0.9);
    }
    for (int c = 0; c < C; c++)
        CHECK(seen[c] == 1);
    CHECK(memcmp(plain, with_s, sizeof(int) * C) != 0);
    return 0;
}

static int t_bad_input(void)
{
    int order[4];
    float f[4 * DIM] = {0};
    /* labeled, no features */
    select_in in = {.feat = f, .n = 4, .dim = DIM, .n_lab = 2, .budget = 2};
    CHECK(select_typical(&in, 1, order, NULL) == ARAL_EINVAL);
    in = (select_in){.feat = f, .n = 4, .dim = 0, .budget = 2};
    CHECK(select_typical(&in, 1, order, NULL) == ARAL_EINVAL);
    in = (select_in){.feat = f, .n = 4, .dim = DIM, .budget = 2};
    /* all-zero rows */
    CHECK(select_typical(&in, 1, order, NULL) == 0);
    int seen[4] = {0};
    for (int j = 0; j < 4; j++)
        seen[order[j]]++;
    for (int j = 0; j < 4; j++)
        CHECK(seen[j] == 1);
    score_in si = {.n = 4, .feat = f, .feat_dim = DIM};
    CHECK(score_order(STRATEGY_TYPICAL_ARAL, &si, 1, order, NULL) ==
          ARAL_EINVAL); /* S needed, not given */
    CHECK(score_order(STRATEGY_TYPICAL, &si, 1, order, NULL) == 0);
    return 0;
}

/* Clusters with as few labels go largest first; with a mass, heaviest
 * first: cluster c weighs (C - c)^2 in all, so the smallest goes first,
 * through score_order as typical-mass with the mass as D's entropy. */
static int t_mass_orders_the_clusters(void)
{
    make_blobs(7);
    static int order[MAXN], size[C];
    static float mass[MAXN];
    for (int i = 0; i < B.n; i++)
        size[B.y[i]]++;
    for (int i = 0; i < B.n; i++)
        mass[i] = (float)((C - B.y[i]) * (C - B.y[i])) / (float)size[B.y[i]];
    select_in in = {.feat = B.x, .n = B.n, .dim = DIM, .budget = C};
    CHECK(select_typical(&in, 4, order, NULL) == 0);
    for (int j = 0; j < C; j++)
        CHECK(B.y[order[j]] == C - 1 - j);
    score_in si = {
        .n = B.n, .feat = B.x, .feat_dim = DIM, .entropy = mass, .budget = C};
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, order, NULL) == 0);
    for (int j = 0; j < C; j++)
        CHECK(B.y[order[j]] == j);
    si.entropy = NULL; /* the mass is needed */
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, order, NULL) ==
          ARAL_EINVAL);
    return 0;
}

/* Polls left before stop says true (-1: never). */
static bool stop_after(void *ctx)
{
    int *left = ctx;
    return *left >= 0 && (*left)-- == 0;
}

/* A stop that never fires changes nothing; one that fires ends the call
 * with ARAL_ECANCELED, polled in each phase (normalising the rows,
 * k-means++ seeding, Lloyd's iterations, the clusters' typicality) and
 * from score_order too. */
static int t_stop_cancels(void)
{
    make_blobs(5);
    static int plain[MAXN], polled[MAXN];
    select_in in = {.feat = B.x, .n = B.n, .dim = DIM, .budget = C};
    CHECK(select_typical(&in, 3, plain, NULL) == 0);
    int never = -1, polls = 0;
    in.stop = stop_after, in.stop_ctx = &never;
    CHECK(select_typical(&in, 3, polled, NULL) == 0);
    CHECK(!memcmp(plain, polled, sizeof(int) * (size_t)B.n));
    int count = 1 << 30; /* counts the polls of a whole call */
    in.stop_ctx = &count;
    CHECK(select_typical(&in, 3, polled, NULL) == 0);
    polls = (1 << 30) - count;
    CHECK(polls >= C + 2 * C); /* a poll per centre, per cluster, ... */
    for (int at = 0; at < polls; at += 1 + polls / 7) {
        int left = at;
        in.stop_ctx = &left;
        CHECK(select_typical(&in, 3, polled, NULL) == ARAL_ECANCELED);
    }
    int left = 0;
    score_in si = {.n = B.n,
                   .feat = B.x,
                   .feat_dim = DIM,
                   .budget = C,
                   .stop = stop_after,
                   .stop_ctx = &left};
    CHECK(score_order(STRATEGY_TYPICAL, &si, 3, polled, NULL) ==
          ARAL_ECANCELED);
    return 0;
}

static const test_case cases[] = {
    {"typical: first picks cover every cluster",
     t_first_picks_cover_every_cluster},
    {"typical: labeled clusters come last, also from scratch",
     t_labeled_clusters_come_last},
    {"typical: k_factor 2 doubles the clusters",
     t_k_factor_doubles_the_clusters},
    {"typical: outliers last, order complete, seeded",
     t_outliers_last_and_order_complete},
    {"typical-aral: S decides inside the typical half",
     t_sampler_decides_inside_the_typical_half},
    {"typical: bad input", t_bad_input},
    {"typical-mass: the heaviest clusters first", t_mass_orders_the_clusters},
    {"typical: a stop cancels the ranking", t_stop_cancels},
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
