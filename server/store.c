/* store: SQLite behind named prepared statements.
 *
 * Invariants kept here:
 * - samples.label / label_id always equal the latest label row of that
 *   sample that is not a retraction and not retracted (or NULL);
 * - samples.lease_id is set only while that lease is 'active';
 * - labels and leases rows are never deleted (history is append-only).
 * Threads: a store is used by the thread that opened it. The write mutex
 * is process-wide and shared by every store.
 */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "err.h"
#include "fault.h"
#include "util.h"

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_PROJECT_GET,
    S_CLASSES_GET,
    S_SETTING_GET,
    S_SETTING_SET,
    S_SAMPLE_INSERT,
    S_SAMPLE_DATA_INSERT,
    S_SAMPLE_BY_HASH,
    S_SAMPLE_GET,
    S_SAMPLE_DATA,
    S_POOL_IDS,
    S_POOL_MAX_ID,
    S_POOL_STATES,
    S_SAMPLES_LIST,
    S_SAMPLES_COUNT,
    S_EVAL_COUNT,
    S_LEASE_INSERT,
    S_SAMPLE_SET_LEASE,
    S_LEASE_GET,
    S_LEASE_SET_STATE,
    S_SAMPLE_CLEAR_LEASE,
    S_LABEL_INSERT,
    S_SAMPLE_SET_LABEL,
    S_LABEL_GET,
    S_LABEL_RETRACTED,
    S_LABEL_CURRENT,
    S_EXPORT,
    S_EXPORT_CHANGED,
    S_LABEL_MAX_ID,
    S_HISTORY,
    S_HISTORY_COUNT,
    S_STATS_CLASSES,
    S_STATS_ANNOTATORS,
    S_IDEM_GET,
    S_IDEM_PUT,
    S_TOKEN_INSERT,
    S_TOKEN_LOOKUP,
    S_TOKEN_GET,
    S_TOKEN_PAGE,
    S_TOKEN_COUNT,
    S_TOKEN_REVOKE,
    S_TOKEN_LIVE_ADMINS,
    S_TOKEN_REVOKED_SINCE,
    S_TOKEN_LEASES_RELEASE,
    S_REVOKED_LEASES,
    S_COUNT
};

/* A token as token_row holds it (read_token). */
#define TOKEN_COLS "id, name, role, created_at, revoked_at"

/* The sample state filter, shared by list and count: ?1 state, ?2 split,
 * ?3 now. */
#define STATE_FILTER                                                           \
    " (?2 IS NULL OR split = ?2) AND (?1 IS NULL"                              \
    " OR (?1 = 'labeled' AND label IS NOT NULL)"                               \
    " OR (?1 = 'leased' AND label IS NULL AND lease_expires > ?3)"             \
    " OR (?1 = 'unlabeled' AND label IS NULL"                                  \
    "     AND (lease_expires IS NULL OR lease_expires <= ?3)))"

#define SAMPLE_COLS                                                            \
    "id, external_id, split, known_label, label, label_id, lease_id,"          \
    " lease_expires"

static const char *const SQL[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_PROJECT_GET] =
        "SELECT name, height, width, channels, dim FROM project WHERE id = 1",
    [S_CLASSES_GET] = "SELECT id, name, key FROM classes ORDER BY id",
    [S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [S_SETTING_SET] = "INSERT INTO settings(key, value) VALUES (?1, ?2)"
                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_SAMPLE_INSERT] =
        "INSERT INTO samples(hash, external_id, split, known_label,"
        " created_at) VALUES (?1, ?2, ?3, ?5, ?6)"
        " ON CONFLICT(hash) DO NOTHING",
    [S_SAMPLE_DATA_INSERT] =
        "INSERT INTO sample_data(id, data) VALUES (?1, ?2)",
    [S_SAMPLE_BY_HASH] = "SELECT id FROM samples WHERE hash = ?1",
    [S_SAMPLE_GET] = "SELECT " SAMPLE_COLS " FROM samples WHERE id = ?1",
    [S_SAMPLE_DATA] = "SELECT data FROM sample_data WHERE id = ?1",
    [S_POOL_IDS] = "SELECT id FROM samples WHERE split = 'pool' ORDER BY id",
    /* one step down the samples_split index */
    [S_POOL_MAX_ID] =
        "SELECT coalesce(max(id), 0) FROM samples WHERE split = 'pool'",
    [S_POOL_STATES] =
        "SELECT s.id, s.label, s.lease_id, s.lease_expires FROM samples s"
        " WHERE s.split = 'pool'",
    [S_SAMPLES_LIST] = "SELECT " SAMPLE_COLS " FROM samples WHERE id > ?4"
                       " AND" STATE_FILTER " ORDER BY id LIMIT ?5",
    [S_SAMPLES_COUNT] = "SELECT count(*) FROM samples WHERE" STATE_FILTER,
    [S_EVAL_COUNT] = "SELECT count(*) FROM samples WHERE split = 'eval'",
    /* Only on a sample that is free at ?3 (now). */
    [S_LEASE_INSERT] = "INSERT INTO leases(sample_id, annotator, created_at,"
                       " expires_at, model_version, token_id)"
                       " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS"
                       " (SELECT 1 FROM samples WHERE id = ?1 AND label IS"
                       " NULL AND (lease_expires IS NULL OR"
                       " lease_expires <= ?3)) AND NOT EXISTS"
                       " (SELECT 1 FROM leases WHERE sample_id = ?1 AND"
                       " annotator = ?2 AND skipped = 1)",
    [S_SAMPLE_SET_LEASE] =
        "UPDATE samples SET lease_id = ?2, lease_expires = ?3 WHERE id = ?1",
    [S_LEASE_GET] = "SELECT id, sample_id, annotator, created_at, expires_at,"
                    " state, model_version FROM leases WHERE id = ?1",
    [S_LEASE_SET_STATE] = "UPDATE leases SET state = ?2, skipped = ?3"
                          " WHERE id = ?1",
    [S_SAMPLE_CLEAR_LEASE] = "UPDATE samples SET lease_id = NULL,"
                             " lease_expires = NULL WHERE id = ?2"
                             " AND lease_id = ?1",
    [S_LABEL_INSERT] =
        "INSERT INTO labels(sample_id, label, annotator, lease_id, created_at,"
        " model_version, retracts) VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6)",
    [S_SAMPLE_SET_LABEL] =
        "UPDATE samples SET label = ?2, label_id = ?3 WHERE id = ?1",
    [S_LABEL_GET] = "SELECT id, sample_id, label, annotator, lease_id,"
                    " created_at, model_version, retracts FROM labels"
                    " WHERE id = ?1",
    [S_LABEL_RETRACTED] = "SELECT 1 FROM labels WHERE retracts = ?1",
    [S_LABEL_CURRENT] =
        "SELECT l.id, l.label FROM labels l WHERE l.sample_id = ?1"
        " AND l.label IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM labels r WHERE r.retracts = l.id)"
        " ORDER BY l.id DESC LIMIT 1",
    [S_EXPORT] =
        "SELECT s.id, s.external_id, l.id, l.label, l.annotator, l.created_at,"
        " l.model_version FROM samples s JOIN labels l ON l.id = s.label_id"
        " WHERE s.id > ?1 AND s.label IS NOT NULL ORDER BY s.id LIMIT ?2",
    /* The samples that a label or an undo with an id in (?1, ?3] touched,
     * each once, at its last such row (whose id pages it), with its label
     * in force now, or nulls for none. Walking the rows by id, with an
     * index seek (labels_sample) for a later one, costs the rows in the
     * range: since=0 on 100,000 labels takes 0.66 s, a sync after 100
     * labels 2 ms, where a filter of samples by a set rebuilt for each
     * page took 11.6 s for since=0 (bench/run_history.sh). */
    [S_EXPORT_CHANGED] =
        "SELECT s.id, s.external_id, l.id, l.label, l.annotator, l.created_at,"
        " l.model_version, x.id FROM labels x JOIN samples s"
        " ON s.id = x.sample_id LEFT JOIN labels l"
        " ON l.id = s.label_id AND s.label IS NOT NULL"
        " WHERE x.id > ?1 AND x.id <= ?3 AND NOT EXISTS (SELECT 1 FROM labels y"
        " WHERE y.sample_id = x.sample_id AND y.id > x.id AND y.id <= ?3)"
        " ORDER BY x.id LIMIT ?2",
    [S_LABEL_MAX_ID] = "SELECT coalesce(max(id), 0) FROM labels",
    /* Without an index on annotator: the page and its count scan the
     * labels, a median of 8-18 ms a request at 100,000 labels on this
     * machine (bench/run_history.sh). */
    [S_HISTORY] =
        "SELECT l.id, l.sample_id, s.external_id, l.label, l.created_at,"
        " l.model_version, EXISTS (SELECT 1 FROM labels r"
        " WHERE r.retracts = l.id), s.label_id IS l.id"
        " FROM labels l JOIN samples s ON s.id = l.sample_id"
        " WHERE l.annotator = ?1 AND l.label IS NOT NULL AND l.id < ?2"
        " ORDER BY l.id DESC LIMIT ?3",
    [S_HISTORY_COUNT] = "SELECT count(*) FROM labels"
                        " WHERE annotator = ?1 AND label IS NOT NULL",
    [S_STATS_CLASSES] = "SELECT label, count(*) FROM samples"
                        " WHERE label IS NOT NULL GROUP BY label",
    [S_STATS_ANNOTATORS] =
        "SELECT l.annotator, count(*), min(l.created_at), max(l.created_at)"
        " FROM samples s JOIN labels l ON l.id = s.label_id"
        " WHERE s.label IS NOT NULL AND l.created_at >= ?1"
        " GROUP BY l.annotator ORDER BY l.annotator",
    [S_IDEM_GET] = "SELECT body_hash, status, response FROM idempotency"
                   " WHERE principal = ?1 AND key = ?2",
    [S_IDEM_PUT] = "INSERT INTO idempotency(principal, key, body_hash, status,"
                   " response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_TOKEN_INSERT] = "INSERT INTO tokens(name, role, hash, created_at)"
                       " VALUES (?1, ?2, ?3, ?4)",
    [S_TOKEN_LOOKUP] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1"
                       " AND revoked_at IS NULL",
    [S_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1",
    [S_TOKEN_PAGE] = "SELECT " TOKEN_COLS " FROM tokens WHERE id > ?1"
                     " ORDER BY id LIMIT ?2",
    [S_TOKEN_COUNT] = "SELECT count(*) FROM tokens",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2"
                       " WHERE id = ?1 AND revoked_at IS NULL",
    [S_TOKEN_LIVE_ADMINS] = "SELECT count(*) FROM tokens"
                            " WHERE role = 'admin' AND revoked_at IS NULL",
    [S_TOKEN_REVOKED_SINCE] = "SELECT id FROM tokens WHERE revoked_at >= ?1",
    /* RETURNING: the rows are all changed at the first step. */
    [S_TOKEN_LEASES_RELEASE] = "UPDATE leases SET state = 'released'"
                               " WHERE token_id = ?1 AND expires_at > ?2"
                               " AND state = 'active' RETURNING id, sample_id",
    [S_REVOKED_LEASES] = "SELECT l.sample_id FROM tokens t JOIN leases l"
                         " ON l.token_id = t.id WHERE t.revoked_at >= ?1"
                         " AND l.expires_at > ?2 AND l.state = 'released'",
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} conn;

