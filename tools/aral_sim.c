/* aral-sim: offline active-learning experiments with the daemon's model.
 * The pool is an IDX training set whose labels stay hidden until a sample
 * is picked; the test set measures the classifier after each cycle. One
 * JSON line per cycle on stdout, in the format of shared/bench/ref_aral.py
 * (so the two can be compared line by line); losses and the classes of
 * each pick go to stderr.
 *
 * usage: aral-sim --data DIR [--initial N] [--budget B] [--cycles C]
 *                 [--iters I] [--strategy aral|random|entropy] [--seed N]
 *                 [--threads N] [--joint-bn 0|1]
 *
 * --joint-bn 1 gives E's labeled and unlabeled batches one set of
 * batch-norm statistics (see aral_set_joint_encoding); the default 0 is
 * the reference's way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aral.h"
#include "blas.h"
#include "readers.h"
#include "rng.h"
#include "score.h"

typedef struct opts {
    const char *data;
    int initial, budget, cycles, iters, threads, joint;
    long seed;
    strategy strat;
} opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static _Noreturn void usage(const char *why)
{
    fprintf(stderr, "aral-sim: %s\nusage: aral-sim --data DIR [--initial N] "
                    "[--budget B] [--cycles C] [--iters I] "
                    "[--strategy aral|random|entropy] [--seed N] "
                    "[--threads N] [--joint-bn 0|1]\n", why);
    exit(2);
}

static int int_arg(const char *v, int lo, int hi, const char *name)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        char msg[80];
        snprintf(msg, sizeof(msg), "bad value for %s: %s", name, v);
        usage(msg);
    }
    return (int)x;
}

static opts parse(int argc, char **argv)
{
    opts o = {NULL, 100, 100, 5, 1000, 2, 0, 0, STRATEGY_ARAL};
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help"))
            usage("offline active learning on MNIST-style IDX files");
        if (!v)
            usage("every option takes a value");
        if (!strcmp(k, "--data")) o.data = v;
        else if (!strcmp(k, "--initial")) o.initial = int_arg(v, 1, 1 << 24, k);
        else if (!strcmp(k, "--budget")) o.budget = int_arg(v, 1, 1 << 24, k);
        else if (!strcmp(k, "--cycles")) o.cycles = int_arg(v, 1, 10000, k);
        else if (!strcmp(k, "--iters")) o.iters = int_arg(v, 0, 1 << 24, k);
        else if (!strcmp(k, "--threads")) o.threads = int_arg(v, 1, 64, k);
        else if (!strcmp(k, "--seed")) o.seed = int_arg(v, 0, 1 << 30, k);
        else if (!strcmp(k, "--joint-bn")) o.joint = int_arg(v, 0, 1, k);
        else if (!strcmp(k, "--strategy")) {
            if (strategy_parse(v, &o.strat))
                usage("--strategy is aral, random or entropy");
        } else {
            usage("unknown option");
        }
    }
    if (!o.data)
        usage("--data is required");
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
    char *labeled; /* revealed yet? by pool row */
    int *lab, *lab_y, *unl, n_lab, n_unl;
} pool;

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
        if (p->labeled[i]) {
            p->lab[p->n_lab] = i;
            p->lab_y[p->n_lab++] = p->y.data[i];
        } else {
            p->unl[p->n_unl++] = i;
        }
    }
}

static double test_accuracy(aral *m, pool *p, int *pred)
{
    if (aral_infer(m, &p->test, NULL, p->test.n, pred, NULL, NULL, NULL))
        fail("inference failed");
    int right = 0;
    for (int i = 0; i < p->test.n; i++)
        right += pred[i] == p->ty.data[i];
    return right / (double)p->test.n;
}

static void reveal_initial(pool *p, const opts *o)
{
    rng r;
    rng_seed(&r, (uint64_t)o->seed ^ 0x5eed1a1b);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)p->x.count);
    rng_permutation(&r, perm, (uint32_t)p->x.count);
    for (int i = 0; i < o->initial && i < p->x.count; i++)
        p->labeled[perm[i]] = 1;
    free(perm);
}

static bool print_progress(void *ctx, int i, int iters, const aral_losses *l)
{
    (void)ctx;
    if (i == iters)
        fprintf(stderr, "# losses d %.4f class %.4f fm %.4f rec %.4f kl %.2f "
                        "ge %.4f s %.5f\n",
                l->d, l->d_class, l->fm, l->rec, l->kl, l->ge, l->s);
    return true;
}

static void cycle(aral *m, pool *p, const opts *o, int c, int *order,
                  int *pred)
{
    split(p);
    aral_set set = {p->px, p->lab, p->lab_y, p->n_lab, p->unl, p->n_unl};
    double t0 = now();
    if (aral_train(m, &set, o->iters, print_progress, NULL))
        fail("training refused the data (no unlabeled samples left?)");
    double train = now() - t0;
    double acc = test_accuracy(m, p, pred);
    t0 = now();
    if (score_rank(m, o->strat, &p->px, p->unl, p->n_unl,
                   (uint64_t)o->seed * 1000 + (uint64_t)c, order, NULL))
        fail("ranking failed (out of memory?)");
    double query = now() - t0;
    printf("{\"cycle\": %d, \"labeled\": %d, \"test_acc\": %.4f, "
           "\"train_seconds\": %.3f, \"iters_per_sec\": %.3f, "
           "\"query_seconds\": %.3f}\n",
           c, p->n_lab, acc, train, train > 0 ? o->iters / train : 0.0,
           query);
    fflush(stdout);
    int counts[256] = {0};
    for (int i = 0; i < o->budget && i < p->n_unl; i++) {
        int row = p->unl[order[i]];
        p->labeled[row] = 1;
        counts[p->y.data[row]]++;
    }
    fprintf(stderr, "# cycle %d picked class counts", c);
    for (int k = 0; k < 10; k++)
        fprintf(stderr, " %d", counts[k]);
    fprintf(stderr, "\n");
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
    p.labeled = calloc((size_t)p.x.count, 1);
    p.lab = malloc(sizeof(int) * (size_t)p.x.count);
    p.lab_y = malloc(sizeof(int) * (size_t)p.x.count);
    p.unl = malloc(sizeof(int) * (size_t)p.x.count);
    int *order = malloc(sizeof(int) * (size_t)p.x.count);
    int *pred = malloc(sizeof(int) * (size_t)p.tx.count);
    aral *m = aral_new(dim, 10, (uint64_t)o.seed);
    if (m)
        aral_set_joint_encoding(m, o.joint);
    if (!m || !p.labeled || !p.lab || !p.lab_y || !p.unl || !order || !pred) {
        fprintf(stderr, "aral-sim: out of memory\n");
        return 1;
    }
    fprintf(stderr, "# aral-sim %s, %d threads, strategy %s, seed %ld, "
                    "joint-bn %d\n",
            blas_config(), o.threads, strategy_name(o.strat), o.seed,
            o.joint);
    reveal_initial(&p, &o);
    for (int c = 1; c <= o.cycles; c++)
        cycle(m, &p, &o, c, order, pred);
    aral_free(m);
    free(p.x.data), free(p.y.data), free(p.tx.data), free(p.ty.data);
    free(p.labeled), free(p.lab), free(p.lab_y), free(p.unl), free(order);
    free(pred);
    return 0;
}
