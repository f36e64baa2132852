/* test_core: the engine end to end. An MLP learns a non-linear problem;
 * the same seed gives bit-identical weights; checkpoints round-trip
 * exactly and corrupt or truncated ones are refused; Adam and the
 * learning-rate schedule match their formulas. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "err.h"
#include "loss.h"
#include "net.h"
#include "optim.h"
#include "testlib.h"
#include "vecmath.h"

#define DIM 10
#define CLASSES 3

/* Concentric rings in the first two dimensions (class by radius), noise
 * in the others: no linear model separates them. */
static void make_rings(rng *r, float *x, int *y, int n)
{
    for (int i = 0; i < n; i++) {
        int c = (int)rng_below(r, CLASSES);
        float radius = 0.5f + 1.0f * c + 0.3f * rng_uniform(r);
        float a = 6.2831853f * rng_uniform(r);
        x[i * DIM] = radius * cosf(a);
        x[i * DIM + 1] = radius * sinf(a);
        for (int j = 2; j < DIM; j++)
            x[i * DIM + j] = 0.5f * rng_normal(r);
        y[i] = c;
    }
}

static net *make_mlp(rng *r)
{
    net_spec s = {.in = DIM};
    net_spec_add(&s, LAYER_DENSE, 64, 0, 0);
    net_spec_add(&s, LAYER_RELU, 0, 0, 0);
    net_spec_add(&s, LAYER_DENSE, 64, 0, 0);
    net_spec_add(&s, LAYER_LRELU, 0, 0, 0.1f);
    net_spec_add(&s, LAYER_DROPOUT, 0, 0, 0.1f);
    net_spec_add(&s, LAYER_DENSE_WN, CLASSES, LAYER_TRAIN_SCALE, 0);
    return net_new(&s, r);
}

/* Trains for `steps` steps of batch 64 from a fixed seed; returns the net. */
static net *train_mlp(uint64_t seed, int steps)
{
    rng r;
    rng_seed(&r, seed);
    net *n = make_mlp(&r);
    tape *t = tape_new(n, 64);
    float x[64 * DIM], g[64 * CLASSES];
    int y[64];
    n->adam.lr = 1e-2f;
    for (int s = 0; s < steps; s++) {
        make_rings(&r, x, y, 64);
        net_zero_grad(n);
        mat out =
            net_forward(n, t, mat_view(x, 64, DIM), (mat){0}, NET_TRAIN, &r);
        loss_softmax_ce(out, y, mat_view(g, 64, CLASSES), 1.0f);
        net_backward(n, t, n->spec.n_layers - 1, mat_view(g, 64, CLASSES), true,
                     false);
        optim_adam_step(n, optim_lr_schedule(n->adam.lr, s, steps, 0.66f));
    }
    tape_free(t);
    return n;
}

static double accuracy(net *n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    enum { N = 1000 };
    float *x = malloc(sizeof(float) * N * DIM);
    int y[N], pred[N];
    make_rings(&r, x, y, N);
    tape *t = tape_new(n, N);
    mat out = net_forward(n, t, mat_view(x, N, DIM), (mat){0}, NET_EVAL, NULL);
    mat_argmax_rows(out, pred);
    int right = 0;
    for (int i = 0; i < N; i++)
        right += pred[i] == y[i];
    tape_free(t);
    free(x);
    return right / (double)N;
}

static int t_mlp_learns(void)
{
    net *n = train_mlp(1, 600);
    double acc = accuracy(n, 12345);
    net_free(n);
    printf("  rings accuracy %.3f (chance %.3f)\n", acc, 1.0 / CLASSES);
    CHECK(acc > 0.95);
    return 0;
}

static int t_deterministic(void)
{
    net *a = train_mlp(5, 50), *b = train_mlp(5, 50), *c = train_mlp(6, 50);
    int same = !memcmp(a->param, b->param, sizeof(float) * a->n_param);
    int differs = memcmp(a->param, c->param, sizeof(float) * a->n_param);
    net_free(a), net_free(b), net_free(c);
    CHECK(same && differs);
    return 0;
}

