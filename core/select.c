#include "select.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "err.h"
#include "rng.h"

#define MAX_K 1000   /* TypiClust caps k as well; past it k-means costs */
#define KNN 20       /* neighbours of the typicality (TypiClust's 20) */
#define REF_CAP 1000 /* a cluster's neighbours are sought among these */
#define LLOYD_ITERS 10
#define INIT_CAP 10000  /* k-means++ seeds on a sample of this many rows */
#define SMALL_CLUSTER 5 /* smaller clusters are outliers: covered last */
#define BLOCK 2048      /* rows per distance block */

/* The working state of one call: the embedding, candidates first then the
 * labeled rows, each row L2-normalised. */
typedef struct work {
    float *x, *cent, *cnorm, *typ, *g;
    double *mass; /* per cluster: its size, or its candidates' summed mass */
    int *assign, *start, *members, *labeled;
    int n, n_all, dim, k;
    bool own_x; /* x is a copy, not the caller's scratch */
    rng r;
    bool (*stop)(void *ctx);
    void *stop_ctx;
} work;

/* ARAL_ECANCELED once the caller's stop says so, else 0. */
static int check_stop(const work *w)
{
    return w->stop && w->stop(w->stop_ctx) ? ARAL_ECANCELED : 0;
}

/* src (dim values) scaled to unit length into dst (may be src); zeros
 * stay zeros. */
static void unit_into(float *dst, const float *src, int dim)
{
    double ss = 0;
    for (int j = 0; j < dim; j++)
        ss += (double)src[j] * src[j];
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int j = 0; j < dim; j++)
        dst[j] = src[j] * inv;
}

/* Rows of src, each L2-normalised, into dst (src itself when they are
 * one); polls stop every BLOCK rows (a 60k pool of images takes a
 * while). */
static int normalise_into(const work *w, float *dst, const float *src, int rows,
                          int dim)
{
    for (int i = 0; i < rows; i++) {
        if (i % BLOCK == 0 && check_stop(w))
            return ARAL_ECANCELED;
        unit_into(dst + (size_t)i * dim, src + (size_t)i * dim, dim);
    }
    return 0;
}

void select_join_row(float *dst, const float *a, int da, const float *b, int db)
{
    unit_into(dst, a, da);
    unit_into(dst + da, b, db);
}

void select_join_rows(float *dst, const float *a, int da, const float *b,
                      int db, const int *b_rows, int n)
{
    for (int j = 0; j < n; j++)
        select_join_row(dst + (size_t)j * (da + db), a + (size_t)j * da, da,
                        b + (size_t)(b_rows ? b_rows[j] : j) * db, db);
}

static float *row(const work *w, float *base, int i)
{
    return base + (size_t)i * w->dim;
}

/* The sample k-means++ seeds on: rows of x, gathered contiguous. */
typedef struct seeding {
    float *xs, *cand, *g;
    double *xn, *d2, *cum;
    int s, tries;
} seeding;

