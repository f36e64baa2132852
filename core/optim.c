#include "optim.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "simd.h"
#include "wnorm.h"

typedef struct adam_coefs {
    float step, inv_sqrt_bc2, b1, b2, eps;
} adam_coefs;

/* Adam on count floats from offset at of the net's arenas, with the
 * gradient g - k p (k: a weight-norm row's pending term, see dense.c;
 * 0 elsewhere). With beta1 = 0 (ARAL's G and E) the first moment is the
 * gradient itself, to the bit (0 m + 1 g), so m is neither read nor
 * written: the step is memory-bound and that is a quarter of its
 * traffic. adam_m then stays as it was, which no step reads while beta1
 * is 0. */
VEC_INLINE void adam_span(net *n, const adam_coefs *c, size_t at, size_t count,
                          float k)
{
    float *restrict p = n->param + at, *restrict g = n->grad + at;
    float *restrict m = n->adam_m + at, *restrict v = n->adam_v + at;
    float b1 = c->b1, b2 = c->b2, eps = c->eps;
    if (b1 == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            float gi = g[i] - k * p[i];
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            p[i] -= c->step * gi / (sqrtf(v[i]) * c->inv_sqrt_bc2 + eps);
            g[i] = 0.0f;
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        float gi = g[i] - k * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= c->step * m[i] / (sqrtf(v[i]) * c->inv_sqrt_bc2 + eps);
        g[i] = 0.0f; /* consumed: saves a separate pass of net_zero_grad */
    }
}

/* A weight-normalised layer's rows: each with its pending gradient term,
 * and its norm taken while the row is in cache, so that passes read the
 * cache (net.norms) instead of all the weights again. */
VEC_INLINE void adam_wn_rows(net *n, const adam_coefs *c, const layer *l,
                             size_t at)
{
    for (int j = 0; j < l->out; j++) {
        adam_span(n, c, at + (size_t)j * l->in, (size_t)l->in, l->dk[j]);
        l->dk[j] = 0.0f;
        l->norm[j] = wn_row_norm(l->w + (size_t)j * l->in, l->in);
    }
}

/* The arenas hold each layer's parameters in turn, weights first. */
VEC_CLONES void optim_adam_step(net *n, float lr)
{
    adam_opts o = n->adam;
    n->adam_step++;
    double bc1 = 1.0 - pow(o.beta1, (double)n->adam_step);
    double bc2 = 1.0 - pow(o.beta2, (double)n->adam_step);
    adam_coefs c = {(float)(lr / bc1), (float)(1.0 / sqrt(bc2)), o.beta1,
                    o.beta2, o.eps};
    size_t at = 0;
    for (int i = 0; i < n->spec.n_layers; i++) {
        const layer *l = &n->layers[i];
        size_t count = layer_param_count(&l->spec, l->in, l->out), done = 0;
        if (l->spec.kind == LAYER_DENSE_WN) {
            adam_wn_rows(n, &c, l, at);
            done = (size_t)l->in * l->out;
        }
        adam_span(n, &c, at + done, count - done, 0.0f);
        at += count;
    }
    assert(at == n->n_param);
    n->norms_ok = true; /* every weight-norm row's was just taken */
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
