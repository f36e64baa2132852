/* aral-sim: offline active-learning experiments with the daemon's model.
 * The pool is an IDX training set whose labels stay hidden until a sample
 * is picked; the test set measures the classifier after each cycle. One
 * JSON line per cycle on stdout, in the format of shared/bench/ref_aral.py
 * (so the two can be compared line by line); losses and the classes of
 * each pick go to stderr.
 *
 * usage: aral-sim --data DIR [--initial N] [--budget B] [--cycles C]
 *                 [--iters I] [--strategy NAME] [--seed N] [--threads N]
 *                 [--joint-bn 0|1] [--valid N] [--imbalance R]
 *                 [--initial-strategy random|typical|typical-pixels]
 *                 [--balanced 0|1] [--decay 0|1] [--ema SPAN]
 *                 [--noise IN,HIDDEN]
 *                 [--eval-every K] [--k-factor F] [--uncertain-from N]
 *                 [--join-components 0|1] [--dump DIR]
 *
 * --strategy defaults to the daemon's default (STRATEGY_DEFAULT).
 * --balanced, --decay, --ema and --noise set aral_training (aral.h); all off by
 * default, the reference's training. --eval-every K prints D's test
 * accuracy every K iterations of a cycle to stderr (D as it stands
 * mid-round: without the average --ema makes at a round's end).
 * --joint-bn 1 gives E's labeled and unlabeled batches one set of
 * batch-norm statistics (see aral_set_joint_encoding); 0 is the
 * reference's way. By default each strategy trains as arald trains it:
 * 1 for typical-aral, 0 otherwise.
 * --valid N holds N pool samples out of everything (never picked, never
 * trained on) and reports accuracy on them: settings are chosen there,
 * never on the test set.
 * --imbalance R makes the pool long-tailed: class k keeps the fraction
 * R^(k/9) of its samples (a seeded choice); the lines add the balanced
 * (mean per-class) test accuracy and each class's recall either way
 * (where a long tail's balanced accuracy is lost).
 * --initial-strategy typical picks the initial set without labels, as
 * the daemon does: the typical members of k-means clusters (select.h) of
 * the pixels' whitened principal components (pca.h), instead of
 * uniformly at random; typical-pixels clusters the pixels themselves
 * (the start before pca.h, kept for the ablation).
 * --k-factor F clusters the typical strategies' rankings (not the
 * typical start) into F times TypiClust's k (select.h); 1 by default.
 * --uncertain-from N: typical-mass takes the most uncertain of a cluster's
 * typical half first from N labels a class on (score.h); by default the
 * daemon's SCORE_UNCERTAIN_FROM, 0 never (typical-mass before it).
 * --join-components 1: the typical strategies cluster D's feature layer
 * joined with the pool's whitened principal components (score.h); by
 * default as the daemon, score_joins_components: typical-mass after a
 * random start.
 * --candidates N: only N of the unlabeled samples, drawn at random anew
 * for the start and each cycle, are trained on and ranked, as arald reads
 * a pool of more than round_candidates unlabeled samples; the lines add
 * "candidates" and "ranked".
 * --dump DIR writes, after each cycle's training, D's feature layer and
 * logits for every training and test row and each training row's state
 * (raw float32: DIR/c<cycle>_train_feat, _train_logits, _test_feat,
 * _test_logits, _train_state: 0 unlabeled, 1 labeled, 2 out of play, 3
 * validation), for readout studies (bench/proto_readout.py).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aral.h"
#include "blas.h"
#include "pca.h"
#include "readers.h"
#include "rng.h"
#include "score.h"

typedef struct opts {
    const char *data;
    int initial, budget, cycles, iters, threads, joint, valid, eval_every;
    long seed;
    double imbalance;
    strategy strat;
    const char *start; /* --initial-strategy */
    const char *dump;  /* --dump */
    aral_training train;
    int k_factor;
    int uncertain_from; /* --uncertain-from */
    int join;           /* --join-components; -1: score_joins_components */
    int candidates;     /* --candidates; 0: every unlabeled sample */
} opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static _Noreturn void usage(const char *why)
{
    fprintf(stderr,
            "aral-sim: %s\nusage: aral-sim --data DIR [--initial N] "
            "[--budget B] [--cycles C] [--iters I] "
            "[--strategy %s] [--seed N] [--threads N] "
            "[--joint-bn 0|1] [--valid N] [--imbalance R] "
            "[--initial-strategy random|typical] [--balanced 0|1] "
            "[--decay 0|1] [--ema SPAN] [--noise IN,HIDDEN] "
            "[--eval-every K] "
            "[--k-factor F] [--uncertain-from N] [--join-components 0|1] "
            "[--candidates N] [--dump DIR]\n",
            why, strategy_names());
    exit(2);
}

