/* vecmath: vectorised element-wise kernels (see vecmath.c for why they
 * live in a file of their own). */
#pragma once
#include <stdint.h>

/* Box-Muller: n pairs of standard normals c[i], s[i] from the top 24 bits
 * of the uniforms b1[i] (radius) and b2[i] (angle). The normals of the
 * noise layers come from here (rng_normal_fill); exposed for its test. */
void vec_box_muller(const uint32_t *b1, const uint32_t *b2, float *c, float *s,
                    int n);

/* y = log(1 + e^x), computed stably. */
void vec_softplus(const float *x, float *y, int n);
/* dx = dy * sigmoid(x), the derivative of softplus, from its output
 * y = softplus(x). */
void vec_softplus_backward(const float *y, const float *dy, float *dx, int n);
/* y = 1 / (1 + e^-x). */
void vec_sigmoid(const float *x, float *y, int n);
