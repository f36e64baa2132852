#!/usr/bin/env bash
# Label efficiency on Fashion-MNIST with aral-sim: initial 100, budget 100,
# 5 cycles, ITERS iterations a cycle (600 as in shared/bench/results), for
# each strategy and seed; writes bench/results/curve_<strategy>_seed<N>.jsonl
# (and .log) and prints the table of bench/curves_table.py, whose last line
# is one JSON object. The reference ARAL's curves for the same settings
# come from shared/bench/results (seed 0) and bench/results/ref_* (made by
# REF=1, which runs shared/bench/ref_aral.py for the seeds).
#   usage: bench/run_curves.sh [iters] [seeds] [strategies]
#   e.g.   bench/run_curves.sh 600 "0 1 2" "aral random entropy aral-joint"
#   bench/run_curves.sh --selection [...] runs bench/run_selection.sh (the
#   selection benchmark's tables: strategies, training, imbalance, start)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --selection ]; then
  shift
  exec bash bench/run_selection.sh "$@"
fi
iters=${1:-600}
seeds=${2:-0 1 2}
strategies=${3:-aral random entropy aral-joint}
. bench/lib.sh
bench_build
mkdir -p bench/results
data=/usr/share/datasets/fashion-mnist
for seed in $seeds; do
  for s in $strategies; do
    joint=0; strat=$s
    [ "$s" = aral-joint ] && joint=1 && strat=aral
    f=bench/results/curve_${s}_seed${seed}_${iters}it
    build/tools/aral-sim --data "$data" --initial 100 --budget 100 --cycles 5 \
      --iters "$iters" --strategy "$strat" --seed "$seed" --threads 2 \
      --joint-bn "$joint" > "$f.jsonl" 2> "$f.log"
  done
  if [ "${REF:-0}" = 1 ]; then
    f=bench/results/ref_aral_seed${seed}_${iters}it
    /usr/bin/python3 ../shared/bench/ref_aral.py --data "$data" --initial 100 \
      --budget 100 --cycles 5 --iters "$iters" --strategy aral --seed "$seed" \
      --threads 2 > "$f.jsonl" 2> "$f.log"
  fi
done
python3 bench/curves_table.py "$iters"
