/* select_typical on synthetic embeddings whose clusters are known: the
 * picks cover clusters before they repeat one, skip what is labeled
 * already, take typical members (near a centre, not an outlier), and let
 * S decide only inside a cluster's typical half. And pca_whiten, the
 * label-free start's embedding, on data whose components are planted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pca.h"
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

/* The blobs split into candidates (cand, cand_row) and labeled rows
 * (lab): row i is labeled when i % mod == rem, its blob is below `below`
 * and the blob has fewer than `per` labeled yet. Returns the candidates'
 * count; *nl gets the labeled. */
static int split_rows(int mod, int rem, int below, int per, float *cand,
                      int *cand_row, float *lab, int *nl)
{
    int nc = 0, got[C] = {0};
    *nl = 0;
    for (int i = 0; i < B.n; i++) {
        if (i % mod == rem && B.y[i] < below && got[B.y[i]] < per) {
            got[B.y[i]]++;
            memcpy(lab + (*nl)++ * DIM, B.x + i * DIM, sizeof(float) * DIM);
            continue;
        }
        memcpy(cand + nc * DIM, B.x + i * DIM, sizeof(float) * DIM);
        cand_row[nc++] = i;
    }
    return nc;
}

static int t_labeled_clusters_come_last(void)
{
    make_blobs(11);
    /* clusters 0-4 hold 4 labeled samples each: the candidates are the
     * rest, and the first 5 picks must come from clusters 5-9 */
    static float cand[MAXN * DIM], lab[C * 4 * DIM];
    static int cand_row[MAXN], order[MAXN];
    int nl, nc = split_rows(7, 1, 5, 4, cand, cand_row, lab, &nl);
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

/* Candidates (cand, cand_row) and a labeled set of one row in each blob
 * but the last (lab): k = labeled + 1 clusters then cut C blobs. Returns
 * the candidates' count. */
static int split_one_a_blob(float *cand, int *cand_row, float *lab)
{
    int nl, nc = split_rows(5, 3, C - 1, 1, cand, cand_row, lab, &nl);
    return nl == C - 1 ? nc : -1;
}

/* typical-mass below uncertain_from labels a class orders as it always
 * did; from there on each cluster's typical half goes most uncertain
 * first: a blob's first pick is the highest entropy of its typical half
 * (near its centre still), and the order is select's with minus the
 * entropy as the key.
 * Nine labels of three classes: 3 a class. */
static int t_mass_goes_uncertain_late(void)
{
    make_blobs(7);
    static float cand[MAXN * DIM], lab[C * DIM], ent[MAXN], neg[MAXN];
    static int cand_row[MAXN], plain[MAXN], early[MAXN], late[MAXN];
    int nc = split_one_a_blob(cand, cand_row, lab);
    CHECK(nc > 0);
    rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < nc; i++)
        ent[i] = rng_uniform(&r), neg[i] = -ent[i];
    score_in si = {.n = nc,
                   .feat = cand,
                   .feat_dim = DIM,
                   .lab_feat = lab,
                   .n_lab = C - 1,
                   .entropy = ent,
                   .budget = 1,
                   .classes = 3};
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, plain, NULL) == 0);
    si.uncertain_from = 4; /* 9 labels of 3 classes: not yet */
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, early, NULL) == 0);
    CHECK(memcmp(plain, early, sizeof(int) * (size_t)nc) == 0);
    si.uncertain_from = 3;
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, late, NULL) == 0);
    CHECK(memcmp(plain, late, sizeof(int) * C) != 0);
    int seen[C] = {0}, firsts = 0;
    for (int j = 0; j < C; j++) { /* a blob's first pick */
        int i = late[j], c = B.y[cand_row[i]], higher = 0;
        CHECK(dist_to_centre(cand_row[i]) < 0.9);
        if (seen[c]++)
            continue;
        firsts++;
        for (int k = 0; k < nc; k++)
            higher += B.y[cand_row[k]] == c && ent[k] > ent[i];
        CHECK(higher < 10); /* the other half only, and rarely */
    }
    CHECK(firsts >= C / 2);
    select_in in = {.feat = cand,
                    .n = nc,
                    .dim = DIM,
                    .lab_feat = lab,
                    .n_lab = C - 1,
                    .budget = 1,
                    .sampler = neg,
                    .mass = ent};
    CHECK(select_typical(&in, 4, early, NULL) == 0);
    CHECK(memcmp(late, early, sizeof(int) * (size_t)nc) == 0);
    si.classes = 0; /* no class count: never */
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &si, 4, early, NULL) == 0);
    CHECK(memcmp(plain, early, sizeof(int) * (size_t)nc) == 0);
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

