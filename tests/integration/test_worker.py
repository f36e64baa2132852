"""The retrain worker through real HTTP: labels start a round, the status
passes through its states, leases then follow the model's ranking
(ascending S(z)) with its version, labels record the version that served
them; before any model the label-free start orders the pool; samples
imported during a round are served after it; every strategy serves in
its order; a wrong label shows in the round's record; events reach their
clients. Restarts, kills and damage:
test_models.py. The pool and helpers: workerlib.py."""
import json
import os
import random
import socket
import threading
import time

from harness import Daemon, arald, idx_bytes, is_problem, run
from workerlib import (DEFAULT, FAST, NAMES, ROUND_ITERS, daemon,
                       label_leased, pool_items, rounds, wait_model,
                       wait_start, wait_state)


def test_labels_start_a_round_and_leases_follow_its_ranking():
    with daemon(["--start-strategy", "random"]) as d:
        first, _ = label_leased(d, 19)
        assert all(i["strategy"] == "random" and i["model_version"] is None
                   for i in first)
        time.sleep(1.5)  # one short of min_labels: no round
        m = d.get("/v1/model").json
        assert m["model_version"] is None and m["state"] == "idle", m
        label_leased(d, 1)
        m, seen = wait_model(d, 1)
        assert "training" in seen, seen
        assert m["labels_since_model"] == 0 and m["labeled"] == 20, m
        assert 0.25 < m["eval_accuracy"] <= 1.0, m
        assert m["strategy"] == DEFAULT, m
        assert m["iterations_total"] == ROUND_ITERS, m
        leases, labels = label_leased(d, 10)
        scores = [i["score"] for i in leases]
        assert all(i["strategy"] == DEFAULT and i["model_version"] == 1
                   for i in leases), leases
        assert scores == sorted(scores), scores  # the rank in the model's order
        assert [i["rank"] for i in leases] == sorted(i["rank"] for i in leases)
        assert all(0 <= i["pseudo_label"] < 4 and 0 < i["confidence"] <= 1
                   for i in leases)
        assert all(x["model_version"] == 1 for x in labels), labels
        export = d.get("/v1/export").body.decode().splitlines()
        assert sum('"model_version":1' in line for line in export) == 10
        r = d.get("/v1/rounds").json
        assert len(r["items"]) == 1 and r["next_cursor"] is None, r
        one = d.get("/v1/rounds/1").json
        assert one["status"] == "published" and one["labels_used"] == 20, one
        assert one["model_version"] == 1, one
        assert one["iterations"] == ROUND_ITERS, one
        wrong = one["labeled_wrong"]  # truthful labels, separate groups
        assert one["classifier"] == ("last_step" if wrong["average"] >
                                     wrong["last_step"] else "average"), one
        assert min(wrong.values()) == 0, one
        assert set(one["seconds"]) == {"read", "train", "score", "store",
                                       "publish"}, one
        assert set(one["per_class_accuracy"]) == set(NAMES), one
        is_problem(d.get("/v1/rounds/9"), 404, "unknown_round")
        text = d.get("/v1/metrics").body.decode()
        for line in ("arald_model_version 1", "arald_rounds_total 1",
                     "arald_labels_since_model 10", "arald_round_running 0",
                     'arald_round_seconds{phase="train"}'):
            assert line in text, line
        # 20 more labels (10 above, 10 now): the second round.
        label_leased(d, 10)
        m, _ = wait_model(d, 2)
        assert m["labels_since_model"] == 0 and m["labeled"] == 40, m


def groups_pool(sizes=(300, 60, 30, 10), seed=2, dim=8):
    """Pool vectors in four far-apart groups of very unequal sizes."""
    rng = random.Random(seed)
    centres = [[rng.random() for _ in range(dim)] for _ in sizes]
    return [{"vector": [x + 0.03 * rng.gauss(0, 1) for x in centres[g]],
             "split": "pool"} for g, n in enumerate(sizes) for _ in range(n)]


