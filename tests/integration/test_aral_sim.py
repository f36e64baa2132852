"""aral-sim as its user runs it: a directory of MNIST-style IDX files,
one JSON line per cycle on stdout, the same lines for the same seed, and
a one-line refusal (exit != 0, nothing on stdout) for files that do not
fit together. The data is small and synthetic (10 classes, each a fixed
random pattern plus noise) so the suite stays fast under ASan too."""
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile

from harness import idx_bytes, run

SIM = os.environ.get("ARAL_SIM", os.path.join(os.path.dirname(__file__),
                                              "../../build/tools/aral-sim"))
KEYS = {"strategy", "initial_strategy", "imbalance", "training", "cycle",
        "labeled",
        "test_acc", "balanced_acc", "class_recall", "train_seconds",
        "iters_per_sec", "query_seconds", "picked"}


def images(labels, seed):
    r = random.Random(1)  # the class patterns: the same for train and test
    proto = [bytes(r.randrange(256) for _ in range(784)) for _ in range(10)]
    r = random.Random(seed)
    return [bytes(min(255, max(0, p + r.randrange(-40, 41)))
                  for p in proto[y]) for y in labels]


def dataset(n_train=300, n_test=100, **override):
    """A data directory; override replaces a file's bytes by name."""
    d = tempfile.mkdtemp(prefix="aral-sim-")
    r = random.Random(2)
    ytr = [r.randrange(10) for _ in range(n_train)]
    yte = [r.randrange(10) for _ in range(n_test)]
    files = {"train-images-idx3-ubyte.gz": idx_bytes(images(ytr, 3)),
             "train-labels-idx1-ubyte.gz": idx_bytes(labels=ytr),
             "t10k-images-idx3-ubyte.gz": idx_bytes(images(yte, 4)),
             "t10k-labels-idx1-ubyte.gz": idx_bytes(labels=yte)}
    files.update(override)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return d


def sim(d, *args):
    p = subprocess.run([SIM, "--data", d, "--threads", "1", *args],
                       capture_output=True, text=True, timeout=250)
    return p.returncode, p.stdout, p.stderr


def lines(out):
    return [json.loads(line) for line in out.splitlines()]


def joins_by_default(more):
    """Whether typical-mass joins the whitened components (score.h): after
    a random start, unless --join-components says otherwise."""
    flags = dict(zip(more[::2], more[1::2]))
    start = flags.get("--initial-strategy", "random")
    return flags.get("--join-components", str(int(start == "random"))) == "1"


def check_cycles(d, strategy, iters, cycles, *more):
    args = ["--strategy", strategy] if strategy else []
    code, out, err = sim(d, "--initial", "20", "--budget", "15", "--cycles",
                         str(cycles), "--iters", str(iters), "--seed", "1",
                         *args, *more)
    assert code == 0, err
    rows = lines(out)
    assert [r["cycle"] for r in rows] == list(range(1, cycles + 1)), out
    assert [r["labeled"] for r in rows] == [20 + 15 * c
                                            for c in range(cycles)], out
    mass = strategy in (None, "typical-mass")
    keys = KEYS | ({"valid_acc", "valid_balanced_acc", "valid_class_recall"}
                   if "--valid" in more else set()) | (
        {"uncertain_from"} if mass else set()) | (
        {"join_components"} if mass and joins_by_default(more) else set())
    assert all(set(r) == keys for r in rows), out
    assert all(sum(r["picked"]) == 15 for r in rows), out
    assert all(r["strategy"] == (strategy or "typical-mass") for r in rows), out
    return rows


def test_cycles_print_json_lines_and_learn():
    d = dataset()
    try:
        rows = check_cycles(d, "aral", 30, 3)
        # chance is 0.1; the classes are easy patterns
        assert rows[-1]["test_acc"] > 0.5, rows
        for strategy in ("random", "entropy", "typical-aral", None):
            check_cycles(d, strategy, 4, 2)
    finally:
        shutil.rmtree(d)