/* Index of the sample row where the cumulative weight passes u. */
static int draw(const seeding *sd, double u)
{
    int lo = 0, hi = sd->s - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sd->cum[mid] >= u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Squared distances of the sample to `nc` candidate rows (in sd->cand),
 * into sd->g (s x nc): |x|^2 + |c|^2 - 2 x.c, by one matrix product. */
static void distances(work *w, seeding *sd, int nc)
{
    mat g = mat_view(sd->g, sd->s, nc);
    mm(false, true, mat_view(sd->xs, sd->s, w->dim),
       mat_view(sd->cand, nc, w->dim), g, -2, 0);
    for (int l = 0; l < nc; l++) {
        double cn = 0;
        for (int j = 0; j < w->dim; j++)
            cn += (double)sd->cand[l * w->dim + j] * sd->cand[l * w->dim + j];
        for (int i = 0; i < sd->s; i++) {
            float *v = &mat_row(g, i)[l];
            *v = (float)(*v + sd->xn[i] + cn);
        }
    }
}

/* One centre by greedy k-means++ (as scikit-learn seeds): `tries`
 * candidates drawn by squared distance to the nearest centre so far, the
 * one that lowers the sum of those distances most is kept. The first
 * centre (c == 0, nothing chosen yet) is the first sample row. */
static void next_centre(work *w, seeding *sd, int c)
{
    double total = 0;
    for (int i = 0; c && i < sd->s; i++)
        sd->cum[i] = (total += sd->d2[i]);
    int pick[16], nc = c ? sd->tries : 1;
    for (int l = 0; l < nc; l++) {
        pick[l] = !c          ? 0
                  : total > 0 ? draw(sd, rng_uniform(&w->r) * total)
                              : (int)rng_below(&w->r, (uint32_t)sd->s);
        memcpy(sd->cand + (size_t)l * w->dim, sd->xs + (size_t)pick[l] * w->dim,
               sizeof(float) * w->dim);
    }
    distances(w, sd, nc);
    int best = 0;
    double best_pot = INFINITY;
    for (int l = 0; l < nc; l++) {
        double pot = 0;
        for (int i = 0; i < sd->s; i++) {
            double d = sd->g[(size_t)i * nc + l];
            pot += d < sd->d2[i] ? d : sd->d2[i];
        }
        if (pot < best_pot)
            best_pot = pot, best = l;
    }
    for (int i = 0; i < sd->s; i++) {
        double d = sd->g[(size_t)i * nc + best];
        sd->d2[i] = d < sd->d2[i] ? d : sd->d2[i];
    }
    memcpy(row(w, w->cent, c), sd->xs + (size_t)pick[best] * w->dim,
           sizeof(float) * w->dim);
}

/* k-means++ seeding on a sample of at most INIT_CAP rows. */
static int seed_centres(work *w)
{
    seeding sd = {0};
    sd.s = w->n_all < INIT_CAP ? w->n_all : INIT_CAP;
    sd.tries = 2 + (int)log((double)w->k);
    sd.tries = sd.tries > 16 ? 16 : sd.tries;
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)w->n_all);
    sd.xs = malloc(sizeof(float) * (size_t)sd.s * w->dim);
    sd.cand = malloc(sizeof(float) * (size_t)sd.tries * w->dim);
    sd.g = malloc(sizeof(float) * (size_t)sd.s * sd.tries);
    sd.d2 = malloc(sizeof(double) * (size_t)sd.s);
    sd.xn = malloc(sizeof(double) * (size_t)sd.s);
    sd.cum = malloc(sizeof(double) * (size_t)sd.s);
    int rc = perm && sd.xs && sd.cand && sd.g && sd.d2 && sd.xn && sd.cum
                 ? 0
                 : ARAL_ENOMEM;
    if (!rc) {
        rng_permutation(&w->r, perm, (uint32_t)w->n_all);
        for (int i = 0; i < sd.s; i++) {
            const float *x = row(w, w->x, (int)perm[i]);
            memcpy(sd.xs + (size_t)i * w->dim, x, sizeof(float) * w->dim);
            double n2 = 0;
            for (int j = 0; j < w->dim; j++)
                n2 += (double)x[j] * x[j];
            sd.xn[i] = n2, sd.d2[i] = INFINITY;
        }
        for (int c = 0; c < w->k && !(rc = check_stop(w)); c++)
            next_centre(w, &sd, c);
    }
    free(perm), free(sd.xs), free(sd.cand), free(sd.g), free(sd.d2);
    free(sd.xn), free(sd.cum);
    return rc;
}

/* Nearest centre of every row (by |c|^2 - 2 x.c, the rows being unit);
 * returns how many rows changed cluster. */
static int assign_rows(work *w)
{
    for (int c = 0; c < w->k; c++) {
        const float *p = row(w, w->cent, c);
        double s = 0;
        for (int j = 0; j < w->dim; j++)
            s += (double)p[j] * p[j];
        w->cnorm[c] = (float)s;
    }
    mat cm = mat_view(w->cent, w->k, w->dim);
    int changed = 0;
    for (int at = 0; at < w->n_all; at += BLOCK) {
        int b = w->n_all - at < BLOCK ? w->n_all - at : BLOCK;
        mat g = mat_view(w->g, b, w->k);
        mm(false, true, mat_view(row(w, w->x, at), b, w->dim), cm, g, 1, 0);
        for (int i = 0; i < b; i++) {
            const float *gi = mat_row(g, i);
            int best = 0;
            float bv = w->cnorm[0] - 2 * gi[0];
            for (int c = 1; c < w->k; c++) {
                float v = w->cnorm[c] - 2 * gi[c];
                if (v < bv)
                    bv = v, best = c;
            }
            changed += w->assign[at + i] != best;
            w->assign[at + i] = best;
        }
    }
    return changed;
}

