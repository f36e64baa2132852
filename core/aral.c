/* aral: the model, one training iteration in three steps, inference and
 * checkpoints. The step functions follow ref_aral.py's train_step line
 * for line; the comments name the reference's variables. */
#include "aral.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "err.h"
#include "loss.h"
#include "optim.h"

#define NOISE_IN 0.3f
#define NOISE_HIDDEN 0.5f
#define TRD_LAMBDA 0.001f /* weight of the VAE loss (reconstruction + KL) */
#define ADV_LAMBDA 0.001f /* weight of the sampler's BCE terms */

/* An endless stream of shuffled batches over a list of indices, a new
 * permutation every pass (the reference's Stream). */
typedef struct stream {
    const int *items;
    uint32_t *perm;
    int n, pos;
} stream;

/* aral_last_fit before any training, and after one that did not end. */
static const aral_fit NO_FIT = {-1, -1, false};

struct aral {
    int dim, k, d_feat;
    rng r;
    net *d, *g, *e, *s;
    /* Training tapes. Batches that the reference runs through a net one
     * after another share one pass where the math allows, for larger and
     * faster matrix products: D has no batch norm, and E and G keep each
     * batch's statistics apart with tape groups (tape_set_groups).
     * td[0]: D on up to 3 batches, td[1]: D on one; tg[0]: G on one,
     * tg[1]: G on [random ; reconstruction]; te: E on [labeled ;
     * unlabeled]; ts: S on [mu_l ; mu_u]. */
    tape *td[2], *tg[2], *te, *ts;
    tape *id, *ie, *is; /* inference, ARAL_CHUNK rows */
    bool joint;         /* one batch-norm group for E's two batches */
    /* E's batch [xl ; xu], gathered in place, its condition [true labels ;
     * pseudo-labels] and its output gradient. */
    float *xj, *ohj, *gj;
    float *xd, *gd;   /* D's passes: up to 3 batches, gradient */
    float *mus, *gms; /* S: [mu_l ; mu_u] and its gradient */
    /* batch buffers, ARAL_BATCH rows each unless said */
    float *z, *eps;
    float *oh_g;  /* G's condition, 2 batches */
    float *g_big; /* G's output gradient, 2 batches */
    float *g_out, *g_e, *g_e2, *fm_scratch;
    int *yl, *yg, *pseudo;
    /* inference buffers, ARAL_CHUNK rows */
    float *cx, *coh;
    int *cpseudo;
    stream lab, unl, unl2;
    aral_losses last;
    aral_training opt;
    float rate;      /* this iteration's share of each net's base rate */
    float *ema;      /* D's running average (opt.ema_span > 0), n_param */
    float ema_decay; /* this round's, from the span and its iterations */
    float *last_d;   /* D's last step, kept while the average is judged */
    aral_fit fit;    /* how the last round left D (aral_last_fit) */
    int *by_class, class_start[513]; /* labeled positions grouped by class */
};

/* ---- the networks (ARAL.md, "Networks"). */

#define D_FEATURES 250 /* D's last hidden layer: feature matching, select.c */

static net *make_d(int dim, int k, rng *r, int *feat)
{
    static const int hidden[] = {1000, 500, 250, 250, D_FEATURES};
    net_spec s = {.in = dim};
    for (int i = 0; i < 5; i++) {
        net_spec_add(&s, LAYER_NOISE, 0, 0, i ? NOISE_HIDDEN : NOISE_IN);
        net_spec_add(&s, LAYER_DENSE_WN, hidden[i], 0, 0);
        net_spec_add(&s, LAYER_RELU, 0, 0, 0);
    }
    *feat = s.n_layers - 1; /* the 250-wide features for feature matching */
    net_spec_add(&s, LAYER_NOISE, 0, 0, NOISE_HIDDEN);
    net_spec_add(&s, LAYER_DENSE_WN, k, LAYER_TRAIN_SCALE, 0);
    return net_new(&s, r);
}

/* G and E: [input ; one-hot] -> 500 -> 500 -> out, dense without bias,
 * batch norm and softplus inside, weight-normed output. */
static net *make_ge(int in, int k, int out, bool sigmoid, rng *r)
{
    net_spec s = {.in = in, .cond = k};
    for (int i = 0; i < 2; i++) {
        net_spec_add(&s, LAYER_DENSE, 500, LAYER_NO_BIAS, 0);
        net_spec_add(&s, LAYER_BATCHNORM, 0, 0, 0);
        net_spec_add(&s, LAYER_SOFTPLUS, 0, 0, 0);
    }
    net_spec_add(&s, LAYER_DENSE_WN, out, LAYER_TRAIN_SCALE, 0);
    if (sigmoid)
        net_spec_add(&s, LAYER_SIGMOID, 0, 0, 0);
    return net_new(&s, r);
}

