"""The tables of the selection benchmark (bench/run_selection.sh), from
bench/results/sel_<config>_seed<N>_<iters>it.jsonl. Every comparison is
paired: a config's accuracy minus random order's in the same seed (same
initial set, same validation split), mean of the differences and its
standard error. Printed by `python3 bench/curves_table.py --selection`;
the last line is one JSON object of the headline figures.

Settings are chosen on the validation split, before the test figures are
seen: `--selection ITERS --valid` prints the tables on the validation
split alone (no test figure), and `--selection ITERS --pair A B` config
A minus config B, seed by seed, on the validation split (balanced
accuracy for imb- configs), for a screen of a change against its base."""
import glob
import json
import math
import os
import re
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Boot"]


def load(iters):
    runs = {}
    pattern = f"{HERE}/results/sel_*_seed*_{iters}it.jsonl"
    for path in sorted(glob.glob(pattern)):
        config, seed = re.match(r".*/sel_(.+)_seed(\d+)_", path).groups()
        rows = [json.loads(l) for l in open(path) if l.startswith("{")]
        want = 1 if config.startswith("start-") else 5
        if len(rows) == want:
            runs.setdefault(config, {})[int(seed)] = rows
    return runs


def mean_se(xs):
    if not xs:
        return None, None
    m = statistics.mean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return m, se


def paired(runs, config, base, key, cycle):
    seeds = sorted(set(runs.get(config, {})) & set(runs.get(base, {})))
    diffs = [runs[config][s][cycle][key] - runs[base][s][cycle][key]
             for s in seeds]
    m, se = mean_se(diffs)
    return m, se, len(seeds)


def fmt(m, se, n, scale=100):
    if m is None:
        return "—"
    return f"{scale * m:+.1f} ± {scale * se:.1f} ({n})"


def accuracy_table(runs, configs, key, title):
    print(f"\n{title}: mean ± sd over seeds (seeds)")
    print("labeled  " + "".join(f"{c:>22}" for c in configs))
    for c in range(5):
        cells = []
        for name in configs:
            xs = [r[c][key] for r in runs[name].values()]
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            cells.append(f"{statistics.mean(xs):.4f} ± {sd:.4f} ({len(xs)})")
        labeled = next(iter(runs[configs[0]].values()))[c]["labeled"]
        print(f"{labeled:>7}  " + "".join(f"{x:>22}" for x in cells))


def difference_table(runs, configs, base, key, title):
    print(f"\n{title}: paired difference against {base}, points, "
          "mean ± standard error (seeds)")
    print("labeled  " + "".join(f"{c:>22}" for c in configs))
    out = {}
    for c in range(5):
        cells = []
        for name in configs:
            m, se, n = paired(runs, name, base, key, c)
            out.setdefault(name, []).append(
                None if m is None else {"mean": round(100 * m, 2),
                                        "se": round(100 * se, 2), "n": n})
            cells.append(fmt(m, se, n))
        labeled = next(iter(runs[base].values()))[c]["labeled"]
        print(f"{labeled:>7}  " + "".join(f"{x:>22}" for x in cells))
    return out


def picks_table(runs, configs):
    print("\nclasses of each cycle's 100 picks, mean over seeds")
    print("config         cycle  " + " ".join(f"{n[:7]:>7}" for n in CLASSES))
    for name in configs:
        for c in range(5):
            counts = [statistics.mean(r[c]["picked"][k]
                                      for r in runs[name].values())
                      for k in range(10)]
            print(f"{name:<14} {c + 1:>5}  " +
                  " ".join(f"{x:>7.1f}" for x in counts))


def time_table(runs, configs):
    print("\nseconds a cycle, mean over cycles and seeds (selection: "
          "inference of the pool and the ranking, 55,000 samples)")
    out = {}
    for name in configs:
        rows = [row for r in runs[name].values() for row in r]
        q = statistics.mean(row["query_seconds"] for row in rows)
        t = statistics.mean(row["train_seconds"] for row in rows)
        out[name] = {"select_s": round(q, 2), "train_s": round(t, 1),
                     "share": round(q / (q + t), 3)}
        print(f"{name:<16} selection {q:6.2f}  training {t:6.1f}  "
              f"selection share {100 * q / (q + t):4.1f}%")
    return out


