#define _GNU_SOURCE /* pthread_setname_np */
#include "worker.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "blas.h"
#include "err.h"
#include "fault.h"
#include "import.h"
#include "json.h"
#include "pca.h"
#include "rng.h"
#include "score.h"
#include "select.h"
#include "util.h"

#define SCORE_CHUNK 2000 /* samples scored between checks for a stop */

/* The training a round runs (core/aral.h): class-balanced labeled
 * batches, rates decayed over the last third, D left as its average over
 * a third of the round, and D's noise at 0.1 on the input and 0.2
 * elsewhere (the reference's 0.3 and 0.5 are tuned for far longer runs).
 * Each was ahead on the validation split at 500 labels, paired over
 * seeds (bench/results: sel_*-tr, noise_*, sel_*-n12). */
static const aral_training SERVICE_TRAINING = {true, true, 1.0f / 3,
                                               true, 0.1f, 0.2f};

/* A fresh model with the service's training; NULL without memory. */
static aral *new_model(int dim, int classes, uint64_t seed)
{
    aral *m = aral_new(dim, classes, seed);
    if (m)
        aral_set_training(m, &SERVICE_TRAINING);
    return m;
}

#define EVENT_GAP_MS 250 /* progress and label events: 4 a second */
#define HEARTBEAT_MS 15000
#define POKE_GAP_MS 20

struct worker {
    struct app *a;
    int64_t last_progress_ms, last_labels_ms, last_beat_ms;
    int64_t labels_sent; /* the count the last labels event gave */
    _Atomic int64_t last_poke_ms;
    store *st;   /* the worker's own connection */
    aral *model; /* NULL until a first round or a stored model */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, requested;
    fault_plan fault; /* of the request that asked for the round */
    int64_t skip_at;  /* labels when a round last found too few; -1 none */
    int64_t train_us;
    /* the label-free start: the pool size it ordered (-1: none yet), the
     * size last seen with the time it was first seen, when the pool first
     * differed from the ordered one (-1: it does not), and how long the
     * last start took */
    int64_t start_pool, seen_pool, seen_ms, waiting_since, start_took_ms;
    int logged_out; /* read_data's left-out rows, as last logged */
    /* the pool's whitened components (score_joins_components): pc_n rows
     * of pc_dim, for the samples pc_ids in that order; kept while a round
     * finds the same pool, since neither labels nor the model move them */
    float *pcs;
    int64_t *pc_ids;
    int pc_n, pc_dim;
    worker_status s;
};

/* Everything a round works on, read in one snapshot. */
typedef struct round_data {
    store_pool pool;
    aral_data x;
    int *lab, *labels, *unl, *pool_idx, *eval_idx;
    int n_lab, n_unl, n_pool, n_eval, classes_seen;
    int n_out, n_out_lab; /* rows left out (row_usable), labeled of them */
    int64_t first_out;    /* the lowest id left out */
} round_data;

/* Phases are timed on the monotonic clock in microseconds: a publish
 * takes well under a millisecond. */
static double secs_since(int64_t t0_us)
{
    return (double)(util_mono_us() - t0_us) / 1e6;
}

static void set_state(worker *w, const char *state)
{
    pthread_mutex_lock(&w->mu);
    snprintf(w->s.state, sizeof(w->s.state), "%s", state);
    pthread_mutex_unlock(&w->mu);
}

static int64_t labeled_now(worker *w);

json *worker_status_json(worker *w, worker_status *s)
{
    worker_status_get(w, s);
    int64_t labeled = labeled_now(w);
    json *o = json_new_object();
    json_set_int(o, "round", s->round);
    if (s->model_version >= 0)
        json_set_int(o, "model_version", s->model_version);
    else
        json_set_null(o, "model_version");
    json_set_str(o, "state", s->state);
    json_set_int(o, "iteration", s->iteration);
    json_set_int(o, "iterations_total", s->iterations_total);
    bool busy = strcmp(s->state, "idle") != 0;
    json_set_num(o, "eta_seconds",
                 busy && s->eta_seconds >= 0 ? s->eta_seconds : NAN);
    json_set_num(o, "eval_accuracy",
                 s->eval_accuracy >= 0 ? s->eval_accuracy : NAN);
    json_set_int(o, "labeled", labeled);
    json_set_int(o, "labels_since_model", labeled - s->labels_at_model);
    json_set_str(o, "last_error", s->last_error[0] ? s->last_error : NULL);
    /* Before a model, the order served: the label-free start's once it
     * is published, random until then. */
    ranking *r = s->model_version >= 0 ? NULL : ranking_acquire(&w->a->ranking);
    json_set_str(o, "strategy",
                 s->model_version >= 0 ? w->a->cfg.strategy
                                       : ranking_strategy(r));
    ranking_release(r);
    return o;
}

char *worker_event_data(worker *w)
{
    worker_status s;
    json *o = worker_status_json(w, &s);
    char *text = json_print(o);
    json_free(o);
    return text;
}

static void emit(worker *w, const char *name)
{
    char *data = worker_event_data(w);
    if (data)
        events_publish(w->a->events, name, data);
    free(data);
}

