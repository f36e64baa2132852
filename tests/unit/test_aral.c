/* test_aral: ARAL on small synthetic problems. The losses of D, G+E and
 * E fall, S's stays near chance (its game with E), and the classifier
 * beats chance; a cluster with no labels at all is ranked ahead of
 * well-labeled ones; save/load gives identical scores; the same seed
 * gives the same scores; damaged checkpoints change nothing.
 *
 * "The losses": D's total and its cross-entropy, the G+E objective and
 * E's KL term. The reconstruction and feature-matching terms on their
 * own need not fall: G follows a moving D, and with the VAE at weight
 * 0.001 the reference shows them rising from cycle to cycle too
 * (shared/bench, ref_aral.py logs). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aral.h"
#include "err.h"
#include "score.h"
#include "select.h"
#include "testlib.h"

#define DIM 24
#define K 4
#define PER 150 /* samples per cluster */
#define N (K * PER)

typedef struct synth {
    float x[N * DIM];
    int y[N];
} synth;

/* Four Gaussian clusters in [0,1]^DIM around random corners. */
static void make_clusters(synth *s, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    float centre[K][DIM];
    for (int c = 0; c < K; c++)
        for (int j = 0; j < DIM; j++)
            centre[c][j] = 0.2f + 0.6f * (float)rng_below(&r, 2);
    for (int i = 0; i < N; i++) {
        s->y[i] = i % K;
        for (int j = 0; j < DIM; j++)
            s->x[i * DIM + j] = centre[s->y[i]][j] + 0.08f * rng_normal(&r);
    }
}

typedef struct track {
    aral_losses first, last;
    int n;
} track;

/* Averages the losses of the first and the last 20 iterations. */
static bool record(void *ctx, int i, int iters, const aral_losses *l)
{
    track *t = ctx;
    float *dst = i <= 20 ? &t->first.d : i > iters - 20 ? &t->last.d : NULL;
    const float *src = &l->d;
    for (int k = 0; dst && k < 7; k++)
        dst[k] += src[k] / 20.0f;
    t->n = i;
    return true;
}

/* Labeled: `per` samples of each class in `classes` (a bit mask). */
static int pick_labeled(const synth *s, int per, int classes, int *lab,
                        int *labels, int *unl, int *n_unl)
{
    int seen[K] = {0}, n = 0;
    *n_unl = 0;
    for (int i = 0; i < N; i++) {
        int c = s->y[i];
        if ((classes >> c & 1) && seen[c] < per) {
            seen[c]++;
            lab[n] = i, labels[n++] = c;
        } else {
            unl[(*n_unl)++] = i;
        }
    }
    return n;
}

static synth S;
static int lab[N], labels[N], unl[N], n_unl;

/* A model trained `iters` iterations with 10 labels of each class in
 * `classes`, or per_class when given. */
static aral *trained_with(uint64_t seed, int classes, int per_class, int iters,
                          track *t, int *n_lab, bool joint)
{
    make_clusters(&S, 3);
    *n_lab = pick_labeled(&S, per_class, classes, lab, labels, unl, &n_unl);
    aral *m = aral_new(DIM, K, seed);
    if (m)
        aral_set_joint_encoding(m, joint);
    aral_set set = {{N, DIM, NULL, S.x}, lab, labels, *n_lab, unl, n_unl};
    if (!m || aral_train(m, &set, iters, record, t)) {
        aral_free(m);
        return NULL;
    }
    return m;
}

static aral *trained(uint64_t seed, int classes, int iters, track *t,
                     int *n_lab, bool joint)
{
    return trained_with(seed, classes, 10, iters, t, n_lab, joint);
}

/* A learning-quality case: the sanitized build leaves it out of cases. */
#define PLAIN_ONLY __attribute__((unused))

/* S's reported loss at chance: ADV_LAMBDA (0.001, aral.c) times the
 * binary cross-entropy at p = 1/2 on the labeled and on the unlabeled
 * batch. */
