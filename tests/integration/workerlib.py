"""What test_worker.py and test_models.py share: a daemon over a pool of
8-dimensional vectors around four centres (class = id mod 4), 400 in the
pool and 100 labeled ones in the eval split, with rounds of ROUND_ITERS
iterations, and the waits and reads on its model and rounds."""
import random
import sqlite3
import struct
import time

from harness import Daemon

NAMES = ["a", "b", "c", "d"]
DEFAULT = "typical-mass"  # the daemon's strategy unless told (core/score.h)
# Rounds of 10 iterations: their classifier already gets every eval sample
# right (seeds 1-5), and a round trains in 0.9 s against 2.5 s at 40. The
# cases here test the worker, not learning, and the suite has a time limit
# (test_worker and test_models took 206 and 124 s under ASan at 40).
ROUND_ITERS = 10
FAST = ["--min-labels", "20", "--retrain-every", "20",
        "--round-iters", str(ROUND_ITERS)]


def pool_items(seed=1):
    rng = random.Random(seed)
    centres = [[rng.random() for _ in range(8)] for _ in range(4)]

    def item(c, split, label=None):
        d = {"vector": [x + 0.05 * rng.gauss(0, 1) for x in centres[c]],
             "split": split}
        if label:
            d["label"] = label
        return d
    return ([item(i % 4, "pool") for i in range(400)] +
            [item(i % 4, "eval", NAMES[i % 4]) for i in range(100)])


def daemon(extra=(), **kw):
    d = Daemon(dim=8, classes=NAMES, serve_args=FAST + list(extra),
               env={"ARALD_TEST_FAULTS": "1"}, **kw)
    r = d.post("/v1/samples", {"items": pool_items()})
    assert r.status == 200, r.body
    return d


def truth(sample_id):
    return NAMES[(sample_id - 1) % 4]


def label_leased(d, n, annotator="ann", wrong=0):
    """Leases n samples and labels them truthfully but for the first
    `wrong`, which get another class; returns both replies."""
    leases = d.post("/v1/leases", {"annotator": annotator, "n": n}).json
    items = [{"lease_id": i["lease_id"], "label": truth(i["sample_id"])}
             for i in leases["items"]]
    for item in items[:wrong]:
        item["label"] = next(c for c in NAMES if c != item["label"])
    r = d.post("/v1/labels", {"items": items})
    assert r.status == 200, r.body
    return leases["items"], r.json["items"]


def wait_model(d, version, timeout=180):
    """Polls /v1/model until model_version reaches version; the states
    seen on the way. The timeout is a ceiling for slow builds (a round of
    test_worker's took 70 s under ThreadSanitizer), not a measure."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        m = d.get("/v1/model").json
        if not seen or seen[-1] != m["state"]:
            seen.append(m["state"])
        if (m["model_version"] or 0) >= version and m["state"] == "idle":
            return m, seen
        time.sleep(0.05)
    raise AssertionError(f"no model {version} in {timeout} s: {m}")


def wait_state(d, state, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if d.get("/v1/model").json["state"] == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"never {state}")


def first_model(d):
    """Labels 20 samples and waits for model 1; its queue's head."""
    label_leased(d, 20)
    wait_model(d, 1)
    return queue_ids(d)


def queue_ids(d, n=20):
    return [i["sample_id"] for i in d.get(f"/v1/queue?limit={n}").json["items"]]


def stored_order(d, version):
    """Model version's stored ranking, without the samples labeled now."""
    con = sqlite3.connect(d.db)
    blob, = con.execute("SELECT ids FROM rankings WHERE model_version = ?",
                        (version,)).fetchone()
    labeled = {i for (i,) in con.execute(
        "SELECT id FROM samples WHERE label IS NOT NULL")}
    con.close()
    ids = struct.unpack(f"<{len(blob) // 8}q", blob)
    return [i for i in ids if i not in labeled]


def rounds(d):
    con = sqlite3.connect(d.db)
    rows = con.execute("SELECT id, status, model_version, reason FROM rounds"
                       " ORDER BY id").fetchall()
    con.close()
    return rows


def wait_start(d, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if d.get("/v1/queue?limit=1").json["strategy"] == "typical":
            return
        time.sleep(0.05)
    raise AssertionError("the pool was never ordered by the typical start")