static int int_arg(const char *v, int lo, int hi, const char *name)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi) {
        char msg[80];
        snprintf(msg, sizeof(msg), "bad value for %s: %s", name, v);
        usage(msg);
    }
    return (int)x;
}

/* A number in (lo, hi] (lo itself too when lo_ok). */
static double ratio_arg(const char *v, const char *name, double lo, double hi,
                        bool lo_ok)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !((x > lo || (lo_ok && x == lo)) && x <= hi)) {
        char msg[80];
        snprintf(msg, sizeof(msg), "%s takes a number in %c%g, %g]: %s", name,
                 lo_ok ? '[' : '(', lo, hi, v);
        usage(msg);
    }
    return x;
}

/* --noise IN,HIDDEN: D's noise stds while training, each in [0, 1]
 * (both present, NaN refused). */
static void noise_arg(const char *v, aral_training *t)
{
    char *mid, *end = NULL;
    float in = strtof(v, &mid), hidden = NAN;
    if (mid != v && *mid == ',')
        hidden = strtof(mid + 1, &end);
    if (!end || end == mid + 1 || *end || !(in >= 0 && in <= 1) ||
        !(hidden >= 0 && hidden <= 1))
        usage("--noise takes IN,HIDDEN, two stds in [0, 1]");
    t->own_noise = true, t->noise_in = in, t->noise_hidden = hidden;
}

static opts parse(int argc, char **argv)
{
    opts o = {.initial = 100,
              .budget = 100,
              .cycles = 5,
              .iters = 1000,
              .threads = 2,
              .imbalance = 1.0,
              .strat = STRATEGY_DEFAULT,
              .start = "random",
              .joint = -1,
              .k_factor = 1,
              .uncertain_from = SCORE_UNCERTAIN_FROM,
              .join = -1};
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help"))
            usage("offline active learning on MNIST-style IDX files");
        if (!v)
            usage("every option takes a value");
        if (!strcmp(k, "--data"))
            o.data = v;
        else if (!strcmp(k, "--initial"))
            o.initial = int_arg(v, 1, 1 << 24, k);
        else if (!strcmp(k, "--budget"))
            o.budget = int_arg(v, 1, 1 << 24, k);
        else if (!strcmp(k, "--cycles"))
            o.cycles = int_arg(v, 1, 10000, k);
        else if (!strcmp(k, "--iters"))
            o.iters = int_arg(v, 0, 1 << 24, k);
        else if (!strcmp(k, "--threads"))
            o.threads = int_arg(v, 1, 64, k);
        else if (!strcmp(k, "--seed"))
            o.seed = int_arg(v, 0, 1 << 30, k);
        else if (!strcmp(k, "--joint-bn"))
            o.joint = int_arg(v, 0, 1, k);
        else if (!strcmp(k, "--valid"))
            o.valid = int_arg(v, 0, 1 << 24, k);
        else if (!strcmp(k, "--eval-every"))
            o.eval_every = int_arg(v, 0, 1 << 24, k);
        else if (!strcmp(k, "--imbalance"))
            o.imbalance = ratio_arg(v, k, 0, 1, false);
        else if (!strcmp(k, "--ema"))
            o.train.ema_span = (float)ratio_arg(v, k, 0, 1, true);
        else if (!strcmp(k, "--balanced"))
            o.train.balanced = int_arg(v, 0, 1, k);
        else if (!strcmp(k, "--decay"))
            o.train.decay = int_arg(v, 0, 1, k);
        else if (!strcmp(k, "--noise"))
            noise_arg(v, &o.train);
        else if (!strcmp(k, "--dump"))
            o.dump = v;
        else if (!strcmp(k, "--k-factor"))
            o.k_factor = int_arg(v, 1, 8, k);
        else if (!strcmp(k, "--join-components"))
            o.join = int_arg(v, 0, 1, k);
        else if (!strcmp(k, "--uncertain-from"))
            o.uncertain_from = int_arg(v, 0, 1 << 24, k);
        else if (!strcmp(k, "--candidates"))
            o.candidates = int_arg(v, 1, 1 << 24, k);
        else if (!strcmp(k, "--strategy")) {
            if (strategy_parse(v, &o.strat))
                usage("unknown --strategy");
        } else if (!strcmp(k, "--initial-strategy")) {
            if (strcmp(v, "random") && strcmp(v, "typical") &&
                strcmp(v, "typical-pixels"))
                usage("--initial-strategy is random, typical or "
                      "typical-pixels");
            o.start = v;
        } else {
            usage("unknown option");
        }
    }
    if (!o.data)
        usage("--data is required");
    if (o.dump && access(o.dump, W_OK))
        usage("--dump needs a directory that exists and is writable");
    if (o.joint < 0) /* as arald trains each strategy (server/worker.c) */
        o.joint = o.strat == STRATEGY_TYPICAL_ARAL;
    return o;
}

