/* rng: an explicit, seeded random number generator (xoroshiro128+, seeded
 * through splitmix64). There is no hidden state: every function that draws
 * takes an rng *, so a seed reproduces a run bit for bit.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define RNG_LANES 16

/* s drives every scalar draw. lane is a second generator for bulk normals:
 * 16 xoshiro128+ streams side by side (one row per state word), which the
 * compiler turns into a few vector instructions per 16 draws. */
typedef struct rng {
    uint64_t s[2];
    uint32_t lane[4][RNG_LANES];
} rng;

/* Seeds the generator; any 64-bit seed (0 included) is fine. */
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1), 24 random bits. */
float rng_uniform(rng *r);
/* Standard normal (Box-Muller; one pair of uniforms per call). */
float rng_normal(rng *r);
/* n standard normals into out, from the lane streams: much faster than n
 * calls of rng_normal, and a different stream of values (use one or the
 * other for a given purpose). In vecmath.c. */
void rng_normal_fill(rng *r, float *out, size_t n);
/* y = x + sd * N(0, 1), n values (x == y allowed), for noise layers. */
void rng_normal_add(rng *r, const float *x, float *y, size_t n, float sd);
/* Uniform integer in [0, n); n > 0. Lemire's multiply, bias < 2^-32. */
uint32_t rng_below(rng *r, uint32_t n);
/* Fills a with a uniform random permutation of 0..n-1. */
void rng_permutation(rng *r, uint32_t *a, uint32_t n);