/* Reads outside a transaction go through the store's own connection;
 * everything inside store_begin..commit goes through one writer
 * connection shared by the whole process and used only under
 * write_mutex. One writer keeps its page cache warm: with a writer per
 * thread, every commit made the other connections re-read the pages it
 * touched (measured: 11 preads per lease with 4 writers). */
struct store {
    conn own;
    int depth;   /* nesting of store_begin */
    bool failed; /* a nested level rolled back */
    store_opts opts;
    char path[1024];
    uint64_t epoch; /* the group transaction this store's request is in */
    uint64_t seq;   /* this request's place in the order of writes */
};

static pthread_mutex_t write_mutex = PTHREAD_MUTEX_INITIALIZER;
static conn writer;     /* guarded by write_mutex */
static int open_stores; /* guarded by write_mutex; closes writer at 0 */

static conn *cur(store *st)
{
    return st->depth > 0 ? &writer : &st->own;
}

int store_schema_latest(void)
{
    return schema_migrations[schema_migration_count - 1].version;
}

size_t project_sample_bytes(const project_info *p)
{
    if (p->dim > 0)
        return (size_t)p->dim * sizeof(float);
    return (size_t)p->height * p->width * p->channels;
}

/* ---- helpers over one statement: bind, step, reset. */

static sqlite3_stmt *stmt(store *st, enum stmt_id id)
{
    return cur(st)->st[id];
}

static void done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ARAL_EBUSY;
    case SQLITE_NOMEM:
        return ARAL_ENOMEM;
    case SQLITE_CONSTRAINT:
        return ARAL_ECONFLICT;
    case SQLITE_TOOBIG:
        return ARAL_ETOOBIG;
    default:
        return ARAL_EIO;
    }
}

/* The result of a step that should have found one row. */
static int row_result(int rc)
{
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
}

/* Steps a statement that returns no rows, then resets it. The "busy"
 * fault stands for SQLITE_BUSY from a request's statement, never from
 * BEGIN, COMMIT or ROLLBACK (the first two have faults of their own). */
static int exec(sqlite3_stmt *s)
{
    if (s != writer.st[S_BEGIN] && s != writer.st[S_COMMIT] &&
        s != writer.st[S_ROLLBACK] && fault_hit("busy"))
        return ARAL_EBUSY;
    int rc = sqlite3_step(s);
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void bind_int_or_null(sqlite3_stmt *s, int i, int64_t v, bool null)
{
    if (null)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int64_t col_int(sqlite3_stmt *s, int col, int64_t if_null)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return if_null;
    return sqlite3_column_int64(s, col);
}

/* A statement without parameters that answers one integer (a count). */
static int count_of(store *st, enum stmt_id id, int64_t *out)
{
    sqlite3_stmt *s = stmt(st, id);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

/* ---- open, migrate, close. */

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t n)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        snprintf(err, n, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == 0 &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Applies each migration newer than the file, one transaction each
 * (user_version is transactional, so a failed one leaves no trace). */
static int migrate(sqlite3 *db, char *err, size_t n)
{
    pthread_mutex_lock(&write_mutex);
    int rc = 0, have = user_version(db);
    if (have > store_schema_latest()) {
        snprintf(err, n,
                 "database schema version %d is newer than this arald "
                 "(knows up to %d); upgrade arald",
                 have, store_schema_latest());
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < schema_migration_count; i++) {
        const struct migration *m = &schema_migrations[i];
        if (m->version <= have)
            continue;
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", m->version);
        rc = exec_sql(db, "BEGIN IMMEDIATE", err, n);
        if (!rc && (rc = exec_sql(db, m->sql, err, n)) == 0 &&
            (rc = exec_sql(db, sql, err, n)) == 0)
            rc = exec_sql(db, "COMMIT", err, n);
        if (rc)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&write_mutex);
    return rc;
}

static int configure(sqlite3 *db, store_opts o, char *err, size_t n)
{
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    if (exec_sql(db, "PRAGMA journal_mode=WAL", err, n) ||
        exec_sql(db,
                 o.durable_full ? "PRAGMA synchronous=FULL"
                                : "PRAGMA synchronous=NORMAL",
                 err, n) ||
        exec_sql(db, "PRAGMA foreign_keys=ON", err, n) ||
        (o.no_autocheckpoint &&
         exec_sql(db, "PRAGMA wal_autocheckpoint=0", err, n)))
        return -1;
    return 0;
}

static void conn_close(conn *c)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof(*c));
}

