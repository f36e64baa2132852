#include "optim.h"

#include <math.h>
#include <string.h>

#include "simd.h"

VEC_CLONES void optim_adam_step(net *n, float lr)
{
    adam_opts o = n->adam;
    n->adam_step++;
    double bc1 = 1.0 - pow(o.beta1, (double)n->adam_step);
    double bc2 = 1.0 - pow(o.beta2, (double)n->adam_step);
    float step = (float)(lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float b1 = o.beta1, b2 = o.beta2, eps = o.eps;
    float *p = n->param, *g = n->grad, *m = n->adam_m, *v = n->adam_v;
    size_t count = n->n_param;
    for (size_t i = 0; i < count; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        g[i] = 0.0f; /* consumed: saves a separate pass of net_zero_grad */
    }
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
