/* pca: whitened principal components (pca.h). The covariance is
 * E[d d^T] - m m^T for the rows shifted by the first chunk's mean,
 * d = x - shift, m = E[d]: the first term accumulated chunk by chunk with
 * one symmetric rank-k update each. Without the shift, rows far from the
 * origin (features around 1000, say) lose their variance to cancellation
 * in floats; with it, m is small. The eigenvectors come from LAPACK
 * (blas.h); a second pass projects the centred rows. */
#include "pca.h"

#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "err.h"

#define PCA_CHUNK 1024

typedef struct pca_work {
    int n, dim, k;
    float *chunk;                    /* PCA_CHUNK x dim rows */
    float *cov;                      /* dim x dim, upper triangle */
    double *sum;                     /* dim column sums */
    float *mean, *shift, *val, *vec; /* dim; dim; k; dim x k */
} pca_work;

static void pca_free(pca_work *p)
{
    free(p->chunk), free(p->cov), free(p->sum);
    free(p->mean), free(p->shift), free(p->val), free(p->vec);
}

static int pca_alloc(pca_work *p)
{
    size_t d = (size_t)p->dim;
    p->chunk = malloc(sizeof(float) * PCA_CHUNK * d);
    p->cov = malloc(sizeof(float) * d * d);
    p->sum = calloc(d, sizeof(double));
    p->mean = malloc(sizeof(float) * d);
    p->shift = malloc(sizeof(float) * d);
    p->val = malloc(sizeof(float) * (size_t)p->k);
    p->vec = malloc(sizeof(float) * d * (size_t)p->k);
    return p->chunk && p->cov && p->sum && p->mean && p->shift && p->val &&
                   p->vec
               ? 0
               : ARAL_ENOMEM;
}

/* Rows first.. of the next chunk into p->chunk; *m gets their count. */
static int read_chunk(pca_work *p, pca_rows_fn rows, void *ctx, int first,
                      int *m)
{
    *m = p->n - first < PCA_CHUNK ? p->n - first : PCA_CHUNK;
    return rows(ctx, first, *m, p->chunk) ? 0 : ARAL_ECANCELED;
}

/* The shift: the mean of the first chunk's m rows. */
static void set_shift(pca_work *p, int m)
{
    for (int j = 0; j < p->dim; j++) {
        double s = 0;
        for (int r = 0; r < m; r++)
            s += p->chunk[(size_t)r * p->dim + j];
        p->shift[j] = (float)(s / m);
    }
}

/* The upper triangle of the covariance, and the mean. */
static int covariance(pca_work *p, pca_rows_fn rows, void *ctx)
{
    int dim = p->dim, m;
    mat cov = mat_view(p->cov, dim, dim);
    for (int first = 0; first < p->n; first += PCA_CHUNK) {
        int rc = read_chunk(p, rows, ctx, first, &m);
        if (rc)
            return rc;
        if (!first)
            set_shift(p, m);
        for (int r = 0; r < m; r++)
            for (int j = 0; j < dim; j++) {
                float *d = &p->chunk[(size_t)r * dim + j];
                *d -= p->shift[j];
                p->sum[j] += *d;
            }
        mm_gram(mat_view(p->chunk, m, dim), cov, first ? 1.0f : 0.0f);
    }
    float inv = 1.0f / (float)p->n;
    for (int i = 0; i < dim; i++) { /* m = E[d] is in mean for now */
        p->mean[i] = (float)(p->sum[i] / p->n);
        for (int j = 0; j <= i; j++)
            p->cov[(size_t)j * dim + i] =
                p->cov[(size_t)j * dim + i] * inv - p->mean[i] * p->mean[j];
    }
    for (int j = 0; j < dim; j++)
        p->mean[j] += p->shift[j];
    return 0;
}

/* Folds 1/sqrt(eigenvalue) into each eigenvector; a direction with no
 * variance to speak of (below 1e-6 of the largest: rounding) gets 0
 * instead of a huge factor. */
static void whiten_vectors(pca_work *p)
{
    float floor = 1e-6f * p->val[0];
    for (int j = 0; j < p->k; j++) {
        float s = p->val[j] > floor && p->val[j] > 0.0f
                      ? 1.0f / sqrtf(p->val[j])
                      : 0.0f;
        for (int i = 0; i < p->dim; i++)
            p->vec[(size_t)i * p->k + j] *= s;
    }
}

/* out = (rows - mean) vec, chunk by chunk. */
static int project(pca_work *p, pca_rows_fn rows, void *ctx, float *out)
{
    int dim = p->dim, k = p->k, m;
    mat vec = mat_view(p->vec, dim, k);
    for (int first = 0; first < p->n; first += PCA_CHUNK) {
        int rc = read_chunk(p, rows, ctx, first, &m);
        if (rc)
            return rc;
        for (int r = 0; r < m; r++)
            for (int j = 0; j < dim; j++)
                p->chunk[(size_t)r * dim + j] -= p->mean[j];
        mm(false, false, mat_view(p->chunk, m, dim), vec,
           mat_view(out + (size_t)first * k, m, k), 1.0f, 0.0f);
    }
    return 0;
}

int pca_whiten(int n, int dim, int k, pca_rows_fn rows, void *ctx, float *out)
{
    if (n < 1 || dim < 1 || k < 1 || k > dim)
        return ARAL_EINVAL;
    pca_work p = {.n = n, .dim = dim, .k = k};
    int rc = pca_alloc(&p);
    if (!rc)
        rc = covariance(&p, rows, ctx);
    if (!rc)
        rc = sym_top_eigen(p.cov, dim, k, p.val, p.vec);
    if (!rc) {
        whiten_vectors(&p);
        rc = project(&p, rows, ctx, out);
    }
    pca_free(&p);
    return rc;
}
