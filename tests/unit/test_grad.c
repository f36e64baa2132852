/* test_grad: every layer's and every loss's backward pass against central
 * finite differences.
 *
 * For a net the test loss is L = sum(Y * R) with a fixed random R, so
 * dL/dY = R. The analytic directional derivative g . d (parameters, then
 * inputs, each along a random direction d) is compared with
 * (L(p + h d) - L(p - h d)) / 2h, L summed in double. With h = 1e-3 and
 * float32 arithmetic the two agree to well under 1% on these sizes, while
 * a wrong sign, a missing term or a transposed product is off by O(1): the
 * tolerance is 2%. Kinked activations are tested on inputs kept 0.1 away
 * from the kink, and noise layers replay the same draws (reseeded rng).
 */
#include <math.h>
#include <stdlib.h>

#include "aral.h"
#include "loss.h"
#include "net.h"
#include "optim.h"
#include "testlib.h"

#define ROWS 6
static double H = 1e-3;     /* step of the central difference */
static double FLOOR = 1e-3; /* below it, errors count absolutely */
static bool INPUTS = true;  /* check the input gradient too */
static int GROUPS[2];       /* batch-norm row groups, {0, 0} for none */
#define TOL 2e-2

static float randn(rng *r)
{
    return rng_normal(r);
}

static void fill(float *p, size_t n, rng *r, float scale)
{
    for (size_t i = 0; i < n; i++)
        p[i] = scale * randn(r);
}

/* Keeps |x| >= 0.1 so a perturbation never crosses a ReLU kink. */
static void away_from_kink(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(p[i]) < 0.1f)
            p[i] = p[i] < 0 ? -0.1f - p[i] : 0.1f + p[i];
}

typedef struct fixture {
    net *n;
    tape *t;
    float *x, *c, *r;
    int in, cond, out;
    net_mode mode;
} fixture;

static double loss_of(fixture *f)
{
    rng noise;
    rng_seed(&noise, 99); /* the same noise and dropout draws every time */
    mat c = {ROWS, f->cond, f->cond, f->cond ? f->c : NULL};
    mat y = net_forward(f->n, f->t, mat_view(f->x, ROWS, f->in), c, f->mode,
                        &noise);
    double s = 0.0;
    for (int i = 0; i < ROWS * f->out; i++)
        s += (double)y.data[i] * f->r[i];
    return s;
}

/* Central difference of L along d applied to the floats at p. */
static double numeric(fixture *f, float *p, const float *d, size_t n)
{
    float *save = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        save[i] = p[i], p[i] = save[i] + (float)H * d[i];
    net_params_changed(f->n); /* p may be the parameters */
    double lp = loss_of(f);
    for (size_t i = 0; i < n; i++)
        p[i] = save[i] - (float)H * d[i];
    net_params_changed(f->n);
    double lm = loss_of(f);
    for (size_t i = 0; i < n; i++)
        p[i] = save[i];
    net_params_changed(f->n);
    free(save);
    return (lp - lm) / (2 * H);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static int close_enough(const char *what, double a, double b)
{
    double err = fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), FLOOR);
    if (err > TOL) {
        fprintf(stderr, "  %s: analytic %.6g numeric %.6g (rel %.3g)\n", what,
                a, b, err);
        return 0;
    }
    return 1;
}