static net *make_s(rng *r)
{
    net_spec s = {.in = ARAL_LATENT};
    for (int i = 0; i < 4; i++) {
        net_spec_add(&s, LAYER_DENSE, 512, 0, 0);
        net_spec_add(&s, LAYER_RELU, 0, 0, 0);
    }
    net_spec_add(&s, LAYER_DENSE, 1, 0, 0);
    net_spec_add(&s, LAYER_SIGMOID, 0, 0, 0);
    return net_new(&s, r);
}

static void set_adam(net *n, float lr, float b1, float b2)
{
    n->adam = (adam_opts){lr, b1, b2, 1e-8f};
}

/* ---- allocation. */

static bool alloc_buffers(aral *m)
{
    size_t b = ARAL_BATCH, c = ARAL_CHUNK, dim = (size_t)m->dim;
    size_t k = (size_t)m->k, lat = ARAL_LATENT;
    float **l[] = {&m->z, &m->eps, &m->g_e, &m->g_e2};
    for (size_t i = 0; i < 4; i++)
        if (!(*l[i] = tensor_alloc(b * 2 * lat)))
            return false;
    m->g_big = tensor_alloc(2 * b * dim);
    m->oh_g = tensor_alloc(2 * b * k), m->g_out = tensor_alloc(b * (k + 512));
    m->fm_scratch = tensor_alloc(2 * 512);
    m->cx = tape_input(m->id), m->coh = tensor_alloc(c * k);
    m->xj = tensor_alloc(2 * b * dim), m->ohj = tensor_alloc(2 * b * k);
    /* D's batches and scoring chunks are gathered straight into its tape
     * inputs, which net_forward then reads in place. */
    m->xd = tape_input(m->td[0]), m->gd = tensor_alloc(3 * b * k);
    m->mus = tensor_alloc(2 * b * lat), m->gms = tensor_alloc(2 * b);
    m->gj = tensor_alloc(2 * b * 2 * lat);
    m->yl = calloc(b, sizeof(int)), m->yg = calloc(b, sizeof(int));
    m->pseudo = calloc(b, sizeof(int)), m->cpseudo = calloc(c, sizeof(int));
    return m->g_big && m->xd && m->gd && m->mus && m->gms && m->xj && m->ohj &&
           m->gj && m->oh_g && m->g_out && m->fm_scratch && m->cx && m->coh &&
           m->yl && m->yg && m->pseudo && m->cpseudo;
}

static bool alloc_tapes(aral *m)
{
    for (int i = 0; i < 2; i++)
        if (!(m->td[i] = tape_new(m->d, (i ? 1 : 3) * ARAL_BATCH)) ||
            !(m->tg[i] = tape_new(m->g, (i ? 2 : 1) * ARAL_BATCH)))
            return false;
    if (!(m->te = tape_new(m->e, 2 * ARAL_BATCH)) ||
        !(m->ts = tape_new(m->s, 2 * ARAL_BATCH)))
        return false;
    m->id = tape_new(m->d, ARAL_CHUNK);
    m->ie = tape_new(m->e, ARAL_CHUNK);
    m->is = tape_new(m->s, ARAL_CHUNK);
    return m->id && m->ie && m->is;
}

aral *aral_new(int dim, int classes, uint64_t seed)
{
    if (dim < 1 || dim > (1 << 20) || classes < 2 || classes > 512)
        return NULL;
    aral *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->dim = dim, m->k = classes;
    m->fit = NO_FIT;
    rng_seed(&m->r, seed);
    m->d = make_d(dim, classes, &m->r, &m->d_feat);
    m->g = make_ge(ARAL_LATENT, classes, dim, true, &m->r);
    m->e = make_ge(dim, classes, 2 * ARAL_LATENT, false, &m->r);
    m->s = make_s(&m->r);
    if (!m->d || !m->g || !m->e || !m->s || !alloc_tapes(m) ||
        !alloc_buffers(m)) {
        aral_free(m);
        return NULL;
    }
    set_adam(m->d, 3e-3f, 0.5f, 0.9999f);
    set_adam(m->g, 1e-3f, 0.0f, 0.9999f);
    set_adam(m->e, 1e-3f, 0.0f, 0.9999f);
    set_adam(m->s, 3e-3f, 0.5f, 0.9999f);
    return m;
}

void aral_free(aral *m)
{
    if (!m)
        return;
    tape *tapes[] = {m->td[0], m->td[1], m->tg[0], m->tg[1], m->te,
                     m->ts,    m->id,    m->ie,    m->is};
    for (size_t i = 0; i < sizeof(tapes) / sizeof(*tapes); i++)
        tape_free(tapes[i]);
    net_free(m->d), net_free(m->g), net_free(m->e), net_free(m->s);
    float *f[] = {m->g_big, m->z,          m->eps, m->g_e, m->g_e2,  m->oh_g,
                  m->g_out, m->fm_scratch, m->coh, m->xj,  m->ohj,   m->gj,
                  m->gd,    m->mus,        m->gms, m->ema, m->last_d};
    for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++)
        tensor_free(f[i]);
    free(m->yl), free(m->yg), free(m->pseudo), free(m->cpseudo);
    free(m);
}

