/* net: builds a stack of layers over four arenas (param, grad, adam_m,
 * adam_v, all n_param long, plus state), and runs forward and backward
 * passes through tapes. The arenas are flat so the optimiser and the
 * checkpoint walk one array each. */
#include "net.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tape {
    const net *n;
    int max_batch, rows;
    net_mode mode;
    float *input;               /* [x ; c], max_batch x (in + cond) */
    float *out[NET_MAX_LAYERS]; /* each layer's own output buffer */
    float *act[NET_MAX_LAYERS]; /* where its output is this pass: out[i],
                                   or its input for a skipped identity */
    layer_cache cache[NET_MAX_LAYERS];
    float *grad[2]; /* ping-pong gradients, max_batch x widest */
    float *dinput;  /* gradient w.r.t. [x ; c] */
    float *block;   /* the one allocation behind all of the above */
    int groups[LAYER_MAX_GROUPS], n_groups; /* see tape_set_groups */
};

net_spec *net_spec_add(net_spec *s, layer_kind kind, int out, int flags,
                       float param)
{
    assert(s->n_layers < NET_MAX_LAYERS);
    s->layers[s->n_layers++] = (layer_spec){kind, out, flags, param};
    return s;
}

static bool spec_valid(const net_spec *s)
{
    if (s->in <= 0 || s->cond < 0 || s->n_layers <= 0 ||
        s->n_layers > NET_MAX_LAYERS)
        return false;
    for (int i = 0; i < s->n_layers; i++) {
        const layer_spec *l = &s->layers[i];
        if ((l->kind == LAYER_DENSE || l->kind == LAYER_DENSE_WN) &&
            l->out <= 0)
            return false;
        if (l->kind == LAYER_DROPOUT && !(l->param >= 0 && l->param < 1))
            return false;
        if (l->kind == LAYER_LRELU && !(l->param >= 0)) /* see act.c */
            return false;
        if ((unsigned)l->kind > LAYER_DROPOUT)
            return false;
    }
    return true;
}

/* Fills in, out for every layer and the arena sizes. */
static void plan(net *n)
{
    int w = n->spec.in + n->spec.cond;
    n->n_param = n->n_state = 0;
    for (int i = 0; i < n->spec.n_layers; i++) {
        layer *l = &n->layers[i];
        l->spec = n->spec.layers[i];
        l->in = w;
        l->out = w = layer_out_width(&l->spec, w);
        n->n_param += layer_param_count(&l->spec, l->in, l->out);
        n->n_state += layer_state_count(&l->spec, l->in, l->out);
    }
}

/* Rows of all weight-normalised layers: the size of the norm cache. */
static size_t wn_rows(const net *n)
{
    size_t rows = 0;
    for (int i = 0; i < n->spec.n_layers; i++)
        if (n->layers[i].spec.kind == LAYER_DENSE_WN)
            rows += (size_t)n->layers[i].out;
    return rows;
}

net *net_new(const net_spec *spec, rng *r)
{
    if (!spec_valid(spec))
        return NULL;
    net *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->spec = *spec;
    plan(n);
    n->param = tensor_alloc(n->n_param);
    n->grad = tensor_alloc(n->n_param);
    n->adam_m = tensor_alloc(n->n_param);
    n->adam_v = tensor_alloc(n->n_param);
    n->state = tensor_alloc(n->n_state);
    n->norms = tensor_alloc(wn_rows(n));
    n->pending = tensor_alloc(wn_rows(n));
    if (!n->param || !n->grad || !n->adam_m || !n->adam_v || !n->state ||
        !n->norms || !n->pending) {
        net_free(n);
        return NULL;
    }
    float *p = n->param, *g = n->grad, *s = n->state, *norm = n->norms;
    float *dk = n->pending;
    for (int i = 0; i < spec->n_layers; i++) {
        layer *l = &n->layers[i];
        layer_bind(l, p, g, s);
        p += layer_param_count(&l->spec, l->in, l->out);
        g += layer_param_count(&l->spec, l->in, l->out);
        s += layer_state_count(&l->spec, l->in, l->out);
        if (l->spec.kind == LAYER_DENSE_WN)
            l->norm = norm, norm += l->out, l->dk = dk, dk += l->out;
        layer_init(l, r);
    }
    n->adam = (adam_opts){1e-3f, 0.9f, 0.999f, 1e-8f};
    return n;
}

void net_free(net *n)
{
    if (!n)
        return;
    tensor_free(n->param);
    tensor_free(n->grad);
    tensor_free(n->adam_m);
    tensor_free(n->adam_v);
    tensor_free(n->state);
    tensor_free(n->norms);
    tensor_free(n->pending);
    free(n);
}

int net_out_width(const net *n)
{
    return n->layers[n->spec.n_layers - 1].out;
}

int net_layer_width(const net *n, int i)
{
    assert(i >= 0 && i < n->spec.n_layers);
    return n->layers[i].out;
}

