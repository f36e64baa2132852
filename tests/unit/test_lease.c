/* test_lease: the lease table follows committed writes, whatever order
 * their changes arrive in. Requests of one group commit wake in any
 * order, so a change from an earlier write may be applied after a later
 * one; the table must end in the state of the latest write, as the
 * database does. A reload stamps every sample with its own place in the
 * order, so changes it already read are not applied twice. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lease.h"
#include "store.h"
#include "testlib.h"
#include "util.h"

#define POOL 10

static char path[64];

/* A database with POOL pool samples (ids 1..POOL) and its store. */
static store *pool_db(void)
{
    char err[256];
    snprintf(path, sizeof(path), "/tmp/test_lease_%d.db", (int)getpid());
    unlink(path);
    store_opts o = {.create = true};
    store *st = store_open(path, o, err, sizeof(err));
    project_info p = {.name = "t",
                      .dim = 1,
                      .n_classes = 2,
                      .classes = {"a", "b"},
                      .keys = {"1", "2"}};
    if (!st || store_project_init(st, &p, 0) || store_begin(st))
        return NULL;
    for (int i = 0; i < POOL; i++) {
        uint8_t hash[32] = {(uint8_t)i};
        float v = (float)i;
        int64_t id;
        bool dup;
        if (store_sample_insert(st, hash, NULL, "pool", &v, sizeof(v), -1, 0,
                                &id, &dup))
            return NULL;
    }
    return store_commit(st) ? NULL : st;
}

static lease_table *loaded(store *st)
{
    int64_t ids[POOL];
    for (int i = 0; i < POOL; i++)
        ids[i] = i + 1;
    ranking *r = ranking_new_random(ids, POOL, 1);
    lease_table *lt = lease_table_new();
    if (!r || !lt || lease_table_reload(lt, st, r))
        return NULL;
    ranking_release(r);
    return lt;
}

