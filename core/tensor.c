#include "tensor.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

mat mat_view(float *data, int rows, int cols)
{
    return (mat){rows, cols, cols, data};
}

mat mat_cols(mat m, int c0, int n)
{
    assert(c0 >= 0 && n >= 0 && c0 + n <= m.cols);
    return (mat){m.rows, n, m.stride, m.data + c0};
}

mat mat_rows(mat m, int r0, int n)
{
    assert(r0 >= 0 && n >= 0 && r0 + n <= m.rows);
    return (mat){n, m.cols, m.stride, m.data + (size_t)r0 * m.stride};
}

void mat_zero(mat m)
{
    for (int r = 0; r < m.rows; r++)
        memset(mat_row(m, r), 0, sizeof(float) * (size_t)m.cols);
}

void mat_copy(mat dst, mat src)
{
    assert(dst.rows == src.rows && dst.cols == src.cols);
    for (int r = 0; r < dst.rows; r++)
        memcpy(mat_row(dst, r), mat_row(src, r),
               sizeof(float) * (size_t)dst.cols);
}

void mat_axpy(mat dst, float a, mat src)
{
    assert(dst.rows == src.rows && dst.cols == src.cols);
    for (int r = 0; r < dst.rows; r++) {
        float *d = mat_row(dst, r);
        const float *s = mat_row(src, r);
        for (int c = 0; c < dst.cols; c++)
            d[c] += a * s[c];
    }
}

void mat_one_hot(mat out, const int *labels)
{
    mat_zero(out);
    for (int r = 0; r < out.rows; r++) {
        assert(labels[r] >= 0 && labels[r] < out.cols);
        mat_row(out, r)[labels[r]] = 1.0f;
    }
}

void mat_argmax_rows(mat m, int *out)
{
    for (int r = 0; r < m.rows; r++) {
        const float *x = mat_row(m, r);
        int best = 0;
        for (int c = 1; c < m.cols; c++)
            if (x[c] > x[best])
                best = c;
        out[r] = best;
    }
}

float *tensor_alloc(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

void tensor_free(float *p)
{
    free(p);
}