/* Opens, configures and prepares a connection; migrates when asked (the
 * writer is opened under write_mutex, after its store migrated). */
static int conn_open(conn *c, const char *path, store_opts o, bool mig,
                     char *err, size_t n)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (o.create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, n, "cannot open %s: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (configure(c->db, o, err, n) || (mig && migrate(c->db, err, n)))
        goto fail;
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(c->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &c->st[i], NULL) != SQLITE_OK) {
            snprintf(err, n, "prepare %d: %s", i, sqlite3_errmsg(c->db));
            goto fail;
        }
    return 0;
fail:
    conn_close(c);
    return -1;
}

store *store_open(const char *path, store_opts o, char *err, size_t n)
{
    store *st = calloc(1, sizeof(*st));
    if (!st || strlen(path) >= sizeof(st->path)) {
        snprintf(err, n, "out of memory or path too long");
        free(st);
        return NULL;
    }
    if (conn_open(&st->own, path, o, true, err, n)) {
        free(st);
        return NULL;
    }
    st->opts = o;
    snprintf(st->path, sizeof(st->path), "%s", path);
    pthread_mutex_lock(&write_mutex);
    open_stores++;
    pthread_mutex_unlock(&write_mutex);
    return st;
}

void store_close(store *st)
{
    if (!st)
        return;
    conn_close(&st->own);
    pthread_mutex_lock(&write_mutex);
    if (--open_stores == 0 && writer.db)
        conn_close(&writer);
    pthread_mutex_unlock(&write_mutex);
    free(st);
}

int store_schema_version(store *st)
{
    return user_version(st->own.db);
}

/* ---- transactions, with group commit.
 *
 * Requests that write arrive on several HTTP threads at once. Each one
 * runs inside a SAVEPOINT of a transaction on the shared writer
 * connection; when it finishes and another thread is already waiting for
 * the write lock, it does not commit but hands the open transaction on
 * and sleeps until a later request commits it. The last request of a
 * group commits for all (one WAL append and one set of locks instead of
 * one per request). Nobody returns before the COMMIT that holds its
 * work, so "a label is on disk before its 200" still holds; a request
 * that fails rolls back to its own savepoint and leaves the others'
 * work alone. A failed COMMIT fails every request of the group.
 */

#define GROUP_MAX 64

static pthread_cond_t committed_cv = PTHREAD_COND_INITIALIZER;
static atomic_int waiting;              /* threads blocked in store_begin */
static bool in_txn;                     /* the writer has an open transaction */
static int group_size;                  /* requests in the open transaction */
static uint64_t epoch, committed_epoch; /* numbers of transactions */
static uint64_t write_seq; /* requests begun, in write_mutex order */
static int epoch_rc[64];   /* COMMIT result by epoch % 64 */

static int finish(store *st);

