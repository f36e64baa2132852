"""The write path: a request that fails changes neither the database nor
the lease table, whatever failed (a refused item, the write lock, a busy
statement, the commit, memory), and the daemon keeps serving.

Failures are injected with the daemon's test hook (ARALD_TEST_FAULTS=1
and an X-Arald-Fault header, server/fault.h) or for real (another
process holding SQLite's write lock). After each, `consistent` holds the
daemon to the database: the queue lists exactly the pool samples that
the database says are unlabeled and not leased."""
import http.client
import random
import sqlite3
import time

from harness import (Daemon, db_digest, idx_bytes, image_bytes, in_threads,
                     is_problem, run, vectors)

FAULTS = {"ARALD_TEST_FAULTS": "1"}


def daemon(n, **kw):
    d = Daemon(dim=2, classes=["A", "B"], env=FAULTS, **kw)
    r = d.post("/v1/samples", {"items": vectors(n, 2)})
    assert r.status == 200, r.body
    return d


def free_in_db(d):
    """Pool samples the database holds unlabeled and not leased now."""
    con = sqlite3.connect(d.db)
    now = int(time.time() * 1000)
    ids = {i for (i,) in con.execute(
        "SELECT id FROM samples WHERE split = 'pool' AND label IS NULL AND "
        "(lease_expires IS NULL OR lease_expires <= ?)", (now,))}
    con.close()
    return ids


def queue(d):
    q = d.get("/v1/queue?limit=1000").json
    return q["total"], {i["sample_id"] for i in q["items"]}


def consistent(d):
    total, ids = queue(d)
    want = free_in_db(d)
    assert ids == want, f"queue {sorted(ids)} but database {sorted(want)}"
    assert total == len(want), (total, len(want))
    return total


def fault(name):
    return {"X-Arald-Fault": name}


def unchanged(d, fn):
    """Runs fn (a failing request); the database and the queue must be as
    they were, and consistent."""
    before, q = db_digest(d.db), queue(d)
    r = fn()
    assert db_digest(d.db) == before, "a failed request changed the database"
    assert queue(d) == q, "a failed request changed the lease table"
    consistent(d)
    return r


def test_refused_batch_under_idempotency_key_leaves_sample_served():
    """The reported drift: a batch refused with 409 under an
    Idempotency-Key took its first sample out of the queue for good."""
    with daemon(4) as d:
        other = d.post("/v1/leases", {"annotator": "other", "n": 1}).json
        taken = other["items"][0]["sample_id"]
        mine = min(set(range(1, 5)) - {taken})
        body = {"items": [{"sample_id": mine, "label": "A"},
                          {"sample_id": taken, "label": "B"}]}
        r = unchanged(d, lambda: d.post(
            "/v1/labels", body, headers={"Idempotency-Key": "k1"}))
        is_problem(r, 409, "leased_to_other")
        assert d.get(f"/v1/samples/{mine}").json["state"] == "unlabeled"
        assert consistent(d) == 3
        assert mine in queue(d)[1]
        # Nothing was stored under the key: the corrected batch goes through.
        fixed = {"items": [{"sample_id": mine, "label": "A"}]}
        r = d.post("/v1/labels", fixed, headers={"Idempotency-Key": "k2"})
        assert r.status == 200, r.body
        assert consistent(d) == 2


def test_begin_that_cannot_lock_is_503_and_nothing_is_held():
    with daemon(6) as d:
        sid = queue(d)[1].pop()
        r = unchanged(d, lambda: d.post(
            "/v1/labels", {"sample_id": sid, "label": "A"},
            headers=fault("begin")))
        is_problem(r, 503, "storage_busy")
        assert r.header("retry-after") == "1"
        # The write lock is free: the next write goes through at once.
        t0 = time.time()
        r = d.post("/v1/labels", {"sample_id": sid, "label": "A"})
        assert r.status == 200 and time.time() - t0 < 2, r.body
        consistent(d)


def test_busy_statement_rolls_back_and_releases_the_write_lock():
    with daemon(6) as d:
        ids = sorted(queue(d)[1])[:3]
        body = {"items": [{"sample_id": i, "label": "B"} for i in ids]}
        # The fifth statement of the batch: the first label is written.
        r = unchanged(d, lambda: d.post("/v1/labels", body,
                                        headers=fault("busy@5")))
        is_problem(r, 503, "storage_error")
        for h in ({}, {"Idempotency-Key": "busy-1"}):
            r = unchanged(d, lambda: d.post(
                "/v1/leases", {"n": 2}, headers={**fault("busy@2"), **h}))
            is_problem(r, 503, "storage_error")
        t0 = time.time()
        r = d.post("/v1/labels", body)
        assert r.status == 200 and time.time() - t0 < 2, r.body
        consistent(d)