# Each ingredient on against off, the rest equal: (config, its base, what
# the config adds). The last four ran at commit 5c7fced and were removed.
ABLATION = [
    ("typical", "random", "typical picks instead of random order"),
    ("typical-tr", "typical", "balanced batches + rate decay + averaged D"),
    ("random-tr", "random", "the same training, random order"),
    ("typical-mass-tr", "typical-tr", "the most uncertain clusters first"),
    ("imb-typical-mass-tr", "imb-typical-tr",
     "the most uncertain clusters first, --imbalance"),
    ("typical-mass-tr-ts", "typical-mass-tr",
     "label-free start (typical picks of the pixels)"),
    ("imb-typical-mass-tr-ts", "imb-typical-mass-tr",
     "label-free start, --imbalance 0.1"),
    ("typical-mass-tr-ts-k2", "typical-mass-tr-ts",
     "twice TypiClust's clusters (--k-factor 2)"),
    ("imb-typical-mass-tr-ts-k2", "imb-typical-mass-tr-ts",
     "twice the clusters, --imbalance 0.1"),
    ("typical-mass-tr-ts-k2-n12", "typical-mass-tr-ts-n12",
     "twice the clusters, D's noise 0.1/0.2"),
    ("imb-typical-mass-tr-ts-k2-n12", "imb-typical-mass-tr-ts-n12",
     "twice the clusters, noise 0.1/0.2, --imbalance"),
    ("typical-mass-tr-ts-ema6", "typical-mass-tr-ts",
     "D averaged over 0.6 of a round, not a third"),
    ("typical-mass-tr-ts-wu1", "typical-mass-tr-ts",  # at 569ead1, removed
     "rates warmed up over a round's first tenth"),
    ("typical-mass-tr-ts-n12", "typical-mass-tr-ts",
     "D's noise 0.1/0.2, not 0.3/0.5 (arald now)"),
    ("imb-typical-mass-tr-ts-n12", "imb-typical-mass-tr-ts",
     "D's noise 0.1/0.2, --imbalance 0.1"),
    ("random-tr-n12", "random-tr", "D's noise 0.1/0.2, random order"),
    ("typical-mass-tr-n12", "typical-mass-tr",
     "D's noise 0.1/0.2, from the random start"),
    ("typical-mass-tr-ts-n12", "typical-mass-tr-n12",
     "label-free start, with D's noise 0.1/0.2"),
    ("imb-typical-mass-tr-ts-n12", "imb-typical-mass-tr-n12",
     "label-free start, noise 0.1/0.2, --imbalance"),
    ("typical-mass-tr-tw-n12", "typical-mass-tr-ts-n12",
     "start in whitened components (arald now)"),
    ("imb-typical-mass-tr-tw-n12", "imb-typical-mass-tr-ts-n12",
     "start in whitened components, --imbalance"),
    ("typical-mass-tr-tw-n12-jb", "typical-mass-tr-tw-n12",
     "E's batches share batch-norm statistics"),
    ("typical-mass-tr-tw-n12-e01", "typical-mass-tr-tw-n12",  # 683616c
     "D's unlabeled entropy minimised, weight 0.1"),
    ("typical-mass-tr-tw-n12-e03", "typical-mass-tr-tw-n12",  # 683616c
     "D's unlabeled entropy minimised, weight 0.3"),
    # D's training, one knob at a time against arald's configuration; each
    # ran with a one-line change never committed (bench/run_selection.sh)
    ("typical-mass-tr-tw-n12-freshd", "typical-mass-tr-tw-n12",
     "D drawn afresh every round"),
    ("typical-mass-tr-tw-n12-hg", "typical-mass-tr-tw-n12",
     "D's hidden weight-norm scales trained"),
    ("typical-mass-tr-tw-n13", "typical-mass-tr-tw-n12",
     "D's noise 0.1/0.3, not 0.1/0.2"),
    ("typical-mass-tr-tw-n23", "typical-mass-tr-tw-n12",
     "D's noise 0.2/0.3, not 0.1/0.2"),
    ("typical-mass-tr-tw-n12-dlr2", "typical-mass-tr-tw-n12",
     "D's rate 2e-3, not 3e-3"),
    ("typical-mass-tr-tw-n12-dlr45", "typical-mass-tr-tw-n12",
     "D's rate 4.5e-3, not 3e-3"),
    ("typical-mass-tr-tw-n12-unl1", "typical-mass-tr-tw-n12",
     "D's GAN terms weighted 1, not 0.5"),
    ("typical-mass-tr-tw-n12-fm8", "typical-mass-tr-tw-n12",
     "feature matching on D's 3rd hidden layer"),
    ("typical-mass-tr-tw-n12-mr", "typical-mass-tr-tw-n12",
     "clusters by uncertainty per label held"),
    ("typical-mass-tr-tw-n12-pi1", "typical-mass-tr-tw-n12",
     "Pi-model consistency on D's unlabeled batch"),
    # typical-mass's late phase (score.h, SCORE_UNCERTAIN_FROM)
    ("typical-mass-tr-tw-n12-u30", "typical-mass-tr-tw-n12",
     "uncertain first from 30 labels a class"),
    ("typical-mass-tr-n12-u30", "typical-mass-tr-n12",
     "the same from the random start"),
    ("imb-typical-mass-tr-tw-n12-u30", "imb-typical-mass-tr-tw-n12",
     "the same, --imbalance 0.1"),
    ("typical-mass-tr-tw-n12-u1", "typical-mass-tr-tw-n12",
     "uncertain first from the first label"),
    ("typical-mass-tr-tw-n12-u20", "typical-mass-tr-tw-n12-u30",
     "uncertain first from 20 labels a class, not 30"),
    ("typical-mass-tr-n12-u20", "typical-mass-tr-n12-u30",
     "from 20, not 30, from the random start"),
    # the long tail from the random start: the late phase, and the earlier
    # switch a start-dependent rule would have used there
    ("imb-typical-mass-tr-n12-u30", "imb-typical-mass-tr-n12",
     "the late phase, random start, --imbalance"),
    ("imb-typical-mass-tr-n12-u20", "imb-typical-mass-tr-n12-u30",
     "from 20, not 30, random start, --imbalance"),
    # D's features joined with the pixels' whitened components (score.h,
    # score_joins_components): arald's after a random start
    ("typical-mass-tr-n12-u30-pw", "typical-mass-tr-n12-u30",
     "features + whitened components, random start"),
    ("imb-typical-mass-tr-n12-u30-pw", "imb-typical-mass-tr-n12-u30",
     "the same, --imbalance 0.1"),
    ("typical-mass-tr-tw-n12-u30-pw", "typical-mass-tr-tw-n12-u30",
     "the same after the label-free start (not taken)"),
    # the late phase with the join (arald's rule after a random start),
    # measured for the trade between the two pools, not a choice
    ("typical-mass-tr-n12-u30-pw", "typical-mass-tr-n12-pw",
     "the late phase, with the join, random start"),
    ("imb-typical-mass-tr-n12-u30-pw", "imb-typical-mass-tr-n12-pw",
     "the same, --imbalance 0.1"),
    # typical-mass's mass weighted toward balanced classes (run_selection.sh,
    # -cw), at 8e2c5cb with a change never committed
    ("imb-typical-mass-tr-n12-u30-pw-cw", "imb-typical-mass-tr-n12-u30-pw",
     "mass by class rarity, random start, --imbalance"),
    ("typical-mass-tr-n12-u30-pw-cw", "typical-mass-tr-n12-u30-pw",
     "mass by class rarity, random start"),
    # typical-mass's mass divided by 1 + the labels of each candidate's
    # pseudo-class (run_selection.sh, -cm), at cedb6ea with a change never
    # committed
    ("imb-typical-mass-tr-n12-u30-pw-cm", "imb-typical-mass-tr-n12-u30-pw",
     "mass by labels a class, random start, --imbalance"),
    ("typical-mass-tr-n12-u30-pw-cm", "typical-mass-tr-n12-u30-pw",
     "mass by labels a class, random start"),
    # the late phase only in clusters whose class D knows (run_selection.sh,
    # -gc), at b859130 with a change never committed
    ("imb-typical-mass-tr-n12-u30-pw-gc", "imb-typical-mass-tr-n12-u30-pw",
     "late phase by class, random start, --imbalance"),
    ("typical-mass-tr-n12-u30-pw-gc", "typical-mass-tr-n12-u30-pw",
     "late phase by class, random start"),
    # the late phase by D's margin after a random start, with the join
    # (run_selection.sh, -pw-lm), at ad27309 with a change never committed
    ("imb-typical-mass-tr-n12-u30-pw-lm", "imb-typical-mass-tr-n12-u30-pw",
     "late phase by margin, random start, --imbalance"),
    ("typical-mass-tr-n12-u30-pw-lm", "typical-mass-tr-n12-u30-pw",
     "late phase by margin, with the join, random start"),
    # the late phase changed one way at a time (run_selection.sh), at
    # 893000a with a change never committed
    ("typical-mass-tr-tw-n12-lm", "typical-mass-tr-tw-n12-u30",
     "late phase by D's margin, not its entropy"),
    ("typical-mass-tr-n12-lm", "typical-mass-tr-n12-u30",
     "late phase by margin, from the random start"),
    ("typical-mass-tr-tw-n12-lw", "typical-mass-tr-tw-n12-u30",
     "late phase from the whole cluster"),
    ("typical-mass-tr-n12-lw", "typical-mass-tr-n12-u30",
     "whole cluster, from the random start"),
    ("typical-mass-tr-tw-n12", "typical-mass-tr-tw-n12-ns",
     "S trained though the default never reads it"),
    ("imb-typical-mass-tr-tw-n12", "imb-typical-mass-tr-tw-n12-ns",
     "S trained though never read, --imbalance 0.1"),
    ("typical-mass-tr-tw-n12", "typical-mass-tr-n12",
     "label-free start (whitened), noise 0.1/0.2"),
    ("typical-aral", "typical", "lowest S(z) first in the typical half"),
    ("typical-entropy", "typical", "most uncertain first there"),
    ("typical-tr-s1", "typical-tr", "labeled rows moved by up to a pixel"),
    ("typical-tr-pl", "typical-tr", "self-training at confidence 0.95"),
    ("typical-latent-tr", "typical-tr", "E's mu as the embedding"),
    ("imb-typical-latent-tr", "imb-typical-tr",
     "E's mu as the embedding, --imbalance 0.1"),
]