static _Noreturn void fail(const char *why)
{
    fprintf(stderr, "aral-sim: %s\n", why);
    exit(1);
}

/* DIR/PREFIX-KIND-ubyte, with or without .gz. */
static void load(const char *dir, const char *name, idx_data *out)
{
    char path[4096], why[300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (access(path, R_OK))
        snprintf(path, sizeof(path), "%s/%s.gz", dir, name);
    if (idx_read_file(path, out, why, sizeof(why)))
        fail(why);
}

typedef struct pool {
    idx_data x, y, tx, ty;
    aral_data px, test;
    /* by pool row: 0 unlabeled, 1 labeled (revealed), 2 out of play (the
     * validation split, or dropped by --imbalance) */
    char *state;
    int *lab, *lab_y, *unl, *valid, n_lab, n_unl, n_valid;
    float *pcs; /* --join-components: whitened components by pool row */
    int pc_dim;
} pool;

enum { UNLABELED, LABELED, OUT };

/* The four files must fit together before anything trains: images and
 * labels (1-D, 0-9) of the same count, test images of the train shape,
 * and a pool larger than the initial labeled set. */
static void check_files(const pool *p, const opts *o)
{
    const idx_data *img[2] = {&p->x, &p->tx}, *lab[2] = {&p->y, &p->ty};
    for (int i = 0; i < 2; i++) {
        if (img[i]->dims != 3 || lab[i]->dims != 1)
            fail("images need 3 dimensions and labels 1");
        if (img[i]->count != lab[i]->count)
            fail("an images file and its labels differ in count");
        for (int k = 0; k < lab[i]->count; k++)
            if (lab[i]->data[k] > 9)
                fail("labels must be 0-9");
    }
    if (p->tx.rows != p->x.rows || p->tx.cols != p->x.cols)
        fail("train and t10k images differ in shape");
    if (p->x.count <= o->initial || p->tx.count < 1)
        fail("the pool must be larger than --initial, the test set not empty");
}

static void split(pool *p)
{
    p->n_lab = p->n_unl = 0;
    for (int i = 0; i < p->x.count; i++) {
        if (p->state[i] == LABELED) {
            p->lab[p->n_lab] = i;
            p->lab_y[p->n_lab++] = p->y.data[i];
        } else if (p->state[i] == UNLABELED) {
            p->unl[p->n_unl++] = i;
        }
    }
}

typedef struct accuracy {
    double all, balanced;
    double recall[10]; /* per class (labels are 0-9); < 0: none in the set */
} accuracy;

/* Accuracy, per-class recall and their mean of rows idx[0..n) of x (idx
 * NULL: all rows) against labels y. */
static accuracy measure(aral *m, const aral_data *x, const int *idx, int n,
                        const uint8_t *y, int *pred)
{
    if (aral_infer(m, x, idx, n, pred, NULL, NULL, NULL))
        fail("inference failed");
    int right[10] = {0}, total[10] = {0}, classes = 0;
    for (int i = 0; i < n; i++) {
        int t = y[idx ? idx[i] : i];
        total[t]++;
        right[t] += pred[i] == t;
    }
    accuracy a = {0, 0, {0}};
    for (int k = 0; k < 10; k++) {
        a.all += right[k];
        a.recall[k] = total[k] ? right[k] / (double)total[k] : -1.0;
        if (total[k])
            a.balanced += a.recall[k], classes++;
    }
    a.all = n ? a.all / n : 0;
    a.balanced = classes ? a.balanced / classes : 0;
    return a;
}

/* Drops samples for a long tail: class k keeps floor(count * R^(k/9)) of
 * its rows, a seeded choice. */
static void make_imbalanced(pool *p, const opts *o, uint32_t *perm)
{
    int count[256] = {0}, kept[256] = {0};
    for (int i = 0; i < p->x.count; i++)
        count[p->y.data[i]]++;
    rng r;
    rng_seed(&r, (uint64_t)o->seed ^ 0x1abe11ed);
    rng_permutation(&r, perm, (uint32_t)p->x.count);
    for (int j = 0; j < p->x.count; j++) {
        int i = (int)perm[j], k = p->y.data[i];
        if (kept[k] < (int)(count[k] * pow(o->imbalance, k / 9.0)))
            kept[k]++;
        else
            p->state[i] = OUT;
    }
}

/* The validation split: --valid rows of what is in play, seeded apart
 * from the strategy, so every strategy of a seed holds out the same. */
static void carve_valid(pool *p, const opts *o, uint32_t *perm)
{
    rng r;
    rng_seed(&r, (uint64_t)o->seed ^ 0x7a11d);
    rng_permutation(&r, perm, (uint32_t)p->x.count);
    for (int j = 0; j < p->x.count && p->n_valid < o->valid; j++)
        if (p->state[perm[j]] == UNLABELED) {
            p->state[perm[j]] = OUT;
            p->valid[p->n_valid++] = (int)perm[j];
        }
}

/* Pool rows p->unl[first..first+n) as floats in [0, 1] (pca.h). */
static bool unl_rows(void *ctx, int first, int n, float *out)
{
    const pool *p = ctx;
    for (int j = 0; j < n; j++)
        aral_data_row(&p->px, p->unl[first + j], out + (size_t)j * p->px.dim);
    return true;
}

/* The rows in play (p->unl before the start) in their whitened principal
 * components, or as they are (pixels, or images wider than pca.h takes,
 * as in the daemon); n_unl x *dim. */
static float *embed_unl(pool *p, bool pixels, int *dim)
{
    int n = p->n_unl, d = p->px.dim;
    pixels = pixels || d > PCA_MAX_DIM;
    *dim = pixels ? d : pca_start_dim(d);
    float *f = malloc(sizeof(float) * (size_t)n * *dim);
    if (!f)
        fail("out of memory");
    if (pixels) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < d; i++)
                f[(size_t)j * d + i] = p->x.data[(size_t)p->unl[j] * d + i];
    } else if (pca_whiten(n, d, *dim, unl_rows, p, f)) {
        fail("the whitened components failed (out of memory?)");
    }
    return f;
}