int aral_dim(const aral *m)
{
    return m->dim;
}

int aral_classes(const aral *m)
{
    return m->k;
}

net *aral_net(aral *m, char which)
{
    switch (which) {
    case 'D':
        return m->d;
    case 'G':
        return m->g;
    case 'E':
        return m->e;
    case 'S':
        return m->s;
    default:
        return NULL;
    }
}

/* ---- data. */

void aral_data_row(const aral_data *x, int row, float *out)
{
    if (x->u8) {
        const uint8_t *p = x->u8 + (size_t)row * x->dim;
        for (int j = 0; j < x->dim; j++)
            out[j] = p[j] * (1.0f / 255.0f);
    } else {
        memcpy(out, x->f32 + (size_t)row * x->dim, sizeof(float) * x->dim);
    }
}

static void prefetch_row(const aral_data *x, int row)
{
    size_t size = x->u8 ? 1 : sizeof(float);
    const char *p = x->u8 ? (const char *)x->u8 : (const char *)x->f32;
    p += (size_t)row * x->dim * size;
    for (size_t at = 0; at < (size_t)x->dim * size; at += 64)
        __builtin_prefetch(p + at);
}

static int stream_init(stream *s, const int *items, int n)
{
    s->items = items, s->n = n, s->pos = n; /* shuffled on first use */
    s->perm = malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    return s->perm ? 0 : ARAL_ENOMEM;
}

static void stream_fini(stream *s)
{
    free(s->perm);
    s->perm = NULL;
}

/* The next batch of up to ARAL_BATCH positions in the stream's list: what
 * is left of the current permutation, as the reference's Stream.next(). */
static int stream_next(stream *s, rng *r, int *out)
{
    if (s->pos >= s->n) {
        rng_permutation(r, s->perm, (uint32_t)s->n);
        s->pos = 0;
    }
    int got = s->n - s->pos < ARAL_BATCH ? s->n - s->pos : ARAL_BATCH;
    for (int i = 0; i < got; i++)
        out[i] = (int)s->perm[s->pos + i];
    s->pos += got;
    return got;
}

/* Fills buf with a batch from stream s; with labels != NULL the stream is
 * the labeled one and labels[] gets theirs. */
/* A labeled batch of the stream's size, each row a uniform class among
 * those labeled, then a uniform member of it (with replacement). */
static int balanced_next(aral *m, stream *s, int *out)
{
    int n = s->n < ARAL_BATCH ? s->n : ARAL_BATCH, present[512], np = 0;
    for (int c = 0; c < m->k; c++)
        if (m->class_start[c + 1] > m->class_start[c])
            present[np++] = c;
    for (int i = 0; i < n; i++) {
        int c = present[rng_below(&m->r, (uint32_t)np)];
        int size = m->class_start[c + 1] - m->class_start[c];
        out[i] = m->by_class[m->class_start[c] +
                             (int)rng_below(&m->r, (uint32_t)size)];
    }
    return n;
}

static int take_batch(aral *m, stream *s, const aral_set *set, float *buf,
                      int *labels)
{
    int pos[ARAL_BATCH];
    int n = labels && m->opt.balanced ? balanced_next(m, s, pos)
                                      : stream_next(s, &m->r, pos);
    /* The rows are scattered over a pool larger than the caches: ask for
     * all of them first so their misses overlap instead of queueing. */
    for (int i = 0; i < n; i++)
        prefetch_row(&set->x, s->items[pos[i]]);
    for (int i = 0; i < n; i++) {
        aral_data_row(&set->x, s->items[pos[i]], buf + (size_t)i * m->dim);
        if (labels)
            labels[i] = set->labels[pos[i]];
    }
    return n;
}

/* z ~ U[0,1)^latent and random classes, one-hot: G's input for the GAN. */
static void random_condition(aral *m, int n)
{
    for (int i = 0; i < n * ARAL_LATENT; i++)
        m->z[i] = rng_uniform(&m->r);
    for (int i = 0; i < n; i++)
        m->yg[i] = (int)rng_below(&m->r, (uint32_t)m->k);
    mat_one_hot(mat_view(m->oh_g, n, m->k), m->yg);
}

/* One-hot of each row's arg max of D's logits into oh: the pseudo-label. */
static void pseudo_label(aral *m, mat logits, float *oh)
{
    mat_argmax_rows(logits, m->pseudo);
    mat_one_hot(mat_view(oh, logits.rows, m->k), m->pseudo);
}

static mat rows_of(float *p, int rows, int cols)
{
    return mat_view(p, rows, cols);
}

/* (1) D: CE on labeled + semi-supervised GAN on unlabeled and generated.
 * The three batches go through D in one pass of up to 300 rows: D has no
 * batch norm, so this is the reference's math (three passes) with larger
 * and faster matrix products. */