/* Builds the fixture, checks parameter and input gradients. */
static int check_net(net_spec *s, net_mode mode, bool kinked)
{
    rng r;
    rng_seed(&r, 7);
    fixture f = {0};
    f.n = net_new(s, &r);
    CHECK(f.n);
    f.t = tape_new(f.n, ROWS);
    tape_set_groups(f.t, GROUPS, GROUPS[0] ? 2 : 0);
    f.in = s->in, f.cond = s->cond, f.out = net_out_width(f.n), f.mode = mode;
    f.x = malloc(sizeof(float) * ROWS * f.in);
    f.c = malloc(sizeof(float) * ROWS * (f.cond + 1));
    f.r = malloc(sizeof(float) * ROWS * f.out);
    fill(f.x, (size_t)ROWS * f.in, &r, 1.0f);
    fill(f.c, (size_t)ROWS * f.cond, &r, 1.0f);
    fill(f.r, (size_t)ROWS * f.out, &r, 1.0f);
    if (kinked)
        away_from_kink(f.x, (size_t)ROWS * f.in);
    /* Move batch-norm running statistics off (0, 1) so eval mode is a
     * real test of their use. */
    for (size_t i = 0; i < f.n->n_state; i++)
        f.n->state[i] = 0.5f + 0.5f * rng_uniform(&r);
    if (f.n->n_param)
        fill(f.n->param, f.n->n_param, &r, 0.3f);
    net_params_changed(f.n);

    net_zero_grad(f.n);
    loss_of(&f);
    mat dy = mat_view(f.r, ROWS, f.out);
    mat dx = net_backward(f.n, f.t, f.n->spec.n_layers - 1, dy, true, true);
    net_settle_grad(f.n);
    float *dxc = malloc(sizeof(float) * ROWS * f.in);
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < f.in; j++)
            dxc[i * f.in + j] = mat_row(dx, i)[j];

    int ok = 1;
    for (int trial = 0; trial < 3 && ok; trial++) {
        float *d = malloc(sizeof(float) * (f.n->n_param + ROWS * f.in));
        fill(d, f.n->n_param + (size_t)ROWS * f.in, &r, 1.0f);
        if (f.n->n_param)
            ok &= close_enough("params", dot(f.n->grad, d, f.n->n_param),
                               numeric(&f, f.n->param, d, f.n->n_param));
        if (INPUTS)
            ok &= close_enough("inputs", dot(dxc, d, (size_t)ROWS * f.in),
                               numeric(&f, f.x, d, (size_t)ROWS * f.in));
        free(d);
    }
    free(dxc), free(f.x), free(f.c), free(f.r);
    tape_free(f.t);
    net_free(f.n);
    return ok ? 0 : 1;
}

static net_spec one(int in, layer_kind k, int out, int flags, float param)
{
    net_spec s = {.in = in};
    net_spec_add(&s, k, out, flags, param);
    return s;
}