def key_of(out, config, base):
    """A config's key in the JSON line; "config vs base" for its second
    comparison."""
    return f"{config} vs {base}" if config in out else config


def cells_of(runs, config, base, key):
    """config minus base at each of the five cycles (paired)."""
    return [paired(runs, config, base, key, c) for c in range(5)]


def print_cells(first, cells, width):
    """One row of a per-cycle table: first, then a cell per cycle; cells
    None prints the cycles' labels (the header)."""
    row = [f"{l:>16}" for l in (100, 200, 300, 400, 500)] if cells is None \
        else [f"{fmt(m, se, n):>16}" for m, se, n in cells]
    print(f"{first[:width - 1]:<{width}}" + "".join(row))


def ablation_table(runs):
    """Validation accuracy (where settings are chosen), on minus off."""
    print("\nablation: each ingredient on minus off, validation accuracy, "
          "points, mean ± standard error (seeds)")
    print_cells("ingredient", None, 44)
    out = {}
    for config, base, what in ABLATION:
        if config not in runs or base not in runs:
            continue
        key = "valid_balanced_acc" if config.startswith("imb-") else \
            "valid_acc"
        cells = cells_of(runs, config, base, key)
        out[key_of(out, config, base)] = [
            {"mean": round(100 * m, 2), "se": round(100 * se, 2), "n": n}
            for m, se, n in cells]
        print_cells(what, cells, 44)
    return out


