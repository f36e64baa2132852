#!/usr/bin/env bash
# What training S costs a round: bench_aral with S trained (--sampler 1,
# the paper and arald's rounds) and without (--sampler 0, the -ns configs
# of run_selection.sh, which lost on the long-tailed pool), alternating
# on this machine with the same threads, labeled set and pool; the ratio
# is taken pair by pair and the median pair is the headline (the machine
# is shared and noisy: read the ratios). Also the scoring pass: S(z) for
# the whole pool against D alone (classify), which is all a strategy
# without S would need. Last line: one JSON object.
#   usage: bench/run_sampler_cost.sh [rounds, default 4] [threads, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
threads=${2:-2}
deploy/install.sh bench >/dev/null
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
data=/usr/share/datasets/fashion-mnist
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for s in 1 0; do
    build/bench/bench_aral --data "$data" --threads "$threads" --iters 100 \
      --warmup 10 --repeat 3 --sampler "$s" >> "$out"
  done
done
python3 - "$out" <<'PY'
import json, sys
from statistics import median
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
with_s = [r for r in rows if r["sampler"] == 1]
without = [r for r in rows if r["sampler"] == 0]
pairs = list(zip(with_s, without))
for a, b in pairs:
    print(f"with S {a['ms_per_iter']:.1f} ms/it, without {b['ms_per_iter']:.1f}"
          f" ms/it (x{b['ms_per_iter'] / a['ms_per_iter']:.2f}); scoring with"
          f" S {a['score_seconds_best']:.2f} s, D alone"
          f" {b['classify_pool_seconds']:.2f} s", file=sys.stderr)
time = [b["ms_per_iter"] / a["ms_per_iter"] for a, b in pairs]
score = [b["classify_pool_seconds"] / a["score_seconds_best"] for a, b in pairs]
print(json.dumps({
    "iteration_time_ratio_median": round(median(time), 3),
    "scoring_time_ratio_median": round(median(score), 3),
    "threads": with_s[0]["threads"], "rounds": len(pairs),
    "gflop_per_iter_with_s": with_s[0]["gflop_per_iter"],
    "gflop_per_iter_without_s": without[0]["gflop_per_iter"],
    "ms_per_iter_with_s": [x["ms_per_iter"] for x in with_s],
    "ms_per_iter_without_s": [x["ms_per_iter"] for x in without],
    "score_seconds_with_s": [x["score_seconds_best"] for x in with_s],
    "classify_seconds": [x["classify_pool_seconds"] for x in without],
    "iteration_time_ratio": [round(x, 3) for x in time]}))
PY