static int t_dense(void)
{
    net_spec s = one(5, LAYER_DENSE, 4, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_dense_nobias(void)
{
    net_spec s = one(5, LAYER_DENSE, 4, LAYER_NO_BIAS, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_dense_wn_fixed_scale(void)
{
    net_spec s = one(5, LAYER_DENSE_WN, 4, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_dense_wn_train_scale(void)
{
    net_spec s = one(5, LAYER_DENSE_WN, 4, LAYER_TRAIN_SCALE, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_batchnorm_train(void)
{
    net_spec s = one(5, LAYER_BATCHNORM, 0, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_batchnorm_eval(void)
{
    net_spec s = one(5, LAYER_BATCHNORM, 0, 0, 0);
    return check_net(&s, NET_EVAL, false);
}

/* Rows 0-1 and 2-5 normalised apart (tape_set_groups). */
static int t_batchnorm_groups(void)
{
    net_spec s = one(5, LAYER_BATCHNORM, 0, 0, 0);
    GROUPS[0] = 2, GROUPS[1] = ROWS - 2;
    int rc = check_net(&s, NET_TRAIN, false);
    GROUPS[0] = GROUPS[1] = 0;
    return rc;
}

/* A grouped pass over [a ; b] computes what a pass over a and then one
 * over b compute: outputs, parameter and input gradients, running
 * statistics. */
static int t_batchnorm_groups_match_passes(void)
{
    rng r;
    rng_seed(&r, 3);
    net_spec s = one(5, LAYER_BATCHNORM, 0, 0, 0);
    net *a = net_new(&s, &r), *b = net_new(&s, &r);
    tape *ta = tape_new(a, ROWS), *tb = tape_new(b, ROWS);
    float x[ROWS * 5], dy[ROWS * 5], dx[ROWS * 5];
    fill(x, ROWS * 5, &r, 2.0f), fill(dy, ROWS * 5, &r, 1.0f);
    int groups[2] = {2, ROWS - 2};
    tape_set_groups(ta, groups, 2);
    mat ya = net_forward(a, ta, mat_view(x, ROWS, 5), (mat){0}, NET_TRAIN, &r);
    mat dxa = net_backward(a, ta, 0, mat_view(dy, ROWS, 5), true, true);
    int ok = 1, off = 0;
    for (int g = 0; g < 2; g++) {
        int n = groups[g];
        mat yb = net_forward(b, tb, mat_view(x + off * 5, n, 5), (mat){0},
                             NET_TRAIN, &r);
        mat dxb =
            net_backward(b, tb, 0, mat_view(dy + off * 5, n, 5), true, true);
        for (int i = 0; i < n * 5; i++) {
            ok &= fabsf(ya.data[off * 5 + i] - yb.data[i]) < 1e-5f;
            dx[off * 5 + i] = dxb.data[i];
        }
        off += n;
    }
    for (int i = 0; i < ROWS * 5; i++)
        ok &= fabsf(dxa.data[i] - dx[i]) < 1e-5f;
    net_settle_grad(a), net_settle_grad(b);
    for (size_t i = 0; i < a->n_param; i++)
        ok &= fabsf(a->grad[i] - b->grad[i]) < 1e-5f;
    for (size_t i = 0; i < a->n_state; i++)
        ok &= fabsf(a->state[i] - b->state[i]) < 1e-6f;
    tape_free(ta), tape_free(tb), net_free(a), net_free(b);
    CHECK(ok);
    return 0;
}

static int t_relu(void)
{
    net_spec s = one(7, LAYER_RELU, 0, 0, 0);
    return check_net(&s, NET_TRAIN, true);
}

static int t_lrelu(void)
{
    net_spec s = one(7, LAYER_LRELU, 0, 0, 0.2f);
    return check_net(&s, NET_TRAIN, true);
}

static int t_softplus(void)
{
    net_spec s = one(7, LAYER_SOFTPLUS, 0, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_sigmoid(void)
{
    net_spec s = one(7, LAYER_SIGMOID, 0, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_tanh(void)
{
    net_spec s = one(7, LAYER_TANH, 0, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

static int t_noise(void)
{
    net_spec s = one(7, LAYER_NOISE, 0, 0, 0.5f);
    return check_net(&s, NET_TRAIN, false);
}

static int t_dropout(void)
{
    net_spec s = one(7, LAYER_DROPOUT, 0, 0, 0.3f);
    return check_net(&s, NET_TRAIN, false);
}

/* A conditional stack shaped like ARAL's generator: [x ; c] -> dense
 * without bias -> batch norm -> softplus -> weight-normed dense -> sigmoid. */
static int t_conditional_stack(void)
{
    net_spec s = {.in = 6, .cond = 3};
    net_spec_add(&s, LAYER_DENSE, 8, LAYER_NO_BIAS, 0);
    net_spec_add(&s, LAYER_BATCHNORM, 0, 0, 0);
    net_spec_add(&s, LAYER_SOFTPLUS, 0, 0, 0);
    net_spec_add(&s, LAYER_DENSE_WN, 5, LAYER_TRAIN_SCALE, 0);
    net_spec_add(&s, LAYER_SIGMOID, 0, 0, 0);
    return check_net(&s, NET_TRAIN, false);
}

/* A stack shaped like ARAL's discriminator: noise, weight norm, ReLU. */
static int t_discriminator_stack(void)
{
    net_spec s = {.in = 6};
    net_spec_add(&s, LAYER_NOISE, 0, 0, 0.3f);
    net_spec_add(&s, LAYER_DENSE_WN, 8, 0, 0);
    net_spec_add(&s, LAYER_TANH, 0, 0, 0);
    net_spec_add(&s, LAYER_NOISE, 0, 0, 0.5f);
    net_spec_add(&s, LAYER_DENSE_WN, 4, LAYER_TRAIN_SCALE, 0);
    return check_net(&s, NET_TRAIN, false);
}

/* Weight norm then leaky ReLU: the activation's backward runs inside the
 * weight-norm layer's (tanh above, ReLU and sigmoid in the ARAL nets). */
static int t_wn_lrelu_stack(void)
{
    net_spec s = {.in = 6};
    net_spec_add(&s, LAYER_DENSE_WN, 8, 0, 0);
    net_spec_add(&s, LAYER_LRELU, 0, 0, 0.2f);
    net_spec_add(&s, LAYER_DENSE_WN, 4, LAYER_TRAIN_SCALE, 0);
    return check_net(&s, NET_TRAIN, false);
}

/* The four ARAL networks, whole, for 12-value samples and 3 classes. */
static int check_aral_net(char which)
{
    aral *m = aral_new(12, 3, 1);
    CHECK(m);
    net_spec s = aral_net(m, which)->spec;
    aral_free(m);
    /* D has ~13k ReLU units over the batch: a smaller step keeps the
     * parameter perturbation from crossing their kinks. Its input
     * gradient is tiny (~0.01) and moving every input moves every unit,
     * so kink crossings spoil its central difference (3-9% off, either
     * way, across trials); D's input gradient is the first layer's dx,
     * checked on its own in "grad dense weight-norm ...". */
    H = which == 'D' ? 1e-4 : 1e-3;
    INPUTS = which != 'D';
    /* Whole nets in float32 carry a few 1e-4 of noise in a derivative:
     * G's input gradient (~0.006) missed by 2.5% in the ASan build. Below
     * 0.03, errors count absolutely; a sign error is still caught. */
    FLOOR = 3e-2;
    int rc = check_net(&s, NET_TRAIN, false);
    H = 1e-3, INPUTS = true, FLOOR = 1e-3;
    return rc;
}

static int t_aral_d(void)
{
    return check_aral_net('D');
}
static int t_aral_g(void)
{
    return check_aral_net('G');
}
static int t_aral_e(void)
{
    return check_aral_net('E');
}
static int t_aral_s(void)
{
    return check_aral_net('S');
}

/* ---- losses: f(input) with gradient; directional check on the input. */

typedef double (*loss_fn)(mat in, mat grad, float weight, void *ctx);

static int check_loss(loss_fn fn, int rows, int cols, void *ctx, float lo,
                      float hi)
{
    rng r;
    rng_seed(&r, 11);
    size_t n = (size_t)rows * cols;
    float *x = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    float *d = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(&r);
    fill(d, n, &r, 1.0f);
    const float w = 1.7f; /* a weight != 1 checks that it is applied */
    fn(mat_view(x, rows, cols), mat_view(g, rows, cols), w, ctx);
    double analytic = dot(g, d, n);
    for (size_t i = 0; i < n; i++)
        x[i] += (float)H * d[i];
    double lp = fn(mat_view(x, rows, cols), (mat){0}, w, ctx);
    for (size_t i = 0; i < n; i++)
        x[i] -= 2 * (float)H * d[i];
    double lm = fn(mat_view(x, rows, cols), (mat){0}, w, ctx);
    int ok = close_enough("loss", analytic, w * (lp - lm) / (2 * H));
    free(x), free(g), free(d);
    return ok ? 0 : 1;
}

static double ce(mat in, mat g, float w, void *ctx)
{
    return loss_softmax_ce(in, ctx, g, w);
}

static double gan_real(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_gan_real(in, g, w);
}

static double gan_fake(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_gan_fake(in, g, w);
}

static double bce_prob1(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_bce_prob(in, 1.0f, g, w);
}

static double bce_prob0(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_bce_prob(in, 0.0f, g, w);
}

static double bce_logit1(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_bce_logits(in, 1.0f, g, w);
}

static double bce_logit0(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    return loss_bce_logits(in, 0.0f, g, w);
}

static double mse(mat in, mat g, float w, void *ctx)
{
    return loss_mse(in, mat_view(ctx, in.rows, in.cols), g, w);
}

/* KL over [mu | lv] packed in one matrix of 2k columns. */
static double kl(mat in, mat g, float w, void *ctx)
{
    (void)ctx;
    int k = in.cols / 2;
    mat gm = g.data ? mat_cols(g, 0, k) : g,
        gl = g.data ? mat_cols(g, k, k) : g;
    return loss_gauss_kl(mat_cols(in, 0, k), mat_cols(in, k, k), gm, gl, w);
}

/* Feature matching of the first 3 rows against the last 4. */
static double fm(mat in, mat g, float w, void *ctx)
{
    mat a = mat_rows(in, 0, 3), b = mat_rows(in, 3, 4);
    mat ga = g.data ? mat_rows(g, 0, 3) : g,
        gb = g.data ? mat_rows(g, 3, 4) : g;
    return loss_feature_match(a, b, ga, gb, w, ctx);
}

static int t_loss_ce(void)
{
    int labels[ROWS] = {0, 3, 2, 1, 3, 0};
    return check_loss(ce, ROWS, 4, labels, -3, 3);
}

static int t_loss_gan_real(void)
{
    return check_loss(gan_real, ROWS, 4, NULL, -3, 3);
}

static int t_loss_gan_fake(void)
{
    return check_loss(gan_fake, ROWS, 4, NULL, -3, 3);
}

static int t_loss_bce_prob(void)
{
    return check_loss(bce_prob1, ROWS, 1, NULL, 0.05f, 0.95f) |
           check_loss(bce_prob0, ROWS, 1, NULL, 0.05f, 0.95f);
}

static int t_loss_bce_logits(void)
{
    return check_loss(bce_logit1, ROWS, 1, NULL, -4, 4) |
           check_loss(bce_logit0, ROWS, 1, NULL, -4, 4);
}

static int t_loss_mse(void)
{
    float target[ROWS * 5];
    rng r;
    rng_seed(&r, 5);
    fill(target, ROWS * 5, &r, 1.0f);
    return check_loss(mse, ROWS, 5, target, -1, 1);
}

static int t_loss_kl(void)
{
    return check_loss(kl, ROWS, 8, NULL, -1.5f, 1.5f);
}

static int t_loss_feature_match(void)
{
    float scratch[2 * 5];
    return check_loss(fm, 7, 5, scratch, -1, 1);
}

/* The values themselves, against hand-computed cases. */
static int t_loss_values(void)
{
    float lg[2] = {0.0f, 0.0f};
    int lab[1] = {1};
    mat m = mat_view(lg, 1, 2);
    CHECK(fabs(loss_softmax_ce(m, lab, (mat){0}, 1) - log(2.0)) < 1e-6);
    /* lse = log 2: real = -log(2/3), fake = log 3. */
    CHECK(fabs(loss_gan_real(m, (mat){0}, 1) - log(1.5)) < 1e-6);
    CHECK(fabs(loss_gan_fake(m, (mat){0}, 1) - log(3.0)) < 1e-6);
    float p[1] = {0.25f};
    CHECK(fabs(loss_bce_prob(mat_view(p, 1, 1), 1, (mat){0}, 1) - log(4.0)) <
          1e-6);
    float z[2] = {0.0f, 0.0f};
    CHECK(fabs(loss_gauss_kl(mat_view(z, 1, 1), mat_view(z + 1, 1, 1), (mat){0},
                             (mat){0}, 1)) < 1e-9);
    return 0;
}

/* param_grads = false: gradients flow to the input, parameters untouched. */
static int t_frozen_net(void)
{
    rng r;
    rng_seed(&r, 3);
    net_spec s = one(4, LAYER_DENSE_WN, 3, LAYER_TRAIN_SCALE, 0);
    net *n = net_new(&s, &r);
    tape *t = tape_new(n, 2);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dy[6] = {1, 1, 1, 1, 1, 1};
    net_zero_grad(n);
    net_forward(n, t, mat_view(x, 2, 4), (mat){0}, NET_TRAIN, &r);
    mat dx = net_backward(n, t, 0, mat_view(dy, 2, 3), false, true);
    int grads_zero = 1, dx_nonzero = 0;
    for (size_t i = 0; i < n->n_param; i++)
        grads_zero &= n->grad[i] == 0.0f;
    for (int i = 0; i < 4; i++)
        dx_nonzero |= mat_row(dx, 0)[i] != 0.0f;
    tape_free(t);
    net_free(n);
    CHECK(grads_zero && dx_nonzero);
    return 0;
}

/* Data-dependent init standardises a weight-normed layer's outputs. */
static int t_wn_data_init(void)
{
    rng r;
    rng_seed(&r, 4);
    net_spec s = one(10, LAYER_DENSE_WN, 6, 0, 0);
    net *n = net_new(&s, &r);
    tape *t = tape_new(n, 64);
    float x[640];
    for (int i = 0; i < 640; i++)
        x[i] = 3.0f + 2.0f * rng_normal(&r);
    net_init_data(n, t, mat_view(x, 64, 10), (mat){0}, &r);
    mat y = net_forward(n, t, mat_view(x, 64, 10), (mat){0}, NET_EVAL, NULL);
    for (int j = 0; j < 6; j++) {
        double s1 = 0, s2 = 0;
        for (int i = 0; i < 64; i++)
            s1 += mat_row(y, i)[j], s2 += mat_row(y, i)[j] * mat_row(y, i)[j];
        double mean = s1 / 64, var = s2 / 64 - mean * mean;
        CHECK(fabs(mean) < 1e-3 && fabs(var - 1.0) < 1e-2);
    }
    tape_free(t);
    net_free(n);
    return 0;
}

static const test_case cases[] = {
    {"grad dense", t_dense},
    {"grad dense without bias", t_dense_nobias},
    {"grad dense weight-norm fixed scale", t_dense_wn_fixed_scale},
    {"grad dense weight-norm trained scale", t_dense_wn_train_scale},
    {"grad batchnorm train", t_batchnorm_train},
    {"grad batchnorm eval", t_batchnorm_eval},
    {"grad batchnorm, two row groups", t_batchnorm_groups},
    {"batchnorm row groups match separate passes",
     t_batchnorm_groups_match_passes},
    {"grad relu", t_relu},
    {"grad leaky relu", t_lrelu},
    {"grad softplus", t_softplus},
    {"grad sigmoid", t_sigmoid},
    {"grad tanh", t_tanh},
    {"grad gaussian noise", t_noise},
    {"grad dropout", t_dropout},
    {"grad conditional generator stack", t_conditional_stack},
    {"grad discriminator stack", t_discriminator_stack},
    {"grad weight norm then leaky relu", t_wn_lrelu_stack},
    {"grad aral D (discriminator/classifier), whole", t_aral_d},
    {"grad aral G (generator), whole", t_aral_g},
    {"grad aral E (encoder), whole", t_aral_e},
    {"grad aral S (sampler), whole", t_aral_s},
    {"grad loss softmax cross-entropy", t_loss_ce},
    {"grad loss gan real (lse, softplus)", t_loss_gan_real},
    {"grad loss gan fake", t_loss_gan_fake},
    {"grad loss bce on probabilities", t_loss_bce_prob},
    {"grad loss bce on logits", t_loss_bce_logits},
    {"grad loss mse", t_loss_mse},
    {"grad loss gaussian kl", t_loss_kl},
    {"grad loss feature matching", t_loss_feature_match},
    {"loss values by hand", t_loss_values},
    {"frozen net passes gradient, keeps params", t_frozen_net},
    {"weight-norm data-dependent init", t_wn_data_init},
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