#define S_CHANCE (0.001f * 2.0f * 0.6931472f)

static int t_losses_fall_and_classifier_learns(void)
{
    track t = {0};
    int n_lab;
    aral *m = trained(1, 0xf, 200, &t, &n_lab, false);
    CHECK(m && t.n == 200);
    printf("  first/last 20: d %.3f/%.3f class %.3f/%.3f ge %.3f/%.3f "
           "kl %.2f/%.2f s %.5f/%.5f\n",
           t.first.d, t.last.d, t.first.d_class, t.last.d_class, t.first.ge,
           t.last.ge, t.first.kl, t.last.kl, t.first.s, t.last.s);
    /* Measured over the plain and ASan builds, OPENBLAS_CORETYPE unset
     * and Haswell, 1 and 2 threads (first/last window): d 1.52/0.70-0.76,
     * d_class 0.81/0.07-0.10, ge 1.23/0.06-0.08, kl 1215/28-43. A fall of
     * a third is asked for, far outside that spread. */
    CHECK(t.last.d < 0.67f * t.first.d);             /* D */
    CHECK(t.last.d_class < 0.67f * t.first.d_class); /* D as the classifier */
    CHECK(t.last.ge < 0.67f * t.first.ge);           /* G and E together */
    CHECK(t.last.kl < 0.67f * t.first.kl);           /* E */
    /* S plays a minimax game with E (E learns codes that S takes for
     * labeled), so its loss does not fall: it starts at chance and stays
     * near it (windows from 0.75 to 1.12 of chance across builds,
     * kernels and threads). Asserted: neither side wins outright. What
     * S's scores do learn is the ranking case below. */
    CHECK(t.first.s > 0.5f * S_CHANCE && t.first.s < 1.5f * S_CHANCE);
    CHECK(t.last.s > 0.5f * S_CHANCE && t.last.s < 1.5f * S_CHANCE);
    int pred[N], right = 0;
    aral_data x = {N, DIM, NULL, S.x};
    CHECK(aral_infer(m, &x, NULL, N, pred, NULL, NULL, NULL) == 0);
    for (int i = 0; i < N; i++)
        right += pred[i] == S.y[i];
    printf("  accuracy %.3f with %d labels (chance 0.25)\n", right / (double)N,
           n_lab);
    CHECK(right > 0.9 * N);
    aral_free(m);
    return 0;
}

/* Share of (unlabeled-cluster, other unlabeled) pairs in which the
 * unlabeled cluster's sample is ranked first: 0.5 is a coin, 1 perfect. */
static double pair_share(const int *order)
{
    static int pos[N];
    for (int i = 0; i < n_unl; i++)
        pos[unl[order[i]]] = i;
    double ahead = 0, pairs = 0;
    for (int a = 0; a < n_unl; a++)
        for (int b = 0; b < n_unl; b++)
            if (S.y[unl[a]] == 3 && S.y[unl[b]] != 3) {
                ahead += pos[unl[a]] < pos[unl[b]];
                pairs++;
            }
    return ahead / pairs;
}

/* One model's pair share for the case below, and the share of the random
 * order over the same candidates (the control). */
