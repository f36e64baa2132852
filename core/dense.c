/* dense: fully connected layers, plain (y = x W^T + b) and weight-normalised
 * (y = x (g v/|v|)^T + b, with |v| = sqrt(sum v^2 + 1e-6) per output row as
 * in the bad-GAN code ARAL builds on).
 *
 * Weight norm is computed without forming g v/|v|: t = x v^T is one GEMM,
 * then each column is scaled by s_j = g_j/|v_j|. Its gradient, with
 * c_j = sum_b dy_bj t_bj:
 *   dg_j = c_j / |v_j|,   dT = dy * s,   dx = dT v,
 *   dv_j = (dT^T x)_j - g_j c_j / |v_j|^3 * v_j,
 * the last term kept pending per row (l->dk) until the optimiser step.
 * The norms |v_j| are cached in l->norm by the net (net.h): the optimiser
 * computes them as it updates each row, and a pass only reads them.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "blas.h"
#include "layer.h"
#include "simd.h"
#include "wnorm.h"

VEC_INLINE void add_bias(mat y, const float *b)
{
    for (int r = 0; r < y.rows; r++) {
        float *yr = mat_row(y, r);
        for (int j = 0; j < y.cols; j++)
            yr[j] += b[j];
    }
}

VEC_CLONES void dense_wn_norms(const layer *l)
{
    for (int j = 0; j < l->out; j++)
        l->norm[j] = wn_row_norm(l->w + (size_t)j * l->in, l->in);
}

VEC_CLONES void dense_forward(const layer *l, layer_cache *c, mat x, mat y,
                              net_mode mode)
{
    mat w = mat_view(l->w, l->out, l->in);
    if (l->spec.kind == LAYER_DENSE) {
        mm(false, true, x, w, y, 1.0f, 0.0f);
        for (int r = 0; (l->b || c->then) && r < y.rows; r++) {
            if (l->b)
                add_bias(mat_rows(y, r, 1), l->b);
            if (c->then)
                act_row(c->then, mat_row(y, r), y.cols);
        }
        return;
    }
    /* t = x v^T stays in cache a for the backward; in evaluation mode it
     * is computed in y and scaled in place. */
    mat t = mode == NET_TRAIN ? mat_view(c->a, x.rows, l->out) : y;
    mm(false, true, x, w, t, 1.0f, 0.0f);
    float *scale = c->v2; /* kept for the backward */
    for (int j = 0; j < l->out; j++)
        scale[j] = l->g[j] / l->norm[j];
    /* ReLU (D's every layer) in the same loop: no second pass. */
    bool relu = c->then && c->then->spec.kind == LAYER_RELU && l->b;
    for (int r = 0; r < y.rows; r++) {
        float *yr = mat_row(y, r);
        const float *tr = mat_row(t, r);
        if (relu) /* not fmaxf: without -ffast-math GCC calls it */
            for (int j = 0; j < y.cols; j++) {
                float v = tr[j] * scale[j] + l->b[j];
                yr[j] = v > 0.0f ? v : 0.0f;
            }
        else if (l->b)
            for (int j = 0; j < y.cols; j++)
                yr[j] = tr[j] * scale[j] + l->b[j];
        else
            for (int j = 0; j < y.cols; j++)
                yr[j] = tr[j] * scale[j];
        if (c->then && !relu)
            act_row(c->then, yr, y.cols);
    }
}

VEC_INLINE void plain_backward(const layer *l, mat x, mat dy, mat dx,
                               bool param_grads)
{
    mat w = mat_view(l->w, l->out, l->in);
    if (param_grads) {
        mm(true, false, dy, x, mat_view(l->dw, l->out, l->in), 1.0f, 1.0f);
        if (l->db)
            mat_col_sums_add(dy, l->db);
    }
    if (dx.data)
        mm(false, false, dy, w, dx, 1.0f, 0.0f);
}

/* The norm correction of dv, dv_j -= k_j v_j with k_j = g_j c_j / |v_j|^3,
 * is left pending: k_j adds up in l->dk, and the optimiser applies it as
 * it reads the row (or net_settle_grad does). A pass of its own over all
 * the weights and their gradients took half of this backward. */
VEC_INLINE void wn_defer_correction(const layer *l, const float *cj)
{
    for (int j = 0; j < l->out; j++)
        l->dk[j] += l->g[j] * cj[j] / (l->norm[j] * l->norm[j] * l->norm[j]);
}

VEC_CLONES void dense_wn_settle(const layer *l)
{
    for (int j = 0; j < l->out; j++) {
        const float *v = l->w + (size_t)j * l->in;
        float *dv = l->dw + (size_t)j * l->in, k = l->dk[j];
        for (int i = 0; k != 0.0f && i < l->in; i++)
            dv[i] -= k * v[i];
        l->dk[j] = 0.0f;
    }
}

/* dy times the derivative of activation kind k at its output y (see
 * act.c: each reads only y). Inlined with k a constant, the switch folds. */
VEC_INLINE float through_act(layer_kind k, float a, float y, float dy)
{
    switch (k) {
    case LAYER_RELU:
        return y > 0.0f ? dy : 0.0f;
    case LAYER_LRELU:
        return y > 0.0f ? dy : a * dy;
    case LAYER_SIGMOID:
        return dy * y * (1.0f - y);
    case LAYER_TANH:
        return dy * (1.0f - y * y);
    default:
        return dy;
    }
}

