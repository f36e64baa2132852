/* optim: Adam over a net's flat parameter arena, and the learning-rate
 * schedule of the bad-GAN code (hold, then linear decay to 0).
 *
 * Each net carries its own adam_opts (rate, betas, eps) and step count, so
 * one training iteration can step some nets and leave others alone.
 */
#pragma once
#include "net.h"

/* One Adam step on n with learning rate lr (PyTorch's formulation, with
 * bias correction), from the gradients in n->grad with the pending terms
 * of weight-normalised layers (net.h), which it then zeroes: a net that
 * was just stepped is ready to accumulate the next step. It also takes
 * the new weight norms (net.norms). */
void optim_adam_step(net *n, float lr);
/* Forgets the moments and the step count (a fresh optimiser). */
void optim_adam_reset(net *n);
/* base * min(1, (1 - t/total) / (1 - hold)): constant for the first `hold`
 * fraction of `total` steps, then linear to 0. hold in [0, 1). */
float optim_lr_schedule(float base, long t, long total, float hold);