def test_failed_commit_of_leases_labels_undo_release_changes_nothing():
    with daemon(8) as d:
        for h in ({}, {"Idempotency-Key": "c-lease"}):
            r = unchanged(d, lambda: d.post(
                "/v1/leases", {"annotator": "a", "n": 3},
                headers={**fault("commit"), **h}))
            is_problem(r, 503, "storage_error")
        lease = d.post("/v1/leases", {"annotator": "a", "n": 2}).json["items"]
        for h in ({}, {"Idempotency-Key": "c-label"}):
            r = unchanged(d, lambda: d.post(
                "/v1/labels", {"lease_id": lease[0]["lease_id"], "label": "A"},
                headers={**fault("commit"), **h}))
            is_problem(r, 503, "storage_error")
        # Retried under the same key: nothing was stored, so it runs.
        r = d.post("/v1/labels", {"lease_id": lease[0]["lease_id"],
                                  "label": "A"},
                   headers={"Idempotency-Key": "c-label"})
        assert r.status == 200 and not r.header("idempotent-replayed"), r.body
        label_id = r.json["items"][0]["label_id"]
        for body in (None, {"lease": True}):
            r = unchanged(d, lambda: d.post(f"/v1/labels/{label_id}/undo",
                                            body, headers=fault("commit")))
            is_problem(r, 503, "storage_error")
        r = unchanged(d, lambda: d.request(
            "DELETE", f"/v1/leases/{lease[1]['lease_id']}",
            headers=fault("commit")))
        is_problem(r, 503, "storage_error")
        assert d.post(f"/v1/labels/{label_id}/undo").status == 200
        assert d.request("DELETE",
                         f"/v1/leases/{lease[1]['lease_id']}").status == 200
        assert consistent(d) == 8


def test_failed_import_adds_nothing_to_the_pool():
    with daemon(3) as d:
        for h in (fault("commit"), fault("busy@2")):
            r = unchanged(d, lambda: d.post(
                "/v1/samples", {"items": vectors(5, 2, seed=9)}, headers=h))
            is_problem(r, 503, "storage_error")
        r = d.post("/v1/samples", {"items": vectors(5, 2, seed=9)},
                   headers={"Idempotency-Key": "imp"})
        assert r.status == 200, r.body
        assert consistent(d) == 8


def test_pool_read_that_fails_after_an_import_catches_up_on_next_write():
    """The import commits; reading the pool back for the queue fails at
    its third row. The queue must keep the whole old pool, not the two
    ids read, and the next write must bring the new samples in."""
    with daemon(4) as d:
        r = d.post("/v1/samples", {"items": vectors(3, 2, seed=7)},
                   headers=fault("read@3"))
        assert r.status == 200, r.body
        total, ids = queue(d)
        assert total == 4 and len(ids) == 4, (total, ids)
        assert len(free_in_db(d)) == 7
        r = d.post("/v1/leases", {"annotator": "a", "n": 1})
        assert r.status == 200, r.body
        assert consistent(d) == 6


def test_out_of_memory_for_a_batch_is_503():
    with daemon(3) as d:
        sid = queue(d)[1].pop()
        r = unchanged(d, lambda: d.post(
            "/v1/labels", {"items": [{"sample_id": sid, "label": "A"}]},
            headers=fault("alloc")))
        is_problem(r, 503, "no_memory")
        assert d.post("/v1/labels", {"sample_id": sid,
                                     "label": "A"}).status == 200


def test_out_of_memory_for_an_idx_upload_is_503():
    """The IDX body inflated and parsed into memory: without the memory
    for it, a 503 that asks to retry, and nothing imported."""
    with Daemon(env=FAULTS) as d:
        body = idx_bytes([image_bytes(i) for i in range(5)])
        post = (lambda h: d.request(
            "POST", "/v1/samples", token="ingest", raw=body,
            headers={"Content-Type": "application/x-idx", **h}))
        r = unchanged(d, lambda: post(fault("alloc")))
        is_problem(r, 503, "no_memory")
        assert r.headers.get("retry-after") == "1", r.headers
        r = post({})
        assert r.status == 200 and r.json["inserted"] == 5, r.body
        assert consistent(d) == 5


