#!/usr/bin/env python3
"""What a readout over the pool's graph would add to D, measured offline.

Issue 11 asks for .83 test accuracy at 500 labels; the engine's D stops at
.828 with every training setting screened. This prototype asks whether the
service could suggest better labels from the same trained D by reading
its predictions through the pool's structure, before any C is written:
aral-sim --dump DIR writes D's feature layer and logits for every
training and test row after each cycle, and this script compares, on the
validation split (where settings are chosen) and then on the test split:

  d       D's arg max (what the service suggests today);
  knn     D's softmax blended with a k-nearest-labeled vote in D's
          L2-normalised features;
  lp      label propagation (Zhou et al. 2004) on a k-nearest-neighbour
          graph of every row (pool, validation and test: the service holds
          them all), seeded with the labels and with D's softmax elsewhere
          at weight beta.

  usage: bench/proto_readout.py DUMP_ROOT [--configs tw tr] [--seeds 0..4]
                                [--cycles 5]
DUMP_ROOT/<config>_s<seed>/c<cycle>_* as aral-sim --dump writes them.
Prints a line per setting, the settings chosen on validation and their
paired test differences against d, and one JSON object last.

Result (bench/results/proto_readout_600it.txt, arald's configuration,
seeds 0-4, 500 labels): the best of 54 readouts on validation adds
+0.09 +- 0.07 points there and +0.06 +- 0.04 on the test split (.8285
against D's .8280); propagation from the labels alone loses 0.4-1.1
points. D's own head already reads its features as well as the pool's
graph does: not worth a step in the service. Reproduce (about 25 minutes
of runs and 15 of this script on 2 cores):
  for s in 0 1 2 3 4; do mkdir -p /tmp/dump/tw_s$s
    build/tools/aral-sim --data /usr/share/datasets/fashion-mnist \
      --initial 100 --budget 100 --cycles 5 --valid 5000 --iters 600 \
      --seed $s --threads 1 --strategy typical-mass \
      --initial-strategy typical --balanced 1 --decay 1 --ema 0.3333 \
      --noise 0.1,0.2 --dump /tmp/dump/tw_s$s > /tmp/dump/tw_s$s.jsonl
  done
  python3 bench/proto_readout.py /tmp/dump --configs tw --cycles 5
(the runs' lines are bench/results/sel_typical-mass-tr-tw-n12_seed*
exactly: the dump changes nothing they measure.)
"""
import argparse
import gzip
import itertools
import json
import os
import statistics

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"
FEAT = 250


def idx_labels(name):
    return np.frombuffer(gzip.open(f"{DATA}/{name}").read()[8:], np.uint8)


def load(d, c):
    def f32(name, cols):
        a = np.fromfile(f"{d}/c{c}_{name}", np.float32)
        return a.reshape(-1, cols) if cols else a
    return {"feat": np.vstack([f32("train_feat", FEAT), f32("test_feat", FEAT)]),
            "logits": np.vstack([f32("train_logits", 10),
                                 f32("test_logits", 10)]),
            "state": f32("train_state", 0).astype(np.int8)}


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def knn_graph(x, rows, k):
    """The k nearest (cosine) of each of rows among rows: (idx, sim)."""
    xs = x[rows]
    idx = np.empty((len(rows), k), np.int64)
    sim = np.empty((len(rows), k), np.float32)
    for a in range(0, len(rows), 2000):
        s = xs[a:a + 2000] @ xs.T
        s[np.arange(s.shape[0]), np.arange(a, a + s.shape[0])] = -np.inf
        part = np.argpartition(-s, k, axis=1)[:, :k]
        idx[a:a + 2000] = part
        sim[a:a + 2000] = np.take_along_axis(s, part, 1)
    return idx, sim


def propagate(idx, sim, seed, gamma, alpha, steps=20):
    """F = (1 - alpha) sum alpha^t S^t seed, S the symmetric normalised
    graph of sim^gamma made symmetric (W + W^T)."""
    n, k = idx.shape
    w = np.maximum(sim, 0) ** gamma
    rows = np.repeat(np.arange(n), k)
    deg = np.bincount(rows, w.ravel(), n) + np.bincount(idx.ravel(), w.ravel(), n)
    dinv = 1 / np.sqrt(np.maximum(deg, 1e-12))
    wn = (w * dinv[:, None] * dinv[idx]).astype(np.float32)
    f = seed.copy()
    for _ in range(steps):
        g = (wn[:, :, None] * f[idx]).sum(1)  # W f
        for j in range(f.shape[1]):  # W^T f
            g[:, j] += np.bincount(idx.ravel(), wn.ravel() * f[rows, j], n)
        f = alpha * g + (1 - alpha) * seed
    return f