# What arald's picks add on their own: its configurations against random
# order with the same training (the headline tables pair them with random
# order under the reference's training, as the selection issue asks, so
# that they count the training too). (config, base, what)
SHARE = [
    ("typical-mass-tr-tw-n12-u30", "random-tr-n12", "arald's default"),
    ("typical-mass-tr-n12-u30-pw", "random-tr-n12",
     "arald's rule after a random start"),
    ("imb-typical-mass-tr-tw-n12-u30", "imb-random-tr-n12",
     "arald's default, --imbalance 0.1"),
    ("imb-typical-mass-tr-n12-u30-pw", "imb-random-tr-n12",
     "after a random start, --imbalance 0.1"),
]


def share_table(runs):
    """Test accuracy (balanced for imb-) and, under it, validation."""
    print("\nthe selection's own share: arald's configurations minus random "
          "order with the same training, test accuracy (balanced for "
          "--imbalance), points, mean ± standard error (seeds); the "
          "validation split's on the line below")
    print_cells("configuration", None, 40)
    out = {}
    for config, base, what in SHARE:
        if config not in runs or base not in runs:
            continue
        imb = config.startswith("imb-")
        rows = []
        for key in ("balanced_acc", "valid_balanced_acc") if imb else \
                ("test_acc", "valid_acc"):
            rows.append(cells_of(runs, config, base, key))
            print_cells("  validation" if key.startswith("valid") else what,
                        rows[-1], 40)
        out[config] = [
            {"test": round(100 * t[0], 2), "test_se": round(100 * t[1], 2),
             "valid": round(100 * v[0], 2), "valid_se": round(100 * v[1], 2),
             "n": t[2]} for t, v in zip(*rows)]
    return out


