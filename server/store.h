/* store: the only file that includes sqlite3.h. One store = one SQLite
 * connection, used by one thread (each MHD pool thread and the CLI open
 * their own). All SQL is here, as statements prepared once per connection.
 *
 * Writes: every write happens inside store_begin/store_commit, which take
 * a process-wide mutex and then BEGIN IMMEDIATE, so writers queue on the
 * mutex in microseconds instead of in SQLite's sleeping busy handler
 * (DEPS.md 3.4). Transactions nest: only the outermost begin/commit reach
 * SQLite, and a rollback anywhere makes the outermost commit roll back.
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (the
 * kill -9 test); `full` adds an fsync per commit and survives power loss.
 * Times are unix milliseconds.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

#define STORE_MAX_CLASSES 256
#define STORE_NAME_MAX 64

typedef struct project_info {
    char name[STORE_NAME_MAX];
    int height, width, channels; /* an image project, or */
    int dim;                     /* a vector project (dim > 0) */
    int n_classes;
    char classes[STORE_MAX_CLASSES][STORE_NAME_MAX];
    char keys[STORE_MAX_CLASSES][8];
} project_info;

/* The most values a sample may have (h*w*c, or dim). ARAL's networks
 * read a sample as one vector, and their first and last layers grow with
 * it: aral-sim on 1,400 random images, 20 iterations on 2 threads, peaked
 * at 230 MB in 1.9 s at 28x28 and at 1.6 GB in 14.6 s at 128x128 (16384
 * values). A photo-sized project (224x224x3, 150528) would take GBs of
 * weights and hours a round, or fail every round out of memory. */
#define PROJECT_MAX_VALUES 16384

/* Bytes of one sample: h*w*c uint8, or dim float32. */
size_t project_sample_bytes(const project_info *p);

/* The largest magnitude a vector may hold. A float32 is finite up to
 * 3.4e38, but the engine squares inputs (reconstruction, batch norm, the
 * start's covariance) and sums the squares over a row and a batch: one
 * sample of 1e38 made every round's losses infinite, for good, since the
 * sample stays in the pool. 1e9 keeps a whole batch's sum of squares far
 * from overflow and is far above any feature or embedding value. The
 * import refuses more; the worker leaves out what a database of an older
 * arald holds. */
#define PROJECT_VECTOR_MAX 1e9

typedef struct sample_row {
    int64_t id;
    char external_id[256];
    bool has_external_id;
    char split[8];
    int known_label; /* -1: none */
    int label;       /* current label, -1: none */
    int64_t label_id;
    int64_t lease_id; /* 0: none */
    int64_t lease_expires;
} sample_row;

typedef struct lease_row {
    int64_t id, sample_id, created_at, expires_at;
    char annotator[STORE_NAME_MAX];
    char state[12];        /* active, done, released */
    int64_t model_version; /* of the ranking that served it; -1: none */
} lease_row;

typedef struct label_row {
    int64_t id, sample_id, lease_id, created_at, retracts;
    int label;             /* -1 for a retraction */
    int64_t model_version; /* -1: none */
    char annotator[STORE_NAME_MAX];
    bool retracted; /* a later row retracts this one */
} label_row;

typedef struct export_row {
    int64_t sample_id, label_id, created_at, model_version;
    int label;
    char external_id[256];
    bool has_external_id;
    bool has_label; /* false: no label in force (export_changes only) */
    int64_t key;    /* what the next page starts after */
    char annotator[STORE_NAME_MAX];
} export_row;

typedef struct store_opts {
    bool create;            /* create the file if missing */
    bool durable_full;      /* synchronous=FULL */
    bool no_autocheckpoint; /* leave checkpoints to store_checkpoint */
} store_opts;

/* Opens path, sets pragmas, applies pending migrations, prepares
 * statements. On error returns NULL with a one-line reason in err (a
 * schema newer than this build is refused). Caller frees: store_close. */
store *store_open(const char *path, store_opts opts, char *err, size_t n);
void store_close(store *st);
int store_schema_version(store *st);
/* The highest migration this build knows. */
int store_schema_latest(void);

