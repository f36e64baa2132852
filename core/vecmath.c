/* vecmath: the element-wise loops that call transcendental functions.
 * This file alone is built with -ffast-math, which is what makes glibc
 * declare the vector variants of expf, logf, log1pf, sinf and cosf
 * (libmvec) so that GCC vectorises these loops; scalar log1pf alone took
 * 11% of an ARAL iteration. Results are a pure function of the inputs
 * (and the seed) for a given build. Inputs here are finite. */
#include <math.h>

#include "rng.h"
#include "vecmath.h"

#define BLOCK 256

/* Normals in bulk, for the noise layers (hundreds of thousands of draws
 * per training step): uniforms from the generator one by one, then
 * Box-Muller as plain loops. */
void rng_normal_fill(rng *r, float *out, size_t n)
{
    /* Fixed-length loops vectorise without remainders; the unused tail of
     * a last partial block is computed and dropped. */
    float u1[BLOCK], u2[BLOCK];
    while (n > 0) {
        size_t pairs = n >= 2 * BLOCK ? BLOCK : (n + 1) / 2;
        for (size_t i = 0; i < pairs; i++) {
            uint64_t v = rng_next(r);
            /* 24 bits each; 1 - u keeps the log's argument in (0, 1]. */
            u1[i] = 1.0f - (float)(v >> 40) * (1.0f / 16777216.0f);
            u2[i] = (float)((v >> 8) & 0xffffff) * (1.0f / 16777216.0f);
        }
        for (size_t i = pairs; i < BLOCK; i++)
            u1[i] = 1.0f, u2[i] = 0.0f;
        float c[BLOCK], s[BLOCK];
        /* Separate loops: together GCC fuses cosf and sinf into sincosf,
         * which has no vector variant. */
        for (size_t i = 0; i < BLOCK; i++)
            u1[i] = sqrtf(-2.0f * logf(u1[i]));
        for (size_t i = 0; i < BLOCK; i++)
            c[i] = u1[i] * cosf(6.2831853f * u2[i]);
        for (size_t i = 0; i < BLOCK; i++)
            s[i] = u1[i] * sinf(6.2831853f * u2[i]);
        size_t k = 0;
        for (size_t i = 0; i < pairs && k < n; i++) {
            out[k++] = c[i];
            if (k < n)
                out[k++] = s[i];
        }
        out += k;
        n -= k;
    }
}

void vec_softplus(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
}

/* -ffast-math assumes no infinities: keep expf's argument finite-valued. */
static inline float clamp80(float x)
{
    return fminf(fmaxf(x, -80.0f), 80.0f);
}

void vec_softplus_backward(const float *x, const float *dy, float *dx, int n)
{
    for (int i = 0; i < n; i++)
        dx[i] = dy[i] / (1.0f + expf(-clamp80(x[i])));
}

void vec_sigmoid(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-clamp80(x[i])));
}