/* Centres as their members' means; an emptied cluster takes a random row. */
static void update_centres(work *w, int *count)
{
    memset(w->cent, 0, sizeof(float) * (size_t)w->k * w->dim);
    memset(count, 0, sizeof(int) * (size_t)w->k);
    for (int i = 0; i < w->n_all; i++) {
        float *c = row(w, w->cent, w->assign[i]);
        const float *x = row(w, w->x, i);
        for (int j = 0; j < w->dim; j++)
            c[j] += x[j];
        count[w->assign[i]]++;
    }
    for (int c = 0; c < w->k; c++) {
        float *p = row(w, w->cent, c);
        if (!count[c]) {
            int i = (int)rng_below(&w->r, (uint32_t)w->n_all);
            memcpy(p, row(w, w->x, i), sizeof(float) * w->dim);
            continue;
        }
        for (int j = 0; j < w->dim; j++)
            p[j] /= (float)count[c];
    }
}

static int cluster(work *w)
{
    int *count = malloc(sizeof(int) * (size_t)w->k);
    int rc = count ? seed_centres(w) : ARAL_ENOMEM;
    for (int i = 0; !rc && i < w->n_all; i++)
        w->assign[i] = -1;
    for (int it = 0; !rc && it < LLOYD_ITERS; it++) {
        if ((rc = check_stop(w)) != 0)
            break;
        int changed = assign_rows(w);
        if (changed <= w->n_all / 1000 && it > 0)
            break;
        update_centres(w, count);
    }
    free(count);
    return rc;
}

/* Members of every cluster, grouped: members[start[c] .. start[c + 1]). */
static void group_members(work *w)
{
    memset(w->start, 0, sizeof(int) * (size_t)(w->k + 1));
    for (int i = 0; i < w->n_all; i++)
        w->start[w->assign[i] + 1]++;
    for (int c = 0; c < w->k; c++)
        w->start[c + 1] += w->start[c];
    int *fill = w->labeled; /* scratch: k ints, reset below */
    memcpy(fill, w->start, sizeof(int) * (size_t)w->k);
    for (int i = 0; i < w->n_all; i++)
        w->members[fill[w->assign[i]]++] = i;
    memset(w->labeled, 0, sizeof(int) * (size_t)w->k);
    for (int i = w->n; i < w->n_all; i++)
        w->labeled[w->assign[i]]++;
}

/* Keeps the KNN smallest of the values offered, in best[0..*have). */
static void keep_smallest(float *best, int *have, float v)
{
    if (*have == KNN && v >= best[KNN - 1])
        return;
    int i = *have < KNN ? (*have)++ : KNN - 1;
    while (i > 0 && best[i - 1] > v) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = v;
}

/* Typicality of the cluster's candidates against ref[0..nr), members of
 * the same cluster: 1 / mean distance to the nearest KNN of them. */
static void typicality(work *w, const int *mem, int nm, const int *ref, int nr,
                       float *refbuf, float *rowbuf)
{
    for (int j = 0; j < nr; j++)
        memcpy(row(w, refbuf, j), row(w, w->x, ref[j]), sizeof(float) * w->dim);
    for (int at = 0; at < nm; at += BLOCK / 2) {
        int b = nm - at < BLOCK / 2 ? nm - at : BLOCK / 2;
        for (int i = 0; i < b; i++)
            memcpy(row(w, rowbuf, i), row(w, w->x, mem[at + i]),
                   sizeof(float) * w->dim);
        mat g = mat_view(w->g, b, nr);
        mm(false, true, mat_view(rowbuf, b, w->dim),
           mat_view(refbuf, nr, w->dim), g, 1, 0);
        for (int i = 0; i < b; i++) {
            int self = mem[at + i];
            if (self >= w->n)
                continue; /* a labeled member: no typicality needed */
            float best[KNN];
            int have = 0;
            for (int j = 0; j < nr; j++)
                if (ref[j] != self) {
                    float d = 2.0f - 2.0f * mat_row(g, i)[j];
                    keep_smallest(best, &have, sqrtf(d > 0 ? d : 0));
                }
            double sum = 0;
            for (int j = 0; j < have; j++)
                sum += best[j];
            w->typ[self] = have ? (float)(1.0 / (sum / have + 1e-6)) : 0.0f;
        }
    }
}