static bool stopping(worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

/* select.h's stop: the daemon is stopping (a ranking of a large pool
 * takes seconds; the thread is joined within one). */
static bool stop_requested(void *w)
{
    return stopping(w);
}

/* ---- reading. */

static void data_free(round_data *d)
{
    store_pool_free(&d->pool);
    free(d->lab), free(d->labels), free(d->unl);
    free(d->pool_idx), free(d->eval_idx);
}

/* A vector row whose values the engine can square and sum (store.h's
 * PROJECT_VECTOR_MAX); image rows always are. */
static bool row_usable(const round_data *d, int row)
{
    if (!d->x.f32)
        return true;
    const float *v = d->x.f32 + (size_t)row * d->x.dim;
    for (int j = 0; j < d->x.dim; j++)
        if (!(fabsf(v[j]) <= PROJECT_VECTOR_MAX)) /* NaN too */
            return false;
    return true;
}

/* A row left out of training, scoring and the evaluation: it stays in
 * the pool, served after the ranked samples (app_publish_read). */
static void leave_out(round_data *d, int i, int classes)
{
    int64_t id = d->pool.ids[i];
    if (!d->n_out++ || id < d->first_out)
        d->first_out = id;
    int y = d->pool.label[i];
    d->n_out_lab += !d->pool.eval[i] && y >= 0 && y < classes;
}

static int split_rows(round_data *d, int classes)
{
    int n = d->pool.n ? d->pool.n : 1, seen[STORE_MAX_CLASSES] = {0};
    d->lab = malloc(sizeof(int) * (size_t)n);
    d->labels = malloc(sizeof(int) * (size_t)n);
    d->unl = malloc(sizeof(int) * (size_t)n);
    d->pool_idx = malloc(sizeof(int) * (size_t)n);
    d->eval_idx = malloc(sizeof(int) * (size_t)n);
    if (!d->lab || !d->labels || !d->unl || !d->pool_idx || !d->eval_idx)
        return ARAL_ENOMEM;
    for (int i = 0; i < d->pool.n; i++) {
        int y = d->pool.label[i];
        if (!row_usable(d, i)) {
            leave_out(d, i, classes);
            continue;
        }
        if (d->pool.eval[i]) {
            if (d->pool.known[i] >= 0 && d->pool.known[i] < classes)
                d->eval_idx[d->n_eval++] = i;
            continue;
        }
        d->pool_idx[d->n_pool++] = i;
        if (y >= 0 && y < classes) {
            d->classes_seen += !seen[y]++;
            d->lab[d->n_lab] = i, d->labels[d->n_lab++] = y;
        } else {
            d->unl[d->n_unl++] = i;
        }
    }
    return 0;
}

/* With round_candidates set, a pool with more unlabeled samples than
 * that is read as its labeled and eval rows and that many of its
 * unlabeled rows, drawn at random, a new draw each round: a round's
 * memory and its scoring time stay bounded however large the pool
 * grows. The rest of the pool is served after the ranked samples
 * (app_publish_read), which annotators do not reach before the next
 * round. Off by default: the draw costs the picks (aral-sim
 * --candidates; operations.md). */
typedef struct draw {
    int max;
    uint64_t seed;
    int unlabeled; /* in the snapshot */
} draw;

static bool unlabeled_row(const store_pool *all, int i)
{
    return !all->eval[i] && all->label[i] < 0;
}

/* Without memory for the draw every row is read, as before there was
 * one. */
static void draw_rows(void *ctx, const store_pool *all, bool *keep)
{
    draw *c = ctx;
    uint32_t u = 0;
    for (int i = 0; i < all->n; i++)
        u += unlabeled_row(all, i);
    c->unlabeled = (int)u;
    if (c->max <= 0 || u <= (uint32_t)c->max)
        return;
    uint32_t *rows = malloc(sizeof(uint32_t) * u);
    uint32_t *perm = malloc(sizeof(uint32_t) * u);
    if (rows && perm) {
        u = 0;
        for (int i = 0; i < all->n; i++)
            if (unlabeled_row(all, i))
                rows[u++] = (uint32_t)i;
        rng g;
        rng_seed(&g, c->seed);
        rng_permutation(&g, perm, u);
        for (uint32_t j = (uint32_t)c->max; j < u; j++)
            keep[rows[perm[j]]] = false;
    }
    free(rows), free(perm);
}

/* draw_seed: which of a large pool's unlabeled samples are read. */
static int read_data(worker *w, round_data *d, uint64_t draw_seed)
{
    const project_info *p = &w->a->project;
    memset(d, 0, sizeof(*d));
    draw c = {w->a->cfg.round_candidates, draw_seed, 0};
    int rc = store_pool_read(w->st, project_sample_bytes(p), draw_rows, &c,
                             &d->pool);
    int dim = p->dim > 0 ? p->dim : p->height * p->width * p->channels;
    d->x = (aral_data){d->pool.n, dim, NULL, NULL};
    if (p->dim > 0)
        d->x.f32 = (const float *)d->pool.data;
    else
        d->x.u8 = d->pool.data;
    if (!rc)
        rc = split_rows(d, p->n_classes);
    if (!rc && d->n_out != w->logged_out) /* once, not every round */
        fprintf(stderr,
                "arald: worker: %d samples (sample %lld the first) hold "
                "vector values over 1e9 or not finite; they are left out "
                "of training and served unranked\n",
                d->n_out, (long long)d->first_out);
    if (!rc)
        w->logged_out = d->n_out;
    if (!rc && c.max > 0 && c.unlabeled > c.max)
        fprintf(stderr,
                "arald: worker: %d of the pool's %d unlabeled samples "
                "drawn (round_candidates)\n",
                c.max, c.unlabeled);
    return rc;
}

/* ---- training. */

static bool progress(void *ctx, int i, int iters, const aral_losses *l)
{
    worker *w = ctx;
    double per = secs_since(w->train_us) / i;
    pthread_mutex_lock(&w->mu);
    w->s.iteration = i, w->s.iterations_total = iters;
    w->s.eta_seconds = per * (iters - i);
    w->s.losses = *l, w->s.has_losses = true;
    bool go_on = !w->stop;
    pthread_mutex_unlock(&w->mu);
    int64_t now = util_now_ms();
    if (now - w->last_progress_ms >= EVENT_GAP_MS || i == iters) {
        w->last_progress_ms = now;
        emit(w, "round_progress");
    }
    return go_on;
}

static bool losses_finite(const aral_losses *l)
{
    const float *v = &l->d;
    for (int k = 0; k < 7; k++)
        if (!isfinite(v[k]))
            return false;
    return true;
}

/* ---- scoring: every pool sample, ordered by the strategy's key. */

typedef struct scored {
    float *s, *ent, *conf, *feat; /* feat: only when the strategy reads it;
                                   * order_pool reorders it */
    int *pseudo, fd;
    bool joined; /* feat is D's features joined with the whitened components */
} scored;

static void scored_free(scored *o)
{
    free(o->s), free(o->ent), free(o->conf), free(o->feat), free(o->pseudo);
}

/* What the whitened components read rows of (pca.h's callbacks below:
 * the pool's for a round, the start's before any model). */
typedef struct rows_of {
    worker *w;
    const round_data *d;
} rows_of;

/* The pool's rows in pool order, as floats in [0, 1] (images) or as
 * stored; false when the daemon stops meanwhile. */
static bool pool_rows_into(void *ctx, int first, int n, float *out)
{
    const rows_of *s = ctx;
    if (stopping(s->w))
        return false;
    for (int j = 0; j < n; j++)
        aral_data_row(&s->d->x, s->d->pool_idx[first + j],
                      out + (size_t)j * s->d->x.dim);
    return true;
}

/* w->pcs for d's pool (score_joins_components): computed again only when
 * the pool holds other samples, in another order, than last time. */
static int pool_components(worker *w, const round_data *d)
{
    int n = d->n_pool, k = pca_start_dim(d->x.dim);
    size_t m = (size_t)(n ? n : 1);
    int64_t *ids = malloc(sizeof(int64_t) * m);
    if (!ids)
        return ARAL_ENOMEM;
    for (int i = 0; i < n; i++)
        ids[i] = d->pool.ids[d->pool_idx[i]];
    if (w->pcs && w->pc_n == n && w->pc_dim == k &&
        !memcmp(ids, w->pc_ids, sizeof(int64_t) * m)) {
        free(ids);
        return 0;
    }
    free(w->pcs), free(w->pc_ids);
    w->pc_ids = ids, w->pc_n = n, w->pc_dim = k;
    w->pcs = malloc(sizeof(float) * m * (size_t)k);
    rows_of src = {w, d};
    int64_t t = util_mono_us();
    int rc = w->pcs ? pca_whiten(n, d->x.dim, k, pool_rows_into, &src, w->pcs)
                    : ARAL_ENOMEM;
    if (rc) /* nothing half made is kept */
        free(w->pcs), w->pcs = NULL;
    else
        fprintf(stderr,
                "arald: worker: the pool's whitened components (%d samples, "
                "%.2f s), joined to D's features after a random start\n",
                n, secs_since(t));
    return rc;
}

/* D's outputs for the pool; with joined, its features joined with the
 * pool's whitened components (pool_components), chunk by chunk, so that
 * D's features of the whole pool are never held beside the joined ones. */
static int infer_pool(worker *w, round_data *d, strategy st, bool joined,
                      scored *o)
{
    size_t n = (size_t)(d->n_pool ? d->n_pool : 1);
    int fd = strategy_needs_features(st) ? aral_feature_dim(w->model) : 0;
    o->joined = fd && joined;
    o->fd = fd + (o->joined ? w->pc_dim : 0);
    o->s = malloc(sizeof(float) * n);
    o->ent = malloc(sizeof(float) * n);
    o->conf = malloc(sizeof(float) * n);
    o->pseudo = malloc(sizeof(int) * n);
    o->feat = malloc(sizeof(float) * n * (size_t)(o->fd ? o->fd : 1));
    float *df = o->fd > fd ? malloc(sizeof(float) * SCORE_CHUNK * fd) : NULL;
    if (!o->s || !o->ent || !o->conf || !o->pseudo || !o->feat ||
        (o->fd > fd && !df)) {
        free(df);
        return ARAL_ENOMEM;
    }
    int rc = 0;
    for (int at = 0; !rc && at < d->n_pool; at += SCORE_CHUNK) {
        int k = d->n_pool - at < SCORE_CHUNK ? d->n_pool - at : SCORE_CHUNK;
        if (stopping(w)) {
            rc = ARAL_ECANCELED;
            break;
        }
        float *f = df ? df : fd ? o->feat + (size_t)at * fd : NULL;
        aral_out out = {o->pseudo + at, o->conf + at, o->ent + at,
                        o->s + at,      NULL,         f};
        rc = aral_infer_out(w->model, &d->x, d->pool_idx + at, k, &out);
        if (!rc && df) /* rows at..at+k, joined with their components */
            select_join_rows(o->feat + (size_t)at * o->fd, df, fd,
                             w->pcs + (size_t)at * w->pc_dim, w->pc_dim, NULL,
                             k);
    }
    free(df);
    if (rc)
        return rc;
    for (int i = 0; i < d->n_pool; i++)
        if (!isfinite(o->s[i]) || !isfinite(o->conf[i]))
            return ARAL_EINVAL;
    return 0;
}

/* Values src[pos[0..n)] in a new array (caller frees); NULL without
 * memory. */
static float *gather(const float *src, const int *pos, int n)
{
    float *out = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int j = 0; out && j < n; j++)
        out[j] = src[pos[j]];
    return out;
}

