#!/usr/bin/env bash
# A retrain round of the service on the Fashion-MNIST pool (60,000 images,
# 10,000 labeled eval images), side by side with annotator traffic:
#   1. lease latency with wrk while the worker is idle,
#   2. 100 labels (true classes, random samples) over REST start a round,
#   3. lease latency with wrk while that round trains,
#   4. the round's phases (read, train, score, store, publish) from
#      /v1/rounds/1, its overhead beyond training and scoring, arald's
#      peak RSS (VmHWM), and the model's eval accuracy.
# wrk: one thread, 8 connections (annotators, not a flood), leases of 3 s so
# that the pool never runs dry. Prints a table and one JSON object on its
# last line. Never passes or fails on time.
# With start random (start_strategy = random) the round's typical-mass
# joins D's features with the pool's whitened components (score.h), which
# the worker computes in that round: "components_s" (arald's log).
# A pool larger than 60,000 (the 4th argument) repeats the training images
# (bench/make_pool.py), to see how the service holds up at scale: it then also
# prints the import's time, the database's size and the label-free
# start's time.
#   usage: bench/run_round.sh [iterations, default 600] [wrk seconds, 10]
#                             [start: typical (default) or random]
#                             [pool size, default 60000]
#                             [round_candidates, default arald's]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-600}
secs=${2:-10}
start=${3:-typical}
pool=${4:-60000}
cands=${5:-}
. bench/lib.sh
bench_daemon_dir
data=/usr/share/datasets/fashion-mnist
"$arald" init --db "$tmp/r.db" --shape 28x28x1 \
  --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" >/dev/null
images=$data/train-images-idx3-ubyte.gz
if [ "$pool" != 60000 ]; then
  images=$tmp/pool.idx
  /usr/bin/python3 bench/make_pool.py "$pool" "$images"
fi
t0=$(date +%s%N)
"$arald" import --db "$tmp/r.db" --idx "$images" >/dev/null
import_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -f "$tmp/pool.idx"
"$arald" import --db "$tmp/r.db" --idx "$data/t10k-images-idx3-ubyte.gz" \
  --labels "$data/t10k-labels-idx1-ubyte.gz" --split eval >/dev/null
export ARALD_TOKEN=$("$arald" token create --db "$tmp/r.db" --role admin --name bench | awk '{print $NF}')
export WRK_DIR=$PWD/bench/wrk POOL=$pool
db_mib=$(du -m "$tmp/r.db" | cut -f1)
t0=$(date +%s%N)
"$arald" serve --db "$tmp/r.db" --port 0 --port-file "$tmp/port" --lease-ttl 3 \
  --start-strategy "$start" ${cands:+--round-candidates "$cands"} \
  --min-labels 100 --retrain-every 1000000 --round-iters "$iters" 2>"$tmp/log" & pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")
# the label-free start orders the pool on the worker thread (seconds on
# 60k): the idle run waits for it, so the worker is idle indeed
until curl -s -H "Authorization: Bearer $ARALD_TOKEN" "$url/v1/queue?limit=1" |
  grep -q "\"strategy\":\"$start\""; do sleep 0.2; done
ordered_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rss_ordered=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
lease_wrk() { wrk -t1 -c8 -d"${secs}s" --timeout 2s -s bench/wrk/leases.lua "$url" | tail -n 1; }

idle=$(lease_wrk)
sleep 3.5 # the idle run's leases expire
python3 - "$url" "$data/train-labels-idx1-ubyte.gz" <<'PY'
import gzip, json, os, random, sys, urllib.request
url, labels = sys.argv[1], gzip.open(sys.argv[2]).read()[8:]
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"]
ids = random.Random(0).sample(range(1, 60001), 100)
body = {"items": [{"sample_id": i, "label": names[labels[i - 1]]} for i in ids]}
req = urllib.request.Request(url + "/v1/labels", json.dumps(body).encode(), {
    "Authorization": "Bearer " + os.environ["ARALD_TOKEN"],
    "Content-Type": "application/json"})
assert urllib.request.urlopen(req).status == 200
PY
model() { curl -s -H "Authorization: Bearer $ARALD_TOKEN" "$url/v1/model"; }
until model | grep -q '"state":"training"'; do sleep 0.1; done
busy=$(lease_wrk)
during=$(model)
until model | grep -q '"model_version":1'; do sleep 0.5; done
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
round=$(curl -s -H "Authorization: Bearer $ARALD_TOKEN" "$url/v1/rounds/1")
python3 - "$idle" "$busy" "$during" "$round" "$rss" "$tmp/log" "$pool" \
  "$import_ms" "$db_mib" "$ordered_ms" "$rss_ordered" <<'PY'
import json, re, sys
idle, busy, during, rnd = (json.loads(a) for a in sys.argv[1:5])
pool, import_ms, db_mib, ordered_ms, rss_ordered = sys.argv[7:12]
pcs = re.search(r"whitened components \(\d+ samples, ([\d.]+) s\)",
                open(sys.argv[6]).read())
s = rnd["seconds"]
core = s["train"] + s["score"]
out = {
    "lease_idle": {k: idle[k] for k in ("requests_per_s", "p50_ms", "p99_ms")},
    "lease_training": {k: busy[k] for k in ("requests_per_s", "p50_ms",
                                            "p99_ms")},
    "p99_ratio_training_over_idle": round(busy["p99_ms"] / idle["p99_ms"], 2),
    "still_training_after_wrk": during["state"] == "training",
    "round_seconds": s,
    "round_overhead_fraction": round((sum(s.values()) - core) / core, 4),
    "iterations": rnd["iterations"], "labels_used": rnd["labels_used"],
    "eval_accuracy": rnd["eval_accuracy"],
    "peak_rss_mib": round(int(sys.argv[5]) / 1024, 1),
    "components_s": float(pcs.group(1)) if pcs else None,
    "pool": int(pool),
    "import_s": round(int(import_ms) / 1000, 1),
    "db_mib": int(db_mib),
    "serving_in_start_order_s": round(int(ordered_ms) / 1000, 1),
    "rss_in_start_order_mib": round(int(rss_ordered) / 1024, 1),
}
for k, v in out.items():
    print(f"{k:32} {v}", file=sys.stderr)
print(json.dumps(out))
PY