static int all_typicality(work *w)
{
    int cap = REF_CAP;
    float *refbuf = malloc(sizeof(float) * (size_t)cap * w->dim);
    float *rowbuf = malloc(sizeof(float) * (size_t)(BLOCK / 2) * w->dim);
    int *ref = malloc(sizeof(int) * (size_t)cap);
    uint32_t *pick = malloc(sizeof(uint32_t) * (size_t)w->n_all);
    int rc = refbuf && rowbuf && ref && pick ? 0 : ARAL_ENOMEM;
    for (int c = 0; !rc && c < w->k && !(rc = check_stop(w)); c++) {
        const int *mem = w->members + w->start[c];
        int nm = w->start[c + 1] - w->start[c], nr = nm < cap ? nm : cap;
        if (nm <= cap) {
            memcpy(ref, mem, sizeof(int) * (size_t)nm);
        } else { /* a seeded sample of the cluster stands for it */
            rng_permutation(&w->r, pick, (uint32_t)nm);
            for (int j = 0; j < nr; j++)
                ref[j] = mem[pick[j]];
        }
        typicality(w, mem, nm, ref, nr, refbuf, rowbuf);
    }
    free(refbuf), free(rowbuf), free(ref), free(pick);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    const select_keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void select_sort_keyed(select_keyed *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), by_key);
}

/* Sorts mem[0..n) by key(i) ascending, ties by index; tmp holds n. */
static void sort_by(int *mem, int n, const float *key, float sign,
                    select_keyed *tmp)
{
    for (int j = 0; j < n; j++)
        tmp[j] = (select_keyed){sign * key[mem[j]], mem[j]};
    select_sort_keyed(tmp, n);
    for (int j = 0; j < n; j++)
        mem[j] = tmp[j].i;
}

/* Each cluster's candidates (labeled members moved to its end), most
 * typical first; with S, the typical half lowest S first. Returns the
 * candidate count per cluster in cand[]. */
static int order_clusters(work *w, const float *sampler, int *cand)
{
    select_keyed *tmp = malloc(sizeof(select_keyed) * (size_t)w->n);
    if (!tmp)
        return ARAL_ENOMEM;
    for (int c = 0; c < w->k; c++) {
        int *mem = w->members + w->start[c];
        int nm = w->start[c + 1] - w->start[c], nc = 0;
        for (int i = 0; i < nm; i++)
            if (mem[i] < w->n) {
                int t = mem[nc];
                mem[nc++] = mem[i], mem[i] = t;
            }
        cand[c] = nc;
        sort_by(mem, nc, w->typ, -1.0f, tmp);
        if (sampler)
            sort_by(mem, (nc + 1) / 2, sampler, 1.0f, tmp);
    }
    free(tmp);
    return 0;
}

/* Each cluster's mass: its size, or its candidates' summed mass. */
static void cluster_mass(work *w, const float *mass)
{
    for (int c = 0; c < w->k; c++) {
        int nm = w->start[c + 1] - w->start[c];
        w->mass[c] = mass ? 0.0 : nm;
        for (int i = 0; mass && i < nm; i++) {
            int m = w->members[w->start[c] + i];
            w->mass[c] += m < w->n ? mass[m] : 0.0;
        }
    }
}

/* Is cluster a a better next source than b? Large clusters before
 * outliers, then fewest labels (picks included), then the heavier. */