/* Moves rows cand[0..nc) of the matrix m (rows of width floats) to its
 * front and rows lab[0..nl) after them, both lists ascending and together
 * every row once. In place, with a buffer for the labeled rows alone: the
 * features are a round's largest array (60 MB for a 60k pool), and a
 * reordered copy of them raised the scoring phase's peak by as much. */
static int cand_then_lab(float *m, int width, const int *cand, int nc,
                         const int *lab, int nl)
{
    size_t row = sizeof(float) * (size_t)width;
    float *keep = malloc(row * (size_t)(nl ? nl : 1));
    if (!keep)
        return ARAL_ENOMEM;
    for (int j = 0; j < nl; j++)
        memcpy(keep + (size_t)j * width, m + (size_t)lab[j] * width, row);
    for (int j = 0; j < nc; j++) /* cand[j] >= j: no row is read after
                                  * it is written over */
        memmove(m + (size_t)j * width, m + (size_t)cand[j] * width, row);
    memcpy(m + (size_t)nc * width, keep, row * (size_t)nl);
    free(keep);
    return 0;
}

/* Pool positions in the strategy's order. The typical strategies see the
 * unlabeled as candidates and the labeled as what covers the clusters;
 * labeled positions (queued again only by an undo) follow them. o->feat
 * is reordered and normalised in place. *uncertain: whether the order put
 * the most uncertain first (score_uncertain_first), for the round's row. */
