/* layer: sizes, arena binding and dispatch for the layer kinds. The
 * arithmetic lives in dense.c, batchnorm.c and act.c. */
#include "layer.h"

#include <assert.h>

static bool is_dense(layer_kind k)
{
    return k == LAYER_DENSE || k == LAYER_DENSE_WN;
}

int layer_out_width(const layer_spec *s, int in)
{
    return is_dense(s->kind) ? s->out : in;
}

size_t layer_param_count(const layer_spec *s, int in, int out)
{
    size_t n = 0;
    if (is_dense(s->kind)) {
        n = (size_t)in * out;
        if (!(s->flags & LAYER_NO_BIAS))
            n += out;
        if (s->kind == LAYER_DENSE_WN && (s->flags & LAYER_TRAIN_SCALE))
            n += out;
    } else if (s->kind == LAYER_BATCHNORM) {
        n = 2 * (size_t)out;
    }
    return n;
}

size_t layer_state_count(const layer_spec *s, int in, int out)
{
    (void)in;
    if (s->kind == LAYER_DENSE_WN && !(s->flags & LAYER_TRAIN_SCALE))
        return out; /* the fixed scale g */
    if (s->kind == LAYER_BATCHNORM)
        return 2 * (size_t)out; /* running mean and variance */
    return 0;
}

void layer_cache_sizes(const layer *l, int rows, size_t sz[4])
{
    size_t ro = (size_t)rows * l->out;
    sz[0] = sz[1] = sz[2] = sz[3] = 0;
    switch (l->spec.kind) {
    case LAYER_DENSE_WN:
        sz[0] = ro, sz[1] = ro + 2 * (size_t)l->out, sz[3] = l->out;
        break;
    case LAYER_BATCHNORM:
        sz[0] = ro, sz[1] = 2 * (size_t)l->out;
        sz[2] = sz[3] = LAYER_MAX_GROUPS * (size_t)l->out;
        break;
    case LAYER_DROPOUT:
        sz[0] = ro;
        break;
    default:
        break;
    }
}

/* Takes n floats from an arena cursor. */
static float *take(float **cursor, size_t n)
{
    float *p = *cursor;
    *cursor += n;
    return p;
}

void layer_bind(layer *l, float *param, float *grad, float *state)
{
    const layer_spec *s = &l->spec;
    l->w = l->b = l->g = l->dw = l->db = l->dg = NULL;
    l->run_mean = l->run_var = l->norm = l->dk = NULL;
    if (is_dense(s->kind)) {
        size_t wn = (size_t)l->in * l->out;
        l->w = take(&param, wn), l->dw = take(&grad, wn);
        if (!(s->flags & LAYER_NO_BIAS))
            l->b = take(&param, l->out), l->db = take(&grad, l->out);
        if (s->kind == LAYER_DENSE_WN) {
            if (s->flags & LAYER_TRAIN_SCALE)
                l->g = take(&param, l->out), l->dg = take(&grad, l->out);
            else
                l->g = take(&state, l->out);
        }
    } else if (s->kind == LAYER_BATCHNORM) {
        l->g = take(&param, l->out), l->dg = take(&grad, l->out);
        l->b = take(&param, l->out), l->db = take(&grad, l->out);
        l->run_mean = take(&state, l->out);
        l->run_var = take(&state, l->out);
    }
}

void layer_init(layer *l, rng *r)
{
    if (is_dense(l->spec.kind)) {
        dense_init(l, r);
    } else if (l->spec.kind == LAYER_BATCHNORM) {
        for (int j = 0; j < l->out; j++) {
            l->g[j] = 1.0f, l->b[j] = 0.0f;
            l->run_mean[j] = 0.0f, l->run_var[j] = 1.0f;
        }
    }
}

void layer_forward(const layer *l, layer_cache *c, mat x, mat y, net_mode mode,
                   rng *r)
{
    assert(x.cols == l->in && y.cols == l->out && x.rows == y.rows);
    if (is_dense(l->spec.kind))
        dense_forward(l, c, x, y, mode);
    else if (l->spec.kind == LAYER_BATCHNORM)
        batchnorm_forward(l, c, x, y, mode);
    else
        act_forward(l, c, x, y, mode, r);
}

void layer_backward(const layer *l, layer_cache *c, mat x, mat y, mat dy,
                    mat dx, net_mode mode, bool param_grads)
{
    assert(dy.cols == l->out && dy.rows == x.rows);
    assert(!dx.data || (dx.cols == l->in && dx.rows == x.rows));
    /* An evaluation-mode forward keeps no x v^T for weight norm. */
    assert(mode == NET_TRAIN || l->spec.kind != LAYER_DENSE_WN);
    if (is_dense(l->spec.kind))
        dense_backward(l, c, x, y, dy, dx, param_grads);
    else if (l->spec.kind == LAYER_BATCHNORM)
        batchnorm_backward(l, c, dy, dx, mode, param_grads);
    else if (dx.data)
        act_backward(l, c, y, dy, dx, mode);
}