static void step_d(aral *m, const aral_set *set)
{
    int last = m->d->spec.n_layers - 1, k = m->k, dim = m->dim;
    int nl = take_batch(m, &m->lab, set, m->xd, m->yl);
    int nu = take_batch(m, &m->unl, set, m->xd + (size_t)nl * dim, NULL);
    random_condition(m, nu);
    mat xg = net_forward(m->g, m->tg[0], rows_of(m->z, nu, ARAL_LATENT),
                         rows_of(m->oh_g, nu, k), NET_TRAIN, &m->r);
    mat_copy(rows_of(m->xd + (size_t)(nl + nu) * dim, nu, dim), xg);
    int n = nl + 2 * nu;
    mat out = net_forward(m->d, m->td[0], rows_of(m->xd, n, dim), (mat){0},
                          NET_TRAIN, &m->r);
    mat g = rows_of(m->gd, n, k);
    double ce =
        loss_softmax_ce(mat_rows(out, 0, nl), m->yl, mat_rows(g, 0, nl), 1.0f);
    double lu = loss_gan_real(mat_rows(out, nl, nu), mat_rows(g, nl, nu), 0.5f);
    double lg = loss_gan_fake(mat_rows(out, nl + nu, nu),
                              mat_rows(g, nl + nu, nu), 0.5f);
    net_backward(m->d, m->td[0], last, g, true, false);
    optim_adam_step(m->d, m->rate * m->d->adam.lr);
    m->last.d_class = (float)ce;
    m->last.d = (float)(ce + 0.5 * lu + 0.5 * lg);
}

/* z = mu + exp(lv / 2) * eps into zu (eps kept for the backward). */
static void reparameterise(aral *m, mat mu, mat lv, float *zu)
{
    rng_normal_fill(&m->r, m->eps, (size_t)mu.rows * ARAL_LATENT);
    for (int i = 0; i < mu.rows; i++) {
        float *z = zu + (size_t)i * ARAL_LATENT;
        const float *e = m->eps + (size_t)i * ARAL_LATENT;
        for (int j = 0; j < ARAL_LATENT; j++)
            z[j] = mat_row(mu, i)[j] + expf(0.5f * mat_row(lv, i)[j]) * e[j];
    }
}

/* Adds dz (the reconstruction's gradient w.r.t. z) into E's output
 * gradient [dmu | dlv]: dmu += dz, dlv += dz * eps * exp(lv / 2) / 2. */
static void add_dz(aral *m, mat dz, mat lv, float *ge)
{
    for (int i = 0; i < dz.rows; i++) {
        float *gm = ge + (size_t)i * 2 * ARAL_LATENT, *gl = gm + ARAL_LATENT;
        const float *e = m->eps + (size_t)i * ARAL_LATENT;
        for (int j = 0; j < ARAL_LATENT; j++) {
            float d = mat_row(dz, i)[j];
            gm[j] += d;
            gl[j] += d * e[j] * 0.5f * expf(0.5f * mat_row(lv, i)[j]);
        }
    }
}

/* S on [mu_l ; mu_u] in one pass (S has no batch norm): BCE of the
 * labeled rows against 1 and of the unlabeled ones against target_u.
 * With params, S's gradients accumulate; with gl/gu, the gradient with
 * respect to mu is added into the mu half of those E-output gradients. */
static double sampler_pair(aral *m, mat mu_l, mat mu_u, float target_u,
                           bool params, mat gl, mat gu)
{
    int nl = mu_l.rows, nu = mu_u.rows, last = m->s->spec.n_layers - 1;
    mat mus = rows_of(m->mus, nl + nu, ARAL_LATENT);
    mat_copy(mat_rows(mus, 0, nl), mu_l);
    mat_copy(mat_rows(mus, nl, nu), mu_u);
    mat p = net_forward(m->s, m->ts, mus, (mat){0}, NET_TRAIN, &m->r);
    mat g = rows_of(m->gms, nl + nu, 1);
    double l = loss_bce_prob(mat_rows(p, 0, nl), 1.0f, mat_rows(g, 0, nl),
                             ADV_LAMBDA) +
               loss_bce_prob(mat_rows(p, nl, nu), target_u, mat_rows(g, nl, nu),
                             ADV_LAMBDA);
    mat dmu = net_backward(m->s, m->ts, last, g, params, gl.data != NULL);
    if (gl.data) {
        mat_axpy(mat_cols(gl, 0, ARAL_LATENT), 1.0f, mat_rows(dmu, 0, nl));
        mat_axpy(mat_cols(gu, 0, ARAL_LATENT), 1.0f, mat_rows(dmu, nl, nu));
    }
    return l;
}

/* E on its batch in xj and ohj (see take_pair) in one pass. Batch norm
 * treats the labeled and unlabeled rows apart, as the reference's two
 * passes do, unless joint (aral_set_joint_encoding). */