static int writer_exec(const char *sql)
{
    return sqlite3_exec(writer.db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : ARAL_EIO;
}

int store_begin(store *st)
{
    if (st->depth++ > 0)
        return 0;
    atomic_fetch_add(&waiting, 1);
    pthread_mutex_lock(&write_mutex);
    atomic_fetch_sub(&waiting, 1);
    st->failed = false;
    char err[256];
    /* One database per process: the first writer opens it for all. The
     * store's own connection already applied any migration. */
    int rc = writer.db ? 0
                       : conn_open(&writer, st->path, st->opts, false, err,
                                   sizeof(err));
    if (!rc && fault_hit("begin"))
        rc = ARAL_EBUSY;
    if (!rc && !in_txn && (rc = exec(writer.st[S_BEGIN])) == 0) {
        in_txn = true;
        epoch++;
        group_size = 0;
    }
    st->epoch = epoch;
    if (!rc)
        rc = writer_exec("SAVEPOINT req");
    if (rc && in_txn) {
        finish(st); /* the group this thread joined must still end */
        return ARAL_EIO;
    }
    if (rc) {
        st->depth = 0;
        pthread_mutex_unlock(&write_mutex);
        return ARAL_EIO;
    }
    st->seq = ++write_seq;
    return 0;
}

uint64_t store_write_seq(const store *st)
{
    return st->seq;
}

/* Ends this request's part of the group: commits the group, or hands it
 * to a waiting thread and sleeps until the group is committed. */
static int finish(store *st)
{
    st->depth = 0;
    if (atomic_load(&waiting) > 0 && ++group_size < GROUP_MAX) {
        uint64_t mine = st->epoch;
        while (committed_epoch < mine)
            pthread_cond_wait(&committed_cv, &write_mutex);
        int rc = epoch_rc[mine % 64];
        pthread_mutex_unlock(&write_mutex);
        return rc;
    }
    int rc = fault_hit("commit") ? ARAL_EIO : exec(writer.st[S_COMMIT]);
    if (rc)
        exec(writer.st[S_ROLLBACK]);
    in_txn = false;
    committed_epoch = epoch;
    epoch_rc[epoch % 64] = rc;
    pthread_cond_broadcast(&committed_cv);
    pthread_mutex_unlock(&write_mutex);
    return rc;
}

int store_commit(store *st)
{
    if (st->depth > 1) {
        st->depth--;
        return st->failed ? ARAL_ECONFLICT : 0;
    }
    if (st->failed) {
        store_rollback(st);
        return ARAL_ECONFLICT;
    }
    int rc = writer_exec("RELEASE req");
    if (rc) {
        writer_exec("ROLLBACK TO req");
        writer_exec("RELEASE req");
    }
    int group = finish(st);
    return rc ? rc : group;
}

void store_rollback(store *st)
{
    if (st->depth > 1) {
        st->depth--;
        st->failed = true;
        return;
    }
    writer_exec("ROLLBACK TO req");
    writer_exec("RELEASE req");
    finish(st); /* the rest of the group still commits */
}

/* ---- project and settings. */

static int insert_project(store *st, const project_info *p, int64_t now)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(
        cur(st)->db,
        "INSERT INTO project(id, name, height, width, channels, dim,"
        " created_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        -1, &s, NULL);
    if (rc)
        return map_rc(rc);
    sqlite3_bind_text(s, 1, p->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, p->height);
    sqlite3_bind_int(s, 3, p->width);
    sqlite3_bind_int(s, 4, p->channels);
    sqlite3_bind_int(s, 5, p->dim);
    sqlite3_bind_int64(s, 6, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int insert_classes(store *st, const project_info *p)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(
        cur(st)->db, "INSERT INTO classes(id, name, key) VALUES (?1, ?2, ?3)",
        -1, &s, NULL);
    for (int i = 0; rc == 0 && i < p->n_classes; i++) {
        sqlite3_bind_int(s, 1, i);
        sqlite3_bind_text(s, 2, p->classes[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, p->keys[i], -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : ARAL_ECONFLICT;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return map_rc(rc) ? map_rc(rc) : rc;
}

int store_project_init(store *st, const project_info *p, int64_t now)
{
    int rc = store_begin(st);
    if (rc)
        return rc;
    rc = insert_project(st, p, now);
    if (!rc)
        rc = insert_classes(st, p);
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st);
}

int store_project_get(store *st, project_info *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = stmt(st, S_PROJECT_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_text(out->name, sizeof(out->name), s, 0);
        out->height = sqlite3_column_int(s, 1);
        out->width = sqlite3_column_int(s, 2);
        out->channels = sqlite3_column_int(s, 3);
        out->dim = sqlite3_column_int(s, 4);
    }
    done(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
    s = stmt(st, S_CLASSES_GET);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
           out->n_classes < STORE_MAX_CLASSES) {
        int i = out->n_classes++;
        copy_text(out->classes[i], sizeof(out->classes[i]), s, 1);
        copy_text(out->keys[i], sizeof(out->keys[i]), s, 2);
    }
    done(s);
    return 0;
}

int store_setting_get(store *st, const char *key, char *out, size_t n)
{
    sqlite3_stmt *s = stmt(st, S_SETTING_GET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        copy_text(out, n, s, 0);
    done(s);
    return row_result(rc);
}

int store_setting_set(store *st, const char *key, const char *value)
{
    sqlite3_stmt *s = stmt(st, S_SETTING_SET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT);
    return exec(s);
}

/* ---- samples. */

int store_sample_insert(store *st, const uint8_t hash[32], const char *ext_id,
                        const char *split, const void *data, size_t len,
                        int known_label, int64_t now, int64_t *id, bool *dup)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLE_INSERT);
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    bind_text_or_null(s, 2, ext_id);
    sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
    bind_int_or_null(s, 5, known_label, known_label < 0);
    sqlite3_bind_int64(s, 6, now);
    int rc = exec(s);
    if (rc)
        return rc;
    *dup = sqlite3_changes(cur(st)->db) == 0;
    if (!*dup) {
        *id = sqlite3_last_insert_rowid(cur(st)->db);
        s = stmt(st, S_SAMPLE_DATA_INSERT);
        sqlite3_bind_int64(s, 1, *id);
        sqlite3_bind_blob64(s, 2, data, len, SQLITE_STATIC);
        return exec(s);
    }
    s = stmt(st, S_SAMPLE_BY_HASH);
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    return rc == SQLITE_ROW ? 0 : ARAL_EIO;
}

static void read_sample(sqlite3_stmt *s, sample_row *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->has_external_id = sqlite3_column_type(s, 1) != SQLITE_NULL;
    copy_text(r->external_id, sizeof(r->external_id), s, 1);
    copy_text(r->split, sizeof(r->split), s, 2);
    r->known_label = (int)col_int(s, 3, -1);
    r->label = (int)col_int(s, 4, -1);
    r->label_id = col_int(s, 5, 0);
    r->lease_id = col_int(s, 6, 0);
    r->lease_expires = col_int(s, 7, 0);
}

int store_sample_get(store *st, int64_t id, sample_row *out)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLE_GET);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_sample(s, out);
    done(s);
    return row_result(rc);
}

/* A copy of a blob column (at least one byte allocated). The blob is
 * asked for before its size, SQLite's documented order. */
static void *blob_copy(sqlite3_stmt *s, int col, size_t *len)
{
    const void *src = sqlite3_column_blob(s, col);
    *len = (size_t)sqlite3_column_bytes(s, col);
    void *p = malloc(*len ? *len : 1);
    if (p && *len)
        memcpy(p, src, *len);
    return p;
}

int store_sample_data(store *st, int64_t id, uint8_t **data, size_t *len)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLE_DATA);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s), out = 0;
    if (rc == SQLITE_ROW) {
        *data = blob_copy(s, 0, len);
        out = *data ? 0 : ARAL_ENOMEM;
    } else {
        out = rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
    }
    done(s);
    return out;
}

int store_pool_ids(store *st, int64_t **ids, size_t *n)
{
    size_t cap = 1024, count = 0;
    int64_t *a = malloc(cap * sizeof(*a));
    sqlite3_stmt *s = stmt(st, S_POOL_IDS);
    int rc = SQLITE_DONE;
    while (a && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fault_hit("read")) { /* the K-th row's step fails */
            rc = SQLITE_IOERR;
            break;
        }
        if (count == cap) {
            int64_t *b = realloc(a, 2 * cap * sizeof(*a));
            if (!b) {
                free(a);
                a = NULL;
                break;
            }
            a = b, cap *= 2;
        }
        a[count++] = sqlite3_column_int64(s, 0);
    }
    done(s);
    if (!a)
        return ARAL_ENOMEM;
    if (rc != SQLITE_DONE) { /* a failed step, not the end of the list */
        free(a);
        return map_rc(rc);
    }
    *ids = a, *n = count;
    return 0;
}

int store_pool_max_id(store *st, int64_t *max_id)
{
    sqlite3_stmt *s = stmt(st, S_POOL_MAX_ID);
    int rc = sqlite3_step(s);
    *max_id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    return row_result(rc);
}

int store_pool_states(store *st,
                      void (*fn)(void *ctx, int64_t id, int label,
                                 int64_t lease_id, int64_t lease_expires),
                      void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_POOL_STATES);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(s, 0), (int)col_int(s, 1, -1),
           col_int(s, 2, 0), col_int(s, 3, 0));
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static void bind_filter(sqlite3_stmt *s, const char *state, const char *split,
                        int64_t now)
{
    bind_text_or_null(s, 1, state);
    bind_text_or_null(s, 2, split);
    sqlite3_bind_int64(s, 3, now);
}

int store_samples_list(store *st, const char *state, const char *split,
                       int64_t now, int64_t after, int limit,
                       void (*fn)(void *ctx, const sample_row *r), void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLES_LIST);
    bind_filter(s, state, split, now);
    sqlite3_bind_int64(s, 4, after);
    sqlite3_bind_int(s, 5, limit);
    int rc;
    sample_row r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_sample(s, &r);
        fn(ctx, &r);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_samples_count(store *st, const char *state, const char *split,
                        int64_t now, int64_t *out)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLES_COUNT);
    bind_filter(s, state, split, now);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

int store_eval_count(store *st, int64_t *n)
{
    return count_of(st, S_EVAL_COUNT, n);
}

/* ---- leases. */

int store_lease_insert(store *st, int64_t sample_id, const lease_holder *who,
                       int64_t now, int64_t expires, int64_t model_version,
                       int64_t *lease_id)
{
    sqlite3_stmt *s = stmt(st, S_LEASE_INSERT);
    sqlite3_bind_int64(s, 1, sample_id);
    sqlite3_bind_text(s, 2, who->annotator, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, expires);
    bind_int_or_null(s, 5, model_version, model_version < 0);
    bind_int_or_null(s, 6, who->token_id, who->token_id <= 0);
    int rc = exec(s);
    if (rc)
        return rc;
    if (sqlite3_changes(cur(st)->db) == 0)
        return ARAL_ECONFLICT;
    *lease_id = sqlite3_last_insert_rowid(cur(st)->db);
    s = stmt(st, S_SAMPLE_SET_LEASE);
    sqlite3_bind_int64(s, 1, sample_id);
    sqlite3_bind_int64(s, 2, *lease_id);
    sqlite3_bind_int64(s, 3, expires);
    return exec(s);
}

