/* vecmath: vectorised element-wise kernels (see vecmath.c for why they
 * live in a file of their own). */
#pragma once

/* y = log(1 + e^x), computed stably. */
void vec_softplus(const float *x, float *y, int n);
/* dx = dy * sigmoid(x), the derivative of softplus, from its output
 * y = softplus(x). */
void vec_softplus_backward(const float *y, const float *dy, float *dx, int n);
/* y = 1 / (1 + e^-x). */
void vec_sigmoid(const float *x, float *y, int n);