/* store_begin fails (ARAL_EIO) when the write lock cannot be had; then
 * the caller holds nothing and must not roll back. Every begin that
 * succeeded ends in exactly one commit or rollback. */
int store_begin(store *st);
int store_commit(store *st);
void store_rollback(store *st);
/* The outermost transaction's place in the order in which writes ran
 * (under the write lock): a later number saw every earlier one's rows.
 * Valid from store_begin until the next one. */
uint64_t store_write_seq(const store *st);

/* Project: init once; get fails with ARAL_ENOTFOUND before init. */
int store_project_init(store *st, const project_info *p, int64_t now);
int store_project_get(store *st, project_info *out);
int store_setting_get(store *st, const char *key, char *out, size_t n);
int store_setting_set(store *st, const char *key, const char *value);

/* Inserts a sample unless one with the same hash exists (*dup = true and
 * *id = the existing id). known_label -1 for none. */
int store_sample_insert(store *st, const uint8_t hash[32], const char *ext_id,
                        const char *split, const void *data, size_t len,
                        int known_label, int64_t now, int64_t *id, bool *dup);
int store_sample_get(store *st, int64_t id, sample_row *out);
/* Copies the sample's bytes; caller frees *data with free(). */
int store_sample_data(store *st, int64_t id, uint8_t **data, size_t *len);
/* Pool ids in ascending order; caller frees *ids with free(). */
int store_pool_ids(store *st, int64_t **ids, size_t *n);
/* The largest pool id, 0 for an empty pool. */
int store_pool_max_id(store *st, int64_t *max_id);
/* Calls fn for every pool sample's state (to load the lease table). */
int store_pool_states(store *st,
                      void (*fn)(void *ctx, int64_t id, int label,
                                 int64_t lease_id, int64_t lease_expires),
                      void *ctx);
/* state: NULL, "unlabeled", "leased" or "labeled" (at time now); split
 * NULL or "pool"/"eval". Rows with id > after, ascending, at most limit. */
int store_samples_list(store *st, const char *state, const char *split,
                       int64_t now, int64_t after, int limit,
                       void (*fn)(void *ctx, const sample_row *r), void *ctx);
int store_samples_count(store *st, const char *state, const char *split,
                        int64_t now, int64_t *out);
/* The eval split's samples (an index range: their number, not the
 * pool's). */
int store_eval_count(store *st, int64_t *n);

/* Leases a sample that is free at now (in the pool or not: the caller
 * picks pool samples); ARAL_ECONFLICT, and nothing written, if it is
 * labeled or under a live lease, or if annotator skipped it before. */
typedef struct lease_holder {
    const char *annotator; /* who labels (skips are kept per annotator) */
    int64_t token_id;      /* the token that asked (0: none) */
} lease_holder;

int store_lease_insert(store *st, int64_t sample_id, const lease_holder *who,
                       int64_t now, int64_t expires, int64_t model_version,
                       int64_t *lease_id);
int store_lease_get(store *st, int64_t lease_id, lease_row *out);
/* active -> released, and the sample's lease cleared; skipped keeps
 * the sample from its annotator's later leases. */
int store_lease_release(store *st, int64_t lease_id, int64_t sample_id,
                        bool skipped);

/* Appends a label; sets the sample's current label; closes lease_id (0:
 * none) and clears the sample's lease. model_version: of the ranking
 * that served the sample (-1: none, the random order). */
int store_label_insert(store *st, int64_t sample_id, int label,
                       const char *annotator, int64_t lease_id, int64_t now,
                       int64_t model_version, int64_t *label_id);
int store_label_get(store *st, int64_t label_id, label_row *out);
/* Appends a retraction of label_id and recomputes the sample's current
 * label (*current: -1 if none is left). ARAL_ECONFLICT if label_id is a
 * retraction or already retracted. */
int store_label_undo(store *st, int64_t label_id, const char *annotator,
                     int64_t now, int64_t *retraction_id, int *current);
/* Current labels of samples with id > after, ascending, up to limit. */
/* A page of limit rows with keys (export_row.key) above after: with upto
 * < 0, the labels in force, keyed by sample id (start at 0); else what
 * changed after label id `after` up to upto: each sample that a label or
 * an undo with an id in (after, upto] touched, as it stands now, keyed by
 * that last change's id (start at the cursor of the last export). */