/* ---- pca_whiten */

#define PN 3000
#define PD 12

/* Rows of a float array, and a countdown of calls after which it says
 * stop (negative: never). */
typedef struct rows_src {
    const float *x;
    int dim, calls_left;
} rows_src;

static bool rows_from(void *ctx, int first, int n, float *out)
{
    rows_src *s = ctx;
    if (s->calls_left == 0)
        return false;
    s->calls_left--;
    memcpy(out, s->x + (size_t)first * s->dim, sizeof(float) * n * s->dim);
    return true;
}

static float PX[PN * PD], PG[PN * 4], POUT[PN * PD];

/* PX = offset + sum_j sqrt(lambda_j) g_j u_j over PD orthonormal
 * directions u_j with variances 16, 9, 4, 1, then 0.01; PG keeps the
 * first four g_j of each row. The offset, about 1000, is far larger than
 * the spread: the covariance must not lose it to cancellation. */
static void make_planted(void)
{
    rng r;
    rng_seed(&r, 11);
    float u[PD][PD];
    for (int j = 0; j < PD; j++) { /* Gram-Schmidt of random vectors */
        for (int i = 0; i < PD; i++)
            u[j][i] = rng_normal(&r);
        for (int p = 0; p < j; p++) {
            float d = 0.0f;
            for (int i = 0; i < PD; i++)
                d += u[j][i] * u[p][i];
            for (int i = 0; i < PD; i++)
                u[j][i] -= d * u[p][i];
        }
        float nrm = 0.0f;
        for (int i = 0; i < PD; i++)
            nrm += u[j][i] * u[j][i];
        for (int i = 0; i < PD; i++)
            u[j][i] /= sqrtf(nrm);
    }
    const float sd[PD] = {4, 3, 2, 1, .1f, .1f, .1f, .1f, .1f, .1f, .1f, .1f};
    memset(PX, 0, sizeof(PX));
    for (int n = 0; n < PN; n++)
        for (int j = 0; j < PD; j++) {
            float g = rng_normal(&r);
            if (j < 4)
                PG[n * 4 + j] = g;
            for (int i = 0; i < PD; i++)
                PX[n * PD + i] +=
                    (j ? 0.0f : 1000.0f + 0.1f * i) + sd[j] * g * u[j][i];
        }
}

/* Mean of column a, and the covariance of columns a and b, of x. */
static double col_cov(const float *x, int n, int dim, int a, int b)
{
    double ma = 0, mb = 0, s = 0;
    for (int r = 0; r < n; r++)
        ma += x[r * dim + a], mb += x[r * dim + b];
    ma /= n, mb /= n;
    for (int r = 0; r < n; r++)
        s += (x[r * dim + a] - ma) * (x[r * dim + b] - mb);
    return s / n;
}

static int t_pca_whitens_the_top_components(void)
{
    make_planted();
    rows_src src = {PX, PD, -1};
    CHECK(pca_whiten(PN, PD, 4, rows_from, &src, POUT) == 0);
    for (int a = 0; a < 4; a++) {
        double m = 0;
        for (int r = 0; r < PN; r++)
            m += POUT[r * 4 + a];
        CHECK(fabs(m / PN) < 1e-3);
        for (int b = 0; b < 4; b++) /* unit variance, uncorrelated */
            CHECK(fabs(col_cov(POUT, PN, 4, a, b) - (a == b)) < 1e-3);
        /* component a is the planted g_a up to its sign: their
         * correlation is ~0.999 (the small directions, the sample) */
        double cg = 0;
        for (int r = 0; r < PN; r++)
            cg += POUT[r * 4 + a] * PG[r * 4 + a];
        CHECK(fabs(cg / PN) / sqrt(col_cov(PG, PN, 4, a, a)) > 0.98);
    }
    return 0;
}

