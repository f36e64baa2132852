/* batchnorm: per-feature batch normalisation with affine gamma (l->g) and
 * beta (l->b), as PyTorch's BatchNorm1d: eps 1e-5, momentum 0.1, biased
 * batch variance for normalising, unbiased for the running estimate.
 *
 * Training backward, with xh the normalised input and N the batch:
 *   dx = inv_std / N * (N dxh - sum(dxh) - xh * sum(dxh * xh)), dxh = dy g.
 *
 * A pass may be split into groups of rows (tape_set_groups): each group is
 * normalised as its own batch, exactly as separate passes would, and the
 * running estimates are updated group after group.
 */
#include <math.h>

#include "layer.h"
#include "simd.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

/* Mean, then variance about it (two passes: float sums of squares about
 * zero would cancel) into mean and inv (1 / std), and the running
 * estimates. */
VEC_INLINE void batch_stats(const layer *l, mat x, float *mean, float *inv)
{
    int n = x.rows, out = l->out;
    float *var = inv;
    for (int j = 0; j < out; j++)
        mean[j] = 0.0f;
    mat_col_sums_add(x, mean);
    for (int j = 0; j < out; j++)
        mean[j] /= (float)n, var[j] = 0.0f;
    for (int r = 0; r < n; r++) {
        const float *xr = mat_row(x, r);
        for (int j = 0; j < out; j++)
            var[j] += (xr[j] - mean[j]) * (xr[j] - mean[j]);
    }
    float unbias = n > 1 ? (float)n / (float)(n - 1) : 1.0f;
    for (int j = 0; j < out; j++) {
        var[j] /= (float)n;
        l->run_mean[j] += BN_MOMENTUM * (mean[j] - l->run_mean[j]);
        l->run_var[j] += BN_MOMENTUM * (var[j] * unbias - l->run_var[j]);
        inv[j] = 1.0f / sqrtf(var[j] + BN_EPS);
    }
}

/* Rows in group g of a pass of `rows` rows (see layer_cache.groups). */
static int group_rows(const layer_cache *c, int g, int rows)
{
    return c->n_groups ? c->groups[g] : rows;
}

static int group_count(const layer_cache *c)
{
    return c->n_groups ? c->n_groups : 1;
}

/* xh = (x - mean) * inv and y = g xh + b for the rows of one group, then
 * the fused activation if any (layer_cache.then). */
VEC_INLINE void normalise(const layer *l, const layer_cache *c, mat x, mat xh,
                          mat y, const float *restrict mean,
                          const float *restrict inv)
{
    /* restrict: without it GCC could not rule out that the outputs alias
     * g, b, mean or inv, and kept this loop scalar (most of the forward). */
    const float *restrict g = l->g, *restrict b = l->b;
    for (int r = 0; r < x.rows; r++) {
        const float *restrict xr = mat_row(x, r);
        float *restrict hr = mat_row(xh, r), *restrict yr = mat_row(y, r);
        for (int j = 0; j < l->out; j++) {
            hr[j] = (xr[j] - mean[j]) * inv[j];
            yr[j] = g[j] * hr[j] + b[j];
        }
        if (c->then)
            act_row(c->then, yr, l->out);
    }
}

VEC_CLONES void batchnorm_forward(const layer *l, layer_cache *c, mat x, mat y,
                                  net_mode mode)
{
    int out = l->out, off = 0;
    mat xh = mat_view(c->a, x.rows, out);
    for (int g = 0; g < group_count(c); g++) {
        int n = group_rows(c, g, x.rows);
        float *mean = c->v2 + (size_t)g * out, *inv = c->v + (size_t)g * out;
        if (mode == NET_TRAIN) {
            batch_stats(l, mat_rows(x, off, n), mean, inv);
        } else {
            for (int j = 0; j < out; j++) {
                mean[j] = l->run_mean[j];
                inv[j] = 1.0f / sqrtf(l->run_var[j] + BN_EPS);
            }
        }
        normalise(l, c, mat_rows(x, off, n), mat_rows(xh, off, n),
                  mat_rows(y, off, n), mean, inv);
        off += n;
    }
}

/* sd[j] = sum_r dy[r][j] and sdh[j] = sum_r dy[r][j] xh[r][j]. */
VEC_INLINE void grad_sums(mat dy, mat xh, float *sd, float *sdh)
{
    for (int j = 0; j < dy.cols; j++)
        sd[j] = 0.0f, sdh[j] = 0.0f;
    for (int r = 0; r < dy.rows; r++) {
        const float *d = mat_row(dy, r), *h = mat_row(xh, r);
        for (int j = 0; j < dy.cols; j++)
            sd[j] += d[j], sdh[j] += d[j] * h[j];
    }
}

/* One group's backward; inv is its 1 / std. */
VEC_INLINE void group_backward(const layer *l, layer_cache *c, mat dy, mat xh,
                               mat dx, const float *inv, net_mode mode,
                               bool param_grads)
{
    int n = dy.rows, out = l->out;
    float *sd = c->b, *sdh = c->b + out;
    grad_sums(dy, xh, sd, sdh);
    if (param_grads)
        for (int j = 0; j < out; j++)
            l->dg[j] += sdh[j], l->db[j] += sd[j];
    if (!dx.data)
        return;
    /* In evaluation mode the statistics are constants: dx = k dy. */
    bool eval = mode == NET_EVAL;
    for (int j = 0; j < out; j++) {
        sd[j] = eval ? 0.0f : sd[j] / (float)n;
        sdh[j] = eval ? 0.0f : sdh[j] / (float)n;
    }
    for (int r = 0; r < n; r++) {
        const float *d = mat_row(dy, r), *h = mat_row(xh, r);
        float *o = mat_row(dx, r);
        for (int j = 0; j < out; j++)
            o[j] = l->g[j] * inv[j] * (d[j] - sd[j] - h[j] * sdh[j]);
    }
}

VEC_CLONES void batchnorm_backward(const layer *l, layer_cache *c, mat dy,
                                   mat dx, net_mode mode, bool param_grads)
{
    int out = l->out, off = 0;
    mat xh = mat_view(c->a, dy.rows, out);
    for (int g = 0; g < group_count(c); g++) {
        int n = group_rows(c, g, dy.rows);
        mat dxg = dx.data ? mat_rows(dx, off, n) : dx;
        group_backward(l, c, mat_rows(dy, off, n), mat_rows(xh, off, n), dxg,
                       c->v + (size_t)g * out, mode, param_grads);
        off += n;
    }
}
