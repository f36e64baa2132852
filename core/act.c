/* act: element-wise layers. Activations keep no cache, and their backward
 * reads only their output y (ReLU: y > 0 exactly where x > 0; softplus:
 * sigmoid(x) = 1 - e^-y), so the layer before may compute them in place
 * (layer_cache.then). Gaussian noise and dropout draw from the caller's
 * rng in training mode and are the identity in evaluation mode. */
#include <math.h>

#include "layer.h"
#include "simd.h"
#include "vecmath.h"

VEC_INLINE void forward_row(const layer *l, const float *x, float *y, int n)
{
    float a = l->spec.param;
    switch (l->spec.kind) {
    case LAYER_RELU:
        for (int i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case LAYER_LRELU:
        for (int i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : a * x[i];
        break;
    case LAYER_SOFTPLUS:
        vec_softplus(x, y, n);
        break;
    case LAYER_SIGMOID:
        vec_sigmoid(x, y, n);
        break;
    case LAYER_TANH:
        for (int i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    default:
        for (int i = 0; i < n; i++)
            y[i] = x[i];
        break;
    }
}

/* Inverted dropout on one row: mask keeps 1 / (1 - p) or 0. */
static void dropout_row(const layer *l, float *mask, float *y, int n, rng *r)
{
    float keep = 1.0f / (1.0f - l->spec.param);
    for (int i = 0; i < n; i++) {
        mask[i] = rng_uniform(r) >= l->spec.param ? keep : 0.0f;
        y[i] *= mask[i];
    }
}

/* Training-mode noise: y = x + sd * N(0, 1), in one call over the whole
 * matrix when both are contiguous (the usual case: tape buffers). */
static void noise_forward(const layer *l, mat x, mat y, rng *r)
{
    if (x.stride == x.cols && y.stride == y.cols) {
        rng_normal_add(r, x.data, y.data, (size_t)x.rows * x.cols,
                       l->spec.param);
        return;
    }
    for (int row = 0; row < x.rows; row++)
        rng_normal_add(r, mat_row(x, row), mat_row(y, row), (size_t)x.cols,
                       l->spec.param);
}

VEC_CLONES void act_forward(const layer *l, layer_cache *c, mat x, mat y,
                            net_mode mode, rng *r)
{
    if (l->spec.kind == LAYER_NOISE && mode == NET_TRAIN) {
        noise_forward(l, x, y, r);
        return;
    }
    bool drop = l->spec.kind == LAYER_DROPOUT && mode == NET_TRAIN;
    for (int row = 0; row < x.rows; row++) {
        float *yr = mat_row(y, row);
        forward_row(l, mat_row(x, row), yr, x.cols);
        if (drop)
            dropout_row(l, c->a + (size_t)row * l->out, yr, x.cols, r);
    }
}

VEC_INLINE void backward_row(const layer *l, const float *y, const float *dy,
                             float *dx, const float *mask, int n)
{
    float a = l->spec.param;
    switch (l->spec.kind) {
    case LAYER_RELU:
        for (int i = 0; i < n; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case LAYER_LRELU: /* slope >= 0 (net_new checks) */
        for (int i = 0; i < n; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : a * dy[i];
        break;
    case LAYER_SOFTPLUS:
        vec_softplus_backward(y, dy, dx, n);
        break;
    case LAYER_SIGMOID:
        for (int i = 0; i < n; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case LAYER_TANH:
        for (int i = 0; i < n; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case LAYER_DROPOUT:
        for (int i = 0; i < n; i++)
            dx[i] = mask ? dy[i] * mask[i] : dy[i];
        break;
    default: /* noise: the identity */
        for (int i = 0; i < n; i++)
            dx[i] = dy[i];
        break;
    }
}

VEC_CLONES void act_row(const layer *l, float *y, int n)
{
    forward_row(l, y, y, n);
}

VEC_CLONES void act_backward(const layer *l, layer_cache *c, mat y, mat dy,
                             mat dx, net_mode mode)
{
    bool masked = l->spec.kind == LAYER_DROPOUT && mode == NET_TRAIN;
    for (int r = 0; r < y.rows; r++)
        backward_row(l, mat_row(y, r), mat_row(dy, r), mat_row(dx, r),
                     masked ? c->a + (size_t)r * l->out : NULL, y.cols);
}