int store_lease_get(store *st, int64_t lease_id, lease_row *out)
{
    sqlite3_stmt *s = stmt(st, S_LEASE_GET);
    sqlite3_bind_int64(s, 1, lease_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->sample_id = sqlite3_column_int64(s, 1);
        copy_text(out->annotator, sizeof(out->annotator), s, 2);
        out->created_at = sqlite3_column_int64(s, 3);
        out->expires_at = sqlite3_column_int64(s, 4);
        copy_text(out->state, sizeof(out->state), s, 5);
        out->model_version = col_int(s, 6, -1);
    }
    done(s);
    return row_result(rc);
}

static int lease_close(store *st, int64_t lease_id, int64_t sample_id,
                       const char *state, bool skipped)
{
    sqlite3_stmt *s = stmt(st, S_LEASE_SET_STATE);
    sqlite3_bind_int64(s, 1, lease_id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, skipped);
    int rc = exec(s);
    if (rc)
        return rc;
    s = stmt(st, S_SAMPLE_CLEAR_LEASE);
    sqlite3_bind_int64(s, 1, lease_id);
    sqlite3_bind_int64(s, 2, sample_id);
    return exec(s);
}

int store_lease_release(store *st, int64_t lease_id, int64_t sample_id,
                        bool skipped)
{
    return lease_close(st, lease_id, sample_id, "released", skipped);
}

/* ---- labels. */

static int set_current_label(store *st, int64_t sample_id, int label,
                             int64_t label_id)
{
    sqlite3_stmt *s = stmt(st, S_SAMPLE_SET_LABEL);
    sqlite3_bind_int64(s, 1, sample_id);
    bind_int_or_null(s, 2, label, label < 0);
    bind_int_or_null(s, 3, label_id, label < 0);
    return exec(s);
}

static int insert_label_row(store *st, int64_t sample_id, int label,
                            const char *annotator, int64_t lease_id,
                            int64_t now, int64_t retracts,
                            int64_t model_version, int64_t *id)
{
    sqlite3_stmt *s = stmt(st, S_LABEL_INSERT);
    sqlite3_bind_int64(s, 1, sample_id);
    bind_int_or_null(s, 2, label, label < 0);
    sqlite3_bind_text(s, 3, annotator, -1, SQLITE_TRANSIENT);
    bind_int_or_null(s, 4, lease_id, lease_id <= 0);
    sqlite3_bind_int64(s, 5, now);
    bind_int_or_null(s, 6, retracts, retracts <= 0);
    bind_int_or_null(s, 7, model_version, model_version < 0);
    int rc = exec(s);
    *id = rc ? 0 : sqlite3_last_insert_rowid(cur(st)->db);
    return rc;
}

int store_label_insert(store *st, int64_t sample_id, int label,
                       const char *annotator, int64_t lease_id, int64_t now,
                       int64_t model_version, int64_t *label_id)
{
    int rc = insert_label_row(st, sample_id, label, annotator, lease_id, now, 0,
                              model_version, label_id);
    if (!rc)
        rc = set_current_label(st, sample_id, label, *label_id);
    if (!rc && lease_id > 0)
        rc = lease_close(st, lease_id, sample_id, "done", false);
    return rc;
}

static bool label_retracted(store *st, int64_t label_id)
{
    sqlite3_stmt *s = stmt(st, S_LABEL_RETRACTED);
    sqlite3_bind_int64(s, 1, label_id);
    bool yes = sqlite3_step(s) == SQLITE_ROW;
    done(s);
    return yes;
}

