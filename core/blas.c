#include "blas.h"

#include <assert.h>
#include <cblas.h>
#include <stddef.h>
#include <stdlib.h>

#include "err.h"

/* LAPACK's symmetric eigensolver (Relatively Robust Representations),
 * which Debian's OpenBLAS carries (libopenblas.so exports ssyevr_; it
 * ships no lapack.h and no LAPACKE). The reference Fortran interface;
 * gfortran passes each character argument's length last, as size_t. */
void ssyevr_(const char *jobz, const char *range, const char *uplo,
             const int *n, float *a, const int *lda, const float *vl,
             const float *vu, const int *il, const int *iu, const float *abstol,
             int *m, float *w, float *z, const int *ldz, int *isuppz,
             float *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t, size_t, size_t);

void mm(bool ta, bool tb, mat a, mat b, mat c, float alpha, float beta)
{
    int m = ta ? a.cols : a.rows;
    int k = ta ? a.rows : a.cols;
    int kb = tb ? b.cols : b.rows;
    int n = tb ? b.rows : b.cols;
    assert(k == kb && c.rows == m && c.cols == n);
    (void)kb;
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a.data,
                a.stride, b.data, b.stride, beta, c.data, c.stride);
}

void blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int blas_get_threads(void)
{
    return openblas_get_num_threads();
}

const char *blas_config(void)
{
    return openblas_get_config();
}

void mm_gram(mat a, mat c, float beta)
{
    assert(c.rows == a.cols && c.cols == a.cols);
    if (a.cols == 0)
        return;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, a.cols, a.rows, 1.0f,
                a.data, a.stride, beta, c.data, c.stride);
}

/* ssyevr_ for eigenpairs il..iu (ascending, 1-based) of the n x n
 * column-major lower triangle in a; work sizes from a query call. */
static int syevr(float *a, int n, int il, int iu, float *w, float *z)
{
    int m = 0, info = 0, q = -1, liwork = 0, lwork = 0;
    float vl = 0.0f, vu = 0.0f, abstol = 0.0f, wq = 0.0f;
    int *isuppz = malloc(sizeof(int) * 2 * (size_t)n), *iwork = NULL;
    float *work = NULL;
    if (!isuppz)
        return ARAL_ENOMEM;
    ssyevr_("V", "I", "L", &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z, &n,
            isuppz, &wq, &q, &liwork, &q, &info, 1, 1, 1);
    lwork = (int)wq;
    if (!info) {
        work = malloc(sizeof(float) * (size_t)lwork);
        iwork = malloc(sizeof(int) * (size_t)liwork);
    }
    if (!info && work && iwork)
        ssyevr_("V", "I", "L", &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z,
                &n, isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    int rc = info || m != iu - il + 1 ? ARAL_EIO : 0;
    if (!info && (!work || !iwork))
        rc = ARAL_ENOMEM;
    free(isuppz), free(work), free(iwork);
    return rc;
}

int sym_top_eigen(float *a, int n, int k, float *val, float *vec)
{
    assert(k >= 1 && k <= n);
    float *w = malloc(sizeof(float) * (size_t)n);
    float *z = malloc(sizeof(float) * (size_t)n * k);
    /* a's row-major upper triangle is the column-major lower one */
    int rc = w && z ? syevr(a, n, n - k + 1, n, w, z) : ARAL_ENOMEM;
    for (int j = 0; !rc && j < k; j++) { /* LAPACK's order is ascending */
        const float *col = z + (size_t)(k - 1 - j) * n;
        val[j] = w[k - 1 - j];
        for (int i = 0; i < n; i++)
            vec[(size_t)i * k + j] = col[i];
    }
    free(w), free(z);
    return rc;
}