static uint8_t *save(net *n, unsigned flags, size_t *len)
{
    *len = ckpt_size(n, flags);
    uint8_t *buf = malloc(*len);
    long w = ckpt_save(n, flags, buf, *len);
    if (w != (long)*len) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The weight norms the optimiser caches as it updates the rows are the
 * ones a pass would compute from the weights, to the bit. */
static int t_adam_caches_weight_norms(void)
{
    net *n = train_mlp(4, 20);
    const layer *l = &n->layers[n->spec.n_layers - 1];
    CHECK(l->spec.kind == LAYER_DENSE_WN && n->norms_ok);
    float cached[CLASSES];
    memcpy(cached, l->norm, sizeof(cached));
    net_params_changed(n);
    net_ensure_norms(n);
    CHECK(!memcmp(cached, l->norm, sizeof(cached)));
    net_free(n);
    return 0;
}

/* Weight norm leaves a term of its weights' gradient pending, which Adam
 * applies as it reads each row: the same step as settling it first. */
static int t_adam_applies_pending_gradient(void)
{
    net *a = train_mlp(6, 5), *b = train_mlp(6, 5);
    rng r;
    rng_seed(&r, 8);
    float x[64 * DIM], g[64 * CLASSES];
    int y[64];
    make_rings(&r, x, y, 64);
    net *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        tape *t = tape_new(both[k], 64);
        rng noise;
        rng_seed(&noise, 9);
        mat out = net_forward(both[k], t, mat_view(x, 64, DIM), (mat){0},
                              NET_TRAIN, &noise);
        loss_softmax_ce(out, y, mat_view(g, 64, CLASSES), 1.0f);
        net_backward(both[k], t, both[k]->spec.n_layers - 1,
                     mat_view(g, 64, CLASSES), true, false);
        tape_free(t);
    }
    const layer *wn = &a->layers[a->spec.n_layers - 1];
    float pending = 0.0f;
    for (int j = 0; j < wn->out; j++)
        pending += fabsf(wn->dk[j]);
    CHECK(pending > 0.0f);
    net_settle_grad(b);
    optim_adam_step(a, 1e-2f), optim_adam_step(b, 1e-2f);
    double worst = 0;
    for (size_t i = 0; i < a->n_param; i++)
        worst = fmax(worst, fabs(a->param[i] - b->param[i]));
    CHECK(worst < 1e-6);
    net_free(a), net_free(b);
    return 0;
}

/* Whether saving n again gives buf's len bytes. */
static int resaves_same(net *n, unsigned flags, const uint8_t *buf, size_t len)
{
    size_t len2;
    uint8_t *buf2 = save(n, flags, &len2);
    int same = buf2 && len2 == len && !memcmp(buf, buf2, len);
    free(buf2);
    return same;
}

static int t_ckpt_round_trip(void)
{
    net *a = train_mlp(2, 30);
    size_t len;
    uint8_t *buf = save(a, CKPT_ADAM, &len);
    CHECK(buf);
    rng r;
    rng_seed(&r, 77); /* different initial weights */
    net *b = make_mlp(&r);
    accuracy(b, 9); /* b's weight norms cached before the load */
    CHECK(ckpt_load(b, buf, len) == 0);
    CHECK(!memcmp(a->param, b->param, sizeof(float) * a->n_param));
    CHECK(!memcmp(a->adam_v, b->adam_v, sizeof(float) * a->n_param));
    CHECK(a->adam_step == b->adam_step);
    CHECK(accuracy(a, 9) == accuracy(b, 9));
    CHECK(resaves_same(b, CKPT_ADAM, buf, len));
    free(buf);
    net_free(a), net_free(b);
    return 0;
}

/* Without Adam's moments: 8 bytes a parameter fewer, the same weights,
 * and Adam as optim_adam_reset leaves it. */