def test_before_any_model_the_first_leases_cover_every_group():
    """The label-free start (the default): once an import settles, the
    pool is served in the order of typical picks of its inputs, so the
    first labels reach the small groups too, before any model exists;
    the first round's order then takes over."""
    with Daemon(dim=8, classes=NAMES, serve_args=FAST) as d:
        group = import_groups(d, groups_pool())
        leases = first_start_leases(d, group, 20)
        labels = [{"lease_id": i["lease_id"],
                   "label": NAMES[group[i["sample_id"]]]} for i in leases]
        assert d.post("/v1/labels", {"items": labels}).status == 200
        wait_model(d, 1)
        q = d.get("/v1/queue?limit=5").json
        assert q["strategy"] == DEFAULT, q
        assert all(i["model_version"] == 1 for i in q["items"]), q


def test_imports_before_the_workers_first_look_wait_to_settle():
    """Only the pool arald starts with counts as settled. Imports that
    land before the worker thread first looks (held back here by the
    test hook) are a pool still changing: the start waits for them to
    settle, not ordering the part imported so far (the big group's 300)
    and serving it first."""
    env = {"ARALD_TEST_FAULTS": "1", "ARALD_TEST_WORKER_DELAY_MS": "300"}
    with Daemon(dim=8, classes=NAMES, serve_args=FAST, env=env) as d:
        items = groups_pool()
        group = import_groups(d, items[:300])
        time.sleep(0.4)  # the worker looks meanwhile: 300 samples so far
        group.update(import_groups(d, items[300:], sizes=(0, 60, 30, 10)))
        first_start_leases(d, group, 20)


def test_sigterm_ends_the_test_hooks_hold_on_the_worker():
    """The hook that holds the worker's first look back (10 s here, its
    most) gives way to SIGTERM like the rest of the worker: the daemon
    exits 0 long before the hold would have ended."""
    env = {"ARALD_TEST_FAULTS": "1", "ARALD_TEST_WORKER_DELAY_MS": "10000"}
    with Daemon(dim=8, classes=NAMES, serve_args=FAST, env=env) as d:
        t0 = time.time()
        assert d.stop() == 0
        took = time.time() - t0
        assert took < 3, took
        print(f"  stopped {took:.2f} s after SIGTERM")


def test_the_start_covers_the_groups_of_vectors_too_wide_to_whiten():
    """Inputs wider than the start's principal components take (2048
    values) are clustered as they are: the first leases still cover
    every group."""
    with Daemon(dim=2100, classes=NAMES, serve_args=FAST) as d:
        items = groups_pool(dim=2100)
        for it in items:  # 3 decimals: bodies of 1.5 MB, not 4
            it["vector"] = [round(x, 3) for x in it["vector"]]
        group = import_groups(d, items)
        first_start_leases(d, group, 20)


def test_a_lease_that_meets_a_new_ranking_serves_it():
    """A ranking published between a lease's first look at the ranking
    and its first candidates (the test hook "lease_gap" holds that gap
    open; here the start's order replaces the import's random one): the
    lease serves the new ranking, not an empty answer with the pool
    free."""
    env = {"ARALD_TEST_FAULTS": "1"}
    with Daemon(dim=8, classes=NAMES, serve_args=FAST, env=env) as d:
        import_groups(d, groups_pool())
        assert d.get("/v1/queue?limit=1").json["strategy"] == "random"
        r = d.post("/v1/leases", {"annotator": "a", "n": 5},
                   headers={"X-Arald-Fault": "lease_gap"})
        assert r.status == 200, r.body
        items = r.json["items"]
        assert [i["rank"] for i in items] == [1, 2, 3, 4, 5], items
        assert all(i["strategy"] == "typical" for i in items), items


def import_groups(d, items, sizes=(300, 60, 30, 10)):
    """Imports groups_pool's items, 100 a request; their group by sample
    id."""
    ids = []
    for at in range(0, len(items), 100):
        r = d.post("/v1/samples", {"items": items[at:at + 100]})
        assert r.status == 200, r.body
        ids += [it["sample_id"] for it in r.json["items"]]
    ends = [sum(sizes[:g + 1]) for g in range(len(sizes))]
    return {i: next(g for g, e in enumerate(ends) if n < e)
            for n, i in enumerate(ids)}