/* One pass over dy: d = dy through activation k (when fused), then
 * c_j += d t, dT = d g/|v|, and the column sums of d (for db) in sums. */
VEC_INLINE void wn_rows(layer_kind k, float a, const layer_cache *c, mat y,
                        mat dy, mat dt, float *restrict cj,
                        float *restrict sums)
{
    const float *restrict scale = c->v2; /* g / |v|, from the forward */
    for (int r = 0; r < dy.rows; r++) {
        const float *restrict dyr = mat_row(dy, r);
        const float *restrict yr = k == LAYER_DENSE_WN ? dyr : mat_row(y, r);
        const float *restrict tr = c->a + (size_t)r * dy.cols;
        float *restrict dtr = mat_row(dt, r);
        for (int j = 0; j < dy.cols; j++) {
            float d = through_act(k, a, yr[j], dyr[j]);
            cj[j] += d * tr[j];
            sums[j] += d;
            dtr[j] = d * scale[j];
        }
    }
}

/* The activation after a weight-normalised layer whose backward the
 * layer runs itself (layer_cache.act_in_backward), or LAYER_DENSE_WN for
 * none: then dy is the gradient of the layer's output as it is. */
static layer_kind fused_kind(const layer_cache *c)
{
    return c->act_in_backward ? c->then->spec.kind : LAYER_DENSE_WN;
}

VEC_INLINE void wn_backward(const layer *l, layer_cache *c, mat x, mat y,
                            mat dy, mat dx, bool param_grads)
{
    int out = l->out;
    mat dt = mat_view(c->b, x.rows, out);
    /* c_j = sum_b d_bj t_bj and the sums of d live in the tail of b. */
    float *cj = c->b + (size_t)x.rows * out, *sums = cj + out;
    for (int j = 0; j < out; j++)
        cj[j] = sums[j] = 0.0f;
    layer_kind k = fused_kind(c);
    float a = c->act_in_backward ? c->then->spec.param : 0.0f;
    switch (k) { /* one copy of the loop per kind, its switch folded */
    case LAYER_RELU:
        wn_rows(LAYER_RELU, a, c, y, dy, dt, cj, sums);
        break;
    case LAYER_LRELU:
        wn_rows(LAYER_LRELU, a, c, y, dy, dt, cj, sums);
        break;
    case LAYER_SIGMOID:
        wn_rows(LAYER_SIGMOID, a, c, y, dy, dt, cj, sums);
        break;
    case LAYER_TANH:
        wn_rows(LAYER_TANH, a, c, y, dy, dt, cj, sums);
        break;
    default:
        wn_rows(LAYER_DENSE_WN, a, c, y, dy, dt, cj, sums);
        break;
    }
    if (param_grads) {
        for (int j = 0; l->dg && j < out; j++)
            l->dg[j] += cj[j] / l->norm[j];
        for (int j = 0; l->db && j < out; j++)
            l->db[j] += sums[j];
        mm(true, false, dt, x, mat_view(l->dw, out, l->in), 1.0f, 1.0f);
        wn_defer_correction(l, cj);
    }
    if (dx.data)
        mm(false, false, dt, mat_view(l->w, out, l->in), dx, 1.0f, 0.0f);
}

VEC_CLONES void dense_backward(const layer *l, layer_cache *c, mat x, mat y,
                               mat dy, mat dx, bool param_grads)
{
    if (l->spec.kind == LAYER_DENSE)
        plain_backward(l, x, dy, dx, param_grads);
    else
        wn_backward(l, c, x, y, dy, dx, param_grads);
}

void dense_init(layer *l, rng *r)
{
    size_t n = (size_t)l->in * l->out;
    if (l->spec.kind == LAYER_DENSE_WN) {
        /* The bad-GAN/ARAL initialisation: v ~ N(0, 0.1), b = 0, g = 1. */
        for (size_t i = 0; i < n; i++)
            l->w[i] = 0.1f * rng_normal(r);
        for (int j = 0; j < l->out; j++) {
            l->g[j] = 1.0f;
            if (l->b)
                l->b[j] = 0.0f;
        }
        return;
    }
    /* PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)). */
    float k = 1.0f / sqrtf((float)l->in);
    for (size_t i = 0; i < n; i++)
        l->w[i] = k * (2.0f * rng_uniform(r) - 1.0f);
    if (l->b)
        for (int j = 0; j < l->out; j++)
            l->b[j] = k * (2.0f * rng_uniform(r) - 1.0f);
}

void dense_wn_init_data(layer *l, layer_cache *c, mat x)
{
    assert(l->spec.kind == LAYER_DENSE_WN && x.rows > 1);
    mat t = mat_view(c->a, x.rows, l->out);
    mm(false, true, x, mat_view(l->w, l->out, l->in), t, 1.0f, 0.0f);
    for (int j = 0; j < l->out; j++) {
        double s = 0.0, s2 = 0.0;
        for (int r = 0; r < x.rows; r++) {
            double u = mat_row(t, r)[j] / l->norm[j];
            s += u, s2 += u * u;
        }
        double mean = s / x.rows;
        double var = s2 / x.rows - mean * mean;
        double inv = 1.0 / sqrt(var + 1e-8);
        l->g[j] = (float)inv;
        if (l->b)
            l->b[j] = (float)(-mean * inv);
    }
}
