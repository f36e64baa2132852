"""kill -9 while annotators are labeling: after a restart every
acknowledged label is there and the database passes integrity_check."""
import json
import threading
import time

from harness import Daemon, integrity, run, vectors


def label_until_killed(d, name, acked, stop):
    while not stop.is_set():
        try:
            r = d.post("/v1/leases", {"annotator": name, "n": 2},
                       token="annotate")
            for it in r.json["items"]:
                x = d.post("/v1/labels", {"lease_id": it["lease_id"],
                                          "label": "ab"[it["sample_id"] % 2]},
                           token="annotate")
                if x.status == 200:  # acknowledged: must survive
                    item = x.json["items"][0]
                    acked[item["sample_id"]] = item["label_id"]
        except Exception:
            time.sleep(0.01)  # the daemon is gone or restarting


def test_kill9_keeps_every_acknowledged_label():
    with Daemon(dim=8, classes=["a", "b"]) as d:
        for k in range(3):
            assert d.post("/v1/samples", {"items": vectors(1000, 8, k + 1)},
                          token="ingest").status == 200
        acked = {}
        for cycle in range(3):
            stop = threading.Event()
            threads = [threading.Thread(target=label_until_killed,
                                        args=(d, f"ann{i}", acked, stop))
                       for i in range(4)]
            for t in threads:
                t.start()
            target = len(acked) + 150
            deadline = time.time() + 60
            while len(acked) < target and time.time() < deadline:
                time.sleep(0.005)
            d.kill9()  # mid-flight: requests are being answered right now
            stop.set()
            for t in threads:
                t.join()
            assert integrity(d.db) == [("ok",)], integrity(d.db)
            d.start()
            rows = [json.loads(x) for x in
                    d.get("/v1/export").body.decode().splitlines()]
            got = {r["sample_id"]: r["label_id"] for r in rows}
            missing = {s: l for s, l in acked.items() if got.get(s) != l}
            assert not missing, f"cycle {cycle}: lost {missing}"
            # Labeled samples stay out of the queue after the restart.
            queue = d.get("/v1/queue?limit=1000").json
            assert not set(acked) & {i["sample_id"] for i in queue["items"]}
            assert queue["total"] == 3000 - len(got) - \
                d.get("/v1/samples?state=leased").json["total"]
        assert len(acked) >= 450


run([test_kill9_keeps_every_acknowledged_label])