# The label-free start against a random one, one cycle (config, base,
# what); start-gan-tr ran at commit f68a488 and was removed.
STARTS = [
    ("start-typical", "start-random",
     "typical picks of the pixels, the reference's training"),
    ("start-typical-tr", "start-random-tr",
     "typical picks of the pixels, the service's training"),
    ("start-gan-tr", "start-random-tr",
     "typical picks of a D trained without labels"),
    ("start-typical-tr-n12", "start-random-tr-n12",
     "typical picks of the pixels, D's noise 0.1/0.2"),
    ("start-whiten-tr-n12", "start-random-tr-n12",
     "in whitened components (arald now), noise 0.1/0.2"),
    ("start-whiten-tr-n12", "start-typical-tr-n12",
     "whitened components minus the pixels"),
]


def start_table(runs):
    print("\nlabel-free start, 100 labels after one cycle, minus a random "
          "start: test accuracy (validation accuracy), points")
    out = {}
    for config, base, what in STARTS:
        if config not in runs or base not in runs:
            continue
        m, se, n = paired(runs, config, base, "test_acc", 0)
        vm, vse, _ = paired(runs, config, base, "valid_acc", 0)
        out[key_of(out, config, base)] = {
            "mean": round(100 * m, 2), "se": round(100 * se, 2), "n": n}
        print(f"  {what:<56}{fmt(m, se, n):>16} ({fmt(vm, vse, n)})")
    return out


# arald's configuration, run again at other iterations a round
ROUND_CONFIG = "typical-mass-tr-tw-n12"


def iters_table(runs, iters):
    """ROUND_CONFIG at each other iteration count with results, minus the
    same seeds at `iters`: what a longer or shorter round buys."""
    if ROUND_CONFIG not in runs:
        return {}
    found = glob.glob(f"{HERE}/results/sel_{ROUND_CONFIG}_seed*_*it.jsonl")
    counts = sorted({int(re.search(r"_(\d+)it\.jsonl$", f).group(1))
                     for f in found} - {int(iters)})
    out = {}
    for count in counts:
        other = load(count).get(ROUND_CONFIG)
        if not other:
            continue
        both = {"at": other, "base": runs[ROUND_CONFIG]}
        if not out:
            print(f"\n{ROUND_CONFIG} at other iterations a round minus "
                  f"{iters}: test (validation) accuracy, points, "
                  "mean ± standard error (seeds)")
            print(f"{'iterations':<12}" + "".join(
                f"{l:>28}" for l in (100, 200, 300, 400, 500)))
        cells = [(paired(both, "at", "base", "test_acc", c),
                  paired(both, "at", "base", "valid_acc", c))
                 for c in range(5)]
        out[str(count)] = [{"test": round(100 * t[0], 2),
                            "test_se": round(100 * t[1], 2),
                            "valid": round(100 * v[0], 2),
                            "valid_se": round(100 * v[1], 2), "n": t[2]}
                           for t, v in cells]
        print(f"{count:<12}" + "".join(
            f"{fmt(*t) + f' ({100 * v[0]:+.1f} ± {100 * v[1]:.1f})':>28}"
            for t, v in cells))
    return out