int store_export_page(store *st, int64_t after, int limit, int64_t upto,
                      void (*fn)(void *ctx, const export_row *r), void *ctx);
/* The newest label or undo's id (0 when there is none). */
int store_label_max_id(store *st, int64_t *out);

typedef struct history_row {
    int64_t label_id, sample_id, created_at, model_version; /* -1: none */
    int label;
    char external_id[256];
    bool has_external_id;
    bool retracted; /* undone */
    bool in_force;  /* the sample's current label */
} history_row;

/* The labels (not retractions) annotator gave, newest first, with id <
 * before, up to limit; and how many there are in all. */
int store_history_page(store *st, const char *annotator, int64_t before,
                       int limit, void (*fn)(void *ctx, const history_row *r),
                       void *ctx);
int store_history_count(store *st, const char *annotator, int64_t *out);

typedef struct annotator_stats {
    char annotator[STORE_NAME_MAX];
    int64_t labels, first_at, last_at; /* ms */
} annotator_stats;

/* The labels in force: per_class[c] (classes entries, left as they are
 * for a class without labels), then fn once per annotator for those
 * created at or after `since` (ms), by name. */
int store_label_stats(store *st, int64_t since, int64_t *per_class, int classes,
                      void (*fn)(void *ctx, const annotator_stats *a),
                      void *ctx);

/* Idempotency: ARAL_ENOTFOUND when the key is new; else the stored
 * status, body hash and response (caller frees *response). */
int store_idem_get(store *st, const char *principal, const char *key,
                   uint8_t body_hash[32], int *status, char **response);
int store_idem_put(store *st, const char *principal, const char *key,
                   const uint8_t body_hash[32], int status,
                   const char *response, int64_t now);

/* A bearer token as stored: never its secret, only its hash. */
typedef struct token_row {
    int64_t id, created_at;
    int64_t revoked_at; /* 0 while the token is live */
    char name[STORE_NAME_MAX], role[16];
} token_row;

int store_token_insert(store *st, const char *name, const char *role,
                       const uint8_t hash[32], int64_t now, int64_t *id);
/* The live token with this hash; ARAL_ENOTFOUND if none. */
int store_token_lookup(store *st, const uint8_t hash[32], token_row *out);
/* Any token by id, live or revoked; ARAL_ENOTFOUND if none. */
int store_token_get(store *st, int64_t id, token_row *out);
/* Tokens with ids above after, in id order, limit of them. */
int store_token_page(store *st, int64_t after, int limit,
                     void (*fn)(void *ctx, const token_row *t), void *ctx);
int store_token_count(store *st, int64_t *n);
int store_token_live_admins(store *st, int64_t *n);
/* Revokes a live token: ARAL_ENOTFOUND for no such id, ARAL_ECONFLICT
 * when it is revoked already. */
int store_token_revoke(store *st, int64_t id, int64_t now);
/* Releases the live leases token_id took (not as skips), calling fn
 * (may be NULL) with each one's sample; *released counts them. */
int store_token_leases_release(store *st, int64_t token_id, int64_t now,
                               int (*fn)(void *ctx, int64_t sample_id),
                               void *ctx, int *released);
/* The samples of unexpired leases released of tokens revoked at or after
 * since: what a revocation by another process may have given back. */
int store_revoked_leases(store *st, int64_t since, int64_t now,
                         int (*fn)(void *ctx, int64_t sample_id), void *ctx);
/* The ids of tokens revoked at or after since (unix ms). */
int store_tokens_revoked_since(store *st, int64_t since,
                               void (*fn)(void *ctx, int64_t id), void *ctx);

/* A consistent copy of the database into a new file (VACUUM INTO). */
int store_backup(store *st, const char *to, char *err, size_t n);
/* A PASSIVE WAL checkpoint: copies committed pages into the database
 * without blocking writers (the daemon runs it from its own thread so
 * that no HTTP request pays for checkpoint I/O). */
int store_checkpoint(store *st, int *wal_frames);
/* A RESTART checkpoint under the write lock: copies what is left and
 * makes the next writer start the WAL from its beginning, bounding its
 * size under sustained writes (a PASSIVE checkpoint never catches up
 * with a writer that commits thousands of times a second). */