def test_strategies_train_as_arald_trains_them():
    """typical-aral's E shares batch-norm statistics between the labeled
    and unlabeled batches, as arald trains it; the others keep the
    paper's two sets; --joint-bn says otherwise when given."""
    d = dataset(n_train=60, n_test=10)
    try:
        for args, joint in [(("--strategy", "typical-aral"), 1),
                            (("--strategy", "aral"), 0), ((), 0),
                            (("--strategy", "typical-aral", "--joint-bn", "0"),
                             0),
                            (("--strategy", "aral", "--joint-bn", "1"), 1)]:
            code, out, err = sim(d, "--initial", "20", "--iters", "1",
                                 "--cycles", "1", *args)
            assert code == 0, err
            assert f"joint-bn {joint}," in err, (args, err)
    finally:
        shutil.rmtree(d)


def test_validation_imbalance_and_typical_start():
    d = dataset(n_train=600)
    try:
        rows = check_cycles(d, "random", 4, 2, "--valid", "100")
        assert all(0 <= r["valid_acc"] <= 1 for r in rows), rows
        # each class's recall, whose mean is the balanced accuracy (the
        # test set holds every class; null only for a class a set lacks)
        for r in rows:
            for key, mean in (("class_recall", "balanced_acc"),
                              ("valid_class_recall", "valid_balanced_acc")):
                got = [x for x in r[key] if x is not None]
                assert len(r[key]) == 10 and all(0 <= x <= 1 for x in got)
                assert abs(sum(got) / len(got) - r[mean]) < 2e-4, (key, r)
            assert None not in r["class_recall"], r
        # class k keeps 0.1^(k/9) of its ~60 samples: class 9 keeps about 6
        # of 600, so the 20 random initial picks rarely include it and the
        # pool shrinks to about 230
        code, out, err = sim(d, "--imbalance", "0.1", "--iters", "1",
                             "--cycles", "1", "--initial", "20")
        assert code == 0, err
        pool = int(err.split("pool ")[1].split(",")[0])
        assert 200 < pool < 260, err
        assert lines(out)[0]["imbalance"] == 0.1
        # the label-free start: 20 typical picks of the pixels' whitened
        # components (the daemon's), or of the pixels, one cycle
        for start in ("typical", "typical-pixels"):
            row = check_cycles(d, "random", 1, 1, "--initial-strategy",
                               start)[0]
            assert row["initial_strategy"] == start, row
    finally:
        shutil.rmtree(d)


def test_same_seed_same_lines():
    d = dataset()
    try:
        args = ("--initial", "20", "--budget", "10", "--cycles", "2",
                "--iters", "8", "--seed", "7")
        runs = [lines(sim(d, *args)[1]) for _ in range(2)]
        other = lines(sim(d, *args[:-1], "8")[1])
        drop = ("train_seconds", "iters_per_sec", "query_seconds")
        strip = [[{k: v for k, v in r.items() if k not in drop} for r in x]
                 for x in runs + [other]]
        assert strip[0] == strip[1], strip
        assert len(strip[0]) == 2
        quiet = lines(sim(d, *args, "--noise", "0.1,0.2")[1])
        assert all(r["training"].endswith(" noise 0.1,0.2") for r in quiet)
        assert "noise" not in runs[0][0]["training"]
    finally:
        shutil.rmtree(d)


def refused(d, code, text, *args):
    got, out, err = sim(d, *args)
    assert got == code, (got, err)
    assert out == "", out
    lines_ = err.strip().splitlines()
    assert len(lines_) <= 2 and lines_[0].startswith("aral-sim: "), err
    assert text in err, err


