/* loss: values in double (the batch sums of float terms), gradients in
 * float. Every formula is checked by finite differences in test_grad. */
#include "loss.h"

#include <assert.h>
#include <math.h>

static double softplus_d(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

static double sigmoid_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* log-sum-exp of one row and, when p is given, its softmax into p. */
static double row_lse(const float *x, int k, float *p)
{
    float m = x[0];
    for (int j = 1; j < k; j++)
        m = fmaxf(m, x[j]);
    double s = 0.0;
    for (int j = 0; j < k; j++)
        s += exp((double)x[j] - m);
    double lse = m + log(s);
    if (p)
        for (int j = 0; j < k; j++)
            p[j] = (float)exp((double)x[j] - lse);
    return lse;
}

double loss_softmax_ce(mat logits, const int *labels, mat grad, float weight)
{
    double total = 0.0;
    int n = logits.rows, k = logits.cols;
    for (int r = 0; r < n; r++) {
        const float *x = mat_row(logits, r);
        assert(labels[r] >= 0 && labels[r] < k);
        float *g = grad.data ? mat_row(grad, r) : NULL;
        total += row_lse(x, k, g) - x[labels[r]];
        if (g) {
            g[labels[r]] -= 1.0f;
            for (int j = 0; j < k; j++)
                g[j] *= weight / n;
        }
    }
    return total / n;
}

void loss_lse_rows(mat logits, float *out)
{
    for (int r = 0; r < logits.rows; r++)
        out[r] = (float)row_lse(mat_row(logits, r), logits.cols, NULL);
}

/* Shared body of the two GAN losses: per row f(lse) with derivative
 * df/dlse, spread over the logits by softmax (d lse / d logit = softmax). */
static double gan_loss(mat logits, mat grad, float weight, int real)
{
    double total = 0.0;
    int n = logits.rows, k = logits.cols;
    for (int r = 0; r < n; r++) {
        float *g = grad.data ? mat_row(grad, r) : NULL;
        double l = row_lse(mat_row(logits, r), k, g);
        double d = sigmoid_d(l); /* d softplus(l) / dl */
        total += real ? -l + softplus_d(l) : softplus_d(l);
        if (real)
            d -= 1.0;
        if (g)
            for (int j = 0; j < k; j++)
                g[j] = (float)(g[j] * d * weight / n);
    }
    return total / n;
}

double loss_gan_real(mat logits, mat grad, float weight)
{
    return gan_loss(logits, grad, weight, 1);
}

double loss_gan_fake(mat logits, mat grad, float weight)
{
    return gan_loss(logits, grad, weight, 0);
}

double loss_bce_prob(mat p, float target, mat grad, float weight)
{
    assert(p.cols == 1);
    double total = 0.0;
    int n = p.rows;
    for (int r = 0; r < n; r++) {
        double x = mat_row(p, r)[0];
        double lx = fmax(log(x), -100.0), l1x = fmax(log1p(-x), -100.0);
        total -= target * lx + (1.0 - target) * l1x;
        if (grad.data) {
            /* PyTorch clamps the derivative's denominator the same way. */
            double den = fmax(x * (1.0 - x), 1e-12);
            mat_row(grad, r)[0] = (float)((x - target) / den * weight / n);
        }
    }
    return total / n;
}

double loss_bce_logits(mat logits, float target, mat grad, float weight)
{
    assert(logits.cols == 1);
    double total = 0.0;
    int n = logits.rows;
    for (int r = 0; r < n; r++) {
        double x = mat_row(logits, r)[0];
        total += softplus_d(x) - target * x;
        if (grad.data)
            mat_row(grad, r)[0] = (float)((sigmoid_d(x) - target) * weight / n);
    }
    return total / n;
}

double loss_mse(mat a, mat b, mat grad, float weight)
{
    assert(a.rows == b.rows && a.cols == b.cols);
    double total = 0.0;
    double count = (double)a.rows * a.cols;
    float k = (float)(2.0 * weight / count);
    for (int r = 0; r < a.rows; r++) {
        const float *x = mat_row(a, r), *y = mat_row(b, r);
        float *g = grad.data ? mat_row(grad, r) : NULL;
        for (int c = 0; c < a.cols; c++) {
            double d = (double)x[c] - y[c];
            total += d * d;
            if (g)
                g[c] = k * (float)d;
        }
    }
    return total / count;
}

double loss_gauss_kl(mat mu, mat lv, mat grad_mu, mat grad_lv, float weight)
{
    assert(mu.rows == lv.rows && mu.cols == lv.cols);
    double total = 0.0;
    for (int r = 0; r < mu.rows; r++) {
        const float *m = mat_row(mu, r), *v = mat_row(lv, r);
        for (int c = 0; c < mu.cols; c++) {
            double e = exp((double)v[c]);
            total += -0.5 * (1.0 + v[c] - (double)m[c] * m[c] - e);
            if (grad_mu.data)
                mat_row(grad_mu, r)[c] = weight * m[c];
            if (grad_lv.data)
                mat_row(grad_lv, r)[c] = (float)(weight * 0.5 * (e - 1.0));
        }
    }
    return total;
}

/* Column means of m into out. */
static void col_means(mat m, float *out)
{
    for (int c = 0; c < m.cols; c++)
        out[c] = 0.0f;
    mat_col_sums_add(m, out);
    for (int c = 0; c < m.cols; c++)
        out[c] /= (float)m.rows;
}

/* grad rows all equal to sign * k * diff / rows. */
static void fm_grad(mat grad, const float *diff, float k)
{
    for (int r = 0; r < grad.rows; r++) {
        float *g = mat_row(grad, r);
        for (int c = 0; c < grad.cols; c++)
            g[c] = k * diff[c] / (float)grad.rows;
    }
}

double loss_feature_match(mat fa, mat fb, mat grad_a, mat grad_b, float weight,
                          float *scratch)
{
    assert(fa.cols == fb.cols);
    int k = fa.cols;
    float *ma = scratch, *mb = scratch + k;
    col_means(fa, ma);
    col_means(fb, mb);
    double total = 0.0;
    for (int c = 0; c < k; c++) {
        ma[c] -= mb[c]; /* ma now holds the difference */
        total += (double)ma[c] * ma[c];
    }
    float g = 2.0f * weight / (float)k;
    if (grad_a.data)
        fm_grad(grad_a, ma, g);
    if (grad_b.data)
        fm_grad(grad_b, ma, -g);
    return total / k;
}
