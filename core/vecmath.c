/* vecmath: the element-wise loops that call transcendental functions, and
 * the bulk normals of the noise layers. This file alone is built with
 * -ffast-math, which is what makes glibc declare the vector variants of
 * expf, expm1f, logf, log1pf, sinf and cosf (libmvec) so that GCC
 * vectorises these loops; scalar log1pf alone took 11% of an ARAL
 * iteration. Results are a pure function of the inputs (and the seed) for
 * a given build on a given machine (see simd.h). Inputs here are finite. */
#include <math.h>

#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "simd.h"
#include "vecmath.h"

#define PAIRS 128

/* The 16 lane streams as one vector (GCC's vector extension): written
 * this way the generator steps all lanes at once; as a loop over lanes GCC
 * unrolled it into scalar code. */
typedef uint32_t lanes __attribute__((vector_size(4 * RNG_LANES)));

/* 2 * PAIRS standard normals into out: 32-bit uniforms from the 16 lane
 * streams of xoshiro128+ (top 24 bits used, its low bits are weak), then
 * Box-Muller as plain loops that GCC vectorises through libmvec. */
VEC_INLINE void normal_block(rng *r, float *out)
{
    lanes s0, s1, s2, s3;
    uint32_t bits[2 * PAIRS];
    memcpy(&s0, r->lane[0], sizeof(s0)), memcpy(&s1, r->lane[1], sizeof(s1));
    memcpy(&s2, r->lane[2], sizeof(s2)), memcpy(&s3, r->lane[3], sizeof(s3));
    for (int k = 0; k < 2 * PAIRS; k += RNG_LANES) {
        lanes out = s0 + s3, t = s1 << 9;
        memcpy(bits + k, &out, sizeof(out));
        s2 ^= s0, s3 ^= s1, s1 ^= s2, s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >> 21);
    }
    memcpy(r->lane[0], &s0, sizeof(s0)), memcpy(r->lane[1], &s1, sizeof(s1));
    memcpy(r->lane[2], &s2, sizeof(s2)), memcpy(r->lane[3], &s3, sizeof(s3));
    float rad[PAIRS], turn[PAIRS];
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    for (int i = 0; i < PAIRS; i++)
        rad[i] = sqrtf(-2.0f * logf(1.0f - (float)(int32_t)(bits[i] >> 8) *
                                               0x1p-24f));
    for (int i = 0; i < PAIRS; i++)
        turn[i] = 6.2831853f * (float)(int32_t)(bits[PAIRS + i] >> 8) *
                  0x1p-24f;
    /* Separate loops: together GCC fuses cosf and sinf into sincosf,
     * which has no vector variant. */
    for (int i = 0; i < PAIRS; i++)
        out[i] = rad[i] * cosf(turn[i]);
    for (int i = 0; i < PAIRS; i++)
        out[PAIRS + i] = rad[i] * sinf(turn[i]);
}

VEC_CLONES void rng_normal_fill(rng *r, float *out, size_t n)
{
    float z[2 * PAIRS];
    for (; n >= 2 * PAIRS; n -= 2 * PAIRS, out += 2 * PAIRS)
        normal_block(r, out);
    if (n) {
        normal_block(r, z);
        memcpy(out, z, sizeof(float) * n);
    }
}

VEC_CLONES void rng_normal_add(rng *r, const float *x, float *y, size_t n,
                               float sd)
{
    float z[2 * PAIRS];
    while (n > 0) {
        size_t m = n < 2 * PAIRS ? n : 2 * PAIRS;
        normal_block(r, z);
        for (size_t i = 0; i < m; i++)
            y[i] = x[i] + sd * z[i];
        x += m, y += m, n -= m;
    }
}

VEC_CLONES void vec_softplus(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
}

/* -ffast-math assumes no infinities: keep expf's argument finite-valued. */
static inline float clamp80(float x)
{
    return fminf(fmaxf(x, -80.0f), 80.0f);
}

/* From the output: with y = softplus(x), sigmoid(x) = 1 - e^-y, which
 * -expm1(-y) gives accurately for small y (x very negative). */
VEC_CLONES void vec_softplus_backward(const float *y, const float *dy,
                                      float *dx, int n)
{
    for (int i = 0; i < n; i++)
        dx[i] = -dy[i] * expm1f(-y[i]);
}

VEC_CLONES void vec_sigmoid(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-clamp80(x[i])));
}