static void encode(aral *m, int nl, int nu, mat *el, mat *eu)
{
    int groups[2] = {nl, nu};
    tape_set_groups(m->te, groups, m->joint ? 0 : 2);
    mat e = net_forward(m->e, m->te, rows_of(m->xj, nl + nu, m->dim),
                        rows_of(m->ohj, nl + nu, m->k), NET_TRAIN, &m->r);
    *el = mat_rows(e, 0, nl);
    *eu = mat_rows(e, nl, nu);
}

/* Back-propagates E's output gradients of both batches. */
static void encode_backward(aral *m, mat gel, mat geu)
{
    mat g = rows_of(m->gj, gel.rows + geu.rows, 2 * ARAL_LATENT);
    mat_copy(mat_rows(g, 0, gel.rows), gel);
    mat_copy(mat_rows(g, gel.rows, geu.rows), geu);
    net_backward(m->e, m->te, m->e->spec.n_layers - 1, g, true, false);
}

void aral_set_joint_encoding(aral *m, bool on)
{
    m->joint = on;
}

/* Fresh batches for E, gathered into xj: nl labeled rows (labels in yl,
 * one-hot in ohj) and below them nu unlabeled rows, which are also copied
 * into xd at row `at` for D's pseudo-labels (which go to unlabeled_oh). */
static void take_pair(aral *m, const aral_set *set, int at, int *nl, int *nu)
{
    *nl = take_batch(m, &m->lab, set, m->xj, m->yl);
    float *xu = m->xj + (size_t)*nl * m->dim;
    *nu = take_batch(m, &m->unl, set, xu, NULL);
    memcpy(m->xd + (size_t)at * m->dim, xu,
           sizeof(float) * (size_t)*nu * m->dim);
    mat_one_hot(rows_of(m->ohj, *nl, m->k), m->yl);
}

/* Where E's condition holds the pseudo-labels: below the nl labeled rows. */
static float *unlabeled_oh(aral *m, int nl)
{
    return m->ohj + (size_t)nl * m->k;
}

/* G on [z ; zu] with conditions [random ; pseudo-labels]: the feature-
 * matching batch (n2 rows) and the reconstruction (nu rows, partner of nl
 * labeled rows), each its own batch for batch norm. */
static mat generate_pair(aral *m, int n2, int nl, int nu)
{
    memcpy(m->oh_g + (size_t)n2 * m->k, unlabeled_oh(m, nl),
           sizeof(float) * (size_t)nu * m->k);
    int groups[2] = {n2, nu};
    tape_set_groups(m->tg[1], groups, 2);
    return net_forward(m->g, m->tg[1], rows_of(m->z, n2 + nu, ARAL_LATENT),
                       rows_of(m->oh_g, n2 + nu, m->k), NET_TRAIN, &m->r);
}

/* (2) G and E: feature matching + beta-VAE on unlabeled samples
 * conditioned on D's pseudo-label + fooling the sampler. D and S pass
 * gradients but keep their weights. Passes: D on [xu2 ; xu] (real
 * features, pseudo-labels), E on [xl ; xu], G on [z ; zu], D on G(z). */
static void step_ge(aral *m, const aral_set *set)
{
    int dim = m->dim, w = 2 * ARAL_LATENT, nl, nu;
    int n2 = take_batch(m, &m->unl2, set, m->xd, NULL);
    take_pair(m, set, n2, &nl, &nu);
    mat out = net_forward(m->d, m->td[0], rows_of(m->xd, n2 + nu, dim),
                          (mat){0}, NET_TRAIN, &m->r);
    mat fu = mat_rows(tape_layer_output(m->td[0], m->d_feat), 0, n2);
    pseudo_label(m, mat_rows(out, n2, nu), unlabeled_oh(m, nl));
    mat el, eu;
    encode(m, nl, nu, &el, &eu);
    mat mu_l = mat_cols(el, 0, ARAL_LATENT);
    mat mu_u = mat_cols(eu, 0, ARAL_LATENT);
    mat lv_u = mat_cols(eu, ARAL_LATENT, ARAL_LATENT);
    random_condition(m, n2);
    reparameterise(m, mu_u, lv_u, m->z + (size_t)n2 * ARAL_LATENT);
    mat gout = generate_pair(m, n2, nl, nu);
    /* Feature matching: G learns to match D's mean features on real data. */
    net_forward(m->d, m->td[1], mat_rows(gout, 0, n2), (mat){0}, NET_TRAIN,
                &m->r);
    mat fg = tape_layer_output(m->td[1], m->d_feat);
    mat gf = rows_of(m->g_out, n2, fg.cols);
    double fm = loss_feature_match(fg, fu, gf, (mat){0}, 1.0f, m->fm_scratch);
    mat dgout = rows_of(m->g_big, n2 + nu, dim);
    mat_copy(mat_rows(dgout, 0, n2),
             net_backward(m->d, m->td[1], m->d_feat, gf, false, true));
    double r = loss_mse(mat_rows(gout, n2, nu),
                        rows_of(m->xj + (size_t)nl * dim, nu, dim),
                        mat_rows(dgout, n2, nu), TRD_LAMBDA);
    mat dz = net_backward(m->g, m->tg[1], m->g->spec.n_layers - 1, dgout, true,
                          true);
    mat geu = rows_of(m->g_e, nu, w);
    double kl =
        loss_gauss_kl(mu_u, lv_u, mat_cols(geu, 0, ARAL_LATENT),
                      mat_cols(geu, ARAL_LATENT, ARAL_LATENT), TRD_LAMBDA);
    add_dz(m, mat_rows(dz, n2, nu), lv_u, m->g_e);
    mat gel = rows_of(m->g_e2, nl, w);
    mat_zero(gel);
    double f = sampler_pair(m, mu_l, mu_u, 1.0f, false, gel, geu);
    encode_backward(m, gel, geu);
    optim_adam_step(m->e, m->rate * m->e->adam.lr);
    optim_adam_step(m->g, m->rate * m->g->adam.lr);
    m->last.fm = (float)fm, m->last.rec = (float)r, m->last.kl = (float)kl;
    m->last.ge = (float)(fm + TRD_LAMBDA * (r + kl) + ADV_LAMBDA * f);
}

