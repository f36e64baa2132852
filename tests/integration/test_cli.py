"""The arald command line: help, argument errors, imports, schema
versions, backups, configs. Every refusal is one line and exit != 0."""
import io
import os
import re
import sqlite3
import tempfile
import time

from harness import (Daemon, arald, db_digest, events_stream, idx_bytes,
                     image_bytes, integrity, png_bytes, run, vectors)

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "../../README.md")
SERVE_FLAGS = ["--db", "--config", "--bind", "--port", "--open", "--threads",
               "--lease-ttl", "--max-body", "--max-batch", "--timeout",
               "--max-connections", "--durability", "--access-log", "--seed",
               "--port-file", "--strategy", "--retrain-every",
               "--min-labels", "--round-iters", "--round-candidates",
               "--train-threads"]
CONFIG_KEYS = ["db", "bind", "port", "open", "threads", "lease_ttl",
               "max_body", "max_batch", "timeout", "max_connections",
               "durability", "access_log", "seed", "strategy",
               "retrain_every", "min_labels", "round_iters", "round_candidates",
               "train_threads"]


def new_db(shape="28x28x1"):
    d = tempfile.mkdtemp(prefix="arald-cli-")
    db = os.path.join(d, "t.db")
    arald("init", "--db", db, "--classes", "a,b,c", "--shape", shape)
    return d, db


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def refused(args, code_wanted=None, text=None):
    code, out, err = arald(*args, check=False)
    assert code != 0, (args, out)
    if code_wanted is not None:
        assert code == code_wanted, (args, code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arald: "), (args, err)
    if text:
        assert text in err, (args, err)


def test_help_names_every_flag_and_key():
    out = arald("--help")[1]
    readme = open(README).read()
    for f in SERVE_FLAGS + ["--classes", "--shape", "--dim", "--keys",
                            "--idx", "--labels", "--images", "--split",
                            "--role", "--name", "--to", "--id"]:
        assert f in out, f"--help lacks {f}"
        assert f in readme, f"README lacks {f}"
    for k in CONFIG_KEYS:
        assert re.search(rf"\b{k}\b", out), f"--help lacks key {k}"
        assert re.search(rf"\b{k}\b", readme), f"README lacks key {k}"


def test_argument_errors_are_one_line():
    d, db = new_db()
    refused(["frobnicate"], 2, "unknown command")
    refused(["serve", "--db", db, "--bogus"], 2, "unknown option --bogus")
    refused(["serve"], 1, "--db")
    refused(["serve", "--db", db, "--port", "99999"], 2, "bad value")
    refused(["serve", "--db", db, "--strategy", "best"], 2, "bad value")
    refused(["serve", "--db", db, "--start-strategy", "entropy"], 2,
            "bad value")
    refused(["serve", "--db", db, "--round-iters", "0"], 2, "bad value")
    refused(["serve", "--db", db, "--min-labels", "1"], 2, "bad value")
    refused(["serve", "--db", db, "--bind", "0.0.0.0"], 1, "--open")
    refused(["init", "--db", os.path.join(d, "x.db"), "--classes", "a,b",
             "--shape", "28x28"], 1, "HxWxC")
    refused(["init", "--db", os.path.join(d, "y.db"), "--classes", "a"], 1)
    # a photo-sized project would take GBs of weights and hours a round:
    # refused, with the way out; 128x128x1 (16384 values) is the largest
    refused(["init", "--db", os.path.join(d, "p.db"), "--classes", "a,b",
             "--shape", "224x224x3"], 1, "150528 values a sample")
    refused(["init", "--db", os.path.join(d, "v.db"), "--classes", "a,b",
             "--dim", "16385"], 1, "1..16384")
    for name, size in (("s.db", ["--shape", "128x128x1"]),
                       ("w.db", ["--dim", "16384"])):
        arald("init", "--db", os.path.join(d, name), "--classes", "a,b", *size)
    assert not os.path.exists(os.path.join(d, "p.db"))
    refused(["init", "--db", db, "--classes", "a,b", "--dim", "3"], 1,
            "exists")
    refused(["import", "--db", os.path.join(d, "none.db"), "--idx", "x"], 1,
            "no database")
    refused(["token", "create", "--db", db, "--role", "root", "--name", "x"],
            1, "--role")
    refused(["token", "drop", "--db", db], 2, "create, list or revoke")
    refused(["token"], 2, "create, list or revoke")
    refused(["token", "revoke", "--db", db], 2, "--id")
    refused(["token", "revoke", "--db", db, "--id", "x"], 1, "--id")
    refused(["token", "revoke", "--db", db, "--id", "7"], 1, "no token 7")
    refused(["token", "list", "--db", db, "--role", "admin"], 2,
            "unknown option --role")


def test_tokens_listed_and_revoked_on_a_live_database():
    # the random order: the queue does not change under the test
    with Daemon(dim=4, classes=["a", "b"],
                serve_args=["--start-strategy", "random"]) as d:
        out = arald("token", "create", "--db", d.db, "--role", "annotate",
                    "--name", "bob")[1]
        bob = out.split()[-1]
        assert out == f"annotate token 4 for bob: {bob}\n", out
        rows = [line.split() for line in
                arald("token", "list", "--db", d.db)[1].splitlines()]
        assert rows[0] == ["id", "role", "created", "revoked", "name"]
        assert [(r[0], r[1], r[3], r[4]) for r in rows[1:]] == [
            ("1", "admin", "-", "admin"), ("2", "annotate", "-", "annotate"),
            ("3", "ingest", "-", "ingest"), ("4", "annotate", "-", "bob")]
        assert "arl_" not in arald("token", "list", "--db", d.db)[1]
        # revoked from another process: the running daemon refuses the
        # token from the next request on, ends its stream and serves the
        # samples bob held again
        assert d.post("/v1/samples", {"items": vectors(6, 4)},
                      token="ingest").status == 200
        held = [it["sample_id"] for it in
                d.post("/v1/leases", {"n": 2}, token=bob).json["items"]]
        stream = events_stream(d, bob)
        assert d.get("/v1/project", token=bob).status == 200
        out = arald("token", "revoke", "--db", d.db, "--id", "4")[1]
        assert out == ("token 4 (annotate, bob) is revoked; 2 leases went "
                       "back to the pool\n"), out
        t0 = time.monotonic()
        stream.read()
        assert time.monotonic() - t0 < 5
        assert d.get("/v1/project", token=bob).status == 401
        queue = lambda: [it["sample_id"] for it in
                         d.get("/v1/queue?limit=6").json["items"]]
        while queue()[:2] != held and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert queue()[:2] == held and len(queue()) == 6
        rows = arald("token", "list", "--db", d.db)[1].splitlines()
        assert rows[4].split()[3].endswith("Z"), rows
        out = arald("token", "revoke", "--db", d.db, "--id", "4")[1]
        assert out.endswith("is revoked (already)\n"), out
        # unlike REST, the command line may revoke the last admin token
        arald("token", "revoke", "--db", d.db, "--id", "1")
        assert d.get("/v1/project").status == 401


def test_newer_schema_is_refused():
    d, db = new_db()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    before = db_digest(db)
    refused(["serve", "--db", db, "--port", "0"], 1, "newer than this arald")
    refused(["import", "--db", db, "--idx", "x"], 1, "newer")
    assert db_digest(db) == before


def test_idx_import_cli_and_truncated_file():
    d, db = new_db()
    imgs = [image_bytes(i) for i in range(12)]
    images = write(os.path.join(d, "img.gz"), idx_bytes(imgs))
    labels = write(os.path.join(d, "lab.gz"), idx_bytes(labels=[i % 3 for i in
                                                                range(12)]))
    out = arald("import", "--db", db, "--idx", images, "--labels", labels,
                "--split", "eval")[1]
    assert "imported 12 samples into eval" in out, out
    out = arald("import", "--db", db, "--idx", images)[1]
    assert "imported 0 samples" in out and "12 duplicates" in out, out
    before = db_digest(db)
    raw = idx_bytes([image_bytes(i) for i in range(50, 60)], gz=False)
    for bad in (raw[:-5], raw[:7], idx_bytes(imgs)[:-10]):
        refused(["import", "--db", db, "--idx",
                 write(os.path.join(d, "bad"), bad)], 1)
    wrong = write(os.path.join(d, "wl"), idx_bytes(labels=[0, 1, 5]))
    refused(["import", "--db", db, "--idx", write(
        os.path.join(d, "three"), idx_bytes(imgs[:3])), "--labels", wrong],
        1, "outside the 3 classes")
    assert db_digest(db) == before


def test_an_import_into_a_live_database_is_served_within_seconds():
    """An operator adds images with `arald import` while arald serves:
    they are counted, queued and leased without a restart."""
    with Daemon(serve_args=["--start-strategy", "random"]) as d:
        first = write(os.path.join(d.dir, "a.gz"),
                      idx_bytes([image_bytes(i) for i in range(20)]))
        more = write(os.path.join(d.dir, "b.gz"),
                     idx_bytes([image_bytes(i) for i in range(20, 50)]))
        arald("import", "--db", d.db, "--idx", first)
        pool = lambda: d.get("/v1/project").json["counts"]["pool"]
        t0 = time.monotonic()
        while pool() != 20 and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert pool() == 20
        taken = d.post("/v1/leases", {"n": 100}).json["items"]
        assert len(taken) == 20
        arald("import", "--db", d.db, "--idx", more)
        t0 = time.monotonic()
        while pool() != 50 and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert pool() == 50
        queue = d.get("/v1/queue?limit=100").json["items"]
        assert len(queue) == 30
        again = d.post("/v1/leases", {"n": 100}).json["items"]
        assert sorted(i["sample_id"] for i in again) == list(range(21, 51))
        assert d.get("/v1/project").json["counts"]["leased"] == 50


def test_images_dir_import_all_or_nothing():
    from PIL import Image
    d, db = new_db()
    pics = os.path.join(d, "pics")
    os.mkdir(pics)
    write(os.path.join(pics, "a.png"), png_bytes(28, 28, image_bytes(1)))
    buf = io.BytesIO()
    Image.frombytes("L", (28, 28), image_bytes(2)).save(buf, "JPEG")
    write(os.path.join(pics, "b.jpg"), buf.getvalue())
    write(os.path.join(pics, "notes.txt"), b"ignored")
    out = arald("import", "--db", db, "--images", pics)[1]
    assert "imported 2 images" in out, out
    write(os.path.join(pics, "c.png"), png_bytes(30, 28, bytes(30 * 28)))
    write(os.path.join(pics, "d.png"), png_bytes(28, 28, image_bytes(3)))
    before = db_digest(db)
    code, _, err = arald("import", "--db", db, "--images", pics, check=False)
    assert code != 0 and "c.png" in err and "wrong shape" in err, err
    assert db_digest(db) == before


def test_backup_and_check():
    d, db = new_db()
    arald("import", "--db", db, "--idx",
          write(os.path.join(d, "i.gz"), idx_bytes([image_bytes(1)])))
    copy = os.path.join(d, "copy.db")
    assert "backup written" in arald("backup", "--db", db, "--to", copy)[1]
    assert integrity(copy) == [("ok",)]
    assert db_digest(copy) == db_digest(db)
    assert arald("check", "--db", db)[1].strip() == "ok"
    refused(["backup", "--db", db, "--to", copy], 1, "exists")


def test_config_file_and_flags():
    d, db = new_db()
    cfg = write(os.path.join(d, "arald.conf"),
                b"# comment\nlease_ttl = 7\nmax_batch=3\n")
    # an option given twice takes the last (a wrapper's appended one)
    srv = Daemon(db=db, serve_args=["--config", cfg, "--max-batch", "5",
                                    "--lease-ttl", "9", "--max-batch", "2"])
    try:
        p = srv.get("/v1/project").json
        assert p["lease_ttl_seconds"] == 9
        r = srv.post("/v1/labels", {"items": [{"sample_id": 1, "label": "a"}]
                                    * 3})
        assert r.status == 413  # the flag (2) wins over the file (3)
    finally:
        assert srv.stop() == 0
    # each refusal says what is wrong with the line, not only where it is
    for line, why in ((b"lease_ttl = soon", "lease_ttl is an integer in 1.."),
                      (b"port = 99999", "port is an integer in 0..65535"),
                      (b"leese_ttl = 7", "unknown key leese_ttl"),
                      (b"durability = fast", "durability is normal or full"),
                      (b"open = maybe", "open is true or false"),
                      (b"just words", "not a line of key = value")):
        bad = write(os.path.join(d, "bad.conf"), b"# first\n" + line + b"\n")
        refused(["serve", "--db", db, "--config", bad], 2, "bad.conf:2: " + why)
    refused(["serve", "--db", db, "--port", "99999"], 2,
            "--port: 99999 (port is an integer in 0..65535)")


run([test_help_names_every_flag_and_key, test_argument_errors_are_one_line,
     test_tokens_listed_and_revoked_on_a_live_database,
     test_newer_schema_is_refused, test_idx_import_cli_and_truncated_file,
     test_an_import_into_a_live_database_is_served_within_seconds,
     test_images_dir_import_all_or_nothing, test_backup_and_check,
     test_config_file_and_flags])
