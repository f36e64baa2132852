/* bench_mlp: forward + backward + Adam of the 784-1000-500-250-250-250-10
 * MLP at batch 100, against cblas_sgemm alone on exactly the same GEMM
 * shapes and transposes, measured in the same run. Two variants: plain
 * dense + ReLU, and ARAL's discriminator style (Gaussian noise, weight
 * norm). Prints a summary on stderr and one JSON object on the last line.
 *
 * usage: bench_mlp [--steps N] [--threads N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "loss.h"
#include "net.h"
#include "optim.h"

#define BATCH 100
static const int sizes[] = {784, 1000, 500, 250, 250, 250, 10};
#define NL 6

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static net *build(int wn, rng *r)
{
    net_spec s = {.in = sizes[0]};
    for (int i = 0; i < NL; i++) {
        if (wn)
            net_spec_add(&s, LAYER_NOISE, 0, 0, i ? 0.5f : 0.3f);
        net_spec_add(&s, wn ? LAYER_DENSE_WN : LAYER_DENSE, sizes[i + 1],
                     i == NL - 1 && wn ? LAYER_TRAIN_SCALE : 0, 0);
        if (i < NL - 1)
            net_spec_add(&s, LAYER_RELU, 0, 0, 0);
    }
    return net_new(&s, r);
}

/* GEMM flops of one step: forward, weight gradient, input gradient
 * (not for the first layer, whose input gradient nobody needs). */
static double step_flops(void)
{
    double f = 0;
    for (int i = 0; i < NL; i++) {
        double mnk = 2.0 * BATCH * sizes[i] * sizes[i + 1];
        f += (i == 0 ? 2 : 3) * mnk;
    }
    return f;
}

static double time_steps(net *n, tape *t, float *x, int *y, float *g, int steps,
                         rng *r)
{
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int s = 0; s < steps; s++) {
            /* No net_zero_grad: the Adam step left the gradients zeroed. */
            mat out = net_forward(n, t, mat_view(x, BATCH, sizes[0]), (mat){0},
                                  NET_TRAIN, r);
            loss_softmax_ce(out, y, mat_view(g, BATCH, 10), 1.0f);
            net_backward(n, t, n->spec.n_layers - 1, mat_view(g, BATCH, 10),
                         true, false);
            optim_adam_step(n, 1e-3f);
        }
        double dt = (now() - t0) / steps;
        if (dt < best)
            best = dt;
    }
    return best;
}

/* The same GEMMs with nothing else: the peak for these shapes. */
static double time_gemms(int steps)
{
    float *a = tensor_alloc(1000 * 1000), *b = tensor_alloc(1000 * 1000);
    float *c = tensor_alloc(1000 * 1000);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int s = 0; s < steps; s++)
            for (int i = 0; i < NL; i++) {
                int in = sizes[i], out = sizes[i + 1];
                mat x = mat_view(a, BATCH, in), w = mat_view(b, out, in);
                mat y = mat_view(c, BATCH, out);
                mm(false, true, x, w, y, 1, 0); /* forward */
                mm(true, false, y, x, w, 1, 1); /* weight grad */
                if (i)
                    mm(false, false, y, w, x, 1, 0); /* input grad */
            }
        double dt = (now() - t0) / steps;
        if (dt < best)
            best = dt;
    }
    tensor_free(a), tensor_free(b), tensor_free(c);
    return best;
}

int main(int argc, char **argv)
{
    int steps = 50, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
    }
    blas_set_threads(threads);
    rng r;
    rng_seed(&r, 1);
    float *x = tensor_alloc(BATCH * 784), *g = tensor_alloc(BATCH * 10);
    int y[BATCH];
    for (int i = 0; i < BATCH * 784; i++)
        x[i] = rng_uniform(&r);
    for (int i = 0; i < BATCH; i++)
        y[i] = (int)rng_below(&r, 10);
    double flops = step_flops(), res[2];
    for (int wn = 0; wn < 2; wn++) {
        net *n = build(wn, &r);
        tape *t = tape_new(n, BATCH);
        time_steps(n, t, x, y, g, 5, &r); /* warm-up */
        res[wn] = time_steps(n, t, x, y, g, steps, &r);
        tape_free(t);
        net_free(n);
    }
    time_gemms(5);
    double peak = time_gemms(steps);
    double gf_peak = flops / peak * 1e-9;
    double gf_plain = flops / res[0] * 1e-9, gf_wn = flops / res[1] * 1e-9;
    fprintf(stderr,
            "%s, %d threads\n"
            "sgemm alone, same shapes: %.3f ms/step, %.1f GFLOP/s\n"
            "plain MLP step:           %.3f ms, %.1f GFLOP/s (%.0f%%)\n"
            "weight-norm+noise step:   %.3f ms, %.1f GFLOP/s (%.0f%%)\n",
            blas_config(), threads, peak * 1e3, gf_peak, res[0] * 1e3, gf_plain,
            100 * gf_plain / gf_peak, res[1] * 1e3, gf_wn,
            100 * gf_wn / gf_peak);
    printf("{\"threads\":%d,\"batch\":%d,\"gemm_gflops_peak\":%.2f,"
           "\"mlp_ms_per_step\":%.3f,\"mlp_gflops\":%.2f,"
           "\"mlp_fraction_of_peak\":%.3f,\"wn_ms_per_step\":%.3f,"
           "\"wn_gflops\":%.2f,\"wn_fraction_of_peak\":%.3f}\n",
           threads, BATCH, gf_peak, res[0] * 1e3, gf_plain, gf_plain / gf_peak,
           res[1] * 1e3, gf_wn, gf_wn / gf_peak);
    tensor_free(x), tensor_free(g);
    return 0;
}