/* (3) S: labeled mu -> 1, unlabeled mu -> 0, on fresh batches. */
static void step_s(aral *m, const aral_set *set)
{
    int nl, nu;
    take_pair(m, set, 0, &nl, &nu);
    mat out = net_forward(m->d, m->td[0], rows_of(m->xd, nu, m->dim), (mat){0},
                          NET_TRAIN, &m->r);
    pseudo_label(m, out, unlabeled_oh(m, nl));
    mat el, eu;
    encode(m, nl, nu, &el, &eu);
    double l = sampler_pair(m, mat_cols(el, 0, ARAL_LATENT),
                            mat_cols(eu, 0, ARAL_LATENT), 0.0f, true, (mat){0},
                            (mat){0});
    optim_adam_step(m->s, m->rate * m->s->adam.lr);
    m->last.s = (float)(ADV_LAMBDA * l);
}

/* The labeled positions grouped by class, for balanced batches. */
static int group_by_class(aral *m, const aral_set *set)
{
    m->by_class = malloc(sizeof(int) * (size_t)set->n_labeled);
    if (!m->by_class)
        return ARAL_ENOMEM;
    memset(m->class_start, 0, sizeof(m->class_start));
    for (int i = 0; i < set->n_labeled; i++)
        m->class_start[set->labels[i] + 1]++;
    for (int c = 0; c < m->k; c++)
        m->class_start[c + 1] += m->class_start[c];
    int fill[512];
    memcpy(fill, m->class_start, sizeof(int) * (size_t)m->k);
    for (int i = 0; i < set->n_labeled; i++)
        m->by_class[fill[set->labels[i]]++] = i;
    return 0;
}

/* ema = decay * ema + (1 - decay) * D's weights, after each D step. */
static void average_d(aral *m)
{
    if (!m->ema)
        return;
    float a = m->ema_decay, b = 1.0f - a;
    const float *p = m->d->param;
    for (size_t i = 0; i < m->d->n_param; i++)
        m->ema[i] = a * m->ema[i] + b * p[i];
}

static void set_d(aral *m, const float *param)
{
    memcpy(m->d->param, param, sizeof(float) * m->d->n_param);
    net_params_changed(m->d);
}

static void infer_chunk(aral *m, const aral_data *x, const int *idx, int off,
                        int n, const aral_out *o);

/* Rows in the inference chunk that starts at off of n rows. */
static int chunk_rows(int n, int off)
{
    return n - off < ARAL_CHUNK ? n - off : ARAL_CHUNK;
}

/* How many of the labeled set D gets wrong. */
static int labeled_errors(aral *m, const aral_set *set)
{
    int wrong = 0;
    for (int off = 0; off < set->n_labeled; off += ARAL_CHUNK) {
        int n = chunk_rows(set->n_labeled, off);
        infer_chunk(m, &set->x, set->labeled, off, n, &(aral_out){0});
        for (int i = 0; i < n; i++)
            wrong += m->cpseudo[i] != set->labels[off + i];
    }
    return wrong;
}

/* D leaves the round as its average, unless the average gets more of the
 * labeled set wrong than the last step: then it has taken in a collapse
 * the last step recovered from (a GAN's D can fall apart for a few dozen
 * steps), and the last step's D stays. Counted in twelve of
 * bench/results' aral-sim runs (60 rounds of 600 iterations on
 * Fashion-MNIST), that happened in each of the four rounds of
 * bench/results whose accuracy dropped more than 2 points from the round
 * before (2 to 10 of 400-500 labels wrong, the last step none; the last
 * step's D 3 to 7.5 points better on test), and in one of the 56 others
 * (the round after one of those: 1 of 500 wrong, the two D's 0.02 points
 * apart). */
