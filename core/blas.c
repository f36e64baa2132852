#include "blas.h"

#include <assert.h>
#include <cblas.h>

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
