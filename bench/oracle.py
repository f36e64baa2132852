#!/usr/bin/env python3
"""An annotator that drives arald only over REST, answering with the known
labels of Fashion-MNIST: the service's learning curve, to hold beside
aral-sim's (the service must not learn worse than the simulator).

For each strategy and seed: a fresh database (the 60,000 training images
as the pool, the 10,000 test images with labels as the eval split), arald
with --strategy, --seed and rounds of ITERS iterations. The first 100
samples are leased and labeled as an annotator would, from the order
served before any model: the label-free start's for a typical strategy
(once the status says it is served), the seed's random order otherwise.
They start the first round (min_labels 100); then, for each later cycle,
100 leases of the newest ranking are labeled, which starts the next round
(retrain_every 100). The eval accuracy of each round's model is read from
/v1/rounds. One JSON line per round on stdout; then a table beside
aral-sim's curves of bench/results for the same configuration (same
iterations, the seeds found there), and one JSON object on the last line.

    usage: bench/oracle.py [--strategies typical-mass,random] [--seeds 0]
                           [--iters 600] [--cycles 5] [--train-threads 2]
                           [--summarise JSONL]
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from selection_table import mean_se

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARALD = os.path.join(ROOT, "build/server/arald")
DATA = "/usr/share/datasets/fashion-mnist"
# aral-sim's runs in bench/results that match arald's configuration of each
# strategy: the service's training and D's noise; the label-free start for
# the typical strategies. Older runs (curve_*) stand for the rest.
SIM_RUNS = {"typical-mass": "sel_typical-mass-tr-tw-n12",
            "random": "sel_random-tr-n12"}
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"]


def arald(*args):
    out = subprocess.run([ARALD, *args], check=True, capture_output=True,
                         text=True).stdout
    return out.split()[-1] if out.split() else ""


class Service:
    def __init__(self, strategy, seed, iters, threads):
        self.dir = tempfile.mkdtemp(prefix="oracle-")
        db = os.path.join(self.dir, "o.db")
        arald("init", "--db", db, "--shape", "28x28x1", "--classes",
              ",".join(NAMES))
        arald("import", "--db", db, "--idx",
              f"{DATA}/train-images-idx3-ubyte.gz")
        arald("import", "--db", db, "--idx", f"{DATA}/t10k-images-idx3-ubyte.gz",
              "--labels", f"{DATA}/t10k-labels-idx1-ubyte.gz", "--split",
              "eval")
        self.token = arald("token", "create", "--db", db, "--role", "admin",
                           "--name", "oracle")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [ARALD, "serve", "--db", db, "--port", "0", "--port-file",
             port_file, "--strategy", strategy, "--seed", str(seed),
             "--min-labels", "100", "--retrain-every", "100",
             "--round-iters", str(iters), "--train-threads", str(threads)],
            stderr=self.log)
        while not os.path.exists(port_file) or not open(port_file).read():
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(open(port_file).read())}"

    def call(self, method, path, body=None):
        req = urllib.request.Request(
            self.url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def wait_model(self, version):
        while True:
            m = self.call("GET", "/v1/model")
            if (m["model_version"] or 0) >= version and m["state"] == "idle":
                return
            if m["last_error"] and m["state"] == "idle":
                raise SystemExit("round failed: " + m["last_error"])
            time.sleep(0.5)

    def stop(self):
        """Stops arald and removes its database (the pool alone is about
        50 MB a run)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_start(self, strategy, limit=300):
        """The strategy of the order served before a model, once it is the
        label-free start's (a typical strategy) or at once (the others,
        served at random)."""
        t0 = time.time()
        while True:
            served = self.call("GET", "/v1/model")["strategy"]
            if served != "random" or not strategy.startswith("typical"):
                return served
            if time.time() - t0 > limit:
                raise SystemExit("no label-free start after %d s" % limit)
            time.sleep(0.5)

    def label_leased(self, truth, served):
        got = self.call("POST", "/v1/leases", {"annotator": "oracle",
                                               "n": 100})["items"]
        assert len(got) == 100 and all(i["strategy"] == served
                                       for i in got), got[0]
        self.call("POST", "/v1/labels", {"items": [
            {"lease_id": i["lease_id"],
             "label": NAMES[truth[i["sample_id"] - 1]]} for i in got]})


