/* pca: rows of a data set as their whitened principal components, the
 * label-free start's embedding (no model, no label yet: worker.c and
 * aral-sim). The top k eigenvectors of the rows' covariance, each scaled
 * by 1/sqrt of its eigenvalue, so every kept direction has unit variance:
 * the few directions of largest variance no longer outweigh the rest in
 * the distances k-means and typicality use. Typical picks in these
 * against picks in the raw pixels: bench/results, start-whiten-tr-n12
 * and start-typical-tr-n12.
 *
 * The rows are read twice through a callback in chunks, never held
 * whole: a 60k pool of images is 188 MB as floats, 12 MB as 50
 * components. Directions without variance (constant features, or a
 * single row) come out as zeros. Allocates its working arrays once per
 * call. */
#pragma once
#include <stdbool.h>

/* Writes rows first..first+n-1 of the data (dim floats each) into out;
 * returns false to cancel the call. */
typedef bool (*pca_rows_fn)(void *ctx, int first, int n, float *out);

/* The default number of components (min with dim). */
#define PCA_START_DIM 50
/* Wider rows cost too much here (the covariance alone is dim^2 floats,
 * and the eigensolver's time grows with dim^3): callers cluster them as
 * they are. */
#define PCA_MAX_DIM 2048

/* The width of the label-free start's embedding for rows of dim values:
 * PCA_START_DIM components (dim itself when fewer), or dim for rows
 * wider than PCA_MAX_DIM, which are clustered as they are. The daemon
 * and aral-sim both ask here, so their starts stay the same. */
static inline int pca_start_dim(int dim)
{
    return dim < PCA_START_DIM || dim > PCA_MAX_DIM ? dim : PCA_START_DIM;
}

/* out (n x k, row-major) gets the n rows in whitened principal
 * components. 0, ARAL_EINVAL (n < 1, k outside 1..dim), ARAL_ENOMEM,
 * ARAL_ECANCELED (rows said so) or ARAL_EIO (the eigensolver failed). */
int pca_whiten(int n, int dim, int k, pca_rows_fn rows, void *ctx, float *out);
