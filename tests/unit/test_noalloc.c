/* test_noalloc: a training step and a forward pass allocate nothing.
 * malloc and friends are interposed to count calls (glibc allows an
 * executable to define them); built only without sanitizers, which own
 * these symbols themselves.
 *
 * Calls made by OpenBLAS itself are not counted: its AVX-512 small-matrix
 * sgemm kernels (0.3.21, Cooperlake) malloc a small scratch block per call.
 * That is the library's business; the rule is that core/ never allocates. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"
#include "net.h"
#include "optim.h"
#include "testlib.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting, calls;

/* Counts a call unless the caller's code lives in libopenblas. */
static void count(void *caller)
{
    if (!atomic_load(&counting))
        return;
    atomic_store(&counting, 0); /* dladdr may allocate */
    Dl_info info;
    if (!dladdr(caller, &info) || !info.dli_fname ||
        !strstr(info.dli_fname, "libopenblas"))
        atomic_fetch_add(&calls, 1);
    atomic_store(&counting, 1);
}

void *malloc(size_t n)
{
    count(__builtin_return_address(0));
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    count(__builtin_return_address(0));
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    count(__builtin_return_address(0));
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t al, size_t n)
{
    count(__builtin_return_address(0));
    return __libc_memalign(al, n);
}

static int t_step_allocates_nothing(void)
{
    rng r;
    rng_seed(&r, 1);
    net_spec s = {.in = 50, .cond = 4};
    net_spec_add(&s, LAYER_NOISE, 0, 0, 0.3f);
    net_spec_add(&s, LAYER_DENSE, 64, LAYER_NO_BIAS, 0);
    net_spec_add(&s, LAYER_BATCHNORM, 0, 0, 0);
    net_spec_add(&s, LAYER_SOFTPLUS, 0, 0, 0);
    net_spec_add(&s, LAYER_DROPOUT, 0, 0, 0.2f);
    net_spec_add(&s, LAYER_DENSE_WN, 10, LAYER_TRAIN_SCALE, 0);
    net *n = net_new(&s, &r);
    tape *t = tape_new(n, 32);
    float *x = calloc(32 * 50, sizeof(float)), *c = calloc(32 * 4, 4);
    float *g = calloc(32 * 10, sizeof(float));
    int y[32] = {0};
    /* Step 0 is a warm-up: OpenBLAS allocates its buffers on first use,
     * once per process. Steps 1.. must allocate nothing. */
    for (int step = 0; step < 4; step++) {
        if (step == 1) {
            atomic_store(&calls, 0);
            atomic_store(&counting, 1);
        }
        net_zero_grad(n);
        mat out = net_forward(n, t, mat_view(x, 32, 50), mat_view(c, 32, 4),
                              NET_TRAIN, &r);
        loss_softmax_ce(out, y, mat_view(g, 32, 10), 1.0f);
        net_backward(n, t, 5, mat_view(g, 32, 10), true, true);
        optim_adam_step(n, 1e-3f);
        net_forward(n, t, mat_view(x, 32, 50), mat_view(c, 32, 4), NET_EVAL,
                    NULL);
    }
    atomic_store(&counting, 0);
    int seen = atomic_load(&calls);
    free(x), free(c), free(g);
    tape_free(t);
    net_free(n);
    if (seen)
        fprintf(stderr, "  %d allocations during steps\n", seen);
    CHECK(seen == 0);
    return 0;
}

static const test_case cases[] = {
    {"training step allocates nothing", t_step_allocates_nothing},
};

int main(int argc, char **argv)
{
    return test_run(cases, 1, argc, argv);
}