/* Rounds a float count up to whole cache lines (16 floats). */
static size_t pad(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Sizes of the tape's buffers in order: input, dinput, grad x2, then per
 * layer out and caches a, b, v, v2. Sets pointers when base is given. */
static size_t tape_layout(tape *t, float *base)
{
    const net *n = t->n;
    size_t rows = (size_t)t->max_batch, total = 0, widest = 0;
    size_t in = (size_t)(n->spec.in + n->spec.cond);
#define PLACE(ptr, count)                                                      \
    do {                                                                       \
        if (base)                                                              \
            (ptr) = (count) != 0 ? base + total : NULL;                        \
        total += pad(count);                                                   \
    } while (0)
    for (int i = 0; i < n->spec.n_layers; i++)
        if ((size_t)n->layers[i].out > widest)
            widest = n->layers[i].out;
    if (in > widest)
        widest = in;
    PLACE(t->input, rows * in);
    PLACE(t->dinput, rows * in);
    PLACE(t->grad[0], rows * widest);
    PLACE(t->grad[1], rows * widest);
    for (int i = 0; i < n->spec.n_layers; i++) {
        size_t sz[4];
        layer_cache_sizes(&n->layers[i], t->max_batch, sz);
        PLACE(t->out[i], rows * n->layers[i].out);
        PLACE(t->cache[i].a, sz[0]);
        PLACE(t->cache[i].b, sz[1]);
        PLACE(t->cache[i].v, sz[2]);
        PLACE(t->cache[i].v2, sz[3]);
    }
#undef PLACE
    return total;
}

tape *tape_new(const net *n, int max_batch)
{
    if (max_batch <= 0)
        return NULL;
    tape *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->n = n;
    t->max_batch = max_batch;
    t->block = tensor_alloc(tape_layout(t, NULL));
    if (!t->block) {
        free(t);
        return NULL;
    }
    tape_layout(t, t->block);
    memcpy(t->act, t->out, sizeof(t->act));
    return t;
}

void tape_free(tape *t)
{
    if (!t)
        return;
    tensor_free(t->block);
    free(t);
}

float *tape_input(tape *t)
{
    return t->input;
}

int tape_max_batch(const tape *t)
{
    return t->max_batch;
}

void tape_set_groups(tape *t, const int *rows, int n)
{
    assert(n >= 0 && n <= LAYER_MAX_GROUPS);
    t->n_groups = n;
    for (int g = 0; g < n; g++)
        t->groups[g] = rows[g];
}

/* Hands the groups to every layer's cache for a pass of `rows` rows. */
static void apply_groups(tape *t, int rows)
{
    int sum = 0;
    for (int g = 0; g < t->n_groups; g++)
        sum += t->groups[g];
    assert(t->n_groups == 0 || sum == rows);
    (void)sum, (void)rows;
    for (int i = 0; i < t->n->spec.n_layers; i++) {
        t->cache[i].groups = t->groups;
        t->cache[i].n_groups = t->n_groups;
        t->cache[i].then = NULL;
    }
}

mat tape_layer_output(const tape *t, int i)
{
    assert(i >= 0 && i < t->n->spec.n_layers);
    return mat_view(t->act[i], t->rows, t->n->layers[i].out);
}

/* The activation that layer i may apply row by row itself
 * (layer_cache.then), or NULL. It saves a pass over the activations, and
 * backward is unchanged: an activation's backward reads only its output. */
static const layer *fusable(const net *n, int i)
{
    if (i + 1 >= n->spec.n_layers)
        return NULL;
    layer_kind k = n->layers[i].spec.kind, a = n->layers[i + 1].spec.kind;
    bool producer =
        k == LAYER_DENSE || k == LAYER_DENSE_WN || k == LAYER_BATCHNORM;
    bool activation = a == LAYER_RELU || a == LAYER_LRELU ||
                      a == LAYER_SOFTPLUS || a == LAYER_SIGMOID ||
                      a == LAYER_TANH;
    return producer && activation ? &n->layers[i + 1] : NULL;
}

/* Noise and dropout are the identity outside training: the pass skips
 * them, and their output is their input (no copy). */
static bool identity_in(const layer *l, net_mode mode)
{
    return mode == NET_EVAL &&
           (l->spec.kind == LAYER_NOISE || l->spec.kind == LAYER_DROPOUT);
}

/* Writes [x ; c] into the tape's input buffer. */
static mat load_input(const net *n, tape *t, mat x, mat c)
{
    int w = n->spec.in + n->spec.cond;
    mat in = mat_view(t->input, x.rows, w);
    assert(x.cols == n->spec.in && x.rows <= t->max_batch);
    if (x.data != t->input || x.stride != w) /* else built in place */
        mat_copy(mat_cols(in, 0, n->spec.in), x);
    if (n->spec.cond) {
        assert(c.data && c.rows == x.rows && c.cols == n->spec.cond);
        mat_copy(mat_cols(in, n->spec.in, n->spec.cond), c);
    }
    return in;
}

static mat layer_input(const net *n, const tape *t, int i)
{
    if (i == 0)
        return mat_view(t->input, t->rows, n->spec.in + n->spec.cond);
    return tape_layer_output(t, i - 1);
}

mat net_forward(net *n, tape *t, mat x, mat c, net_mode mode, rng *r)
{
    assert(t->n == n);
    net_ensure_norms(n);
    load_input(n, t, x, c);
    t->rows = x.rows;
    t->mode = mode;
    apply_groups(t, x.rows);
    for (int i = 0; i < n->spec.n_layers; i++) {
        const layer *l = &n->layers[i];
        mat in = layer_input(n, t, i);
        t->act[i] = identity_in(l, mode) ? in.data : t->out[i];
        if (t->act[i] == in.data)
            continue;
        const layer *then = fusable(n, i);
        t->cache[i].then = then;
        layer_forward(l, &t->cache[i], in, tape_layer_output(t, i), mode, r);
        if (then) /* the activation ran inside layer i */
            t->act[i + 1] = t->act[i], i++;
    }
    return tape_layer_output(t, n->spec.n_layers - 1);
}

static bool has_params(const layer *l)
{
    return l->dw || l->db || l->dg;
}

/* Layers whose input gradient is their output gradient. */
static bool passes_gradient(const layer *l, net_mode mode)
{
    return l->spec.kind == LAYER_NOISE ||
           (l->spec.kind == LAYER_DROPOUT && mode == NET_EVAL);
}

/* Whether layer i is an activation whose backward the weight-normalised
 * layer before it runs (layer_cache.act_in_backward): it ran inside that
 * layer in the forward, and its derivative needs only its output. */
static bool act_folds_back(const net *n, const tape *t, int i)
{
    layer_kind k = n->layers[i].spec.kind;
    return i > 0 && t->mode == NET_TRAIN &&
           t->cache[i - 1].then == &n->layers[i] &&
           n->layers[i - 1].spec.kind == LAYER_DENSE_WN &&
           (k == LAYER_RELU || k == LAYER_LRELU || k == LAYER_SIGMOID ||
            k == LAYER_TANH);
}

mat net_backward(net *n, tape *t, int from, mat dy, bool param_grads,
                 bool want_dx)
{
    assert(t->n == n && from >= 0 && from < n->spec.n_layers);
    assert(dy.rows == t->rows && dy.cols == n->layers[from].out);
    /* Below the lowest layer with parameters only the input gradient is
     * left to compute: stop there when the caller does not want it. */
    int stop = 0;
    if (!want_dx)
        while (stop <= from && !(param_grads && has_params(&n->layers[stop])))
            stop++;
    mat g = dy;
    int buf = 0; /* the ping-pong buffer the next dx goes to */
    for (int i = from; i >= stop; i--) {
        const layer *l = &n->layers[i];
        mat dx = {0, 0, 0, NULL};
        if (i > stop && passes_gradient(l, t->mode))
            continue; /* g goes on down as it is */
        if (i > stop && act_folds_back(n, t, i)) {
            t->cache[i - 1].act_in_backward = true;
            continue;
        }
        if (i > stop)
            dx = mat_view(t->grad[buf ^= 1], t->rows, l->in);
        else if (want_dx)
            dx = mat_view(t->dinput, t->rows, l->in);
        layer_backward(l, &t->cache[i], layer_input(n, t, i),
                       tape_layer_output(t, i), g, dx, t->mode, param_grads);
        t->cache[i].act_in_backward = false;
        g = dx;
    }
    if (!want_dx)
        return (mat){0, 0, 0, NULL};
    return mat_cols(mat_view(t->dinput, t->rows, n->spec.in + n->spec.cond), 0,
                    n->spec.in);
}

void net_zero_grad(net *n)
{
    memset(n->grad, 0, sizeof(float) * n->n_param);
    memset(n->pending, 0, sizeof(float) * wn_rows(n));
}

void net_settle_grad(net *n)
{
    for (int i = 0; i < n->spec.n_layers; i++)
        if (n->layers[i].spec.kind == LAYER_DENSE_WN)
            dense_wn_settle(&n->layers[i]);
}

void net_params_changed(net *n)
{
    n->norms_ok = false;
}

void net_ensure_norms(net *n)
{
    if (n->norms_ok)
        return;
    for (int i = 0; i < n->spec.n_layers; i++)
        if (n->layers[i].spec.kind == LAYER_DENSE_WN)
            dense_wn_norms(&n->layers[i]);
    n->norms_ok = true;
}

void net_init_data(net *n, tape *t, mat x, mat c, rng *r)
{
    net_ensure_norms(n);
    load_input(n, t, x, c);
    t->rows = x.rows;
    t->mode = NET_TRAIN;
    apply_groups(t, x.rows);
    memcpy(t->act, t->out, sizeof(t->act));
    for (int i = 0; i < n->spec.n_layers; i++) {
        layer *l = &n->layers[i];
        mat in = layer_input(n, t, i);
        if (l->spec.kind == LAYER_DENSE_WN)
            dense_wn_init_data(l, &t->cache[i], in);
        layer_forward(l, &t->cache[i], in, tape_layer_output(t, i), NET_TRAIN,
                      r);
    }
}
