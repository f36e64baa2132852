/* bench_aral: ARAL training and scoring speed on the Fashion-MNIST pool,
 * measured the way shared/bench/ref_speed.py measures the PyTorch
 * reference: 100 labeled samples, batch 100, --warmup then --iters timed
 * iterations; scoring S(mu) for all 60,000 pool images (D for the
 * pseudo-label, E for mu, S) in chunks of 1,000, best of --repeat; D alone
 * over the pool (what entropy costs). One JSON line on stdout.
 *
 * usage: bench_aral [--data DIR] [--threads N] [--iters N] [--warmup N]
 *                   [--repeat N] [--joint-bn 0|1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aral.h"
#include "blas.h"
#include "import.h"
#include "rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void load(const char *dir, const char *name, idx_data *out)
{
    char path[4096], why[300];
    snprintf(path, sizeof(path), "%s/%s.gz", dir, name);
    if (import_idx_file(path, out, why, sizeof(why))) {
        fprintf(stderr, "bench_aral: %s\n", why);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist";
    int threads = 2, iters = 200, warmup = 20, repeat = 3, joint = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--joint-bn")) joint = atoi(argv[i + 1]);
    }
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
    double t0 = now();
    aral_train(m, &set, iters, NULL, NULL);
    double train = now() - t0;
    float *score = malloc(sizeof(float) * (size_t)n);
    double best = 1e9;
    for (int k = 0; k < repeat; k++) {
        t0 = now();
        aral_infer(m, &pool, NULL, n, NULL, NULL, NULL, score);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    int *pred = malloc(sizeof(int) * (size_t)n);
    t0 = now();
    aral_infer(m, &pool, NULL, n, pred, NULL, NULL, NULL);
    double classify = now() - t0;
    fprintf(stderr, "%s, %d threads: %.2f it/s (%.1f ms/it), score %d in "
                    "%.3f s, classify %.3f s\n",
            blas_config(), threads, iters / train, 1000 * train / iters, n,
            best, classify);
    printf("{\"impl\":\"c\",\"threads\":%d,\"batch\":100,\"timed_iters\":%d,"
           "\"train_seconds\":%.3f,\"iters_per_sec\":%.3f,"
           "\"ms_per_iter\":%.2f,\"pool\":%d,\"score_seconds_best\":%.3f,"
           "\"score_samples_per_sec\":%.1f,\"classify_pool_seconds\":%.3f,"
           "\"joint_bn\":%d}\n",
           threads, iters, train, iters / train, 1000 * train / iters, n, best,
           n / best, classify, joint);
    aral_free(m);
    free(x.data), free(y.data), free(lab), free(labels), free(unl), free(perm);
    free(is_lab), free(score), free(pred);
    return 0;
}