int store_label_get(store *st, int64_t label_id, label_row *out)
{
    sqlite3_stmt *s = stmt(st, S_LABEL_GET);
    sqlite3_bind_int64(s, 1, label_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->sample_id = sqlite3_column_int64(s, 1);
        out->label = (int)col_int(s, 2, -1);
        copy_text(out->annotator, sizeof(out->annotator), s, 3);
        out->lease_id = col_int(s, 4, 0);
        out->created_at = sqlite3_column_int64(s, 5);
        out->model_version = col_int(s, 6, -1);
        out->retracts = col_int(s, 7, 0);
    }
    done(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
    out->retracted = label_retracted(st, label_id);
    return 0;
}

static int current_label(store *st, int64_t sample_id, int *label,
                         int64_t *label_id)
{
    sqlite3_stmt *s = stmt(st, S_LABEL_CURRENT);
    sqlite3_bind_int64(s, 1, sample_id);
    int rc = sqlite3_step(s);
    *label = -1, *label_id = 0;
    if (rc == SQLITE_ROW) {
        *label_id = sqlite3_column_int64(s, 0);
        *label = sqlite3_column_int(s, 1);
    }
    done(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_label_undo(store *st, int64_t label_id, const char *annotator,
                     int64_t now, int64_t *retraction_id, int *current)
{
    label_row l;
    int rc = store_label_get(st, label_id, &l);
    if (rc)
        return rc;
    if (l.label < 0 || l.retracted)
        return ARAL_ECONFLICT;
    rc = insert_label_row(st, l.sample_id, -1, annotator, 0, now, label_id, -1,
                          retraction_id);
    int64_t cur_id;
    if (!rc)
        rc = current_label(st, l.sample_id, current, &cur_id);
    if (!rc)
        rc = set_current_label(st, l.sample_id, *current, cur_id);
    return rc;
}

int store_label_max_id(store *st, int64_t *out)
{
    return count_of(st, S_LABEL_MAX_ID, out);
}

int store_export_page(store *st, int64_t after, int limit, int64_t upto,
                      void (*fn)(void *ctx, const export_row *r), void *ctx)
{
    bool changes = upto >= 0;
    sqlite3_stmt *s = stmt(st, changes ? S_EXPORT_CHANGED : S_EXPORT);
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    if (changes)
        sqlite3_bind_int64(s, 3, upto);
    int rc;
    export_row r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&r, 0, sizeof(r));
        r.sample_id = sqlite3_column_int64(s, 0);
        r.has_external_id = sqlite3_column_type(s, 1) != SQLITE_NULL;
        copy_text(r.external_id, sizeof(r.external_id), s, 1);
        r.has_label = sqlite3_column_type(s, 2) != SQLITE_NULL;
        r.key = changes ? sqlite3_column_int64(s, 7) : r.sample_id;
        r.label_id = sqlite3_column_int64(s, 2);
        r.label = sqlite3_column_int(s, 3);
        copy_text(r.annotator, sizeof(r.annotator), s, 4);
        r.created_at = sqlite3_column_int64(s, 5);
        r.model_version = col_int(s, 6, -1);
        fn(ctx, &r);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_history_page(store *st, const char *annotator, int64_t before,
                       int limit, void (*fn)(void *ctx, const history_row *r),
                       void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_HISTORY);
    sqlite3_bind_text(s, 1, annotator, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, before);
    sqlite3_bind_int(s, 3, limit);
    int rc;
    history_row r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&r, 0, sizeof(r));
        r.label_id = sqlite3_column_int64(s, 0);
        r.sample_id = sqlite3_column_int64(s, 1);
        r.has_external_id = sqlite3_column_type(s, 2) != SQLITE_NULL;
        copy_text(r.external_id, sizeof(r.external_id), s, 2);
        r.label = sqlite3_column_int(s, 3);
        r.created_at = sqlite3_column_int64(s, 4);
        r.model_version = col_int(s, 5, -1);
        r.retracted = sqlite3_column_int(s, 6) != 0;
        r.in_force = sqlite3_column_int(s, 7) != 0;
        fn(ctx, &r);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_history_count(store *st, const char *annotator, int64_t *out)
{
    sqlite3_stmt *s = stmt(st, S_HISTORY_COUNT);
    sqlite3_bind_text(s, 1, annotator, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

/* A read transaction on the store's own connection (outside writes). */
static int read_begin(store *st)
{
    return sqlite3_exec(st->own.db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : ARAL_EBUSY;
}

static void read_end(store *st)
{
    sqlite3_exec(st->own.db, "COMMIT", NULL, NULL, NULL);
}

static int stats_classes(store *st, int64_t *per_class, int classes)
{
    sqlite3_stmt *s = stmt(st, S_STATS_CLASSES);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int c = sqlite3_column_int(s, 0);
        if (c >= 0 && c < classes)
            per_class[c] = sqlite3_column_int64(s, 1);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int stats_annotators(store *st, int64_t since,
                            void (*fn)(void *ctx, const annotator_stats *a),
                            void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_STATS_ANNOTATORS);
    sqlite3_bind_int64(s, 1, since);
    annotator_stats a;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        copy_text(a.annotator, sizeof(a.annotator), s, 0);
        a.labels = sqlite3_column_int64(s, 1);
        a.first_at = sqlite3_column_int64(s, 2);
        a.last_at = sqlite3_column_int64(s, 3);
        fn(ctx, &a);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_label_stats(store *st, int64_t since, int64_t *per_class, int classes,
                      void (*fn)(void *ctx, const annotator_stats *a),
                      void *ctx)
{
    /* Both tables from one snapshot: a label committed between the two
     * statements would count in one and not in the other. */
    if (st->depth > 0 || read_begin(st)) /* GET only: never in a write */
        return ARAL_EBUSY;
    int rc = stats_classes(st, per_class, classes);
    if (!rc && fault_hit("stats_gap"))
        util_sleep_ms(300); /* a test's write lands here */
    if (!rc)
        rc = stats_annotators(st, since, fn, ctx);
    read_end(st);
    return rc;
}

/* ---- idempotency and tokens. */

int store_idem_get(store *st, const char *principal, const char *key,
                   uint8_t body_hash[32], int *status, char **response)
{
    sqlite3_stmt *s = stmt(st, S_IDEM_GET);
    sqlite3_bind_text(s, 1, principal, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s), out = 0;
    if (rc == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(s, 0);
        if (h && sqlite3_column_bytes(s, 0) == 32)
            memcpy(body_hash, h, 32);
        *status = sqlite3_column_int(s, 1);
        const unsigned char *t = sqlite3_column_text(s, 2);
        *response = strdup(t ? (const char *)t : "");
        out = *response ? 0 : ARAL_ENOMEM;
    } else {
        out = rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
    }
    done(s);
    return out;
}

int store_idem_put(store *st, const char *principal, const char *key,
                   const uint8_t body_hash[32], int status,
                   const char *response, int64_t now)
{
    sqlite3_stmt *s = stmt(st, S_IDEM_PUT);
    sqlite3_bind_text(s, 1, principal, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, body_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, status);
    sqlite3_bind_text(s, 5, response, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now);
    return exec(s);
}

int store_token_insert(store *st, const char *name, const char *role,
                       const uint8_t hash[32], int64_t now, int64_t *id)
{
    sqlite3_stmt *s = stmt(st, S_TOKEN_INSERT);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    int rc = exec(s);
    if (!rc)
        *id = sqlite3_last_insert_rowid(cur(st)->db);
    return rc;
}

static void read_token(sqlite3_stmt *s, token_row *t)
{
    t->id = sqlite3_column_int64(s, 0);
    copy_text(t->name, sizeof(t->name), s, 1);
    copy_text(t->role, sizeof(t->role), s, 2);
    t->created_at = sqlite3_column_int64(s, 3);
    t->revoked_at = col_int(s, 4, 0);
}

/* One token row by a statement with one bound parameter. */
static int token_by(store *st, enum stmt_id id, const void *hash, int64_t key,
                    token_row *out)
{
    sqlite3_stmt *s = stmt(st, id);
    if (hash)
        sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_token(s, out);
    done(s);
    return row_result(rc);
}

int store_token_lookup(store *st, const uint8_t hash[32], token_row *out)
{
    return token_by(st, S_TOKEN_LOOKUP, hash, 0, out);
}

int store_token_get(store *st, int64_t id, token_row *out)
{
    return token_by(st, S_TOKEN_GET, NULL, id, out);
}

int store_token_page(store *st, int64_t after, int limit,
                     void (*fn)(void *ctx, const token_row *t), void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_TOKEN_PAGE);
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    int rc;
    token_row t;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_token(s, &t);
        fn(ctx, &t);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_token_count(store *st, int64_t *n)
{
    return count_of(st, S_TOKEN_COUNT, n);
}

int store_token_live_admins(store *st, int64_t *n)
{
    return count_of(st, S_TOKEN_LIVE_ADMINS, n);
}

int store_token_revoke(store *st, int64_t id, int64_t now)
{
    sqlite3_stmt *s = stmt(st, S_TOKEN_REVOKE);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    int rc = exec(s);
    if (rc || sqlite3_changes(cur(st)->db) == 1)
        return rc;
    token_row t;
    rc = store_token_get(st, id, &t);
    return rc ? rc : ARAL_ECONFLICT;
}

int store_tokens_revoked_since(store *st, int64_t since,
                               void (*fn)(void *ctx, int64_t id), void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_TOKEN_REVOKED_SINCE);
    sqlite3_bind_int64(s, 1, since);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(s, 0));
    done(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_token_leases_release(store *st, int64_t token_id, int64_t now,
                               int (*fn)(void *ctx, int64_t sample_id),
                               void *ctx, int *released)
{
    sqlite3_stmt *s = stmt(st, S_TOKEN_LEASES_RELEASE);
    sqlite3_bind_int64(s, 1, token_id);
    sqlite3_bind_int64(s, 2, now);
    int rc = SQLITE_DONE, err = 0;
    *released = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t sample = sqlite3_column_int64(s, 1);
        sqlite3_stmt *c = stmt(st, S_SAMPLE_CLEAR_LEASE);
        sqlite3_bind_int64(c, 1, sqlite3_column_int64(s, 0));
        sqlite3_bind_int64(c, 2, sample);
        err = exec(c);
        if (!err && fn)
            err = fn(ctx, sample);
        *released += !err;
    }
    done(s);
    return err ? err : rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_revoked_leases(store *st, int64_t since, int64_t now,
                         int (*fn)(void *ctx, int64_t sample_id), void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_REVOKED_LEASES);
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int64(s, 2, now);
    int rc = SQLITE_DONE, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW)
        err = fn(ctx, sqlite3_column_int64(s, 0));
    done(s);
    return err ? err : rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_backup(store *st, const char *to, char *err, size_t n)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->own.db, "VACUUM INTO ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, to, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE)
        snprintf(err, n, "backup to %s: %s", to, sqlite3_errmsg(st->own.db));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : ARAL_EIO;
}

int store_checkpoint(store *st, int *wal_frames)
{
    int log = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(
        st->own.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done_frames);
    *wal_frames = log;
    return map_rc(rc);
}

int store_checkpoint_restart(store *st)
{
    pthread_mutex_lock(&write_mutex);
    /* A group transaction may be open and handed on: the restart would
     * wait for it while holding the lock its committer needs. Skip. */
    int rc =
        in_txn ? ARAL_EBUSY
               : map_rc(sqlite3_wal_checkpoint_v2(
                     st->own.db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL));
    pthread_mutex_unlock(&write_mutex);
    return rc;
}

bool store_integrity_ok(store *st)
{
    sqlite3_stmt *s;
    bool ok = false;
    if (sqlite3_prepare_v2(st->own.db, "PRAGMA integrity_check", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        ok = t && !strcmp((const char *)t, "ok");
    }
    sqlite3_finalize(s);
    return ok;
}

/* ---- the retrain worker's reads and writes. These run a few times a
 * round, so they prepare their statements per call. */

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rankings are stored as little-endian arrays: add byte swaps here"
#endif

static int prepare(store *st, const char *sql, sqlite3_stmt **s)
{
    return map_rc(sqlite3_prepare_v2(cur(st)->db, sql, -1, s, NULL));
}

void store_pool_free(store_pool *p)
{
    free(p->ids);
    free(p->eval);
    free(p->label);
    free(p->known);
    free(p->data);
    memset(p, 0, sizeof(*p));
}

static int pool_alloc(store_pool *p, int n, size_t each)
{
    size_t m = n ? (size_t)n : 1;
    p->n = 0, p->each = each;
    p->ids = malloc(m * sizeof(int64_t));
    p->eval = malloc(m * sizeof(bool));
    p->label = malloc(m * sizeof(int));
    p->known = malloc(m * sizeof(int));
    bool ok = p->ids && p->eval && p->label && p->known;
    return ok ? 0 : ARAL_ENOMEM;
}

/* Every row's id, split and labels, without its bytes. */
static int pool_meta(store *st, store_pool *p, int64_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = prepare(st,
                     "SELECT id, split = 'eval', label, known_label"
                     " FROM samples ORDER BY id",
                     &s);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int i = p->n++;
        if (i >= cap) /* cannot be in one snapshot */
            rc = ARAL_EIO;
        else {
            p->ids[i] = sqlite3_column_int64(s, 0);
            p->eval[i] = sqlite3_column_int(s, 1) != 0;
            p->label[i] = (int)col_int(s, 2, -1);
            p->known[i] = (int)col_int(s, 3, -1);
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = map_rc(step);
    if (s)
        sqlite3_finalize(s);
    return rc;
}

/* Row i's bytes into row m (m <= i), its other columns with them. */
static int pool_bytes(sqlite3_stmt *s, store_pool *p, int i, int m)
{
    sqlite3_bind_int64(s, 1, p->ids[i]);
    int step = sqlite3_step(s);
    const void *blob = step == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
    int rc = 0;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = map_rc(step);
    else if (!blob || (size_t)sqlite3_column_bytes(s, 0) != p->each)
        rc = ARAL_EIO; /* no bytes, or of another size: a damaged file */
    else {
        memcpy(p->data + (size_t)m * p->each, blob, p->each);
        p->ids[m] = p->ids[i], p->eval[m] = p->eval[i];
        p->label[m] = p->label[i], p->known[m] = p->known[i];
    }
    sqlite3_reset(s);
    return rc;
}

/* The bytes of the rows choose keeps; the rows left out close up. */
static int pool_keep(store *st, store_pool *p, store_pool_choose choose,
                     void *ctx)
{
    size_t n = p->n ? (size_t)p->n : 1;
    bool *keep = malloc(n);
    if (!keep)
        return ARAL_ENOMEM;
    memset(keep, 1, n);
    if (choose)
        choose(ctx, p, keep);
    size_t m = 0;
    for (int i = 0; i < p->n; i++)
        m += keep[i];
    sqlite3_stmt *s = NULL;
    p->data = malloc((m ? m : 1) * p->each);
    int rc = p->data
                 ? prepare(st, "SELECT data FROM sample_data WHERE id = ?1", &s)
                 : ARAL_ENOMEM;
    int kept = 0;
    for (int i = 0; !rc && i < p->n; i++)
        if (keep[i] && (rc = pool_bytes(s, p, i, kept)) == 0)
            kept++;
    p->n = kept;
    if (s)
        sqlite3_finalize(s);
    free(keep);
    return rc;
}

int store_pool_read(store *st, size_t each, store_pool_choose choose, void *ctx,
                    store_pool *out)
{
    int64_t n = 0;
    memset(out, 0, sizeof(*out));
    if (st->depth > 0 || read_begin(st))
        return ARAL_EBUSY;
    /* The count and the rows in one read transaction: one snapshot. */
    int rc = store_samples_count(st, NULL, NULL, 0, &n);
    if (!rc)
        rc = pool_alloc(out, (int)n, each);
    if (!rc)
        rc = pool_meta(st, out, n);
    if (!rc)
        rc = pool_keep(st, out, choose, ctx);
    read_end(st);
    if (rc)
        store_pool_free(out);
    return rc;
}

/* Steps a one-off statement to its end and finalizes it. */
static int finish_stmt(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

int store_model_put(store *st, const uint8_t *ckpt, size_t len,
                    const char *sha256, int64_t now, int64_t *version)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "INSERT INTO models(checkpoint, sha256, created_at)"
                     " VALUES (?1, ?2, ?3)",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_blob64(s, 1, ckpt, len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, now);
    rc = finish_stmt(s);
    *version = rc ? -1 : sqlite3_last_insert_rowid(cur(st)->db);
    return rc;
}

/* One statement with ?1 = v. */
static int exec_with(store *st, const char *sql, int64_t v)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, v);
    return finish_stmt(s);
}

int store_models_prune(store *st, int64_t newest)
{
    int rc = exec_with(st,
                       "UPDATE models SET checkpoint = X''"
                       " WHERE version < ?1 AND length(checkpoint) > 0",
                       newest);
    return rc ? rc
              : exec_with(st, "DELETE FROM rankings WHERE model_version < ?1",
                          newest);
}

#define IDEM_PRUNE_BATCH 500

int store_idem_prune(store *st, int64_t before, int *deleted)
{
    *deleted = 0;
    for (int n = IDEM_PRUNE_BATCH; n == IDEM_PRUNE_BATCH;) {
        int rc = store_begin(st);
        /* rowid order is insertion order: the old keys come first */
        if (!rc)
            rc = exec_with(st,
                           "DELETE FROM idempotency WHERE rowid IN (SELECT"
                           " rowid FROM idempotency WHERE created_at < ?1"
                           " LIMIT 500)",
                           before);
        n = rc ? 0 : sqlite3_changes(writer.db);
        if (rc) {
            store_rollback(st);
            return rc;
        }
        if ((rc = store_commit(st)))
            return rc;
        *deleted += n;
    }
    return 0;
}

int store_model_latest(store *st, int64_t *version, uint8_t **ckpt, size_t *len,
                       char sha256[65])
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "SELECT version, checkpoint, sha256 FROM models"
                     " ORDER BY version DESC LIMIT 1",
                     &s);
    if (rc)
        return rc;
    *ckpt = NULL;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(s, 0);
        *ckpt = blob_copy(s, 1, len);
        copy_text(sha256, 65, s, 2);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return *ckpt ? 0 : ARAL_ENOMEM;
    return rc == SQLITE_DONE ? ARAL_ENOTFOUND : map_rc(rc);
}

int store_ranking_put(store *st, int64_t version, const store_ranking *r)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "INSERT INTO rankings(model_version, strategy, n,"
                     " ids, scores, pseudo, confidence, sampler)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, version);
    sqlite3_bind_text(s, 2, r->strategy, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, (int64_t)r->n);
    sqlite3_bind_blob64(s, 4, r->ids, r->n * 8, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 5, r->scores, r->n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 6, r->pseudo, r->n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 7, r->confidence, r->n * 4, SQLITE_STATIC);
    if (r->sampler)
        sqlite3_bind_blob64(s, 8, r->sampler, r->n * 4, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 8);
    return finish_stmt(s);
}

static int ranking_row(sqlite3_stmt *s, store_ranking *out)
{
    size_t len[4];
    copy_text(out->strategy, sizeof(out->strategy), s, 0);
    out->n = (size_t)sqlite3_column_int64(s, 1);
    out->ids = blob_copy(s, 2, &len[0]);
    out->scores = blob_copy(s, 3, &len[1]);
    out->pseudo = blob_copy(s, 4, &len[2]);
    out->confidence = blob_copy(s, 5, &len[3]);
    bool has_s = sqlite3_column_type(s, 6) != SQLITE_NULL;
    size_t len_s = 0;
    out->sampler = has_s ? blob_copy(s, 6, &len_s) : NULL;
    if (!out->ids || !out->scores || !out->pseudo || !out->confidence ||
        (has_s && !out->sampler))
        return ARAL_ENOMEM;
    bool fits = len[0] == out->n * 8 && len[1] == out->n * 4 &&
                len[2] == out->n * 4 && len[3] == out->n * 4 &&
                (!has_s || len_s == out->n * 4);
    return fits ? 0 : ARAL_EIO;
}

int store_ranking_get(store *st, int64_t version, store_ranking *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof(*out));
    int rc = prepare(st,
                     "SELECT strategy, n, ids, scores, pseudo,"
                     " confidence, sampler FROM rankings"
                     " WHERE model_version = ?1",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, version);
    int step = sqlite3_step(s);
    rc = step == SQLITE_ROW    ? ranking_row(s, out)
         : step == SQLITE_DONE ? ARAL_ENOTFOUND
                               : map_rc(step);
    sqlite3_finalize(s);
    if (rc) {
        free(out->ids), free(out->scores);
        free(out->pseudo), free(out->confidence), free(out->sampler);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

#define ROUND_COLS                                                             \
    "id, model_version, status, reason, strategy, labels_used, seed,"          \
    " iterations, started_at, finished_at, seconds_read, seconds_train,"       \
    " seconds_score, seconds_store, seconds_publish, losses, eval_accuracy,"   \
    " per_class, uncertain_first, joined_components, average_wrong,"           \
    " last_step_wrong, kept_last_step"

int store_round_put(store *st, round_row *r)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "INSERT INTO rounds(" ROUND_COLS ") VALUES (NULL,"
                     " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                     " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
                     &s);
    if (rc)
        return rc;
    bind_int_or_null(s, 2, r->model_version, r->model_version < 0);
    sqlite3_bind_text(s, 3, r->status, -1, SQLITE_TRANSIENT);
    bind_text_or_null(s, 4, r->reason[0] ? r->reason : NULL);
    sqlite3_bind_text(s, 5, r->strategy, -1, SQLITE_TRANSIENT);
    int64_t ints[5] = {r->labels_used, r->seed, r->iterations, r->started_at,
                       r->finished_at};
    for (int i = 0; i < 5; i++)
        sqlite3_bind_int64(s, 6 + i, ints[i]);
    for (int i = 0; i < 5; i++)
        sqlite3_bind_double(s, 11 + i, r->seconds[i]);
    bind_text_or_null(s, 16, r->losses[0] ? r->losses : NULL);
    if (r->eval_accuracy >= 0)
        sqlite3_bind_double(s, 17, r->eval_accuracy);
    bind_text_or_null(s, 18, r->per_class[0] ? r->per_class : NULL);
    bind_int_or_null(s, 19, r->uncertain_first, r->uncertain_first < 0);
    bind_int_or_null(s, 20, r->joined_components, r->joined_components < 0);
    int fit[3] = {r->average_wrong, r->last_step_wrong, r->kept_last_step};
    for (int i = 0; i < 3; i++)
        bind_int_or_null(s, 21 + i, fit[i], fit[i] < 0);
    rc = finish_stmt(s);
    r->id = rc ? 0 : sqlite3_last_insert_rowid(cur(st)->db);
    return rc;
}

