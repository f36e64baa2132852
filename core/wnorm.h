/* wnorm: the row norm of weight normalisation, |v| = sqrt(sum v^2 + 1e-6)
 * as in the bad-GAN code ARAL builds on. One definition for the layer
 * (dense.c) and the optimiser, which computes it as it updates a row
 * (optim.c): both get the same bits. */
#pragma once
#include <math.h>
#include <string.h>

#include "simd.h"

#define WN_EPS 1e-6f

/* Sum of squares in four accumulators of 16 lanes, each a GCC vector: one
 * accumulator is a chain of dependent adds, so the loop would wait on the
 * add's latency (a third of the forward went there); a lane array GCC
 * vectorised with shuffles inside the loop. The order of the sums is
 * fixed by the code, whatever the vector width of the clone. */
typedef float wn_lanes16 __attribute__((vector_size(64)));

VEC_INLINE float wn_row_norm(const float *v, int n)
{
    wn_lanes16 acc[4] = {{0}};
    int i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; k++) {
            wn_lanes16 x;
            memcpy(&x, v + i + 16 * k, sizeof(x));
            acc[k] += x * x;
        }
    for (; i + 16 <= n; i += 16) {
        wn_lanes16 x;
        memcpy(&x, v + i, sizeof(x));
        acc[0] += x * x;
    }
    wn_lanes16 all = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    float s = 0.0f;
    for (; i < n; i++)
        s += v[i] * v[i];
    for (int k = 0; k < 16; k++)
        s += all[k];
    return sqrtf(s + WN_EPS);
}
