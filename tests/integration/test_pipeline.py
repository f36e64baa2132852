"""examples/pipeline.py, the client a pipeline author copies, run as its
user would: against a real daemon, over a folder of PNGs and a labels
file. Its output goes to the test log."""
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys

from harness import Daemon, png_bytes, run

CLIENT = os.path.join(os.path.dirname(__file__), "../../examples/pipeline.py")


def make_folder(d, n=120):
    """Two classes a model can tell apart: bright left or right half."""
    folder = os.path.join(d.dir, "images")
    os.makedirs(folder)
    rng = random.Random(3)
    rows = []
    for i in range(n):
        cls = i % 2
        px = bytes(min(255, max(0, (200 if (x < 14) == (cls == 0) else 40) +
                                rng.randint(-30, 30)))
                   for y in range(28) for x in range(28))
        name = f"img{i:03d}.png"
        open(os.path.join(folder, name), "wb").write(png_bytes(28, 28, px))
        rows.append((name, ["left", "right"][cls]))
    labels = os.path.join(d.dir, "labels.csv")
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder, labels


def test_example_pipeline_imports_labels_follows_rounds_and_exports():
    with Daemon(classes=["left", "right"],
                serve_args=["--min-labels", "20", "--retrain-every", "20",
                            "--round-iters", "20"]) as d:
        folder, labels = make_folder(d)
        out = os.path.join(d.dir, "export.jsonl")
        args = [sys.executable, CLIENT, "--url", f"http://127.0.0.1:{d.port}",
                "--token", d.tokens["admin"],  # imports and labels: admin
                "--images", folder, "--labels", labels, "--batch", "20",
                "--first", "20", "--rounds", "2", "--out", out]
        p = subprocess.run(args, capture_output=True, text=True, timeout=240)
        print(p.stdout, p.stderr, sep="\n")
        assert p.returncode == 0, p.stderr
        assert "imported 120 images" in p.stdout
        assert "exported 60 labels" in p.stdout
        lines = open(out).read().splitlines()
        assert len(lines) == 60
        con = sqlite3.connect(d.db)
        versions = sorted(v for (v,) in con.execute(
            "SELECT DISTINCT model_version FROM labels WHERE model_version"
            " IS NOT NULL"))
        wrong = con.execute(
            "SELECT count(*) FROM labels l JOIN samples s ON s.id ="
            " l.sample_id WHERE l.label != (CASE WHEN CAST(substr("
            "s.external_id, 4, 3) AS INTEGER) % 2 = 0 THEN 0 ELSE 1 END)"
        ).fetchone()[0]
        rounds = con.execute("SELECT count(*) FROM rounds WHERE status ="
                             " 'published'").fetchone()[0]
        con.close()
        assert versions == [1, 2], versions  # leases of models 1 and 2
        assert wrong == 0 and rounds == 3
        # a label undone and one given elsewhere: the next run (its
        # labels replayed by their keys) fetches just those two changes
        free = d.get("/v1/samples?state=unlabeled&limit=1").json["items"][0]
        assert d.post("/v1/labels", {"sample_id": free["sample_id"],
                                     "label": "left"}).status == 200
        first = json.loads(lines[0])
        assert d.post(f"/v1/labels/{first['label_id']}/undo").status == 200
        p = subprocess.run(args[:-4] + ["--rounds", "0", "--out", out],
                           capture_output=True, text=True, timeout=240)
        print(p.stdout, p.stderr, sep="\n")
        assert p.returncode == 0, p.stderr
        assert "exported 60 labels" in p.stdout
        assert "(2 changed since the last run)" in p.stdout
        now = d.get("/v1/export").body.decode().splitlines()
        by_id = lambda lines: {x["sample_id"]: x for x in map(json.loads, lines)}
        assert by_id(open(out).read().splitlines()) == by_id(now)


if __name__ == "__main__":
    run([test_example_pipeline_imports_labels_follows_rounds_and_exports])
