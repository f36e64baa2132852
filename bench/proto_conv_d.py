#!/usr/bin/env python3
"""What a convolutional D would buy, measured on the PyTorch reference.

Issue 11 asks for .83 test accuracy at 500 labels; the engine's MLP D
stops at .828 with every training setting screened (bench/results,
selection_600it.txt and the closing notes). This prototype answers the
next question before any C is written: on the reference's own protocol
(shared/bench/ref_aral.py: one round of ITERS iterations on 500 random
labels, its training and hyperparameters unchanged), how much better does
D classify with convolutions, and at what cost an iteration?

The convolutional D keeps the reference's interface and style: Gaussian
noise before every layer (0.3 on the input, 0.5 after), ReLU, weight
normalisation, a 128-wide feature layer (global average pool) for feature
matching, and the same weight-normed output layer. G, E and S are the
reference's. Seeds are paired: the same initial set for both Ds.

Not a benchmark of our C code and not a setting to ship: a lead for the
next piece of work, with its cost. Prints one JSON line per run and a
summary JSON object last.
  usage: python3 bench/proto_conv_d.py [--seeds 0 1 2] [--iters 600]
                                      [--conv-iters 600 180]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

REF = os.environ.get("ARAL_REF_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
sys.path.insert(0, REF)
import ref_aral  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


class WNConv(nn.Module):
    """Weight-normalised convolution (per output channel), like WNLinear."""

    def __init__(self, n_in, n_out, k, stride=1, pad=1):
        super().__init__()
        self.v = nn.Parameter(torch.randn(n_out, n_in, k, k) * 0.05)
        self.b = nn.Parameter(torch.zeros(n_out))
        self.stride, self.pad = stride, pad

    def forward(self, x):
        norm = torch.sqrt((self.v ** 2).sum((1, 2, 3)) + 1e-6)
        w = self.v / norm.view(-1, 1, 1, 1)
        return nn.functional.conv2d(x, w, self.b, self.stride, self.pad)


class ConvDiscriminator(nn.Module):
    """28x28 -> 32 (3x3) -> 32 (3x3, /2) -> 64 (3x3) -> 64 (3x3, /2) ->
    128 (3x3, no pad) -> global average -> K, noise before each layer."""

    def __init__(self, cfg):
        super().__init__()
        spec = [(1, 32, 1, 1), (32, 32, 2, 1), (32, 64, 1, 1),
                (64, 64, 2, 1), (64, 128, 1, 0)]
        layers = []
        for i, (a, b, stride, pad) in enumerate(spec):
            layers += [ref_aral.GaussianNoise(0.3 if i == 0 else 0.5),
                       WNConv(a, b, 3, stride, pad), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.out_net = nn.Sequential(ref_aral.GaussianNoise(0.5),
                                     ref_aral.WNLinear(128, cfg.num_label,
                                                       train_scale=True))

    def forward(self, x, feat=False):
        h = self.convs(x.view(-1, 1, 28, 28)).mean((2, 3))
        return h if feat else self.out_net(h)


def run(kind, seed, iters, threads):
    args = ref_aral.parse_args(["--initial", "500", "--cycles", "1",
                                "--iters", str(iters), "--strategy", "random",
                                "--seed", str(seed), "--threads",
                                str(threads)])
    rng, (x_pool, y_pool), (x_test, y_test), model = ref_aral.build(args)
    if kind == "conv":
        torch.manual_seed(seed)
        model.dis = ConvDiscriminator(model.cfg)
        model.new_optimizers()
    n = x_pool.size(0)
    revealed = torch.full((n,), -1, dtype=torch.int64)
    idx = rng.choice(n, size=500, replace=False)
    revealed[torch.from_numpy(idx)] = y_pool[torch.from_numpy(idx)]
    labeled = np.sort(idx)
    unlabeled = np.setdiff1d(np.arange(n), labeled)
    batches = ref_aral.Batches(x_pool, revealed, labeled, unlabeled,
                               ref_aral.Config.batch, rng)
    seconds = ref_aral.train(model, batches, iters)
    acc = ref_aral.accuracy(model, x_test, y_test)
    out = {"d": kind, "seed": seed, "iters": iters, "labeled": 500,
           "test_acc": round(acc, 4), "train_seconds": round(seconds, 2),
           "iters_per_sec": round(iters / seconds, 2)}
    print(json.dumps(out), flush=True)
    return out


def paired(mlp, conv):
    diff = [100 * (c["test_acc"] - m["test_acc"]) for m, c in zip(mlp, conv)]
    se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 \
        else 0.0
    return {"mean": round(float(np.mean(diff)), 2), "se": round(se, 2)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--iters", type=int, default=600)
    p.add_argument("--conv-iters", type=int, nargs="+", default=None,
                   help="the conv D's iterations (default --iters); give a "
                        "second, smaller count to compare at equal time")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    mlp = [run("mlp", s, a.iters, a.threads) for s in a.seeds]
    speed = float(np.median([r["iters_per_sec"] for r in mlp]))
    out = {"protocol": "reference training, one round on 500 random labels",
           "seeds": a.seeds, "mlp_iters": a.iters,
           "test_acc_mlp": [r["test_acc"] for r in mlp],
           "mlp_iters_per_sec_median": speed, "conv": []}
    for it in a.conv_iters or [a.iters]:
        conv = [run("conv", s, it, a.threads) for s in a.seeds]
        cs = float(np.median([r["iters_per_sec"] for r in conv]))
        out["conv"].append({
            "iters": it, "test_acc": [r["test_acc"] for r in conv],
            "minus_mlp_points": paired(mlp, conv),
            "iters_per_sec_median": cs,
            "cost_per_iteration_vs_mlp": round(speed / cs, 2)})
    print(json.dumps(out))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print("# %.0f s" % (time.time() - t0), file=sys.stderr)