def readouts(dump, y, graph_k=10):
    st = dump["state"]
    n_train = len(st)
    state = np.concatenate([st, np.full(len(dump["feat"]) - n_train, 4,
                                        np.int8)])
    lab = np.flatnonzero(state == 1)
    rows = np.flatnonzero(state != 2)  # everything the service holds
    where = np.full(len(state), -1)
    where[rows] = np.arange(len(rows))
    onehot = np.eye(10, dtype=np.float32)[y[lab]]
    probs = {t: softmax(dump["logits"] / t) for t in (1, 3)}
    out = {("d",): probs[1]}
    for prep in ("norm", "centred"):
        f = dump["feat"]
        x = normalise(f - f[rows].mean(0) if prep == "centred" else f)
        s = x @ x[lab].T
        for k in (5, 10, 20):
            part = np.argpartition(-s, k, axis=1)[:, :k]
            vote = onehot[part].sum(1) / k
            for w, t in itertools.product((0.3, 0.5, 0.7), (1, 3)):
                out[("knn", prep, k, w, t)] = (1 - w) * probs[t] + w * vote
        del s
        idx, sim = knn_graph(x, rows, graph_k)
        for beta, t, alpha in itertools.product((0.0, 1.0), (1, 3),
                                                (0.5, 0.8, 0.95)):
            if beta == 0 and t == 3:
                continue
            seed = beta * probs[t][rows]
            seed[where[lab]] = onehot
            full = np.zeros_like(probs[1])
            full[rows] = propagate(idx, sim, seed, 3, alpha)
            out[("lp", prep, beta, t, alpha)] = full
    return out, state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--configs", nargs="+", default=["tw", "tr"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--cycles", nargs="+", type=int, default=[5])
    a = ap.parse_args()
    y = np.concatenate([idx_labels("train-labels-idx1-ubyte.gz"),
                        idx_labels("t10k-labels-idx1-ubyte.gz")]).astype(int)
    acc = {}  # (config, cycle, setting) -> {seed: (valid, test)}
    for cfg, c, seed in itertools.product(a.configs, a.cycles, a.seeds):
        d = os.path.join(a.root, f"{cfg}_s{seed}")
        if not os.path.exists(f"{d}/c{c}_train_state"):
            continue
        outs, state = readouts(load(d, c), y)
        for key, p in outs.items():
            pred = p.argmax(1)
            v = (pred[state == 3] == y[state == 3]).mean()
            t = (pred[state == 4] == y[state == 4]).mean()
            acc.setdefault((cfg, c, key), {})[seed] = (v, t)
        print(f"# {cfg} seed {seed} cycle {c}: d valid {acc[(cfg, c, ('d',))][seed][0]:.4f}"
              f" test {acc[(cfg, c, ('d',))][seed][1]:.4f}", flush=True)
    summary = {}
    for cfg, c in itertools.product(a.configs, a.cycles):
        base = acc.get((cfg, c, ("d",)))
        if not base:
            continue
        rows = []
        for (g, cc, key), r in acc.items():
            if g != cfg or cc != c or key == ("d",):
                continue
            seeds = sorted(set(r) & set(base))
            dv = [100 * (r[s][0] - base[s][0]) for s in seeds]
            dt = [100 * (r[s][1] - base[s][1]) for s in seeds]
            se = (lambda v: statistics.stdev(v) / len(v) ** 0.5
                  if len(v) > 1 else 0.0)
            rows.append((statistics.mean(dv), se(dv), statistics.mean(dt),
                         se(dt), key, statistics.mean(r[s][1] for s in seeds)))
            print(f"{cfg} c{c} {str(key):28s} valid {rows[-1][0]:+.2f} ± "
                  f"{rows[-1][1]:.2f}  test {rows[-1][2]:+.2f} ± "
                  f"{rows[-1][3]:.2f}  test acc {rows[-1][5]:.4f}")
        best = max(rows)
        print(f"{cfg} c{c}: d test {statistics.mean(t for _, t in base.values()):.4f};"
              f" chosen on validation {best[4]}: valid {best[0]:+.2f} ± "
              f"{best[1]:.2f}, test {best[2]:+.2f} ± {best[3]:.2f}, test acc "
              f"{best[5]:.4f} ({len(base)} seeds)")
        summary[f"{cfg}_c{c}"] = {"chosen": list(map(str, best[4])),
                                  "valid_diff": round(best[0], 2),
                                  "test_diff": round(best[2], 2),
                                  "test_diff_se": round(best[3], 2),
                                  "test_acc": round(best[5], 4),
                                  "d_test_acc": round(statistics.mean(
                                      t for _, t in base.values()), 4)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