int store_checkpoint_restart(store *st);
/* PRAGMA integrity_check == "ok". */
bool store_integrity_ok(store *st);

/* ---- the retrain worker's reads and writes. */

/* The samples in bulk, for a round: one read transaction (one snapshot)
 * on the store's own connection, no write lock. Rows in id order; data
 * holds n * each bytes. Free with store_pool_free. */
typedef struct store_pool {
    int n;
    size_t each;
    int64_t *ids;
    bool *eval; /* in the eval split */
    int *label; /* current label, -1: none */
    int *known; /* label that came with the import, -1: none */
    uint8_t *data;
} store_pool;
/* Called with every sample's row but its bytes (data NULL) and keep[]
 * all true: clears keep[i] for the rows whose bytes are not wanted. */
typedef void (*store_pool_choose)(void *ctx, const store_pool *all, bool *keep);
/* The rows choose keeps (NULL: every row), with their bytes. */
int store_pool_read(store *st, size_t each, store_pool_choose choose, void *ctx,
                    store_pool *out);
void store_pool_free(store_pool *p);

/* Models: the engine's checkpoint and its SHA-256 (hex). */
int store_model_put(store *st, const uint8_t *ckpt, size_t len,
                    const char *sha256, int64_t now, int64_t *version);
/* Drops the checkpoint and the ranking of every model older than
 * `newest`; their rows stay, since rounds, leases and labels name them.
 * Only the newest is ever loaded or served, and each round would add
 * both to the file for good (15 MB and 1.4 MB for the 60k demo pool);
 * SQLite reuses the pages for the next round's. */
int store_models_prune(store *st, int64_t newest);
/* Deletes the idempotency keys stored before `before` (ms), in
 * transactions of a few hundred rows, so that no writer waits long;
 * *deleted gets how many. */
int store_idem_prune(store *st, int64_t before, int *deleted);
/* The newest model (ARAL_ENOTFOUND if none); caller frees *ckpt. */
int store_model_latest(store *st, int64_t *version, uint8_t **ckpt, size_t *len,
                       char sha256[65]);

/* A model's ranking, best first (see schema 0002). get allocates the
 * four arrays (caller frees each). */
typedef struct store_ranking {
    char strategy[16];
    size_t n;
    int64_t *ids;
    float *scores;
    int32_t *pseudo;
    float *confidence;
    float *sampler; /* may be NULL: stored before schema 0003 */
} store_ranking;
int store_ranking_put(store *st, int64_t version, const store_ranking *r);
int store_ranking_get(store *st, int64_t version, store_ranking *out);

typedef struct round_row {
    int64_t id;            /* the round number, set by store_round_put */
    int64_t model_version; /* -1: none (failed or cancelled) */
    char status[12];       /* published, failed, cancelled */
    char reason[200];
    char strategy[16];
    int64_t labels_used, seed, iterations, started_at, finished_at;
    double seconds[5];     /* read, train, score, store, publish */
    char losses[512];      /* JSON object */
    double eval_accuracy;  /* < 0: no eval split */
    char per_class[8192];  /* JSON object, "" if none */
    int uncertain_first;   /* score_uncertain_first: 1 or 0; -1 not known */
    int joined_components; /* score_joins_components: 1 or 0; -1 not known */
    /* aral_last_fit: labeled samples D's average and its last step got
     * wrong, and whether the round kept the last step; -1 not known */
    int average_wrong, last_step_wrong, kept_last_step;
} round_row;
int store_round_put(store *st, round_row *r);
/* The store and publish phases, known only after the round's row. */
int store_round_set_seconds(store *st, int64_t id, double store_s,
                            double publish_s);
int store_round_get(store *st, int64_t id, round_row *out);
/* The round that published model version (ARAL_ENOTFOUND if none). */
int store_round_of_model(store *st, int64_t version, round_row *out);
/* Rounds with id > after, ascending, at most limit. */
int store_rounds_list(store *st, int64_t after, int limit,
                      void (*fn)(void *ctx, const round_row *r), void *ctx);