/* What the label-free start clusters: the pixels' whitened principal
 * components, or the raw pixels (typical-pixels). With --join-components
 * the components are p->pcs already (join_setup, over the same rows): not
 * computed twice. */
static float *start_features(pool *p, const opts *o, int *dim)
{
    if (!p->pcs || !strcmp(o->start, "typical-pixels") ||
        p->px.dim > PCA_MAX_DIM)
        return embed_unl(p, !strcmp(o->start, "typical-pixels"), dim);
    *dim = p->pc_dim;
    float *f = malloc(sizeof(float) * (size_t)p->n_unl * *dim);
    if (!f)
        fail("out of memory");
    for (int j = 0; j < p->n_unl; j++)
        memcpy(f + (size_t)j * *dim, p->pcs + (size_t)p->unl[j] * *dim,
               sizeof(float) * *dim);
    return f;
}

/* --join-components: every row in play in its whitened components, by
 * pool row (score_pool's pcs), before any is labeled, as the daemon
 * computes them for its pool. */
static void join_setup(pool *p)
{
    split(p);
    float *f = embed_unl(p, false, &p->pc_dim);
    p->pcs = calloc((size_t)p->x.count * p->pc_dim, sizeof(float));
    if (!p->pcs)
        fail("out of memory");
    for (int j = 0; j < p->n_unl; j++)
        memcpy(p->pcs + (size_t)p->unl[j] * p->pc_dim,
               f + (size_t)j * p->pc_dim, sizeof(float) * p->pc_dim);
    free(f);
}