static int t_pca_constant_features_give_zeros(void)
{
    make_planted();
    for (int r = 0; r < PN; r++) /* three columns that never change */
        PX[r * PD + 2] = PX[r * PD + 5] = PX[r * PD + 9] = 7.0f;
    rows_src src = {PX, PD, -1};
    CHECK(pca_whiten(PN, PD, PD, rows_from, &src, POUT) == 0);
    int zero = 0;
    for (int a = 0; a < PD; a++) {
        double v = col_cov(POUT, PN, PD, a, a);
        for (int r = 0; r < PN; r++)
            CHECK(isfinite(POUT[r * PD + a]));
        CHECK(fabs(v - 1.0) < 1e-3 || v < 1e-6);
        zero += v < 1e-6;
    }
    CHECK(zero == 3);
    /* one row has no variance at all: zeros, as the daemon's start of a
     * one-sample pool gets them */
    CHECK(pca_whiten(1, PD, 4, rows_from, &src, POUT) == 0);
    for (int a = 0; a < 4; a++)
        CHECK(POUT[a] == 0.0f);
    return 0;
}

static int t_pca_bad_input_and_stop(void)
{
    make_planted();
    rows_src src = {PX, PD, -1};
    CHECK(pca_whiten(0, PD, 1, rows_from, &src, POUT) == ARAL_EINVAL);
    CHECK(pca_whiten(PN, PD, 0, rows_from, &src, POUT) == ARAL_EINVAL);
    CHECK(pca_whiten(PN, PD, PD + 1, rows_from, &src, POUT) == ARAL_EINVAL);
    CHECK(pca_whiten(PN, 0, 1, rows_from, &src, POUT) == ARAL_EINVAL);
    /* 3000 rows are 3 chunks a pass: a stop in either pass cancels */
    for (int calls = 0; calls < 6; calls++) {
        src.calls_left = calls;
        CHECK(pca_whiten(PN, PD, 4, rows_from, &src, POUT) == ARAL_ECANCELED);
    }
    src.calls_left = 6;
    CHECK(pca_whiten(PN, PD, 4, rows_from, &src, POUT) == 0);
    return 0;
}

/* Two embeddings side by side, each part at unit length whatever its
 * scale; a zero part stays zero (no NaN). */
static int t_join_row(void)
{
    const float a[2] = {30, 40}, b[3] = {0, 0, 0.5f}, zero[2] = {0, 0};
    float out[5];
    select_join_row(out, a, 2, b, 3);
    const float want[5] = {0.6f, 0.8f, 0, 0, 1};
    for (int i = 0; i < 5; i++)
        CHECK(fabsf(out[i] - want[i]) < 1e-6f);
    select_join_row(out, zero, 2, b, 3);
    CHECK(out[0] == 0 && out[1] == 0 && fabsf(out[4] - 1) < 1e-6f);
    /* rows: a's row j with b's row b_rows[j], or b's row j */
    const float a2[4] = {30, 40, 0, 2}, b2[6] = {0, 0, 0.5f, 3, 4, 0};
    const int swap[2] = {1, 0};
    float rows[10];
    select_join_rows(rows, a2, 2, b2, 3, swap, 2);
    const float want2[10] = {0.6f, 0.8f, 0.6f, 0.8f, 0, 0, 1, 0, 0, 1};
    for (int i = 0; i < 10; i++)
        CHECK(fabsf(rows[i] - want2[i]) < 1e-6f);
    select_join_rows(rows, a2, 2, b2, 3, NULL, 2);
    CHECK(fabsf(rows[4] - 1) < 1e-6f && fabsf(rows[7] - 0.6f) < 1e-6f);
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
    {"pca: whitened top components, the planted ones",
     t_pca_whitens_the_top_components},
    {"pca: constant features give zeros, not NaN",
     t_pca_constant_features_give_zeros},
    {"pca: bad input, and a stop in either pass", t_pca_bad_input_and_stop},
    {"typical-mass: most uncertain first from uncertain_from labels a class",
     t_mass_goes_uncertain_late},
    {"join: each embedding at unit length, zeros stay zeros", t_join_row},
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