static bool better(const work *w, const int *got, int a, int b)
{
    int sa = w->start[a + 1] - w->start[a], sb = w->start[b + 1] - w->start[b];
    bool small_a = sa < SMALL_CLUSTER, small_b = sb < SMALL_CLUSTER;
    if (small_a != small_b)
        return small_b;
    if (got[a] != got[b])
        return got[a] < got[b];
    return w->mass[a] > w->mass[b];
}

static void take_round_robin(work *w, const int *cand, int *next, int *order,
                             float *key)
{
    int *got = w->labeled; /* labels per cluster, picks added as taken */
    for (int j = 0; j < w->n; j++) {
        int best = -1;
        for (int c = 0; c < w->k; c++)
            if (next[c] < cand[c] && (best < 0 || better(w, got, c, best)))
                best = c;
        int i = w->members[w->start[best] + next[best]++];
        got[best]++;
        order[j] = i;
        if (key)
            key[i] = (float)j;
    }
}

static void work_free(work *w)
{
    if (w->own_x)
        free(w->x);
    free(w->cent), free(w->cnorm), free(w->typ), free(w->g);
    free(w->assign), free(w->start), free(w->members), free(w->labeled);
    free(w->mass);
}

static int work_init(work *w, const select_in *in, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->n = in->n, w->n_all = in->n + in->n_lab, w->dim = in->dim;
    long k = (long)in->n_lab + (in->budget > 0 ? in->budget : 1);
    k *= in->k_factor > 1 ? in->k_factor : 1;
    k = k < MAX_K ? k : MAX_K;
    w->k = (int)(k < w->n_all ? k : w->n_all);
    rng_seed(&w->r, seed);
    w->stop = in->stop, w->stop_ctx = in->stop_ctx;
    size_t na = (size_t)w->n_all,
           gk = (size_t)(w->k > REF_CAP ? w->k : REF_CAP);
    w->own_x = !in->scratch;
    w->x = in->scratch ? in->scratch : malloc(sizeof(float) * na * w->dim);
    w->cent = malloc(sizeof(float) * (size_t)w->k * w->dim);
    w->cnorm = malloc(sizeof(float) * (size_t)w->k);
    w->typ = calloc((size_t)w->n, sizeof(float));
    w->g = malloc(sizeof(float) * BLOCK * gk);
    w->assign = malloc(sizeof(int) * na);
    w->start = malloc(sizeof(int) * (size_t)(w->k + 1));
    w->members = malloc(sizeof(int) * na);
    w->labeled = malloc(sizeof(int) * (size_t)w->k);
    w->mass = malloc(sizeof(double) * (size_t)w->k);
    if (!w->x || !w->cent || !w->cnorm || !w->typ || !w->g || !w->assign ||
        !w->start || !w->members || !w->labeled || !w->mass)
        return ARAL_ENOMEM;
    if (in->scratch)
        return normalise_into(w, w->x, w->x, w->n_all, w->dim);
    int rc = normalise_into(w, w->x, in->feat, in->n, in->dim);
    if (!rc && in->n_lab)
        rc = normalise_into(w, row(w, w->x, in->n), in->lab_feat, in->n_lab,
                            in->dim);
    return rc;
}

int select_typical(const select_in *in, uint64_t seed, int *order, float *key)
{
    if (in->n < 0 || in->n_lab < 0 || in->dim < 1 ||
        (!in->scratch &&
         ((in->n_lab && !in->lab_feat) || (in->n && !in->feat))))
        return ARAL_EINVAL;
    if (in->n == 0)
        return 0;
    work w;
    int rc = work_init(&w, in, seed);
    int *cand = rc ? NULL : malloc(sizeof(int) * (size_t)w.k);
    int *next = rc ? NULL : calloc((size_t)w.k, sizeof(int));
    rc = rc ? rc : cand && next ? cluster(&w) : ARAL_ENOMEM;
    if (!rc) {
        group_members(&w);
        rc = all_typicality(&w);
    }
    if (!rc) {
        cluster_mass(&w, in->mass);
        rc = order_clusters(&w, in->sampler, cand);
    }
    if (!rc)
        take_round_robin(&w, cand, next, order, key);
    free(cand), free(next);
    work_free(&w);
    return rc;
}
