/* layer: the layer kinds a network is built from, with forward and backward
 * passes. A network (net.h) owns the parameters and calls these; a tape
 * owns the activations of one forward pass, so one network can be applied
 * to several batches in one training step and back-propagated through each.
 *
 * Conventions: x is the layer input (rows x in), y its output
 * (rows x out). Backward gets dy, accumulates parameter gradients (+=) when
 * asked, and writes dx unless dx.data is NULL (the caller does not need it).
 * Weight-normalised layers back-propagate only after a training-mode
 * forward (an evaluation pass computes its output in place).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "rng.h"
#include "tensor.h"

typedef enum layer_kind {
    LAYER_DENSE,     /* y = x W^T (+ b) */
    LAYER_DENSE_WN,  /* y = x (g v / |v|)^T + b, weight normalisation per row */
    LAYER_BATCHNORM, /* per-feature batch norm with affine gamma, beta */
    LAYER_RELU,
    LAYER_LRELU, /* slope = param */
    LAYER_SOFTPLUS,
    LAYER_SIGMOID,
    LAYER_TANH,
    LAYER_NOISE,   /* y = x + param * N(0, 1), training only */
    LAYER_DROPOUT, /* inverted dropout with drop probability param */
} layer_kind;

enum {
    LAYER_NO_BIAS = 1,     /* dense: no bias vector */
    LAYER_TRAIN_SCALE = 2, /* dense_wn: g is trained (else fixed state) */
};

typedef struct layer_spec {
    layer_kind kind;
    int out;     /* output width for dense kinds; ignored otherwise */
    int flags;   /* LAYER_NO_BIAS, LAYER_TRAIN_SCALE */
    float param; /* slope, noise std or drop probability */
} layer_spec;

typedef enum net_mode { NET_TRAIN, NET_EVAL } net_mode;

/* A layer inside a network: its shape and borrowed pointers into the
 * network's parameter (p_*), gradient (d_*) and state arenas. Pointers are
 * NULL where the kind has no such tensor. */
typedef struct layer {
    layer_spec spec;
    int in, out;
    float *w, *b, *g;          /* weights (out x in), bias, scale */
    float *dw, *db, *dg;       /* their gradients (same layout) */
    float *run_mean, *run_var; /* batch norm running statistics (state) */
    float *norm; /* dense_wn: |v| of each row, cached by the net */
    float *dk;   /* dense_wn: pending dv_j -= dk_j v_j (see dense.c) */
} layer;

/* Per-forward caches of one layer, sized for the tape's maximum batch. */
typedef struct layer_cache {
    float *a;  /* dense_wn: x v^T; batchnorm: x-hat; dropout: mask */
    float *b;  /* dense_wn: dy * g/|v|, then 2 sums; batchnorm: 2 sums */
    float *v;  /* batchnorm: 1/std per feature */
    float *v2; /* batchnorm: batch mean; dense_wn: g / |v| */
    /* batchnorm: the pass's rows in consecutive groups, each normalised
     * with its own statistics (v and v2 hold one vector per group); no
     * groups means one group of all rows. Set by the tape. */
    const int *groups;
    int n_groups;
    /* The activation layer right after this dense or batch-norm layer,
     * applied to each output row as it is made, while the row is in cache
     * (net_forward then skips that layer, so this layer's output is the
     * activation's: its backward reads only that). NULL otherwise. */
    const struct layer *then;
    /* Set by net_backward for one backward call of a weight-normalised
     * layer: dy is the gradient of `then`'s output, and the layer applies
     * then's derivative itself while it reads dy, in place of a pass of
     * its own (ReLU, leaky ReLU, sigmoid, tanh). */
    bool act_in_backward;
} layer_cache;

#define LAYER_MAX_GROUPS 4

/* Trainable parameter and state float counts of a layer. */
size_t layer_param_count(const layer_spec *s, int in, int out);
size_t layer_state_count(const layer_spec *s, int in, int out);
/* Output width of a layer given its input width. */
int layer_out_width(const layer_spec *s, int in);
/* Floats of cache a, b, v, v2 for batch rows (0 where unused). */
void layer_cache_sizes(const layer *l, int rows, size_t sz[4]);

/* Sets pointers w, b, g, ... given the arenas; returns floats taken. */
void layer_bind(layer *l, float *param, float *grad, float *state);
/* Default initialisation of parameters and state. */
void layer_init(layer *l, rng *r);

void layer_forward(const layer *l, layer_cache *c, mat x, mat y, net_mode mode,
                   rng *r);
void layer_backward(const layer *l, layer_cache *c, mat x, mat y, mat dy,
                    mat dx, net_mode mode, bool param_grads);

/* dense.c */
void dense_forward(const layer *l, layer_cache *c, mat x, mat y, net_mode mode);
void dense_backward(const layer *l, layer_cache *c, mat x, mat y, mat dy,
                    mat dx, bool param_grads);
void dense_init(layer *l, rng *r);
/* l->norm[j] = |v_j| for every row of a weight-normalised layer. */
void dense_wn_norms(const layer *l);
/* Applies the pending part of dv (l->dk) to l->dw and clears it. */
void dense_wn_settle(const layer *l);
/* Data-dependent initialisation of a weight-normalised layer (Salimans and
 * Kingma 2016): given the pre-activation x v^T / |v| of a batch, sets
 * g = 1 / std and b = -mean / std per unit, so outputs start standardised. */
void dense_wn_init_data(layer *l, layer_cache *c, mat x);

/* batchnorm.c */
void batchnorm_forward(const layer *l, layer_cache *c, mat x, mat y,
                       net_mode mode);
void batchnorm_backward(const layer *l, layer_cache *c, mat dy, mat dx,
                        net_mode mode, bool param_grads);

/* act.c: element-wise activations, noise and dropout. */
void act_forward(const layer *l, layer_cache *c, mat x, mat y, net_mode mode,
                 rng *r);
/* Reads only y, the activation's output (see act.c). */
void act_backward(const layer *l, layer_cache *c, mat y, mat dy, mat dx,
                  net_mode mode);
/* Applies activation l (ReLU, leaky ReLU, softplus, sigmoid, tanh) to
 * the n values of y in place. */
void act_row(const layer *l, float *y, int n);