def first_start_leases(d, group, n):
    """n leases of the start's order: ranked, without a model, and
    reaching every group."""
    wait_start(d)
    # the status says the order served, not the setting
    assert d.get("/v1/model").json["strategy"] == "typical"
    policy = d.get("/v1/project").json["retrain_policy"]
    assert policy["start_strategy"] == "typical", policy
    items = d.post("/v1/leases", {"annotator": "a", "n": n}).json["items"]
    assert [i["rank"] for i in items] == list(range(1, n + 1)), items
    for i in items:  # no model: nothing it would say
        assert i["strategy"] == "typical" and i["score"] == i["rank"] - 1
        assert i["model_version"] is None and i["pseudo_label"] is None
        assert i["confidence"] is None and i["sampler"] is None
    assert {group[i["sample_id"]] for i in items} == set(group.values())
    return items


def test_a_pool_imported_without_pause_is_ordered_meanwhile():
    """A pipeline that imports without pause never lets the pool hold
    still for the start's second: the start orders it anyway after its
    longest wait (5 s), while the imports go on, and serves what they
    add after it. A page following the events learns of it at once."""
    d = Daemon(dim=8, classes=NAMES, serve_args=FAST)
    items, done = groups_pool(), threading.Event()
    events = EventReader(d)

    def pipeline():
        for at in range(0, len(items), 8):  # 8 samples every 0.2 s: 10 s
            assert d.post("/v1/samples",
                          {"items": items[at:at + 8]}).status == 200
            time.sleep(0.2)
        done.set()
    t = threading.Thread(target=pipeline)
    try:
        t0 = time.time()
        t.start()
        wait_start(d, timeout=9)
        took = time.time() - t0
        assert not done.is_set(), "the imports ended before the start"
        print(f"  ordered {took:.1f} s into 10 s of imports")
        assert events.events[0][1]["strategy"] == "random", events.events
        deadline = time.time() + 5
        while time.time() < deadline and not any(
                n == "state" and e["strategy"] == "typical"
                for n, e in events.events):
            time.sleep(0.05)
        assert ("state", "typical") in [(n, e["strategy"])
                                        for n, e in events.events]
        t.join()
        deadline = time.time() + 10
        while time.time() < deadline:
            counts = d.get("/v1/project").json["counts"]
            if counts["queue"] == len(items):
                break
            time.sleep(0.05)
        assert counts["queue"] == counts["pool"] == len(items), counts
        assert d.get("/v1/queue?limit=1").json["strategy"] == "typical"
    finally:
        t.join()
        d.stop()


def test_sigterm_while_the_start_orders_a_large_pool_exits_at_once():
    """Ordering 60,000 images takes the start seconds: SIGTERM then stops
    it and the daemon exits 0 within about a second."""
    with Daemon() as d:
        assert d.stop() == 0
        rng = random.Random(5)
        images = [rng.randbytes(784) for _ in range(60000)]
        path = os.path.join(d.dir, "pool.idx")
        with open(path, "wb") as f:
            f.write(idx_bytes(images, gz=False))
        arald("import", "--db", d.db, "--idx", path)
        d.start()
        # the start has begun: the order is still the random one, and
        # the status says so
        assert d.get("/v1/queue?limit=1").json["strategy"] == "random"
        assert d.get("/v1/model").json["strategy"] == "random"
        t0 = time.time()
        assert d.stop() == 0
        took = time.time() - t0
        assert took < 3, took
        print(f"  stopped {took:.2f} s after SIGTERM")
        assert "typical start failed" not in d.read_log()


