/* net: a fixed stack of layers with its parameters, gradients, optimiser
 * state and normalisation statistics in four flat arenas, allocated once.
 *
 * A tape holds the activations of one forward pass of a net for up to
 * max_batch rows; a net may have several tapes, so one training step can
 * apply it to several batches and back-propagate through each. Neither
 * net_forward nor net_backward allocates.
 *
 * A conditional net (cond > 0) takes [x ; c] as input: x has `in` columns
 * and c has `cond` columns (a one-hot label or any soft condition).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "layer.h"
#include "rng.h"
#include "tensor.h"

#define NET_MAX_LAYERS 32

typedef struct net_spec {
    int in;   /* width of x */
    int cond; /* width of the condition appended to x; 0 for none */
    int n_layers;
    layer_spec layers[NET_MAX_LAYERS];
} net_spec;

typedef struct adam_opts {
    float lr, beta1, beta2, eps;
} adam_opts;

/* param is written by the optimiser and by checkpoint loads; code that
 * writes it otherwise calls net_params_changed afterwards. grad is whole
 * only after net_settle_grad: weight-normalised layers keep one term of
 * their weights' gradient pending, which the optimiser applies itself. */
typedef struct net {
    net_spec spec;
    layer layers[NET_MAX_LAYERS];
    size_t n_param, n_state;
    float *param, *grad, *adam_m, *adam_v, *state;
    adam_opts adam;
    int64_t adam_step;
    /* |v| of every weight-normalised row (layer.norm points in here),
     * valid while norms_ok: the optimiser computes them as it updates a
     * row, so forward passes do not re-read the weights to get them. */
    float *norms;
    bool norms_ok;
    float *pending; /* layer.dk of every weight-normalised layer */
} net;

typedef struct tape tape;

/* Appends a layer to a spec; returns the spec for chaining. Asserts that
 * NET_MAX_LAYERS is not exceeded (a spec is written by us, not a client). */
net_spec *net_spec_add(net_spec *s, layer_kind kind, int out, int flags,
                       float param);

/* Builds a net and initialises its parameters from r. Caller frees with
 * net_free. NULL on allocation failure or an invalid spec. */
net *net_new(const net_spec *spec, rng *r);
void net_free(net *n);
int net_out_width(const net *n);
/* Width of layer i's output. */
int net_layer_width(const net *n, int i);

/* Activations for up to max_batch rows of n. Caller frees with tape_free;
 * the tape borrows n, which must outlive it. */
tape *tape_new(const net *n, int max_batch);
void tape_free(tape *t);
int tape_max_batch(const tape *t);
/* The tape's input buffer, max_batch rows of in + cond floats, borrowed.
 * A caller may build x in it (for a net without a condition): net_forward
 * then uses it where it is instead of copying it in. */
float *tape_input(tape *t);
/* Splits the rows of the tape's next passes into n consecutive groups of
 * rows[0], rows[1], ... rows (n <= LAYER_MAX_GROUPS; n = 0 for one group
 * of all rows, the default). Batch norm layers normalise each group with
 * its own statistics, so one pass over [a ; b] computes what two passes
 * over a and b would, in larger matrix products. Every other layer works
 * row by row and is unaffected. The groups must add up to the rows of
 * each forward pass while they are set. */
void tape_set_groups(tape *t, const int *rows, int n);

/* Forward pass of x (and condition c when the net has one; pass a mat with
 * data NULL otherwise). rows <= max_batch. r feeds noise and dropout in
 * NET_TRAIN mode (may be NULL in NET_EVAL). Returns the output view,
 * borrowed from the tape until its next forward. A dense or batch-norm
 * layer applies the activation right after it row by row, so its own
 * output is the activation's; in NET_EVAL noise and dropout pass their
 * input through. It writes the net (batch-norm statistics in NET_TRAIN,
 * a stale weight-norm cache in any mode): one thread at a time per net. */
mat net_forward(net *n, tape *t, mat x, mat c, net_mode mode, rng *r);
/* Layer i's output of the last forward (borrowed, as above). */
mat tape_layer_output(const tape *t, int i);

/* Back-propagates dy, the gradient of the loss with respect to the output
 * of layer `from` (n_layers - 1 for the net's output), through layers
 * from..0 of the last forward on t. Adds parameter gradients into n->grad
 * when param_grads; computes the gradient with respect to x when want_dx
 * and returns it (rows x in, borrowed from the tape), else an empty mat. */
mat net_backward(net *n, tape *t, int from, mat dy, bool param_grads,
                 bool want_dx);

void net_zero_grad(net *n);
/* Completes grad: applies the pending terms of weight-normalised layers
 * (see struct net). For code that reads grad; the optimiser needs none. */
void net_settle_grad(net *n);
/* Tells the net its parameters were written from outside (a test, a
 * loader): the cached weight norms are recomputed on the next pass. */
void net_params_changed(net *n);
/* Computes the cached weight norms if they are not valid. */
void net_ensure_norms(net *n);
/* Data-dependent initialisation: a forward pass of x in which every
 * weight-normalised layer sets its g and b from the batch statistics of
 * its input (see dense_wn_init_data). x.rows >= 2. */
void net_init_data(net *n, tape *t, mat x, mat c, rng *r);
