/* bench_aral: ARAL training and scoring speed on the Fashion-MNIST pool,
 * measured the way shared/bench/ref_speed.py measures the PyTorch
 * reference: 100 labeled samples, batch 100, --warmup then --iters timed
 * iterations; scoring S(mu) for all 60,000 pool images (D for the
 * pseudo-label, E for mu, S) in chunks of 1,000, best of --repeat; D alone
 * over the pool (what entropy costs). One JSON line on stdout.
 *
 * The bound: cblas_sgemm is interposed (this file defines it and forwards
 * to OpenBLAS's) to count the FLOPs and record the matrix products of one
 * training iteration and of one scoring pass. Replaying exactly those
 * calls with nothing between them gives the time the same GEMMs take
 * alone, measured in the same run: the ratio to it is what element-wise
 * work, batch gathering and thread hand-offs cost.
 *
 * usage: bench_aral [--data DIR] [--threads N] [--iters N] [--warmup N]
 *                   [--repeat N] [--joint-bn 0|1] [--trace 0|1]
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aral.h"
#include "blas.h"
#include "readers.h"
#include "rng.h"

/* ---- the GEMM trace. */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct gemm_call {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float beta;
} gemm_call;

#define MAX_CALLS 4096
static gemm_call trace[MAX_CALLS];
static int n_trace, recording;
static double flops, in_gemm; /* FLOPs and seconds inside cblas_sgemm */

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE,
                         enum CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                         const float *, blasint, const float *, blasint, float,
                         float *, blasint);

static sgemm_fn real_sgemm(void)
{
    static sgemm_fn f;
    if (!f) /* POSIX's way to take a function pointer from dlsym */
        *(void **)&f = dlsym(RTLD_NEXT, "cblas_sgemm");
    if (!f) {
        fprintf(stderr, "bench_aral: no cblas_sgemm after this one\n");
        exit(1);
    }
    return f;
}

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m,
                 const blasint n, const blasint k, const float alpha,
                 const float *a, const blasint lda, const float *b,
                 const blasint ldb, const float beta, float *c,
                 const blasint ldc)
{
    flops += 2.0 * m * n * k;
    if (recording && n_trace < MAX_CALLS)
        trace[n_trace++] = (gemm_call){
            ta == CblasTrans, tb == CblasTrans, m, n, k, lda, ldb, ldc, beta};
    double t0 = now();
    real_sgemm()(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    in_gemm += now() - t0;
}

/* Records the GEMMs of one call of fn(ctx); returns their count. */
static int record_gemms(void (*fn)(void *), void *ctx)
{
    n_trace = 0, recording = 1;
    fn(ctx);
    recording = 0;
    return n_trace;
}

/* Seconds for the recorded calls alone, on buffers big enough for any of
 * them (best of `repeat` runs of `times` replays). */
static double replay(int calls, int times, int repeat)
{
    size_t need = 1;
    for (int i = 0; i < calls; i++) {
        gemm_call *g = &trace[i];
        size_t ra = (size_t)(g->ta ? g->k : g->m) * g->lda;
        size_t rb = (size_t)(g->tb ? g->n : g->k) * g->ldb;
        size_t rc = (size_t)g->m * g->ldc;
        need = ra > need ? ra : need, need = rb > need ? rb : need;
        need = rc > need ? rc : need;
    }
    float *a = malloc(sizeof(float) * need), *b = malloc(sizeof(float) * need);
    float *c = malloc(sizeof(float) * need);
    for (size_t i = 0; i < need; i++)
        a[i] = b[i] = c[i] = 0.01f;
    double best = 1e9;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        for (int t = 0; t < times; t++)
            for (int i = 0; i < calls; i++) {
                gemm_call *g = &trace[i];
                real_sgemm()(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                             g->tb ? CblasTrans : CblasNoTrans, g->m, g->n,
                             g->k, 1.0f, a, g->lda, b, g->ldb, g->beta, c,
                             g->ldc);
            }
        double dt = (now() - t0) / times;
        best = dt < best ? dt : best;
    }
    free(a), free(b), free(c);
    return best;
}

/* Prints each recorded call with its time alone, slowest first, so the
 * costly shapes stand out (--trace 1). */
static void print_trace(int calls)
{
    gemm_call all[MAX_CALLS];
    double ms[MAX_CALLS];
    memcpy(all, trace, sizeof(gemm_call) * (size_t)calls);
    for (int i = 0; i < calls; i++) {
        trace[0] = all[i];
        ms[i] = 1000 * replay(1, 20, 3);
    }
    for (int i = 0; i < calls; i++) {
        int worst = i;
        for (int k = i + 1; k < calls; k++)
            worst = ms[k] > ms[worst] ? k : worst;
        gemm_call g = all[worst];
        double t = ms[worst];
        all[worst] = all[i], ms[worst] = ms[i];
        fprintf(stderr,
                "%c%c m %4d n %4d k %4d beta %g: %.3f ms, %.0f GFLOP/s\n",
                g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k, g.beta, t,
                2e-6 * g.m * g.n * g.k / t);
    }
    memcpy(trace, all, sizeof(gemm_call) * (size_t)calls);
}

