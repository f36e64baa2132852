/* dense: fully connected layers, plain (y = x W^T + b) and weight-normalised
 * (y = x (g v/|v|)^T + b, with |v| = sqrt(sum v^2 + 1e-6) per output row as
 * in the bad-GAN code ARAL builds on).
 *
 * Weight norm is computed without forming g v/|v|: t = x v^T is one GEMM,
 * then each column is scaled by s_j = g_j/|v_j|. Its gradient, with
 * c_j = sum_b dy_bj t_bj:
 *   dg_j = c_j / |v_j|,   dT = dy * s,   dx = dT v,
 *   dv_j = (dT^T x)_j - g_j c_j / |v_j|^3 * v_j.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "blas.h"
#include "layer.h"
#include "simd.h"

#define WN_EPS 1e-6f

VEC_INLINE void add_bias(mat y, const float *b)
{
    for (int r = 0; r < y.rows; r++) {
        float *yr = mat_row(y, r);
        for (int j = 0; j < y.cols; j++)
            yr[j] += b[j];
    }
}

VEC_INLINE void col_sums_add(mat m, float *out)
{
    for (int r = 0; r < m.rows; r++) {
        const float *mr = mat_row(m, r);
        for (int j = 0; j < m.cols; j++)
            out[j] += mr[j];
    }
}

/* Sum of squares in four accumulators of 16 lanes, each a GCC vector: one
 * accumulator is a chain of dependent adds, so the loop would wait on the
 * add's latency (a third of dense_forward went there); a lane array GCC
 * vectorised with shuffles inside the loop. */
typedef float lanes16 __attribute__((vector_size(64)));

VEC_INLINE float sum_squares(const float *v, int n)
{
    lanes16 acc[4] = {{0}};
    int i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; k++) {
            lanes16 x;
            memcpy(&x, v + i + 16 * k, sizeof(x));
            acc[k] += x * x;
        }
    for (; i + 16 <= n; i += 16) {
        lanes16 x;
        memcpy(&x, v + i, sizeof(x));
        acc[0] += x * x;
    }
    lanes16 all = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    float s = 0.0f;
    for (; i < n; i++)
        s += v[i] * v[i];
    for (int k = 0; k < 16; k++)
        s += all[k];
    return s;
}

VEC_INLINE void row_norms(const float *w, int out, int in, float *norm)
{
    for (int j = 0; j < out; j++)
        norm[j] = sqrtf(sum_squares(w + (size_t)j * in, in) + WN_EPS);
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
    row_norms(l->w, l->out, l->in, c->v);
    float *scale = c->v2; /* kept for the backward */
    for (int j = 0; j < l->out; j++)
        scale[j] = l->g[j] / c->v[j];
    for (int r = 0; r < y.rows; r++) {
        float *yr = mat_row(y, r);
        const float *tr = mat_row(t, r);
        if (l->b)
            for (int j = 0; j < y.cols; j++)
                yr[j] = tr[j] * scale[j] + l->b[j];
        else
            for (int j = 0; j < y.cols; j++)
                yr[j] = tr[j] * scale[j];
        if (c->then)
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
            col_sums_add(dy, l->db);
    }
    if (dx.data)
        mm(false, false, dy, w, dx, 1.0f, 0.0f);
}

/* The norm correction of dv: dv_j -= g_j c_j / |v_j|^3 v_j. */
VEC_INLINE void wn_correct_dv(const layer *l, const float *cj,
                              const float *norm)
{
    for (int j = 0; j < l->out; j++) {
        float k = l->g[j] * cj[j] / (norm[j] * norm[j] * norm[j]);
        const float *v = l->w + (size_t)j * l->in;
        float *dv = l->dw + (size_t)j * l->in;
        for (int i = 0; i < l->in; i++)
            dv[i] -= k * v[i];
    }
}

VEC_INLINE void wn_backward(const layer *l, layer_cache *c, mat x, mat dy,
                            mat dx, bool param_grads)
{
    int out = l->out;
    mat t = mat_view(c->a, x.rows, out);
    mat dt = mat_view(c->b, x.rows, out);
    /* c_j = sum_b dy_bj t_bj lives in the tail of cache b. */
    float *cj = c->b + (size_t)x.rows * out;
    for (int j = 0; j < out; j++)
        cj[j] = 0.0f;
    const float *restrict scale = c->v2; /* g / |v|, from the forward */
    for (int r = 0; r < x.rows; r++) {
        const float *restrict dyr = mat_row(dy, r), *restrict tr = mat_row(t, r);
        float *restrict dtr = mat_row(dt, r);
        for (int j = 0; j < out; j++) {
            cj[j] += dyr[j] * tr[j];
            dtr[j] = dyr[j] * scale[j];
        }
    }
    if (param_grads) {
        if (l->dg)
            for (int j = 0; j < out; j++)
                l->dg[j] += cj[j] / c->v[j];
        if (l->db)
            col_sums_add(dy, l->db);
        mm(true, false, dt, x, mat_view(l->dw, out, l->in), 1.0f, 1.0f);
        wn_correct_dv(l, cj, c->v);
    }
    if (dx.data)
        mm(false, false, dt, mat_view(l->w, out, l->in), dx, 1.0f, 0.0f);
}

VEC_CLONES void dense_backward(const layer *l, layer_cache *c, mat x, mat dy,
                               mat dx, bool param_grads)
{
    if (l->spec.kind == LAYER_DENSE)
        plain_backward(l, x, dy, dx, param_grads);
    else
        wn_backward(l, c, x, dy, dx, param_grads);
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
    row_norms(l->w, l->out, l->in, c->v);
    for (int j = 0; j < l->out; j++) {
        double s = 0.0, s2 = 0.0;
        for (int r = 0; r < x.rows; r++) {
            double u = mat_row(t, r)[j] / c->v[j];
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