def test_export_that_fails_is_503_or_a_cut_transfer():
    with daemon(600) as d:
        items = [{"sample_id": i, "label": "A"} for i in range(1, 601)]
        assert d.post("/v1/labels", {"items": items}).status == 200
        r = d.get("/v1/export", headers=fault("export"))
        is_problem(r, 503, "export_failed")
        # The second page (rows 513-600) fails after the 200 went out:
        # the transfer must end in an error, never look complete.
        for fmt in ("jsonl", "csv"):
            try:
                r = d.get(f"/v1/export?format={fmt}",
                          headers=fault("export@2"))
                raise AssertionError(f"{fmt}: a cut export read as complete "
                                     f"({len(r.body)} bytes)")
            except http.client.IncompleteRead as e:
                # The first page (and the CSV header) at most.
                assert 0 < len(e.partial.splitlines()) <= 513
            r = d.get(f"/v1/export?format={fmt}")
            lines = r.body.decode().splitlines()
            assert r.status == 200 and len(lines) == 600 + (fmt == "csv")


def test_write_lock_held_by_another_process_is_503_busy():
    """No hook: a real SQLite lock outlasting the busy timeout (5 s)."""
    with daemon(4) as d:
        sid = queue(d)[1].pop()
        con = sqlite3.connect(d.db, timeout=1, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            r = unchanged(d, lambda: d.post(
                "/v1/labels", {"sample_id": sid, "label": "B"}))
        finally:
            con.execute("ROLLBACK")
            con.close()
        is_problem(r, 503, "storage_busy")
        r = d.post("/v1/labels", {"sample_id": sid, "label": "B"})
        assert r.status == 200, r.body
        consistent(d)


def client_ops(d, k, rounds, told):
    """One annotator doing a random mix of everything, some of it meant
    to fail; `told` collects what the daemon answered."""
    rng = random.Random(k)
    me, mine = f"c{k}", []
    for step in range(rounds):
        key = {"Idempotency-Key": f"{me}-{step}"} if rng.random() < 0.5 \
            else {}
        hurt = fault(rng.choice(["commit", "busy@2", "begin"])) \
            if rng.random() < 0.15 else {}
        op = rng.random()
        if op < 0.3:
            r = d.post("/v1/leases", {"annotator": me, "n": rng.randint(1, 3)},
                       headers={**key, **hurt})
            if r.status == 200:
                mine += [i["lease_id"] for i in r.json["items"]]
        elif op < 0.5 and mine:
            r = d.post("/v1/labels", {"lease_id": mine.pop(), "label": "A"},
                       headers={**key, **hurt})
        elif op < 0.65:
            # A batch that may hit others' leases: refused as a whole.
            ids = rng.sample(range(1, 61), 3)
            r = d.post("/v1/labels", {"items": [
                {"sample_id": i, "label": "B", "annotator": me}
                for i in ids]}, headers={**key, **hurt})
        elif op < 0.8:
            r = d.post(f"/v1/labels/{rng.randint(1, 40)}/undo",
                       headers={**key, **hurt})
        elif mine:
            r = d.request("DELETE", f"/v1/leases/{mine.pop()}", headers=hurt)
        else:
            continue
        assert r.status in (200, 404, 409, 503), (r.status, r.body)
        told.append(r.status)


def test_property_queue_matches_database_after_concurrent_mixed_writes():
    with daemon(60) as d:
        for rnd in range(3):
            told = []
            in_threads(lambda k: client_ops(d, k + 10 * rnd, 40, told), 6)
            assert {200, 409, 503} <= set(told), sorted(set(told))
            consistent(d)
        con = sqlite3.connect(d.db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


if __name__ == "__main__":
    run([test_refused_batch_under_idempotency_key_leaves_sample_served,
         test_begin_that_cannot_lock_is_503_and_nothing_is_held,
         test_busy_statement_rolls_back_and_releases_the_write_lock,
         test_failed_commit_of_leases_labels_undo_release_changes_nothing,
         test_failed_import_adds_nothing_to_the_pool,
         test_pool_read_that_fails_after_an_import_catches_up_on_next_write,
         test_out_of_memory_for_a_batch_is_503,
         test_out_of_memory_for_an_idx_upload_is_503,
         test_export_that_fails_is_503_or_a_cut_transfer,
         test_write_lock_held_by_another_process_is_503_busy,
         test_property_queue_matches_database_after_concurrent_mixed_writes])
