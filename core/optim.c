#include "optim.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "simd.h"
#include "wnorm.h"

typedef struct adam_coefs {
    float step, inv_sqrt_bc2, b1, b2, eps;
} adam_coefs;

/* Adam on count floats from offset at of the net's arenas. */
VEC_INLINE void adam_span(net *n, const adam_coefs *k, size_t at,
                          size_t count)
{
    float *restrict p = n->param + at, *restrict g = n->grad + at;
    float *restrict m = n->adam_m + at, *restrict v = n->adam_v + at;
    float b1 = k->b1, b2 = k->b2, eps = k->eps;
    for (size_t i = 0; i < count; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= k->step * m[i] / (sqrtf(v[i]) * k->inv_sqrt_bc2 + eps);
        g[i] = 0.0f; /* consumed: saves a separate pass of net_zero_grad */
    }
}

/* The arenas hold each layer's parameters in turn, weights first. A
 * weight-normalised layer is updated row by row, and each row's norm is
 * taken while the row is in cache: the passes then read the cache
 * (net.norms) instead of all the weights again. */
VEC_CLONES void optim_adam_step(net *n, float lr)
{
    adam_opts o = n->adam;
    n->adam_step++;
    double bc1 = 1.0 - pow(o.beta1, (double)n->adam_step);
    double bc2 = 1.0 - pow(o.beta2, (double)n->adam_step);
    adam_coefs k = {(float)(lr / bc1), (float)(1.0 / sqrt(bc2)), o.beta1,
                    o.beta2, o.eps};
    size_t at = 0;
    for (int i = 0; i < n->spec.n_layers; i++) {
        const layer *l = &n->layers[i];
        size_t count = layer_param_count(&l->spec, l->in, l->out);
        if (l->spec.kind == LAYER_DENSE_WN && n->norms_ok) {
            for (int j = 0; j < l->out; j++) {
                adam_span(n, &k, at + (size_t)j * l->in, (size_t)l->in);
                l->norm[j] = wn_row_norm(l->w + (size_t)j * l->in, l->in);
            }
            size_t rest = (size_t)l->in * l->out;
            adam_span(n, &k, at + rest, count - rest);
        } else {
            adam_span(n, &k, at, count);
        }
        at += count;
    }
    assert(at == n->n_param);
}

void optim_adam_reset(net *n)
{
    memset(n->adam_m, 0, sizeof(float) * n->n_param);
    memset(n->adam_v, 0, sizeof(float) * n->n_param);
    n->adam_step = 0;
}

float optim_lr_schedule(float base, long t, long total, float hold)
{
    if (total <= 0 || t <= 0)
        return base;
    double left = 1.0 - (double)t / (double)total;
    double k = left / (1.0 - hold);
    if (k > 1.0)
        k = 1.0;
    if (k < 0.0)
        k = 0.0;
    return (float)(base * k);
}