typedef struct job {
    aral *m;
    aral_set *set;
    aral_data *pool;
    float *score;
} job;

static void one_iteration(void *ctx)
{
    job *j = ctx;
    aral_train(j->m, j->set, 1, NULL, NULL);
}

static void one_scoring(void *ctx)
{
    job *j = ctx;
    aral_infer(j->m, j->pool, NULL, j->pool->n, NULL, NULL, NULL, j->score);
}

static void load(const char *dir, const char *name, idx_data *out)
{
    char path[4096], why[300];
    snprintf(path, sizeof(path), "%s/%s.gz", dir, name);
    if (idx_read_file(path, out, why, sizeof(why))) {
        fprintf(stderr, "bench_aral: %s\n", why);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist";
    int threads = 2, iters = 200, warmup = 20, repeat = 3, joint = 0;
    int show = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--joint-bn"))
            joint = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--trace"))
            show = atoi(argv[i + 1]);
    }
    if (getenv("FTZ"))
        __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x8040);
    blas_set_threads(threads);
    idx_data x, y;
    load(data, "train-images-idx3-ubyte", &x);
    load(data, "train-labels-idx1-ubyte", &y);
    int n = x.count, dim = x.rows * x.cols;
    aral_data pool = {n, dim, x.data, NULL};
    int *lab = malloc(sizeof(int) * 100), *labels = malloc(sizeof(int) * 100);
    int *unl = malloc(sizeof(int) * (size_t)n), n_unl = 0;
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)n);
    char *is_lab = calloc((size_t)n, 1);
    rng r;
    rng_seed(&r, 0);
    rng_permutation(&r, perm, (uint32_t)n);
    for (int i = 0; i < 100; i++)
        is_lab[perm[i]] = 1, lab[i] = (int)perm[i], labels[i] = y.data[perm[i]];
    for (int i = 0; i < n; i++)
        if (!is_lab[i])
            unl[n_unl++] = i;
    aral *m = aral_new(dim, 10, 0);
    aral_set_joint_encoding(m, joint);
    aral_set set = {pool, lab, labels, 100, unl, n_unl};
    aral_train(m, &set, warmup, NULL, NULL);
    flops = 0, in_gemm = 0;
    double t0 = now();
    aral_train(m, &set, iters, NULL, NULL);
    double train = now() - t0, train_gflop = flops * 1e-9 / iters;
    double gemm_ms = 1000 * in_gemm / iters;
    float *score = malloc(sizeof(float) * (size_t)n);
    double best = 1e9, score_gflop = 0;
    for (int k = 0; k < repeat; k++) {
        flops = 0;
        t0 = now();
        aral_infer(m, &pool, NULL, n, NULL, NULL, NULL, score);
        double dt = now() - t0;
        best = dt < best ? dt : best;
        score_gflop = flops * 1e-9;
    }
    int *pred = malloc(sizeof(int) * (size_t)n);
    t0 = now();
    aral_infer(m, &pool, NULL, n, pred, NULL, NULL, NULL);
    double classify = now() - t0;
    /* The same GEMMs alone (see the top of this file). */
    job j = {m, &set, &pool, score};
    int calls = record_gemms(one_iteration, &j);
    double train_gemm = replay(calls, 20, 3);
    if (show)
        print_trace(calls);
    double score_gemm = 0;
    if (repeat > 0) {
        calls = record_gemms(one_scoring, &j);
        score_gemm = replay(calls, 1, 2);
    }
    double ms = 1000 * train / iters;
    fprintf(stderr,
            "%s, %d threads: %.2f it/s (%.1f ms/it, %.1f in GEMMs; alone "
            "%.1f ms, %.2f GFLOP), score %d in %.3f s (GEMMs alone "
            "%.3f s, %.0f GFLOP), classify %.3f s\n",
            blas_config(), threads, iters / train, ms, gemm_ms,
            1000 * train_gemm, train_gflop, n, best, score_gemm, score_gflop,
            classify);
    printf("{\"impl\":\"c\",\"threads\":%d,\"batch\":100,\"timed_iters\":%d,"
           "\"train_seconds\":%.3f,\"iters_per_sec\":%.3f,"
           "\"ms_per_iter\":%.2f,\"in_gemm_ms_per_iter\":%.2f,"
           "\"gemm_only_ms_per_iter\":%.2f,"
           "\"gflop_per_iter\":%.3f,\"pool\":%d,\"score_seconds_best\":%.3f,"
           "\"score_gemm_only_seconds\":%.3f,\"score_gflop\":%.1f,"
           "\"score_samples_per_sec\":%.1f,\"classify_pool_seconds\":%.3f,"
           "\"joint_bn\":%d}\n",
           threads, iters, train, iters / train, ms, gemm_ms, 1000 * train_gemm,
           train_gflop, n, best, score_gemm, score_gflop, n / best, classify,
           joint);
    aral_free(m);
    free(x.data), free(y.data), free(lab), free(labels), free(unl), free(perm);
    free(is_lab), free(score), free(pred);
    return 0;
}