static void leave_as_average(aral *m, const aral_set *set)
{
    aral_fit *f = &m->fit;
    f->last_step_wrong = labeled_errors(m, set);
    memcpy(m->last_d, m->d->param, sizeof(float) * m->d->n_param);
    set_d(m, m->ema);
    f->average_wrong = labeled_errors(m, set);
    f->last_step = f->average_wrong > f->last_step_wrong;
    if (f->last_step)
        set_d(m, m->last_d);
}

aral_fit aral_last_fit(const aral *m)
{
    return m->fit;
}

/* D's noise layers as t says: the layers' own copy of their spec, which
 * the forward pass reads; the net's spec, which checkpoints keep, stays
 * the reference's. */
static void set_noise(aral *m, const aral_training *t)
{
    bool first = true;
    for (int i = 0; i < m->d->spec.n_layers; i++) {
        layer_spec *l = &m->d->layers[i].spec;
        if (l->kind != LAYER_NOISE)
            continue;
        if (t->own_noise)
            l->param = first ? t->noise_in : t->noise_hidden;
        else
            l->param = m->d->spec.layers[i].param;
        first = false;
    }
}

static bool noise_ok(float sd)
{
    return sd >= 0 && sd <= 1;
}

void aral_set_training(aral *m, const aral_training *t)
{
    m->opt = *t;
    tensor_free(m->ema), tensor_free(m->last_d);
    m->ema = m->last_d = NULL;
    if (t->ema_span > 0 && t->ema_span <= 1) {
        m->ema = tensor_alloc(m->d->n_param);
        m->last_d = tensor_alloc(m->d->n_param);
    }
    if (!m->ema || !m->last_d) { /* no memory for the average: without */
        tensor_free(m->ema), tensor_free(m->last_d);
        m->ema = m->last_d = NULL;
        m->opt.ema_span = 0;
    }
    if (!noise_ok(t->noise_in) || !noise_ok(t->noise_hidden))
        m->opt.own_noise = false;
    if (!m->opt.own_noise)
        m->opt.noise_in = m->opt.noise_hidden = 0;
    set_noise(m, &m->opt);
}

aral_training aral_get_training(const aral *m)
{
    return m->opt;
}

int aral_train(aral *m, const aral_set *set, int iters,
               aral_progress_fn progress, void *ctx)
{
    if (set->n_labeled < 1 || set->n_unlabeled < 1 || iters < 0 ||
        set->x.dim != m->dim)
        return ARAL_EINVAL;
    for (int i = 0; i < set->n_labeled; i++)
        if (set->labels[i] < 0 || set->labels[i] >= m->k)
            return ARAL_EINVAL;
    int rc = stream_init(&m->lab, set->labeled, set->n_labeled);
    if (!rc)
        rc = stream_init(&m->unl, set->unlabeled, set->n_unlabeled);
    if (!rc)
        rc = stream_init(&m->unl2, set->unlabeled, set->n_unlabeled);
    if (!rc && m->opt.balanced)
        rc = group_by_class(m, set);
    net *nets[] = {m->d, m->g, m->e, m->s};
    for (int i = 0; i < 4; i++) { /* fresh Adam state every round */
        optim_adam_reset(nets[i]);
        net_zero_grad(nets[i]);
    }
    m->fit = NO_FIT;
    if (m->ema) {
        float span = m->opt.ema_span * (float)iters;
        m->ema_decay = span > 1 ? 1.0f - 1.0f / span : 0.0f;
        memcpy(m->ema, m->d->param, sizeof(float) * m->d->n_param);
    }
    for (int it = 1; !rc && it <= iters; it++) {
        m->rate = m->opt.decay
                      ? optim_lr_schedule(1.0f, it - 1, iters, 2.0f / 3)
                      : 1.0f;
        step_d(m, set);
        average_d(m);
        step_ge(m, set);
        step_s(m, set);
        if (progress && !progress(ctx, it, iters, &m->last))
            rc = ARAL_ECANCELED;
    }
    if (!rc && m->ema)
        leave_as_average(m, set);
    stream_fini(&m->lab), stream_fini(&m->unl), stream_fini(&m->unl2);
    free(m->by_class);
    m->by_class = NULL;
    return rc;
}

/* ---- inference. */

/* Softmax statistics of one row of logits. */
static void row_stats(const float *l, int k, int *arg, float *conf, float *ent)
{
    int a = 0;
    for (int j = 1; j < k; j++)
        if (l[j] > l[a])
            a = j;
    double sum = 0.0, h = 0.0;
    for (int j = 0; j < k; j++)
        sum += exp((double)l[j] - l[a]);
    for (int j = 0; j < k; j++) {
        double p = exp((double)l[j] - l[a]) / sum;
        if (p > 0)
            h -= p * log(p);
    }
    *arg = a;
    *conf = (float)(1.0 / sum);
    *ent = (float)h;
}