int store_round_set_seconds(store *st, int64_t id, double store_s,
                            double publish_s)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "UPDATE rounds SET seconds_store = ?2,"
                     " seconds_publish = ?3 WHERE id = ?1",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, store_s);
    sqlite3_bind_double(s, 3, publish_s);
    return finish_stmt(s);
}

static void round_of(sqlite3_stmt *s, round_row *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->model_version = col_int(s, 1, -1);
    copy_text(r->status, sizeof(r->status), s, 2);
    copy_text(r->reason, sizeof(r->reason), s, 3);
    copy_text(r->strategy, sizeof(r->strategy), s, 4);
    int64_t *ints[5] = {&r->labels_used, &r->seed, &r->iterations,
                        &r->started_at, &r->finished_at};
    for (int i = 0; i < 5; i++)
        *ints[i] = sqlite3_column_int64(s, 5 + i);
    for (int i = 0; i < 5; i++)
        r->seconds[i] = sqlite3_column_double(s, 10 + i);
    copy_text(r->losses, sizeof(r->losses), s, 15);
    r->eval_accuracy = sqlite3_column_type(s, 16) == SQLITE_NULL
                           ? -1.0
                           : sqlite3_column_double(s, 16);
    copy_text(r->per_class, sizeof(r->per_class), s, 17);
    r->uncertain_first = col_int(s, 18, -1);
    r->joined_components = col_int(s, 19, -1);
    r->average_wrong = col_int(s, 20, -1);
    r->last_step_wrong = col_int(s, 21, -1);
    r->kept_last_step = col_int(s, 22, -1);
}