static int order_pool(worker *w, round_data *d, scored *o, strategy st,
                      int *order, float *key, bool *uncertain)
{
    if (!strategy_needs_features(st)) {
        score_in in = {.n = d->n_pool, .sampler = o->s, .entropy = o->ent};
        *uncertain = score_uncertain_first(st, &in);
        return score_order(st, &in, w->a->cfg.seed, order, key);
    }
    int n = d->n_pool, nc = 0, nl = 0;
    int *cand = malloc(sizeof(int) * (size_t)(n ? n : 1));
    int *lab = malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; cand && lab && i < n; i++) {
        if (d->pool.label[d->pool_idx[i]] >= 0)
            lab[nl++] = i;
        else
            cand[nc++] = i;
    }
    float *cs = cand ? gather(o->s, cand, nc) : NULL;
    float *ce = cand ? gather(o->ent, cand, nc) : NULL;
    int rc = cand && lab && cs && ce ? 0 : ARAL_ENOMEM;
    /* candidates then labeled in one buffer, which select normalises in
     * place */
    if (!rc)
        rc = cand_then_lab(o->feat, o->fd, cand, nc, lab, nl);
    score_in in = {.n = nc,
                   .sampler = cs,
                   .entropy = ce,
                   .scratch = o->feat,
                   .feat_dim = o->fd,
                   .n_lab = nl,
                   .budget = w->a->cfg.retrain_every,
                   .classes = aral_classes(w->model),
                   .uncertain_from = SCORE_UNCERTAIN_FROM,
                   .stop = stop_requested,
                   .stop_ctx = w};
    *uncertain = score_uncertain_first(st, &in);
    if (!rc)
        rc = score_order(st, &in, w->a->cfg.seed, order, NULL);
    for (int j = 0; !rc && j < nc; j++) /* candidate -> pool position */
        order[j] = cand[order[j]];
    for (int j = 0; !rc && j < nl; j++)
        order[nc + j] = lab[j];
    for (int j = 0; !rc && j < n; j++)
        key[order[j]] = (float)j;
    free(cand), free(lab), free(cs), free(ce);
    return rc;
}

/* The pool in the strategy's order (score_order, core/score.h) into
 * *out; each position keeps its sort key as the score. The row learns
 * whether the order put the most uncertain first and in which embedding. */
static int rank_pool(worker *w, round_data *d, scored *o, strategy st,
                     round_row *row, ranking **out)
{
    bool uncertain = false;
    size_t n = (size_t)d->n_pool, m = n ? n : 1;
    int *order = malloc(sizeof(int) * m);
    float *key = malloc(sizeof(float) * m);
    int64_t *ids = malloc(sizeof(int64_t) * m);
    float *sc = malloc(sizeof(float) * m), *cf = malloc(sizeof(float) * m);
    float *sm = malloc(sizeof(float) * m);
    int *ps = malloc(sizeof(int) * m);
    int rc = order && key && ids && sc && ps && cf && sm ? 0 : ARAL_ENOMEM;
    if (!rc)
        rc = order_pool(w, d, o, st, order, key, &uncertain);
    if (!rc)
        row->uncertain_first = uncertain, row->joined_components = o->joined;
    for (size_t j = 0; !rc && j < n; j++) {
        int i = order[j];
        ids[j] = d->pool.ids[d->pool_idx[i]];
        sc[j] = key[i], ps[j] = o->pseudo[i], cf[j] = o->conf[i];
        sm[j] = o->s[i];
    }
    free(order), free(key);
    if (rc) {
        free(ids), free(sc), free(ps), free(cf), free(sm);
        return rc;
    }
    *out = ranking_new_scored(strategy_name(st), -1, n, ids, sc, ps, cf, sm);
    return *out ? 0 : ARAL_ENOMEM;
}

/* ---- evaluation on the eval split. */

static int evaluate(worker *w, round_data *d, round_row *row)
{
    const project_info *p = &w->a->project;
    int right[STORE_MAX_CLASSES] = {0}, total[STORE_MAX_CLASSES] = {0};
    int *pred = malloc(sizeof(int) * (size_t)(d->n_eval ? d->n_eval : 1));
    if (!pred)
        return ARAL_ENOMEM;
    int rc = d->n_eval ? aral_infer(w->model, &d->x, d->eval_idx, d->n_eval,
                                    pred, NULL, NULL, NULL)
                       : 0;
    int all = 0;
    for (int i = 0; !rc && i < d->n_eval; i++) {
        int y = d->pool.known[d->eval_idx[i]];
        total[y]++;
        right[y] += pred[i] == y;
        all += pred[i] == y;
    }
    free(pred);
    row->eval_accuracy = d->n_eval ? all / (double)d->n_eval : -1.0;
    json *pc = json_new_object();
    for (int c = 0; d->n_eval && c < p->n_classes; c++)
        json_set_num(pc, p->classes[c],
                     total[c] ? right[c] / (double)total[c] : NAN);
    char *s = json_print(pc);
    json_free(pc);
    snprintf(row->per_class, sizeof(row->per_class), "%s",
             s && d->n_eval ? s : "");
    free(s);
    return rc;
}

/* ---- storing and publishing. */

static void losses_json(const aral_losses *l, char *out, size_t n)
{
    snprintf(out, n,
             "{\"d\":%.6g,\"d_class\":%.6g,\"fm\":%.6g,\"rec\":%.6g,"
             "\"kl\":%.6g,\"ge\":%.6g,\"s\":%.6g}",
             l->d, l->d_class, l->fm, l->rec, l->kl, l->ge, l->s);
}

