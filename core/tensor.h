/* tensor: float32 row-major matrix views, batch along rows.
 *
 * A mat does not own its data: networks and tapes own their buffers (sized
 * once for a maximum batch) and hand out views. stride is the distance in
 * floats between the starts of two rows (>= cols), so a view can select the
 * first columns of a wider buffer without copying.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct mat {
    int rows, cols, stride;
    float *data;
} mat;

/* A view of rows x cols contiguous floats at data (stride = cols). */
mat mat_view(float *data, int rows, int cols);
/* Columns [c0, c0 + n) of m, same rows. */
mat mat_cols(mat m, int c0, int n);
/* Rows [r0, r0 + n) of m. */
mat mat_rows(mat m, int r0, int n);

static inline float *mat_row(mat m, int r)
{
    return m.data + (size_t)r * (size_t)m.stride;
}

/* out[j] += the sum over rows of m[r][j], row by row so that the inner
 * loop runs along memory and vectorises. Inline, so that in a function
 * built per CPU (simd.h) it takes that build's vector width. */
static inline void mat_col_sums_add(mat m, float *out)
{
    for (int r = 0; r < m.rows; r++) {
        const float *mr = mat_row(m, r);
        for (int j = 0; j < m.cols; j++)
            out[j] += mr[j];
    }
}

void mat_zero(mat m);
/* dst = src; shapes must match. */
void mat_copy(mat dst, mat src);
/* dst += a * src; shapes must match. */
void mat_axpy(mat dst, float a, mat src);
/* One-hot rows: out[i] = e_{labels[i]} (out has K columns). */
void mat_one_hot(mat out, const int *labels);
/* Index of the largest entry of each row (first on ties). */
void mat_argmax_rows(mat m, int *out);

/* Aligned allocation of n floats, zeroed; caller frees with tensor_free.
 * Returns NULL on failure. */
float *tensor_alloc(size_t n);
void tensor_free(float *p);
