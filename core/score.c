#include "score.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"

static const char *const NAMES[] = {"aral", "random", "entropy"};

int strategy_parse(const char *name, strategy *out)
{
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, NAMES[i])) {
            *out = (strategy)i;
            return 0;
        }
    return ARAL_EINVAL;
}

const char *strategy_name(strategy s)
{
    return (unsigned)s < 3 ? NAMES[s] : "unknown";
}

typedef struct keyed {
    float key;
    int pos;
} keyed;

/* Ascending key; ties by position, so the order is stable and portable. */
static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static void fill_keys(strategy s, float *out, const float *ent, int n,
                      uint64_t seed)
{
    if (s == STRATEGY_ENTROPY) {
        for (int i = 0; i < n; i++)
            out[i] = -ent[i];
        return;
    }
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        out[i] = rng_uniform(&r);
}

int score_order(strategy s, const float *sampler, const float *entropy,
                int n, uint64_t seed, int *order, float *key)
{
    float *k = malloc(sizeof(float) * (size_t)(n ? n : 1));
    keyed *all = malloc(sizeof(keyed) * (size_t)(n ? n : 1));
    int rc = k && all ? 0 : ARAL_ENOMEM;
    if (!rc && s == STRATEGY_ARAL)
        memcpy(k, sampler, sizeof(float) * (size_t)n);
    else if (!rc)
        fill_keys(s, k, entropy, n, seed);
    for (int i = 0; !rc && i < n; i++)
        all[i] = (keyed){k[i], i};
    if (!rc) {
        qsort(all, (size_t)n, sizeof(keyed), by_key);
        for (int i = 0; i < n; i++)
            order[i] = all[i].pos;
        if (key)
            memcpy(key, k, sizeof(float) * (size_t)n);
    }
    free(k), free(all);
    return rc;
}

int score_rank(aral *m, strategy s, const aral_data *x, const int *idx,
               int n, uint64_t seed, int *order, float *key)
{
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    int rc = v ? 0 : ARAL_ENOMEM;
    if (!rc && s == STRATEGY_ARAL)
        rc = aral_infer(m, x, idx, n, NULL, NULL, NULL, v);
    else if (!rc && s == STRATEGY_ENTROPY)
        rc = aral_infer(m, x, idx, n, NULL, NULL, v, NULL);
    if (!rc)
        rc = score_order(s, v, v, n, seed, order, key);
    free(v);
    return rc;
}
