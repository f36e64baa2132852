/* aral: Adversarial Representation Active Learning (Mottaghi & Yeung,
 * arXiv 1912.09720) on the engine, as ../shared/ARAL.md and the PyTorch
 * reference (shared/bench/ref_aral.py) describe it.
 *
 * Four networks share one model: D (classifier and semi-supervised GAN
 * discriminator), G (conditional generator and VAE decoder), E (conditional
 * encoder: mu and log sigma^2) and S (sampler: P(labeled | mu)). One
 * training iteration updates D, then G and E together, then S. Unlabeled
 * samples are conditioned on D's pseudo-label (one-hot of its arg max).
 *
 * The model owns every buffer it needs, sized at creation for batches of
 * ARAL_BATCH (training) and ARAL_CHUNK (inference); training and scoring
 * allocate nothing. Not thread-safe: one caller at a time.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define ARAL_BATCH 100
#define ARAL_CHUNK 1000
#define ARAL_LATENT 100

typedef struct aral aral;

/* Samples: n rows of dim values, either uint8 (scaled by 1/255, images)
 * or float32. Borrowed by the calls that take it. */
typedef struct aral_data {
    int n, dim;
    const uint8_t *u8;
    const float *f32;
} aral_data;
/* Row `row` of x as dim floats into out (uint8 scaled to [0, 1]). */
void aral_data_row(const aral_data *x, int row, float *out);

/* What one round trains on: indices into x of labeled samples (with their
 * labels) and of unlabeled ones. */
typedef struct aral_set {
    aral_data x;
    const int *labeled, *labels;
    int n_labeled;
    const int *unlabeled;
    int n_unlabeled;
} aral_set;

/* Losses of the last iteration. */
typedef struct aral_losses {
    float d, d_class, fm, rec, kl, ge, s;
} aral_losses;

/* Called after every iteration (i from 1 to iters); return false to stop
 * training (aral_train then returns ARAL_ECANCELED). */
typedef bool (*aral_progress_fn)(void *ctx, int i, int iters,
                                 const aral_losses *l);

/* A model for samples of `dim` values and `classes` classes, initialised
 * from seed. NULL on allocation failure or bad sizes. Free: aral_free. */
aral *aral_new(int dim, int classes, uint64_t seed);
void aral_free(aral *m);
int aral_dim(const aral *m);
int aral_classes(const aral *m);

/* Off (the default) follows the paper's code: E encodes the labeled and
 * the unlabeled batch as two batches (two forward passes there; here one
 * pass with two batch-norm groups, the same math), so batch norm
 * normalises each with its own statistics, and S can tell the sets apart
 * by those statistics alone, which vanish at query time (eval mode uses
 * running averages). On: both batches share one set of statistics.
 * A departure from the reference, measured in bench/, never the default
 * here; arald turns it on for typical-aral's rounds (server/worker.c). */
void aral_set_joint_encoding(aral *m, bool on);

/* Training beyond the reference, all off by default (the reference's
 * way); bench/run_selection.sh measures them:
 *   balanced  labeled batches drawn class-balanced (a uniform class, then
 *             a uniform member), not a pass over a shuffled list;
 *   decay     each round holds the rates for two thirds of its
 *             iterations, then decays them linearly to 0 (the bad-GAN
 *             code's schedule);
 *   ema_span  D leaves each round as the exponential moving average of
 *             its weights over the round's steps, spanning this fraction
 *             of the round's iterations (decay 1 - 1/(span * iters):
 *             0.995 for a third of 600), unless the average gets more of
 *             the labeled set wrong than the last step's D (it took in a
 *             collapse the last step recovered from): then as the last
 *             step's; 0 is off;
 *   own_noise D's Gaussian noise while training has the std noise_in on
 *             the input and noise_hidden before every other layer,
 *             instead of the reference's 0.3 and 0.5 (tuned for rounds
 *             a hundred times longer). Checkpoints keep the reference's
 *             spec either way: noise is training-only. */
typedef struct aral_training {
    bool balanced, decay;
    float ema_span;
    bool own_noise;
    float noise_in, noise_hidden;
} aral_training;
/* Sets them (the average's buffer is allocated here; without memory for
 * it, or for a span outside (0, 1], the average is left off, as
 * aral_get_training then says; noise outside [0, 1] leaves the
 * reference's). */
void aral_set_training(aral *m, const aral_training *t);
aral_training aral_get_training(const aral *m);

/* Trains `iters` iterations on set, warm-starting from the current
 * weights with fresh Adam state (as the authors' code does each cycle).
 * Needs n_labeled >= 1 and n_unlabeled >= 1. progress may be NULL. */
int aral_train(aral *m, const aral_set *set, int iters,
               aral_progress_fn progress, void *ctx);

/* How the last training left D, with an average (ema_span > 0): how
 * many of its labeled samples the average and the last step each got
 * wrong, and whether D left as the last step. The counts are -1 without
 * an average, before any training, and when the last aral_train did not
 * end (cancelled, or out of memory); a call refused for bad input
 * changes nothing. */
typedef struct aral_fit {
    int average_wrong, last_step_wrong;
    bool last_step;
} aral_fit;
aral_fit aral_last_fit(const aral *m);

/* What inference writes, per row (any pointer may be NULL): D's arg max
 * (pseudo-label), its softmax probability (confidence) and entropy; S(mu)
 * with mu = E(x, one-hot pseudo-label) (score; E and S run only when it
 * is asked for); D's logits (rows x classes) and D's feature layer, the
 * last hidden one (rows x aral_feature_dim), row-major. */
typedef struct aral_out {
    int *pseudo;
    float *confidence, *entropy, *score, *logits, *feat;
} aral_out;

/* Inference mode on rows idx[0..n) of x (idx NULL: rows 0..n). */
int aral_infer_out(aral *m, const aral_data *x, const int *idx, int n,
                   const aral_out *out);
/* The same, for the common outputs. */
int aral_infer(aral *m, const aral_data *x, const int *idx, int n, int *pseudo,
               float *confidence, float *entropy, float *score);
int aral_logits(aral *m, const aral_data *x, const int *idx, int n,
                float *logits);
/* Width of D's feature layer (what aral_out.feat gets per row). */
int aral_feature_dim(const aral *m);

/* The networks, for checkpoints and tests (borrowed). */
net *aral_net(aral *m, char which); /* 'D', 'G', 'E' or 'S' */

/* Checkpoint: the four nets in one buffer ("ARALMDL1", dims, then the
 * engine's checkpoint of D, G, E, S, each with its length), without
 * Adam's moments, which aral_train resets anyway (a third of the size);
 * checkpoints that have them still load. */
size_t aral_save_size(const aral *m);
long aral_save(const aral *m, uint8_t *buf, size_t cap);
/* Loads into a model of the same dim and classes; ARAL_EINVAL on any
 * damage or mismatch, and then the model is unchanged. */
int aral_load(aral *m, const uint8_t *buf, size_t len);