static bool queued(lease_table *lt, int64_t id)
{
    int64_t ids[POOL];
    int32_t pos[POOL];
    int n = lease_peek(lt, util_now_ms(), POOL, ids, pos);
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static int64_t free_count(lease_table *lt)
{
    lease_counts_t c;
    lease_counts(lt, util_now_ms(), &c);
    return c.free;
}

static int t_later_write_wins_over_late_change(void)
{
    store *st = pool_db();
    CHECK(st);
    lease_table *lt = loaded(st);
    CHECK(lt && free_count(lt) == POOL);
    uint64_t base = 1000;
    int64_t far = util_now_ms() + 60000;
    /* Write base+2 labeled sample 3 after write base+1 leased it; the
     * lease's change arrives last and must not bring the lease back. */
    lease_apply(lt, base + 2, &(lease_change){3, true, 0, 0}, 1);
    lease_apply(lt, base + 1, &(lease_change){3, false, 7, far}, 1);
    lease_counts_t c;
    lease_counts(lt, util_now_ms(), &c);
    CHECK(c.labeled == 1 && c.leased == 0 && c.free == POOL - 1);
    CHECK(!queued(lt, 3));
    /* An undo (base+3) frees it again, and the queue shows it. */
    lease_apply(lt, base + 3, &(lease_change){3, false, 0, 0}, 1);
    CHECK(queued(lt, 3) && free_count(lt) == POOL);
    /* One write's changes to a sample apply in order. */
    lease_change two[2] = {{4, false, 8, far}, {4, true, 0, 0}};
    lease_apply(lt, base + 4, two, 2);
    lease_counts(lt, util_now_ms(), &c);
    CHECK(c.labeled == 1 && c.leased == 0 && !queued(lt, 4));
    lease_table_free(lt);
    store_close(st);
    unlink(path);
    return 0;
}

static int t_reload_is_not_undone_by_older_changes(void)
{
    store *st = pool_db();
    CHECK(st);
    /* The write the reload will read: sample 5 labeled in the database. */
    int64_t label_id;
    CHECK(store_begin(st) == 0);
    CHECK(store_label_insert(st, 5, 0, "x", 0, 0, -1, &label_id) == 0);
    uint64_t seq = store_write_seq(st);
    CHECK(store_commit(st) == 0);
    lease_table *lt = loaded(st); /* reads it, with a later seq */
    CHECK(lt && !queued(lt, 5) && free_count(lt) == POOL - 1);
    /* That write's own change arriving after the reload changes nothing,
     * and neither does an older one that says otherwise. */
    lease_apply(lt, seq, &(lease_change){5, true, 0, 0}, 1);
    lease_apply(lt, seq - 1, &(lease_change){5, false, 0, 0}, 1);
    CHECK(!queued(lt, 5) && free_count(lt) == POOL - 1);
    lease_table_free(lt);
    store_close(st);
    unlink(path);
    return 0;
}

static int t_applied_lease_expires(void)
{
    store *st = pool_db();
    CHECK(st);
    lease_table *lt = loaded(st);
    CHECK(lt);
    int64_t soon = util_now_ms() + 50;
    lease_apply(lt, 1u << 30, &(lease_change){6, false, 9, soon}, 1);
    CHECK(!queued(lt, 6) && free_count(lt) == POOL - 1);
    usleep(80 * 1000);
    CHECK(queued(lt, 6) && free_count(lt) == POOL);
    lease_table_free(lt);
    store_close(st);
    unlink(path);
    return 0;
}

struct reload_job {
    lease_table *lt;
    store *st;
    int rc;
};

static void *reload_thread(void *arg)
{
    struct reload_job *j = arg;
    int64_t ids[POOL];
    for (int i = 0; i < POOL; i++)
        ids[i] = i + 1;
    ranking *r = ranking_new_random(ids, POOL, 2);
    j->rc = r ? lease_table_reload(j->lt, j->st, r) : -1;
    ranking_release(r);
    return NULL;
}

/* A write that commits after a reload read the database may apply its
 * change before the reload swaps its state in: the change must survive.
 * Here the reload waits for a lock another connection holds (so it has
 * read nothing yet) while a change of a later write is applied. */
static int t_change_during_a_reload_is_kept(void)
{
    store *st = pool_db();
    CHECK(st);
    lease_table *lt = loaded(st);
    CHECK(lt);
    sqlite3 *other;
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == 0);
    struct reload_job j = {lt, st, -1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reload_thread, &j) == 0);
    usleep(300 * 1000); /* the reload is waiting for the lock */
    int64_t far = util_now_ms() + 60000;
    lease_apply(lt, (uint64_t)1 << 40, &(lease_change){7, false, 11, far}, 1);
    CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == 0);
    pthread_join(t, NULL);
    sqlite3_close(other);
    CHECK(j.rc == 0);
    lease_counts_t c;
    lease_counts(lt, util_now_ms(), &c);
    CHECK(!queued(lt, 7) && c.leased == 1 && c.free == POOL - 1);
    lease_table_free(lt);
    store_close(st);
    unlink(path);
    return 0;
}

/* The lease table sizes itself by the largest pool id: samples of
 * another split after the pool neither count nor shift it. */
static int t_reload_sizes_by_the_pool_alone(void)
{
    store *st = pool_db();
    CHECK(st);
    int64_t max_id = -1, id;
    CHECK(store_pool_max_id(st, &max_id) == 0 && max_id == POOL);
    CHECK(store_begin(st) == 0);
    uint8_t hash[32] = {0xee};
    float v = 1;
    bool dup;
    CHECK(store_sample_insert(st, hash, NULL, "eval", &v, sizeof(v), 1, 0, &id,
                              &dup) == 0 &&
          id == POOL + 1);
    CHECK(store_commit(st) == 0);
    CHECK(store_pool_max_id(st, &max_id) == 0 && max_id == POOL);
    lease_table *lt = loaded(st);
    CHECK(lt);
    lease_counts_t c;
    lease_counts(lt, util_now_ms(), &c);
    CHECK(c.pool == POOL && c.free == POOL && !queued(lt, POOL + 1));
    lease_table_free(lt);
    store_close(st);
    unlink(path);
    return 0;
}

static const test_case cases[] = {
    {"lease: a later write wins over a late change",
     t_later_write_wins_over_late_change},
    {"lease: a reload is not undone by older changes",
     t_reload_is_not_undone_by_older_changes},
    {"lease: an applied lease expires", t_applied_lease_expires},
    {"lease: a change during a reload is kept",
     t_change_during_a_reload_is_kept},
    {"lease: a reload sizes the table by the pool alone",
     t_reload_sizes_by_the_pool_alone},
};

int main(int argc, char **argv)
{
    return test_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