static int rank_share(uint64_t seed, double *share, double *control)
{
    track t = {0};
    int n_lab, order[N];
    aral *m = trained_with(seed, 0x7, 50, 120, &t, &n_lab, true);
    if (!m)
        return 1;
    aral_data x = {N, DIM, NULL, S.x};
    score_pool sp = {&x, unl, n_unl, NULL, 0, 0, 0, 0, NULL, 0};
    int rc = score_rank(m, STRATEGY_RANDOM, &sp, seed, order, NULL);
    *control = pair_share(order);
    rc |= score_rank(m, STRATEGY_ARAL, &sp, 0, order, NULL);
    aral_free(m);
    int top = 0;
    for (int i = 0; i < PER; i++)
        top += S.y[unl[order[i]]] == 3;
    *share = pair_share(order);
    printf("  seed %llu: unlabeled cluster %d of the first %d (share of the "
           "pool %.2f), ahead in %.2f of pairs (random order %.2f); "
           "S loss %.5f/%.5f\n",
           (unsigned long long)seed, top, PER, PER / (double)n_unl, *share,
           *control, t.first.s, t.last.s);
    return rc;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

PLAIN_ONLY static int t_unlabeled_cluster_ranked_first(void)
{
    /* Classes 0-2 are well labeled (50 each), class 3 has no labels.
     * Joint encoding: with the reference's two passes S separates the
     * sets by batch-norm statistics, which are gone at query time, and
     * this case fails (0 of 150 in the first 150 for seed 2 at 300
     * iterations); see aral_set_joint_encoding. With 10 labels a class
     * the case is a noisy game (S can learn the 30 labeled codes one by
     * one): single runs spread from 0.31 to 0.96 of pairs across random
     * streams and builds. With 50 they lie between 0.67 and 1.00, and
     * five-run means between 0.83 and 0.94. The claim is made of five
     * runs, beside the random order of the same candidates (0.50 give or
     * take 0.02 a run): median at least 0.7 and mean at least 0.65.
     * Measured five-run means: 0.74 to 0.90 over the plain and ASan
     * builds, 1 and 2 threads, OPENBLAS_CORETYPE unset and Haswell; one
     * outlying seed (0.20) pulls a mean down, hence the median. */
    double share[5], control[5], sum = 0, sum_control = 0;
    for (int i = 0; i < 5; i++) {
        CHECK(rank_share(2 + (uint64_t)i, &share[i], &control[i]) == 0);
        sum += share[i], sum_control += control[i];
    }
    qsort(share, 5, sizeof(double), by_value);
    printf("  mean %.2f, median %.2f; random order mean %.2f\n", sum / 5,
           share[2], sum_control / 5);
    CHECK(sum_control / 5 > 0.45 && sum_control / 5 < 0.55);
    CHECK(sum / 5 > 0.65 && share[2] > 0.7);
    return 0;
}

static int scores_of(aral *m, float *out)
{
    aral_data x = {N, DIM, NULL, S.x};
    return aral_infer(m, &x, NULL, N, NULL, NULL, NULL, out);
}

static int t_save_load_same_scores(void)
{
    track t = {0};
    int n_lab;
    static float a[N], b[N];
    aral *m = trained(4, 0xf, 20, &t, &n_lab, false);
    CHECK(m && scores_of(m, a) == 0);
    size_t len = aral_save_size(m);
    uint8_t *buf = malloc(len);
    CHECK(aral_save(m, buf, len) == (long)len);
    aral *other = aral_new(DIM, K, 99);
    CHECK(aral_load(other, buf, len) == 0);
    CHECK(scores_of(other, b) == 0 && !memcmp(a, b, sizeof(a)));
    /* Damage anywhere is refused and changes nothing. */
    aral *fresh = aral_new(DIM, K, 98);
    static float before[N], after[N];
    scores_of(fresh, before);
    for (size_t pos = 0; pos < len; pos += len / 97 + 1) {
        buf[pos] ^= 0x40;
        CHECK(aral_load(fresh, buf, len) == ARAL_EINVAL);
        buf[pos] ^= 0x40;
    }
    CHECK(aral_load(fresh, buf, len - 1) == ARAL_EINVAL);
    aral *wrong = aral_new(DIM + 1, K, 1);
    CHECK(aral_load(wrong, buf, len) == ARAL_EINVAL);
    scores_of(fresh, after);
    CHECK(!memcmp(before, after, sizeof(before)));
    free(buf);
    aral_free(m), aral_free(other), aral_free(fresh), aral_free(wrong);
    return 0;
}

static int t_same_seed_same_scores(void)
{
    track t = {0};
    int n_lab;
    static float a[N], b[N];
    aral *m1 = trained(5, 0xf, 15, &t, &n_lab, true);
    aral *m2 = trained(5, 0xf, 15, &t, &n_lab, true);
    CHECK(m1 && m2 && scores_of(m1, a) == 0 && scores_of(m2, b) == 0);
    CHECK(!memcmp(a, b, sizeof(a)));
    aral_free(m1), aral_free(m2);
    return 0;
}

static bool stop_at_7(void *ctx, int i, int iters, const aral_losses *l)
{
    (void)ctx, (void)iters, (void)l;
    return i < 7;
}

static int t_cancel_and_bad_input(void)
{
    make_clusters(&S, 3);
    int n_lab = pick_labeled(&S, 10, 0xf, lab, labels, unl, &n_unl);
    aral *m = aral_new(DIM, K, 6);
    aral_set set = {{N, DIM, NULL, S.x}, lab, labels, n_lab, unl, n_unl};
    CHECK(aral_train(m, &set, 100, stop_at_7, NULL) == ARAL_ECANCELED);
    aral_set empty = set;
    empty.n_labeled = 0;
    CHECK(aral_train(m, &empty, 1, NULL, NULL) == ARAL_EINVAL);
    labels[0] = K; /* outside the classes */
    CHECK(aral_train(m, &set, 1, NULL, NULL) == ARAL_EINVAL);
    CHECK(aral_new(0, K, 1) == NULL && aral_new(DIM, 1, 1) == NULL);
    aral_free(m);
    return 0;
}

/* The training beyond the reference: balanced batches on a skewed
 * labeled set, the rate decayed to 0 at the round's end, D left as its
 * average. The classifier still learns every class; with ema, D's weights
 * after the round are an average, not the last step's (a second round of
 * 0 iterations changes nothing; decay makes the last steps tiny). */
PLAIN_ONLY static int t_training_options_learn(void)
{
    make_clusters(&S, 3);
    /* 30 labels of class 0, 2 of each other: batches draw them evenly */
    int n_lab = 0, seen[K] = {0}, n_u = 0;
    for (int i = 0; i < N; i++) {
        int c = S.y[i], want = c == 0 ? 30 : 2;
        if (seen[c] < want)
            seen[c]++, lab[n_lab] = i, labels[n_lab++] = c;
        else
            unl[n_u++] = i;
    }
    double acc[2];
    for (int on = 0; on < 2; on++) {
        aral *m = aral_new(DIM, K, 5);
        CHECK(m);
        aral_training t = {on, on, on ? 0.3333f : 0, false, 0, 0};
        aral_set_training(m, &t);
        aral_training got = aral_get_training(m);
        CHECK(got.balanced == t.balanced && got.decay == t.decay &&
              got.ema_span == t.ema_span);
        aral_set set = {{N, DIM, NULL, S.x}, lab, labels, n_lab, unl, n_u};
        CHECK(aral_train(m, &set, 150, NULL, NULL) == 0);
        int pred[N], right = 0;
        aral_data x = {N, DIM, NULL, S.x};
        CHECK(aral_infer(m, &x, NULL, N, pred, NULL, NULL, NULL) == 0);
        for (int i = 0; i < N; i++)
            right += pred[i] == S.y[i];
        acc[on] = right / (double)N;
        aral_free(m);
    }
    printf("  accuracy with a skewed labeled set: reference %.3f, "
           "options %.3f\n",
           acc[0], acc[1]);
    CHECK(acc[1] > 0.9);
    /* The average changes nothing of the round but D's final weights:
     * the same seed trains the same trajectory; G ends equal, D not. */
    aral *plain = aral_new(DIM, K, 9), *avg = aral_new(DIM, K, 9);
    aral_training t = {false, false, 0.3333f, false, 0, 0};
    aral_set_training(avg, &t);
    aral_set set = {{N, DIM, NULL, S.x}, lab, labels, n_lab, unl, n_u};
    CHECK(aral_train(plain, &set, 50, NULL, NULL) == 0);
    CHECK(aral_train(avg, &set, 50, NULL, NULL) == 0);
    net *g1 = aral_net(plain, 'G'), *g2 = aral_net(avg, 'G');
    net *d1 = aral_net(plain, 'D'), *d2 = aral_net(avg, 'D');
    CHECK(!memcmp(g1->param, g2->param, sizeof(float) * g1->n_param));
    CHECK(memcmp(d1->param, d2->param, sizeof(float) * d1->n_param) != 0);
    aral_free(plain), aral_free(avg);
    aral_training bad = {false, false, 1.5f,
                         false, 0,     0}; /* out of range: left off */
    aral *m = aral_new(DIM, K, 5);
    aral_set_training(m, &bad);
    CHECK(aral_get_training(m).ema_span == 0);
    aral_free(m);
    return 0;
}

/* A round followed from outside: D's weights at the last step and the
 * running average of them (the model's recurrence), and, for a collapse,
 * the weights D is held at from iteration from to until - 1 (NULL:
 * none); at until D gets back the weights it had before from. */
typedef struct follow {
    aral *m;
    float *last, *avg, decay;
    const float *broken;
    float *saved;
    int from, until;
} follow;

static bool follow_d(void *ctx, int i, int iters, const aral_losses *l)
{
    (void)l;
    follow *f = ctx;
    net *d = aral_net(f->m, 'D');
    size_t bytes = sizeof(float) * d->n_param;
    for (size_t j = 0; j < d->n_param; j++)
        f->avg[j] = f->decay * f->avg[j] + (1 - f->decay) * d->param[j];
    if (f->broken && i == f->from - 1)
        memcpy(f->saved, d->param, bytes);
    if (f->broken && i >= f->from - 1 && i < f->until - 1)
        memcpy(d->param, f->broken, bytes), net_params_changed(d);
    if (f->broken && i == f->until - 1)
        memcpy(d->param, f->saved, bytes), net_params_changed(d);
    if (i == iters)
        memcpy(f->last, d->param, bytes);
    return true;
}

static int errors_with(aral *m, const aral_set *set, const float *param)
{
    net *d = aral_net(m, 'D');
    memcpy(d->param, param, sizeof(float) * d->n_param);
    net_params_changed(d);
    int pred[N], wrong = 0;
    CHECK(aral_infer(m, &set->x, set->labeled, set->n_labeled, pred, NULL, NULL,
                     NULL) == 0);
    for (int i = 0; i < set->n_labeled; i++)
        wrong += pred[i] != set->labels[i];
    return wrong;
}

/* D leaves a round as its average unless the average gets more of the
 * labeled set wrong than the last step. A trained model's round with a
 * collapse it recovers from: from iteration 24 to 56 of 60, D is held at
 * the D of a twin trained on from the same model with the labels moved
 * one class on, then gets back its own; the average takes the broken steps in
 * and gets many labels wrong, the last step few, and D leaves as the last step.
 * The same round without the collapse: the average fits as well and stays.
 * Either way D ends as the better fit of the two. */
static int t_average_judged(void)
{
    make_clusters(&S, 3);
    int n_lab = pick_labeled(&S, 10, 0xf, lab, labels, unl, &n_unl);
    int moved[N];
    for (int i = 0; i < n_lab; i++)
        moved[i] = (labels[i] + 1) % K;
    aral_set set = {{N, DIM, NULL, S.x}, lab, labels, n_lab, unl, n_unl};
    aral_set twin_set = set;
    twin_set.labels = moved;
    aral *base = aral_new(DIM, K, 4);
    CHECK(base && aral_last_fit(base).average_wrong == -1);
    CHECK(aral_train(base, &set, 60, NULL, NULL) == 0);
    /* without an average, nothing to judge */
    CHECK(aral_last_fit(base).last_step_wrong == -1);
    size_t len = aral_save_size(base);
    uint8_t *buf = malloc(len);
    CHECK(buf && aral_save(base, buf, len) == (long)len);
    aral *twin = aral_new(DIM, K, 5);
    CHECK(twin && aral_load(twin, buf, len) == 0);
    CHECK(aral_train(twin, &twin_set, 60, NULL, NULL) == 0);
    bool kept_last[2];
    for (int r = 0; r < 2; r++) {
        aral *m = aral_new(DIM, K, 6);
        CHECK(m && aral_load(m, buf, len) == 0);
        aral_training t = {false, false, 0.3333f, false, 0, 0};
        aral_set_training(m, &t);
        net *d = aral_net(m, 'D');
        size_t bytes = sizeof(float) * d->n_param;
        follow f = {m,
                    malloc(bytes),
                    malloc(bytes),
                    1.0f - 1.0f / 20,
                    NULL,
                    malloc(bytes),
                    24,
                    57};
        if (r == 0)
            f.broken = aral_net(twin, 'D')->param;
        float *end = malloc(bytes);
        CHECK(f.last && f.avg && f.saved && end);
        memcpy(f.avg, d->param, bytes);
        CHECK(aral_train(m, &set, 60, follow_d, &f) == 0);
        memcpy(end, d->param, bytes);
        kept_last[r] = !memcmp(end, f.last, bytes);
        int last = errors_with(m, &set, f.last);
        int avg = errors_with(m, &set, f.avg);
        int ended = errors_with(m, &set, end);
        printf("  %s: labeled errors last step %d, average %d, D leaves "
               "with %d (%s)\n",
               r ? "no collapse" : "a collapse", last, avg, ended,
               kept_last[r] ? "last" : "average");
        CHECK(kept_last[r] == (avg > last));
        CHECK(ended == (avg > last ? last : avg));
        aral_fit fit = aral_last_fit(m); /* what the daemon's rounds say */
        CHECK(fit.average_wrong == avg && fit.last_step_wrong == last);
        CHECK(fit.last_step == kept_last[r]);
        free(f.last), free(f.avg), free(f.saved), free(end);
        aral_free(m);
    }
    CHECK(kept_last[0] && !kept_last[1]);
    aral_free(base), aral_free(twin), free(buf);
    return 0;
}

/* D's own noise: the reference's stds given as its own train exactly as
 * without the option; other stds train differently; a checkpoint of a
 * model trained with its own noise loads into a model with the
 * reference's (noise is training-only, the spec stays); stds outside
 * [0, 1] leave the reference's. */
static int t_own_noise(void)
{
    make_clusters(&S, 3);
    int n_lab = pick_labeled(&S, 10, 0xf, lab, labels, unl, &n_unl);
    aral_set set = {{N, DIM, NULL, S.x}, lab, labels, n_lab, unl, n_unl};
    aral_training same = {false, false, 0, true, 0.3f, 0.5f};
    aral_training quiet = {false, false, 0, true, 0.1f, 0.2f};
    aral *plain = aral_new(DIM, K, 9), *a = aral_new(DIM, K, 9);
    aral *b = aral_new(DIM, K, 9);
    aral_set_training(a, &same);
    aral_set_training(b, &quiet);
    aral_training got = aral_get_training(b);
    CHECK(got.own_noise && got.noise_in == 0.1f && got.noise_hidden == 0.2f);
    CHECK(aral_train(plain, &set, 30, NULL, NULL) == 0);
    CHECK(aral_train(a, &set, 30, NULL, NULL) == 0);
    CHECK(aral_train(b, &set, 30, NULL, NULL) == 0);
    net *dp = aral_net(plain, 'D'), *da = aral_net(a, 'D');
    net *db = aral_net(b, 'D');
    size_t bytes = sizeof(float) * dp->n_param;
    CHECK(!memcmp(dp->param, da->param, bytes));
    CHECK(memcmp(dp->param, db->param, bytes) != 0);
    size_t len = aral_save_size(b);
    uint8_t *buf = malloc(len);
    CHECK(buf && aral_save(b, buf, len) == (long)len);
    CHECK(aral_load(plain, buf, len) == 0);
    CHECK(!memcmp(dp->param, db->param, bytes));
    free(buf);
    aral_training loud = {false, false, 0, true, 1.5f, 0.2f};
    aral_set_training(b, &loud);
    CHECK(!aral_get_training(b).own_noise);
    aral_free(plain), aral_free(a), aral_free(b);
    return 0;
}

static int t_strategies_rank_everything(void)
{
    make_clusters(&S, 3);
    aral *m = aral_new(DIM, K, 7);
    aral_data x = {N, DIM, NULL, S.x};
    static int idx[N], order[N], seen[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    /* the first 20 rows stand for a labeled set, the rest are candidates */
    score_pool with_lab = {&x, idx + 20, N - 20, idx, 20, 30, 0, 0, NULL, 0};
    score_pool sp = {&x, idx, N, NULL, 0, 30, 0, 0, NULL, 0};
    for (int s = 0; s < STRATEGY_COUNT; s++) {
        memset(seen, 0, sizeof(seen));
        CHECK(score_rank(m, (strategy)s, &with_lab, 1, order, NULL) == 0);
        for (int i = 0; i < N - 20; i++)
            seen[order[i]]++;
        for (int i = 0; i < N - 20; i++)
            CHECK(seen[i] == 1);
        memset(seen, 0, sizeof(seen));
        CHECK(score_rank(m, (strategy)s, &sp, 1, order, NULL) == 0);
        for (int i = 0; i < N; i++)
            seen[order[i]]++;
        for (int i = 0; i < N; i++)
            CHECK(seen[i] == 1);
    }
    float ent[N], conf[N];
    static float logits[N * K];
    int pseudo[N];
    CHECK(aral_infer(m, &x, NULL, N, pseudo, conf, ent, NULL) == 0);
    CHECK(aral_logits(m, &x, NULL, N, logits) == 0);
    for (int i = 0; i < N; i++) {
        /* The pseudo-label is the arg max of the logits, the confidence
         * its softmax probability. */
        const float *l = logits + i * K;
        double z = 0;
        for (int j = 0; j < K; j++) {
            CHECK(l[j] <= l[pseudo[i]]);
            z += exp(l[j] - l[pseudo[i]]);
        }
        CHECK(fabs(conf[i] - 1.0 / z) < 1e-5);
    }
    static float feat[N * 250];
    int pseudo2[N];
    aral_out o = {.pseudo = pseudo2, .feat = feat};
    CHECK(aral_feature_dim(m) == 250);
    CHECK(aral_infer_out(m, &x, NULL, N, &o) == 0);
    for (int i = 0; i < N; i++) { /* features after a ReLU, same pass */
        CHECK(pseudo2[i] == pseudo[i]);
        for (int j = 0; j < 250; j++)
            CHECK(feat[i * 250 + j] >= 0 && isfinite(feat[i * 250 + j]));
    }
    CHECK(score_rank(m, STRATEGY_ENTROPY, &sp, 1, order, NULL) == 0);
    for (int i = 1; i < N; i++)
        CHECK(ent[order[i - 1]] >= ent[order[i]]);
    strategy st;
    CHECK(strategy_parse("entropy", &st) == 0 && st == STRATEGY_ENTROPY);
    CHECK(strategy_parse("best", &st) == ARAL_EINVAL);
    for (int i = 0; i < STRATEGY_COUNT; i++)
        CHECK(strategy_parse(strategy_name((strategy)i), &st) == 0 &&
              st == (strategy)i);
    aral_free(m);
    return 0;
}

/* After a random start typical-mass clusters D's features joined with
 * the whitened components it is given (score_pool's pcs, by row): the
 * order is the one of score_order on that join, made by hand here; the
 * components of rows that are not in the ranking are never read. */
static int t_typical_mass_joins_components(void)
{
    CHECK(score_joins_components(STRATEGY_TYPICAL_MASS, false, 784));
    CHECK(!score_joins_components(STRATEGY_TYPICAL_MASS, true, 784));
    CHECK(!score_joins_components(STRATEGY_TYPICAL, false, 784));
    CHECK(!score_joins_components(STRATEGY_RANDOM, false, 784));
    CHECK(
        !score_joins_components(STRATEGY_TYPICAL_MASS, false, PCA_MAX_DIM + 1));
    make_clusters(&S, 5);
    aral *m = aral_new(DIM, K, 9);
    aral_data x = {N, DIM, NULL, S.x};
    enum { PC = 3, LAB = 20, FD = 250, NC = N - LAB - 10 };
    static int cand[NC], lab[LAB], order[NC], want[NC];
    static float pcs[N * PC], feat[N * FD], joined[(NC + LAB) * (FD + PC)];
    static float ent[NC];
    /* rows 0-9 are left out (NaN components), 10-29 labeled, the rest
     * candidates in reverse: no position is its row */
    for (int i = 0; i < N * PC; i++)
        pcs[i] = i / PC < 10 ? NAN : (float)((S.y[i / PC] + i % PC) % 3);
    for (int j = 0; j < LAB; j++)
        lab[j] = 10 + j;
    for (int j = 0; j < NC; j++)
        cand[j] = N - 1 - j;
    score_pool p = {&x, cand, NC, lab, LAB, 30, 0, 30, pcs, PC};
    CHECK(score_rank(m, STRATEGY_TYPICAL_MASS, &p, 4, order, NULL) == 0);
    aral_out o = {.entropy = ent, .feat = feat};
    CHECK(aral_infer_out(m, &x, cand, NC, &o) == 0);
    aral_out ol = {.feat = feat + (size_t)NC * FD};
    CHECK(aral_infer_out(m, &x, lab, LAB, &ol) == 0);
    for (int j = 0; j < NC + LAB; j++) {
        int row = j < NC ? cand[j] : lab[j - NC];
        select_join_row(joined + (size_t)j * (FD + PC), feat + (size_t)j * FD,
                        FD, pcs + (size_t)row * PC, PC);
    }
    score_in in = {.n = NC,
                   .entropy = ent,
                   .feat_dim = FD + PC,
                   .n_lab = LAB,
                   .scratch = joined,
                   .budget = 30,
                   .classes = K,
                   .uncertain_from = 30};
    CHECK(score_order(STRATEGY_TYPICAL_MASS, &in, 4, want, NULL) == 0);
    CHECK(memcmp(order, want, sizeof(order)) == 0);
    /* and the join changes the order (D's features alone differ) */
    p.pcs = NULL;
    CHECK(score_rank(m, STRATEGY_TYPICAL_MASS, &p, 4, want, NULL) == 0);
    CHECK(memcmp(order, want, sizeof(order)) != 0);
    aral_free(m);
    return 0;
}

static const test_case cases[] = {
    {"aral losses fall and the classifier learns",
     t_losses_fall_and_classifier_learns},
    {"aral save/load gives identical scores", t_save_load_same_scores},
    {"aral same seed, same scores", t_same_seed_same_scores},
    {"aral cancel and bad input", t_cancel_and_bad_input},
    {"strategies rank every candidate once", t_strategies_rank_everything},
    {"typical-mass after a random start joins the whitened components",
     t_typical_mass_joins_components},
    {"aral own noise", t_own_noise},
    {"aral leaves a round as its average unless it fits worse",
     t_average_judged},
/* What the model learns, over many seeds: in the plain build only. Under
 * the sanitizers these took 115 s of a suite that must stay under 10
 * minutes, and run nothing the other cases do not: the same training,
 * scoring and strategies (tests/meson.build). */
#ifndef TEST_SANITIZED
    {"aral ranks an unlabeled cluster first", t_unlabeled_cluster_ranked_first},
    {"aral training options learn", t_training_options_learn},
#endif
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