static void sha_hex(const uint8_t *buf, size_t len, char out[65])
{
    uint8_t h[32];
    import_sha256(buf, len, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Model, ranking and round in one transaction, which also drops the older
 * models' checkpoints and rankings; *version set. */
static int store_round(worker *w, ranking *r, round_row *row, int64_t *version)
{
    size_t len = aral_save_size(w->model);
    uint8_t *buf = malloc(len);
    char sha[65];
    if (!buf || aral_save(w->model, buf, len) != (long)len) {
        free(buf);
        return ARAL_ENOMEM;
    }
    sha_hex(buf, len, sha);
    int rc = store_begin(w->st);
    if (rc) {
        free(buf);
        return rc;
    }
    rc = store_model_put(w->st, buf, len, sha, util_now_ms(), version);
    free(buf);
    store_ranking sr = {
        "",        r->n, r->ids, r->scores, (int32_t *)r->pseudo, r->confidence,
        r->sampler};
    snprintf(sr.strategy, sizeof(sr.strategy), "%s", r->strategy);
    if (!rc)
        rc = store_ranking_put(w->st, *version, &sr);
    if (!rc)
        rc = store_models_prune(w->st, *version);
    row->model_version = *version;
    snprintf(row->status, sizeof(row->status), "published");
    row->finished_at = util_now_ms();
    if (!rc)
        rc = store_round_put(w->st, row);
    if (rc) {
        store_rollback(w->st);
        return rc;
    }
    return store_commit(w->st);
}

/* The model the last stored checkpoint holds (after a failed round, or
 * at start); NULL when there is none. */
static int load_model(worker *w, int64_t *version)
{
    uint8_t *buf;
    size_t len;
    char sha[65];
    const project_info *p = &w->a->project;
    int dim = p->dim > 0 ? p->dim : p->height * p->width * p->channels;
    aral_free(w->model);
    w->model = NULL;
    *version = -1;
    int rc = store_model_latest(w->st, version, &buf, &len, sha);
    if (rc)
        return rc == ARAL_ENOTFOUND ? 0 : rc;
    w->model = new_model(dim, p->n_classes, w->a->cfg.seed);
    rc = w->model ? aral_load(w->model, buf, len) : ARAL_ENOMEM;
    free(buf);
    if (rc) { /* a damaged checkpoint: the next round starts anew */
        aral_free(w->model);
        w->model = NULL;
    }
    return rc;
}

/* ---- one round. */

static void record_failure(worker *w, round_row *row, int rc, const char *why)
{
    bool cancelled = rc == ARAL_ECANCELED;
    row->model_version = -1; /* a model stored in a rolled-back commit */
    snprintf(row->status, sizeof(row->status), "%s",
             cancelled ? "cancelled" : "failed");
    snprintf(row->reason, sizeof(row->reason), "%s: %s", why,
             aral_strerror(rc));
    row->finished_at = util_now_ms();
    int stored = store_begin(w->st);
    if (!stored && (stored = store_round_put(w->st, row)) != 0)
        store_rollback(w->st);
    else if (!stored)
        stored = store_commit(w->st);
    if (stored)
        fprintf(stderr,
                "arald: worker: a %s round could not be recorded "
                "(%s)\n",
                row->status, aral_strerror(stored));
    int64_t v;
    if (load_model(w, &v)) /* the stored model back, for the next round */
        fprintf(stderr, "arald: worker: the stored model does not load\n");
    pthread_mutex_lock(&w->mu);
    snprintf(w->s.last_error, sizeof(w->s.last_error), "round %lld %s",
             (long long)row->id, row->reason);
    pthread_mutex_unlock(&w->mu);
    emit(w, "round_failed");
    fprintf(stderr, "arald: round %s: %s\n", row->status, row->reason);
}

static int ensure_model(worker *w, const round_data *d)
{
    if (w->model)
        return 0;
    w->model = new_model(d->x.dim, w->a->project.n_classes, w->a->cfg.seed);
    return w->model ? 0 : ARAL_ENOMEM;
}

static void publish(worker *w, ranking *r, round_row *row, int64_t version,
                    int64_t labeled)
{
    int64_t t = util_mono_us();
    app_publish_read(w->a, r); /* with the samples imported meanwhile */
    row->seconds[4] = secs_since(t);
    if (store_begin(w->st) == 0) {
        if (store_round_set_seconds(w->st, row->id, row->seconds[3],
                                    row->seconds[4]))
            store_rollback(w->st);
        else
            store_commit(w->st);
    }
    pthread_mutex_lock(&w->mu);
    w->s.model_version = version;
    w->s.labels_at_model = labeled;
    w->s.eval_accuracy = row->eval_accuracy;
    w->s.rounds_total++;
    memcpy(w->s.round_seconds, row->seconds, sizeof(row->seconds));
    w->s.last_error[0] = 0;
    pthread_mutex_unlock(&w->mu);
    set_state(w, "idle");
    emit(w, "round_finished");
}

/* How training left D, for the round's row (schema 7), once it ended
 * with finite losses; without an average (not the service's training)
 * nothing is known. */
static void record_fit(round_row *row, aral_fit f)
{
    if (f.average_wrong < 0)
        return;
    row->average_wrong = f.average_wrong;
    row->last_step_wrong = f.last_step_wrong;
    row->kept_last_step = f.last_step;
}

static int train_and_score(worker *w, round_data *d, round_row *row,
                           strategy st, scored *o)
{
    aral_set set = {d->x, d->lab, d->labels, d->n_lab, d->unl, d->n_unl};
    int64_t t = util_mono_us();
    w->train_us = t;
    set_state(w, "training");
    int rc = ensure_model(w, d);
    /* typical-aral as measured (bench: sel_typical-aral, aral-sim
     * --joint-bn 1): E's labeled and unlabeled batches share batch-norm
     * statistics, so S learns "unlike the labeled" rather than telling
     * the two batches apart by their statistics, which is gone at query
     * time. The faithful aral keeps the paper's two passes. */
    if (!rc) {
        aral_set_joint_encoding(w->model, st == STRATEGY_TYPICAL_ARAL);
        rc = aral_train(w->model, &set, (int)row->iterations, progress, w);
    }
    row->seconds[1] = secs_since(t);
    pthread_mutex_lock(&w->mu);
    bool finite = losses_finite(&w->s.losses);
    losses_json(&w->s.losses, row->losses, sizeof(row->losses));
    pthread_mutex_unlock(&w->mu);
    if (!rc && (!finite || fault_hit("train")))
        rc = ARAL_EINVAL;
    if (rc)
        return rc;
    record_fit(row, aral_last_fit(w->model));
    t = util_mono_us();
    set_state(w, "scoring");
    bool joined =
        score_joins_components(st, w->a->cfg.start_typical, d->x.dim) &&
        d->n_pool > 0;
    if (joined)
        rc = pool_components(w, d);
    if (!rc)
        rc = infer_pool(w, d, st, joined, o);
    if (!rc)
        rc = evaluate(w, d, row);
    row->seconds[2] = secs_since(t);
    return rc;
}

/* Trains, scores, stores and publishes on d (read by one_round). */
static void run_round(worker *w, round_row *row, round_data *d)
{
    scored o = {0};
    int64_t t, version = -1;
    row->labels_used = d->n_lab;
    const char *why = "training or scoring";
    strategy st = STRATEGY_DEFAULT; /* main.c let only known names in */
    strategy_parse(w->a->cfg.strategy, &st);
    int rc = train_and_score(w, d, row, st, &o);
    ranking *r = NULL;
    if (!rc) {
        why = "ordering the pool";
        t = util_mono_us(); /* ordering the pool counts as scoring */
        rc = rank_pool(w, d, &o, st, row, &r); /* its version: once stored */
        row->seconds[2] += secs_since(t);
    }
    if (!rc) {
        why = "storing the model";
        t = util_mono_us();
        rc = store_round(w, r, row, &version);
        row->seconds[3] = secs_since(t);
    }
    if (!rc) {
        r->model_version = version; /* not published yet: ours alone */
        publish(w, r, row, version, d->n_lab + d->n_out_lab);
    } else {
        ranking_release(r);
        record_failure(w, row, rc,
                       rc == ARAL_EINVAL ? "losses or scores "
                                           "not finite"
                                         : why);
    }
    scored_free(&o);
}

/* ---- the label-free start. */

#define START_SETTLE_MS 1000 /* a pool still being imported: wait */
/* A pool that never holds still (a pipeline importing without pause) is
 * ordered anyway after this long, or after twice what the last start
 * took if that is longer: the start then takes at most a third of a core
 * while the imports go on. */
#define START_MAX_WAIT_MS 5000

/* The rows the start reads: the unlabeled ones, then the labeled ones,
 * as floats in [0, 1] (images) or as stored; false when the daemon stops
 * meanwhile. */
static bool start_rows_into(void *ctx, int first, int n, float *out)
{
    const rows_of *s = ctx;
    const round_data *d = s->d;
    if (stopping(s->w))
        return false;
    for (int j = first; j < first + n; j++) {
        int row = j < d->n_unl ? d->unl[j] : d->lab[j - d->n_unl];
        aral_data_row(&d->x, row, out + (size_t)(j - first) * d->x.dim);
    }
    return true;
}

/* The start's embedding of the n rows into out: their whitened principal
 * components (k of them), or the rows themselves (k = dim) when they are
 * wider than pca.h takes. */
static bool start_features(worker *w, const round_data *d, int k, float *out)
{
    rows_of src = {w, d};
    int n = d->n_unl + d->n_lab, dim = d->x.dim;
    if (dim <= PCA_MAX_DIM)
        return pca_whiten(n, dim, k, start_rows_into, &src, out) == 0;
    for (int at = 0; at < n; at += SCORE_CHUNK) {
        int rows = n - at < SCORE_CHUNK ? n - at : SCORE_CHUNK;
        if (!start_rows_into(&src, at, rows, out + (size_t)at * dim))
            return false;
    }
    return true;
}

/* The pool in the order of typical picks (select.h) in its whitened
 * principal components (pca.h), with the labeled samples covering their
 * clusters and queued last: the first labels cover the pool's groups,
 * largest first, instead of repeating its commonest kind. Measured in
 * aral-sim's 55k pool with the service's training, 10 seeds: +3.4
 * points at 100 labels over a random start, +1.0 over typical picks in
 * the raw pixels (bench/results, start-whiten-tr-n12; see
 * docs/architecture.md). No model: scores are positions, with no
 * pseudo-label, confidence or S(z). */
static ranking *start_ranking(worker *w, const round_data *d)
{
    int nu = d->n_unl, n = nu + d->n_lab, m = n ? n : 1;
    int k = pca_start_dim(d->x.dim);
    int *order = malloc(sizeof(int) * (size_t)(nu ? nu : 1));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)m);
    float *sc = malloc(sizeof(float) * (size_t)m);
    float *cf = malloc(sizeof(float) * (size_t)m);
    int *ps = malloc(sizeof(int) * (size_t)m);
    /* unlabeled then labeled rows in one buffer, which select
     * normalises in place */
    float *pc = malloc(sizeof(float) * (size_t)m * k);
    score_in in = {.n = nu,
                   .scratch = pc,
                   .feat_dim = k,
                   .n_lab = d->n_lab,
                   .budget = w->a->cfg.retrain_every,
                   .stop = stop_requested,
                   .stop_ctx = w};
    bool ok =
        order && ids && sc && cf && ps && pc && start_features(w, d, k, pc) &&
        score_order(STRATEGY_TYPICAL, &in, w->a->cfg.seed, order, NULL) == 0;
    for (int j = 0; ok && j < n; j++) {
        int row = j < nu ? d->unl[order[j]] : d->lab[j - nu];
        ids[j] = d->pool.ids[row];
        sc[j] = (float)j, ps[j] = -1, cf[j] = NAN;
    }
    free(order), free(pc);
    if (!ok) {
        free(ids), free(sc), free(cf), free(ps);
        return NULL;
    }
    return ranking_new_scored(strategy_name(STRATEGY_TYPICAL), -1, (size_t)n,
                              ids, sc, ps, cf, NULL);
}

