#!/usr/bin/env python3
"""Mean and spread of test accuracy per cycle, per strategy, over the
seeds found in bench/results (and the reference's in shared/bench/results
and bench/results/ref_*). Prints a table and, last, one JSON object.

With --selection [ITERS [--valid | --pair CONFIG BASE]]: the tables of
bench/run_selection.sh (sel_* files) instead, paired by seed against
random order (bench/selection_table.py)."""
import glob
import json
import os
import re
import statistics
import sys

here = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1 and sys.argv[1] == "--selection":
    sys.path.insert(0, here)
    import selection_table
    rest = sys.argv[3:]
    selection_table.main(sys.argv[2] if len(sys.argv) > 2 else "600",
                         valid=rest[:1] == ["--valid"],
                         pair=rest[1:3] if rest[:1] == ["--pair"] else None)
    sys.exit(0)
iters = sys.argv[1] if len(sys.argv) > 1 else "600"
curves = {}


def add(name, path):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    if len(rows) == 5:
        curves.setdefault(name, []).append(rows)


for path in sorted(glob.glob(f"{here}/results/curve_*_{iters}it.jsonl")):
    add(re.match(r".*/curve_(.+)_seed\d+_", path).group(1), path)
for path in sorted(glob.glob(f"{here}/results/ref_aral_seed*_{iters}it.jsonl")):
    add("ref-aral", path)
ref0 = f"{here}/../../shared/bench/results/curve_aral_seed0.jsonl"
if iters == "600" and os.path.exists(ref0):
    add("ref-aral", ref0)

table = {}
print(f"test accuracy, mean ± sd over seeds, {iters} iterations a cycle")
print("labeled  " + "  ".join(f"{n:>18}" for n in curves))
for c in range(5):
    cells = []
    for name, runs in curves.items():
        accs = [r[c]["test_acc"] for r in runs]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        table.setdefault(name, []).append(
            {"labeled": runs[0][c]["labeled"], "mean": round(statistics.mean(accs), 4),
             "sd": round(sd, 4), "n": len(accs)})
        cells.append(f"{statistics.mean(accs):.4f} ± {sd:.4f} ({len(accs)})")
    print(f"{runs[0][c]['labeled']:>7}  " + "  ".join(f"{x:>18}" for x in cells))
print(json.dumps({"iters": int(iters), "curves": table}))