def test_samples_imported_during_a_round_are_served_after_it():
    # 100 iterations: a round of about 5 s here (12 under ASan), for the
    # import to land in with room to spare on a faster CPU
    with daemon(["--round-iters", "100"]) as d:
        label_leased(d, 20)
        wait_state(d, "training")
        more = [i for i in pool_items(seed=7) if i["split"] == "pool"][:30]
        r = d.post("/v1/samples", {"items": more})
        assert r.status == 200 and r.json["inserted"] == 30, r.body
        new = {i["sample_id"] for i in r.json["items"]}
        # imported while the round trains, or the test shows nothing
        assert d.get("/v1/model").json["state"] == "training"
        wait_model(d, 1)
        served = []  # in the order served: the round's, then the new
        while True:
            got = d.post("/v1/leases", {"annotator": "sweep", "n": 100}).json
            if not got["items"]:
                break
            served += [i["sample_id"] for i in got["items"]]
        assert len(served) == len(set(served)) == 400 + 30 - 20
        assert set(served[-30:]) == new, sorted(new - set(served))


def test_a_pool_over_round_candidates_is_drawn_anew_each_round():
    """A pool larger than round_candidates: the start and every round
    read, score and rank that many of its unlabeled samples, drawn at
    random and anew each round, with every label, and serve the rest
    after them, unscored."""
    with daemon(["--round-candidates", "100"]) as d:
        policy = d.get("/v1/project").json["retrain_policy"]
        assert policy["round_candidates"] == 100, policy

        def ranked(free):
            q = d.get("/v1/queue?limit=1000").json["items"]
            n = sum(i["score"] is not None for i in q)
            assert len(q) == free and n == 100, (len(q), n)
            assert all(i["score"] is None for i in q[n:]), q[n:n + 3]
            return {i["sample_id"] for i in q[:n]}
        wait_start(d)
        start = ranked(400)
        label_leased(d, 20)
        wait_model(d, 1)
        one = ranked(380)
        label_leased(d, 20)
        m, _ = wait_model(d, 2)
        two = ranked(360)
        assert len({frozenset(start), frozenset(one), frozenset(two)}) == 3
        assert d.get("/v1/rounds/2").json["labels_used"] == 40
        assert 0.25 < m["eval_accuracy"] <= 1.0, m
        log = d.read_log()
        for line in ("100 of the pool's 400 unlabeled samples drawn",
                     "100 of the pool's 380 unlabeled samples drawn",
                     "100 of the pool's 360 unlabeled samples drawn"):
            assert line in log, log


def test_other_strategies_serve_in_their_order():
    # Each strategy's key, as leases carry it in "score": minus the entropy
    # for entropy, S(z) for aral, the rank in the order for typical-aral
    # and typical (the default before typical-mass).
    rank = lambda k: k >= 0 and k == int(k)
    in_range = {"entropy": lambda k: k <= 0, "aral": lambda k: 0 < k < 1,
                "typical-aral": rank, "typical": rank}
    for name, ok in in_range.items():
        with daemon(["--strategy", name]) as d:
            label_leased(d, 20)
            m, _ = wait_model(d, 1)
            assert m["strategy"] == name, m
            leases, labels = label_leased(d, 10)
            assert all(i["strategy"] == name and i["model_version"] == 1
                       for i in leases), leases
            keys = [i["score"] for i in leases]
            assert keys == sorted(keys) and all(map(ok, keys)), (name, keys)
            r = d.get("/v1/rounds/1").json
            assert r["strategy"] == name, r
            assert r["uncertain_first"] is (name == "entropy"), r


def test_rounds_say_when_typical_mass_goes_most_uncertain_first():
    """The default strategy takes each cluster's most typical member
    until the labels reach 30 a class (score.h, SCORE_UNCERTAIN_FROM),
    the most uncertain of its typical half from then on; each round
    says which it did. Four classes, a round after every label: the
    round on 119 labels takes the typical, the one on 120 the uncertain."""
    with daemon(["--start-strategy", "random", "--retrain-every", "1"]) as d:
        for version, n in enumerate((100, 19, 1), 1):  # a round each
            label_leased(d, n)
            wait_model(d, version)
        items = d.get("/v1/rounds").json["items"]
        seen = [(r["labels_used"], r["uncertain_first"]) for r in items]
        assert seen[-2:] == [(119, False), (120, True)], seen
        assert all(u is (n >= 120) for n, u in seen), seen
        assert all(r["strategy"] == DEFAULT for r in items), items