static void infer_chunk(aral *m, const aral_data *x, const int *idx, int off,
                        int n, const aral_out *o)
{
    for (int i = 0; i < n; i++)
        aral_data_row(x, idx ? idx[off + i] : off + i,
                      m->cx + (size_t)i * m->dim);
    mat xc = rows_of(m->cx, n, m->dim);
    mat logits = net_forward(m->d, m->id, xc, (mat){0}, NET_EVAL, NULL);
    if (o->logits)
        mat_copy(mat_view(o->logits + (size_t)off * m->k, n, m->k), logits);
    if (o->feat) {
        mat f = tape_layer_output(m->id, m->d_feat);
        mat_copy(mat_view(o->feat + (size_t)off * f.cols, n, f.cols), f);
    }
    for (int i = 0; i < n; i++) {
        float c, h;
        row_stats(mat_row(logits, i), m->k, &m->cpseudo[i], &c, &h);
        if (o->pseudo)
            o->pseudo[off + i] = m->cpseudo[i];
        if (o->confidence)
            o->confidence[off + i] = c;
        if (o->entropy)
            o->entropy[off + i] = h;
    }
    if (!o->score)
        return;
    mat_one_hot(rows_of(m->coh, n, m->k), m->cpseudo);
    mat e =
        net_forward(m->e, m->ie, xc, rows_of(m->coh, n, m->k), NET_EVAL, NULL);
    mat s = net_forward(m->s, m->is, mat_cols(e, 0, ARAL_LATENT), (mat){0},
                        NET_EVAL, NULL);
    for (int i = 0; i < n; i++)
        o->score[off + i] = mat_row(s, i)[0];
}

int aral_infer_out(aral *m, const aral_data *x, const int *idx, int n,
                   const aral_out *o)
{
    if (x->dim != m->dim || n < 0)
        return ARAL_EINVAL;
    for (int off = 0; off < n; off += ARAL_CHUNK) {
        int c = chunk_rows(n, off);
        infer_chunk(m, x, idx, off, c, o);
    }
    return 0;
}

int aral_infer(aral *m, const aral_data *x, const int *idx, int n, int *pseudo,
               float *confidence, float *entropy, float *score)
{
    aral_out o = {pseudo, confidence, entropy, score, NULL, NULL};
    return aral_infer_out(m, x, idx, n, &o);
}

int aral_logits(aral *m, const aral_data *x, const int *idx, int n,
                float *logits)
{
    aral_out o = {NULL, NULL, NULL, NULL, logits, NULL};
    return aral_infer_out(m, x, idx, n, &o);
}

int aral_feature_dim(const aral *m)
{
    (void)m;
    return D_FEATURES;
}

/* ---- checkpoints: "ARALMDL1", u32 dim, u32 classes, then per net
 * (D, G, E, S) a u64 length and the engine's checkpoint. */

static const uint8_t MODEL_MAGIC[8] = {'A', 'R', 'A', 'L', 'M', 'D', 'L', '1'};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t aral_save_size(const aral *m)
{
    return 16 + 4 * 8 + ckpt_size(m->d, 0) + ckpt_size(m->g, 0) +
           ckpt_size(m->e, 0) + ckpt_size(m->s, 0);
}

long aral_save(const aral *m, uint8_t *buf, size_t cap)
{
    size_t size = aral_save_size(m), at = 16;
    if (cap < size)
        return ARAL_ETOOBIG;
    memcpy(buf, MODEL_MAGIC, 8);
    put_le(buf + 8, (uint64_t)m->dim, 4);
    put_le(buf + 12, (uint64_t)m->k, 4);
    const net *nets[] = {m->d, m->g, m->e, m->s};
    for (int i = 0; i < 4; i++) {
        size_t n = ckpt_size(nets[i], 0); /* aral_train resets Adam */
        put_le(buf + at, n, 8);
        ckpt_save(nets[i], 0, buf + at + 8, n);
        at += 8 + n;
    }
    return (long)size;
}

int aral_load(aral *m, const uint8_t *buf, size_t len)
{
    if (len < 16 || memcmp(buf, MODEL_MAGIC, 8) ||
        get_le(buf + 8, 4) != (uint64_t)m->dim ||
        get_le(buf + 12, 4) != (uint64_t)m->k)
        return ARAL_EINVAL;
    net *nets[] = {m->d, m->g, m->e, m->s};
    size_t at = 16, off[4], size[4];
    for (int i = 0; i < 4; i++) { /* check all four before changing any */
        if (len - at < 8)
            return ARAL_EINVAL;
        size[i] = (size_t)get_le(buf + at, 8);
        off[i] = at + 8;
        if (size[i] > len - off[i] ||
            ckpt_check(nets[i], buf + off[i], size[i]))
            return ARAL_EINVAL;
        at = off[i] + size[i];
    }
    if (at != len)
        return ARAL_EINVAL;
    for (int i = 0; i < 4; i++)
        ckpt_load(nets[i], buf + off[i], size[i]);
    return 0;
}