/* --candidates N: as arald reads a pool of more than round_candidates
 * unlabeled samples (server/worker.c), only N of them, drawn at random,
 * anew for each cycle (draw 0: the start), are in play: trained on as
 * the unlabeled set and ranked. */
static void draw_candidates(pool *p, const opts *o, int draw)
{
    if (!o->candidates || p->n_unl <= o->candidates)
        return;
    rng r;
    rng_seed(&r, (uint64_t)o->seed * 1000 + 500 + (uint64_t)draw);
    for (int i = 0; i < o->candidates; i++) {
        int j = i + (int)rng_below(&r, (uint32_t)(p->n_unl - i));
        int t = p->unl[i];
        p->unl[i] = p->unl[j], p->unl[j] = t;
    }
    p->n_unl = o->candidates;
}

/* The label-free start: typical members of clusters of the pool (nothing
 * trained yet, no label known). */
static void typical_initial(pool *p, const opts *o, int *order)
{
    split(p);
    draw_candidates(p, o, 0);
    int dim;
    float *f = start_features(p, o, &dim);
    score_in in = {
        .n = p->n_unl, .scratch = f, .feat_dim = dim, .budget = o->initial};
    if (score_order(STRATEGY_TYPICAL, &in, (uint64_t)o->seed, order, NULL))
        fail("the typical start failed (out of memory?)");
    for (int j = 0; j < o->initial && j < p->n_unl; j++)
        p->state[p->unl[order[j]]] = LABELED;
    free(f);
}

static void reveal_initial(pool *p, const opts *o, int *order)
{
    if (strcmp(o->start, "random")) {
        typical_initial(p, o, order);
        return;
    }
    rng r;
    rng_seed(&r, (uint64_t)o->seed ^ 0x5eed1a1b);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)p->x.count);
    if (!perm)
        fail("out of memory");
    rng_permutation(&r, perm, (uint32_t)p->x.count);
    for (int i = 0, got = 0; got < o->initial && i < p->x.count; i++)
        if (p->state[perm[i]] == UNLABELED)
            p->state[perm[i]] = LABELED, got++;
    free(perm);
}

/* The classes of the initial set, to stderr. */
static void print_initial(pool *p)
{
    int counts[10] = {0};
    split(p);
    for (int i = 0; i < p->n_lab; i++)
        counts[p->lab_y[i]]++;
    fprintf(stderr, "# initial picks [");
    for (int k = 0; k < 10; k++)
        fprintf(stderr, "%s%d", k ? ", " : "", counts[k]);
    fprintf(stderr, "]\n");
}

/* What the progress callback needs for --eval-every. */
typedef struct watch {
    aral *m;
    pool *p;
    int every, cycle, *pred;
} watch;

static bool print_progress(void *ctx, int i, int iters, const aral_losses *l)
{
    watch *w = ctx;
    if (w->every && i % w->every == 0) { /* D now, as it stands mid-round */
        accuracy a = measure(w->m, &w->p->test, NULL, w->p->test.n,
                             w->p->ty.data, w->pred);
        fprintf(stderr, "# cycle %d iteration %d test_acc %.4f\n", w->cycle, i,
                a.all);
    }
    if (i == iters)
        fprintf(stderr,
                "# losses d %.4f class %.4f fm %.4f rec %.4f kl %.2f "
                "ge %.4f s %.5f\n",
                l->d, l->d_class, l->fm, l->rec, l->kl, l->ge, l->s);
    return true;
}

/* "name": [each class's recall, or null], */
static void print_recall(const char *name, const accuracy *a)
{
    printf("\"%s\": [", name);
    for (int k = 0; k < 10; k++)
        if (a->recall[k] < 0)
            printf("%snull", k ? ", " : "");
        else
            printf("%s%.4f", k ? ", " : "", a->recall[k]);
    printf("], ");
}

