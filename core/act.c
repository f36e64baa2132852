/* act: element-wise layers. Activations keep no cache (they read x or y
 * from the tape); Gaussian noise and dropout draw from the caller's rng in
 * training mode and are the identity in evaluation mode. */
#include <math.h>

#include "layer.h"
#include "vecmath.h"

static void forward_row(const layer *l, const float *x, float *y, int n)
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

static void noise_row(const layer *l, float *mask, float *y, int n, rng *r)
{
    float a = l->spec.param;
    if (l->spec.kind == LAYER_NOISE) {
        /* mask is NULL for noise: draw into the tape's scratch in y's
         * place is not possible, so draw in chunks on the stack. */
        float z[256];
        for (int i0 = 0; i0 < n; i0 += 256) {
            int m = n - i0 < 256 ? n - i0 : 256;
            rng_normal_fill(r, z, (size_t)m);
            for (int i = 0; i < m; i++)
                y[i0 + i] += a * z[i];
        }
        return;
    }
    float keep = 1.0f / (1.0f - a);
    for (int i = 0; i < n; i++) {
        mask[i] = rng_uniform(r) >= a ? keep : 0.0f;
        y[i] *= mask[i];
    }
}

void act_forward(const layer *l, layer_cache *c, mat x, mat y, net_mode mode,
                 rng *r)
{
    bool random = l->spec.kind == LAYER_NOISE || l->spec.kind == LAYER_DROPOUT;
    for (int row = 0; row < x.rows; row++) {
        float *yr = mat_row(y, row);
        forward_row(l, mat_row(x, row), yr, x.cols);
        if (random && mode == NET_TRAIN)
            noise_row(l, c->a ? c->a + (size_t)row * l->out : NULL, yr,
                      x.cols, r);
    }
}

static void backward_row(const layer *l, const float *x, const float *y,
                         const float *dy, float *dx, const float *mask, int n)
{
    float a = l->spec.param;
    switch (l->spec.kind) {
    case LAYER_RELU:
        for (int i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case LAYER_LRELU:
        for (int i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : a * dy[i];
        break;
    case LAYER_SOFTPLUS:
        vec_softplus_backward(x, dy, dx, n);
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

void act_backward(const layer *l, layer_cache *c, mat x, mat y, mat dy,
                  mat dx, net_mode mode)
{
    bool masked = l->spec.kind == LAYER_DROPOUT && mode == NET_TRAIN;
    for (int r = 0; r < x.rows; r++)
        backward_row(l, mat_row(x, r), mat_row(y, r), mat_row(dy, r),
                     mat_row(dx, r),
                     masked ? c->a + (size_t)r * l->out : NULL, x.cols);
}
