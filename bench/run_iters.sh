#!/usr/bin/env bash
# D's test accuracy against training iterations at 500 labels (a random
# initial set of 500, one cycle of ITERS iterations, measured every 200),
# with the reference's training and with the training of aral_training
# (balanced batches, rate decay, averaged D); a round in the service has
# about 600 iterations (30-40 s on 2 cores). Writes
# bench/results/iters_<training>_seed<N>.log and prints one line per
# measurement, then one JSON object.
#   usage: bench/run_iters.sh [iters] [seeds]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-3000}
seeds=${2:-0}
. bench/lib.sh
bench_build
jobs=()
for seed in $seeds; do
  for t in reference trained; do
    extra=""; [ $t = trained ] && extra="--balanced 1 --decay 1 --ema 0.3333"
    jobs+=("build/tools/aral-sim --data /usr/share/datasets/fashion-mnist \
      --initial 500 --cycles 1 --valid 5000 --iters $iters --eval-every 200 \
      --strategy random --seed $seed --threads 1 $extra \
      > bench/results/iters_${t}_seed${seed}.jsonl 2> bench/results/iters_${t}_seed${seed}.log")
  done
done
printf '%s\0' "${jobs[@]}" | xargs -0 -P 2 -I{} bash -c '{}'
python3 - "$seeds" <<'PY'
import json, re, sys
out = {}
for t in ("reference", "trained"):
    for seed in sys.argv[1].split():
        log = open(f"bench/results/iters_{t}_seed{seed}.log").read()
        pts = [(int(i), float(a)) for i, a in
               re.findall(r"iteration (\d+) test_acc ([\d.]+)", log)]
        end = [json.loads(l) for l in open(f"bench/results/iters_{t}_seed{seed}.jsonl")
               if l.startswith("{")]
        print(t, seed, " ".join(f"{i}:{a:.3f}" for i, a in pts),
              f"end of round: {end[0]['test_acc']:.4f}" if end else "")
        out.setdefault(t, {})[seed] = {"curve": pts,
                                       "end": end[0]["test_acc"] if end else None}
print(json.dumps(out))
PY