static int t_ckpt_without_adam(void)
{
    net *a = train_mlp(2, 30), *b = train_mlp(3, 7);
    size_t len, full = ckpt_size(a, CKPT_ADAM);
    uint8_t *buf = save(a, 0, &len);
    CHECK(buf && len == full - 8 * a->n_param);
    CHECK(ckpt_save(a, 2, buf, len) == ARAL_EINVAL); /* unknown flag */
    CHECK(b->adam_step > 0);
    CHECK(ckpt_load(b, buf, len) == 0);
    CHECK(!memcmp(a->param, b->param, sizeof(float) * a->n_param));
    CHECK(accuracy(a, 9) == accuracy(b, 9));
    float zero = 0.0f;
    int reset = b->adam_step == 0;
    for (size_t i = 0; i < b->n_param; i++)
        reset &= !memcmp(&b->adam_m[i], &zero, 4) &&
                 !memcmp(&b->adam_v[i], &zero, 4);
    CHECK(reset);
    CHECK(resaves_same(b, 0, buf, len));
    free(buf);
    net_free(a), net_free(b);
    return 0;
}

/* Rewrites a checkpoint's CRC after its bytes were changed. */
static void set_crc(uint8_t *buf, size_t len)
{
    uint32_t crc = ckpt_crc32(buf, len - 4);
    for (int i = 0; i < 4; i++)
        buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* A version-1 checkpoint (no flags word, always the moments), as stored
 * models of earlier releases hold, loads as it did. Made from a version-2
 * one: the flags word cut out, the version and the CRC rewritten. */
static int t_ckpt_loads_version_1(void)
{
    net *a = train_mlp(2, 30), *b = train_mlp(3, 7);
    size_t len;
    uint8_t *buf = save(a, CKPT_ADAM, &len);
    CHECK(buf);
    memmove(buf + 12, buf + 16, len - 16);
    len -= 4;
    buf[8] = 1, buf[9] = buf[10] = buf[11] = 0;
    set_crc(buf, len);
    CHECK(ckpt_load(b, buf, len) == 0);
    CHECK(!memcmp(a->param, b->param, sizeof(float) * a->n_param));
    CHECK(!memcmp(a->adam_v, b->adam_v, sizeof(float) * a->n_param));
    CHECK(a->adam_step == b->adam_step);
    buf[8] = 3; /* a newer version than this build knows */
    set_crc(buf, len);
    CHECK(ckpt_load(b, buf, len) == ARAL_EVERSION);
    free(buf);
    net_free(a), net_free(b);
    return 0;
}

static int damage_refused(unsigned flags)
{
    net *a = train_mlp(3, 5);
    size_t len;
    uint8_t *buf = save(a, flags, &len);
    float *before = malloc(sizeof(float) * a->n_param);
    memcpy(before, a->param, sizeof(float) * a->n_param);
    int ok = 1;
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 7)
        ok &= ckpt_load(a, buf, cut) == ARAL_EINVAL;
    /* Every single-byte flip, at spread positions, is refused. */
    rng r;
    rng_seed(&r, 8);
    for (int i = 0; i < 2000; i++) {
        size_t pos = rng_below(&r, (uint32_t)len);
        uint8_t save_byte = buf[pos];
        buf[pos] ^= (uint8_t)(1 + rng_below(&r, 255));
        int rc = ckpt_load(a, buf, len);
        ok &= rc == ARAL_EINVAL || rc == ARAL_EVERSION;
        buf[pos] = save_byte;
    }
    /* Random garbage of random lengths. */
    uint8_t junk[4096];
    for (int i = 0; i < 500; i++) {
        size_t n = rng_below(&r, sizeof(junk));
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)rng_next(&r);
        if (n >= 8 && i % 2)
            memcpy(junk, buf, 8); /* right magic, wrong rest */
        ok &= ckpt_load(a, junk, n) != 0;
    }
    /* A net of another shape is refused too. */
    net_spec s = {.in = DIM};
    net_spec_add(&s, LAYER_DENSE, 3, 0, 0);
    net *other = net_new(&s, &r);
    ok &= ckpt_load(other, buf, len) == ARAL_EINVAL;
    ok &= !memcmp(before, a->param, sizeof(float) * a->n_param);
    net_free(other), net_free(a);
    free(buf), free(before);
    return ok;
}