def pair_table(runs, config, base):
    """config minus base on the validation split, each cycle and seed."""
    key = "valid_balanced_acc" if config.startswith("imb-") else "valid_acc"
    print(f"{config} minus {base}, {key}, points, mean ± standard error "
          "(seeds): the seeds' differences")
    out = []
    for c in range(5):
        m, se, n = paired(runs, config, base, key, c)
        if m is None:
            break
        seeds = sorted(set(runs[config]) & set(runs[base]))
        each = [100 * (runs[config][s][c][key] - runs[base][s][c][key])
                for s in seeds]
        out.append({"mean": round(100 * m, 2), "se": round(100 * se, 2),
                    "n": n})
        labeled = runs[base][seeds[0]][c]["labeled"]
        print(f"{labeled:>7}  {100 * m:+.2f} ± {100 * se:.2f} ({n})  " +
              " ".join(f"{x:+.1f}" for x in each))
    print(json.dumps({"config": config, "base": base, "key": key,
                      "valid": out}))


def kinds(runs):
    """The balanced pool's configs (random order first) and the long
    tail's (imb-); the label-free start's (start-) are neither."""
    full = [c for c in runs if not c.startswith(("start-", "imb-"))]
    full.sort(key=lambda c: (c != "random", c))
    return full, sorted(c for c in runs if c.startswith("imb-"))


def main(iters, valid=False, pair=None):
    """The tables; valid: on the validation split alone; pair: (config,
    base) alone, on the validation split."""
    runs = load(iters)
    if pair:
        return pair_table(runs, *pair)
    if valid:
        return valid_tables(runs, iters)
    full, imb = kinds(runs)
    head = {"iters": int(iters)}
    if "random" in runs:
        accuracy_table(runs, full, "test_acc", "test accuracy")
        others = [c for c in full if c != "random"]
        head["test_vs_random"] = difference_table(
            runs, others, "random", "test_acc", "test accuracy")
        head["valid_vs_random"] = difference_table(
            runs, others, "random", "valid_acc",
            "validation accuracy (where settings are chosen)")
        picks_table(runs, full)
        head["seconds"] = time_table(runs, full)
    trained = [c for c in full if c.endswith("-tr") and c[:-3] in runs]
    if trained:
        head["training_effect"] = {}
        for c in trained:
            head["training_effect"][c] = difference_table(
                runs, [c], c[:-3], "test_acc",
                f"training ablation: balanced batches + rate decay + averaged D"
                f" ({c}) against the reference's training")
    if "imb-random" in runs:
        accuracy_table(runs, imb, "balanced_acc",
                       "--imbalance 0.1, balanced test accuracy")
        head["imbalance_vs_random"] = difference_table(
            runs, [c for c in imb if c != "imb-random"], "imb-random",
            "balanced_acc", "--imbalance 0.1, balanced test accuracy")
        picks_table(runs, imb)
    head["selection_share"] = share_table(runs)
    head["ablation_valid"] = ablation_table(runs)
    head["label_free_start"] = start_table(runs)
    head["iterations_a_round"] = iters_table(runs, iters)
    print(json.dumps(head))


def valid_tables(runs, iters):
    """main's comparisons with random order on the validation split."""
    full, imb = kinds(runs)
    head = {"iters": int(iters), "split": "valid"}
    if "random" in runs:
        head["valid_vs_random"] = difference_table(
            runs, [c for c in full if c != "random"], "random", "valid_acc",
            "validation accuracy")
    if "imb-random" in runs:
        head["imbalance_vs_random"] = difference_table(
            runs, [c for c in imb if c != "imb-random"], "imb-random",
            "valid_balanced_acc", "--imbalance 0.1, balanced validation "
            "accuracy")
    head["ablation_valid"] = ablation_table(runs)
    print(json.dumps(head))
