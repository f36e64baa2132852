#include "score.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"
#include "select.h"

static const char *const NAMES[STRATEGY_COUNT] = {
    "aral",         "random",          "entropy",     "typical",
    "typical-aral", "typical-entropy", "typical-mass"};

int strategy_parse(const char *name, strategy *out)
{
    for (int i = 0; i < STRATEGY_COUNT; i++)
        if (name && !strcmp(name, NAMES[i])) {
            *out = (strategy)i;
            return 0;
        }
    return ARAL_EINVAL;
}

const char *strategy_name(strategy s)
{
    return (unsigned)s < STRATEGY_COUNT ? NAMES[s] : "unknown";
}

const char *strategy_names(void)
{
    return "aral|random|entropy|typical|typical-aral|typical-entropy|"
           "typical-mass";
}

bool strategy_needs_sampler(strategy s)
{
    return s == STRATEGY_ARAL || s == STRATEGY_TYPICAL_ARAL;
}

bool strategy_needs_entropy(strategy s)
{
    return s == STRATEGY_ENTROPY || s == STRATEGY_TYPICAL_ENTROPY ||
           s == STRATEGY_TYPICAL_MASS;
}

bool strategy_needs_features(strategy s)
{
    return s == STRATEGY_TYPICAL || s == STRATEGY_TYPICAL_ARAL ||
           s == STRATEGY_TYPICAL_ENTROPY || s == STRATEGY_TYPICAL_MASS;
}

static void fill_keys(strategy s, const score_in *in, float *out, uint64_t seed)
{
    if (s == STRATEGY_ARAL) {
        memcpy(out, in->sampler, sizeof(float) * (size_t)in->n);
        return;
    }
    if (s == STRATEGY_ENTROPY) {
        for (int i = 0; i < in->n; i++)
            out[i] = -in->entropy[i];
        return;
    }
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < in->n; i++)
        out[i] = rng_uniform(&r);
}

/* The strategies whose order is one sort of a key per candidate. */
static int order_by_key(strategy s, const score_in *in, uint64_t seed,
                        int *order, float *key)
{
    int n = in->n;
    float *k = malloc(sizeof(float) * (size_t)(n ? n : 1));
    select_keyed *all = malloc(sizeof(select_keyed) * (size_t)(n ? n : 1));
    int rc = k && all ? 0 : ARAL_ENOMEM;
    if (!rc) {
        fill_keys(s, in, k, seed);
        for (int i = 0; i < n; i++)
            all[i] = (select_keyed){k[i], i};
        select_sort_keyed(all, n);
        for (int i = 0; i < n; i++)
            order[i] = all[i].i;
        if (key)
            memcpy(key, k, sizeof(float) * (size_t)n);
    }
    free(k), free(all);
    return rc;
}

bool score_uncertain_first(strategy s, const score_in *in)
{
    if (s == STRATEGY_ENTROPY || s == STRATEGY_TYPICAL_ENTROPY)
        return true;
    return s == STRATEGY_TYPICAL_MASS && in->uncertain_from > 0 &&
           in->classes > 0 &&
           (long long)in->n_lab >= (long long)in->uncertain_from * in->classes;
}

int score_order(strategy s, const score_in *in, uint64_t seed, int *order,
                float *key)
{
    if ((unsigned)s >= STRATEGY_COUNT || in->n < 0 ||
        (strategy_needs_sampler(s) && !in->sampler) ||
        (strategy_needs_entropy(s) && !in->entropy))
        return ARAL_EINVAL;
    if (!strategy_needs_features(s))
        return order_by_key(s, in, seed, order, key);
    /* select_typical orders a cluster's typical half by a key, lowest
     * first: S(mu), or minus the entropy */
    float *neg = NULL;
    if (score_uncertain_first(s, in)) {
        neg = malloc(sizeof(float) * (size_t)(in->n ? in->n : 1));
        if (!neg)
            return ARAL_ENOMEM;
        for (int i = 0; i < in->n; i++)
            neg[i] = -in->entropy[i];
    }
    select_in si = {.feat = in->feat,
                    .n = in->n,
                    .dim = in->feat_dim,
                    .lab_feat = in->lab_feat,
                    .n_lab = in->n_lab,
                    .scratch = in->scratch,
                    .budget = in->budget,
                    .k_factor = in->k_factor,
                    .sampler = s == STRATEGY_TYPICAL_ARAL ? in->sampler : neg,
                    .mass = s == STRATEGY_TYPICAL_MASS ? in->entropy : NULL,
                    .stop = in->stop,
                    .stop_ctx = in->stop_ctx};
    int rc = select_typical(&si, seed, order, key);
    free(neg);
    return rc;
}

static float *floats(size_t n)
{
    return malloc(sizeof(float) * (n ? n : 1));
}

bool score_joins_components(strategy s, bool typical_start, int dim)
{
    return s == STRATEGY_TYPICAL_MASS && !typical_start && dim <= PCA_MAX_DIM;
}

/* The rows of D's features df (fd each; the candidates, then the labeled)
 * joined with their whitened components into out. */
static void join_components(const score_pool *p, const float *df, int fd,
                            float *out)
{
    size_t n = (size_t)p->n;
    select_join_rows(out, df, fd, p->pcs, p->pc_dim, p->cand, p->n);
    select_join_rows(out + n * (fd + p->pc_dim), df + n * fd, fd, p->pcs,
                     p->pc_dim, p->lab, p->n_lab);
}

int score_rank(aral *m, strategy s, const score_pool *p, uint64_t seed,
               int *order, float *key)
{
    int fd = aral_feature_dim(m);
    bool feat = strategy_needs_features(s);
    bool joined = feat && p->pcs;
    score_in in = {.n = p->n,
                   .feat_dim = fd,
                   .n_lab = feat ? p->n_lab : 0,
                   .budget = p->budget,
                   .k_factor = p->k_factor,
                   .classes = aral_classes(m),
                   .uncertain_from = p->uncertain_from};
    size_t rows = (size_t)(p->n + p->n_lab);
    float *sampler = strategy_needs_sampler(s) ? floats((size_t)p->n) : NULL;
    float *ent = strategy_needs_entropy(s) ? floats((size_t)p->n) : NULL;
    /* one buffer, candidates then labeled: select normalises it in place;
     * D's features go to a buffer of their own when they are joined */
    float *f =
        feat ? floats(rows * (size_t)(fd + (joined ? p->pc_dim : 0))) : NULL;
    float *df = joined ? floats(rows * (size_t)fd) : f;
    int rc = (strategy_needs_sampler(s) && !sampler) ||
                     (strategy_needs_entropy(s) && !ent) ||
                     (feat && (!f || !df))
                 ? ARAL_ENOMEM
                 : 0;
    aral_out o = {.score = sampler, .entropy = ent, .feat = df};
    if (!rc && s != STRATEGY_RANDOM)
        rc = aral_infer_out(m, p->x, p->cand, p->n, &o);
    aral_out ol = {.feat = df ? df + (size_t)p->n * fd : NULL};
    if (!rc && feat && p->n_lab)
        rc = aral_infer_out(m, p->x, p->lab, p->n_lab, &ol);
    if (!rc && joined)
        join_components(p, df, fd, f);
    if (joined)
        free(df), in.feat_dim = fd + p->pc_dim;
    in.sampler = sampler, in.entropy = ent, in.scratch = f;
    if (!rc)
        rc = score_order(s, &in, seed, order, key);
    free(sampler), free(ent), free(f);
    return rc;
}