/* Whether the start should order a pool of `pool` samples now: it
 * differs from the one ordered last, and it has held still for
 * START_SETTLE_MS or has waited its longest. */
static bool start_due(worker *w, int64_t pool, int64_t now)
{
    if (pool != w->seen_pool)
        w->seen_pool = pool, w->seen_ms = now;
    if (pool == 0 || pool == w->start_pool) {
        w->waiting_since = -1;
        return false;
    }
    if (w->waiting_since < 0)
        w->waiting_since = now;
    int64_t longest = 2 * w->start_took_ms > START_MAX_WAIT_MS
                          ? 2 * w->start_took_ms
                          : START_MAX_WAIT_MS;
    return now - w->seen_ms >= START_SETTLE_MS ||
           now - w->waiting_since >= longest;
}

/* Outside mu, while there is no model: orders the pool by start_ranking
 * when start_due says so (at start, and after imports). The random order
 * serves until then, or when this fails. */
static void maybe_start(worker *w)
{
    lease_counts_t c;
    int64_t now = util_now_ms();
    lease_counts(w->a->leases, now, &c);
    if (!start_due(w, c.pool, now))
        return;
    w->start_pool = c.pool; /* tried once per size, even if it fails */
    w->waiting_since = -1;
    round_data d;
    ranking *r =
        read_data(w, &d, w->a->cfg.seed) == 0 ? start_ranking(w, &d) : NULL;
    data_free(&d);
    w->start_took_ms = util_now_ms() - now;
    if (r) { /* only this thread publishes a model: none came meanwhile */
        app_publish_read(w->a, r);
        emit(w, "state"); /* the status's strategy changed */
    } else if (!stopping(w))
        fprintf(stderr, "arald: worker: the typical start failed; the "
                        "order stays random\n");
}