static void print_line(const pool *p, const opts *o, int c, accuracy t,
                       accuracy v, double train, double query,
                       const int *counts)
{
    char noise[48] = ""; /* only when set: older lines stay as they were */
    if (o->train.own_noise)
        snprintf(noise, sizeof(noise), " noise %g,%g", o->train.noise_in,
                 o->train.noise_hidden);
    printf("{\"strategy\": \"%s\", \"initial_strategy\": \"%s\", "
           "\"imbalance\": %g, \"training\": \"balanced %d decay %d ema span "
           "%g%s\", \"cycle\": %d, \"labeled\": %d, \"test_acc\": %.4f, "
           "\"balanced_acc\": %.4f, ",
           strategy_name(o->strat), o->start, o->imbalance, o->train.balanced,
           o->train.decay, o->train.ema_span, noise, c, p->n_lab, t.all,
           t.balanced);
    if (o->strat == STRATEGY_TYPICAL_MASS)
        printf("\"uncertain_from\": %d, ", o->uncertain_from);
    if (o->join && strategy_needs_features(o->strat)) /* only when on: */
        printf("\"join_components\": 1, ");           /* older lines stay */
    if (o->candidates)                                /* likewise */
        printf("\"candidates\": %d, \"ranked\": %d, ", o->candidates, p->n_unl);
    print_recall("class_recall", &t);
    if (p->n_valid) {
        printf("\"valid_acc\": %.4f, \"valid_balanced_acc\": %.4f, ", v.all,
               v.balanced);
        print_recall("valid_class_recall", &v);
    }
    printf("\"train_seconds\": %.3f, \"iters_per_sec\": %.3f, "
           "\"query_seconds\": %.3f, \"picked\": [",
           train, train > 0 ? o->iters / train : 0.0, query);
    for (int k = 0; k < 10; k++)
        printf("%s%d", k ? ", " : "", counts[k]);
    printf("]}\n");
    fflush(stdout);
}

/* n floats from p into DIR/c<cycle>_<name> (raw float32). */
static void write_f32(const opts *o, int c, const char *name, const float *p,
                      size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/c%d_%s", o->dump, c, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, sizeof(float), n, f) != n || fclose(f))
        fail("--dump: cannot write a file");
}

/* --dump: D's feature layer and logits for every training and test row
 * after cycle c's training, and each training row's state (what a
 * readout study needs; the labels are the IDX files'). */
static void dump_cycle(aral *m, pool *p, const opts *o, int c)
{
    int fd = aral_feature_dim(m), k = aral_classes(m);
    int n[2] = {p->x.count, p->tx.count}, most = n[0] > n[1] ? n[0] : n[1];
    const aral_data *x[2] = {&p->px, &p->test};
    const char *names[2][2] = {{"train_feat", "train_logits"},
                               {"test_feat", "test_logits"}};
    float *feat = malloc(sizeof(float) * (size_t)most * (size_t)fd);
    float *logits = malloc(sizeof(float) * (size_t)most * (size_t)k);
    if (!feat || !logits)
        fail("out of memory");
    for (int s = 0; s < 2; s++) {
        aral_out out = {.feat = feat, .logits = logits};
        if (aral_infer_out(m, x[s], NULL, n[s], &out))
            fail("inference failed");
        write_f32(o, c, names[s][0], feat, (size_t)n[s] * (size_t)fd);
        write_f32(o, c, names[s][1], logits, (size_t)n[s] * (size_t)k);
    }
    for (int i = 0; i < n[0]; i++) /* 0 unlabeled, 1 labeled, 2 out, 3 valid */
        feat[i] = (float)p->state[i];
    for (int i = 0; i < p->n_valid; i++)
        feat[p->valid[i]] = 3.0f;
    write_f32(o, c, "train_state", feat, (size_t)n[0]);
    free(feat), free(logits);
}

/* Trains, measures, ranks the unlabeled and reveals the first --budget;
 * the line reports the model before the picks and the picks' classes. */
