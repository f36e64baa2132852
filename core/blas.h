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
