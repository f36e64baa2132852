/* blas: the one GEMM wrapper. Every matrix product in core/ goes through
 * mm(), which checks shapes (asserts: a mismatch is our bug) and calls
 * cblas_sgemm in row-major layout with transpose flags, never copying.
 * This is the only file that includes cblas.h.
 */
#pragma once
#include <stdbool.h>

#include "tensor.h"

/* C = alpha * op(A) * op(B) + beta * C, op(X) = X^T when the flag is set. */
void mm(bool ta, bool tb, mat a, mat b, mat c, float alpha, float beta);

/* Threads BLAS may use (process-wide in OpenBLAS 0.3.21); n >= 1. */
void blas_set_threads(int n);
int blas_get_threads(void);
/* A static string describing the BLAS build (for logs). */
const char *blas_config(void);

/* The upper triangle of C (n x n) = A^T A + beta C, A rows x n. */
void mm_gram(mat a, mat c, float beta);
/* The k largest eigenvalues of the symmetric n x n matrix a (its upper
 * triangle is read; a is destroyed), descending, into val, and their
 * unit eigenvectors as the columns of vec (n x k, row-major). 0, or
 * ARAL_ENOMEM / ARAL_EIO (LAPACK failed). */
int sym_top_eigen(float *a, int n, int k, float *val, float *vec);