def test_after_a_random_start_typical_mass_joins_the_whitened_components():
    """After a random start the default strategy clusters D's features
    joined with the pool's whitened principal components (score.h,
    score_joins_components). The worker computes them in the first round
    that needs them and again only when the pool changes, and says so in
    the log each time, and each round's row says that it joined them;
    after the label-free start none does."""
    said = "arald: worker: the pool's whitened components (%d samples"
    with daemon(["--start-strategy", "random"]) as d:
        for version in (1, 2):  # the same pool: computed once
            label_leased(d, 20)
            wait_model(d, version)
            assert d.read_log().count(said % 400) == 1, d.read_log()
        more = [i for i in pool_items(seed=7) if i["split"] == "pool"][:30]
        assert d.post("/v1/samples", {"items": more}).status == 200
        leases, _ = label_leased(d, 20)
        assert all(i["model_version"] == 2 for i in leases), leases
        wait_model(d, 3)
        assert d.read_log().count(said % 430) == 1, d.read_log()
        assert all(r["status"] == "published" and r["strategy"] == DEFAULT
                   and r["joined_components"] is True
                   for r in d.get("/v1/rounds").json["items"])
    with daemon() as d:  # the label-free start
        label_leased(d, 20)
        wait_model(d, 1)
        assert "whitened components (" not in d.read_log(), d.read_log()
        assert d.get("/v1/rounds/1").json["joined_components"] is False


def round_s_loss(strategy, seed):
    """S's loss at the end of one round of strategy on 50 labels of each
    of three groups and none of the fourth (rounds/1's "losses")."""
    args = ["--strategy", strategy, "--start-strategy", "random",
            "--min-labels", "150", "--retrain-every", "1000",
            "--round-iters", "120", "--seed", str(seed)]
    with Daemon(dim=24, classes=NAMES, serve_args=args) as d:
        sizes = (150,) * 4
        group = import_groups(d, groups_pool(sizes, seed, dim=24), sizes)
        items = [{"sample_id": i, "label": NAMES[g]}
                 for i, g in group.items() if g < 3 and i % 3 == 0]
        assert d.post("/v1/labels", {"items": items}).status == 200
        wait_model(d, 1)
        r = d.get("/v1/rounds/1").json
        assert r["strategy"] == strategy, r
        return r["losses"]["s"]


def test_typical_aral_trains_s_without_saturating():
    """The daemon's typical-aral trains S as bench measured it (aral-sim
    --joint-bn 1): E's labeled and unlabeled batches share batch-norm
    statistics, so S plays its game with E and its loss stays near
    chance (0.0014: two binary cross-entropies at weight 0.001). The
    faithful aral keeps the paper's two passes, where S tells the
    batches apart by their statistics alone and its loss collapses
    (below 1e-6 here); that is the control that this check can fail."""
    joint, paper = (round_s_loss(st, 1) for st in ("typical-aral", "aral"))
    assert joint > 2e-4 and paper < 2e-5, (joint, paper)


def test_a_wrong_label_shows_in_the_rounds_record():
    """An annotator gives one of 21 samples the wrong class: the round
    says its classifier gets one of its labels wrong, where it gets none
    wrong on truthful labels (the first case here). Both of the round's
    classifiers, its average and its last step, disagree with that one
    label (seeds 1-8), so it keeps the average."""
    with daemon(["--min-labels", "21"]) as d:
        label_leased(d, 21, wrong=1)
        wait_model(d, 1)
        r = d.get("/v1/rounds/1").json
        assert r["labels_used"] == 21, r
        assert r["labeled_wrong"] == {"average": 1, "last_step": 1}, r
        assert r["classifier"] == "average", r