def run_one(strategy, seed, args, truth):
    s = Service(strategy, seed, args.iters, args.train_threads)
    rows = []
    try:
        s.label_leased(truth, s.wait_start(strategy))
        for cycle in range(1, args.cycles + 1):
            s.wait_model(cycle)
            r = s.call("GET", f"/v1/rounds/{cycle}")
            row = {"strategy": strategy, "seed": seed, "round": cycle,
                   "labeled": r["labels_used"],
                   "test_acc": r["eval_accuracy"], "seconds": r["seconds"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
            if cycle == args.cycles:
                break
            s.label_leased(truth, strategy)
    finally:
        s.stop()
    return rows


def sim_curve(strategy, iters):
    """aral-sim's accuracy by labeled count, over the seeds in
    bench/results."""
    out = {}
    run = SIM_RUNS.get(strategy, "curve_" + strategy)
    for seed in range(10):
        f = os.path.join(ROOT, "bench/results",
                         f"{run}_seed{seed}_{iters}it.jsonl")
        if not os.path.exists(f):
            continue
        for line in open(f):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            out.setdefault(r["labeled"], []).append(r["test_acc"])
    return out


def summary(rows, strategies, iters):
    result = {"iters": iters, "curves": {}}
    print(f"{'strategy':10} {'labeled':>7} {'service':>16} {'aral-sim':>16}"
          f" {'diff':>8}", file=sys.stderr)
    for st in strategies:
        sim = sim_curve(st, iters)
        curve = []
        for labeled in sorted({r["labeled"] for r in rows
                               if r["strategy"] == st}):
            acc = [r["test_acc"] for r in rows
                   if r["strategy"] == st and r["labeled"] == labeled]
            ref = sim.get(labeled, [])
            m = statistics.mean(acc)
            rm = statistics.mean(ref) if ref else None
            rsd = statistics.stdev(ref) if len(ref) > 1 else None
            curve.append({"labeled": labeled, "service": round(m, 4),
                          "n": len(acc), "sim": rm and round(rm, 4),
                          "sim_sd": rsd and round(rsd, 4),
                          "sim_n": len(ref)})
            sim_txt = f"{rm:.4f} ± {rsd:.4f}" if rsd else "-"
            diff = f"{m - rm:+.4f}" if rm else "-"
            print(f"{st:10} {labeled:7d} {m:9.4f} ({len(acc)})     "
                  f"{sim_txt:>16} {diff:>8}", file=sys.stderr)
        result["curves"][st] = curve
    result["minus_random"] = against_random(rows, strategies)
    print(json.dumps(result))


def against_random(rows, strategies):
    """Each strategy minus random order in the same service, paired by
    seed: mean and standard error in points, by labeled count."""
    acc = {(r["strategy"], r["seed"], r["labeled"]): r["test_acc"]
           for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    out = {}
    for st in strategies:
        if st == "random" or "random" not in strategies:
            continue
        out[st] = []
        for labeled in sorted({k[2] for k in acc if k[0] == st}):
            d = [100 * (acc[st, s, labeled] - acc["random", s, labeled])
                 for s in seeds
                 if (st, s, labeled) in acc and ("random", s, labeled) in acc]
            m, se = mean_se(d)
            if m is None:
                continue
            out[st].append({"labeled": labeled, "mean": round(m, 2),
                            "se": round(se, 2), "n": len(d)})
            print(f"{st} minus random at {labeled}: {m:+.2f} +- {se:.2f} "
                  f"points ({len(d)} seeds)", file=sys.stderr)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strategies", default="typical-mass,random")
    p.add_argument("--seeds", default="0")
    p.add_argument("--iters", type=int, default=600)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--train-threads", type=int, default=2)
    p.add_argument("--summarise", metavar="JSONL",
                   help="only print the tables of an earlier run's lines")
    args = p.parse_args()
    if args.summarise:
        rows = [json.loads(x) for x in open(args.summarise)
                if x.startswith('{"strategy"')]
        strategies = list(dict.fromkeys(r["strategy"] for r in rows))
        return summary(rows, strategies, args.iters)
    truth = gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz").read()[8:]
    strategies = args.strategies.split(",")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for st in strategies:
            rows += run_one(st, seed, args, truth)
    summary(rows, strategies, args.iters)


if __name__ == "__main__":
    main()
