/* vecmath: the element-wise loops that call transcendental functions, and
 * the bulk normals of the noise layers. This file alone is built with
 * -ffast-math so that GCC vectorises these loops freely. They use a log,
 * an exp and a sine/cosine of their own, for arguments in known ranges,
 * checked against libm in test_core: glibc's vector math (libmvec)
 * handles any argument and took twice as long (and scalar log1pf once
 * took 11% of an ARAL iteration). Results are a pure function of the
 * inputs (and the seed) for a given build on a given machine (see
 * simd.h). Inputs here are finite. */
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

/* log(u) for a positive normal float u: u = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), then log m = 2 atanh(s), s = (m - 1) / (m + 1),
 * |s| < 0.172, by its series to s^9 (the next term is below 1e-9). */
VEC_INLINE float log_pos(float u)
{
    uint32_t bits;
    memcpy(&bits, &u, sizeof(bits));
    bits += 0x3f800000u - 0x3f3504f3u; /* moves m >= sqrt(2) up one octave */
    int e = (int)(bits >> 23) - 127;
    bits = (bits & 0x007fffffu) + 0x3f3504f3u;
    float m;
    memcpy(&m, &bits, sizeof(m));
    float s = (m - 1.0f) / (m + 1.0f), z = s * s;
    float series =
        1.0f +
        z * (1.0f / 3 + z * (1.0f / 5 + z * (1.0f / 7 + z * (1.0f / 9))));
    return (float)e * 0.69314718f + 2.0f * s * series;
}

/* e^x for x <= 0: x = k ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts,
 * so r is exact), e^r by its series to r^7 (next term below 6e-9), times
 * 2^k made from its exponent bits. Below -87 (the smallest normal float)
 * it returns e^-87. */
VEC_INLINE float exp_nonpos(float x)
{
    x = fmaxf(x, -87.0f);
    float k = roundf(x * 1.44269504f);
    float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-6f;
    float p =
        1.0f +
        r * (1.0f + r * (1.0f / 2 +
                         r * (1.0f / 6 + r * (1.0f / 24 +
                                              r * (1.0f / 120 +
                                                   r * (1.0f / 720 +
                                                        r * (1.0f / 5040)))))));
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

/* log(1 + e) for e in [0, 1] without forming 1 + e (which would round
 * away a small e): 2 atanh(s), s = e / (2 + e) <= 1/3, by its series to
 * s^17 (the next term is below 2e-10 of the result). */
VEC_INLINE float log1p_unit(float e)
{
    float s = e / (2.0f + e), z = s * s;
    float series = 1.0f / 15 + z * (1.0f / 17);
    series = 1.0f / 13 + z * series;
    series = 1.0f / 11 + z * series;
    series = 1.0f / 9 + z * series;
    series = 1.0f / 7 + z * series;
    series = 1.0f / 5 + z * series;
    series = 1.0f / 3 + z * series;
    return 2.0f * s * (1.0f + z * series);
}

/* cos and sin of 2 pi t for t in [0, 1): the nearest quarter turn q, then
 * the Taylor series of the rest, |a| <= pi / 4, to a^8 (cos) and a^9
 * (sin), whose next terms are below 3e-8, then a rotation by q. */
VEC_INLINE void cos_sin_turn(float t, float *c_out, float *s_out)
{
    float quarters = 4.0f * t;
    int q = (int)(quarters + 0.5f);
    float a = (quarters - (float)q) * 1.5707963f, z = a * a;
    float s =
        a * (1.0f +
             z * (-1.0f / 6 +
                  z * (1.0f / 120 + z * (-1.0f / 5040 + z * (1.0f / 362880)))));
    float c =
        1.0f +
        z * (-0.5f + z * (1.0f / 24 + z * (-1.0f / 720 + z * (1.0f / 40320))));
    float x = q & 1 ? s : c, y = q & 1 ? c : s;
    *c_out = (q + 1) & 2 ? -x : x;
    *s_out = q & 2 ? -y : y;
}

/* Box-Muller on n pairs of 32-bit uniforms (top 24 bits used):
 * r = sqrt(-2 log u), u = 1 - b1 / 2^24 in (0, 1]; angle 2 pi b2 / 2^24.
 * With the two helpers above as plain arithmetic GCC vectorises the whole
 * loop; through libmvec's logf, cosf and sinf it took twice as long. */
VEC_INLINE void box_muller(const uint32_t *b1, const uint32_t *b2, float *c,
                           float *s, int n)
{
    for (int i = 0; i < n; i++) {
        float u = 1.0f - (float)(int32_t)(b1[i] >> 8) * 0x1p-24f;
        float r = sqrtf(-2.0f * log_pos(u));
        float cs, sn;
        cos_sin_turn((float)(int32_t)(b2[i] >> 8) * 0x1p-24f, &cs, &sn);
        c[i] = r * cs, s[i] = r * sn;
    }
}

VEC_CLONES void vec_box_muller(const uint32_t *b1, const uint32_t *b2, float *c,
                               float *s, int n)
{
    box_muller(b1, b2, c, s, n);
}

/* 2 * PAIRS standard normals into out: 32-bit uniforms from the 16 lane
 * streams of xoshiro128+ (top 24 bits used, its low bits are weak), then
 * Box-Muller. */
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
    box_muller(bits, bits + PAIRS, out, out + PAIRS, PAIRS);
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

/* softplus(x) = max(x, 0) + log(1 + e^-|x|). */
VEC_CLONES void vec_softplus(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = fmaxf(x[i], 0.0f) + log1p_unit(exp_nonpos(-fabsf(x[i])));
}

/* From the output: with y = softplus(x), sigmoid(x) = 1 - e^-y. */
VEC_CLONES void vec_softplus_backward(const float *y, const float *dy,
                                      float *dx, int n)
{
    for (int i = 0; i < n; i++)
        dx[i] = dy[i] * (1.0f - exp_nonpos(-y[i]));
}

/* With e = e^-|x| in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below. */
VEC_CLONES void vec_sigmoid(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++) {
        float e = exp_nonpos(-fabsf(x[i]));
        y[i] = (x[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
    }
}
