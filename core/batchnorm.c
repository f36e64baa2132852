/* batchnorm: per-feature batch normalisation with affine gamma (l->g) and
 * beta (l->b), as PyTorch's BatchNorm1d: eps 1e-5, momentum 0.1, biased
 * batch variance for normalising, unbiased for the running estimate.
 *
 * Training backward, with xh the normalised input and N the batch:
 *   dx = inv_std / N * (N dxh - sum(dxh) - xh * sum(dxh * xh)), dxh = dy g.
 */
#include <math.h>

#include "layer.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static void batch_stats(const layer *l, layer_cache *c, mat x)
{
    int n = x.rows;
    for (int j = 0; j < l->out; j++) {
        double s = 0.0, s2 = 0.0;
        for (int r = 0; r < n; r++) {
            double v = mat_row(x, r)[j];
            s += v, s2 += v * v;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        if (var < 0.0)
            var = 0.0;
        c->v2[j] = (float)mean;
        c->v[j] = (float)(1.0 / sqrt(var + BN_EPS));
        double unbiased = n > 1 ? var * n / (n - 1) : var;
        l->run_mean[j] += BN_MOMENTUM * ((float)mean - l->run_mean[j]);
        l->run_var[j] += BN_MOMENTUM * ((float)unbiased - l->run_var[j]);
    }
}

void batchnorm_forward(const layer *l, layer_cache *c, mat x, mat y,
                       net_mode mode)
{
    if (mode == NET_TRAIN) {
        batch_stats(l, c, x);
    } else {
        for (int j = 0; j < l->out; j++) {
            c->v2[j] = l->run_mean[j];
            c->v[j] = 1.0f / sqrtf(l->run_var[j] + BN_EPS);
        }
    }
    mat xh = mat_view(c->a, x.rows, l->out);
    for (int r = 0; r < x.rows; r++) {
        const float *xr = mat_row(x, r);
        float *hr = mat_row(xh, r), *yr = mat_row(y, r);
        for (int j = 0; j < l->out; j++) {
            hr[j] = (xr[j] - c->v2[j]) * c->v[j];
            yr[j] = l->g[j] * hr[j] + l->b[j];
        }
    }
}

void batchnorm_backward(const layer *l, layer_cache *c, mat dy, mat dx,
                        net_mode mode, bool param_grads)
{
    int n = dy.rows;
    mat xh = mat_view(c->a, n, l->out);
    for (int j = 0; j < l->out; j++) {
        double sd = 0.0, sdh = 0.0;
        for (int r = 0; r < n; r++) {
            double d = mat_row(dy, r)[j];
            sd += d, sdh += d * mat_row(xh, r)[j];
        }
        if (param_grads) {
            l->dg[j] += (float)sdh;
            l->db[j] += (float)sd;
        }
        if (!dx.data)
            continue;
        float k = l->g[j] * c->v[j];
        if (mode == NET_EVAL) {
            for (int r = 0; r < n; r++)
                mat_row(dx, r)[j] = k * mat_row(dy, r)[j];
            continue;
        }
        float m1 = (float)(sd / n), m2 = (float)(sdh / n);
        for (int r = 0; r < n; r++)
            mat_row(dx, r)[j] =
                k * (mat_row(dy, r)[j] - m1 - mat_row(xh, r)[j] * m2);
    }
}