static void cycle(aral *m, pool *p, const opts *o, int c, int *order, int *pred)
{
    split(p);
    draw_candidates(p, o, c);
    aral_set set = {p->px, p->lab, p->lab_y, p->n_lab, p->unl, p->n_unl};
    double t0 = now();
    watch w = {m, p, o->eval_every, c, pred};
    if (aral_train(m, &set, o->iters, print_progress, &w))
        fail("training refused the data (no unlabeled samples left?)");
    double train = now() - t0;
    if (o->dump)
        dump_cycle(m, p, o, c);
    accuracy t = measure(m, &p->test, NULL, p->test.n, p->ty.data, pred);
    accuracy v = {0, 0, {0}};
    if (p->n_valid)
        v = measure(m, &p->px, p->valid, p->n_valid, p->y.data, pred);
    t0 = now();
    score_pool sp = {&p->px,   p->unl,    p->n_unl,    p->lab,
                     p->n_lab, o->budget, o->k_factor, o->uncertain_from,
                     p->pcs,   p->pc_dim};
    if (score_rank(m, o->strat, &sp, (uint64_t)o->seed * 1000 + (uint64_t)c,
                   order, NULL))
        fail("ranking failed (out of memory?)");
    double query = now() - t0;
    int counts[256] = {0};
    for (int i = 0; i < o->budget && i < p->n_unl; i++) {
        int row = p->unl[order[i]];
        p->state[row] = LABELED;
        counts[p->y.data[row]]++;
    }
    print_line(p, o, c, t, v, train, query, counts);
}

static void alloc_pool(pool *p)
{
    size_t n = (size_t)p->x.count;
    p->state = calloc(n, 1);
    p->lab = malloc(sizeof(int) * n);
    p->lab_y = malloc(sizeof(int) * n);
    p->unl = malloc(sizeof(int) * n);
    p->valid = malloc(sizeof(int) * n);
    if (!p->state || !p->lab || !p->lab_y || !p->unl || !p->valid)
        fail("out of memory");
}

static void free_pool(pool *p)
{
    free(p->x.data), free(p->y.data), free(p->tx.data), free(p->ty.data);
    free(p->state), free(p->lab), free(p->lab_y), free(p->unl);
    free(p->valid), free(p->pcs);
}

int main(int argc, char **argv)
{
    opts o = parse(argc, argv);
    blas_set_threads(o.threads);
    pool p = {0};
    load(o.data, "train-images-idx3-ubyte", &p.x);
    load(o.data, "train-labels-idx1-ubyte", &p.y);
    load(o.data, "t10k-images-idx3-ubyte", &p.tx);
    load(o.data, "t10k-labels-idx1-ubyte", &p.ty);
    check_files(&p, &o);
    int dim = p.x.rows * p.x.cols;
    p.px = (aral_data){p.x.count, dim, p.x.data, NULL};
    p.test = (aral_data){p.tx.count, dim, p.tx.data, NULL};
    alloc_pool(&p);
    int n = p.x.count > p.tx.count ? p.x.count : p.tx.count;
    int *order = malloc(sizeof(int) * (size_t)p.x.count);
    int *pred = malloc(sizeof(int) * (size_t)n);
    aral *m = aral_new(dim, 10, (uint64_t)o.seed);
    if (!m || !order || !pred)
        fail("out of memory");
    aral_set_joint_encoding(m, o.joint);
    if (o.join < 0) /* as arald ranks after its start */
        o.join =
            score_joins_components(o.strat, strcmp(o.start, "random"), dim);
    aral_set_training(m, &o.train);
    if (o.imbalance < 1)
        make_imbalanced(&p, &o, (uint32_t *)order);
    carve_valid(&p, &o, (uint32_t *)order);
    split(&p);
    if (p.n_unl <= o.initial)
        fail("the pool must be larger than --initial (after --valid)");
    char noise[48] = "the reference's"; /* its stds live in core/aral.c */
    if (o.train.own_noise)
        snprintf(noise, sizeof(noise), "%g,%g", o.train.noise_in,
                 o.train.noise_hidden);
    fprintf(stderr,
            "# aral-sim %s, %d threads, strategy %s, seed %ld, "
            "joint-bn %d, balanced %d, decay %d, ema span %g, "
            "noise %s, k-factor %d, uncertain-from %d, join-components %d, "
            "pool %d, valid %d\n",
            blas_config(), o.threads, strategy_name(o.strat), o.seed, o.joint,
            o.train.balanced, o.train.decay, o.train.ema_span, noise,
            o.k_factor, o.uncertain_from, o.join, p.n_unl, p.n_valid);
    if (o.join && strategy_needs_features(o.strat))
        join_setup(&p);
    reveal_initial(&p, &o, order);
    print_initial(&p);
    for (int c = 1; c <= o.cycles; c++)
        cycle(m, &p, &o, c, order, pred);
    aral_free(m);
    free_pool(&p);
    free(order), free(pred);
    return 0;
}