static int t_ckpt_rejects_damage(void)
{
    CHECK(damage_refused(CKPT_ADAM));
    CHECK(damage_refused(0));
    return 0;
}

/* CRC-32 one bit at a time: the definition, to check the fast one by. */
static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static int t_ckpt_crc(void)
{
    /* The standard check value of CRC-32/IEEE. */
    CHECK(ckpt_crc32((const uint8_t *)"123456789", 9) == 0xcbf43926u);
    CHECK(ckpt_crc32(NULL, 0) == 0);
    /* Every start alignment and length up to 40 bytes: the 8-byte steps,
     * the byte tail and both together. */
    uint8_t buf[48];
    rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 48; i++)
        buf[i] = (uint8_t)rng_below(&r, 256);
    for (int at = 0; at < 8; at++)
        for (size_t n = 0; n <= 40; n++)
            CHECK(ckpt_crc32(buf + at, n) == crc_bitwise(buf + at, n));
    return 0;
}

/* One Adam step against the formula, computed in double. */
static int t_adam_formula(void)
{
    rng r;
    rng_seed(&r, 1);
    net_spec s = {.in = 2};
    net_spec_add(&s, LAYER_DENSE, 1, 0, 0);
    net *n = net_new(&s, &r);
    n->adam = (adam_opts){0.1f, 0.5f, 0.9f, 1e-8f};
    double p0 = n->param[0];
    n->grad[0] = 2.0f;
    optim_adam_step(n, 0.1f);
    /* Step 1: m = 1, v = 0.4, m^ = 2, v^ = 4: p -= 0.1 * 2 / 2. */
    CHECK(fabs(n->param[0] - (p0 - 0.1)) < 1e-6);
    n->grad[0] = 0.0f;
    optim_adam_step(n, 0.1f);
    /* Step 2: m = .5, v = .36, m^ = .5/.75, v^ = .36/.19. */
    double expect = p0 - 0.1 - 0.1 * (0.5 / 0.75) / sqrt(0.36 / 0.19);
    CHECK(fabs(n->param[0] - expect) < 1e-6);
    optim_adam_reset(n);
    CHECK(n->adam_step == 0 && n->adam_m[0] == 0.0f);
    net_free(n);
    return 0;
}

static int t_lr_schedule(void)
{
    CHECK(optim_lr_schedule(1.0f, 0, 300, 2.0f / 3) == 1.0f);
    CHECK(optim_lr_schedule(1.0f, 200, 300, 2.0f / 3) == 1.0f);
    CHECK(fabs(optim_lr_schedule(1.0f, 250, 300, 2.0f / 3) - 0.5) < 1e-5);
    CHECK(optim_lr_schedule(1.0f, 300, 300, 2.0f / 3) == 0.0f);
    return 0;
}

static int t_rng(void)
{
    rng a, b;
    rng_seed(&a, 42), rng_seed(&b, 42);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        float u = rng_normal(&a);
        CHECK(u == rng_normal(&b));
        s += u, s2 += u * u;
    }
    CHECK(fabs(s / 1e5) < 0.02 && fabs(s2 / 1e5 - 1) < 0.02);
    uint32_t p[50];
    int seen[50] = {0};
    rng_permutation(&a, p, 50);
    for (int i = 0; i < 50; i++)
        seen[p[i]]++;
    for (int i = 0; i < 50; i++)
        CHECK(seen[i] == 1);
    return 0;
}

static int t_invalid_spec(void)
{
    rng r;
    rng_seed(&r, 1);
    net_spec s = {.in = 0};
    net_spec_add(&s, LAYER_DENSE, 3, 0, 0);
    CHECK(net_new(&s, &r) == NULL);
    net_spec d = {.in = 3};
    net_spec_add(&d, LAYER_DROPOUT, 0, 0, 1.0f);
    CHECK(net_new(&d, &r) == NULL);
    return 0;
}

/* The bulk normals of the noise layers (16 lane streams, Box-Muller):
 * moments, tails and neighbour correlation of 2^20 draws, and the same
 * seed giving the same draws. */