/* ---- the thread. */

static int64_t labeled_now(worker *w)
{
    lease_counts_t c;
    lease_counts(w->a->leases, util_now_ms(), &c);
    return c.labeled;
}

/* Under mu: whether a round should start now. */
static bool due(worker *w)
{
    int64_t n = labeled_now(w);
    if (w->requested)
        return true;
    if (w->skip_at >= 0 && n == w->skip_at)
        return false; /* the same labels that were too few */
    if (w->s.model_version < 0)
        return n >= w->a->cfg.min_labels;
    return n - w->s.labels_at_model >= w->a->cfg.retrain_every;
}

/* The pool, read once for the round (timed as its read phase), if it
 * has enough labels of enough classes and something left to rank. */
static bool trainable(worker *w, round_row *row, round_data *d)
{
    int64_t t = util_mono_us();
    /* a new draw each round (the seed of round n is seed + n) */
    int rc = read_data(w, d, w->a->cfg.seed + (uint64_t)w->s.round + 1);
    row->seconds[0] = secs_since(t);
    bool ok = !rc && d->n_lab >= w->a->cfg.min_labels && d->classes_seen >= 2 &&
              d->n_unl >= 1;
    if (rc)
        snprintf(row->reason, sizeof(row->reason),
                 "the pool cannot be read: %s", aral_strerror(rc));
    else if (!ok)
        snprintf(row->reason, sizeof(row->reason),
                 "%d labels of %d classes (a round needs %d of 2 classes "
                 "at least, and an unlabeled sample)",
                 d->n_lab, d->classes_seen, w->a->cfg.min_labels);
    return ok;
}