def test_one_class_is_not_enough_and_the_order_stays_random():
    with daemon(["--start-strategy", "random"]) as d:
        leases = d.post("/v1/leases", {"annotator": "x", "n": 40}).json
        items = [{"lease_id": i["lease_id"], "label": "a"}
                 for i in leases["items"]]
        assert d.post("/v1/labels", {"items": items}).status == 200
        assert d.post("/v1/model/retrain").status == 202
        time.sleep(1.5)
        m = d.get("/v1/model").json
        assert m["model_version"] is None and "2 classes" in m["last_error"]
        lease = d.post("/v1/leases", {"n": 1}).json["items"][0]
        assert lease["strategy"] == "random" and lease["score"] is None
        assert rounds(d) == []


class EventReader:
    """A /v1/events client on its own thread: the events as (name, data)."""

    def __init__(self, d):
        import http.client
        import threading
        self.events, self.conn = [], http.client.HTTPConnection(
            "127.0.0.1", d.port, timeout=60)
        self.conn.request("GET", "/v1/events", headers={
            "Authorization": "Bearer " + d.tokens["admin"]})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("content-type") == "text/event-stream"
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        name = None
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))
        except (OSError, ValueError):
            pass

    def names(self):
        return [n for n, _ in self.events]


def test_events_reach_two_clients_and_do_not_hold_up_shutdown():
    with daemon() as d:
        a, b = EventReader(d), EventReader(d)
        label_leased(d, 20)
        wait_model(d, 1)
        # each stream is resumed on its own: wait for both, not for one
        deadline = time.time() + 10
        while time.time() < deadline and not all(
                "round_finished" in r.names() for r in (a, b)):
            time.sleep(0.05)
        for r in (a, b):
            names = r.names()
            assert names[0] == "state", names
            assert r.events[0][1]["model_version"] is None
            for want in ("labels", "round_started", "round_progress",
                         "round_finished"):
                assert want in names, (want, names)
            assert names.index("round_started") < names.index(
                "round_finished")
            done = r.events[names.index("round_finished")][1]
            assert done["model_version"] == 1 and done["state"] == "idle"
            assert done["labeled"] == 20 and done["eval_accuracy"] > 0.25
        # A client that connects now gets the current state first.
        c = EventReader(d)
        time.sleep(0.3)
        assert c.events[0] == ("state", c.events[0][1])
        assert c.events[0][1]["model_version"] == 1
        # Streams open, one of them never read: SIGTERM still exits 0
        # at once.
        idle = socket.create_connection(("127.0.0.1", d.port))
        idle.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " +
                     d.tokens["admin"].encode() + b"\r\n\r\n")
        time.sleep(0.3)
        t0 = time.time()
        assert d.stop() == 0 and time.time() - t0 < 5


if __name__ == "__main__":
    run([test_labels_start_a_round_and_leases_follow_its_ranking,
         test_typical_aral_trains_s_without_saturating,
         test_the_start_covers_the_groups_of_vectors_too_wide_to_whiten,
         test_before_any_model_the_first_leases_cover_every_group,
         test_imports_before_the_workers_first_look_wait_to_settle,
         test_a_lease_that_meets_a_new_ranking_serves_it,
         test_sigterm_ends_the_test_hooks_hold_on_the_worker,
         test_a_pool_imported_without_pause_is_ordered_meanwhile,
         test_sigterm_while_the_start_orders_a_large_pool_exits_at_once,
         test_samples_imported_during_a_round_are_served_after_it,
         test_a_pool_over_round_candidates_is_drawn_anew_each_round,
         test_other_strategies_serve_in_their_order,
         test_rounds_say_when_typical_mass_goes_most_uncertain_first,
         test_after_a_random_start_typical_mass_joins_the_whitened_components,
         test_a_wrong_label_shows_in_the_rounds_record,
         test_one_class_is_not_enough_and_the_order_stays_random,
         test_events_reach_two_clients_and_do_not_hold_up_shutdown])