static int t_bulk_normals(void)
{
    enum { M = 1 << 20 };
    float *z = malloc(sizeof(float) * M), *y = malloc(sizeof(float) * M);
    rng a, b;
    rng_seed(&a, 5), rng_seed(&b, 5);
    rng_normal_fill(&a, z, M);
    double s = 0, s2 = 0, s4 = 0, lag = 0;
    long beyond2 = 0, beyond3 = 0;
    for (int i = 0; i < M; i++) {
        double v = z[i];
        s += v, s2 += v * v, s4 += v * v * v * v;
        beyond2 += fabs(v) > 2, beyond3 += fabs(v) > 3;
        if (i)
            lag += v * z[i - 1];
    }
    printf("  mean %.4f var %.4f kurtosis %.3f P(|z|>2) %.4f P(|z|>3) "
           "%.5f lag-1 %.4f\n",
           s / M, s2 / M, s4 / M, beyond2 / (double)M, beyond3 / (double)M,
           lag / M);
    CHECK(fabs(s / M) < 0.005 && fabs(s2 / M - 1) < 0.005);
    CHECK(fabs(s4 / M - 3) < 0.05);
    CHECK(fabs(beyond2 / (double)M - 0.0455) < 0.002);
    CHECK(fabs(beyond3 / (double)M - 0.0027) < 0.0003);
    CHECK(fabs(lag / M) < 0.005);
    for (int i = 0; i < M; i++)
        y[i] = 1.0f;
    rng_normal_add(&b, y, y, M, 0.5f); /* same stream: y = 1 + z / 2 */
    for (int i = 0; i < M; i++)
        CHECK(fabsf(y[i] - (1.0f + 0.5f * z[i])) < 1e-6f);
    free(z), free(y);
    return 0;
}

/* The Box-Muller kernel's own log and sine/cosine against double libm,
 * over random uniforms and the ends of both ranges (u = 1 gives radius 0,
 * the smallest u the largest radius, 5.77). */
static int t_box_muller_accuracy(void)
{
    enum { N = 1 << 16 };
    uint32_t *a = malloc(sizeof(uint32_t) * N),
             *b = malloc(sizeof(uint32_t) * N);
    float *c = malloc(sizeof(float) * N), *s = malloc(sizeof(float) * N);
    rng r;
    rng_seed(&r, 11);
    double worst = 0;
    for (int rep = 0; rep < 16; rep++) {
        for (int i = 0; i < N; i++)
            a[i] = (uint32_t)rng_next(&r),
            b[i] = (uint32_t)(rng_next(&r) >> 32);
        a[0] = b[0] = 0, a[1] = b[1] = 0xffffffffu, b[2] = 0x20000000u;
        vec_box_muller(a, b, c, s, N);
        for (int i = 0; i < N; i++) {
            double u = 1.0 - (a[i] >> 8) * 0x1p-24, t = (b[i] >> 8) * 0x1p-24;
            double rad = sqrt(-2.0 * log(u)), turn = 2.0 * M_PI * t;
            double e = fmax(fabs(c[i] - rad * cos(turn)),
                            fabs(s[i] - rad * sin(turn)));
            worst = e > worst ? e : worst;
        }
    }
    printf("  worst absolute error %.2g\n", worst);
    CHECK(worst < 2e-6);
    free(a), free(b), free(c), free(s);
    return 0;
}

/* softplus, its derivative from its output, and sigmoid against double
 * libm from -90 to 90 (a step of 1/64, plus the ends and zero). */
static int t_vecmath_accuracy(void)
{
    enum { N = 90 * 128 + 1 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    float *one = malloc(sizeof(float) * N), *d = malloc(sizeof(float) * N);
    float *sg = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++)
        x[i] = (float)(i - N / 2) / 64.0f, one[i] = 1.0f;
    vec_softplus(x, y, N);
    vec_softplus_backward(y, one, d, N);
    vec_sigmoid(x, sg, N);
    double worst_sp = 0, worst_d = 0, worst_sg = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i], sp = fmax(v, 0) + log1p(exp(-fabs(v)));
        double sig = 1.0 / (1.0 + exp(-v));
        worst_sp = fmax(worst_sp, fabs(y[i] - sp) / fmax(sp, 1e-30));
        worst_d = fmax(worst_d, fabs(d[i] - sig));
        worst_sg = fmax(worst_sg, fabs(sg[i] - sig) / fmax(sig, 1e-30));
    }
    printf("  softplus %.2g (relative, above 1e-30), its derivative %.2g "
           "(absolute), sigmoid %.2g (relative)\n",
           worst_sp, worst_d, worst_sg);
    CHECK(worst_sp < 2e-6 && worst_d < 2e-6 && worst_sg < 2e-6);
    free(x), free(y), free(one), free(d), free(sg);
    return 0;
}