/* The one round row a query (with ?1 bound to key) finds. */
static int round_where(store *st, const char *where, int64_t key,
                       round_row *out)
{
    char sql[512];
    sqlite3_stmt *s;
    snprintf(sql, sizeof(sql), "SELECT " ROUND_COLS " FROM rounds WHERE %s",
             where);
    int rc = prepare(st, sql, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, key);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        round_of(s, out);
    sqlite3_finalize(s);
    return step == SQLITE_ROW ? 0 : row_result(step);
}

int store_round_get(store *st, int64_t id, round_row *out)
{
    return round_where(st, "id = ?1", id, out);
}

int store_round_of_model(store *st, int64_t version, round_row *out)
{
    return round_where(st, "model_version = ?1 AND status = 'published'",
                       version, out);
}

int store_rounds_list(store *st, int64_t after, int limit,
                      void (*fn)(void *ctx, const round_row *r), void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "SELECT " ROUND_COLS " FROM rounds WHERE id > ?1"
                     " ORDER BY id LIMIT ?2",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    round_row *r = malloc(sizeof(*r));
    int step = SQLITE_DONE;
    while (r && (step = sqlite3_step(s)) == SQLITE_ROW) {
        round_of(s, r);
        fn(ctx, r);
    }
    sqlite3_finalize(s);
    free(r);
    if (!r)
        return ARAL_ENOMEM;
    return step == SQLITE_DONE ? 0 : map_rc(step);
}
