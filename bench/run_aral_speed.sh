#!/usr/bin/env bash
# ARAL speed, C against the PyTorch reference, side by side on this
# machine: bench_aral and shared/bench/ref_speed.py alternate (C, ref, C,
# ref) with the same threads, batch, labeled set size and pool, and the
# ratios are taken run by run. bench_aral also times the very GEMMs of an
# iteration and of a scoring pass replayed alone: the bound for this BLAS.
# The machine is shared and flips between a fast and a slow state about
# every minute (GEMMs alone: ~40 or ~51 ms an iteration), so the runs are
# short (100 timed iterations, best of 3 scoring passes) and many, the ratio
# is taken pair by pair, and the median pair is the headline. Read the
# ratios, not the absolute figures. Last line: one JSON object.
#   usage: bench/run_aral_speed.sh [rounds, default 6] [threads, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6}
threads=${2:-2}
. bench/lib.sh
bench_build
ref=${ARAL_REF:-../shared/bench/ref_speed.py}
data=/usr/share/datasets/fashion-mnist
out=$(mktemp)
for r in $(seq "$rounds"); do
  build/bench/bench_aral --data "$data" --threads "$threads" --iters 100 \
    --warmup 10 --repeat 3 >> "$out"
  /usr/bin/python3 "$ref" --data "$data" --threads "$threads" --iters 100 \
    --warmup 10 --repeat 3 2>/dev/null | tail -n 1 >> "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
c = [r for r in rows if r.get("impl") == "c"]
t = [r for r in rows if r.get("impl") != "c"]
pairs = list(zip(c, t))
for a, b in pairs:
    print(f"C {a['iters_per_sec']:.2f} it/s, score {a['score_seconds_best']:.3f} s | "
          f"torch {b['iters_per_sec']:.2f} it/s, score {b['score_seconds_best']:.3f} s | "
          f"train x{a['iters_per_sec'] / b['iters_per_sec']:.2f}, "
          f"score x{b['score_seconds_best'] / a['score_seconds_best']:.2f}", file=sys.stderr)
from statistics import median
train = [a["iters_per_sec"] / b["iters_per_sec"] for a, b in pairs]
score = [b["score_seconds_best"] / a["score_seconds_best"] for a, b in pairs]
print(json.dumps({
    "train_speedup_median": round(median(train), 3),
    "score_speedup_median": round(median(score), 3),
    "threads": c[0]["threads"], "rounds": len(pairs),
    "c_iters_per_sec": [x["iters_per_sec"] for x in c],
    "c_ms_per_iter": [x["ms_per_iter"] for x in c],
    "c_in_gemm_ms_per_iter": [x["in_gemm_ms_per_iter"] for x in c],
    "c_gemm_only_ms_per_iter": [x["gemm_only_ms_per_iter"] for x in c],
    "gflop_per_iter": c[0]["gflop_per_iter"],
    "torch_iters_per_sec": [x["iters_per_sec"] for x in t],
    "train_speedup": [round(x, 3) for x in train],
    "c_score_seconds": [x["score_seconds_best"] for x in c],
    "c_score_gemm_only_seconds": [x["score_gemm_only_seconds"] for x in c],
    "score_gflop": c[0]["score_gflop"],
    "torch_score_seconds": [x["score_seconds_best"] for x in t],
    "score_speedup": [round(x, 3) for x in score],
    "c_classify_seconds": [x["classify_pool_seconds"] for x in c],
    "torch_classify_seconds": [x["classify_pool_seconds"] for x in t]}))
PY
rm -f "$out"
