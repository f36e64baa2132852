/* loss: losses with their gradients. Each returns the loss value (a mean
 * over the batch unless said otherwise) and, when grad.data is not NULL,
 * OVERWRITES grad with weight * dloss/dinput (grad has the input's shape).
 * Callers add gradients from several losses with mat_axpy. The returned
 * value is not multiplied by weight.
 */
#pragma once
#include "tensor.h"

/* Mean softmax cross-entropy of logits (rows x K) against labels. */
double loss_softmax_ce(mat logits, const int *labels, mat grad, float weight);

/* Row-wise log-sum-exp of logits into out[rows] (no gradient). */
void loss_lse_rows(mat logits, float *out);

/* Semi-supervised GAN, real side (Salimans et al. 2016, as in ARAL):
 * mean(-lse(l) + softplus(lse(l))) = mean(-log D(x)) with D = Z/(Z+1). */
double loss_gan_real(mat logits, mat grad, float weight);
/* Fake side: mean(softplus(lse(l))) = mean(-log(1 - D(x))). */
double loss_gan_fake(mat logits, mat grad, float weight);

/* Mean binary cross-entropy of probabilities p (rows x 1) against a
 * constant target (0 or 1); p is clamped as PyTorch does (log >= -100). */
double loss_bce_prob(mat p, float target, mat grad, float weight);
/* The same on logits, computed stably. */
double loss_bce_logits(mat logits, float target, mat grad, float weight);

/* Mean squared error over all entries of a against b; grad w.r.t. a. */
double loss_mse(mat a, mat b, mat grad, float weight);

/* Gaussian KL(N(mu, exp(lv)) || N(0, I)), SUMMED over batch and dimensions
 * (as the ARAL code does). grad_mu, grad_lv overwritten when non-NULL. */
double loss_gauss_kl(mat mu, mat lv, mat grad_mu, mat grad_lv, float weight);

/* Feature matching: mean over features of (mean_batch fa - mean_batch fb)^2.
 * Gradients w.r.t. fa and fb (either may have data NULL). scratch holds
 * 2 * cols floats (caller-owned, so the loss never allocates). */
double loss_feature_match(mat fa, mat fb, mat grad_a, mat grad_b, float weight,
                          float *scratch);