def test_files_that_do_not_fit_are_refused():
    r = random.Random(5)
    y = [r.randrange(10) for _ in range(300)]
    cases = [
        ({"train-labels-idx1-ubyte.gz": idx_bytes(labels=y[:299])},
         "differ in count"),
        ({"train-labels-idx1-ubyte.gz": idx_bytes(labels=[12] + y[1:])},
         "labels must be 0-9"),
        ({"t10k-labels-idx1-ubyte.gz": idx_bytes(images=images(y[:5], 1))},
         "labels 1"),
        ({"train-images-idx3-ubyte.gz":
          idx_bytes(images(y, 3), gz=False)[:-100]}, "aral-sim: "),
    ]
    for override, text in cases:
        d = dataset(**override)
        try:
            refused(d, 1, text, "--iters", "1")
        finally:
            shutil.rmtree(d)
    d = dataset()
    try:
        refused(d, 1, "larger than --initial", "--initial", "300")
        os.remove(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
        refused(d, 1, "t10k-images", "--iters", "1")
    finally:
        shutil.rmtree(d)


def test_dump_holds_what_the_cycle_measured():
    """--dump writes D's features and logits per cycle: the test rows'
    arg max gives the line's test_acc, the validation rows' its
    valid_acc, and the states count the labeled and held-out rows."""
    d, out_dir = dataset(), tempfile.mkdtemp(prefix="aral-dump-")
    try:
        rows = check_cycles(d, "random", 8, 2, "--valid", "50", "--dump",
                            out_dir)
        y = {"train": list(gzip.open(f"{d}/train-labels-idx1-ubyte.gz")
                           .read()[8:]),
             "test": list(gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz")
                          .read()[8:])}
        for row in rows:
            def floats(name, width):
                raw = open(f"{out_dir}/c{row['cycle']}_{name}", "rb").read()
                n = len(y[name.split("_")[0]])
                assert len(raw) == 4 * n * width, (name, len(raw))
                v = struct.unpack(f"<{n * width}f", raw)
                return [v[i * width:(i + 1) * width] for i in range(n)]
            feat = floats("train_feat", 250)
            assert all(min(f) >= 0 for f in feat)  # after a ReLU
            state = [int(s[0]) for s in floats("train_state", 1)]
            assert state.count(1) == row["labeled"] and state.count(3) == 50
            for split, key, keep in (("test", "test_acc", None),
                                     ("train", "valid_acc", 3)):
                logits = floats(f"{split}_logits", 10)
                hits = [max(range(10), key=lambda k: l[k]) == t
                        for i, (l, t) in enumerate(zip(logits, y[split]))
                        if keep is None or state[i] == keep]
                assert abs(sum(hits) / len(hits) - row[key]) < 1e-4, row
        # a test set larger than the pool fits the buffers too (ASan)
        shutil.rmtree(d)
        d = dataset(n_train=60, n_test=200)
        code, out, err = sim(d, "--initial", "20", "--iters", "1",
                             "--cycles", "1", "--dump", out_dir)
        assert code == 0, err
        assert os.path.getsize(f"{out_dir}/c1_test_logits") == 4 * 200 * 10
    finally:
        shutil.rmtree(d), shutil.rmtree(out_dir)


def test_bad_flags_are_refused():
    d = dataset(n_train=30, n_test=10)
    try:
        for args, text in [(("--strategy", "best"), "unknown --strategy"),
                           (("--imbalance", "0"), "number in (0, 1]"),
                           (("--ema", "1.5"), "number in [0, 1]"),
                           (("--ema", ""), "number in [0, 1]"),
                           (("--noise", "0.1"), "IN,HIDDEN"),
                           (("--noise", "0.1,2"), "IN,HIDDEN"),
                           (("--noise", "0.1,x"), "IN,HIDDEN"),
                           (("--noise", "0.1,"), "IN,HIDDEN"),
                           (("--noise", "nan,0.2"), "IN,HIDDEN"),
                           (("--balanced", "2"), "bad value for --balanced"),
                           (("--decay", ""), "bad value for --decay"),
                           (("--initial-strategy", "x"),
                            "random, typical or typical-pixels"),
                           (("--iters", "-1"), "bad value for --iters"),
                           (("--uncertain-from", "-1"),
                            "bad value for --uncertain-from"),
                           (("--join-components", "2"),
                            "bad value for --join-components"),
                           (("--candidates", "0"),
                            "bad value for --candidates"),
                           (("--dump", "/nonexistent/dir"),
                            "exists and is writable"),
                           (("--cycles",), "takes a value"),
                           (("--color", "1"), "unknown option")]:
            got, out, err = sim(d, *args)
            assert got == 2 and out == "" and text in err, (args, got, err)
        p = subprocess.run([SIM], capture_output=True, text=True)
        assert p.returncode == 2 and "--data is required" in p.stderr
    finally:
        shutil.rmtree(d)


def test_uncertain_from_changes_the_late_picks():
    """typical-mass goes most uncertain first from --uncertain-from labels
    a class on (30 by default, the daemon's): from 1, the 20 initial labels
    (2 a class) are enough, so cycle 1's picks differ from --uncertain-from
    0's while cycle 1 itself (the same initial set and training) does not;
    the lines and the log say which ran."""
    d = dataset()
    dumps = {n: tempfile.mkdtemp(prefix="aral-dump-") for n in (0, 1)}
    try:
        code, out, err = sim(d, "--initial", "20", "--iters", "1",
                             "--cycles", "1")
        assert code == 0 and "uncertain-from 30," in err, err
        assert lines(out)[0]["uncertain_from"] == 30
        rows = {n: check_cycles(d, None, 4, 2, "--uncertain-from", str(n),
                                "--dump", dumps[n]) for n in (0, 1)}
        assert [r["uncertain_from"] for r in rows[1]] == [1, 1]
        assert rows[0][0]["test_acc"] == rows[1][0]["test_acc"]

        def state(n, cycle):
            return open(f"{dumps[n]}/c{cycle}_train_state", "rb").read()
        assert state(0, 1) == state(1, 1)
        assert state(0, 2) != state(1, 2)
        code, out, err = sim(d, "--strategy", "random", "--iters", "1",
                             "--cycles", "1", "--initial", "20")
        assert code == 0 and "uncertain_from" not in lines(out)[0], out
    finally:
        shutil.rmtree(d)
        for path in dumps.values():
            shutil.rmtree(path)


def test_candidates_limit_what_a_cycle_trains_on_and_ranks():
    """--candidates N: as arald with round_candidates, only N unlabeled
    samples, drawn anew for the start and each cycle, are in play; with N
    at least the pool, the lines are those of a run without it."""
    d = dataset()
    try:
        base = ["--initial", "20", "--budget", "15", "--cycles", "2",
                "--iters", "4", "--seed", "1", "--initial-strategy", "typical"]
        code, whole, err = sim(d, *base)
        assert code == 0, err
        code, out, err = sim(d, *base, "--candidates", "1000")
        assert code == 0, err
        rows = lines(out)
        assert [(r.pop("candidates"), r.pop("ranked")) for r in rows] == [
            (1000, 280), (1000, 265)], rows
        drop = ("train_seconds", "iters_per_sec", "query_seconds")
        same = [{k: v for k, v in r.items() if k not in drop} for r in rows]
        assert same == [{k: v for k, v in r.items() if k not in drop}
                        for r in lines(whole)]
        code, out, err = sim(d, *base, "--candidates", "100")
        assert code == 0, err
        rows = lines(out)
        assert [r["ranked"] for r in rows] == [100, 100], rows
        assert all(sum(r["picked"]) == 15 for r in rows), rows
    finally:
        shutil.rmtree(d)


def test_after_a_random_start_typical_mass_joins_the_components():
    """As the daemon: after a random start typical-mass clusters D's
    features joined with the pool's whitened components (score.h), after
    the typical start not; --join-components says otherwise. The join
    changes cycle 1's picks, not cycle 1 itself; the lines and the log say
    which ran."""
    d = dataset()
    dumps = {n: tempfile.mkdtemp(prefix="aral-dump-") for n in (0, 1)}
    try:
        for more, joined in [((), 1), (("--initial-strategy", "typical"), 0),
                             (("--join-components", "0"), 0),
                             (("--initial-strategy", "typical",
                               "--join-components", "1"), 1)]:
            code, out, err = sim(d, "--initial", "20", "--iters", "1",
                                 "--cycles", "1", *more)
            assert code == 0 and f"join-components {joined}," in err, err
            assert lines(out)[0].get("join_components", 0) == joined, out
        rows = {n: check_cycles(d, None, 4, 2, "--join-components", str(n),
                                "--dump", dumps[n]) for n in (0, 1)}
        assert rows[0][0]["test_acc"] == rows[1][0]["test_acc"]

        def state(n, cycle):
            return open(f"{dumps[n]}/c{cycle}_train_state", "rb").read()
        assert state(0, 1) == state(1, 1)
        assert state(0, 2) != state(1, 2)
    finally:
        shutil.rmtree(d)
        for path in dumps.values():
            shutil.rmtree(path)


run([test_cycles_print_json_lines_and_learn, test_same_seed_same_lines,
     test_strategies_train_as_arald_trains_them,
     test_validation_imbalance_and_typical_start,
     test_files_that_do_not_fit_are_refused, test_bad_flags_are_refused,
     test_dump_holds_what_the_cycle_measured,
     test_uncertain_from_changes_the_late_picks,
     test_candidates_limit_what_a_cycle_trains_on_and_ranks,
     test_after_a_random_start_typical_mass_joins_the_components])