/* dense -> ReLU, weight norm -> softplus, batch norm -> sigmoid: an
 * evaluation pass applies each activation inside the layer before it.
 * The same net with noise layers in between (the identity in evaluation,
 * and they break the pairs) gives the same outputs. */
static int t_eval_fusion_same_outputs(void)
{
    net_spec s[2] = {{.in = 7}, {.in = 7}};
    for (int v = 0; v < 2; v++) {
        layer_kind pairs[3][2] = {{LAYER_DENSE, LAYER_RELU},
                                  {LAYER_DENSE_WN, LAYER_SOFTPLUS},
                                  {LAYER_BATCHNORM, LAYER_SIGMOID}};
        for (int p = 0; p < 3; p++) {
            net_spec_add(&s[v], pairs[p][0], 9, 0, 0);
            if (v)
                net_spec_add(&s[v], LAYER_NOISE, 0, 0, 0.5f);
            net_spec_add(&s[v], pairs[p][1], 0, 0, 0);
        }
    }
    rng r;
    rng_seed(&r, 2);
    net *a = net_new(&s[0], &r), *b = net_new(&s[1], &r);
    CHECK(a && b && a->n_param == b->n_param && a->n_state == b->n_state);
    for (size_t i = 0; i < a->n_param; i++)
        a->param[i] = b->param[i] = rng_normal(&r);
    net_params_changed(a), net_params_changed(b);
    for (size_t i = 0; i < a->n_state; i++)
        a->state[i] = b->state[i] = 0.5f + rng_uniform(&r);
    float x[20 * 7];
    for (int i = 0; i < 20 * 7; i++)
        x[i] = rng_normal(&r);
    tape *ta = tape_new(a, 20), *tb = tape_new(b, 20);
    mat ya = net_forward(a, ta, mat_view(x, 20, 7), (mat){0}, NET_EVAL, NULL);
    mat yb = net_forward(b, tb, mat_view(x, 20, 7), (mat){0}, NET_EVAL, NULL);
    double worst = 0;
    for (int i = 0; i < 20 * 9; i++)
        worst = fmax(worst, fabs(ya.data[i] - yb.data[i]));
    tape_free(ta), tape_free(tb), net_free(a), net_free(b);
    CHECK(worst < 1e-6);
    return 0;
}

static const test_case cases[] = {
    {"mlp learns rings", t_mlp_learns},
    {"same seed, same weights", t_deterministic},
    {"checkpoint round trip", t_ckpt_round_trip},
    {"checkpoint refuses damage", t_ckpt_rejects_damage},
    {"checkpoint without Adam's moments", t_ckpt_without_adam},
    {"checkpoint of version 1 loads", t_ckpt_loads_version_1},
    {"checkpoint crc32", t_ckpt_crc},
    {"adam matches formula", t_adam_formula},
    {"learning-rate schedule", t_lr_schedule},
    {"rng", t_rng},
    {"invalid spec refused", t_invalid_spec},
    {"bulk normals: moments, tails, correlation", t_bulk_normals},
    {"Adam caches the weight norms a pass would compute",
     t_adam_caches_weight_norms},
    {"Adam applies weight norm's pending gradient",
     t_adam_applies_pending_gradient},
    {"Box-Muller's log and sincos match libm", t_box_muller_accuracy},
    {"softplus, its derivative, sigmoid match libm", t_vecmath_accuracy},
    {"evaluation pass fuses activations, same outputs",
     t_eval_fusion_same_outputs},
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