static void one_round(worker *w)
{
    round_row *row = calloc(1, sizeof(*row));
    if (!row)
        return;
    row->uncertain_first = -1; /* both until the pool is ordered */
    row->joined_components = -1;
    row->average_wrong = row->last_step_wrong = row->kept_last_step = -1;
    pthread_mutex_lock(&w->mu);
    w->requested = false;
    int64_t labeled = labeled_now(w);
    fault_arm_plan(w->fault);
    w->fault = (fault_plan){{0}, 0};
    pthread_mutex_unlock(&w->mu);
    snprintf(row->strategy, sizeof(row->strategy), "%s", w->a->cfg.strategy);
    row->iterations = w->a->cfg.round_iters;
    row->seed = (int64_t)w->a->cfg.seed;
    row->started_at = util_now_ms();
    row->eval_accuracy = -1;
    row->model_version = -1;
    round_data d;
    if (!trainable(w, row, &d)) {
        data_free(&d);
        fault_disarm();
        pthread_mutex_lock(&w->mu);
        w->skip_at = labeled;
        snprintf(w->s.last_error, sizeof(w->s.last_error), "%s", row->reason);
        pthread_mutex_unlock(&w->mu);
        free(row);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->skip_at = -1;
    w->s.round++;
    w->s.iteration = 0, w->s.iterations_total = (int)row->iterations;
    w->s.eta_seconds = -1;
    snprintf(w->s.state, sizeof(w->s.state), "training");
    pthread_mutex_unlock(&w->mu);
    emit(w, "round_started");
    run_round(w, row, &d);
    data_free(&d);
    fault_disarm();
    set_state(w, "idle");
    free(row);
}

/* Outside mu: a labels event when the count moved (4 a second at most),
 * and the heartbeat. */
static void tell(worker *w)
{
    int64_t now = util_now_ms(), n = labeled_now(w);
    if (n != w->labels_sent && now - w->last_labels_ms >= EVENT_GAP_MS) {
        w->labels_sent = n, w->last_labels_ms = now;
        emit(w, "labels");
    }
    if (now - w->last_beat_ms >= HEARTBEAT_MS) {
        w->last_beat_ms = now;
        events_heartbeat(w->a->events);
    }
}

/* ms from now, as pthread_cond_timedwait's deadline on w->cv. */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

/* The test hook's hold on the thread's first look (fault.h; 0 otherwise),
 * on w->cv like the loop's own wait, so that worker_stop ends it. */
static void hold_first_look(worker *w)
{
    int ms = fault_worker_delay_ms();
    if (!ms)
        return;
    struct timespec until = deadline_in(ms);
    pthread_mutex_lock(&w->mu);
    while (!w->stop && /* a poke wakes it too: on to the deadline */
           pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&w->mu);
}

static void *main_loop(void *arg)
{
    worker *w = arg;
    hold_first_look(w);
    blas_set_threads(w->a->cfg.train_threads);
    w->labels_sent = labeled_now(w);
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        tell(w);
        pthread_mutex_lock(&w->mu);
        if (!w->stop && w->a->cfg.start_typical && w->s.model_version < 0 &&
            !w->requested) {
            pthread_mutex_unlock(&w->mu);
            maybe_start(w);
            pthread_mutex_lock(&w->mu);
        }
        if (w->stop)
            break;
        if (!due(w)) {
            /* Labels poke; the timeout also catches what a poke missed. */
            struct timespec ts = deadline_in(EVENT_GAP_MS);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        one_round(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- start, stop, status. */

/* The pool the daemon starts with counts as settled: the start orders it
 * at once. Taken here, before HTTP serves, not at the thread's first
 * look: imports that land before that look are a pool still changing,
 * and ordering a part of them at once served that part first. */
static void settled_pool(worker *w)
{
    lease_counts_t c;
    int64_t now = util_now_ms();
    lease_counts(w->a->leases, now, &c);
    w->seen_pool = c.pool;
    w->seen_ms = now - START_SETTLE_MS;
}

/* Model version's stored ranking, and what its round used and measured;
 * NULL (with *rc) when it cannot be read. */
static ranking *load_stored(worker *w, int64_t version, int *rc)
{
    store_ranking sr;
    round_row *row = calloc(1, sizeof(*row));
    *rc = row ? store_ranking_get(w->st, version, &sr) : ARAL_ENOMEM;
    if (*rc) {
        free(row);
        return NULL;
    }
    ranking *r =
        ranking_new_scored(sr.strategy, version, sr.n, sr.ids, sr.scores,
                           (int *)sr.pseudo, sr.confidence, sr.sampler);
    *rc = r ? 0 : ARAL_ENOMEM;
    if (r && store_round_of_model(w->st, version, row) == 0) {
        w->s.labels_at_model = row->labels_used;
        w->s.eval_accuracy = row->eval_accuracy;
    }
    free(row);
    return r;
}

/* At start: the newest model for the next warm start, and the pool
 * published once, in its stored order (samples imported since at the
 * end) or, without one, in a seeded random order. A checkpoint or a
 * ranking that does not load does not stop the daemon: the next round
 * starts from a new model, or the order before any model (start_strategy)
 * serves until it; the status says which. Only the publish failing is an
 * error. */
static int resume(worker *w)
{
    int64_t version = -1;
    int rc = load_model(w, &version), ranked = 0;
    if (rc)
        snprintf(w->s.last_error, sizeof(w->s.last_error),
                 "the stored model %lld does not load (%s): the next round "
                 "starts from a new one",
                 (long long)version, aral_strerror(rc));
    ranking *stored = version >= 0 ? load_stored(w, version, &ranked) : NULL;
    if (ranked)
        snprintf(w->s.last_error, sizeof(w->s.last_error),
                 "the ranking of model %lld cannot be served (%s): the "
                 "order before any model serves until the next round",
                 (long long)version, aral_strerror(ranked));
    w->s.model_version = stored ? version : -1;
    if (w->s.last_error[0])
        fprintf(stderr, "arald: worker: %s\n", w->s.last_error);
    rc = app_publish_pool(w->a, w->st, stored);
    ranking_release(stored);
    return rc;
}

worker *worker_start(struct app *a, char *err, size_t n)
{
    worker *w = calloc(1, sizeof(*w));
    char why[256] = "out of memory";
    store_opts o = {.durable_full = a->cfg.durable_full,
                    .no_autocheckpoint = true};
    if (w)
        w->st = store_open(a->cfg.db, o, why, sizeof(why));
    if (!w || !w->st) {
        snprintf(err, n, "worker: %s", why);
        free(w);
        return NULL;
    }
    w->a = a, w->skip_at = -1;
    w->start_pool = w->waiting_since = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    snprintf(w->s.state, sizeof(w->s.state), "idle");
    w->s.eval_accuracy = -1;
    w->s.model_version = -1;
    int rc = resume(w);
    if (!rc)
        settled_pool(w);
    if (rc)
        snprintf(err, n, "cannot load the pool: %s", aral_strerror(rc));
    else if (pthread_create(&w->thread, NULL, main_loop, w))
        snprintf(err, n, "worker: cannot start its thread"), rc = ARAL_EIO;
    if (rc) {
        aral_free(w->model);
        store_close(w->st);
        free(w);
        return NULL;
    }
    pthread_setname_np(w->thread, "arald-worker");
    return w;
}

void worker_stop(worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    aral_free(w->model);
    free(w->pcs), free(w->pc_ids);
    store_close(w->st);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void worker_poke(worker *w)
{
    /* At most one wake-up per POKE_GAP_MS: at 20k labels a second a
     * wake-up per label would cost the HTTP threads a core. The worker
     * also wakes every EVENT_GAP_MS by itself. */
    if (!w)
        return;
    int64_t now = util_now_ms(), last = atomic_load(&w->last_poke_ms);
    if (now - last < POKE_GAP_MS ||
        !atomic_compare_exchange_strong(&w->last_poke_ms, &last, now))
        return;
    pthread_mutex_lock(&w->mu);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int worker_retrain(worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool busy = strcmp(w->s.state, "idle") != 0 || w->requested;
    if (!busy) {
        w->requested = true;
        w->fault = fault_current();
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return busy ? ARAL_EBUSY : 0;
}

void worker_status_get(worker *w, worker_status *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->s;
    pthread_mutex_unlock(&w->mu);
}
